/* mets eval: zero-shot evaluation of a trained ECG model on any data directory: PTB-XL macro AUC for the
 * diagnostic superclasses and the rhythm statements with all 12 leads, lead II alone and I+II+V1, next
 * to a linear probe on the frozen embeddings. With --streams instead: the MIT-BIH and VFDB records not
 * trained on, scored window by window into AF, VT and VF episodes the EC57 way, and the CinC 2017
 * records from A01501 on, with the challenge's F1 (eval/streameval.h). With --alarms: the alarms the
 * daemon itself raised on replayed records (eval/alarmeval.h; eval/alarms.sh runs the replay). */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alarmeval.h"
#include "cli.h"
#include "isotime.h"
#include "config.h"
#include "metrics.h"
#include "oppoint.h"
#include "probe.h"
#include "ptbxl.h"
#include "streameval.h"
#include "wfdb.h"
#include "zeroshot.h"

static const char usage_text[] =
    "usage: mets eval [options]\n"
    "  -d, --data DIR        data folder (default: $METS_DATA, else the repository's .cache/data)\n"
    "  -M, --model FILE      the trained ECG model (default models/mets-ecg.mets)\n"
    "      --folds F         PTB-XL folds to evaluate (default 9; the held-out test fold is 10)\n"
    "      --probe-folds F   folds the linear probe is fitted on (default 1-8; 'none' skips the probe)\n"
    "      --limit N         at most N records of each set (quick runs)\n"
    "      --labels FILE     label prompts (default conf/labels.yaml)\n"
    "  -m, --text-model FILE the converted language model\n"
    "      --json FILE       also write every number as JSON\n"
    "      --streams         evaluate on the streams instead of PTB-XL:\n"
    "      --stream-records L MIT-BIH/VFDB records, e.g. mitdb/201,vfdb/418 (default all in the data folder)\n"
    "      --exclude-records L records left out (default: the training split of train/streams.h; none)\n"
    "      --cinc-range R    CinC 2017 record numbers (default 1501-: those not trained on with --cinc)\n"
    "      --alarms FILE     score the alarms metsd raised instead (alert events as `mets tail` prints them,\n"
    "                        - for stdin; eval/alarms.sh replays the records through metsd and calls this):\n"
    "                        each stream is a record of the data folder named as the stream (mitdb/201),\n"
    "                        the records of --stream-records / --exclude-records and --nstdb\n"
    "      --list-records    print the records of --stream-records / --exclude-records in the data folder\n"
    "      --nstdb L         noise stress test records (default nstdb/118e24,...,nstdb/118e_6; none)\n"
    "      --operating-points FILE  choose each alarm's policy from the windows metsd scored on held-aside\n"
    "                        records (FILE: `mets tail --embeddings --vectors`, as eval/alarms.sh --out keeps):\n"
    "                        the daemon's alert stage under every candidate, scored as --alarms scores\n"
    "                        (eval/oppoint.h); prints the chosen points and the alerts section for metsd.yaml\n"
    "      --config FILE     base policies for --operating-points (default conf/metsd.yaml)\n"
    "      --curves FILE     every candidate's numbers as CSV (default /dev/null)\n"
    "      --report-records L  also score the chosen points on these records (e.g. the other half of a\n"
    "                        split, chosen on --stream-records), with the NSTDB records of --report-nstdb\n"
    "      --report-nstdb L  (default none)\n"
    "      --record-t0 TIME  UTC time of each record's start in the replay (default 2026-01-01T00:00:00Z)\n";

typedef struct task {
    const char *group;
    const char *const *names;
    int n;
} task;

static const task tasks[2] = {{"superclass", mets_ptbxl_super_names, METS_PTBXL_SUPER},
                              {"rhythm", mets_ptbxl_rhythm_names, METS_PTBXL_RHYTHM}};
static const struct {
    const char *name;
    uint16_t mask;
} lead_sets[3] = {{"12 leads", METS_LEADS_ALL}, {"II", METS_LEADS_II}, {"I+II+V1", METS_LEADS_I_II_V1}};

typedef struct results {
    double auc[3 + 1][2][METS_PTBXL_RHYTHM]; /* [lead set, or 3 = probe][task][class] */
    double macro[3 + 1][2];
    int probe;
} results;

static const uint8_t *task_labels(const mets_ptbxl_set *s, int t)
{
    return t == 0 ? s->super : s->rhythm;
}

