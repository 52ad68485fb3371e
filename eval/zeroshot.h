/* Zero-shot scoring of a set of windows: every window through the ECG encoder (with only the leads of
 * a chosen configuration, the others masked as missing), then against the prompt bank; and the
 * macro AUC of a label group against reference labels. Used by `mets eval` and by `mets train` to
 * select the epoch on the validation fold. */
#ifndef METS_ZEROSHOT_H
#define METS_ZEROSHOT_H

#include <stdint.h>

#include "ecgenc.h"
#include "labels.h"
#include "trainer.h"

/* Lead configurations evaluated: all 12, lead II alone, I + II + V1 (3-lead telemetry). */
#define METS_LEADS_ALL 0x0FFFu
#define METS_LEADS_II 0x0002u
#define METS_LEADS_I_II_V1 0x0043u

/* Encodes the windows of d (leads in `keep` only) into emb[n, dim] and scores them: prob[n, nlabels]
 * (softmax per group of scale * cosine). Either output may be NULL. */
int mets_zeroshot_scores(const mets_ecgenc *enc, const mets_promptbank *pb, const mets_train_data *d, uint16_t keep,
                         float *emb, float *prob, mets_err *err);

/* Macro AUC over the `nclasses` classes named class_names, whose 0/1 labels are labels[n, nclasses],
 * scored by the probability of the label of the same name in `group`. Classes with no positive (or
 * no negative) are left out of the mean and get NaN in per_class (which may be NULL). A class without
 * a label of its name in the group is an error (returned as NaN with *missing set to its index). */
double mets_zeroshot_macro_auc(const mets_labels *l, const char *group, const float *prob, int n,
                               const uint8_t *labels, const char *const *class_names, int nclasses, double *per_class,
                               int *missing);

#endif
