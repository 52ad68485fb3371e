/* Recovery (pipeline/recovery.c) with the real windower and alerter, as metsd drives them: one frames
 * partition of three interleaved streams (250, 360 and 500 Hz, one with a long gap) is processed with a
 * checkpoint ("commit") every K frames and crashes at random points; after each crash a new incarnation
 * restores the committed state records, seeks to the start offset and goes on. The committed outputs must
 * equal those of an uninterrupted run: every window and every alert event exactly once, window samples
 * bit for bit. Also: idle streams stop holding the restart
 * point, bad records are refused, and the start offset without state. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alert.h"
#include "harness.h"
#include "mets.pb-c.h"
#include "recovery.h"
#include "window.h"

#define T0 1700000000000000LL
#define SEC 1000000LL
enum { NSTREAMS = 3, MAXFRAMES = 2000, MAXOUT = 400, MAXREC = 20000, SAMPLES = 1000 };

static const char *const ids[NSTREAMS] = {"bed-250", "bed-360", "bed-500"};
static const double rates[NSTREAMS] = {250, 360, 500};
static const int frame_len[NSTREAMS] = {50, 90, 100};
static const double seconds = 70;

/* The partition: frame `offset` is frame `index` of stream `stream`. */
static struct {
    int stream, index;
} order[MAXFRAMES];
static int nframes;

static float signal_mv(int s, int lead, double t)
{
    double amp = 1 + 0.8 * sin(2 * M_PI * t / 30 + s); /* slow swings make the test label rise and fall */
    return (float)(amp * sin(2 * M_PI * 1.3 * t + lead) + 0.1 * sin(2 * M_PI * 17 * t + s));
}

/* Stream 1 has a 20 s gap (a restart of its segment) from 30 s on. */
static bool in_gap(int s, double t)
{
    return s == 1 && t >= 30 && t < 50;
}

static void build_order(void)
{
    int next[NSTREAMS] = {0};
    nframes = 0;
    for (;;) { /* merge by t0: the broker sees the streams interleaved */
        int best = -1;
        double bt = 0;
        for (int s = 0; s < NSTREAMS; s++) {
            double t = next[s] * frame_len[s] / rates[s];
            while (in_gap(s, t))
                t = ++next[s] * frame_len[s] / rates[s];
            if (t < seconds && (best < 0 || t < bt))
                best = s, bt = t;
        }
        if (best < 0 || nframes == MAXFRAMES)
            break;
        order[nframes].stream = best, order[nframes].index = next[best]++;
        nframes++;
    }
}

static void frame_at(int offset, mets_frame *f, float *buf)
{
    int s = order[offset].stream, k = order[offset].index, ns = frame_len[s];
    memset(f, 0, sizeof *f);
    snprintf(f->stream_id, sizeof f->stream_id, "%s", ids[s]);
    f->schema_version = 1, f->seq = (uint64_t)k, f->rate_hz = rates[s];
    /* bed-500's monitor clock is 7 min fast: idleness must go by Kafka timestamps (arrival), not t0 */
    f->t0_us = T0 + llround((double)k * ns * 1e6 / rates[s]) + (s == 2 ? 7 * 60 * SEC : 0);
    f->nleads = 2, f->nsamples = ns, f->mv = buf;
    f->leads[0] = METS_LEAD_II, f->leads[1] = METS_LEAD_V1;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < ns; j++)
            buf[i * ns + j] = signal_mv(s, i, (double)(k * ns + j) / rates[s]);
}

/* ---- outputs and the state log ---- */

typedef struct out_window {
    char stream[16];
    int64_t end_us;
    float ii[SAMPLES];
} out_window;

typedef struct out_alert {
    char id[33], stream[16];
    int state;
    int64_t end_us;
} out_alert;

typedef struct outputs {
    out_window w[MAXOUT];
    out_alert a[MAXOUT];
    int nw, na;
} outputs;

typedef struct record {
    uint8_t key[130], value[1024];
    size_t klen, vlen; /* vlen 0: tombstone */
} record;

static record log_committed[MAXREC], log_pending[MAXREC / 10];
static int ncommitted, npending;

