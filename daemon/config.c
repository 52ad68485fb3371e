#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <utf8proc.h>

#include "err.h"
#include "fileio.h"
#include "yamldoc.h"

#define MAX_FILE_BYTES (1 << 20)
#define MAX_ENTRIES 4096 /* properties or label policies: far above any real file, bounds hostile ones */

typedef enum {
    T_STRING,
    T_PATH,     /* a string; relative paths resolve against the config file's folder */
    T_ADDRESS,  /* host:port */
    T_BROKERS,  /* host:port[,host:port...], each optionally PROTOCOL:// (librdkafka's bootstrap.servers) */
    T_TOPIC,    /* a Kafka topic name */
    T_INT,
    T_DOUBLE,
    T_DURATION, /* stored as seconds */
    T_BOOL,
    T_ENUM,     /* stored as the index into choices */
    T_MAP,      /* string -> string, a mets_kv_list */
    T_FILEMAP,  /* string -> a file whose text is the value, a mets_kv_list of the values read */
    T_POLICY,   /* a mets_alert_policy, keys in policy_keys */
    T_POLICIES, /* group -> label -> policy, a mets_policy_list */
    T_CODES,    /* group/label -> code^name^coding system^text, a mets_kv_list (mets pcd's event codes) */
} key_type;

typedef struct key {
    const char *name; /* dotted path from the root of its table */
    key_type type;
    bool required;
    const char *def; /* the default as it would be written in the file (scalar types only) */
    double min, max; /* numbers and durations */
    const char *const *choices; /* enums, NULL-terminated */
    size_t offset;
    const char *doc;
    bool reload; /* a SIGHUP applies a change of it; any other key needs a restart (metsd refuses the reload) */
} key;

static const char *const delivery_modes[] = {"exactly_once", "at_least_once", NULL};
static const char *const log_levels[] = {"debug", "info", "notice", "warning", "error", NULL};
static const char *const priorities[] = {"low", "medium", "high", NULL};

#define CFG(field) offsetof(mets_config, field)
#define POL(field) offsetof(mets_alert_policy, field)

/* Grouped by section: the unknown-key message and the reference list them in this order. */
static const key config_keys[] = {
    {"kafka.bootstrap_servers", T_BROKERS, .required = true, .offset = CFG(kafka.bootstrap_servers),
     .doc = "Kafka brokers (librdkafka's bootstrap.servers), each host:port optionally PROTOCOL://"},
    {"kafka.group_id", T_STRING, .def = "metsd", .offset = CFG(kafka.group_id),
     .doc = "consumer group; metsd instances of one group share the frame partitions"},
    {"kafka.topics.frames", T_TOPIC, .def = "ecg.frames", .offset = CFG(kafka.topics.frames),
     .doc = "input: ECG frames from the bedside gateways"},
    {"kafka.topics.embeddings", T_TOPIC, .def = "ecg.embeddings", .offset = CFG(kafka.topics.embeddings),
     .doc = "output: one embedding and its label scores per window"},
    {"kafka.topics.alerts", T_TOPIC, .def = "ecg.alerts", .offset = CFG(kafka.topics.alerts),
     .doc = "output: alert raise, update and clear events"},
    {"kafka.topics.dead_letter", T_TOPIC, .def = "ecg.deadletter", .offset = CFG(kafka.topics.dead_letter),
     .doc = "output: frames that cannot be used, with the reason"},
    {"kafka.topics.state", T_TOPIC, .def = "metsd.state", .offset = CFG(kafka.topics.state),
     .doc = "compacted topic of per-stream state, restored on restart and rebalance"},
    {"kafka.properties", T_MAP, .offset = CFG(kafka.properties),
     .doc = "librdkafka settings (`security.protocol`, `ssl.*`, `sasl.*`, ...), each checked by librdkafka when "
            "the file is loaded; values are strings; `bootstrap.servers` and `group.id` have keys of their own"},
    {"kafka.property_files", T_FILEMAP, .offset = CFG(kafka.property_files),
     .doc = "librdkafka settings whose values are secrets kept in files (`sasl.password: "
            "/run/credentials/metsd@a.service/sasl-password`, from systemd's LoadCredential=): each file is read "
            "(a final newline dropped) when the configuration is loaded and its value is never printed; a "
            "relative path is relative to this file"},
    {"delivery.mode", T_ENUM, .def = "exactly_once", .choices = delivery_modes, .offset = CFG(delivery.mode),
     .doc = "exactly_once: outputs and input offsets commit in one Kafka transaction; at_least_once: "
            "outputs may repeat after a crash"},
    {"delivery.commit_interval_ms", T_INT, .def = "200", .min = 10, .max = 600000,
     .offset = CFG(delivery.commit_interval_ms),
     .doc = "how often outputs, state and input offsets are committed (one transaction each); alerts are "
            "visible to read_committed consumers only after it, so it adds to their latency"},
    {"delivery.instance_id", T_STRING, .offset = CFG(delivery.instance_id),
     .doc = "this process's name, stable across restarts and unique in the group; the transactional.id is "
            "group_id-instance_id (default: `metsd --instance`, $METS_INSTANCE, else the host name)"},
    {"pipeline.workers", T_INT, .def = "2", .min = 1, .max = 64, .offset = CFG(pipeline.workers),
     .doc = "encoder threads (each runs BLAS single-threaded); about one per core"},
    {"pipeline.batch_windows", T_INT, .def = "16", .min = 1, .max = 256, .offset = CFG(pipeline.batch_windows),
     .doc = "windows encoded together (larger batches run nearer the BLAS peak, smaller ones sooner)"},
    {"models.ecg", T_PATH, .required = true, .offset = CFG(models.ecg), .doc = "the ECG encoder (mets model file)"},
    {"models.text", T_PATH, .required = true, .offset = CFG(models.text),
     .doc = "the frozen language model that embeds the prompts (mets model file)"},
    {"models.labels", T_PATH, .required = true, .offset = CFG(models.labels),
     .doc = "label groups and their prompts (YAML, see models/labels.h)", .reload = true},
    {"window.length_s", T_DURATION, .def = "10s", .min = 1, .max = 60, .offset = CFG(window.length_s),
     .doc = "length of the windows the ECG model scores"},
    {"window.hop_s", T_DURATION, .def = "2s", .min = 0.1, .max = 60, .offset = CFG(window.hop_s),
     .doc = "time between the starts of consecutive windows; at most window.length_s"},
    {"window.max_gap_s", T_DURATION, .def = "2s", .min = 0, .max = 60, .offset = CFG(window.max_gap_s),
     .doc = "a longer gap in a stream restarts its window and raises a technical alert"},
    {"window.lookahead_s", T_DURATION, .def = "0s", .min = 0, .max = 2, .offset = CFG(window.lookahead_s),
     .doc = "signal past a window's end the resampler waits for: 0 releases a window as soon as its last "
            "sample is in, holding the input beyond it for the filter (scores change by 1e-4 on average); "
            "0.9s makes resampling exact for streams at 100 Hz or more, and delays every alert by 0.9 s"},
    {"window.max_reorder_frames", T_INT, .def = "8", .min = 0, .max = 1024, .offset = CFG(window.max_reorder_frames),
     .doc = "frames held back to put late ones in order; a frame later than that is dropped"},
    {"streams.max_streams", T_INT, .def = "1024", .min = 1, .max = 100000, .offset = CFG(streams.max_streams),
     .doc = "concurrent ECG streams (beds); frames of streams beyond it go to the dead-letter topic"},
    {"streams.idle_timeout_s", T_DURATION, .def = "5min", .min = 1, .max = 86400, .offset = CFG(streams.idle_timeout_s),
     .doc = "a stream without frames this long (by their Kafka timestamps, so skewed monitor clocks do not "
            "count) has its window state flushed and freed; its alert state stays"},
    {"streams.signal_loss_s", T_DURATION, .def = "10s", .min = 1, .max = 3600, .offset = CFG(streams.signal_loss_s),
     .doc = "a stream without frames this long raises the high-priority technical alert signal_lost and marks "
            "its clinical alerts stale; both clear with its next frame. Measured on the frames partition's "
            "clock: its newest Kafka timestamp, moved on by a clock record metsd writes into it every second "
            "while it has read it to its end and its leader answers (a backlog, a stalled metsd or a lost "
            "broker silence no bed; docs/delivery.md). Less than streams.idle_timeout_s"},
    {"alerts.default", T_POLICY, .offset = CFG(alerts.default_policy),
     .doc = "the policy of every label without its own (keys: see alert policy keys)", .reload = true},
    {"alerts.labels", T_POLICIES, .offset = CFG(alerts.labels),
     .doc = "per-label policies: group -> label -> policy; absent keys come from alerts.default", .reload = true},
    {"alerts.artefact_label", T_STRING, .offset = CFG(alerts.artefact_label),
     .doc = "`group/label` whose probability says the signal cannot be read (e.g. `rhythm/NOISE`, prompted "
            "\"noisy recording, lead artefact.\"): at or above alerts.artefact_probability a window raises the "
            "technical alert noisy_signal, which holds the stream's clinical alerts as a monitor suspends "
            "arrhythmia analysis during artefact; absent: none", .reload = true},
    {"alerts.artefact_probability", T_DOUBLE, .def = "0.5", .min = 0, .max = 1,
     .offset = CFG(alerts.artefact_probability), .doc = "see alerts.artefact_label", .reload = true},
    {"metrics.enabled", T_BOOL, .def = "true", .offset = CFG(metrics.enabled),
     .doc = "serve Prometheus /metrics and /healthz over HTTP"},
    {"metrics.listen", T_ADDRESS, .def = "127.0.0.1:9464", .offset = CFG(metrics.listen),
     .doc = "address of the metrics endpoint (port 0: any free port, logged at start)"},
    {"health.broker_timeout_s", T_DURATION, .def = "15s", .min = 1, .max = 3600,
     .offset = CFG(health.broker_timeout_s),
     .doc = "/healthz answers 503 (and the systemd watchdog is not pinged) once no Kafka broker has answered "
            "for this long"},
    {"health.commit_timeout_s", T_DURATION, .def = "30s", .min = 1, .max = 3600,
     .offset = CFG(health.commit_timeout_s),
     .doc = "/healthz answers 503 (and the watchdog is not pinged) once outputs have waited this long for a "
            "commit that succeeds"},
    {"log.level", T_ENUM, .def = "info", .choices = log_levels, .offset = CFG(log.level),
     .doc = "least severe message that is logged"},
};

