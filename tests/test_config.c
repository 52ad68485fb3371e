/* The metsd configuration (daemon/config.c): the shipped conf/metsd.yaml loads with its values, defaults
 * fill absent keys, each kind of mistake fails with file:line:column and what was expected, relative
 * paths follow the file, and docs/config.md is what the key table generates. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "fileio.h"
#include "harness.h"

/* The required keys, for texts that test something else. */
#define REQUIRED "kafka: {bootstrap_servers: 'b:9092'}\nmodels: {ecg: e.mets, text: t.mets, labels: l.yaml}\n"

static int parse(const char *yaml, const char *name, mets_config *cfg, mets_err *err)
{
    return mets_config_parse(yaml, strlen(yaml), name, cfg, err);
}

static void shipped_config_loads(void)
{
    mets_config c;
    mets_err err;
    CHECK(mets_config_load("conf/metsd.yaml", &c, &err) == 0, "%s", err.msg);
    CHECK(c.kafka.bootstrap_servers && !strcmp(c.kafka.bootstrap_servers, "127.0.0.1:9092"));
    CHECK(c.kafka.topics.frames && !strcmp(c.kafka.topics.frames, "ecg.frames"));
    CHECK(c.kafka.topics.dead_letter && !strcmp(c.kafka.topics.dead_letter, "ecg.deadletter"));
    CHECK(c.kafka.topics.state && !strcmp(c.kafka.topics.state, "metsd.state"));
    CHECK(c.kafka.properties.n == 1 && !strcmp(c.kafka.properties.items[0].key, "client.id"));
    CHECK(c.delivery.mode == METS_DELIVERY_EXACTLY_ONCE && c.delivery.commit_interval_ms == 200 && c.pipeline.workers == 2 && !c.delivery.instance_id);
    CHECK(c.models.ecg && !strcmp(c.models.ecg, "conf/../models/mets-ecg.mets"), "%s", c.models.ecg);
    CHECK(c.models.text && !strcmp(c.models.text, "conf/../models/all-minilm-l6-v2.mets"));
    CHECK(c.models.labels && !strcmp(c.models.labels, "conf/labels.yaml"));
    CHECK(c.window.length_s == 10 && c.window.hop_s == 2 && c.window.max_gap_s == 2);
    CHECK(c.alerts.labels.n == 5);
    CHECK(!mets_config_policy(&c, "rhythm", "SR")->enabled && mets_config_policy(&c, "rhythm", "AFIB")->enabled,
          "only the labels listed alert");
    const mets_alert_policy *afib = mets_config_policy(&c, "rhythm", "AFIB");
    const mets_alert_policy *vf = mets_config_policy(&c, "rhythm", "VF");
    CHECK(afib->raise_k == 4 && afib->raise_n == 5 && afib->clear_m == 3 && afib->raise_probability == 0.8,
          "the operating point of docs/alarms.md");
    CHECK(afib->priority == METS_PRIORITY_MEDIUM && afib->min_duration_s == 30 && afib->realert_interval_s == 900);
    CHECK(vf->raise_k == 6 && vf->raise_n == 8 && vf->raise_probability == 0.5 && vf->priority == METS_PRIORITY_HIGH);
    CHECK(vf->min_duration_s == 0 && vf->enabled, "inherited from alerts.default");
    CHECK(c.alerts.artefact_label && !strcmp(c.alerts.artefact_label, "rhythm/NOISE") &&
          c.alerts.artefact_probability == 0.7);
    CHECK(mets_config_policy(&c, "superclass", "MI") == &c.alerts.default_policy);
    CHECK(c.alerts.default_policy.priority == METS_PRIORITY_LOW && c.alerts.default_policy.clear_probability == 0.4);
    CHECK(c.metrics.enabled && c.metrics.listen && !strcmp(c.metrics.listen, "127.0.0.1:9464"));
    CHECK(c.log.level == METS_LOG_INFO);
    mets_config_free(&c);
}

