#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct mets_safetensors {
    char *path;
    const uint8_t *map;
    size_t size;
    size_t data_start;
    json_t *header;
};

static int parse_header(mets_safetensors *st, mets_err *err)
{
    uint64_t n = 0;
    if (st->size < 8)
        return mets_err_set(err, METS_EFORMAT, "%s: truncated: %zu bytes, no safetensors header", st->path,
                            st->size);
    for (int i = 7; i >= 0; i--)
        n = n << 8 | st->map[i];
    if (n > st->size - 8)
        return mets_err_set(err, METS_EFORMAT, "%s: header of %llu bytes runs past the end of the file", st->path,
                            (unsigned long long)n);
    json_error_t je;
    st->header = json_loadb((const char *)st->map + 8, (size_t)n, 0, &je);
    if (!st->header || !json_is_object(st->header))
        return mets_err_set(err, METS_EFORMAT, "%s: header is not a JSON object (%s)", st->path, je.text);
    st->data_start = 8 + (size_t)n;
    return 0;
}

mets_safetensors *mets_safetensors_open(const char *path, mets_err *err)
{
    mets_safetensors *st = calloc(1, sizeof *st);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (!st || !(st->path = strdup(path))) {
        mets_err_set(err, METS_ENOMEM, "%s: out of memory", path);
    } else if (fd < 0 || fstat(fd, &sb) < 0) {
        mets_err_set(err, METS_EIO, "%s: cannot open: %s", path, strerror(errno));
    } else if ((st->size = (size_t)sb.st_size) == 0) {
        mets_err_set(err, METS_EFORMAT, "%s: empty file", path);
    } else if ((st->map = mmap(NULL, st->size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
        st->map = NULL;
        mets_err_set(err, METS_EIO, "%s: cannot map: %s", path, strerror(errno));
    } else if (parse_header(st, err) == 0) {
        close(fd);
        return st;
    }
    if (fd >= 0)
        close(fd);
    mets_safetensors_free(st);
    return NULL;
}

void mets_safetensors_free(mets_safetensors *st)
{
    if (!st)
        return;
    if (st->map)
        munmap((void *)st->map, st->size);
    json_decref(st->header);
    free(st->path);
    free(st);
}

int mets_safetensors_f32(const mets_safetensors *st, const char *name, int *ndim, int64_t shape[4],
                         const void **bytes, mets_err *err)
{
    json_t *t = json_object_get(st->header, name);
    if (!t)
        return mets_err_set(err, METS_ENOTFOUND, "%s: no tensor '%s'", st->path, name);
    const char *dtype = json_string_value(json_object_get(t, "dtype"));
    json_t *dims = json_object_get(t, "shape"), *offs = json_object_get(t, "data_offsets");
    if (!dtype || strcmp(dtype, "F32") != 0)
        return mets_err_set(err, METS_EFORMAT, "%s: tensor '%s' has dtype %s, expected F32", st->path, name,
                            dtype ? dtype : "(none)");
    if (!json_is_array(dims) || json_array_size(dims) > 4 || !json_is_array(offs) || json_array_size(offs) != 2)
        return mets_err_set(err, METS_EFORMAT, "%s: tensor '%s' has a malformed shape or data_offsets", st->path,
                            name);
    uint64_t count = 1;
    *ndim = (int)json_array_size(dims);
    for (int i = 0; i < *ndim; i++) {
        json_int_t d = json_integer_value(json_array_get(dims, i));
        if (d < 0 || d > (1 << 30))
            return mets_err_set(err, METS_EFORMAT, "%s: tensor '%s' has dimension %lld", st->path, name, (long long)d);
        shape[i] = d;
        count *= (uint64_t)d;
    }
    json_int_t lo = json_integer_value(json_array_get(offs, 0)), hi = json_integer_value(json_array_get(offs, 1));
    if (lo < 0 || hi < lo || (uint64_t)hi > st->size - st->data_start || (uint64_t)(hi - lo) != count * 4)
        return mets_err_set(err, METS_EFORMAT, "%s: tensor '%s' has data_offsets [%lld, %lld] that do not fit",
                            st->path, name, (long long)lo, (long long)hi);
    *bytes = st->map + st->data_start + lo;
    return 0;
}