static const key policy_keys[] = {
    {"enabled", T_BOOL, .def = "true", .offset = POL(enabled),
     .doc = "false: the label is scored (and competes in its group) but never raises an alert"},
    {"raise_k", T_INT, .def = "3", .min = 1, .max = 32, .offset = POL(raise_k),
     .doc = "raise when raise_k of the last raise_n windows score at least raise_probability"},
    {"raise_n", T_INT, .def = "4", .min = 1, .max = 32, .offset = POL(raise_n),
     .doc = "the window count of k-of-n; at least raise_k (at most 32: the history is a bit mask)"},
    {"raise_probability", T_DOUBLE, .def = "0.6", .min = 0, .max = 1, .offset = POL(raise_probability),
     .doc = "probability (softmax within the label's group) a window counts as positive from"},
    {"clear_m", T_INT, .def = "5", .min = 1, .max = 1000, .offset = POL(clear_m),
     .doc = "clear after clear_m consecutive windows below clear_probability"},
    {"clear_probability", T_DOUBLE, .def = "0.4", .min = 0, .max = 1, .offset = POL(clear_probability),
     .doc = "at most raise_probability: the gap between the two is the hysteresis"},
    {"min_duration_s", T_DURATION, .def = "0s", .min = 0, .max = 86400, .offset = POL(min_duration_s),
     .doc = "a raised alert is not cleared before it is this old"},
    {"realert_interval_s", T_DURATION, .def = "5min", .min = 0, .max = 86400, .offset = POL(realert_interval_s),
     .doc = "an alert still raised is sent again this often; 0 never"},
    {"priority", T_ENUM, .def = "medium", .choices = priorities, .offset = POL(priority),
     .doc = "alarm priority (IEC 60601-1-8) carried by the alert"},
};

static const char *const processing_ids[] = {"P", "T", "D", NULL};
#define PCD(field) offsetof(mets_pcd_config, field)

/* `mets pcd`, the Alert Reporter (alerting/pcd.h). */
static const key pcd_keys[] = {
    {"kafka.bootstrap_servers", T_BROKERS, .required = true, .offset = PCD(kafka.bootstrap_servers),
     .doc = "Kafka brokers (librdkafka's bootstrap.servers), each host:port optionally PROTOCOL://"},
    {"kafka.group_id", T_STRING, .def = "mets-pcd", .offset = PCD(kafka.group_id),
     .doc = "consumer group: its committed offsets say which alert events the alert manager has acknowledged"},
    {"kafka.topic", T_TOPIC, .def = "ecg.alerts", .offset = PCD(kafka.topic),
     .doc = "the alert topic metsd writes (read read_committed)"},
    {"kafka.properties", T_MAP, .offset = PCD(kafka.properties),
     .doc = "librdkafka settings, as metsd's kafka.properties"},
    {"kafka.property_files", T_FILEMAP, .offset = PCD(kafka.property_files),
     .doc = "librdkafka settings whose values are secrets kept in files, as metsd's kafka.property_files"},
    {"manager.address", T_ADDRESS, .required = true, .offset = PCD(manager.address),
     .doc = "host:port of the alert manager's MLLP listener"},
    {"manager.connect_timeout_s", T_DURATION, .def = "5s", .min = 0.1, .max = 300,
     .offset = PCD(manager.connect_timeout_s), .doc = "a connection not made by then is tried again"},
    {"manager.ack_timeout_s", T_DURATION, .def = "10s", .min = 0.1, .max = 300, .offset = PCD(manager.ack_timeout_s),
     .doc = "a message not acknowledged by then is sent again on a new connection"},
    {"manager.retry_min_s", T_DURATION, .def = "500ms", .min = 0.01, .max = 60, .offset = PCD(manager.retry_min_s),
     .doc = "the first wait before a message is sent again (a lost connection, a timeout or a negative "
            "acknowledgement); each failure doubles it"},
    {"manager.retry_max_s", T_DURATION, .def = "30s", .min = 0.01, .max = 3600, .offset = PCD(manager.retry_max_s),
     .doc = "the longest wait between tries; an alert event is tried until it is acknowledged"},
    {"hl7.sending_application", T_STRING, .def = "METS", .offset = PCD(hl7.sending_application),
     .doc = "MSH-3: this Alert Reporter"},
    {"hl7.sending_facility", T_STRING, .def = "METS", .offset = PCD(hl7.sending_facility),
     .doc = "MSH-4; also the assigning authority of the stream ids in PID-3"},
    {"hl7.receiving_application", T_STRING, .def = "ACM", .offset = PCD(hl7.receiving_application),
     .doc = "MSH-5: the alert manager"},
    {"hl7.receiving_facility", T_STRING, .def = "ACM", .offset = PCD(hl7.receiving_facility), .doc = "MSH-6"},
    {"hl7.point_of_care", T_STRING, .def = "WARD", .offset = PCD(hl7.point_of_care),
     .doc = "PV1-3.1, the unit of the beds; the stream id is the bed (PV1-3.3)"},
    {"hl7.processing_id", T_ENUM, .def = "P", .choices = processing_ids, .offset = PCD(hl7.processing_id),
     .doc = "MSH-11: P production, T training, D debugging"},
    {"hl7.events", T_CODES, .offset = PCD(hl7.events),
     .doc = "the event identification (OBX-5 of the alarm) of each label: `group/label: "
            "\"code^name^coding system^text\"`; these add to or replace the built-in table (docs/pcd.md)"},
    {"metrics.enabled", T_BOOL, .def = "true", .offset = PCD(metrics.enabled),
     .doc = "serve Prometheus /metrics and /healthz over HTTP"},
    {"metrics.listen", T_ADDRESS, .def = "127.0.0.1:9465", .offset = PCD(metrics.listen),
     .doc = "address of the metrics endpoint (port 0: any free port, logged at start)"},
    {"health.ack_timeout_s", T_DURATION, .def = "60s", .min = 1, .max = 86400, .offset = PCD(health.ack_timeout_s),
     .doc = "/healthz answers 503 (and the systemd watchdog is not pinged) once an alert event has waited this "
            "long for its acknowledgement"},
    {"log.level", T_ENUM, .def = "info", .choices = log_levels, .offset = PCD(log.level),
     .doc = "least severe message that is logged"},
};

#define NCONFIG (int)(sizeof config_keys / sizeof config_keys[0])
#define NPOLICY (int)(sizeof policy_keys / sizeof policy_keys[0])
#define NPCD (int)(sizeof pcd_keys / sizeof pcd_keys[0])

typedef struct table {
    const key *keys;
    int n;
} table;

