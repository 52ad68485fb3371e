#include "trainer.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "grad.h"
#include "mfile.h"

#define MAX_THREADS 16
#define LOG_SCALE_MAX 4.6052f /* log(100): CLIP's cap on the inverse temperature */

mets_train_opts mets_train_default_opts(void)
{
    mets_train_opts o = {.epochs = 20, .batch = 128, .threads = 2, .lr = 2e-3f, .weight_decay = 1e-4f,
                         .warmup_frac = 0.05f, .min_lr_frac = 0.02f, .seed = 1, .augment = 1};
    return o;
}

/* Lead subsets that telemetry really has, drawn with these odds; the rest keep what was recorded or
 * a random subset of it. */
static uint16_t draw_leads(uint16_t present, mets_rng *rng)
{
    enum { I = 1 << 0, II = 1 << 1, V1 = 1 << 6 };
    double u = mets_rng_uniform(rng);
    uint16_t pick;
    if (u < 0.40)
        pick = present;
    else if (u < 0.60)
        pick = II;
    else if (u < 0.75)
        pick = I | II | V1;
    else if (u < 0.85)
        pick = II | V1;
    else
        pick = (uint16_t)(mets_rng_next(rng) & 0xFFF);
    pick &= present;
    return pick ? pick : present;
}

/* Amplitude scaling (per window and per lead), Gaussian noise, baseline wander and a time shift, in
 * place on the recorded leads of in[24, S]. */
static void distort(float *in, uint16_t leads, int S, double rate, mets_rng *rng)
{
    double gain = 0.7 + 0.6 * mets_rng_uniform(rng), noise = 0.05 * mets_rng_uniform(rng);
    double wander_hz = 0.05 + 0.45 * mets_rng_uniform(rng), wander = 0.2 * mets_rng_uniform(rng);
    int shift = (int)mets_rng_below(rng, (uint64_t)S / 10 + 1) - S / 20;
    for (int l = 0; l < 12; l++) {
        if (!((leads >> l) & 1))
            continue;
        float *row = in + (size_t)l * S;
        double lead_gain = gain * (0.9 + 0.2 * mets_rng_uniform(rng)), phase = 2 * M_PI * mets_rng_uniform(rng);
        if (shift > 0) {
            memmove(row + shift, row, (size_t)(S - shift) * sizeof *row);
            memset(row, 0, (size_t)shift * sizeof *row);
        } else if (shift < 0) {
            memmove(row, row - shift, (size_t)(S + shift) * sizeof *row);
            memset(row + S + shift, 0, (size_t)(-shift) * sizeof *row);
        }
        for (int t = 0; t < S; t++)
            row[t] = (float)(row[t] * lead_gain + noise * mets_rng_normal(rng) +
                             wander * sin(2 * M_PI * wander_hz * t / rate + phase));
    }
}

void mets_train_augment(const mets_train_data *d, int w, uint16_t keep, mets_rng *rng, int augment, double rate,
                        float *in)
{
    int S = d->samples;
    uint16_t have = d->present[w] & keep, leads = augment ? draw_leads(have, rng) : have;
    for (int l = 0; l < 12; l++) {
        const float *src = d->leads + ((size_t)w * 12 + l) * S;
        float *row = in + (size_t)l * S, *mask = in + (size_t)(12 + l) * S, on = (float)((leads >> l) & 1);
        for (int t = 0; t < S; t++)
            row[t] = on * src[t], mask[t] = on;
    }
    if (augment)
        distort(in, leads, S, rate, rng);
}

int mets_train_add_noise(const mets_train_noise *nz, int S, mets_rng *rng, float *in)
{
    if (!nz || nz->n < S || mets_rng_uniform(rng) >= nz->p)
        return 0;
    double snr_db = nz->snr_lo_db + (nz->snr_hi_db - nz->snr_lo_db) * mets_rng_uniform(rng);
    int at = (int)mets_rng_below(rng, (uint64_t)(nz->n - S) + 1), k = 0;
    for (int l = 0; l < 12; l++) {
        float *row = in + (size_t)l * S;
        if (in[(size_t)(12 + l) * S] == 0)
            continue; /* lead not shown to the model in this step */
        const float *noise = nz->sig + (size_t)(k++ % nz->nsig) * nz->n + at;
        float lo = row[0], hi = row[0];
        double ms = 0;
        for (int t = 0; t < S; t++) {
            lo = fminf(lo, row[t]), hi = fmaxf(hi, row[t]);
            ms += (double)noise[t] * noise[t];
        }
        double signal = (double)(hi - lo) * (hi - lo) / 8, scale = ms > 0 ? sqrt(signal / (ms / S * pow(10, snr_db / 10))) : 0;
        for (int t = 0; t < S; t++)
            row[t] = (float)(row[t] + scale * noise[t]);
    }
    return snr_db < nz->drown_db;
}

