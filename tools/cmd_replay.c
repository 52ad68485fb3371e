/* mets replay: publishes WFDB records as EcgFrames to a Kafka topic (key = stream id), as bedside
 * monitors would: fixed-duration frames at real-time pace, N times faster, or as fast as possible;
 * deterministic (the same record and options give the same frames); one record can stand for many
 * beds (stream ids ID-0001.. with their clocks shifted) for load tests. Nothing is published silently
 * half: every frame is delivered (idempotent producer, acks from all replicas) or the exit status is
 * non-zero with the count that was not. */
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "ecgenc.h"
#include "recframes.h"
#include "wfdb.h"

static const char usage_text[] =
    "usage: mets replay [options] RECORD...\n"
    "  RECORD is a WFDB record path (with or without .hea).\n"
    "  -b, --bootstrap HOST:PORT  Kafka (default $METS_BOOTSTRAP, else 127.0.0.1:9092)\n"
    "  -t, --topic NAME           (default ecg.frames)\n"
    "  -s, --stream-id ID         (default the record name; with --beds, ID-0001 ...)\n"
    "      --frame-ms MS          frame duration (default 250)\n"
    "      --leads LIST           e.g. II,V1 (default every lead the record has)\n"
    "      --start S, --duration S  the part of each record (default all)\n"
    "  -x, --speed X              X times real time (default 1); 0 = as fast as possible\n"
    "      --beds N               replay each record as N streams (default 1)\n"
    "      --bed-offset S         clock shift between beds (default 0.37 s)\n"
    "  -q, --quiet                no progress on stderr\n";

typedef struct replay {
    rd_kafka_t *rk;
    const char *topic;
    double speed, bed_offset_s;
    int beds, quiet;
    long sent, failed;
    double wall0;
    int64_t first_t0;
    double record_s, last_progress;
} replay;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    replay *r = opaque;
    (void)rk;
    if (m->err) {
        r->failed++;
        fprintf(stderr, "mets replay: delivery failed: %s\n", rd_kafka_err2str(m->err));
    }
}

/* Waits until frame time t0 is due at the chosen speed. */
static void pace(replay *r, int64_t t0_us)
{
    if (r->speed <= 0)
        return;
    double due = r->wall0 + (double)(t0_us - r->first_t0) * 1e-6 / r->speed;
    for (double left; !stop && (left = due - now()) > 0;) {
        rd_kafka_poll(r->rk, 0);
        usleep((useconds_t)(left > 0.05 ? 50000 : left * 1e6));
    }
}