static const table config_table = {config_keys, NCONFIG}, policy_table = {policy_keys, NPOLICY},
                   pcd_table = {pcd_keys, NPCD};

/* Where each key of a table was set in the file, for checks that involve several keys. */
typedef struct seen {
    bool set;
    yaml_mark_t at;
} seen;

typedef struct parse parse;

/* A configuration file of one program: the key table of its root, where its struct keeps the file name and
 * the marks, and the checks that involve several keys, made once every key is set. */
typedef struct schema {
    const table *root;
    size_t size, file_offset, marks_offset;
    int (*finish)(parse *p, const yaml_node_t *root); /* calls check_required where its messages want it */
} schema;

struct parse {
    yaml_document_t doc;
    const char *name;
    const schema *s;
    char *base; /* the struct being filled */
    mets_err *err;
    seen *where; /* parallel to s->root's keys */
    yaml_node_t **policy_bodies; /* parallel to cfg->alerts.labels, parsed once alerts.default is known */
    rd_kafka_conf_t *kafka;      /* where kafka.properties are tried, made at the first one */
};

static yaml_node_t *node(parse *p, int id)
{
    return yaml_document_get_node(&p->doc, id);
}

static int fail(parse *p, yaml_mark_t at, const char *what)
{
    return mets_yaml_fail(p->err, p->name, at, "%s", what);
}

static int out_of_memory(parse *p)
{
    return mets_err_set(p->err, METS_ENOMEM, "%s: out of memory", p->name);
}

static int key_index(const table *t, const char *name)
{
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->keys[i].name, name))
            return i;
    return -1;
}

static bool is_section(const table *t, const char *name)
{
    size_t len = strlen(name);
    for (int i = 0; i < t->n; i++)
        if (!strncmp(t->keys[i].name, name, len) && t->keys[i].name[len] == '.')
            return true;
    return false;
}

/* The names of the keys and sections directly under `prefix` ("" for the top), for messages. */
static void list_children(const table *t, const char *prefix, char *buf, size_t len)
{
    size_t plen = strlen(prefix), used = 0, lastlen = 0;
    const char *last = NULL;
    buf[0] = 0;
    for (int i = 0; i < t->n && used < len; i++) {
        const char *name = t->keys[i].name;
        if (plen && (strncmp(name, prefix, plen) || name[plen] != '.'))
            continue;
        const char *child = plen ? name + plen + 1 : name;
        size_t clen = strcspn(child, ".");
        if (last && clen == lastlen && !strncmp(child, last, clen))
            continue; /* the table is grouped by section, so a section's keys are consecutive */
        used += (size_t)snprintf(buf + used, len - used, "%s%.*s", used ? ", " : "", (int)clen, child);
        last = child, lastlen = clen;
    }
}

/* What a value of key k must look like: the same words in error messages and in the reference. */
static void describe(const key *k, char *buf, size_t len)
{
    switch (k->type) {
    case T_STRING: snprintf(buf, len, "a non-empty string"); break;
    case T_PATH: snprintf(buf, len, "a file path"); break;
    case T_ADDRESS: snprintf(buf, len, "host:port"); break;
    case T_BROKERS: snprintf(buf, len, "host:port[,host:port...]"); break;
    case T_TOPIC: snprintf(buf, len, "a topic name (1 to 249 of a-z A-Z 0-9 . _ -, not . or ..)"); break;
    case T_INT: snprintf(buf, len, "an integer in [%.10g, %.10g]", k->min, k->max); break;
    case T_DOUBLE: snprintf(buf, len, "a number in [%.10g, %.10g]", k->min, k->max); break;
    case T_DURATION: snprintf(buf, len, "a duration in [%.10gs, %.10gs]", k->min, k->max); break;
    case T_BOOL: snprintf(buf, len, "true or false"); break;
    case T_MAP: snprintf(buf, len, "a mapping of strings"); break;
    case T_FILEMAP: snprintf(buf, len, "a mapping of librdkafka property -> file path"); break;
    case T_POLICY: snprintf(buf, len, "an alert policy"); break;
    case T_POLICIES: snprintf(buf, len, "a mapping group -> label -> alert policy"); break;
    case T_CODES: snprintf(buf, len, "a mapping group/label -> code^name^coding system^text"); break;
    case T_ENUM: {
        size_t used = (size_t)snprintf(buf, len, "one of");
        for (int i = 0; k->choices[i] && used < len; i++)
            used += (size_t)snprintf(buf + used, len - used, "%s %s", i ? "," : "", k->choices[i]);
        break;
    }
    }
}

/* Decimal digits, optionally signed, without a leading zero (YAML 1.1 reads 010 as 8). */
static bool parse_int(const char *s, long *out)
{
    size_t sign = s[0] == '+' || s[0] == '-', digits = strspn(s + sign, "0123456789");
    if (!digits || s[sign + digits] || (s[sign] == '0' && digits > 1))
        return false;
    errno = 0;
    *out = strtol(s, NULL, 10);
    return errno != ERANGE;
}

/* A finite decimal number followed by `unit`. */
static bool parse_number(const char *s, const char *unit, double *out)
{
    size_t n = mets_yaml_decimal_len(s);
    if (!n || strcmp(s + n, unit))
        return false;
    *out = strtod(s, NULL);
    return isfinite(*out);
}

/* Seconds, bare or with a unit: 500ms, 10s, 2min, 1h. */
static bool parse_duration(const char *s, double *out)
{
    static const struct {
        const char *unit;
        double seconds;
    } units[] = {{"", 1}, {"s", 1}, {"ms", 1e-3}, {"min", 60}, {"h", 3600}};
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (parse_number(s, units[i].unit, out)) {
            *out *= units[i].seconds;
            return true;
        }
    return false;
}

/* Why host (len bytes) is not a host name, an IPv4 address or a bracketed IPv6 address, in why; false then.
 * Names are resolved when they are used: metsd may start before the DNS knows them. */
static bool valid_host(const char *host, size_t len, char *why, size_t wlen)
{
    char buf[256];
    unsigned char addr[sizeof(struct in6_addr)];
    const char *what = "a host name";
    bool ok = len < sizeof buf;
    if (ok && host[0] == '[') {
        what = "an IPv6 address";
        ok = len > 2 && host[len - 1] == ']' && snprintf(buf, sizeof buf, "%.*s", (int)len - 2, host + 1) &&
             inet_pton(AF_INET6, buf, addr) == 1;
    } else if (ok && strspn(host, "0123456789.") >= len) { /* digits and dots are meant as an IPv4 address */
        what = "an IPv4 address";
        ok = snprintf(buf, sizeof buf, "%.*s", (int)len, host) && inet_pton(AF_INET, buf, addr) == 1;
    } else {
        /* dot-separated labels of letters, digits, '-' and '_' (container names have them), none empty,
         * none starting or ending with '-' */
        for (size_t i = 0, n; ok && i <= len; i += n + 1) {
            n = 0;
            while (i + n < len && (isalnum((unsigned char)host[i + n]) || host[i + n] == '-' || host[i + n] == '_'))
                n++;
            ok = n > 0 && n <= 63 && host[i] != '-' && host[i + n - 1] != '-' && (i + n == len || host[i + n] == '.');
        }
    }
    if (!ok)
        snprintf(why, wlen, "'%.*s' is not %s", (int)(len < 100 ? len : 100), host, what);
    return ok;
}

/* host:port (s, len bytes), the port in [min_port, 65535]; an empty host only where `any_host` allows it
 * (":9464": every interface). Why not, in why. */
static bool valid_host_port(const char *s, size_t len, bool any_host, long min_port, char *why, size_t wlen)
{
    const char *colon = NULL, *close = s[0] == '[' ? memchr(s, ']', len) : NULL;
    for (size_t i = len; i > 0 && !colon; i--)
        colon = s[i - 1] == ':' ? s + i - 1 : NULL;
    int shown = (int)(len < 100 ? len : 100);
    if (!colon || (close && colon < close)) {
        snprintf(why, wlen, "'%.*s' has no port", shown, s);
        return false;
    }
    size_t hlen = (size_t)(colon - s), plen = len - hlen - 1;
    long port = -1;
    if (plen > 0 && plen <= 5 && strspn(colon + 1, "0123456789") >= plen)
        port = strtol(colon + 1, NULL, 10);
    if (port < min_port || port > 65535) {
        snprintf(why, wlen, "port '%.*s' of '%.*s' is not in [%ld, 65535]", (int)(plen < 20 ? plen : 20), colon + 1,
                 shown, s, min_port);
        return false;
    }
    if (hlen && s[0] != '[' && memchr(s, ':', hlen) && strspn(s, "0123456789abcdefABCDEF:.") >= hlen) {
        snprintf(why, wlen, "an IPv6 address takes brackets, as in [::1]:9092");
        return false;
    }
    if (!hlen && !any_host)
        snprintf(why, wlen, "'%.*s' has no host", shown, s);
    return hlen ? valid_host(s, hlen, why, wlen) : any_host;
}

