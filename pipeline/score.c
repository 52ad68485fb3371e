#include "score.h"

#include <stdlib.h>

#include "preprocess.h"

struct mets_scorer {
    const mets_ecgenc *enc;
    const mets_promptbank *bank;
    mets_ecgenc_ctx *ctx;
    int max_batch, samples, rate;
    float *input, *work, *emb; /* [max_batch, 24, samples], filter scratch, [max_batch, dim] */
};

mets_scorer *mets_scorer_new(const mets_ecgenc *enc, const mets_promptbank *bank, int max_batch, mets_err *err)
{
    const mets_ecgenc_arch *a = mets_ecgenc_get_arch(enc);
    mets_scorer *sc = calloc(1, sizeof *sc);
    if (sc) {
        *sc = (mets_scorer){.enc = enc, .bank = bank, .max_batch = max_batch, .samples = a->samples,
                            .rate = a->rate_hz};
        sc->ctx = mets_ecgenc_ctx_new(enc, max_batch, err);
        sc->input = malloc((size_t)max_batch * METS_ECG_IN_CHANNELS * a->samples * sizeof(float));
        sc->work = malloc(mets_prep_work_floats(a->samples) * sizeof(float));
        sc->emb = malloc((size_t)max_batch * a->embed_dim * sizeof(float));
    }
    if (!sc || !sc->ctx || !sc->input || !sc->work || !sc->emb) {
        if (!sc || sc->ctx)
            mets_err_set(err, METS_ENOMEM, "scorer: out of memory for a batch of %d windows", max_batch);
        mets_scorer_free(sc);
        return NULL;
    }
    return sc;
}

void mets_scorer_free(mets_scorer *sc)
{
    if (!sc)
        return;
    mets_ecgenc_ctx_free(sc->ctx);
    free(sc->input), free(sc->work), free(sc->emb);
    free(sc);
}

void mets_scorer_set_bank(mets_scorer *sc, const mets_promptbank *bank)
{
    sc->bank = bank;
}

int mets_scorer_score(mets_scorer *sc, const mets_window_leads *windows, int n, float *emb, float *cos, float *prob,
                      mets_err *err)
{
    if (n < 0 || n > sc->max_batch)
        return mets_err_set(err, METS_EINVAL, "scorer: batch of %d windows, at most %d", n, sc->max_batch);
    size_t in_size = (size_t)METS_ECG_IN_CHANNELS * sc->samples;
    for (int i = 0; i < n; i++)
        mets_prep_window(windows[i], sc->samples, sc->rate, sc->input + i * in_size, sc->work);
    int rc = mets_ecgenc_encode(sc->enc, sc->ctx, sc->input, n, sc->emb, err);
    if (rc)
        return rc;
    mets_promptbank_score(sc->bank, sc->emb, n, mets_ecgenc_logit_scale(sc->enc), cos, prob);
    if (emb)
        for (size_t k = 0; k < (size_t)n * mets_ecgenc_dim(sc->enc); k++)
            emb[k] = sc->emb[k];
    return 0;
}
