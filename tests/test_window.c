/* Window assembly (pipeline/window.c): window times on the hop grid, resampling accuracy against the
 * analytic signal and the one-shot resampler, and one scenario per sequence, gap, format and signal
 * condition the stage handles. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "preprocess.h"
#include "window.h"

#define T0 1700000000000000LL /* 2023-11-14, on the 2 s grid */
#define SEC 1000000LL
enum { MAXWIN = 64, MAXFRAME = 2000 };

/* A synthetic monitor: its leads, rate, frame size and where it is in its signal. */
typedef struct monitor {
    const char *id;
    double rate;
    int nleads, frame;
    mets_lead leads[METS_NLEADS];
    int64_t base_us, n; /* the next sample is at base_us + n / rate */
    uint64_t seq;
    float (*signal)(int lead, double t); /* mV at t seconds after T0 */
    uint16_t lead_off;                   /* bit l: frames carry lead-off for lead l */
} monitor;

typedef struct window_copy {
    int64_t start_us, end_us;
    uint64_t seq_first, seq_last;
    unsigned flags;
    uint8_t lead_flags[METS_NLEADS];
    uint16_t present;
    float mv[METS_NLEADS][1000];
} window_copy;

typedef struct windows {
    window_copy w[MAXWIN];
    int n;
} windows;

static void collect(const mets_window *win, void *ctx)
{
    windows *ws = ctx;
    CHECK(win->samples == 1000 && ws->n < MAXWIN, "%d samples, %d windows", win->samples, ws->n);
    if (win->samples != 1000 || ws->n >= MAXWIN)
        return;
    window_copy *c = &ws->w[ws->n++];
    c->start_us = win->start_us, c->end_us = win->end_us;
    c->seq_first = win->seq_first, c->seq_last = win->seq_last;
    c->flags = win->flags, c->present = win->present;
    memcpy(c->lead_flags, win->lead_flags, sizeof c->lead_flags);
    memcpy(c->mv, win->mv, sizeof c->mv);
}

static float ecgish(int lead, double t)
{
    return (float)((0.8 + 0.1 * lead) * sin(2 * M_PI * 1.1 * t + lead) + 0.2 * sin(2 * M_PI * 13 * t));
}

static monitor monitor_make(const char *id, double rate, int frame)
{
    monitor m = {.id = id, .rate = rate, .nleads = 3, .frame = frame, .base_us = T0, .signal = ecgish,
                 .leads = {METS_LEAD_II, METS_LEAD_V1, METS_LEAD_AVR}};
    return m;
}

/* Frame `seq` of `m` starting at sample n, of `ns` samples; buf holds its samples. */
static void make_frame(const monitor *m, int64_t n, int ns, mets_frame *f, float *buf)
{
    memset(f, 0, sizeof *f);
    snprintf(f->stream_id, sizeof f->stream_id, "%s", m->id);
    f->schema_version = 1;
    f->seq = m->seq;
    f->t0_us = m->base_us + llround(n * 1e6 / m->rate);
    f->rate_hz = m->rate;
    f->nleads = m->nleads, f->nsamples = ns, f->mv = buf;
    for (int i = 0; i < m->nleads; i++) {
        f->leads[i] = m->leads[i];
        f->lead_off[i] = m->lead_off >> m->leads[i] & 1;
        for (int j = 0; j < ns; j++)
            buf[i * ns + j] = m->signal(m->leads[i], (f->t0_us - T0) / 1e6 + j / m->rate);
    }
}

static int push_next(mets_windower *w, monitor *m, int ns, windows *ws)
{
    static float buf[METS_NLEADS * MAXFRAME];
    mets_frame f;
    make_frame(m, m->n, ns, &f, buf);
    m->n += ns, m->seq++;
    mets_err err;
    int rc = mets_windower_push(w, &f, collect, ws, &err);
    CHECK(rc == 0, "%s", err.msg);
    return rc;
}

/* Sends `seconds` of signal in frames of m->frame samples. */
static void send(mets_windower *w, monitor *m, double seconds, windows *ws)
{
    int64_t end = m->n + llround(seconds * m->rate);
    while (m->n < end)
        push_next(w, m, (int)(end - m->n < m->frame ? end - m->n : m->frame), ws);
}

