#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int mets_err_set(mets_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

int mets_err_prefix(mets_err *err, const char *fmt, ...)
{
    if (!err)
        return METS_EINVAL;
    char head[sizeof err->msg], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    size_t n = strlen(head);
    memcpy(err->msg, head, n + 1);
    /* Truncates the old message rather than the new context if both do not fit. */
    strncat(err->msg, old, sizeof err->msg - n - 1);
    return err->code;
}

void mets_assert_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s:%d: METS_ASSERT(%s) failed: ", file, line, cond);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}

const char *mets_err_name(int code)
{
    switch (code) {
    case METS_OK: return "ok";
    case METS_EINVAL: return "invalid argument";
    case METS_EIO: return "I/O error";
    case METS_EFORMAT: return "bad format";
    case METS_ENOMEM: return "out of memory";
    case METS_ENOTFOUND: return "not found";
    default: return "unknown error";
    }
}
