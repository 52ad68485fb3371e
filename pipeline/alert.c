/* The alert state machine (alert.h has the rules).
 *
 * State bytes of one stream, little-endian, version 2:
 *     "MALS" u16 version u16 nlabels (clinical + technical) u64 label-set fingerprint
 *     u8 id length, id bytes, i64 last window start, u32 window count, i64 starts[METS_ALERT_MAX_N]
 *     per label: u32 history, u32 below run, u8 raised, f32 last sent probability,
 *                i64 onset, i64 end of the raising window, i64 end of the last sent window
 */
#include "alert.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "failpoint.h"
#include "hash.h"

#define STATE_MAGIC "MALS"
#define STATE_VERSION 2 /* 2: the technical label signal_lost */
#define STATE_HEADER (4 + 2 + 2 + 8 + 1 + METS_ALERT_MAX_ID + 8 + 4 + 8 * METS_ALERT_MAX_N)
#define STATE_LABEL (4 + 4 + 1 + 4 + 8 + 8 + 8)
#define US_PER_S 1e6

static const char *const tech_names[METS_ALERT_NTECH] = {"lead_off",   "flat_signal",  "saturation",
                                                         "signal_gap", "noisy_signal", "signal_lost"};

/* A policy in the units the state machine compares in. */
typedef struct rule {
    bool enabled; /* false: the label is scored but never alerts */
    int raise_k, raise_n, clear_m, priority;
    double raise_p, clear_p;
    int64_t min_duration_us, realert_us;
} rule;

typedef struct label_info {
    char *group, *name;
    int group_id; /* labels that compete in one softmax share it; -1 for technical labels */
    rule r;
} label_info;

/* One (stream, label): fixed size, whatever the policy. */
typedef struct label_state {
    uint32_t hist;      /* while idle, bit i: the window i windows back was above (bit 0: the newest) */
    uint32_t below_run; /* while raised, consecutive below windows, at most clear_m */
    uint8_t raised;
    float sent_p; /* probability of the last RAISED or UPDATED */
    int64_t onset_us, raised_end_us, sent_end_us;
} label_state;

typedef struct stream {
    struct stream *next; /* in its hash bucket */
    uint64_t hash;
    char id[METS_ALERT_MAX_ID + 1];
    int64_t last_start_us;
    uint32_t nwin;                    /* windows seen; only its value mod METS_ALERT_MAX_N matters */
    int64_t starts[METS_ALERT_MAX_N]; /* start of the last windows, the newest at (nwin - 1) mod MAX_N */
    label_state st[];                 /* the clinical labels, then METS_ALERT_NTECH technical ones */
} stream;

struct mets_alerter {
    mets_alert_params p; /* its version strings point at the copies below */
    char *model_version, *prompt_set_version;
    int nclinical, nlabels;
    label_info *labels;
    uint64_t fingerprint; /* of the label names, so state is not restored into another label set */
    int *raised;          /* [nlabels]: streams with the label raised */
    stream **buckets;
    int nbuckets, nstreams; /* nbuckets a power of two */
};

mets_alert_params mets_alert_default_params(void)
{
    return (mets_alert_params){.update_step = 0.1,
                               .tech_raise_windows = 1,
                               .tech_clear_windows = 2,
                               .tech_realert_interval_s = 300,
                               .tech_priority = METS_PRIORITY_MEDIUM,
                               .max_streams = 1024,
                               .artefact_label = -1,
                               .artefact_probability = 0.5,
                               .model_version = "",
                               .prompt_set_version = ""};
}

/* ---- hashing ---- */

static unsigned __int128 fnv128(unsigned __int128 h, const void *data, size_t n)
{
    const unsigned __int128 prime = ((unsigned __int128)1 << 88) | 0x13b;
    const uint8_t *b = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * prime;
    return h;
}

/* FNV-1a 128 of stream \0 group \0 label \0 onset (8 bytes little-endian), as 32 hex digits: the same in
 * every replay, so that consumers of an at-least-once run can de-duplicate. */
