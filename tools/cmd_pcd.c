/* mets pcd: the Alert Reporter of IHE PCD ACM. Reads the alert topic (read_committed, a consumer group of its
 * own) and sends each alert event to the alert manager as a PCD-04 message (alerting/pcd.h) over MLLP, one
 * at a time, in the topic's order; it commits an event's offset only once the manager has acknowledged it
 * (ACK^R41 with AA or CA). So a crash or a restart sends again what was not acknowledged, with the same
 * message control id: at least once, recognisably.
 *
 * An event that is not acknowledged (no connection, a timeout, a lost connection, a negative
 * acknowledgement) is sent again after a wait that doubles from manager.retry_min_s to
 * manager.retry_max_s, until it is: an alarm is never dropped. A negative acknowledgement is logged as an
 * error with the manager's text. /healthz answers 503 (and the systemd watchdog is not pinged) once an event
 * has waited health.ack_timeout_s. */
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "cli.h"
#include "clock.h"
#include "config.h"
#include "failpoint.h"
#include "log.h"
#include "mets.pb-c.h"
#include "mllp.h"
#include "pcd.h"
#include "prometheus.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

enum { SENT_ACCEPTED, SENT_REJECTED, SENT_FAILED, NSENT };
static const char *const sent_results[] = {"accepted", "rejected", "failed"};
enum { EVENT_DELIVERED, EVENT_SKIPPED, NEVENT };
static const char *const event_outcomes[] = {"delivered", "skipped"};

typedef struct pcd {
    mets_pcd_config cfg;
    rd_kafka_t *rk;
    mets_mllp *mllp;
    mets_metrics *metrics;
    mets_metrics_server *server;
    mets_counter *m_sent, *m_events, *m_commit_failed;
    mets_gauge *m_connected;
    mets_histogram *m_ack;
    atomic_llong waiting_since_ms; /* monotonic ms since an unacknowledged event was first sent; 0: none */
} pcd;

static double waiting_s(const pcd *p)
{
    long long since = atomic_load(&((pcd *)p)->waiting_since_ms);
    return since ? (double)(mets_monotonic_ms() - since) / 1000 : 0;
}

static bool healthy(void *ctx, char *reason, size_t size)
{
    const pcd *p = ctx;
    double w = waiting_s(p);
    if (w < p->cfg.health.ack_timeout_s)
        return true;
    snprintf(reason, size, "an alert event has waited %.0f s for the alert manager's acknowledgement", w);
    return false;
}

static void collect_waiting(FILE *out, void *ctx)
{
    fprintf(out, "# HELP mets_pcd_unacknowledged_seconds how long the event being sent has waited for its "
                 "acknowledgement (0: none waits)\n# TYPE mets_pcd_unacknowledged_seconds gauge\n"
                 "mets_pcd_unacknowledged_seconds %.3f\n",
            waiting_s(ctx));
}

static void tick(pcd *p)
{
    char why[128];
    mets_gauge_set(p->m_connected, 0, mets_mllp_connected(p->mllp));
    if (healthy(p, why, sizeof why))
        sd_notify(0, "WATCHDOG=1");
}

/* Sleeps s seconds, or less when stopping. */
static void pause_s(pcd *p, double s)
{
    double until = mets_monotonic_s() + s;
    while (!stopping && mets_monotonic_s() < until) {
        tick(p);
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Sends one event until the manager accepts it: 0, or -1 when stopping first. */
static int deliver(pcd *p, const char *msg, size_t len, const char *control_id, const char *what)
{
    double wait = p->cfg.manager.retry_min_s;
    atomic_store(&p->waiting_since_ms, mets_monotonic_ms());
    for (int tries = 1; !stopping; tries++) {
        mets_err err = {0};
        mets_hl7_ack ack;
        double t0 = mets_monotonic_s();
        int rc = mets_mllp_exchange(p->mllp, msg, len, control_id, p->cfg.manager.connect_timeout_s,
                                    p->cfg.manager.ack_timeout_s, &ack, &err);
        if (!rc && mets_hl7_ack_accepted(&ack)) {
            mets_counter_inc(p->m_sent, SENT_ACCEPTED);
            mets_histogram_observe(p->m_ack, 0, mets_monotonic_s() - t0);
            atomic_store(&p->waiting_since_ms, 0);
            if (tries > 1)
                mets_log(LOG_NOTICE, "%s acknowledged at try %d", what, tries);
            return 0;
        }
        if (!rc) {
            mets_counter_inc(p->m_sent, SENT_REJECTED);
            mets_log(LOG_ERR, "the alert manager refused %s (%s, try %d): %s; sending it again in %.1f s", what,
                     ack.code, tries, *ack.text ? ack.text : "no reason given", wait);
        } else {
            mets_counter_inc(p->m_sent, SENT_FAILED);
            mets_log(LOG_WARNING, "%s not acknowledged (try %d): %s; sending it again in %.1f s", what, tries,
                     err.msg, wait);
        }
        tick(p);
        pause_s(p, wait);
        wait = fmin(wait * 2, p->cfg.manager.retry_max_s);
    }
    return -1;
}

static void commit(pcd *p, const rd_kafka_message_t *m)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, rd_kafka_topic_name(m->rkt), m->partition)->offset = m->offset + 1;
    rd_kafka_resp_err_t e = rd_kafka_commit(p->rk, l, 0);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) { /* its partition went to another member: that one sends the event again, same control id */
        mets_counter_inc(p->m_commit_failed, 0);
        mets_log(LOG_WARNING, "commit of %s [%d] at %lld failed: %s", rd_kafka_topic_name(m->rkt), m->partition,
                 (long long)m->offset + 1, rd_kafka_err2str(e));
    }
}

