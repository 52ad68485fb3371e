/* The mets model file: a reader that verifies a whole file before serving pointers into its read-only
 * mapping, and a writer that builds the file in memory and replaces the target atomically.
 * Byte layout and the reasons for it: FORMAT.md. */
#include "mfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static const char MAGIC[8] = "METSMDL";   /* with its NUL: 8 bytes */
static const char END_MAGIC[8] = "METSEND";
enum {
    HEADER_SIZE = 32,
    TRAILER_SIZE = 12, /* u32 crc32, end magic */
    DATA_ALIGN = 64,
    MIN_META_ENTRY = 4 + 2 + 4 + 4,           /* key_len, 1-byte key + NUL, type, smallest value */
    MIN_TENSOR_ENTRY = 4 + 2 + 4 + 4 + 8 + 8, /* name_len, name + NUL, dtype, ndim, offset, nbytes */
};

static const char *const META_TYPE_NAMES[] = {"i64", "f64", "string", "string array"};
static const char *const DTYPE_NAMES[] = {"f32", "i32", "u8", "f16"};
static const size_t DTYPE_SIZES[] = {4, 4, 1, 2};

static uint32_t rd_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd_u64(const unsigned char *p)
{
    return (uint64_t)rd_u32(p) | (uint64_t)rd_u32(p + 4) << 32;
}

/* Element count times element size, or -1 when it does not fit in 64 bits. A zero dimension makes the
 * tensor empty whatever the others say; reader and writer share this rule so they cannot disagree. */
static int tensor_nbytes(mets_dtype dt, int ndim, const int64_t *dims, uint64_t *out)
{
    uint64_t n = DTYPE_SIZES[dt];
    for (int d = 0; d < ndim; d++)
        if (dims[d] == 0) {
            *out = 0;
            return 0;
        }
    for (int d = 0; d < ndim; d++)
        if (__builtin_mul_overflow(n, (uint64_t)dims[d], &n))
            return -1;
    *out = n;
    return 0;
}

static void format_shape(char *buf, size_t size, int ndim, const int64_t *dims)
{
    size_t pos = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < ndim && pos < size; d++) {
        const char *sep = d ? ", " : "";
        if (dims[d] < 0)
            pos += (size_t)snprintf(buf + pos, size - pos, "%s?", sep);
        else
            pos += (size_t)snprintf(buf + pos, size - pos, "%s%lld", sep, (long long)dims[d]);
    }
    if (pos < size)
        snprintf(buf + pos, size - pos, "]");
}

/* ---- reader ---- */

typedef struct {
    const char *key; /* NUL-terminated inside the file */
    mets_meta_type type;
    union {
        int64_t i64;
        double f64;
        struct {
            const char *p;
            size_t len;
        } str;
        struct {
            size_t count;
            const unsigned char *ends; /* count u32 end offsets into blob */
            const char *blob;
        } strs;
    } v;
} meta_entry;

typedef struct {
    const char *name; /* NUL-terminated inside the file */
    mets_dtype dt;
    int ndim;
    int64_t dims[METS_MFILE_MAX_DIMS];
    uint64_t offset, nbytes;
    const void *data;
} tensor_entry;

struct mets_mfile {
    char *name;
    void *map; /* our mapping, or NULL when the caller owns the buffer */
    size_t map_len;
    meta_entry *meta; /* sorted by key, for binary search */
    size_t n_meta;
    tensor_entry *tensors; /* in file order */
    size_t n_tensors;
    const tensor_entry **by_name; /* sorted by name, for binary search */
};

/* A read position inside the region between the header and the trailer. */
typedef struct {
    const unsigned char *base;
    size_t pos, end;
    const char *file;
    mets_err *err;
} cursor;

static int need(cursor *c, size_t n, const char *what, size_t index)
{
    if (n <= c->end - c->pos)
        return 0;
    return mets_err_set(c->err, METS_EFORMAT,
                        "%s: bad offsets: %s %zu at byte %zu needs %zu bytes, only %zu left before the trailer",
                        c->file, what, index, c->pos, n, c->end - c->pos);
}

static int take_u32(cursor *c, const char *what, size_t index, uint32_t *out)
{
    if (need(c, 4, what, index))
        return METS_EFORMAT;
    *out = rd_u32(c->base + c->pos);
    c->pos += 4;
    return 0;
}

static int take_u64(cursor *c, const char *what, size_t index, uint64_t *out)
{
    if (need(c, 8, what, index))
        return METS_EFORMAT;
    *out = rd_u64(c->base + c->pos);
    c->pos += 8;
    return 0;
}

/* A key or tensor name: u32 length, that many non-NUL bytes, then a NUL so it can be used in place. */
static int take_name(cursor *c, const char *what, size_t index, const char **out)
{
    uint32_t len;
    if (take_u32(c, what, index, &len))
        return METS_EFORMAT;
    if (len == 0)
        return mets_err_set(c->err, METS_EFORMAT, "%s: %s %zu at byte %zu has an empty name", c->file, what,
                            index, c->pos - 4);
    if (need(c, len, what, index) || need(c, (size_t)len + 1, what, index)) /* len first: no overflow */
        return METS_EFORMAT;
    const char *s = (const char *)c->base + c->pos;
    if (memchr(s, 0, len))
        return mets_err_set(c->err, METS_EFORMAT, "%s: %s %zu at byte %zu has a NUL byte inside its name",
                            c->file, what, index, c->pos);
    if (s[len] != 0)
        return mets_err_set(c->err, METS_EFORMAT, "%s: %s '%.*s' is not NUL-terminated", c->file, what,
                            (int)len, s);
    c->pos += (size_t)len + 1;
    *out = s;
    return 0;
}