static void alert_id(const char *stream_id, const label_info *li, int64_t onset_us, char out[33])
{
    unsigned __int128 h = ((unsigned __int128)0x6c62272e07bb0142ull << 64) | 0x62b821756295c58dull;
    uint8_t onset[8];
    for (int i = 0; i < 8; i++)
        onset[i] = (uint8_t)((uint64_t)onset_us >> (8 * i));
    h = fnv128(h, stream_id, strlen(stream_id) + 1);
    h = fnv128(h, li->group, strlen(li->group) + 1);
    h = fnv128(h, li->name, strlen(li->name) + 1);
    h = fnv128(h, onset, sizeof onset);
    for (int i = 0; i < 32; i++)
        out[i] = "0123456789abcdef"[(unsigned)(h >> (124 - 4 * i)) & 15];
    out[32] = '\0';
}

/* ---- construction ---- */

static int check_policy(const mets_alert_label *l, mets_err *err)
{
    const mets_alert_policy *p = l->policy;
    const char *why = NULL;
    if (p->raise_n < 1 || p->raise_n > METS_ALERT_MAX_N)
        return mets_err_set(err, METS_EINVAL, "alert policy of %s/%s: raise_n %d is not within 1..%d", l->group,
                            l->name, p->raise_n, METS_ALERT_MAX_N);
    if (p->raise_k < 1 || p->raise_k > p->raise_n)
        why = "raise_k must be 1..raise_n";
    else if (p->clear_m < 1)
        why = "clear_m must be at least 1";
    else if (!(p->clear_probability >= 0 && p->clear_probability <= p->raise_probability && p->raise_probability <= 1))
        why = "need 0 <= clear_probability <= raise_probability <= 1";
    else if (!(p->min_duration_s >= 0 && p->min_duration_s < 1e9 && p->realert_interval_s >= 0 &&
               p->realert_interval_s < 1e9))
        why = "min_duration_s and realert_interval_s must be 0..1e9 s";
    return why ? mets_err_set(err, METS_EINVAL, "alert policy of %s/%s: %s", l->group, l->name, why) : 0;
}

static rule rule_of(const mets_alert_policy *p)
{
    return (rule){.enabled = p->enabled,
                  .raise_k = p->raise_k,
                  .raise_n = p->raise_n,
                  .clear_m = p->clear_m,
                  .priority = p->priority,
                  .raise_p = p->raise_probability,
                  .clear_p = p->clear_probability,
                  .min_duration_us = llround(p->min_duration_s * US_PER_S),
                  .realert_us = llround(p->realert_interval_s * US_PER_S)};
}

/* Technical conditions are 1 when present and 0 when absent, through the same machine as clinical labels.
 * A lost signal is the most urgent of them: nothing at all is being watched. */
static rule tech_rule(const mets_alert_params *p, int t)
{
    return (rule){.enabled = true,
                  .raise_k = p->tech_raise_windows,
                  .raise_n = p->tech_raise_windows,
                  .clear_m = p->tech_clear_windows,
                  .priority = t == METS_ALERT_TECH_SIGNAL_LOST ? METS_PRIORITY_HIGH : p->tech_priority,
                  .raise_p = 1,
                  .clear_p = 0.5,
                  .min_duration_us = 0,
                  .realert_us = llround(p->tech_realert_interval_s * US_PER_S)};
}

static int check_params(const mets_alert_params *p, mets_err *err)
{
    if (!(p->update_step >= 0 && p->update_step <= 1))
        return mets_err_set(err, METS_EINVAL, "alerter: update_step %g is not within [0, 1]", p->update_step);
    if (p->tech_raise_windows < 1 || p->tech_raise_windows > METS_ALERT_MAX_N || p->tech_clear_windows < 1)
        return mets_err_set(err, METS_EINVAL, "alerter: tech_raise_windows must be 1..%d, tech_clear_windows >= 1",
                            METS_ALERT_MAX_N);
    if (!(p->tech_realert_interval_s >= 0 && p->tech_realert_interval_s < 1e9) || p->max_streams < 1)
        return mets_err_set(err, METS_EINVAL, "alerter: bad tech_realert_interval_s or max_streams");
    if (!(p->artefact_probability >= 0 && p->artefact_probability <= 1))
        return mets_err_set(err, METS_EINVAL, "alerter: artefact_probability %g is not within [0, 1]",
                            p->artefact_probability);
    if (!p->model_version || !p->prompt_set_version)
        return mets_err_set(err, METS_EINVAL, "alerter: model_version and prompt_set_version must be set");
    return 0;
}

