#include "labels.h"

#include <cblas.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "digest.h"
#include "fileio.h"
#include "ops.h"
#include "yamldoc.h"

#define MAX_ITEMS 4096 /* labels or prompts: far above any real set, bounds hostile files */
#define MAX_FILE_BYTES (1 << 24)

typedef struct parse {
    yaml_document_t doc;
    const char *name;
    mets_labels *l;
    mets_err *err;
} parse;

static int fail_at(parse *p, const yaml_node_t *n, const char *what)
{
    return mets_yaml_fail(p->err, p->name, n->start_mark, "%s", what);
}

static int push(void **array, int *count, size_t size)
{
    if (*count >= MAX_ITEMS)
        return METS_ENOMEM;
    void *grown = realloc(*array, (size_t)(*count + 1) * size);
    if (!grown)
        return METS_ENOMEM;
    *array = grown;
    (*count)++;
    return 0;
}

/* Whether s is only spaces, tabs and line breaks (or nothing). */
static bool blank(const char *s)
{
    return !s[strspn(s, " \t\r\n")];
}

/* A group or label name, or a prompt: a string with something in it. */
static int check_text(parse *p, const yaml_node_t *n, const char *what)
{
    const char *s = mets_yaml_scalar(n);
    if (!s || mets_yaml_is_null(n) || blank(s)) {
        char msg[256];
        snprintf(msg, sizeof msg, "expected %s: a non-empty string, got %s", what,
                 !s ? "a mapping or list" : mets_yaml_is_null(n) ? "null" : *s ? "only whitespace" : "''");
        return fail_at(p, n, msg);
    }
    return 0;
}

static int add_prompt(parse *p, const yaml_node_t *n)
{
    const char *s = mets_yaml_scalar(n);
    if (check_text(p, n, "a prompt"))
        return METS_EFORMAT;
    if (push((void **)&p->l->prompts, &p->l->nprompts, sizeof *p->l->prompts))
        return fail_at(p, n, "too many prompts");
    return (p->l->prompts[p->l->nprompts - 1] = strdup(s)) ? 0 : fail_at(p, n, "out of memory");
}

/* A label's body: { prompts: [..] } (a single string is accepted as one prompt). */
static int parse_label(parse *p, const yaml_node_t *body, mets_label *lab)
{
    if (body->type != YAML_MAPPING_NODE)
        return fail_at(p, body, "expected a mapping with 'prompts'");
    lab->first_prompt = p->l->nprompts;
    for (yaml_node_pair_t *kv = body->data.mapping.pairs.start; kv < body->data.mapping.pairs.top; kv++) {
        yaml_node_t *k = yaml_document_get_node(&p->doc, kv->key), *v = yaml_document_get_node(&p->doc, kv->value);
        if (!mets_yaml_scalar(k) || strcmp(mets_yaml_scalar(k), "prompts"))
            return fail_at(p, k, "unknown key: a label has only 'prompts'");
        if (kv > body->data.mapping.pairs.start) /* the first was 'prompts' too: merging them would hide one */
            return fail_at(p, k, "duplicate key 'prompts'");
        if (v->type == YAML_SCALAR_NODE) {
            if (add_prompt(p, v))
                return METS_EFORMAT;
        } else if (v->type == YAML_SEQUENCE_NODE) {
            for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++)
                if (add_prompt(p, yaml_document_get_node(&p->doc, *it)))
                    return METS_EFORMAT;
        } else {
            return fail_at(p, v, "expected a list of prompts");
        }
    }
    lab->nprompts = p->l->nprompts - lab->first_prompt;
    return lab->nprompts ? 0 : fail_at(p, body, "a label needs at least one prompt");
}