static void defaults_fill_absent_keys(void)
{
    mets_config c;
    mets_err err;
    CHECK(parse(REQUIRED, "min.yaml", &c, &err) == 0, "%s", err.msg);
    CHECK(c.kafka.group_id && !strcmp(c.kafka.group_id, "metsd"));
    CHECK(c.kafka.topics.alerts && !strcmp(c.kafka.topics.alerts, "ecg.alerts"));
    CHECK(c.kafka.topics.embeddings && !strcmp(c.kafka.topics.embeddings, "ecg.embeddings"));
    CHECK(c.kafka.properties.n == 0 && c.alerts.labels.n == 0);
    CHECK(c.delivery.mode == METS_DELIVERY_EXACTLY_ONCE && c.delivery.commit_interval_ms == 200 && c.pipeline.workers == 2 && !c.delivery.instance_id);
    CHECK(c.window.length_s == 10 && c.window.hop_s == 2 && c.window.max_gap_s == 2);
    CHECK(c.window.max_reorder_frames == 8 && c.streams.max_streams == 1024);
    const mets_alert_policy *d = mets_config_policy(&c, "rhythm", "AFIB");
    CHECK(d == &c.alerts.default_policy);
    CHECK(d->raise_k == 3 && d->raise_n == 4 && d->raise_probability == 0.6 && d->clear_m == 5);
    CHECK(d->clear_probability == 0.4 && d->min_duration_s == 0 && d->realert_interval_s == 300);
    CHECK(d->priority == METS_PRIORITY_MEDIUM);
    CHECK(c.metrics.enabled && c.metrics.listen && !strcmp(c.metrics.listen, "127.0.0.1:9464"));
    CHECK(c.log.level == METS_LOG_INFO && !strcmp(c.file, "min.yaml"));
    mets_config_free(&c);
}

static void durations_take_units(void)
{
    mets_config c;
    mets_err err;
    CHECK(parse("window: {length_s: 2000ms, hop_s: 0.5, max_gap_s: 1s}\nalerts: {default: {realert_interval_s: 1h,"
                " min_duration_s: 2min}}\n" REQUIRED, "d.yaml", &c, &err) == 0, "%s", err.msg);
    CHECK_NEAR(c.window.length_s, 2.0, 1e-12);
    CHECK(c.window.hop_s == 0.5 && c.window.max_gap_s == 1);
    CHECK(c.alerts.default_policy.realert_interval_s == 3600 && c.alerts.default_policy.min_duration_s == 120);
    mets_config_free(&c);
}

static void expect_error(const char *yaml, const char *where, const char *what)
{
    mets_config c;
    mets_err err;
    int rc = parse(yaml, "bad.yaml", &c, &err);
    CHECK(rc == METS_EFORMAT, "accepted: %s", yaml);
    if (!rc)
        mets_config_free(&c);
    CHECK(!rc || (strstr(err.msg, where) && strstr(err.msg, what)), "message '%s' lacks '%s' / '%s'", err.msg, where,
          what);
}

/* The message a configuration is refused with. */
static const char *err_of(const char *yaml)
{
    static mets_err err;
    mets_config c;
    if (!parse(yaml, "bad.yaml", &c, &err))
        mets_config_free(&c);
    return err.msg;
}

static void unknown_keys_fail_and_name_the_expected_ones(void)
{
    expect_error("kafka:\n  bootstrap: x\n", "bad.yaml:2:3",
                 "unknown key 'kafka.bootstrap'; expected bootstrap_servers, group_id, topics, properties");
    expect_error("colour: red\n", "bad.yaml:1:1",
                 "expected kafka, delivery, pipeline, models, window, streams, alerts, metrics, health, log");
    expect_error("alerts:\n  labels:\n    rhythm:\n      VT: {raise: 2}\n", "bad.yaml:4:12",
                 "unknown key 'alerts.labels.rhythm.VT.raise'; expected enabled, raise_k, raise_n");
}

static void wrong_types_fail(void)
{
    expect_error("window:\n  length_s: [1]\n", "bad.yaml:2:13",
                 "window.length_s: expected a duration in [1s, 60s], got a mapping or list");
    expect_error("delivery:\n  commit_interval_ms: fast\n", "bad.yaml:2:23",
                 "expected an integer in [10, 600000], got 'fast'");
    expect_error("kafka: 3\n", "bad.yaml:1:8", "kafka: expected a mapping with keys bootstrap_servers, group_id");
    expect_error("metrics:\n  enabled: yes\n", "bad.yaml:2:12", "metrics.enabled: expected true or false, got 'yes'");
    expect_error("metrics:\n  listen: localhost\n", "bad.yaml:2:11", "expected host:port, got 'localhost'");
    expect_error("kafka:\n  group_id: ''\n", "bad.yaml:2:13", "expected a non-empty string");
    expect_error("window: {hop_s: 2 s}\n", "bad.yaml:1:17", "window.hop_s: expected a duration");
}