static int check_label(const mets_alert_label *l, mets_err *err)
{
    if (!l->group || !l->name || !*l->group || !*l->name || !l->policy)
        return mets_err_set(err, METS_EINVAL, "alerter: a label without group, name or policy");
    if (!strcmp(l->group, METS_ALERT_TECH_GROUP))
        return mets_err_set(err, METS_EINVAL, "alerter: label group '%s' is reserved for technical alerts", l->group);
    return check_policy(l, err);
}

static int add_labels(mets_alerter *a, const mets_alert_label *labels, mets_err *err)
{
    for (int i = 0; i < a->nlabels; i++) {
        label_info *li = &a->labels[i];
        bool tech = i >= a->nclinical;
        int rc = tech ? 0 : check_label(&labels[i], err);
        if (rc)
            return rc;
        li->group = strdup(tech ? METS_ALERT_TECH_GROUP : labels[i].group);
        li->name = strdup(tech ? tech_names[i - a->nclinical] : labels[i].name);
        if (!li->group || !li->name)
            return mets_err_set(err, METS_ENOMEM, "alerter: out of memory");
        li->r = tech ? tech_rule(&a->p, i - a->nclinical) : rule_of(labels[i].policy);
        li->group_id = tech ? -1 : i;
        for (int j = 0; j < i && !tech; j++)
            if (!strcmp(a->labels[j].group, li->group))
                li->group_id = a->labels[j].group_id;
        a->fingerprint = mets_fnv64(a->fingerprint, li->group, strlen(li->group) + 1);
        a->fingerprint = mets_fnv64(a->fingerprint, li->name, strlen(li->name) + 1);
    }
    return 0;
}

mets_alerter *mets_alerter_new(const mets_alert_params *p, const mets_alert_label *labels, int nlabels,
                               mets_err *err)
{
    if (nlabels < 0 || nlabels > 65535 - METS_ALERT_NTECH || (nlabels && !labels)) {
        mets_err_set(err, METS_EINVAL, "alerter: %d labels", nlabels);
        return NULL;
    }
    if (check_params(p, err))
        return NULL;
    if (p->artefact_label >= nlabels) {
        mets_err_set(err, METS_EINVAL, "alerter: artefact_label %d is not one of the %d labels", p->artefact_label,
                     nlabels);
        return NULL;
    }
    mets_alerter *a = calloc(1, sizeof *a);
    if (!a) {
        mets_err_set(err, METS_ENOMEM, "alerter: out of memory");
        return NULL;
    }
    a->p = *p;
    a->nclinical = nlabels;
    a->nlabels = nlabels + METS_ALERT_NTECH;
    a->fingerprint = METS_FNV64_BASIS;
    a->nbuckets = 16;
    a->labels = calloc(a->nlabels, sizeof *a->labels);
    a->buckets = calloc(a->nbuckets, sizeof *a->buckets);
    a->raised = calloc(a->nlabels, sizeof *a->raised);
    a->p.model_version = a->model_version = strdup(p->model_version);
    a->p.prompt_set_version = a->prompt_set_version = strdup(p->prompt_set_version);
    if (!a->labels || !a->buckets || !a->raised || !a->model_version || !a->prompt_set_version) {
        mets_err_set(err, METS_ENOMEM, "alerter: out of memory");
        mets_alerter_free(a);
        return NULL;
    }
    if (add_labels(a, labels, err)) {
        mets_alerter_free(a);
        return NULL;
    }
    return a;
}

int mets_alerter_set_prompt_set_version(mets_alerter *a, const char *version, mets_err *err)
{
    char *copy = strdup(version);
    if (!copy)
        return mets_err_set(err, METS_ENOMEM, "alerter: out of memory");
    free(a->prompt_set_version);
    a->p.prompt_set_version = a->prompt_set_version = copy;
    return 0;
}

