/* The development broker on librdkafka's mock cluster; its limits are listed in devbroker.h. */
#include "devbroker.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdlib.h>

struct mets_devbroker {
    rd_kafka_t *rk; /* only hosts the mock cluster: it never produces */
    rd_kafka_mock_cluster_t *mcluster;
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
    rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(b->mcluster, topic, partitions, 1);
    if (e)
        return mets_err_set(err, METS_EINVAL, "topic %s: %s", topic, rd_kafka_err2str(e));
    return 0;
}

const char *mets_devbroker_bootstraps(const mets_devbroker *b)
{
    return rd_kafka_mock_cluster_bootstraps(b->mcluster);
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
    free(b);
}
