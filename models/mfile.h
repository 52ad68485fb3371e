/* The mets model file: one format for every model we load (ECG encoder, projection heads, the frozen
 * language model). Layout and rules: models/FORMAT.md.
 *
 * Thread-safety: a mets_mfile is immutable once opened; any number of threads may read its metadata
 * and tensors concurrently. Tensor data points into a read-only mmap and lives until mets_mfile_free.
 *
 *     mets_err err;
 *     mets_mfile *mf = mets_mfile_open("models/ecg.mets", &err);
 *     if (!mf) die(err.msg);                      // names the file and the problem
 *     const float *w;
 *     int64_t shape[2] = {64, 12};
 *     if (mets_mfile_tensor_f32(mf, "stem.weight", 2, shape, &w, &err)) die(err.msg);
 *     mets_mfile_free(mf);
 *
 * Writing:
 *     mets_mfile_writer *w = mets_mfile_writer_new();
 *     mets_mfile_writer_set_i64(w, "ecg.rate_hz", 100);
 *     mets_mfile_writer_add_tensor(w, "stem.weight", METS_DT_F32, 2, shape, data);  // data copied
 *     if (mets_mfile_writer_write(w, "out.mets", &err)) die(err.msg);   // atomic: tmp + rename
 *     mets_mfile_writer_free(w);
 */
#ifndef METS_MFILE_H
#define METS_MFILE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define METS_MFILE_VERSION 1
#define METS_MFILE_MAX_DIMS 4

/* F16 is IEEE 754 binary16: how trained weights are shipped small (mets_f16_to_f32 widens them). */
typedef enum { METS_DT_F32 = 0, METS_DT_I32 = 1, METS_DT_U8 = 2, METS_DT_F16 = 3 } mets_dtype;
typedef enum { METS_META_I64 = 0, METS_META_F64 = 1, METS_META_STR = 2, METS_META_STRS = 3 } mets_meta_type;

typedef struct mets_mfile mets_mfile;

/* Maps `path` read-only and verifies it whole (magic, version, bounds, alignment, checksum). */
mets_mfile *mets_mfile_open(const char *path, mets_err *err);
/* The header and the metadata only, read without touching the tensor data (no checksum, no tensor table:
 * lookups find no tensor): what a file is, in a fraction of a millisecond, e.g. for `mets check-config`. */
mets_mfile *mets_mfile_open_meta(const char *path, mets_err *err);
/* The same checks on a caller-owned buffer that must outlive the handle; `name` is used in messages.
 * `buf` must be 64-byte aligned (as a mapping is), else METS_EINVAL: tensor offsets are aligned relative
 * to the file start. This is what the fuzzer drives. */
mets_mfile *mets_mfile_open_mem(const void *buf, size_t len, const char *name, mets_err *err);
void mets_mfile_free(mets_mfile *mf);
const char *mets_mfile_name(const mets_mfile *mf);

/* Metadata getters fail with METS_ENOTFOUND if the key is absent, METS_EFORMAT if it has another type. */
int mets_mfile_get_i64(const mets_mfile *mf, const char *key, int64_t *out, mets_err *err);
int mets_mfile_get_f64(const mets_mfile *mf, const char *key, double *out, mets_err *err);
/* Strings are not NUL-terminated in the file: they come back as pointer + length into the mapping. */
int mets_mfile_get_str(const mets_mfile *mf, const char *key, const char **s, size_t *len, mets_err *err);
/* A string array: its count, then element i by index. */
int mets_mfile_get_strs(const mets_mfile *mf, const char *key, size_t *count, mets_err *err);
int mets_mfile_get_strs_at(const mets_mfile *mf, const char *key, size_t i, const char **s, size_t *len,
                           mets_err *err);

/* Looks a tensor up by name and checks its dtype and shape: a mismatch is an error that names the file,
 * the tensor, the shape found and the shape expected. A dimension given as -1 matches any size. */
int mets_mfile_tensor(const mets_mfile *mf, const char *name, mets_dtype dt, int ndim, const int64_t *shape,
                      const void **data, mets_err *err);
static inline int mets_mfile_tensor_f32(const mets_mfile *mf, const char *name, int ndim, const int64_t *shape,
                                        const float **data, mets_err *err)
{
    return mets_mfile_tensor(mf, name, METS_DT_F32, ndim, shape, (const void **)data, err);
}
/* Fills `shape` (METS_MFILE_MAX_DIMS entries) with the tensor's actual dims, unused trailing entries set
 * to 1; returns ndim or an error. */
int mets_mfile_tensor_shape(const mets_mfile *mf, const char *name, int64_t *shape, mets_err *err);
size_t mets_mfile_tensor_count(const mets_mfile *mf);
const char *mets_mfile_tensor_name(const mets_mfile *mf, size_t i);

/* binary16 <-> float, round to nearest even; infinities and NaN preserved, overflow to infinity. */
void mets_f32_to_f16(const float *in, uint16_t *out, size_t n);
void mets_f16_to_f32(const uint16_t *in, float *out, size_t n);

typedef struct mets_mfile_writer mets_mfile_writer;
mets_mfile_writer *mets_mfile_writer_new(void);
void mets_mfile_writer_free(mets_mfile_writer *w);
/* Setters copy their arguments; setting a key twice replaces it. They return 0 or METS_ENOMEM/EINVAL. */
int mets_mfile_writer_set_i64(mets_mfile_writer *w, const char *key, int64_t v);
int mets_mfile_writer_set_f64(mets_mfile_writer *w, const char *key, double v);
int mets_mfile_writer_set_str(mets_mfile_writer *w, const char *key, const char *s, size_t len);
int mets_mfile_writer_set_strs(mets_mfile_writer *w, const char *key, const char *const *s, const size_t *lens,
                               size_t count);
int mets_mfile_writer_add_tensor(mets_mfile_writer *w, const char *name, mets_dtype dt, int ndim,
                                 const int64_t *shape, const void *data);
/* Writes to `path.tmp` then renames, so a reader never sees half a file. */
int mets_mfile_writer_write(const mets_mfile_writer *w, const char *path, mets_err *err);

#endif
