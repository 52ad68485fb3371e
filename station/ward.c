#include "ward.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ecgplot.h"

#define DISPLAY_HZ 100.0 /* the strip of a tile: enough for a QRS on a screen, little to send */
#define MARGIN_US 4000000 /* around an alert in its figure, as `mets plot` */

typedef struct event {
    char alert_id[40], group[64], label[64], text[96];
    int state, priority;
    bool technical, stale;
    float probability;
    int64_t onset_us, window_end_us;
} event;

typedef struct bed {
    char id[METS_FRAME_MAX_ID + 1];
    event *current; /* raised now */
    int ncurrent, capcurrent;
    event *history; /* a ring of the newest params.history events */
    int nhistory, head;
    /* One lead's ECG: a ring of cap samples at hz, the newest ending at end_us. */
    float *ecg;
    int cap, n, last; /* last: the ring index of the newest sample */
    double hz;
    int64_t end_us;
    char lead[8]; /* its name */
} bed;

struct mets_ward {
    pthread_mutex_t mu;
    pthread_cond_t changed;
    mets_ward_params p;
    bed **beds; /* sorted by id */
    int nbeds;
    uint64_t version;
};

mets_ward *mets_ward_new(const mets_ward_params *p, mets_err *err)
{
    mets_ward *w = calloc(1, sizeof *w);
    if (w)
        w->beds = calloc((size_t)p->max_beds, sizeof *w->beds);
    if (!w || !w->beds) {
        free(w);
        mets_err_set(err, METS_ENOMEM, "out of memory");
        return NULL;
    }
    w->p = *p;
    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->changed, &ca);
    pthread_condattr_destroy(&ca);
    return w;
}

void mets_ward_free(mets_ward *w)
{
    if (!w)
        return;
    for (int i = 0; i < w->nbeds; i++) {
        free(w->beds[i]->current), free(w->beds[i]->history), free(w->beds[i]->ecg);
        free(w->beds[i]);
    }
    free(w->beds);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->changed);
    free(w);
}

