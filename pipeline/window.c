#include "window.h"

#include <math.h>
#include <soxr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"

/* Input samples per soxr_process call: bounds the interleaving scratch whatever the frame size. */
enum { CHUNK = 512 };
enum { METS_SOXR_LOG2_MIN_DFT = 6, METS_SOXR_LOG2_LARGE_DFT = 8 };
/* Margins of a batch, in samples at the lower of the two rates (the resampling filter's length scales
 * with it): past MARGIN_AFTER, soxr's HQ filter adds less than 1e-6 of the signal to an output sample
 * (measured; zero history or padding beyond it changes nothing above float rounding). The margin after
 * is the exact look-ahead; mets_window_params.lookahead_s may shorten it. */
enum { MARGIN_BEFORE = 100, MARGIN_AFTER = 90 };
/* The most input samples between two batch starts whose output times fall on the output grid. */
#define MAX_PERIOD_S 10
/* Two resamplings of a segment's input: the leads' signals (channel i: lead i), and their conditions (a
 * bridged-gap indicator, then per lead three condition indicators), run only where there are any. */
enum { RS_SIGNAL, RS_COND, RS_N };
enum { CH_GAP = 0, CH_PER_LEAD = 3, CH_INVALID = 0, CH_OFF = 1, CH_SAT = 2 };
/* Bits of a ring sample's condition byte. */
enum { C_INVALID = 1, C_OFF = 2, C_SAT = 4, C_GAP = 8 };

/* A frame held for reordering: a copy whose samples the slot owns. */
typedef struct held {
    mets_frame f;
    size_t cap; /* floats at f.mv */
} held;

/* Where each consumed frame starts in the segment's input, to give output samples their seq. */
typedef struct frame_mark {
    int64_t n0;
    uint64_t seq;
} frame_mark;

/* A batch clears the resampler it uses, so streams share them: soxr's state is megabytes. One per source
 * rate and channel count in use, up to NRESAMPLERS. */
enum { NRESAMPLERS = 16 };
typedef struct resampler {
    double rate;
    int nch;
    soxr_t soxr;
} resampler;

typedef struct stream {
    char id[METS_FRAME_MAX_ID + 1];
    /* sequence */
    int started;
    uint64_t next_seq;
    int64_t last_t0_us;
    held *held; /* max_reorder_frames + 1 slots, nheld used */
    int nheld;
    /* segment: one run of continuous signal at one rate with one lead set */
    int open;              /* a segment is running */
    int64_t period;        /* input samples between output-aligned batch starts */
    int64_t before, after; /* a batch's margins in input samples */
    double rate;
    uint16_t leadmask;
    int nl;
    mets_lead lead[METS_NLEADS]; /* the segment's leads in standard order: soxr channel group i */
    int64_t t0_us, n_in, n_out;  /* n_in counts bridged samples too */
    /* input samples in_base .. n_in - 1, lead i's at in_mv / in_cond + (n - in_base) * nl + i */
    float *in_mv;
    uint8_t *in_cond;
    int64_t in_base, in_cap;
    float hold_val[METS_NLEADS]; /* last valid input, fed in place of invalid ones */
    float sat_val[METS_NLEADS];
    int sat_run[METS_NLEADS];
    int restarted;
    int64_t win_end_us, win_end_k; /* the next window: its end on the grid and in output samples */
    frame_mark *marks;
    int nmarks, marks_cap;
    /* the last `samples` output samples, index k % samples */
    float *ring_mv;    /* [METS_NLEADS][samples] */
    uint8_t *ring_cond; /* [METS_NLEADS][samples] */
    uint64_t *ring_seq; /* [samples] */
} stream;

struct mets_windower {
    mets_window_params p;
    int samples, hop_n;          /* window length in output samples */
    int64_t len_us, hop_us, max_gap_us;
    stream **table;              /* open addressing, linear probing, backward-shift deletion */
    size_t table_mask;
    float *in, *out;             /* soxr interleaving scratch */
    size_t out_frames;
    float *rows_sig, *rows_cond; /* a batch's output, rows_cap samples of each resampler's channels */
    int64_t rows_cap;
    resampler rs[NRESAMPLERS];   /* shared by the streams, reused round robin */
    int rs_next;
    float *win_mv;               /* the window handed to the sink */
    int *dq_min, *dq_max;        /* flat-line detection deques */
    mets_window_stats stats;
    /* the push in progress, so the output path needs no long argument lists */
    mets_window_sink sink;
    void *ctx;
};

mets_window_params mets_window_default_params(void)
{
    mets_window_params p = {.rate_hz = 100, .length_s = 10, .hop_s = 2, .max_gap_s = 2, .lookahead_s = 0,
                            .max_reorder_frames = 8, .max_streams = 1024};
    return p;
}

static int is_whole(double x)
{
    return fabs(x - round(x)) < 1e-6;
}