static int produce(replay *r, const mets_frame *f)
{
    uint8_t *bytes;
    size_t len;
    mets_err err;
    if (mets_frame_encode(f, &bytes, &len, &err)) {
        fprintf(stderr, "mets replay: %s\n", err.msg);
        return 1;
    }
    rd_kafka_resp_err_t e;
    while ((e = rd_kafka_producev(r->rk, RD_KAFKA_V_TOPIC(r->topic), RD_KAFKA_V_KEY(f->stream_id, strlen(f->stream_id)),
                                  RD_KAFKA_V_VALUE(bytes, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                                  RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(r->rk, 100); /* back-pressure: wait for deliveries instead of dropping */
    if (e) {
        free(bytes);
        fprintf(stderr, "mets replay: produce: %s\n", rd_kafka_err2str(e));
        return 1;
    }
    r->sent++;
    rd_kafka_poll(r->rk, 0);
    return 0;
}

static void progress(replay *r, const mets_frame *f)
{
    double t = now();
    if (r->quiet || t - r->last_progress < 1.0)
        return;
    r->last_progress = t;
    double done = (double)(f->t0_us - r->first_t0) * 1e-6, rate = r->sent / (t - r->wall0 + 1e-9);
    double left = r->speed > 0 ? (r->record_s - done) / r->speed : (r->record_s - done) / (done + 1e-9) * (t - r->wall0);
    fprintf(stderr, "\rreplay: %ld frames, %.0f frames/s, %.0f of %.0f s, ETA %.0f s   ", r->sent, rate, done,
            r->record_s, left > 0 ? left : 0);
}

/* One frame of the record becomes one frame per bed, each bed's clock shifted. */
static int each_frame(void *ctx, const mets_frame *f)
{
    replay *r = ctx;
    if (r->sent == 0 && r->first_t0 == 0)
        r->first_t0 = f->t0_us, r->wall0 = r->last_progress = now();
    pace(r, f->t0_us);
    if (stop)
        return 1;
    mets_frame bed = *f;
    for (int b = 0; b < r->beds; b++) {
        if (r->beds > 1) {
            snprintf(bed.stream_id, sizeof bed.stream_id, "%.110s-%04d", f->stream_id, b + 1);
            bed.t0_us = f->t0_us + llround(b * r->bed_offset_s * 1e6);
        }
        if (produce(r, &bed))
            return 1;
    }
    progress(r, f);
    return 0;
}

static int parse_leads(const char *list, uint16_t *mask)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    *mask = 0;
    for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int l = mets_ecg_lead_index(tok);
        if (l < 0)
            return -1;
        *mask |= (uint16_t)(1u << l);
    }
    return *mask ? 0 : -1;
}

typedef struct args {
    const char *bootstrap, *topic;
    mets_recframes_opts o;
    replay r;
} args;

static int parse_args(int argc, char **argv, args *a)
{
    static const struct option opts[] = {
        {"bootstrap", required_argument, NULL, 'b'}, {"topic", required_argument, NULL, 't'},
        {"stream-id", required_argument, NULL, 's'}, {"frame-ms", required_argument, NULL, 'F'},
        {"leads", required_argument, NULL, 'L'},     {"start", required_argument, NULL, 'S'},
        {"duration", required_argument, NULL, 'D'},  {"speed", required_argument, NULL, 'x'},
        {"beds", required_argument, NULL, 'B'},      {"bed-offset", required_argument, NULL, 'O'},
        {"quiet", no_argument, NULL, 'q'},           {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    *a = (args){.topic = "ecg.frames",
                .o = mets_recframes_default_opts(), .r = {.speed = 1.0, .beds = 1, .bed_offset_s = 0.37}};
    int c;
    while ((c = getopt_long(argc, argv, "b:t:s:x:qh", opts, NULL)) != -1) {
        switch (c) {
        case 'b': a->bootstrap = optarg; break;
        case 't': a->topic = optarg; break;
        case 's': a->o.stream_id = optarg; break;
        case 'F': a->o.frame_s = atof(optarg) / 1000.0; break;
        case 'L':
            if (parse_leads(optarg, &a->o.leads)) {
                fprintf(stderr, "mets replay: --leads %s: expected standard lead names such as II,V1\n", optarg);
                return 2;
            }
            break;
        case 'S': a->o.start_s = atof(optarg); break;
        case 'D': a->o.duration_s = atof(optarg); break;
        case 'x': a->r.speed = atof(optarg); break;
        case 'B': a->r.beds = atoi(optarg); break;
        case 'O': a->r.bed_offset_s = atof(optarg); break;
        case 'q': a->r.quiet = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    a->bootstrap = mets_cli_bootstrap(a->bootstrap);
    if (optind == argc || a->r.beds < 1 || a->r.beds > 100000 || a->r.speed < 0) {
        fputs(usage_text, stderr);
        return 2;
    }
    return -1;
}

/* Seconds of the record that the options select, for the progress line (0 when unreadable: the replay
 * itself reports why). */
static double record_seconds(const char *path, const mets_recframes_opts *o)
{
    mets_err err;
    mets_wfdb_record *rec = mets_wfdb_open(path, &err);
    double s = rec ? (double)mets_wfdb_nsamp(rec) / mets_wfdb_fs(rec) - o->start_s : 0;
    mets_wfdb_free(rec);
    return o->duration_s > 0 && o->duration_s < s ? o->duration_s : s;
}

/* An idempotent producer that waits for every replica: a frame is either delivered once or counted. */
static rd_kafka_t *new_producer(const char *bootstrap, replay *r)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "enable.idempotence", "true", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof errstr)) {
        fprintf(stderr, "mets replay: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, r);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk)
        fprintf(stderr, "mets replay: %s\n", errstr);
    return rk;
}

int mets_cmd_replay(int argc, char **argv)
{
    args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    replay *r = &a.r;
    r->topic = a.topic, rc = 0;
    if (!(r->rk = new_producer(a.bootstrap, r)))
        return 1;
    signal(SIGINT, on_signal), signal(SIGTERM, on_signal);
    mets_err err;
    for (int i = optind; i < argc && !rc && !stop; i++) {
        r->first_t0 = 0, r->record_s = record_seconds(argv[i], &a.o);
        rc = mets_recframes_each(argv[i], &a.o, each_frame, r, &err);
        if (rc < 0)
            fprintf(stderr, "mets replay: %s\n", err.msg);
    }
    rd_kafka_resp_err_t flushed = rd_kafka_flush(r->rk, 30000);
    long undelivered = flushed ? (long)rd_kafka_outq_len(r->rk) : 0;
    rd_kafka_destroy(r->rk);
    if (!r->quiet)
        fprintf(stderr, "\n");
    fprintf(stderr, "mets replay: %ld frames sent to %s on %s, %ld failed, %ld undelivered%s\n", r->sent, a.topic,
            a.bootstrap, r->failed, undelivered, stop ? " (interrupted)" : "");
    return (rc || r->failed || undelivered || stop) ? 1 : 0;
}