static int zero_shot(const mets_ecgenc *enc, const mets_promptbank *pb, const mets_labels *l,
                     const mets_ptbxl_set *set, results *r, mets_err *err)
{
    float *prob = malloc((size_t)set->data.n * l->nlabels * sizeof *prob);
    int rc = prob ? 0 : mets_err_set(err, METS_ENOMEM, "out of memory");
    for (int ls = 0; ls < 3 && !rc; ls++) {
        rc = mets_zeroshot_scores(enc, pb, &set->data, lead_sets[ls].mask, NULL, prob, err);
        for (int t = 0; t < 2 && !rc; t++) {
            int missing;
            r->macro[ls][t] = mets_zeroshot_macro_auc(l, tasks[t].group, prob, set->data.n, task_labels(set, t),
                                                      tasks[t].names, tasks[t].n, r->auc[ls][t], &missing);
            if (missing >= 0)
                rc = mets_err_set(err, METS_EINVAL, "the labels file has no label %s in group %s",
                                  tasks[t].names[missing], tasks[t].group);
        }
    }
    free(prob);
    return rc;
}

/* Fits the probe on the embeddings of `fit` and scores `set` (12 leads). */
static int probe(const mets_ecgenc *enc, const mets_ptbxl_set *fit, const mets_ptbxl_set *set, results *r,
                 mets_err *err)
{
    int D = mets_ecgenc_dim(enc), rc = 0;
    float *xf = malloc((size_t)fit->data.n * D * sizeof *xf), *xs = malloc((size_t)set->data.n * D * sizeof *xs);
    float *s = malloc((size_t)set->data.n * METS_PTBXL_RHYTHM * sizeof *s);
    float *w = malloc((size_t)METS_PTBXL_RHYTHM * (D + 1) * sizeof *w), *col = malloc((size_t)set->data.n * sizeof *col);
    uint8_t *y = malloc((size_t)set->data.n);
    if (!xf || !xs || !s || !w || !col || !y)
        rc = mets_err_set(err, METS_ENOMEM, "probe: out of memory");
    rc = rc ?: mets_zeroshot_scores(enc, NULL, &fit->data, METS_LEADS_ALL, xf, NULL, err);
    rc = rc ?: mets_zeroshot_scores(enc, NULL, &set->data, METS_LEADS_ALL, xs, NULL, err);
    for (int t = 0; t < 2 && !rc; t++) {
        int c = tasks[t].n;
        double sum = 0;
        int counted = 0;
        mets_probe_fit(xf, task_labels(fit, t), fit->data.n, D, c, 1e-4f, 300, w);
        mets_probe_predict(w, xs, set->data.n, D, c, s);
        for (int k = 0; k < c; k++) {
            for (int i = 0; i < set->data.n; i++)
                col[i] = s[(size_t)i * c + k], y[i] = task_labels(set, t)[(size_t)i * c + k];
            r->auc[3][t][k] = mets_auc(col, y, set->data.n);
            if (!isnan(r->auc[3][t][k]))
                sum += r->auc[3][t][k], counted++;
        }
        r->macro[3][t] = counted ? sum / counted : NAN;
    }
    r->probe = !rc;
    free(xf), free(xs), free(s), free(w), free(col), free(y);
    return rc;
}

static void print_table(const results *r, const mets_ptbxl_set *set, const char *folds)
{
    printf("PTB-XL folds %s: %d records; zero-shot AUC (softmax over each group's prompts)\n", folds, set->data.n);
    printf("%-12s %8s %9s %9s %9s %9s\n", "class", "n", "12 leads", "II", "I+II+V1", r->probe ? "probe" : "");
    for (int t = 0; t < 2; t++) {
        for (int k = 0; k < tasks[t].n; k++) {
            int pos = 0;
            for (int i = 0; i < set->data.n; i++)
                pos += task_labels(set, t)[(size_t)i * tasks[t].n + k];
            printf("%-12s %8d", tasks[t].names[k], pos);
            for (int ls = 0; ls < 3 + r->probe; ls++)
                printf(" %9.3f", r->auc[ls][t][k]);
            printf("\n");
        }
        printf("%-12s %8s", tasks[t].group, "macro");
        for (int ls = 0; ls < 3 + r->probe; ls++)
            printf(" %9.3f", r->macro[ls][t]);
        printf("\n\n");
    }
}

