/* Window assembly: the pipeline stage between decode (frame.h) and the encoder. Fed one decoded frame at a
 * time, it keeps per-stream state (keyed by stream id) and hands out windows of `length_s` every `hop_s`:
 * the 12 standard leads in mV at the model rate (raw: the encoder stage runs mets_prep_window on them),
 * NaN where a sample is invalid or the lead missing, with per-lead technical flags.
 *
 * Per stream:
 *   - sequence: a seq already consumed is a duplicate (dropped, counted). A frame ahead of the next
 *     expected seq is held, up to max_reorder_frames of them; when one more arrives the lowest held frame
 *     is released and the missing seqs before it are given up on (arriving later, they count as
 *     duplicates). A new stream's first frames are held the same way, so they may arrive out of order
 *     too: its first window waits for max_reorder_frames more frames. A seq below the expected one with
 *     a t0 later than any consumed frame means the monitor restarted its counter: the held frames are
 *     dropped and numbering starts again (seq_resets).
 *   - time: t0 is authoritative, sample times are t0 of the segment's first frame + n / rate. A frame
 *     whose t0 is later than expected by more than METS_WINDOW_T0_JITTER_US and at most max_gap_s is
 *     bridged with invalid (NaN) samples; one earlier than expected by up to max_gap_s has its overlapping
 *     samples dropped (clock drift); anything beyond restarts the stream's segment: the resampler is
 *     flushed (windows its input completes still come out), then it and the window buffer are reset and
 *     the partial window is lost. A change of rate or of the set of leads restarts the segment too.
 *   - resampling: libsoxr, the same quality as mets_prep_resample. Output sample k is at input time
 *     k / rate, so window times are exact. The segment's recent input is kept, and each window's new
 *     output samples are resampled in one batch, by a cleared resampler, from input about 1 s before
 *     them to `lookahead_s` after the last. The default, 0, releases a window as soon as the input under
 *     its last sample is in; the filter sees the input beyond held at its last value, which changes the
 *     last ~0.2 s of each hop by up to a few % of a QRS's height and the rest by up to 1e-3 (scores
 *     by 1e-4 on average: bench/bench_lookahead). The exact look-ahead (negative; 0.9 s and more in the
 *     configuration) reaches as far as the filter does, 90 samples at the lower of the two rates, so
 *     the output equals the streamed one up to float rounding (at most 6e-6 mV on MIT-BIH, VFDB, CinC
 *     2017 and PTB-XL records from 50 to 1000 Hz), and a window comes out 0.9 s after its end (1.8 s from
 *     50 Hz; at once from the model rate, which soxr copies). A streaming soxr held windows back by its
 *     block processing: median 2.2 to 3.0 s, up to 4.75 s from 360 Hz and 8.3 s from 50 Hz
 *     (bench/bench_window_latency measures the hold-back and the CPU). Batches start where soxr's output
 *     grid meets the segment's (a multiple of the two rates' common period; a source rate without one
 *     within 10 s is refused), so a window does not depend on how the input is cut into frames, nor on
 *     where reading started. The training path (one-shot) is unchanged.
 *   - windows end on an absolute grid: end_us is a multiple of hop_us (UTC µs), start_us = end_us -
 *     length. So a replay, or a restart that seeks back, cuts the same windows, and (stream_id, end_us) is
 *     the window's deterministic id for at-least-once de-duplication. The first window of a segment is the
 *     first whose start is not before the segment's first t0.
 *   - stream cap: at most max_streams streams have state; a frame of a new stream beyond that is
 *     refused with METS_ENOMEM ("stream cap") and counted in streams_refused. mets_windower_drop frees a
 *     stream (its partition moved away, or it went idle); it starts afresh if its frames come back.
 *     Dropping an idle stream with a sink first emits the windows its input completes, as a restart
 *     after a gap does, so what comes out does not depend on whether or when the stream was dropped.
 *
 * Memory per stream: 12 x samples x (4 + 1) bytes of window ring, 8 x samples of seq, leads x (4 + 1)
 * bytes per input sample kept (about 4 s of input, up to twice that allocated; up to 13 s for a
 * segment's first window), up to max_reorder_frames + 1 held frame copies (each at most 12 x METS_FRAME_MAX_SAMPLES
 * floats, sized to the frames actually held); in total at most max_streams of these: 0.4 MB at 250 Hz,
 * 1 MB at 1000 Hz for 12 leads. The soxr states (megabytes each) are the windower's, shared by its
 * streams: one per source rate and lead count in use, up to 16.
 *
 * Thread safety: a windower is used by one thread at a time (one per worker / partition set); windowers
 * share nothing. The window passed to the sink and its arrays are valid only during the call: copy what
 * you keep. A push may complete several windows (a restart first flushes the old segment's).
 *
 *     mets_window_params p = mets_window_default_params();
 *     p.max_streams = cfg->streams.max_streams;             // and window.* from the config
 *     mets_err err;
 *     mets_windower *w = mets_windower_new(&p, &err);
 *     ...
 *     if (mets_windower_push(w, &frame, on_window, ctx, &err))  // on_window(win, ctx) 0..n times
 *         log_warning("%s", err.msg);                          // refused stream, or out of memory
 *     ...
 *     mets_windower_free(w);
 */
#ifndef METS_PIPELINE_WINDOW_H
#define METS_PIPELINE_WINDOW_H

#include <stdint.h>

#include "err.h"
#include "frame.h"

