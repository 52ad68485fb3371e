#include "alarmeval.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "isotime.h"
#include "streameval.h"
#include "streams.h"
#include "wfdb.h"

const char *const mets_alarm_names[METS_ALARM_KINDS] = {"AF", "flutter", "SVT", "VT", "VF/VFL"};
const char *const mets_alarm_labels[METS_ALARM_KINDS] = {"AFIB", "AFLT", "SVTAC", "VT", "VF"};

static const struct {
    const char *ref[3];
    int nref;
    const char *excluded;
} kinds[METS_ALARM_KINDS] = {
    {{"(AFIB"}, 1, "(AFL"},
    {{"(AFL"}, 1, NULL},
    {{"(SVTA"}, 1, NULL},
    {{"(VT"}, 1, NULL},
    {{"(VFL", "(VF", "(VFIB"}, 3, NULL},
};

static const double long_s[2] = {10, 30};

#define NSTDB_CLEAN_S 300.0 /* noise from minute 5 on ... */
#define NSTDB_PERIOD_S 240.0 /* ... 2 minutes on, 2 minutes off */

int mets_alarm_events_push(mets_alarm_events *out, const mets_alarm_event *ev)
{
    if (out->n == out->cap) {
        int cap = out->cap ? 2 * out->cap : 1024;
        mets_alarm_event *grown = realloc(out->ev, (size_t)cap * sizeof *grown);
        if (!grown)
            return METS_ENOMEM;
        out->ev = grown, out->cap = cap;
    }
    out->ev[out->n++] = *ev;
    return 0;
}

int mets_alarm_json_time(const json_t *o, const char *key, int64_t *us)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? mets_iso_parse_us(s, us) : -1;
}

int mets_alarm_events_read(FILE *f, const char *name, mets_alarm_events *out, mets_err *err)
{
    static const char *const states[] = {"", "raised", "updated", "cleared"};
    char *line = NULL;
    size_t cap = 0;
    int rc = 0;
    for (long no = 1; !rc && getline(&line, &cap, f) >= 0; no++) {
        if (line[strspn(line, " \t\r\n")] == '\0')
            continue;
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        const char *stream = json_string_value(json_object_get(o, "stream_id"));
        const char *label = json_string_value(json_object_get(o, "label"));
        const char *state = json_string_value(json_object_get(o, "state"));
        mets_alarm_event ev = {.technical = json_is_true(json_object_get(o, "technical"))};
        for (int s = 1; state && s <= 3; s++)
            if (!strcmp(state, states[s]))
                ev.state = s;
        if (!o || !stream || !label || !ev.state || mets_alarm_json_time(o, "onset", &ev.onset_us) ||
            mets_alarm_json_time(o, "window_end", &ev.window_end_us) || strlen(stream) >= sizeof ev.stream ||
            strlen(label) >= sizeof ev.label)
            rc = mets_err_set(err, METS_EFORMAT, "%s:%ld: expected an alert event of `mets tail` (stream_id, label, "
                              "state, onset, window_end)", name, no);
        else if (strcmp(label, "signal_lost")) { /* every replayed record ends in one: not the patient's */
            strcpy(ev.stream, stream), strcpy(ev.label, label);
            if (mets_alarm_events_push(out, &ev))
                rc = mets_err_set(err, METS_ENOMEM, "out of memory");
        }
        json_decref(o);
    }
    free(line);
    return rc;
}

void mets_alarm_events_free(mets_alarm_events *e)
{
    free(e->ev);
    memset(e, 0, sizeof *e);
}

/* Appends an episode to the sorted list out[n]. Technical alarms of several labels merge into their union;
 * a clinical alarm raised again stays a new alarm, starting where the last one ended (its first window can
 * reach back into the last one's clearing windows). */
static int emit(mets_alarm_episode *out, int n, int cap, double start, double end, double raised_at, int merge)
{
    if (n > 0 && start <= out[n - 1].end) {
        if (merge) {
            out[n - 1].end = fmax(out[n - 1].end, end);
            return n;
        }
        start = out[n - 1].end;
    }
    if (n < cap && end > start)
        out[n++] = (mets_alarm_episode){start, end, raised_at};
    return n;
}

