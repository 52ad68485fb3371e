/* What a shorter resampling look-ahead (`window.lookahead_s`) costs in scores. Every record is cut into
 * 250 ms frames as `mets replay` sends them and windowed once with the exact look-ahead and once per
 * look-ahead asked for; each window is scored as metsd scores it (shipped encoder, conf/labels.yaml).
 * Per look-ahead, over the windows both runs made: the least and mean cosine between the embeddings,
 * the largest and mean |difference| of a label's probability, and how many windows changed a group's
 * most probable label or crossed a label's raise probability (0.6, the configuration's default) the
 * other way. bench_window_latency gives what each look-ahead saves in time.
 *
 * usage: bench_lookahead [--seconds S] [--lookahead S]... RECORD...
 *        (default: the first 300 s of each record; look-aheads 0.2, 0.1, 0.05 and 0 s) */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecgenc.h"
#include "labels.h"
#include "recframes.h"
#include "score.h"
#include "textenc.h"
#include "window.h"

enum { MAX_RUNS = 9, MAX_WINDOWS = 4096 };
#define RAISE_P 0.6f

typedef struct run {
    mets_windower *win;
    int n;
    int64_t end_us[MAX_WINDOWS];
    float *emb, *prob; /* [MAX_WINDOWS][dim], [MAX_WINDOWS][labels] */
} run;

typedef struct bench {
    mets_ecgenc *enc;
    mets_labels *labels;
    mets_scorer *sc;
    int dim, nlab, samples;
    run runs[MAX_RUNS];
    int nruns;
    run *cur;
    int failed;
    mets_err err;
} bench;

static void on_window(const mets_window *w, void *ctx)
{
    bench *b = ctx;
    run *r = b->cur;
    if (r->n >= MAX_WINDOWS || b->failed)
        return;
    mets_window_leads leads;
    for (int l = 0; l < METS_ECG_LEADS; l++)
        leads[l] = w->present >> l & 1 ? w->mv + (size_t)l * w->samples : NULL;
    float cos[256];
    if (mets_scorer_score(b->sc, &leads, 1, r->emb + (size_t)r->n * b->dim, cos, r->prob + (size_t)r->n * b->nlab,
                          &b->err)) {
        b->failed = 1;
        return;
    }
    r->end_us[r->n++] = w->end_us;
}

/* Each frame to every run's windower; after the last, a frame an hour later flushes them. */
static int on_frame(void *ctx, const mets_frame *f)
{
    bench *b = ctx;
    for (int i = 0; i < b->nruns && !b->failed; i++) {
        b->cur = &b->runs[i];
        if (mets_windower_push(b->runs[i].win, f, on_window, b, &b->err))
            return 1;
    }
    return b->failed;
}

typedef struct totals {
    long windows, group_flips, raise_flips;
    double min_cos, sum_cos, max_dp, sum_dp;
    long ndp;
} totals;

static void compare(const bench *b, const run *exact, const run *r, totals *t)
{
    int j = 0;
    for (int i = 0; i < r->n; i++) {
        while (j < exact->n && exact->end_us[j] < r->end_us[i])
            j++;
        if (j == exact->n || exact->end_us[j] != r->end_us[i])
            continue;
        const float *e0 = exact->emb + (size_t)j * b->dim, *e1 = r->emb + (size_t)i * b->dim;
        const float *p0 = exact->prob + (size_t)j * b->nlab, *p1 = r->prob + (size_t)i * b->nlab;
        double dot = 0;
        for (int d = 0; d < b->dim; d++)
            dot += (double)e0[d] * e1[d]; /* both L2-normalised */
        t->min_cos = fmin(t->min_cos, dot), t->sum_cos += dot, t->windows++;
        int raise = 0;
        for (int k = 0; k < b->nlab; k++) {
            double dp = fabs((double)p0[k] - p1[k]);
            t->max_dp = fmax(t->max_dp, dp), t->sum_dp += dp, t->ndp++;
            raise |= (p0[k] >= RAISE_P) != (p1[k] >= RAISE_P);
        }
        t->raise_flips += raise;
        int flip = 0;
        for (int g = 0; g < b->labels->ngroups; g++) {
            const mets_label_group *grp = &b->labels->groups[g];
            int a0 = 0, a1 = 0;
            for (int k = 1; k < grp->nlabels; k++) {
                a0 = p0[grp->first_label + k] > p0[grp->first_label + a0] ? k : a0;
                a1 = p1[grp->first_label + k] > p1[grp->first_label + a1] ? k : a1;
            }
            flip |= a0 != a1;
        }
        t->group_flips += flip;
    }
}

