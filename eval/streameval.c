#include "streameval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "zeroshot.h"

enum { CODE_RHYTHM = 28 }; /* WFDB's RHYTHM (<wfdb/ecgcodes.h>): its aux names the rhythm from here on */

const char *const mets_ec57_names[METS_EC57_KINDS] = {"AF", "VT", "VF"};
const char mets_cinc_classes[METS_CINC_CLASSES] = {'N', 'A', 'O', '~'};

/* What each kind is: the rhythm label that detects it, its reference rhythms, and those left out. */
static const struct {
    const char *label;
    const char *ref[3];
    int nref;
    const char *excluded;
} kinds[METS_EC57_KINDS] = {
    {"AFIB", {"(AFIB"}, 1, "(AFL"},
    {"VT", {"(VT"}, 1, NULL},
    {"VF", {"(VFL", "(VF", "(VFIB"}, 3, NULL},
};

mets_streameval_opts mets_streameval_default_opts(void)
{
    return (mets_streameval_opts){.hop_s = 2.0, .min_episode_s = 4.0};
}

static int emit(mets_episode *out, int n, double start, double end, double min_s)
{
    if (end - start >= min_s && end > start)
        out[n++] = (mets_episode){start, end};
    return n;
}

int mets_streameval_detect(const uint8_t *vote, int n, double hop_s, double win_s, double total_s, double min_s,
                           mets_episode *out)
{
    int m = 0;
    double start = -1, margin = (win_s - hop_s) / 2;
    for (int k = 0; k < n; k++) {
        double seg = k == 0 ? 0 : fmin(k * hop_s + margin, total_s); /* where window k's centre begins */
        if (vote[k] && start < 0)
            start = seg;
        else if (!vote[k] && start >= 0)
            m = emit(out, m, start, seg, min_s), start = -1;
    }
    return start >= 0 ? emit(out, m, start, total_s, min_s) : m;
}

static int matches(const char *aux, const char *const *codes, int ncodes)
{
    for (int i = 0; i < ncodes; i++)
        if (!strcmp(aux, codes[i]))
            return 1;
    return 0;
}

int mets_streameval_reference(const mets_annots *a, double fs, double total_s, const char *const *codes,
                              int ncodes, mets_episode *out, int cap)
{
    int n = 0;
    double start = -1;
    for (size_t i = 0; i < a->count && n < cap; i++) {
        const mets_annot *x = &a->items[i];
        if (x->code != CODE_RHYTHM || !x->aux || x->aux[0] != '(')
            continue;
        double t = fmin((double)x->sample / fs, total_s);
        int in = matches(x->aux, codes, ncodes);
        if (in && start < 0)
            start = t;
        else if (!in && start >= 0)
            n = emit(out, n, start, t, 0), start = -1;
    }
    return start >= 0 && n < cap ? emit(out, n, start, total_s, 0) : n;
}

int mets_episodes_subtract(const mets_episode *a, int na, const mets_episode *b, int nb, mets_episode *out)
{
    int n = 0, j = 0;
    for (int i = 0; i < na; i++) {
        double cur = a[i].start;
        while (j < nb && b[j].end <= a[i].start)
            j++;
        for (int k = j; k < nb && b[k].start < a[i].end; k++) {
            n = emit(out, n, cur, b[k].start, 0);
            cur = fmax(cur, b[k].end);
        }
        n = emit(out, n, cur, a[i].end, 0);
    }
    return n;
}

/* The rhythm label each kind is detected by: its index into the labels, or an error naming it. */
static int find_labels(const mets_labels *l, int *lab, mets_err *err)
{
    for (int k = 0; k < METS_EC57_KINDS; k++)
        if ((lab[k] = mets_labels_find(l, "rhythm", kinds[k].label)) < 0)
            return mets_err_set(err, METS_EINVAL, "the labels have no %s in group rhythm", kinds[k].label);
    return 0;
}

/* The label of highest probability within the group of label `lab`, for one window's prob row. */
static int argmax_in_group(const mets_labels *l, int lab, const float *prob)
{
    const mets_label_group *g = &l->groups[l->labels[lab].group_index];
    int best = g->first_label;
    for (int j = g->first_label; j < g->first_label + g->nlabels; j++)
        if (prob[j] > prob[best])
            best = j;
    return best;
}

