#include "ecgenc.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clock.h"
#include "mfile.h"

#define MAX_CONVS METS_ECGENC_MAX_CONVS

const char *const mets_ecg_lead_names[METS_ECG_LEADS] = {"I",   "II",  "III", "aVR", "aVL", "aVF",
                                                          "V1",  "V2",  "V3",  "V4",  "V5",  "V6"};

int mets_ecg_lead_index(const char *name)
{
    for (int i = 0; i < METS_ECG_LEADS; i++)
        if (!strcasecmp(name, mets_ecg_lead_names[i]))
            return i;
    return -1;
}

int mets_ecg_signal_lead(const char *name, int unnamed_lead)
{
    if (!strcmp(name, "MLII"))
        return 1;
    if (!strcmp(name, "ECG"))
        return unnamed_lead;
    return mets_ecg_lead_index(name);
}

mets_ecgenc_arch mets_ecgenc_default_arch(void)
{
    mets_ecgenc_arch a = {.rate_hz = 100, .samples = 1000, .stem_channels = 32, .kernel = 7, .stages = 4,
                          .channels = {32, 64, 96, 128}, .blocks = {2, 2, 2, 2}, .text_dim = 384,
                          .embed_dim = 256};
    return a;
}

static mets_ecgenc_conv make_conv(const char *name, mets_ecgenc_conv_role role, int cin, int cout, int k, int stride,
                                  int in_len)
{
    mets_ecgenc_conv c = {.role = role, .shape = {cin, cout, k, stride, k / 2, 1}, .in_len = in_len};
    snprintf(c.name, sizeof c.name, "%s", name);
    c.out_len = mets_conv1d_out_len(&c.shape, in_len);
    return c;
}

static mets_ecgenc_conv stem_conv(const mets_ecgenc_arch *a)
{
    return make_conv("stem", METS_CONV_STEM, METS_ECG_IN_CHANNELS, a->stem_channels, 7, 2, a->samples);
}

int mets_ecgenc_pool_len(const mets_ecgenc_arch *a)
{
    return mets_pool1d_out_len(stem_conv(a).out_len, 3, 2, 1);
}

int mets_ecgenc_convs(const mets_ecgenc_arch *a, mets_ecgenc_conv *out, int cap)
{
    int n = 0, cin = a->stem_channels, len = mets_ecgenc_pool_len(a);
    mets_ecgenc_conv c = stem_conv(a);
    if (n < cap)
        out[n] = c;
    n++;
    for (int s = 0; s < a->stages; s++)
        for (int b = 0; b < a->blocks[s]; b++) {
            int stride = (b == 0 && s > 0) ? 2 : 1, cout = a->channels[s];
            char name[48];
            snprintf(name, sizeof name, "stage%d.block%d.conv1", s, b);
            mets_ecgenc_conv list[3] = {make_conv(name, METS_CONV_1, cin, cout, a->kernel, stride, len)};
            int m = 1, out_len = list[0].out_len;
            snprintf(name, sizeof name, "stage%d.block%d.conv2", s, b);
            list[m++] = make_conv(name, METS_CONV_2, cout, cout, a->kernel, 1, out_len);
            if (stride != 1 || cin != cout) {
                snprintf(name, sizeof name, "stage%d.block%d.down", s, b);
                list[m++] = make_conv(name, METS_CONV_DOWN, cin, cout, 1, stride, len);
            }
            for (int i = 0; i < m; i++, n++)
                if (n < cap)
                    out[n] = list[i];
            cin = cout, len = out_len;
        }
    return n;
}

double mets_ecgenc_flops(const mets_ecgenc_arch *a)
{
    mets_ecgenc_conv convs[MAX_CONVS];
    int n = mets_ecgenc_convs(a, convs, MAX_CONVS);
    double f = 2.0 * a->embed_dim * a->channels[a->stages - 1];
    for (int i = 0; i < n; i++)
        f += 2.0 * convs[i].shape.cout * convs[i].shape.cin * convs[i].shape.k * convs[i].out_len;
    return f;
}

