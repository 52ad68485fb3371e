/* Recovery bookkeeping of one frames partition: what metsd writes to its state topic so that, after a
 * crash or when the partition moves to another process, every stream continues where its committed
 * outputs end, with nothing lost and nothing emitted twice (docs/delivery.md has the whole argument).
 *
 * The idea: the windower's state (resampler history, window ring) is not stored; it is rebuilt by reading
 * the stream's frames again from a little before the next window. What is stored, per stream, is the end
 * of its last window whose outputs are committed, the frames offset to rebuild from, and its alert state;
 * per partition, the next offset to process and the lowest offset any open stream needs (restart_offset).
 * On assignment the reader restores those records, seeks to restart_offset and replays: frames before
 * next_offset are fed to the windower only from their stream's resume offset on and produce no dead
 * letters (they had theirs), and windows ending at or before a stream's last committed window are cut
 * but not scored or published.
 *
 * The records are proto/mets.proto StreamState (key = stream id) and PartitionState (key = the byte
 * 0xFF), written by mets_recovery_checkpoint in the transaction that commits the outputs they describe.
 *
 * The partition's time is the newest Kafka timestamp of its records (not frame t0, so that monitors with
 * skewed clocks are not idle): its frames, and the clock records metsd writes into the partition while it
 * has read it to its end and its leader answers (mets_recovery_clock; key METS_FRAME_CLOCK_KEY), so that
 * time runs on when every bed of the partition is silent. Being in the log, it decides the same in every
 * run over the log: after a crash, on another instance, or in a reference run long after. A stream is
 * silent for that time minus its own latest timestamp. (Beds of one partition and metsd should have
 * clocks that agree to well within streams.signal_loss_s, or the topic should use LogAppendTime.)
 *
 * A stream silent for signal_loss_us is handed to the caller (mets_recovery_silent, due at the first
 * record that takes the partition's time past the earliest deadline: a place in the log), which raises
 * its signal-loss alert; the first new frame clears it (the caller asks the alerter on every new frame).
 * Both change the alert state outside a window, so the stream's record is written again.
 *
 * A stream idle longer than idle_us would hold the restart point back for ever. mets_recovery_sweep hands such streams to the
 * caller, which flushes and drops their window state (mets_windower_drop with a sink: the windows their
 * input completes come out, exactly those a restart after the gap would emit, so what is published does
 * not depend on when a sweep ran); from then on they hold no restart point. Their record and alert state
 * stay: a stream that comes back continues its alerts. (Alert state is small; the stream cap bounds it.)
 *
 * Thread-safety: none; one per assigned partition, used by the thread that consumes it.
 *
 *     mets_recovery *r = mets_recovery_new(&params, &err);
 *     while (state record of partition p)  mets_recovery_restore(r, alerter, key, klen, val, vlen, &err);
 *     seek(p, mets_recovery_start_offset(r, committed_offset));
 *     per frame at `offset`:  mets_recovery_frame(r, id, t0, end, ts, offset, &feed, &err); if (feed) windower ...
 *                             mets_recovery_done(r, offset);
 *     per window cut:         if (mets_recovery_window_due(r, id, end)) score, publish,
 *                                 mets_recovery_window_published(r, id, end);
 *     per clock record:       mets_recovery_clock(r, ts); mets_recovery_done(r, offset);
 *     after each record:      if (mets_recovery_silence_due(r)) publish what is in flight,
 *                                 mets_recovery_silent(r, raise_loss, ctx);
 *     per commit:             mets_recovery_sweep(r, flush_and_drop, ctx); publish what that cut;
 *                             mets_recovery_checkpoint(r, alerter, sink, ctx, &err);
 */
#ifndef METS_PIPELINE_RECOVERY_H
#define METS_PIPELINE_RECOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "err.h"

#define METS_RECOVERY_PARTITION_KEY "\xff"

typedef struct mets_recovery_params {
    int64_t window_us, hop_us;
    /* Rebuilding starts this long before the next window's start, so that the resampler has settled by
     * then: at least its delay (pipeline/window.h: up to ~8 s from 50 Hz). */
    int64_t margin_us;
    int64_t idle_us;
    int64_t signal_loss_us; /* a stream silent this long has lost its signal; 0: not watched */
    int max_frames; /* frames remembered per stream: bounds memory when a stream emits no window */
} mets_recovery_params;

/* 10 s windows every 2 s, 10 s margin, idle after 5 min, 4096 frames. */
mets_recovery_params mets_recovery_default_params(void);

typedef struct mets_recovery mets_recovery;

