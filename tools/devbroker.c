/* The development broker on librdkafka's mock cluster; its limits are listed in devbroker.h. */
#include "devbroker.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TOPICS 64

/* The topics created, so that a fault command naming a mistyped topic is refused: the mock would
 * otherwise create that topic silently. */
typedef struct known_topic {
    char *name;
    int partitions;
} known_topic;

struct mets_devbroker {
    rd_kafka_t *rk; /* only hosts the mock cluster: it never produces */
    rd_kafka_mock_cluster_t *mcluster;
    int brokers;
    known_topic topics[MAX_TOPICS];
    int ntopics;
};

/* Kafka protocol ApiKey numbers, which the mock's error stacks are keyed by. */
static const struct {
    const char *name;
    int16_t key;
} apis[] = {
    {"Produce", 0},          {"Fetch", 1},           {"ListOffsets", 2},        {"Metadata", 3},
    {"OffsetCommit", 8},     {"OffsetFetch", 9},     {"FindCoordinator", 10},   {"JoinGroup", 11},
    {"Heartbeat", 12},       {"LeaveGroup", 13},     {"SyncGroup", 14},         {"ApiVersions", 18},
    {"InitProducerId", 22},  {"AddPartitionsToTxn", 24}, {"AddOffsetsToTxn", 25}, {"EndTxn", 26},
    {"TxnOffsetCommit", 28},
};

/* A handle that never connects anywhere: the mock cluster needs one for its thread and logging, and
 * an empty bootstrap list would only add a "no bootstrap.servers" notice to the log. */
static rd_kafka_t *host_handle(mets_err *err)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "client.id", "mets-devbroker", errstr, sizeof errstr) != RD_KAFKA_CONF_OK ||
        rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        mets_err_set(err, METS_EINVAL, "dev broker: %s", errstr);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new takes the conf only on success */
        mets_err_set(err, METS_EIO, "dev broker: %s", errstr);
    }
    return rk;
}

mets_devbroker *mets_devbroker_new(int brokers, mets_err *err)
{
    if (brokers < 1)
        return mets_err_set(err, METS_EINVAL, "dev broker: %d brokers; expected 1 or more", brokers), NULL;
    mets_devbroker *b = calloc(1, sizeof *b);
    if (!b)
        return mets_err_set(err, METS_ENOMEM, "dev broker: out of memory"), NULL;
    b->brokers = brokers;
    b->rk = host_handle(err);
    if (b->rk && !(b->mcluster = rd_kafka_mock_cluster_new(b->rk, brokers)))
        mets_err_set(err, METS_EIO, "dev broker: cannot start %d mock brokers on 127.0.0.1 (see the log above)",
                     brokers);
    if (!b->mcluster) {
        mets_devbroker_destroy(b);
        return NULL;
    }
    return b;
}

int mets_devbroker_topic_create(mets_devbroker *b, const char *topic, int partitions, mets_err *err)
{
    if (partitions < 1)
        return mets_err_set(err, METS_EINVAL, "topic %s: %d partitions; expected 1 or more", topic, partitions);
    if (b->ntopics == MAX_TOPICS)
        return mets_err_set(err, METS_EINVAL, "topic %s: more than %d topics", topic, MAX_TOPICS);
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(b->mcluster, topic, partitions, 1);
    if (e)
        return mets_err_set(err, METS_EINVAL, "topic %s: %s", topic, rd_kafka_err2str(e));
    if (!(b->topics[b->ntopics].name = strdup(topic)))
        return mets_err_set(err, METS_ENOMEM, "topic %s: out of memory", topic);
    b->topics[b->ntopics++].partitions = partitions;
    return 0;
}

const char *mets_devbroker_bootstraps(const mets_devbroker *b)
{
    return rd_kafka_mock_cluster_bootstraps(b->mcluster);
}

static int check_broker(const mets_devbroker *b, int broker, int all_allowed, mets_err *err)
{
    if ((broker >= 1 && broker <= b->brokers) || (all_allowed && broker == -1))
        return 0;
    return mets_err_set(err, METS_EINVAL, "broker %d: expected 1..%d%s", broker, b->brokers,
                        all_allowed ? " or all" : "");
}

/* The mock answers its own errors with rd_kafka_resp_err_t; they become METS_EINVAL with a name. */
static int mock_result(rd_kafka_resp_err_t e, const char *what, mets_err *err)
{
    return e ? mets_err_set(err, METS_EINVAL, "%s: %s", what, rd_kafka_err2str(e)) : 0;
}