int mets_ecgenc_arch_write(const mets_ecgenc_arch *a, struct mets_mfile_writer *w)
{
    int rc = mets_mfile_writer_set_str(w, "model.arch", METS_ECGENC_ARCH, strlen(METS_ECGENC_ARCH));
    rc = rc ?: mets_mfile_writer_set_i64(w, "ecg.rate_hz", a->rate_hz);
    rc = rc ?: mets_mfile_writer_set_i64(w, "ecg.samples", a->samples);
    rc = rc ?: mets_mfile_writer_set_i64(w, "enc.stem_channels", a->stem_channels);
    rc = rc ?: mets_mfile_writer_set_i64(w, "enc.kernel", a->kernel);
    rc = rc ?: mets_mfile_writer_set_i64(w, "enc.stages", a->stages);
    for (int s = 0; s < a->stages && !rc; s++) {
        char key[48];
        snprintf(key, sizeof key, "enc.stage%d.channels", s);
        rc = mets_mfile_writer_set_i64(w, key, a->channels[s]);
        snprintf(key, sizeof key, "enc.stage%d.blocks", s);
        rc = rc ?: mets_mfile_writer_set_i64(w, key, a->blocks[s]);
    }
    rc = rc ?: mets_mfile_writer_set_i64(w, "head.text_dim", a->text_dim);
    rc = rc ?: mets_mfile_writer_set_i64(w, "head.embed_dim", a->embed_dim);
    return rc;
}

static int read_int(const mets_mfile *mf, const char *key, int lo, int hi, int *out, mets_err *err)
{
    int64_t v;
    int rc = mets_mfile_get_i64(mf, key, &v, err);
    if (rc)
        return rc;
    if (v < lo || v > hi)
        return mets_err_set(err, METS_EFORMAT, "%s: %s = %lld, expected %d..%d", mets_mfile_name(mf), key,
                            (long long)v, lo, hi);
    *out = (int)v;
    return 0;
}

int mets_ecgenc_arch_read(const mets_mfile *mf, mets_ecgenc_arch *a, mets_err *err)
{
    const char *arch;
    size_t len;
    int rc = mets_mfile_get_str(mf, "model.arch", &arch, &len, err);
    if (rc)
        return rc;
    if (len != strlen(METS_ECGENC_ARCH) || memcmp(arch, METS_ECGENC_ARCH, len))
        return mets_err_set(err, METS_EFORMAT, "%s: model.arch is '%.*s', expected '" METS_ECGENC_ARCH "'",
                            mets_mfile_name(mf), (int)len, arch);
    memset(a, 0, sizeof *a);
    if ((rc = read_int(mf, "ecg.rate_hz", 1, 10000, &a->rate_hz, err)) ||
        (rc = read_int(mf, "ecg.samples", 16, 1 << 20, &a->samples, err)) ||
        (rc = read_int(mf, "enc.stem_channels", 1, 4096, &a->stem_channels, err)) ||
        (rc = read_int(mf, "enc.kernel", 1, 63, &a->kernel, err)) ||
        (rc = read_int(mf, "enc.stages", 1, METS_ECGENC_MAX_STAGES, &a->stages, err)) ||
        (rc = read_int(mf, "head.text_dim", 1, 8192, &a->text_dim, err)) ||
        (rc = read_int(mf, "head.embed_dim", 1, 8192, &a->embed_dim, err)))
        return rc;
    for (int s = 0; s < a->stages; s++) {
        char key[48];
        snprintf(key, sizeof key, "enc.stage%d.channels", s);
        if ((rc = read_int(mf, key, 1, 4096, &a->channels[s], err)))
            return rc;
        snprintf(key, sizeof key, "enc.stage%d.blocks", s);
        if ((rc = read_int(mf, key, 1, 8, &a->blocks[s], err)))
            return rc;
    }
    mets_ecgenc_conv convs[MAX_CONVS];
    int n = mets_ecgenc_convs(a, convs, MAX_CONVS);
    for (int i = 0; i < n; i++)
        if (convs[i].out_len <= 0)
            return mets_err_set(err, METS_EFORMAT, "%s: a window of %d samples is too short for layer %s",
                                mets_mfile_name(mf), a->samples, convs[i].name);
    return 0;
}

