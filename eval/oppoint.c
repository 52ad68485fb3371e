#include "oppoint.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>


/* ---- the scored windows ---- */

typedef struct raw_window {
    int stream;
    int64_t start_us, end_us;
    long order; /* index in the file: the scores live there */
} raw_window;

static int by_stream_time(const void *a, const void *b)
{
    const raw_window *x = a, *y = b;
    if (x->stream != y->stream)
        return (x->stream > y->stream) - (x->stream < y->stream);
    return (x->start_us > y->start_us) - (x->start_us < y->start_us);
}

static int stream_index(mets_op_windows *w, const char *id)
{
    for (int i = 0; i < w->nstreams; i++) /* a ward's worth of streams: a scan is fine */
        if (!strcmp(w->streams[i], id))
            return i;
    char **grown = realloc(w->streams, (size_t)(w->nstreams + 1) * sizeof *grown);
    if (!grown || !(grown[w->nstreams] = strdup(id))) {
        if (grown)
            w->streams = grown;
        return -1;
    }
    w->streams = grown;
    return w->nstreams++;
}

int mets_op_windows_read(FILE *f, const char *name, const mets_promptbank *pb, float scale, int dim,
                         mets_op_windows *w, mets_err *err)
{
    memset(w, 0, sizeof *w);
    int L = w->nlabels = mets_promptbank_nlabels(pb), D = 0, rc = 0, cap = 0;
    raw_window *raw = NULL;
    float *emb = NULL, *cos = NULL, *prob = NULL;
    char *line = NULL;
    size_t lcap = 0;
    for (long no = 1; !rc && getline(&line, &lcap, f) >= 0; no++) {
        json_t *o = json_loads(line, 0, NULL), *vec = json_object_get(o, "vector");
        const char *id = json_string_value(json_object_get(o, "stream_id"));
        raw_window r = {.order = w->n};
        if (!o || !id || !json_is_array(vec) || mets_alarm_json_time(o, "window_start", &r.start_us) ||
            mets_alarm_json_time(o, "window_end", &r.end_us) || (int)json_array_size(vec) != dim) {
            rc = mets_err_set(err, METS_EFORMAT, "%s:%ld: expected an embedding of `mets tail --embeddings --vectors` "
                              "with %d dimensions", name, no, dim);
            json_decref(o);
            break;
        }
        D = dim;
        if (w->n == cap) {
            cap = cap ? 2 * cap : 4096;
            raw_window *rg = realloc(raw, (size_t)cap * sizeof *rg);
            float *eg = rg ? realloc(emb, (size_t)cap * D * sizeof *eg) : NULL;
            if (rg)
                raw = rg;
            if (eg)
                emb = eg;
            if (!rg || !eg)
                rc = mets_err_set(err, METS_ENOMEM, "out of memory");
        }
        if (!rc && (r.stream = stream_index(w, id)) < 0)
            rc = mets_err_set(err, METS_ENOMEM, "out of memory");
        for (int d = 0; !rc && d < D; d++)
            emb[(size_t)w->n * D + d] = (float)json_number_value(json_array_get(vec, (size_t)d));
        if (!rc)
            raw[w->n++] = r;
        json_decref(o);
    }
    free(line);
    if (!rc && w->n) {
        cos = malloc((size_t)w->n * L * sizeof *cos), prob = malloc((size_t)w->n * L * sizeof *prob);
        w->cos = malloc((size_t)w->n * L * sizeof *cos), w->prob = malloc((size_t)w->n * L * sizeof *prob);
        w->stream = malloc((size_t)w->n * sizeof *w->stream);
        w->start_us = malloc((size_t)w->n * sizeof *w->start_us), w->end_us = malloc((size_t)w->n * sizeof *w->end_us);
        if (!cos || !prob || !w->cos || !w->prob || !w->stream || !w->start_us || !w->end_us)
            rc = mets_err_set(err, METS_ENOMEM, "out of memory");
    }
    if (!rc && w->n) {
        /* Row by row, as the daemon scores (scores do not depend on the batch). */
        mets_promptbank_score(pb, emb, w->n, scale, cos, prob);
        qsort(raw, (size_t)w->n, sizeof *raw, by_stream_time);
        for (int i = 0; i < w->n; i++) {
            w->stream[i] = raw[i].stream, w->start_us[i] = raw[i].start_us, w->end_us[i] = raw[i].end_us;
            memcpy(w->prob + (size_t)i * L, prob + (size_t)raw[i].order * L, (size_t)L * sizeof *prob);
            memcpy(w->cos + (size_t)i * L, cos + (size_t)raw[i].order * L, (size_t)L * sizeof *cos);
        }
    }
    free(raw), free(emb), free(cos), free(prob);
    if (rc)
        mets_op_windows_free(w);
    return rc;
}