/* One incarnation of the daemon's partition pipeline. */
typedef struct incarnation {
    mets_recovery *rec;
    mets_windower *win;
    mets_alerter *alerter;
    outputs pending;
    int swept;
} incarnation;

static outputs committed_out, reference_out;

static mets_alerter *make_alerter(void)
{
    static const mets_alert_policy pol = {.enabled = true, .raise_k = 2, .raise_n = 3, .raise_probability = 0.6,
                                          .clear_m = 2, .clear_probability = 0.4, .realert_interval_s = 7,
                                          .priority = METS_PRIORITY_HIGH};
    mets_alert_label lab[2] = {{"g", "BIG", &pol}, {"g", "SMALL", &pol}};
    mets_alert_params p = mets_alert_default_params();
    mets_err err;
    mets_alerter *a = mets_alerter_new(&p, lab, 2, &err);
    CHECK(a, "%s", err.msg);
    return a;
}

static void on_window(const mets_window *win, void *ctx)
{
    incarnation *inc = ctx;
    if (!mets_recovery_window_due(inc->rec, win->stream_id, win->end_us))
        return;
    const float *ii = win->mv + (size_t)METS_LEAD_II * win->samples;
    double ss = 0;
    for (int j = 0; j < win->samples; j++)
        ss += isnan(ii[j]) ? 0 : (double)ii[j] * ii[j];
    float big = (float)fmin(1, fmax(0, (sqrt(ss / win->samples) - 0.5) / 0.6)), prob[2] = {big, 1 - big};
    mets_scored_window sw = {win->stream_id, win->start_us, win->end_us, prob, prob, 0};
    mets_alert_event ev[8];
    mets_err err;
    int n = mets_alerter_push(inc->alerter, &sw, ev, 8, &err);
    CHECK(n >= 0, "%s", err.msg);
    outputs *o = &inc->pending;
    for (int i = 0; i < n && o->na < MAXOUT; i++) {
        out_alert *a = &o->a[o->na++];
        memcpy(a->id, ev[i].id, sizeof a->id);
        snprintf(a->stream, sizeof a->stream, "%.15s", ev[i].stream_id);
        a->state = ev[i].state, a->end_us = ev[i].window_end_us;
    }
    if (o->nw < MAXOUT) {
        out_window *w = &o->w[o->nw++];
        snprintf(w->stream, sizeof w->stream, "%.15s", win->stream_id);
        w->end_us = win->end_us;
        memcpy(w->ii, ii, sizeof w->ii);
    }
    CHECK(mets_recovery_window_published(inc->rec, win->stream_id, win->end_us, &err) == 0, "%s", err.msg);
}

static int to_pending(void *ctx, const void *key, size_t klen, const void *value, size_t vlen, mets_err *err)
{
    (void)ctx, (void)err;
    CHECK(npending < MAXREC / 10 && klen <= sizeof log_pending[0].key && vlen <= sizeof log_pending[0].value);
    record *r = &log_pending[npending++];
    memcpy(r->key, key, klen), r->klen = klen;
    if (value)
        memcpy(r->value, value, vlen);
    r->vlen = value ? vlen : 0;
    return 0;
}

static void on_window(const mets_window *win, void *ctx);

static void idle(void *ctx, const char *id)
{
    incarnation *inc = ctx;
    mets_err err;
    int rc = mets_windower_drop(inc->win, id, on_window, inc, &err);
    CHECK(rc == 0 || rc == METS_ENOTFOUND, "%s", err.msg);
    inc->swept++;
}

/* The transaction: state records and outputs become visible together. */
static void commit(incarnation *inc)
{
    mets_err err;
    npending = 0;
    mets_recovery_sweep(inc->rec, idle, inc);
    CHECK(mets_recovery_checkpoint(inc->rec, inc->alerter, to_pending, inc, &err) == 0, "%s", err.msg);
    CHECK(ncommitted + npending <= MAXREC);
    memcpy(&log_committed[ncommitted], log_pending, (size_t)npending * sizeof *log_pending);
    ncommitted += npending;
    outputs *o = &inc->pending, *c = &committed_out;
    CHECK(c->nw + o->nw <= MAXOUT && c->na + o->na <= MAXOUT);
    memcpy(&c->w[c->nw], o->w, (size_t)o->nw * sizeof *o->w);
    memcpy(&c->a[c->na], o->a, (size_t)o->na * sizeof *o->a);
    c->nw += o->nw, c->na += o->na;
    o->nw = o->na = 0;
}

