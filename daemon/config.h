/* The configuration of metsd, from YAML (conf/metsd.yaml), as one plain struct.
 *
 * Every key is declared once, in a table in config.c (name, type, default, range, offset into this
 * struct, description); that table drives parsing, validation, defaults and the reference
 * (docs/config.md, printed by mets_config_reference), so they cannot drift.
 *
 *     mets_config cfg;
 *     mets_err err;
 *     if (mets_config_load("conf/metsd.yaml", &cfg, &err) || mets_config_check_files(&cfg, &err)) {
 *         fprintf(stderr, "metsd: %s\n", err.msg);
 *         ...
 *     }
 *     ...
 *     mets_config_free(&cfg);
 *
 * Errors name file:line:column and what was expected; unknown and duplicate keys are errors. Relative
 * paths in the file resolve against the folder of the file, not the working directory.
 *
 * Thread-safety: a loaded mets_config is immutable; a reload loads a new one and swaps it.
 */
#ifndef METS_CONFIG_H
#define METS_CONFIG_H

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "err.h"

enum { METS_DELIVERY_EXACTLY_ONCE, METS_DELIVERY_AT_LEAST_ONCE };
enum { METS_LOG_DEBUG, METS_LOG_INFO, METS_LOG_NOTICE, METS_LOG_WARNING, METS_LOG_ERROR };
/* IEC 60601-1-8 alarm priorities. */
enum { METS_PRIORITY_LOW, METS_PRIORITY_MEDIUM, METS_PRIORITY_HIGH };

/* When an alert for one (stream, label) is raised, cleared and raised again. */
typedef struct mets_alert_policy {
    bool enabled;             /* false: scored, never alerts */
    int raise_k, raise_n;     /* raise when k of the last n windows score >= raise_probability */
    double raise_probability;
    int clear_m;              /* clear after m consecutive windows below clear_probability */
    double clear_probability;
    double min_duration_s;    /* an alert stays up at least this long */
    double realert_interval_s; /* an alert still up is re-sent this often (0: never) */
    int priority;             /* METS_PRIORITY_* */
} mets_alert_policy;

typedef struct mets_label_policy {
    char *group, *label;
    mets_alert_policy policy; /* keys absent here are taken from alerts.default */
    size_t line, column;      /* where it is declared (1-based), for messages */
} mets_label_policy;

typedef struct mets_kv {
    char *key, *value;
} mets_kv;

typedef struct mets_kv_list {
    mets_kv *items;
    int n;
} mets_kv_list;

typedef struct mets_policy_list {
    mets_label_policy *items;
    int n;
} mets_policy_list;

/* Where a value is set in the file (1-based; line 0: it is not, it has its default). */
typedef struct mets_config_mark {
    size_t line, column;
} mets_config_mark;

typedef struct mets_config {
    char *file;              /* the file it was loaded from, for messages */
    mets_config_mark *marks; /* where each key is set, in the order of the key table: see mets_config_fail */
    struct {
        char *bootstrap_servers, *group_id;
        struct {
            char *frames, *embeddings, *alerts, *dead_letter, *state;
        } topics;
        mets_kv_list properties; /* librdkafka settings, each accepted by rd_kafka_conf_set when loaded */
        /* librdkafka settings whose values are read from files (secrets: systemd's LoadCredential=): name ->
         * the value read, never printed */
        mets_kv_list property_files;
    } kafka;
    struct {
        int mode; /* METS_DELIVERY_* */
        int commit_interval_ms;
        char *instance_id; /* NULL: not set */
    } delivery;
    struct {
        int workers, batch_windows;
    } pipeline;
    struct {
        char *ecg, *text, *labels; /* resolved against the config file's folder */
    } models;
    struct {
        double length_s, hop_s, max_gap_s, lookahead_s;
        int max_reorder_frames;
    } window;
    struct {
        int max_streams;
        double idle_timeout_s, signal_loss_s;
    } streams;
    struct {
        mets_alert_policy default_policy;
        mets_policy_list labels;
        char *artefact_label; /* "group/label", or NULL for none */
        double artefact_probability;
    } alerts;
    struct {
        bool enabled;
        char *listen; /* host:port */
    } metrics;
    struct {
        double broker_timeout_s, commit_timeout_s;
    } health;
    struct {
        int level; /* METS_LOG_* */
    } log;
} mets_config;

