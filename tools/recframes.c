#include "recframes.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "csv.h"
#include "ecgenc.h"
#include "wfdb.h"

#define MAX_FRAME_S 10.0
#define CSV_MAX_MV (32767 / METS_RECFRAMES_CSV_GAIN) /* what int16 holds in µV, as WFDB format 16 */
#define CSV_JITTER 0.5 /* how far (in periods) a time may sit from where the rows before it predict */

/* A record in memory (CSV) or on disk (WFDB), with the frame template every frame starts from. */
struct mets_recframes {
    mets_recframes_opts o;
    mets_wfdb_record *rec;  /* WFDB; NULL for CSV */
    int nsig;               /* floats per row of the rows below, or of a WFDB read */
    float *rows;            /* CSV: rows[t * nsig + c] in mV, NaN when invalid */
    int64_t nrows;
    double fs, offset_s;    /* sample rate; time of the first row (CSV) */
    int column_signal[METS_NLEADS]; /* which row column feeds frame column c */
    int64_t first, end;     /* the samples the options select */
    int per;                /* samples per frame */
    int64_t at;             /* the first sample of the next frame (mets_recframes_next) */
    float *buf;             /* WFDB: one frame's samples as read */
    mets_frame f;
};

mets_recframes_opts mets_recframes_default_opts(void)
{
    mets_recframes_opts o = {.source = "", .frame_s = 0.25, .leads = 0x0FFF, .t0_us = 1767225600000000LL};
    return o;
}

/* WFDB's invalid-sample value of a storage format. */
static int32_t invalid_of(int format)
{
    return format == 212 ? -2048 : format == 80 ? -128 : -32768;
}

/* Which record signal feeds which frame column, with its calibration. */
static int wfdb_map_leads(mets_recframes *rf, const char *path, mets_err *err)
{
    uint16_t taken = 0;
    mets_frame *f = &rf->f;
    for (int s = 0; s < mets_wfdb_nsig(rf->rec) && f->nleads < METS_NLEADS; s++) {
        const mets_wfdb_signal *sig = mets_wfdb_signal_info(rf->rec, s);
        int l = mets_ecg_signal_lead(sig->description, METS_LEAD_II);
        if (l < 0 || (taken >> l & 1) || !(rf->o.leads >> l & 1))
            continue;
        taken |= (uint16_t)(1u << l);
        f->leads[f->nleads] = (mets_lead)l, f->gain[f->nleads] = sig->gain, f->baseline[f->nleads] = sig->baseline;
        rf->column_signal[f->nleads++] = s;
        f->invalid_sample = invalid_of(sig->format); /* one marker per frame: the first lead's format */
    }
    return f->nleads ? 0 : mets_err_set(err, METS_EINVAL, "%s: none of the wanted leads is in the record", path);
}

static int wfdb_open(mets_recframes *rf, const char *path, mets_err *err)
{
    if (!(rf->rec = mets_wfdb_open(path, err)))
        return err->code;
    rf->nsig = mets_wfdb_nsig(rf->rec), rf->fs = mets_wfdb_fs(rf->rec), rf->nrows = mets_wfdb_nsamp(rf->rec);
    snprintf(rf->f.stream_id, sizeof rf->f.stream_id, "%s", mets_wfdb_header_of(rf->rec)->name);
    return wfdb_map_leads(rf, path, err);
}

/* A lead cell: a number in mV, or empty / nan for an invalid sample. */
static int csv_sample(const char *cell, float *mv)
{
    while (isspace((unsigned char)*cell))
        cell++;
    char *end;
    double v = strtod(cell, &end);
    while (isspace((unsigned char)*end))
        end++;
    if (end == cell && !*cell) {
        *mv = NAN;
        return 0;
    }
    if (*end || !isfinite(v)) {
        *mv = NAN;
        return end - cell == 3 && !strncasecmp(cell, "nan", 3) ? 0 : -1; /* not nan(...), inf or text */
    }
    *mv = (float)v;
    return fabs(v) <= CSV_MAX_MV ? 0 : -2;
}

/* The header: `time` or `sample` first, then standard lead names as written in frame.h (I, aVR, V1, ...).
 * Fills the frame's leads in column order and which CSV column feeds each. */