static mets_windower *windower_look(int max_reorder, int max_streams, double lookahead_s)
{
    mets_window_params p = mets_window_default_params();
    p.max_reorder_frames = max_reorder, p.max_streams = max_streams, p.lookahead_s = lookahead_s;
    mets_err err;
    mets_windower *w = mets_windower_new(&p, &err);
    CHECK(w, "%s", err.msg);
    return w;
}

/* With the default look-ahead (0: a window comes out as soon as the input under its last sample is in). */
static mets_windower *windower(int max_reorder, int max_streams)
{
    return windower_look(max_reorder, max_streams, mets_window_default_params().lookahead_s);
}

static int count_nan(const float *x, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += isnan(x[i]);
    return k;
}

static void clean_stream_gives_windows_at_exact_hops(void)
{
    mets_windower *w = windower(8, 4);
    monitor m = monitor_make("bed-1", 250, 50);
    static windows ws;
    ws.n = 0;
    send(w, &m, 20, &ws);
    /* with no look-ahead the window ending at 20 s is out too */
    CHECK(ws.n == 6, "%d windows from 20 s", ws.n);
    for (int i = 0; i < ws.n; i++) {
        window_copy *c = &ws.w[i];
        CHECK(c->end_us == T0 + (10 + 2 * i) * SEC && c->start_us == c->end_us - 10 * SEC, "window %d: %lld..%lld",
              i, (long long)c->start_us, (long long)c->end_us);
        /* sample j at start + j/100 s falls in frame (start - T0 + j/100) * 250 / 50 */
        CHECK(c->seq_first == (uint64_t)(2 * i * 5) && c->seq_last == (uint64_t)((10 + 2 * i) * 5 - 1),
              "window %d: seq %llu..%llu", i, (unsigned long long)c->seq_first, (unsigned long long)c->seq_last);
        CHECK(c->flags == 0 && c->present == (1u << METS_LEAD_II | 1u << METS_LEAD_V1 | 1u << METS_LEAD_AVR),
              "flags %#x present %#x", c->flags, c->present);
        CHECK(count_nan(c->mv[METS_LEAD_II], 1000) == 0 && count_nan(c->mv[METS_LEAD_I], 1000) == 1000);
    }
    mets_window_stats s = mets_windower_stats(w);
    CHECK(s.frames_in == 100 && s.windows_out == (uint64_t)ws.n && s.streams == 1 && s.duplicates == 0 &&
          s.restarts_gap == 0 && s.reordered == 0);
    mets_windower_free(w);
}

static float sine73(int lead, double t)
{
    return (float)sin(2 * M_PI * 7.3 * t + lead);
}

/* The worst error of a window's lead II against the analytic signal and against `oneshot` (the whole
 * signal resampled at once, sample 0 at T0); edge: the same within the last `tail` samples of each hop
 * (where a short look-ahead holds the input), which the others leave out. */
static void window_errors(const window_copy *c, const float *oneshot, int tail, double *vs_sine, double *vs_oneshot,
                          double *edge)
{
    int64_t k0 = (c->start_us - T0) / 10000;
    for (int j = 0; j < 1000; j++) {
        double t = (c->start_us - T0) / 1e6 + j / 100.0, x = c->mv[METS_LEAD_II][j];
        double e = fabs(x - oneshot[k0 + j]);
        if ((k0 + j) % 200 >= 200 - tail) {
            *edge = fmax(*edge, e);
            continue;
        }
        *vs_sine = fmax(*vs_sine, fabs(x - sine73(METS_LEAD_II, t)));
        *vs_oneshot = fmax(*vs_oneshot, e);
    }
}

/* Exact look-ahead: every sample as continuous resampling gives it. None: within 1e-3 of it but for the
 * last 0.2 s of each hop, which stay within 6 % of this 7.3 Hz sine's amplitude. */
