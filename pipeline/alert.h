/* The alert stage: a state machine per (stream, label) fed one scored window at a time, turning scores
 * into alert events (proto/mets.proto Alert) with hysteresis, technical alerts that suppress clinical
 * ones, stable ids and state that can be stored and restored.
 *
 * Thread-safety: none inside. One mets_alerter per worker (it owns the streams of that worker's
 * partitions); different alerters share nothing and may run in different threads.
 *
 *     mets_alert_label lab[n];                       // in the scorer's label order (mets_labels)
 *     for (int i = 0; i < n; i++)
 *         lab[i] = (mets_alert_label){g, name, mets_config_policy(cfg, g, name)};
 *     mets_alert_params p = mets_alert_default_params();
 *     p.model_version = "3", p.prompt_set_version = "a1b2";
 *     mets_alerter *a = mets_alerter_new(&p, lab, n, &err);
 *     int cap = mets_alerter_max_events(a);
 *     mets_alert_event *ev = malloc(cap * sizeof *ev);
 *     mets_scored_window w = {"bed-7", start_us, end_us, prob, cos, METS_ALERT_TECH_BIT(METS_ALERT_TECH_FLAT)};
 *     int k = mets_alerter_push(a, &w, ev, cap, &err);  // k events, or < 0
 *     ...
 *     mets_alerter_drop(a, "bed-7");                 // the stream left this worker (revoke, idle)
 *     mets_alerter_free(a);
 *
 * The rules, per (stream, label), with p the window's probability of the label:
 * - A window is "above" when p >= raise_probability and "below" when p < clear_probability.
 * - Idle -> RAISED when at least raise_k of the last raise_n windows (this one included) are above.
 *   onset_us is the start of the oldest of those above windows.
 * - Raised -> CLEARED when the last clear_m windows were all below and the alert has been raised for at
 *   least min_duration_s (this window's end minus the end of the raising window); the condition that
 *   makes min_duration_s "a raised alert is not cleared before it is this old" (daemon/config.c).
 *   CLEARED carries the clearing window's scores and times, and the alert's id and onset. After a clear
 *   the k-of-n history starts empty, so a new alert needs raise_k fresh above windows.
 * - Raised -> UPDATED when a window that is not below moves p by more than update_step from the last sent
 *   event, or when realert_interval_s has passed since the last sent event (a re-alert). Below windows
 *   send no UPDATED for the probability: they only count towards the clear.
 * - Technical conditions (the window's `tech` bits, and NOISE when the artefact label scores at least
 *   artefact_probability) are labels of group "technical" with probability 1
 *   when present and 0 when absent, raised after tech_raise_windows consecutive windows with the
 *   condition and cleared after tech_clear_windows consecutive windows without it (defaults 1 and 2),
 *   no min duration, re-alerted every tech_realert_interval_s. They carry no competing labels.
 * - Suppression: a stream is suppressed in a window that has any tech bit and while any of its technical
 *   alerts is raised, so also in the good windows after a fault until its technical alert clears (the
 *   first samples after an electrode is re-attached are not trusted; the window that clears the last
 *   technical alert counts as good data). While suppressed, clinical scores are ignored:
 *   no clinical label raises (its k-of-n history is emptied), and an already raised clinical alert is
 *   held: no UPDATED, no re-alert, no CLEARED, and its run of below windows restarts, so it clears only
 *   after clear_m below windows of good data after the fault. An overdue re-alert goes out with the
 *   first good window.
 * - Signal loss is no window condition: the caller's clock says a stream sent nothing for too long
 *   (mets_alerter_signal). It raises "signal_lost" (high priority, onset the end of the last sample) and
 *   sends every raised clinical alert of the stream again, UPDATED with `stale` set: its condition is no
 *   longer observed, so a consumer must not show it as current. The first frame back clears signal_lost
 *   and sends them UPDATED, not stale. While the signal is lost the stream counts as suppressed.
 * - Alert ids: 32 hex digits of FNV-1a 128 over stream id, group, label and onset_us, so replays and
 *   re-processing give the same id, and every onset a new one.
 * - Windows of a stream must come in order: one that does not start after the previous window's start is
 *   refused (METS_EINVAL), state unchanged.
 */
