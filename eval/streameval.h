/* Evaluation on streams, behind `mets eval --streams`:
 *
 * MIT-BIH and VFDB, the EC57 way. Each record is scored window by window (10 s windows every 2 s, every
 * lead the record has) against the prompt bank's "rhythm" group; a window votes for the label with the
 * highest probability (argmax: the softmax already makes the labels compete, so no threshold to tune).
 * The 2 s at a window's centre take its vote (the first window's vote reaches back to the start, the
 * last one's to the end of the record); runs of votes for a label are the detected episodes, and runs
 * shorter than `min_episode_s` are dropped (a lone window's vote is flicker, not an episode). They are
 * compared with the reference episodes of the aux rhythm annotations by mets_episode_compare:
 *   AF:    reference "(AFIB", detected AFIB; "(AFL" episodes are excluded (EC57 leaves atrial flutter
 *          out of AF scoring: detections during flutter are cut away, so they count neither way),
 *   VT:    reference "(VT", detected VT,
 *   VF:    reference "(VFL", "(VF", "(VFIB" (VFDB's spelling), detected VF.
 *
 * CinC 2017: each record's windows are scored against the "cinc2017" group (labels N A O ~), their
 * probabilities averaged and the record given the label of the highest mean; F1 per class, the
 * challenge score (the mean of F1 of N, A and O) and the mean over all four.
 *
 * Thread-safety: as zeroshot.h; the functions hold no state.
 */
#ifndef METS_STREAMEVAL_H
#define METS_STREAMEVAL_H

#include <stdint.h>
#include <stdio.h>

#include "annot.h"
#include "ecgenc.h"
#include "labels.h"
#include "metrics.h"
#include "streams.h"

typedef enum { METS_EC57_AF, METS_EC57_VT, METS_EC57_VF, METS_EC57_KINDS } mets_ec57_kind;
extern const char *const mets_ec57_names[METS_EC57_KINDS]; /* "AF" "VT" "VF" */

typedef struct mets_streameval_opts {
    double hop_s;         /* 2 */
    double min_episode_s; /* 4: a detection must hold over two window centres */
} mets_streameval_opts;

mets_streameval_opts mets_streameval_default_opts(void);

typedef struct mets_streameval_record {
    char name[64];
    double seconds;
    int windows;
    mets_episode_stats stats[METS_EC57_KINDS];
} mets_streameval_record;

/* Episodes from window votes: window k starts at k * hop_s and lasts win_s; vote[k] non-zero for the
 * label. Writes at most n episodes to out, in seconds, clipped to [0, total_s); returns how many. */
int mets_streameval_detect(const uint8_t *vote, int n, double hop_s, double win_s, double total_s, double min_s,
                           mets_episode *out);

/* Reference episodes: the stretches where the rhythm in force (aux of the rhythm annotations, at `fs`
 * frames per second) is one of codes[ncodes], up to total_s. Writes at most cap; returns how many. */
int mets_streameval_reference(const mets_annots *a, double fs, double total_s, const char *const *codes,
                              int ncodes, mets_episode *out, int cap);

/* a minus b: the parts of the episodes a[na] outside every episode of b[nb] (both sorted). out needs
 * room for na + nb episodes; returns how many. */
int mets_episodes_subtract(const mets_episode *a, int na, const mets_episode *b, int nb, mets_episode *out);

/* Scores the annotated record dir/name and compares its episodes with the reference: METS_ENOTFOUND when
 * its files are not there; METS_EINVAL when the labels lack a rhythm label (AFIB, VT, VF). */
int mets_streameval_record_run(const mets_ecgenc *enc, const mets_promptbank *pb, const mets_labels *l,
                               const char *dir, const char *name, const mets_streameval_opts *o,
                               mets_streameval_record *r, mets_err *err);

/* The gross statistics of one kind over records r[n] (EC57 sums counts and seconds over records). */
mets_episode_stats mets_streameval_gross(const mets_streameval_record *r, int n, mets_ec57_kind kind);
void mets_streameval_print(FILE *f, const mets_streameval_record *r, int n);

#define METS_CINC_CLASSES 4
extern const char mets_cinc_classes[METS_CINC_CLASSES]; /* 'N' 'A' 'O' '~' */

typedef struct mets_cinc_result {
    int records;
    int confusion[METS_CINC_CLASSES][METS_CINC_CLASSES]; /* [reference][predicted] */
    double f1[METS_CINC_CLASSES];
    double f1_nao; /* the challenge's score: mean F1 of N, A and O */
    double f1_all; /* mean F1 of all four */
} mets_cinc_result;

/* Classifies every record of `set` (from mets_cinc_load) by its windows' mean probabilities over the
 * "cinc2017" group, and scores the classes against the records' reference. */
int mets_cinc_eval(const mets_ecgenc *enc, const mets_promptbank *pb, const mets_labels *l,
                   const mets_streams_set *set, mets_cinc_result *r, mets_err *err);
/* F1 per class and their means from the confusion matrix already in r. */
void mets_cinc_score(mets_cinc_result *r);
void mets_cinc_print(FILE *f, const mets_cinc_result *r);

#endif