static void streamed_resampling_matches_the_analytic_signal_and_oneshot(void)
{
    static const double rates[] = {360, 250, 500, 128, 1000, 100};
    static windows ws;
    for (int look = 0; look < 2; look++)
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        mets_windower *w = windower_look(8, 4, look ? 0 : -1);
        monitor m = monitor_make("bed-1", rates[r], 1);
        m.signal = sine73;
        ws.n = 0;
        while (m.n < 36 * m.rate) /* frames of random sizes, 1 sample to 1.6 s */
            push_next(w, &m, mets_test_randint(1, (int)(1.6 * m.rate)), &ws);
        int n_in = (int)m.n;
        float *x = malloc(n_in * sizeof *x), *y = malloc(3600 * sizeof *y);
        for (int i = 0; i < n_in; i++)
            x[i] = sine73(METS_LEAD_II, i / m.rate);
        mets_err err;
        CHECK(mets_prep_resample(x, n_in, m.rate, 100, y, 3600, &err) == 3600, "%s", err.msg);
        double vs_sine = 0, vs_oneshot = 0, edge = 0;
        for (int i = 1; i < ws.n; i++) /* the first window holds the resampler's start-up transient */
            window_errors(&ws.w[i], y, look ? 20 : 0, &vs_sine, &vs_oneshot, &edge);
        CHECK(ws.n >= 10, "%g Hz: %d windows", m.rate, ws.n);
        double tol = look ? 1e-3 : 1e-4;
        CHECK(vs_sine < tol && vs_oneshot < tol, "%g Hz, look-ahead %s: error %g vs sine, %g vs one-shot", m.rate,
              look ? "0" : "exact", vs_sine, vs_oneshot);
        CHECK(edge < 0.06, "%g Hz: error %g in the last 0.2 s of a hop", m.rate, edge);
        free(x), free(y);
        mets_windower_free(w);
    }
}

/* The windows of `a` and `b` are the same: times, seqs, flags and samples. */
static void check_same_windows(const windows *a, const windows *b)
{
    CHECK(a->n == b->n, "%d vs %d windows", a->n, b->n);
    for (int i = 0; i < a->n && i < b->n; i++)
        CHECK(a->w[i].end_us == b->w[i].end_us && a->w[i].seq_first == b->w[i].seq_first &&
                  a->w[i].seq_last == b->w[i].seq_last && a->w[i].flags == b->w[i].flags &&
                  !memcmp(a->w[i].mv, b->w[i].mv, sizeof a->w[i].mv),
              "window %d differs", i);
}

/* Where the signal stood (seconds after T0) when each window came out. */
typedef struct emitted {
    windows ws;
    double received_s, at_s[MAXWIN];
} emitted;

static void collect_when(const mets_window *win, void *ctx)
{
    emitted *e = ctx;
    if (e->ws.n < MAXWIN)
        e->at_s[e->ws.n] = e->received_s;
    collect(win, &e->ws);
}

/* Sends 30 s at `rate` in frames of `frame` samples. */
static void send_timed(double rate, int frame, double lookahead_s, emitted *e)
{
    static float buf[METS_NLEADS * MAXFRAME];
    mets_windower *w = windower_look(0, 4, lookahead_s);
    monitor m = monitor_make("bed-1", rate, frame);
    e->ws.n = 0;
    while (m.n < 30 * rate) {
        mets_frame f;
        make_frame(&m, m.n, frame, &f, buf);
        m.n += frame, m.seq++;
        e->received_s = m.n / rate;
        mets_err err;
        CHECK(mets_windower_push(w, &f, collect_when, e, &err) == 0, "%s", err.msg);
    }
    mets_windower_free(w);
}

static void windows_come_out_once_the_filter_has_seen_past_their_end(void)
{
    /* exact: the resampling filter reaches 0.9 s (90 samples at the lower rate) past an output sample;
     * otherwise the look-ahead, and upsampling needs the input sample after the window's last one; at
     * the model rate there is no filter */
    static const double rates[] = {360, 257, 250, 100, 50}, looks[] = {-1, 0.1, 0};
    static emitted one, quarter;
    for (size_t a = 0; a < sizeof looks / sizeof looks[0]; a++)
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        double reach = rates[r] == 100 ? 0 : looks[a] >= 0 ? looks[a] + (rates[r] < 100 ? 0.02 : 0)
                     : rates[r] < 100 ? 1.8 : 0.9;
        send_timed(rates[r], 1, looks[a], &one);
        CHECK(one.ws.n == (reach > 0 ? 10 : 11), "%g Hz, look-ahead %g: %d windows from 30 s", rates[r], looks[a],
              one.ws.n);
        for (int i = 0; i < one.ws.n; i++) {
            double held = one.at_s[i] - (one.ws.w[i].end_us - T0) / 1e6;
            CHECK(held > reach - 0.02 && held < reach + 0.03, "%g Hz, look-ahead %g: window %d out %.3f s after its end",
                  rates[r], looks[a], i, held);
        }
        /* each output sample is resampled once, from the same input whatever the frames: the same samples
         * (where sample times are whole µs, so that the frames' t0 give the monitor the same signal) */
        if (fmod(1e6, rates[r]) != 0)
            continue;
        send_timed(rates[r], (int)(rates[r] / 4), looks[a], &quarter);
        CHECK(quarter.ws.n == one.ws.n, "%g Hz: %d vs %d windows", rates[r], quarter.ws.n, one.ws.n);
        for (int i = 0; i < one.ws.n && i < quarter.ws.n; i++)
            CHECK(one.ws.w[i].end_us == quarter.ws.w[i].end_us &&
                      !memcmp(one.ws.w[i].mv, quarter.ws.w[i].mv, sizeof one.ws.w[i].mv),
                  "%g Hz, look-ahead %g: window %d differs", rates[r], looks[a], i);
    }
}

