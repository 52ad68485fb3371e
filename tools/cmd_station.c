/* mets station: a live central-station page of a ward (station/web.h). Reads the alert topic from its
 * beginning (read_committed: only what metsd committed) and the frames topic from its end, into the ward
 * (station/ward.h), and serves it read-only over HTTP, on loopback unless told otherwise. It commits
 * nothing and joins no consumer group's work: any number of stations may watch one ward. */
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "frame.h"
#include "kafkaopts.h"
#include "mets.pb-c.h"
#include "ward.h"
#include "web.h"

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

typedef struct args {
    const char *bootstrap, *alerts, *frames, *listen, *labels;
    bool labels_given;
    mets_ward_params ward;
    mets_kafka_opts kafka;
} args;

static int usage(void)
{
    fprintf(stderr,
            "usage: mets station [options]\n"
            "  A live central-station page of the ward: a tile per bed with its alerts, technical state and\n"
            "  ECG strip, a page per bed with its alert history and each alert's figure. Read-only.\n"
            "  -b, --bootstrap HOST:PORT  Kafka (default $METS_BOOTSTRAP, else 127.0.0.1:9092)\n"
            "  -X NAME=VALUE, -F FILE     librdkafka properties, as mets tail takes them\n"
            "      --alerts-topic NAME    (default ecg.alerts), read from its beginning\n"
            "      --frames-topic NAME    (default ecg.frames), read from its end\n"
            "  -l, --listen HOST:PORT     where the page is served (default 127.0.0.1:8080; port 0: any free\n"
            "                             one; the address is printed)\n"
            "      --strip-s S            seconds of ECG on a tile (default 6)\n"
            "      --keep-s S             seconds of ECG kept per bed for the alert figures (default 120)\n"
            "      --history N            alert events kept per bed (default 200)\n"
            "      --max-beds N           (default 1024)\n"
            "      --labels FILE          metsd's labels: an alert shows its label's first prompt (default\n"
            "                             conf/labels.yaml when it exists; else the label names)\n");
    return 2;
}