/* Per-thread work: its share of the batch and the tape that holds its activations and gradients. */
typedef struct worker {
    mets_ecgnet *net;
    mets_ecgnet_tape *tape;
    const float *x, *d_emb;
    float *emb;
    int n;
    int backward;
} worker;

static void *worker_run(void *p)
{
    worker *w = p;
    if (w->n == 0)
        return NULL;
    if (w->backward)
        mets_ecgnet_backward(w->net, w->tape, w->d_emb);
    else
        mets_ecgnet_forward(w->net, w->tape, w->x, w->n, w->emb);
    return NULL;
}

/* Runs every worker's phase, the first on the calling thread. */
static void run_workers(worker *w, int nthreads, int backward)
{
    pthread_t tid[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int i = 0; i < nthreads; i++)
        w[i].backward = backward;
    for (int i = 1; i < nthreads; i++)
        started[i] = pthread_create(&tid[i], NULL, worker_run, &w[i]) == 0;
    for (int i = 1; i < nthreads; i++)
        if (!started[i])
            worker_run(&w[i]); /* no thread to be had: do it here, slower but correct */
    worker_run(&w[0]);
    for (int i = 1; i < nthreads; i++)
        if (started[i])
            pthread_join(tid[i], NULL);
}

typedef struct run_state {
    mets_ecgnet *net;
    const mets_train_data *d;
    const mets_train_opts *o;
    int nthreads;
    worker w[MAX_THREADS];
    float *x, *emb, *d_emb, *text_in, *text_out, *text_norms, *d_text, *scratch, *nce_work;
    int *batch_idx, *group, *perm, nperm; /* perm: one epoch's draws, each window `repeat` times */
    mets_rng rng;
    mets_adamw opt;
    long step, total_steps;
    int epoch;
    double busy; /* seconds spent in training steps, for the rate (validation excluded) */
} run_state;

static float lr_at(const mets_train_opts *o, long step, long total)
{
    long warm = (long)(o->warmup_frac * total);
    if (step < warm)
        return o->lr * (float)(step + 1) / (float)warm;
    double progress = (double)(step - warm) / (double)(total - warm > 0 ? total - warm : 1);
    double floor = o->min_lr_frac;
    return o->lr * (float)(floor + (1 - floor) * 0.5 * (1 + cos(M_PI * progress)));
}

/* Sums every worker's gradients into worker 0's and applies AdamW. */
static void apply_update(run_state *s, float d_log_scale)
{
    mets_ecgnet *net = s->net;
    size_t np = mets_ecgnet_param_count(net), ls = mets_ecgnet_log_scale_index(net);
    mets_ecgnet_tape_grad(s->w[0].tape, ls)[0] += d_log_scale;
    s->opt.lr = lr_at(s->o, s->step, s->total_steps);
    mets_adamw_begin_step(&s->opt);
    for (size_t p = 0; p < np; p++) {
        mets_ecgnet_param *prm = mets_ecgnet_param_at(net, p);
        float *g = mets_ecgnet_tape_grad(s->w[0].tape, p);
        for (int t = 1; t < s->nthreads; t++) {
            const float *gt = mets_ecgnet_tape_grad(s->w[t].tape, p);
            for (size_t i = 0; i < prm->n; i++)
                g[i] += gt[i];
        }
        mets_adamw_update(&s->opt, prm->w, g, prm->m, prm->v, prm->n, prm->decay);
    }
    float *log_scale = mets_ecgnet_log_scale(net);
    *log_scale = fminf(fmaxf(*log_scale, 0.0f), LOG_SCALE_MAX);
}