static void reference_windows(windows *ref, double seconds)
{
    mets_windower *w = windower(8, 4);
    monitor m = monitor_make("bed-1", 250, 50);
    ref->n = 0;
    send(w, &m, seconds, ref);
    mets_windower_free(w);
}

/* Pushes frame `seq` (frames of 50 samples) of the reference monitor. */
static void push_seq(mets_windower *w, uint64_t seq, windows *ws)
{
    monitor m = monitor_make("bed-1", 250, 50);
    m.seq = seq, m.n = (int64_t)seq * 50;
    push_next(w, &m, 50, ws);
}

static void duplicates_are_dropped_and_counted(void)
{
    static windows ref, ws;
    reference_windows(&ref, 19.2);
    mets_windower *w = windower(8, 4);
    ws.n = 0;
    for (uint64_t s = 0; s < 96; s++) {
        push_seq(w, s, &ws);
        push_seq(w, s, &ws);  /* at-least-once delivery: the same frame again */
        if (s > 10)
            push_seq(w, s - 10, &ws); /* and an old one */
    }
    check_same_windows(&ref, &ws);
    mets_window_stats s = mets_windower_stats(w);
    CHECK(s.frames_in == 96 * 2 + 85 && s.duplicates == 96 + 85 && s.reordered == 0, "%llu in, %llu duplicates",
          (unsigned long long)s.frames_in, (unsigned long long)s.duplicates);
    mets_windower_free(w);
}

static void reordering_within_the_bound_is_undone(void)
{
    static windows ref, ws;
    reference_windows(&ref, 19.2);
    mets_windower *w = windower(8, 4);
    ws.n = 0;
    for (uint64_t s = 0; s < 96; s += 8) /* every block of 8 frames arrives backwards */
        for (int j = 7; j >= 0; j--)
            push_seq(w, s + j, &ws);
    check_same_windows(&ref, &ws);
    mets_window_stats s = mets_windower_stats(w);
    CHECK(s.reordered == 12 * 7 && s.gaps_bridged == 0 && s.duplicates == 0, "%llu reordered",
          (unsigned long long)s.reordered);
    mets_windower_free(w);
}

static void reordering_beyond_the_bound_gives_up_the_missing_frame(void)
{
    static windows ws;
    mets_windower *w = windower(2, 4);
    ws.n = 0;
    for (uint64_t s = 0; s < 100; s++) {
        if (s == 24) /* frame 20 comes after 3 later ones: too late, it was bridged over */
            push_seq(w, 20, &ws);
        if (s != 20)
            push_seq(w, s, &ws);
    }
    mets_window_stats s = mets_windower_stats(w);
    CHECK(s.reordered == 0 && s.gaps_bridged == 1 && s.duplicates == 1, "%llu reordered %llu gaps %llu dups",
          (unsigned long long)s.reordered, (unsigned long long)s.gaps_bridged, (unsigned long long)s.duplicates);
    CHECK(ws.n >= 3 && ws.w[0].flags == (METS_WINDOW_GAP) && ws.w[1].flags == METS_WINDOW_GAP,
          "%d windows, flags %#x", ws.n, ws.w[0].flags);
    /* frame 20 is 4.0..4.2 s: 20 samples at 100 Hz, a few more where the resampler mixes them in */
    int nan = count_nan(ws.w[0].mv[METS_LEAD_V1], 1000);
    CHECK(nan >= 20 && nan <= 26 && isnan(ws.w[0].mv[METS_LEAD_V1][410]) && !isnan(ws.w[0].mv[METS_LEAD_V1][390]),
          "%d NaN", nan);
    mets_windower_free(w);
}