#ifndef METS_PIPELINE_ALERT_H
#define METS_PIPELINE_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"

/* raise_n is at most this: the k-of-n history of a label is a 32-bit mask. */
#define METS_ALERT_MAX_N 32
#define METS_ALERT_MAX_ID 128      /* bytes of a stream id, as METS_FRAME_MAX_ID */
#define METS_ALERT_NCOMPETING 3    /* competing labels carried by an alert */
#define METS_ALERT_TECH_GROUP "technical"

/* Technical conditions of a window, as bits of mets_scored_window.tech. From the window stage's flags
 * (pipeline/window.h): METS_WINDOW_LEAD_OFF -> LEAD_OFF, METS_WINDOW_FLAT -> FLAT, METS_WINDOW_SATURATED
 * -> SATURATED (the same bits 0..2), METS_WINDOW_INVALID or METS_WINDOW_GAP -> GAP; METS_WINDOW_RESTART
 * is no fault. The daemon does this join, so that neither stage depends on the other. */
typedef enum mets_alert_tech {
    METS_ALERT_TECH_LEAD_OFF,  /* label "lead_off" */
    METS_ALERT_TECH_FLAT,      /* label "flat_signal" */
    METS_ALERT_TECH_SATURATED, /* label "saturation" */
    METS_ALERT_TECH_GAP,       /* label "signal_gap" */
    METS_ALERT_TECH_NOISE,     /* label "noisy_signal": from the scores, see mets_alert_params.artefact_label */
    METS_ALERT_TECH_SIGNAL_LOST, /* label "signal_lost": no window bit, see mets_alerter_signal */
    METS_ALERT_NTECH
} mets_alert_tech;
#define METS_ALERT_TECH_BIT(t) (1u << (t))

/* The numbers equal proto's AlertState. */
typedef enum mets_alert_state {
    METS_ALERT_RAISED = 1,
    METS_ALERT_UPDATED = 2,
    METS_ALERT_CLEARED = 3,
} mets_alert_state;

typedef struct mets_alert_params {
    double update_step;              /* UPDATED when the probability moved more than this; default 0.1 */
    int tech_raise_windows;          /* default 1 */
    int tech_clear_windows;          /* default 2 */
    double tech_realert_interval_s;  /* default 300; 0 never */
    int tech_priority;               /* METS_PRIORITY_*; default METS_PRIORITY_MEDIUM */
    int max_streams;                 /* at this many, a new stream takes the place of the one with nothing
                                      * raised and the oldest last window (its k-of-n history is lost); it
                                      * is refused when every stream has an alert raised; default 1024 */
    /* Signal quality from the model: a clinical label (index in the labels given, e.g. rhythm/NOISE with a
     * prompt "noisy recording, lead artefact.") whose probability at or above artefact_probability gives
     * the window the technical condition NOISE, as a monitor suspends arrhythmia analysis during artefact.
     * -1 (the default): none. */
    int artefact_label;
    double artefact_probability;     /* default 0.5 */
    const char *model_version, *prompt_set_version; /* copied; default "" */
} mets_alert_params;

mets_alert_params mets_alert_default_params(void);

/* One clinical label: its group and name (copied) and its policy (copied). */
typedef struct mets_alert_label {
    const char *group, *name;
    const mets_alert_policy *policy;
} mets_alert_label;

/* What the scoring stage says of one window of one stream. prob and cos hold one value per label, in the
 * order given to mets_alerter_new; they may be NULL when tech is not 0 (a faulty window need not be
 * scored). */
typedef struct mets_scored_window {
    const char *stream_id;
    int64_t start_us, end_us;
    const float *prob, *cos;
    unsigned tech; /* METS_ALERT_TECH_BIT(...) of every condition present */
} mets_scored_window;