/* librdkafka's bootstrap.servers: host:port entries, separated by commas, each optionally PROTOCOL://. */
static bool valid_brokers(const char *s, char *why, size_t wlen)
{
    static const char *const protocols[] = {"PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"};
    const size_t nprotocols = sizeof protocols / sizeof *protocols;
    for (const char *entry = s;; entry++) {
        entry += strspn(entry, " ");
        size_t len = strcspn(entry, ",");
        while (len && entry[len - 1] == ' ')
            len--;
        const char *sep = strstr(entry, "://");
        sep = sep && sep < entry + len ? sep : NULL;
        if (!len) {
            snprintf(why, wlen, "an empty entry");
            return false;
        }
        if (sep) {
            size_t i = 0, plen = (size_t)(sep - entry);
            while (i < nprotocols && (strlen(protocols[i]) != plen || strncasecmp(entry, protocols[i], plen)))
                i++;
            if (i == nprotocols) {
                snprintf(why, wlen, "unknown protocol '%.*s', expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
                         (int)(plen < 40 ? plen : 40), entry);
                return false;
            }
            len -= plen + 3, entry = sep + 3;
        }
        if (!valid_host_port(entry, len, false, 1, why, wlen))
            return false;
        entry += strcspn(entry, ",");
        if (!*entry)
            return true;
    }
}

/* Kafka's rule for topic names. */
static bool valid_topic(const char *s)
{
    size_t len = strlen(s);
    return len >= 1 && len <= 249 && strcmp(s, ".") && strcmp(s, "..") &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == len;
}

/* Kafka takes '.' and '_' in a topic name for one (their metric names collide). */
static bool same_topic(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (*a != *b && !((*a == '.' || *a == '_') && (*b == '.' || *b == '_')))
            return false;
    return *a == *b;
}

/* Why two topics must differ. */
static const char *topic_role(const key *a, const key *b)
{
    if (!strcmp(a->name, "kafka.topics.frames") || !strcmp(b->name, "kafka.topics.frames"))
        return "metsd would consume its own output";
    if (!strcmp(a->name, "kafka.topics.state") || !strcmp(b->name, "kafka.topics.state"))
        return "the state topic is compacted and keyed by stream, it holds state only";
    return "each output topic carries one kind of message";
}

static const char *topic_of(const parse *p, int i)
{
    return *(char *const *)(p->base + config_keys[i].offset);
}

/* Every topic its own, reported at the one set later in the file (a default is set nowhere). */
static int check_topics(parse *p)
{
    for (int i = 0; i < NCONFIG; i++)
        for (int j = i + 1; j < NCONFIG; j++) {
            if (config_keys[i].type != T_TOPIC || config_keys[j].type != T_TOPIC ||
                !same_topic(topic_of(p, i), topic_of(p, j)))
                continue;
            bool i_later = p->where[i].set && (!p->where[j].set || p->where[i].at.index > p->where[j].at.index);
            int at = i_later ? i : j, other = i_later ? j : i;
            const char *t = topic_of(p, at), *o = topic_of(p, other);
            const char *why = topic_role(&config_keys[i], &config_keys[j]);
            char msg[768];
            if (!strcmp(t, o))
                snprintf(msg, sizeof msg, "%s: '%s' is also the topic of %s: %s; expected a topic of its own",
                         config_keys[at].name, t, config_keys[other].name, why);
            else
                snprintf(msg, sizeof msg, "%s: '%s' collides with %s '%s' (Kafka takes '.' and '_' for one): %s",
                         config_keys[at].name, t, config_keys[other].name, o, why);
            return fail(p, p->where[at].at, msg);
        }
    return 0;
}

/* Where each key is set, kept for the checks made after loading (mets_config_check_files). */
static int keep_marks(parse *p)
{
    mets_config_mark *marks = calloc((size_t)p->s->root->n, sizeof *marks);
    if (!marks)
        return out_of_memory(p);
    *(mets_config_mark **)(p->base + p->s->marks_offset) = marks;
    for (int i = 0; i < p->s->root->n; i++)
        if (p->where[i].set)
            marks[i] = (mets_config_mark){p->where[i].at.line + 1, p->where[i].at.column + 1};
    return 0;
}

/* The first code point of s that does not show (a control, format, private-use or unassigned one, or a
 * line or paragraph separator: "metsd\n", U+FEFF, U+200B), or -1. */
static utf8proc_int32_t hidden_char(const char *s)
{
    utf8proc_int32_t cp = -1;
    for (const utf8proc_uint8_t *u = (const utf8proc_uint8_t *)s; *u; cp = -1) {
        utf8proc_ssize_t n = utf8proc_iterate(u, -1, &cp);
        if (n <= 0)
            return 0xfffd; /* not UTF-8: the YAML reader lets none through */
        utf8proc_category_t c = utf8proc_category(cp);
        if (c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CO ||
            c == UTF8PROC_CATEGORY_CN || c == UTF8PROC_CATEGORY_CS || c == UTF8PROC_CATEGORY_ZL ||
            c == UTF8PROC_CATEGORY_ZP)
            return cp;
        u += n;
    }
    return cp;
}

/* Why s is not a value of string key k, in why (when there is more to say than what k expects); false then. */
static bool valid_string(const key *k, const char *s, char *why, size_t wlen)
{
    size_t len = strlen(s);
    utf8proc_int32_t hidden = hidden_char(s);
    if (!len) /* what k expects says it all */
        return false;
    if (k->type == T_STRING && strspn(s, " \t\r\n") == len)
        snprintf(why, wlen, "only whitespace");
    else if (k->type == T_STRING && (isspace((unsigned char)s[0]) || isspace((unsigned char)s[len - 1])))
        snprintf(why, wlen, "leading or trailing whitespace");
    else if (hidden >= 0)
        snprintf(why, wlen, "%s character (U+%04X)",
                 utf8proc_category(hidden) == UTF8PROC_CATEGORY_CC ? "a control" : "an invisible", (unsigned)hidden);
    else if (k->type == T_ADDRESS)
        return valid_host_port(s, len, true, 0, why, wlen);
    else if (k->type == T_BROKERS)
        return valid_brokers(s, why, wlen);
    else
        return k->type != T_TOPIC || valid_topic(s);
    return false;
}

/* Relative paths mean relative to the config file, so that a config works from any working directory. */
static char *resolve(const char *file, const char *path)
{
    const char *slash = strrchr(file, '/');
    if (path[0] == '/' || !slash)
        return strdup(path);
    size_t len = (size_t)(slash - file) + 1 + strlen(path) + 1;
    char *out = malloc(len);
    if (out)
        snprintf(out, len, "%.*s/%s", (int)(slash - file), file, path);
    return out;
}

static int set_string(const char *file, const key *k, const char *s, char **field, char *why, size_t wlen)
{
    if (!valid_string(k, s, why, wlen))
        return METS_EFORMAT;
    char *copy = k->type == T_PATH ? resolve(file, s) : strdup(s);
    if (!copy)
        return METS_ENOMEM;
    free(*field);
    *field = copy;
    return 0;
}

static int set_enum(const key *k, const char *s, int *field)
{
    for (int i = 0; k->choices[i]; i++)
        if (!strcmp(k->choices[i], s)) {
            *field = i;
            return 0;
        }
    return METS_EFORMAT;
}

/* Sets a scalar key from its text: 0, METS_EFORMAT if the text is not a valid value (with the reason in why
 * where there is more to say than what the key expects), or METS_ENOMEM. */
static int set_scalar(const char *file, const key *k, const char *s, void *field, char *why, size_t wlen)
{
    long i;
    double d;
    switch (k->type) {
    case T_STRING:
    case T_PATH:
    case T_ADDRESS:
    case T_BROKERS:
    case T_TOPIC: return set_string(file, k, s, field, why, wlen);
    case T_ENUM: return set_enum(k, s, field);
    case T_INT:
        if (!parse_int(s, &i) || i < k->min || i > k->max)
            return METS_EFORMAT;
        *(int *)field = (int)i;
        return 0;
    case T_DOUBLE:
    case T_DURATION:
        if (!(k->type == T_DOUBLE ? parse_number(s, "", &d) : parse_duration(s, &d)) || d < k->min || d > k->max)
            return METS_EFORMAT;
        *(double *)field = d;
        return 0;
    case T_BOOL:
        if (strcmp(s, "true") && strcmp(s, "false"))
            return METS_EFORMAT;
        *(bool *)field = !strcmp(s, "true");
        return 0;
    default: return METS_EFORMAT; /* not a scalar type */
    }
}