static double train_step(run_state *s, const int *idx, int B)
{
    const mets_train_data *d = s->d;
    const mets_ecgenc_arch *a = mets_ecgnet_arch(s->net);
    size_t in_size = (size_t)24 * d->samples;
    int D = a->embed_dim, T = d->text_dim;
    for (int b = 0; b < B; b++) {
        mets_train_augment(d, idx[b], 0xFFF, &s->rng, s->o->augment, a->rate_hz, s->x + b * in_size);
        int text = d->text[idx[b]];
        if (s->o->augment && mets_train_add_noise(s->o->noise, d->samples, &s->rng, s->x + b * in_size))
            text = s->o->noise->text;
        memcpy(s->text_in + (size_t)b * T, d->text_emb + (size_t)text * T, T * sizeof(float));
        s->group[b] = text;
    }
    for (int t = 0, first = 0; t < s->nthreads; t++) {
        int share = B / s->nthreads + (t < B % s->nthreads);
        worker *w = &s->w[t];
        w->x = s->x + first * in_size, w->emb = s->emb + (size_t)first * D, w->d_emb = s->d_emb + (size_t)first * D;
        w->n = share;
        mets_ecgnet_tape_zero_grad(s->net, w->tape);
        first += share;
    }
    run_workers(s->w, s->nthreads, 0);
    mets_ecgnet_text_forward(s->net, s->text_in, B, s->text_out, s->text_norms);
    float d_ls;
    double loss = mets_infonce(s->emb, s->text_out, B, D, *mets_ecgnet_log_scale(s->net), s->group, s->d_emb, s->d_text,
                               &d_ls, s->nce_work);
    run_workers(s->w, s->nthreads, 1);
    mets_ecgnet_text_backward(s->net, s->w[0].tape, s->text_in, B, s->text_out, s->text_norms, s->d_text, s->scratch);
    apply_update(s, d_ls);
    s->step++;
    return loss;
}

static int alloc_state(run_state *s, mets_err *err)
{
    const mets_ecgenc_arch *a = mets_ecgnet_arch(s->net);
    size_t B = (size_t)s->o->batch, D = a->embed_dim, T = s->d->text_dim;
    s->x = malloc(B * 24 * s->d->samples * sizeof(float));
    s->emb = malloc(B * D * sizeof(float)), s->d_emb = malloc(B * D * sizeof(float));
    s->text_in = malloc(B * T * sizeof(float)), s->text_out = malloc(B * D * sizeof(float));
    s->text_norms = malloc(B * sizeof(float)), s->d_text = malloc(B * D * sizeof(float));
    s->scratch = malloc(B * D * sizeof(float)), s->nce_work = malloc(2 * B * B * sizeof(float));
    s->batch_idx = malloc(B * sizeof(int)), s->group = malloc(B * sizeof(int));
    s->nperm = 0;
    for (int i = 0; i < s->d->n; i++)
        s->nperm += s->o->repeat ? s->o->repeat[i] : 1;
    s->perm = malloc((size_t)s->nperm * sizeof(int));
    int ok = s->x && s->emb && s->d_emb && s->text_in && s->text_out && s->text_norms && s->d_text && s->scratch &&
             s->nce_work && s->batch_idx && s->group && s->perm;
    for (int t = 0; ok && t < s->nthreads; t++)
        ok = (s->w[t].tape = mets_ecgnet_tape_new(s->net, (int)(B / s->nthreads + 1), t == 0, err)) != NULL;
    for (int t = 0; t < s->nthreads; t++)
        s->w[t].net = s->net;
    return ok ? 0 : mets_err_set(err, METS_ENOMEM, "training: out of memory for a batch of %zu", B);
}

static void free_state(run_state *s)
{
    for (int t = 0; t < s->nthreads; t++)
        mets_ecgnet_tape_free(s->w[t].tape);
    free(s->x), free(s->emb), free(s->d_emb), free(s->text_in), free(s->text_out), free(s->text_norms);
    free(s->d_text), free(s->scratch), free(s->nce_work), free(s->batch_idx), free(s->group), free(s->perm);
}

static int save_checkpoint(const run_state *s, mets_err *err)
{
    mets_mfile_writer *w = mets_mfile_writer_new();
    int rc = w ? mets_ecgnet_save_state(s->net, w) : METS_ENOMEM;
    rc = rc ?: mets_mfile_writer_set_i64(w, "train.epoch", s->epoch);
    rc = rc ?: mets_mfile_writer_set_i64(w, "train.step", s->step);
    for (int i = 0; i < 4 && !rc; i++) {
        char key[32];
        snprintf(key, sizeof key, "train.rng%d", i);
        rc = mets_mfile_writer_set_i64(w, key, (int64_t)s->rng.s[i]);
    }
    if (rc)
        mets_err_set(err, rc, "%s: cannot build the checkpoint", s->o->checkpoint);
    else
        rc = mets_mfile_writer_write(w, s->o->checkpoint, err);
    mets_mfile_writer_free(w);
    return rc;
}

