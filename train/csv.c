/* Comma-separated files: see csv.h. */
#include "csv.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One record: its fields one after another in `text`, each NUL-terminated, starting at off[i]. */
typedef struct record {
    char *text;
    size_t len, cap;
    size_t *off;
    size_t nfields, cap_fields;
} record;

struct mets_csv {
    FILE *f;
    char *path;
    int line, record_line; /* the line being read; the line where the current record starts */
    record header, row;
};

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    void *grown = realloc(*p, n * size);
    if (!grown)
        return METS_ENOMEM;
    *p = grown, *cap = n;
    return 0;
}

static int put_char(record *r, char c)
{
    if (grow((void **)&r->text, &r->cap, r->len + 1, 1))
        return METS_ENOMEM;
    r->text[r->len++] = c;
    return 0;
}

/* Ends the field being read (NUL) and starts the next one at the current end of the text. */
static int end_field(record *r)
{
    if (put_char(r, '\0') || grow((void **)&r->off, &r->cap_fields, r->nfields + 2, sizeof *r->off))
        return METS_ENOMEM;
    r->off[++r->nfields] = r->len;
    return 0;
}

/* Reads one character inside double quotes: "" is a quote, a lone " ends the quoted part. */
static int quoted_char(mets_csv *c, record *r, int ch, bool *quoted, bool *closed)
{
    if (ch == '"') {
        int next = getc(c->f);
        if (next == '"')
            return put_char(r, '"');
        ungetc(next, c->f);
        *quoted = false, *closed = true;
        return 0;
    }
    c->line += ch == '\n';
    return put_char(r, (char)ch);
}

static int start_record(mets_csv *c, record *r)
{
    r->len = 0, r->nfields = 0;
    c->record_line = c->line;
    if (grow((void **)&r->off, &r->cap_fields, 2, sizeof *r->off))
        return METS_ENOMEM;
    r->off[0] = 0;
    return 0;
}

/* Reads one record into r: 1 when read, 0 at the end of the file. */
static int read_record(mets_csv *c, record *r, mets_err *err)
{
    bool quoted = false, closed = false; /* closed: a quoted part ended in this field */
    int rc = start_record(c, r), ch = 0;
    while (!rc && ((ch = getc(c->f)) != EOF || quoted)) {
        bool blank = r->len == 0 && r->nfields == 0 && !closed;
        if (ch == EOF)
            return mets_err_set(err, METS_EFORMAT, "%s:%d: unterminated quoted field", c->path, c->record_line);
        if (quoted) {
            rc = quoted_char(c, r, ch, &quoted, &closed);
        } else if (ch == '\r') {
            continue; /* Windows line ends */
        } else if (ch == '\n' && blank) {
            c->record_line = ++c->line;
        } else if (ch == ',' || ch == '\n') {
            rc = end_field(r);
            closed = false;
            if (ch == '\n' && !rc) {
                c->line++;
                return 1;
            }
        } else if (closed) {
            return mets_err_set(err, METS_EFORMAT, "%s:%d: expected ',' or a line end after a closing quote, "
                                "found '%c'", c->path, c->line, ch);
        } else if (ch == '"' && r->len == r->off[r->nfields]) {
            quoted = true;
        } else {
            rc = put_char(r, (char)ch);
        }
    }
    if (!rc && ferror(c->f))
        return mets_err_set(err, METS_EIO, "%s: read error", c->path);
    if (!rc && r->len == 0 && r->nfields == 0 && !closed)
        return 0;
    if (!rc)
        rc = end_field(r);
    return rc ? mets_err_set(err, rc, "%s: out of memory", c->path) : 1;
}

mets_csv *mets_csv_open(const char *path, mets_err *err)
{
    mets_csv *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(path))) {
        free(c);
        mets_err_set(err, METS_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    c->line = 1;
    if (!(c->f = fopen(path, "rb"))) {
        mets_err_set(err, METS_EIO, "%s: %s", path, strerror(errno));
        mets_csv_close(c);
        return NULL;
    }
    int rc = read_record(c, &c->header, err);
    if (rc <= 0) {
        if (!rc)
            mets_err_set(err, METS_EFORMAT, "%s: empty file, expected a header row", path);
        mets_csv_close(c);
        return NULL;
    }
    return c;
}

void mets_csv_close(mets_csv *csv)
{
    if (!csv)
        return;
    if (csv->f)
        fclose(csv->f);
    free(csv->header.text), free(csv->header.off), free(csv->row.text), free(csv->row.off);
    free(csv->path);
    free(csv);
}

int mets_csv_next(mets_csv *csv, mets_err *err)
{
    int rc = read_record(csv, &csv->row, err);
    if (rc == 1 && csv->row.nfields != csv->header.nfields)
        return mets_err_set(err, METS_EFORMAT, "%s:%d: %zu fields, expected %zu as in the header", csv->path,
                            csv->record_line, csv->row.nfields, csv->header.nfields);
    return rc;
}

int mets_csv_column(const mets_csv *csv, const char *name)
{
    for (size_t i = 0; i < csv->header.nfields; i++)
        if (!strcmp(csv->header.text + csv->header.off[i], name))
            return (int)i;
    return -1;
}

size_t mets_csv_ncolumns(const mets_csv *csv)
{
    return csv->header.nfields;
}

const char *mets_csv_field(const mets_csv *csv, size_t col)
{
    return col < csv->row.nfields ? csv->row.text + csv->row.off[col] : "";
}

int mets_csv_line(const mets_csv *csv)
{
    return csv->record_line;
}