static int check_params(const mets_window_params *p, mets_err *err)
{
    if (!(p->rate_hz > 0 && p->rate_hz <= METS_FRAME_MAX_RATE_HZ))
        return mets_err_set(err, METS_EINVAL, "window: rate %g Hz out of range", p->rate_hz);
    if (!(p->hop_s > 0 && p->hop_s <= p->length_s && p->length_s <= 600))
        return mets_err_set(err, METS_EINVAL, "window: need 0 < hop_s (%g) <= length_s (%g) <= 600", p->hop_s,
                            p->length_s);
    if (!is_whole(p->length_s * p->rate_hz) || !is_whole(p->hop_s * 1e6) || !is_whole(p->length_s * 1e6))
        return mets_err_set(err, METS_EINVAL, "window: length_s %g at %g Hz is not a whole number of samples",
                            p->length_s, p->rate_hz);
    if (!(p->lookahead_s <= 60))
        return mets_err_set(err, METS_EINVAL, "window: lookahead_s %g out of range", p->lookahead_s);
    if (!(p->max_gap_s >= 0 && p->max_gap_s <= 600) || p->max_reorder_frames < 0 || p->max_reorder_frames > 1024 ||
        p->max_streams < 1 || p->max_streams > 1000000)
        return mets_err_set(err, METS_EINVAL, "window: max_gap_s %g, max_reorder_frames %d or max_streams %d "
                            "out of range", p->max_gap_s, p->max_reorder_frames, p->max_streams);
    return 0;
}

mets_windower *mets_windower_new(const mets_window_params *p, mets_err *err)
{
    if (check_params(p, err))
        return NULL;
    mets_windower *w = calloc(1, sizeof *w);
    if (!w) {
        mets_err_set(err, METS_ENOMEM, "window: out of memory");
        return NULL;
    }
    w->p = *p;
    w->samples = (int)llround(p->length_s * p->rate_hz);
    w->len_us = llround(p->length_s * 1e6), w->hop_us = llround(p->hop_s * 1e6);
    w->max_gap_us = llround(p->max_gap_s * 1e6);
    size_t cap = 2;
    while (cap < 2 * (size_t)p->max_streams) /* at most half full: short probes */
        cap *= 2;
    w->table = calloc(cap, sizeof *w->table);
    w->table_mask = cap - 1;
    int nch = 1 + CH_PER_LEAD * METS_NLEADS; /* the most channels of a resampler */
    /* The most output CHUNK inputs at the lowest source rate give, plus what soxr may have buffered. */
    w->out_frames = (size_t)ceil(CHUNK * p->rate_hz / METS_FRAME_MIN_RATE_HZ) + 1024;
    w->in = malloc((size_t)CHUNK * nch * sizeof *w->in);
    w->out = malloc(w->out_frames * nch * sizeof *w->out);
    w->win_mv = malloc((size_t)METS_NLEADS * w->samples * sizeof *w->win_mv);
    w->dq_min = malloc((size_t)w->samples * sizeof *w->dq_min);
    w->dq_max = malloc((size_t)w->samples * sizeof *w->dq_max);
    if (!w->table || !w->in || !w->out || !w->win_mv || !w->dq_min || !w->dq_max) {
        mets_windower_free(w);
        mets_err_set(err, METS_ENOMEM, "window: out of memory");
        return NULL;
    }
    return w;
}

static void stream_free(stream *st, int nslots)
{
    if (!st)
        return;
    for (int i = 0; i < nslots; i++)
        free(st->held[i].f.mv);
    free(st->held), free(st->marks), free(st->in_mv), free(st->in_cond);
    free(st->ring_mv), free(st->ring_cond), free(st->ring_seq);
    free(st);
}

void mets_windower_free(mets_windower *w)
{
    if (!w)
        return;
    for (size_t i = 0; w->table && i <= w->table_mask; i++)
        stream_free(w->table[i], w->p.max_reorder_frames + 1);
    for (int i = 0; i < NRESAMPLERS; i++)
        soxr_delete(w->rs[i].soxr);
    free(w->table), free(w->in), free(w->out), free(w->rows_sig), free(w->rows_cond);
    free(w->win_mv), free(w->dq_min), free(w->dq_max);
    free(w);
}

mets_window_stats mets_windower_stats(const mets_windower *w)
{
    return w->stats;
}

/* ---- the stream table ---- */

static stream *stream_new(const mets_windower *w, const char *id)
{
    stream *st = calloc(1, sizeof *st);
    if (!st)
        return NULL;
    snprintf(st->id, sizeof st->id, "%s", id);
    st->held = calloc((size_t)w->p.max_reorder_frames + 1, sizeof *st->held);
    st->ring_mv = malloc((size_t)METS_NLEADS * w->samples * sizeof *st->ring_mv);
    st->ring_cond = malloc((size_t)METS_NLEADS * w->samples);
    st->ring_seq = malloc((size_t)w->samples * sizeof *st->ring_seq);
    if (!st->held || !st->ring_mv || !st->ring_cond || !st->ring_seq) {
        stream_free(st, 0);
        return NULL;
    }
    return st;
}