typedef struct conv_weights {
    mets_ecgenc_conv conv;
    const float *w, *b;
    /* The bias added at run time: a block's projection shortcut adds its own and conv2's (the sum, owned),
     * and conv2 then adds none, accumulating onto the shortcut. */
    const float *run_b;
    const float *wp; /* w packed for the convolution kernel (mets_conv1d_pack), or NULL */
} conv_weights;

struct mets_ecgenc {
    mets_mfile *mf;
    float **owned; /* f16 tensors widened to f32 at load */
    int nowned;
    mets_ecgenc_arch arch;
    int nconv;
    conv_weights convs[MAX_CONVS];
    const float *ecg_w, *ecg_b, *text_w, *text_b, *logit_scale;
};

/* Activations are channel-major, [channels, batch, length]. Every convolution computes window by window
 * (a window scores bit-identically in any batch), so batching gains nothing inside the trunk: it runs
 * on TRUNK_CHUNK windows at a time, whose activations stay in the core's L2 cache. */
#ifndef TRUNK_CHUNK
#define TRUNK_CHUNK 4
#endif

struct mets_ecgenc_ctx {
    int max_batch, chunk; /* windows per pass through the trunk */
    float *buf[3], *work, *pooled; /* block input, conv1 output, block output */
    size_t work_floats;
};

/* *out = n floats the encoder owns (freed with it), for `what`. */
static int own_floats(mets_ecgenc *enc, size_t n, const char *what, float **out, mets_err *err)
{
    float **grown = realloc(enc->owned, (size_t)(enc->nowned + 1) * sizeof *grown), *w = malloc(n * sizeof *w);
    if (grown)
        enc->owned = grown;
    if (!grown || !w) {
        free(w);
        return mets_err_set(err, METS_ENOMEM, "%s: out of memory for '%s'", mets_mfile_name(enc->mf), what);
    }
    *out = enc->owned[enc->nowned++] = w;
    return 0;
}

/* Binds tensor `name` as f32: straight from the mapping, or widened once from f16. */
static int bind(mets_ecgenc *enc, const char *name, int ndim, int64_t d0, int64_t d1, int64_t d2, const float **out,
                mets_err *err)
{
    int64_t shape[3] = {d0, d1, d2};
    const void *half;
    if (mets_mfile_tensor(enc->mf, name, METS_DT_F16, ndim, shape, &half, NULL) != 0)
        return mets_mfile_tensor_f32(enc->mf, name, ndim, shape, out, err);
    size_t n = (size_t)d0 * (ndim > 1 ? (size_t)d1 : 1) * (ndim > 2 ? (size_t)d2 : 1);
    float *w = NULL;
    int rc = own_floats(enc, n, name, &w, err);
    if (rc)
        return rc;
    mets_f16_to_f32(half, w, n);
    *out = w;
    return 0;
}

/* A projection shortcut (listed right after its block's conv2) runs first and adds both biases; conv2
 * then accumulates onto it with none, which saves a pass over the block's output. */
static int fuse_shortcut_biases(mets_ecgenc *enc, mets_err *err)
{
    for (int i = 0; i < enc->nconv; i++)
        enc->convs[i].run_b = enc->convs[i].b;
    for (int i = 1; i < enc->nconv; i++) {
        conv_weights *down = &enc->convs[i], *conv2 = &enc->convs[i - 1];
        if (down->conv.role != METS_CONV_DOWN)
            continue;
        int cout = down->conv.shape.cout;
        float *sum;
        int rc = own_floats(enc, (size_t)cout, down->conv.name, &sum, err);
        if (rc)
            return rc;
        for (int c = 0; c < cout; c++)
            sum[c] = down->b[c] + conv2->b[c];
        down->run_b = sum, conv2->run_b = NULL;
    }
    return 0;
}

