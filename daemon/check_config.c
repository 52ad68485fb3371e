/* What metsd --check-config runs: the config and everything it refers to, each error with its place. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "labels.h"

static int readable(const char *key, const char *path, mets_err *err)
{
    if (access(path, R_OK) == 0)
        return 0;
    return mets_err_set(err, errno == ENOENT ? METS_ENOTFOUND : METS_EIO, "%s: %s: %s", key, path, strerror(errno));
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
    return mets_err_set(err, METS_ENOTFOUND, "%s: alerts.artefact_label: %s is not a group/label of %s", cfg->file, art,
                        cfg->models.labels);
}

int mets_config_check_files(const mets_config *cfg, mets_err *err)
{
    int rc = readable("models.ecg", cfg->models.ecg, err);
    rc = rc ? rc : readable("models.text", cfg->models.text, err);
    if (rc)
        return rc;
    mets_labels *l = mets_labels_load(cfg->models.labels, err);
    if (!l)
        return mets_err_prefix(err, "models.labels: ");
    rc = check_policy_labels(cfg, l, err);
    if (!rc && mets_config_artefact_label(cfg, l, err) < -1)
        rc = err->code;
    mets_labels_free(l);
    return rc;
}

int mets_config_check_main(const char *path)
{
    mets_config cfg;
    mets_err err;
    int rc = mets_config_load(path, &cfg, &err);
    if (!rc) {
        rc = mets_config_check_files(&cfg, &err);
        mets_config_free(&cfg);
    }
    if (rc) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    printf("%s: config OK\n", path);
    return 0;
}