static void out_of_range_values_fail(void)
{
    expect_error("delivery:\n  commit_interval_ms: 5\n", "bad.yaml:2:23",
                 "expected an integer in [10, 600000], got '5'");
    expect_error("alerts:\n  default:\n    raise_probability: 1.5\n", "bad.yaml:3:24",
                 "alerts.default.raise_probability: expected a number in [0, 1], got '1.5'");
    expect_error("window: {length_s: 2min}\n", "bad.yaml:1:20", "expected a duration in [1s, 60s], got '2min'");
    expect_error("streams: {max_streams: 99999999999999999999}\n", "bad.yaml:1:24", "expected an integer");
}

static void bad_enums_fail(void)
{
    expect_error("delivery:\n  mode: twice\n", "bad.yaml:2:9",
                 "delivery.mode: expected one of exactly_once, at_least_once, got 'twice'");
    expect_error("log: {level: trace}\n", "bad.yaml:1:14", "expected one of debug, info, notice, warning, error");
}

static void duplicate_keys_fail(void)
{
    expect_error("log:\n  level: info\n  level: debug\n", "bad.yaml:3:3", "duplicate key 'level'");
    expect_error("log: {}\nlog: {}\n", "bad.yaml:2:1", "duplicate key 'log'");
    expect_error("kafka:\n  properties:\n    client.id: a\n    client.id: b\n", "bad.yaml:4:5",
                 "duplicate librdkafka property 'client.id'");
    expect_error("alerts:\n  labels:\n    rhythm: {VT: {}, VT: {}}\n", "bad.yaml:3:22", "duplicate label 'VT'");
    /* one key written dotted and nested: found by fuzz_config (it crashed for alerts.labels) */
    expect_error("window.hop_s: 1s\nwindow: {hop_s: 2s}\n", "bad.yaml:2:10",
                 "key 'window.hop_s' is set twice (also at line 1)");
    expect_error("alerts.labels: {g: {l: {}}}\nalerts: {labels: {}}\n", "bad.yaml:2:10",
                 "key 'alerts.labels' is set twice");
}

static void missing_keys_and_documents_fail(void)
{
    expect_error("kafka: {bootstrap_servers: 'b:1'}\n", "bad.yaml:1:1", "missing key 'models.ecg'");
    expect_error("", "bad.yaml", "empty document, expected a mapping with keys kafka, delivery");
    expect_error("kafka: [\n", "bad.yaml:2:1", "");
}

static void keys_checked_together_fail_where_set(void)
{
    expect_error("window:\n  hop_s: 12s\n" REQUIRED, "bad.yaml:2:10",
                 "window.hop_s (12s) must be at most window.length_s (10s)");
    expect_error("alerts:\n  default:\n    raise_k: 5\n" REQUIRED, "bad.yaml:3:5",
                 "alerts.default: raise_k (5) must not exceed raise_n (4)");
    /* inherits raise_probability 0.6 from the default, wherever that stands */
    expect_error("alerts:\n  labels:\n    rhythm:\n      VT: {clear_probability: 0.7}\n" REQUIRED, "bad.yaml:4:11",
                 "alerts.labels.rhythm.VT: clear_probability (0.7) must not exceed raise_probability (0.6)");
}

