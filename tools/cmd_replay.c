/* mets replay: publishes recordings as EcgFrames to a Kafka topic (key = stream id), as bedside monitors
 * would: fixed-duration frames at real-time pace, N times faster, or as fast as possible; deterministic
 * (the same record and options give the same frames); one record can stand for many beds (stream ids
 * ID-0001.. with their clocks shifted) for load tests. Records are WFDB or CSV (tools/recframes.h), all
 * opened and checked before the first frame is sent. Or, with --from-topic, the frames of a time range of
 * an existing topic, republished in frame-time order into another topic to be scored again.
 * Nothing is published silently half: every frame is delivered (idempotent producer, acks from all
 * replicas) or the exit status is non-zero with the count that was not. */
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
#include "clock.h"
#include "isotime.h"
#include "kafkaopts.h"
#include "ecgenc.h"
#include "recframes.h"

static const char usage_text[] =
    "usage: mets replay [options] RECORD...\n"
    "       mets replay [options] --from-topic TOPIC [--since TIME] [--until TIME] -t OUT_TOPIC\n"
    "  RECORD is a WFDB record path (with or without .hea) or a CSV file (a path ending in .csv):\n"
    "    a header line `time,I,II,V1,...`: the first column the time in seconds (uniform, the rate comes\n"
    "    from it) or `sample` (a consecutive index, with --rate HZ), then one column per lead named\n"
    "    I, II, III, aVR, aVL, aVF, V1 ... V6, in mV; an empty cell or nan is an invalid sample. Sent as\n"
    "    ADC units of 1 uV (gain 1000, baseline 0, invalid -32768), so within +-32.767 mV.\n"
    "    Every record is read and checked before anything is sent: a bad one sends nothing.\n"
    "  -b, --bootstrap HOST:PORT  Kafka (default $METS_BOOTSTRAP, else 127.0.0.1:9092)\n"
    "  -X NAME=VALUE              a librdkafka property, e.g. -X security.protocol=SSL (repeatable)\n"
    "  -F FILE                    librdkafka properties from FILE, NAME=VALUE a line (# comments)\n"
    "  -t, --topic NAME           where frames go (default ecg.frames)\n"
    "  -s, --stream-id ID         (default the record name; with --beds, ID-0001 ...)\n"
    "      --frame-ms MS          frame duration (default 250)\n"
    "      --leads LIST           e.g. II,V1 (default every lead the record has)\n"
    "      --start S, --duration S  the part of each record (default all)\n"
    "      --rate HZ              the sample rate of a CSV with a `sample` column\n"
    "      --beds N               replay each record as N streams (default 1)\n"
    "      --bed-offset S         clock shift between beds (default 0.37 s)\n"
    "      --sequential           several records one after another (default: side by side, merged by\n"
    "                             frame time, as a ward streams them)\n"
    "  -x, --speed X              X times real time by frame t0 (default 1); 0 = as fast as possible\n"
    "      --progress             a progress line on stderr (default: when stderr is a terminal)\n"
    "  -q, --quiet                no progress and no summary line (errors still)\n"
    " A time range of a topic instead of records:\n"
    "      --from-topic TOPIC     read the frames of every partition of TOPIC (read_committed) ...\n"
    "      --since TIME           ... whose frame t0 is at or after TIME (default the beginning) ...\n"
    "      --until TIME           ... and before TIME (default: up to each partition's end at the start)\n"
    "                             TIME: ISO 8601 UTC (2026-01-01T00:00:05[.25]Z) or microseconds since 1970\n"
    "      --stream-suffix SFX    re-encode each frame with stream id ID+SFX (default: the same bytes and key)\n";

typedef struct replay {
    rd_kafka_t *rk;
    const char *topic;
    double speed, bed_offset_s;
    int beds, quiet, show_progress;
    long sent, failed, undelivered;
    double seconds;      /* from the first frame handed on to the last acknowledged */
    int64_t done, total; /* work units for the progress line: frames (records) or messages read (topic) */
    double wall0, start, last_progress;
    int64_t first_t0;
    int paced;           /* first_t0 and wall0 are set */
} replay;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
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

