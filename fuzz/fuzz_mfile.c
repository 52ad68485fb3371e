/* libFuzzer target for the model file reader: whatever the bytes, mets_mfile_open_mem either refuses
 * them with a message or returns a handle on which every getter is safe, reading only inside the input. */
#include "mfile.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static volatile unsigned sink; /* keeps the reads of returned bytes from being optimised away */

static void touch(const void *p, size_t n)
{
    const unsigned char *b = p;
    unsigned acc = 0;
    for (size_t i = 0; i < n; i++)
        acc += b[i];
    sink += acc;
}

/* Random bytes almost never carry a valid checksum, so every input is tried a second time with size,
 * checksum and end marker patched in: that is what lets the fuzzer reach the parser behind the checksum. */
static void reseal(unsigned char *buf, size_t len)
{
    if (len < 32 + 12)
        return;
    for (int k = 0; k < 8; k++)
        buf[16 + k] = (unsigned char)((uint64_t)len >> 8 * k);
    memcpy(buf + len - 8, "METSEND", 8);
    uint32_t crc = (uint32_t)crc32_z(crc32_z(0, NULL, 0), buf, len - 12);
    for (int k = 0; k < 4; k++)
        buf[len - 12 + k] = (unsigned char)(crc >> 8 * k);
}

/* There is no way to list metadata keys, so every NUL-terminated run in the input is tried as a key with
 * every getter; the right ones are among them, since the file stores keys NUL-terminated. */
static void exercise_metadata(const mets_mfile *mf, const unsigned char *buf, size_t len)
{
    mets_err err;
    for (size_t start = 0, i = 0; i < len; i++) {
        if (buf[i])
            continue;
        const char *key = (const char *)buf + start;
        start = i + 1;
        if (!*key) /* runs of zeros (padding, high bytes of lengths) would only repeat the empty key */
            continue;
        int64_t i64;
        double f64;
        const char *s;
        size_t n, count;
        mets_mfile_get_i64(mf, key, &i64, &err);
        mets_mfile_get_f64(mf, key, &f64, &err);
        if (!mets_mfile_get_str(mf, key, &s, &n, &err))
            touch(s, n);
        if (!mets_mfile_get_strs(mf, key, &count, &err)) {
            for (size_t j = 0; j < count; j++)
                if (!mets_mfile_get_strs_at(mf, key, j, &s, &n, &err))
                    touch(s, n);
            mets_mfile_get_strs_at(mf, key, count, &s, &n, &err);
        }
    }
}

static void exercise_tensors(const mets_mfile *mf)
{
    mets_err err;
    size_t n = mets_mfile_tensor_count(mf);
    for (size_t i = 0; i <= n; i++) {
        const char *name = mets_mfile_tensor_name(mf, i);
        if (!name)
            continue;
        int64_t shape[METS_MFILE_MAX_DIMS], any[METS_MFILE_MAX_DIMS] = {-1, -1, -1, -1};
        int ndim = mets_mfile_tensor_shape(mf, name, shape, &err);
        if (ndim < 0)
            abort(); /* a listed name must be found */
        uint64_t bytes = 1;
        for (int d = 0; d < ndim; d++)
            bytes *= (uint64_t)shape[d];
        for (int dt = METS_DT_F32; dt <= METS_DT_U8; dt++) {
            const void *data;
            if (!mets_mfile_tensor(mf, name, (mets_dtype)dt, ndim, shape, &data, &err))
                touch(data, (size_t)bytes * (dt == METS_DT_U8 ? 1 : 4));
            mets_mfile_tensor(mf, name, (mets_dtype)dt, ndim, any, &data, &err);
            mets_mfile_tensor(mf, name, (mets_dtype)dt, ndim ? ndim - 1 : 1, shape, &data, &err);
        }
    }
}

static void try_open(const unsigned char *buf, size_t len)
{
    mets_err err;
    mets_mfile *mf = mets_mfile_open_mem(buf, len, "fuzz.mets", &err);
    if (!mf) {
        touch(err.msg, strlen(err.msg));
        return;
    }
    touch(mets_mfile_name(mf), strlen(mets_mfile_name(mf)));
    exercise_metadata(mf, buf, len);
    exercise_tensors(mf);
    mets_mfile_free(mf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An aligned copy of exactly `size` bytes: open_mem wants 64-byte alignment, and ASan then catches
     * any read past the end. */
    void *buf = NULL;
    if (posix_memalign(&buf, 64, size ? size : 1))
        return 0;
    memcpy(buf, data, size);
    try_open(buf, size);
    reseal(buf, size);
    try_open(buf, size);
    free(buf);
    return 0;
}
