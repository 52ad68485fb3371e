#include "recovery.h"

#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "mets.pb-c.h"

enum { SCHEMA_VERSION = 1 };

typedef struct mark {
    int64_t t0_us, offset;
} mark;

typedef struct rstream {
    struct rstream *next;
    char id[METS_ALERT_MAX_ID + 1];
    mark *marks; /* frames fed since the resume point, oldest first */
    int nmarks, cap;
    bool seen, dirty;
    bool swept;            /* idle: its window state was flushed and dropped, it holds no restart point */
    bool pending;          /* restored, no frame of it seen yet: its resume offset is still needed */
    int64_t last_seen_us;  /* Kafka timestamp of its latest frame */
    int64_t last_end_sample_us; /* the end of its latest sample, in frame time */
    int64_t last_end_us;   /* 0: no window */
    int64_t resume_offset; /* -1: none */
    int64_t skip_before;   /* replayed frames before this offset are not fed; -1: feed all */
} rstream;

struct mets_recovery {
    mets_recovery_params p;
    rstream **buckets;
    size_t nbuckets, n;
    int64_t next_offset, restored_next, restored_restart; /* -1: none */
    int64_t read_to; /* 1 + the highest offset handled since the start: the replay is done once it passes
                      * restored_next (next_offset starts at restored_next, so it cannot tell) */
    int64_t newest_seen_us; /* the latest Kafka timestamp of the partition */
    /* the partition's time as restored: the partition record's clock (the newest Kafka timestamp up to the
     * restored next offset), or the latest of the restored streams; a restarted run's time is the newer of it
     * and what it reads again, so that it equals an uninterrupted run's at every offset: records read again
     * from the restart point on may all be older than a clock record before it */
    int64_t restored_seen_us;
    int64_t next_check_us;  /* no stream can be newly silent before the partition's time reaches this */
    bool any_seen;
    int64_t written_next, written_restart; /* the last partition record written */
};

mets_recovery_params mets_recovery_default_params(void)
{
    return (mets_recovery_params){.window_us = 10000000, .hop_us = 2000000, .margin_us = 10000000,
                                  .idle_us = 300000000, .max_frames = 4096};
}

mets_recovery *mets_recovery_new(const mets_recovery_params *p, mets_err *err)
{
    if (p->window_us <= 0 || p->hop_us <= 0 || p->margin_us < 0 || p->idle_us <= 0 || p->max_frames < 1 ||
        p->signal_loss_us < 0) {
        mets_err_set(err, METS_EINVAL, "recovery: parameters out of range");
        return NULL;
    }
    mets_recovery *r = calloc(1, sizeof *r);
    if (r)
        r->buckets = calloc(r->nbuckets = 256, sizeof *r->buckets);
    if (!r || !r->buckets) {
        free(r);
        mets_err_set(err, METS_ENOMEM, "recovery: out of memory");
        return NULL;
    }
    r->p = *p;
    r->next_offset = r->restored_next = r->restored_restart = r->written_next = r->written_restart = -1;
    r->read_to = -1;
    return r;
}

static void stream_free(rstream *s)
{
    if (s)
        free(s->marks);
    free(s);
}

void mets_recovery_free(mets_recovery *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->nbuckets; i++)
        for (rstream *s = r->buckets[i], *next; s; s = next) {
            next = s->next;
            stream_free(s);
        }
    free(r->buckets);
    free(r);
}

static rstream **slot(const mets_recovery *r, const char *id)
{
    rstream **sp = &r->buckets[mets_fnv64_str(id) & (r->nbuckets - 1)];
    while (*sp && strcmp((*sp)->id, id))
        sp = &(*sp)->next;
    return sp;
}

static void grow(mets_recovery *r)
{
    rstream **b = calloc(2 * r->nbuckets, sizeof *b);
    if (!b)
        return; /* longer chains, still correct */
    for (size_t i = 0; i < r->nbuckets; i++)
        for (rstream *s = r->buckets[i], *next; s; s = next) {
            next = s->next;
            size_t j = mets_fnv64_str(s->id) & (2 * r->nbuckets - 1);
            s->next = b[j], b[j] = s;
        }
    free(r->buckets);
    r->buckets = b, r->nbuckets *= 2;
}