/* Compares one kind's detections (window votes) with its reference episodes. */
static int compare_kind(const mets_annots *a, const mets_streams_record *rec, const uint8_t *vote, int n,
                        double win_s, const mets_streameval_opts *o, mets_ec57_kind k, mets_episode_stats *s)
{
    int cap = (int)a->count + 1;
    mets_episode *ref = malloc(cap * sizeof *ref), *excl = malloc(cap * sizeof *excl);
    mets_episode *det = malloc((n + 1) * sizeof *det), *kept = malloc((n + cap + 1) * sizeof *kept);
    if (!ref || !excl || !det || !kept) {
        free(ref), free(excl), free(det), free(kept);
        return METS_ENOMEM;
    }
    int nref = mets_streameval_reference(a, rec->fs, rec->seconds, kinds[k].ref, kinds[k].nref, ref, cap);
    int ndet = mets_streameval_detect(vote, n, o->hop_s, win_s, rec->seconds, o->min_episode_s, det);
    int nexcl = kinds[k].excluded ? mets_streameval_reference(a, rec->fs, rec->seconds, &kinds[k].excluded, 1, excl, cap) : 0;
    ndet = mets_episodes_subtract(det, ndet, excl, nexcl, kept);
    *s = mets_episode_compare(ref, nref, kept, ndet);
    free(ref), free(excl), free(det), free(kept);
    return 0;
}

/* Votes of every window for each kind, and the comparisons. */
static int score_record(const mets_labels *l, const mets_streams_set *set, const float *prob, const mets_annots *a,
                        const int *lab, double win_s, const mets_streameval_opts *o, mets_streameval_record *r)
{
    int n = set->data.n, rc = 0;
    uint8_t *vote = malloc((size_t)n + 1);
    for (int k = 0; k < METS_EC57_KINDS && vote && !rc; k++) {
        for (int w = 0; w < n; w++)
            vote[w] = argmax_in_group(l, lab[k], prob + (size_t)w * l->nlabels) == lab[k];
        rc = compare_kind(a, &set->records[0], vote, n, win_s, o, (mets_ec57_kind)k, &r->stats[k]);
    }
    free(vote);
    return vote ? rc : METS_ENOMEM;
}

int mets_streameval_record_run(const mets_ecgenc *enc, const mets_promptbank *pb, const mets_labels *l,
                               const char *dir, const char *name, const mets_streameval_opts *o,
                               mets_streameval_record *r, mets_err *err)
{
    const mets_ecgenc_arch *arch = mets_ecgenc_get_arch(enc);
    mets_streams_opts so = mets_streams_default_opts(arch->rate_hz, arch->samples);
    so.hop_s = o->hop_s, so.keep_silent = 1; /* every window votes, so window k starts at k * hop */
    mets_streams_set set = {0};
    mets_annots a = {0};
    char *names[1] = {(char *)name}, path[4096];
    float *prob = NULL;
    int lab[METS_EC57_KINDS];
    int rc = find_labels(l, lab, err) ?: mets_streams_load(dir, names, 1, &so, &set, err);
    if (!rc && set.missing)
        rc = mets_err_set(err, METS_ENOTFOUND, "%s/%s: record not found", dir, name);
    if (!rc && !(prob = malloc((size_t)set.data.n * l->nlabels * sizeof *prob)))
        rc = mets_err_set(err, METS_ENOMEM, "%s: out of memory", name);
    rc = rc ?: mets_zeroshot_scores(enc, pb, &set.data, METS_LEADS_ALL, NULL, prob, err);
    snprintf(path, sizeof path, "%s/%s.atr", dir, name);
    rc = rc ?: mets_annot_read(path, &a, err);
    if (!rc) {
        *r = (mets_streameval_record){.seconds = set.records[0].seconds, .windows = set.data.n};
        snprintf(r->name, sizeof r->name, "%s", name);
        if (score_record(l, &set, prob, &a, lab, (double)arch->samples / arch->rate_hz, o, r))
            rc = mets_err_set(err, METS_ENOMEM, "%s: out of memory", name);
    }
    mets_annots_free(&a);
    free(prob);
    mets_streams_free(&set);
    return rc;
}

mets_episode_stats mets_streameval_gross(const mets_streameval_record *r, int n, mets_ec57_kind kind)
{
    mets_episode_stats g = mets_episode_compare(NULL, 0, NULL, 0);
    for (int i = 0; i < n; i++)
        mets_episode_stats_add(&g, &r[i].stats[kind]);
    return g;
}

/* A ratio, or "-" where it is undefined (no episode to count). */
static void print_ratio(FILE *f, double x)
{
    if (isnan(x))
        fprintf(f, " %7s", "-");
    else
        fprintf(f, " %7.3f", x);
}

static void print_row(FILE *f, const char *name, double minutes, const mets_episode_stats *s)
{
    fprintf(f, "%-12s %8.1f %5d %5d", name, minutes, s->ref_episodes, s->det_episodes);
    print_ratio(f, s->se), print_ratio(f, s->ppv), print_ratio(f, s->dur_se), print_ratio(f, s->dur_ppv);
    fprintf(f, " %9.0f %9.0f\n", s->ref_seconds, s->det_seconds);
}

