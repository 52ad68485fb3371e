/* Cuts real windows from a WFDB record through the shared preprocessing (ecg/preprocess.h), encodes them
 * with the C encoder and writes both as raw little-endian float32, so that bench/onnx_export.py can run
 * the very same inputs through ONNX Runtime and compare embeddings.
 *
 *   OUT.x.f32    [n, 24, samples]  the encoder's input
 *   OUT.emb.f32  [n, dim]          its embeddings
 *
 * usage: bench_dump_embeddings MODEL.mets RECORD N OUT   (10 s windows every 2 s from the start) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "ecgenc.h"
#include "preprocess.h"
#include "wfdb.h"

static int write_f32(const char *prefix, const char *suffix, const float *v, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s", prefix, suffix);
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(v, sizeof *v, n, f) == n;
    ok = f && !fclose(f) && ok;
    if (!ok)
        fprintf(stderr, "bench_dump_embeddings: cannot write %s\n", path);
    return ok ? 0 : -1;
}

/* Every recorded standard lead of `rec`, resampled to `rate`: leads[l] (NULL when absent), *len each. */
static int load_leads(const mets_wfdb_record *rec, double rate, float *leads[METS_ECG_LEADS], size_t *len,
                      mets_err *err)
{
    int nsig = mets_wfdb_nsig(rec);
    int64_t nsamp = mets_wfdb_nsamp(rec);
    double fs = mets_wfdb_fs(rec);
    float *frames = malloc((size_t)nsamp * nsig * sizeof *frames), *one = malloc((size_t)nsamp * sizeof *one);
    int rc = !frames || !one ? -1 : mets_wfdb_read_phys(rec, 0, nsamp, frames, err);
    *len = (size_t)llround((double)nsamp * rate / fs);
    for (int s = 0; s < nsig && !rc; s++) {
        int l = mets_ecg_signal_lead(mets_wfdb_signal_info(rec, s)->description, -1);
        if (l < 0 || leads[l])
            continue;
        for (int64_t t = 0; t < nsamp; t++)
            one[t] = frames[t * nsig + s];
        if (!(leads[l] = malloc(*len * sizeof *leads[l])))
            rc = -1;
        else if (mets_prep_resample(one, (size_t)nsamp, fs, rate, leads[l], *len, err) < 0)
            rc = -1;
    }
    free(frames), free(one);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: bench_dump_embeddings MODEL.mets RECORD N OUT\n");
        return 2;
    }
    mets_err err = {0};
    mets_ecgenc *enc = mets_ecgenc_open(argv[1], &err);
    mets_wfdb_record *rec = enc ? mets_wfdb_open(argv[2], &err) : NULL;
    if (!rec) {
        fprintf(stderr, "bench_dump_embeddings: %s\n", err.msg);
        return 1;
    }
    const mets_ecgenc_arch *a = mets_ecgenc_get_arch(enc);
    float *leads[METS_ECG_LEADS] = {0};
    size_t len;
    if (load_leads(rec, a->rate_hz, leads, &len, &err)) {
        fprintf(stderr, "bench_dump_embeddings: %s: %s\n", argv[2], err.msg);
        return 1;
    }
    int hop = 2 * a->rate_hz, want = atoi(argv[3]);
    int n = len < (size_t)a->samples ? 0 : (int)((len - a->samples) / hop) + 1;
    n = n < want ? n : want;
    size_t in_size = (size_t)METS_ECG_IN_CHANNELS * a->samples;
    float *x = malloc((size_t)n * in_size * sizeof *x), *emb = malloc((size_t)n * a->embed_dim * sizeof *emb);
    float *work = malloc(mets_prep_work_floats(a->samples) * sizeof *work);
    for (int w = 0; w < n; w++) {
        const float *win[METS_ECG_LEADS];
        for (int l = 0; l < METS_ECG_LEADS; l++)
            win[l] = leads[l] ? leads[l] + (size_t)w * hop : NULL;
        mets_prep_window(win, a->samples, a->rate_hz, x + (size_t)w * in_size, work);
    }
    mets_ecgenc_ctx *ctx = mets_ecgenc_ctx_new(enc, 32, &err);
    for (int i = 0; i < n; i += 32)
        mets_ecgenc_encode(enc, ctx, x + (size_t)i * in_size, n - i < 32 ? n - i : 32, emb + (size_t)i * a->embed_dim,
                           &err);
    int rc = write_f32(argv[4], ".x.f32", x, (size_t)n * in_size) ||
             write_f32(argv[4], ".emb.f32", emb, (size_t)n * a->embed_dim);
    if (!rc)
        printf("%d %d %d\n", n, a->samples, a->embed_dim);
    mets_ecgenc_ctx_free(ctx);
    for (int l = 0; l < METS_ECG_LEADS; l++)
        free(leads[l]);
    free(x), free(emb), free(work);
    mets_wfdb_free(rec);
    mets_ecgenc_free(enc);
    return rc ? 1 : 0;
}
