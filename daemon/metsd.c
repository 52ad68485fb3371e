/* metsd: the streaming daemon. Consumes EcgFrames from Kafka, windows each stream, scores the windows
 * zero-shot against the label prompts, and publishes an embedding for every window, alerts as they
 * change, and dead letters for frames it cannot use.
 *
 * Threads: this one consumes, decodes, windows, publishes and commits, in frame order; the encoder
 * threads (daemon/workers.h) score batches of windows, which is nearly all of the work. Results are
 * published in the order the batches were submitted, so each stream's windows and alerts stay in order.
 * When every batch is in flight the consuming thread waits for the oldest instead of reading on
 * (back-pressure); a full producer queue makes it wait too. Nothing is dropped. Decoding and windowing
 * stay on the consuming thread (a few percent of the CPU) because the recovery bookkeeping needs them in
 * offset order; librdkafka's own threads keep the group session alive meanwhile, and no wait here comes
 * near max.poll.interval.ms.
 *
 * Delivery (docs/delivery.md): every commit_interval_ms the outputs produced since the last commit, the
 * state records that describe them (pipeline/recovery.h: per stream its last window, where to rebuild
 * from, its alert state; per partition the next offset) and the input offsets are committed together:
 * in one Kafka transaction (exactly_once, the default) or flushed, then committed (at_least_once, where
 * a crash between the two repeats outputs with the same ids). On assignment, after a crash or a
 * rebalance, the state is read back, the frames re-read from the restart offset and the windows rebuilt,
 * and windows already committed are not published again. The partitions are assigned eagerly (range):
 * librdkafka 2.0.2's cooperative-sticky assignor has known bugs, so config.c refuses it.
 *
 * A stream without frames for streams.signal_loss_s raises technical/signal_lost. Its clock is in the log:
 * once a second, metsd writes a clock record into each partition it has read to its end (on_stats), and
 * the loss is decided at the record that takes the partition's time past a deadline (pipeline/recovery.h).
 *
 * Under systemd (Type=notify) it reports READY once subscribed, and pings the watchdog only while /healthz
 * would answer 200: the consuming loop turns, no batch has been scoring for long, a broker answered and
 * outputs are not kept waiting for a commit. SIGHUP reloads the prompts and alert policies; SIGTERM drains
 * and commits. Prometheus /metrics and /healthz are served on metrics.listen. A failure on the output path
 * ends the process or redoes the work since the last commit; it is never only logged (docs/delivery.md). */
#include <getopt.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "alert.h"
#include "clock.h"
#include "config.h"
#include "digest.h"
#include "failpoint.h"
#include "frame.h"
#include "labels.h"
#include "log.h"
#include "mets.pb-c.h"
#include "output.h"
#include "pbjson.h"
#include "prometheus.h"
#include "recovery.h"
#include "window.h"
#include "workers.h"

/* Rebuilding a stream starts this long before its next window: more than the resampler's delay, which
 * is up to ~8 s from 50 Hz (pipeline/window.h). */
#define REBUILD_MARGIN_S 10
#define STATE_READ_TIMEOUT_S 60
#define KAFKA_TIMEOUT_MS 30000
#define STUCK_S 10 /* a loop turn or a batch older than this is unhealthy */
/* A broker counts as answering while it received within this; a partition's leader answers fetches at least
 * every fetch.wait.max.ms (500 ms), other brokers (the group coordinator) at every heartbeat (3 s). */
#define BROKER_CONTACT_US 5000000
#define LEADER_CONTACT_US 1500000
#define MAX_LAG_PARTITIONS 256
#define MAX_BROKERS 64

typedef struct metsd {
    mets_config cfg;
    const char *path;
    const char *bootstrap; /* --bootstrap, which overrides kafka.bootstrap_servers of every load (or NULL) */
    bool eos; /* exactly-once */
    mets_ecgenc *enc;
    mets_textenc *te;
    mets_labels *labels;
    mets_promptbank *bank;
    mets_windower *win;
    mets_alerter *alerter;
    /* What every output names: the model file (its stem and "sha256:" + the first 16 hex digits of its
     * SHA-256) and the prompt set as loaded (mets_labels_fingerprint), updated by a reload. */
    char model_id[128], model_version[32], prompt_set_version[32];
    mets_workers *workers;
    rd_kafka_t *consumer, *producer, *state_reader;
    rd_kafka_t *clock; /* writes the clock records (plain, not in a transaction: they are no output) */
    int32_t nparts;       /* partitions of the frames topic (grows if it does) */
    mets_recovery **rec;  /* [nparts]: the assigned partitions' bookkeeping, NULL if not assigned */
    mets_frame frame;
    int32_t cur_part;     /* the partition of the frame (or sweep) in hand */
    int64_t cur_ts_ms;    /* its Kafka timestamp */
    bool in_txn, failed_in_txn, revoking, print_alerts;
    long undelivered; /* at least once: outputs since the last commit that the broker did not take */
    bool redoing;     /* the work since the last commit failed to commit and is being redone */
    mets_alert_event *events;
    long frames, dead, windows, alerts, failed;
    int exit_code;
    mets_metrics *metrics;
    mets_metrics_server *http;
    mets_counter *m_frames, *m_replayed, *m_dead, *m_windows, *m_alerts, *m_failed, *m_reloads, *m_txn, *m_events;
    uint64_t events_seen[7]; /* the windower's counts already added to m_events */
    mets_gauge *m_streams, *m_lag, *m_raised, *m_raised_priority;
    mets_histogram *m_stage, *m_latency;
    /* CLOCK_MONOTONIC ms of: the consuming loop's last turn, a broker's last answer, the last time no output
     * was waiting for a commit (a commit succeeded, or there was nothing to commit) */
    _Atomic long last_turn, last_contact, last_committed;
    /* per Kafka node seen at the last statistics, CLOCK_MONOTONIC ms of its last answer (0: none): a scrape
     * counts those within BROKER_CONTACT_US of its own time, so late statistics never count a broker twice */
    _Atomic long node_answered[MAX_BROKERS];
    _Atomic long leader_answered[MAX_LAG_PARTITIONS]; /* per frames partition, the same of its leader */
} metsd;

enum { STAGE_ENCODE, STAGE_PUBLISH, STAGE_COMMIT, NSTAGES };
enum { LATENCY_EMBEDDING, LATENCY_ALERT };
enum { TXN_COMMITTED, TXN_ABORTED };

static volatile sig_atomic_t stopping, reload_requested;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        reload_requested = 1;
    else
        stopping = 1;
}

/* Ends the process with a failure for systemd to restart it: what is not committed is redone. */
static void fatal(metsd *d)
{
    d->exit_code = 1;
    stopping = 1;
}

/* ---- producing ---- */

/* An output the broker did not take: the commit that would include it is not made, and the work since the
 * last commit is redone (an exactly-once transaction is aborted; at least once, the partitions rewind). */
static void output_failed(metsd *d, const char *topic, const char *what, rd_kafka_resp_err_t e)
{
    d->failed++;
    mets_counter_inc(d->m_failed, 0);
    mets_log(LOG_ERR, "%s to %s failed: %s", what, topic, rd_kafka_err2str(e));
    if (d->eos)
        d->failed_in_txn = true;
    else
        d->undelivered++;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    metsd *d = opaque;
    (void)rk;
    if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
        return; /* an aborted transaction's outputs: the rewind produces them again */
    if (m->err || mets_failpoint("metsd.delivery"))
        output_failed(d, rd_kafka_topic_name(m->rkt), "delivery", m->err ? m->err : RD_KAFKA_RESP_ERR__FAIL);
}

/* Produces to topic (partition or RD_KAFKA_PARTITION_UA), taking `value` (malloc'd, or NULL for a
 * tombstone); waits for room instead of dropping when the queue is full. */