static int parse_strs(cursor *c, size_t index, meta_entry *m)
{
    uint32_t count, prev = 0;
    if (take_u32(c, "metadata entry", index, &count))
        return METS_EFORMAT;
    if (count > (c->end - c->pos) / 4)
        return mets_err_set(c->err, METS_EFORMAT,
                            "%s: bad offsets: metadata '%s' claims %u strings, more than the %zu bytes left can hold",
                            c->file, m->key, count, c->end - c->pos);
    const unsigned char *ends = c->base + c->pos;
    for (uint32_t i = 0; i < count; i++) {
        uint32_t end = rd_u32(ends + 4 * (size_t)i);
        if (end < prev)
            return mets_err_set(c->err, METS_EFORMAT,
                                "%s: bad offsets: metadata '%s' string %u ends at %u, before string %u (%u)",
                                c->file, m->key, i, end, i - 1, prev);
        prev = end;
    }
    c->pos += 4 * (size_t)count;
    if (need(c, prev, "metadata entry", index))
        return METS_EFORMAT;
    m->v.strs.count = count;
    m->v.strs.ends = ends;
    m->v.strs.blob = (const char *)c->base + c->pos;
    c->pos += prev;
    return 0;
}

static int parse_meta_entry(cursor *c, size_t i, meta_entry *m)
{
    uint32_t type, len;
    uint64_t bits;
    if (take_name(c, "metadata entry", i, &m->key) || take_u32(c, "metadata entry", i, &type))
        return METS_EFORMAT;
    switch (type) {
    case METS_META_I64:
    case METS_META_F64:
        if (take_u64(c, "metadata entry", i, &bits))
            return METS_EFORMAT;
        if (type == METS_META_I64)
            m->v.i64 = (int64_t)bits;
        else
            memcpy(&m->v.f64, &bits, sizeof bits);
        break;
    case METS_META_STR:
        if (take_u32(c, "metadata entry", i, &len) || need(c, len, "metadata entry", i))
            return METS_EFORMAT;
        m->v.str.p = (const char *)c->base + c->pos;
        m->v.str.len = len;
        c->pos += len;
        break;
    case METS_META_STRS:
        if (parse_strs(c, i, m))
            return METS_EFORMAT;
        break;
    default:
        return mets_err_set(c->err, METS_EFORMAT, "%s: metadata '%s' has unknown type %u", c->file, m->key,
                            type);
    }
    m->type = (mets_meta_type)type;
    return 0;
}

static int parse_tensor_entry(cursor *c, size_t i, tensor_entry *t)
{
    uint32_t dtype, ndim;
    if (take_name(c, "tensor entry", i, &t->name) || take_u32(c, "tensor entry", i, &dtype) ||
        take_u32(c, "tensor entry", i, &ndim))
        return METS_EFORMAT;
    if (dtype > METS_DT_F16)
        return mets_err_set(c->err, METS_EFORMAT, "%s: tensor '%s' has unknown dtype %u", c->file, t->name,
                            dtype);
    if (ndim > METS_MFILE_MAX_DIMS)
        return mets_err_set(c->err, METS_EFORMAT, "%s: tensor '%s' has %u dimensions, at most %d allowed",
                            c->file, t->name, ndim, METS_MFILE_MAX_DIMS);
    t->dt = (mets_dtype)dtype;
    t->ndim = (int)ndim;
    for (uint32_t d = 0; d < ndim; d++) {
        uint64_t v;
        if (take_u64(c, "tensor entry", i, &v))
            return METS_EFORMAT;
        if (v > INT64_MAX)
            return mets_err_set(c->err, METS_EFORMAT, "%s: tensor '%s' has negative dimension %lld", c->file,
                                t->name, (long long)(int64_t)v);
        t->dims[d] = (int64_t)v;
    }
    uint64_t expect;
    if (take_u64(c, "tensor entry", i, &t->offset) || take_u64(c, "tensor entry", i, &t->nbytes))
        return METS_EFORMAT;
    char shape[128];
    format_shape(shape, sizeof shape, t->ndim, t->dims);
    if (tensor_nbytes(t->dt, t->ndim, t->dims, &expect))
        return mets_err_set(c->err, METS_EFORMAT, "%s: tensor '%s' of shape %s has a size beyond 64 bits",
                            c->file, t->name, shape);
    if (expect != t->nbytes)
        return mets_err_set(c->err, METS_EFORMAT,
                            "%s: tensor '%s' %s %s holds %llu bytes, its table entry says %llu", c->file,
                            t->name, DTYPE_NAMES[t->dt], shape, (unsigned long long)expect,
                            (unsigned long long)t->nbytes);
    return 0;
}