static void short_gap_is_bridged_with_nan(void)
{
    static windows ws;
    mets_windower *w = windower(8, 4);
    monitor m = monitor_make("bed-1", 250, 50);
    ws.n = 0;
    send(w, &m, 5, &ws);
    m.n += 250, m.seq += 5; /* 1 s (5 frames) lost */
    send(w, &m, 14, &ws);
    mets_window_stats s = mets_windower_stats(w);
    CHECK(s.gaps_bridged == 1 && s.restarts_gap == 0 && ws.n >= 3, "%d windows", ws.n);
    CHECK(ws.w[0].end_us == T0 + 10 * SEC && ws.w[0].flags == METS_WINDOW_GAP, "flags %#x", ws.w[0].flags);
    int nan = count_nan(ws.w[0].mv[METS_LEAD_II], 1000);
    CHECK(nan >= 100 && nan <= 106 && isnan(ws.w[0].mv[METS_LEAD_II][550]), "%d NaN", nan);
    CHECK(ws.w[0].seq_first == 0 && ws.w[0].seq_last == 49, "seq %llu", (unsigned long long)ws.w[0].seq_last);
    mets_windower_free(w);
}

static void long_gap_restarts_the_window(void)
{
    static windows ws;
    mets_windower *w = windower(8, 4);
    monitor m = monitor_make("bed-1", 250, 50);
    ws.n = 0;
    send(w, &m, 12, &ws);
    m.n += llround(5.5 * 250), m.seq += 7; /* 5.5 s lost, more than max_gap_s */
    send(w, &m, 16, &ws);
    mets_window_stats s = mets_windower_stats(w);
    CHECK(s.restarts_gap == 1 && s.gaps_bridged == 0 && ws.n >= 3, "%d windows", ws.n);
    /* the resampler's flush completes the window ending at 12 s; the restart is at 17.5 s: the first
     * window after it starts at 18 s */
    CHECK(ws.w[1].end_us == T0 + 12 * SEC && ws.w[1].flags == 0, "flags %#x", ws.w[1].flags);
    CHECK(ws.w[2].end_us == T0 + 28 * SEC && ws.w[2].flags == METS_WINDOW_RESTART, "end %lld flags %#x",
          (long long)(ws.w[2].end_us - T0), ws.w[2].flags);
    CHECK(count_nan(ws.w[2].mv[METS_LEAD_II], 1000) == 0);
    mets_windower_free(w);
}

static void rate_change_restarts_the_stream(void)
{
    static windows ws;
    mets_windower *w = windower_look(8, 4, -1); /* exact: the samples are checked against the signal */
    monitor m = monitor_make("bed-1", 250, 50);
    ws.n = 0;
    send(w, &m, 11, &ws);
    m.base_us += 11 * SEC, m.n = 0, m.rate = 500, m.frame = 100;
    send(w, &m, 16, &ws);
    mets_window_stats s = mets_windower_stats(w);
    CHECK(s.restarts_format == 1 && ws.n >= 2 && ws.w[0].end_us == T0 + 10 * SEC && ws.w[0].flags == 0,
          "%d windows", ws.n);
    CHECK(ws.w[1].start_us == T0 + 12 * SEC && ws.w[1].flags == METS_WINDOW_RESTART, "flags %#x", ws.w[1].flags);
    double worst = 0;
    for (int j = 100; j < 1000; j++)
        worst = fmax(worst, fabs(ws.w[1].mv[METS_LEAD_V1][j] - ecgish(METS_LEAD_V1, 12 + j / 100.0)));
    CHECK(worst < 2e-3, "error %g at 500 Hz", worst);
    mets_windower_free(w);
}

static void lead_set_change_restarts_the_stream(void)
{
    static windows ws;
    mets_windower *w = windower(8, 4);
    monitor m = monitor_make("bed-1", 250, 50);
    ws.n = 0;
    send(w, &m, 11, &ws);
    m.nleads = 2; /* aVR no longer sent */
    send(w, &m, 16, &ws);
    mets_window_stats s = mets_windower_stats(w);
    CHECK(s.restarts_format == 1 && ws.n >= 2 && ws.w[0].end_us == T0 + 10 * SEC && ws.w[0].flags == 0,
          "%d windows", ws.n);
    CHECK(ws.w[1].flags == METS_WINDOW_RESTART && ws.w[1].present == (1u << METS_LEAD_II | 1u << METS_LEAD_V1) &&
              count_nan(ws.w[1].mv[METS_LEAD_AVR], 1000) == 1000,
          "present %#x", ws.w[1].present);
    mets_windower_free(w);
}

