/* WFDB annotation files in MIT format (.atr and friends): the beat labels and rhythm changes of MIT-BIH
 * and VFDB. Reference: the WFDB annot(5) manual page; codes and mnemonics are those of <wfdb/ecgcodes.h>.
 *
 * Thread-safety: a mets_annots is plain data; once read, any number of threads may read it.
 *
 *     mets_err err;
 *     mets_annots a;
 *     if (mets_annot_read(".cache/data/mitdb/201.atr", &a, &err)) die(err.msg);
 *     for (size_t i = 0; i < a.count; i++)
 *         if (a.items[i].aux)          // rhythm changes: "(AFIB", "(N", "(VT"…
 *             printf("%lld %s %s\n", (long long)a.items[i].sample, mets_annot_mnemonic(a.items[i].code),
 *                    a.items[i].aux);
 *     mets_annots_free(&a);
 */
#ifndef METS_ANNOT_H
#define METS_ANNOT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define METS_ANNOT_MAX_CODE 49 /* WFDB's ACMAX: codes above it are the file's own pseudo-codes */

typedef struct {
    int64_t sample;  /* frame number in the record */
    int code;        /* WFDB anntyp, 0..METS_ANNOT_MAX_CODE */
    int subtype;     /* -128..127; 0 unless the file sets it */
    int chan;        /* 0..255; carries over from the previous annotation unless the file sets it */
    int num;         /* -128..127; carries over as chan does */
    const char *aux; /* NUL-terminated (cut at a NUL inside, as libwfdb's printers do); NULL when none */
} mets_annot;

typedef struct {
    mets_annot *items; /* in file order, which WFDB keeps sorted by sample */
    size_t count;
    double fs;      /* the file header's "## time resolution: 360"; 0 when there is none */
    char *aux_pool; /* owns the aux strings */
} mets_annots;

/* Reads the whole file (annotation files are small). Like WFDB's own readers, it leaves out what is not
 * an event: the file header (NOTE annotations at sample 0 whose aux starts with "## ") and null
 * annotations (code 0). Errors name the file and the byte offset:
 * truncation (no end-of-file marker, or a SKIP or aux string cut short) and codes 50..58, which the
 * MIT format does not define, are METS_EFORMAT; a missing file is METS_ENOTFOUND. On error `out` is
 * left empty, so that mets_annots_free is always safe. */
int mets_annot_read(const char *path, mets_annots *out, mets_err *err);
/* The same on a buffer; `name` is used in messages. This is what the fuzzer drives. */
int mets_annot_parse_mem(const void *buf, size_t len, const char *name, mets_annots *out, mets_err *err);
void mets_annots_free(mets_annots *a);

/* The standard mnemonic of a code ("N", "V", "+", "~"…), or NULL for codes WFDB leaves undefined. */
const char *mets_annot_mnemonic(int code);

#endif
