/* mets tail: prints what metsd writes (alerts, embeddings, dead letters) as one JSON object per line, or
 * one readable line with --pretty. It only reads: partitions are assigned directly with their start
 * offsets and nothing is committed, so tailing never moves a consumer group. read_committed, so that it
 * shows what downstream consumers of metsd's transactions see. */
#include <ctype.h>
#include <getopt.h>
#include <jansson.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "isotime.h"
#include "kafkaopts.h"
#include "mets.pb-c.h"
#include "pbjson.h"

static const char usage_text[] =
    "usage: mets tail [options]\n"
    "  -b, --bootstrap HOST:PORT  Kafka (default $METS_BOOTSTRAP, else 127.0.0.1:9092)\n"
    "  -X NAME=VALUE              a librdkafka property, e.g. -X security.protocol=SSL (repeatable)\n"
    "  -F FILE                    librdkafka properties from FILE, NAME=VALUE a line (# comments)\n"
    "      --alerts               Alert messages, topic ecg.alerts (the default)\n"
    "      --embeddings           Embedding messages, topic ecg.embeddings\n"
    "      --dead-letters         DeadLetter messages, topic ecg.deadletter\n"
    "  -t, --topic NAME           read these messages from another topic\n"
    "      --from-beginning       every message still on the topic\n"
    "      --from-end             only messages produced from now on (the default)\n"
    "      --since TIME           from Kafka timestamp TIME: ISO 8601 UTC (2024-05-01T12:00:00Z) or epoch ms\n"
    "  -s, --stream ID            only this stream (a dead letter's key)\n"
    "      --label NAME           alerts of this label only\n"
    "      --state STATE          alerts in state raised, updated or cleared only\n"
    "      --priority P           alerts of priority high (1), medium (2) or low (3) only\n"
    "  -n, --count N              stop after N messages printed\n"
    "  -e, --exit-at-end          stop at the end of every partition instead of waiting for more\n"
    "  -p, --pretty               one readable line per message, coloured on a terminal\n"
    "      --vectors              embedding vectors and dead letters' original bytes (base64) in full,\n"
    "                             not only their length\n"
    "Undecodable messages go to stderr as {\"error\": ..., \"topic\", \"partition\", \"offset\"}.\n";

typedef enum kind { ALERTS, EMBEDDINGS, DEAD_LETTERS } kind;

static const struct {
    const char *topic;
    const ProtobufCMessageDescriptor *desc;
} kinds[] = {
    [ALERTS] = {"ecg.alerts", &mets__v1__alert__descriptor},
    [EMBEDDINGS] = {"ecg.embeddings", &mets__v1__embedding__descriptor},
    [DEAD_LETTERS] = {"ecg.deadletter", &mets__v1__dead_letter__descriptor},
};

/* Alert.priority: 1 is the most urgent (proto/mets.proto); the three IEC 60601-1-8 levels in order. */
static const char *const priority_names[] = {NULL, "high", "medium", "low"};

typedef struct args {
    const char *bootstrap, *topic, *stream, *label;
    mets_kafka_opts kafka;
    kind kind;
    int64_t start; /* RD_KAFKA_OFFSET_BEGINNING or _END, a timestamp in ms (>= 0), INT64_MIN if unreadable */
    int state, priority, exit_at_end, pretty, vectors;
    long count;
} args;

typedef struct tail {
    const args *a;
    rd_kafka_t *rk;
    int npartitions, at_end; /* at_end: how many partitions are at their end now */
    char *eof;               /* per partition */
    long printed, errors;
    int colour;
} tail;

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

/* "2024-05-01T12:00:00[.fff][Z]" (UTC) or a plain number of ms since 1970, as ms; -1 if neither. */
static int64_t parse_since(const char *s)
{
    char *end;
    long long ms = strtoll(s, &end, 10);
    if (*s && !*end)
        return ms >= 0 ? ms : -1;
    int64_t us;
    return mets_iso_parse_us(s, &us) || us < 0 ? -1 : us / 1000;
}