/* The stream of id, created when absent; NULL when out of memory. */
static rstream *stream_get(mets_recovery *r, const char *id, bool *created)
{
    rstream **sp = slot(r, id);
    *created = !*sp;
    if (*sp)
        return *sp;
    if (r->n >= r->nbuckets) {
        grow(r);
        sp = slot(r, id);
    }
    rstream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->id, sizeof s->id, "%s", id);
    s->resume_offset = s->skip_before = -1;
    *sp = s;
    r->n++;
    return s;
}

static void stream_remove(mets_recovery *r, const char *id)
{
    rstream **sp = slot(r, id), *s = *sp;
    if (!s)
        return;
    *sp = s->next;
    stream_free(s);
    r->n--;
}

static bool valid_id(const void *key, size_t klen)
{
    return klen >= 1 && klen <= METS_ALERT_MAX_ID && !memchr(key, 0, klen);
}

static int restore_partition(mets_recovery *r, const void *value, size_t vlen, mets_err *err)
{
    Mets__V1__PartitionState *m = mets__v1__partition_state__unpack(NULL, vlen, value);
    if (!m)
        return mets_err_set(err, METS_EFORMAT, "recovery: a partition record that does not decode");
    r->next_offset = r->restored_next = m->next_offset;
    r->restored_restart = m->restart_offset;
    if (m->clock_us > r->restored_seen_us)
        r->restored_seen_us = m->clock_us;
    mets__v1__partition_state__free_unpacked(m, NULL);
    return 0;
}

int mets_recovery_restore(mets_recovery *r, mets_alerter *alerter, const void *key, size_t klen, const void *value,
                          size_t vlen, mets_err *err)
{
    if (klen == 1 && !memcmp(key, METS_RECOVERY_PARTITION_KEY, 1))
        return restore_partition(r, value, vlen, err);
    if (!valid_id(key, klen))
        return mets_err_set(err, METS_EFORMAT, "recovery: a state record whose key is not a stream id");
    char id[METS_ALERT_MAX_ID + 1];
    memcpy(id, key, klen);
    id[klen] = 0;
    if (!value || !vlen) { /* tombstone */
        stream_remove(r, id);
        mets_alerter_drop(alerter, id);
        return 0;
    }
    Mets__V1__StreamState *m = mets__v1__stream_state__unpack(NULL, vlen, value);
    if (!m || strcmp(m->stream_id, id)) {
        if (m)
            mets__v1__stream_state__free_unpacked(m, NULL);
        return mets_err_set(err, METS_EFORMAT, "recovery: the state record of stream '%s' does not decode", id);
    }
    bool created;
    rstream *s = stream_get(r, id, &created);
    int rc = s ? 0 : mets_err_set(err, METS_ENOMEM, "recovery: out of memory");
    if (s) {
        s->nmarks = 0, s->dirty = false, s->pending = true;
        s->last_end_us = m->last_window_end_us;
        s->resume_offset = s->skip_before = m->resume_offset;
        s->last_seen_us = m->last_seen_us, s->seen = true;
        s->last_end_sample_us = m->last_sample_end_us;
        if (s->last_seen_us > r->restored_seen_us) /* the clock, if no frame is read again */
            r->restored_seen_us = s->last_seen_us;
        mets_alerter_drop(alerter, id);
        if (m->alert_state.len && (rc = mets_alert_state_decode(alerter, m->alert_state.data, m->alert_state.len, err)))
            mets_err_prefix(err, "recovery: alert state of stream '%s' not restored (it starts afresh): ", id);
    }
    mets__v1__stream_state__free_unpacked(m, NULL);
    return rc;
}

int64_t mets_recovery_start_offset(const mets_recovery *r, int64_t committed)
{
    if (r->restored_restart >= 0)
        return r->restored_restart;
    return r->restored_next >= 0 ? r->restored_next : committed;
}

bool mets_recovery_is_new(const mets_recovery *r, int64_t offset)
{
    return offset >= r->restored_next;
}