static int apply_defaults(const table *t, char *base)
{
    char why[8];
    for (int i = 0; i < t->n; i++) {
        const key *k = &t->keys[i];
        int rc = k->type == T_POLICY ? apply_defaults(&policy_table, base + k->offset)
                 : k->def            ? set_scalar("", k, k->def, base + k->offset, why, sizeof why)
                                     : 0;
        METS_ASSERT(rc != METS_EFORMAT, "the default of %s in the key table is invalid: %s", k->name, why);
        if (rc)
            return rc;
    }
    return 0;
}

static bool duplicate_key(parse *p, const yaml_node_t *map, const yaml_node_pair_t *kv, const char *name)
{
    for (const yaml_node_pair_t *o = map->data.mapping.pairs.start; o < kv; o++) {
        const char *other = mets_yaml_scalar(node(p, o->key));
        if (other && !strcmp(other, name))
            return true;
    }
    return false;
}

/* The name of a mapping's key, which must be a non-empty string not used before in the same mapping
 * (libyaml keeps duplicates, and silently taking one of them would hide a mistake). */
static int key_name(parse *p, const yaml_node_t *map, const yaml_node_pair_t *kv, const char *what,
                    const char **name)
{
    yaml_node_t *k = node(p, kv->key);
    char msg[400];
    *name = mets_yaml_scalar(k);
    if (!*name || !**name)
        snprintf(msg, sizeof msg, "expected a %s name: a non-empty string", what);
    else if (duplicate_key(p, map, kv, *name))
        snprintf(msg, sizeof msg, "duplicate %s '%.200s'", what, *name);
    else
        return 0;
    return fail(p, k->start_mark, msg);
}

static int expect_mapping(parse *p, const yaml_node_t *n, const char *path, const char *of)
{
    if (n->type == YAML_MAPPING_NODE && n->data.mapping.pairs.top - n->data.mapping.pairs.start <= MAX_ENTRIES)
        return 0;
    char msg[512];
    snprintf(msg, sizeof msg, "%.200s: expected a mapping of %s (at most %d)", path, of, MAX_ENTRIES);
    return fail(p, n->start_mark, msg);
}

static int npairs(const yaml_node_t *map)
{
    return (int)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
}

/* librdkafka properties metsd sets itself: a key of its own here (two places for one setting would be
 * ambiguous), or what its delivery guarantees rest on. */
static const char *const own_properties[][2] = {
    {"bootstrap.servers", "set kafka.bootstrap_servers instead"},
    {"metadata.broker.list", "set kafka.bootstrap_servers instead"}, /* librdkafka's alias of bootstrap.servers */
    {"group.id", "set kafka.group_id instead"},
    {"transactional.id", "set delivery.instance_id instead"},
    {"enable.auto.commit", "offsets are committed once what was read is delivered"},
    {"enable.auto.offset.store", "offsets are committed once what was read is delivered"},
    {"isolation.level", "the topics are read read_committed"},
    {"enable.idempotence", "metsd's producer is always idempotent"},
    {"partition.assignment.strategy",
     "metsd uses the eager range assignor: librdkafka 2.0.2's cooperative-sticky has known bugs"},
};

/* Reads the secret file `path` (relative to the configuration's folder) into *value: its text less one final
 * newline, non-empty, without NUL. */
static int read_secret(parse *p, const yaml_node_t *v, const char *name, const char *path, char **value)
{
    char msg[768], *file = resolve(p->name, path), *text = NULL;
    size_t len = 0;
    mets_err e = {0};
    if (!file)
        return out_of_memory(p);
    if ((text = mets_file_slurp(file, 65536, &len, &e))) {
        len -= len && text[len - 1] == '\n';
        len -= len && text[len - 1] == '\r';
        text[len] = 0;
    }
    if (!text)
        snprintf(msg, sizeof msg, "kafka.property_files.%.200s: %.500s", name, e.msg);
    else if (!len || strlen(text) != len)
        snprintf(msg, sizeof msg, "kafka.property_files.%.200s: %.300s holds %s, expected the value", name, file,
                 len ? "a NUL byte" : "nothing");
    free(file);
    if (text && len && strlen(text) == len) {
        *value = text;
        return 0;
    }
    free(text);
    return fail(p, v->start_mark, msg);
}

static int add_property(parse *p, const char *path, const yaml_node_t *map, const yaml_node_pair_t *kv,
                        mets_kv_list *list, bool from_file)
{
    const yaml_node_t *v = node(p, kv->value);
    const char *name, *value = mets_yaml_scalar(v);
    char msg[768], errstr[256], *secret = NULL;
    int rc = key_name(p, map, kv, "librdkafka property", &name);
    if (rc)
        return rc;
    for (size_t i = 0; i < sizeof own_properties / sizeof own_properties[0]; i++)
        if (!strcmp(name, own_properties[i][0])) {
            snprintf(msg, sizeof msg, "%s.%s: %s", path, name, own_properties[i][1]);
            return fail(p, node(p, kv->key)->start_mark, msg);
        }
    if (!value || mets_yaml_is_null(v)) {
        snprintf(msg, sizeof msg, "%s.%.200s: expected a string value, got %s", path, name,
                 value ? "null" : "a mapping or list");
        return fail(p, v->start_mark, msg);
    }
    /* One setting in one place: kafka.properties or kafka.property_files. */
    const table *t = p->s->root;
    const mets_kv_list *props = (void *)(p->base + t->keys[key_index(t, "kafka.properties")].offset);
    const mets_kv_list *files = (void *)(p->base + t->keys[key_index(t, "kafka.property_files")].offset);
    const mets_kv_list *other = list == props ? files : props;
    for (int i = 0; i < other->n; i++)
        if (!strcmp(other->items[i].key, name)) {
            snprintf(msg, sizeof msg, "%s.%.200s: also set in %s, expected it in one of the two", path, name,
                     from_file ? "kafka.properties" : "kafka.property_files");
            return fail(p, node(p, kv->key)->start_mark, msg);
        }
    /* What metsd would refuse at start, refused here, where the line is known. */
    if (!p->kafka && !(p->kafka = rd_kafka_conf_new()))
        return out_of_memory(p);
    /* a name librdkafka does not know is refused before its file is read (an empty value tells them apart:
     * unknown, or known and perhaps invalid; rd_kafka_conf_get hides sensitive properties) */
    if (from_file && rd_kafka_conf_set(p->kafka, name, "", errstr, sizeof errstr) == RD_KAFKA_CONF_UNKNOWN) {
        snprintf(msg, sizeof msg, "%.200s.%.200s: No such configuration property, expected a librdkafka property (its "
                 "CONFIGURATION.md)", path, name);
        return fail(p, node(p, kv->key)->start_mark, msg);
    }
    if (from_file && (rc = read_secret(p, v, name, value, &secret)))
        return rc;
    rd_kafka_conf_res_t res = rd_kafka_conf_set(p->kafka, name, from_file ? secret : value, errstr, sizeof errstr);
    if (res != RD_KAFKA_CONF_OK) {
        errstr[strcspn(errstr, "\n")] = 0;
        if (res == RD_KAFKA_CONF_UNKNOWN || !from_file)
            snprintf(msg, sizeof msg, "%.200s.%.200s: %s%s", path, name, errstr,
                     res == RD_KAFKA_CONF_UNKNOWN ? ", expected a librdkafka property (its CONFIGURATION.md)" : "");
        else /* librdkafka's message quotes the value: a secret's stays out of it */
            snprintf(msg, sizeof msg, "%.200s.%.200s: librdkafka refused the value read from %.300s", path, name,
                     value);
        rc = fail(p, (res == RD_KAFKA_CONF_UNKNOWN ? node(p, kv->key) : v)->start_mark, msg);
    }
    if (rc) {
        if (secret)
            explicit_bzero(secret, strlen(secret));
        free(secret);
        return rc;
    }
    mets_kv *e = &list->items[list->n++];
    e->key = strdup(name), e->value = from_file ? secret : strdup(value);
    return e->key && e->value ? 0 : out_of_memory(p);
}

