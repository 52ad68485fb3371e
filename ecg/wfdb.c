/* WFDB header parser and sample reader. The header grammar follows header(5) of the WFDB software
 * package; where it leaves a choice, this parser is stricter than WFDB and says why in the message. */
#include "wfdb.h"

#include "fileio.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    MAX_HEADER_BYTES = 1 << 20, /* real headers are below 10 kB; this only stops a runaway file */
    CHUNK_SAMPLES = 8192,       /* samples decoded per pread */
    DEFAULT_GAIN = 200,
    DEFAULT_FS = 250,
};

/* ---- header text ---- */

typedef struct {
    const char *p, *end;
} span;

typedef struct {
    const char *name;
    int line;
    mets_err *err;
} pctx;

__attribute__((format(printf, 2, 3))) static int bad(const pctx *c, const char *fmt, ...)
{
    char msg[sizeof c->err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return mets_err_set(c->err, METS_EFORMAT, "%s:%d: %s", c->name, c->line, msg);
}

static int span_len(span s)
{
    return (int)(s.end - s.p); /* callers print spans of one line, which MAX_HEADER_BYTES bounds */
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Splits off the next line (without its '\n'); returns 0 when the text is used up. */
static int next_line(span *text, span *line)
{
    if (text->p >= text->end)
        return 0;
    const char *nl = memchr(text->p, '\n', (size_t)(text->end - text->p));
    line->p = text->p;
    line->end = nl ? nl : text->end;
    text->p = nl ? nl + 1 : text->end;
    while (line->end > line->p && is_blank(line->end[-1])) /* CR LF headers, trailing blanks */
        line->end--;
    return 1;
}

static void skip_blanks(span *s)
{
    while (s->p < s->end && is_blank(*s->p))
        s->p++;
}

/* Splits off the next blank-separated token; returns 0 when there is none. */
static int next_tok(span *s, span *tok)
{
    skip_blanks(s);
    if (s->p >= s->end)
        return 0;
    tok->p = s->p;
    while (s->p < s->end && !is_blank(*s->p))
        s->p++;
    tok->end = s->p;
    return 1;
}

/* Cuts `s` at the first `ch`: returns the part before it and leaves `s` after it; or returns all of `s`
 * and leaves it empty when there is no `ch`. */
static span cut(span *s, char ch)
{
    span head = *s;
    const char *at = memchr(s->p, ch, (size_t)(s->end - s->p));
    head.end = at ? at : s->end;
    s->p = at ? at + 1 : s->end;
    return head;
}

static int copy_span(char *dst, size_t cap, span s)
{
    size_t n = (size_t)(s.end - s.p);
    if (n >= cap)
        return -1;
    memcpy(dst, s.p, n);
    dst[n] = 0;
    return 0;
}

/* A whole-token decimal integer in [lo, hi]. */
static int span_i64(span s, int64_t lo, int64_t hi, int64_t *out)
{
    const char *p = s.p;
    int neg = p < s.end && *p == '-';
    p += neg;
    if (p >= s.end)
        return -1;
    int64_t v = 0;
    for (; p < s.end; p++) {
        if (*p < '0' || *p > '9' || __builtin_mul_overflow(v, 10, &v) || __builtin_sub_overflow(v, *p - '0', &v))
            return -1; /* accumulated negative: INT64_MIN has no positive twin */
    }
    if (!neg && __builtin_mul_overflow(v, -1, &v))
        return -1;
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* A whole-token finite decimal number; strtod alone would also take "nan", "inf" and hex. */
static int span_f64(span s, double *out)
{
    char buf[64];
    if (s.p == s.end || copy_span(buf, sizeof buf, s) || strspn(buf, "0123456789.eE+-") != strlen(buf))
        return -1;
    char *end;
    double v = strtod(buf, &end);
    if (*end || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

/* "fs[/counter_freq[(base_counter)]]" */
static int parse_fs(const pctx *c, span t, mets_wfdb_header *h)
{
    span rest = t, fs = cut(&rest, '/');
    if (span_f64(fs, &h->fs) || !(h->fs > 0))
        return bad(c, "sampling frequency '%.*s' is not a positive number", span_len(t), t.p);
    if (rest.p == rest.end)
        return 0;
    span cf = cut(&rest, '(');
    if (span_f64(cf, &h->counter_freq) || !(h->counter_freq > 0))
        return bad(c, "counter frequency in '%.*s' is not a positive number", span_len(t), t.p);
    if (rest.p == rest.end)
        return 0;
    span base = cut(&rest, ')');
    if (span_f64(base, &h->base_counter) || rest.p != rest.end || rest.p[-1] != ')')
        return bad(c, "base counter in '%.*s' is not a number in parentheses", span_len(t), t.p);
    return 0;
}

/* "name nsig [fs[/counter[(base)]] [nsamp [base_time [base_date]]]]" */
static int parse_record_line(const pctx *c, span line, mets_wfdb_header *h)
{
    span t = {line.p, line.p};
    int64_t v;
    next_tok(&line, &t); /* the caller skips empty lines */
    if (memchr(t.p, '/', (size_t)(t.end - t.p)))
        return bad(c, "'%.*s' is a multi-segment record, which is not supported", span_len(t), t.p);
    if (copy_span(h->name, sizeof h->name, t))
        return bad(c, "record name longer than %zu bytes", sizeof h->name - 1);
    if (!next_tok(&line, &t))
        return bad(c, "record line has no number of signals");
    if (span_i64(t, 1, METS_WFDB_MAX_SIGNALS, &v))
        return bad(c, "number of signals '%.*s' is not in 1..%d", span_len(t), t.p, METS_WFDB_MAX_SIGNALS);
    h->nsig = (int)v;
    h->fs = DEFAULT_FS;
    h->nsamp = -1;
    int rc;
    if (next_tok(&line, &t) && (rc = parse_fs(c, t, h)))
        return rc;
    if (h->counter_freq == 0)
        h->counter_freq = h->fs;
    if (next_tok(&line, &t)) {
        if (span_i64(t, 0, INT64_MAX, &v))
            return bad(c, "number of samples '%.*s' is not a count", span_len(t), t.p);
        h->nsamp = v ? v : -1; /* WFDB: 0 means "not given" */
    }
    if (next_tok(&line, &t) && copy_span(h->base_time, sizeof h->base_time, t))
        return bad(c, "base time '%.*s' is too long", span_len(t), t.p);
    if (next_tok(&line, &t) && copy_span(h->base_date, sizeof h->base_date, t))
        return bad(c, "base date '%.*s' is too long", span_len(t), t.p);
    if (next_tok(&line, &t))
        return bad(c, "unexpected '%.*s' after the base date", span_len(t), t.p);
    return 0;
}

/* Consumes leading digits of `s` as a number <= max; -1 when there are none or too many. */
static int take_digits(span *s, int64_t max, int64_t *out)
{
    span d = {s->p, s->p};
    while (d.end < s->end && *d.end >= '0' && *d.end <= '9')
        d.end++;
    s->p = d.end;
    return span_i64(d, 0, max, out);
}

/* "format[xsamples_per_frame][:skew][+byte_offset]" */
static int parse_format(const pctx *c, span t, mets_wfdb_signal *s)
{
    span rest = t;
    int64_t fmt, v;
    if (take_digits(&rest, 99999, &fmt))
        return bad(c, "format '%.*s' is not a number", span_len(t), t.p);
    if (fmt != 16 && fmt != 212 && fmt != 80)
        return bad(c, "unsupported format %d (supported: 16, 212, 80)", (int)fmt);
    s->format = (int)fmt;
    while (rest.p < rest.end) {
        char tag = *rest.p++;
        if ((tag != 'x' && tag != ':' && tag != '+') || take_digits(&rest, INT64_MAX / 2, &v))
            return bad(c, "format '%.*s' is not format[xN][:N][+N]", span_len(t), t.p);
        if (tag == 'x' && v > 1)
            return bad(c, "format '%.*s': multi-frequency signals are not supported", span_len(t), t.p);
        if (tag == ':' && v != 0)
            return bad(c, "format '%.*s': skewed signals are not supported", span_len(t), t.p);
        if (tag == '+')
            s->byte_offset = v;
    }
    return 0;
}

/* "gain[(baseline)][/units]" */
static int parse_gain(const pctx *c, span t, mets_wfdb_signal *s, int *has_baseline)
{
    span rest = t, gain = rest;
    while (gain.p < gain.end && gain.p[0] != '(' && gain.p[0] != '/')
        gain.p++;
    rest.p = gain.p;
    gain = (span){t.p, rest.p};
    if (span_f64(gain, &s->gain))
        return bad(c, "gain '%.*s' is not a number", span_len(t), t.p);
    if (rest.p < rest.end && *rest.p == '(') {
        rest.p++;
        int64_t v;
        if (span_i64(cut(&rest, ')'), INT32_MIN, INT32_MAX, &v) || rest.p[-1] != ')')
            return bad(c, "baseline in '%.*s' is not an integer in parentheses", span_len(t), t.p);
        s->baseline = (int32_t)v;
        *has_baseline = 1;
    }
    if (rest.p < rest.end && *rest.p++ != '/')
        return bad(c, "gain '%.*s' is not gain[(baseline)][/units]", span_len(t), t.p);
    if (rest.p < rest.end && copy_span(s->units, sizeof s->units, rest))
        return bad(c, "units in '%.*s' are longer than %zu bytes", span_len(t), t.p, sizeof s->units - 1);
    return 0;
}

/* The integer fields after the gain, in header order: present ones are parsed, absent ones stay. */
static int parse_int_fields(const pctx *c, span *line, mets_wfdb_signal *s, int *has_init)
{
    struct {
        const char *what;
        int32_t *dst;
        int64_t lo, hi;
    } f[] = {
        {"ADC resolution", &s->adc_res, 0, 32},           {"ADC zero", &s->adc_zero, INT32_MIN, INT32_MAX},
        {"initial value", &s->init_value, INT32_MIN, INT32_MAX}, {"checksum", &s->checksum, INT32_MIN, INT32_MAX},
        {"block size", &s->block_size, 0, INT32_MAX},
    };
    span t;
    for (size_t i = 0; i < sizeof f / sizeof f[0] && next_tok(line, &t); i++) {
        int64_t v;
        if (span_i64(t, f[i].lo, f[i].hi, &v))
            return bad(c, "%s '%.*s' is not an integer in %lld..%lld", f[i].what, span_len(t), t.p,
                       (long long)f[i].lo, (long long)f[i].hi);
        *f[i].dst = (int32_t)v;
        *has_init |= f[i].dst == &s->init_value;
        s->has_checksum |= f[i].dst == &s->checksum;
    }
    return 0;
}

static int default_adc_res(int format)
{
    return format == 212 ? 12 : format == 80 ? 8 : 16;
}

/* "file format[…] [gain[(baseline)][/units] [adc_res [adc_zero [init [checksum [block [description]]]]]]]" */
static int parse_signal_line(const pctx *c, span line, mets_wfdb_signal *s)
{
    span t = {line.p, line.p};
    int has_baseline = 0, has_init = 0, rc;
    memset(s, 0, sizeof *s);
    s->gain = DEFAULT_GAIN;
    strcpy(s->units, "mV");
    next_tok(&line, &t); /* the caller skips empty lines */
    if (copy_span(s->file_name, sizeof s->file_name, t))
        return bad(c, "file name longer than %zu bytes", sizeof s->file_name - 1);
    if (!strcmp(s->file_name, "~") || strchr(s->file_name, '/'))
        return bad(c, "file name '%s': only sample files beside the header are supported", s->file_name);
    if (!next_tok(&line, &t))
        return bad(c, "signal line has no format");
    if ((rc = parse_format(c, t, s)) || (next_tok(&line, &t) && (rc = parse_gain(c, t, s, &has_baseline))) ||
        (rc = parse_int_fields(c, &line, s, &has_init)))
        return rc;
    skip_blanks(&line);
    if (copy_span(s->description, sizeof s->description, line))
        return bad(c, "description longer than %zu bytes", sizeof s->description - 1);
    if (!has_baseline)
        s->baseline = s->adc_zero;
    if (!has_init)
        s->init_value = s->adc_zero;
    if (!s->adc_res)
        s->adc_res = default_adc_res(s->format);
    return 0;
}

int mets_wfdb_parse_header_mem(const char *text, size_t len, const char *name, mets_wfdb_header *hdr,
                               mets_err *err)
{
    memset(hdr, 0, sizeof *hdr);
    if (len > MAX_HEADER_BYTES)
        return mets_err_set(err, METS_EFORMAT, "%s: header of %zu bytes is larger than %d", name, len,
                            MAX_HEADER_BYTES);
    pctx c = {name, 0, err};
    span rest = {text, text + len}, line;
    int nlines = 0, rc;
    while (nlines < 1 + hdr->nsig && next_line(&rest, &line)) {
        c.line++;
        skip_blanks(&line);
        if (line.p == line.end || *line.p == '#')
            continue;
        if (nlines == 0)
            rc = parse_record_line(&c, line, hdr);
        else
            rc = parse_signal_line(&c, line, &hdr->sig[nlines - 1]);
        if (rc)
            return rc;
        nlines++;
    }
    if (nlines == 0)
        return mets_err_set(err, METS_EFORMAT, "%s: no record line", name);
    if (nlines < 1 + hdr->nsig)
        return mets_err_set(err, METS_EFORMAT, "%s: header says %d signals, has %d signal lines", name,
                            hdr->nsig, nlines - 1);
    return 0;
}

/* ---- sample files ---- */

/* Consecutive signals stored in one file, frame-interleaved: signal first + j of frame t is stream
 * sample t * count + j. */
typedef struct {
    int first, count, format;
    int64_t offset; /* byte of stream sample 0 */
    int fd;         /* -1 when reading from mem */
    const unsigned char *mem;
    size_t mem_len;
    char *path; /* for messages */
} group;

struct mets_wfdb_record {
    char *name; /* the header's path, for messages */
    mets_wfdb_header hdr;
    group groups[METS_WFDB_MAX_SIGNALS];
    int ngroups;
};

/* Byte where stream sample k starts: 212 packs two 12-bit samples into 3 bytes. */
static int64_t sample_byte(int format, int64_t k)
{
    return format == 16 ? 2 * k : format == 80 ? k : 3 * (k / 2);
}

/* Bytes that hold the first k stream samples (k <= INT64_MAX / 3, which group_end_byte ensures). */
static int64_t stream_bytes(int format, int64_t k)
{
    return format == 16 ? 2 * k : format == 80 ? k : (3 * k + 1) / 2;
}

/* Whole stream samples in `bytes` bytes. */
static int64_t stream_samples(int format, int64_t bytes)
{
    return format == 16 ? bytes / 2 : format == 80 ? bytes : bytes / 3 * 2 + (bytes % 3 == 2);
}

/* The file offset just past `frames` frames of group g; -1 when it does not fit in 64 bits. */
static int group_end_byte(const group *g, int64_t frames, int64_t *out)
{
    int64_t k;
    if (__builtin_mul_overflow(frames, (int64_t)g->count, &k) || k > INT64_MAX / 3)
        return -1;
    return __builtin_add_overflow(stream_bytes(g->format, k), g->offset, out) ? -1 : 0;
}

static int64_t group_size(const group *g)
{
    struct stat st;
    if (g->fd < 0)
        return (int64_t)g->mem_len;
    return fstat(g->fd, &st) ? 0 : (int64_t)st.st_size;
}

static int64_t frames_held(const group *g)
{
    int64_t size = group_size(g);
    return size < g->offset ? 0 : stream_samples(g->format, size - g->offset) / g->count;
}

static int32_t invalid_sample(int format)
{
    return format == 16 ? -32768 : format == 212 ? -2048 : -128;
}

static int32_t decode(int format, const unsigned char *buf, int64_t k0, int64_t k)
{
    const unsigned char *p = buf + (sample_byte(format, k) - sample_byte(format, k0));
    if (format == 16)
        return (int16_t)(p[0] | p[1] << 8);
    if (format == 80)
        return p[0] - 128;
    int v = k % 2 ? p[2] | (p[1] & 0xf0) << 4 : p[0] | (p[1] & 0x0f) << 8;
    return v >= 2048 ? v - 4096 : v;
}

static int group_bytes(const group *g, unsigned char *buf, size_t n, int64_t off, mets_err *err)
{
    if (g->fd < 0) {
        memcpy(buf, g->mem + off, n); /* the open checked that mem holds every frame */
        return 0;
    }
    if (mets_file_pread_full(g->fd, buf, n, off))
        return mets_err_set(err, METS_EIO, "%s: %s", g->path, errno ? strerror(errno) : "file shrank while open");
    return 0;
}

static int read_group(const mets_wfdb_record *rec, const group *g, int64_t start, int64_t n, int32_t *out,
                      mets_err *err)
{
    unsigned char buf[CHUNK_SAMPLES * 2];
    int64_t k = start * g->count, kend = (start + n) * g->count; /* the open ruled out overflow */
    while (k < kend) {
        int64_t k1 = kend - k < CHUNK_SAMPLES ? kend : k + CHUNK_SAMPLES;
        int64_t b0 = sample_byte(g->format, k);
        int rc = group_bytes(g, buf, (size_t)(stream_bytes(g->format, k1) - b0), g->offset + b0, err);
        if (rc)
            return rc;
        for (int64_t j = k; j < k1; j++)
            out[(j / g->count - start) * rec->hdr.nsig + g->first + j % g->count] = decode(g->format, buf, k, j);
        k = k1;
    }
    return 0;
}

int mets_wfdb_read_adc(const mets_wfdb_record *rec, int64_t start, int64_t n, int32_t *out, mets_err *err)
{
    if (start < 0 || n < 0 || start > rec->hdr.nsamp || n > rec->hdr.nsamp - start)
        return mets_err_set(err, METS_EINVAL, "%s: frames [%lld, +%lld) are outside the record's %lld",
                            rec->name, (long long)start, (long long)n, (long long)rec->hdr.nsamp);
    for (int i = 0; i < rec->ngroups; i++) {
        int rc = read_group(rec, &rec->groups[i], start, n, out, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* Reads [start, start + n) in pieces of a bounded buffer and hands each to `fn`, so that a whole-record
 * pass needs no whole-record memory. */
typedef void (*chunk_fn)(const mets_wfdb_record *rec, const int32_t *adc, int64_t frames, int64_t done, void *ctx);

static int read_chunked(const mets_wfdb_record *rec, int64_t start, int64_t n, chunk_fn fn, void *ctx,
                        mets_err *err)
{
    enum { FRAMES = 4096 };
    int32_t *adc = malloc((size_t)FRAMES * (size_t)rec->hdr.nsig * sizeof *adc);
    if (!adc)
        return mets_err_set(err, METS_ENOMEM, "%s: out of memory", rec->name);
    int rc = 0;
    for (int64_t done = 0; done < n && !rc; done += FRAMES) {
        int64_t frames = n - done < FRAMES ? n - done : FRAMES;
        rc = mets_wfdb_read_adc(rec, start + done, frames, adc, err);
        if (!rc)
            fn(rec, adc, frames, done, ctx);
    }
    free(adc);
    return rc;
}

static void to_phys(const mets_wfdb_record *rec, const int32_t *adc, int64_t frames, int64_t done, void *ctx)
{
    int nsig = rec->hdr.nsig;
    float *out = (float *)ctx + done * nsig;
    for (int64_t t = 0; t < frames; t++)
        for (int s = 0; s < nsig; s++) {
            const mets_wfdb_signal *sig = &rec->hdr.sig[s];
            int32_t v = adc[t * nsig + s];
            double gain = sig->gain != 0 ? sig->gain : DEFAULT_GAIN; /* 0: uncalibrated, as libwfdb's aduphys */
            out[t * nsig + s] = v == invalid_sample(sig->format) ? NAN : (float)((v - (double)sig->baseline) / gain);
        }
}

int mets_wfdb_read_phys(const mets_wfdb_record *rec, int64_t start, int64_t n, float *out, mets_err *err)
{
    if (start < 0 || n < 0 || start > rec->hdr.nsamp || n > rec->hdr.nsamp - start)
        return mets_wfdb_read_adc(rec, start, n, NULL, err); /* for its message */
    return read_chunked(rec, start, n, to_phys, out, err);
}

static void add_sums(const mets_wfdb_record *rec, const int32_t *adc, int64_t frames, int64_t done, void *ctx)
{
    uint16_t *sums = ctx;
    for (int64_t t = 0; t < frames; t++)
        for (int s = 0; s < rec->hdr.nsig; s++)
            sums[s] = (uint16_t)(sums[s] + (uint32_t)adc[t * rec->hdr.nsig + s]);
}

int mets_wfdb_verify_checksums(const mets_wfdb_record *rec, mets_err *err)
{
    uint16_t sums[METS_WFDB_MAX_SIGNALS] = {0};
    int rc = read_chunked(rec, 0, rec->hdr.nsamp, add_sums, sums, err);
    for (int s = 0; s < rec->hdr.nsig && !rc; s++) {
        const mets_wfdb_signal *sig = &rec->hdr.sig[s];
        if (sig->has_checksum && (uint16_t)sig->checksum != sums[s])
            rc = mets_err_set(err, METS_EFORMAT, "%s: signal %d (%s): header checksum %d, data sum %d (mod 65536)",
                              rec->name, s, sig->description, (int)(uint16_t)sig->checksum, (int)sums[s]);
    }
    return rc;
}

/* ---- opening ---- */

/* `file` in the folder of `name` (a header path). */
static char *beside(const char *name, const char *file)
{
    const char *slash = strrchr(name, '/');
    size_t dir = slash ? (size_t)(slash - name) + 1 : 0, len = strlen(file);
    char *p = malloc(dir + len + 1);
    if (p) {
        memcpy(p, name, dir);
        memcpy(p + dir, file, len + 1);
    }
    return p;
}

/* Groups consecutive signals that share a file, as WFDB requires of them. */
static int make_groups(mets_wfdb_record *rec, const char *name, mets_err *err)
{
    const mets_wfdb_header *h = &rec->hdr;
    for (int s = 0; s < h->nsig; s++) {
        const mets_wfdb_signal *sig = &h->sig[s];
        group *g = rec->ngroups ? &rec->groups[rec->ngroups - 1] : NULL;
        if (g && !strcmp(h->sig[g->first].file_name, sig->file_name)) {
            if (sig->format != g->format || sig->byte_offset != g->offset)
                return mets_err_set(err, METS_EFORMAT, "%s: signals %d and %d share %s but not its format",
                                    name, g->first, s, sig->file_name);
            g->count++;
            continue;
        }
        for (int i = 0; i < rec->ngroups; i++)
            if (!strcmp(h->sig[rec->groups[i].first].file_name, sig->file_name))
                return mets_err_set(err, METS_EFORMAT, "%s: signal %d is in %s but not next to signal %d",
                                    name, s, sig->file_name, rec->groups[i].first);
        g = &rec->groups[rec->ngroups++];
        *g = (group){.first = s, .count = 1, .format = sig->format, .offset = sig->byte_offset, .fd = -1};
        if (!(g->path = beside(name, sig->file_name)))
            return mets_err_set(err, METS_ENOMEM, "%s: out of memory", name);
    }
    return 0;
}

/* Settles nsamp when the header leaves it out, and checks that every file holds every frame. */
static int check_sizes(mets_wfdb_record *rec, mets_err *err)
{
    if (rec->hdr.nsamp < 0)
        rec->hdr.nsamp = frames_held(&rec->groups[0]);
    for (int i = 0; i < rec->ngroups; i++) {
        const group *g = &rec->groups[i];
        int64_t end, held = frames_held(g);
        if (group_end_byte(g, rec->hdr.nsamp, &end))
            return mets_err_set(err, METS_EFORMAT, "%s: header says %lld samples, more than any file holds",
                                g->path, (long long)rec->hdr.nsamp);
        if (held < rec->hdr.nsamp)
            return mets_err_set(err, METS_EFORMAT, "%s: truncated: header says %lld samples, file holds %lld",
                                g->path, (long long)rec->hdr.nsamp, (long long)held);
    }
    return 0;
}

/* Parses the header and groups the signals; the caller attaches the bytes, then calls check_sizes. */
static mets_wfdb_record *record_new(const char *hea, size_t len, const char *name, mets_err *err)
{
    mets_wfdb_record *rec = calloc(1, sizeof *rec);
    if (rec && !(rec->name = strdup(name))) {
        free(rec);
        rec = NULL;
    }
    if (!rec) {
        mets_err_set(err, METS_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    if (mets_wfdb_parse_header_mem(hea, len, name, &rec->hdr, err) || make_groups(rec, name, err)) {
        mets_wfdb_free(rec);
        return NULL;
    }
    return rec;
}

mets_wfdb_record *mets_wfdb_open_mem(const char *hea, size_t hea_len, const void *dat, size_t dat_len,
                                     const char *name, mets_err *err)
{
    mets_wfdb_record *rec = record_new(hea, hea_len, name, err);
    if (!rec)
        return NULL;
    for (int i = 0; i < rec->ngroups; i++) {
        rec->groups[i].mem = dat;
        rec->groups[i].mem_len = dat_len;
    }
    if (check_sizes(rec, err)) {
        mets_wfdb_free(rec);
        return NULL;
    }
    return rec;
}

static char *header_path(const char *path)
{
    size_t n = strlen(path);
    int has_ext = n >= 4 && !strcmp(path + n - 4, ".hea");
    char *p = malloc(n + 5);
    if (p)
        snprintf(p, n + 5, "%s%s", path, has_ext ? "" : ".hea");
    return p;
}

mets_wfdb_record *mets_wfdb_open(const char *path, mets_err *err)
{
    char *hea_path = header_path(path), *text = NULL;
    size_t len = 0;
    mets_wfdb_record *rec = NULL;
    if (!hea_path)
        mets_err_set(err, METS_ENOMEM, "%s: out of memory", path);
    else if ((text = mets_file_slurp(hea_path, MAX_HEADER_BYTES, &len, err)))
        rec = record_new(text, len, hea_path, err);
    for (int i = 0; rec && i < rec->ngroups; i++)
        if (mets_file_open(rec->groups[i].path, &rec->groups[i].fd, err)) {
            mets_wfdb_free(rec);
            rec = NULL;
        }
    if (rec && check_sizes(rec, err)) {
        mets_wfdb_free(rec);
        rec = NULL;
    }
    free(text);
    free(hea_path);
    return rec;
}

void mets_wfdb_free(mets_wfdb_record *rec)
{
    if (!rec)
        return;
    for (int i = 0; i < rec->ngroups; i++) {
        if (rec->groups[i].fd >= 0)
            close(rec->groups[i].fd);
        free(rec->groups[i].path);
    }
    free(rec->name);
    free(rec);
}

const mets_wfdb_header *mets_wfdb_header_of(const mets_wfdb_record *rec)
{
    return &rec->hdr;
}

int mets_wfdb_nsig(const mets_wfdb_record *rec)
{
    return rec->hdr.nsig;
}

double mets_wfdb_fs(const mets_wfdb_record *rec)
{
    return rec->hdr.fs;
}

int64_t mets_wfdb_nsamp(const mets_wfdb_record *rec)
{
    return rec->hdr.nsamp;
}

const mets_wfdb_signal *mets_wfdb_signal_info(const mets_wfdb_record *rec, int s)
{
    return s >= 0 && s < rec->hdr.nsig ? &rec->hdr.sig[s] : NULL;
}