void mets_alerter_free(mets_alerter *a)
{
    if (!a)
        return;
    for (int b = 0; b < a->nbuckets && a->buckets; b++)
        for (stream *s = a->buckets[b], *next; s; s = next) {
            next = s->next;
            free(s);
        }
    for (int i = 0; i < a->nlabels && a->labels; i++) {
        free(a->labels[i].group);
        free(a->labels[i].name);
    }
    free(a->labels);
    free(a->buckets);
    free(a->raised);
    free(a->model_version);
    free(a->prompt_set_version);
    free(a);
}

int mets_alerter_max_events(const mets_alerter *a)
{
    return a->nlabels; /* at most one event per label and window */
}

/* ---- streams ---- */

static stream **find_slot(const mets_alerter *a, const char *id, uint64_t hash)
{
    stream **sp = &a->buckets[hash & (uint64_t)(a->nbuckets - 1)];
    while (*sp && ((*sp)->hash != hash || strcmp((*sp)->id, id)))
        sp = &(*sp)->next;
    return sp;
}

static stream *find_stream(const mets_alerter *a, const char *id)
{
    return *find_slot(a, id, mets_fnv64_str(id));
}

/* Doubles the buckets when they hold more streams than buckets, so chains stay short. */
static void maybe_grow(mets_alerter *a)
{
    if (a->nstreams < a->nbuckets)
        return;
    stream **nb = calloc(2 * (size_t)a->nbuckets, sizeof *nb);
    if (!nb)
        return; /* longer chains, still correct */
    for (int b = 0; b < a->nbuckets; b++)
        for (stream *s = a->buckets[b], *next; s; s = next) {
            next = s->next;
            stream **head = &nb[s->hash & (uint64_t)(2 * a->nbuckets - 1)];
            s->next = *head;
            *head = s;
        }
    free(a->buckets);
    a->buckets = nb;
    a->nbuckets *= 2;
}

static size_t stream_size(const mets_alerter *a)
{
    return sizeof(stream) + (size_t)a->nlabels * sizeof(label_state);
}

/* Makes room at max_streams: the stream with nothing raised whose last window is the oldest gives way (it
 * loses a few windows of k-of-n history); false when every stream has an alert raised. */
static bool evict_one(mets_alerter *a)
{
    stream **victim = NULL;
    for (int b = 0; b < a->nbuckets; b++)
        for (stream **sp = &a->buckets[b]; *sp; sp = &(*sp)->next) {
            bool raised = false;
            for (int i = 0; i < a->nlabels && !raised; i++)
                raised = (*sp)->st[i].raised;
            if (!raised && (!victim || (*sp)->last_start_us < (*victim)->last_start_us))
                victim = sp;
        }
    if (!victim)
        return false;
    stream *s = *victim;
    *victim = s->next;
    free(s);
    a->nstreams--;
    return true;
}

/* A new, empty stream for id, not yet in the table: room for it unless it replaces one of the same id. */
static int stream_new(mets_alerter *a, const char *id, stream **out, mets_err *err)
{
    if (a->nstreams >= a->p.max_streams && !find_stream(a, id) && !evict_one(a))
        return mets_err_set(err, METS_ENOMEM, "alerter: stream '%s' would exceed max_streams (%d), and every stream "
                            "has an alert raised", id, a->p.max_streams);
    stream *s = calloc(1, stream_size(a));
    if (!s)
        return mets_err_set(err, METS_ENOMEM, "alerter: out of memory");
    s->hash = mets_fnv64_str(id);
    memcpy(s->id, id, strlen(id) + 1);
    s->last_start_us = INT64_MIN;
    *out = s;
    return 0;
}

/* Adds sign to the raised counts of the labels s has raised. */
static void count_raised(mets_alerter *a, const stream *s, int sign)
{
    for (int i = 0; i < a->nlabels; i++)
        a->raised[i] += sign * s->st[i].raised;
}

/* Puts s in the table in place of a stream of the same id, if any. */
static void stream_install(mets_alerter *a, stream *s)
{
    stream **sp = find_slot(a, s->id, s->hash);
    count_raised(a, s, 1);
    if (*sp) {
        count_raised(a, *sp, -1);
        s->next = (*sp)->next;
        free(*sp);
        *sp = s;
        return;
    }
    s->next = NULL;
    *sp = s;
    a->nstreams++;
    maybe_grow(a);
}