int mets_devbroker_broker_down(mets_devbroker *b, int broker, mets_err *err)
{
    return check_broker(b, broker, 1, err)
               ?: mock_result(rd_kafka_mock_broker_set_down(b->mcluster, broker), "down", err);
}

int mets_devbroker_broker_up(mets_devbroker *b, int broker, mets_err *err)
{
    return check_broker(b, broker, 1, err)
               ?: mock_result(rd_kafka_mock_broker_set_up(b->mcluster, broker), "up", err);
}

int mets_devbroker_broker_rtt(mets_devbroker *b, int broker, int rtt_ms, mets_err *err)
{
    if (rtt_ms < 0)
        return mets_err_set(err, METS_EINVAL, "rtt %d ms: expected 0 or more", rtt_ms);
    return check_broker(b, broker, 1, err)
               ?: mock_result(rd_kafka_mock_broker_set_rtt(b->mcluster, broker, rtt_ms), "rtt", err);
}

static int api_key(const char *api, mets_err *err)
{
    for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++)
        if (!strcasecmp(api, apis[i].name))
            return apis[i].key;
    return mets_err_set(err, METS_ENOTFOUND, "API '%s': expected Produce, Fetch, ListOffsets, Metadata, "
                        "OffsetCommit, OffsetFetch, FindCoordinator, JoinGroup, Heartbeat, LeaveGroup, SyncGroup, "
                        "ApiVersions, InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn or TxnOffsetCommit",
                        api);
}

/* Looks `name` up among librdkafka's error codes by rd_kafka_err2name's names, so that every code the
 * library knows is available without a table of our own. */
static int error_code(const char *name, rd_kafka_resp_err_t *code, mets_err *err)
{
    const struct rd_kafka_err_desc *descs;
    size_t n;
    rd_kafka_get_err_descs(&descs, &n);
    for (size_t i = 0; i < n; i++)
        if (descs[i].name && !strcasecmp(name, descs[i].name) && descs[i].code != RD_KAFKA_RESP_ERR_NO_ERROR) {
            *code = descs[i].code;
            return 0;
        }
    return mets_err_set(err, METS_ENOTFOUND, "error '%s': not a librdkafka error name (e.g. "
                        "NOT_LEADER_FOR_PARTITION, NOT_COORDINATOR, _TRANSPORT)", name);
}

int mets_devbroker_push_errors(mets_devbroker *b, const char *api, int count, const char *error, mets_err *err)
{
    int key = api_key(api, err);
    if (key < 0)
        return key;
    rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;
    int rc = error_code(error, &code, err);
    if (rc)
        return rc;
    if (count < 1 || count > 1000)
        return mets_err_set(err, METS_EINVAL, "%d errors: expected 1..1000", count);
    rd_kafka_resp_err_t codes[1000];
    for (int i = 0; i < count; i++)
        codes[i] = code;
    rd_kafka_mock_push_request_errors_array(b->mcluster, (int16_t)key, (size_t)count, codes);
    return 0;
}

int mets_devbroker_clear_errors(mets_devbroker *b, const char *api, mets_err *err)
{
    int key = api_key(api, err);
    if (key < 0)
        return key;
    rd_kafka_mock_clear_request_errors(b->mcluster, (int16_t)key);
    return 0;
}

int mets_devbroker_partition_leader(mets_devbroker *b, const char *topic, int partition, int broker,
                                    mets_err *err)
{
    const known_topic *t = NULL;
    for (int i = 0; i < b->ntopics && !t; i++)
        if (!strcmp(b->topics[i].name, topic))
            t = &b->topics[i];
    if (!t)
        return mets_err_set(err, METS_ENOTFOUND, "topic %s: no such topic", topic);
    if (partition < 0 || partition >= t->partitions)
        return mets_err_set(err, METS_EINVAL, "topic %s: partition %d; expected 0..%d", topic, partition,
                            t->partitions - 1);
    return check_broker(b, broker, 0, err)
               ?: mock_result(rd_kafka_mock_partition_set_leader(b->mcluster, topic, partition, broker), topic, err);
}

int mets_devbroker_coordinator(mets_devbroker *b, const char *kind, const char *key, int broker, mets_err *err)
{
    const char *mock_kind = !strcmp(kind, "txn") ? "transaction" : !strcmp(kind, "group") ? "group" : NULL;
    if (!mock_kind)
        return mets_err_set(err, METS_EINVAL, "coordinator kind '%s': expected txn or group", kind);
    return check_broker(b, broker, 0, err)
               ?: mock_result(rd_kafka_mock_coordinator_set(b->mcluster, mock_kind, key, broker), "coordinator", err);
}