static mets_recovery_params params(void)
{
    mets_recovery_params p = mets_recovery_default_params();
    p.idle_us = 15 * SEC; /* stream 1's 20 s gap makes it idle */
    return p;
}

/* A new incarnation restores the committed log and returns where it starts reading. */
static int start(incarnation *inc)
{
    mets_err err;
    mets_recovery_params rp = params();
    mets_window_params wp = mets_window_default_params();
    memset(inc, 0, sizeof *inc);
    inc->rec = mets_recovery_new(&rp, &err);
    inc->win = mets_windower_new(&wp, &err);
    inc->alerter = make_alerter();
    for (int i = 0; i < ncommitted; i++) {
        record *r = &log_committed[i];
        CHECK(mets_recovery_restore(inc->rec, inc->alerter, r->key, r->klen, r->vlen ? r->value : NULL, r->vlen,
                                    &err) == 0, "%s", err.msg);
    }
    int64_t s = mets_recovery_start_offset(inc->rec, -1);
    return s < 0 ? 0 : (int)s;
}

static void stop(incarnation *inc)
{
    mets_recovery_free(inc->rec);
    mets_windower_free(inc->win);
    mets_alerter_free(inc->alerter);
}

static void handle(incarnation *inc, int offset)
{
    static float buf[2 * 200];
    mets_frame f;
    mets_err err;
    bool feed;
    frame_at(offset, &f, buf);
    int64_t arrival = T0 + llround((double)order[offset].index * frame_len[order[offset].stream] * 1e6 /
                                   rates[order[offset].stream]);
    CHECK(mets_recovery_frame(inc->rec, f.stream_id, f.t0_us, mets_frame_end_us(&f), arrival, offset, &feed, &err) == 0, "%s", err.msg);
    if (feed)
        CHECK(mets_windower_push(inc->win, &f, on_window, inc, &err) == 0, "%s", err.msg);
    mets_recovery_done(inc->rec, offset);
}

/* Processes the partition to its end with a commit every `every` frames, crashing (dropping everything
 * uncommitted) after each count in crashes[]; returns the number of frames read, replays included. */
static int run(int every, const int *crashes, int ncrashes)
{
    ncommitted = 0;
    memset(&committed_out, 0, sizeof committed_out);
    incarnation *inc = malloc(sizeof *inc);
    int offset = start(inc), handled = 0, read = 0, c = 0;
    while (offset < nframes) {
        handle(inc, offset++);
        read++, handled++;
        if (handled % every == 0)
            commit(inc);
        if (c < ncrashes && handled == crashes[c]) {
            c++;
            stop(inc);
            offset = start(inc);
        }
    }
    commit(inc);
    stop(inc);
    free(inc);
    return read;
}

static int cmp_window(const void *a, const void *b)
{
    const out_window *x = a, *y = b;
    int c = strcmp(x->stream, y->stream);
    return c ? c : (x->end_us > y->end_us) - (x->end_us < y->end_us);
}

/* Compares committed_out with reference_out; returns the largest sample difference. */
static double compare(const char *what)
{
    outputs *c = &committed_out, *r = &reference_out;
    qsort(c->w, (size_t)c->nw, sizeof *c->w, cmp_window);
    CHECK(c->nw == r->nw, "%s: %d windows, uninterrupted %d", what, c->nw, r->nw);
    double maxdiff = 0;
    for (int i = 0; i < c->nw && i < r->nw; i++) {
        CHECK(!cmp_window(&c->w[i], &r->w[i]), "%s: window %d: %s %lld vs %s %lld", what, i, c->w[i].stream,
              (long long)c->w[i].end_us, r->w[i].stream, (long long)r->w[i].end_us);
        for (int j = 0; j < SAMPLES; j++)
            if (!(isnan(c->w[i].ii[j]) && isnan(r->w[i].ii[j])))
                maxdiff = fmax(maxdiff, fabs((double)c->w[i].ii[j] - r->w[i].ii[j]));
    }
    /* alert events: the same sequence per stream (streams interleave differently across commits) */
    for (int s = 0; s < NSTREAMS; s++) {
        int i = 0, j = 0;
        for (;;) {
            while (i < c->na && strcmp(c->a[i].stream, ids[s]))
                i++;
            while (j < r->na && strcmp(r->a[j].stream, ids[s]))
                j++;
            if (i == c->na || j == r->na)
                break;
            CHECK(!strcmp(c->a[i].id, r->a[j].id) && c->a[i].state == r->a[j].state && c->a[i].end_us == r->a[j].end_us,
                  "%s: %s alert %s state %d at %lld, uninterrupted %s state %d at %lld", what, ids[s], c->a[i].id,
                  c->a[i].state, (long long)c->a[i].end_us, r->a[j].id, r->a[j].state, (long long)r->a[j].end_us);
            i++, j++;
        }
        CHECK(i == c->na && j == r->na, "%s: %s: alert counts differ", what, ids[s]);
    }
    CHECK(c->na == r->na, "%s: %d alert events, uninterrupted %d", what, c->na, r->na);
    return maxdiff;
}