static int parse_priority(const char *s)
{
    for (int p = 1; p < 4; p++)
        if (!strcmp(s, priority_names[p]))
            return p;
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v > 0 && v < 1000 ? (int)v : -1;
}

/* A state to filter on; "unspecified" is no state an alert is sent in. */
static int state_arg(const char *s)
{
    int v = mets_pbjson_enum_value(&mets__v1__alert_state__descriptor, s);
    return v > 0 ? v : -1;
}

static long count_arg(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    return *s && !*end && v > 0 ? v : -1;
}

/* Checks the option values once parsed: 0 when usable. */
static int check_args(const args *a, int argc)
{
    const char *bad = optind != argc ? "unexpected argument"
                      : a->start == INT64_MIN       ? "--since: expected ISO 8601 UTC or epoch ms"
                      : a->state == -1              ? "--state: expected raised, updated or cleared"
                      : a->priority == -1           ? "--priority: expected high, medium, low or a number"
                      : a->count == -1              ? "--count: expected a positive number"
                      : a->kind != ALERTS && (a->label || a->state > 0 || a->priority > 0)
                          ? "--label, --state and --priority filter alerts only"
                          : NULL;
    if (bad)
        fprintf(stderr, "mets tail: %s\n%s", bad, usage_text);
    return bad ? 2 : 0;
}

static int parse_args(int argc, char **argv, args *a)
{
    enum { ALERTS_OPT = 256, EMB_OPT, DL_OPT, BEGIN_OPT, END_OPT, SINCE_OPT, LABEL_OPT, STATE_OPT, PRIO_OPT, VEC_OPT };
    static const struct option opts[] = {
        {"bootstrap", required_argument, NULL, 'b'},     {"topic", required_argument, NULL, 't'},
        {"alerts", no_argument, NULL, ALERTS_OPT},        {"embeddings", no_argument, NULL, EMB_OPT},
        {"dead-letters", no_argument, NULL, DL_OPT},      {"from-beginning", no_argument, NULL, BEGIN_OPT},
        {"from-end", no_argument, NULL, END_OPT},         {"since", required_argument, NULL, SINCE_OPT},
        {"stream", required_argument, NULL, 's'},        {"label", required_argument, NULL, LABEL_OPT},
        {"state", required_argument, NULL, STATE_OPT},   {"priority", required_argument, NULL, PRIO_OPT},
        {"count", required_argument, NULL, 'n'},         {"exit-at-end", no_argument, NULL, 'e'},
        {"pretty", no_argument, NULL, 'p'},              {"vectors", no_argument, NULL, VEC_OPT},
        {"help", no_argument, NULL, 'h'},                {NULL, 0, NULL, 0}};
    *a = (args){.kind = ALERTS, .start = RD_KAFKA_OFFSET_END};
    int c;
    while ((c = getopt_long(argc, argv, "b:t:s:n:X:F:eph", opts, NULL)) != -1) {
        switch (c) {
        case 'b': a->bootstrap = optarg; break;
        case 'X':
            if (mets_kafka_opts_add(&a->kafka, "mets tail", optarg))
                return 2;
            break;
        case 'F':
            if (mets_kafka_opts_file(&a->kafka, "mets tail", optarg))
                return 2;
            break;
        case 't': a->topic = optarg; break;
        case ALERTS_OPT: a->kind = ALERTS; break;
        case EMB_OPT: a->kind = EMBEDDINGS; break;
        case DL_OPT: a->kind = DEAD_LETTERS; break;
        case BEGIN_OPT: a->start = RD_KAFKA_OFFSET_BEGINNING; break;
        case END_OPT: a->start = RD_KAFKA_OFFSET_END; break;
        case SINCE_OPT: a->start = parse_since(optarg) >= 0 ? parse_since(optarg) : INT64_MIN; break;
        case 's': a->stream = optarg; break;
        case LABEL_OPT: a->label = optarg; break;
        case STATE_OPT: a->state = state_arg(optarg); break;
        case PRIO_OPT: a->priority = parse_priority(optarg); break;
        case 'n': a->count = count_arg(optarg); break;
        case 'e': a->exit_at_end = 1; break;
        case 'p': a->pretty = 1; break;
        case VEC_OPT: a->vectors = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    a->bootstrap = mets_cli_bootstrap(a->bootstrap);
    if (!a->topic)
        a->topic = kinds[a->kind].topic;
    return check_args(a, argc) ?: -1;
}

/* A consumer without a group's commits: the group id only exists because librdkafka's assign() needs
 * one, so it is unique to this process. */
static rd_kafka_t *new_consumer(const args *a)
{
    char errstr[512], group[64];
    snprintf(group, sizeof group, "mets-tail-%ld-%ld", (long)getpid(), (long)time(NULL));
    const char *const own[][2] = {{"group.id", group},
                                  {"enable.auto.commit", "false"},
                                  {"enable.auto.offset.store", "false"},
                                  {"isolation.level", "read_committed"},
                                  {"enable.partition.eof", "true"},
                                  {NULL, NULL}};
    rd_kafka_conf_t *conf = mets_kafka_conf("mets tail", a->bootstrap, own, &a->kafka);
    if (!conf)
        return NULL;
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "mets tail: %s\n", errstr);
        rd_kafka_conf_destroy(conf); /* rd_kafka_new takes the conf only on success */
        return NULL;
    }
    rd_kafka_poll_set_consumer(rk);
    return rk;
}