static int set_map(parse *p, const char *path, yaml_node_t *map, mets_kv_list *list, bool from_file)
{
    int rc = expect_mapping(p, map, path, from_file ? "librdkafka property -> file" : "librdkafka properties");
    if (!rc && !(list->items = calloc((size_t)npairs(map) + 1, sizeof *list->items)))
        rc = out_of_memory(p);
    for (yaml_node_pair_t *kv = map->data.mapping.pairs.start; !rc && kv < map->data.mapping.pairs.top; kv++)
        rc = add_property(p, path, map, kv, list, from_file);
    return rc;
}

/* Records group/label and where its body is; the bodies are parsed once alerts.default is complete, since
 * they inherit from it wherever it stands in the file. */
static int add_policies(parse *p, yaml_node_t *groups, yaml_node_pair_t *g, mets_policy_list *list)
{
    const char *group, *label;
    yaml_node_t *labels = node(p, g->value);
    int rc = key_name(p, groups, g, "label group", &group);
    for (yaml_node_pair_t *l = labels->data.mapping.pairs.start; !rc && l < labels->data.mapping.pairs.top; l++) {
        if ((rc = key_name(p, labels, l, "label", &label)))
            break;
        yaml_node_t *body = node(p, l->value);
        mets_label_policy *lp = &list->items[list->n];
        *lp = (mets_label_policy){.group = strdup(group), .label = strdup(label),
                                  .line = body->start_mark.line + 1, .column = body->start_mark.column + 1};
        p->policy_bodies[list->n++] = body;
        if (!lp->group || !lp->label)
            rc = out_of_memory(p);
    }
    return rc;
}

static int set_policies(parse *p, const char *path, yaml_node_t *groups, mets_policy_list *list)
{
    int rc = expect_mapping(p, groups, path, "label groups"), n = 0;
    for (yaml_node_pair_t *g = groups->data.mapping.pairs.start; !rc && g < groups->data.mapping.pairs.top; g++) {
        rc = expect_mapping(p, node(p, g->value), path, "labels");
        n += rc ? 0 : npairs(node(p, g->value));
    }
    if (!rc && n > MAX_ENTRIES)
        rc = fail(p, groups->start_mark, "too many label policies");
    if (!rc && (!(list->items = calloc((size_t)n + 1, sizeof *list->items)) ||
                !(p->policy_bodies = calloc((size_t)n + 1, sizeof *p->policy_bodies))))
        rc = out_of_memory(p);
    for (yaml_node_pair_t *g = groups->data.mapping.pairs.start; !rc && g < groups->data.mapping.pairs.top; g++)
        rc = add_policies(p, groups, g, list);
    return rc;
}

/* An HL7 coded element of mets pcd's table: four non-empty parts joined by '^', none holding another HL7
 * delimiter or a control character, for a key group/label. */
static bool valid_code(const char *label, const char *v, char *why, size_t wlen)
{
    const char *slash = strchr(label, '/');
    int parts = 1;
    bool empty = !*v || *v == '^';
    for (const char *c = v; *c; c++) {
        parts += *c == '^';
        empty |= *c == '^' && (c[1] == '^' || !c[1]);
        if (strchr("|~\\&", *c) || iscntrl((unsigned char)*c)) {
            if (iscntrl((unsigned char)*c))
                snprintf(why, wlen, "'%.100s': a control character in its code", label);
            else
                snprintf(why, wlen, "'%.100s': '%c' is an HL7 delimiter, expected none in its code", label, *c);
            return false;
        }
    }
    if (!slash || slash == label || !slash[1] || strchr(slash + 1, '/'))
        snprintf(why, wlen, "'%.100s': expected a key group/label", label);
    else if (parts != 4 || empty)
        snprintf(why, wlen, "'%.100s': expected code^name^coding system^text, four non-empty parts, got '%.100s'",
                 label, v);
    else
        return true;
    return false;
}

static int set_codes(parse *p, const char *path, yaml_node_t *map, mets_kv_list *list)
{
    int rc = expect_mapping(p, map, path, "group/label -> code^name^coding system^text");
    if (!rc && !(list->items = calloc((size_t)npairs(map) + 1, sizeof *list->items)))
        rc = out_of_memory(p);
    for (yaml_node_pair_t *kv = map->data.mapping.pairs.start; !rc && kv < map->data.mapping.pairs.top; kv++) {
        const char *label, *v = mets_yaml_scalar(node(p, kv->value));
        char why[300], msg[512];
        if ((rc = key_name(p, map, kv, "label", &label)))
            break;
        if (!v || mets_yaml_is_null(node(p, kv->value)) || !valid_code(label, v, why, sizeof why)) {
            snprintf(msg, sizeof msg, "%.200s: %s", path, v && !mets_yaml_is_null(node(p, kv->value)) ? why
                     : "expected code^name^coding system^text, a string");
            return fail(p, node(p, kv->value)->start_mark, msg);
        }
        mets_kv *e = &list->items[list->n++];
        e->key = strdup(label), e->value = strdup(v);
        rc = e->key && e->value ? 0 : out_of_memory(p);
    }
    return rc;
}

static int walk(parse *p, const table *t, const char *path, const char *rel, yaml_node_t *map, char *base, seen *where);

static int set_value(parse *p, const char *path, const key *k, yaml_node_t *v, char *base)
{
    void *field = base + k->offset;
    switch (k->type) {
    case T_MAP:
    case T_FILEMAP: return set_map(p, path, v, field, k->type == T_FILEMAP);
    case T_POLICY: return walk(p, &policy_table, path, "", v, field, NULL);
    case T_POLICIES: return set_policies(p, path, v, field);
    case T_CODES: return set_codes(p, path, v, field);
    default: break;
    }
    /* Numbers and booleans are written plain and text where text belongs: "2" is a string, 2 a number. */
    bool typed = k->type == T_INT || k->type == T_DOUBLE || k->type == T_DURATION || k->type == T_BOOL;
    bool text = k->type == T_STRING || k->type == T_PATH || k->type == T_ADDRESS || k->type == T_BROKERS ||
                k->type == T_TOPIC;
    const char *s = mets_yaml_scalar(v), *kind = mets_yaml_plain_kind(v);
    char want[256], msg[1024], why[200] = "";
    int rc = !s || mets_yaml_is_null(v) || (text && kind) || (typed && mets_yaml_is_quoted(v))
                 ? METS_EFORMAT
                 : set_scalar(p->name, k, s, field, why, sizeof why);
    if (rc == METS_ENOMEM)
        return out_of_memory(p);
    if (!rc)
        return 0;
    describe(k, want, sizeof want);
    char got[96] = "";
    for (size_t i = 0, n = 0; s && s[i] && n + 5 < sizeof got && i < 80; i++) /* control characters escaped */
        n += (size_t)snprintf(got + n, sizeof got - n, iscntrl((unsigned char)s[i]) ? "\\x%02x" : "%c",
                              (unsigned char)s[i]);
    if (!s)
        snprintf(msg, sizeof msg, "%.200s: expected %.200s, got a mapping or list", path, want);
    else if (mets_yaml_is_null(v))
        snprintf(msg, sizeof msg, "%.200s: expected %.200s, got null ('%s')", path, want, s);
    else if (text && kind)
        snprintf(msg, sizeof msg, "%.200s: expected %.200s, got %s, '%s' (quote it if it is meant as text)", path,
                 want, kind, got);
    else if (typed && mets_yaml_is_quoted(v))
        snprintf(msg, sizeof msg, "%.200s: expected %.200s, got the quoted string '%s' (write it without quotes)",
                 path, want, got);
    else
        snprintf(msg, sizeof msg, "%.200s: expected %.200s, got '%s'%s%s%s", path, want, got, *why ? " (" : "", why,
                 *why ? ")" : "");
    return fail(p, v->start_mark, msg);
}

static int join(char *buf, size_t len, const char *a, const char *b)
{
    return snprintf(buf, len, "%s%s%s", a, *a ? "." : "", b) < (int)len ? 0 : -1;
}

/* Parses a mapping of keys of table t into base. `path` is where the mapping sits in the file ("" at the
 * top), `rel` the same relative to the table's root; `where`, if not NULL, records the keys set. */
