/* The encoder stage of metsd (daemon/workers.c), with the shipped ECG model and the real language model:
 * batches come back in the order they were submitted, whatever thread finished first, scored exactly as
 * the scorer scores the same windows by itself; a full ring refuses a new batch until the oldest is
 * released (back-pressure); the batch being filled stays the caller's until submitted; the counts /healthz
 * reads; freeing the stage with batches in flight waits for them.
 *
 * usage: test_workers MINILM.mets */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "score.h"
#include "workers.h"

enum { THREADS = 2, BATCH = 4, SLOTS = 2 * THREADS + 1 };

static const char *minilm_path;

typedef struct stage {
    mets_ecgenc *enc;
    mets_textenc *te;
    mets_labels *labels;
    mets_promptbank *bank;
    mets_workers *w;
} stage;

static bool open_stage(stage *s)
{
    mets_err err = {0};
    memset(s, 0, sizeof *s);
    s->enc = mets_ecgenc_open("models/mets-ecg.mets", &err);
    s->te = s->enc ? mets_textenc_open(minilm_path, &err) : NULL;
    s->labels = s->te ? mets_labels_load("conf/labels.yaml", &err) : NULL;
    s->bank = s->labels ? mets_promptbank_new(s->labels, s->te, s->enc, &err) : NULL;
    s->w = s->bank ? mets_workers_new(s->enc, s->bank, THREADS, BATCH, &err) : NULL;
    CHECK(s->w != NULL, "%s", err.msg);
    return s->w != NULL;
}

static void close_stage(stage *s)
{
    mets_workers_free(s->w);
    mets_promptbank_free(s->bank);
    mets_labels_free(s->labels);
    mets_textenc_free(s->te);
    mets_ecgenc_free(s->enc);
}

/* Window `i` of batch `k`: ECG-like bumps at a rate of its own, all 12 leads or lead II alone; its
 * end_us tells the batch and window apart. */
static void fill(mets_batch *b, int k, int n)
{
    for (int i = 0; i < n; i++) {
        float *x = mets_batch_window(b, i);
        for (int l = 0; l < METS_ECG_LEADS; l++)
            for (int t = 0; t < b->samples; t++)
                x[(size_t)l * b->samples + t] =
                    (float)((l % 3 + 1) * 0.3 * pow(sin(M_PI * (1.0 + 0.1 * k + 0.03 * i) * t / 100.0), 16.0));
        b->meta[i] = (mets_batch_meta){.end_us = k * 100 + i, .present = (k + i) % 2 ? 0xfff : 1u << 1};
    }
    b->n = n;
}

/* SLOTS batches of 1 to BATCH windows (the big ones first, so that later ones can finish first). */
static void order_back_pressure_and_scores(void)
{
    stage s;
    if (!open_stage(&s))
        return;
    mets_err err = {0};
    int L = mets_promptbank_nlabels(s.bank), D = mets_ecgenc_get_arch(s.enc)->embed_dim;
    mets_scorer *alone = mets_scorer_new(s.enc, s.bank, BATCH, &err);
    CHECK(alone != NULL, "%s", err.msg);
    int sizes[SLOTS];
    for (int k = 0; k < SLOTS; k++) {
        mets_batch *b = mets_workers_acquire(s.w);
        CHECK(b != NULL && b->n == 0, "batch %d: a free batch", k);
        if (!b)
            goto out;
        sizes[k] = BATCH - k % BATCH;
        fill(b, k, sizes[k]);
        mets_workers_submit(s.w, b);
    }
    CHECK(mets_workers_acquire(s.w) == NULL, "every batch in flight: no new one");
    CHECK(mets_workers_in_flight(s.w) == SLOTS);
    for (int k = 0; k < SLOTS; k++) {
        mets_batch *b = mets_workers_take(s.w, true);
        CHECK(b != NULL && b->n == sizes[k] && b->meta[0].end_us == k * 100, "batch %d back in its turn", k);
        if (!b)
            break;
        CHECK(b->rc == 0, "%s", b->err.msg);
        CHECK(b->scored >= b->submitted);
        /* the same windows scored by a scorer of their own: bit for bit */
        mets_window_leads leads[BATCH];
        float emb[BATCH * 256], cos[BATCH * 64], prob[BATCH * 64];
        for (int i = 0; i < b->n; i++)
            for (int l = 0; l < METS_ECG_LEADS; l++)
                leads[i][l] = b->meta[i].present >> l & 1 ? mets_batch_window(b, i) + (size_t)l * b->samples : NULL;
        CHECK(mets_scorer_score(alone, leads, b->n, emb, cos, prob, &err) == 0, "%s", err.msg);
        CHECK(!memcmp(emb, b->emb, (size_t)b->n * D * sizeof *emb), "batch %d: embeddings differ", k);
        CHECK(!memcmp(prob, b->prob, (size_t)b->n * L * sizeof *prob), "batch %d: probabilities differ", k);
        CHECK(!memcmp(cos, b->cos, (size_t)b->n * L * sizeof *cos), "batch %d: cosines differ", k);
        mets_workers_release(s.w, b);
        CHECK(mets_workers_in_flight(s.w) == SLOTS - 1 - k);
        if (k == 0)
            CHECK(mets_workers_acquire(s.w) != NULL, "a released batch is free again");
    }
    CHECK(mets_workers_oldest_age(s.w) == 0, "nothing being scored");
out:
    mets_scorer_free(alone);
    close_stage(&s);
}