/* The stream of `id`, created if the cap allows; NULL with err filled otherwise. */
static stream *stream_get(mets_windower *w, const char *id, mets_err *err)
{
    size_t i = mets_fnv64_str(id) & w->table_mask;
    for (; w->table[i]; i = (i + 1) & w->table_mask)
        if (!strcmp(w->table[i]->id, id))
            return w->table[i];
    if (w->stats.streams >= w->p.max_streams) {
        w->stats.streams_refused++;
        mets_err_set(err, METS_ENOMEM, "window: stream '%s' refused: stream cap of %d reached", id, w->p.max_streams);
        return NULL;
    }
    if (!(w->table[i] = stream_new(w, id))) {
        mets_err_set(err, METS_ENOMEM, "window: out of memory for stream '%s'", id);
        return NULL;
    }
    w->stats.streams++;
    return w->table[i];
}

static int segment_flush(mets_windower *w, stream *st, mets_err *err);

int mets_windower_drop(mets_windower *w, const char *id, mets_window_sink sink, void *ctx, mets_err *err)
{
    size_t i = mets_fnv64_str(id) & w->table_mask;
    while (w->table[i] && strcmp(w->table[i]->id, id))
        i = (i + 1) & w->table_mask;
    if (!w->table[i])
        return mets_err_set(err, METS_ENOTFOUND, "window: no stream '%s'", id);
    int rc = 0;
    if (sink && w->table[i]->open) {
        w->sink = sink, w->ctx = ctx;
        rc = segment_flush(w, w->table[i], err);
    }
    stream_free(w->table[i], w->p.max_reorder_frames + 1);
    w->table[i] = NULL;
    w->stats.streams--;
    /* Backward shift: move up every later entry of the probe run whose home slot does not lie in
     * (hole, j], so that lookups never stop early at the hole. */
    for (size_t hole = i, j = (i + 1) & w->table_mask; w->table[j]; j = (j + 1) & w->table_mask) {
        size_t home = mets_fnv64_str(w->table[j]->id) & w->table_mask;
        if (((j - home) & w->table_mask) >= ((j - hole) & w->table_mask)) {
            w->table[hole] = w->table[j];
            w->table[j] = NULL;
            hole = j;
        }
    }
    return rc;
}

/* ---- output: rings, windows and their flags ---- */

/* Seq of the frame output sample k falls in; drops marks no later sample can need. */
static uint64_t seq_at(mets_windower *w, stream *st, int64_t k)
{
    double pos = (double)k * st->rate / w->p.rate_hz;
    int drop = 0;
    while (drop + 1 < st->nmarks && st->marks[drop + 1].n0 <= pos)
        drop++;
    if (drop) {
        st->nmarks -= drop;
        memmove(st->marks, st->marks + drop, (size_t)st->nmarks * sizeof *st->marks);
    }
    return st->nmarks ? st->marks[0].seq : 0;
}

/* Whether x[0..n) holds a run of valid samples longer than `run` with peak-to-peak below the flat limit:
 * a sliding min/max (monotonic deques) over the longest flat run ending at each sample. */
static int has_flat_run(mets_windower *w, const float *x, int n, int run)
{
    int *mn = w->dq_min, *mx = w->dq_max, mn0 = 0, mn1 = 0, mx0 = 0, mx1 = 0, lo = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(x[i])) {
            lo = i + 1, mn0 = mn1 = mx0 = mx1 = 0;
            continue;
        }
        while (mn1 > mn0 && x[mn[mn1 - 1]] >= x[i])
            mn1--;
        mn[mn1++] = i;
        while (mx1 > mx0 && x[mx[mx1 - 1]] <= x[i])
            mx1--;
        mx[mx1++] = i;
        while (x[mx[mx0]] - x[mn[mn0]] >= METS_WINDOW_FLAT_MV) {
            lo++;
            mn0 += mn[mn0] < lo, mx0 += mx[mx0] < lo;
        }
        if (i - lo + 1 > run)
            return 1;
    }
    return 0;
}

static unsigned lead_flags(mets_windower *w, const float *x, const uint8_t *cond, int64_t k0)
{
    int n = w->samples, invalid = 0;
    unsigned f = 0, bits = 0;
    for (int j = 0; j < n; j++) {
        invalid += isnan(x[j]);
        bits |= cond[(k0 + j) % n];
    }
    if (bits & C_OFF)
        f |= METS_WINDOW_LEAD_OFF;
    if (bits & C_SAT)
        f |= METS_WINDOW_SATURATED;
    if (invalid > METS_WINDOW_MAX_INVALID_FRAC * n)
        f |= METS_WINDOW_INVALID;
    if (has_flat_run(w, x, n, (int)llround(METS_WINDOW_FLAT_S * w->p.rate_hz)))
        f |= METS_WINDOW_FLAT;
    return f | (bits & C_GAP ? METS_WINDOW_GAP : 0);
}

/* The first window of a segment: the first grid end whose window starts at or after the segment's t0. */
static void first_window(mets_windower *w, stream *st)
{
    int64_t e = st->t0_us + w->len_us, r = e % w->hop_us;
    st->win_end_us = r ? e + (w->hop_us - r) : e;
}

/* Output index just past the window ending at st->win_end_us: its first sample is the first at or after
 * the window's start. */
static void place_window(mets_windower *w, stream *st)
{
    double start = (double)(st->win_end_us - w->len_us - st->t0_us) * w->p.rate_hz / 1e6;
    st->win_end_k = (int64_t)ceil(start - 1e-6) + w->samples;
}