/* A whole-token integer in [lo, hi], or "all" (-1) where `all_ok`. */
static int parse_int(const char *s, int lo, int hi, int all_ok, int *out, mets_err *err)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (all_ok && !strcmp(s, "all")) {
        *out = -1;
        return 0;
    }
    if (!*s || *end || v < lo || v > hi)
        return mets_err_set(err, METS_EINVAL, "'%s': expected a number from %d to %d%s", s, lo, hi,
                            all_ok ? " or all" : "");
    *out = (int)v;
    return 0;
}

enum { MAX_WORDS = 4 }; /* the longest command: errors API COUNT ERROR */

static int control_apply(mets_devbroker *b, char **w, int n, mets_err *err)
{
    static const struct {
        const char *cmd, *usage;
        int nargs;
    } cmds[] = {
        {"down", "down BROKER|all", 1},
        {"up", "up BROKER|all", 1},
        {"rtt", "rtt BROKER|all MS", 2},
        {"errors", "errors API COUNT ERROR", 3},
        {"clear", "clear API", 1},
        {"leader", "leader TOPIC PARTITION BROKER", 3},
        {"coordinator", "coordinator txn|group KEY BROKER", 3},
    };
    size_t c = 0;
    while (c < sizeof cmds / sizeof cmds[0] && strcmp(w[0], cmds[c].cmd))
        c++;
    if (c == sizeof cmds / sizeof cmds[0])
        return mets_err_set(err, METS_EINVAL, "unknown command '%s': expected down, up, rtt, errors, clear, leader "
                            "or coordinator", w[0]);
    if (n - 1 != cmds[c].nargs)
        return mets_err_set(err, METS_EINVAL, "usage: %s", cmds[c].usage);
    int x, y;
    switch (c) {
    case 0: return parse_int(w[1], 1, b->brokers, 1, &x, err) ?: mets_devbroker_broker_down(b, x, err);
    case 1: return parse_int(w[1], 1, b->brokers, 1, &x, err) ?: mets_devbroker_broker_up(b, x, err);
    case 2:
        return parse_int(w[1], 1, b->brokers, 1, &x, err) ?: parse_int(w[2], 0, 600000, 0, &y, err)
                   ?: mets_devbroker_broker_rtt(b, x, y, err);
    case 3: return parse_int(w[2], 1, 1000, 0, &x, err) ?: mets_devbroker_push_errors(b, w[1], x, w[3], err);
    case 4: return mets_devbroker_clear_errors(b, w[1], err);
    case 5:
        return parse_int(w[2], 0, 1 << 20, 0, &x, err) ?: parse_int(w[3], 1, b->brokers, 0, &y, err)
                   ?: mets_devbroker_partition_leader(b, w[1], x, y, err);
    default: return parse_int(w[3], 1, b->brokers, 0, &x, err) ?: mets_devbroker_coordinator(b, w[1], w[2], x, err);
    }
}

int mets_devbroker_control(mets_devbroker *b, const char *line, char *reply, size_t size)
{
    char buf[1024], *w[MAX_WORDS], *save = NULL;
    int n = 0, too_many = 0;
    snprintf(buf, sizeof buf, "%s", line);
    for (char *t = strtok_r(buf, " \t\r\n", &save); t; t = strtok_r(NULL, " \t\r\n", &save)) {
        too_many |= n == MAX_WORDS;
        if (n < MAX_WORDS)
            w[n++] = t;
    }
    if (n == 0 || w[0][0] == '#') {
        snprintf(reply, size, "%s", "");
        return 1;
    }
    mets_err err = {0};
    int rc = too_many ? mets_err_set(&err, METS_EINVAL, "'%s': too many words", w[0]) : control_apply(b, w, n, &err);
    if (rc) {
        snprintf(reply, size, "error: %s", err.msg);
        return rc;
    }
    /* The answer repeats the command in canonical spacing, so a log of answers is a replayable script. */
    int len = snprintf(reply, size, "ok");
    for (int i = 0; i < n && len >= 0 && (size_t)len < size; i++)
        len += snprintf(reply + len, size - (size_t)len, " %s", w[i]);
    return 0;
}

void mets_devbroker_destroy(mets_devbroker *b)
{
    if (!b)
        return;
    /* The cluster must go first: librdkafka asserts that no mock cluster outlives its handle. */
    if (b->mcluster)
        rd_kafka_mock_cluster_destroy(b->mcluster);
    if (b->rk)
        rd_kafka_destroy(b->rk);
    for (int i = 0; i < b->ntopics; i++)
        free(b->topics[i].name);
    free(b);
}
