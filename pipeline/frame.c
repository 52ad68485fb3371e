#include "frame.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdbool.h>
#include <utf8proc.h>

#include "mets.pb-c.h"

/* The reason codes travel in DeadLetter.reason: the C and proto numbers must not drift apart. */
#define SAME_REASON(c, p) _Static_assert((int)(c) == (int)METS__V1__DEAD_LETTER_REASON__DEAD_LETTER_REASON_##p, #c)
SAME_REASON(METS_FRAME_OK, UNSPECIFIED);
SAME_REASON(METS_FRAME_DECODE, DECODE);
SAME_REASON(METS_FRAME_SCHEMA_VERSION, SCHEMA_VERSION);
SAME_REASON(METS_FRAME_STREAM_ID, STREAM_ID);
SAME_REASON(METS_FRAME_SOURCE, SOURCE);
SAME_REASON(METS_FRAME_SAMPLE_RATE, SAMPLE_RATE);
SAME_REASON(METS_FRAME_T0, T0);
SAME_REASON(METS_FRAME_NO_LEADS, NO_LEADS);
SAME_REASON(METS_FRAME_LEAD_NAME, LEAD_NAME);
SAME_REASON(METS_FRAME_DUPLICATE_LEAD, DUPLICATE_LEAD);
SAME_REASON(METS_FRAME_LEAD_LENGTH, LEAD_LENGTH);
SAME_REASON(METS_FRAME_FRAME_SIZE, FRAME_SIZE);
SAME_REASON(METS_FRAME_GAIN, GAIN);
SAME_REASON(METS_FRAME_SAMPLE_VALUE, SAMPLE_VALUE);
SAME_REASON(METS_FRAME_PACE_MARKS, PACE_MARKS);
SAME_REASON(METS_FRAME_STREAM_CAP, STREAM_CAP);

static const char *const lead_names[METS_NLEADS] = {"I",  "II", "III", "aVR", "aVL", "aVF",
                                                    "V1", "V2", "V3",  "V4",  "V5",  "V6"};

static const char *const reason_names[METS_FRAME_NREASONS] = {
    "ok",          "decode",         "schema_version", "stream_id",   "source",
    "sample_rate", "t0",             "no_leads",       "lead_name",   "duplicate_lead",
    "lead_length", "frame_size",     "gain",           "sample_value", "pace_marks", "stream_cap"};

const char *mets_lead_name(mets_lead lead)
{
    return (unsigned)lead < METS_NLEADS ? lead_names[lead] : NULL;
}

const char *mets_frame_reason_name(mets_frame_reason reason)
{
    return (unsigned)reason < METS_FRAME_NREASONS ? reason_names[reason] : "unknown";
}

int mets_frame_lead_index(const mets_frame *f, mets_lead lead)
{
    for (int i = 0; i < f->nleads; i++)
        if (f->leads[i] == lead)
            return i;
    return -1;
}

/* Puts the reason's text into err and returns the reason, so validators can `return reject(...)`. */
__attribute__((format(printf, 3, 4))) static mets_frame_reason reject(mets_err *err, mets_frame_reason why,
                                                                      const char *fmt, ...)
{
    char msg[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    mets_err_set(err, METS_EFORMAT, "%s", msg);
    return why;
}

static int valid_utf8(const char *s, size_t n)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s;
    utf8proc_int32_t cp;
    for (size_t i = 0; i < n;) {
        utf8proc_ssize_t step = utf8proc_iterate(p + i, (utf8proc_ssize_t)(n - i), &cp);
        if (step <= 0)
            return 0;
        i += (size_t)step;
    }
    return 1;
}

/* Checks a text field; `empty_ok` is false for the stream id, which keys everything downstream. */
static mets_frame_reason check_text(const char *s, const char *field, int empty_ok, mets_frame_reason why,
                                    mets_err *err)
{
    size_t n = strlen(s);
    if (n == 0 && !empty_ok)
        return reject(err, why, "%s is empty", field);
    if (n > METS_FRAME_MAX_ID)
        return reject(err, why, "%s is %zu bytes long, at most %d allowed", field, n, METS_FRAME_MAX_ID);
    if (!valid_utf8(s, n))
        return reject(err, why, "%s is not valid UTF-8", field);
    return METS_FRAME_OK;
}