static void crashes_at_random_points_lose_and_double_nothing(void)
{
    build_order();
    run(25, NULL, 0);
    reference_out = committed_out;
    qsort(reference_out.w, (size_t)reference_out.nw, sizeof *reference_out.w, cmp_window);
    int raised = 0;
    for (int i = 0; i < reference_out.na; i++)
        raised += reference_out.a[i].state == METS_ALERT_RAISED;
    CHECK(reference_out.nw > 60 && raised >= 4, "%d windows, %d raised: a weak reference", reference_out.nw, raised);
    double worst = 0;
    int kills = 0, read = 0;
    for (int trial = 0; trial < 12; trial++) {
        int crashes[6], n = 1 + trial % 6, every = mets_test_randint(5, 60);
        for (int k = 0; k < n; k++)
            crashes[k] = mets_test_randint(1, nframes - 1);
        for (int k = 1; k < n; k++) /* ascending, distinct */
            if (crashes[k] <= crashes[k - 1])
                crashes[k] = crashes[k - 1] + 1;
        read += run(every, crashes, n);
        kills += n;
        char what[64];
        snprintf(what, sizeof what, "trial %d (commit every %d, %d crashes)", trial, every, n);
        worst = fmax(worst, compare(what));
    }
    /* The window stage resamples each window's new samples in a batch aligned to the segment's grids, so
     * a stream rebuilt from a frame on the same grid gives the very same samples. */
    CHECK(worst == 0, "rebuilt samples differ by %g mV", worst);
    printf("     %d crashes, %d windows and %d alert events each time, %d frames read for %d; max sample "
           "difference %.2g mV\n", kills, reference_out.nw, reference_out.na, read, 12 * nframes, worst);
}

static void idle_streams_stop_holding_the_restart_point(void)
{
    build_order();
    ncommitted = 0;
    incarnation *inc = malloc(sizeof *inc);
    start(inc);
    int64_t restart_in_gap = -1, first_of_gap = -1;
    for (int off = 0; off < nframes; off++) {
        handle(inc, off);
        double t = (double)order[off].index * frame_len[order[off].stream] / rates[order[off].stream];
        if (order[off].stream == 0 && t >= 48 && t < 48.1 && first_of_gap < 0) {
            /* 18 s into stream 1's silence: swept, so the restart point follows the live streams */
            commit(inc);
            first_of_gap = off;
            for (int i = ncommitted - 1; i >= 0 && restart_in_gap < 0; i--)
                if (log_committed[i].klen == 1 && log_committed[i].key[0] == 0xff) {
                    mets_err err;
                    mets_recovery_params rp = params();
                    mets_recovery *r = mets_recovery_new(&rp, &err);
                    mets_alerter *a = make_alerter();
                    mets_recovery_restore(r, a, log_committed[i].key, 1, log_committed[i].value,
                                          log_committed[i].vlen, &err);
                    restart_in_gap = mets_recovery_start_offset(r, -1);
                    mets_recovery_free(r);
                    mets_alerter_free(a);
                }
        }
    }
    CHECK(inc->swept == 1, "%d swept", inc->swept);
    /* margin 10 s + window 10 s - hop 2 s + the resampler's lag: well after stream 1's last frame at 30 s */
    double t_restart = -1;
    if (restart_in_gap >= 0)
        t_restart = (double)order[restart_in_gap].index * frame_len[order[restart_in_gap].stream] /
                    rates[order[restart_in_gap].stream];
    CHECK(t_restart > 25, "restart point at %.1f s while stream 1 is idle", t_restart);
    stop(inc);
    free(inc);
}