static int write_json(const char *path, const results *r, const char *model, const char *folds, int n)
{
    json_t *root = json_pack("{s:s, s:s, s:i}", "model", model, "folds", folds, "records", n);
    static const char *const keys[4] = {"leads_12", "lead_II", "leads_I_II_V1", "probe_12"};
    for (int ls = 0; ls < 3 + r->probe; ls++) {
        json_t *o = json_object();
        for (int t = 0; t < 2; t++) {
            json_t *per = json_object();
            for (int k = 0; k < tasks[t].n; k++)
                json_object_set_new(per, tasks[t].names[k], isnan(r->auc[ls][t][k]) ? json_null() : json_real(r->auc[ls][t][k]));
            json_object_set_new(o, tasks[t].group, json_pack("{s:f, s:o}", "macro_auc", r->macro[ls][t], "auc", per));
        }
        json_object_set_new(root, keys[ls], o);
    }
    int rc = json_dump_file(root, path, JSON_INDENT(2) | JSON_REAL_PRECISION(4));
    json_decref(root);
    return rc;
}

#define NSTDB_RECORDS "nstdb/118e24,nstdb/118e18,nstdb/118e12,nstdb/118e06,nstdb/118e00,nstdb/118e_6"

typedef struct args {
    const char *data, *model, *folds, *probe_folds, *labels, *text_model, *json;
    const char *stream_records, *exclude_records, *cinc_range, *alarms, *nstdb, *record_t0, *op_points, *config,
        *curves, *report_records, *report_nstdb;
    int limit, streams, list_records;
} args;

