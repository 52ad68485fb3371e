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

/* An invariant of the code, not of its input (input errors are returned, above): when it does not hold,
 * prints the file, line, condition and the message (printf) to stderr and aborts, for a core and a restart.
 * Always on, unlike assert(), which the release build's -DNDEBUG removes.
 *     METS_ASSERT(i >= 0 && i < n, "child %d of %d", i, n); */
#define METS_ASSERT(cond, ...) ((cond) ? (void)0 : mets_assert_fail(__FILE__, __LINE__, #cond, __VA_ARGS__))
_Noreturn void mets_assert_fail(const char *file, int line, const char *cond, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
