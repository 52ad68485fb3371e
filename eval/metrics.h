/* Evaluation metrics: ROC AUC (one-vs-rest, ties averaged), F1, and EC57-style episode sensitivity and
 * positive predictivity for rhythm episodes on streams. Pure functions; checked against scikit-learn's
 * and hand-computed values in tests/test_metrics.c. */
#ifndef METS_METRICS_H
#define METS_METRICS_H

#include <stdint.h>

/* Area under the ROC curve of scores for binary labels (1 = positive), by the Mann-Whitney statistic
 * with average ranks for ties. NaN when there is no positive or no negative. */
double mets_auc(const float *score, const uint8_t *label, int n);

/* F1 of predictions against labels (both 0/1); 0 when there is no positive in either. */
double mets_f1(const uint8_t *pred, const uint8_t *label, int n);

/* A rhythm episode on a stream: [start, end) in seconds. */
typedef struct mets_episode {
    double start, end;
} mets_episode;

typedef struct mets_episode_stats {
    double se, ppv;          /* episode sensitivity and positive predictivity (EC57 3.5.2) */
    double dur_se, dur_ppv;  /* duration sensitivity and positive predictivity */
    int ref_episodes, det_episodes, ref_hit, det_hit;
    double ref_seconds, det_seconds, overlap_seconds;
} mets_episode_stats;

/* Compares detected episodes with reference ones on one stream (each list sorted, non-overlapping).
 * An episode counts as matched when it overlaps one of the other list at all (EC57's episode
 * sensitivity / positive predictivity); durations count overlapping seconds. */
mets_episode_stats mets_episode_compare(const mets_episode *ref, int nref, const mets_episode *det, int ndet);
/* Adds b into a (gross statistics over records, as EC57 reports), recomputing the ratios. */
void mets_episode_stats_add(mets_episode_stats *a, const mets_episode_stats *b);

#endif