static void emit(mets_windower *w, stream *st)
{
    int n = w->samples;
    int64_t k0 = st->win_end_k - n;
    mets_window win = {.stream_id = st->id, .start_us = st->win_end_us - w->len_us, .end_us = st->win_end_us,
                       .seq_first = st->ring_seq[k0 % n], .seq_last = st->ring_seq[(k0 + n - 1) % n],
                       .rate_hz = w->p.rate_hz, .samples = n, .mv = w->win_mv, .present = st->leadmask,
                       .flags = st->restarted ? METS_WINDOW_RESTART : 0};
    for (int l = 0; l < METS_NLEADS; l++) {
        float *x = w->win_mv + (size_t)l * n;
        const float *ring = st->ring_mv + (size_t)l * n;
        for (int j = 0; j < n; j++)
            x[j] = st->leadmask >> l & 1 ? ring[(k0 + j) % n] : NAN;
        if (st->leadmask >> l & 1) {
            unsigned f = lead_flags(w, x, st->ring_cond + (size_t)l * n, k0);
            win.lead_flags[l] = (uint8_t)(f & 0xff);
            win.flags |= f;
        }
    }
    w->sink(&win, w->ctx);
    w->stats.windows_out++;
    st->restarted = 0;
    st->win_end_us += w->hop_us;
    place_window(w, st);
}

static uint8_t marked(float indicator, uint8_t bits)
{
    return indicator > METS_WINDOW_MARK_LEVEL ? bits : 0;
}

/* Stores output sample st->n_out (its signals, and its condition indicators or NULL: none) in the rings;
 * emits the window it completes. */
static void append_output(mets_windower *w, stream *st, const float *sig, const float *cond)
{
    int n = w->samples;
    int64_t r = st->n_out % n;
    uint8_t gap = cond ? marked(cond[CH_GAP], C_GAP | C_INVALID) : 0;
    for (int i = 0; i < st->nl; i++) {
        const float *c = cond ? cond + 1 + CH_PER_LEAD * i : NULL;
        uint8_t bits = c ? gap | marked(c[CH_INVALID], C_INVALID) | marked(c[CH_OFF], C_OFF) |
                               marked(c[CH_SAT], C_SAT)
                         : 0;
        size_t at = (size_t)st->lead[i] * n + r;
        st->ring_mv[at] = bits & C_INVALID ? NAN : sig[i];
        st->ring_cond[at] = bits;
    }
    st->ring_seq[r] = seq_at(w, st, st->n_out);
    if (++st->n_out == st->win_end_k)
        emit(w, st);
}

/* ---- input: segments, gaps and the resampler ---- */

static int channels(int rs, int nl)
{
    return rs == RS_SIGNAL ? nl : 1 + CH_PER_LEAD * nl;
}

/* Input samples per output sample. */
static double io_ratio(const mets_windower *w, const stream *st)
{
    return st->rate / w->p.rate_hz;
}

/* The first input sample of the batch that starts at output sample n_out: `before` samples ahead of it,
 * moved back to a multiple of the period, where soxr's output grid meets the segment's. */
static int64_t batch_first_input(const mets_windower *w, const stream *st)
{
    int64_t from = (int64_t)floor((double)st->n_out * io_ratio(w, st)) - st->before;
    return from > 0 ? from / st->period * st->period : 0;
}

/* Input samples a batch ending at output sample `end` (exclusive) reads: `after` beyond its last one. */
static int64_t batch_input_end(const mets_windower *w, const stream *st, int64_t end)
{
    return (int64_t)ceil((double)(end - 1) * io_ratio(w, st) - 1e-9) + 1 + st->after;
}

/* The resampler from the stream's rate with `nch` channels, made if needed. */
static soxr_t resampler_get(mets_windower *w, const stream *st, int nch, mets_err *err)
{
    for (int i = 0; i < NRESAMPLERS; i++)
        if (w->rs[i].soxr && w->rs[i].rate == st->rate && w->rs[i].nch == nch)
            return w->rs[i].soxr;
    resampler *r = &w->rs[w->rs_next];
    w->rs_next = (w->rs_next + 1) % NRESAMPLERS;
    soxr_delete(r->soxr);
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0); /* as mets_prep_resample, so both agree */
    /* Small DFT blocks: soxr's defaults suit audio; these hold back less, so a batch pads less. */
    soxr_runtime_spec_t rt = soxr_runtime_spec(1);
    rt.log2_min_dft_size = METS_SOXR_LOG2_MIN_DFT, rt.log2_large_dft_size = METS_SOXR_LOG2_LARGE_DFT;
    soxr_error_t e = NULL;
    *r = (resampler){st->rate, nch, soxr_create(st->rate, w->p.rate_hz, (unsigned)nch, &e, &io, &q, &rt)};
    if (e || !r->soxr) {
        soxr_delete(r->soxr), r->soxr = NULL;
        mets_err_set(err, METS_EINVAL, "window: stream '%s': resampler %g -> %g Hz: %s", st->id, st->rate,
                     w->p.rate_hz, e ? e : "failed");
    }
    return r->soxr;
}

