/* libFuzzer target for the config loader (daemon/config.c), as metsd's and as mets pcd's: any bytes must give
 * a valid config or a clear error, never a crash, a leak or undefined behaviour. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"

static int policy_ok(const mets_alert_policy *p)
{
    return p->raise_k <= p->raise_n && p->clear_probability <= p->raise_probability;
}

/* Relative paths resolve against the folder of the file, "conf/" here. */
static int resolved(const char *path)
{
    return path && (path[0] == '/' || !strncmp(path, "conf/", 5));
}

/* Each event code has four non-empty parts without another HL7 delimiter. */
static void check_pcd(const uint8_t *data, size_t size)
{
    mets_pcd_config c;
    mets_err err;
    if (mets_pcd_config_parse((const char *)data, size, "conf/fuzz.yaml", &c, &err))
        return;
    if (!c.manager.address || c.manager.retry_min_s > c.manager.retry_max_s)
        __builtin_trap();
    for (int i = 0; i < c.hl7.events.n; i++) {
        const char *v = c.hl7.events.items[i].value;
        int parts = 1;
        for (const char *p = v; *p; p++)
            parts += *p == '^';
        if (parts != 4 || strpbrk(v, "|~\\&") || !strchr(c.hl7.events.items[i].key, '/'))
            __builtin_trap();
    }
    mets_pcd_config_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mets_config c;
    mets_err err;
    check_pcd(data, size);
    if (mets_config_parse((const char *)data, size, "conf/fuzz.yaml", &c, &err))
        return 0;
    if (!c.kafka.bootstrap_servers || !resolved(c.models.ecg) || !resolved(c.models.text) ||
        !resolved(c.models.labels) || c.window.hop_s > c.window.length_s || !policy_ok(&c.alerts.default_policy))
        __builtin_trap(); /* an invariant of a loaded config is broken */
    const char *topics[] = {c.kafka.topics.frames, c.kafka.topics.embeddings, c.kafka.topics.alerts,
                            c.kafka.topics.dead_letter, c.kafka.topics.state};
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            if (!strcmp(topics[i], topics[j]))
                __builtin_trap(); /* metsd would consume its own output, or mix records in one topic */
    for (int i = 0; i < c.alerts.labels.n; i++) {
        const mets_label_policy *lp = &c.alerts.labels.items[i];
        if (!policy_ok(&lp->policy) || mets_config_policy(&c, lp->group, lp->label) == &c.alerts.default_policy)
            __builtin_trap();
    }
    mets_config_free(&c);
    return 0;
}