int mets_alerter_drop(mets_alerter *a, const char *stream_id)
{
    stream **sp = find_slot(a, stream_id, mets_fnv64_str(stream_id));
    if (!*sp)
        return METS_ENOTFOUND;
    stream *s = *sp;
    *sp = s->next;
    count_raised(a, s, -1);
    free(s);
    a->nstreams--;
    return 0;
}

/* ---- the state machine ---- */

static bool valid_id(const char *id)
{
    size_t n = id ? strnlen(id, METS_ALERT_MAX_ID + 1) : 0;
    return n >= 1 && n <= METS_ALERT_MAX_ID;
}

static int check_window(const mets_alerter *a, const mets_scored_window *w, mets_err *err)
{
    if (!valid_id(w->stream_id))
        return mets_err_set(err, METS_EINVAL, "alerter: stream id missing or longer than %d bytes", METS_ALERT_MAX_ID);
    if (w->end_us <= w->start_us)
        return mets_err_set(err, METS_EINVAL, "alerter: %s: window ends before it starts", w->stream_id);
    if (w->tech >> METS_ALERT_TECH_SIGNAL_LOST)
        return mets_err_set(err, METS_EINVAL, "alerter: %s: unknown technical bits 0x%x", w->stream_id, w->tech);
    if (!w->tech && (!w->prob || !w->cos))
        return mets_err_set(err, METS_EINVAL, "alerter: %s: a window without faults must have scores", w->stream_id);
    for (int i = 0; w->prob && w->cos && i < a->nclinical; i++)
        if (!(w->prob[i] >= 0 && w->prob[i] <= 1 && isfinite(w->cos[i])))
            return mets_err_set(err, METS_EINVAL, "alerter: %s: label %s/%s has probability %g, cosine %g",
                                w->stream_id, a->labels[i].group, a->labels[i].name, w->prob[i], w->cos[i]);
    return 0;
}

/* The other labels of i's group, most probable first (ties: the earlier label). */
static int competitors(const mets_alerter *a, int i, const float *prob, mets_alert_competitor *out)
{
    int n = 0;
    for (int j = 0; j < a->nclinical; j++) {
        if (j == i || a->labels[j].group_id != a->labels[i].group_id)
            continue;
        int at = n < METS_ALERT_NCOMPETING ? n++ : METS_ALERT_NCOMPETING;
        while (at > 0 && prob[j] > out[at - 1].probability) {
            if (at < METS_ALERT_NCOMPETING)
                out[at] = out[at - 1];
            at--;
        }
        if (at < METS_ALERT_NCOMPETING)
            out[at] = (mets_alert_competitor){a->labels[j].name, prob[j]};
    }
    return n;
}

static void emit(const mets_alerter *a, int i, const label_state *st, const mets_scored_window *w, float p, float c,
                 mets_alert_state state, mets_alert_event *ev)
{
    const label_info *li = &a->labels[i];
    bool tech = i >= a->nclinical;
    *ev = (mets_alert_event){.stream_id = w->stream_id,
                             .group = li->group,
                             .label = li->name,
                             .state = state,
                             .probability = p,
                             .cosine = c,
                             .onset_us = st->onset_us,
                             .window_start_us = w->start_us,
                             .window_end_us = w->end_us,
                             .model_version = a->model_version,
                             .prompt_set_version = a->prompt_set_version,
                             .priority = li->r.priority,
                             .technical = tech};
    alert_id(w->stream_id, li, st->onset_us, ev->id);
    if (!tech && w->prob)
        ev->ncompeting = competitors(a, i, w->prob, ev->competing);
}

/* Idle: k of the last n windows above raises, with the oldest of them as onset. */
static bool step_idle(const stream *s, label_state *st, const rule *r, const mets_scored_window *w, float p)
{
    uint32_t mask = r->raise_n == 32 ? UINT32_MAX : (1u << r->raise_n) - 1;
    st->hist = ((st->hist << 1) | (p >= r->raise_p)) & mask;
    if (__builtin_popcount(st->hist) < r->raise_k)
        return false;
    int oldest = 31 - __builtin_clz(st->hist);
    st->onset_us = s->starts[(s->nwin - 1 - (uint32_t)oldest) % METS_ALERT_MAX_N];
    st->raised = 1;
    st->raised_end_us = w->end_us;
    st->below_run = 0;
    st->hist = 0;
    return true;
}

