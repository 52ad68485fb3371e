/* The encoder stage of metsd: a fixed ring of window batches and a pool of threads that score them
 * (pipeline/score.h: preprocessing, the ECG encoder, cosines and softmax against the prompt bank).
 *
 * The consuming thread fills a batch, submits it and later takes the scored batches back in the order it
 * submitted them, so alerts and outputs keep each stream's window order whatever thread finished first.
 * The ring is the stage's bounded queue: when every batch is in flight, mets_workers_acquire returns
 * NULL and the caller waits for the oldest (mets_workers_take with wait) instead of reading more frames:
 * back-pressure, never loss. Each thread owns a mets_scorer (its scratch, BLAS single-threaded); the
 * encoder and the prompt bank are shared and immutable.
 *
 *     mets_workers *w = mets_workers_new(enc, bank, 2, 16, &err);
 *     mets_batch *b = mets_workers_acquire(w);          // NULL: all in flight, take one first
 *     b->meta[b->n] = ...; copy the window into mets_batch_window(b, b->n); b->n++;
 *     mets_workers_submit(w, b);
 *     while ((b = mets_workers_take(w, false))) {        // oldest first, once scored
 *         ... b->emb, b->cos, b->prob ...
 *         mets_workers_release(w, b);
 *     }
 *     mets_workers_free(w);
 */
#ifndef METS_DAEMON_WORKERS_H
#define METS_DAEMON_WORKERS_H

#include <stdbool.h>
#include <stdint.h>

#include "ecgenc.h"
#include "err.h"
#include "frame.h"
#include "labels.h"

/* What the daemon keeps of each window besides its samples. */
typedef struct mets_batch_meta {
    char stream_id[METS_FRAME_MAX_ID + 1];
    int64_t start_us, end_us;
    unsigned flags;   /* pipeline/window.h METS_WINDOW_* */
    uint16_t present; /* leads the stream has */
    int32_t partition;
    int64_t frame_ts_ms; /* Kafka timestamp of the frame that completed the window, for latency */
} mets_batch_meta;

typedef struct mets_batch {
    int n, cap, samples;      /* windows in it, the most it takes, samples per lead */
    mets_batch_meta *meta;
    float *mv;                /* [cap][METS_ECG_LEADS][samples]: use mets_batch_window */
    float *emb, *cos, *prob;  /* [cap][dim], [cap][nlabels], [cap][nlabels] once scored */
    int rc;                   /* 0, or the scorer's error (err) */
    mets_err err;
    double submitted, scored; /* CLOCK_MONOTONIC seconds */
} mets_batch;

typedef struct mets_workers mets_workers;

/* `threads` scoring threads, `batch` windows per batch, 2 x threads + 1 batches in the ring. */
mets_workers *mets_workers_new(const mets_ecgenc *enc, const mets_promptbank *bank, int threads, int batch,
                               mets_err *err);
/* Waits for the batches in flight, stops the threads. NULL is a no-op. */
void mets_workers_free(mets_workers *w);

/* The batch being filled, or a free one (n = 0); NULL when every batch is submitted and not released. */
mets_batch *mets_workers_acquire(mets_workers *w);
float *mets_batch_window(mets_batch *b, int i);
void mets_workers_submit(mets_workers *w, mets_batch *b);
/* The oldest submitted batch once it is scored: with wait, blocks until it is (NULL only when nothing is
 * submitted); without, NULL when it is not done yet. */
mets_batch *mets_workers_take(mets_workers *w, bool wait);
void mets_workers_release(mets_workers *w, mets_batch *b);

/* Batches submitted and not released; and the age in seconds of the oldest of them still being scored
 * (0 when none), which /healthz and the watchdog watch. */
int mets_workers_in_flight(mets_workers *w);
double mets_workers_oldest_age(mets_workers *w);

/* Scores later batches against `bank`; call with nothing in flight (after a reload's drain). Fails only
 * for memory, keeping the old bank. */
int mets_workers_set_bank(mets_workers *w, const mets_promptbank *bank, mets_err *err);

#endif