static void bad_records_are_refused(void)
{
    mets_recovery_params p = params();
    mets_err err;
    mets_recovery *r = mets_recovery_new(&p, &err);
    mets_alerter *a = make_alerter();
    static const uint8_t junk[] = {0x0a, 0xff, 0xff};
    CHECK(mets_recovery_restore(r, a, "bed", 3, junk, sizeof junk, &err) == METS_EFORMAT);
    CHECK(mets_recovery_restore(r, a, "", 0, junk, sizeof junk, &err) == METS_EFORMAT);
    CHECK(mets_recovery_restore(r, a, METS_RECOVERY_PARTITION_KEY, 1, junk, sizeof junk, &err) == METS_EFORMAT);
    CHECK(mets_recovery_start_offset(r, 42) == 42 && mets_recovery_is_new(r, 0), "no state: the group's offset");
    mets_recovery_free(r);
    mets_alerter_free(a);
}

/* What mets_recovery_silent reported, and the records a checkpoint wrote. */
static struct {
    char ids[8][16];
    int64_t ends[8];
    int n;
} silent_log;
static struct {
    uint8_t key[16], value[1024];
    size_t klen, vlen;
} records[8];
static int nrecords;

static int note_silent(void *ctx, const char *id, int64_t end_us)
{
    CHECK(silent_log.n < 8);
    snprintf(silent_log.ids[silent_log.n], sizeof silent_log.ids[0], "%s", id);
    silent_log.ends[silent_log.n++] = end_us;
    return 1; /* the alert state changed */
}

static int keep_record(void *ctx, const void *key, size_t klen, const void *value, size_t vlen, mets_err *err)
{
    CHECK(nrecords < 8 && klen <= sizeof records[0].key && vlen <= sizeof records[0].value);
    memcpy(records[nrecords].key, key, klen), memcpy(records[nrecords].value, value, vlen);
    records[nrecords].klen = klen, records[nrecords++].vlen = vlen;
    return 0;
}

static bool silent_listed(mets_recovery *r, const char *id, int64_t *end_us)
{
    silent_log.n = 0;
    CHECK(mets_recovery_silent(r, note_silent, NULL) == 0);
    for (int i = 0; i < silent_log.n; i++)
        if (!strcmp(silent_log.ids[i], id)) {
            if (end_us)
                *end_us = silent_log.ends[i];
            return true;
        }
    return false;
}

/* Silence is measured on the partition's clock: its newest Kafka timestamp, moved by other beds' frames and
 * by clock records; it is due only once the clock passes the earliest deadline; a restart goes on from the
 * restored records. The end reported is that of the stream's last sample. */