static void die(const char *what, const mets_err *err)
{
    fprintf(stderr, "bench_lookahead: %s: %s\n", what, err->msg);
    exit(1);
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"seconds", required_argument, NULL, 's'},
                                         {"lookahead", required_argument, NULL, 'l'},
                                         {NULL, 0, NULL, 0}};
    double seconds = 300, look[MAX_RUNS] = {-1};
    int nlook = 1, c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 's')
            seconds = atof(optarg);
        else if (c == 'l' && nlook < MAX_RUNS)
            look[nlook++] = atof(optarg);
        else {
            fprintf(stderr, "usage: bench_lookahead [--seconds S] [--lookahead S]... RECORD...\n");
            return 2;
        }
    }
    if (nlook == 1) {
        const double def[] = {0.2, 0.1, 0.05, 0};
        for (int i = 0; i < 4; i++)
            look[nlook++] = def[i];
    }
    if (optind == argc) {
        fprintf(stderr, "usage: bench_lookahead [--seconds S] [--lookahead S]... RECORD...\n");
        return 2;
    }
    mets_err err;
    bench *b = calloc(1, sizeof *b);
    mets_textenc *te;
    mets_promptbank *bank;
    if (!(b->enc = mets_ecgenc_open("models/mets-ecg.mets", &err)) ||
        !(te = mets_textenc_open(METS_DEFAULT_TEXT_MODEL, &err)) ||
        !(b->labels = mets_labels_load("conf/labels.yaml", &err)) ||
        !(bank = mets_promptbank_new(b->labels, te, b->enc, &err)) || !(b->sc = mets_scorer_new(b->enc, bank, 1, &err)))
        die("models", &err);
    const mets_ecgenc_arch *arch = mets_ecgenc_get_arch(b->enc);
    b->dim = mets_ecgenc_dim(b->enc), b->nlab = b->labels->nlabels, b->samples = arch->samples, b->nruns = nlook;
    totals t[MAX_RUNS];
    for (int i = 0; i < nlook; i++) {
        b->runs[i].emb = malloc((size_t)MAX_WINDOWS * b->dim * sizeof(float));
        b->runs[i].prob = malloc((size_t)MAX_WINDOWS * b->nlab * sizeof(float));
        t[i] = (totals){.min_cos = 1};
    }
    printf("look-ahead vs exact, %g s of each of %d records\n", seconds, argc - optind);
    for (int a = optind; a < argc; a++) {
        for (int i = 0; i < nlook; i++) {
            mets_window_params p = mets_window_default_params();
            p.rate_hz = arch->rate_hz, p.lookahead_s = look[i];
            if (!(b->runs[i].win = mets_windower_new(&p, &err)))
                die("windower", &err);
            b->runs[i].n = 0;
        }
        mets_recframes_opts o = mets_recframes_default_opts();
        o.duration_s = seconds;
        mets_recframes *rf = mets_recframes_open(argv[a], &o, &err);
        if (!rf)
            die(argv[a], &err);
        if (mets_recframes_send(rf, on_frame, b, &err) || b->failed)
            die(argv[a], b->failed ? &b->err : &err);
        mets_recframes_close(rf);
        for (int i = 1; i < nlook; i++)
            compare(b, &b->runs[0], &b->runs[i], &t[i]);
        for (int i = 0; i < nlook; i++)
            mets_windower_free(b->runs[i].win);
    }
    printf("| look-ahead | windows | cosine min / mean | max abs dp | mean abs dp | group's top label changed | "
           "raise threshold crossed |\n| --- | ---: | --- | ---: | ---: | ---: | ---: |\n");
    for (int i = 1; i < nlook; i++)
        printf("| %.3g s | %ld | %.6f / %.7f | %.4f | %.2e | %ld | %ld |\n", look[i], t[i].windows, t[i].min_cos,
               t[i].windows ? t[i].sum_cos / t[i].windows : 0, t[i].max_dp, t[i].ndp ? t[i].sum_dp / t[i].ndp : 0,
               t[i].group_flips, t[i].raise_flips);
    return 0;
}
