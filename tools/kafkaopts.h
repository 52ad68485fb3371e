/* librdkafka properties from the command line of the Kafka tools (mets tail, mets replay), as kcat takes
 * them: -X NAME=VALUE (repeatable) and -F FILE (NAME=VALUE a line; blank lines and # comments skipped), so
 * that they reach a broker that wants TLS or SASL. They apply after the tool's own settings, in the order
 * given, and may change them. */
#ifndef METS_TOOLS_KAFKAOPTS_H
#define METS_TOOLS_KAFKAOPTS_H

#include <librdkafka/rdkafka.h>

typedef struct mets_kafka_opts {
    char **names, **values;
    int n;
} mets_kafka_opts;

/* -X NAME=VALUE: 0, or 2 (a usage error) with "TOOL: -X ARG: why" on stderr. */
int mets_kafka_opts_add(mets_kafka_opts *o, const char *tool, const char *arg);
/* -F FILE: 0, or 2 with "TOOL: FILE:LINE: why" on stderr. */
int mets_kafka_opts_file(mets_kafka_opts *o, const char *tool, const char *path);
void mets_kafka_opts_free(mets_kafka_opts *o);

/* A configuration of bootstrap.servers, then `own` ({NAME, VALUE} pairs up to a NULL name), then the
 * user's: NULL with "TOOL: NAME: librdkafka's reason" on stderr when librdkafka refuses one. */
rd_kafka_conf_t *mets_kafka_conf(const char *tool, const char *bootstrap, const char *const own[][2],
                                 const mets_kafka_opts *user);

#endif