/* Repacks every convolution's weights once for the convolution kernel, where this CPU has it. */
static int pack_weights(mets_ecgenc *enc, mets_err *err)
{
    for (int i = 0; i < enc->nconv; i++) {
        conv_weights *c = &enc->convs[i];
        size_t n = mets_conv1d_packed_floats(&c->conv.shape);
        if (!n)
            continue;
        float *wp;
        int rc = own_floats(enc, n, c->conv.name, &wp, err);
        if (rc)
            return rc;
        mets_conv1d_pack(&c->conv.shape, c->w, wp);
        c->wp = wp;
    }
    return 0;
}

static int bind_weights(mets_ecgenc *enc, mets_err *err)
{
    const mets_ecgenc_arch *a = &enc->arch;
    int rc = 0;
    for (int i = 0; i < enc->nconv && !rc; i++) {
        conv_weights *c = &enc->convs[i];
        const mets_conv1d_shape *s = &c->conv.shape;
        char name[64];
        snprintf(name, sizeof name, "%s.weight", c->conv.name);
        rc = bind(enc, name, 3, s->cout, s->cin, s->k, &c->w, err);
        snprintf(name, sizeof name, "%s.bias", c->conv.name);
        rc = rc ?: bind(enc, name, 1, s->cout, 0, 0, &c->b, err);
    }
    int last = a->channels[a->stages - 1];
    rc = rc ?: bind(enc, "head.ecg.weight", 2, a->embed_dim, last, 0, &enc->ecg_w, err);
    rc = rc ?: bind(enc, "head.ecg.bias", 1, a->embed_dim, 0, 0, &enc->ecg_b, err);
    rc = rc ?: bind(enc, "head.text.weight", 2, a->embed_dim, a->text_dim, 0, &enc->text_w, err);
    rc = rc ?: bind(enc, "head.text.bias", 1, a->embed_dim, 0, 0, &enc->text_b, err);
    rc = rc ?: bind(enc, "logit_scale", 1, 1, 0, 0, &enc->logit_scale, err);
    return rc ?: fuse_shortcut_biases(enc, err) ?: pack_weights(enc, err);
}