static void properties_are_strings_librdkafka_accepts(void)
{
    mets_config c;
    mets_err err;
    CHECK(parse("kafka:\n  bootstrap_servers: 'k1:9093,k2:9093'\n  properties:\n    security.protocol: SASL_SSL\n"
                "    ssl.ca.location: /etc/mets/ca.pem\n    sasl.mechanisms: SCRAM-SHA-512\n"
                "    socket.timeout.ms: 5000\n    linger.ms: 5\n"
                "models: {ecg: e.mets, text: t.mets, labels: l.yaml}\n", "p.yaml", &c, &err) == 0, "%s", err.msg);
    CHECK(c.kafka.properties.n == 5);
    if (c.kafka.properties.n == 5) {
        CHECK(!strcmp(c.kafka.properties.items[0].key, "security.protocol"));
        CHECK(!strcmp(c.kafka.properties.items[0].value, "SASL_SSL"));
        CHECK(!strcmp(c.kafka.properties.items[3].value, "5000") && !strcmp(c.kafka.properties.items[4].value, "5"));
    }
    mets_config_free(&c);
    expect_error("kafka:\n  properties:\n    ssl: {key: x}\n", "bad.yaml:3:10",
                 "kafka.properties.ssl: expected a string value");
    expect_error("kafka:\n  properties:\n    bootstrap.servers: x:1\n", "bad.yaml:3:5",
                 "set kafka.bootstrap_servers instead");
    expect_error("kafka:\n  properties:\n    partition.assignment.strategy: cooperative-sticky\n", "bad.yaml:3:5",
                 "cooperative-sticky has known bugs");
    expect_error("kafka:\n  properties:\n    isolation.level: read_uncommitted\n", "bad.yaml:3:5",
                 "read read_committed");
    expect_error("kafka:\n  properties: [a]\n", "bad.yaml:2:15", "expected a mapping of librdkafka properties");
    /* librdkafka's own verdict, at the name it does not know or the value it refuses */
    expect_error("kafka:\n  properties:\n    secruity.protocol: SSL\n", "bad.yaml:3:5",
                 "kafka.properties.secruity.protocol: No such configuration property");
    expect_error("kafka:\n  properties:\n    security.protocol: TLS\n", "bad.yaml:3:24",
                 "Invalid value \"TLS\" for configuration property \"security.protocol\"");
}

static void write_bytes(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(text, 1, len, f) == len);
    if (f)
        fclose(f);
}

/* kafka.property_files: a secret read from its file (systemd's LoadCredential=), a final newline dropped,
 * relative to the configuration; refused where it is written, never with the secret in the message. */
static void property_files_hold_secrets(void)
{
    const char *secret = mets_test_tmp_path("sasl-password"), *conf = mets_test_tmp_path("metsd.yaml");
    write_bytes(secret, "s3cr3t pass\n", 12);
    char yaml[1024];
    snprintf(yaml, sizeof yaml,
             "kafka:\n  bootstrap_servers: 'k1:9093'\n  properties:\n    sasl.username: mets\n"
             "  property_files:\n    sasl.password: sasl-password\n"
             "models: {ecg: e.mets, text: t.mets, labels: l.yaml}\n");
    mets_config c;
    mets_err err;
    CHECK(parse(yaml, conf, &c, &err) == 0, "%s", err.msg);
    CHECK(c.kafka.property_files.n == 1 && !strcmp(c.kafka.property_files.items[0].key, "sasl.password") &&
          !strcmp(c.kafka.property_files.items[0].value, "s3cr3t pass"), "read, the newline dropped");
    mets_config_free(&c);

    write_bytes(secret, "maybe\n", 6);
    snprintf(yaml, sizeof yaml, "kafka:\n  property_files:\n    enable.ssl.certificate.verification: %s\n", secret);
    expect_error(yaml, "bad.yaml:3:42", "librdkafka refused the value read from");
    CHECK(!strstr(err_of(yaml), "maybe"), "the secret is not in the message: %s", err_of(yaml));
    expect_error("kafka:\n  property_files:\n    sasl.password: /nonexistent/sasl\n", "bad.yaml:3:20",
                 "kafka.property_files.sasl.password: /nonexistent/sasl");
    write_bytes(secret, "\n", 1);
    snprintf(yaml, sizeof yaml, "kafka:\n  property_files:\n    sasl.password: %s\n", secret);
    expect_error(yaml, "bad.yaml:3:20", "holds nothing, expected the value");
    write_bytes(secret, "a\0b", 3);
    expect_error(yaml, "bad.yaml:3:20", "holds a NUL byte");
    const char *fifo = mets_test_tmp_path("fifo");
    CHECK(mkfifo(fifo, 0600) == 0);
    snprintf(yaml, sizeof yaml, "kafka:\n  property_files:\n    sasl.password: %s\n", fifo);
    expect_error(yaml, "bad.yaml:3:20", "not a regular file"); /* and no wait for a writer */
    write_bytes(secret, "x", 1);
    snprintf(yaml, sizeof yaml, "kafka:\n  properties: {sasl.password: y}\n  property_files:\n    sasl.password: %s\n",
             secret);
    expect_error(yaml, "bad.yaml:4:5", "also set in kafka.properties, expected it in one of the two");
    expect_error("kafka:\n  property_files:\n    group.id: /etc/g\n", "bad.yaml:3:5", "set kafka.group_id instead");
    expect_error("kafka:\n  property_files:\n    sasl.pasword: /etc/p\n", "bad.yaml:3:5", "No such configuration");
    expect_error("kafka:\n  property_files: [a]\n", "bad.yaml:2:19",
                 "expected a mapping of librdkafka property -> file");
}