/* Sends 30 s with m->lead_off = `off` from 12.4 to 13.6 s (the signal may do its own thing then), and
 * checks lead `lead` is flagged `flag` in exactly the windows that hold that time (ends 14..22 s) and no
 * other lead ever is. */
static void check_flag_in_windows(mets_windower *w, monitor *m, int lead, unsigned flag, uint16_t off)
{
    static windows ws;
    ws.n = 0;
    send(w, m, 12.4, &ws);
    m->lead_off = off;
    send(w, m, 1.2, &ws);
    m->lead_off = 0;
    send(w, m, 16.4, &ws);
    CHECK(ws.n >= 9, "%d windows", ws.n);
    for (int i = 0; i < ws.n; i++) {
        int64_t end = (ws.w[i].end_us - T0) / SEC;
        unsigned want = end >= 14 && end <= 22 ? flag : 0;
        CHECK(ws.w[i].lead_flags[lead] == want && ws.w[i].flags == want,
              "window ending at %lld s: lead flags %#x, flags %#x", (long long)end, ws.w[i].lead_flags[lead],
              ws.w[i].flags);
        for (int l = 0; l < METS_NLEADS; l++)
            CHECK(l == lead || ws.w[i].lead_flags[l] == 0, "lead %d flagged %#x", l, ws.w[i].lead_flags[l]);
    }
}

static void lead_off_is_flagged_on_its_lead(void)
{
    mets_windower *w = windower(8, 4);
    monitor m = monitor_make("bed-1", 250, 50);
    check_flag_in_windows(w, &m, METS_LEAD_V1, METS_WINDOW_LEAD_OFF, 1u << METS_LEAD_V1);
    mets_windower_free(w);
}

static float flat_ii(int lead, double t)
{
    if (lead == METS_LEAD_II && t >= 11.5 && t < 14.5) /* 3 s of a still line with 0.01 mV of noise */
        return 0.3f + 0.004f * (float)sin(2 * M_PI * 9 * t);
    return ecgish(lead, t);
}

static void flat_line_is_flagged(void)
{
    mets_windower *w = windower(8, 4);
    monitor m = monitor_make("bed-1", 250, 50);
    m.signal = flat_ii;
    /* flat over more than 2 s of the window: windows ending 14 .. 22 s hold it (ends at 24 s hold 1.5 s) */
    static windows ws;
    ws.n = 0;
    send(w, &m, 30, &ws);
    for (int i = 0; i < ws.n; i++) {
        int64_t end = (ws.w[i].end_us - T0) / SEC;
        unsigned want = end >= 14 && end <= 22 ? METS_WINDOW_FLAT : 0;
        CHECK(ws.w[i].lead_flags[METS_LEAD_II] == want && ws.w[i].flags == want, "end %lld s: flags %#x",
              (long long)end, ws.w[i].lead_flags[METS_LEAD_II]);
    }
    CHECK(ws.n >= 9, "%d windows", ws.n);
    mets_windower_free(w);
}

static float clipped_v1(int lead, double t)
{
    float x = 3.0f * (float)sin(2 * M_PI * t + 0.3);
    if (lead == METS_LEAD_V1 && t >= 12.4 && t < 13.6) /* the ADC clips at +-2.5 mV: 190 ms at the rail */
        return fminf(fmaxf(x, -2.5f), 2.5f);
    return x;
}

static void saturation_is_flagged(void)
{
    mets_windower *w = windower(8, 4);
    monitor m = monitor_make("bed-1", 250, 50);
    m.signal = clipped_v1;
    check_flag_in_windows(w, &m, METS_LEAD_V1, METS_WINDOW_SATURATED, 0);
    mets_windower_free(w);
}

static void streams_beyond_the_cap_are_refused(void)
{
    static windows ws;
    mets_windower *w = windower(8, 2);
    static const char *const ids[] = {"bed-1", "bed-2", "bed-3"};
    monitor m[3];
    ws.n = 0;
    for (int i = 0; i < 3; i++)
        m[i] = monitor_make(ids[i], 250, 50);
    static float buf[METS_NLEADS * MAXFRAME];
    mets_frame f;
    mets_err err;
    for (int k = 0; k < 80; k++)
        for (int i = 0; i < 3; i++) {
            make_frame(&m[i], m[i].n, 50, &f, buf);
            m[i].n += 50, m[i].seq++;
            int rc = mets_windower_push(w, &f, collect, &ws, &err);
            CHECK(rc == (i == 2 ? METS_ENOMEM : 0), "stream %d: rc %d", i, rc);
            CHECK(i < 2 || strstr(err.msg, "stream cap"), "%s", err.msg);
        }
    mets_window_stats s = mets_windower_stats(w);
    CHECK(s.streams == 2 && s.streams_refused == 80 && s.frames_in == 240 && ws.n >= 4, "%d windows", ws.n);
    mets_windower_free(w);
}