/* A batch acquired and not submitted is the one acquire returns again, with its windows; nothing is in
 * flight, so take finds nothing, waiting or not. */
static void the_batch_being_filled(void)
{
    stage s;
    if (!open_stage(&s))
        return;
    mets_batch *b = mets_workers_acquire(s.w);
    CHECK(b != NULL);
    if (b) {
        fill(b, 7, 2);
        CHECK(mets_workers_acquire(s.w) == b && b->n == 2, "the same batch, still holding its 2 windows");
    }
    CHECK(mets_workers_in_flight(s.w) == 0);
    CHECK(mets_workers_take(s.w, false) == NULL);
    CHECK(mets_workers_take(s.w, true) == NULL, "nothing submitted: no wait");
    CHECK(mets_workers_oldest_age(s.w) == 0);
    if (b) {
        mets_workers_submit(s.w, b);
        CHECK(mets_workers_in_flight(s.w) == 1);
        mets_batch *back = mets_workers_take(s.w, true);
        CHECK(back == b && b->rc == 0 && b->n == 2);
        CHECK(mets_workers_in_flight(s.w) == 1, "scored and not yet released is still in flight");
        CHECK(mets_workers_oldest_age(s.w) == 0, "but no longer being scored");
        mets_workers_release(s.w, b);
        CHECK(mets_workers_in_flight(s.w) == 0);
    }
    close_stage(&s);
}

/* Freed with batches queued and one being filled: it waits for them and leaks nothing (ASan). */
static void free_with_batches_in_flight(void)
{
    stage s;
    if (!open_stage(&s))
        return;
    for (int k = 0; k < SLOTS - 1; k++) {
        mets_batch *b = mets_workers_acquire(s.w);
        CHECK(b != NULL);
        if (!b)
            break;
        fill(b, k, BATCH);
        mets_workers_submit(s.w, b);
    }
    mets_batch *b = mets_workers_acquire(s.w);
    if (b)
        fill(b, 9, 1);
    close_stage(&s);
}

static void bad_arguments(void)
{
    stage s;
    if (!open_stage(&s))
        return;
    mets_err err = {0};
    CHECK(mets_workers_new(s.enc, s.bank, 0, BATCH, &err) == NULL && err.code == METS_EINVAL);
    CHECK(mets_workers_new(s.enc, s.bank, THREADS, 0, &err) == NULL && err.code == METS_EINVAL);
    mets_workers_free(NULL);
    close_stage(&s);
}

int main(int argc, char **argv)
{
    minilm_path = mets_test_model_arg(argc, argv);
    RUN(order_back_pressure_and_scores);
    RUN(the_batch_being_filled);
    RUN(free_with_batches_in_flight);
    RUN(bad_arguments);
    return mets_test_summary();
}