/* Interleaves input samples [from, to) as the channels of resampler `rs` into w->in. */
static void interleave(mets_windower *w, const stream *st, int rs, int64_t from, int64_t to)
{
    size_t nch = (size_t)channels(rs, st->nl);
    for (int64_t n = from; n < to; n++) {
        float *row = w->in + (size_t)(n - from) * nch;
        const float *mv = st->in_mv + (n - st->in_base) * st->nl;
        const uint8_t *cond = st->in_cond + (n - st->in_base) * st->nl;
        if (rs == RS_SIGNAL) {
            memcpy(row, mv, (size_t)st->nl * sizeof *row);
            continue;
        }
        row[CH_GAP] = cond[0] & C_GAP ? 1.0f : 0.0f;
        for (int i = 0; i < st->nl; i++) {
            float *ch = row + 1 + CH_PER_LEAD * i;
            ch[CH_INVALID] = cond[i] & C_INVALID ? 1.0f : 0.0f;
            ch[CH_OFF] = cond[i] & C_OFF ? 1.0f : 0.0f;
            ch[CH_SAT] = cond[i] & C_SAT ? 1.0f : 0.0f;
        }
    }
}

/* Runs `n` interleaved input frames at w->in (n = 0: the end of the input) through resampler `rs`. *k
 * numbers its output: samples n_out .. want - 1 go to the batch's rows, those before lead in. */
static int resample(mets_windower *w, stream *st, int rs, soxr_t r, size_t n, int64_t *k, int64_t want,
                    mets_err *err)
{
    size_t nch = (size_t)channels(rs, st->nl), idone, odone;
    float *rows = rs == RS_SIGNAL ? w->rows_sig : w->rows_cond;
    const float *in = n ? w->in : NULL;
    do {
        soxr_error_t e = soxr_process(r, in, n, &idone, w->out, w->out_frames, &odone);
        if (e)
            return mets_err_set(err, METS_EINVAL, "window: stream '%s': resampling: %s", st->id, e);
        for (size_t j = 0; j < odone && *k < want; j++, ++*k)
            if (*k >= st->n_out)
                memcpy(rows + (size_t)(*k - st->n_out) * nch, w->out + j * nch, nch * sizeof *rows);
        if (in)
            in += idone * nch;
        n -= idone;
    } while (n > 0 || (odone == w->out_frames && *k < want));
    return 0;
}

/* One resampler's part of a batch: input [from, to) through it, cleared; returns the output samples
 * from n_out on it gave (up to `want`), negative on error. */
static int64_t batch_pass(mets_windower *w, stream *st, int rs, int64_t from, int64_t to, int64_t want, int final,
                          mets_err *err)
{
    int64_t k = llround((double)from / io_ratio(w, st));
    soxr_t r = resampler_get(w, st, channels(rs, st->nl), err);
    if (!r)
        return METS_EINVAL;
    soxr_error_t e = soxr_clear(r);
    if (e)
        return mets_err_set(err, METS_EINVAL, "window: stream '%s': resampling: %s", st->id, e);
    for (int64_t n = from; n < to; n += CHUNK) {
        int64_t m = to - n < CHUNK ? to - n : CHUNK;
        interleave(w, st, rs, n, n + m);
        if (resample(w, st, rs, r, (size_t)m, &k, want, err))
            return METS_EINVAL;
    }
    /* soxr's flush is slow (it works through much more than the filter's reach): at the segment's end it
     * is needed, for the count of samples; before that padding does the same, as many samples as soxr
     * holds back. The last input sample held: past the exact margin it makes no difference, and with
     * a shorter look-ahead it does not make a step of the signal's level (zeros would ring). */
    if (final)
        return resample(w, st, rs, r, 0, &k, want, err) ? METS_EINVAL : k - st->n_out;
    size_t nch = (size_t)channels(rs, st->nl);
    interleave(w, st, rs, to - 1, to);
    for (size_t j = 1; j < CHUNK; j++)
        memcpy(w->in + j * nch, w->in, nch * sizeof *w->in);
    for (int64_t pad = 0; k < want && pad < MAX_PERIOD_S * st->rate; pad += CHUNK)
        if (resample(w, st, rs, r, CHUNK, &k, want, err))
            return METS_EINVAL;
    return k - st->n_out;
}

/* Whether a condition bit is set in input [from, to). */
static int any_condition(const stream *st, int64_t from, int64_t to)
{
    const uint8_t *c = st->in_cond + (from - st->in_base) * st->nl;
    size_t n = (size_t)(to - from) * (size_t)st->nl;
    for (size_t i = 0; i < n; i++)
        if (c[i])
            return 1;
    return 0;
}

/* Room for `rows` output samples of a batch. */
static int reserve_rows(mets_windower *w, int64_t rows)
{
    if (rows <= w->rows_cap)
        return 0;
    float *s = realloc(w->rows_sig, (size_t)rows * (size_t)channels(RS_SIGNAL, METS_NLEADS) * sizeof *s);
    if (s)
        w->rows_sig = s;
    float *c = realloc(w->rows_cond, (size_t)rows * (size_t)channels(RS_COND, METS_NLEADS) * sizeof *c);
    if (c)
        w->rows_cond = c;
    if (!s || !c)
        return METS_ENOMEM;
    w->rows_cap = rows;
    return 0;
}