/* How many partitions the topic has, or -1 with the reason on stderr. */
static int partition_count(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rkt ? rd_kafka_metadata(rk, 0, rkt, &md, 10000) : rd_kafka_last_error();
    int n = -1;
    if (!e && md->topic_cnt == 1)
        e = md->topics[0].err, n = e ? -1 : md->topics[0].partition_cnt;
    if (n < 0)
        fprintf(stderr, "mets tail: topic %s: %s\n", topic, rd_kafka_err2str(e));
    if (md)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
    return n;
}

/* Assigns every partition at the chosen start; --since resolves to each partition's first offset with a
 * timestamp at or after it (the end if there is none). */
static int assign_all(tail *t)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(t->npartitions);
    for (int p = 0; p < t->npartitions; p++)
        rd_kafka_topic_partition_list_add(l, t->a->topic, p)->offset = t->a->start;
    rd_kafka_resp_err_t e = t->a->start >= 0 ? rd_kafka_offsets_for_times(t->rk, l, 10000) : 0;
    for (int i = 0; !e && i < l->cnt; i++)
        e = l->elems[i].err;
    e = e ?: rd_kafka_assign(t->rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    if (e)
        fprintf(stderr, "mets tail: assigning %s: %s\n", t->a->topic, rd_kafka_err2str(e));
    return e ? 1 : 0;
}

/* The error object of a message that is not what the topic should hold; never fatal, only counted. */
static void print_error(tail *t, const rd_kafka_message_t *m, const char *what)
{
    json_t *o = json_pack("{s:s, s:s, s:i, s:I}", "error", what, "topic", rd_kafka_topic_name(m->rkt), "partition",
                          (int)m->partition, "offset", (json_int_t)m->offset);
    if (o) {
        json_dumpf(o, stderr, JSON_COMPACT);
        fputc('\n', stderr);
        json_decref(o);
    }
    t->errors++;
}

static int stream_matches(const args *a, const ProtobufCMessage *pm, const rd_kafka_message_t *m)
{
    if (!a->stream)
        return 1;
    if (a->kind == ALERTS)
        return !strcmp(((const Mets__V1__Alert *)pm)->stream_id, a->stream);
    if (a->kind == EMBEDDINGS)
        return !strcmp(((const Mets__V1__Embedding *)pm)->stream_id, a->stream);
    /* A dead letter keeps the original message's key, which is its stream id. */
    return m->key && m->key_len == strlen(a->stream) && !memcmp(m->key, a->stream, m->key_len);
}

