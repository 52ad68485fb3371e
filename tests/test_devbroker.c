/* The dev broker's fault-injection commands (tools/devbroker.c, `mets broker --control`) on a live
 * in-process mock cluster of 3 brokers: every command's answer, every refusal, and that a leader move
 * is what a client then sees in its metadata. */
#include <librdkafka/rdkafka.h>
#include <string.h>

#include "devbroker.h"
#include "harness.h"

static mets_devbroker *start(void)
{
    mets_err err = {0};
    mets_devbroker *b = mets_devbroker_new(3, &err);
    CHECK(b, "%s", err.msg);
    CHECK(b && !mets_devbroker_topic_create(b, "ecg.frames", 4, &err), "%s", err.msg);
    return b;
}

/* Applies `line`, expects return code `rc` and the answer `want` (prefix match when it ends in '*'). */
static void expect(mets_devbroker *b, const char *line, int rc, const char *want)
{
    char reply[640];
    int got = mets_devbroker_control(b, line, reply, sizeof reply);
    size_t n = strlen(want);
    int match = n && want[n - 1] == '*' ? !strncmp(reply, want, n - 1) : !strcmp(reply, want);
    CHECK(got == rc && match, "'%s': rc %d, '%s'; expected rc %d, '%s'", line, got, reply, rc, want);
}

static void every_command_is_answered_ok_in_canonical_spacing(void)
{
    mets_devbroker *b = start();
    expect(b, "down 2", 0, "ok down 2");
    expect(b, "  up\t2 \r\n", 0, "ok up 2");
    expect(b, "down all", 0, "ok down all");
    expect(b, "up all", 0, "ok up all");
    expect(b, "rtt 3 500", 0, "ok rtt 3 500");
    expect(b, "rtt all 0", 0, "ok rtt all 0");
    expect(b, "errors Produce 3 NOT_LEADER_FOR_PARTITION", 0, "ok errors Produce 3 NOT_LEADER_FOR_PARTITION");
    expect(b, "errors endtxn 1 _transport", 0, "ok errors endtxn 1 _transport"); /* names: any case */
    expect(b, "clear Produce", 0, "ok clear Produce");
    expect(b, "leader ecg.frames 3 2", 0, "ok leader ecg.frames 3 2");
    expect(b, "coordinator txn metsd-0 3", 0, "ok coordinator txn metsd-0 3");
    expect(b, "coordinator group metsd 1", 0, "ok coordinator group metsd 1");
    mets_devbroker_destroy(b);
}

static void blank_lines_and_comments_are_not_answered(void)
{
    mets_devbroker *b = start();
    expect(b, "", 1, "");
    expect(b, "   \t", 1, "");
    expect(b, "# down 1", 1, "");
    mets_devbroker_destroy(b);
}

static void bad_commands_are_refused_with_the_reason(void)
{
    mets_devbroker *b = start();
    expect(b, "reboot 1", METS_EINVAL, "error: unknown command 'reboot'*");
    expect(b, "down", METS_EINVAL, "error: usage: down BROKER|all");
    expect(b, "down 1 2", METS_EINVAL, "error: usage: down BROKER|all");
    expect(b, "errors Produce 1 NOT_LEADER_FOR_PARTITION x", METS_EINVAL, "error: 'errors': too many words");
    expect(b, "down 0", METS_EINVAL, "error: '0': expected a number from 1 to 3 or all");
    expect(b, "up 4", METS_EINVAL, "error: '4': expected a number from 1 to 3 or all");
    expect(b, "rtt 1 -5", METS_EINVAL, "error: '-5': expected a number from 0 to 600000");
    expect(b, "rtt 1 5ms", METS_EINVAL, "error: '5ms': expected a number*");
    expect(b, "errors Produc 1 NOT_LEADER_FOR_PARTITION", METS_ENOTFOUND, "error: API 'Produc'*");
    expect(b, "errors Fetch 1 NOT_A_LEADER", METS_ENOTFOUND, "error: error 'NOT_A_LEADER'*");
    expect(b, "errors Fetch 1 NO_ERROR", METS_ENOTFOUND, "error: error 'NO_ERROR'*"); /* not a fault */
    expect(b, "errors Fetch 0 NOT_LEADER_FOR_PARTITION", METS_EINVAL, "error: '0': expected a number from 1 to 1000");
    expect(b, "leader ecg.frame 0 1", METS_ENOTFOUND, "error: topic ecg.frame: no such topic");
    expect(b, "leader ecg.frames 4 1", METS_EINVAL, "error: topic ecg.frames: partition 4; expected 0..3");
    expect(b, "leader ecg.frames 0 all", METS_EINVAL, "error: 'all': expected a number from 1 to 3");
    expect(b, "coordinator transaction metsd 1", METS_EINVAL, "error: coordinator kind 'transaction'*");
    expect(b, "coordinator group metsd 9", METS_EINVAL, "error: '9': expected a number from 1 to 3");
    mets_devbroker_destroy(b);
}

/* The leader of ecg.frames partition `p` as a fresh client's metadata reports it, or -1. */
static int leader_seen(const char *bootstraps, int p)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, errstr, sizeof errstr);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    CHECK(rk, "%s", errstr);
    if (!rk)
        return -1;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, "ecg.frames", NULL);
    const struct rd_kafka_metadata *md = NULL;
    int leader = -1;
    if (!rd_kafka_metadata(rk, 0, rkt, &md, 10000) && md->topic_cnt == 1 && p < md->topics[0].partition_cnt)
        leader = md->topics[0].partitions[p].leader;
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_destroy(rk);
    return leader;
}

static void a_leader_move_is_what_clients_see(void)
{
    mets_devbroker *b = start();
    const char *bs = mets_devbroker_bootstraps(b);
    int before = leader_seen(bs, 1);
    CHECK(before >= 1 && before <= 3, "leader %d before the move", before);
    int to = before % 3 + 1;
    char line[64], want[80];
    snprintf(line, sizeof line, "leader ecg.frames 1 %d", to);
    snprintf(want, sizeof want, "ok %s", line);
    expect(b, line, 0, want);
    CHECK(leader_seen(bs, 1) == to, "leader %d after the move to %d", leader_seen(bs, 1), to);
    mets_devbroker_destroy(b);
}

int main(void)
{
    RUN(every_command_is_answered_ok_in_canonical_spacing);
    RUN(blank_lines_and_comments_are_not_answered);
    RUN(bad_commands_are_refused_with_the_reason);
    RUN(a_leader_move_is_what_clients_see);
    return mets_test_summary();
}
