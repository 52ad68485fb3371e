/* metsd: the streaming daemon. Consumes EcgFrames from Kafka, windows each stream, scores the windows
 * zero-shot against the label prompts, and publishes an embedding for every window, alerts as they
 * change, and dead letters for frames it cannot use.
 *
 * This first version runs the stages on one thread in the order frames arrive, and is at-least-once:
 * outputs are flushed to the broker before the consumed offsets are committed (every
 * delivery.commit_interval_ms and at shutdown), and every output is deterministic (alert ids and window
 * ends derive from the frames), so a consumer can drop a redelivered duplicate. Under systemd
 * (Type=notify, systemd/metsd.service) it reports READY once subscribed and pings the watchdog from the
 * processing loop only. Still to come (issues metsd and delivery): worker threads behind a poll thread,
 * back-pressure, committing only frames whose windows are all out, window state that survives
 * restarts, exactly-once transactions. SIGHUP reloads the prompts and alert policies; Prometheus
 * /metrics and /healthz are served on metrics.listen. */
#include <getopt.h>
#include <stdatomic.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "alert.h"
#include "config.h"
#include "frame.h"
#include "labels.h"
#include "output.h"
#include "prometheus.h"
#include "score.h"
#include "window.h"

#define BATCH 16

typedef struct pending {
    char stream_id[METS_FRAME_MAX_ID + 1];
    int64_t start_us, end_us;
    unsigned flags;
    uint16_t present;
} pending;

typedef struct metsd {
    mets_config cfg;
    mets_ecgenc *enc;
    mets_textenc *te;
    mets_labels *labels;
    mets_promptbank *bank;
    mets_windower *win;
    mets_scorer *scorer;
    mets_alerter *alerter;
    rd_kafka_t *consumer, *producer;
    mets_frame frame;
    int samples, nbatch, print_alerts;
    pending meta[BATCH];
    float *mv, *emb, *cos, *prob;
    mets_alert_event *events;
    long frames, dead, windows, alerts, failed;
    mets_metrics *metrics;
    mets_metrics_server *http;
    mets_counter *m_frames, *m_dead, *m_windows, *m_alerts, *m_failed, *m_reloads;
    mets_gauge *m_streams;
    mets_histogram *m_score;
    _Atomic long last_turn; /* CLOCK_MONOTONIC seconds of the processing loop's last turn, for /healthz */
} metsd;

static volatile sig_atomic_t stopping, reload_requested;

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        reload_requested = 1;
    else
        stopping = 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* stderr with syslog priority prefixes, which journald reads. No patient data at info level. */
