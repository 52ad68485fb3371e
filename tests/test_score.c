/* The scoring stage (pipeline/score.c) with the shipped ECG model and the real language model: a batch
 * scores exactly as the steps done by hand (shared preprocessing, encoder, prompt bank), whatever the
 * batch size and the leads present: bit for bit, since scores decide alerts and a replay, or a rerun
 * after a crash that batches windows differently, must decide as the live run did.
 *
 * usage: test_score MINILM.mets */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "preprocess.h"
#include "score.h"

enum { N = 9, S = 1000 };

static const char *minilm_path;

/* Windows of all 12 leads, lead II alone, I + II + V1 in turn; ECG-like bumps at different rates. */
static void make_windows(float *signal, mets_window_leads *w)
{
    for (int i = 0; i < N; i++)
        for (int l = 0; l < 12; l++) {
            float *x = signal + ((size_t)i * 12 + l) * S;
            for (int t = 0; t < S; t++)
                x[t] = (float)((l % 3 + 1) * 0.3 * pow(sin(M_PI * (1.0 + 0.4 * i) * t / 100.0), 16.0));
            int keep = i % 3 == 0 || l == 1 || (i % 3 == 2 && (l == 0 || l == 6));
            w[i][l] = keep ? x : NULL;
        }
}

static void batch_equals_steps_by_hand(void)
{
    mets_err err;
    mets_ecgenc *enc = mets_ecgenc_open("models/mets-ecg.mets", &err);
    mets_textenc *te = enc ? mets_textenc_open(minilm_path, &err) : NULL;
    mets_labels *l = te ? mets_labels_load("conf/labels.yaml", &err) : NULL;
    mets_promptbank *pb = l ? mets_promptbank_new(l, te, enc, &err) : NULL;
    mets_scorer *sc = pb ? mets_scorer_new(enc, pb, N, &err) : NULL;
    CHECK(sc != NULL, "%s", err.msg);
    if (!sc)
        goto out;
    int L = l->nlabels, D = mets_ecgenc_dim(enc);
    float *signal = malloc((size_t)N * 12 * S * sizeof *signal), *in = malloc((size_t)24 * S * sizeof *in);
    float *work = malloc(mets_prep_work_floats(S) * sizeof *work), emb[N * 256], cos[N * 64], prob[N * 64];
    float one_emb[256], one_cos[64], one_prob[64], hand_emb[256], hand_cos[64], hand_prob[64];
    mets_window_leads w[N];
    make_windows(signal, w);
    CHECK(mets_scorer_score(sc, w, N, emb, cos, prob, &err) == 0, "%s", err.msg);
    mets_ecgenc_ctx *ctx = mets_ecgenc_ctx_new(enc, 1, &err);
    for (int i = 0; i < N; i++) {
        mets_prep_window(w[i], S, 100, in, work);
        CHECK(mets_ecgenc_encode(enc, ctx, in, 1, hand_emb, &err) == 0);
        mets_promptbank_score(pb, hand_emb, 1, mets_ecgenc_logit_scale(enc), hand_cos, hand_prob);
        CHECK(mets_scorer_score(sc, &w[i], 1, one_emb, one_cos, one_prob, &err) == 0);
        for (int k = 0; k < L; k++) {
            CHECK(cos[i * L + k] == hand_cos[k], "%.9g vs %.9g", (double)cos[i * L + k], (double)hand_cos[k]);
            CHECK(prob[i * L + k] == hand_prob[k], "%.9g vs %.9g", (double)prob[i * L + k], (double)hand_prob[k]);
            CHECK(one_prob[k] == prob[i * L + k], "%.9g vs %.9g", (double)one_prob[k], (double)prob[i * L + k]);
        }
        for (int d = 0; d < D; d++)
            CHECK(emb[i * D + d] == hand_emb[d], "%.9g vs %.9g", (double)emb[i * D + d], (double)hand_emb[d]);
    }
    CHECK(mets_scorer_score(sc, w, N + 1, emb, cos, prob, &err) == METS_EINVAL);
    mets_ecgenc_ctx_free(ctx);
    free(signal), free(in), free(work);
out:
    mets_scorer_free(sc);
    mets_promptbank_free(pb);
    mets_labels_free(l);
    mets_textenc_free(te);
    mets_ecgenc_free(enc);
}

int main(int argc, char **argv)
{
    minilm_path = mets_test_model_arg(argc, argv);
    RUN(batch_equals_steps_by_hand);
    return mets_test_summary();
}