static int parse_group(parse *p, const yaml_node_t *key, const yaml_node_t *body)
{
    mets_labels *l = p->l;
    if (check_text(p, key, "a group name"))
        return METS_EFORMAT;
    if (strchr(mets_yaml_scalar(key), '/'))
        return fail_at(p, key, "a group name without '/': alerts.artefact_label names a label as group/label");
    if (body->type != YAML_MAPPING_NODE || body->data.mapping.pairs.top == body->data.mapping.pairs.start)
        return fail_at(p, body, "expected a mapping of labels");
    for (int g = 0; g < l->ngroups; g++)
        if (!strcmp(l->groups[g].name, mets_yaml_scalar(key)))
            return fail_at(p, key, "duplicate group name");
    if (push((void **)&l->groups, &l->ngroups, sizeof *l->groups))
        return fail_at(p, key, "too many groups");
    mets_label_group *grp = &l->groups[l->ngroups - 1];
    *grp = (mets_label_group){.name = strdup(mets_yaml_scalar(key)), .first_label = l->nlabels};
    for (yaml_node_pair_t *kv = body->data.mapping.pairs.start; kv < body->data.mapping.pairs.top; kv++) {
        yaml_node_t *k = yaml_document_get_node(&p->doc, kv->key), *v = yaml_document_get_node(&p->doc, kv->value);
        if (check_text(p, k, "a label name"))
            return METS_EFORMAT;
        if (mets_labels_find(l, grp->name, mets_yaml_scalar(k)) >= 0)
            return fail_at(p, k, "duplicate label in this group");
        if (push((void **)&l->labels, &l->nlabels, sizeof *l->labels))
            return fail_at(p, k, "too many labels");
        mets_label *lab = &l->labels[l->nlabels - 1];
        *lab = (mets_label){.group = grp->name, .name = strdup(mets_yaml_scalar(k)), .group_index = l->ngroups - 1};
        grp->nlabels++;
        if (!grp->name || !lab->name)
            return fail_at(p, k, "out of memory");
        if (parse_label(p, v, lab))
            return METS_EFORMAT;
    }
    if (grp->nlabels == 1) /* it would score 1.0 whatever the ECG, and raise on every bed */
        return fail_at(p, key, "a group with a single label: a softmax over one label is always 1.0, expected two "
                               "labels or more");
    return 0;
}

static int parse_root(parse *p)
{
    yaml_node_t *root = yaml_document_get_root_node(&p->doc);
    int version = 0, groups = 0;
    if (!root)
        return mets_yaml_fail(p->err, p->name, (yaml_mark_t){0}, "empty document, expected 'version' and 'groups'");
    if (root->type != YAML_MAPPING_NODE)
        return fail_at(p, root, "expected a mapping with 'version' and 'groups'");
    for (yaml_node_pair_t *kv = root->data.mapping.pairs.start; kv < root->data.mapping.pairs.top; kv++) {
        yaml_node_t *k = yaml_document_get_node(&p->doc, kv->key), *v = yaml_document_get_node(&p->doc, kv->value);
        const char *key = mets_yaml_scalar(k);
        if (key && ((!strcmp(key, "version") && version) || (!strcmp(key, "groups") && groups))) {
            char msg[64];
            snprintf(msg, sizeof msg, "duplicate key '%s'", key);
            return fail_at(p, k, msg);
        }
        if (key && !strcmp(key, "version")) {
            if (!mets_yaml_scalar(v) || strcmp(mets_yaml_scalar(v), "1"))
                return fail_at(p, v, "expected version: 1");
            if (mets_yaml_is_quoted(v))
                return fail_at(p, v, "expected version: 1, got the quoted string '1'");
            version = 1;
        } else if (key && !strcmp(key, "groups")) {
            if (v->type != YAML_MAPPING_NODE)
                return fail_at(p, v, "expected a mapping of label groups");
            if (v->data.mapping.pairs.top == v->data.mapping.pairs.start)
                return fail_at(p, v, "expected at least one label group");
            for (yaml_node_pair_t *g = v->data.mapping.pairs.start; g < v->data.mapping.pairs.top; g++)
                if (parse_group(p, yaml_document_get_node(&p->doc, g->key), yaml_document_get_node(&p->doc, g->value)))
                    return METS_EFORMAT;
            groups = 1;
        } else {
            return fail_at(p, k, "unknown key: expected 'version' or 'groups'");
        }
    }
    if (!version || !groups || p->l->nlabels == 0)
        return fail_at(p, root, "expected 'version: 1' and at least one group with a label");
    return 0;
}

mets_labels *mets_labels_parse(const char *text, size_t len, const char *name, mets_err *err)
{
    parse p = {.name = name, .err = err, .l = calloc(1, sizeof(mets_labels))};
    if (!p.l) {
        mets_err_set(err, METS_ENOMEM, "%s: out of memory", name);
        return NULL;
    }
    int rc = mets_yaml_load(&p.doc, text, len, name, err);
    if (!rc) {
        rc = parse_root(&p);
        yaml_document_delete(&p.doc);
    }
    if (rc) {
        mets_labels_free(p.l);
        return NULL;
    }
    return p.l;
}

mets_labels *mets_labels_load(const char *path, mets_err *err)
{
    size_t len;
    char *text = mets_file_slurp(path, MAX_FILE_BYTES, &len, err);
    mets_labels *l = text ? mets_labels_parse(text, len, path, err) : NULL;
    free(text);
    return l;
}