/* Raised: what this window changes, 0 for nothing. */
static int step_raised(const mets_alerter *a, label_state *st, const rule *r, const mets_scored_window *w, float p)
{
    bool below = p < r->clear_p;
    st->below_run = below ? st->below_run + (st->below_run < (uint32_t)r->clear_m) : 0;
    if (st->below_run >= (uint32_t)r->clear_m && w->end_us - st->raised_end_us >= r->min_duration_us)
        return METS_ALERT_CLEARED;
    if (!below && fabs((double)p - st->sent_p) > a->p.update_step)
        return METS_ALERT_UPDATED;
    if (r->realert_us > 0 && w->end_us - st->sent_end_us >= r->realert_us)
        return METS_ALERT_UPDATED;
    return 0;
}

/* Advances label i of s by one window; writes an event to ev and returns 1 if it causes one. */
static int step(mets_alerter *a, stream *s, int i, const mets_scored_window *w, float p, float c,
                mets_alert_event *ev)
{
    label_state *st = &s->st[i];
    const rule *r = &a->labels[i].r;
    int state = st->raised ? step_raised(a, st, r, w, p) : (step_idle(s, st, r, w, p) ? METS_ALERT_RAISED : 0);
    if (!state)
        return 0;
    emit(a, i, st, w, p, c, state, ev);
    a->raised[i] += state == METS_ALERT_RAISED ? 1 : state == METS_ALERT_CLEARED ? -1 : 0;
    if (state == METS_ALERT_CLEARED) {
        *st = (label_state){0};
    } else {
        st->sent_p = p;
        st->sent_end_us = w->end_us;
    }
    return 1;
}

/* A technical fault: clinical scores say nothing, so nothing is raised, updated or cleared on them. */
static void hold(label_state *st)
{
    st->hist = 0;
    st->below_run = 0;
}

int mets_alerter_push(mets_alerter *a, const mets_scored_window *w, mets_alert_event *out, int cap, mets_err *err)
{
    int rc = check_window(a, w, err);
    if (rc)
        return rc;
    if (cap < a->nlabels)
        return mets_err_set(err, METS_EINVAL, "alerter: room for %d events, %d needed", cap, a->nlabels);
    if (mets_failpoint("alert.push"))
        return mets_err_set(err, METS_ENOMEM, "alerter: injected failure");
    stream *s = find_stream(a, w->stream_id);
    if (s && w->start_us <= s->last_start_us)
        return mets_err_set(err, METS_EINVAL, "alerter: %s: window at %lld us does not start after the last one",
                            w->stream_id, (long long)w->start_us);
    if (!s) {
        if ((rc = stream_new(a, w->stream_id, &s, err)))
            return rc;
        stream_install(a, s);
    }
    s->last_start_us = w->start_us;
    s->starts[s->nwin++ % METS_ALERT_MAX_N] = w->start_us;
    int n = 0, art = a->p.artefact_label;
    unsigned tech = w->tech;
    if (art >= 0 && w->prob && w->prob[art] >= a->p.artefact_probability)
        tech |= METS_ALERT_TECH_BIT(METS_ALERT_TECH_NOISE);
    bool suppressed = tech != 0;
    for (int t = 0; t < METS_ALERT_NTECH; t++) {
        int i = a->nclinical + t;
        if (t != METS_ALERT_TECH_SIGNAL_LOST)
            n += step(a, s, i, w, (tech >> t) & 1, 0, &out[n]);
        suppressed |= s->st[i].raised;
    }
    for (int i = 0; i < a->nclinical; i++) {
        if (!a->labels[i].r.enabled)
            continue;
        if (suppressed)
            hold(&s->st[i]);
        else
            n += step(a, s, i, w, w->prob[i], w->cos[i], &out[n]);
    }
    return n;
}