void mets_op_windows_free(mets_op_windows *w)
{
    for (int i = 0; i < w->nstreams; i++)
        free(w->streams[i]);
    free(w->streams), free(w->stream), free(w->start_us), free(w->end_us), free(w->prob), free(w->cos);
    memset(w, 0, sizeof *w);
}

/* ---- the daemon's alert stage over the windows ---- */

int mets_op_simulate(const mets_op_windows *w, const mets_labels *l, const mets_alert_policy *const *policies,
                     int artefact_label, double artefact_probability, mets_alarm_events *out, mets_err *err)
{
    static const mets_alert_policy off = {.enabled = false, .raise_k = 1, .raise_n = 1, .raise_probability = 1,
                                          .clear_m = 1, .clear_probability = 1};
    mets_alert_label *al = calloc((size_t)l->nlabels, sizeof *al);
    if (!al)
        return mets_err_set(err, METS_ENOMEM, "out of memory");
    for (int i = 0; i < l->nlabels; i++)
        al[i] = (mets_alert_label){l->groups[l->labels[i].group_index].name, l->labels[i].name,
                                   policies[i] ? policies[i] : &off};
    mets_alert_params ap = mets_alert_default_params();
    ap.max_streams = w->nstreams + 1, ap.artefact_label = artefact_label, ap.artefact_probability = artefact_probability;
    mets_alerter *a = mets_alerter_new(&ap, al, l->nlabels, err);
    free(al);
    if (!a)
        return err->code;
    int cap = mets_alerter_max_events(a), rc = 0;
    mets_alert_event *ev = malloc((size_t)cap * sizeof *ev);
    if (!ev)
        rc = mets_err_set(err, METS_ENOMEM, "out of memory");
    for (int i = 0; i < w->n && !rc; i++) {
        mets_scored_window sw = {w->streams[w->stream[i]], w->start_us[i], w->end_us[i],
                                 w->prob + (size_t)i * w->nlabels, w->cos + (size_t)i * w->nlabels, 0};
        int k = mets_alerter_push(a, &sw, ev, cap, err);
        rc = k < 0 ? k : 0;
        for (int j = 0; j < k && !rc; j++) {
            mets_alarm_event e = {.state = (int)ev[j].state, .technical = ev[j].technical,
                                  .onset_us = ev[j].onset_us, .window_end_us = ev[j].window_end_us};
            snprintf(e.stream, sizeof e.stream, "%s", ev[j].stream_id);
            snprintf(e.label, sizeof e.label, "%s", ev[j].label);
            if (mets_alarm_events_push(out, &e))
                rc = mets_err_set(err, METS_ENOMEM, "out of memory");
        }
    }
    free(ev);
    mets_alerter_free(a);
    return rc;
}

/* ---- the sweep ---- */