static void produce(metsd *d, const char *topic, int32_t partition, const void *key, size_t klen, uint8_t *value,
                    size_t len)
{
    if (d->eos && !d->in_txn) {
        rd_kafka_error_t *e = rd_kafka_begin_transaction(d->producer);
        if (e) { /* only a fatal or state error can fail it */
            mets_log(LOG_CRIT, "transaction begin: %s", rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            fatal(d);
        } else {
            d->in_txn = true;
        }
    }
    rd_kafka_resp_err_t e;
    while ((e = mets_failpoint("metsd.produce")
                    ? RD_KAFKA_RESP_ERR__FAIL
                    : rd_kafka_producev(d->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
                                        RD_KAFKA_V_KEY(key, klen), RD_KAFKA_V_VALUE(value, len),
                                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END)) ==
           RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(d->producer, 100);
    if (e) {
        free(value);
        output_failed(d, topic, "produce", e);
    }
}

/* --print-alerts: the Alert as produced, in mets tail's JSON (without the Kafka coordinates). */
static void print_alert(const uint8_t *bytes, size_t len)
{
    Mets__V1__Alert *a = mets__v1__alert__unpack(NULL, len, bytes);
    json_t *j = a ? mets_pbjson_message(&a->base, 0) : NULL;
    if (j) {
        json_dumpf(j, stdout, JSON_COMPACT | METS_PBJSON_REAL_PRECISION);
        putchar('\n');
        fflush(stdout);
    }
    json_decref(j);
    if (a)
        mets__v1__alert__free_unpacked(a, NULL);
}

static unsigned tech_bits(unsigned flags)
{
    unsigned t = 0;
    t |= flags & METS_WINDOW_LEAD_OFF ? METS_ALERT_TECH_BIT(METS_ALERT_TECH_LEAD_OFF) : 0;
    t |= flags & METS_WINDOW_FLAT ? METS_ALERT_TECH_BIT(METS_ALERT_TECH_FLAT) : 0;
    t |= flags & METS_WINDOW_SATURATED ? METS_ALERT_TECH_BIT(METS_ALERT_TECH_SATURATED) : 0;
    t |= flags & (METS_WINDOW_INVALID | METS_WINDOW_GAP) ? METS_ALERT_TECH_BIT(METS_ALERT_TECH_GAP) : 0;
    return t;
}

/* ---- scored batches out ---- */

/* Publishes the first n events of d->events (of one stream); frame_ts_ms: the Kafka timestamp of the frame
 * that caused them, or -1 when no frame did (a lost signal). */
static int send_events(metsd *d, int n, int64_t frame_ts_ms, mets_err *err)
{
    for (int k = 0; k < n; k++) {
        const mets_alert_event *e = &d->events[k];
        uint8_t *bytes;
        size_t len;
        if (mets_output_alert(e, &bytes, &len, err))
            return err->code;
        if (d->print_alerts)
            print_alert(bytes, len);
        produce(d, d->cfg.kafka.topics.alerts, RD_KAFKA_PARTITION_UA, e->stream_id, strlen(e->stream_id), bytes, len);
        mets_counter_inc(d->m_alerts, e->state - 1);
        if (frame_ts_ms >= 0)
            mets_histogram_observe(d->m_latency, LATENCY_ALERT, (double)(mets_wall_ms() - frame_ts_ms) / 1e3);
        d->alerts++;
    }
    return 0;
}

static int publish_alerts(metsd *d, const mets_batch *b, int i, mets_err *err)
{
    int L = d->labels->nlabels;
    const mets_batch_meta *m = &b->meta[i];
    mets_scored_window sw = {.stream_id = m->stream_id, .start_us = m->start_us, .end_us = m->end_us,
                             .prob = b->prob + (size_t)i * L, .cos = b->cos + (size_t)i * L,
                             .tech = tech_bits(m->flags)};
    int n = mets_alerter_push(d->alerter, &sw, d->events, mets_alerter_max_events(d->alerter), err);
    return n < 0 ? n : send_events(d, n, m->frame_ts_ms, err);
}

/* One window's embedding and alerts, then its record as published (in that order: a window whose outputs
 * are not all produced must not be recorded). */
static int publish_window(metsd *d, const mets_batch *b, int i, mets_err *err)
{
    const mets_batch_meta *m = &b->meta[i];
    int D = mets_ecgenc_dim(d->enc), rc;
    uint8_t *bytes;
    size_t len;
    if ((rc = mets_output_embedding(m->stream_id, m->start_us, m->end_us, d->model_id, d->model_version,
                                    b->emb + (size_t)i * D, D, &bytes, &len, err)))
        return rc;
    produce(d, d->cfg.kafka.topics.embeddings, RD_KAFKA_PARTITION_UA, m->stream_id, strlen(m->stream_id), bytes, len);
    mets_histogram_observe(d->m_latency, LATENCY_EMBEDDING, (double)(mets_wall_ms() - m->frame_ts_ms) / 1e3);
    if ((rc = publish_alerts(d, b, i, err)))
        return rc;
    mets_recovery *r = m->partition < d->nparts ? d->rec[m->partition] : NULL;
    return r ? mets_recovery_window_published(r, m->stream_id, m->end_us, err) : 0;
}

/* The embeddings and alerts of a scored batch, and what the state records say of its streams. */
static void publish(metsd *d, mets_batch *b)
{
    if (d->exit_code)
        return; /* nothing more is committed: the restart redoes it */
    double t0 = mets_monotonic_s();
    mets_histogram_observe(d->m_stage, STAGE_ENCODE, b->scored - b->submitted);
    if (b->rc) { /* a bug, not bad input: restart and redo from the last commit */
        mets_log(LOG_CRIT, "scoring: %s", b->err.msg);
        fatal(d);
        return;
    }
    mets_err err;
    for (int i = 0; i < b->n; i++)
        if (publish_window(d, b, i, &err)) { /* no bad input fails here: the restart redoes the window */
            mets_log(LOG_CRIT, "publishing a window of %s: %s", b->meta[i].stream_id, err.msg);
            fatal(d);
            return;
        }
    d->windows += b->n;
    mets_counter_add(d->m_windows, 0, (uint64_t)b->n);
    mets_histogram_observe(d->m_stage, STAGE_PUBLISH, mets_monotonic_s() - t0);
}

/* Publishes the oldest submitted batch once scored (waiting for it with `wait`); false when none is. */
static bool publish_oldest(metsd *d, bool wait)
{
    mets_batch *b = mets_workers_take(d->workers, wait);
    if (!b)
        return false;
    publish(d, b);
    mets_workers_release(d->workers, b);
    return true;
}

/* Submits the batch being filled, if it holds any window. */
static void submit_partial(metsd *d)
{
    mets_batch *b = mets_workers_acquire(d->workers);
    if (b && b->n)
        mets_workers_submit(d->workers, b);
}

/* Everything windowed so far scored and published. */
static void drain(metsd *d)
{
    submit_partial(d);
    while (publish_oldest(d, true))
        ;
}

/* Window sink: a window due for outputs goes into the batch being filled (its arrays live only during
 * the call). Leads the stream lacks stay missing, which the encoder's input marks. */
static void on_window(const mets_window *w, void *ctx)
{
    metsd *d = ctx;
    if (!mets_recovery_window_due(d->rec[d->cur_part], w->stream_id, w->end_us))
        return; /* committed before a restart or rebalance: rebuilt, not published again */
    mets_batch *b;
    while (!(b = mets_workers_acquire(d->workers))) /* every batch in flight: back-pressure */
        publish_oldest(d, true);
    mets_batch_meta *m = &b->meta[b->n];
    snprintf(m->stream_id, sizeof m->stream_id, "%s", w->stream_id);
    m->start_us = w->start_us, m->end_us = w->end_us, m->flags = w->flags, m->present = w->present;
    m->partition = d->cur_part, m->frame_ts_ms = d->cur_ts_ms;
    memcpy(mets_batch_window(b, b->n), w->mv, (size_t)METS_ECG_LEADS * b->samples * sizeof(float));
    if (++b->n == b->cap)
        mets_workers_submit(d->workers, b);
}

/* ---- frames in ---- */

static void dead_letter(metsd *d, const rd_kafka_message_t *m, mets_frame_reason why, const char *text)
{
    uint8_t *bytes;
    size_t len;
    mets_err err;
    if (mets_output_dead_letter(m->payload, m->len, rd_kafka_topic_name(m->rkt), m->partition, m->offset, why, text,
                                &bytes, &len, &err)) {
        mets_log(LOG_CRIT, "dead letter of partition %d offset %lld: %s", m->partition, (long long)m->offset, err.msg);
        fatal(d);
        return;
    }
    produce(d, d->cfg.kafka.topics.dead_letter, RD_KAFKA_PARTITION_UA, m->key, m->key_len, bytes, len);
    mets_counter_inc(d->m_dead, (int)why);
    d->dead++;
}

/* A lost signal back with a new frame starting at at_us: the alert events, and its state record to write
 * again. Nothing when the stream's signal was not lost. */
static int signal_back(metsd *d, mets_recovery *r, const char *stream_id, int64_t at_us, int64_t frame_ts_ms,
                       mets_err *err)
{
    int n = mets_alerter_signal(d->alerter, stream_id, false, at_us, d->events, mets_alerter_max_events(d->alerter), err);
    if (n > 0)
        mets_recovery_alerts_changed(r, stream_id);
    return n <= 0 ? n : send_events(d, n, frame_ts_ms, err);
}

static void handle_frame(metsd *d, mets_recovery *r, const rd_kafka_message_t *m)
{
    bool is_new = mets_recovery_is_new(r, m->offset), feed = false;
    mets_counter_inc(is_new ? d->m_frames : d->m_replayed, 0);
    d->frames += is_new;
    mets_frame_reason why;
    mets_err err;
    if (mets_frame_decode(m->payload, m->len, &d->frame, &why, &err) == 0) {
        /* Only a new frame brings a lost signal back: a replayed one was there before the loss (a loss that
         * a later frame cleared is not in the committed state); and only a current one. */
        if (mets_recovery_frame(r, d->frame.stream_id, d->frame.t0_us, mets_frame_end_us(&d->frame),
                                d->cur_ts_ms * 1000, m->offset, &feed, &err) ||
            (is_new && mets_recovery_current(r, d->frame.stream_id) &&
             signal_back(d, r, d->frame.stream_id, d->frame.t0_us, d->cur_ts_ms, &err) < 0)) {
            mets_log(LOG_CRIT, "%s", err.msg);
            fatal(d);
            return;
        }
        uint64_t refused = mets_windower_stats(d->win).streams_refused;
        if (!feed || mets_windower_push(d->win, &d->frame, on_window, d, &err) == 0) {
            mets_recovery_done(r, m->offset);
            return;
        }
        if (mets_windower_stats(d->win).streams_refused > refused) /* refused ids take no memory anywhere */
            mets_recovery_drop(r, d->frame.stream_id);
        why = METS_FRAME_STREAM_CAP; /* the only valid frame the windower refuses: still accounted for */
    }
    if (is_new) /* a replayed frame had its dead letter before */
        dead_letter(d, m, why, err.msg);
    mets_recovery_done(r, m->offset);
}

typedef struct loss_ctx {
    metsd *d;
    mets_err err;
} loss_ctx;

static int on_silent(void *ctx, const char *stream_id, int64_t end_us)
{
    loss_ctx *c = ctx;
    int n = mets_alerter_signal(c->d->alerter, stream_id, true, end_us, c->d->events,
                                mets_alerter_max_events(c->d->alerter), &c->err);
    if (n > 0 && send_events(c->d, n, -1, &c->err))
        return c->err.code;
    return n > 0 ? 1 : n;
}

/* The streams of r silent for streams.signal_loss_s lose their signal, at this place in the log (so every
 * run over it decides alike), after the windows cut so far: their last windows go out first. */
static void declare_silent(metsd *d, mets_recovery *r)
{
    loss_ctx lc = {d, {0}};
    drain(d);
    if (mets_recovery_silent(r, on_silent, &lc)) {
        mets_log(LOG_CRIT, "signal loss: %s", lc.err.msg);
        fatal(d);
    }
}

static bool is_clock(const rd_kafka_message_t *m)
{
    return m->key_len == METS_FRAME_CLOCK_KEY_LEN && !memcmp(m->key, METS_FRAME_CLOCK_KEY, METS_FRAME_CLOCK_KEY_LEN);
}

static void handle(metsd *d, const rd_kafka_message_t *m)
{
    mets_recovery *r = m->partition < d->nparts ? d->rec[m->partition] : NULL;
    if (!r) {
        mets_log(LOG_WARNING, "a frame of partition %d, which is not assigned: skipped", m->partition);
        return;
    }
    rd_kafka_timestamp_type_t tstype;
    d->cur_part = m->partition, d->cur_ts_ms = rd_kafka_message_timestamp(m, &tstype);
    if (is_clock(m)) {
        mets_recovery_clock(r, d->cur_ts_ms * 1000);
        mets_recovery_done(r, m->offset);
    } else {
        handle_frame(d, r, m);
    }
    if (!d->exit_code && mets_recovery_silence_due(r))
        declare_silent(d, r);
}

/* ---- partitions: state read back on assignment, dropped on revocation ---- */

static mets_recovery_params recovery_params(const metsd *d)
{
    mets_recovery_params p = mets_recovery_default_params();
    p.window_us = llround(d->cfg.window.length_s * 1e6), p.hop_us = llround(d->cfg.window.hop_s * 1e6);
    p.margin_us = REBUILD_MARGIN_S * 1000000LL, p.idle_us = llround(d->cfg.streams.idle_timeout_s * 1e6);
    p.signal_loss_us = llround(d->cfg.streams.signal_loss_s * 1e6);
    return p;
}

static int grow_parts(metsd *d, int32_t p)
{
    if (p < d->nparts)
        return 0;
    mets_recovery **rec = realloc(d->rec, (size_t)(p + 1) * sizeof *rec);
    if (!rec)
        return METS_ENOMEM;
    memset(rec + d->nparts, 0, (size_t)(p + 1 - d->nparts) * sizeof *rec);
    d->rec = rec, d->nparts = p + 1;
    return 0;
}

/* One pass over the state partitions of `parts` from the start to their end as read_committed sees it (the
 * last stable offset), restoring every record. *unstable: a partition ended below its high watermark, i.e.
 * a transaction on it is not settled yet. That happens right after a rebalance: the previous owner's
 * EndTxn returns before the coordinator has written the commit markers, so its last state records are not
 * readable yet while the offsets committed with them already are (offset fetches wait for stability). */
static int read_state_pass(metsd *d, const rd_kafka_topic_partition_list_t *parts, double deadline, int *records,
                           bool *unstable)
{
    rd_kafka_topic_partition_list_t *sl = rd_kafka_topic_partition_list_new(parts->cnt);
    for (int i = 0; i < parts->cnt; i++)
        rd_kafka_topic_partition_list_add(sl, d->cfg.kafka.topics.state, parts->elems[i].partition)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_resp_err_t e = rd_kafka_assign(d->state_reader, sl);
    rd_kafka_topic_partition_list_destroy(sl);
    if (e) {
        mets_log(LOG_ERR, "state topic %s: %s", d->cfg.kafka.topics.state, rd_kafka_err2str(e));
        return -1;
    }
    int left = parts->cnt, rc = 0;
    bool *at_end = calloc((size_t)d->nparts, sizeof *at_end); /* EOF may come again after more records */
    if (!at_end)
        rc = -1;
    *records = 0, *unstable = false;
    while (left > 0 && !rc) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(d->state_reader, 200);
        if (!m) {
            if (mets_monotonic_s() > deadline) {
                mets_log(LOG_ERR, "state topic %s: not read to its end within %d s", d->cfg.kafka.topics.state,
                         STATE_READ_TIMEOUT_S);
                rc = -1;
            }
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            int64_t lo, hi;
            if (m->partition < d->nparts && !at_end[m->partition]) {
                at_end[m->partition] = true;
                left--;
                if (rd_kafka_query_watermark_offsets(d->state_reader, d->cfg.kafka.topics.state, m->partition, &lo,
                                                     &hi, KAFKA_TIMEOUT_MS) ||
                    m->offset < hi)
                    *unstable = true;
            }
        } else if (m->err) {
            mets_log(LOG_ERR, "state topic %s: %s", d->cfg.kafka.topics.state, rd_kafka_message_errstr(m));
            rc = -1;
        } else if (m->partition < d->nparts && d->rec[m->partition]) {
            mets_err err;
            ++*records;
            if (mets_recovery_restore(d->rec[m->partition], d->alerter, m->key, m->key_len, m->payload, m->len, &err))
                mets_log(LOG_WARNING, "state partition %d offset %lld: %s", m->partition, (long long)m->offset,
                         err.msg);
        }
        rd_kafka_message_destroy(m);
    }
    free(at_end);
    rd_kafka_assign(d->state_reader, NULL);
    return rc;
}

/* Reads the state partitions of `parts` (frames partitions with fresh recovery objects), again from the
 * start while a transaction on them is unsettled (restoring a record twice leaves the same state). */
static int read_state(metsd *d, const rd_kafka_topic_partition_list_t *parts)
{
    double deadline = mets_monotonic_s() + STATE_READ_TIMEOUT_S;
    int records = 0, rc;
    bool unstable;
    while (!(rc = read_state_pass(d, parts, deadline, &records, &unstable)) && unstable) {
        if (mets_monotonic_s() > deadline) {
            mets_log(LOG_ERR, "state topic %s: a transaction still unsettled after %d s", d->cfg.kafka.topics.state,
                     STATE_READ_TIMEOUT_S);
            return -1;
        }
        mets_log(LOG_INFO, "state topic %s: a transaction is not settled yet: reading it again",
                 d->cfg.kafka.topics.state);
        usleep(100000);
    }
    if (!rc)
        mets_log(LOG_INFO, "restored %d state records for %d partitions", records, parts->cnt);
    return rc;
}

static void drop_stream(void *ctx, const char *stream_id)
{
    metsd *d = ctx;
    mets_windower_drop(d->win, stream_id, NULL, NULL, NULL);
    mets_alerter_drop(d->alerter, stream_id);
}

/* Forgets partition p's streams here: their state lives on in the state topic. */
static void part_close(metsd *d, int32_t p)
{
    if (p >= d->nparts || !d->rec[p])
        return;
    mets_recovery_each_stream(d->rec[p], drop_stream, d);
    mets_recovery_free(d->rec[p]);
    d->rec[p] = NULL;
}

/* Opens the partitions of `parts` (offsets: the group's committed ones) and sets each offset to where
 * reading must start: the restored restart offset. */
static int parts_open(metsd *d, rd_kafka_topic_partition_list_t *parts)
{
    mets_recovery_params rp = recovery_params(d);
    mets_err err;
    for (int i = 0; i < parts->cnt; i++) {
        int32_t p = parts->elems[i].partition;
        part_close(d, p);
        if (grow_parts(d, p) || !(d->rec[p] = mets_recovery_new(&rp, &err)))
            return -1;
    }
    if (read_state(d, parts))
        return -1;
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *tp = &parts->elems[i];
        tp->offset = mets_recovery_start_offset(d->rec[tp->partition], tp->offset);
        mets_log(LOG_INFO, "partition %d: reading from offset %lld", tp->partition, (long long)tp->offset);
    }
    return 0;
}