static void silent_streams_on_the_partition_clock(void)
{
    mets_recovery_params p = params();
    p.idle_us = 60 * SEC, p.signal_loss_us = 10 * SEC;
    mets_err err;
    mets_recovery *r = mets_recovery_new(&p, &err);
    mets_alerter *a = make_alerter();
    bool feed;
    int64_t offset = 0, end;
    CHECK(!silent_listed(r, "a", NULL), "nothing seen, nothing silent");
    for (int k = 0; k <= 20; k++) /* a: a frame a second for 21 s; b: for 6 s; frame times 1 s behind */
        for (int s = 0; s < 2 - (k > 5); s++) {
            CHECK(mets_recovery_frame(r, s ? "b" : "a", T0 + (k - 1) * SEC, T0 + k * SEC, T0 + k * SEC, offset, &feed,
                                      &err) == 0);
            mets_recovery_done(r, offset++);
        }
    CHECK(mets_recovery_silence_due(r) && silent_listed(r, "b", &end) && end == T0 + 5 * SEC && silent_log.n == 1,
          "b silent 15 s, a not");
    mets_recovery_clock(r, T0 + 29 * SEC);
    CHECK(!mets_recovery_silence_due(r) && !silent_listed(r, "a", NULL), "a silent 9 s: not due");
    mets_recovery_clock(r, T0 + 30 * SEC);
    CHECK(mets_recovery_silence_due(r) && silent_listed(r, "a", &end) && end == T0 + 20 * SEC && silent_log.n == 2,
          "a silent 10 s by the clock records");
    CHECK(mets_recovery_frame(r, "a", T0 + 30 * SEC, T0 + 31 * SEC, T0 + 31 * SEC, offset, &feed, &err) == 0);
    mets_recovery_done(r, offset++);
    CHECK(!mets_recovery_silence_due(r), "a is back: its deadline 10 s on");
    CHECK(mets_recovery_current(r, "a") && !mets_recovery_current(r, "b"), "a current, b not");
    mets_recovery_clock(r, T0 + 41 * SEC);
    CHECK(silent_listed(r, "a", &end) && end == T0 + 31 * SEC, "a silent again");
    nrecords = 0;
    CHECK(mets_recovery_checkpoint(r, a, keep_record, NULL, &err) == 0, "%s", err.msg);
    bool b_written = false;
    for (int i = 0; i < nrecords; i++)
        b_written |= records[i].klen == 1 && records[i].key[0] == 'b';
    CHECK(b_written, "a silent stream's record is written again (its alert state changed)");
    mets_recovery *r2 = mets_recovery_new(&p, &err);
    for (int i = 0; i < nrecords; i++)
        CHECK(mets_recovery_restore(r2, a, records[i].key, records[i].klen, records[i].value, records[i].vlen, &err) ==
              0, "%s", err.msg);
    CHECK(!mets_recovery_silence_due(r2), "restored: not while the partition is replayed");
    mets_recovery_clock(r2, T0 + 41 * SEC); /* a clock record past the restored next offset: replayed */
    mets_recovery_done(r2, offset);
    CHECK(mets_recovery_silence_due(r2) && silent_listed(r2, "b", &end) && end == T0 + 5 * SEC,
          "restored: b still silent, its end kept");
    CHECK(mets_recovery_frame(r, "b", T0 + 5 * SEC, T0 + 6 * SEC, T0 + 6 * SEC, offset, &feed, &err) == 0);
    mets_recovery_done(r, offset++);
    CHECK(!mets_recovery_current(r, "b"), "a late frame of b (35 s behind the clock) is not current");
    mets_recovery_free(r2);
    mets_recovery_free(r);
    mets_alerter_free(a);
}

/* The partition's time after a restart equals an uninterrupted run's, also when every record read again from
 * the restart point is older than a clock record before it (frames a producer held back while a broker was
 * away, appended after the clock ran on): the time is restored from the partition record. Otherwise a
 * frame too late to bring a lost signal back in the uninterrupted run did so in the restarted one (the long
 * broker-fault run cleared 28 signal losses one frame early). */