static mets_frame_reason check_header(const Mets__V1__EcgFrame *m, mets_err *err)
{
    if (m->schema_version == 0)
        return reject(err, METS_FRAME_SCHEMA_VERSION, "schema_version is missing (this reader knows %d)",
                      METS_FRAME_SCHEMA_MAJOR);
    if (m->schema_version > METS_FRAME_SCHEMA_MAJOR)
        return reject(err, METS_FRAME_SCHEMA_VERSION, "schema_version %u is newer than this reader's %d",
                      m->schema_version, METS_FRAME_SCHEMA_MAJOR);
    mets_frame_reason why = check_text(m->stream_id, "stream_id", 0, METS_FRAME_STREAM_ID, err);
    if (!why)
        why = check_text(m->source, "source", 1, METS_FRAME_SOURCE, err);
    if (why)
        return why;
    double r = m->sample_rate_hz;
    if (!(r >= METS_FRAME_MIN_RATE_HZ && r <= METS_FRAME_MAX_RATE_HZ)) /* written so NaN fails too */
        return reject(err, METS_FRAME_SAMPLE_RATE, "sample_rate_hz %g is outside %g..%g Hz", r,
                      METS_FRAME_MIN_RATE_HZ, METS_FRAME_MAX_RATE_HZ);
    if (m->t0_us < METS_FRAME_MIN_T0_US || m->t0_us >= METS_FRAME_MAX_T0_US)
        return reject(err, METS_FRAME_T0, "t0_us %lld is not a time between the years 2000 and 2100",
                      (long long)m->t0_us);
    return METS_FRAME_OK;
}

/* The standard lead called `name`; case is ignored ("AVR" is aVR) since gateways differ. -1 if unknown. */
static int lead_of_name(const char *name)
{
    for (int i = 0; i < METS_NLEADS; i++)
        if (!strcasecmp(name, lead_names[i]))
            return i;
    return -1;
}

/* Fills f->leads/gain/baseline/lead_off and f->nsamples from the protobuf leads, checking each. */
static mets_frame_reason check_leads(const Mets__V1__EcgFrame *m, mets_frame *f, mets_err *err)
{
    if (m->n_leads == 0)
        return reject(err, METS_FRAME_NO_LEADS, "the frame has no leads");
    unsigned seen = 0; /* a 13th lead is unknown or a duplicate, so i stays below METS_NLEADS */
    for (size_t i = 0; i < m->n_leads; i++) {
        const Mets__V1__Lead *l = m->leads[i];
        int lead = lead_of_name(l->name);
        if (lead < 0)
            return reject(err, METS_FRAME_LEAD_NAME, "lead %zu is named '%.32s', not one of the 12 standard leads",
                          i, l->name);
        if (seen & 1u << lead)
            return reject(err, METS_FRAME_DUPLICATE_LEAD, "lead %s appears twice", lead_names[lead]);
        seen |= 1u << lead;
        if (!(isfinite(l->gain) && l->gain > 0))
            return reject(err, METS_FRAME_GAIN, "lead %s has gain %g, expected a positive ADC units per mV",
                          lead_names[lead], l->gain);
        if (l->n_samples != m->leads[0]->n_samples)
            return reject(err, METS_FRAME_LEAD_LENGTH, "lead %s has %zu samples but lead %s has %zu",
                          lead_names[lead], l->n_samples, m->leads[0]->name, m->leads[0]->n_samples);
        f->leads[i] = (mets_lead)lead;
        f->gain[i] = l->gain;
        f->baseline[i] = l->baseline;
        f->lead_off[i] = l->lead_off;
    }
    size_t n = m->leads[0]->n_samples;
    if (n == 0 || n > METS_FRAME_MAX_SECONDS * m->sample_rate_hz)
        return reject(err, METS_FRAME_FRAME_SIZE, "%zu samples per lead at %g Hz; 1 to %d s of samples allowed", n,
                      m->sample_rate_hz, METS_FRAME_MAX_SECONDS);
    f->nleads = (int)m->n_leads;
    f->nsamples = (int)n;
    return METS_FRAME_OK;
}

