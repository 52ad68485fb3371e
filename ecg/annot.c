/* MIT-format annotation reader. The file is a stream of little-endian 16-bit words, each a 6-bit code
 * and a 10-bit value: a code of 1..49 starts an annotation `value` samples after the previous one, and
 * pseudo-codes 59..63 adjust the time (SKIP) or set fields of the annotation just started. */
#include "annot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

enum {
    NOTE = 22,
    SKIP = 59, /* followed by a 32-bit time step, high 16-bit word first */
    NUM = 60,
    SUB = 61,
    CHN = 62,
    AUX = 63, /* value = byte length of the string that follows, padded to an even length */
    MAX_AUX = 255,
    MAX_FILE_BYTES = 1 << 30, /* a 24-hour Holter file is ~1 MB; this only stops a runaway file */
};

typedef struct {
    const unsigned char *p;
    size_t len, pos;
    const char *name;
    mets_err *err;
    mets_annots *out;
    size_t cap;     /* items allocated */
    size_t pool_at; /* bytes of aux_pool used */
} reader;

static int truncated(const reader *r, const char *what)
{
    return mets_err_set(r->err, METS_EFORMAT, "%s: truncated: %s at byte %zu of %zu", r->name, what, r->pos,
                        r->len);
}

static int next_word(reader *r, unsigned *w, const char *what)
{
    if (r->len - r->pos < 2)
        return truncated(r, what);
    *w = r->p[r->pos] | (unsigned)r->p[r->pos + 1] << 8;
    r->pos += 2;
    return 0;
}

static int skip(reader *r, int64_t *t)
{
    unsigned hi = 0, lo = 0; /* set unless next_word fails */
    int rc;
    if ((rc = next_word(r, &hi, "SKIP interval cut short")) || (rc = next_word(r, &lo, "SKIP interval cut short")))
        return rc;
    int32_t step = (int32_t)((uint32_t)hi << 16 | lo);
    if (__builtin_add_overflow(*t, step, t))
        return mets_err_set(r->err, METS_EFORMAT, "%s: sample number overflows at byte %zu", r->name, r->pos);
    return 0;
}

static int push(reader *r, int64_t t, int code)
{
    mets_annots *a = r->out;
    if (a->count == r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 256;
        mets_annot *items = realloc(a->items, cap * sizeof *items);
        if (!items)
            return mets_err_set(r->err, METS_ENOMEM, "%s: out of memory", r->name);
        a->items = items;
        r->cap = cap;
    }
    const mets_annot *prev = a->count ? &a->items[a->count - 1] : NULL;
    a->items[a->count++] = (mets_annot){t, code, 0, prev ? prev->chan : 0, prev ? prev->num : 0, NULL};
    return 0;
}

/* The string's bytes go to the pool with a NUL; the pool has room because every string costs the file
 * at least one byte more than its length (the AUX word). */
static int aux(reader *r, mets_annot *cur, unsigned len)
{
    if (len > MAX_AUX)
        return mets_err_set(r->err, METS_EFORMAT, "%s: aux string of %u bytes at byte %zu (at most %d)", r->name,
                            len, r->pos - 2, MAX_AUX);
    size_t padded = len + (len & 1);
    if (r->len - r->pos < padded)
        return truncated(r, "aux string cut short");
    char *s = r->out->aux_pool + r->pool_at;
    memcpy(s, r->p + r->pos, len);
    s[len] = 0;
    r->pool_at += len + 1;
    r->pos += padded;
    cur->aux = s;
    return 0;
}

/* Applies a pseudo-code that sets a field of the current annotation. */
static int modify(reader *r, unsigned code, unsigned value)
{
    if (!r->out->count)
        return mets_err_set(r->err, METS_EFORMAT, "%s: pseudo-code %u before any annotation at byte %zu", r->name,
                            code, r->pos - 2);
    mets_annot *cur = &r->out->items[r->out->count - 1];
    switch (code) { /* WFDB keeps these in chars: the value's low byte, signed but for chan */
    case NUM: cur->num = (signed char)(value & 0xff); return 0;
    case SUB: cur->subtype = (signed char)(value & 0xff); return 0;
    case CHN: cur->chan = (int)(value & 0xff); return 0;
    default: return aux(r, cur, value);
    }
}

