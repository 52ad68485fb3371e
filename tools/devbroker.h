/* The development broker: librdkafka's mock cluster (rdkafka_mock.h) run as a Kafka broker on
 * loopback, for the demo and quick tests. Not thread-safe; one owner creates, uses and destroys it.
 *
 *     mets_err err;
 *     mets_devbroker *b = mets_devbroker_new(1, &err);
 *     if (!b || mets_devbroker_topic_create(b, "ecg.frames", 4, &err)) { ... err.msg ... }
 *     printf("%s\n", mets_devbroker_bootstraps(b));   // e.g. 127.0.0.1:34567
 *     ...
 *     mets_devbroker_destroy(b);
 *
 * Limits of librdkafka 2.0.2's mock cluster, and how mets designs around them:
 *  - it listens on ports the kernel picks (no API binds a fixed port), so the address is handed on
 *    at run time (`mets broker` prints it and writes --bootstrap-file) instead of 127.0.0.1:9092;
 *  - it does not filter aborted transactions: a read_committed consumer also sees aborted records;
 *  - it does not store offsets committed inside a transaction (TxnOffsetCommit), so a consumer
 *    restarted after a transactional run re-reads from the last ordinary commit;
 *  - it keeps records in memory only and never compacts (metsd.state grows until the broker stops).
 * The development broker is therefore for the demo and fast tests only: exactly-once delivery is
 * asserted against a real Kafka broker in the integration tests, never against this one. */
#ifndef METS_DEVBROKER_H
#define METS_DEVBROKER_H

#include "err.h"

typedef struct mets_devbroker mets_devbroker;

/* Starts `brokers` (1 or more) mock brokers on 127.0.0.1; NULL and `err` filled on failure. */
mets_devbroker *mets_devbroker_new(int brokers, mets_err *err);

/* Creates `topic` with `partitions` partitions, their leaders spread over the brokers. Replication is
 * moot here (the mock keeps one in-memory log per partition), so it asks for a factor of 1. */
int mets_devbroker_topic_create(mets_devbroker *b, const char *topic, int partitions, mets_err *err);

/* The bootstrap servers list, "127.0.0.1:PORT[,127.0.0.1:PORT...]"; valid until destroy. */
const char *mets_devbroker_bootstraps(const mets_devbroker *b);

/* Stops the brokers (open client connections are closed) and frees everything. NULL is a no-op. */
void mets_devbroker_destroy(mets_devbroker *b);

#endif