/* Tensor data lies after the table, 64-byte aligned, in table order without overlap, before the trailer. */
static int check_tensor_data(const cursor *c, tensor_entry *ts, size_t n)
{
    uint64_t prev_end = c->pos, limit = c->end;
    for (size_t i = 0; i < n; i++) {
        tensor_entry *t = &ts[i];
        if (t->offset % DATA_ALIGN)
            return mets_err_set(c->err, METS_EFORMAT,
                                "%s: bad offsets: tensor '%s' data at %llu is not %d-byte aligned", c->file,
                                t->name, (unsigned long long)t->offset, DATA_ALIGN);
        if (t->offset < prev_end)
            return mets_err_set(c->err, METS_EFORMAT,
                                "%s: bad offsets: tensor '%s' data at %llu overlaps what precedes it (ends at %llu)",
                                c->file, t->name, (unsigned long long)t->offset, (unsigned long long)prev_end);
        if (t->offset > limit || t->nbytes > limit - t->offset)
            return mets_err_set(c->err, METS_EFORMAT,
                                "%s: bad offsets: tensor '%s' data [%llu, +%llu) runs past the trailer at %llu",
                                c->file, t->name, (unsigned long long)t->offset, (unsigned long long)t->nbytes,
                                (unsigned long long)limit);
        t->data = c->base + t->offset;
        prev_end = t->offset + t->nbytes;
    }
    return 0;
}

static int cmp_meta(const void *a, const void *b)
{
    return strcmp(((const meta_entry *)a)->key, ((const meta_entry *)b)->key);
}

static int cmp_tensor_ptr(const void *a, const void *b)
{
    return strcmp((*(const tensor_entry *const *)a)->name, (*(const tensor_entry *const *)b)->name);
}

/* Sorts for binary search; a name seen twice is an error, since lookups would hide one of them. */
static int index_names(mets_mfile *mf, mets_err *err)
{
    qsort(mf->meta, mf->n_meta, sizeof *mf->meta, cmp_meta);
    for (size_t i = 1; i < mf->n_meta; i++)
        if (!strcmp(mf->meta[i - 1].key, mf->meta[i].key))
            return mets_err_set(err, METS_EFORMAT, "%s: duplicate metadata key '%s'", mf->name, mf->meta[i].key);
    for (size_t i = 0; i < mf->n_tensors; i++)
        mf->by_name[i] = &mf->tensors[i];
    qsort(mf->by_name, mf->n_tensors, sizeof *mf->by_name, cmp_tensor_ptr);
    for (size_t i = 1; i < mf->n_tensors; i++)
        if (!strcmp(mf->by_name[i - 1]->name, mf->by_name[i]->name))
            return mets_err_set(err, METS_EFORMAT, "%s: duplicate tensor name '%s'", mf->name, mf->by_name[i]->name);
    return 0;
}

/* Magic, version, size and checksum (unless `checksum` is false): everything about the file as a whole,
 * before its contents. */
static int check_envelope(const unsigned char *buf, size_t len, const char *file, bool checksum, mets_err *err)
{
    size_t head = len < sizeof MAGIC ? len : sizeof MAGIC;
    if (memcmp(buf, MAGIC, head)) {
        char shown[8 * 4 + 1] = "";
        for (size_t i = 0, pos = 0; i < head; i++) {
            int printable = buf[i] >= 0x20 && buf[i] < 0x7f;
            pos += (size_t)snprintf(shown + pos, sizeof shown - pos, printable ? "%c" : "\\x%02x", buf[i]);
        }
        return mets_err_set(err, METS_EFORMAT,
                            "%s: not a mets model file: starts with \"%s\", expected \"METSMDL\\0\"", file, shown);
    }
    if (len < HEADER_SIZE + TRAILER_SIZE)
        return mets_err_set(err, METS_EFORMAT, "%s: truncated: %zu bytes, a mets model file has at least %d", file,
                            len, HEADER_SIZE + TRAILER_SIZE);
    uint32_t version = rd_u32(buf + 8);
    if (version != METS_MFILE_VERSION)
        return mets_err_set(err, METS_EFORMAT, "%s: format version %u, this build reads %d", file, version,
                            METS_MFILE_VERSION);
    uint64_t size = rd_u64(buf + 16);
    if (memcmp(buf + len - sizeof END_MAGIC, END_MAGIC, sizeof END_MAGIC)) {
        if (size > len)
            return mets_err_set(err, METS_EFORMAT, "%s: truncated: %zu bytes, the header says %llu", file, len,
                                (unsigned long long)size);
        return mets_err_set(err, METS_EFORMAT,
                            "%s: corrupted: no end marker in the last 8 bytes (file is %zu bytes, header says %llu)",
                            file, len, (unsigned long long)size);
    }
    uint32_t stored = rd_u32(buf + len - TRAILER_SIZE);
    uint32_t computed = checksum ? (uint32_t)crc32_z(crc32_z(0, NULL, 0), buf, len - TRAILER_SIZE) : stored;
    if (stored != computed)
        return mets_err_set(err, METS_EFORMAT, "%s: corrupted: checksum %08x in the trailer, %08x computed", file,
                            stored, computed);
    if (size != len)
        return mets_err_set(err, METS_EFORMAT, "%s: corrupted: %zu bytes, the header says %llu", file, len,
                            (unsigned long long)size);
    if (rd_u32(buf + 28))
        return mets_err_set(err, METS_EFORMAT, "%s: reserved header field is %u, expected 0", file, rd_u32(buf + 28));
    return 0;
}