/* The assigned frames partitions with the next offset of each. */
static rd_kafka_topic_partition_list_t *positions(const metsd *d)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(d->nparts);
    for (int32_t p = 0; p < d->nparts; p++)
        if (d->rec[p] && mets_recovery_next_offset(d->rec[p]) >= 0)
            rd_kafka_topic_partition_list_add(l, d->cfg.kafka.topics.frames, p)->offset =
                mets_recovery_next_offset(d->rec[p]);
    return l;
}

/* After an aborted transaction: every assigned partition starts again from its committed state. */
static void rewind_all(metsd *d)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(d->nparts);
    for (int32_t p = 0; p < d->nparts; p++)
        if (d->rec[p])
            rd_kafka_topic_partition_list_add(l, d->cfg.kafka.topics.frames, p)->offset = RD_KAFKA_OFFSET_INVALID;
    rd_kafka_committed(d->consumer, l, KAFKA_TIMEOUT_MS);
    rd_kafka_error_t *e = NULL;
    int rc = parts_open(d, l);
    for (int i = 0; i < l->cnt; i++)
        if (l->elems[i].offset < 0) /* nothing committed yet: from the start, as auto.offset.reset says */
            l->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    if (rc || (e = rd_kafka_seek_partitions(d->consumer, l, KAFKA_TIMEOUT_MS))) {
        mets_log(LOG_CRIT, "rewinding after an abort failed%s%s", e ? ": " : "", e ? rd_kafka_error_string(e) : "");
        fatal(d);
    }
    for (int i = 0; i < l->cnt && !e; i++)
        if (l->elems[i].err)
            mets_log(LOG_ERR, "rewinding partition %d: %s", l->elems[i].partition, rd_kafka_err2str(l->elems[i].err));
    if (e)
        rd_kafka_error_destroy(e);
    rd_kafka_topic_partition_list_destroy(l);
}