static const double raise_ps[] = {0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9};
static const int kn[][2] = {{1, 1}, {1, 2}, {2, 2}, {2, 3}, {3, 3}, {3, 4}, {4, 5}, {4, 6}, {6, 8}};
static const int clear_ms[] = {3, 5};
static const double artefact_ps[] = {-1, 0.3, 0.4, 0.5, 0.6, 0.7};
#define NRAISE (int)(sizeof raise_ps / sizeof *raise_ps)
#define NKN (int)(sizeof kn / sizeof *kn)
#define NCLEAR (int)(sizeof clear_ms / sizeof *clear_ms)
#define NART (int)(sizeof artefact_ps / sizeof *artefact_ps)

typedef struct point {
    mets_alert_policy pol;
    double se, se_long, ppv, fa_h, delay;
    int hit_long, ref_long; /* the long episodes behind se_long */
    int noise_alarms; /* clinical alarms on the NSTDB records (whose patient has none of these rhythms) */
    int ok;
} point;

/* Better by the documented order: qualifying first, then long-episode Se, Se, +P, shorter delay; among
 * the non-qualifying, fewer false alarms. */
static int better(const point *a, const point *b)
{
    if (a->ok != b->ok)
        return a->ok;
    if (!a->ok)
        return a->fa_h + a->noise_alarms < b->fa_h + b->noise_alarms;
#define CMP(x) if (a->x != b->x) return a->x > b->x
    CMP(se_long);
    CMP(se);
    CMP(ppv);
#undef CMP
    return a->delay < b->delay;
}

static double nz(double x)
{
    return isnan(x) ? 0 : x;
}

static int evaluate(const mets_op_windows *w, const mets_labels *l, const mets_alarm_refset *rs, int label,
                    mets_alarm_kind kind, double max_fa, int art, double art_p, point *pt,
                    mets_alarm_noise_row *rows, mets_err *err)
{
    const mets_alert_policy **pols = calloc((size_t)l->nlabels, sizeof *pols);
    mets_alarm_events ev = {0};
    mets_alarm_result r;
    if (!pols)
        return mets_err_set(err, METS_ENOMEM, "out of memory");
    pols[label] = &pt->pol;
    int rc = mets_op_simulate(w, l, pols, art, art_p, &ev, err);
    rc = rc ?: mets_alarm_refset_score(rs, &ev, &r, rows, err);
    if (!rc) {
        const mets_alarm_stats *s = &r.kind[kind];
        double med, p90;
        mets_alarm_delay_quantiles(s, &med, &p90);
        int L = kind == METS_ALARM_AF;
        pt->se = nz(s->ep.se), pt->ppv = nz(s->ep.ppv), pt->delay = isnan(med) ? 1e9 : med;
        pt->hit_long = s->hit_long[L], pt->ref_long = s->ref_long[L];
        pt->se_long = s->ref_long[L] ? (double)s->hit_long[L] / s->ref_long[L] : 0;
        pt->fa_h = r.hours > 0 ? s->false_alarms / r.hours : 0;
        pt->noise_alarms = 0;
        for (int i = 0; i < rs->nnoise; i++)
            pt->noise_alarms += rows[i].clinical_noisy + rows[i].clinical_clean;
        pt->ok = pt->fa_h <= max_fa && pt->noise_alarms == 0;
        mets_alarm_result_free(&r);
    }
    mets_alarm_events_free(&ev);
    free(pols);
    return rc;
}

/* How much of the noisy time at SNR <= 6 dB a technical alarm covers with artefact threshold art_p, and how
 * many technical alarms it raises per hour on the annotated records (a nuisance where the signal is good). */
