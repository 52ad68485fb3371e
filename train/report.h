/* Report texts: turns PTB-XL's machine-generated ECG reports (German and Swedish device statements;
 * about a third are English already) into clean English for the frozen English language model, with
 * the phrase table train/report_phrases.tsv (its header documents the format and the matching).
 *
 * A translation lower-cases the report (upper-case umlauts too, "unbestÄtigter" = "unbestätigter"),
 * collapses whitespace, deletes the boilerplate the table names (version number, "unbestätigter
 * bericht", "edit: ..."), replaces table phrases longest match first at token boundaries (ä ö ü ß also
 * match ae oe ue ss), keeps everything else (English text, numbers, lead names) as it is, and tidies
 * the punctuation where replacements meet.
 *
 * Thread-safety: immutable after mets_report_translator_new; mets_report_translate may run
 * concurrently (each call allocates its own scratch memory).
 *
 *     mets_report_translator *tr = mets_report_translator_new(NULL, &err);   // the built-in table
 *     char en[1024];
 *     mets_report_translate(tr, "sinusrhythmus lagetyp normal normales ekg", en, sizeof en, NULL);
 *     // en = "sinus rhythm. normal axis. normal ecg."
 *     mets_report_translator_free(tr);
 */
#ifndef METS_REPORT_H
#define METS_REPORT_H

#include <stddef.h>

#include "err.h"

typedef struct mets_report_translator mets_report_translator;

/* Word counts of translated reports: mets_report_translate adds to them, so one struct can sum a
 * whole corpus. A word is a token made of letters and digits (punctuation is not counted). */
typedef struct mets_report_stats {
    size_t covered;   /* words inside a table phrase that was replaced */
    size_t english;   /* words kept because they are English (an !english word or a word of some
                         phrase's English), or numbers */
    size_t uncovered; /* words kept although the table knows them in no way: probably German */
    size_t dropped;   /* boilerplate words deleted */
    /* When not NULL, called with each uncovered word (lower-cased, not NUL-terminated). */
    void (*on_uncovered)(void *ctx, const char *word, size_t len);
    void *ctx;
} mets_report_stats;

/* Loads the phrase table from `tsv_path`, or the table compiled into the binary when NULL. Returns
 * NULL and fills `err` for a file that cannot be read (METS_EIO) or a bad line (METS_EFORMAT, with
 * "file:line:" and what was expected) such as a missing tab, an empty field, an unknown !directive or
 * a phrase given twice. */
mets_report_translator *mets_report_translator_new(const char *tsv_path, mets_err *err);
void mets_report_translator_free(mets_report_translator *t);

/* Translates the NUL-terminated UTF-8 report `text` into `out` (cap bytes, NUL included). Returns the
 * length of the translation, METS_EINVAL for NULL arguments or cap 0, or METS_ENOMEM when the
 * translation does not fit (out then holds as much of it as fits) or memory runs out. Counts are
 * added to `stats` when not NULL. */
int mets_report_translate(const mets_report_translator *t, const char *text, char *out, size_t cap,
                          mets_report_stats *stats);

#endif