/* Output samples n_out .. end - 1 (end < 0: all the segment's input gives, at its end), resampled in one
 * go from the input around them with cleared resamplers. Each output sample is made once, when the
 * filter can see `after` input samples beyond it, instead of when soxr's block processing would let a
 * stream have it (seconds later); exact margins make it equal to the streamed one up to float rounding.
 * The condition resampler only runs when a condition is in the batch's input: without, its output is 0. */
static int batch(mets_windower *w, stream *st, int64_t end, mets_err *err)
{
    int final = end < 0;
    int64_t from = batch_first_input(w, st), to = final ? st->n_in : batch_input_end(w, st, end);
    int64_t want = final ? st->n_out + (int64_t)ceil((double)(to - from) / io_ratio(w, st)) + 64 : end;
    if (reserve_rows(w, want - st->n_out))
        return mets_err_set(err, METS_ENOMEM, "window: out of memory for stream '%s'", st->id);
    int64_t got = batch_pass(w, st, RS_SIGNAL, from, to, want, final, err);
    if (got < 0)
        return METS_EINVAL;
    int cond = any_condition(st, from, to);
    if (cond && batch_pass(w, st, RS_COND, from, to, st->n_out + got, final, err) != got)
        return mets_err_set(err, METS_EINVAL, "window: stream '%s': resamplers out of step", st->id);
    if (!final && st->n_out + got < end)
        return mets_err_set(err, METS_EINVAL, "window: stream '%s': the resampler gave %lld of %lld samples", st->id,
                            (long long)(st->n_out + got), (long long)end);
    size_t nsig = (size_t)channels(RS_SIGNAL, st->nl), ncond = (size_t)channels(RS_COND, st->nl);
    for (int64_t j = 0; j < got; j++)
        append_output(w, st, w->rows_sig + (size_t)j * nsig, cond ? w->rows_cond + (size_t)j * ncond : NULL);
    return 0;
}

/* Forgets the input no later batch reads. */
static void trim_input(const mets_windower *w, stream *st)
{
    int64_t keep = batch_first_input(w, st), drop = keep - st->in_base;
    if (drop <= 0)
        return;
    size_t left = (size_t)(st->n_in - keep) * (size_t)st->nl;
    memmove(st->in_mv, st->in_mv + drop * st->nl, left * sizeof *st->in_mv);
    memmove(st->in_cond, st->in_cond + drop * st->nl, left);
    st->in_base = keep;
}

/* Resamples and emits every window the input now completes. */
static int produce(mets_windower *w, stream *st, mets_err *err)
{
    while (st->n_in >= batch_input_end(w, st, st->win_end_k))
        if (batch(w, st, st->win_end_k, err))
            return METS_EINVAL;
    trim_input(w, st);
    return 0;
}

/* Room for n more input samples. */
static int reserve_input(stream *st, int64_t n)
{
    int64_t need = st->n_in + n - st->in_base;
    if (need <= st->in_cap)
        return 0;
    int64_t cap = st->in_cap ? st->in_cap : 1024;
    while (cap < need)
        cap *= 2;
    float *mv = realloc(st->in_mv, (size_t)(cap * st->nl) * sizeof *mv);
    if (mv)
        st->in_mv = mv;
    uint8_t *cond = realloc(st->in_cond, (size_t)(cap * st->nl));
    if (cond)
        st->in_cond = cond;
    if (!mv || !cond)
        return METS_ENOMEM;
    st->in_cap = cap;
    return 0;
}

/* Input value of one lead's sample and its condition bits; keeps the hold and saturation state. */
static void input_sample(stream *st, int i, float v, int off, float *mv, uint8_t *cond)
{
    int invalid = off || !isfinite(v);
    if (invalid)
        v = st->hold_val[i];
    else
        st->hold_val[i] = v;
    if (!invalid && v == st->sat_val[i] && fabsf(v) >= METS_WINDOW_SAT_MV)
        st->sat_run[i]++;
    else
        st->sat_val[i] = v, st->sat_run[i] = !invalid;
    *mv = v;
    *cond = (uint8_t)((invalid ? C_INVALID : 0) | (off ? C_OFF : 0) |
                      (st->sat_run[i] >= (int)ceil(METS_WINDOW_SAT_S * st->rate) ? C_SAT : 0));
}

/* Feeds samples [from, to) of `f`, or to - from bridged (invalid) samples when f is NULL. */
static int feed(mets_windower *w, stream *st, const mets_frame *f, int64_t from, int64_t to, mets_err *err)
{
    int col[METS_NLEADS];
    for (int i = 0; f && i < st->nl; i++)
        col[i] = mets_frame_lead_index(f, st->lead[i]);
    if (reserve_input(st, to - from))
        return mets_err_set(err, METS_ENOMEM, "window: out of memory for stream '%s'", st->id);
    for (int64_t j = from; j < to; j++, st->n_in++) {
        size_t at = (size_t)(st->n_in - st->in_base) * (size_t)st->nl;
        for (int i = 0; i < st->nl; i++) {
            input_sample(st, i, f ? f->mv[(size_t)col[i] * f->nsamples + j] : NAN, f && f->lead_off[col[i]],
                         st->in_mv + at + i, st->in_cond + at + i);
            st->in_cond[at + i] |= f ? 0 : C_GAP;
        }
    }
    return produce(w, st, err);
}

