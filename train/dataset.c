#include "dataset.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ecgenc.h"
#include "hash.h"
#include "preprocess.h"
#include "wfdb.h"

/* Doubles the index (kept at most half full, so probes stay short) and re-inserts every text. */
static int grow_index(mets_textset *ts)
{
    int nslots = ts->nslots ? 2 * ts->nslots : 1024, *slots = malloc(nslots * sizeof *slots);
    if (!slots)
        return -1;
    for (int i = 0; i < nslots; i++)
        slots[i] = -1;
    for (int i = 0; i < ts->n; i++) {
        unsigned long h = mets_fnv64_str(ts->texts[i]) % nslots;
        while (slots[h] >= 0)
            h = (h + 1) % nslots;
        slots[h] = i;
    }
    free(ts->slots);
    ts->slots = slots, ts->nslots = nslots;
    return 0;
}

int mets_textset_intern(mets_textset *ts, const char *text)
{
    if (2 * (ts->n + 1) > ts->nslots && grow_index(ts))
        return -1;
    unsigned long h = mets_fnv64_str(text) % ts->nslots;
    for (; ts->slots[h] >= 0; h = (h + 1) % ts->nslots)
        if (!strcmp(ts->texts[ts->slots[h]], text))
            return ts->slots[h];
    if (ts->n == ts->cap) {
        int cap = ts->cap ? 2 * ts->cap : 256;
        char **grown = realloc(ts->texts, cap * sizeof *grown);
        if (!grown)
            return -1;
        ts->texts = grown, ts->cap = cap;
    }
    if (!(ts->texts[ts->n] = strdup(text)))
        return -1;
    ts->slots[h] = ts->n;
    return ts->n++;
}

char **mets_textset_take(mets_textset *ts, int *n)
{
    char **texts = ts->texts;
    *n = ts->n;
    free(ts->slots);
    memset(ts, 0, sizeof *ts);
    return texts;
}

void mets_textset_free(mets_textset *ts)
{
    for (int i = 0; i < ts->n; i++)
        free(ts->texts[i]);
    free(ts->texts), free(ts->slots);
    memset(ts, 0, sizeof *ts);
}

/* Interns texts[n] into ts; map[i] = the merged index of texts[i]. */
static int intern_all(mets_textset *ts, char *const *texts, int n, int *map)
{
    for (int i = 0; i < n; i++)
        if ((map[i] = mets_textset_intern(ts, texts[i])) < 0)
            return -1;
    return 0;
}

static int grow_windows(mets_train_data *d, int n)
{
    size_t S = (size_t)d->samples;
    n = n ? n : 1; /* realloc(p, 0) may free p and return NULL */
    void *leads = realloc(d->leads, (size_t)n * 12 * S * sizeof *d->leads);
    if (leads)
        d->leads = leads;
    void *present = realloc(d->present, n * sizeof *d->present);
    if (present)
        d->present = present;
    void *text = realloc(d->text, n * sizeof *d->text);
    if (text)
        d->text = text;
    return leads && present && text ? 0 : -1;
}

int mets_dataset_append(mets_train_data *dst, char ***dst_texts, const mets_train_data *src,
                        char *const *src_texts, mets_err *err)
{
    if (src->samples != dst->samples || dst->text_emb || src->text_emb)
        return mets_err_set(err, METS_EINVAL, "appending windows of %d samples to windows of %d (or embedded texts)",
                            src->samples, dst->samples);
    mets_textset ts = {0};
    int *dmap = malloc((dst->ntexts + 1) * sizeof *dmap), *smap = malloc((src->ntexts + 1) * sizeof *smap);
    int rc = (dmap && smap && !intern_all(&ts, *dst_texts, dst->ntexts, dmap) &&
              !intern_all(&ts, src_texts, src->ntexts, smap) && !grow_windows(dst, dst->n + src->n))
                 ? 0
                 : mets_err_set(err, METS_ENOMEM, "out of memory appending %d windows", src->n);
    if (!rc) {
        size_t per = (size_t)12 * dst->samples;
        memcpy(dst->leads + (size_t)dst->n * per, src->leads, (size_t)src->n * per * sizeof *src->leads);
        memcpy(dst->present + dst->n, src->present, src->n * sizeof *src->present);
        for (int w = 0; w < dst->n; w++)
            dst->text[w] = dmap[dst->text[w]];
        for (int w = 0; w < src->n; w++)
            dst->text[dst->n + w] = smap[src->text[w]];
        dst->n += src->n;
        for (int i = 0; i < dst->ntexts; i++)
            free((*dst_texts)[i]);
        free(*dst_texts);
        *dst_texts = mets_textset_take(&ts, &dst->ntexts);
    }
    mets_textset_free(&ts);
    free(dmap), free(smap);
    return rc;
}

/* Resamples signal s of raw[n, nsig] (NaN made 0 first: the resampler would smear it over its whole
 * filter length, and mets_prep_window would zero it anyway) into out. */
