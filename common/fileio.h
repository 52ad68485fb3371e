/* Small file helpers shared by every reader of outside files (WFDB, annotations, YAML, phrase tables). */
#ifndef METS_FILEIO_H
#define METS_FILEIO_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* open(O_RDONLY, never blocking on a FIFO); a missing file is METS_ENOTFOUND, other failures METS_EIO, both
 * naming the path. */
int mets_file_open(const char *path, int *fd, mets_err *err);
/* Like pread, but all n bytes or -1 (errno 0 when the file ended first). */
int mets_file_pread_full(int fd, void *buf, size_t n, int64_t off);
/* The whole file, if it has at most `max` bytes; NULL with err filled otherwise. */
char *mets_file_slurp(const char *path, size_t max, size_t *len, mets_err *err);

#endif