static uint16_t lead_mask(const mets_frame *f)
{
    uint16_t m = 0;
    for (int i = 0; i < f->nleads; i++)
        m |= (uint16_t)(1u << f->leads[i]);
    return m;
}

/* Ends the segment: the rest of its input is resampled as at the end of a recording, so the windows it
 * completes are emitted; their last samples see the end of the signal through the filter. */
static int segment_flush(mets_windower *w, stream *st, mets_err *err)
{
    st->open = 0;
    return st->n_in > st->in_base ? batch(w, st, -1, err) : 0;
}

/* The fewest input samples after which output samples fall on input samples again (n * out / in whole):
 * batches start there. 0 when there is none within MAX_PERIOD_S. */
static int64_t output_period(double in_rate, double out_rate)
{
    for (int64_t n = 1; n <= (int64_t)ceil(MAX_PERIOD_S * in_rate); n++) {
        double k = (double)n * out_rate / in_rate;
        if (fabs(k - round(k)) < 1e-6)
            return n;
    }
    return 0;
}

/* Starts a new segment at frame f (ending the one before): a fresh resampler, empty buffers, the first
 * window placed. */
static int segment_start(mets_windower *w, stream *st, const mets_frame *f, mets_err *err)
{
    if (st->open && segment_flush(w, st, err))
        return METS_EINVAL;
    memset(st->hold_val, 0, sizeof st->hold_val);
    memset(st->sat_run, 0, sizeof st->sat_run);
    st->leadmask = lead_mask(f), st->nl = 0;
    for (int l = 0; l < METS_NLEADS; l++)
        if (st->leadmask >> l & 1)
            st->lead[st->nl++] = (mets_lead)l;
    st->rate = f->rate_hz, st->t0_us = f->t0_us, st->n_in = st->n_out = st->in_base = 0, st->nmarks = 0;
    free(st->in_mv), free(st->in_cond); /* sized for the old lead count */
    st->in_mv = NULL, st->in_cond = NULL, st->in_cap = 0;
    if (!(st->period = output_period(st->rate, w->p.rate_hz)))
        return mets_err_set(err, METS_EINVAL, "window: stream '%s': %g Hz does not meet %g Hz within %d s",
                            st->id, st->rate, w->p.rate_hz, MAX_PERIOD_S);
    double lower = fmin(st->rate, w->p.rate_hz);
    int same = st->rate == w->p.rate_hz; /* soxr copies the input then: no filter, no margins */
    st->before = same ? 0 : (int64_t)ceil(MARGIN_BEFORE * st->rate / lower);
    st->after = same ? 0 : (int64_t)ceil(MARGIN_AFTER * st->rate / lower);
    if (w->p.lookahead_s >= 0 && w->p.lookahead_s * st->rate < st->after)
        st->after = (int64_t)ceil(w->p.lookahead_s * st->rate - 1e-9);
    for (int r = 0; r < RS_N; r++) /* refused here rather than at the first batch */
        if (!resampler_get(w, st, channels(r, st->nl), err))
            return METS_EINVAL;
    st->open = 1;
    first_window(w, st);
    place_window(w, st);
    return 0;
}

/* A new segment in place of a running one: its first window says so. */
static int restart(mets_windower *w, stream *st, const mets_frame *f, mets_err *err)
{
    int rc = segment_start(w, st, f, err);
    st->restarted = !rc;
    return rc;
}

static int64_t expected_t0(const stream *st)
{
    return st->t0_us + llround((double)st->n_in * 1e6 / st->rate);
}

/* Decides how frame f continues the segment: returns the number of its leading samples to skip (an
 * overlap), after bridging a gap or restarting the segment as needed; negative on error. */
static int64_t continue_segment(mets_windower *w, stream *st, const mets_frame *f, mets_err *err)
{
    if (!st->open)
        return segment_start(w, st, f, err);
    if (f->rate_hz != st->rate || lead_mask(f) != st->leadmask) {
        w->stats.restarts_format++;
        return restart(w, st, f, err);
    }
    int64_t dev = f->t0_us - expected_t0(st), n = llround((double)llabs(dev) * st->rate / 1e6);
    if (dev > w->max_gap_us || dev < -w->max_gap_us) {
        w->stats.restarts_gap++;
        return restart(w, st, f, err);
    }
    if (dev > METS_WINDOW_T0_JITTER_US) {
        w->stats.gaps_bridged++;
        return feed(w, st, NULL, 0, n, err);
    }
    if (dev < -METS_WINDOW_T0_JITTER_US) {
        w->stats.overlaps++;
        return n;
    }
    return 0;
}

static int mark_frame(stream *st, uint64_t seq)
{
    if (st->nmarks == st->marks_cap) {
        int cap = st->marks_cap ? 2 * st->marks_cap : 16;
        frame_mark *m = realloc(st->marks, (size_t)cap * sizeof *m);
        if (!m)
            return METS_ENOMEM;
        st->marks = m, st->marks_cap = cap;
    }
    st->marks[st->nmarks++] = (frame_mark){st->n_in, seq};
    return 0;
}