/* ---- commits ---- */

/* Classifies a transaction error: fatal (fenced, or the producer is unusable) ends the process for
 * systemd to restart; anything else aborts the transaction and rewinds. Returns false. */
static bool txn_failed(metsd *d, rd_kafka_error_t *e, const char *what)
{
    mets_log(LOG_ERR, "transaction %s: %s", what, rd_kafka_error_string(e));
    bool is_fatal = rd_kafka_error_is_fatal(e);
    rd_kafka_error_destroy(e);
    if (is_fatal) {
        fatal(d);
        return false;
    }
    drain(d); /* nothing may be in flight while the partitions rewind */
    if (d->in_txn && (e = rd_kafka_abort_transaction(d->producer, KAFKA_TIMEOUT_MS))) {
        mets_log(LOG_CRIT, "transaction abort: %s", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        fatal(d);
        return false;
    }
    d->in_txn = d->failed_in_txn = false, d->redoing = true;
    mets_counter_inc(d->m_txn, TXN_ABORTED);
    if (!d->revoking) /* revoked partitions are the next owner's to redo */
        rewind_all(d);
    return false;
}

static int state_sink(void *ctx, const void *key, size_t klen, const void *value, size_t vlen, mets_err *err)
{
    metsd *d = ctx;
    uint8_t *copy = value ? malloc(vlen ? vlen : 1) : NULL;
    if (value && !copy)
        return mets_err_set(err, METS_ENOMEM, "out of memory");
    if (value)
        memcpy(copy, value, vlen);
    produce(d, d->cfg.kafka.topics.state, d->cur_part, key, klen, copy, vlen);
    return 0;
}

static void flush_idle(void *ctx, const char *stream_id)
{
    metsd *d = ctx;
    mets_windower_drop(d->win, stream_id, on_window, d, NULL);
}

/* Ends a transaction with the offsets: true when it committed. Retriable errors are retried a few
 * times. */
static bool txn_commit(metsd *d, rd_kafka_topic_partition_list_t *offsets)
{
    rd_kafka_error_t *e = NULL;
    if (d->failed_in_txn)
        return txn_failed(d, rd_kafka_error_new(RD_KAFKA_RESP_ERR__STATE, "an output was refused"), "produce");
    if (mets_failpoint("metsd.commit"))
        return txn_failed(d, rd_kafka_error_new(RD_KAFKA_RESP_ERR__TIMED_OUT, "injected failure"), "commit");
    for (int tries = 0; tries < 5; tries++) {
        if (offsets->cnt) {
            rd_kafka_consumer_group_metadata_t *g = rd_kafka_consumer_group_metadata(d->consumer);
            e = rd_kafka_send_offsets_to_transaction(d->producer, offsets, g, KAFKA_TIMEOUT_MS);
            rd_kafka_consumer_group_metadata_destroy(g);
        }
        if (!e)
            e = rd_kafka_commit_transaction(d->producer, KAFKA_TIMEOUT_MS);
        if (!e || !rd_kafka_error_is_retriable(e))
            break;
        mets_log(LOG_WARNING, "transaction commit: %s: retrying", rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        e = NULL;
    }
    if (e)
        return txn_failed(d, e, "commit");
    d->in_txn = false;
    mets_counter_inc(d->m_txn, TXN_COMMITTED);
    return true;
}

/* A clock record into frames partition p: the partition's time runs on in the log, also while every bed of
 * it is silent (pipeline/recovery.h). Lost when the broker does not take it: the next comes in a second. */
static void tick(metsd *d, int32_t p)
{
    rd_kafka_producev(d->clock, RD_KAFKA_V_TOPIC(d->cfg.kafka.topics.frames), RD_KAFKA_V_PARTITION(p),
                      RD_KAFKA_V_KEY(METS_FRAME_CLOCK_KEY, METS_FRAME_CLOCK_KEY_LEN), RD_KAFKA_V_END);
}

/* librdkafka's statistics of the consumer (its STATISTICS.md), every second on this thread: which brokers
 * answer, and per assigned frames partition whether everything up to its last stable offset has been
 * handled while its leader answers: then its clock runs on, with a clock record. */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    metsd *d = opaque;
    (void)rk;
    json_t *root = json_loadb(json, len, 0, NULL), *b, *p;
    if (!root)
        return 0;
    struct {
        json_int_t id;
        long at;
    } up[MAX_BROKERS];
    json_int_t node[MAX_BROKERS], ts = json_integer_value(json_object_get(root, "ts"));
    /* ages are counted from when the statistics were made (ts: librdkafka's rd_clock, CLOCK_MONOTONIC in µs),
     * which is seconds before now when they waited in the queue while the loop waited on a broker */
    long t = mets_monotonic_ms(), made = ts > 0 && ts / 1000 <= t ? (long)(ts / 1000) : t;
    long node_at[MAX_BROKERS] = {0}, contact = 0;
    int nup = 0, nodes = 0;
    const char *key;
    json_object_foreach(json_object_get(root, "brokers"), key, b) {
        const char *state = json_string_value(json_object_get(b, "state"));
        json_int_t rx = json_integer_value(json_object_get(b, "rxidle"));
        if (state && !strcmp(state, "UP") && rx >= 0 && rx < BROKER_CONTACT_US && nup < MAX_BROKERS) {
            json_int_t id = json_integer_value(json_object_get(b, "nodeid"));
            long at = made - (long)(rx / 1000);
            contact = at > contact ? at : contact;
            up[nup].id = id, up[nup++].at = at;
            if (id < 0) /* a bootstrap connection is no node; coordinators repeat a node */
                continue;
            int i = 0;
            while (i < nodes && node[i] != id)
                i++;
            if (i == nodes)
                node[nodes++] = id;
            node_at[i] = at > node_at[i] ? at : node_at[i];
        }
    }
    for (int i = 0; i < MAX_BROKERS; i++)
        atomic_store(&d->node_answered[i], node_at[i]);
    if (contact > atomic_load(&d->last_contact))
        atomic_store(&d->last_contact, contact);
    json_t *parts = json_object_get(json_object_get(json_object_get(root, "topics"), d->cfg.kafka.topics.frames),
                                    "partitions");
    json_object_foreach(parts, key, p) {
        json_int_t part = json_integer_value(json_object_get(p, "partition")), leader;
        if (part < 0 || part >= d->nparts || !d->rec[part])
            continue;
        leader = json_integer_value(json_object_get(p, "leader"));
        long leader_at = 0;
        for (int i = 0; i < nup; i++)
            if (up[i].id == leader && up[i].at > leader_at)
                leader_at = up[i].at;
        bool answers = leader_at && t - leader_at < LEADER_CONTACT_US / 1000;
        json_int_t ls = json_integer_value(json_object_get(p, "ls_offset"));
        if (answers && ls >= 0 && json_integer_value(json_object_get(p, "fetchq_cnt")) == 0 &&
            json_integer_value(json_object_get(p, "next_offset")) >= ls)
            tick(d, (int32_t)part);
        int64_t done = mets_recovery_next_offset(d->rec[part]);
        if (part >= MAX_LAG_PARTITIONS)
            continue;
        atomic_store(&d->leader_answered[part], leader_at);
        if (ls >= 0) /* else unknown, as while the leader is away: the gauge keeps the last known lag */
            mets_gauge_set(d->m_lag, (int)part, (double)(ls > done ? ls - (done > 0 ? done : 0) : 0));
    }
    json_decref(root);
    return 0;
}

/* At least once: what was produced is delivered, or else the work since the last commit is redone (outputs
 * then repeat, with the same ids, but none is lost). */
static bool alo_delivered(metsd *d, const char *what)
{
    rd_kafka_resp_err_t e = rd_kafka_flush(d->producer, KAFKA_TIMEOUT_MS);
    if (!e && !d->undelivered)
        return true;
    if (e)
        mets_log(LOG_ERR, "%s not delivered within %d s: redoing the work since the last commit", what,
                 KAFKA_TIMEOUT_MS / 1000);
    else
        mets_log(LOG_ERR, "%ld %s not delivered: redoing the work since the last commit", d->undelivered, what);
    d->undelivered = 0, d->redoing = true;
    if (!d->revoking) /* revoked partitions are the next owner's to redo */
        rewind_all(d);
    return false;
}

/* At least once: the state records delivered, then the offsets committed. */
static bool alo_commit(metsd *d, const rd_kafka_topic_partition_list_t *offsets)
{
    if (!alo_delivered(d, "state records"))
        return false;
    rd_kafka_resp_err_t e = rd_kafka_commit(d->consumer, offsets, 0);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
        mets_log(LOG_WARNING, "commit: %s", rd_kafka_err2str(e)); /* the next commit takes these offsets along */
        return false;
    }
    return true;
}