/* One record of the alert topic: sent and committed, or skipped (and committed) when it is no alert. 0, or
 * -1 when stopping before it was acknowledged. */
static int handle(pcd *p, const rd_kafka_message_t *m)
{
    Mets__V1__Alert *a = m->payload ? mets__v1__alert__unpack(NULL, m->len, m->payload) : NULL;
    char control_id[METS_PCD_CONTROL_ID_MAX], what[400];
    mets_err err = {0};
    size_t len = 0;
    char *msg = a ? mets_pcd_message(&p->cfg, a, mets_wall_ms() * 1000, &len, control_id, &err) : NULL;
    int rc = 0;
    if (!msg) {
        mets_counter_inc(p->m_events, EVENT_SKIPPED);
        mets_log(LOG_ERR, "%s [%d] at %lld skipped: %s", rd_kafka_topic_name(m->rkt), m->partition,
                 (long long)m->offset, a ? err.msg : "not an Alert (protobuf)");
    } else {
        snprintf(what, sizeof what, "%s %s of %s (%s)", a->label,
                 a->state == METS__V1__ALERT_STATE__ALERT_STATE_RAISED    ? "raised"
                 : a->state == METS__V1__ALERT_STATE__ALERT_STATE_CLEARED ? "cleared"
                                                                          : "updated",
                 a->stream_id, control_id);
        mets_log(LOG_DEBUG, "sending %s: %.*s", what, (int)len, msg);
        if (!(rc = deliver(p, msg, len, control_id, what)))
            mets_counter_inc(p->m_events, EVENT_DELIVERED);
    }
    if (!rc && mets_failpoint("pcd.acknowledged")) /* a crash between the acknowledgement and the commit */
        raise(SIGKILL);
    if (!rc)
        commit(p, m);
    free(msg);
    if (a)
        mets__v1__alert__free_unpacked(a, NULL);
    return rc;
}

static rd_kafka_t *new_consumer(const pcd *p)
{
    char errstr[512];
    /* A delivery waits for the manager as long as it takes, without polling: a member that did would be
     * expelled and its event sent twice. A default, which the user's properties may change. */
    const char *const defaults[][2] = {{"max.poll.interval.ms", "86400000"}, {NULL, NULL}};
    /* The user's properties may not set these (config.c refuses them). */
    const char *const own[][2] = {{"group.id", p->cfg.kafka.group_id},
                                  {"enable.auto.commit", "false"},
                                  {"enable.auto.offset.store", "false"},
                                  {"isolation.level", "read_committed"},
                                  {"auto.offset.reset", "earliest"},
                                  /* the eager range assignor: librdkafka 2.0.2's cooperative-sticky has
                                   * known bugs (fixed up to 2.10) */
                                  {"partition.assignment.strategy", "range"},
                                  {NULL, NULL}};
    rd_kafka_conf_t *conf = mets_config_kafka(p->cfg.kafka.bootstrap_servers, defaults, &p->cfg.kafka.properties,
                                              &p->cfg.kafka.property_files, own, errstr, sizeof errstr);
    rd_kafka_t *rk = conf ? rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr) : NULL;
    if (!rk) {
        mets_log(LOG_ERR, "kafka: %s", errstr);
        if (conf)
            rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->cfg.kafka.topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e) {
        mets_log(LOG_ERR, "subscribe to %s: %s", p->cfg.kafka.topic, rd_kafka_err2str(e));
        rd_kafka_destroy(rk);
        return NULL;
    }
    return rk;
}