static void relative_paths_follow_the_file(void)
{
    mets_config c;
    mets_err err;
    const char *yaml = "kafka: {bootstrap_servers: 'b:1'}\n"
                       "models: {ecg: e.mets, text: /abs/t.mets, labels: ../l.yaml}\n";
    CHECK(parse(yaml, "/etc/mets/metsd.yaml", &c, &err) == 0, "%s", err.msg);
    CHECK(c.models.ecg && !strcmp(c.models.ecg, "/etc/mets/e.mets"));
    CHECK(c.models.text && !strcmp(c.models.text, "/abs/t.mets"));
    CHECK(c.models.labels && !strcmp(c.models.labels, "/etc/mets/../l.yaml"));
    mets_config_free(&c);
    CHECK(parse(yaml, "metsd.yaml", &c, &err) == 0 && !strcmp(c.models.ecg, "e.mets"), "the working directory");
    mets_config_free(&c);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "%s", path);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int check_in(const char *dir, const char *yaml, mets_err *err)
{
    char path[256];
    mets_config c;
    snprintf(path, sizeof path, "%s/metsd.yaml", dir);
    write_file(path, yaml);
    int rc = mets_config_load(path, &c, err);
    CHECK(rc == 0, "%s", err->msg);
    rc = rc ? rc : mets_config_check_files(&c, err);
    mets_config_free(&c);
    unlink(path);
    return rc;
}

/* e.mets and t.mets in dir: the shipped models, by links. */
static void link_models(const char *dir, char *ecg, char *text)
{
    char real[4096];
    snprintf(ecg, 256, "%s/e.mets", dir);
    snprintf(text, 256, "%s/t.mets", dir);
    CHECK(realpath("models/mets-ecg.mets", real) && symlink(real, ecg) == 0, "%s", ecg);
    CHECK(realpath("models/all-minilm-l6-v2.mets", real) && symlink(real, text) == 0, "%s", text);
}

static void referenced_files_are_checked_separately(void)
{
    char dir[] = "/tmp/mets-test-config-XXXXXX", ecg[256], text[256], labels[4096];
    mets_err err;
    CHECK(mkdtemp(dir) != NULL);
    CHECK(realpath("conf/labels.yaml", labels) != NULL);
    link_models(dir, ecg, text);
    char yaml[8192];
    snprintf(yaml, sizeof yaml, "kafka: {bootstrap_servers: 'b:1'}\nmodels: {ecg: e.mets, text: t.mets, labels: %s}\n"
             "alerts:\n  labels:\n    rhythm:\n      AFIB: {}\n", labels);
    CHECK(check_in(dir, yaml, &err) == 0, "%s", err.msg);
    snprintf(yaml, sizeof yaml, "kafka: {bootstrap_servers: 'b:1'}\nmodels: {ecg: e.mets, text: t.mets, labels: %s}\n"
             "alerts:\n  labels:\n    rhythm:\n      AFBI: {}\n", labels);
    CHECK(check_in(dir, yaml, &err) == METS_ENOTFOUND);
    CHECK(strstr(err.msg, "/metsd.yaml:6:13: alerts.labels.rhythm.AFBI: no label AFBI in group rhythm"), "%s", err.msg);
    /* The artefact label must be a group/label of the labels file too. */
    snprintf(yaml, sizeof yaml, "kafka: {bootstrap_servers: 'b:1'}\nmodels: {ecg: e.mets, text: t.mets, labels: %s}\n"
             "alerts: {artefact_label: rhythm/NOISE}\n", labels);
    CHECK(check_in(dir, yaml, &err) == 0, "%s", err.msg);
    snprintf(yaml, sizeof yaml, "kafka: {bootstrap_servers: 'b:1'}\nmodels: {ecg: e.mets, text: t.mets, labels: %s}\n"
             "alerts: {artefact_label: NOISE}\n", labels);
    CHECK(check_in(dir, yaml, &err) == METS_ENOTFOUND);
    CHECK(strstr(err.msg, "/metsd.yaml:3:26: alerts.artefact_label: NOISE is not a group/label of"), "%s", err.msg);
    /* Each model file by its metadata: the two swapped, or one missing, is named at its key. */
    snprintf(yaml, sizeof yaml, "kafka: {bootstrap_servers: 'b:1'}\nmodels: {ecg: t.mets, text: e.mets, labels: %s}\n",
             labels);
    CHECK(check_in(dir, yaml, &err) == METS_EFORMAT);
    CHECK(strstr(err.msg, "/metsd.yaml:2:15: models.ecg: ") && strstr(err.msg, "t.mets is a text model (MiniLM)") &&
          strstr(err.msg, "expected an ECG encoder, model.arch 'mets-resnet1d'"), "%s", err.msg);
    unlink(text);
    CHECK(check_in(dir, REQUIRED, &err) != 0);
    CHECK(strstr(err.msg, ":2:29: models.text: ") && strstr(err.msg, "/t.mets") && strstr(err.msg, dir) &&
          strstr(err.msg, "No such file"), "%s", err.msg);
    unlink(ecg);
    rmdir(dir);
}