/* The configuration of `mets pcd`, the Alert Reporter (alerting/pcd.h), from YAML (conf/pcd.yaml): loaded,
 * checked and documented by the same key-table machinery as metsd's (docs/config.md, "mets pcd"). */
typedef struct mets_pcd_config {
    char *file;
    mets_config_mark *marks;
    struct {
        char *bootstrap_servers, *group_id, *topic;
        mets_kv_list properties, property_files; /* as metsd's */
    } kafka;
    struct {
        char *address; /* host:port of the MLLP listener */
        double connect_timeout_s, ack_timeout_s, retry_min_s, retry_max_s;
    } manager;
    struct {
        char *sending_application, *sending_facility, *receiving_application, *receiving_facility;
        char *point_of_care;
        int processing_id;  /* index into P, T, D */
        mets_kv_list events; /* "group/label" -> "code^name^coding system^text", checked when loaded */
    } hl7;
    struct {
        bool enabled;
        char *listen;
    } metrics;
    struct {
        double ack_timeout_s;
    } health;
    struct {
        int level; /* METS_LOG_* */
    } log;
} mets_pcd_config;

int mets_pcd_config_load(const char *path, mets_pcd_config *cfg, mets_err *err);
int mets_pcd_config_parse(const char *text, size_t len, const char *name, mets_pcd_config *cfg, mets_err *err);
void mets_pcd_config_free(mets_pcd_config *cfg);

/* A librdkafka configuration from a loaded file's Kafka keys: bootstrap.servers, then `defaults`, then the
 * user's properties and property files (which may change the defaults), then `own`, which the loader keeps
 * the user from setting. `defaults` and `own` are {NAME, VALUE} pairs up to a NULL name, or NULL. NULL
 * with librdkafka's reason in errstr. */
rd_kafka_conf_t *mets_config_kafka(const char *bootstrap, const char *const defaults[][2], const mets_kv_list *properties,
                                   const mets_kv_list *property_files, const char *const own[][2], char *errstr,
                                   size_t size);

/* Loads and validates the file; on failure `cfg` holds nothing to free. */
int mets_config_load(const char *path, mets_config *cfg, mets_err *err);
/* The same from text; `name` is the file name used in messages and to resolve relative paths.
 * What the fuzzer drives. */
int mets_config_parse(const char *text, size_t len, const char *name, mets_config *cfg, mets_err *err);
void mets_config_free(mets_config *cfg);

/* Checks what the config refers to: each model file is the model its key names (by its metadata, without
 * reading the weights), the labels file loads, and every per-label alert policy and the artefact label
 * name a label of it. Errors start with file:line:column of the key in the config. Separate from loading
 * so that --check-config can say which of the two failed, and tests can load configs whose files do not
 * exist. */
int mets_config_check_files(const mets_config *cfg, mets_err *err);

/* Fills err with code and "file:line:column: name: " + the message, the place where key `name` is set in the
 * file (1:1 when it is not), and returns code: for what is checked after loading. */
int mets_config_fail(const mets_config *cfg, const char *name, int code, mets_err *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* The first key that differs between the running and the reloaded configuration and that a reload cannot
 * apply (docs/config.md: "restart"), or NULL when a reload can apply every difference. The caller makes the
 * same command-line overrides in both first. */
const char *mets_config_restart_key(const mets_config *running, const mets_config *next);

/* The alert policy of group/label: its own, or alerts.default. */
const mets_alert_policy *mets_config_policy(const mets_config *cfg, const char *group, const char *label);

/* The index in l of alerts.artefact_label: -1 when it is absent, METS_ENOTFOUND (< -1) with a message when
 * l has no such label. */
struct mets_labels;
int mets_config_artefact_label(const mets_config *cfg, const struct mets_labels *l, mets_err *err);

/* Writes the reference of every key (Markdown; docs/config.md is this output). */
void mets_config_reference(FILE *f);

/* mets_config_load and mets_config_check_files: all that `mets check-config` checks. */
int mets_config_check(const char *path, mets_err *err);

/* `metsd --check-config` / `mets check-config`: mets_config_check, printing "config OK" to stdout or the
 * error to stderr; returns the exit status (0 or 1). */
int mets_config_check_main(const char *path);

#endif
