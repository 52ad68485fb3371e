#include "fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mets_file_open(const char *path, int *fd, mets_err *err)
{
    /* O_NONBLOCK: a FIFO named where a file belongs (a configuration's secret file, say) is refused as not a
     * regular file instead of blocking the open until something writes to it; regular files ignore it. */
    *fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (*fd < 0)
        return mets_err_set(err, errno == ENOENT ? METS_ENOTFOUND : METS_EIO, "%s: %s", path, strerror(errno));
    return 0;
}

int mets_file_pread_full(int fd, void *buf, size_t n, int64_t off)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + (int64_t)got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = 0;
            return -1;
        }
        got += (size_t)r;
    }
    return 0;
}

char *mets_file_slurp(const char *path, size_t max, size_t *len, mets_err *err)
{
    int fd;
    struct stat st;
    if (mets_file_open(path, &fd, err))
        return NULL;
    char *buf = NULL;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max)
        mets_err_set(err, METS_EFORMAT, "%s: not a regular file of at most %zu bytes", path, max);
    else if (!(buf = malloc((size_t)st.st_size + 1))) /* + 1: malloc(0) may return NULL */
        mets_err_set(err, METS_ENOMEM, "%s: out of memory", path);
    else if (mets_file_pread_full(fd, buf, (size_t)st.st_size, 0)) {
        mets_err_set(err, METS_EIO, "%s: %s", path, errno ? strerror(errno) : "file shrank while reading");
        free(buf);
        buf = NULL;
    }
    *len = buf ? (size_t)st.st_size : 0;
    close(fd);
    return buf;
}