/* A reload applies prompts and alert policies; any other change takes a restart, named by its key. */
static void reload_names_the_keys_that_take_a_restart(void)
{
    static const char *const base = "kafka: {bootstrap_servers: 'b:1', group_id: g, properties: {client.id: m}}\n"
                                    "models: {ecg: e, text: t, labels: l}\n"
                                    "window: {hop_s: 2s}\npipeline: {workers: 2}\n"
                                    "alerts: {labels: {rhythm: {VF: {raise_k: 1}}}}\n";
    static const struct {
        const char *from, *to, *key; /* the change, and the key a reload must refuse (NULL: it applies it) */
    } cases[] = {
        {"group_id: g", "group_id: h", "kafka.group_id"},
        {"hop_s: 2s", "hop_s: 3s", "window.hop_s"},
        {"workers: 2", "workers: 3", "pipeline.workers"},
        {"client.id: m", "client.id: n", "kafka.properties"},
        {"ecg: e", "ecg: f", "models.ecg"},
        {"raise_k: 1", "raise_k: 2", NULL},
        {"labels: l", "labels: k", NULL},
        {"alerts: {", "alerts: {artefact_label: rhythm/NOISE, ", NULL},
    };
    mets_config a, b;
    mets_err err;
    CHECK(parse(base, "a.yaml", &a, &err) == 0, "%s", err.msg);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char changed[1024];
        const char *at = strstr(base, cases[i].from);
        snprintf(changed, sizeof changed, "%.*s%s%s", (int)(at - base), base, cases[i].to, at + strlen(cases[i].from));
        CHECK(parse(changed, "b.yaml", &b, &err) == 0, "%s", err.msg);
        const char *key = mets_config_restart_key(&a, &b);
        CHECK(cases[i].key ? key && !strcmp(key, cases[i].key) : key == NULL, "%s -> %s: %s", cases[i].from,
              cases[i].to, key ? key : "(applied)");
        mets_config_free(&b);
    }
    CHECK(mets_config_restart_key(&a, &a) == NULL, "no change");
    mets_config_free(&a);
}

static void reference_docs_are_in_sync(void)
{
    char *generated = NULL, *committed;
    size_t glen = 0, clen = 0;
    mets_err err;
    FILE *f = open_memstream(&generated, &glen);
    mets_config_reference(f);
    fclose(f);
    committed = mets_file_slurp("docs/config.md", 1 << 20, &clen, &err);
    CHECK(committed && clen == glen && !memcmp(committed, generated, glen),
          "docs/config.md differs from the key table: mets check-config --print-reference > docs/config.md");
    free(committed);
    free(generated);
}

int main(void)
{
    RUN(shipped_config_loads);
    RUN(defaults_fill_absent_keys);
    RUN(durations_take_units);
    RUN(unknown_keys_fail_and_name_the_expected_ones);
    RUN(wrong_types_fail);
    RUN(out_of_range_values_fail);
    RUN(bad_enums_fail);
    RUN(duplicate_keys_fail);
    RUN(missing_keys_and_documents_fail);
    RUN(keys_checked_together_fail_where_set);
    RUN(properties_are_strings_librdkafka_accepts);
    RUN(property_files_hold_secrets);
    RUN(relative_paths_follow_the_file);
    RUN(referenced_files_are_checked_separately);
    RUN(reload_names_the_keys_that_take_a_restart);
    RUN(reference_docs_are_in_sync);
    return mets_test_summary();
}