/* The bed's index, or where it would go (-1 - that). */
static int find(const mets_ward *w, const char *id)
{
    int lo = 0, hi = w->nbeds;
    while (lo < hi) {
        int mid = (lo + hi) / 2, c = strcmp(w->beds[mid]->id, id);
        if (!c)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1 - lo;
}

/* The bed, made when new; NULL when the ward is full or memory runs out. */
static bed *bed_of(mets_ward *w, const char *id)
{
    int i = find(w, id);
    if (i >= 0)
        return w->beds[i];
    if (w->nbeds == w->p.max_beds || strlen(id) > METS_FRAME_MAX_ID)
        return NULL;
    bed *b = calloc(1, sizeof *b);
    if (!b || !(b->history = calloc((size_t)w->p.history, sizeof *b->history))) {
        free(b);
        return NULL;
    }
    strcpy(b->id, id);
    i = -1 - i;
    memmove(w->beds + i + 1, w->beds + i, (size_t)(w->nbeds - i) * sizeof *w->beds);
    w->beds[i] = b;
    w->nbeds++;
    return b;
}

static void changed(mets_ward *w)
{
    w->version++;
    pthread_cond_broadcast(&w->changed);
}

void mets_ward_alert(mets_ward *w, const Mets__V1__Alert *a)
{
    pthread_mutex_lock(&w->mu);
    bed *b = bed_of(w, a->stream_id);
    if (!b) {
        pthread_mutex_unlock(&w->mu);
        return;
    }
    event e = {.state = a->state, .priority = (int)a->priority, .technical = a->technical, .stale = a->stale,
               .probability = a->probability, .onset_us = a->onset_us, .window_end_us = a->window_end_us};
    snprintf(e.alert_id, sizeof e.alert_id, "%s", a->alert_id);
    snprintf(e.group, sizeof e.group, "%s", a->label_group);
    snprintf(e.label, sizeof e.label, "%s", a->label);
    int li = w->p.labels ? mets_labels_find(w->p.labels, a->label_group, a->label) : -1;
    const char *words = li >= 0 ? w->p.labels->prompts[w->p.labels->labels[li].first_prompt] : a->label;
    snprintf(e.text, sizeof e.text, "%s", words);
    if (li < 0)
        for (char *c = e.text; *c; c++)
            *c = *c == '_' ? ' ' : *c;
    b->history[b->head] = e;
    b->head = (b->head + 1) % w->p.history;
    b->nhistory += b->nhistory < w->p.history;
    int i = 0;
    while (i < b->ncurrent && strcmp(b->current[i].alert_id, e.alert_id))
        i++;
    if (a->state == METS__V1__ALERT_STATE__ALERT_STATE_CLEARED) {
        if (i < b->ncurrent)
            b->current[i] = b->current[--b->ncurrent];
    } else if (i < b->ncurrent) {
        b->current[i] = e;
    } else {
        if (b->ncurrent == b->capcurrent) {
            int cap = b->capcurrent ? 2 * b->capcurrent : 4;
            event *c = realloc(b->current, (size_t)cap * sizeof *c);
            if (!c) {
                pthread_mutex_unlock(&w->mu);
                return;
            }
            b->current = c, b->capcurrent = cap;
        }
        b->current[b->ncurrent++] = e;
    }
    changed(w);
    pthread_mutex_unlock(&w->mu);
}

/* Resets the bed's ECG for a rate of hz. */
static int ecg_reset(const mets_ward *w, bed *b, double hz)
{
    int cap = (int)ceil(w->p.keep_s * hz);
    float *e = realloc(b->ecg, (size_t)cap * sizeof *e);
    if (!e)
        return -1;
    b->ecg = e, b->cap = cap, b->n = 0, b->last = cap - 1, b->hz = hz, b->end_us = 0;
    return 0;
}

static void ecg_push(bed *b, float v)
{
    b->last = (b->last + 1) % b->cap;
    b->ecg[b->last] = v;
    b->n += b->n < b->cap;
}

void mets_ward_frame(mets_ward *w, const mets_frame *f)
{
    int lead = mets_frame_lead_index(f, METS_LEAD_II);
    if (lead < 0)
        lead = 0;
    pthread_mutex_lock(&w->mu);
    bed *b = bed_of(w, f->stream_id);
    double step_us = 1e6 / f->rate_hz;
    /* a new rate, or a gap longer than what is kept: start again */
    if (b && (b->hz != f->rate_hz || !b->ecg || (double)(f->t0_us - b->end_us) > w->p.keep_s * 1e6) &&
        ecg_reset(w, b, f->rate_hz))
        b = NULL;
    if (b && (!b->n || (double)f->t0_us > (double)b->end_us - step_us / 2)) {
        if (b->n) /* a gap: no samples (NaN) until the frame */
            for (double t = (double)b->end_us; t < (double)f->t0_us - step_us / 2; t += step_us)
                ecg_push(b, NAN);
        snprintf(b->lead, sizeof b->lead, "%s", mets_lead_name(f->leads[lead]));
        const float *mv = f->mv + (size_t)lead * (size_t)f->nsamples;
        for (int i = 0; i < f->nsamples; i++)
            ecg_push(b, mv[i]);
        b->end_us = mets_frame_end_us(f);
        changed(w);
    }
    pthread_mutex_unlock(&w->mu);
}

uint64_t mets_ward_version(mets_ward *w)
{
    pthread_mutex_lock(&w->mu);
    uint64_t v = w->version;
    pthread_mutex_unlock(&w->mu);
    return v;
}

uint64_t mets_ward_wait(mets_ward *w, uint64_t seen, int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (until.tv_nsec >= 1000000000)
        until.tv_sec++, until.tv_nsec -= 1000000000;
    pthread_mutex_lock(&w->mu);
    while (w->version == seen && pthread_cond_timedwait(&w->changed, &w->mu, &until) != ETIMEDOUT)
        ;
    uint64_t v = w->version;
    pthread_mutex_unlock(&w->mu);
    return v;
}

/* The sample `back` samples before the newest (0: the newest). */
static float ecg_at(const bed *b, int back)
{
    return b->ecg[((b->last - back) % b->cap + b->cap) % b->cap];
}

static json_t *event_json(const event *e, bool with_state)
{
    static const char *const states[] = {"unspecified", "raised", "updated", "cleared"};
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:i, s:b, s:b, s:f, s:I}", "alert_id", e->alert_id, "group", e->group,
                          "label", e->label, "text", e->text, "priority", e->priority, "technical", e->technical,
                          "stale", e->stale,
                          "probability", (double)e->probability, "onset_ms", (json_int_t)(e->onset_us / 1000));
    if (j && with_state) {
        json_object_set_new(j, "state", json_string(states[e->state >= 0 && e->state <= 3 ? e->state : 0]));
        json_object_set_new(j, "window_end_ms", json_integer(e->window_end_us / 1000));
    }
    return j;
}