static int csv_header(mets_recframes *rf, mets_csv *csv, const char *path, int *lead_of_col, mets_err *err)
{
    int ncol = (int)mets_csv_ncolumns(csv);
    if (mets_csv_column(csv, "time") != 0 && mets_csv_column(csv, "sample") != 0)
        return mets_err_set(err, METS_EFORMAT, "%s:1: expected a header starting with 'time' (seconds) or 'sample' "
                            "(an index, with --rate HZ), then lead names such as I,II,V1", path);
    for (int c = 0; c < ncol; c++)
        lead_of_col[c] = -1;
    for (int l = 0; l < METS_NLEADS; l++) {
        int c = mets_csv_column(csv, mets_lead_name((mets_lead)l));
        if (c > 0)
            lead_of_col[c] = l;
    }
    for (int c = 1; c < ncol; c++)
        if (lead_of_col[c] < 0)
            return mets_err_set(err, METS_EFORMAT, "%s:1: column %d: expected a standard lead name, once each: "
                                "I, II, III, aVR, aVL, aVF, V1 ... V6", path, c + 1);
    if (ncol < 2)
        return mets_err_set(err, METS_EFORMAT, "%s:1: no lead columns: expected e.g. time,I,II,V1", path);
    for (int c = 1; c < ncol; c++) {
        if (!(rf->o.leads >> lead_of_col[c] & 1))
            continue;
        int k = rf->f.nleads++;
        rf->f.leads[k] = (mets_lead)lead_of_col[c], rf->f.gain[k] = METS_RECFRAMES_CSV_GAIN, rf->f.baseline[k] = 0;
        rf->column_signal[k] = k;
    }
    rf->f.invalid_sample = METS_RECFRAMES_CSV_INVALID;
    return rf->f.nleads ? 0 : mets_err_set(err, METS_EINVAL, "%s: none of the wanted leads is in the file", path);
}

/* The first column of a row: seconds that keep a uniform step, or consecutive sample indices. */
static int csv_clock(mets_recframes *rf, const char *cell, double *t, const char *path, int line, mets_err *err)
{
    char *end;
    double v = strtod(cell, &end);
    int64_t i = rf->nrows;
    if (end == cell || *end || !isfinite(v))
        return mets_err_set(err, METS_EFORMAT, "%s:%d: '%s' in the first column: expected %s", path, line, cell,
                            rf->o.csv_rate_hz > 0 ? "a sample index" : "a time in seconds");
    if (rf->o.csv_rate_hz > 0) {
        if (i > 0 && v != t[0] + (double)i)
            return mets_err_set(err, METS_EFORMAT, "%s:%d: sample %s, expected %.0f (consecutive indices)", path, line,
                                cell, t[0] + (double)i);
        if (i == 0 && v != floor(v))
            return mets_err_set(err, METS_EFORMAT, "%s:%d: sample %s, expected a whole index", path, line, cell);
    } else if (i == 1 && !(v > t[0])) {
        return mets_err_set(err, METS_EFORMAT, "%s:%d: time %s, expected a time after %g s", path, line, cell, t[0]);
    } else if (i >= 2) {
        double period = (t[1] - t[0]) / (double)(i - 1), predicted = t[0] + period * (double)i;
        if (fabs(v - predicted) > CSV_JITTER * period)
            return mets_err_set(err, METS_EFORMAT, "%s:%d: time %s, expected %.6f (a uniform rate of %.3f Hz, "
                                "within half a sample)", path, line, cell, predicted, 1.0 / period);
    }
    if (i == 0)
        t[0] = v;
    t[1] = v; /* t[1]: the last time */
    return 0;
}

static int grow_rows(mets_recframes *rf, int64_t *cap)
{
    if (rf->nrows < *cap)
        return 0;
    int64_t n = *cap ? *cap * 2 : 4096;
    float *p = realloc(rf->rows, (size_t)n * (size_t)rf->nsig * sizeof *p);
    if (!p)
        return METS_ENOMEM;
    rf->rows = p, *cap = n;
    return 0;
}