static int by_start(const void *a, const void *b)
{
    double x = ((const mets_alarm_episode *)a)->start, y = ((const mets_alarm_episode *)b)->start;
    return (x > y) - (x < y);
}

int mets_alarm_episodes(const mets_alarm_events *e, const char *stream, const char *label, int64_t t0_us, double end_s,
                        mets_alarm_episode *out, int cap)
{
    /* Open alarms by label (technical alarms can overlap each other); a clinical label has one. */
    enum { MAX_OPEN = 16 };
    struct {
        char label[32];
        double start, raised_at;
    } open[MAX_OPEN];
    int nopen = 0, n = 0;
    mets_alarm_episode *raw = malloc((size_t)(cap > 0 ? cap : 1) * sizeof *raw);
    if (!raw)
        return 0;
    for (int i = 0; i < e->n; i++) {
        const mets_alarm_event *ev = &e->ev[i];
        if (strcmp(ev->stream, stream) || (label ? ev->technical || strcmp(ev->label, label) : !ev->technical))
            continue;
        int k = 0;
        while (k < nopen && strcmp(open[k].label, ev->label))
            k++;
        double onset = fmax(0, (double)(ev->onset_us - t0_us) * 1e-6);
        double at = fmin(end_s, (double)(ev->window_end_us - t0_us) * 1e-6);
        if (ev->state == 1 && k == nopen && nopen < MAX_OPEN) {
            snprintf(open[nopen].label, sizeof open[nopen].label, "%s", ev->label);
            open[nopen].start = onset, open[nopen++].raised_at = at;
        } else if (ev->state == 3 && k < nopen) {
            if (n < cap)
                raw[n++] = (mets_alarm_episode){open[k].start, fmax(at, open[k].start), open[k].raised_at};
            open[k] = open[--nopen];
        }
    }
    for (int k = 0; k < nopen && n < cap; k++) /* never cleared: up to the end of the record */
        raw[n++] = (mets_alarm_episode){open[k].start, end_s, open[k].raised_at};
    qsort(raw, (size_t)n, sizeof *raw, by_start);
    int m = 0;
    for (int i = 0; i < n; i++)
        m = emit(out, m, cap, raw[i].start, fmin(raw[i].end, end_s), raw[i].raised_at, label == NULL);
    free(raw);
    return m;
}

static int add_delay(mets_alarm_stats *s, double d)
{
    if (s->ndelay == s->cap) {
        int cap = s->cap ? 2 * s->cap : 64;
        double *grown = realloc(s->delay, (size_t)cap * sizeof *grown);
        if (!grown)
            return METS_ENOMEM;
        s->delay = grown, s->cap = cap;
    }
    s->delay[s->ndelay++] = d;
    return 0;
}

static int overlaps(const mets_episode *a, const mets_alarm_episode *b)
{
    return fmin(a->end, b->end) > fmax(a->start, b->start);
}

/* One alarm on one record: reference episodes, alarms less the excluded stretches, and the statistics. */
static int score_kind(const mets_alarm_events *e, const char *stream, int64_t t0_us, double seconds, const mets_annots *a,
                      double fs, int k, mets_alarm_stats *s)
{
    int cap = (int)(a->count + (size_t)e->n) + 8, rc = 0;
    mets_episode *ref = malloc((size_t)cap * sizeof *ref), *excl = malloc((size_t)cap * sizeof *excl);
    mets_episode *det = malloc((size_t)cap * sizeof *det), *kept = malloc((size_t)2 * cap * sizeof *kept);
    mets_alarm_episode *al = malloc((size_t)cap * sizeof *al);
    if (!ref || !excl || !det || !kept || !al) {
        rc = METS_ENOMEM;
        goto out;
    }
    int nref = mets_streameval_reference(a, fs, seconds, kinds[k].ref, kinds[k].nref, ref, cap);
    int nexcl = kinds[k].excluded ? mets_streameval_reference(a, fs, seconds, &kinds[k].excluded, 1, excl, cap) : 0;
    int nal = mets_alarm_episodes(e, stream, mets_alarm_labels[k], t0_us, seconds, al, cap);
    for (int i = 0; i < nal; i++)
        det[i] = (mets_episode){al[i].start, al[i].end};
    int ndet = mets_episodes_subtract(det, nal, excl, nexcl, kept);
    mets_episode_stats st = mets_episode_compare(ref, nref, kept, ndet);
    mets_episode_stats_add(&s->ep, &st);
    s->false_alarms += st.det_episodes - st.det_hit;
    for (int i = 0; i < nref && !rc; i++) {
        int j = 0;
        while (j < nal && !overlaps(&ref[i], &al[j]))
            j++;
        for (int L = 0; L < 2; L++)
            if (ref[i].end - ref[i].start >= long_s[L])
                s->ref_long[L]++, s->hit_long[L] += j < nal;
        if (j < nal)
            rc = add_delay(s, fmax(0, al[j].raised_at - ref[i].start));
    }
out:
    free(ref), free(excl), free(det), free(kept), free(al);
    return rc;
}