static void say(int prio, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(int prio, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "<%d>metsd: ", prio);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    metsd *d = opaque;
    (void)rk;
    if (m->err) {
        d->failed++;
        mets_counter_inc(d->m_failed, 0);
        say(3, "delivery to %s failed: %s", rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
    }
}

/* Produces key/value to topic, waiting for room instead of dropping when the queue is full. */
static void produce(metsd *d, const char *topic, const char *key, uint8_t *value, size_t len)
{
    rd_kafka_resp_err_t e;
    while ((e = rd_kafka_producev(d->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                                  RD_KAFKA_V_VALUE(value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                                  RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(d->producer, 100);
    if (e) {
        free(value);
        d->failed++;
        say(3, "produce to %s: %s", topic, rd_kafka_err2str(e));
    }
}

static void print_alert(const mets_alert_event *e)
{
    static const char *const states[] = {"", "raised", "updated", "cleared"};
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:f, s:I, s:I, s:b}", "alert_id", e->id, "stream_id",
                          e->stream_id, "group", e->group, "label", e->label, "state", states[e->state],
                          "probability", (double)e->probability, "onset_us", (json_int_t)e->onset_us,
                          "window_end_us", (json_int_t)e->window_end_us, "technical", e->technical);
    json_dumpf(j, stdout, JSON_COMPACT | JSON_REAL_PRECISION(4));
    putchar('\n');
    fflush(stdout);
    json_decref(j);
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

/* Alerts for window i of the scored batch. */
static void publish_alerts(metsd *d, int i)
{
    int L = d->labels->nlabels;
    mets_scored_window sw = {.stream_id = d->meta[i].stream_id, .start_us = d->meta[i].start_us,
                             .end_us = d->meta[i].end_us, .prob = d->prob + (size_t)i * L,
                             .cos = d->cos + (size_t)i * L, .tech = tech_bits(d->meta[i].flags)};
    mets_err err;
    int n = mets_alerter_push(d->alerter, &sw, d->events, mets_alerter_max_events(d->alerter), &err);
    if (n < 0)
        say(4, "alerts: %s", err.msg);
    for (int k = 0; k < n; k++) {
        uint8_t *bytes;
        size_t len;
        if (mets_output_alert(&d->events[k], &bytes, &len, &err) == 0)
            produce(d, d->cfg.kafka.topics.alerts, sw.stream_id, bytes, len);
        if (d->print_alerts)
            print_alert(&d->events[k]);
        mets_counter_inc(d->m_alerts, d->events[k].state - 1);
        d->alerts++;
    }
}

/* Scores the windows gathered so far and publishes their embeddings and alerts. */
static void flush_batch(metsd *d)
{
    if (!d->nbatch)
        return;
    mets_window_leads leads[BATCH];
    for (int i = 0; i < d->nbatch; i++)
        for (int l = 0; l < METS_ECG_LEADS; l++)
            leads[i][l] = d->meta[i].present >> l & 1 ? d->mv + ((size_t)i * METS_ECG_LEADS + l) * d->samples : NULL;
    mets_err err;
    double t0 = now();
    int rc = mets_scorer_score(d->scorer, leads, d->nbatch, d->emb, d->cos, d->prob, &err);
    mets_histogram_observe(d->m_score, 0, now() - t0);
    if (rc) {
        say(3, "scoring: %s", err.msg);
        d->nbatch = 0;
        return;
    }
    int D = mets_ecgenc_dim(d->enc);
    for (int i = 0; i < d->nbatch; i++) {
        uint8_t *bytes;
        size_t len;
        if (mets_output_embedding(d->meta[i].stream_id, d->meta[i].start_us, d->meta[i].end_us, "mets-ecg",
                                  d->cfg.models.ecg, d->emb + (size_t)i * D, D, &bytes, &len, &err) == 0)
            produce(d, d->cfg.kafka.topics.embeddings, d->meta[i].stream_id, bytes, len);
        publish_alerts(d, i);
    }
    d->windows += d->nbatch;
    mets_counter_add(d->m_windows, 0, (uint64_t)d->nbatch);
    mets_gauge_set(d->m_streams, 0, mets_windower_stats(d->win).streams);
    d->nbatch = 0;
}

/* Window sink: copies the window (its arrays live only during the call); leads the stream lacks are
 * passed on as missing, which the encoder's input marks. */
static void on_window(const mets_window *w, void *ctx)
{
    metsd *d = ctx;
    if (d->nbatch == BATCH)
        flush_batch(d);
    pending *p = &d->meta[d->nbatch];
    snprintf(p->stream_id, sizeof p->stream_id, "%s", w->stream_id);
    p->start_us = w->start_us, p->end_us = w->end_us, p->flags = w->flags, p->present = w->present;
    float *dst = d->mv + (size_t)d->nbatch * METS_ECG_LEADS * d->samples;
    memcpy(dst, w->mv, (size_t)METS_ECG_LEADS * d->samples * sizeof *dst);
    d->nbatch++;
}

static void handle(metsd *d, const rd_kafka_message_t *m)
{
    mets_frame_reason why;
    mets_err err;
    d->frames++;
    mets_counter_inc(d->m_frames, 0);
    if (mets_frame_decode(m->payload, m->len, &d->frame, &why, &err) == 0) {
        if (mets_windower_push(d->win, &d->frame, on_window, d, &err) == 0)
            return;
        why = METS_FRAME_STREAM_CAP; /* the only frame the windower refuses: still accounted for */
    }
    uint8_t *bytes;
    size_t len;
    char key[64];
    snprintf(key, sizeof key, "%s/%d/%lld", rd_kafka_topic_name(m->rkt), m->partition, (long long)m->offset);
    if (mets_output_dead_letter(m->payload, m->len, rd_kafka_topic_name(m->rkt), m->partition, m->offset, why,
                                err.msg, &bytes, &len, &err) == 0)
        produce(d, d->cfg.kafka.topics.dead_letter, key, bytes, len);
    mets_counter_inc(d->m_dead, (int)why);
    d->dead++;
}

/* Outputs first, then offsets: a crash in between redelivers, never loses. */
static void commit(metsd *d)
{
    flush_batch(d);
    if (rd_kafka_flush(d->producer, 30000)) {
        say(3, "outputs not delivered within 30 s: offsets not committed");
        return;
    }
    rd_kafka_resp_err_t e = rd_kafka_commit(d->consumer, NULL, 0);
    if (e && e != RD_KAFKA_RESP_ERR__NO_OFFSET)
        say(4, "commit: %s", rd_kafka_err2str(e));
}

static rd_kafka_conf_t *kafka_conf(const metsd *d, char *errstr, size_t size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    int bad = rd_kafka_conf_set(conf, "bootstrap.servers", d->cfg.kafka.bootstrap_servers, errstr, size) != 0;
    for (int i = 0; i < d->cfg.kafka.properties.n && !bad; i++)
        bad = rd_kafka_conf_set(conf, d->cfg.kafka.properties.items[i].key, d->cfg.kafka.properties.items[i].value,
                                errstr, size) != 0;
    if (bad) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

static int open_kafka(metsd *d)
{
    char errstr[512];
    rd_kafka_conf_t *pc = kafka_conf(d, errstr, sizeof errstr), *cc = kafka_conf(d, errstr, sizeof errstr);
    if (pc && (rd_kafka_conf_set(pc, "enable.idempotence", "true", errstr, sizeof errstr) ||
               rd_kafka_conf_set(pc, "linger.ms", "5", errstr, sizeof errstr)))
        rd_kafka_conf_destroy(pc), pc = NULL;
    if (cc && (rd_kafka_conf_set(cc, "group.id", d->cfg.kafka.group_id, errstr, sizeof errstr) ||
               rd_kafka_conf_set(cc, "enable.auto.commit", "false", errstr, sizeof errstr) ||
               rd_kafka_conf_set(cc, "auto.offset.reset", "earliest", errstr, sizeof errstr) ||
               rd_kafka_conf_set(cc, "isolation.level", "read_committed", errstr, sizeof errstr)))
        rd_kafka_conf_destroy(cc), cc = NULL;
    if (pc) {
        rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
        rd_kafka_conf_set_opaque(pc, d);
    }
    if (!pc || !cc || !(d->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, errstr, sizeof errstr)) ||
        !(d->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, errstr, sizeof errstr))) {
        say(3, "kafka: %s", errstr);
        return -1;
    }
    rd_kafka_poll_set_consumer(d->consumer);
    rd_kafka_topic_partition_list_t *topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, d->cfg.kafka.topics.frames, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(d->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (e)
        say(3, "subscribe to %s: %s", d->cfg.kafka.topics.frames, rd_kafka_err2str(e));
    return e ? -1 : 0;
}

/* The alert state machine for `labels` with the policies of `cfg` (the alerter copies what it keeps). */
static mets_alerter *new_alerter(const mets_config *cfg, const mets_labels *labels, mets_err *err)
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
    ap.max_streams = cfg->streams.max_streams, ap.model_version = cfg->models.ecg;
    ap.prompt_set_version = cfg->models.labels;
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
    wp.max_streams = d->cfg.streams.max_streams;
    d->samples = a->samples;
    if (wp.length_s * a->rate_hz != a->samples)
        return mets_err_set(err, METS_EINVAL, "%s: window.length_s %g s, but the model takes %d samples at %d Hz",
                            d->cfg.file, wp.length_s, a->samples, a->rate_hz);
    int L = d->labels->nlabels;
    d->mv = malloc((size_t)BATCH * METS_ECG_LEADS * a->samples * sizeof *d->mv);
    d->emb = malloc((size_t)BATCH * a->embed_dim * sizeof *d->emb);
    d->cos = malloc((size_t)BATCH * L * sizeof *d->cos), d->prob = malloc((size_t)BATCH * L * sizeof *d->prob);
    if (!d->mv || !d->emb || !d->cos || !d->prob)
        return mets_err_set(err, METS_ENOMEM, "out of memory");
    if (!(d->win = mets_windower_new(&wp, err)) || !(d->scorer = mets_scorer_new(d->enc, d->bank, BATCH, err)) ||
        !(d->alerter = new_alerter(&d->cfg, d->labels, err)))
        return err->code;
    return size_events(d, err);
}

static bool healthy(void *ctx, char *reason, size_t size)
{
    metsd *d = ctx;
    long idle = (long)now() - atomic_load(&d->last_turn);
    if (idle <= 10)
        return true;
    snprintf(reason, size, "the processing loop has not turned for %ld s", idle);
    return false;
}

/* Prometheus metrics, served on metrics.listen when metrics.enabled. */
static int open_metrics(metsd *d, mets_err *err)
{
    static const char *const states[] = {"raised", "updated", "cleared"}, *const results[] = {"ok", "failed"};
    static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};
    const char *reasons[METS_FRAME_NREASONS];
    for (int i = 0; i < METS_FRAME_NREASONS; i++)
        reasons[i] = mets_frame_reason_name((mets_frame_reason)i);
    mets_metrics *m = d->metrics = mets_metrics_new(err);
    if (!m || !(d->m_frames = mets_metrics_add_counter(m, "mets_frames_total", "EcgFrames consumed", NULL, NULL, 0, err)) ||
        !(d->m_dead = mets_metrics_add_counter(m, "mets_frames_dead_lettered_total", "frames sent to the dead-letter topic",
                                               "reason", reasons, METS_FRAME_NREASONS, err)) ||
        !(d->m_windows = mets_metrics_add_counter(m, "mets_windows_total", "windows scored, one embedding each", NULL,
                                                  NULL, 0, err)) ||
        !(d->m_alerts = mets_metrics_add_counter(m, "mets_alerts_total", "alert events published", "state", states, 3,
                                                 err)) ||
        !(d->m_failed = mets_metrics_add_counter(m, "mets_deliveries_failed_total", "outputs the broker did not take",
                                                 NULL, NULL, 0, err)) ||
        !(d->m_reloads = mets_metrics_add_counter(m, "mets_reloads_total", "SIGHUP reloads", "result", results, 2, err)) ||
        !(d->m_streams = mets_metrics_add_gauge(m, "mets_streams", "streams with window state", NULL, NULL, 0, err)) ||
        !(d->m_score = mets_metrics_add_histogram(m, "mets_score_batch_seconds", "time to score one batch of windows",
                                                  NULL, NULL, 0, bounds, 10, err)))
        return err->code;
    atomic_store(&d->last_turn, (long)now());
    if (!d->cfg.metrics.enabled)
        return 0;
    if (!(d->http = mets_metrics_server_start(m, d->cfg.metrics.listen, healthy, d, err)))
        return err->code;
    say(6, "metrics on port %d: /metrics, /healthz", mets_metrics_server_port(d->http));
    return 0;
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

/* SIGHUP: the configuration file, the label prompts (re-embedded by the C language model) and the alert
 * policies again. Anything that fails keeps the running set whole. Prompts alone change without touching
 * alert state; a changed label set or policy starts the alert state machine over. Kafka, window and model
 * settings take a restart. */
static void reload(metsd *d, const char *path)
{
    mets_config cfg = {0};
    mets_labels *labels = NULL;
    mets_promptbank *bank = NULL;
    mets_alerter *alerter = NULL;
    mets_err err;
    if (mets_config_load(path, &cfg, &err) || mets_config_check_files(&cfg, &err) ||
        !(labels = mets_labels_load(cfg.models.labels, &err)) || !(bank = mets_promptbank_new(labels, d->te, d->enc, &err))) {
        say(4, "reload failed, keeping the running configuration: %s", err.msg);
        mets_counter_inc(d->m_reloads, 1);
        goto out;
    }
    int restart_alerts = !same_labels(labels, d->labels) || !same_policies(&cfg, &d->cfg, labels);
    if (restart_alerts && !(alerter = new_alerter(&cfg, labels, &err))) {
        say(4, "reload failed, keeping the running configuration: %s", err.msg);
        mets_counter_inc(d->m_reloads, 1);
        goto out;
    }
    flush_batch(d); /* windows gathered so far are scored with the prompts they came in under */
    mets_scorer_set_bank(d->scorer, bank);
    mets_promptbank *old_bank = d->bank;
    mets_labels *old_labels = d->labels;
    d->bank = bank, d->labels = labels, bank = NULL, labels = old_labels;
    mets_promptbank_free(old_bank);
    if (alerter) {
        mets_alerter *old = d->alerter;
        d->alerter = alerter, alerter = old;
        if (size_events(d, &err))
            say(3, "%s", err.msg);
    }
    mets_config tmp = d->cfg; /* the alert policies are what changes; the rest needs a restart */
    d->cfg.alerts = cfg.alerts, cfg.alerts = tmp.alerts;
    mets_counter_inc(d->m_reloads, 0);
    say(6, "reloaded %s: %d labels, %d prompts%s", path, d->labels->nlabels, d->labels->nprompts,
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
    mets_metrics_destroy(d->metrics);
    if (d->consumer) {
        rd_kafka_consumer_close(d->consumer);
        rd_kafka_destroy(d->consumer);
    }
    if (d->producer)
        rd_kafka_destroy(d->producer);
    mets_alerter_free(d->alerter);
    mets_scorer_free(d->scorer);
    mets_windower_free(d->win);
    mets_frame_release(&d->frame);
    mets_promptbank_free(d->bank);
    mets_labels_free(d->labels);
    mets_textenc_free(d->te);
    mets_ecgenc_free(d->enc);
    free(d->mv), free(d->emb), free(d->cos), free(d->prob), free(d->events);
    mets_config_free(&d->cfg);
}

static void run(metsd *d, const char *path)
{
    double last_commit = now(), last_ping = 0;
    while (!stopping) {
        if (reload_requested) {
            reload_requested = 0;
            sd_notify(0, "RELOADING=1");
            reload(d, path);
            sd_notify(0, "READY=1");
        }
        atomic_store(&d->last_turn, (long)now());
        if (now() - last_ping >= 1.0) { /* alive: this loop turned (a stuck stage stops the pings) */
            sd_notify(0, "WATCHDOG=1");
            last_ping = now();
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(d->consumer, 100);
        if (m && !m->err)
            handle(d, m);
        else if (m && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            say(4, "consume: %s", rd_kafka_message_errstr(m));
        if (m)
            rd_kafka_message_destroy(m);
        else
            flush_batch(d); /* idle: do not hold windows back */
        rd_kafka_poll(d->producer, 0);
        if (now() - last_commit >= d->cfg.delivery.commit_interval_ms / 1000.0) {
            commit(d);
            last_commit = now();
        }
    }
    commit(d);
}

static const char usage_text[] =
    "usage: metsd [-c FILE] [--bootstrap HOST:PORT] [--print-alerts] | --check-config [FILE] | --version\n"
    "  -c, --config FILE     the configuration (default conf/metsd.yaml)\n"
    "  -b, --bootstrap H:P   Kafka brokers, instead of the file's kafka.bootstrap_servers ($METS_BOOTSTRAP too)\n"
    "      --print-alerts    also print every alert as a JSON line on stdout\n"
    "      --check-config    load and check the configuration and the files it names, then exit\n";

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'}, {"bootstrap", required_argument, NULL, 'b'},
        {"print-alerts", no_argument, NULL, 'P'}, {"check-config", no_argument, NULL, 'C'},
        {"version", no_argument, NULL, 'V'},      {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    const char *path = "conf/metsd.yaml", *bootstrap = getenv("METS_BOOTSTRAP");
    static metsd d;
    int c, check = 0;
    while ((c = getopt_long(argc, argv, "c:b:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'b': bootstrap = optarg; break;
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
    if (mets_config_load(path, &d.cfg, &err) || mets_config_check_files(&d.cfg, &err) || open_pipeline(&d, &err) ||
        open_metrics(&d, &err)) {
        say(3, "%s", err.msg);
        close_all(&d);
        return 1;
    }
    if (bootstrap && *bootstrap) {
        free(d.cfg.kafka.bootstrap_servers);
        d.cfg.kafka.bootstrap_servers = strdup(bootstrap);
    }
    if (d.cfg.delivery.mode == METS_DELIVERY_EXACTLY_ONCE)
        say(4, "delivery.mode exactly_once is not implemented yet: running at-least-once");
    if (open_kafka(&d)) {
        close_all(&d);
        return 1;
    }
    signal(SIGINT, on_signal), signal(SIGTERM, on_signal), signal(SIGHUP, on_signal);
    sd_notifyf(0, "READY=1\nSTATUS=consuming %s", d.cfg.kafka.topics.frames);
    say(6, "consuming %s from %s as group %s; %d labels", d.cfg.kafka.topics.frames, d.cfg.kafka.bootstrap_servers,
        d.cfg.kafka.group_id, d.labels->nlabels);
    run(&d, path);
    sd_notify(0, "STOPPING=1");
    say(6, "stopped: %ld frames, %ld dead letters, %ld windows, %ld alerts, %ld failed deliveries", d.frames, d.dead,
        d.windows, d.alerts, d.failed);
    int failed = d.failed != 0;
    close_all(&d);
    return failed;
}