/* Reads every row, checking each cell, before a frame is made. */
static int csv_rows(mets_recframes *rf, mets_csv *csv, const char *path, const int *lead_of_col, mets_err *err)
{
    int ncol = (int)mets_csv_ncolumns(csv), rc;
    double t[2] = {0, 0};
    int64_t cap = 0;
    rf->nsig = rf->f.nleads;
    while ((rc = mets_csv_next(csv, err)) == 1) {
        int line = mets_csv_line(csv);
        if ((rc = csv_clock(rf, mets_csv_field(csv, 0), t, path, line, err)))
            return rc;
        if (grow_rows(rf, &cap))
            return mets_err_set(err, METS_ENOMEM, "%s:%d: out of memory", path, line);
        for (int c = 1, k = 0; c < ncol; c++) {
            float mv;
            const char *cell = mets_csv_field(csv, (size_t)c);
            int bad = csv_sample(cell, &mv);
            if (bad)
                return mets_err_set(err, METS_EFORMAT, bad == -1 ? "%s:%d: column %s: '%s': expected a number in mV, "
                                    "empty or nan" : "%s:%d: column %s: %s: expected mV within +-32.767 (is it in µV?)",
                                    path, line, mets_lead_name((mets_lead)lead_of_col[c]), cell);
            if (rf->o.leads >> lead_of_col[c] & 1)
                rf->rows[rf->nrows * rf->nsig + k++] = mv;
        }
        rf->nrows++;
    }
    if (rc)
        return rc;
    if (rf->o.csv_rate_hz > 0) {
        rf->fs = rf->o.csv_rate_hz, rf->offset_s = rf->nrows ? t[0] / rf->fs : 0;
        return rf->nrows ? 0 : mets_err_set(err, METS_EFORMAT, "%s: no data rows after the header", path);
    }
    if (rf->nrows < 2)
        return mets_err_set(err, METS_EFORMAT, "%s: %lld data rows: expected at least 2, to tell the rate from the "
                            "time column", path, (long long)rf->nrows);
    rf->fs = (double)(rf->nrows - 1) / (t[1] - t[0]), rf->offset_s = t[0];
    if (fabs(rf->fs - round(rf->fs)) < 0.002 * rf->fs) /* times printed with few decimals */
        rf->fs = round(rf->fs);
    return 0;
}

static int csv_open(mets_recframes *rf, const char *path, mets_err *err)
{
    if (rf->o.csv_rate_hz < 0)
        return mets_err_set(err, METS_EINVAL, "%s: a rate of %g Hz", path, rf->o.csv_rate_hz);
    mets_csv *csv = mets_csv_open(path, err);
    if (!csv)
        return err->code;
    int *lead_of_col = malloc(mets_csv_ncolumns(csv) * sizeof *lead_of_col);
    int rc = lead_of_col ? csv_header(rf, csv, path, lead_of_col, err) : mets_err_set(err, METS_ENOMEM, "out of memory");
    if (!rc && mets_csv_column(csv, "sample") == 0 && !(rf->o.csv_rate_hz > 0))
        rc = mets_err_set(err, METS_EINVAL, "%s:1: a 'sample' column needs the rate: --rate HZ", path);
    if (!rc && mets_csv_column(csv, "time") == 0 && rf->o.csv_rate_hz > 0)
        rc = mets_err_set(err, METS_EINVAL, "%s:1: --rate is for a 'sample' column; this file's rate comes from "
                          "its 'time' column", path);
    if (!rc)
        rc = csv_rows(rf, csv, path, lead_of_col, err);
    if (!rc && !(rf->fs >= METS_FRAME_MIN_RATE_HZ && rf->fs <= METS_FRAME_MAX_RATE_HZ))
        rc = mets_err_set(err, METS_EFORMAT, "%s: a rate of %g Hz: expected %g to %g Hz", path, rf->fs,
                          METS_FRAME_MIN_RATE_HZ, METS_FRAME_MAX_RATE_HZ);
    free(lead_of_col);
    mets_csv_close(csv);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    snprintf(rf->f.stream_id, sizeof rf->f.stream_id, "%.*s", (int)(strlen(base) - 4), base);
    return rc;
}

static int is_csv(const char *path)
{
    size_t n = strlen(path);
    return n > 4 && !strcasecmp(path + n - 4, ".csv");
}

