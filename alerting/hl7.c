#include "hl7.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mets_hl7 {
    char *buf;
    size_t len, cap;
    bool failed, open; /* open: a segment has been started */
};

mets_hl7 *mets_hl7_new(void)
{
    return calloc(1, sizeof(mets_hl7));
}

void mets_hl7_free(mets_hl7 *m)
{
    if (m)
        free(m->buf);
    free(m);
}

static void put(mets_hl7 *m, const char *s, size_t n)
{
    if (m->failed)
        return;
    if (m->len + n + 1 > m->cap) {
        size_t cap = m->cap ? m->cap : 1024;
        while (cap < m->len + n + 1)
            cap *= 2;
        char *b = realloc(m->buf, cap);
        if (!b) {
            m->failed = true;
            return;
        }
        m->buf = b, m->cap = cap;
    }
    memcpy(m->buf + m->len, s, n);
    m->len += n;
    m->buf[m->len] = 0;
}

void mets_hl7_segment(mets_hl7 *m, const char *name)
{
    if (m->open)
        put(m, "\r", 1);
    m->open = true;
    put(m, name, strlen(name));
    if (!strcmp(name, "MSH"))
        put(m, "|^~\\&", 5);
}

void mets_hl7_fields(mets_hl7 *m, int n)
{
    for (int i = 0; i < n; i++)
        put(m, "|", 1);
}

void mets_hl7_raw(mets_hl7 *m, const char *s)
{
    put(m, s, strlen(s));
}

void mets_hl7_text(mets_hl7 *m, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        const char *esc = *c == '|' ? "\\F\\" : *c == '^' ? "\\S\\" : *c == '&' ? "\\T\\" : *c == '~' ? "\\R\\"
                        : *c == '\\' ? "\\E\\" : NULL;
        char hex[8];
        if (!esc && (*c < 0x20 || *c == 0x7f)) {
            snprintf(hex, sizeof hex, "\\X%02X\\", *c);
            esc = hex;
        }
        if (esc)
            put(m, esc, strlen(esc));
        else
            put(m, (const char *)c, 1);
    }
}

void mets_hl7_time(mets_hl7 *m, int64_t us)
{
    time_t s = (time_t)(us >= 0 ? us / 1000000 : (us - 999999) / 1000000);
    int ms = (int)((us - (int64_t)s * 1000000) / 1000);
    struct tm tm;
    char buf[40];
    gmtime_r(&s, &tm);
    size_t n = strftime(buf, sizeof buf, "%Y%m%d%H%M%S", &tm);
    snprintf(buf + n, sizeof buf - n, ".%03d+0000", ms);
    put(m, buf, strlen(buf));
}

bool mets_hl7_failed(const mets_hl7 *m)
{
    return m->failed;
}

const char *mets_hl7_data(mets_hl7 *m, size_t *len)
{
    if (m->open) { /* the last segment's carriage return, once */
        put(m, "\r", 1);
        m->open = false;
    }
    *len = m->len;
    return m->failed ? NULL : m->buf;
}

/* The delimiters of a message, from its MSH-1 and MSH-2. */
typedef struct delims {
    char field, component, escape;
} delims;

/* Appends field text [s, end) to out (size cap, kept terminated), unescaped, its components joined by
 * spaces. */
static void unescape(const delims *d, const char *s, const char *end, char *out, size_t cap)
{
    size_t n = strlen(out);
    for (; s < end && n + 1 < cap; s++) {
        char c = *s;
        if (c == d->escape) {
            const char *close = memchr(s + 1, d->escape, (size_t)(end - s - 1));
            if (!close)
                break;
            char e = s[1];
            c = e == 'F' ? '|' : e == 'S' ? '^' : e == 'T' ? '&' : e == 'R' ? '~' : e == 'E' ? '\\' : 0;
            if (e == 'X' && close - s >= 4) {
                char hex[3] = {s[2], s[3], 0};
                c = (char)strtol(hex, NULL, 16);
            }
            s = close;
            if (!c || (unsigned char)c < 0x20)
                continue;
        } else if (c == d->component) { /* components as words: empty ones leave no gap */
            if (!n || out[n - 1] == ' ')
                continue;
            c = ' ';
        }
        out[n++] = c;
    }
    out[n] = 0;
}

/* Field i (1-based, after the segment name) of segment [s, end): its bounds, or false when absent. */
static bool field(const delims *d, const char *s, const char *end, int i, const char **fs, const char **fe)
{
    for (int k = 0; k < i; k++) {
        s = memchr(s, d->field, (size_t)(end - s));
        if (!s)
            return false;
        s++;
    }
    const char *e = memchr(s, d->field, (size_t)(end - s));
    *fs = s, *fe = e ? e : end;
    return true;
}

static void add_text(const delims *d, const char *s, const char *e, mets_hl7_ack *ack)
{
    if (s == e)
        return;
    size_t n = strlen(ack->text);
    if (n && n + 3 < sizeof ack->text)
        strcat(ack->text, "; ");
    unescape(d, s, e, ack->text, sizeof ack->text);
}

bool mets_hl7_parse_ack(const char *msg, size_t len, mets_hl7_ack *ack)
{
    memset(ack, 0, sizeof *ack);
    if (len < 8 || memcmp(msg, "MSH", 3))
        return false;
    delims d = {msg[3], msg[4], msg[6]};
    const char *end = msg + len, *fs, *fe;
    bool msa = false;
    for (const char *s = msg; s < end;) {
        const char *e = s;
        while (e < end && *e != '\r' && *e != '\n')
            e++;
        if (e - s >= 3 && !memcmp(s, "MSA", 3) && !msa && field(&d, s, e, 1, &fs, &fe) && fe - fs == 2 &&
            isupper((unsigned char)fs[0]) && isupper((unsigned char)fs[1])) {
            msa = true;
            memcpy(ack->code, fs, 2);
            if (field(&d, s, e, 2, &fs, &fe))
                unescape(&d, fs, fe, ack->control_id, sizeof ack->control_id);
            if (field(&d, s, e, 3, &fs, &fe))
                add_text(&d, fs, fe, ack);
        } else if (e - s >= 3 && !memcmp(s, "ERR", 3)) {
            for (int i = 3; i <= 8; i += i == 3 ? 4 : 1) /* ERR-3 (the error code and its text), ERR-7, ERR-8 */
                if (field(&d, s, e, i, &fs, &fe))
                    add_text(&d, fs, fe, ack);
        }
        s = e + 1;
    }
    return msa;
}

bool mets_hl7_ack_accepted(const mets_hl7_ack *ack)
{
    return !strcmp(ack->code, "AA") || !strcmp(ack->code, "CA");
}