void mets_streameval_print(FILE *f, const mets_streameval_record *r, int n)
{
    static const char *const what[METS_EC57_KINDS] = {"reference (AFIB; atrial flutter (AFL excluded",
                                                      "reference (VT", "reference (VFL, (VF, (VFIB"};
    double minutes = 0;
    for (int i = 0; i < n; i++)
        minutes += r[i].seconds / 60;
    for (int k = 0; k < METS_EC57_KINDS; k++) {
        fprintf(f, "%s episodes, EC57 (%s): %d records\n", mets_ec57_names[k], what[k], n);
        fprintf(f, "%-12s %8s %5s %5s %7s %7s %7s %7s %9s %9s\n", "record", "minutes", "ref", "det", "Se", "+P",
                "dur Se", "dur +P", "ref s", "det s");
        for (int i = 0; i < n; i++)
            print_row(f, r[i].name, r[i].seconds / 60, &r[i].stats[k]);
        mets_episode_stats g = mets_streameval_gross(r, n, (mets_ec57_kind)k);
        print_row(f, "gross", minutes, &g);
        fprintf(f, "\n");
    }
}

/* ---- CinC 2017 ---- */

static int cinc_index(char c)
{
    for (int i = 0; i < METS_CINC_CLASSES; i++)
        if (mets_cinc_classes[i] == c)
            return i;
    return -1;
}

/* The class of highest mean probability over the windows of record `rec`. */
static int classify(const mets_streams_record *rec, const float *prob, int nlabels, const int *lab)
{
    double mean[METS_CINC_CLASSES] = {0};
    for (int w = rec->first_window; w < rec->first_window + rec->nwindows; w++)
        for (int c = 0; c < METS_CINC_CLASSES; c++)
            mean[c] += prob[(size_t)w * nlabels + lab[c]];
    int best = 0;
    for (int c = 1; c < METS_CINC_CLASSES; c++)
        if (mean[c] > mean[best])
            best = c;
    return best;
}

void mets_cinc_score(mets_cinc_result *r)
{
    r->f1_nao = r->f1_all = 0;
    for (int c = 0; c < METS_CINC_CLASSES; c++) {
        int ref = 0, pred = 0;
        for (int k = 0; k < METS_CINC_CLASSES; k++)
            ref += r->confusion[c][k], pred += r->confusion[k][c];
        /* the challenge's F1 = 2 TP / (reference + predicted); 0 when the class is nowhere */
        r->f1[c] = ref + pred ? 2.0 * r->confusion[c][c] / (ref + pred) : 0;
        r->f1_all += r->f1[c] / METS_CINC_CLASSES;
        if (c < 3)
            r->f1_nao += r->f1[c] / 3;
    }
}

int mets_cinc_eval(const mets_ecgenc *enc, const mets_promptbank *pb, const mets_labels *l,
                   const mets_streams_set *set, mets_cinc_result *r, mets_err *err)
{
    memset(r, 0, sizeof *r);
    int lab[METS_CINC_CLASSES];
    for (int c = 0; c < METS_CINC_CLASSES; c++)
        if ((lab[c] = mets_labels_find(l, "cinc2017", (char[]){mets_cinc_classes[c], '\0'})) < 0)
            return mets_err_set(err, METS_EINVAL, "the labels have no %c in group cinc2017", mets_cinc_classes[c]);
    float *prob = malloc(((size_t)set->data.n * l->nlabels + 1) * sizeof *prob);
    int rc = prob ? mets_zeroshot_scores(enc, pb, &set->data, METS_LEADS_ALL, NULL, prob, err)
                  : mets_err_set(err, METS_ENOMEM, "CinC 2017: out of memory");
    for (int i = 0; i < set->nrecords && !rc; i++) {
        int truth = cinc_index(set->records[i].cinc_class);
        if (truth < 0 || set->records[i].nwindows == 0)
            continue;
        r->confusion[truth][classify(&set->records[i], prob, l->nlabels, lab)]++;
        r->records++;
    }
    free(prob);
    mets_cinc_score(r);
    return rc;
}

void mets_cinc_print(FILE *f, const mets_cinc_result *r)
{
    fprintf(f, "CinC 2017: %d records, class of the highest mean window probability (group cinc2017)\n", r->records);
    fprintf(f, "%-10s %6s %6s %6s %6s %7s\n", "ref\\pred", "N", "A", "O", "~", "F1");
    for (int c = 0; c < METS_CINC_CLASSES; c++) {
        fprintf(f, "%-10c", mets_cinc_classes[c]);
        for (int k = 0; k < METS_CINC_CLASSES; k++)
            fprintf(f, " %6d", r->confusion[c][k]);
        fprintf(f, " %7.3f\n", r->f1[c]);
    }
    fprintf(f, "challenge score, mean F1 of N A O: %.3f; mean F1 of all four: %.3f\n\n", r->f1_nao, r->f1_all);
}
