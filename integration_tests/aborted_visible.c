/* Test helper for test_mock_gaps.sh: how many records of an aborted transaction a read_committed consumer
 * sees on a broker. Produces 5 records to TOPIC (partition 0) in a transaction that it flushes (so the
 * broker stores them) and then aborts, then 1 record in a transaction that it commits, and reads the
 * partition read_committed from the beginning to its end. Prints "seen N": 1 on Apache Kafka, which
 * filters the aborted records; 6 on librdkafka 2.0.2's mock cluster, which does not. This is how state
 * records of an aborted transaction reached metsd on the mock (docs/reliability.md).
 * usage: aborted_visible BOOTSTRAP TOPIC */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TIMEOUT_MS 30000

static void die(const char *what, rd_kafka_error_t *e)
{
    fprintf(stderr, "aborted_visible: %s: %s\n", what, e ? rd_kafka_error_string(e) : "failed");
    exit(1);
}

static void transaction(rd_kafka_t *p, const char *topic, int n, int commit)
{
    rd_kafka_error_t *e = rd_kafka_begin_transaction(p);
    if (e)
        die("begin", e);
    for (int i = 0; i < n; i++) {
        char value[32];
        int len = snprintf(value, sizeof value, "%s %d", commit ? "committed" : "aborted", i);
        if (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0), RD_KAFKA_V_VALUE(value, (size_t)len),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END))
            die("produce", NULL);
    }
    if (!commit && rd_kafka_flush(p, TIMEOUT_MS))
        die("flush", NULL);
    e = commit ? rd_kafka_commit_transaction(p, TIMEOUT_MS) : rd_kafka_abort_transaction(p, TIMEOUT_MS);
    if (e)
        die(commit ? "commit" : "abort", e);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fputs("usage: aborted_visible BOOTSTRAP TOPIC\n", stderr);
        return 2;
    }
    char err[512];
    rd_kafka_conf_t *pc = rd_kafka_conf_new(), *cc = rd_kafka_conf_new();
    if (rd_kafka_conf_set(pc, "bootstrap.servers", argv[1], err, sizeof err) ||
        rd_kafka_conf_set(pc, "transactional.id", "aborted-visible", err, sizeof err) ||
        rd_kafka_conf_set(cc, "bootstrap.servers", argv[1], err, sizeof err) ||
        rd_kafka_conf_set(cc, "group.id", "aborted-visible", err, sizeof err) ||
        rd_kafka_conf_set(cc, "isolation.level", "read_committed", err, sizeof err) ||
        rd_kafka_conf_set(cc, "enable.partition.eof", "true", err, sizeof err)) {
        fprintf(stderr, "aborted_visible: %s\n", err);
        return 1;
    }
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
    if (!p)
        die(err, NULL);
    rd_kafka_error_t *e = rd_kafka_init_transactions(p, TIMEOUT_MS);
    if (e)
        die("init", e);
    transaction(p, argv[2], 5, 0);
    transaction(p, argv[2], 1, 1);
    rd_kafka_destroy(p);

    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
    if (!c)
        die(err, NULL);
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, argv[2], 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(c, l);
    rd_kafka_topic_partition_list_destroy(l);
    int seen = 0, done = 0;
    for (int polls = 0; !done && polls < 300; polls++) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            done = 1;
        else if (!m->err)
            seen++;
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    if (!done) {
        fputs("aborted_visible: the partition's end not reached in 30 s\n", stderr);
        return 1;
    }
    printf("seen %d\n", seen);
    return 0;
}
