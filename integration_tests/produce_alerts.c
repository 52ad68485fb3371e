/* Test helper for test_tail.sh: puts a known set of messages on the development broker, encoded with the
 * generated protobuf-c code as metsd would, so that `mets tail` can be checked against them: 4 Alerts and
 * one message that is no Alert on ecg.alerts, one DeadLetter on ecg.deadletter. Message timestamps are
 * fixed (2024-05-01T12:00:00Z + i s) for --since.
 * usage: produce_alerts BOOTSTRAP */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mets.pb-c.h"

#define T0_MS 1714564800000LL /* 2024-05-01T12:00:00Z */

static int produce(rd_kafka_t *rk, const char *topic, const char *key, void *value, size_t len, int64_t ms)
{
    rd_kafka_resp_err_t e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
                                              RD_KAFKA_V_VALUE(value, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                              RD_KAFKA_V_TIMESTAMP(ms), RD_KAFKA_V_END);
    if (e)
        fprintf(stderr, "produce_alerts: %s: %s\n", topic, rd_kafka_err2str(e));
    return e ? 1 : 0;
}

static int produce_message(rd_kafka_t *rk, const char *topic, const char *key, const ProtobufCMessage *m, int64_t ms)
{
    uint8_t buf[4096];
    size_t len = protobuf_c_message_get_packed_size(m);
    return len > sizeof buf || produce(rk, topic, key, buf, protobuf_c_message_pack(m, buf), ms);
}

static int produce_alerts(rd_kafka_t *rk)
{
    static const struct {
        const char *stream, *label;
        Mets__V1__AlertState state;
        float probability;
        uint32_t priority;
    } alerts[] = {
        {"bed-1", "af", METS__V1__ALERT_STATE__ALERT_STATE_RAISED, 0.87f, 1},
        {"bed-2", "vf", METS__V1__ALERT_STATE__ALERT_STATE_RAISED, 0.5f, 1},
        {"bed-1", "af", METS__V1__ALERT_STATE__ALERT_STATE_UPDATED, 0.93f, 2},
        {"bed-1", "af", METS__V1__ALERT_STATE__ALERT_STATE_CLEARED, 0.25f, 3},
    };
    int rc = 0;
    for (int i = 0; i < 4 && !rc; i++) {
        Mets__V1__LabelProbability other = METS__V1__LABEL_PROBABILITY__INIT, *competing[] = {&other};
        other.label = "normal", other.probability = 1 - alerts[i].probability;
        Mets__V1__Alert a = METS__V1__ALERT__INIT;
        char id[32];
        snprintf(id, sizeof id, "alert-%d", i);
        a.schema_version = 1, a.alert_id = id, a.stream_id = (char *)alerts[i].stream;
        a.label_group = "rhythm", a.label = (char *)alerts[i].label, a.state = alerts[i].state;
        a.probability = alerts[i].probability, a.cosine = 0.25f, a.priority = alerts[i].priority;
        a.onset_us = T0_MS * 1000, a.window_start_us = (T0_MS + i * 1000) * 1000;
        a.window_end_us = a.window_start_us + 10000000, a.model_version = "test", a.prompt_set_version = "p1";
        a.n_competing = 1, a.competing = competing;
        rc = produce_message(rk, "ecg.alerts", a.stream_id, &a.base, T0_MS + i * 1000);
    }
    /* A truncated varint: no protobuf decoder accepts it. */
    return rc || produce(rk, "ecg.alerts", "bed-9", "\xff\xff\xff", 3, T0_MS + 10000);
}

static int produce_dead_letter(rd_kafka_t *rk)
{
    Mets__V1__DeadLetter d = METS__V1__DEAD_LETTER__INIT;
    d.schema_version = 1, d.original.data = (uint8_t *)"abc", d.original.len = 3;
    d.topic = "ecg.frames", d.partition = 2, d.offset = 41;
    d.reason = METS__V1__DEAD_LETTER_REASON__DEAD_LETTER_REASON_SAMPLE_RATE;
    d.reason_text = "sample_rate_hz 20000 is outside 50..2000";
    return produce_message(rk, "ecg.deadletter", "bed-3", &d.base, T0_MS);
}

int main(int argc, char **argv)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (argc != 2 || rd_kafka_conf_set(conf, "bootstrap.servers", argv[1], errstr, sizeof errstr)) {
        fprintf(stderr, "usage: produce_alerts BOOTSTRAP\n");
        rd_kafka_conf_destroy(conf);
        return 2;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "produce_alerts: %s\n", errstr);
        return 1;
    }
    int rc = produce_alerts(rk) || produce_dead_letter(rk);
    rc = rd_kafka_flush(rk, 30000) || rc;
    rd_kafka_destroy(rk);
    return rc;
}