static void partition_time_restored_with_the_clock(void)
{
    mets_recovery_params p = params();
    p.signal_loss_us = 10 * SEC;
    mets_err err;
    mets_recovery *r = mets_recovery_new(&p, &err);
    mets_alerter *a = make_alerter();
    bool feed;
    CHECK(mets_recovery_frame(r, "a", T0, T0 + SEC, T0 + SEC, 0, &feed, &err) == 0);
    mets_recovery_done(r, 0);
    mets_recovery_clock(r, T0 + 30 * SEC); /* offset 1 */
    mets_recovery_done(r, 1);
    CHECK(mets_recovery_frame(r, "a", T0 + SEC, T0 + 2 * SEC, T0 + 5 * SEC, 2, &feed, &err) == 0); /* held back */
    mets_recovery_done(r, 2);
    nrecords = 0;
    CHECK(mets_recovery_checkpoint(r, a, keep_record, NULL, &err) == 0, "%s", err.msg);
    CHECK(mets_recovery_frame(r, "a", T0 + 2 * SEC, T0 + 3 * SEC, T0 + 15 * SEC, 3, &feed, &err) == 0);
    mets_recovery_done(r, 3);
    CHECK(!mets_recovery_current(r, "a"), "uninterrupted: 15 s behind the clock, not current");

    /* Restarted from that checkpoint, its restart point after the clock record. */
    mets_recovery *r2 = mets_recovery_new(&p, &err);
    for (int i = 0; i < nrecords; i++) {
        bool partition = records[i].klen == 1 && !memcmp(records[i].key, METS_RECOVERY_PARTITION_KEY, 1);
        Mets__V1__PartitionState *ps = partition ? mets__v1__partition_state__unpack(NULL, records[i].vlen,
                                                                                       records[i].value) : NULL;
        if (ps) {
            CHECK(ps->next_offset == 3 && ps->clock_us == T0 + 30 * SEC, "next %lld, clock %lld",
                  (long long)ps->next_offset, (long long)ps->clock_us);
            ps->restart_offset = 2;
            records[i].vlen = mets__v1__partition_state__pack(ps, records[i].value);
            mets__v1__partition_state__free_unpacked(ps, NULL);
        }
        CHECK(mets_recovery_restore(r2, a, records[i].key, records[i].klen, records[i].value, records[i].vlen, &err) ==
              0, "%s", err.msg);
    }
    CHECK(mets_recovery_start_offset(r2, 3) == 2);
    CHECK(mets_recovery_frame(r2, "a", T0 + SEC, T0 + 2 * SEC, T0 + 5 * SEC, 2, &feed, &err) == 0);
    mets_recovery_done(r2, 2);
    CHECK(mets_recovery_frame(r2, "a", T0 + 2 * SEC, T0 + 3 * SEC, T0 + 15 * SEC, 3, &feed, &err) == 0);
    mets_recovery_done(r2, 3);
    CHECK(!mets_recovery_current(r2, "a"), "restarted: the same frame is not current either");
    mets_recovery_free(r2);
    mets_recovery_free(r);
    mets_alerter_free(a);
}

/* A restart whose committed state holds only a partition record (the transaction with the first stream
 * records was aborted) must keep the restart point until the replay has passed the restored next offset:
 * a checkpoint before that must not move it to next_offset, or the windows of the replay range are never
 * rebuilt (test_broker_faults lost the first windows of every bed so). */
static void restart_point_held_through_the_replay(void)
{
    mets_recovery_params p = params();
    mets_err err;
    mets_recovery *r = mets_recovery_new(&p, &err);
    mets_alerter *a = make_alerter();
    Mets__V1__PartitionState ps = METS__V1__PARTITION_STATE__INIT;
    ps.schema_version = 1, ps.next_offset = 82, ps.restart_offset = 0;
    uint8_t buf[64];
    size_t n = mets__v1__partition_state__pack(&ps, buf);
    CHECK(mets_recovery_restore(r, a, METS_RECOVERY_PARTITION_KEY, 1, buf, n, &err) == 0, "%s", err.msg);
    CHECK(mets_recovery_start_offset(r, 82) == 0);
    nrecords = 0;
    CHECK(mets_recovery_checkpoint(r, a, keep_record, NULL, &err) == 0, "%s", err.msg);
    Mets__V1__PartitionState *got = nrecords == 1 ? mets__v1__partition_state__unpack(NULL, records[0].vlen,
                                                                                     records[0].value) : NULL;
    CHECK(got && got->next_offset == 82 && got->restart_offset == 0, "before any frame: restart %lld",
          got ? (long long)got->restart_offset : -1LL);
    if (got)
        mets__v1__partition_state__free_unpacked(got, NULL);
    bool feed;
    CHECK(mets_recovery_frame(r, "bed-1", T0, T0 + SEC, T0, 0, &feed, &err) == 0 && feed);
    mets_recovery_done(r, 0);
    nrecords = 0;
    CHECK(mets_recovery_checkpoint(r, a, keep_record, NULL, &err) == 0, "%s", err.msg);
    CHECK(nrecords == 0, "replaying at offset 0: the record stands (next 82, restart 0)");
    mets_recovery_free(r);
    mets_alerter_free(a);
}

int main(void)
{
    RUN(crashes_at_random_points_lose_and_double_nothing);
    RUN(idle_streams_stop_holding_the_restart_point);
    RUN(bad_records_are_refused);
    RUN(partition_time_restored_with_the_clock);
    RUN(silent_streams_on_the_partition_clock);
    RUN(restart_point_held_through_the_replay);
    return mets_test_summary();
}
