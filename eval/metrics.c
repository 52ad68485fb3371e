#include "metrics.h"

#include <math.h>
#include <stdlib.h>

typedef struct ranked {
    float score;
    uint8_t label;
} ranked;

static int by_score(const void *a, const void *b)
{
    float x = ((const ranked *)a)->score, y = ((const ranked *)b)->score;
    return (x > y) - (x < y);
}

double mets_auc(const float *score, const uint8_t *label, int n)
{
    ranked *r = malloc((size_t)(n ? n : 1) * sizeof *r);
    if (!r)
        return NAN;
    long pos = 0;
    for (int i = 0; i < n; i++) {
        r[i] = (ranked){score[i], label[i] ? 1 : 0};
        pos += r[i].label;
    }
    long neg = n - pos;
    qsort(r, (size_t)n, sizeof *r, by_score);
    double rank_sum = 0; /* sum of the positives' ranks, ties given their average rank */
    for (int i = 0; i < n;) {
        int j = i;
        long tied_pos = 0;
        while (j < n && r[j].score == r[i].score)
            tied_pos += r[j++].label;
        rank_sum += tied_pos * (i + 1 + j) / 2.0;
        i = j;
    }
    free(r);
    if (pos == 0 || neg == 0)
        return NAN;
    return (rank_sum - pos * (pos + 1) / 2.0) / ((double)pos * neg);
}

double mets_f1(const uint8_t *pred, const uint8_t *label, int n)
{
    long tp = 0, fp = 0, fn = 0;
    for (int i = 0; i < n; i++) {
        tp += pred[i] && label[i];
        fp += pred[i] && !label[i];
        fn += !pred[i] && label[i];
    }
    return tp ? 2.0 * tp / (2.0 * tp + fp + fn) : 0.0;
}

static double overlap(const mets_episode *a, const mets_episode *b)
{
    double lo = fmax(a->start, b->start), hi = fmin(a->end, b->end);
    return hi > lo ? hi - lo : 0.0;
}

/* How many episodes of `a` overlap any of `b` (both sorted). */
static int count_hit(const mets_episode *a, int na, const mets_episode *b, int nb)
{
    int hit = 0;
    for (int i = 0, j = 0; i < na; i++) {
        while (j < nb && b[j].end <= a[i].start)
            j++;
        hit += j < nb && overlap(&a[i], &b[j]) > 0;
    }
    return hit;
}

static void ratios(mets_episode_stats *s)
{
    s->se = s->ref_episodes ? (double)s->ref_hit / s->ref_episodes : NAN;
    s->ppv = s->det_episodes ? (double)s->det_hit / s->det_episodes : NAN;
    s->dur_se = s->ref_seconds > 0 ? s->overlap_seconds / s->ref_seconds : NAN;
    s->dur_ppv = s->det_seconds > 0 ? s->overlap_seconds / s->det_seconds : NAN;
}

mets_episode_stats mets_episode_compare(const mets_episode *ref, int nref, const mets_episode *det, int ndet)
{
    mets_episode_stats s = {.ref_episodes = nref, .det_episodes = ndet};
    s.ref_hit = count_hit(ref, nref, det, ndet);
    s.det_hit = count_hit(det, ndet, ref, nref);
    for (int i = 0; i < nref; i++)
        s.ref_seconds += ref[i].end - ref[i].start;
    for (int i = 0; i < ndet; i++)
        s.det_seconds += det[i].end - det[i].start;
    for (int i = 0, j = 0; i < nref; i++) {
        while (j < ndet && det[j].end <= ref[i].start)
            j++;
        for (int k = j; k < ndet && det[k].start < ref[i].end; k++)
            s.overlap_seconds += overlap(&ref[i], &det[k]);
    }
    ratios(&s);
    return s;
}

void mets_episode_stats_add(mets_episode_stats *a, const mets_episode_stats *b)
{
    a->ref_episodes += b->ref_episodes, a->det_episodes += b->det_episodes;
    a->ref_hit += b->ref_hit, a->det_hit += b->det_hit;
    a->ref_seconds += b->ref_seconds, a->det_seconds += b->det_seconds;
    a->overlap_seconds += b->overlap_seconds;
    ratios(a);
}