int mets_alerter_signal(mets_alerter *a, const char *stream_id, bool lost, int64_t at_us, mets_alert_event *out,
                        int cap, mets_err *err)
{
    if (!valid_id(stream_id))
        return mets_err_set(err, METS_EINVAL, "alerter: stream id missing or longer than %d bytes", METS_ALERT_MAX_ID);
    if (cap < a->nlabels)
        return mets_err_set(err, METS_EINVAL, "alerter: room for %d events, %d needed", cap, a->nlabels);
    int i = a->nclinical + METS_ALERT_TECH_SIGNAL_LOST, rc;
    stream *s = find_stream(a, stream_id);
    if (!s && !lost)
        return 0;
    if (!s) {
        if ((rc = stream_new(a, stream_id, &s, err)))
            return rc;
        stream_install(a, s);
    }
    label_state *st = &s->st[i];
    if (st->raised == lost)
        return 0;
    /* No window: the events name the instant the signal went or came back. */
    const mets_scored_window w = {.stream_id = stream_id, .start_us = at_us, .end_us = at_us};
    int n = 0;
    if (lost) {
        *st = (label_state){.raised = 1, .sent_p = 1, .onset_us = at_us, .raised_end_us = at_us, .sent_end_us = at_us};
        emit(a, i, st, &w, 1, 0, METS_ALERT_RAISED, &out[n++]);
        a->raised[i]++;
    } else {
        emit(a, i, st, &w, 0, 0, METS_ALERT_CLEARED, &out[n++]);
        *st = (label_state){0};
        a->raised[i]--;
    }
    for (int j = 0; j < a->nclinical; j++)
        if (s->st[j].raised) {
            emit(a, j, &s->st[j], &w, s->st[j].sent_p, 0, METS_ALERT_UPDATED, &out[n]);
            out[n++].stale = lost;
        }
    return n;
}

int mets_alerter_raised(const mets_alerter *a, int i, const char **group, const char **name, int *priority)
{
    if (group)
        *group = a->labels[i].group;
    if (name)
        *name = a->labels[i].name;
    if (priority)
        *priority = a->labels[i].r.priority;
    return a->raised[i];
}

/* ---- state bytes ---- */

size_t mets_alert_state_max_size(const mets_alerter *a)
{
    return STATE_HEADER + (size_t)a->nlabels * STATE_LABEL;
}

static void put(uint8_t **p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        *(*p)++ = (uint8_t)(v >> (8 * i));
}

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static void put_label(uint8_t **p, const label_state *st)
{
    put(p, st->hist, 4);
    put(p, st->below_run, 4);
    put(p, st->raised, 1);
    put(p, float_bits(st->sent_p), 4);
    put(p, (uint64_t)st->onset_us, 8);
    put(p, (uint64_t)st->raised_end_us, 8);
    put(p, (uint64_t)st->sent_end_us, 8);
}

int mets_alert_state_encode(const mets_alerter *a, const char *stream_id, uint8_t *buf, size_t cap, size_t *len,
                            mets_err *err)
{
    const stream *s = valid_id(stream_id) ? find_stream(a, stream_id) : NULL;
    if (!s)
        return mets_err_set(err, METS_ENOTFOUND, "alerter: no state for stream '%.128s'", stream_id ? stream_id : "");
    if (cap < mets_alert_state_max_size(a))
        return mets_err_set(err, METS_EINVAL, "alerter: %zu bytes for state that may need %zu", cap,
                            mets_alert_state_max_size(a));
    uint8_t *p = buf;
    size_t idlen = strlen(s->id);
    memcpy(p, STATE_MAGIC, 4);
    p += 4;
    put(&p, STATE_VERSION, 2);
    put(&p, (uint64_t)a->nlabels, 2);
    put(&p, a->fingerprint, 8);
    put(&p, idlen, 1);
    memcpy(p, s->id, idlen);
    p += idlen;
    put(&p, (uint64_t)s->last_start_us, 8);
    put(&p, s->nwin, 4);
    for (int i = 0; i < METS_ALERT_MAX_N; i++)
        put(&p, (uint64_t)s->starts[i], 8);
    for (int i = 0; i < a->nlabels; i++)
        put_label(&p, &s->st[i]);
    *len = (size_t)(p - buf);
    return 0;
}