static int resample_signal(const float *raw, int64_t n, int nsig, int s, double fs, int rate_hz, float *tmp,
                           float *out, int n_out, mets_err *err)
{
    for (int64_t t = 0; t < n; t++) {
        float v = raw[t * nsig + s];
        tmp[t] = v == v ? v : 0.0f;
    }
    return mets_prep_resample(tmp, (size_t)n, fs, rate_hz, out, (size_t)n_out, err) < 0 ? err->code : 0;
}

static int read_leads(const mets_wfdb_record *rec, const char *path, int rate_hz, int unnamed_lead, int64_t n,
                      mets_dataset_leads *out, mets_err *err)
{
    int nsig = mets_wfdb_nsig(rec), rc;
    double fs = mets_wfdb_fs(rec);
    float *raw = malloc((size_t)n * nsig * sizeof *raw), *tmp = malloc((size_t)n * sizeof *tmp);
    if (!raw || !tmp)
        rc = mets_err_set(err, METS_ENOMEM, "%s: out of memory for %lld frames", path, (long long)n);
    else
        rc = mets_wfdb_read_phys(rec, 0, n, raw, err);
    for (int s = 0; s < nsig && !rc; s++) {
        int l = mets_ecg_signal_lead(mets_wfdb_signal_info(rec, s)->description, unnamed_lead);
        if (l < 0 || out->lead[l])
            continue;
        if (!(out->lead[l] = calloc((size_t)out->len, sizeof *out->lead[l])))
            rc = mets_err_set(err, METS_ENOMEM, "%s: out of memory", path);
        else
            rc = resample_signal(raw, n, nsig, s, fs, rate_hz, tmp, out->lead[l], out->n, err);
        out->present |= (uint16_t)(1u << l);
    }
    free(raw), free(tmp);
    return rc;
}

int mets_dataset_read_leads(const char *path, int rate_hz, int unnamed_lead, int64_t max_frames, int min_len,
                            mets_dataset_leads *out, mets_err *err)
{
    memset(out, 0, sizeof *out);
    mets_wfdb_record *rec = mets_wfdb_open(path, err);
    if (!rec)
        return err->code;
    int64_t n = mets_wfdb_nsamp(rec);
    n = max_frames > 0 && max_frames < n ? max_frames : n;
    double fs = mets_wfdb_fs(rec), n_out = floor((double)n * rate_hz / fs + 0.5);
    int rc = 0;
    if (n < 1 || n_out > INT32_MAX / 2)
        rc = mets_err_set(err, METS_ENOMEM, "%s: %lld frames: empty or too long", path, (long long)n);
    else {
        out->n = (int)n_out, out->len = out->n > min_len ? out->n : min_len;
        out->fs = fs, out->seconds = (double)n / fs;
        rc = read_leads(rec, path, rate_hz, unnamed_lead, n, out, err);
    }
    mets_wfdb_free(rec);
    if (rc)
        mets_dataset_leads_free(out);
    return rc;
}

int mets_dataset_read_noise(const char *path, int rate_hz, float **sig, int *nsig, int *n, mets_err *err)
{
    *sig = NULL, *nsig = *n = 0;
    mets_wfdb_record *rec = mets_wfdb_open(path, err);
    if (!rec)
        return err->code;
    int64_t frames = mets_wfdb_nsamp(rec);
    int ns = mets_wfdb_nsig(rec);
    double fs = mets_wfdb_fs(rec), n_out = floor((double)frames * rate_hz / fs + 0.5);
    float *phys = NULL, *lead = NULL, *work = NULL, *out = NULL;
    int rc = 0;
    if (frames < 2 || n_out > INT32_MAX / 4 || ns < 1)
        rc = mets_err_set(err, METS_EFORMAT, "%s: %lld frames of %d signals: empty or too long", path,
                          (long long)frames, ns);
    else if (!(phys = malloc((size_t)frames * ns * sizeof *phys)) || !(lead = malloc((size_t)frames * sizeof *lead)) ||
             !(work = malloc(((size_t)n_out + 2 * (size_t)rate_hz + 2) * sizeof *work)) ||
             !(out = malloc((size_t)ns * (size_t)n_out * sizeof *out)))
        rc = mets_err_set(err, METS_ENOMEM, "%s: out of memory", path);
    rc = rc ?: mets_wfdb_read_phys(rec, 0, frames, phys, err);
    for (int s = 0; s < ns && !rc; s++) {
        for (int64_t t = 0; t < frames; t++)
            lead[t] = isnan(phys[t * ns + s]) ? 0.0f : phys[t * ns + s];
        float *row = out + (size_t)s * (size_t)n_out;
        if (mets_prep_resample(lead, (size_t)frames, fs, rate_hz, row, (size_t)n_out, err) < 0)
            rc = err->code;
        else
            mets_prep_highpass(row, (int)n_out, rate_hz, work);
    }
    mets_wfdb_free(rec);
    free(phys), free(lead), free(work);
    if (rc)
        free(out);
    else
        *sig = out, *nsig = ns, *n = (int)n_out;
    return rc;
}

void mets_dataset_leads_free(mets_dataset_leads *l)
{
    for (int i = 0; i < 12; i++)
        free(l->lead[i]);
    memset(l, 0, sizeof *l);
}