/* The gauges of raised alerts, from the alerter's counts. */
static void update_raised(metsd *d)
{
    double by_priority[METS_PRIORITY_HIGH + 1] = {0};
    for (int i = 0; i < mets_alerter_max_events(d->alerter); i++) {
        int priority, n = mets_alerter_raised(d->alerter, i, NULL, NULL, &priority);
        mets_gauge_set(d->m_raised, i, n);
        by_priority[priority] += n;
    }
    for (int p = 0; p <= METS_PRIORITY_HIGH; p++)
        mets_gauge_set(d->m_raised_priority, p, by_priority[p]);
}

/* Outputs, the state records that describe them and the input offsets, committed together. */
static void commit(metsd *d)
{
    if (d->exit_code)
        return; /* after a fatal error nothing more is committed: the restart redoes it */
    double t0 = mets_monotonic_s();
    for (int32_t p = 0; p < d->nparts; p++)
        if (d->rec[p]) {
            d->cur_part = p, d->cur_ts_ms = mets_wall_ms();
            mets_recovery_sweep(d->rec[p], flush_idle, d);
        }
    drain(d);
    if (!d->eos && !d->exit_code && !alo_delivered(d, "outputs"))
        return; /* no state record may describe an output that is not delivered */
    mets_err err;
    for (int32_t p = 0; p < d->nparts && !d->exit_code; p++) {
        d->cur_part = p;
        if (d->rec[p] && mets_recovery_checkpoint(d->rec[p], d->alerter, state_sink, d, &err)) {
            mets_log(LOG_CRIT, "%s", err.msg);
            fatal(d);
        }
    }
    if (d->exit_code)
        return;
    rd_kafka_topic_partition_list_t *offsets = positions(d);
    bool committed = d->eos ? d->in_txn && txn_commit(d, offsets) : offsets->cnt && alo_commit(d, offsets);
    d->redoing &= !committed;
    if (committed || (!d->in_txn && !d->redoing)) /* nothing waits for a commit */
        atomic_store(&d->last_committed, mets_monotonic_ms());
    rd_kafka_topic_partition_list_destroy(offsets);
    update_raised(d);
    mets_window_stats ws = mets_windower_stats(d->win);
    const uint64_t counts[7] = {ws.duplicates, ws.reordered,    ws.gaps_bridged,   ws.overlaps,
                                ws.seq_resets, ws.restarts_gap, ws.restarts_format};
    for (int i = 0; i < 7; i++) {
        mets_counter_add(d->m_events, i, counts[i] - d->events_seen[i]);
        d->events_seen[i] = counts[i];
    }
    mets_gauge_set(d->m_streams, 0, ws.streams);
    mets_histogram_observe(d->m_stage, STAGE_COMMIT, mets_monotonic_s() - t0);
}

/* Eager rebalancing: on revocation everything done so far is committed (or, failing that, aborted and
 * left to the next owner) and the partitions' streams forgotten; on assignment their state is read back
 * and reading starts where the rebuild needs it. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t why, rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    metsd *d = opaque;
    if (why == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        rd_kafka_committed(rk, parts, KAFKA_TIMEOUT_MS);
        if (parts_open(d, parts)) {
            mets_log(LOG_CRIT, "could not restore the state of the assigned partitions");
            fatal(d);
        }
        rd_kafka_assign(rk, parts);
        mets_log(LOG_INFO, "assigned %d partition%s", parts->cnt, parts->cnt == 1 ? "" : "s");
        return;
    }
    d->revoking = true;
    commit(d);
    d->revoking = false;
    for (int i = 0; i < parts->cnt; i++)
        part_close(d, parts->elems[i].partition);
    rd_kafka_assign(rk, NULL);
    mets_log(LOG_INFO, "revoked %d partition%s", parts->cnt, parts->cnt == 1 ? "" : "s");
}

/* ---- set-up ---- */

static rd_kafka_conf_t *kafka_conf(const metsd *d, const char *(*extra)[2], char *errstr, size_t size)
{
    return mets_config_kafka(d->cfg.kafka.bootstrap_servers, NULL, &d->cfg.kafka.properties,
                             &d->cfg.kafka.property_files, (const char *const(*)[2])extra, errstr, size);
}

/* Whether the pass-through properties set `name` (then metsd leaves its own default out). */
static bool user_sets(const metsd *d, const char *name)
{
    const mets_kv_list *user[] = {&d->cfg.kafka.properties, &d->cfg.kafka.property_files};
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < user[l]->n; i++)
            if (!strcmp(user[l]->items[i].key, name))
                return true;
    return false;
}

/* The partition count of `topic`, or -1 with the reason logged. */
static int partition_count(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = t ? rd_kafka_metadata(rk, 0, t, &md, KAFKA_TIMEOUT_MS) : RD_KAFKA_RESP_ERR__FAIL;
    int n = -1;
    if (!e && md->topic_cnt == 1 && !md->topics[0].err)
        n = md->topics[0].partition_cnt;
    else
        mets_log(LOG_ERR, "topic %s: %s", topic, rd_kafka_err2str(e ? e : md->topics[0].err));
    if (md)
        rd_kafka_metadata_destroy(md);
    if (t)
        rd_kafka_topic_destroy(t);
    return n;
}

static int open_kafka(metsd *d, const char *instance)
{
    char errstr[512], txn_id[512], group[512];
    snprintf(txn_id, sizeof txn_id, "%s-%s", d->cfg.kafka.group_id, instance);
    snprintf(group, sizeof group, "%s-state-reader", d->cfg.kafka.group_id);
    const char *producer_props[5][2] = {{"enable.idempotence", "true"}, {"linger.ms", "5"}}; /* NULL-ended */
    int np = 2;
    if (d->eos) {
        producer_props[np][0] = "transactional.id", producer_props[np++][1] = txn_id;
        /* A crashed instance's open transaction blocks read_committed readers of its partitions until
         * the broker aborts it (a restart with the same id aborts it at once): 10 s, not the default
         * minute, unless the properties say otherwise. */
        if (!user_sets(d, "transaction.timeout.ms"))
            producer_props[np][0] = "transaction.timeout.ms", producer_props[np++][1] = "10000";
    }
    const char *consumer_props[9][2] = {{"group.id", d->cfg.kafka.group_id},
                                        {"enable.auto.commit", "false"},
                                        {"enable.auto.offset.store", "false"},
                                        {"auto.offset.reset", "earliest"},
                                        {"isolation.level", "read_committed"},
                                        {"partition.assignment.strategy", "range"}};
    /* Static membership (KIP-345): a restarted instance takes its partitions back at once, with no
     * rebalance; one that stays away loses them after session.timeout.ms. */
    int nc = 6;
    if (!user_sets(d, "group.instance.id"))
        consumer_props[nc][0] = "group.instance.id", consumer_props[nc++][1] = txn_id;
    if (!user_sets(d, "statistics.interval.ms")) /* on_stats: broker contact, the partitions' clocks */
        consumer_props[nc][0] = "statistics.interval.ms", consumer_props[nc++][1] = "1000";
    const char *reader_props[][2] = {{"group.id", group},
                                     {"enable.auto.commit", "false"},
                                     {"enable.partition.eof", "true"},
                                     {"isolation.level", "read_committed"},
                                     {NULL, NULL}};
    const char *clock_props[][2] = {{"linger.ms", "0"}, {NULL, NULL}};
    rd_kafka_conf_t *pc = kafka_conf(d, producer_props, errstr, sizeof errstr), *cc = NULL, *rc = NULL, *kc = NULL;
    if (pc && (cc = kafka_conf(d, consumer_props, errstr, sizeof errstr)) &&
        (rc = kafka_conf(d, reader_props, errstr, sizeof errstr)))
        kc = kafka_conf(d, clock_props, errstr, sizeof errstr);
    if (pc) {
        rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
        rd_kafka_conf_set_opaque(pc, d);
    }
    if (cc) {
        rd_kafka_conf_set_rebalance_cb(cc, on_rebalance);
        rd_kafka_conf_set_stats_cb(cc, on_stats);
        rd_kafka_conf_set_opaque(cc, d);
    }
    if (!pc || !cc || !rc || !kc || !(d->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, errstr, sizeof errstr)) ||
        !(d->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, errstr, sizeof errstr)) ||
        !(d->state_reader = rd_kafka_new(RD_KAFKA_CONSUMER, rc, errstr, sizeof errstr)) ||
        !(d->clock = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, sizeof errstr))) {
        mets_log(LOG_ERR, "kafka: %s", errstr);
        return -1;
    }
    rd_kafka_poll_set_consumer(d->consumer);
    rd_kafka_poll_set_consumer(d->state_reader);
    int nframes = partition_count(d->consumer, d->cfg.kafka.topics.frames);
    int nstate = nframes < 0 ? -1 : partition_count(d->consumer, d->cfg.kafka.topics.state);
    if (nframes < 0 || nstate < 0)
        return -1;
    if (nstate != nframes) {
        mets_log(LOG_ERR,
                 "the state topic %s has %d partitions, the frames topic %s %d: they must be equal (state partition "
                 "p holds the state of frames partition p); create %s with %d partitions and cleanup.policy=compact",
                 d->cfg.kafka.topics.state, nstate, d->cfg.kafka.topics.frames, nframes, d->cfg.kafka.topics.state,
                 nframes);
        return -1;
    }
    if (grow_parts(d, nframes - 1))
        return -1;
    if (d->eos) {
        rd_kafka_error_t *e = rd_kafka_init_transactions(d->producer, KAFKA_TIMEOUT_MS);
        if (e) {
            mets_log(LOG_ERR, "transactions (transactional.id %s): %s", txn_id, rd_kafka_error_string(e));
            rd_kafka_error_destroy(e);
            return -1;
        }
    }
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, d->cfg.kafka.topics.frames, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(d->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e)
        mets_log(LOG_ERR, "subscribe to %s: %s", d->cfg.kafka.topics.frames, rd_kafka_err2str(e));
    else
        mets_log(LOG_INFO, "%s as %s, %d partitions", d->eos ? "exactly-once" : "at-least-once", txn_id, nframes);
    return e ? -1 : 0;
}