int mets_alarm_score_record(const mets_alarm_events *e, const char *stream, int64_t t0_us, double seconds,
                            const mets_annots *a, double fs, mets_alarm_result *r, mets_err *err)
{
    for (int k = 0; k < METS_ALARM_KINDS; k++)
        if (score_kind(e, stream, t0_us, seconds, a, fs, k, &r->kind[k]))
            return mets_err_set(err, METS_ENOMEM, "out of memory");
    r->records++, r->hours += seconds / 3600;
    return 0;
}

void mets_alarm_result_free(mets_alarm_result *r)
{
    for (int k = 0; k < METS_ALARM_KINDS; k++)
        free(r->kind[k].delay);
    memset(r, 0, sizeof *r);
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Linear interpolation between order statistics (numpy's default). */
static double quantile(const double *sorted, int n, double q)
{
    double pos = q * (n - 1);
    int i = (int)pos;
    return i + 1 < n ? sorted[i] + (pos - i) * (sorted[i + 1] - sorted[i]) : sorted[n - 1];
}

void mets_alarm_delay_quantiles(const mets_alarm_stats *s, double *median, double *p90)
{
    *median = *p90 = NAN;
    double *d = s->ndelay ? malloc((size_t)s->ndelay * sizeof *d) : NULL;
    if (!d)
        return;
    memcpy(d, s->delay, (size_t)s->ndelay * sizeof *d);
    qsort(d, (size_t)s->ndelay, sizeof *d, by_value);
    *median = quantile(d, s->ndelay, 0.5), *p90 = quantile(d, s->ndelay, 0.9);
    free(d);
}

static void ratio(FILE *f, int hit, int n)
{
    if (n)
        fprintf(f, " %.2f (%d/%d) |", (double)hit / n, hit, n);
    else
        fprintf(f, " - |");
}

static void num(FILE *f, double x)
{
    fprintf(f, isnan(x) ? " - |" : " %.2f |", x);
}

void mets_alarm_print(FILE *f, const mets_alarm_result *r)
{
    fprintf(f, "Alarms of the daemon, EC57 episodes: %d records, %.2f bed-hours\n\n", r->records, r->hours);
    fprintf(f, "| alarm | reference episodes | alarms | episode Se | Se >= 10 s | Se >= 30 s | episode +P | duration Se "
               "| duration +P | false alarms | false / bed-hour | delay median s | delay p90 s |\n");
    fprintf(f, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (int k = 0; k < METS_ALARM_KINDS; k++) {
        const mets_alarm_stats *s = &r->kind[k];
        double med, p90;
        mets_alarm_delay_quantiles(s, &med, &p90);
        fprintf(f, "| %s | %d | %d |", mets_alarm_names[k], s->ep.ref_episodes, s->ep.det_episodes);
        ratio(f, s->ep.ref_hit, s->ep.ref_episodes);
        ratio(f, s->hit_long[0], s->ref_long[0]);
        ratio(f, s->hit_long[1], s->ref_long[1]);
        ratio(f, s->ep.det_hit, s->ep.det_episodes);
        num(f, s->ep.dur_se), num(f, s->ep.dur_ppv);
        fprintf(f, " %d |", s->false_alarms);
        num(f, r->hours > 0 ? s->false_alarms / r->hours : NAN);
        num(f, med), num(f, p90);
        fputc('\n', f);
    }
}

int mets_alarm_nstdb_snr(const char *name, int *snr_db)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    if (strncmp(base, "118e", 4) && strncmp(base, "119e", 4))
        return -1;
    const char *v = base + 4;
    int sign = *v == '_' ? -1 : 1;
    v += *v == '_';
    if (v[0] < '0' || v[0] > '9' || (v[1] && (v[1] < '0' || v[1] > '9' || v[2])))
        return -1;
    *snr_db = sign * atoi(v);
    return 0;
}

static int noise_on(double t)
{
    return t >= NSTDB_CLEAN_S && fmod(t - NSTDB_CLEAN_S, NSTDB_PERIOD_S) < NSTDB_PERIOD_S / 2;
}

/* Seconds of [a, b) with the noise on. */
static double noisy_seconds(double a, double b)
{
    double s = 0;
    for (double on = NSTDB_CLEAN_S; on < b; on += NSTDB_PERIOD_S)
        s += fmax(0, fmin(b, on + NSTDB_PERIOD_S / 2) - fmax(a, on));
    return s;
}

void mets_alarm_noise_record(const mets_alarm_events *e, const char *stream, const char *name, int64_t t0_us,
                             double seconds, mets_alarm_noise_row *row)
{
    memset(row, 0, sizeof *row);
    snprintf(row->name, sizeof row->name, "%s", name);
    mets_alarm_nstdb_snr(name, &row->snr_db);
    row->noisy_s = noisy_seconds(0, seconds), row->clean_s = seconds - row->noisy_s;
    for (int i = 0; i < e->n; i++) {
        const mets_alarm_event *ev = &e->ev[i];
        if (strcmp(ev->stream, stream) || ev->state != 1)
            continue;
        double at = (double)(ev->window_end_us - t0_us) * 1e-6;
        if (ev->technical)
            row->tech_raised++;
        else if (noise_on(at))
            row->clinical_noisy++;
        else
            row->clinical_clean++;
    }
    int cap = e->n + 1;
    mets_alarm_episode *t = malloc((size_t)cap * sizeof *t);
    int n = t ? mets_alarm_episodes(e, stream, NULL, t0_us, seconds, t, cap) : 0;
    for (int i = 0; i < n; i++) {
        double in = noisy_seconds(t[i].start, t[i].end);
        row->tech_noisy_s += in, row->tech_clean_s += t[i].end - t[i].start - in;
    }
    free(t);
}

void mets_alarm_noise_print(FILE *f, const mets_alarm_noise_row *rows, int n)
{
    fprintf(f, "\nNoise stress test (NSTDB, electrode motion from minute 5, 2 min on / 2 min off)\n\n");
    fprintf(f, "| record | SNR dB | noisy min | clinical alarms in noise | per noisy hour | clinical alarms in clean | "
               "technical alarm over noisy time | over clean time | technical raised |\n");
    fprintf(f, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (int i = 0; i < n; i++) {
        const mets_alarm_noise_row *r = &rows[i];
        fprintf(f, "| %s | %d | %.1f | %d | %.1f | %d | %.0f %% | %.0f %% | %d |\n", r->name, r->snr_db,
                r->noisy_s / 60, r->clinical_noisy, r->noisy_s > 0 ? r->clinical_noisy * 3600 / r->noisy_s : 0,
                r->clinical_clean, r->noisy_s > 0 ? 100 * r->tech_noisy_s / r->noisy_s : 0,
                r->clean_s > 0 ? 100 * r->tech_clean_s / r->clean_s : 0, r->tech_raised);
    }
}

/* The record's length in seconds and its rate, from its header; METS_ENOTFOUND when it is not there. */
static int record_length(const char *dir, const char *name, double *seconds, double *fs, mets_err *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    mets_wfdb_record *rec = mets_wfdb_open(path, err);
    if (!rec)
        return err->code;
    *fs = mets_wfdb_fs(rec), *seconds = (double)mets_wfdb_nsamp(rec) / *fs;
    mets_wfdb_free(rec);
    return 0;
}

/* Keeps the names of list[n] whose records are in dir (their lengths in seconds[]), freeing the others. */
static int keep_present(const char *dir, char **list, int n, double *seconds, double *fs, int *kept, mets_err *err)
{
    int k = 0, rc = 0;
    for (int i = 0; i < n; i++) {
        double fs_i = 0;
        if (!rc && !(rc = record_length(dir, list[i], &seconds[k], &fs_i, err))) {
            if (fs)
                fs[k] = fs_i;
            list[k++] = list[i];
            continue;
        }
        rc = rc == METS_ENOTFOUND ? 0 : rc; /* listed, but not in this data folder */
        free(list[i]);
    }
    *kept = k;
    return rc;
}

int mets_alarm_refset_load(const char *dir, const char *records, const char *exclude, const char *nstdb, int64_t t0_us,
                           mets_alarm_refset *rs, mets_err *err)
{
    memset(rs, 0, sizeof *rs);
    rs->t0_us = t0_us;
    int n = 0, nn = 0, snr;
    int rc = mets_streams_list(dir, records, exclude, &rs->names, &n, err);
    if (!rc && strcmp(nstdb, "none"))
        rc = mets_streams_list(dir, nstdb, "none", &rs->noise, &nn, err);
    rs->seconds = calloc((size_t)n + 1, sizeof *rs->seconds), rs->fs = calloc((size_t)n + 1, sizeof *rs->fs);
    rs->noise_seconds = calloc((size_t)nn + 1, sizeof *rs->noise_seconds);
    rs->annots = calloc((size_t)n + 1, sizeof *rs->annots);
    if (!rc && (!rs->seconds || !rs->fs || !rs->noise_seconds || !rs->annots))
        rc = mets_err_set(err, METS_ENOMEM, "out of memory");
    rs->n = n, rs->nnoise = nn; /* until keep_present, so that a failure frees every name */
    if (!rc)
        rc = keep_present(dir, rs->names, n, rs->seconds, rs->fs, &rs->n, err);
    if (!rc)
        rc = keep_present(dir, rs->noise, nn, rs->noise_seconds, NULL, &rs->nnoise, err);
    for (int i = 0; i < rs->nnoise && !rc; i++)
        if (mets_alarm_nstdb_snr(rs->noise[i], &snr))
            rc = mets_err_set(err, METS_EINVAL, "%s is not a noise stress test record (118eNN)", rs->noise[i]);
    for (int i = 0; i < rs->n && !rc; i++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s.atr", dir, rs->names[i]);
        rc = mets_annot_read(path, &rs->annots[i], err);
    }
    if (rc)
        mets_alarm_refset_free(rs);
    return rc;
}

void mets_alarm_refset_free(mets_alarm_refset *rs)
{
    for (int i = 0; rs->annots && i < rs->n; i++)
        mets_annots_free(&rs->annots[i]);
    mets_streams_list_free(rs->names, rs->n), mets_streams_list_free(rs->noise, rs->nnoise);
    free(rs->seconds), free(rs->fs), free(rs->noise_seconds), free(rs->annots);
    memset(rs, 0, sizeof *rs);
}

int mets_alarm_refset_score(const mets_alarm_refset *rs, const mets_alarm_events *e, mets_alarm_result *r,
                            mets_alarm_noise_row *rows, mets_err *err)
{
    memset(r, 0, sizeof *r);
    int rc = 0;
    for (int i = 0; i < rs->n && !rc; i++)
        rc = mets_alarm_score_record(e, rs->names[i], rs->t0_us, rs->seconds[i], &rs->annots[i], rs->fs[i], r, err);
    for (int i = 0; i < rs->nnoise && !rc; i++)
        mets_alarm_noise_record(e, rs->noise[i], rs->noise[i], rs->t0_us, rs->noise_seconds[i], &rows[i]);
    return rc;
}
