/* A linear probe: one-vs-rest logistic regression on frozen embeddings, the usual yardstick for how
 * much a representation knows beyond what zero-shot prompts extract. Full-batch Adam on the mean
 * cross-entropy with L2, a fixed number of steps: deterministic and small enough to need no BLAS. */
#ifndef METS_PROBE_H
#define METS_PROBE_H

#include <stdint.h>

/* Fits w[c, d + 1] (weights, then bias, per class) to x[n, d] and 0/1 labels y[n, c]. */
void mets_probe_fit(const float *x, const uint8_t *y, int n, int d, int c, float l2, int steps, float *w);
/* Scores s[n, c] = x w^T + b (logits: monotone in the probability, which is all an AUC needs). */
void mets_probe_predict(const float *w, const float *x, int n, int d, int c, float *s);

#endif