static mets_frame_reason check_pace(const Mets__V1__EcgFrame *m, mets_frame *f, mets_err *err)
{
    if (m->n_pace_marks > METS_FRAME_MAX_PACE)
        return reject(err, METS_FRAME_PACE_MARKS, "%zu pace marks, at most %d allowed", m->n_pace_marks,
                      METS_FRAME_MAX_PACE);
    for (size_t i = 0; i < m->n_pace_marks; i++) {
        if (m->pace_marks[i] >= (uint32_t)f->nsamples)
            return reject(err, METS_FRAME_PACE_MARKS, "pace mark at sample %u, past the frame's %d samples",
                          m->pace_marks[i], f->nsamples);
        f->pace[i] = m->pace_marks[i];
    }
    f->npace = (int)m->n_pace_marks;
    f->pacing = m->pacing;
    return METS_FRAME_OK;
}

/* Makes room for `n` floats at f->mv, reusing what an earlier decode allocated. */
static int reserve(mets_frame *f, size_t n, mets_err *err)
{
    if (n <= f->mv_cap)
        return 0;
    float *mv = realloc(f->mv_cap ? f->mv : NULL, n * sizeof *mv);
    if (!mv)
        return mets_err_set(err, METS_ENOMEM, "no memory for a frame of %zu samples", n);
    f->mv = mv;
    f->mv_cap = n;
    return 0;
}

/* WFDB's mV = (adc - baseline) / gain, the invalid marker to NaN. Double arithmetic: adc - baseline can
 * overflow int32, and a tiny gain can push a value beyond float. */
static mets_frame_reason convert(const Mets__V1__EcgFrame *m, mets_frame *f, mets_err *err)
{
    for (int i = 0; i < f->nleads; i++) {
        const int32_t *adc = m->leads[i]->samples;
        float *out = f->mv + (size_t)i * f->nsamples;
        for (int j = 0; j < f->nsamples; j++) {
            if (f->has_invalid && adc[j] == f->invalid_sample) {
                out[j] = NAN;
                continue;
            }
            out[j] = (float)(((double)adc[j] - f->baseline[i]) / f->gain[i]);
            if (!isfinite(out[j]))
                return reject(err, METS_FRAME_SAMPLE_VALUE, "lead %s sample %d (%d ADC) is not finite in mV",
                              lead_names[f->leads[i]], j, adc[j]);
        }
    }
    return METS_FRAME_OK;
}

static void copy_header(const Mets__V1__EcgFrame *m, mets_frame *f)
{
    f->schema_version = m->schema_version;
    /* Lengths were checked against METS_FRAME_MAX_ID, so both fit with their NUL. */
    strcpy(f->stream_id, m->stream_id);
    strcpy(f->source, m->source);
    f->seq = m->seq;
    f->t0_us = m->t0_us;
    f->rate_hz = m->sample_rate_hz;
    f->has_invalid = m->invalid_case == METS__V1__ECG_FRAME__INVALID_INVALID_SAMPLE;
    f->invalid_sample = f->has_invalid ? m->invalid_sample : 0;
}

/* Reads a varint at *p (before end); false past the end or beyond 64 bits. */
static bool wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; *p < end && shift < 64; shift += 7) {
        uint8_t c = *(*p)++;
        *v |= (uint64_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            return true;
    }
    return false;
}

/* The number of the first length-delimited field in fields[] whose bytes hold a NUL, in the message at
 * buf (or, for `nested`, in every field `nested` of it); 0 if none. protobuf-c hands strings over as C
 * strings, so "bed-7\0x" would otherwise arrive as "bed-7" and merge two streams. */
