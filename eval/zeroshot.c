#include "zeroshot.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"

#define BATCH 32

int mets_zeroshot_scores(const mets_ecgenc *enc, const mets_promptbank *pb, const mets_train_data *d, uint16_t keep,
                         float *emb, float *prob, mets_err *err)
{
    const mets_ecgenc_arch *a = mets_ecgenc_get_arch(enc);
    if (d->samples != a->samples)
        return mets_err_set(err, METS_EINVAL, "zero-shot: windows of %d samples, the model takes %d", d->samples,
                            a->samples);
    int D = a->embed_dim, L = 0;
    size_t in_size = (size_t)24 * d->samples;
    mets_ecgenc_ctx *ctx = mets_ecgenc_ctx_new(enc, BATCH, err);
    float *x = malloc(BATCH * in_size * sizeof *x), *e = malloc((size_t)BATCH * D * sizeof *e), *cos = NULL;
    int rc = (ctx && x && e) ? 0 : mets_err_set(err, METS_ENOMEM, "zero-shot: out of memory");
    if (!rc && pb && !(cos = malloc((size_t)BATCH * (L = mets_promptbank_nlabels(pb)) * sizeof *cos)))
        rc = mets_err_set(err, METS_ENOMEM, "zero-shot: out of memory");
    for (int first = 0; first < d->n && !rc; first += BATCH) {
        int m = d->n - first < BATCH ? d->n - first : BATCH;
        for (int i = 0; i < m; i++)
            mets_train_augment(d, first + i, keep, NULL, 0, a->rate_hz, x + i * in_size);
        rc = mets_ecgenc_encode(enc, ctx, x, m, e, err);
        if (!rc && emb)
            memcpy(emb + (size_t)first * D, e, (size_t)m * D * sizeof *e);
        if (!rc && prob && pb)
            mets_promptbank_score(pb, e, m, mets_ecgenc_logit_scale(enc), cos, prob + (size_t)first * L);
    }
    mets_ecgenc_ctx_free(ctx);
    free(x), free(e), free(cos);
    return rc;
}

double mets_zeroshot_macro_auc(const mets_labels *l, const char *group, const float *prob, int n,
                               const uint8_t *labels, const char *const *class_names, int nclasses, double *per_class,
                               int *missing)
{
    float *score = malloc((size_t)(n ? n : 1) * sizeof *score);
    uint8_t *y = malloc((size_t)(n ? n : 1));
    double sum = 0;
    int counted = 0;
    *missing = -1;
    for (int c = 0; c < nclasses && score && y; c++) {
        int j = mets_labels_find(l, group, class_names[c]);
        if (j < 0) {
            *missing = c;
            break;
        }
        for (int i = 0; i < n; i++)
            score[i] = prob[(size_t)i * l->nlabels + j], y[i] = labels[(size_t)i * nclasses + c];
        double auc = mets_auc(score, y, n);
        if (per_class)
            per_class[c] = auc;
        if (!isnan(auc))
            sum += auc, counted++;
    }
    free(score), free(y);
    return (*missing >= 0 || !counted) ? NAN : sum / counted;
}
