/* The scoring stage: assembled windows -> the shared preprocessing (ecg/preprocess.h) -> the ECG encoder
 * in batches -> cosines against the prompt bank and a softmax per label group. One matrix product
 * scores a whole batch against every label.
 *
 * Thread-safety: the encoder and the prompt bank are immutable and shared by every worker; each worker
 * thread scores through its own mets_scorer (encoder scratch and input buffers, sized once). A reload
 * builds a new prompt bank and swaps the pointer between batches (mets_scorer_set_bank).
 *
 *     mets_scorer *sc = mets_scorer_new(enc, bank, 32, &err);
 *     const float *leads[12] = {NULL};           // per window: the leads at the model rate, NULL if absent
 *     leads[1] = lead_ii;
 *     mets_scorer_score(sc, &leads, 1, emb, cos, prob, &err);   // [1, dim], [1, nlabels], [1, nlabels]
 */
#ifndef METS_PIPELINE_SCORE_H
#define METS_PIPELINE_SCORE_H

#include "ecgenc.h"
#include "err.h"
#include "labels.h"

typedef struct mets_scorer mets_scorer;
typedef const float *mets_window_leads[METS_ECG_LEADS];

mets_scorer *mets_scorer_new(const mets_ecgenc *enc, const mets_promptbank *bank, int max_batch, mets_err *err);
void mets_scorer_free(mets_scorer *sc);
void mets_scorer_set_bank(mets_scorer *sc, const mets_promptbank *bank);

/* Scores n <= max_batch windows: windows[i][l] holds lead l of window i in mV at the model rate (the
 * encoder's window length, NaN for invalid samples), or NULL when the lead is missing. Writes
 * emb[n, dim] (unit length), cos[n, nlabels] and prob[n, nlabels]; emb may be NULL. */
int mets_scorer_score(mets_scorer *sc, const mets_window_leads *windows, int n, float *emb, float *cos, float *prob,
                      mets_err *err);

#endif