int mets_recovery_frame(mets_recovery *r, const char *stream_id, int64_t t0_us, int64_t end_us, int64_t seen_us,
                        int64_t offset, bool *feed, mets_err *err)
{
    bool created;
    rstream *s = stream_get(r, stream_id, &created);
    if (!s)
        return mets_err_set(err, METS_ENOMEM, "recovery: out of memory for stream '%s'", stream_id);
    *feed = mets_recovery_is_new(r, offset) || s->skip_before < 0 || offset >= s->skip_before;
    if (!*feed)
        return 0;
    if (s->nmarks == s->cap) {
        if (s->cap == r->p.max_frames) { /* no window for that long: forget the oldest */
            memmove(s->marks, s->marks + 1, (size_t)--s->nmarks * sizeof *s->marks);
        } else {
            int cap = s->cap ? (2 * s->cap < r->p.max_frames ? 2 * s->cap : r->p.max_frames) : 16;
            mark *m = realloc(s->marks, (size_t)cap * sizeof *m);
            if (!m)
                return mets_err_set(err, METS_ENOMEM, "recovery: out of memory for stream '%s'", stream_id);
            s->marks = m, s->cap = cap;
        }
    }
    s->marks[s->nmarks++] = (mark){t0_us, offset};
    s->last_seen_us = seen_us, s->seen = true, s->pending = s->swept = false;
    if (end_us > s->last_end_sample_us)
        s->last_end_sample_us = end_us;
    if (!r->any_seen || seen_us > r->newest_seen_us)
        r->newest_seen_us = seen_us, r->any_seen = true;
    if (r->p.signal_loss_us && seen_us + r->p.signal_loss_us < r->next_check_us)
        r->next_check_us = seen_us + r->p.signal_loss_us;
    return 0;
}

void mets_recovery_done(mets_recovery *r, int64_t offset)
{
    if (offset + 1 > r->next_offset)
        r->next_offset = offset + 1;
    if (offset + 1 > r->read_to)
        r->read_to = offset + 1;
}

void mets_recovery_drop(mets_recovery *r, const char *stream_id)
{
    stream_remove(r, stream_id);
}

bool mets_recovery_window_due(const mets_recovery *r, const char *stream_id, int64_t end_us)
{
    const rstream *s = *slot(r, stream_id);
    return !s || end_us > s->last_end_us;
}

int mets_recovery_window_published(mets_recovery *r, const char *stream_id, int64_t end_us, mets_err *err)
{
    rstream *s = *slot(r, stream_id);
    if (!s)
        return mets_err_set(err, METS_ENOTFOUND, "recovery: a window of stream '%s', which has no frames", stream_id);
    s->last_end_us = end_us, s->dirty = true;
    /* The next window starts at end + hop - window; rebuilding starts margin before that, at the latest
     * frame that begins no later (or the oldest remembered, when the stream began after that point). */
    int64_t from = end_us + r->p.hop_us - r->p.window_us - r->p.margin_us;
    int i = 0;
    while (i + 1 < s->nmarks && s->marks[i + 1].t0_us <= from)
        i++;
    if (s->nmarks) {
        s->resume_offset = s->marks[i].offset;
        s->nmarks -= i;
        memmove(s->marks, s->marks + i, (size_t)s->nmarks * sizeof *s->marks);
    }
    return 0;
}

static int write_stream(rstream *s, mets_alerter *alerter, mets_recovery_sink sink, void *ctx, mets_err *err)
{
    size_t cap = mets_alert_state_max_size(alerter), len = 0;
    uint8_t *alert = malloc(cap);
    if (!alert)
        return mets_err_set(err, METS_ENOMEM, "recovery: out of memory");
    if (mets_alert_state_encode(alerter, s->id, alert, cap, &len, NULL))
        len = 0; /* no alert state yet: only technical windows so far, or none scored */
    Mets__V1__StreamState m = METS__V1__STREAM_STATE__INIT;
    m.schema_version = SCHEMA_VERSION, m.stream_id = s->id, m.last_window_end_us = s->last_end_us;
    m.resume_offset = s->resume_offset, m.last_seen_us = s->last_seen_us;
    m.last_sample_end_us = s->last_end_sample_us;
    m.alert_state.data = alert, m.alert_state.len = len;
    uint8_t buf[512 + 64];
    size_t n = mets__v1__stream_state__get_packed_size(&m);
    uint8_t *out = n <= sizeof buf ? buf : malloc(n);
    int rc = out ? 0 : mets_err_set(err, METS_ENOMEM, "recovery: out of memory");
    if (!rc) {
        mets__v1__stream_state__pack(&m, out);
        rc = sink(ctx, s->id, strlen(s->id), out, n, err);
    }
    if (out != buf)
        free(out);
    free(alert);
    s->dirty = rc != 0;
    return rc;
}

static bool replaying(const mets_recovery *r)
{
    return r->restored_next >= 0 && r->read_to < r->restored_next;
}

void mets_recovery_clock(mets_recovery *r, int64_t seen_us)
{
    if (!r->any_seen || seen_us > r->newest_seen_us)
        r->newest_seen_us = seen_us, r->any_seen = true;
}