static int matches(const args *a, const ProtobufCMessage *pm, const rd_kafka_message_t *m)
{
    if (a->kind != ALERTS)
        return stream_matches(a, pm, m);
    const Mets__V1__Alert *al = (const Mets__V1__Alert *)pm;
    return stream_matches(a, pm, m) && (!a->label || !strcmp(al->label, a->label)) &&
           (!a->state || (int)al->state == a->state) && (!a->priority || al->priority == (uint32_t)a->priority);
}

/* Where the message sits on Kafka, under its own key: a dead letter has topic/partition/offset fields
 * of its own. */
static json_t *kafka_json(const rd_kafka_message_t *m)
{
    char iso[40];
    rd_kafka_timestamp_type_t type;
    int64_t ms = rd_kafka_message_timestamp(m, &type);
    json_t *key = m->key ? json_stringn(m->key, m->key_len) : NULL; /* NULL also when not UTF-8 */
    return json_pack("{s:s, s:i, s:I, s:o, s:I, s:s}", "topic", rd_kafka_topic_name(m->rkt), "partition",
                     (int)m->partition, "offset", (json_int_t)m->offset, "key", key ? key : json_null(),
                     "timestamp_ms", (json_int_t)ms, "timestamp", mets_pbjson_iso_time(ms * 1000, iso, sizeof iso));
}

static void print_json(const tail *t, const ProtobufCMessage *pm, const rd_kafka_message_t *m)
{
    json_t *o = mets_pbjson_message(pm, t->a->vectors);
    if (o && !json_object_set_new(o, "kafka", kafka_json(m))) {
        json_dumpf(o, stdout, JSON_COMPACT | METS_PBJSON_REAL_PRECISION);
        fputc('\n', stdout);
    }
    json_decref(o);
}

/* ANSI colour of an alert state: red raises, yellow updates, green clears. */
static const char *state_colour(int state)
{
    return state == METS__V1__ALERT_STATE__ALERT_STATE_RAISED    ? "\033[1;31m"
           : state == METS__V1__ALERT_STATE__ALERT_STATE_UPDATED ? "\033[33m"
           : state == METS__V1__ALERT_STATE__ALERT_STATE_CLEARED ? "\033[32m"
                                                                 : "";
}

static void print_pretty_alert(const tail *t, const Mets__V1__Alert *al)
{
    char iso[40], state[32];
    mets_pbjson_enum_name(&mets__v1__alert_state__descriptor, al->state, state, sizeof state);
    for (char *c = state; *c; c++)
        *c = (char)toupper((unsigned char)*c);
    printf("%s %s %s%-7s%s %s/%s p=%.2f cos=%.3f priority %s%s%s\n",
           mets_pbjson_iso_time(al->window_end_us, iso, sizeof iso), al->stream_id,
           t->colour ? state_colour(al->state) : "", state, t->colour ? "\033[0m" : "", al->label_group, al->label,
           (double)al->probability, (double)al->cosine,
           al->priority >= 1 && al->priority <= 3 ? priority_names[al->priority] : "unknown",
           al->technical ? " (technical)" : "", al->stale ? " (stale: signal lost)" : "");
}

static void print_pretty(const tail *t, const ProtobufCMessage *pm, const rd_kafka_message_t *m)
{
    char iso[40], reason[64];
    if (t->a->kind == ALERTS) {
        print_pretty_alert(t, (const Mets__V1__Alert *)pm);
    } else if (t->a->kind == EMBEDDINGS) {
        const Mets__V1__Embedding *e = (const Mets__V1__Embedding *)pm;
        printf("%s %s embedding %s %s, %zu dimensions\n", mets_pbjson_iso_time(e->window_end_us, iso, sizeof iso),
               e->stream_id, e->model_id, e->model_version, e->n_vector);
    } else {
        const Mets__V1__DeadLetter *d = (const Mets__V1__DeadLetter *)pm;
        rd_kafka_timestamp_type_t type;
        printf("%s %.*s %sDEAD LETTER%s %s: %s (%s [%d] at offset %lld)\n",
               mets_pbjson_iso_time(rd_kafka_message_timestamp(m, &type) * 1000, iso, sizeof iso),
               m->key ? (int)m->key_len : 1, m->key ? (const char *)m->key : "-", t->colour ? "\033[35m" : "",
               t->colour ? "\033[0m" : "",
               mets_pbjson_enum_name(&mets__v1__dead_letter_reason__descriptor, d->reason, reason, sizeof reason),
               d->reason_text, d->topic, d->partition, (long long)d->offset);
    }
}

