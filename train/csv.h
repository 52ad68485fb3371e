/* A reader of comma-separated files as PTB-XL writes them (ptbxl_database.csv, scp_statements.csv):
 * a header row, then one record a row; a field in double quotes may hold commas, line breaks and
 * doubled quotes (RFC 4180). Every row must have as many fields as the header, so that a column index
 * from mets_csv_column fits every row.
 *
 * Thread-safety: a reader is used by one thread at a time.
 *
 *     mets_csv *csv = mets_csv_open("ptbxl_database.csv", &err);
 *     int report = mets_csv_column(csv, "report");
 *     while ((rc = mets_csv_next(csv, &err)) == 1)
 *         puts(mets_csv_field(csv, report));
 *     mets_csv_close(csv);   // rc < 0: err says which line is malformed
 */
#ifndef METS_CSV_H
#define METS_CSV_H

#include <stddef.h>

#include "err.h"

typedef struct mets_csv mets_csv;

/* Opens `path` and reads its header row; NULL with `err` filled when it cannot be read or is empty. */
mets_csv *mets_csv_open(const char *path, mets_err *err);
void mets_csv_close(mets_csv *csv);

/* Reads the next record: 1 when read, 0 at the end of the file, or a negative METS_E* code for a
 * read error or a malformed record ("path:line: ..."): an unterminated quote, text after a closing
 * quote, a field count other than the header's. Blank lines are skipped. */
int mets_csv_next(mets_csv *csv, mets_err *err);

/* The index of the header column named `name`, or -1. */
int mets_csv_column(const mets_csv *csv, const char *name);
size_t mets_csv_ncolumns(const mets_csv *csv);

/* Field `col` of the current record, unquoted and NUL-terminated, valid until the next
 * mets_csv_next; "" for a column out of range. */
const char *mets_csv_field(const mets_csv *csv, size_t col);

/* The line of the file where the current record starts (1 is the header). */
int mets_csv_line(const mets_csv *csv);

#endif