/* Consumes f, the next frame of the stream in seq order. */
static int consume(mets_windower *w, stream *st, const mets_frame *f, mets_err *err)
{
    int64_t skip = continue_segment(w, st, f, err);
    if (skip < 0)
        return (int)skip;
    st->next_seq = f->seq + 1, st->last_t0_us = f->t0_us;
    if (skip >= f->nsamples)
        return 0;
    if (mark_frame(st, f->seq))
        return mets_err_set(err, METS_ENOMEM, "window: out of memory for stream '%s'", st->id);
    return feed(w, st, f, skip, f->nsamples, err);
}

/* ---- sequence: duplicates and reordering ---- */

static int held_find(const stream *st, uint64_t seq)
{
    for (int i = 0; i < st->nheld; i++)
        if (st->held[i].f.seq == seq)
            return i;
    return -1;
}

static int hold(stream *st, const mets_frame *f, mets_err *err)
{
    held *h = &st->held[st->nheld];
    size_t n = (size_t)f->nleads * f->nsamples;
    float *mv = h->f.mv;
    if (n > h->cap) {
        if (!(mv = realloc(mv, n * sizeof *mv)))
            return mets_err_set(err, METS_ENOMEM, "window: out of memory holding a frame of '%s'", st->id);
        h->cap = n;
    }
    h->f = *f;
    h->f.mv = mv, h->f.mv_cap = 0;
    memcpy(mv, f->mv, n * sizeof *mv);
    st->nheld++;
    return 0;
}

/* Consumes held frame i and removes it (keeping its buffer in the pool of slots). */
static int release(mets_windower *w, stream *st, int i, mets_err *err)
{
    held h = st->held[i];
    st->held[i] = st->held[--st->nheld];
    st->held[st->nheld] = h;
    return consume(w, st, &h.f, err);
}

/* Consumes held frames while the next one in seq order is among them. */
static int drain(mets_windower *w, stream *st, mets_err *err)
{
    int i, rc = 0;
    while (!rc && (i = held_find(st, st->next_seq)) >= 0)
        rc = release(w, st, i, err);
    return rc;
}

/* Whether f arrives after a held frame of a higher seq: it is being reordered. */
static int arrived_late(const stream *st, const mets_frame *f)
{
    for (int i = 0; i < st->nheld; i++)
        if (st->held[i].f.seq > f->seq)
            return 1;
    return 0;
}

static int lowest_held(const stream *st)
{
    int lo = 0;
    for (int i = 1; i < st->nheld; i++)
        if (st->held[i].f.seq < st->held[lo].f.seq)
            lo = i;
    return lo;
}

/* Holds f, not the next in order (or the next of a stream that has not started: its first frames may
 * arrive out of order too); past the bound the lowest held is consumed and seqs before it given up on. */
static int out_of_order(mets_windower *w, stream *st, const mets_frame *f, mets_err *err)
{
    if (hold(st, f, err))
        return METS_ENOMEM;
    if (st->nheld <= w->p.max_reorder_frames)
        return 0;
    st->started = 1;
    int rc = release(w, st, lowest_held(st), err);
    return rc ? rc : drain(w, st, err);
}

static int check_frame(const mets_frame *f, mets_err *err)
{
    if (f->nleads < 1 || f->nleads > METS_NLEADS || f->nsamples < 1 || f->nsamples > METS_FRAME_MAX_SAMPLES ||
        !(f->rate_hz >= METS_FRAME_MIN_RATE_HZ && f->rate_hz <= METS_FRAME_MAX_RATE_HZ) || !f->mv)
        return mets_err_set(err, METS_EINVAL, "window: stream '%s': frame %llu outside the frame limits", f->stream_id,
                            (unsigned long long)f->seq);
    for (int i = 0; i < f->nleads; i++)
        if ((unsigned)f->leads[i] >= METS_NLEADS)
            return mets_err_set(err, METS_EINVAL, "window: stream '%s': frame %llu: bad lead", f->stream_id,
                                (unsigned long long)f->seq);
    return 0;
}

int mets_windower_push(mets_windower *w, const mets_frame *f, mets_window_sink sink, void *ctx, mets_err *err)
{
    if (check_frame(f, err))
        return METS_EINVAL;
    w->stats.frames_in++;
    stream *st = stream_get(w, f->stream_id, err);
    if (!st)
        return METS_ENOMEM;
    w->sink = sink, w->ctx = ctx;
    if (st->started && f->seq < st->next_seq) {
        if (f->t0_us <= st->last_t0_us) {
            w->stats.duplicates++;
            return 0;
        }
        w->stats.seq_resets++; /* a later time with a lower seq: the monitor restarted its numbering */
        st->nheld = 0;
        st->started = 0;
    }
    if (held_find(st, f->seq) >= 0) {
        w->stats.duplicates++;
        return 0;
    }
    w->stats.reordered += arrived_late(st, f);
    if (!st->started || f->seq != st->next_seq)
        return out_of_order(w, st, f, err);
    int rc = consume(w, st, f, err);
    return rc ? rc : drain(w, st, err);
}