mets_ecgenc *mets_ecgenc_open(const char *path, mets_err *err)
{
    mets_ecgenc *enc = calloc(1, sizeof *enc);
    if (!enc) {
        mets_err_set(err, METS_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    mets_ecgenc_conv convs[MAX_CONVS];
    if (!(enc->mf = mets_mfile_open(path, err)) || mets_ecgenc_arch_read(enc->mf, &enc->arch, err))
        goto fail;
    enc->nconv = mets_ecgenc_convs(&enc->arch, convs, MAX_CONVS);
    if (enc->nconv > MAX_CONVS) {
        mets_err_set(err, METS_EFORMAT, "%s: %d convolutions, at most %d supported", path, enc->nconv, MAX_CONVS);
        goto fail;
    }
    for (int i = 0; i < enc->nconv; i++)
        enc->convs[i].conv = convs[i];
    if (bind_weights(enc, err))
        goto fail;
    mets_blas_init();
    return enc;
fail:
    mets_ecgenc_free(enc);
    return NULL;
}

void mets_ecgenc_free(mets_ecgenc *enc)
{
    if (!enc)
        return;
    for (int i = 0; i < enc->nowned; i++)
        free(enc->owned[i]);
    free(enc->owned);
    mets_mfile_free(enc->mf);
    free(enc);
}

const mets_ecgenc_arch *mets_ecgenc_get_arch(const mets_ecgenc *enc)
{
    return &enc->arch;
}

int mets_ecgenc_dim(const mets_ecgenc *enc)
{
    return enc->arch.embed_dim;
}

float mets_ecgenc_logit_scale(const mets_ecgenc *enc)
{
    return expf(enc->logit_scale[0]);
}

mets_ecgenc_ctx *mets_ecgenc_ctx_new(const mets_ecgenc *enc, int max_batch, mets_err *err)
{
    size_t act = 0, work = 0; /* work: the most one window needs */
    for (int i = 0; i < enc->nconv; i++) {
        const mets_ecgenc_conv *c = &enc->convs[i].conv;
        size_t in = (size_t)c->shape.cin * c->in_len, out = (size_t)c->shape.cout * c->out_len;
        act = in > act ? in : act;
        act = out > act ? out : act;
        size_t wk = mets_conv1d_cnl_work_floats(&c->shape, c->in_len);
        work = wk > work ? wk : work;
    }
    mets_ecgenc_ctx *ctx = calloc(1, sizeof *ctx);
    int ok = ctx != NULL && max_batch > 0;
    if (ok) {
        ctx->max_batch = max_batch;
        ctx->chunk = max_batch > TRUNK_CHUNK ? TRUNK_CHUNK : max_batch;
        ctx->work_floats = work;
        for (int i = 0; i < 3; i++)
            ok &= (ctx->buf[i] = malloc(act * ctx->chunk * sizeof(float))) != NULL;
        ok &= (ctx->work = malloc((ctx->work_floats ? ctx->work_floats : 1) * sizeof(float))) != NULL;
        ok &= (ctx->pooled = malloc((size_t)max_batch * enc->arch.channels[enc->arch.stages - 1] * sizeof(float))) !=
              NULL;
    }
    if (!ok) {
        mets_ecgenc_ctx_free(ctx);
        mets_err_set(err, max_batch > 0 ? METS_ENOMEM : METS_EINVAL, "ECG encoder: cannot allocate scratch for %d windows",
                     max_batch);
        return NULL;
    }
    return ctx;
}

void mets_ecgenc_ctx_free(mets_ecgenc_ctx *ctx)
{
    if (!ctx)
        return;
    for (int i = 0; i < 3; i++)
        free(ctx->buf[i]);
    free(ctx->work), free(ctx->pooled);
    free(ctx);
}

/* The optional timing table of mets_ecgenc_encode_timed: each lap adds the time since the previous
 * one to a step (a convolution's index, or one of the steps below). Without a table it reads no clock. */
enum { STEP_POOL = -1, STEP_HEAD = -2 };

typedef struct timer {
    mets_ecgenc_times *t;
    double mark;
} timer;

static void lap(timer *tm, int step)
{
    if (!tm->t)
        return;
    double now = mets_thread_cpu_s();
    double *slot = step >= 0 ? &tm->t->conv[step] : step == STEP_POOL ? &tm->t->pool : &tm->t->head;
    *slot += now - tm->mark;
    tm->mark = now;
}

/* Convolution i of x (window-major for the stem's input, else channel-major) into channel-major y,
 * adding the residual r (NULL, or y itself to accumulate), then the ReLU if relu. */
static void run_conv(const mets_ecgenc *enc, int i, const float *x, int n, const float *r, float *y, int relu,
                     mets_ecgenc_ctx *ctx, timer *tm)
{
    const conv_weights *c = &enc->convs[i];
    mets_conv1d_cnl(&c->conv.shape, c->w, c->wp, c->run_b, r, x, i == 0, n, c->conv.in_len, y, relu, ctx->work,
                    ctx->work_floats);
    lap(tm, i);
}

/* One residual block from convs[i] on: x -> out, using t as scratch; returns the next conv index. The
 * shortcut (x itself, or its projection computed into out) is the residual conv2 adds onto, and the
 * block's ReLUs run as the convolutions store their results. */
static int run_block(const mets_ecgenc *enc, int i, const float *x, int n, float *t, float *out,
                     mets_ecgenc_ctx *ctx, timer *tm)
{
    run_conv(enc, i, x, n, NULL, t, 1, ctx, tm);
    int next = i + 2;
    if (next < enc->nconv && enc->convs[next].conv.role == METS_CONV_DOWN) {
        run_conv(enc, next, x, n, NULL, out, 0, ctx, tm);
        run_conv(enc, i + 1, t, n, out, out, 1, ctx, tm);
        next++;
    } else {
        run_conv(enc, i + 1, t, n, x, out, 1, ctx, tm);
    }
    return next;
}

/* Global average pool of x[c, n, len] into pooled[n, c], summing as mets_avgpool1d does. */
static void global_avg_pool(const float *x, int c, int n, int len, float *pooled)
{
    for (int ch = 0; ch < c; ch++)
        for (int w = 0; w < n; w++) {
            const float *row = x + ((size_t)ch * n + w) * len;
            float acc = 0.0f;
            for (int t = 0; t < len; t++)
                acc += row[t];
            pooled[(size_t)w * c + ch] = acc / (float)len;
        }
}

int mets_ecgenc_encode(const mets_ecgenc *enc, mets_ecgenc_ctx *ctx, const float *x, int n, float *emb,
                       mets_err *err)
{
    return mets_ecgenc_encode_timed(enc, ctx, x, n, emb, NULL, err);
}

/* The convolutional trunk on n <= ctx->chunk windows x[n, 24, samples], into pooled[n, channels]. */
static void run_trunk(const mets_ecgenc *enc, mets_ecgenc_ctx *ctx, const float *x, int n, float *pooled, timer *tm)
{
    const mets_ecgenc_conv *stem = &enc->convs[0].conv, *last = &enc->convs[enc->nconv - 1].conv;
    float **b = ctx->buf;
    run_conv(enc, 0, x, n, NULL, b[1], 1, ctx, tm);
    mets_maxpool1d(b[1], n * stem->shape.cout, stem->out_len, 3, 2, 1, b[0]);
    lap(tm, STEP_POOL);
    for (int i = 1; i < enc->nconv;) {
        i = run_block(enc, i, b[0], n, b[1], b[2], ctx, tm);
        float *tmp = b[0];
        b[0] = b[2], b[2] = tmp;
    }
    global_avg_pool(b[0], last->shape.cout, n, last->out_len, pooled);
    lap(tm, STEP_POOL);
}

int mets_ecgenc_encode_timed(const mets_ecgenc *enc, mets_ecgenc_ctx *ctx, const float *x, int n, float *emb,
                             mets_ecgenc_times *times, mets_err *err)
{
    if (n < 0 || n > ctx->max_batch)
        return mets_err_set(err, METS_EINVAL, "ECG encoder: batch of %d windows, context holds %d", n,
                            ctx->max_batch);
    const mets_ecgenc_arch *a = &enc->arch;
    int channels = a->channels[a->stages - 1];
    timer tm = {times, times ? mets_thread_cpu_s() : 0.0};
    for (int w0 = 0; w0 < n; w0 += ctx->chunk) {
        int m = n - w0 < ctx->chunk ? n - w0 : ctx->chunk;
        run_trunk(enc, ctx, x + (size_t)w0 * METS_ECG_IN_CHANNELS * a->samples, m,
                  ctx->pooled + (size_t)w0 * channels, &tm);
    }
    mets_linear_rows(ctx->pooled, n, channels, enc->ecg_w, enc->ecg_b, a->embed_dim, emb);
    mets_l2_normalize(emb, n, a->embed_dim, NULL);
    lap(&tm, STEP_HEAD);
    return 0;
}

void mets_ecgenc_embed_text(const mets_ecgenc *enc, const float *text, int n, float *out)
{
    mets_linear(text, n, enc->arch.text_dim, enc->text_w, enc->text_b, enc->arch.embed_dim, out);
    mets_l2_normalize(out, n, enc->arch.embed_dim, NULL);
}