/* Reads little-endian integers; past the end it reads 0 and remembers that the input was short. */
typedef struct reader {
    const uint8_t *p, *end;
    bool truncated;
} reader;

static uint64_t get(reader *r, int n)
{
    if (r->end - r->p < n) {
        r->truncated = true;
        r->p = r->end;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)r->p[i] << (8 * i);
    r->p += n;
    return v;
}

/* One label's state, fitted to the current policy (a reload may have changed raise_n or clear_m since it
 * was written); false if it cannot be valid state. */
static bool get_label(reader *r, const rule *ru, label_state *st)
{
    uint32_t bits;
    st->hist = (uint32_t)get(r, 4) & (ru->raise_n == 32 ? UINT32_MAX : (1u << ru->raise_n) - 1);
    uint32_t below = (uint32_t)get(r, 4);
    st->below_run = below < (uint32_t)ru->clear_m ? below : (uint32_t)ru->clear_m;
    st->raised = (uint8_t)get(r, 1);
    bits = (uint32_t)get(r, 4);
    memcpy(&st->sent_p, &bits, sizeof bits);
    st->onset_us = (int64_t)get(r, 8);
    st->raised_end_us = (int64_t)get(r, 8);
    st->sent_end_us = (int64_t)get(r, 8);
    return st->raised <= 1 && st->sent_p >= 0 && st->sent_p <= 1;
}

static int decode_header(const mets_alerter *a, reader *r, char id[METS_ALERT_MAX_ID + 1], mets_err *err)
{
    if (r->end - r->p < 4 || memcmp(r->p, STATE_MAGIC, 4))
        return mets_err_set(err, METS_EFORMAT, "alert state: not alert state (no '" STATE_MAGIC "')");
    r->p += 4;
    unsigned version = (unsigned)get(r, 2), nlabels = (unsigned)get(r, 2);
    uint64_t fingerprint = get(r, 8);
    unsigned idlen = (unsigned)get(r, 1);
    if (r->truncated)
        return mets_err_set(err, METS_EFORMAT, "alert state: truncated header");
    if (version != STATE_VERSION)
        return mets_err_set(err, METS_EFORMAT, "alert state: version %u, expected %d", version, STATE_VERSION);
    if (nlabels != (unsigned)a->nlabels || fingerprint != a->fingerprint)
        return mets_err_set(err, METS_EFORMAT, "alert state: written for another label set (%u labels)", nlabels);
    if (idlen < 1 || idlen > METS_ALERT_MAX_ID || (size_t)(r->end - r->p) < idlen || memchr(r->p, 0, idlen))
        return mets_err_set(err, METS_EFORMAT, "alert state: bad or truncated stream id");
    memcpy(id, r->p, idlen);
    id[idlen] = '\0';
    r->p += idlen;
    return 0;
}

static int decode_body(const mets_alerter *a, reader *r, stream *s, mets_err *err)
{
    bool ok = true;
    s->last_start_us = (int64_t)get(r, 8);
    s->nwin = (uint32_t)get(r, 4);
    for (int i = 0; i < METS_ALERT_MAX_N; i++)
        s->starts[i] = (int64_t)get(r, 8);
    for (int i = 0; i < a->nlabels; i++)
        ok &= get_label(r, &a->labels[i].r, &s->st[i]);
    if (r->truncated)
        return mets_err_set(err, METS_EFORMAT, "alert state of %s: truncated", s->id);
    if (r->p != r->end)
        return mets_err_set(err, METS_EFORMAT, "alert state of %s: %zu bytes too many", s->id,
                            (size_t)(r->end - r->p));
    return ok ? 0 : mets_err_set(err, METS_EFORMAT, "alert state of %s: a label's state is invalid", s->id);
}

int mets_alert_state_decode(mets_alerter *a, const uint8_t *buf, size_t len, mets_err *err)
{
    reader r = {buf, buf + len, false};
    char id[METS_ALERT_MAX_ID + 1];
    int rc = decode_header(a, &r, id, err);
    if (rc)
        return rc;
    stream *s;
    if ((rc = stream_new(a, id, &s, err)))
        return rc;
    if ((rc = decode_body(a, &r, s, err))) {
        free(s);
        return rc;
    }
    stream_install(a, s);
    return 0;
}