typedef struct mets_alert_competitor {
    const char *label;
    float probability;
} mets_alert_competitor;

/* One change of one alert, mirroring proto Alert. The strings belong to the alerter (stream_id to the
 * pushed window): valid until the next call on the alerter. */
typedef struct mets_alert_event {
    char id[33];
    const char *stream_id, *group, *label;
    mets_alert_state state;
    float probability, cosine;
    int64_t onset_us, window_start_us, window_end_us;
    const char *model_version, *prompt_set_version;
    mets_alert_competitor competing[METS_ALERT_NCOMPETING]; /* most probable first */
    int ncompeting;
    int priority; /* METS_PRIORITY_* of the policy */
    bool technical;
    bool stale; /* a clinical alert whose stream's signal is lost: not current */
} mets_alert_event;

typedef struct mets_alerter mets_alerter;

/* Checks every policy (raise_k <= raise_n <= METS_ALERT_MAX_N, clear_probability <= raise_probability,
 * ...) and the names (group "technical" is reserved); NULL with the reason on failure. */
mets_alerter *mets_alerter_new(const mets_alert_params *p, const mets_alert_label *labels, int nlabels,
                               mets_err *err);
void mets_alerter_free(mets_alerter *a);
/* A reload that rewords prompts keeps the alert state and names the new prompt set from here on (copied). */
int mets_alerter_set_prompt_set_version(mets_alerter *a, const char *version, mets_err *err);

/* The most events one window can produce: a buffer of this many never fills. */
int mets_alerter_max_events(const mets_alerter *a);

/* Feeds one window: writes the events it causes to out (technical ones first, then in label order) and
 * returns their count, or a negative code (bad window, cap below mets_alerter_max_events, too many
 * streams) with nothing changed. A stream is created by its first window. */
int mets_alerter_push(mets_alerter *a, const mets_scored_window *w, mets_alert_event *out, int cap, mets_err *err);

/* The stream's signal is lost (`lost`; at_us: the end of its last sample) or back (at_us: the start of
 * the first new frame): writes the events (above) to out and returns their count, 0 when nothing changes
 * (a loss of a stream already lost, a return of one that is not), or a negative code (cap, too many
 * streams). A loss creates a stream the alerter does not hold yet (it went quiet before its first window). */
int mets_alerter_signal(mets_alerter *a, const char *stream_id, bool lost, int64_t at_us, mets_alert_event *out,
                        int cap, mets_err *err);

/* Alerts raised now, over every stream: of label i (the labels given to mets_alerter_new, then the
 * technical ones in mets_alert_tech order; i < mets_alerter_max_events). Its group, name and priority
 * through the pointers that are not NULL. */
int mets_alerter_raised(const mets_alerter *a, int i, const char **group, const char **name, int *priority);

/* Forgets a stream and frees its state; sends nothing (the state may live on elsewhere, e.g. after a
 * partition moved). METS_ENOTFOUND if the alerter does not hold it. */
int mets_alerter_drop(mets_alerter *a, const char *stream_id);

/* The bytes of one stream's state never exceed this. */
size_t mets_alert_state_max_size(const mets_alerter *a);

/* Writes the state of stream_id to buf (a versioned little-endian format, see alert.c) and its length to
 * *len. METS_ENOTFOUND for an unknown stream, METS_EINVAL if cap is too small. */
int mets_alert_state_encode(const mets_alerter *a, const char *stream_id, uint8_t *buf, size_t cap, size_t *len,
                            mets_err *err);

/* Restores one stream's state from bytes of mets_alert_state_encode, replacing what the alerter holds of
 * that stream. Refuses (METS_EFORMAT, nothing changed) truncated or malformed bytes, another version,
 * and state written for a different label set. */
int mets_alert_state_decode(mets_alerter *a, const uint8_t *buf, size_t len, mets_err *err);

#endif