/* Waits until frame time t0 is due at the chosen speed; the first frame sets the clock. */
static void pace(replay *r, int64_t t0_us)
{
    if (!r->paced)
        r->paced = 1, r->first_t0 = t0_us, r->wall0 = mets_monotonic_s();
    if (r->speed <= 0)
        return;
    double due = r->wall0 + (double)(t0_us - r->first_t0) * 1e-6 / r->speed;
    for (double left; !stop && (left = due - mets_monotonic_s()) > 0;) {
        rd_kafka_poll(r->rk, 0);
        usleep((useconds_t)(left > 0.05 ? 50000 : left * 1e6));
    }
}

/* Hands one message to the producer: `bytes` is freed by librdkafka (F_FREE) or copied (F_COPY). */
static int produce(replay *r, const char *key, size_t key_len, void *bytes, size_t len, int flags)
{
    rd_kafka_resp_err_t e;
    while ((e = rd_kafka_producev(r->rk, RD_KAFKA_V_TOPIC(r->topic), RD_KAFKA_V_KEY(key, key_len),
                                  RD_KAFKA_V_VALUE(bytes, len), RD_KAFKA_V_MSGFLAGS(flags),
                                  RD_KAFKA_V_END)) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
        rd_kafka_poll(r->rk, 100); /* back-pressure: wait for deliveries instead of dropping */
    if (e) {
        if (flags & RD_KAFKA_MSG_F_FREE)
            free(bytes);
        fprintf(stderr, "mets replay: produce: %s\n", rd_kafka_err2str(e));
        return 1;
    }
    r->sent++;
    rd_kafka_poll(r->rk, 0);
    return 0;
}

static int produce_frame(replay *r, const mets_frame *f)
{
    uint8_t *bytes;
    size_t len;
    mets_err err;
    if (mets_frame_encode(f, &bytes, &len, &err)) {
        fprintf(stderr, "mets replay: %s\n", err.msg);
        return 1;
    }
    return produce(r, f->stream_id, strlen(f->stream_id), bytes, len, RD_KAFKA_MSG_F_FREE);
}

/* One line, rewritten in place at most every 0.5 s: frames sent, rate, share done and time left. */
static void progress(replay *r)
{
    double t = mets_monotonic_s();
    if (!r->show_progress || t - r->last_progress < 0.5)
        return;
    r->last_progress = t;
    double elapsed = t - r->start, share = r->total > 0 ? (double)r->done / (double)r->total : 0;
    double eta = share > 0 ? elapsed * (1 - share) / share : 0;
    fprintf(stderr, "\rmets replay: %ld frames, %.0f frames/s, %.1f%%, ETA %.0f s   ", r->sent,
            r->sent / (elapsed + 1e-9), 100 * share, eta);
}

/* Ends the progress line, so that what follows starts on a line of its own. */
static void end_progress(replay *r)
{
    if (r->show_progress && r->last_progress > 0)
        fputc('\n', stderr);
    r->last_progress = 0;
}

/* One frame of the record becomes one frame per bed, each bed's clock shifted. */
static int each_frame(void *ctx, const mets_frame *f)
{
    replay *r = ctx;
    pace(r, f->t0_us);
    if (stop)
        return 1;
    mets_frame bed = *f;
    for (int b = 0; b < r->beds; b++) {
        if (r->beds > 1) {
            snprintf(bed.stream_id, sizeof bed.stream_id, "%.110s-%04d", f->stream_id, b + 1);
            bed.t0_us = f->t0_us + llround(b * r->bed_offset_s * 1e6);
        }
        if (produce_frame(r, &bed))
            return 1;
    }
    r->done += r->beds;
    progress(r);
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

/* "2026-01-01T00:00:05[.fff][Z]" (UTC) or a plain number of µs since 1970, as µs; INT64_MIN if neither. */
static int64_t parse_time(const char *s)
{
    char *end;
    long long us = strtoll(s, &end, 10);
    if (*s && !*end)
        return us;
    int64_t t;
    return mets_iso_parse_us(s, &t) ? INT64_MIN : t;
}

typedef struct args {
    const char *bootstrap, *topic, *from_topic, *suffix;
    int64_t since_us, until_us;
    int record_only; /* an option that only records take was given */
    int sequential;  /* records one after another, not side by side */
    mets_recframes_opts o;
    mets_kafka_opts kafka;
    replay r;
} args;

enum { FRAME_MS = 256, LEADS, START, DURATION, RATE, BEDS, BED_OFFSET, SEQUENTIAL, PROGRESS, FROM_TOPIC, SINCE, UNTIL,
       SUFFIX };

static int parse_option(int c, args *a)
{
    a->record_only |= c == 's' || (c >= FRAME_MS && c <= SEQUENTIAL);
    switch (c) {
    case 'b': a->bootstrap = optarg; break;
    case 'X': return mets_kafka_opts_add(&a->kafka, "mets replay", optarg) ? 2 : -1;
    case 'F': return mets_kafka_opts_file(&a->kafka, "mets replay", optarg) ? 2 : -1;
    case 't': a->topic = optarg; break;
    case 's': a->o.stream_id = optarg; break;
    case FRAME_MS: a->o.frame_s = atof(optarg) / 1000.0; break;
    case LEADS:
        if (parse_leads(optarg, &a->o.leads)) {
            fprintf(stderr, "mets replay: --leads %s: expected standard lead names such as II,V1\n", optarg);
            return 2;
        }
        break;
    case START: a->o.start_s = atof(optarg); break;
    case DURATION: a->o.duration_s = atof(optarg); break;
    case RATE: a->o.csv_rate_hz = atof(optarg); break;
    case 'x': a->r.speed = atof(optarg); break;
    case BEDS: a->r.beds = atoi(optarg); break;
    case BED_OFFSET: a->r.bed_offset_s = atof(optarg); break;
    case SEQUENTIAL: a->sequential = 1; break;
    case PROGRESS: a->r.show_progress = 1; break;
    case FROM_TOPIC: a->from_topic = optarg; break;
    case SINCE:
    case UNTIL:
        if ((*(c == SINCE ? &a->since_us : &a->until_us) = parse_time(optarg)) == INT64_MIN) {
            fprintf(stderr, "mets replay: %s: expected ISO 8601 UTC (2026-01-01T00:00:05Z) or microseconds since "
                    "1970\n", optarg);
            return 2;
        }
        break;
    case SUFFIX: a->suffix = optarg; break;
    case 'q': a->r.quiet = 1; break;
    case 'h': fputs(usage_text, stdout); return 0;
    default: fputs(usage_text, stderr); return 2;
    }
    return -1;
}

static int parse_args(int argc, char **argv, args *a)
{
    static const struct option opts[] = {
        {"bootstrap", required_argument, NULL, 'b'},     {"topic", required_argument, NULL, 't'},
        {"stream-id", required_argument, NULL, 's'},     {"frame-ms", required_argument, NULL, FRAME_MS},
        {"leads", required_argument, NULL, LEADS},       {"start", required_argument, NULL, START},
        {"duration", required_argument, NULL, DURATION}, {"rate", required_argument, NULL, RATE},
        {"speed", required_argument, NULL, 'x'},         {"beds", required_argument, NULL, BEDS},
        {"bed-offset", required_argument, NULL, BED_OFFSET}, {"sequential", no_argument, NULL, SEQUENTIAL},
        {"progress", no_argument, NULL, PROGRESS},
        {"from-topic", required_argument, NULL, FROM_TOPIC}, {"since", required_argument, NULL, SINCE},
        {"until", required_argument, NULL, UNTIL},       {"stream-suffix", required_argument, NULL, SUFFIX},
        {"quiet", no_argument, NULL, 'q'},               {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    *a = (args){.topic = "ecg.frames", .since_us = INT64_MIN, .until_us = INT64_MAX,
                .o = mets_recframes_default_opts(), .r = {.speed = 1.0, .beds = 1, .bed_offset_s = 0.37}};
    int c, rc;
    while ((c = getopt_long(argc, argv, "b:t:s:x:X:F:qh", opts, NULL)) != -1)
        if ((rc = parse_option(c, a)) >= 0)
            return rc;
    a->bootstrap = mets_cli_bootstrap(a->bootstrap);
    a->r.show_progress = !a->r.quiet && (a->r.show_progress || isatty(STDERR_FILENO));
    int records = optind < argc, range = a->from_topic != NULL;
    const char *why = records == range                          ? "give either records or --from-topic"
                      : range && a->record_only                 ? "--from-topic takes none of the record options"
                      : !range && (a->since_us != INT64_MIN || a->until_us != INT64_MAX || a->suffix)
                                                                ? "--since, --until and --stream-suffix need --from-topic"
                      : range && !strcmp(a->from_topic, a->topic) ? "--from-topic and -t must differ"
                      : a->since_us >= a->until_us              ? "--since must be before --until"
                      : a->r.beds < 1 || a->r.beds > 100000     ? "--beds: expected 1 to 100000"
                      : a->o.stream_id && argc - optind > 1 && !a->sequential
                          ? "-s names one stream: several records side by side would merge into it (give one "
                            "record, or --sequential)"
                      : a->r.speed < 0                          ? "--speed: expected 0 or more"
                                                                : NULL;
    if (why) {
        fprintf(stderr, "mets replay: %s\n", why);
        fputs(usage_text, stderr);
        return 2;
    }
    return -1;
}

/* An idempotent producer that waits for every replica: a frame is either delivered once or counted. */
static rd_kafka_t *new_producer(args *a)
{
    char errstr[512];
    static const char *const own[][2] = {{"enable.idempotence", "true"}, {"linger.ms", "5"}, {NULL, NULL}};
    rd_kafka_conf_t *conf = mets_kafka_conf("mets replay", a->bootstrap, own, &a->kafka);
    if (!conf)
        return NULL;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &a->r);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "mets replay: %s\n", errstr);
        rd_kafka_conf_destroy(conf); /* rd_kafka_new takes the conf only on success */
    }
    return rk;
}

/* Waits for every frame's acknowledgement, then stops the clock. */
static void flush_producer(replay *r)
{
    if (!r->rk)
        return;
    r->undelivered = rd_kafka_flush(r->rk, 30000) ? (long)rd_kafka_outq_len(r->rk) : 0;
    r->seconds = mets_monotonic_s() - r->start;
    rd_kafka_destroy(r->rk);
    r->rk = NULL;
}

/* Several records at once, merged by frame time as a ward streams them (ties: the record given first). */
static int send_side_by_side(replay *r, mets_recframes **rfs, int n, mets_err *err)
{
    const mets_frame **head = calloc((size_t)n, sizeof *head);
    int rc = head ? 0 : mets_err_set(err, METS_ENOMEM, "out of memory");
    for (int i = 0; i < n && !rc; i++)
        if ((rc = mets_recframes_next(rfs[i], &head[i], err)) >= 0)
            rc = 0;
    while (!rc && !stop) {
        int k = -1;
        for (int i = 0; i < n; i++)
            if (head[i] && (k < 0 || head[i]->t0_us < head[k]->t0_us))
                k = i;
        if (k < 0 || (rc = each_frame(r, head[k])))
            break;
        int got = mets_recframes_next(rfs[k], &head[k], err);
        rc = got < 0 ? got : 0;
        if (!got)
            head[k] = NULL;
    }
    free(head);
    return rc;
}

/* Opens and checks every record first, so that a bad one stops the replay before a frame is sent. */
static int replay_records(args *a, char **paths, int n)
{
    replay *r = &a->r;
    mets_recframes **rfs = calloc((size_t)n, sizeof *rfs);
    mets_err err;
    int rc = rfs ? 0 : 1;
    for (int i = 0; i < n && !rc; i++) {
        if (!(rfs[i] = mets_recframes_open(paths[i], &a->o, &err)))
            fprintf(stderr, "mets replay: %s\n", err.msg), rc = 1;
        else
            r->total += mets_recframes_count(rfs[i]) * r->beds;
    }
    if (!rc && !(r->rk = new_producer(a)))
        rc = 1;
    r->start = mets_monotonic_s();
    for (int i = 0; i < n && !rc && !stop && a->sequential; i++) {
        r->paced = 0; /* each record starts at once */
        rc = mets_recframes_send(rfs[i], each_frame, r, &err);
    }
    if (!rc && !a->sequential)
        rc = send_side_by_side(r, rfs, n, &err);
    if (rc < 0)
        fprintf(stderr, "mets replay: %s\n", err.msg);
    flush_producer(r);
    for (int i = 0; rfs && i < n; i++)
        mets_recframes_close(rfs[i]);
    free(rfs);
    return rc != 0;
}

/* A frame's Kafka timestamp is at most this much earlier than its t0 (monitor clocks off by that much):
 * seeking to the first timestamp at or after --since minus this misses no frame in range. */
#define SEEK_MARGIN_MS 60000
#define SOURCE_SILENCE_S 30.0 /* a partition that yields neither a message nor its end for this long fails */

/* One partition of the source topic: its next frame in range, read ahead so that partitions merge by t0. */
typedef struct part {
    int32_t id;
    int64_t start, end;       /* offsets: from --since, to the partition's end when the replay began */
    int done, started;
    rd_kafka_message_t *head; /* NULL when there is no next frame */
    int64_t head_t0;
} part;

typedef struct range {
    const args *a;
    replay *r;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    part *parts;
    int n;
    mets_frame f; /* decode scratch */
    long read, undecodable;
} range;

/* Reads one partition with the simple consumer: read_committed, nothing committed, end of partition told. */
static int open_source(range *g)
{
    char errstr[512];
    static const char *const own[][2] = {{"enable.auto.commit", "false"},   {"enable.auto.offset.store", "false"},
                                         {"isolation.level", "read_committed"}, {"enable.partition.eof", "true"},
                                         {"fetch.wait.max.ms", "100"},      {NULL, NULL}};
    rd_kafka_conf_t *conf = mets_kafka_conf("mets replay", g->a->bootstrap, own, &g->a->kafka);
    if (!conf)
        return 1;
    if (!(g->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr))) {
        fprintf(stderr, "mets replay: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_topic_conf_t *tconf = rd_kafka_topic_conf_new();
    if (rd_kafka_topic_conf_set(tconf, "auto.commit.enable", "false", errstr, sizeof errstr)) {
        fprintf(stderr, "mets replay: %s\n", errstr);
        rd_kafka_topic_conf_destroy(tconf);
        return 1;
    }
    if (!(g->rkt = rd_kafka_topic_new(g->rk, g->a->from_topic, tconf))) {
        fprintf(stderr, "mets replay: %s: %s\n", g->a->from_topic, rd_kafka_err2str(rd_kafka_last_error()));
        return 1;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(g->rk, 0, g->rkt, &md, 10000);
    if (!e && md->topic_cnt == 1)
        e = md->topics[0].err, g->n = e ? 0 : md->topics[0].partition_cnt;
    if (md)
        rd_kafka_metadata_destroy(md);
    if (e || !g->n || !(g->parts = calloc((size_t)g->n, sizeof *g->parts))) {
        fprintf(stderr, "mets replay: topic %s: %s\n", g->a->from_topic, e ? rd_kafka_err2str(e) : "no partitions");
        return 1;
    }
    return 0;
}

/* The Kafka timestamp (ms) of the message at `offset`, or -1 when it cannot be read. */
static int64_t timestamp_at(range *g, int32_t p, int64_t offset)
{
    if (rd_kafka_consume_start(g->rkt, p, offset) == -1)
        return -1;
    rd_kafka_message_t *m = rd_kafka_consume(g->rkt, p, 10000);
    int64_t ms = m && !m->err && m->offset == offset ? rd_kafka_message_timestamp(m, NULL) : -1;
    if (m)
        rd_kafka_message_destroy(m);
    rd_kafka_consume_stop(g->rkt, p);
    return ms;
}

/* Kafka answers a time with the first offset whose timestamp is at or after it, so the message before
 * must be earlier. A broker whose answer breaks that (the dev broker's mock cluster answers every time
 * with the end) is not trusted: the partition is read from its beginning, the t0 filter still applies. */
static void check_time_offset(range *g, part *p, int64_t lo, int64_t ms)
{
    if (p->start <= lo || timestamp_at(g, p->id, p->start - 1) < ms)
        return;
    fprintf(stderr, "mets replay: %s [%d]: the broker puts time %lld ms at offset %lld but offset %lld is not "
            "earlier; reading the partition from its beginning\n", g->a->from_topic, p->id, (long long)ms,
            (long long)p->start, (long long)p->start - 1);
    p->start = lo;
}

/* Each partition's range of offsets: from the first timestamp at or after --since (less the margin), to
 * the end as it is now. */
static int plan_offsets(range *g)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(g->n);
    rd_kafka_resp_err_t e = 0;
    int64_t ms = g->a->since_us == INT64_MIN ? 0 : g->a->since_us / 1000 - SEEK_MARGIN_MS;
    for (int p = 0; p < g->n && !e; p++) {
        int64_t lo, hi;
        e = rd_kafka_query_watermark_offsets(g->rk, g->a->from_topic, p, &lo, &hi, 10000);
        g->parts[p] = (part){.id = p, .start = lo, .end = hi};
        rd_kafka_topic_partition_list_add(l, g->a->from_topic, p)->offset = ms;
    }
    if (!e && ms > 0)
        e = rd_kafka_offsets_for_times(g->rk, l, 10000);
    for (int i = 0; !e && ms > 0 && i < l->cnt; i++) {
        part *p = &g->parts[l->elems[i].partition];
        int64_t lo = p->start, at = l->elems[i].offset;
        e = l->elems[i].err;
        p->start = at < 0 ? p->end : at > lo ? at : lo;
        if (!e)
            check_time_offset(g, p, lo, ms);
    }
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        fprintf(stderr, "mets replay: offsets of %s: %s\n", g->a->from_topic, rd_kafka_err2str(e));
    for (int p = 0; p < g->n && !e; p++) {
        part *pt = &g->parts[p];
        g->r->total += pt->end > pt->start ? pt->end - pt->start : 0;
        pt->done = pt->start >= pt->end;
        if (!pt->done && rd_kafka_consume_start(g->rkt, p, pt->start) == -1) {
            fprintf(stderr, "mets replay: %s [%d]: %s\n", g->a->from_topic, p, rd_kafka_err2str(rd_kafka_last_error()));
            return 1;
        }
        pt->started = !pt->done;
    }
    return e ? 1 : 0;
}

/* Moves a partition to its next frame with t0 in [since, until); skips what does not decode, counted. */
static int advance(range *g, part *p)
{
    if (p->head)
        rd_kafka_message_destroy(p->head), p->head = NULL;
    for (double heard = mets_monotonic_s(); !p->done && !stop;) {
        rd_kafka_message_t *m = rd_kafka_consume(g->rkt, p->id, 200);
        if (!m) {
            if (mets_monotonic_s() - heard < SOURCE_SILENCE_S)
                continue;
            fprintf(stderr, "mets replay: %s [%d]: nothing read for %.0f s\n", g->a->from_topic, p->id, SOURCE_SILENCE_S);
            return 1;
        }
        heard = mets_monotonic_s();
        int eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF, beyond = !m->err && m->offset >= p->end;
        if (m->err && !eof) {
            fprintf(stderr, "mets replay: %s [%d]: %s\n", g->a->from_topic, p->id, rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            return 1;
        }
        p->done = eof || beyond || m->offset + 1 >= p->end;
        if (eof || beyond) {
            rd_kafka_message_destroy(m);
            break;
        }
        g->read++, g->r->done++;
        mets_frame_reason why;
        mets_err err;
        if (m->key_len == METS_FRAME_CLOCK_KEY_LEN && !memcmp(m->key, METS_FRAME_CLOCK_KEY, m->key_len)) {
            /* metsd's clock record: time then, not a frame to send again */
        } else if (mets_frame_decode(m->payload, m->len, &g->f, &why, &err)) {
            g->undecodable++;
        } else if (g->f.t0_us >= g->a->since_us && g->f.t0_us < g->a->until_us) {
            p->head = m, p->head_t0 = g->f.t0_us;
            return 0;
        }
        rd_kafka_message_destroy(m);
    }
    return 0;
}

/* The same bytes under the same key, or the frame re-encoded with the stream suffix. */
static int republish(range *g, const rd_kafka_message_t *m)
{
    if (!g->a->suffix)
        return produce(g->r, m->key, m->key_len, m->payload, m->len, RD_KAFKA_MSG_F_COPY);
    mets_frame_reason why;
    mets_err err;
    if (mets_frame_decode(m->payload, m->len, &g->f, &why, &err))
        return fprintf(stderr, "mets replay: %s\n", err.msg), 1;
    size_t n = strlen(g->f.stream_id);
    if (n + strlen(g->a->suffix) > METS_FRAME_MAX_ID) {
        fprintf(stderr, "mets replay: stream id %s%s: longer than %d bytes\n", g->f.stream_id, g->a->suffix,
                METS_FRAME_MAX_ID);
        return 1;
    }
    memcpy(g->f.stream_id + n, g->a->suffix, strlen(g->a->suffix) + 1);
    return produce_frame(g->r, &g->f);
}

/* Frames of every partition merged by t0 (ties: lower partition first), so that pacing follows frame time. */
static int merge(range *g)
{
    int rc = 0;
    for (int p = 0; p < g->n && !rc; p++)
        rc = advance(g, &g->parts[p]);
    while (!rc && !stop) {
        part *best = NULL;
        for (int p = 0; p < g->n; p++)
            if (g->parts[p].head && (!best || g->parts[p].head_t0 < best->head_t0))
                best = &g->parts[p];
        if (!best)
            break;
        pace(g->r, best->head_t0);
        if (stop || (rc = republish(g, best->head)))
            break;
        progress(g->r);
        rc = advance(g, best);
    }
    return rc;
}

static int replay_range(args *a)
{
    range g = {.a = a, .r = &a->r};
    int rc = open_source(&g) || plan_offsets(&g);
    if (!rc && !(a->r.rk = new_producer(a)))
        rc = 1;
    a->r.start = mets_monotonic_s();
    if (!rc)
        rc = merge(&g);
    flush_producer(&a->r);
    for (int p = 0; p < g.n; p++) {
        if (g.parts[p].head)
            rd_kafka_message_destroy(g.parts[p].head);
        if (g.parts[p].started)
            rd_kafka_consume_stop(g.rkt, p);
    }
    end_progress(&a->r);
    if (!a->r.quiet || g.undecodable)
        fprintf(stderr, "mets replay: read %ld messages of %s, %ld not a frame (skipped)\n", g.read, a->from_topic,
                g.undecodable);
    free(g.parts);
    mets_frame_release(&g.f);
    if (g.rkt)
        rd_kafka_topic_destroy(g.rkt);
    if (g.rk)
        rd_kafka_destroy(g.rk);
    return rc;
}

/* Says what happened; the exit status. */
static int finish(args *a, int rc)
{
    replay *r = &a->r;
    long undelivered = r->undelivered;
    double s = r->seconds;
    end_progress(r);
    int bad = rc || r->failed || undelivered || stop;
    if (!r->quiet || r->failed || undelivered || stop)
        fprintf(stderr, "mets replay: %ld frames to %s in %.2f s (%.0f frames/s)", r->sent, a->topic, s,
                r->sent / (s > 0 ? s : 1e-9));
    if (r->failed || undelivered || stop)
        fprintf(stderr, ", %ld failed, %ld undelivered%s", r->failed, undelivered, stop ? " (interrupted)" : "");
    if (!r->quiet || r->failed || undelivered || stop)
        fputc('\n', stderr);
    return bad ? 1 : 0;
}

int mets_cmd_replay(int argc, char **argv)
{
    args a;
    int rc = parse_args(argc, argv, &a);
    if (rc < 0) {
        signal(SIGINT, on_signal), signal(SIGTERM, on_signal);
        a.r.topic = a.topic, a.r.start = mets_monotonic_s();
        rc = a.from_topic ? replay_range(&a) : replay_records(&a, argv + optind, argc - optind);
        rc = finish(&a, rc);
    }
    mets_kafka_opts_free(&a.kafka);
    return rc;
}