static int nul_in_text(const uint8_t *buf, size_t len, const int *fields, int nfields, int nested, const int *inner,
                       int ninner)
{
    const uint8_t *p = buf, *end = buf + len;
    while (p < end) {
        uint64_t key, n;
        if (!wire_varint(&p, end, &key))
            return 0;
        int num = (int)(key >> 3), wt = (int)(key & 7);
        if (wt == 0) {
            if (!wire_varint(&p, end, &n))
                return 0;
            continue;
        }
        if (wt == 1 || wt == 5) {
            p += wt == 1 ? 8 : 4;
            continue;
        }
        if (wt != 2 || !wire_varint(&p, end, &n) || n > (uint64_t)(end - p))
            return 0; /* unpack accepted the message: not reached */
        for (int i = 0; i < nfields; i++)
            if (num == fields[i] && memchr(p, 0, (size_t)n))
                return num;
        if (num == nested && nul_in_text(p, (size_t)n, inner, ninner, 0, NULL, 0))
            return num;
        p += n;
    }
    return 0;
}

/* Validates an unpacked message into f; returns METS_FRAME_OK or the first problem found. */
static mets_frame_reason check_frame(const Mets__V1__EcgFrame *m, mets_frame *f, mets_err *err)
{
    mets_frame_reason why = check_header(m, err);
    if (!why)
        why = check_leads(m, f, err);
    if (!why)
        why = check_pace(m, f, err);
    if (!why)
        copy_header(m, f);
    return why;
}

int mets_frame_decode(const uint8_t *buf, size_t len, mets_frame *f, mets_frame_reason *reason, mets_err *err)
{
    *reason = METS_FRAME_OK;
    if (len > METS_FRAME_MAX_BYTES) {
        *reason = reject(err, METS_FRAME_FRAME_SIZE, "message of %zu bytes, at most %u allowed", len,
                         METS_FRAME_MAX_BYTES);
        return METS_EFORMAT;
    }
    Mets__V1__EcgFrame *m = mets__v1__ecg_frame__unpack(NULL, len, buf);
    if (!m) {
        *reason = reject(err, METS_FRAME_DECODE, "%zu bytes are not a protobuf EcgFrame (truncated or corrupt)",
                         len);
        return METS_EFORMAT;
    }
    static const int texts[] = {2, 3}, lead_texts[] = {1}; /* stream_id, source; leads (10): name */
    int nul = nul_in_text(buf, len, texts, 2, 10, lead_texts, 1);
    int rc = METS_EFORMAT;
    if (nul)
        *reason = reject(err, nul == 2 ? METS_FRAME_STREAM_ID : nul == 3 ? METS_FRAME_SOURCE : METS_FRAME_LEAD_NAME,
                         "%s holds a NUL byte", nul == 2 ? "stream_id" : nul == 3 ? "source" : "a lead name");
    else
        *reason = check_frame(m, f, err);
    if (!*reason) {
        rc = reserve(f, (size_t)f->nleads * f->nsamples, err);
        if (!rc && (*reason = convert(m, f, err)))
            rc = METS_EFORMAT;
    }
    mets__v1__ecg_frame__free_unpacked(m, NULL);
    return rc;
}

void mets_frame_release(mets_frame *f)
{
    if (f->mv_cap)
        free(f->mv);
    memset(f, 0, sizeof *f);
}

/* round(mv * gain) + baseline as ADC units, NaN as the invalid marker; fails on what int32 cannot hold. */
static int quantise(const mets_frame *f, int lead, int j, int32_t *adc, mets_err *err)
{
    float v = f->mv[(size_t)lead * f->nsamples + j];
    const char *name = lead_names[f->leads[lead]];
    if (isnan(v)) {
        if (!f->has_invalid)
            return mets_err_set(err, METS_EINVAL, "lead %s sample %d is NaN but the frame has no invalid marker",
                                name, j);
        *adc = f->invalid_sample;
        return 0;
    }
    double q = round((double)v * f->gain[lead]) + f->baseline[lead];
    if (!(q >= INT32_MIN && q <= INT32_MAX) || (f->has_invalid && q == f->invalid_sample))
        return mets_err_set(err, METS_EINVAL, "lead %s sample %d (%g mV) has no ADC value at gain %g", name, j,
                            (double)v, f->gain[lead]);
    *adc = (int32_t)q;
    return 0;
}