/* The whole file, or its header and metadata only (`meta_only`: no checksum, no tensors). */
static int parse(mets_mfile *mf, const unsigned char *buf, size_t len, bool meta_only, mets_err *err)
{
    if (check_envelope(buf, len, mf->name, !meta_only, err))
        return METS_EFORMAT;
    cursor c = {buf, HEADER_SIZE, len - TRAILER_SIZE, mf->name, err};
    uint32_t n_meta = rd_u32(buf + 12), n_tensors = meta_only ? 0 : rd_u32(buf + 24);
    /* Bound the counts by the bytes that could hold them before allocating anything. */
    if (n_meta > (c.end - c.pos) / MIN_META_ENTRY || n_tensors > (c.end - c.pos) / MIN_TENSOR_ENTRY)
        return mets_err_set(err, METS_EFORMAT,
                            "%s: bad offsets: header claims %u metadata entries and %u tensors, more than %zu "
                            "bytes can hold",
                            mf->name, n_meta, n_tensors, c.end - c.pos);
    mf->meta = calloc(n_meta ? n_meta : 1, sizeof *mf->meta);
    mf->tensors = calloc(n_tensors ? n_tensors : 1, sizeof *mf->tensors);
    mf->by_name = calloc(n_tensors ? n_tensors : 1, sizeof *mf->by_name);
    if (!mf->meta || !mf->tensors || !mf->by_name)
        return mets_err_set(err, METS_ENOMEM, "%s: out of memory for %u metadata entries and %u tensors", mf->name,
                            n_meta, n_tensors);
    mf->n_meta = n_meta;
    mf->n_tensors = n_tensors;
    for (size_t i = 0; i < n_meta; i++)
        if (parse_meta_entry(&c, i, &mf->meta[i]))
            return METS_EFORMAT;
    for (size_t i = 0; i < n_tensors; i++)
        if (parse_tensor_entry(&c, i, &mf->tensors[i]))
            return METS_EFORMAT;
    if (check_tensor_data(&c, mf->tensors, n_tensors))
        return METS_EFORMAT;
    return index_names(mf, err);
}

