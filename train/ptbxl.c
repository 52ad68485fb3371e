#include "ptbxl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "csv.h"
#include "dataset.h"
#include "preprocess.h"

#define MAX_SAMPLES_IN 100000

const char *const mets_ptbxl_super_names[METS_PTBXL_SUPER] = {"NORM", "MI", "STTC", "CD", "HYP"};
const char *const mets_ptbxl_rhythm_names[METS_PTBXL_RHYTHM] = {"SR",    "AFIB", "STACH", "SBRAD", "SARRH", "PACE",
                                                                "SVARR", "BIGU", "AFLT",  "SVTAC", "PSVT",  "TRIGU"};

int mets_ptbxl_parse_folds(const char *s, unsigned *folds)
{
    *folds = 0;
    while (*s) {
        char *end;
        long lo = strtol(s, &end, 10), hi = lo;
        if (end == s || lo < 1 || lo > 10)
            return -1;
        if (*end == '-') {
            s = end + 1;
            hi = strtol(s, &end, 10);
            if (end == s || hi < lo || hi > 10)
                return -1;
        }
        for (long f = lo; f <= hi; f++)
            *folds |= 1u << f;
        if (*end && *end != ',')
            return -1;
        s = *end ? end + 1 : end;
    }
    return *folds ? 0 : -1;
}

/* scp_statements.csv: statement code -> diagnostic superclass (or "" for non-diagnostic ones). */
typedef struct statements {
    int n;
    char (*code)[16];
    char (*superclass)[8];
} statements;

static int load_statements(const char *dir, statements *st, mets_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/ptbxl/scp_statements.csv", dir);
    mets_csv *csv = mets_csv_open(path, err);
    if (!csv)
        return err->code;
    int code = 0, cls = mets_csv_column(csv, "diagnostic_class"), rc;
    if (cls < 0) {
        mets_csv_close(csv);
        return mets_err_set(err, METS_EFORMAT, "%s: no diagnostic_class column", path);
    }
    while ((rc = mets_csv_next(csv, err)) == 1) {
        void *c = realloc(st->code, (st->n + 1) * sizeof *st->code), *s = realloc(st->superclass, (st->n + 1) * sizeof *st->superclass);
        if (c)
            st->code = c;
        if (s)
            st->superclass = s;
        if (!c || !s) {
            rc = mets_err_set(err, METS_ENOMEM, "%s: out of memory", path);
            break;
        }
        snprintf(st->code[st->n], sizeof st->code[0], "%s", mets_csv_field(csv, code));
        snprintf(st->superclass[st->n], sizeof st->superclass[0], "%s", mets_csv_field(csv, cls));
        st->n++;
    }
    mets_csv_close(csv);
    return rc < 0 ? rc : 0;
}

/* Marks the labels of one scp_codes dictionary, e.g. "{'NORM': 100.0, 'SR': 0.0}": the keys are its
 * only quoted strings. */
static void parse_scp_codes(const char *codes, const statements *st, uint8_t *super, uint8_t *rhythm)
{
    for (const char *p = strchr(codes, '\''), *q; p && (q = strchr(p + 1, '\'')); p = strchr(q + 1, '\'')) {
        size_t len = (size_t)(q - p - 1);
        for (int i = 0; i < METS_PTBXL_RHYTHM; i++)
            if (strlen(mets_ptbxl_rhythm_names[i]) == len && !strncmp(p + 1, mets_ptbxl_rhythm_names[i], len))
                rhythm[i] = 1;
        for (int s = 0; s < st->n; s++)
            if (strlen(st->code[s]) == len && !strncmp(p + 1, st->code[s], len))
                for (int i = 0; i < METS_PTBXL_SUPER; i++)
                    if (!strcmp(st->superclass[s], mets_ptbxl_super_names[i]))
                        super[i] = 1;
    }
}

/* Reads one record's leads, resampled to the model rate, and preprocesses its first window. */
static int load_window(const char *path, int rate_hz, int samples, float *out_leads, uint16_t *present,
                       float *scratch, mets_err *err)
{
    mets_dataset_leads l;
    int rc = mets_dataset_read_leads(path, rate_hz, -1, MAX_SAMPLES_IN, samples, &l, err);
    if (rc)
        return rc;
    mets_prep_window((const float *const *)l.lead, samples, rate_hz, scratch, scratch + (size_t)24 * samples);
    memcpy(out_leads, scratch, (size_t)12 * samples * sizeof *out_leads);
    *present = l.present;
    mets_dataset_leads_free(&l);
    return 0;
}

typedef struct columns {
    int id, fold, report, codes, file;
} columns;