static int walk(parse *p, const table *t, const char *path, const char *rel, yaml_node_t *map, char *base, seen *where)
{
    char want[400], msg[512], full[256], child[256];
    list_children(t, rel, want, sizeof want);
    if (map->type != YAML_MAPPING_NODE) {
        snprintf(msg, sizeof msg, "%.200s%sexpected a mapping with keys %.280s", path, *path ? ": " : "", want);
        return fail(p, map->start_mark, msg);
    }
    for (yaml_node_pair_t *kv = map->data.mapping.pairs.start; kv < map->data.mapping.pairs.top; kv++) {
        const char *name;
        yaml_node_t *v = node(p, kv->value);
        int rc = key_name(p, map, kv, "key", &name), i = -1;
        if (rc)
            return rc;
        if (join(full, sizeof full, path, name) || join(child, sizeof child, rel, name))
            return fail(p, node(p, kv->key)->start_mark, "key too long");
        if ((i = key_index(t, child)) >= 0 && where && where[i].set) { /* `a.b:` and `a: {b:}` both */
            snprintf(msg, sizeof msg, "key '%.200s' is set twice (also at line %zu)", full, where[i].at.line + 1);
            rc = fail(p, node(p, kv->key)->start_mark, msg);
        } else if (i >= 0) {
            if (where)
                where[i] = (seen){true, v->start_mark};
            rc = set_value(p, full, &t->keys[i], v, base);
        } else if (is_section(t, child)) {
            rc = walk(p, t, full, child, v, base, where);
        } else {
            snprintf(msg, sizeof msg, "unknown key '%.200s'; expected %.280s", full, want);
            rc = fail(p, node(p, kv->key)->start_mark, msg);
        }
        if (rc)
            return rc;
    }
    return 0;
}

static int check_policy(parse *p, const char *path, const mets_alert_policy *pol, yaml_mark_t at)
{
    char msg[512];
    if (pol->raise_k > pol->raise_n)
        snprintf(msg, sizeof msg, "%s: raise_k (%d) must not exceed raise_n (%d)", path, pol->raise_k, pol->raise_n);
    else if (pol->clear_probability > pol->raise_probability)
        snprintf(msg, sizeof msg, "%s: clear_probability (%g) must not exceed raise_probability (%g)", path,
                 pol->clear_probability, pol->raise_probability);
    else
        return 0;
    return fail(p, at, msg);
}

/* Each label's policy: alerts.default, overridden by the keys of its own body. */
static int finish_policies(parse *p)
{
    mets_config *cfg = (mets_config *)p->base;
    mets_policy_list *list = &cfg->alerts.labels;
    char path[512];
    for (int i = 0; i < list->n; i++) {
        mets_label_policy *lp = &list->items[i];
        snprintf(path, sizeof path, "alerts.labels.%.200s.%.200s", lp->group, lp->label);
        lp->policy = cfg->alerts.default_policy;
        int rc = walk(p, &policy_table, path, "", p->policy_bodies[i], (char *)&lp->policy, NULL);
        rc = rc ? rc : check_policy(p, path, &lp->policy, p->policy_bodies[i]->start_mark);
        if (rc)
            return rc;
    }
    return 0;
}

/* Durations that must be ordered: `less` below `more` (or equal, when `equal`). */
typedef struct order {
    const char *less, *more;
    bool equal;
} order;

/* Each pair of the n in its order, else an error reported where the first was set (or else the second: one
 * of them was). */
static int check_order(parse *p, const order *pairs, size_t n)
{
    const table *t = p->s->root;
    for (size_t i = 0; i < n; i++) {
        int a = key_index(t, pairs[i].less), b = key_index(t, pairs[i].more);
        double x = *(const double *)(p->base + t->keys[a].offset);
        double y = *(const double *)(p->base + t->keys[b].offset);
        if (x < y || (pairs[i].equal && x == y))
            continue;
        char msg[256];
        snprintf(msg, sizeof msg, "%s (%gs) must be %s %s (%gs)", pairs[i].less, x,
                 pairs[i].equal ? "at most" : "less than", pairs[i].more, y);
        return fail(p, p->where[p->where[a].set ? a : b].at, msg);
    }
    return 0;
}

static int check_required(parse *p, const yaml_node_t *root)
{
    const table *t = p->s->root;
    for (int i = 0; i < t->n; i++)
        if (t->keys[i].required && !p->where[i].set) {
            char msg[512];
            snprintf(msg, sizeof msg, "missing key '%s' (%s)", t->keys[i].name, t->keys[i].doc);
            return fail(p, root->start_mark, msg);
        }
    return 0;
}

/* metsd's checks of several keys. */
static int finish_metsd(parse *p, const yaml_node_t *root)
{
    const mets_config *cfg = (const mets_config *)p->base;
    int dflt = key_index(&config_table, "alerts.default");
    int rc = check_policy(p, "alerts.default", &cfg->alerts.default_policy, p->where[dflt].at);
    rc = rc ? rc : finish_policies(p);
    rc = rc ? rc : check_topics(p);
    rc = rc ? rc : check_required(p, root);
    static const order pairs[] = {{"window.hop_s", "window.length_s", true},
                                  {"streams.signal_loss_s", "streams.idle_timeout_s", false}};
    return rc ? rc : check_order(p, pairs, sizeof pairs / sizeof *pairs);
}

static int parse_root(parse *p)
{
    yaml_node_t *root = yaml_document_get_root_node(&p->doc);
    if (!root) {
        char want[400], msg[512];
        list_children(p->s->root, "", want, sizeof want);
        snprintf(msg, sizeof msg, "empty document, expected a mapping with keys %s", want);
        return fail(p, (yaml_mark_t){0}, msg);
    }
    int rc = walk(p, p->s->root, "", "", root, p->base, p->where);
    return rc ? rc : p->s->finish(p, root);
}

static void free_config(const schema *s, char *base);

static int parse_text(const schema *s, const char *text, size_t len, const char *name, void *out, mets_err *err)
{
    parse p = {.name = name, .s = s, .base = out, .err = err};
    char **file = (char **)(p.base + s->file_offset);
    memset(out, 0, s->size);
    int rc = apply_defaults(s->root, p.base);
    if (!rc && (!(*file = strdup(name)) || !(p.where = calloc((size_t)s->root->n, sizeof *p.where))))
        rc = METS_ENOMEM;
    if (rc)
        rc = out_of_memory(&p);
    else if (!(rc = mets_yaml_load(&p.doc, text, len, name, err))) {
        rc = parse_root(&p);
        rc = rc ? rc : keep_marks(&p);
        yaml_document_delete(&p.doc);
    }
    if (p.kafka)
        rd_kafka_conf_destroy(p.kafka);
    free(p.policy_bodies);
    free(p.where);
    if (rc)
        free_config(s, out);
    return rc;
}

static int load_file(const schema *s, const char *path, void *out, mets_err *err)
{
    size_t len;
    char *text = mets_file_slurp(path, MAX_FILE_BYTES, &len, err);
    int rc = text ? parse_text(s, text, len, path, out, err) : err ? err->code : METS_EIO;
    if (!text)
        memset(out, 0, s->size);
    free(text);
    return rc;
}

static const schema metsd_schema = {&config_table, sizeof(mets_config), offsetof(mets_config, file),
                                    offsetof(mets_config, marks), finish_metsd};

/* mets pcd's checks of several keys. */
static int finish_pcd(parse *p, const yaml_node_t *root)
{
    static const order pairs[] = {{"manager.retry_min_s", "manager.retry_max_s", true}};
    int rc = check_required(p, root);
    return rc ? rc : check_order(p, pairs, sizeof pairs / sizeof *pairs);
}

static const schema pcd_schema = {&pcd_table, sizeof(mets_pcd_config), offsetof(mets_pcd_config, file),
                                  offsetof(mets_pcd_config, marks), finish_pcd};

int mets_config_parse(const char *text, size_t len, const char *name, mets_config *cfg, mets_err *err)
{
    return parse_text(&metsd_schema, text, len, name, cfg, err);
}

int mets_config_load(const char *path, mets_config *cfg, mets_err *err)
{
    return load_file(&metsd_schema, path, cfg, err);
}

static void free_keys(const table *t, char *base)
{
    for (int i = 0; i < t->n; i++) {
        void *field = base + t->keys[i].offset;
        mets_kv_list *kv = field;
        mets_policy_list *pl = field;
        switch (t->keys[i].type) {
        case T_STRING:
        case T_PATH:
        case T_ADDRESS:
        case T_BROKERS:
        case T_TOPIC: free(*(char **)field); break;
        case T_MAP:
        case T_FILEMAP:
        case T_CODES:
            for (int j = 0; j < kv->n; j++) {
                if (t->keys[i].type == T_FILEMAP) /* a secret does not outlive its use */
                    explicit_bzero(kv->items[j].value, strlen(kv->items[j].value));
                free(kv->items[j].key), free(kv->items[j].value);
            }
            free(kv->items);
            break;
        case T_POLICIES:
            for (int j = 0; j < pl->n; j++)
                free(pl->items[j].group), free(pl->items[j].label);
            free(pl->items);
            break;
        default: break;
        }
    }
}