static void dropped_streams_free_their_place(void)
{
    static windows ws;
    enum { N = 300 };
    mets_windower *w = windower(0, N);
    static float buf[METS_NLEADS * MAXFRAME];
    static monitor m[N];
    mets_frame f;
    mets_err err;
    char ids[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "bed-%d", i);
        m[i] = monitor_make(ids[i], 250, 50);
        make_frame(&m[i], 0, 50, &f, buf);
        CHECK(mets_windower_push(w, &f, collect, &ws, &err) == 0, "%s", err.msg);
    }
    /* every third stream goes: the probe runs of those left must still lead to them */
    for (int i = 0; i < N; i += 3)
        CHECK(mets_windower_drop(w, ids[i], NULL, NULL, &err) == 0 &&
              mets_windower_drop(w, ids[i], NULL, NULL, &err) == METS_ENOTFOUND, "%s", ids[i]);
    CHECK(mets_windower_stats(w).streams == N - N / 3, "%d streams", mets_windower_stats(w).streams);
    for (int i = 0; i < N; i++) {
        m[i].seq = 1;
        make_frame(&m[i], 50, 50, &f, buf);
        CHECK(mets_windower_push(w, &f, collect, &ws, &err) == 0, "%s", err.msg);
    }
    /* the dropped ones came back as new streams, the others were found: the count is whole again */
    mets_window_stats s = mets_windower_stats(w);
    CHECK(s.streams == N && s.streams_refused == 0 && s.duplicates == 0, "%d streams", s.streams);
    mets_windower_free(w);
}

static void seq_counter_restart_continues_the_window(void)
{
    static windows ref, ws;
    reference_windows(&ref, 19.2);
    mets_windower *w = windower(8, 4);
    monitor m = monitor_make("bed-1", 250, 50);
    ws.n = 0;
    send(w, &m, 6, &ws);
    m.seq = 0; /* the monitor rebooted its counter, not its clock */
    send(w, &m, 13.2, &ws);
    mets_window_stats s = mets_windower_stats(w);
    CHECK(s.seq_resets == 1 && s.duplicates == 0 && s.restarts_gap == 0 && ws.n == ref.n, "%d windows", ws.n);
    CHECK(ws.n > 0 && !memcmp(ws.w[0].mv, ref.w[0].mv, sizeof ws.w[0].mv) && ws.w[0].seq_last == 19);
    mets_windower_free(w);
}

static void bad_parameters_are_refused(void)
{
    mets_window_params p = mets_window_default_params();
    p.hop_s = 12;
    mets_err err;
    CHECK(!mets_windower_new(&p, &err) && strstr(err.msg, "hop_s"), "%s", err.msg);
    p = mets_window_default_params();
    p.length_s = 10.005;
    CHECK(!mets_windower_new(&p, &err) && strstr(err.msg, "whole number"), "%s", err.msg);
}

int main(void)
{
    RUN(clean_stream_gives_windows_at_exact_hops);
    RUN(streamed_resampling_matches_the_analytic_signal_and_oneshot);
    RUN(windows_come_out_once_the_filter_has_seen_past_their_end);
    RUN(duplicates_are_dropped_and_counted);
    RUN(reordering_within_the_bound_is_undone);
    RUN(reordering_beyond_the_bound_gives_up_the_missing_frame);
    RUN(short_gap_is_bridged_with_nan);
    RUN(long_gap_restarts_the_window);
    RUN(rate_change_restarts_the_stream);
    RUN(lead_set_change_restarts_the_stream);
    RUN(lead_off_is_flagged_on_its_lead);
    RUN(flat_line_is_flagged);
    RUN(saturation_is_flagged);
    RUN(streams_beyond_the_cap_are_refused);
    RUN(dropped_streams_free_their_place);
    RUN(seq_counter_restart_continues_the_window);
    RUN(bad_parameters_are_refused);
    return mets_test_summary();
}