/* Most urgent first, then the oldest. */
static int by_urgency(const void *x, const void *y)
{
    const event *a = x, *b = y;
    if (a->priority != b->priority)
        return a->priority - b->priority;
    return (a->onset_us > b->onset_us) - (a->onset_us < b->onset_us);
}

/* The tile's strip: the last strip_s seconds at about DISPLAY_HZ, each point the sample of its bucket
 * farthest from zero, so that a QRS survives. */
static json_t *strip_json(const mets_ward *w, const bed *b)
{
    json_t *mv = json_array();
    int n = b->ecg ? (int)fmin(b->n, w->p.strip_s * b->hz) : 0;
    int step = b->hz > DISPLAY_HZ ? (int)ceil(b->hz / DISPLAY_HZ) : 1;
    for (int back = n - 1; mv && back >= step - 1; back -= step) { /* the oldest bucket first */
        float best = NAN;
        for (int k = 0; k < step; k++) {
            float v = ecg_at(b, back - k);
            if (!isnan(v) && (isnan(best) || fabsf(v) > fabsf(best)))
                best = v;
        }
        json_array_append_new(mv, isnan(best) ? json_null() : json_real(round(best * 1000) / 1000));
    }
    return json_pack("{s:f, s:I, s:o}", "hz", b->hz / step, "end_ms", (json_int_t)(b->end_us / 1000), "mv", mv);
}

static char *dump(json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(5)) : NULL;
    json_decref(j);
    return s;
}

char *mets_ward_json(mets_ward *w)
{
    pthread_mutex_lock(&w->mu);
    json_t *beds = json_array();
    for (int i = 0; beds && i < w->nbeds; i++) {
        bed *b = w->beds[i];
        if (b->ncurrent > 1)
            qsort(b->current, (size_t)b->ncurrent, sizeof *b->current, by_urgency);
        json_t *alerts = json_array();
        for (int k = 0; alerts && k < b->ncurrent; k++)
            json_array_append_new(alerts, event_json(&b->current[k], false));
        json_array_append_new(beds, json_pack("{s:s, s:o, s:o}", "bed", b->id, "alerts", alerts, "strip",
                                              strip_json(w, b)));
    }
    pthread_mutex_unlock(&w->mu);
    return dump(json_pack("{s:o}", "beds", beds));
}

char *mets_ward_bed_json(mets_ward *w, const char *id)
{
    pthread_mutex_lock(&w->mu);
    int i = find(w, id);
    json_t *j = NULL;
    if (i >= 0) {
        bed *b = w->beds[i];
        json_t *events = json_array();
        for (int k = 1; events && k <= b->nhistory; k++)
            json_array_append_new(events, event_json(&b->history[(b->head - k + w->p.history) % w->p.history], true));
        j = json_pack("{s:s, s:o}", "bed", b->id, "events", events);
    }
    pthread_mutex_unlock(&w->mu);
    return dump(j);
}

/* The events of alert_id in time order, from the history of its bed: their count (0: none). */
static int alert_events(const mets_ward *w, const char *alert_id, const bed **of, event *out, int max)
{
    for (int i = 0; i < w->nbeds; i++) {
        const bed *b = w->beds[i];
        int n = 0;
        for (int k = b->nhistory; k >= 1 && n < max; k--) {
            const event *e = &b->history[(b->head - k + w->p.history) % w->p.history];
            if (!strcmp(e->alert_id, alert_id))
                out[n++] = *e;
        }
        if (n) {
            *of = b;
            return n;
        }
    }
    return 0;
}

