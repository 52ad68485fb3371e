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

#include <stddef.h>

#include "err.h"

typedef struct mets_devbroker mets_devbroker;

/* Starts `brokers` (1 or more) mock brokers on 127.0.0.1; NULL and `err` filled on failure. */
mets_devbroker *mets_devbroker_new(int brokers, mets_err *err);

/* Creates `topic` with `partitions` partitions, their leaders spread over the brokers. Replication is
 * moot here (the mock keeps one in-memory log per partition), so it asks for a factor of 1. */
int mets_devbroker_topic_create(mets_devbroker *b, const char *topic, int partitions, mets_err *err);

/* The bootstrap servers list, "127.0.0.1:PORT[,127.0.0.1:PORT...]"; valid until destroy. */
const char *mets_devbroker_bootstraps(const mets_devbroker *b);

/* Fault injection on the running cluster, for `mets broker --control` and tests of clients under faults.
 * Brokers are numbered 1..brokers; for down, up and rtt, broker -1 means every broker. None of these
 * moves partition leaders by itself: a broker that is down stays the leader of its partitions. */

/* Closes the broker's connections and refuses new ones (down), or accepts them again (up). */
int mets_devbroker_broker_down(mets_devbroker *b, int broker, mets_err *err);
int mets_devbroker_broker_up(mets_devbroker *b, int broker, mets_err *err);

/* Delays every response of the broker by `rtt_ms` (0 restores full speed). */
int mets_devbroker_broker_rtt(mets_devbroker *b, int broker, int rtt_ms, mets_err *err);

/* The next `count` requests of Kafka API `api` ("Produce", "EndTxn", ...; any broker) fail with the
 * error named `error` as rd_kafka_err2name() names it ("NOT_LEADER_FOR_PARTITION"; "_TRANSPORT"
 * disconnects the client instead of answering). Case-insensitive. */
int mets_devbroker_push_errors(mets_devbroker *b, const char *api, int count, const char *error, mets_err *err);

/* Drops the errors still stacked for `api`. */
int mets_devbroker_clear_errors(mets_devbroker *b, const char *api, mets_err *err);

/* Moves the leadership of `topic` `partition` (both must exist) to `broker`. */
int mets_devbroker_partition_leader(mets_devbroker *b, const char *topic, int partition, int broker,
                                    mets_err *err);

/* Makes `broker` the coordinator of transactional id (kind "txn") or consumer group (kind "group") `key`. */
int mets_devbroker_coordinator(mets_devbroker *b, const char *kind, const char *key, int broker, mets_err *err);

/* Applies one control line, one of
 *     down BROKER|all    up BROKER|all    rtt BROKER|all MS
 *     errors API COUNT ERROR    clear API
 *     leader TOPIC PARTITION BROKER    coordinator txn|group KEY BROKER
 * and writes the answer, "ok <the command as applied>" or "error: <why>", to `reply` (always
 * terminated). Returns 0, a negative METS_E* code, or 1 for a blank or '#' line (no answer). */
int mets_devbroker_control(mets_devbroker *b, const char *line, char *reply, size_t size);

/* Stops the brokers (open client connections are closed) and frees everything. NULL is a no-op. */
void mets_devbroker_destroy(mets_devbroker *b);

#endif
