/* What a central station shows of a ward: per bed, its alerts raised now (from the alert events), its
 * history of alert events, and the last seconds of its ECG (from the frames). Fed by `mets station`'s
 * consumer, read by its web pages (station/web.h); knows neither Kafka nor HTTP.
 *
 *     mets_ward *w = mets_ward_new(&(mets_ward_params){.strip_s = 6, .keep_s = 120}, &err);
 *     mets_ward_alert(w, alert);            // an Alert of the alert topic
 *     mets_ward_frame(w, &frame);           // a decoded EcgFrame (pipeline/frame.h)
 *     char *json = mets_ward_json(w, now_ms);   // every bed: its tile
 *     ...
 *     mets_ward_free(w);
 *
 * Thread-safety: every call takes the ward's lock; one thread feeds it, any number read it.
 */
#ifndef METS_STATION_WARD_H
#define METS_STATION_WARD_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "frame.h"
#include "labels.h"
#include "mets.pb-c.h"

typedef struct mets_ward mets_ward;

typedef struct mets_ward_params {
    double strip_s; /* the ECG strip of a tile: its last seconds */
    double keep_s;  /* the ECG kept per bed for the alert figures (one lead) */
    int history;    /* alert events kept per bed (the newest) */
    int max_beds;   /* beds beyond it are not shown */
    /* The words of an alert: its label's first prompt in these labels (metsd's), else its name with spaces;
     * NULL: the names. Borrowed: it outlives the ward. */
    const mets_labels *labels;
} mets_ward_params;

mets_ward *mets_ward_new(const mets_ward_params *p, mets_err *err);
void mets_ward_free(mets_ward *w);

/* Applies an alert event: raised adds the alert to its bed's current ones, updated changes it (stale,
 * probability, priority), cleared removes it; every event goes into the bed's history. */
void mets_ward_alert(mets_ward *w, const Mets__V1__Alert *a);
/* Appends the frame's lead II (else its first lead) to its bed's ECG, at the frame's times. A frame older
 * than what the bed holds is ignored. */
void mets_ward_frame(mets_ward *w, const mets_frame *f);

/* Changes so far: a reader waits for it to move (mets_ward_wait). */
uint64_t mets_ward_version(mets_ward *w);
/* Waits up to timeout_ms for the version to pass `seen`; returns the version. */
uint64_t mets_ward_wait(mets_ward *w, uint64_t seen, int timeout_ms);

/* The tiles, as JSON (malloc'd): {"beds": [{"bed", "alerts": [{"alert_id", "group", "label", "text", "priority",
 * "technical", "stale", "onset_ms", "probability"}], "strip": {"hz", "end_ms", "mv": [...]}}, ...]},
 * beds in name order, each bed's alerts most urgent first. NULL when out of memory. */
char *mets_ward_json(mets_ward *w);
/* One bed's history, newest first, as JSON (malloc'd): {"bed", "events": [{"alert_id", "group", "label",
 * "text", "state", "priority", "technical", "stale", "probability", "onset_ms", "window_end_ms"}]}; NULL when there
 * is no such bed. */
char *mets_ward_bed_json(mets_ward *w, const char *bed);
/* The `mets plot` figure of an alert (viz/ecgplot.h) as SVG to out: its bed's ECG from 4 s before its onset
 * to 4 s after its last event (as much of it as the ward still holds), marks where it was raised and
 * cleared and its probabilities at its events. METS_ENOTFOUND when the alert is not in any history or its
 * ECG is no longer held. */
int mets_ward_plot_svg(mets_ward *w, const char *alert_id, FILE *out, mets_err *err);

#endif