static int artefact_coverage(const mets_op_windows *w, const mets_labels *l, const mets_alarm_refset *rs, int art,
                             double art_p, mets_alarm_noise_row *rows, double *cover, double *tech_h, mets_err *err)
{
    const mets_alert_policy **pols = calloc((size_t)l->nlabels, sizeof *pols);
    mets_alarm_events ev = {0};
    mets_alarm_result r;
    if (!pols)
        return mets_err_set(err, METS_ENOMEM, "out of memory");
    int rc = mets_op_simulate(w, l, pols, art, art_p, &ev, err);
    rc = rc ?: mets_alarm_refset_score(rs, &ev, &r, rows, err);
    double noisy = 0, covered = 0;
    for (int i = 0; i < rs->nnoise && !rc; i++)
        if (rows[i].snr_db <= 6)
            noisy += rows[i].noisy_s, covered += rows[i].tech_noisy_s;
    *cover = noisy > 0 ? covered / noisy : 0;
    int raised = 0;
    for (int i = 0; i < ev.n && !rc; i++)
        for (int k = 0; k < rs->n; k++)
            raised += ev.ev[i].technical && ev.ev[i].state == 1 && !strcmp(ev.ev[i].stream, rs->names[k]);
    if (!rc) {
        *tech_h = r.hours > 0 ? raised / r.hours : 0;
        mets_alarm_result_free(&r);
    }
    mets_alarm_events_free(&ev);
    free(pols);
    return rc;
}

static void print_points(FILE *out, const point *pts, const mets_op_target *targets, int n)
{
    fprintf(out, "\n| alarm | max false / h | raise_p | k of n | clear_m | Se | Se long | +P | "
                 "false / h | NSTDB alarms | delay median s | meets the limits |\n"
                 "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for (int t = 0; t < n; t++) {
        const point *p = &pts[t];
        fprintf(out, "| %s | %g | %g | %d of %d | %d | %.2f | %.2f (%d/%d) | %.2f | %.2f | %d | %.1f | %s |\n",
                mets_alarm_names[targets[t].kind], targets[t].max_fa, p->pol.raise_probability, p->pol.raise_k,
                p->pol.raise_n, p->pol.clear_m, p->se, p->se_long, p->hit_long, p->ref_long, p->ppv, p->fa_h,
                p->noise_alarms,
                p->delay >= 1e9 ? NAN : p->delay, p->ok ? "yes" : "no");
    }
}