/* The alert state machine for `labels` with the policies of `cfg` (the alerter copies what it keeps). */
static mets_alerter *new_alerter(const mets_config *cfg, const mets_labels *labels, const char *model_version,
                                 const char *prompt_set_version, mets_err *err)
{
    mets_alert_label *al = calloc((size_t)labels->nlabels, sizeof *al);
    if (!al) {
        mets_err_set(err, METS_ENOMEM, "out of memory");
        return NULL;
    }
    for (int i = 0; i < labels->nlabels; i++)
        al[i] = (mets_alert_label){labels->labels[i].group, labels->labels[i].name,
                                   mets_config_policy(cfg, labels->labels[i].group, labels->labels[i].name)};
    mets_alert_params ap = mets_alert_default_params();
    /* Alert state outlives the window state of idle streams (pipeline/recovery.h): room for more streams. */
    ap.max_streams = 4 * cfg->streams.max_streams, ap.model_version = model_version;
    ap.prompt_set_version = prompt_set_version;
    ap.artefact_probability = cfg->alerts.artefact_probability;
    if ((ap.artefact_label = mets_config_artefact_label(cfg, labels, err)) < -1) {
        free(al);
        return NULL;
    }
    mets_alerter *a = mets_alerter_new(&ap, al, labels->nlabels, err);
    free(al);
    return a;
}

/* The event buffer for the current alerter. */
static int size_events(metsd *d, mets_err *err)
{
    mets_alert_event *e = realloc(d->events, (size_t)mets_alerter_max_events(d->alerter) * sizeof *e);
    if (!e)
        return mets_err_set(err, METS_ENOMEM, "out of memory");
    d->events = e;
    return 0;
}

/* "sha256:" and the prompt set's fingerprint into out[32]. */
static int prompt_version(const mets_labels *l, char *out, mets_err *err)
{
    char hex[METS_DIGEST_HEX + 1];
    if (mets_labels_fingerprint(l, hex))
        return mets_err_set(err, METS_ENOMEM, "out of memory");
    snprintf(out, 32, "sha256:%s", hex);
    return 0;
}

/* The model's id and version from its file, the prompts' version from what was loaded. */
static int identify(metsd *d, mets_err *err)
{
    char hex[METS_DIGEST_HEX + 1];
    int rc = mets_digest_file(d->cfg.models.ecg, hex, err);
    if (rc)
        return rc;
    snprintf(d->model_version, sizeof d->model_version, "sha256:%s", hex);
    const char *base = strrchr(d->cfg.models.ecg, '/'), *dot;
    base = base ? base + 1 : d->cfg.models.ecg;
    dot = strrchr(base, '.');
    snprintf(d->model_id, sizeof d->model_id, "%.*s", dot && dot > base ? (int)(dot - base) : (int)strlen(base), base);
    return prompt_version(d->labels, d->prompt_set_version, err);
}

/* Models, prompts and the pipeline's stages, as the configuration says. */
static int open_pipeline(metsd *d, mets_err *err)
{
    if (!(d->enc = mets_ecgenc_open(d->cfg.models.ecg, err)) || !(d->te = mets_textenc_open(d->cfg.models.text, err)) ||
        !(d->labels = mets_labels_load(d->cfg.models.labels, err)) ||
        !(d->bank = mets_promptbank_new(d->labels, d->te, d->enc, err)))
        return err->code;
    const mets_ecgenc_arch *a = mets_ecgenc_get_arch(d->enc);
    mets_window_params wp = mets_window_default_params();
    wp.rate_hz = a->rate_hz, wp.length_s = d->cfg.window.length_s, wp.hop_s = d->cfg.window.hop_s;
    wp.max_gap_s = d->cfg.window.max_gap_s, wp.max_reorder_frames = d->cfg.window.max_reorder_frames;
    wp.lookahead_s = d->cfg.window.lookahead_s;
    wp.max_streams = d->cfg.streams.max_streams;
    if (wp.length_s * a->rate_hz != a->samples)
        return mets_err_set(err, METS_EINVAL, "%s: window.length_s %g s, but the model takes %d samples at %d Hz",
                            d->cfg.file, wp.length_s, a->samples, a->rate_hz);
    int rc = identify(d, err);
    if (rc)
        return rc;
    if (!(d->win = mets_windower_new(&wp, err)) ||
        !(d->alerter = new_alerter(&d->cfg, d->labels, d->model_version, d->prompt_set_version, err)) ||
        !(d->workers = mets_workers_new(d->enc, d->bank, d->cfg.pipeline.workers, d->cfg.pipeline.batch_windows, err)))
        return err->code;
    return size_events(d, err);
}

/* What /healthz says, and whether the watchdog is pinged. */
static bool healthy(void *ctx, char *reason, size_t size)
{
    metsd *d = ctx;
    long t = mets_monotonic_ms();
    double idle = (t - atomic_load(&d->last_turn)) / 1e3, stuck = mets_workers_oldest_age(d->workers);
    double silent = (t - atomic_load(&d->last_contact)) / 1e3, waiting = (t - atomic_load(&d->last_committed)) / 1e3;
    if (idle > STUCK_S)
        snprintf(reason, size, "the consuming loop has not turned for %.0f s", idle);
    else if (stuck > STUCK_S)
        snprintf(reason, size, "a batch of windows has been scoring for %.0f s", stuck);
    else if (silent > d->cfg.health.broker_timeout_s)
        snprintf(reason, size, "no Kafka broker has answered for %.0f s", silent);
    else if (waiting > d->cfg.health.commit_timeout_s)
        snprintf(reason, size, "outputs have waited %.0f s for a commit that succeeds", waiting);
    else
        return true;
    return false;
}

/* Figures read when scraped, from the last answers known (statistics come late while the consuming loop
 * waits on the broker): brokers that answered within 5 s, partitions whose leader did not, ages of the last
 * broker answer and of the last commit. */
static void collect_kafka(FILE *out, void *ctx)
{
    metsd *d = ctx;
    long t = mets_monotonic_ms();
    int answering = 0;
    for (int i = 0; i < MAX_BROKERS; i++) {
        long at = atomic_load(&d->node_answered[i]);
        answering += at && t - at < BROKER_CONTACT_US / 1000;
    }
    fprintf(out,
            "# HELP mets_kafka_brokers_answering Kafka brokers that answered within the last 5 s\n"
            "# TYPE mets_kafka_brokers_answering gauge\nmets_kafka_brokers_answering %d\n",
            answering);
    fputs("# HELP mets_consumer_lag_stale 1 while the partition's leader has not answered for 5 s: its lag is as "
          "last known\n"
          "# TYPE mets_consumer_lag_stale gauge\n", out);
    for (int p = 0; p < d->nparts && p < MAX_LAG_PARTITIONS; p++) {
        long at = atomic_load(&d->leader_answered[p]);
        fprintf(out, "mets_consumer_lag_stale{partition=\"%d\"} %d\n", p, !at || t - at >= BROKER_CONTACT_US / 1000);
    }
    fprintf(out,
            "# HELP mets_kafka_contact_age_seconds seconds since a Kafka broker last answered\n"
            "# TYPE mets_kafka_contact_age_seconds gauge\nmets_kafka_contact_age_seconds %.3f\n"
            "# HELP mets_commit_age_seconds seconds since no output was waiting for a commit (one succeeded, or "
            "there was nothing to commit)\n"
            "# TYPE mets_commit_age_seconds gauge\nmets_commit_age_seconds %.3f\n",
            (t - atomic_load(&d->last_contact)) / 1e3, (t - atomic_load(&d->last_committed)) / 1e3);
}