void mets_labels_free(mets_labels *l)
{
    if (!l)
        return;
    for (int i = 0; i < l->ngroups; i++)
        free((char *)l->groups[i].name);
    for (int i = 0; i < l->nlabels; i++)
        free((char *)l->labels[i].name);
    for (int i = 0; i < l->nprompts; i++)
        free((char *)l->prompts[i]);
    free(l->groups), free(l->labels), free(l->prompts);
    free(l);
}

int mets_labels_find(const mets_labels *l, const char *group, const char *name)
{
    for (int i = 0; i < l->nlabels; i++)
        if (!strcmp(l->labels[i].group, group) && !strcmp(l->labels[i].name, name))
            return i;
    return -1;
}

struct mets_promptbank {
    const mets_labels *labels;
    int dim;
    float *matrix; /* [nlabels, dim] */
};

int mets_labels_fingerprint(const mets_labels *l, char *out)
{
    mets_digest *d = mets_digest_new();
    if (!d)
        return METS_ENOMEM;
    for (int i = 0; i < l->nlabels; i++) {
        const mets_label *lab = &l->labels[i];
        mets_digest_add(d, lab->group, strlen(lab->group) + 1);
        mets_digest_add(d, lab->name, strlen(lab->name) + 1);
        for (int p = lab->first_prompt; p < lab->first_prompt + lab->nprompts; p++)
            mets_digest_add(d, l->prompts[p], strlen(l->prompts[p]) + 1);
        mets_digest_add(d, "", 1); /* the end of a label's prompts */
    }
    mets_digest_finish(d, out);
    return 0;
}

mets_promptbank *mets_promptbank_new(const mets_labels *l, const mets_textenc *te, const mets_ecgenc *enc,
                                     mets_err *err)
{
    int dim = mets_ecgenc_dim(enc);
    mets_promptbank *pb = calloc(1, sizeof *pb);
    float *text = malloc((size_t)l->nprompts * METS_TEXTENC_DIM * sizeof *text);
    float *proj = malloc((size_t)l->nprompts * dim * sizeof *proj);
    mets_textenc_ctx *ctx = mets_textenc_ctx_new(te, err);
    int rc = (pb && text && proj && ctx) ? 0 : mets_err_set(err, METS_ENOMEM, "prompt bank: out of memory");
    if (!rc && mets_ecgenc_get_arch(enc)->text_dim != METS_TEXTENC_DIM)
        rc = mets_err_set(err, METS_EFORMAT, "prompt bank: the ECG model's text head takes %d-d text, the language "
                          "model gives %d", mets_ecgenc_get_arch(enc)->text_dim, METS_TEXTENC_DIM);
    rc = rc ?: mets_textenc_embed(te, ctx, l->prompts, l->nprompts, text, err);
    if (!rc && !(pb->matrix = calloc((size_t)l->nlabels * dim, sizeof *pb->matrix)))
        rc = mets_err_set(err, METS_ENOMEM, "prompt bank: out of memory");
    if (!rc) {
        mets_ecgenc_embed_text(enc, text, l->nprompts, proj);
        for (int i = 0; i < l->nlabels; i++)
            for (int p = 0; p < l->labels[i].nprompts; p++)
                cblas_saxpy(dim, 1.0f, proj + (size_t)(l->labels[i].first_prompt + p) * dim, 1,
                            pb->matrix + (size_t)i * dim, 1);
        mets_l2_normalize(pb->matrix, l->nlabels, dim, NULL);
        pb->labels = l, pb->dim = dim;
    }
    mets_textenc_ctx_free(ctx);
    free(text), free(proj);
    if (rc) {
        mets_promptbank_free(pb);
        return NULL;
    }
    return pb;
}

void mets_promptbank_free(mets_promptbank *pb)
{
    if (!pb)
        return;
    free(pb->matrix);
    free(pb);
}

int mets_promptbank_nlabels(const mets_promptbank *pb)
{
    return pb->labels->nlabels;
}

const float *mets_promptbank_matrix(const mets_promptbank *pb)
{
    return pb->matrix;
}

void mets_promptbank_score(const mets_promptbank *pb, const float *emb, int n, float scale, float *cos, float *prob)
{
    const mets_labels *l = pb->labels;
    int L = l->nlabels;
    mets_linear_rows(emb, n, pb->dim, pb->matrix, NULL, L, cos);
    if (!prob)
        return;
    for (int i = 0; i < n; i++)
        for (int g = 0; g < l->ngroups; g++) {
            const mets_label_group *grp = &l->groups[g];
            float *row = prob + (size_t)i * L + grp->first_label;
            const float *c = cos + (size_t)i * L + grp->first_label;
            for (int k = 0; k < grp->nlabels; k++)
                row[k] = scale * c[k];
            mets_softmax(row, 1, grp->nlabels);
        }
}