/* The partition's time: its newest Kafka timestamp (of frames and clock records). */
static int64_t partition_time(const mets_recovery *r)
{
    return r->any_seen && r->newest_seen_us > r->restored_seen_us ? r->newest_seen_us : r->restored_seen_us;
}

bool mets_recovery_current(const mets_recovery *r, const char *stream_id)
{
    const rstream *s = *slot(r, stream_id);
    return !r->p.signal_loss_us || (s && s->seen && partition_time(r) - s->last_seen_us < r->p.signal_loss_us);
}

bool mets_recovery_silence_due(const mets_recovery *r)
{
    return r->p.signal_loss_us && !replaying(r) && (r->any_seen || r->restored_seen_us) &&
           partition_time(r) >= r->next_check_us;
}

int mets_recovery_silent(mets_recovery *r, int (*lost)(void *ctx, const char *stream_id, int64_t end_us), void *ctx)
{
    if (!mets_recovery_silence_due(r))
        return 0;
    int64_t now = partition_time(r), next = INT64_MAX;
    for (size_t i = 0; i < r->nbuckets; i++)
        for (rstream *s = r->buckets[i]; s; s = s->next) {
            if (!s->seen)
                continue;
            if (now - s->last_seen_us < r->p.signal_loss_us) {
                if (s->last_seen_us + r->p.signal_loss_us < next)
                    next = s->last_seen_us + r->p.signal_loss_us;
                continue;
            }
            int rc = lost(ctx, s->id, s->last_end_sample_us);
            if (rc < 0)
                return rc; /* next_check stays: the caller ends the process */
            s->dirty |= rc > 0;
        }
    r->next_check_us = next; /* a silent stream is checked again once a frame of it moves this back */
    return 0;
}

void mets_recovery_alerts_changed(mets_recovery *r, const char *stream_id)
{
    rstream *s = *slot(r, stream_id);
    if (s)
        s->dirty = true;
}

void mets_recovery_sweep(mets_recovery *r, void (*idle)(void *ctx, const char *stream_id), void *ctx)
{
    if (replaying(r) || !r->any_seen) /* the partition's time is not caught up yet */
        return;
    for (size_t i = 0; i < r->nbuckets; i++)
        for (rstream *s = r->buckets[i]; s; s = s->next)
            if (!s->swept && s->seen && partition_time(r) - s->last_seen_us > r->p.idle_us) {
                idle(ctx, s->id);
                s->swept = true, s->pending = false, s->nmarks = 0;
            }
}

int mets_recovery_checkpoint(mets_recovery *r, mets_alerter *alerter, mets_recovery_sink sink, void *ctx,
                             mets_err *err)
{
    int64_t restart = replaying(r) ? r->restored_restart : -1;
    int rc = 0;
    for (size_t i = 0; i < r->nbuckets && !rc; i++)
        for (rstream *s = r->buckets[i]; s && !rc; s = s->next) {
            if (s->dirty)
                rc = write_stream(s, alerter, sink, ctx, err);
            int64_t need = s->nmarks ? s->marks[0].offset : s->pending ? s->resume_offset : -1;
            if (need >= 0 && (restart < 0 || need < restart))
                restart = need;
        }
    if (rc || r->next_offset < 0)
        return rc;
    if (restart < 0 || restart > r->next_offset)
        restart = r->next_offset;
    if (r->next_offset == r->written_next && restart == r->written_restart)
        return 0; /* nothing moved: no record, and no transaction needed for it */
    r->written_next = r->next_offset, r->written_restart = restart;
    Mets__V1__PartitionState m = METS__V1__PARTITION_STATE__INIT;
    m.schema_version = SCHEMA_VERSION, m.next_offset = r->next_offset, m.restart_offset = restart;
    m.clock_us = partition_time(r);
    uint8_t buf[64];
    size_t n = mets__v1__partition_state__pack(&m, buf);
    return sink(ctx, METS_RECOVERY_PARTITION_KEY, 1, buf, n, err);
}

int64_t mets_recovery_next_offset(const mets_recovery *r)
{
    return r->next_offset;
}

void mets_recovery_each_stream(const mets_recovery *r, void (*fn)(void *ctx, const char *stream_id), void *ctx)
{
    for (size_t i = 0; i < r->nbuckets; i++)
        for (rstream *s = r->buckets[i]; s; s = s->next)
            fn(ctx, s->id);
}