static void free_names(char **names, const mets_alerter *a)
{
    for (int i = 0; names && i < mets_alerter_max_events(a); i++)
        free(names[i]);
    free(names);
}

/* "group/label" of every label of the alerter (mets_alerter_raised's order), or NULL. */
static char **alert_names(const mets_alerter *a)
{
    int n = mets_alerter_max_events(a);
    char **names = calloc((size_t)n, sizeof *names);
    for (int i = 0; names && i < n; i++) {
        const char *group, *name;
        mets_alerter_raised(a, i, &group, &name, NULL);
        size_t len = strlen(group) + strlen(name) + 2;
        if (!(names[i] = malloc(len))) {
            free_names(names, a);
            return NULL;
        }
        snprintf(names[i], len, "%s/%s", group, name);
    }
    return names;
}

/* Prometheus metrics, served on metrics.listen when metrics.enabled. */
static int open_metrics(metsd *d, mets_err *err)
{
    static const char *const states[] = {"raised", "updated", "cleared"}, *const results[] = {"ok", "failed"};
    static const char *const stages[] = {"encode", "publish", "commit"}, *const outputs[] = {"embedding", "alert"};
    static const char *const txn[] = {"committed", "aborted"};
    static const char *const events[] = {"duplicate", "reordered", "gap_bridged", "overlap", "seq_reset",
                                         "restart_gap", "restart_format"};
    static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5, 10};
    static const double lat[] = {0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 3, 4, 5, 7.5, 10, 20, 60};
    const char *reasons[METS_FRAME_NREASONS];
    for (int i = 0; i < METS_FRAME_NREASONS; i++)
        reasons[i] = mets_frame_reason_name((mets_frame_reason)i);
    mets_metrics *m = d->metrics = mets_metrics_new(err);
    if (!m || !(d->m_frames = mets_metrics_add_counter(m, "mets_frames_total", "EcgFrames consumed (new ones, not "
                                                       "those re-read to rebuild windows)", NULL, NULL, 0, err)) ||
        !(d->m_replayed = mets_metrics_add_counter(m, "mets_frames_replayed_total", "frames re-read after a restart "
                                                   "or rebalance to rebuild windows", NULL, NULL, 0, err)) ||
        !(d->m_dead = mets_metrics_add_counter(m, "mets_frames_dead_lettered_total", "frames sent to the dead-letter topic",
                                               "reason", reasons, METS_FRAME_NREASONS, err)) ||
        !(d->m_windows = mets_metrics_add_counter(m, "mets_windows_total", "windows scored, one embedding each", NULL,
                                                  NULL, 0, err)) ||
        !(d->m_alerts = mets_metrics_add_counter(m, "mets_alerts_total", "alert events published", "state", states, 3,
                                                 err)) ||
        !(d->m_failed = mets_metrics_add_counter(m, "mets_deliveries_failed_total", "outputs the broker did not take",
                                                 NULL, NULL, 0, err)) ||
        !(d->m_reloads = mets_metrics_add_counter(m, "mets_reloads_total", "SIGHUP reloads", "result", results, 2, err)) ||
        !(d->m_txn = mets_metrics_add_counter(m, "mets_transactions_total", "transactions ended", "result", txn, 2,
                                              err)) ||
        !(d->m_events = mets_metrics_add_counter(m, "mets_stream_events_total", "what the window stage did with "
                                                 "frames out of line: duplicates dropped, frames put back in order, "
                                                 "gaps bridged, overlaps cut, sequence resets, restarts after a gap "
                                                 "or a rate/lead change", "event", events, 7, err)) ||
        !(d->m_streams = mets_metrics_add_gauge(m, "mets_streams", "streams with window state", NULL, NULL, 0, err)) ||
        !(d->m_stage = mets_metrics_add_histogram(m, "mets_stage_seconds", "time per stage: encode a batch (queue "
                                                  "included), publish a batch, commit", "stage", stages, NSTAGES,
                                                  bounds, 13, err)) ||
        !(d->m_latency = mets_metrics_add_histogram(m, "mets_frame_to_output_seconds", "from the Kafka timestamp of "
                                                    "the frame that completed a window to its output being produced",
                                                    "output", outputs, 2, lat, 14, err)))
        return err->code;
    static const char *const priorities[] = {"low", "medium", "high"}, *const version[] = {METS_VERSION};
    char **names = alert_names(d->alerter);
    mets_gauge *build;
    if (!names || !(d->m_raised = mets_metrics_add_gauge(m, "mets_alerts_raised", "alerts raised now over every "
                                                         "stream, by group/label", "alert", (const char *const *)names,
                                                         mets_alerter_max_events(d->alerter), err)) ||
        !(d->m_raised_priority = mets_metrics_add_gauge(m, "mets_alerts_raised_by_priority", "alerts raised now "
                                                        "over every stream, by priority", "priority", priorities, 3,
                                                        err)) ||
        !(build = mets_metrics_add_gauge(m, "mets_build_info", "always 1: the version of metsd", "version", version,
                                         1, err)) ||
        mets_metrics_add_collector(m, "kafka", collect_kafka, d, err) ||
        mets_metrics_add_collector(m, "process", mets_metrics_process, NULL, err)) {
        free_names(names, d->alerter);
        return names ? err->code : mets_err_set(err, METS_ENOMEM, "out of memory");
    }
    free_names(names, d->alerter);
    mets_gauge_set(build, 0, 1);
    long t = mets_monotonic_ms();
    atomic_store(&d->last_turn, t), atomic_store(&d->last_contact, t), atomic_store(&d->last_committed, t);
    if (!d->cfg.metrics.enabled)
        return 0;
    if (!(d->http = mets_metrics_server_start(m, d->cfg.metrics.listen, healthy, d, err)))
        return err->code;
    mets_log(LOG_INFO, "metrics on port %d: /metrics, /healthz", mets_metrics_server_port(d->http));
    return 0;
}

/* The lag gauges, once the frames topic's partitions are known. */
static int open_lag_metric(metsd *d, mets_err *err)
{
    static char names[MAX_LAG_PARTITIONS][8];
    const char *parts[MAX_LAG_PARTITIONS];
    int np = d->nparts < MAX_LAG_PARTITIONS ? d->nparts : MAX_LAG_PARTITIONS;
    for (int i = 0; i < np; i++) {
        snprintf(names[i], sizeof names[i], "%d", i);
        parts[i] = names[i];
    }
    d->m_lag = mets_metrics_add_gauge(d->metrics, "mets_consumer_lag", "frames not yet processed, per frames "
                                      "partition (up to its last stable offset, every second)", "partition", parts, np,
                                      err);
    return d->m_lag ? 0 : err->code;
}

/* Whether two configurations give every label the same alert policy. */
static int same_policies(const mets_config *a, const mets_config *b, const mets_labels *l)
{
    for (int i = 0; i < l->nlabels; i++)
        if (memcmp(mets_config_policy(a, l->labels[i].group, l->labels[i].name),
                   mets_config_policy(b, l->labels[i].group, l->labels[i].name), sizeof(mets_alert_policy)))
            return 0;
    return 1;
}

static int same_labels(const mets_labels *a, const mets_labels *b)
{
    if (a->nlabels != b->nlabels)
        return 0;
    for (int i = 0; i < a->nlabels; i++)
        if (strcmp(a->labels[i].group, b->labels[i].group) || strcmp(a->labels[i].name, b->labels[i].name))
            return 0;
    return 1;
}

/* The command line's say over the file's (kafka.bootstrap_servers), at start and on every reload. */
static void override(const metsd *d, mets_config *cfg)
{
    if (d->bootstrap) {
        free(cfg->kafka.bootstrap_servers);
        cfg->kafka.bootstrap_servers = strdup(d->bootstrap);
    }
}

/* SIGHUP: the configuration file, the label prompts (re-embedded by the C language model) and the alert
 * policies again. Anything that fails keeps the running set whole. Prompts alone change without touching
 * alert state; a changed label set or policy starts the alert state machine over (state records written
 * for the old label set are refused on restore, so a restart after that starts over too). A change to any
 * other key (Kafka, window, model, workers ...) takes a restart: the reload is refused and names it. */