static int load_checkpoint(run_state *s, mets_err *err)
{
    if (access(s->o->checkpoint, F_OK) != 0)
        return 0; /* nothing to resume: a fresh start */
    mets_mfile *mf = mets_mfile_open(s->o->checkpoint, err);
    int64_t epoch, step, r;
    int rc = mf ? mets_ecgnet_load_state(s->net, mf, err) : METS_EIO;
    rc = rc ?: mets_mfile_get_i64(mf, "train.epoch", &epoch, err);
    rc = rc ?: mets_mfile_get_i64(mf, "train.step", &step, err);
    for (int i = 0; i < 4 && !rc; i++) {
        char key[32];
        snprintf(key, sizeof key, "train.rng%d", i);
        if (!(rc = mets_mfile_get_i64(mf, key, &r, err)))
            s->rng.s[i] = (uint64_t)r;
    }
    if (!rc) {
        s->epoch = (int)epoch, s->step = step, s->opt.step = step;
        if (!s->o->quiet)
            fprintf(stderr, "train: resumed from %s at epoch %d, step %ld\n", s->o->checkpoint, s->epoch, s->step);
    }
    mets_mfile_free(mf);
    return rc;
}

/* One epoch's order: window i `repeat[i]` times (once each without repeat), shuffled. */
static void shuffle(int *perm, int n, const int *repeat, int nwin, mets_rng *rng)
{
    for (int i = 0, k = 0; i < nwin; i++)
        for (int r = repeat ? repeat[i] : 1; r > 0; r--)
            perm[k++] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)mets_rng_below(rng, (uint64_t)i + 1), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
}

static void progress(const run_state *s, int batch_no, int batches, double loss, long step0)
{
    double rate = (double)(s->step - step0) * s->o->batch / (s->busy > 0 ? s->busy : 1);
    double left = (double)(s->total_steps - s->step) * s->o->batch / (rate > 0 ? rate : 1);
    fprintf(stderr, "\repoch %d/%d  batch %d/%d  loss %.4f  T %.3f  lr %.2e  %.0f samples/s  ETA %02d:%02d   ",
            s->epoch + 1, s->o->epochs, batch_no, batches, loss, 1.0 / exp(*mets_ecgnet_log_scale(s->net)), s->opt.lr,
            rate, (int)(left / 60), (int)left % 60);
}

int mets_train_run(mets_ecgnet *net, const mets_train_data *d, const mets_train_opts *o, double *final_loss,
                   mets_err *err)
{
    if (o->batch < 2 || o->epochs < 1 || o->threads < 1 || o->threads > MAX_THREADS || d->n < o->batch)
        return mets_err_set(err, METS_EINVAL, "training: need batch >= 2, epochs >= 1, 1..%d threads and at least "
                            "one batch of windows (have %d windows, batch %d)", MAX_THREADS, d->n, o->batch);
    run_state s = {.net = net, .d = d, .o = o, .nthreads = o->threads};
    s.opt = (mets_adamw){.beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = o->weight_decay};
    mets_rng_seed(&s.rng, o->seed);
    int rc = alloc_state(&s, err), batches = s.nperm / o->batch;
    s.total_steps = (long)batches * o->epochs;
    if (!rc && o->checkpoint && o->resume)
        rc = load_checkpoint(&s, err);
    double loss_sum = 0;
    long step0 = s.step;
    for (; !rc && s.epoch < o->epochs; s.epoch++) {
        shuffle(s.perm, s.nperm, o->repeat, d->n, &s.rng);
        loss_sum = 0;
        for (int b = 0; b < batches; b++) {
            double t0 = mets_monotonic_s();
            loss_sum += train_step(&s, s.perm + (size_t)b * o->batch, o->batch);
            s.busy += mets_monotonic_s() - t0;
            if (!o->quiet && (b % 5 == 0 || b == batches - 1))
                progress(&s, b + 1, batches, loss_sum / (b + 1), step0);
        }
        if (!o->quiet)
            fprintf(stderr, "\n");
        if (o->checkpoint) {
            s.epoch++; /* the checkpoint records epochs completed */
            rc = save_checkpoint(&s, err);
            s.epoch--;
        }
        if (!rc && o->on_epoch && o->on_epoch(o->ctx, s.epoch, loss_sum / batches, net))
            break;
    }
    if (final_loss)
        *final_loss = loss_sum / batches;
    free_state(&s);
    return rc;
}