static int parse_args(int argc, char **argv, args *a)
{
    static const struct option opts[] = {{"bootstrap", required_argument, NULL, 'b'},
                                         {"alerts-topic", required_argument, NULL, 'A'},
                                         {"frames-topic", required_argument, NULL, 'R'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"strip-s", required_argument, NULL, 's'},
                                         {"keep-s", required_argument, NULL, 'k'},
                                         {"history", required_argument, NULL, 'H'},
                                         {"max-beds", required_argument, NULL, 'm'},
                                         {"labels", required_argument, NULL, 'L'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    *a = (args){.alerts = "ecg.alerts", .frames = "ecg.frames", .listen = "127.0.0.1:8080",
                .labels = "conf/labels.yaml",
                .ward = {.strip_s = 6, .keep_s = 120, .history = 200, .max_beds = 1024}};
    for (int o; (o = getopt_long(argc, argv, "b:X:F:l:h", opts, NULL)) != -1;) {
        char *end = NULL;
        double v = optarg ? strtod(optarg, &end) : 0;
        bool number = optarg && end != optarg && !*end;
        switch (o) {
        case 'b': a->bootstrap = optarg; break;
        case 'X': if (mets_kafka_opts_add(&a->kafka, "mets station", optarg)) return 2; break;
        case 'F': if (mets_kafka_opts_file(&a->kafka, "mets station", optarg)) return 2; break;
        case 'A': a->alerts = optarg; break;
        case 'R': a->frames = optarg; break;
        case 'l': a->listen = optarg; break;
        case 's': if (!number || v < 1 || v > 60) return usage(); a->ward.strip_s = v; break;
        case 'k': if (!number || v < 10 || v > 3600) return usage(); a->ward.keep_s = v; break;
        case 'H': if (!number || v < 1 || v > 100000) return usage(); a->ward.history = (int)v; break;
        case 'm': if (!number || v < 1 || v > 100000) return usage(); a->ward.max_beds = (int)v; break;
        case 'L': a->labels = optarg, a->labels_given = true; break;
        default: return usage();
        }
    }
    if (optind != argc || a->ward.strip_s > a->ward.keep_s)
        return usage();
    a->bootstrap = mets_cli_bootstrap(a->bootstrap);
    return 0;
}

/* Every partition of the two topics: the alerts from their beginning, the frames from their end. */
static int assign(rd_kafka_t *rk, const args *a)
{
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
    if (e) {
        fprintf(stderr, "mets station: %s: %s\n", a->bootstrap, rd_kafka_err2str(e));
        return -1;
    }
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(8);
    const char *topics[] = {a->alerts, a->frames};
    int rc = 0;
    for (int t = 0; t < 2 && !rc; t++) {
        int found = 0;
        for (int i = 0; i < md->topic_cnt; i++)
            if (!strcmp(md->topics[i].topic, topics[t]) && !md->topics[i].err)
                for (int p = 0; p < md->topics[i].partition_cnt; p++, found++)
                    rd_kafka_topic_partition_list_add(l, topics[t], p)->offset =
                        t ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING;
        if (!found) {
            fprintf(stderr, "mets station: no topic %s on %s\n", topics[t], a->bootstrap);
            rc = -1;
        }
    }
    if (!rc && (e = rd_kafka_assign(rk, l))) {
        fprintf(stderr, "mets station: assign: %s\n", rd_kafka_err2str(e));
        rc = -1;
    }
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_metadata_destroy(md);
    return rc;
}

int mets_cmd_station(int argc, char **argv)
{
    args a;
    int rc = parse_args(argc, argv, &a);
    if (rc) {
        mets_kafka_opts_free(&a.kafka);
        return rc;
    }
    char group[64];
    snprintf(group, sizeof group, "mets-station-%ld", (long)getpid()); /* assign() needs one; nothing commits */
    const char *const own[][2] = {{"group.id", group},
                                  {"enable.auto.commit", "false"},
                                  {"enable.auto.offset.store", "false"},
                                  {"isolation.level", "read_committed"},
                                  {NULL, NULL}};
    rd_kafka_conf_t *conf = mets_kafka_conf("mets station", a.bootstrap, own, &a.kafka);
    char errstr[512];
    rd_kafka_t *rk = conf ? rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr) : NULL;
    mets_err err = {0};
    mets_ward *w = NULL;
    mets_station_web *web = NULL;
    mets_frame f = {0};
    mets_labels *labels = NULL;
    rc = 1;
    if ((a.labels_given || access(a.labels, R_OK) == 0) && !(labels = mets_labels_load(a.labels, &err))) {
        fprintf(stderr, "mets station: %s\n", err.msg);
        goto out;
    }
    a.ward.labels = labels;
    if (!rk) {
        if (conf) {
            fprintf(stderr, "mets station: %s\n", errstr);
            rd_kafka_conf_destroy(conf);
        }
        goto out;
    }
    rd_kafka_poll_set_consumer(rk);
    if (assign(rk, &a))
        goto out;
    if (!(w = mets_ward_new(&a.ward, &err)) || !(web = mets_station_web_start(w, a.listen, &err))) {
        fprintf(stderr, "mets station: %s\n", err.msg);
        goto out;
    }
    fprintf(stderr, "mets station: http://%.*s:%d/ (alerts of %s, ECG of %s)\n",
            (int)(strrchr(a.listen, ':') - a.listen), a.listen, mets_station_web_port(web), a.alerts, a.frames);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    while (!stopping) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "mets station: %s\n", rd_kafka_message_errstr(m));
        } else if (!strcmp(rd_kafka_topic_name(m->rkt), a.alerts)) {
            Mets__V1__Alert *al = m->payload ? mets__v1__alert__unpack(NULL, m->len, m->payload) : NULL;
            if (al) {
                mets_ward_alert(w, al);
                mets__v1__alert__free_unpacked(al, NULL);
            }
        } else if (m->payload && m->len) { /* a frame: clock records (no value) and bad frames are skipped */
            mets_frame_reason why;
            if (!mets_frame_decode(m->payload, m->len, &f, &why, NULL))
                mets_ward_frame(w, &f);
        }
        rd_kafka_message_destroy(m);
    }
    rc = 0;
out:
    mets_station_web_stop(web);
    mets_ward_free(w);
    mets_labels_free(labels);
    mets_frame_release(&f);
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    mets_kafka_opts_free(&a.kafka);
    return rc;
}