static int parse(reader *r)
{
    int64_t t = 0;
    for (;;) {
        unsigned w = 0;
        int rc = next_word(r, &w, "no end-of-file marker");
        if (rc)
            return rc;
        unsigned code = w >> 10, value = w & 0x3ff;
        if (code == 0 && value == 0)
            return 0;
        if (code == SKIP)
            rc = skip(r, &t);
        else if (code > SKIP)
            rc = modify(r, code, value);
        else if (code > METS_ANNOT_MAX_CODE)
            rc = mets_err_set(r->err, METS_EFORMAT, "%s: undefined annotation code %u at byte %zu", r->name, code,
                              r->pos - 2);
        else if (__builtin_add_overflow(t, (int64_t)value, &t))
            rc = mets_err_set(r->err, METS_EFORMAT, "%s: sample number overflows at byte %zu", r->name, r->pos);
        else
            rc = push(r, t, (int)code);
        if (rc)
            return rc;
    }
}

/* Drops what WFDB's readers do not show as events: the file's header (NOTE annotations at sample 0 whose
 * aux starts with "## ", e.g. "## time resolution: 360", which wfdb.wrann and libwfdb write) and code 0
 * (NOTQRS, a null annotation; WFDB ends the header with one). They are dropped only now, after parsing,
 * because chan and num carry over through them. */
static void drop_non_events(mets_annots *a)
{
    size_t kept = 0;
    for (size_t i = 0; i < a->count; i++) {
        const mets_annot *x = &a->items[i];
        int header = x->code == NOTE && x->sample == 0 && x->aux && !strncmp(x->aux, "## ", 3);
        if (header && !a->fs)
            sscanf(x->aux, "## time resolution: %lf", &a->fs);
        if (!header && x->code != 0)
            a->items[kept++] = *x;
    }
    a->count = kept;
}

int mets_annot_parse_mem(const void *buf, size_t len, const char *name, mets_annots *out, mets_err *err)
{
    memset(out, 0, sizeof *out);
    reader r = {buf, len, 0, name, err, out, 0, 0};
    if (!(out->aux_pool = malloc(len + 1)))
        return mets_err_set(err, METS_ENOMEM, "%s: out of memory", name);
    int rc = parse(&r);
    if (rc)
        mets_annots_free(out);
    else
        drop_non_events(out);
    return rc;
}

int mets_annot_read(const char *path, mets_annots *out, mets_err *err)
{
    size_t len;
    memset(out, 0, sizeof *out);
    char *buf = mets_file_slurp(path, MAX_FILE_BYTES, &len, err);
    if (!buf)
        return err ? err->code : METS_EIO;
    int rc = mets_annot_parse_mem(buf, len, path, out, err);
    free(buf);
    return rc;
}

void mets_annots_free(mets_annots *a)
{
    free(a->items);
    free(a->aux_pool);
    memset(a, 0, sizeof *a);
}

const char *mets_annot_mnemonic(int code)
{
    /* <wfdb/ecgcodes.h> order; NULL marks the codes WFDB leaves undefined. */
    static const char *const names[METS_ANNOT_MAX_CODE + 1] = {
        " ", "N", "L", "R", "a", "V", "F", "J", "A", "S", "E", "j", "/", "Q", "~", NULL, "|", NULL, "s", "T",
        "*", "D", "\"", "=", "p", "B", "^", "t", "+", "u", "?", "!", "[", "]", "e", "n", "@", "x", "f", "(",
        ")", "r",
    };
    return code >= 0 && code <= METS_ANNOT_MAX_CODE ? names[code] : NULL;
}
