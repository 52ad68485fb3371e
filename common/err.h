/* One error convention for all of mets.
 *
 * A function that can fail returns int: 0 on success or a negative METS_E* code, and fills the
 * caller's `mets_err` (which may be NULL) with a message that names the object and the problem,
 * e.g. "models/x.mets: tensor 'fc.weight' has shape [3, 4], expected [4, 4]".
 * Constructors (`*_new`, `*_open`) return NULL on failure and fill the same struct.
 *
 *     mets_err err;
 *     mets_mfile *mf = mets_mfile_open(path, &err);
 *     if (!mf) { fprintf(stderr, "mets: %s\n", err.msg); return 1; }
 */
#ifndef METS_ERR_H
#define METS_ERR_H

enum {
    METS_OK = 0,
    METS_EINVAL = -1,  /* bad argument or input value */
    METS_EIO = -2,     /* the OS refused: open, read, write, mmap */
    METS_EFORMAT = -3, /* a file or message is malformed, foreign or of the wrong version */
    METS_ENOMEM = -4,  /* allocation failed or a size is beyond the limits */
    METS_ENOTFOUND = -5,
};

typedef struct mets_err {
    int code;
    char msg[512];
} mets_err;

/* Fills `err` (if not NULL) and returns `code`, so that `return mets_err_set(...)` reads well. */
int mets_err_set(mets_err *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prefixes the message already in `err` with more context ("loading x: " + old) and returns its code. */
int mets_err_prefix(mets_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

const char *mets_err_name(int code);

#endif
