/* Alarm evaluation of the daemon's own output, behind `mets eval --alarms`: the alert events metsd
 * published for replayed records (read back with `mets tail`) scored against the cardiologists' rhythm
 * annotations the EC57 way, per alarm.
 *
 * An alarm episode of a (stream, label) runs from the onset of a RAISED event to the window end of its
 * CLEARED event (to the end of the record when it never cleared); it became known at the window end of the
 * RAISED event. Reference episodes are the stretches of the annotated rhythm:
 *   AF:      "(AFIB", alarm AFIB; "(AFL" excluded (EC57: alarm time during flutter counts neither way)
 *   flutter: "(AFL", alarm AFLT
 *   SVT:     "(SVTA", alarm SVTAC
 *   VT:      "(VT", alarm VT
 *   VF:      "(VFL", "(VF", "(VFIB", alarm VF
 * Per alarm: episode sensitivity over all reference episodes and over those lasting >= 10 s and >= 30 s,
 * positive predictivity (an alarm episode overlapping no reference episode is a false alarm), duration
 * sensitivity and positive predictivity, false alarms per monitored hour, and the delay from a reference
 * episode's onset to the raise of the first alarm overlapping it (0 when the alarm was already up).
 *
 * The noise stress test (NSTDB 118e24 ... 118e_6): electrode-motion noise at the record's SNR from minute
 * 5 on, 2 minutes on, 2 minutes off. Counted per record: clinical alarms raised while noise is on and while
 * it is off, and how much of the noisy and of the clean time a technical alarm covers.
 *
 * Thread-safety: plain data and pure functions.
 */
#ifndef METS_ALARMEVAL_H
#define METS_ALARMEVAL_H

#include <stdint.h>
#include <stdio.h>

#include "annot.h"
#include "err.h"
#include "metrics.h"

typedef enum {
    METS_ALARM_AF,
    METS_ALARM_AFL,
    METS_ALARM_SVT,
    METS_ALARM_VT,
    METS_ALARM_VF,
    METS_ALARM_KINDS
} mets_alarm_kind;
extern const char *const mets_alarm_names[METS_ALARM_KINDS];  /* "AF" "flutter" "SVT" "VT" "VF/VFL" */
extern const char *const mets_alarm_labels[METS_ALARM_KINDS]; /* "AFIB" "AFLT" "SVTAC" "VT" "VF" */

/* One alert event as `mets tail` prints it (only what scoring needs). */
typedef struct mets_alarm_event {
    char stream[128], label[32];
    int state;     /* 1 raised, 2 updated, 3 cleared (proto AlertState) */
    int technical; /* a technical alert (signal quality), not a clinical one */
    int64_t onset_us, window_end_us;
} mets_alarm_event;

typedef struct mets_alarm_events {
    mets_alarm_event *ev;
    int n, cap;
} mets_alarm_events;

/* The ISO 8601 UTC time under `key` of the JSON object o (as `mets tail` prints *_us fields) into *us;
 * -1 when absent or not such a time. */
struct json_t;
int mets_alarm_json_time(const struct json_t *o, const char *key, int64_t *us);

/* Reads JSON lines of alert events (mets tail --alerts) from f, appending to *out; lines that are not alert
 * objects are refused with their line number (METS_EFORMAT). technical/signal_lost is left out: every
 * replayed record ends in one, which says nothing of the patient. */
int mets_alarm_events_read(FILE *f, const char *name, mets_alarm_events *out, mets_err *err);
/* Appends one event; METS_ENOMEM when out of memory. */
int mets_alarm_events_push(mets_alarm_events *out, const mets_alarm_event *ev);
void mets_alarm_events_free(mets_alarm_events *e);

/* An alarm episode in seconds from the record's start. */
typedef struct mets_alarm_episode {
    double start, end, raised_at;
} mets_alarm_episode;

/* The alarm episodes of `stream` for clinical label `label` (or, with label NULL, the union of its
 * technical alarms), times relative to t0_us, clipped to [0, end_s]; at most cap; returns how many. */
int mets_alarm_episodes(const mets_alarm_events *e, const char *stream, const char *label, int64_t t0_us, double end_s,
                        mets_alarm_episode *out, int cap);

/* Gross results of one alarm over records (EC57 sums counts and seconds over records). */
typedef struct mets_alarm_stats {
    mets_episode_stats ep;       /* every reference episode; alarms after the exclusions */
    int ref_long[2], hit_long[2]; /* reference episodes >= 10 s and >= 30 s, and how many were detected */
    int false_alarms;
    double *delay; /* seconds, one per detected reference episode */
    int ndelay, cap;
} mets_alarm_stats;

typedef struct mets_alarm_result {
    int records;
    double hours;
    mets_alarm_stats kind[METS_ALARM_KINDS];
} mets_alarm_result;

/* Scores stream `stream` (the replay of an annotated record of `seconds`, frame time 0 at t0_us) against
 * its annotations, adding into r. */
int mets_alarm_score_record(const mets_alarm_events *e, const char *stream, int64_t t0_us, double seconds,
                            const mets_annots *a, double fs, mets_alarm_result *r, mets_err *err);
void mets_alarm_result_free(mets_alarm_result *r);
/* Median and 90th percentile of an alarm's delays (NaN when none). */
void mets_alarm_delay_quantiles(const mets_alarm_stats *s, double *median, double *p90);
void mets_alarm_print(FILE *f, const mets_alarm_result *r);

/* The records one evaluation scores, loaded once (a sweep scores many event sets against them). */
typedef struct mets_alarm_refset {
    char **names, **noise; /* annotated records and NSTDB records, each the name of its stream */
    int n, nnoise;
    double *seconds, *noise_seconds;
    double *fs;
    mets_annots *annots;
    int64_t t0_us; /* frame time 0 of every record in the replay */
} mets_alarm_refset;

/* The records of `records` less `exclude` (mets_streams_list syntax) and the NSTDB records of `nstdb`
 * ("none" for none) that are in data folder `dir`. */
int mets_alarm_refset_load(const char *dir, const char *records, const char *exclude, const char *nstdb, int64_t t0_us,
                           mets_alarm_refset *rs, mets_err *err);
void mets_alarm_refset_free(mets_alarm_refset *rs);

/* The noise stress test of one NSTDB record. */
typedef struct mets_alarm_noise_row {
    char name[64];
    int snr_db;
    double noisy_s, clean_s;         /* seconds with noise on and off (the first 5 minutes are clean) */
    int clinical_noisy, clinical_clean; /* clinical alarms raised while noise was on / off */
    double tech_noisy_s, tech_clean_s;  /* seconds covered by a technical alarm */
    int tech_raised;
} mets_alarm_noise_row;

/* The SNR of an NSTDB record name ("118e24" 24, "118e_6" -6); -1 (not an NSTDB record) or 0. */
int mets_alarm_nstdb_snr(const char *name, int *snr_db);
/* Scores stream `stream`, the replay of NSTDB record `name` of `seconds`. */
void mets_alarm_noise_record(const mets_alarm_events *e, const char *stream, const char *name, int64_t t0_us,
                             double seconds, mets_alarm_noise_row *row);
void mets_alarm_noise_print(FILE *f, const mets_alarm_noise_row *rows, int n);

/* Scores events against every record of rs: r (zeroed first) and rows[rs->nnoise]. */
int mets_alarm_refset_score(const mets_alarm_refset *rs, const mets_alarm_events *e, mets_alarm_result *r,
                            mets_alarm_noise_row *rows, mets_err *err);

#endif