/* Decodes one message and prints it if it passes the filters. */
static void handle(tail *t, const rd_kafka_message_t *m)
{
    const ProtobufCMessageDescriptor *desc = kinds[t->a->kind].desc;
    ProtobufCMessage *pm = protobuf_c_message_unpack(desc, NULL, m->len, m->payload);
    /* Every tailed message has schema_version first; 0 (absent) also catches bytes that happen to parse. */
    uint32_t version = pm ? *(const uint32_t *)((const char *)pm + desc->fields[0].offset) : 0;
    char what[128];
    if (!pm || version != 1) {
        if (pm)
            snprintf(what, sizeof what, "%s with schema_version %u, expected 1", desc->short_name, version);
        else
            snprintf(what, sizeof what, "not a protobuf %s", desc->short_name);
        print_error(t, m, what);
    } else if (matches(t->a, pm, m)) {
        (t->a->pretty ? print_pretty : print_json)(t, pm, m);
        fflush(stdout); /* a line as soon as it arrives, also into a pipe */
        t->printed++;
    }
    if (pm)
        protobuf_c_message_free_unpacked(pm, NULL);
}

/* Keeps count of the partitions at their end, for --exit-at-end. */
static void mark_end(tail *t, int32_t partition, int at_end)
{
    if (partition < 0 || partition >= t->npartitions || t->eof[partition] == at_end)
        return;
    t->eof[partition] = (char)at_end;
    t->at_end += at_end ? 1 : -1;
}

static int done(const tail *t)
{
    return stop || (t->a->count && t->printed >= t->a->count) ||
           (t->a->exit_at_end && t->at_end == t->npartitions);
}

/* 0 at the end asked for, 1 on a fatal client error. */
static int consume(tail *t)
{
    int rc = 0;
    while (!rc && !done(t)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(t->rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            mark_end(t, m->partition, 1);
        } else if (m->err) {
            /* Most errors are transient (a broker down): librdkafka retries, so only report them. */
            fprintf(stderr, "mets tail: %s\n", rd_kafka_message_errstr(m));
            rc = m->err == RD_KAFKA_RESP_ERR__FATAL;
        } else {
            mark_end(t, m->partition, 0);
            handle(t, m);
        }
        rd_kafka_message_destroy(m);
    }
    return rc;
}

int mets_cmd_tail(int argc, char **argv)
{
    args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) {
        mets_kafka_opts_free(&a.kafka);
        return rc;
    }
    tail t = {.a = &a, .colour = a.pretty && isatty(STDOUT_FILENO)};
    if (!(t.rk = new_consumer(&a))) {
        mets_kafka_opts_free(&a.kafka);
        return 1;
    }
    signal(SIGINT, on_signal), signal(SIGTERM, on_signal);
    t.npartitions = partition_count(t.rk, a.topic);
    rc = t.npartitions < 0 || !(t.eof = calloc((size_t)t.npartitions, 1)) || assign_all(&t);
    rc = rc ?: consume(&t);
    rd_kafka_consumer_close(t.rk);
    rd_kafka_destroy(t.rk);
    free(t.eof);
    mets_kafka_opts_free(&a.kafka);
    if (t.errors)
        fprintf(stderr, "mets tail: %ld printed, %ld undecodable\n", t.printed, t.errors);
    return rc;
}