mets_recframes *mets_recframes_open(const char *path, const mets_recframes_opts *o, mets_err *err)
{
    if (!(o->frame_s > 0 && o->frame_s <= MAX_FRAME_S) || o->start_s < 0 || o->duration_s < 0) {
        mets_err_set(err, METS_EINVAL, "frames of %g s from %g s for %g s: expected a frame of (0, %g] s", o->frame_s,
                     o->start_s, o->duration_s, MAX_FRAME_S);
        return NULL;
    }
    mets_recframes *rf = calloc(1, sizeof *rf);
    if (!rf) {
        mets_err_set(err, METS_ENOMEM, "out of memory");
        return NULL;
    }
    rf->o = *o;
    int rc = is_csv(path) ? csv_open(rf, path, err) : wfdb_open(rf, path, err);
    if (rc) {
        mets_recframes_close(rf);
        return NULL;
    }
    mets_frame *f = &rf->f;
    f->schema_version = METS_FRAME_SCHEMA_MAJOR, f->rate_hz = rf->fs, f->has_invalid = 1;
    if (o->stream_id)
        snprintf(f->stream_id, sizeof f->stream_id, "%s", o->stream_id);
    snprintf(f->source, sizeof f->source, "%s", o->source ? o->source : "");
    rf->per = (int)lround(o->frame_s * rf->fs);
    rf->per = rf->per > 0 ? rf->per : 1;
    rf->first = rf->at = (int64_t)llround(o->start_s * rf->fs), rf->end = rf->nrows;
    if (o->duration_s > 0 && rf->first + (int64_t)llround(o->duration_s * rf->fs) < rf->end)
        rf->end = rf->first + (int64_t)llround(o->duration_s * rf->fs);
    return rf;
}

void mets_recframes_close(mets_recframes *rf)
{
    if (!rf)
        return;
    mets_wfdb_free(rf->rec);
    free(rf->rows), free(rf->buf), free(rf->f.mv);
    free(rf);
}

int64_t mets_recframes_count(const mets_recframes *rf)
{
    return rf->end > rf->first ? (rf->end - rf->first + rf->per - 1) / rf->per : 0;
}

double mets_recframes_seconds(const mets_recframes *rf)
{
    return rf->end > rf->first ? (double)(rf->end - rf->first) / rf->fs : 0;
}

int mets_recframes_next(mets_recframes *rf, const mets_frame **frame, mets_err *err)
{
    mets_frame *f = &rf->f;
    int per = rf->per, nsig = rf->nsig;
    if (rf->at >= rf->end)
        return 0;
    if (!f->mv) { /* the first frame */
        rf->buf = rf->rec ? malloc((size_t)per * nsig * sizeof *rf->buf) : NULL;
        f->mv = malloc((size_t)per * f->nleads * sizeof *f->mv);
        if (!f->mv || (rf->rec && !rf->buf))
            return mets_err_set(err, METS_ENOMEM, "out of memory for frames of %d samples", per);
    }
    f->nsamples = (int)(rf->end - rf->at < per ? rf->end - rf->at : per);
    f->t0_us = rf->o.t0_us + llround((rf->offset_s + (double)rf->at / rf->fs) * 1e6);
    const float *raw = rf->rec ? rf->buf : rf->rows + (size_t)rf->at * nsig;
    int rc = rf->rec ? mets_wfdb_read_phys(rf->rec, rf->at, f->nsamples, rf->buf, err) : 0;
    if (rc)
        return rc;
    for (int c = 0; c < f->nleads; c++)
        for (int t = 0; t < f->nsamples; t++)
            f->mv[(size_t)c * f->nsamples + t] = raw[(size_t)t * nsig + rf->column_signal[c]];
    f->seq = (uint64_t)((rf->at - rf->first) / per);
    rf->at += per;
    *frame = f;
    return 1;
}

int mets_recframes_send(mets_recframes *rf, int (*each)(void *ctx, const mets_frame *f), void *ctx, mets_err *err)
{
    const mets_frame *f;
    int rc;
    while ((rc = mets_recframes_next(rf, &f, err)) == 1)
        if ((rc = each(ctx, f)))
            return rc;
    return rc;
}

int mets_recframes_each(const char *path, const mets_recframes_opts *o, int (*each)(void *ctx, const mets_frame *f),
                        void *ctx, mets_err *err)
{
    mets_recframes *rf = mets_recframes_open(path, o, err);
    if (!rf)
        return err->code;
    int rc = mets_recframes_send(rf, each, ctx, err);
    mets_recframes_close(rf);
    return rc;
}