mets_recovery *mets_recovery_new(const mets_recovery_params *p, mets_err *err);
void mets_recovery_free(mets_recovery *r);

/* One record read back from the state partition, oldest first (a later record of a key replaces the
 * earlier; an empty value is a tombstone). A stream's alert state goes into `alerter`. METS_EFORMAT for a
 * record that does not decode; the caller decides whether to go on without it. */
int mets_recovery_restore(mets_recovery *r, mets_alerter *alerter, const void *key, size_t klen, const void *value,
                          size_t vlen, mets_err *err);

/* Where to start reading the frames partition: the restored restart offset, else `committed` (the
 * group's committed offset, or a negative logical offset when there is none). */
int64_t mets_recovery_start_offset(const mets_recovery *r, int64_t committed);

/* Whether the frame at `offset` is new, i.e. not processed before a restart: only new frames may produce
 * dead letters and count as consumed. */
bool mets_recovery_is_new(const mets_recovery *r, int64_t offset);

/* A decoded frame of stream_id at `offset`, with first-sample time t0_us, the end of its last sample end_us
 * and Kafka timestamp seen_us. *feed: whether it goes to the windower (a replayed frame before its stream's
 * resume offset does not). Fails only for memory. */
int mets_recovery_frame(mets_recovery *r, const char *stream_id, int64_t t0_us, int64_t end_us, int64_t seen_us,
                        int64_t offset, bool *feed, mets_err *err);

/* A clock record of the partition with Kafka timestamp seen_us: the partition's time runs on. */
void mets_recovery_clock(mets_recovery *r, int64_t seen_us);

/* Whether a stream may have become silent for signal_loss_us with the record just handled (never while
 * replaying): then the caller publishes what is in flight and calls mets_recovery_silent. */
bool mets_recovery_silence_due(const mets_recovery *r);

/* Whether the stream's latest frame is within signal_loss_us of the partition's time: a late frame of a lost
 * signal (held up behind a fault while the clock ran on) does not bring it back, the first current one
 * does, so a burst of late frames clears a loss once, not once a frame. */
bool mets_recovery_current(const mets_recovery *r, const char *stream_id);

/* When due, calls lost(ctx, id, end_us) for every stream silent for at least signal_loss_us of the
 * partition's time, with the end of its last sample; lost returns 1 when that changed the stream's alert
 * state, 0 when not (already lost), negative to stop: then that value is returned. */
int mets_recovery_silent(mets_recovery *r, int (*lost)(void *ctx, const char *stream_id, int64_t end_us), void *ctx);

/* The stream's alert state changed outside a window (its signal came back): its record is written at the
 * next checkpoint. */
void mets_recovery_alerts_changed(mets_recovery *r, const char *stream_id);

/* The frame at `offset` is handled (fed, skipped or dead-lettered). */
void mets_recovery_done(mets_recovery *r, int64_t offset);

/* Forgets a stream the caller refused (the stream cap), so that refused ids take no memory here. */
void mets_recovery_drop(mets_recovery *r, const char *stream_id);

/* Whether a window the windower cut still needs its outputs: false when a committed run already
 * published it. */
bool mets_recovery_window_due(const mets_recovery *r, const char *stream_id, int64_t end_us);

/* The window's outputs are produced (in the transaction being built): the stream's record changes. */
int mets_recovery_window_published(mets_recovery *r, const char *stream_id, int64_t end_us, mets_err *err);

/* Calls idle(ctx, id) once for each stream idle past idle_us since the last sweep (none while replaying). */
void mets_recovery_sweep(mets_recovery *r, void (*idle)(void *ctx, const char *stream_id), void *ctx);

/* Receives one record to write to the state partition. */
typedef int (*mets_recovery_sink)(void *ctx, const void *key, size_t klen, const void *value, size_t vlen,
                                  mets_err *err);

/* Writes the record of every stream that changed since the last checkpoint (with its state in
 * `alerter`), then the partition record if it changed. A failed sink leaves what it did not take to the
 * next checkpoint only for streams; after a failed transaction, start over from the state topic. */
int mets_recovery_checkpoint(mets_recovery *r, mets_alerter *alerter, mets_recovery_sink sink, void *ctx,
                             mets_err *err);

/* The next offset to process (what a commit sends as the group's offset); negative before any frame. */
int64_t mets_recovery_next_offset(const mets_recovery *r);

/* Calls fn for each stream of the partition (to drop them all when the partition is revoked). */
void mets_recovery_each_stream(const mets_recovery *r, void (*fn)(void *ctx, const char *stream_id), void *ctx);

#endif