static int grow_set(mets_ptbxl_set *set, int cap, int samples)
{
    mets_train_data *d = &set->data;
    void *p[6] = {realloc(d->leads, (size_t)cap * 12 * samples * sizeof(float)),
                  realloc(d->present, cap * sizeof *d->present), realloc(d->text, cap * sizeof *d->text),
                  realloc(set->ecg_id, cap * sizeof *set->ecg_id), realloc(set->super, (size_t)cap * METS_PTBXL_SUPER),
                  realloc(set->rhythm, (size_t)cap * METS_PTBXL_RHYTHM)};
    if (p[0]) d->leads = p[0];
    if (p[1]) d->present = p[1];
    if (p[2]) d->text = p[2];
    if (p[3]) set->ecg_id = p[3];
    if (p[4]) set->super = p[4];
    if (p[5]) set->rhythm = p[5];
    return (p[0] && p[1] && p[2] && p[3] && p[4] && p[5]) ? 0 : METS_ENOMEM;
}

/* Adds the record of the current CSV row to the set. */
static int add_row(mets_csv *csv, const columns *c, const char *dir, const statements *st,
                   const mets_report_translator *tr, int rate_hz, int samples, float *scratch, mets_textset *ti,
                   mets_ptbxl_set *set, mets_err *err)
{
    mets_train_data *d = &set->data;
    int i = d->n;
    char path[4096], text[4096];
    snprintf(path, sizeof path, "%s/ptbxl/%s", dir, mets_csv_field(csv, c->file));
    int rc = load_window(path, rate_hz, samples, d->leads + (size_t)i * 12 * samples, &d->present[i], scratch, err);
    if (rc == METS_ENOTFOUND) {
        set->missing++; /* a held-out or not-yet-shipped record */
        return 0;
    }
    if (rc)
        return rc;
    if ((rc = mets_report_translate(tr, mets_csv_field(csv, c->report), text, sizeof text, NULL)) < 0)
        return mets_err_set(err, rc, "%s: cannot translate the report of ecg_id %s", path, mets_csv_field(csv, c->id));
    if ((d->text[i] = mets_textset_intern(ti, text)) < 0)
        return mets_err_set(err, METS_ENOMEM, "out of memory for report texts");
    set->ecg_id[i] = atoi(mets_csv_field(csv, c->id));
    memset(set->super + (size_t)i * METS_PTBXL_SUPER, 0, METS_PTBXL_SUPER);
    memset(set->rhythm + (size_t)i * METS_PTBXL_RHYTHM, 0, METS_PTBXL_RHYTHM);
    parse_scp_codes(mets_csv_field(csv, c->codes), st, set->super + (size_t)i * METS_PTBXL_SUPER,
                    set->rhythm + (size_t)i * METS_PTBXL_RHYTHM);
    d->n++;
    return 0;
}

int mets_ptbxl_load(const char *dir, unsigned folds, int limit, int rate_hz, int samples,
                    const mets_report_translator *tr, mets_ptbxl_set *set, mets_err *err)
{
    memset(set, 0, sizeof *set);
    set->data.samples = samples;
    statements st = {0};
    char path[4096];
    snprintf(path, sizeof path, "%s/ptbxl/ptbxl_database.csv", dir);
    int rc = load_statements(dir, &st, err);
    mets_csv *csv = rc ? NULL : mets_csv_open(path, err);
    if (!rc && !csv)
        rc = err->code;
    columns c = {0};
    if (csv) {
        c = (columns){mets_csv_column(csv, "ecg_id"), mets_csv_column(csv, "strat_fold"), mets_csv_column(csv, "report"),
                      mets_csv_column(csv, "scp_codes"), mets_csv_column(csv, "filename_lr")};
        if (c.id < 0 || c.fold < 0 || c.report < 0 || c.codes < 0 || c.file < 0)
            rc = mets_err_set(err, METS_EFORMAT, "%s: missing one of the columns ecg_id, strat_fold, report, "
                              "scp_codes, filename_lr", path);
    }
    mets_textset ti = {0};
    float *scratch = malloc((size_t)27 * samples * sizeof *scratch); /* window [24, S] + filter work [3S] */
    int cap = 0, more = 0;
    while (!rc && (!limit || set->data.n < limit) && (more = mets_csv_next(csv, err)) == 1) {
        if (!((folds >> atoi(mets_csv_field(csv, c.fold))) & 1u))
            continue;
        if (set->data.n == cap && grow_set(set, cap = cap ? 2 * cap : 1024, samples))
            rc = mets_err_set(err, METS_ENOMEM, "out of memory for %d windows", cap);
        else
            rc = add_row(csv, &c, dir, &st, tr, rate_hz, samples, scratch, &ti, set, err);
    }
    if (!rc && more < 0)
        rc = more;
    set->texts = mets_textset_take(&ti, &set->data.ntexts);
    free(scratch), free(st.code), free(st.superclass);
    mets_csv_close(csv);
    if (rc)
        mets_ptbxl_free(set);
    return rc;
}

void mets_ptbxl_free(mets_ptbxl_set *set)
{
    for (int i = 0; i < set->data.ntexts; i++)
        free(set->texts[i]);
    free(set->texts), free(set->data.leads), free(set->data.present), free(set->data.text), free(set->data.text_emb);
    free(set->ecg_id), free(set->super), free(set->rhythm);
    memset(set, 0, sizeof *set);
}