static int check_encodable(const mets_frame *f, mets_err *err)
{
    if (f->nleads < 0 || f->nleads > METS_NLEADS || f->nsamples < 0 || f->nsamples > METS_FRAME_MAX_SAMPLES ||
        f->npace < 0 || f->npace > METS_FRAME_MAX_PACE)
        return mets_err_set(err, METS_EINVAL, "%d leads of %d samples and %d pace marks: at most %d, %d and %d",
                            f->nleads, f->nsamples, f->npace, METS_NLEADS, METS_FRAME_MAX_SAMPLES,
                            METS_FRAME_MAX_PACE);
    for (int i = 0; i < f->nleads; i++)
        if (!mets_lead_name(f->leads[i]))
            return mets_err_set(err, METS_EINVAL, "lead %d is %d, not a standard lead", i, (int)f->leads[i]);
    return 0;
}

/* Points each protobuf lead at its slice of `adc` and fills the slice from f->mv. */
static int fill_leads(const mets_frame *f, Mets__V1__Lead *pb, Mets__V1__Lead **pbp, int32_t *adc, mets_err *err)
{
    for (int i = 0; i < f->nleads; i++) {
        mets__v1__lead__init(&pb[i]);
        pb[i].name = (char *)lead_names[f->leads[i]];
        pb[i].gain = f->gain[i];
        pb[i].baseline = f->baseline[i];
        pb[i].lead_off = f->lead_off[i];
        pb[i].n_samples = (size_t)f->nsamples;
        pb[i].samples = adc + (size_t)i * f->nsamples;
        pbp[i] = &pb[i];
        for (int j = 0; j < f->nsamples; j++)
            if (quantise(f, i, j, &pb[i].samples[j], err))
                return METS_EINVAL;
    }
    return 0;
}

static void fill_header(const mets_frame *f, Mets__V1__EcgFrame *m)
{
    m->schema_version = f->schema_version;
    m->stream_id = (char *)f->stream_id;
    m->source = (char *)f->source;
    m->seq = f->seq;
    m->t0_us = f->t0_us;
    m->sample_rate_hz = f->rate_hz;
    if (f->has_invalid) {
        m->invalid_case = METS__V1__ECG_FRAME__INVALID_INVALID_SAMPLE;
        m->invalid_sample = f->invalid_sample;
    }
    m->pacing = f->pacing;
    m->n_pace_marks = (size_t)f->npace;
    m->pace_marks = (uint32_t *)f->pace;
}

/* Packs the filled message into a buffer of exactly its size. */
static int pack(const Mets__V1__EcgFrame *m, uint8_t **out, size_t *len, mets_err *err)
{
    *len = mets__v1__ecg_frame__get_packed_size(m);
    *out = malloc(*len ? *len : 1);
    if (!*out)
        return mets_err_set(err, METS_ENOMEM, "no memory for a frame of %zu bytes", *len);
    mets__v1__ecg_frame__pack(m, *out);
    return 0;
}

int mets_frame_encode(const mets_frame *f, uint8_t **out, size_t *len, mets_err *err)
{
    *out = NULL;
    *len = 0;
    if (check_encodable(f, err))
        return METS_EINVAL;
    int32_t *adc = malloc(((size_t)f->nleads * f->nsamples + 1) * sizeof *adc);
    if (!adc)
        return mets_err_set(err, METS_ENOMEM, "no memory for %d leads of %d samples", f->nleads, f->nsamples);
    Mets__V1__Lead pb[METS_NLEADS], *pbp[METS_NLEADS];
    Mets__V1__EcgFrame m = METS__V1__ECG_FRAME__INIT;
    fill_header(f, &m);
    m.n_leads = (size_t)f->nleads;
    m.leads = pbp;
    int rc = fill_leads(f, pb, pbp, adc, err);
    if (!rc)
        rc = pack(&m, out, len, err);
    free(adc);
    return rc;
}

int64_t mets_frame_end_us(const mets_frame *f)
{
    return f->t0_us + llround(f->nsamples * 1e6 / f->rate_hz);
}