static int start_metrics(pcd *p, mets_err *err)
{
    static const double ack_le[] = {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10};
    if (!(p->metrics = mets_metrics_new(err)) ||
        !(p->m_sent = mets_metrics_add_counter(p->metrics, "mets_pcd_messages_total",
                                               "PCD-04 messages sent, by what came back: accepted (AA, CA), "
                                               "rejected (AE, AR, CE, CR) or failed (no connection, no "
                                               "acknowledgement in time, a lost connection)",
                                               "result", sent_results, NSENT, err)) ||
        !(p->m_events = mets_metrics_add_counter(p->metrics, "mets_pcd_events_total",
                                                 "alert events delivered (acknowledged) or skipped (not an alert)",
                                                 "outcome", event_outcomes, NEVENT, err)) ||
        !(p->m_commit_failed = mets_metrics_add_counter(p->metrics, "mets_pcd_commit_failures_total",
                                                        "offset commits that failed (the event is sent again)",
                                                        NULL, NULL, 0, err)) ||
        !(p->m_connected = mets_metrics_add_gauge(p->metrics, "mets_pcd_manager_connected",
                                                  "1 while a connection to the alert manager is open", NULL, NULL,
                                                  0, err)) ||
        !(p->m_ack = mets_metrics_add_histogram(p->metrics, "mets_pcd_ack_seconds",
                                                "from sending a message to its acknowledgement (accepted ones)",
                                                NULL, NULL, 0, ack_le, 9, err)) ||
        mets_metrics_add_collector(p->metrics, "unacknowledged", collect_waiting, p, err) ||
        mets_metrics_add_collector(p->metrics, "process", mets_metrics_process, NULL, err))
        return -1;
    if (!p->cfg.metrics.enabled)
        return 0;
    if (!(p->server = mets_metrics_server_start(p->metrics, p->cfg.metrics.listen, healthy, p, err)))
        return -1;
    mets_log(LOG_INFO, "metrics on port %d", mets_metrics_server_port(p->server));
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: mets pcd [--check-config] [CONFIG]\n"
                    "  Sends the alert events of the alert topic to an alert manager as IHE PCD-04 (HL7 v2\n"
                    "  ORU^R40 over MLLP), committing each once it is acknowledged. CONFIG: conf/pcd.yaml\n"
                    "  (docs/config.md, \"mets pcd\"). --check-config: load and check CONFIG, then exit.\n");
    return 2;
}

int mets_cmd_pcd(int argc, char **argv)
{
    static const struct option opts[] = {{"check-config", no_argument, NULL, 'c'}, {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    bool check = false;
    for (int o; (o = getopt_long(argc, argv, "h", opts, NULL)) != -1;) {
        if (o == 'c')
            check = true;
        else
            return usage();
    }
    if (argc - optind > 1)
        return usage();
    const char *file = optind < argc ? argv[optind] : "conf/pcd.yaml";
    pcd p = {0};
    mets_err err = {0};
    if (mets_pcd_config_load(file, &p.cfg, &err)) {
        fprintf(stderr, "mets pcd: %s\n", err.msg);
        return 1;
    }
    if (check) {
        printf("config OK\n");
        mets_pcd_config_free(&p.cfg);
        return 0;
    }
    mets_log_init("mets pcd", p.cfg.log.level);
    struct sigaction sa = {.sa_handler = on_signal}; /* no SA_RESTART: a wait ends at once */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int status = 1;
    if (start_metrics(&p, &err) || !(p.mllp = mets_mllp_new(p.cfg.manager.address, &stopping, &err))) {
        mets_log(LOG_ERR, "%s", err.msg);
        goto out;
    }
    if (!(p.rk = new_consumer(&p)))
        goto out;
    sd_notifyf(0, "READY=1\nSTATUS=reporting %s to %s", p.cfg.kafka.topic, p.cfg.manager.address);
    mets_log(LOG_INFO, "reporting the alerts of %s to the alert manager at %s", p.cfg.kafka.topic,
             p.cfg.manager.address);
    while (!stopping) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(p.rk, 200);
        tick(&p);
        if (!m)
            continue;
        if (m->err && m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            mets_log(LOG_WARNING, "kafka: %s", rd_kafka_message_errstr(m));
        else if (!m->err)
            handle(&p, m);
        rd_kafka_message_destroy(m);
    }
    sd_notify(0, "STOPPING=1");
    mets_log(LOG_INFO, "stopping");
    status = 0;
out:
    if (p.rk) {
        rd_kafka_consumer_close(p.rk);
        rd_kafka_destroy(p.rk);
    }
    mets_mllp_free(p.mllp);
    mets_metrics_server_stop(p.server);
    if (p.metrics)
        mets_metrics_destroy(p.metrics);
    mets_pcd_config_free(&p.cfg);
    return status;
}