int mets_ward_plot_svg(mets_ward *w, const char *alert_id, FILE *out, mets_err *err)
{
    enum { MAX_EVENTS = 64 };
    event ev[MAX_EVENTS];
    const bed *b = NULL;
    pthread_mutex_lock(&w->mu);
    int nev = alert_events(w, alert_id, &b, ev, MAX_EVENTS);
    if (!nev || !b->n) {
        pthread_mutex_unlock(&w->mu);
        return mets_err_set(err, METS_ENOTFOUND, "alert %.40s: %s", alert_id,
                            nev ? "its bed's ECG is not held" : "not in any bed's history");
    }
    /* The ECG held, from `from_us` on, relative to which every time of the figure is given in seconds. */
    int64_t start_us = b->end_us - (int64_t)llround((double)b->n * 1e6 / b->hz);
    int64_t from_us = ev[0].onset_us - MARGIN_US, to_us = ev[nev - 1].window_end_us + MARGIN_US;
    from_us = from_us < start_us ? start_us : from_us;
    to_us = to_us > b->end_us ? b->end_us : to_us;
    int n = to_us > from_us ? (int)((double)(to_us - from_us) * b->hz / 1e6) : 0;
    float *mv = n ? malloc((size_t)n * sizeof *mv) : NULL;
    if (!mv) {
        pthread_mutex_unlock(&w->mu);
        return mets_err_set(err, n ? METS_ENOMEM : METS_ENOTFOUND, "alert %.40s: %s", alert_id,
                            n ? "out of memory" : "its ECG is no longer held");
    }
    int back0 = (int)llround((double)(b->end_us - from_us) * b->hz / 1e6) - 1;
    for (int i = 0; i < n; i++)
        mv[i] = ecg_at(b, back0 - i);
    double hz = b->hz;
    char title[sizeof b->id + sizeof ev[0].group + sizeof ev[0].label + 4], subtitle[160];
    char marktext[MAX_EVENTS][96], lead[sizeof b->lead];
    snprintf(lead, sizeof lead, "%s", b->lead);
    snprintf(title, sizeof title, "%s  %s/%s", b->id, ev[0].group, ev[0].label);
    pthread_mutex_unlock(&w->mu);

    mets_ecgplot_mark marks[MAX_EVENTS];
    double score_t[MAX_EVENTS];
    float prob[MAX_EVENTS];
    int nmarks = 0;
    for (int i = 0; i < nev; i++) {
        score_t[i] = (double)(ev[i].window_end_us - from_us) / 1e6;
        prob[i] = ev[i].probability;
        if (ev[i].state == METS__V1__ALERT_STATE__ALERT_STATE_RAISED ||
            ev[i].state == METS__V1__ALERT_STATE__ALERT_STATE_CLEARED) {
            bool raised = ev[i].state == METS__V1__ALERT_STATE__ALERT_STATE_RAISED;
            snprintf(marktext[nmarks], sizeof marktext[0], "%s %s %.2f", ev[i].label, raised ? "raised" : "cleared",
                     (double)ev[i].probability);
            marks[nmarks] = (mets_ecgplot_mark){score_t[i], raised ? METS_MARK_RAISED : METS_MARK_CLEARED,
                                                marktext[nmarks]};
            nmarks++;
        }
    }
    time_t onset = (time_t)(ev[0].onset_us / 1000000);
    struct tm tm;
    gmtime_r(&onset, &tm);
    char when[32];
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tm);
    snprintf(subtitle, sizeof subtitle, "onset %s; seconds from %.1f s before it", when,
             (double)(ev[0].onset_us - from_us) / 1e6);
    const char *labels[] = {ev[0].label};
    mets_ecgplot p = {.title = title, .subtitle = subtitle, .from_s = 0, .to_s = (double)n / hz, .fs = hz,
                      .nsamples = n, .nleads = 1, .lead_names = {lead}, .mv = {mv}, .group = ev[0].group,
                      .nlabels = 1, .nscores = nev, .labels = labels, .score_t = score_t, .prob = prob,
                      .highlight = 0, .nmarks = nmarks, .marks = marks};
    double wmm, hmm;
    mets_ecgplot_size(&p, &wmm, &hmm);
    mets_canvas *c = mets_canvas_new(out, METS_CANVAS_SVG, wmm, hmm, 0, err);
    int rc = c ? 0 : METS_EIO;
    if (c) {
        mets_ecgplot_draw(&p, c);
        rc = mets_canvas_finish(c, err);
    }
    free(mv);
    return rc;
}