static void reload(metsd *d, const char *path)
{
    mets_config cfg = {0};
    mets_labels *labels = NULL;
    mets_promptbank *bank = NULL;
    mets_alerter *alerter = NULL;
    mets_err err;
    if (mets_config_load(path, &cfg, &err) || mets_config_check_files(&cfg, &err) ||
        !(labels = mets_labels_load(cfg.models.labels, &err)) || !(bank = mets_promptbank_new(labels, d->te, d->enc, &err))) {
        mets_log(LOG_WARNING, "reload failed, keeping the running configuration: %s", err.msg);
        mets_counter_inc(d->m_reloads, 1);
        goto out;
    }
    override(d, &cfg);
    const char *restart = mets_config_restart_key(&d->cfg, &cfg);
    if (restart) {
        mets_log(LOG_WARNING,
                 "reload refused, keeping the running configuration: %s: %s changed, which takes a restart",
                 path, restart);
        mets_counter_inc(d->m_reloads, 1);
        goto out;
    }
    const char *art = cfg.alerts.artefact_label, *old_art = d->cfg.alerts.artefact_label;
    int restart_alerts = !same_labels(labels, d->labels) || !same_policies(&cfg, &d->cfg, labels) ||
                         (art ? !old_art || strcmp(art, old_art) : old_art != NULL) ||
                         cfg.alerts.artefact_probability != d->cfg.alerts.artefact_probability;
    char prompts[32];
    if (prompt_version(labels, prompts, &err) ||
        (restart_alerts && !(alerter = new_alerter(&cfg, labels, d->model_version, prompts, &err))) ||
        (!restart_alerts && mets_alerter_set_prompt_set_version(d->alerter, prompts, &err))) {
        mets_log(LOG_WARNING, "reload failed, keeping the running configuration: %s", err.msg);
        mets_counter_inc(d->m_reloads, 1);
        goto out;
    }
    drain(d); /* windows gathered so far are scored with the prompts they came in under */
    if (mets_workers_set_bank(d->workers, bank, &err)) {
        mets_log(LOG_WARNING, "reload failed, keeping the running configuration: %s", err.msg);
        mets_counter_inc(d->m_reloads, 1);
        goto out;
    }
    mets_promptbank *old_bank = d->bank;
    mets_labels *old_labels = d->labels;
    d->bank = bank, d->labels = labels, bank = old_bank, labels = old_labels;
    if (alerter) {
        mets_alerter *old = d->alerter;
        d->alerter = alerter, alerter = old;
        char **names = alert_names(d->alerter);
        if (size_events(d, &err) || !names ||
            mets_metrics_relabel_gauge(d->metrics, d->m_raised, (const char *const *)names,
                                       mets_alerter_max_events(d->alerter), &err)) {
            mets_log(LOG_CRIT, "reload: %s", names ? err.msg : "out of memory");
            fatal(d); /* the alerter is swapped already: a restart starts from the new configuration whole */
        }
        free_names(names, d->alerter);
    }
    memcpy(d->prompt_set_version, prompts, sizeof prompts);
    mets_config tmp = d->cfg; /* what a reload applies (docs/config.md); the rest was checked unchanged */
    d->cfg.alerts = cfg.alerts, cfg.alerts = tmp.alerts;
    char *labels_path = d->cfg.models.labels;
    d->cfg.models.labels = cfg.models.labels, cfg.models.labels = labels_path;
    mets_counter_inc(d->m_reloads, 0);
    mets_log(LOG_INFO, "reloaded %s: %d labels, %d prompts (%s)%s", path, d->labels->nlabels, d->labels->nprompts,
             d->prompt_set_version,
             restart_alerts ? "; label set or alert policies changed: alert state starts over" : "");
out:
    mets_alerter_free(alerter);
    mets_promptbank_free(bank);
    mets_labels_free(labels);
    mets_config_free(&cfg);
}

static void close_all(metsd *d)
{
    mets_metrics_server_stop(d->http);
    if (d->consumer) {
        rd_kafka_consumer_close(d->consumer); /* a last revocation: commits what is done (unless failed) */
        rd_kafka_destroy(d->consumer);
    }
    if (d->state_reader) {
        rd_kafka_consumer_close(d->state_reader);
        rd_kafka_destroy(d->state_reader);
    }
    if (d->producer)
        rd_kafka_destroy(d->producer);
    if (d->clock) {
        rd_kafka_flush(d->clock, 1000);
        rd_kafka_destroy(d->clock);
    }
    mets_workers_free(d->workers);
    for (int32_t p = 0; p < d->nparts; p++)
        mets_recovery_free(d->rec[p]);
    free(d->rec);
    mets_metrics_destroy(d->metrics);
    mets_alerter_free(d->alerter);
    mets_windower_free(d->win);
    mets_frame_release(&d->frame);
    mets_promptbank_free(d->bank);
    mets_labels_free(d->labels);
    mets_textenc_free(d->te);
    mets_ecgenc_free(d->enc);
    free(d->events);
    mets_config_free(&d->cfg);
}

static void run(metsd *d, const char *path)
{
    double last_commit = mets_monotonic_s(), last_ping = 0;
    char reason[128];
    while (!stopping) {
        if (reload_requested) {
            reload_requested = 0;
            sd_notify(0, "RELOADING=1");
            reload(d, path);
            sd_notify(0, "READY=1");
        }
        atomic_store(&d->last_turn, mets_monotonic_ms());
        if (mets_monotonic_s() - last_ping >= 1.0 && healthy(d, reason, sizeof reason)) {
            sd_notify(0, "WATCHDOG=1");
            last_ping = mets_monotonic_s();
        }
        while (publish_oldest(d, false))
            ;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(d->consumer, mets_workers_in_flight(d->workers) ? 5 : 100);
        if (m && !m->err)
            handle(d, m);
        else if (m && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            mets_log(LOG_WARNING, "consume: %s", rd_kafka_message_errstr(m));
        if (m)
            rd_kafka_message_destroy(m);
        else
            submit_partial(d); /* idle: do not hold windows back */
        rd_kafka_poll(d->producer, 0);
        rd_kafka_poll(d->clock, 0);
        if (mets_monotonic_s() - last_commit >= d->cfg.delivery.commit_interval_ms / 1000.0) {
            commit(d);
            last_commit = mets_monotonic_s();
        }
    }
    commit(d);
}

static const char usage_text[] =
    "usage: metsd [-c FILE] [--bootstrap HOST:PORT] [--instance ID] [--print-alerts] | --check-config [FILE] | "
    "--version\n"
    "  -c, --config FILE     the configuration (default conf/metsd.yaml)\n"
    "  -b, --bootstrap H:P   Kafka brokers, instead of the file's kafka.bootstrap_servers ($METS_BOOTSTRAP too)\n"
    "  -i, --instance ID     this process's stable name in the group (default delivery.instance_id,\n"
    "                        $METS_INSTANCE, else the host name); the transactional.id is GROUP-ID\n"
    "      --print-alerts    also print every alert as a JSON line on stdout, as mets tail does\n"
    "      --check-config    load and check the configuration and the files it names, then exit\n";

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},   {"bootstrap", required_argument, NULL, 'b'},
        {"instance", required_argument, NULL, 'i'}, {"print-alerts", no_argument, NULL, 'P'},
        {"check-config", no_argument, NULL, 'C'},   {"version", no_argument, NULL, 'V'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    const char *path = "conf/metsd.yaml", *bootstrap = getenv("METS_BOOTSTRAP"), *instance = getenv("METS_INSTANCE");
    static metsd d;
    int c, check = 0;
    while ((c = getopt_long(argc, argv, "c:b:i:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'b': bootstrap = optarg; break;
        case 'i': instance = optarg; break;
        case 'P': d.print_alerts = 1; break;
        case 'C': check = 1; break;
        case 'V': printf("metsd %s\n", METS_VERSION); return 0;
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    if (check)
        return mets_config_check_main(optind < argc ? argv[optind] : path);
    mets_err err;
    char host[256] = "metsd";
    if (mets_config_load(path, &d.cfg, &err) || mets_config_check_files(&d.cfg, &err)) {
        mets_log(LOG_ERR, "%s", err.msg);
        close_all(&d);
        return 1;
    }
    mets_log_init("metsd", d.cfg.log.level);
    d.eos = d.cfg.delivery.mode == METS_DELIVERY_EXACTLY_ONCE;
    d.bootstrap = bootstrap && *bootstrap ? bootstrap : NULL;
    override(&d, &d.cfg);
    if (!instance || !*instance)
        instance = d.cfg.delivery.instance_id;
    if (!instance || !*instance) {
        gethostname(host, sizeof host - 1);
        instance = host;
    }
    if (open_pipeline(&d, &err)) {
        mets_log(LOG_ERR, "%s", err.msg);
        close_all(&d);
        return 1;
    }
    signal(SIGINT, on_signal), signal(SIGTERM, on_signal), signal(SIGHUP, on_signal);
    int rc = open_metrics(&d, &err);
    if (rc)
        mets_log(LOG_ERR, "%s", err.msg);
    else if (!(rc = open_kafka(&d, instance)) && (rc = open_lag_metric(&d, &err)))
        mets_log(LOG_ERR, "%s", err.msg);
    if (rc) {
        close_all(&d);
        return 1;
    }
    sd_notifyf(0, "READY=1\nSTATUS=consuming %s", d.cfg.kafka.topics.frames);
    mets_log(LOG_INFO, "consuming %s from %s as group %s; %d labels, %d encoder threads; model %s %s, prompts %s",
             d.cfg.kafka.topics.frames, d.cfg.kafka.bootstrap_servers, d.cfg.kafka.group_id, d.labels->nlabels,
             d.cfg.pipeline.workers, d.model_id, d.model_version, d.prompt_set_version);
    run(&d, path);
    sd_notify(0, "STOPPING=1");
    mets_log(LOG_INFO, "stopped: %ld frames, %ld dead letters, %ld windows, %ld alerts, %ld failed deliveries (redone)",
             d.frames, d.dead, d.windows, d.alerts, d.failed);
    int code = d.exit_code; /* a failed delivery was redone: not a failure of the process */
    close_all(&d);
    return code;
}
