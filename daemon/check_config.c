/* What metsd --check-config runs: the config and everything it refers to, each error with its place. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "ecgenc.h"
#include "labels.h"
#include "mfile.h"
#include "textenc.h"

/* The model files a config names, each told by its own metadata (model.arch). */
static const struct {
    const char *key, *arch, *what;
    size_t offset;
} models[] = {
    {"models.ecg", METS_ECGENC_ARCH, "an ECG encoder", offsetof(mets_config, models.ecg)},
    {"models.text", METS_TEXTENC_ARCH, "a text model (MiniLM)", offsetof(mets_config, models.text)},
};
enum { NMODELS = sizeof models / sizeof *models };

/* That the file of models[m] is that model, read from its header and metadata only (fast: no weights, no
 * checksum; loading checks the rest). A swapped or foreign file is named for what it is. */
static int check_model(const mets_config *cfg, int m, mets_err *err)
{
    const char *path = *(char *const *)((const char *)cfg + models[m].offset), *arch = NULL;
    size_t len = 0;
    mets_mfile *mf = mets_mfile_open_meta(path, err);
    int rc = mf ? mets_mfile_get_str(mf, "model.arch", &arch, &len, err) : err->code;
    if (rc) {
        mets_mfile_free(mf);
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        return mets_config_fail(cfg, models[m].key, rc, err, "%s; expected %s, model.arch '%s'", why, models[m].what,
                                models[m].arch);
    }
    int other = 0;
    while (other < NMODELS && (strlen(models[other].arch) != len || memcmp(models[other].arch, arch, len)))
        other++;
    char is[128];
    if (other == NMODELS)
        snprintf(is, sizeof is, "a model of arch '%.*s'", (int)(len < 64 ? len : 64), arch);
    else
        snprintf(is, sizeof is, "%s, model.arch '%s'", models[other].what, models[other].arch);
    mets_mfile_free(mf);
    if (other == m)
        return 0;
    return mets_config_fail(cfg, models[m].key, METS_EFORMAT, err, "%s is %s; expected %s, model.arch '%s'", path,
                            is, models[m].what, models[m].arch);
}

/* Policies for labels that do not exist would silently never fire: most likely a typo. */
static int check_policy_labels(const mets_config *cfg, const mets_labels *l, mets_err *err)
{
    for (int i = 0; i < cfg->alerts.labels.n; i++) {
        const mets_label_policy *lp = &cfg->alerts.labels.items[i];
        if (mets_labels_find(l, lp->group, lp->label) < 0)
            return mets_err_set(err, METS_ENOTFOUND, "%s:%zu:%zu: alerts.labels.%s.%s: no label %s in group %s of %s",
                                cfg->file, lp->line, lp->column, lp->group, lp->label, lp->label, lp->group,
                                cfg->models.labels);
    }
    return 0;
}

int mets_config_artefact_label(const mets_config *cfg, const mets_labels *l, mets_err *err)
{
    const char *art = cfg->alerts.artefact_label, *slash = art ? strchr(art, '/') : NULL;
    if (!art)
        return -1;
    char group[256];
    int i = -1;
    if (slash && slash - art < (ptrdiff_t)sizeof group) {
        snprintf(group, sizeof group, "%.*s", (int)(slash - art), art);
        i = mets_labels_find(l, group, slash + 1);
    }
    if (i >= 0)
        return i;
    return mets_config_fail(cfg, "alerts.artefact_label", METS_ENOTFOUND, err, "%s is not a group/label of %s", art,
                            cfg->models.labels);
}

int mets_config_check_files(const mets_config *cfg, mets_err *err)
{
    int rc = 0;
    for (int m = 0; m < NMODELS && !rc; m++)
        rc = check_model(cfg, m, err);
    if (rc)
        return rc;
    mets_labels *l = mets_labels_load(cfg->models.labels, err);
    if (!l) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err->msg);
        return mets_config_fail(cfg, "models.labels", err->code, err, "%s", why);
    }
    rc = check_policy_labels(cfg, l, err);
    if (!rc && mets_config_artefact_label(cfg, l, err) < -1)
        rc = err->code;
    mets_labels_free(l);
    return rc;
}

int mets_config_check(const char *path, mets_err *err)
{
    mets_config cfg;
    int rc = mets_config_load(path, &cfg, err);
    if (!rc) {
        rc = mets_config_check_files(&cfg, err);
        mets_config_free(&cfg);
    }
    return rc;
}

int mets_config_check_main(const char *path)
{
    mets_err err;
    if (mets_config_check(path, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("%s: config OK\n", path);
    return 0;
}