static mets_mfile *open_buf(const unsigned char *buf, size_t len, const char *name, void *map, bool meta_only,
                            mets_err *err)
{
    mets_mfile *mf = calloc(1, sizeof *mf);
    char *copy = strdup(name);
    if (!mf || !copy) {
        free(mf);
        free(copy);
        if (map)
            munmap(map, len);
        mets_err_set(err, METS_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    mf->name = copy;
    mf->map = map;
    mf->map_len = len;
    if (parse(mf, buf, len, meta_only, err)) {
        mets_mfile_free(mf);
        return NULL;
    }
    return mf;
}

static mets_mfile *open_path(const char *path, bool meta_only, mets_err *err)
{
    if (!path) {
        mets_err_set(err, METS_EINVAL, "mets_mfile_open: path is NULL");
        return NULL;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        mets_err_set(err, METS_EIO, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fd, &st)) {
        mets_err_set(err, METS_EIO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        mets_err_set(err, METS_EIO, "%s: %s", path, S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
        close(fd);
        return NULL;
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        mets_err_set(err, METS_ENOMEM, "%s: %lld bytes do not fit in this address space", path,
                     (long long)st.st_size);
        close(fd);
        return NULL;
    }
    size_t len = (size_t)st.st_size;
    if (len == 0) { /* mmap refuses empty mappings; the checks report the truncation */
        close(fd);
        static const unsigned char empty[1];
        return open_buf(empty, 0, path, NULL, meta_only, err);
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (map == MAP_FAILED) {
        mets_err_set(err, METS_EIO, "%s: cannot mmap %zu bytes: %s", path, len, strerror(map_errno));
        return NULL;
    }
    return open_buf(map, len, path, map, meta_only, err);
}

mets_mfile *mets_mfile_open(const char *path, mets_err *err)
{
    return open_path(path, false, err);
}

mets_mfile *mets_mfile_open_meta(const char *path, mets_err *err)
{
    return open_path(path, true, err);
}

mets_mfile *mets_mfile_open_mem(const void *buf, size_t len, const char *name, mets_err *err)
{
    if (!name)
        name = "<memory>";
    if (!buf && len) {
        mets_err_set(err, METS_EINVAL, "%s: buffer is NULL", name);
        return NULL;
    }
    /* Tensor offsets are aligned relative to the file start, so the buffer must be aligned like a mapping
     * for tensor pointers to be. */
    if ((uintptr_t)buf % DATA_ALIGN) {
        mets_err_set(err, METS_EINVAL, "%s: buffer %p is not %d-byte aligned", name, buf, DATA_ALIGN);
        return NULL;
    }
    static const unsigned char empty[1];
    return open_buf(buf ? buf : empty, len, name, NULL, false, err);
}

void mets_mfile_free(mets_mfile *mf)
{
    if (!mf)
        return;
    if (mf->map)
        munmap(mf->map, mf->map_len);
    free(mf->meta);
    free(mf->tensors);
    free(mf->by_name);
    free(mf->name);
    free(mf);
}

const char *mets_mfile_name(const mets_mfile *mf)
{
    return mf ? mf->name : NULL;
}

static int find_meta(const mets_mfile *mf, const char *key, mets_meta_type type, const meta_entry **out,
                     mets_err *err)
{
    if (!mf || !key)
        return mets_err_set(err, METS_EINVAL, "%s: metadata lookup with a NULL %s", mf ? mf->name : "mfile",
                            mf ? "key" : "file");
    size_t lo = 0, hi = mf->n_meta;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(key, mf->meta[mid].key);
        if (c == 0) {
            const meta_entry *m = &mf->meta[mid];
            if (m->type != type)
                return mets_err_set(err, METS_EFORMAT, "%s: metadata '%s' is %s, expected %s", mf->name, key,
                                    META_TYPE_NAMES[m->type], META_TYPE_NAMES[type]);
            *out = m;
            return 0;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return mets_err_set(err, METS_ENOTFOUND, "%s: no metadata key '%s'", mf->name, key);
}

int mets_mfile_get_i64(const mets_mfile *mf, const char *key, int64_t *out, mets_err *err)
{
    const meta_entry *m;
    int rc = find_meta(mf, key, METS_META_I64, &m, err);
    if (!rc)
        *out = m->v.i64;
    return rc;
}

int mets_mfile_get_f64(const mets_mfile *mf, const char *key, double *out, mets_err *err)
{
    const meta_entry *m;
    int rc = find_meta(mf, key, METS_META_F64, &m, err);
    if (!rc)
        *out = m->v.f64;
    return rc;
}

int mets_mfile_get_str(const mets_mfile *mf, const char *key, const char **s, size_t *len, mets_err *err)
{
    const meta_entry *m;
    int rc = find_meta(mf, key, METS_META_STR, &m, err);
    if (!rc) {
        *s = m->v.str.p;
        *len = m->v.str.len;
    }
    return rc;
}

int mets_mfile_get_strs(const mets_mfile *mf, const char *key, size_t *count, mets_err *err)
{
    const meta_entry *m;
    int rc = find_meta(mf, key, METS_META_STRS, &m, err);
    if (!rc)
        *count = m->v.strs.count;
    return rc;
}

int mets_mfile_get_strs_at(const mets_mfile *mf, const char *key, size_t i, const char **s, size_t *len,
                           mets_err *err)
{
    const meta_entry *m;
    int rc = find_meta(mf, key, METS_META_STRS, &m, err);
    if (rc)
        return rc;
    if (i >= m->v.strs.count)
        return mets_err_set(err, METS_EINVAL, "%s: metadata '%s' has %zu strings, index %zu is out of range",
                            mf->name, key, m->v.strs.count, i);
    /* O(1): string i spans [end of i-1, end of i) of the blob, both read from the table in the file. */
    uint32_t start = i ? rd_u32(m->v.strs.ends + 4 * (i - 1)) : 0, end = rd_u32(m->v.strs.ends + 4 * i);
    *s = m->v.strs.blob + start;
    *len = end - start;
    return 0;
}

static const tensor_entry *find_tensor(const mets_mfile *mf, const char *name)
{
    size_t lo = 0, hi = mf->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const tensor_entry *t = mf->by_name[mid];
        int c = strcmp(name, t->name);
        if (c == 0)
            return t;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

int mets_mfile_tensor(const mets_mfile *mf, const char *name, mets_dtype dt, int ndim, const int64_t *shape,
                      const void **data, mets_err *err)
{
    if (!mf || !name || !data || (unsigned)dt > METS_DT_F16 || ndim < 0 || ndim > METS_MFILE_MAX_DIMS ||
        (ndim && !shape))
        return mets_err_set(err, METS_EINVAL, "%s: bad arguments looking up tensor '%s'", mf ? mf->name : "mfile",
                            name ? name : "(null)");
    const tensor_entry *t = find_tensor(mf, name);
    if (!t)
        return mets_err_set(err, METS_ENOTFOUND, "%s: no tensor '%s'", mf->name, name);
    if (t->dt != dt)
        return mets_err_set(err, METS_EFORMAT, "%s: tensor '%s' has dtype %s, expected %s", mf->name, name,
                            DTYPE_NAMES[t->dt], DTYPE_NAMES[dt]);
    int same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++)
        same = shape[d] < 0 || shape[d] == t->dims[d];
    if (!same) {
        char found[128], expected[128];
        format_shape(found, sizeof found, t->ndim, t->dims);
        format_shape(expected, sizeof expected, ndim, shape);
        return mets_err_set(err, METS_EFORMAT, "%s: tensor '%s' has shape %s, expected %s", mf->name, name, found,
                            expected);
    }
    *data = t->data;
    return 0;
}

int mets_mfile_tensor_shape(const mets_mfile *mf, const char *name, int64_t *shape, mets_err *err)
{
    if (!mf || !name || !shape)
        return mets_err_set(err, METS_EINVAL, "%s: bad arguments asking for the shape of tensor '%s'",
                            mf ? mf->name : "mfile", name ? name : "(null)");
    const tensor_entry *t = find_tensor(mf, name);
    if (!t)
        return mets_err_set(err, METS_ENOTFOUND, "%s: no tensor '%s'", mf->name, name);
    for (int d = 0; d < METS_MFILE_MAX_DIMS; d++)
        shape[d] = d < t->ndim ? t->dims[d] : 1;
    return t->ndim;
}

size_t mets_mfile_tensor_count(const mets_mfile *mf)
{
    return mf ? mf->n_tensors : 0;
}

const char *mets_mfile_tensor_name(const mets_mfile *mf, size_t i)
{
    return mf && i < mf->n_tensors ? mf->tensors[i].name : NULL;
}

/* ---- writer ---- */

typedef struct {
    char *key;
    mets_meta_type type;
    uint64_t bits;     /* i64, or f64's bit pattern */
    char *bytes;       /* string, or the string array's concatenation */
    size_t len;        /* bytes in `bytes` */
    uint32_t *ends;    /* string array: end offset of each string in `bytes` */
    size_t count;
} wmeta;

typedef struct {
    char *name;
    mets_dtype dt;
    int ndim;
    int64_t dims[METS_MFILE_MAX_DIMS];
    void *data;
    size_t nbytes;
} wtensor;

struct mets_mfile_writer {
    wmeta *meta;
    size_t n_meta, cap_meta;
    wtensor *tensors;
    size_t n_tensors, cap_tensors;
};

mets_mfile_writer *mets_mfile_writer_new(void)
{
    return calloc(1, sizeof(mets_mfile_writer));
}

/* Frees the value and zeroes every field but the key. */
static void wmeta_clear(wmeta *m)
{
    char *key = m->key;
    free(m->bytes);
    free(m->ends);
    memset(m, 0, sizeof *m);
    m->key = key;
}

void mets_mfile_writer_free(mets_mfile_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_meta; i++) {
        free(w->meta[i].key);
        free(w->meta[i].bytes);
        free(w->meta[i].ends);
    }
    for (size_t i = 0; i < w->n_tensors; i++) {
        free(w->tensors[i].name);
        free(w->tensors[i].data);
    }
    free(w->meta);
    free(w->tensors);
    free(w);
}

static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *p = realloc(*arr, ncap * elem);
    if (!p)
        return METS_ENOMEM;
    *arr = p;
    *cap = ncap;
    return 0;
}

static int valid_name(const char *s)
{
    return s && *s && strlen(s) < UINT32_MAX;
}

/* The entry for `key`, emptied of any old value, or NULL when out of memory. */
static wmeta *meta_slot(mets_mfile_writer *w, const char *key)
{
    for (size_t i = 0; i < w->n_meta; i++)
        if (!strcmp(w->meta[i].key, key)) {
            wmeta_clear(&w->meta[i]);
            return &w->meta[i];
        }
    char *copy = strdup(key);
    if (!copy || grow((void **)&w->meta, &w->cap_meta, w->n_meta, sizeof *w->meta)) {
        free(copy);
        return NULL;
    }
    wmeta *m = &w->meta[w->n_meta++];
    memset(m, 0, sizeof *m);
    m->key = copy;
    return m;
}

static int set_scalar(mets_mfile_writer *w, const char *key, mets_meta_type type, uint64_t bits)
{
    if (!w || !valid_name(key))
        return METS_EINVAL;
    wmeta *m = meta_slot(w, key);
    if (!m)
        return METS_ENOMEM;
    m->type = type;
    m->bits = bits;
    return 0;
}

int mets_mfile_writer_set_i64(mets_mfile_writer *w, const char *key, int64_t v)
{
    return set_scalar(w, key, METS_META_I64, (uint64_t)v);
}

int mets_mfile_writer_set_f64(mets_mfile_writer *w, const char *key, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return set_scalar(w, key, METS_META_F64, bits);
}

int mets_mfile_writer_set_str(mets_mfile_writer *w, const char *key, const char *s, size_t len)
{
    if (!w || !valid_name(key) || (!s && len) || len > UINT32_MAX)
        return METS_EINVAL;
    char *copy = malloc(len ? len : 1);
    if (!copy)
        return METS_ENOMEM;
    if (len)
        memcpy(copy, s, len);
    wmeta *m = meta_slot(w, key);
    if (!m) {
        free(copy);
        return METS_ENOMEM;
    }
    m->type = METS_META_STR;
    m->bytes = copy;
    m->len = len;
    return 0;
}

int mets_mfile_writer_set_strs(mets_mfile_writer *w, const char *key, const char *const *s, const size_t *lens,
                               size_t count)
{
    if (!w || !valid_name(key) || (count && (!s || !lens)) || count > UINT32_MAX)
        return METS_EINVAL;
    size_t total = 0;
    for (size_t i = 0; i < count; i++) {
        if ((!s[i] && lens[i]) || lens[i] > UINT32_MAX - total)
            return METS_EINVAL;
        total += lens[i];
    }
    char *blob = malloc(total ? total : 1);
    uint32_t *ends = malloc(count ? count * sizeof *ends : 1);
    wmeta *m = blob && ends ? meta_slot(w, key) : NULL;
    if (!m) {
        free(blob);
        free(ends);
        return METS_ENOMEM;
    }
    size_t pos = 0;
    for (size_t i = 0; i < count; i++) {
        if (lens[i])
            memcpy(blob + pos, s[i], lens[i]);
        pos += lens[i];
        ends[i] = (uint32_t)pos;
    }
    m->type = METS_META_STRS;
    m->bytes = blob;
    m->len = total;
    m->ends = ends;
    m->count = count;
    return 0;
}

int mets_mfile_writer_add_tensor(mets_mfile_writer *w, const char *name, mets_dtype dt, int ndim,
                                 const int64_t *shape, const void *data)
{
    if (!w || !valid_name(name) || (unsigned)dt > METS_DT_F16 || ndim < 0 || ndim > METS_MFILE_MAX_DIMS ||
        (ndim && !shape))
        return METS_EINVAL;
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 0)
            return METS_EINVAL;
    for (size_t i = 0; i < w->n_tensors; i++)
        if (!strcmp(w->tensors[i].name, name))
            return METS_EINVAL;
    uint64_t nbytes;
    if (tensor_nbytes(dt, ndim, shape, &nbytes) || nbytes > SIZE_MAX)
        return METS_ENOMEM;
    if (nbytes && !data)
        return METS_EINVAL;
    wtensor t = {.dt = dt, .ndim = ndim, .nbytes = (size_t)nbytes};
    for (int d = 0; d < ndim; d++)
        t.dims[d] = shape[d];
    t.name = strdup(name);
    t.data = malloc(nbytes ? (size_t)nbytes : 1);
    if (!t.name || !t.data || grow((void **)&w->tensors, &w->cap_tensors, w->n_tensors, sizeof *w->tensors)) {
        free(t.name);
        free(t.data);
        return METS_ENOMEM;
    }
    if (nbytes)
        memcpy(t.data, data, (size_t)nbytes);
    w->tensors[w->n_tensors++] = t;
    return 0;
}

/* A growing byte buffer for the header, metadata and tensor table; `failed` sticks after an allocation
 * failure so that the puts need no checks of their own. */
typedef struct {
    unsigned char *p;
    size_t len, cap;
    int failed;
} bytes;

static void put(bytes *b, const void *src, size_t n)
{
    if (b->failed)
        return;
    if (n > b->cap - b->len) {
        size_t ncap = b->cap ? b->cap : 4096;
        while (ncap - b->len < n)
            ncap *= 2;
        unsigned char *np = realloc(b->p, ncap);
        if (!np) {
            b->failed = 1;
            return;
        }
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void put_u32(bytes *b, uint32_t v)
{
    unsigned char le[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 24)};
    put(b, le, 4);
}

static void put_u64(bytes *b, uint64_t v)
{
    put_u32(b, (uint32_t)v);
    put_u32(b, (uint32_t)(v >> 32));
}

static void put_name(bytes *b, const char *s)
{
    size_t len = strlen(s);
    put_u32(b, (uint32_t)len);
    put(b, s, len + 1);
}

static uint64_t align_up(uint64_t v)
{
    return (v + DATA_ALIGN - 1) / DATA_ALIGN * DATA_ALIGN;
}

/* Everything before the tensor data: header, metadata, tensor table (with the offsets laid out here). */
static void serialize_head(const mets_mfile_writer *w, bytes *b)
{
    size_t table_size = 0;
    for (size_t i = 0; i < w->n_meta; i++) {
        const wmeta *m = &w->meta[i];
        put_name(b, m->key);
        put_u32(b, m->type);
        if (m->type == METS_META_I64 || m->type == METS_META_F64) {
            put_u64(b, m->bits);
        } else if (m->type == METS_META_STR) {
            put_u32(b, (uint32_t)m->len);
            put(b, m->bytes, m->len);
        } else {
            put_u32(b, (uint32_t)m->count);
            for (size_t j = 0; j < m->count; j++)
                put_u32(b, m->ends[j]);
            put(b, m->bytes, m->len);
        }
    }
    for (size_t i = 0; i < w->n_tensors; i++)
        table_size += 4 + strlen(w->tensors[i].name) + 1 + 4 + 4 + 8 * (size_t)w->tensors[i].ndim + 16;
    uint64_t offset = HEADER_SIZE + b->len + table_size;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const wtensor *t = &w->tensors[i];
        offset = align_up(offset);
        put_name(b, t->name);
        put_u32(b, t->dt);
        put_u32(b, (uint32_t)t->ndim);
        for (int d = 0; d < t->ndim; d++)
            put_u64(b, (uint64_t)t->dims[d]);
        put_u64(b, offset);
        put_u64(b, t->nbytes);
        offset += t->nbytes;
    }
}

typedef struct {
    FILE *f;
    uLong crc;
    int failed;
} sink;

static void emit(sink *s, const void *p, size_t n)
{
    if (s->failed || !n)
        return;
    s->crc = crc32_z(s->crc, p, n);
    if (fwrite(p, 1, n, s->f) != n)
        s->failed = 1;
}

/* The file's bytes in order: header, head, each tensor after zero padding to its offset, trailer. */
static void emit_file(const mets_mfile_writer *w, const bytes *head, sink *s)
{
    static const unsigned char zeros[DATA_ALIGN];
    uint64_t pos = HEADER_SIZE + head->len, size = pos;
    for (size_t i = 0; i < w->n_tensors; i++)
        size = align_up(size) + w->tensors[i].nbytes;
    size += TRAILER_SIZE;
    bytes header = {0};
    put(&header, MAGIC, sizeof MAGIC);
    put_u32(&header, METS_MFILE_VERSION);
    put_u32(&header, (uint32_t)w->n_meta);
    put_u64(&header, size);
    put_u32(&header, (uint32_t)w->n_tensors);
    put_u32(&header, 0);
    if (header.failed)
        s->failed = 1;
    emit(s, header.p, header.len);
    free(header.p);
    emit(s, head->p, head->len);
    for (size_t i = 0; i < w->n_tensors; i++) {
        uint64_t start = align_up(pos);
        emit(s, zeros, (size_t)(start - pos));
        emit(s, w->tensors[i].data, w->tensors[i].nbytes);
        pos = start + w->tensors[i].nbytes;
    }
    unsigned char trailer[TRAILER_SIZE];
    uint32_t crc = (uint32_t)s->crc;
    for (int k = 0; k < 4; k++)
        trailer[k] = (unsigned char)(crc >> 8 * k);
    memcpy(trailer + 4, END_MAGIC, sizeof END_MAGIC);
    if (!s->failed && fwrite(trailer, 1, sizeof trailer, s->f) != sizeof trailer)
        s->failed = 1;
}

/* Makes the rename itself durable; failure here is not fatal to the file's content, so it is ignored. */
static void sync_parent_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(copy);
}

int mets_mfile_writer_write(const mets_mfile_writer *w, const char *path, mets_err *err)
{
    if (!w || !path)
        return mets_err_set(err, METS_EINVAL, "mets_mfile_writer_write: NULL %s", w ? "path" : "writer");
    if (w->n_meta > UINT32_MAX || w->n_tensors > UINT32_MAX)
        return mets_err_set(err, METS_EINVAL, "%s: too many metadata entries or tensors", path);
    bytes head = {0};
    serialize_head(w, &head);
    size_t tmp_len = strlen(path) + 5;
    char *tmp = malloc(tmp_len);
    if (head.failed || !tmp) {
        free(head.p);
        free(tmp);
        return mets_err_set(err, METS_ENOMEM, "%s: out of memory serializing the model file", path);
    }
    snprintf(tmp, tmp_len, "%s.tmp", path);
    int rc = 0;
    sink s = {fopen(tmp, "wb"), crc32_z(0, NULL, 0), 0};
    if (!s.f) {
        rc = mets_err_set(err, METS_EIO, "%s: cannot create: %s", tmp, strerror(errno));
        goto out;
    }
    emit_file(w, &head, &s);
    if (s.failed || fflush(s.f) || fsync(fileno(s.f))) {
        rc = mets_err_set(err, METS_EIO, "%s: cannot write: %s", tmp, strerror(errno));
        fclose(s.f);
        unlink(tmp);
        goto out;
    }
    if (fclose(s.f)) {
        rc = mets_err_set(err, METS_EIO, "%s: cannot close: %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path)) {
        rc = mets_err_set(err, METS_EIO, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    sync_parent_dir(path);
out:
    free(head.p);
    free(tmp);
    return rc;
}

void mets_f32_to_f16(const float *in, uint16_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t x;
        memcpy(&x, &in[i], sizeof x);
        uint32_t sign = (x >> 16) & 0x8000u, exp = (x >> 23) & 0xFFu, man = x & 0x7FFFFFu;
        uint16_t h;
        if (exp == 0xFF) { /* infinity or NaN (kept a NaN) */
            h = (uint16_t)(sign | 0x7C00u | (man ? 0x200u : 0));
        } else if (exp > 142) { /* beyond the largest half: infinity */
            h = (uint16_t)(sign | 0x7C00u);
        } else if (exp < 113) { /* a half subnormal or zero: shift in the implicit bit, round to even */
            int shift = 126 - (int)exp;
            uint32_t m = man | 0x800000u;
            h = shift > 24 ? (uint16_t)sign : (uint16_t)(sign | (m >> shift));
            if (shift <= 24) {
                uint32_t rest = m & ((1u << shift) - 1), half = 1u << (shift - 1);
                if (rest > half || (rest == half && (h & 1u)))
                    h++;
            }
        } else { /* normal: rebias the exponent, round the mantissa to 10 bits, to even */
            h = (uint16_t)(sign | ((exp - 112) << 10) | (man >> 13));
            uint32_t rest = man & 0x1FFFu;
            if (rest > 0x1000u || (rest == 0x1000u && (h & 1u)))
                h++; /* a carry into the exponent is right, up to infinity */
        }
        out[i] = h;
    }
}

void mets_f16_to_f32(const uint16_t *in, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t sign = (uint32_t)(in[i] & 0x8000u) << 16, exp = (in[i] >> 10) & 0x1Fu, man = in[i] & 0x3FFu, x;
        if (exp == 0x1F) {
            x = sign | 0x7F800000u | (man << 13);
        } else if (exp) {
            x = sign | ((exp + 112) << 23) | (man << 13);
        } else if (man) { /* subnormal half: normalise */
            int e = -1;
            do {
                man <<= 1, e++;
            } while (!(man & 0x400u));
            x = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3FFu) << 13);
        } else {
            x = sign;
        }
        memcpy(&out[i], &x, sizeof x);
    }
}
