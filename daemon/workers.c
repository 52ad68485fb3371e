#include "workers.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "score.h"

enum slot_state { FREE, FILLING, QUEUED, RUNNING, DONE };

typedef struct worker {
    pthread_t thread;
    mets_workers *pool;
    mets_scorer *scorer;
    mets_window_leads *leads;
    bool started;
} worker;

struct mets_workers {
    pthread_mutex_t mu;
    pthread_cond_t queued, done;
    int nslots, head, next; /* head: the oldest submitted; next: the one being or to be filled */
    mets_batch *slots;
    enum slot_state *state;
    worker *workers;
    int nthreads;
    bool stopping;
};

float *mets_batch_window(mets_batch *b, int i)
{
    return b->mv + (size_t)i * METS_ECG_LEADS * (size_t)b->samples;
}

static void score(worker *wk, mets_batch *b)
{
    for (int i = 0; i < b->n; i++)
        for (int l = 0; l < METS_ECG_LEADS; l++)
            wk->leads[i][l] = b->meta[i].present >> l & 1 ? mets_batch_window(b, i) + (size_t)l * b->samples : NULL;
    b->rc = mets_scorer_score(wk->scorer, wk->leads, b->n, b->emb, b->cos, b->prob, &b->err);
}

static void *run(void *arg)
{
    worker *wk = arg;
    mets_workers *w = wk->pool;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        int k = -1;
        for (int j = 0; j < w->nslots && k < 0; j++) { /* the oldest queued batch */
            int s = (w->head + j) % w->nslots;
            if (w->state[s] == QUEUED)
                k = s;
        }
        if (k < 0) {
            if (w->stopping)
                break;
            pthread_cond_wait(&w->queued, &w->mu);
            continue;
        }
        w->state[k] = RUNNING;
        pthread_mutex_unlock(&w->mu);
        score(wk, &w->slots[k]);
        pthread_mutex_lock(&w->mu);
        w->slots[k].scored = mets_monotonic_s();
        w->state[k] = DONE;
        pthread_cond_broadcast(&w->done);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

static int alloc_batch(mets_batch *b, int cap, int samples, int dim, int nlabels)
{
    b->cap = cap, b->samples = samples;
    b->meta = calloc((size_t)cap, sizeof *b->meta);
    b->mv = malloc((size_t)cap * METS_ECG_LEADS * samples * sizeof *b->mv);
    b->emb = malloc((size_t)cap * dim * sizeof *b->emb);
    b->cos = malloc((size_t)cap * nlabels * sizeof *b->cos);
    b->prob = malloc((size_t)cap * nlabels * sizeof *b->prob);
    return b->meta && b->mv && b->emb && b->cos && b->prob ? 0 : METS_ENOMEM;
}

mets_workers *mets_workers_new(const mets_ecgenc *enc, const mets_promptbank *bank, int threads, int batch,
                               mets_err *err)
{
    if (threads < 1 || batch < 1) {
        mets_err_set(err, METS_EINVAL, "workers: %d threads of %d windows", threads, batch);
        return NULL;
    }
    mets_workers *w = calloc(1, sizeof *w);
    if (!w) {
        mets_err_set(err, METS_ENOMEM, "workers: out of memory");
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->queued, NULL);
    pthread_cond_init(&w->done, NULL);
    const mets_ecgenc_arch *a = mets_ecgenc_get_arch(enc);
    w->nslots = 2 * threads + 1, w->nthreads = threads;
    w->slots = calloc((size_t)w->nslots, sizeof *w->slots);
    w->state = calloc((size_t)w->nslots, sizeof *w->state);
    w->workers = calloc((size_t)threads, sizeof *w->workers);
    int rc = w->slots && w->state && w->workers ? 0 : METS_ENOMEM;
    for (int i = 0; !rc && i < w->nslots; i++)
        rc = alloc_batch(&w->slots[i], batch, a->samples, a->embed_dim, mets_promptbank_nlabels(bank));
    if (rc) {
        mets_workers_free(w);
        mets_err_set(err, METS_ENOMEM, "workers: out of memory");
        return NULL;
    }
    for (int i = 0; i < threads; i++) {
        worker *wk = &w->workers[i];
        wk->pool = w;
        if (!(wk->leads = calloc((size_t)batch, sizeof *wk->leads))) {
            mets_err_set(err, METS_ENOMEM, "workers: out of memory");
            break;
        }
        if (!(wk->scorer = mets_scorer_new(enc, bank, batch, err)))
            break;
        if (pthread_create(&wk->thread, NULL, run, wk)) {
            mets_err_set(err, METS_ENOMEM, "workers: cannot start a thread");
            break;
        }
        wk->started = true;
    }
    if (!w->workers[threads - 1].started) {
        mets_workers_free(w);
        return NULL;
    }
    return w;
}

void mets_workers_free(mets_workers *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_broadcast(&w->queued);
    pthread_mutex_unlock(&w->mu);
    for (int i = 0; w->workers && i < w->nthreads; i++) {
        if (w->workers[i].started)
            pthread_join(w->workers[i].thread, NULL);
        mets_scorer_free(w->workers[i].scorer);
        free(w->workers[i].leads);
    }
    for (int i = 0; w->slots && i < w->nslots; i++) {
        mets_batch *b = &w->slots[i];
        free(b->meta), free(b->mv), free(b->emb), free(b->cos), free(b->prob);
    }
    free(w->slots), free(w->state), free(w->workers);
    pthread_cond_destroy(&w->queued);
    pthread_cond_destroy(&w->done);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

mets_batch *mets_workers_acquire(mets_workers *w)
{
    pthread_mutex_lock(&w->mu);
    mets_batch *b = NULL;
    if (w->state[w->next] == FREE) {
        w->state[w->next] = FILLING;
        w->slots[w->next].n = 0;
    }
    if (w->state[w->next] == FILLING)
        b = &w->slots[w->next];
    pthread_mutex_unlock(&w->mu);
    return b;
}

void mets_workers_submit(mets_workers *w, mets_batch *b)
{
    pthread_mutex_lock(&w->mu);
    int k = (int)(b - w->slots);
    b->submitted = mets_monotonic_s();
    w->state[k] = QUEUED;
    w->next = (k + 1) % w->nslots;
    pthread_cond_signal(&w->queued);
    pthread_mutex_unlock(&w->mu);
}

mets_batch *mets_workers_take(mets_workers *w, bool wait)
{
    pthread_mutex_lock(&w->mu);
    enum slot_state *st = &w->state[w->head];
    while (wait && (*st == QUEUED || *st == RUNNING))
        pthread_cond_wait(&w->done, &w->mu);
    mets_batch *b = *st == DONE ? &w->slots[w->head] : NULL;
    pthread_mutex_unlock(&w->mu);
    return b;
}

void mets_workers_release(mets_workers *w, mets_batch *b)
{
    pthread_mutex_lock(&w->mu);
    w->state[b - w->slots] = FREE;
    w->head = (w->head + 1) % w->nslots;
    pthread_mutex_unlock(&w->mu);
}

int mets_workers_in_flight(mets_workers *w)
{
    pthread_mutex_lock(&w->mu);
    int n = 0;
    for (int i = 0; i < w->nslots; i++)
        n += w->state[i] == QUEUED || w->state[i] == RUNNING || w->state[i] == DONE;
    pthread_mutex_unlock(&w->mu);
    return n;
}

double mets_workers_oldest_age(mets_workers *w)
{
    pthread_mutex_lock(&w->mu);
    double t = 0, age = 0;
    for (int i = 0; i < w->nslots; i++)
        if ((w->state[i] == QUEUED || w->state[i] == RUNNING) && (t == 0 || w->slots[i].submitted < t))
            t = w->slots[i].submitted;
    if (t > 0)
        age = mets_monotonic_s() - t;
    pthread_mutex_unlock(&w->mu);
    return age;
}

int mets_workers_set_bank(mets_workers *w, const mets_promptbank *bank, mets_err *err)
{
    size_t n = (size_t)w->slots[0].cap * mets_promptbank_nlabels(bank);
    for (int i = 0; i < w->nslots; i++) { /* a reload may bring more labels */
        mets_batch *b = &w->slots[i];
        float *c = realloc(b->cos, n * sizeof *c);
        if (c)
            b->cos = c;
        float *p = c ? realloc(b->prob, n * sizeof *p) : NULL;
        if (p)
            b->prob = p;
        if (!c || !p)
            return mets_err_set(err, METS_ENOMEM, "workers: out of memory for %zu scores", n);
    }
    for (int i = 0; i < w->nthreads; i++)
        mets_scorer_set_bank(w->workers[i].scorer, bank);
    return 0;
}