static void free_config(const schema *s, char *base)
{
    free_keys(s->root, base);
    free(*(char **)(base + s->file_offset));
    free(*(mets_config_mark **)(base + s->marks_offset));
    memset(base, 0, s->size);
}

void mets_config_free(mets_config *cfg)
{
    free_config(&metsd_schema, (char *)cfg);
}

int mets_pcd_config_parse(const char *text, size_t len, const char *name, mets_pcd_config *cfg, mets_err *err)
{
    return parse_text(&pcd_schema, text, len, name, cfg, err);
}

int mets_pcd_config_load(const char *path, mets_pcd_config *cfg, mets_err *err)
{
    return load_file(&pcd_schema, path, cfg, err);
}

void mets_pcd_config_free(mets_pcd_config *cfg)
{
    free_config(&pcd_schema, (char *)cfg);
}

static int vfail_at(const schema *s, const char *base, const char *name, int code, mets_err *err, const char *fmt,
                    va_list ap)
{
    int i = key_index(s->root, name);
    const mets_config_mark *marks = *(mets_config_mark *const *)(base + s->marks_offset);
    mets_config_mark at = marks && i >= 0 && marks[i].line ? marks[i] : (mets_config_mark){1, 1};
    char what[sizeof err->msg];
    vsnprintf(what, sizeof what, fmt, ap);
    return mets_err_set(err, code, "%s:%zu:%zu: %s: %s", *(char *const *)(base + s->file_offset), at.line,
                        at.column, name, what);
}

int mets_config_fail(const mets_config *cfg, const char *name, int code, mets_err *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vfail_at(&metsd_schema, (const char *)cfg, name, code, err, fmt, ap);
    va_end(ap);
    return rc;
}

rd_kafka_conf_t *mets_config_kafka(const char *bootstrap, const char *const defaults[][2], const mets_kv_list *properties,
                                   const mets_kv_list *property_files, const char *const own[][2], char *errstr,
                                   size_t size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    bool bad = rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, size) != RD_KAFKA_CONF_OK;
    for (int i = 0; !bad && defaults && defaults[i][0]; i++)
        bad = rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], errstr, size) != RD_KAFKA_CONF_OK;
    const mets_kv_list *user[] = {properties, property_files};
    for (int l = 0; l < 2; l++)
        for (int i = 0; !bad && i < user[l]->n; i++)
            bad = rd_kafka_conf_set(conf, user[l]->items[i].key, user[l]->items[i].value, errstr, size) !=
                  RD_KAFKA_CONF_OK;
    for (int i = 0; !bad && own && own[i][0]; i++)
        bad = rd_kafka_conf_set(conf, own[i][0], own[i][1], errstr, size) != RD_KAFKA_CONF_OK;
    if (!bad)
        return conf;
    rd_kafka_conf_destroy(conf);
    return NULL;
}

const mets_alert_policy *mets_config_policy(const mets_config *cfg, const char *group, const char *label)
{
    for (int i = 0; i < cfg->alerts.labels.n; i++) {
        const mets_label_policy *lp = &cfg->alerts.labels.items[i];
        if (!strcmp(lp->group, group) && !strcmp(lp->label, label))
            return &lp->policy;
    }
    return &cfg->alerts.default_policy;
}

static void reference_table(FILE *f, const table *t, bool reload_column)
{
    char want[256];
    fprintf(f, reload_column ? "| key | type | default | on SIGHUP | description |\n|---|---|---|---|---|\n"
                             : "| key | type | default | description |\n|---|---|---|---|\n");
    for (int i = 0; i < t->n; i++) {
        const key *k = &t->keys[i];
        describe(k, want, sizeof want);
        fprintf(f, "| `%s` | %s | %s%s%s |%s %s |\n", k->name, want, k->def ? "`" : "",
                k->required ? "required" : k->def ? k->def : "empty", k->def ? "`" : "",
                !reload_column ? "" : k->reload ? " applied |" : " restart |", k->doc);
    }
}

static bool same_str(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

static bool same_value(const key *k, const void *a, const void *b)
{
    switch (k->type) {
    case T_STRING: case T_PATH: case T_ADDRESS: case T_BROKERS: case T_TOPIC:
        return same_str(*(char *const *)a, *(char *const *)b);
    case T_INT: case T_ENUM: return *(const int *)a == *(const int *)b;
    case T_DOUBLE: case T_DURATION: return *(const double *)a == *(const double *)b;
    case T_BOOL: return *(const bool *)a == *(const bool *)b;
    case T_POLICY: return !memcmp(a, b, sizeof(mets_alert_policy));
    case T_MAP:
    case T_FILEMAP:
    case T_CODES: {
        const mets_kv_list *x = a, *y = b;
        for (int i = 0; x->n == y->n && i < x->n; i++)
            if (!same_str(x->items[i].key, y->items[i].key) || !same_str(x->items[i].value, y->items[i].value))
                return false;
        return x->n == y->n;
    }
    case T_POLICIES: {
        const mets_policy_list *x = a, *y = b;
        for (int i = 0; x->n == y->n && i < x->n; i++)
            if (!same_str(x->items[i].group, y->items[i].group) || !same_str(x->items[i].label, y->items[i].label) ||
                memcmp(&x->items[i].policy, &y->items[i].policy, sizeof(mets_alert_policy)))
                return false;
        return x->n == y->n;
    }
    }
    return false;
}

const char *mets_config_restart_key(const mets_config *running, const mets_config *next)
{
    for (int i = 0; i < NCONFIG; i++) {
        const key *k = &config_keys[i];
        if (!k->reload &&
            !same_value(k, (const char *)running + k->offset, (const char *)next + k->offset))
            return k->name;
    }
    return NULL;
}

void mets_config_reference(FILE *f)
{
    fputs("# metsd configuration reference\n\n"
          "<!-- Generated by `mets check-config --print-reference` from the key tables in daemon/config.c;\n"
          "     tests/test_config.c fails when the two differ. Edit the tables, then regenerate. -->\n\n"
          "The configuration is one YAML file, `conf/metsd.yaml` by default (the shipped, commented example).\n"
          "`metsd --check-config` or `mets check-config [FILE]` validates it and the files it names.\n\n"
          "- Unknown keys, duplicate keys, values of the wrong type or out of range and missing required keys\n"
          "  are errors that name `file:line:column` and what was expected.\n"
          "- Numbers, durations and `true`/`false` are written plain (`workers: \"2\"` is a string); a string key\n"
          "  takes no null (`~`), no whitespace-only value and no control character. The file is one YAML\n"
          "  document of UTF-8 text indented with spaces, without anchors, aliases or tags.\n"
          "- The topics are five different topics (Kafka takes `.` and `_` for one); each `kafka.properties`\n"
          "  entry must be accepted by librdkafka; `models.ecg` and `models.text` must be the ECG encoder and\n"
          "  the text model by their own metadata (`model.arch`).\n"
          "- `tests/fixtures/bad_config/` is a corpus of configurations that are refused, each with where\n"
          "  and why (its README says how to add one).\n"
          "- Relative paths resolve against the folder of the configuration file, not the working directory.\n"
          "- A duration is a number of seconds or a number with a unit: `500ms`, `10s`, `2min`, `1h`.\n"
          "- Absent keys take their default.\n"
          "- `kill -HUP` (or `systemctl reload`) re-reads the file: keys marked *applied* take effect at once; a\n"
          "  changed key marked *restart* makes metsd refuse the whole reload, name the key and keep running\n"
          "  as it was (`mets_reloads_total{result=\"failed\"}`): restart it to apply such a change.\n\n"
          "## Keys\n\n",
          f);
    reference_table(f, &config_table, true);
    fputs("\n## Alert policy keys\n\n"
          "An alert policy is a mapping of these keys, under `alerts.default` and under\n"
          "`alerts.labels.<group>.<label>` (group and label as in the labels file). A label's policy takes\n"
          "the keys it does not set from `alerts.default`, wherever that stands in the file.\n\n",
          f);
    reference_table(f, &policy_table, false);
    fputs("\n## mets pcd\n\n"
          "`mets pcd CONFIG` (the Alert Reporter of IHE PCD ACM, docs/pcd.md) reads a YAML file of its own,\n"
          "`conf/pcd.yaml` by default, by the same rules; `mets pcd --check-config CONFIG` validates it.\n\n",
          f);
    reference_table(f, &pcd_table, false);
}
