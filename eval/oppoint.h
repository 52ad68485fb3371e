/* Operating points from data, behind `mets eval --operating-points`: the windows metsd scored on held-aside
 * records (its embeddings, read back with `mets tail --embeddings --vectors`) are scored against the prompt
 * bank exactly as the daemon scores them, then fed to the daemon's own alert state machine
 * (pipeline/alert.h) under each candidate policy of an alarm, and the alarms it raises scored as
 * eval/alarmeval.h scores the daemon's (EC57 episodes, false alarms per bed-hour, NSTDB noise).
 *
 * The candidates of an alarm: raise_probability 0.3 ... 0.9, k-of-n from 1 of 1 to 6 of 8, clear after 3 or 5
 * windows below raise_probability - 0.2; everything else (priority, min_duration_s, realert) as the base
 * configuration says. Each artefact threshold of the sweep is applied to every candidate.
 *
 * The chosen point of an alarm, per artefact threshold: among the candidates with at most `max_fa` false
 * alarms per bed-hour and no clinical alarm on the NSTDB records (any SNR: that patient has none of these
 * rhythms), the one of highest
 * episode sensitivity for episodes >= 10 s (>= 30 s for AF), then all episodes, then positive
 * predictivity, then shortest median delay; when none qualifies, the fewest false alarms. The artefact
 * threshold kept is the one whose chosen points detect the most long episodes over all alarms while
 * raising a technical alarm over most of the noisy time at SNR <= 6 dB; ties: the one raising fewer
 * technical alarms on the annotated records.
 */
#ifndef METS_OPPOINT_H
#define METS_OPPOINT_H

#include <stdio.h>

#include "alarmeval.h"
#include "alert.h"
#include "labels.h"

/* The scored windows of every stream, in stream and time order. */
typedef struct mets_op_windows {
    char **streams;
    int nstreams;
    int n, nlabels;
    int *stream;               /* per window: index into streams */
    int64_t *start_us, *end_us;
    float *prob, *cos;         /* [n, nlabels] */
} mets_op_windows;

/* Reads embeddings of `dim` values (JSON lines of `mets tail --embeddings --vectors`) and scores them with pb at
 * `scale`, as the daemon does. */
int mets_op_windows_read(FILE *f, const char *name, const mets_promptbank *pb, float scale, int dim,
                         mets_op_windows *w, mets_err *err);
void mets_op_windows_free(mets_op_windows *w);

/* The alert events the daemon's alert stage raises over w with `policies` (one per label, in label order;
 * NULL entries are disabled) and artefact label/threshold (-1: none). */
int mets_op_simulate(const mets_op_windows *w, const mets_labels *l, const mets_alert_policy *const *policies,
                     int artefact_label, double artefact_probability, mets_alarm_events *out, mets_err *err);

typedef struct mets_op_target {
    mets_alarm_kind kind;
    double max_fa; /* false alarms per bed-hour */
} mets_op_target;

/* Sweeps every alarm of targets[n] over the candidates and artefact thresholds on the records of rs; prints
 * the curves (one row per candidate) to `curves`, the chosen points as a table and as the alerts section of
 * metsd.yaml to out, and, when `report` is not NULL, the same points scored on its records (records they
 * were not chosen on). base[l] is each label's policy in the running configuration. */
int mets_op_sweep(const mets_op_windows *w, const mets_labels *l, const mets_alert_policy *const *base,
                  const mets_alarm_refset *rs, const mets_alarm_refset *report, const mets_op_target *targets, int n,
                  int artefact_label, FILE *curves, FILE *out, mets_err *err);

#endif