int mets_op_sweep(const mets_op_windows *w, const mets_labels *l, const mets_alert_policy *const *base,
                  const mets_alarm_refset *rs, const mets_alarm_refset *report, const mets_op_target *targets, int n,
                  int artefact_label, FILE *curves, FILE *out, mets_err *err)
{
    point *best = calloc((size_t)NART * n, sizeof *best), *again = calloc((size_t)n, sizeof *again);
    mets_alarm_noise_row *rows = calloc((size_t)rs->nnoise + 1, sizeof *rows);
    mets_alarm_noise_row *report_rows = calloc(report ? (size_t)report->nnoise + 1 : 1, sizeof *report_rows);
    double cover[NART] = {0}, tech_h[NART] = {0};
    int rc = best && again && rows && report_rows ? 0 : mets_err_set(err, METS_ENOMEM, "out of memory");
    fprintf(curves, "alarm,artefact_p,raise_p,k,n,clear_m,se,se_long,ppv,false_per_h,nstdb_alarms,delay_median_s\n");
    for (int a = 0; a < NART && !rc; a++) {
        int art = artefact_ps[a] < 0 ? -1 : artefact_label;
        if (art < 0 && a > 0)
            continue;
        rc = art >= 0 ? artefact_coverage(w, l, rs, art, artefact_ps[a], rows, &cover[a], &tech_h[a], err) : 0;
        for (int t = 0; t < n && !rc; t++) {
            int label = mets_labels_find(l, "rhythm", mets_alarm_labels[targets[t].kind]);
            if (label < 0) {
                rc = mets_err_set(err, METS_EINVAL, "the labels have no rhythm/%s", mets_alarm_labels[targets[t].kind]);
                break;
            }
            point *b = &best[a * n + t];
            for (int i = 0; i < NRAISE && !rc; i++)
                for (int j = 0; j < NKN && !rc; j++)
                    for (int c = 0; c < NCLEAR && !rc; c++) {
                        point p = {.pol = *base[label]};
                        p.pol.enabled = true, p.pol.raise_probability = raise_ps[i];
                        p.pol.raise_k = kn[j][0], p.pol.raise_n = kn[j][1], p.pol.clear_m = clear_ms[c];
                        p.pol.clear_probability = fmax(0.1, raise_ps[i] - 0.2);
                        rc = evaluate(w, l, rs, label, targets[t].kind, targets[t].max_fa, art, art < 0 ? 0.5 : artefact_ps[a],
                                      &p, rows, err);
                        fprintf(curves, "%s,%g,%g,%d,%d,%d,%.4f,%.4f,%.4f,%.4f,%d,%.2f\n",
                                mets_alarm_labels[targets[t].kind], artefact_ps[a], raise_ps[i], kn[j][0], kn[j][1],
                                clear_ms[c], p.se, p.se_long, p.ppv, p.fa_h, p.noise_alarms, p.delay);
                        if (!rc && (!b->pol.enabled || better(&p, b)))
                            *b = p;
                    }
        }
    }
    /* The artefact threshold: most long episodes detected by the chosen points, among those covering at
     * least half of the noisy time at SNR <= 6 dB (without such a threshold: none); ties: fewer technical
     * alarms on the annotated records. */
    int keep = 0;
    double keep_score = -1;
    for (int a = 0; a < NART && !rc; a++) {
        if (a > 0 && (artefact_label < 0 || cover[a] < 0.5))
            continue;
        double score = 0;
        for (int t = 0; t < n; t++)
            score += best[a * n + t].ok ? best[a * n + t].se_long : 0;
        if (score > keep_score + 1e-9 ||
            (a > 0 && score >= keep_score - 1e-9 && (keep == 0 || tech_h[a] < tech_h[keep])))
            keep = a, keep_score = score;
    }
    if (!rc) {
        fprintf(out, "artefact threshold: ");
        for (int a = 0; a < NART; a++)
            if (a == 0 || artefact_label >= 0)
                fprintf(out, a ? ", %g (covers %.0f %% of noisy time at <= 6 dB, %.1f technical alarms per hour "
                                 "on the annotated records)" : "none", artefact_ps[a], 100 * cover[a], tech_h[a]);
        if (keep)
            fprintf(out, "\nchosen: %g\n", artefact_ps[keep]);
        else
            fprintf(out, "\nchosen: none\n");
        print_points(out, best + keep * n, targets, n);
        /* The same points on records they were not chosen on: what a new patient would see. */
        for (int t = 0; t < n && report && !rc; t++) {
            point *p = &again[t];
            *p = best[keep * n + t];
            rc = evaluate(w, l, report, mets_labels_find(l, "rhythm", mets_alarm_labels[targets[t].kind]),
                          targets[t].kind, targets[t].max_fa, keep ? artefact_label : -1, keep ? artefact_ps[keep] : 0.5,
                          p, report_rows, err);
        }
        if (report && !rc) {
            fprintf(out, "\nthe same points on the %d other records (%d NSTDB):\n", report->n, report->nnoise);
            print_points(out, again, targets, n);
        }
        if (keep)
            fprintf(out, "\nalerts:\n  artefact_probability: %g\n  labels:\n    rhythm:\n", artefact_ps[keep]);
        else
            fprintf(out, "\nalerts:   # no artefact threshold covers enough noise: drop artefact_label\n"
                         "  labels:\n    rhythm:\n");
        for (int t = 0; t < n; t++) {
            const point *p = &best[keep * n + t];
            fprintf(out, "      %s: {raise_k: %d, raise_n: %d, raise_probability: %g, clear_m: %d, "
                         "clear_probability: %g}\n", mets_alarm_labels[targets[t].kind], p->pol.raise_k,
                    p->pol.raise_n, p->pol.raise_probability, p->pol.clear_m, p->pol.clear_probability);
        }
    }
    free(best), free(again), free(rows), free(report_rows);
    return rc;
}
