#include "recframes.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecgenc.h"
#include "wfdb.h"

#define MAX_FRAME_S 10.0

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

/* The header part of every frame: which record signal feeds which column, with its calibration. */
static int map_leads(const mets_wfdb_record *rec, const mets_recframes_opts *o, mets_frame *f, int *column_signal,
                     const char *path, mets_err *err)
{
    uint16_t taken = 0;
    for (int s = 0; s < mets_wfdb_nsig(rec) && f->nleads < METS_NLEADS; s++) {
        const mets_wfdb_signal *sig = mets_wfdb_signal_info(rec, s);
        int l = mets_ecg_signal_lead(sig->description, METS_LEAD_II);
        if (l < 0 || (taken >> l & 1) || !(o->leads >> l & 1))
            continue;
        taken |= (uint16_t)(1u << l);
        f->leads[f->nleads] = (mets_lead)l, f->gain[f->nleads] = sig->gain, f->baseline[f->nleads] = sig->baseline;
        column_signal[f->nleads++] = s;
        f->invalid_sample = invalid_of(sig->format); /* one marker per frame: the first lead's format */
    }
    return f->nleads ? 0 : mets_err_set(err, METS_EINVAL, "%s: none of the wanted leads is in the record", path);
}

static int send_frames(const mets_wfdb_record *rec, const mets_recframes_opts *o, mets_frame *f, const int *column_signal,
                       int (*each)(void *, const mets_frame *), void *ctx, mets_err *err)
{
    double fs = mets_wfdb_fs(rec);
    int nsig = mets_wfdb_nsig(rec), per = (int)lround(o->frame_s * fs);
    int64_t first = (int64_t)llround(o->start_s * fs), end = mets_wfdb_nsamp(rec);
    if (o->duration_s > 0 && first + (int64_t)llround(o->duration_s * fs) < end)
        end = first + (int64_t)llround(o->duration_s * fs);
    float *raw = malloc((size_t)per * nsig * sizeof *raw);
    f->mv = malloc((size_t)per * f->nleads * sizeof *f->mv);
    int rc = (raw && f->mv) ? 0 : mets_err_set(err, METS_ENOMEM, "out of memory for frames of %d samples", per);
    for (int64_t at = first; at < end && !rc; at += per, f->seq++) {
        f->nsamples = (int)(end - at < per ? end - at : per);
        f->t0_us = o->t0_us + llround((double)at * 1e6 / fs);
        if ((rc = mets_wfdb_read_phys(rec, at, f->nsamples, raw, err)))
            break;
        for (int c = 0; c < f->nleads; c++)
            for (int t = 0; t < f->nsamples; t++)
                f->mv[(size_t)c * f->nsamples + t] = raw[(size_t)t * nsig + column_signal[c]];
        rc = each(ctx, f);
    }
    free(raw), free(f->mv);
    f->mv = NULL;
    return rc;
}

int mets_recframes_each(const char *path, const mets_recframes_opts *o, int (*each)(void *ctx, const mets_frame *f),
                        void *ctx, mets_err *err)
{
    if (!(o->frame_s > 0 && o->frame_s <= MAX_FRAME_S) || o->start_s < 0 || o->duration_s < 0)
        return mets_err_set(err, METS_EINVAL, "frames of %g s from %g s for %g s: expected a frame of (0, %g] s",
                            o->frame_s, o->start_s, o->duration_s, MAX_FRAME_S);
    mets_wfdb_record *rec = mets_wfdb_open(path, err);
    if (!rec)
        return err->code;
    mets_frame *f = calloc(1, sizeof *f);
    int column_signal[METS_NLEADS], rc = f ? 0 : mets_err_set(err, METS_ENOMEM, "out of memory");
    if (!rc) {
        const char *name = o->stream_id ? o->stream_id : mets_wfdb_header_of(rec)->name;
        f->schema_version = METS_FRAME_SCHEMA_MAJOR, f->rate_hz = mets_wfdb_fs(rec), f->has_invalid = 1;
        snprintf(f->stream_id, sizeof f->stream_id, "%s", name);
        snprintf(f->source, sizeof f->source, "%s", o->source ? o->source : "");
        rc = map_leads(rec, o, f, column_signal, path, err);
    }
    if (!rc)
        rc = send_frames(rec, o, f, column_signal, each, ctx, err);
    free(f);
    mets_wfdb_free(rec);
    return rc;
}