/* Time: t0 deviations up to this are monitor timestamp jitter, not gaps. */
#define METS_WINDOW_T0_JITTER_US 5000
/* Flat line: a run of valid samples longer than METS_WINDOW_FLAT_S with peak-to-peak below
 * METS_WINDOW_FLAT_MV: no ECG is that still (a disconnected but not lead-off-detected electrode is). */
#define METS_WINDOW_FLAT_MV 0.02
#define METS_WINDOW_FLAT_S 2.0
/* Saturation: at the source rate, a run of identical samples at least METS_WINDOW_SAT_MV from 0 lasting
 * METS_WINDOW_SAT_S: the ADC (or the monitor) is clipping at its rail; a QRS peak never holds still that
 * long. Samples of the run count from its METS_WINDOW_SAT_S-th on. */
#define METS_WINDOW_SAT_MV 2.0
#define METS_WINDOW_SAT_S 0.08
/* Too many invalid samples: more than this fraction of the window's samples of a lead. */
#define METS_WINDOW_MAX_INVALID_FRAC 0.2
/* An output sample is invalid (or lead-off, saturated, bridged) when an invalid input sample contributes
 * at least this much to it through the resampling filter. */
#define METS_WINDOW_MARK_LEVEL 0.1

/* Flags of one lead (lead_flags) and of the window (flags: the OR of its leads' plus the last two). */
enum {
    METS_WINDOW_LEAD_OFF = 1u << 0,  /* the monitor flagged lead-off in the window (those samples are NaN) */
    METS_WINDOW_FLAT = 1u << 1,      /* see METS_WINDOW_FLAT_* */
    METS_WINDOW_SATURATED = 1u << 2, /* see METS_WINDOW_SAT_* */
    METS_WINDOW_INVALID = 1u << 3,   /* see METS_WINDOW_MAX_INVALID_FRAC */
    METS_WINDOW_GAP = 1u << 8,       /* the window contains a bridged gap */
    METS_WINDOW_RESTART = 1u << 9,   /* the first window after a restart of the stream's segment */
};

typedef struct mets_window_params {
    double rate_hz;         /* the model rate */
    double length_s, hop_s; /* 0 < hop_s <= length_s; length_s * rate_hz and hop_s * 1e6 whole numbers */
    double max_gap_s;
    /* How far past a hop's last sample the resampler reads before the hop is resampled (and a window
     * ending there released). Negative: as far as exactness needs (90 samples at the lower of the
     * stream's and the model's rate, 0.9 s for streams at 100 Hz or more), and the output equals
     * continuous resampling within 1e-6. Less: the input beyond is taken as its last sample held, which
     * releases windows that much sooner and changes the last samples of each hop a little. */
    double lookahead_s;
    int max_reorder_frames;
    int max_streams;
} mets_window_params;

/* 100 Hz, 10 s every 2 s, gaps up to 2 s, 8 frames of reordering, 1024 streams: the config's defaults. */
mets_window_params mets_window_default_params(void);

typedef struct mets_window {
    const char *stream_id;
    int64_t start_us, end_us;     /* UTC µs, [start, end); end_us is on the hop grid */
    uint64_t seq_first, seq_last; /* frames of the first and last sample */
    double rate_hz;
    int samples;                  /* per lead: length_s * rate_hz */
    const float *mv;              /* lead l (standard order) at mv + l * samples; NaN: invalid or missing */
    uint16_t present;             /* bit l: lead l is in the stream's frames */
    uint8_t lead_flags[METS_NLEADS];
    unsigned flags;
} mets_window;

/* Counters for metrics; monotonic over the windower's life. */
typedef struct mets_window_stats {
    uint64_t frames_in;
    uint64_t duplicates;      /* seq already consumed, given up on, or held */
    uint64_t reordered;       /* frames that arrived after a higher seq, in time to be put in order */
    uint64_t gaps_bridged;    /* gaps filled with NaN samples */
    uint64_t overlaps;        /* frames starting before the expected time: their overlap dropped */
    uint64_t seq_resets;      /* the monitor restarted its seq numbering */
    uint64_t restarts_gap;    /* segments restarted: gap beyond max_gap_s or time stepped back */
    uint64_t restarts_format; /* segments restarted: rate or lead set changed */
    uint64_t streams_refused; /* frames refused because their stream is beyond max_streams */
    uint64_t windows_out;
    int streams;              /* streams with state now */
} mets_window_stats;

typedef struct mets_windower mets_windower;

/* Called once per window a push completes, in time order per stream. */
typedef void (*mets_window_sink)(const mets_window *win, void *ctx);

/* Returns NULL (and fills err) for parameters out of range or when memory runs out. */
mets_windower *mets_windower_new(const mets_window_params *p, mets_err *err);
void mets_windower_free(mets_windower *w);

/* Consumes frame `f` (decoded and validated) and calls `sink` for every window it completes. Returns 0
 * (also for a duplicate, which is only counted), METS_ENOMEM for a refused stream (stream cap) or failed
 * allocation, METS_EINVAL for a frame outside frame.h's limits or a resampler error. */
int mets_windower_push(mets_windower *w, const mets_frame *f, mets_window_sink sink, void *ctx, mets_err *err);

/* Forgets a stream and frees its state. With a sink, the windows its input completes are emitted first
 * (as at a restart); with NULL nothing is. METS_ENOTFOUND if it has none. */
int mets_windower_drop(mets_windower *w, const char *stream_id, mets_window_sink sink, void *ctx, mets_err *err);

mets_window_stats mets_windower_stats(const mets_windower *w);

#endif