static int parse_args(int argc, char **argv, args *a)
{
    static const struct option opts[] = {
        {"data", required_argument, NULL, 'd'},   {"model", required_argument, NULL, 'M'},
        {"folds", required_argument, NULL, 'F'},  {"probe-folds", required_argument, NULL, 'P'},
        {"limit", required_argument, NULL, 'n'},  {"labels", required_argument, NULL, 'l'},
        {"text-model", required_argument, NULL, 'm'}, {"json", required_argument, NULL, 'J'},
        {"streams", no_argument, NULL, 'S'},      {"stream-records", required_argument, NULL, 'r'},
        {"exclude-records", required_argument, NULL, 'x'}, {"cinc-range", required_argument, NULL, 'G'},
        {"alarms", required_argument, NULL, 'A'}, {"nstdb", required_argument, NULL, 'N'},
        {"record-t0", required_argument, NULL, 'T'}, {"list-records", no_argument, NULL, 'L'},
        {"operating-points", required_argument, NULL, 'O'}, {"config", required_argument, NULL, 'C'},
        {"curves", required_argument, NULL, 'V'},  {"report-records", required_argument, NULL, 'R'},
        {"report-nstdb", required_argument, NULL, 'Q'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    *a = (args){.model = "models/mets-ecg.mets", .folds = "9", .probe_folds = "1-8", .labels = "conf/labels.yaml",
                .stream_records = "all", .exclude_records = METS_STREAMS_TRAIN_RECORDS, .cinc_range = "1501-",
                .nstdb = NSTDB_RECORDS, .record_t0 = "2026-01-01T00:00:00Z", .config = "conf/metsd.yaml",
                .curves = "/dev/null", .report_nstdb = "none"};
    int c;
    while ((c = getopt_long(argc, argv, "d:M:m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd': a->data = optarg; break;
        case 'M': a->model = optarg; break;
        case 'F': a->folds = optarg; break;
        case 'P': a->probe_folds = optarg; break;
        case 'n': a->limit = atoi(optarg); break;
        case 'l': a->labels = optarg; break;
        case 'm': a->text_model = optarg; break;
        case 'J': a->json = optarg; break;
        case 'S': a->streams = 1; break;
        case 'r': a->stream_records = optarg; break;
        case 'x': a->exclude_records = optarg; break;
        case 'G': a->cinc_range = optarg; break;
        case 'A': a->alarms = optarg; break;
        case 'N': a->nstdb = optarg; break;
        case 'T': a->record_t0 = optarg; break;
        case 'L': a->list_records = 1; break;
        case 'O': a->op_points = optarg; break;
        case 'C': a->config = optarg; break;
        case 'V': a->curves = optarg; break;
        case 'R': a->report_records = optarg; break;
        case 'Q': a->report_nstdb = optarg; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    return optind == argc ? -1 : (fputs(usage_text, stderr), 2);
}

static int eval_ptbxl(const args *a, const char *dir, unsigned folds, unsigned probe_folds, const mets_ecgenc *enc,
                      const mets_promptbank *pb, const mets_labels *l, const mets_report_translator *tr, mets_err *err)
{
    const mets_ecgenc_arch *arch = mets_ecgenc_get_arch(enc);
    mets_ptbxl_set set = {0}, fit = {0};
    results r = {0};
    int rc = mets_ptbxl_load(dir, folds, a->limit, arch->rate_hz, arch->samples, tr, &set, err);
    if (!rc && set.data.n == 0)
        rc = mets_err_set(err, METS_ENOTFOUND, "%s: no PTB-XL records of folds %s", dir, a->folds);
    rc = rc ?: zero_shot(enc, pb, l, &set, &r, err);
    if (!rc && probe_folds) {
        rc = mets_ptbxl_load(dir, probe_folds, a->limit, arch->rate_hz, arch->samples, tr, &fit, err);
        rc = rc ?: probe(enc, &fit, &set, &r, err);
    }
    if (!rc) {
        print_table(&r, &set, a->folds);
        if (a->json && write_json(a->json, &r, a->model, a->folds, set.data.n))
            rc = mets_err_set(err, METS_EIO, "%s: cannot write", a->json);
    }
    mets_ptbxl_free(&set), mets_ptbxl_free(&fit);
    return rc;
}

static json_t *real_or_null(double x)
{
    return isnan(x) ? json_null() : json_real(x);
}

static json_t *episode_json(const mets_episode_stats *s)
{
    return json_pack("{s:i, s:i, s:i, s:i, s:o, s:o, s:o, s:o, s:f, s:f}", "ref_episodes", s->ref_episodes,
                     "det_episodes", s->det_episodes, "ref_hit", s->ref_hit, "det_hit", s->det_hit, "se",
                     real_or_null(s->se), "ppv", real_or_null(s->ppv), "dur_se", real_or_null(s->dur_se), "dur_ppv",
                     real_or_null(s->dur_ppv), "ref_seconds", s->ref_seconds, "det_seconds", s->det_seconds);
}

/* Every record's and the gross episode statistics, and the CinC scores when there were CinC records. */
static json_t *streams_json(const mets_streameval_record *r, int n, const mets_cinc_result *c)
{
    mets_streameval_opts o = mets_streameval_default_opts();
    json_t *records = json_array(), *gross = json_object();
    for (int i = 0; i < n; i++) {
        json_t *rec = json_pack("{s:s, s:f, s:i}", "name", r[i].name, "seconds", r[i].seconds, "windows", r[i].windows);
        for (int k = 0; k < METS_EC57_KINDS; k++)
            json_object_set_new(rec, mets_ec57_names[k], episode_json(&r[i].stats[k]));
        json_array_append_new(records, rec);
    }
    for (int k = 0; k < METS_EC57_KINDS; k++) {
        mets_episode_stats g = mets_streameval_gross(r, n, (mets_ec57_kind)k);
        json_object_set_new(gross, mets_ec57_names[k], episode_json(&g));
    }
    json_t *root = json_pack("{s:{s:f, s:f, s:o, s:o}}", "streams", "hop_s", o.hop_s, "min_episode_s",
                             o.min_episode_s, "records", records, "gross", gross);
    if (c->records) {
        json_t *f1 = json_object(), *conf = json_array();
        for (int k = 0; k < METS_CINC_CLASSES; k++) {
            json_object_set_new(f1, (char[]){mets_cinc_classes[k], '\0'}, json_real(c->f1[k]));
            json_array_append_new(conf, json_pack("[i, i, i, i]", c->confusion[k][0], c->confusion[k][1],
                                                  c->confusion[k][2], c->confusion[k][3]));
        }
        json_object_set_new(root, "cinc2017", json_pack("{s:i, s:o, s:f, s:f, s:o}", "records", c->records, "f1", f1,
                                                        "f1_nao", c->f1_nao, "f1_all", c->f1_all, "confusion", conf));
    }
    return root;
}

/* Scores the listed MIT-BIH/VFDB records that are in the data folder, one at a time (a record's windows
 * every 2 s are about 40 MB). */
static int eval_annotated(const args *a, const char *dir, const mets_ecgenc *enc, const mets_promptbank *pb,
                          const mets_labels *l, mets_streameval_record **out, int *nout, mets_err *err)
{
    char **names;
    int n, rc = mets_streams_list(dir, a->stream_records, a->exclude_records, &names, &n, err);
    mets_streameval_opts o = mets_streameval_default_opts();
    *nout = 0;
    if (!rc && !(*out = calloc((size_t)n + 1, sizeof **out)))
        rc = mets_err_set(err, METS_ENOMEM, "out of memory");
    for (int i = 0; i < n && !rc; i++) {
        rc = mets_streameval_record_run(enc, pb, l, dir, names[i], &o, &(*out)[*nout], err);
        if (!rc)
            fprintf(stderr, "streams: %s: %d windows\n", names[i], (*out)[(*nout)++].windows);
        rc = rc == METS_ENOTFOUND ? 0 : rc; /* listed, but not in this data folder */
    }
    mets_streams_list_free(names, n);
    return rc;
}

/* CinC 2017 records of --cinc-range, when the data folder has the challenge's folder. */
static int eval_cinc(const args *a, const char *dir, const mets_ecgenc *enc, const mets_promptbank *pb,
                     const mets_labels *l, mets_cinc_result *c, mets_err *err)
{
    const mets_ecgenc_arch *arch = mets_ecgenc_get_arch(enc);
    mets_streams_opts so = mets_streams_default_opts(arch->rate_hz, arch->samples);
    mets_streams_set set = {0};
    char cinc_dir[4096];
    int first, last, rc;
    memset(c, 0, sizeof *c);
    if (mets_cinc_parse_range(a->cinc_range, &first, &last))
        return mets_err_set(err, METS_EINVAL, "--cinc-range %s: expected LO-HI, e.g. 701-", a->cinc_range);
    snprintf(cinc_dir, sizeof cinc_dir, "%s/cinc2017/training2017", dir);
    if ((rc = mets_cinc_load(cinc_dir, NULL, first, last, &so, &set, err)) == METS_ENOTFOUND) {
        fprintf(stderr, "streams: %s: no CinC 2017 records\n", cinc_dir);
        return 0;
    }
    if (!rc)
        fprintf(stderr, "streams: CinC 2017: %d records (%d windows; %d listed records not in %s)\n", set.nrecords,
                set.data.n, set.missing, cinc_dir);
    rc = rc ?: mets_cinc_eval(enc, pb, l, &set, c, err);
    mets_streams_free(&set);
    return rc;
}

static int eval_streams(const args *a, const char *dir, const mets_ecgenc *enc, const mets_promptbank *pb,
                        const mets_labels *l, mets_err *err)
{
    mets_streameval_record *r = NULL;
    mets_cinc_result c = {0};
    int n = 0, rc = eval_annotated(a, dir, enc, pb, l, &r, &n, err);
    rc = rc ?: eval_cinc(a, dir, enc, pb, l, &c, err);
    if (!rc) {
        mets_streameval_print(stdout, r, n);
        if (c.records)
            mets_cinc_print(stdout, &c);
    }
    if (!rc && a->json) {
        json_t *root = streams_json(r, n, &c);
        json_object_set_new(root, "model", json_string(a->model));
        if (json_dump_file(root, a->json, JSON_INDENT(2) | JSON_REAL_PRECISION(4)))
            rc = mets_err_set(err, METS_EIO, "%s: cannot write", a->json);
        json_decref(root);
    }
    free(r);
    return rc;
}

static json_t *alarm_json(const mets_alarm_result *r, const mets_alarm_noise_row *rows, int nrows)
{
    json_t *alarms = json_object(), *noise = json_array();
    for (int k = 0; k < METS_ALARM_KINDS; k++) {
        const mets_alarm_stats *s = &r->kind[k];
        double med, p90;
        mets_alarm_delay_quantiles(s, &med, &p90);
        json_t *o = episode_json(&s->ep);
        json_object_set_new(o, "ref_10s", json_integer(s->ref_long[0]));
        json_object_set_new(o, "hit_10s", json_integer(s->hit_long[0]));
        json_object_set_new(o, "ref_30s", json_integer(s->ref_long[1]));
        json_object_set_new(o, "hit_30s", json_integer(s->hit_long[1]));
        json_object_set_new(o, "false_alarms", json_integer(s->false_alarms));
        json_object_set_new(o, "false_per_hour", real_or_null(r->hours > 0 ? s->false_alarms / r->hours : NAN));
        json_object_set_new(o, "delay_median_s", real_or_null(med));
        json_object_set_new(o, "delay_p90_s", real_or_null(p90));
        json_object_set_new(alarms, mets_alarm_labels[k], o);
    }
    for (int i = 0; i < nrows; i++) {
        const mets_alarm_noise_row *w = &rows[i];
        json_array_append_new(noise, json_pack("{s:s, s:i, s:f, s:f, s:i, s:i, s:f, s:f, s:i}", "record", w->name,
                                               "snr_db", w->snr_db, "noisy_s", w->noisy_s, "clean_s", w->clean_s,
                                               "clinical_noisy", w->clinical_noisy, "clinical_clean",
                                               w->clinical_clean, "tech_noisy_s", w->tech_noisy_s, "tech_clean_s",
                                               w->tech_clean_s, "tech_raised", w->tech_raised));
    }
    return json_pack("{s:i, s:f, s:o, s:o}", "records", r->records, "hours", r->hours, "alarms", alarms, "nstdb",
                     noise);
}

/* --record-t0 as microseconds since 1970. */
static int record_t0(const args *a, int64_t *t0, mets_err *err)
{
    if (mets_iso_parse_us(a->record_t0, t0))
        return mets_err_set(err, METS_EINVAL, "--record-t0 %s: expected an ISO 8601 UTC time", a->record_t0);
    return 0;
}

/* mets eval --alarms: the alert events of FILE scored per record of the data folder. */
static int eval_alarms(const args *a, mets_err *err)
{
    int64_t t0;
    if (record_t0(a, &t0, err))
        return err->code;
    FILE *f = strcmp(a->alarms, "-") ? fopen(a->alarms, "r") : stdin;
    if (!f)
        return mets_err_set(err, METS_ENOTFOUND, "%s: cannot open", a->alarms);
    mets_alarm_events ev = {0};
    mets_alarm_result r = {0};
    mets_alarm_refset rs = {0};
    mets_alarm_noise_row *rows = NULL;
    int rc = mets_alarm_events_read(f, a->alarms, &ev, err);
    if (f != stdin)
        fclose(f);
    rc = rc ?: mets_alarm_refset_load(mets_cli_data_dir(a->data), a->stream_records, a->exclude_records, a->nstdb, t0,
                                      &rs, err);
    if (!rc && !(rows = calloc((size_t)rs.nnoise + 1, sizeof *rows)))
        rc = mets_err_set(err, METS_ENOMEM, "out of memory");
    rc = rc ?: mets_alarm_refset_score(&rs, &ev, &r, rows, err);
    if (!rc) {
        mets_alarm_print(stdout, &r);
        if (rs.nnoise)
            mets_alarm_noise_print(stdout, rows, rs.nnoise);
    }
    if (!rc && a->json) {
        json_t *root = alarm_json(&r, rows, rs.nnoise);
        json_object_set_new(root, "events", json_string(a->alarms));
        if (json_dump_file(root, a->json, JSON_INDENT(2) | JSON_REAL_PRECISION(4)))
            rc = mets_err_set(err, METS_EIO, "%s: cannot write", a->json);
        json_decref(root);
    }
    mets_alarm_refset_free(&rs);
    mets_alarm_events_free(&ev), mets_alarm_result_free(&r);
    free(rows);
    return rc;
}

/* The alarms the shipped configuration enables, and the false alarms per bed-hour each may raise. */
static const mets_op_target op_targets[] = {
    {METS_ALARM_AF, 0.1}, {METS_ALARM_AFL, 0.1}, {METS_ALARM_SVT, 0.1}, {METS_ALARM_VT, 0.5}, {METS_ALARM_VF, 0.2}};

/* mets eval --operating-points: the sweep of eval/oppoint.h over the embeddings of FILE. */
static int eval_op_points(const args *a, const mets_ecgenc *enc, const mets_promptbank *pb, const mets_labels *l,
                          mets_err *err)
{
    int64_t t0;
    if (record_t0(a, &t0, err))
        return err->code;
    mets_config cfg;
    int rc = mets_config_load(a->config, &cfg, err);
    if (rc)
        return rc;
    const mets_alert_policy **base = calloc((size_t)l->nlabels, sizeof *base);
    FILE *f = fopen(a->op_points, "r"), *curves = fopen(a->curves, "w");
    mets_op_windows w = {0};
    mets_alarm_refset rs = {0}, report = {0};
    if (!base || !f || !curves)
        rc = mets_err_set(err, METS_EIO, "out of memory, or cannot open %s or %s", a->op_points, a->curves);
    for (int i = 0; !rc && i < l->nlabels; i++)
        base[i] = mets_config_policy(&cfg, l->groups[l->labels[i].group_index].name, l->labels[i].name);
    rc = rc ?: mets_op_windows_read(f, a->op_points, pb, mets_ecgenc_logit_scale(enc), mets_ecgenc_dim(enc), &w, err);
    rc = rc ?: mets_alarm_refset_load(mets_cli_data_dir(a->data), a->stream_records, a->exclude_records, a->nstdb, t0,
                                      &rs, err);
    if (!rc && a->report_records)
        rc = mets_alarm_refset_load(mets_cli_data_dir(a->data), a->report_records, "none", a->report_nstdb, t0,
                                    &report, err);
    int art = rc ? -1 : mets_config_artefact_label(&cfg, l, err);
    rc = rc ?: art < -1 ? art : 0;
    if (!rc)
        fprintf(stderr, "operating points: %d windows of %d streams, %d annotated and %d NSTDB records\n", w.n,
                w.nstreams, rs.n, rs.nnoise);
    rc = rc ?: mets_op_sweep(&w, l, base, &rs, a->report_records ? &report : NULL, op_targets, (int)(sizeof op_targets / sizeof *op_targets), art, curves,
                             stdout, err);
    if (f)
        fclose(f);
    if (curves)
        fclose(curves);
    mets_op_windows_free(&w);
    mets_alarm_refset_free(&rs), mets_alarm_refset_free(&report);
    free(base);
    mets_config_free(&cfg);
    return rc;
}

int mets_cmd_eval(int argc, char **argv)
{
    args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    mets_err err = {0};
    unsigned folds, probe_folds = 0;
    if (mets_ptbxl_parse_folds(a.folds, &folds) ||
        (strcmp(a.probe_folds, "none") && mets_ptbxl_parse_folds(a.probe_folds, &probe_folds))) {
        fprintf(stderr, "mets eval: folds: expected a list like 9 or 1-8\n");
        return 2;
    }
    if (a.list_records) {
        const char *dir = mets_cli_data_dir(a.data);
        mets_alarm_refset rs;
        if (!(rc = mets_alarm_refset_load(dir, a.stream_records, a.exclude_records, "none", 0, &rs, &err)))
            for (int i = 0; i < rs.n; i++)
                printf("%s\n", rs.names[i]);
        else
            fprintf(stderr, "mets eval: %s\n", err.msg);
        mets_alarm_refset_free(&rs);
        return rc ? 1 : 0;
    }
    if (a.alarms) {
        if ((rc = eval_alarms(&a, &err)))
            fprintf(stderr, "mets eval: %s\n", err.msg[0] ? err.msg : mets_err_name(rc));
        return rc ? 1 : 0;
    }
    const char *dir = mets_cli_data_dir(a.data);
    mets_ecgenc *enc = mets_ecgenc_open(a.model, &err);
    mets_textenc *te = enc ? mets_textenc_open(mets_cli_text_model(a.text_model), &err) : NULL;
    mets_labels *l = te ? mets_labels_load(a.labels, &err) : NULL;
    mets_promptbank *pb = l ? mets_promptbank_new(l, te, enc, &err) : NULL;
    mets_report_translator *tr = pb ? mets_report_translator_new(NULL, &err) : NULL;
    rc = tr ? 0 : METS_EINVAL;
    rc = rc ?: a.op_points ? eval_op_points(&a, enc, pb, l, &err)
         : a.streams ? eval_streams(&a, dir, enc, pb, l, &err)
                         : eval_ptbxl(&a, dir, folds, probe_folds, enc, pb, l, tr, &err);
    if (rc)
        fprintf(stderr, "mets eval: %s\n", err.msg[0] ? err.msg : mets_err_name(rc));
    mets_report_translator_free(tr);
    mets_promptbank_free(pb);
    mets_labels_free(l);
    mets_textenc_free(te);
    mets_ecgenc_free(enc);
    return rc ? 1 : 0;
}
