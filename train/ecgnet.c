#include "ecgnet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grad.h"
#include "mfile.h"
#include "rng.h"

#define MAX_CONVS (1 + 3 * METS_ECGENC_MAX_STAGES * 8)
#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f

typedef struct conv_unit {
    mets_ecgenc_conv conv;
    size_t w, gamma, beta; /* parameter indices; no conv bias: batch norm follows every conv */
    float *rmean, *rvar;
} conv_unit;

struct mets_ecgnet {
    mets_ecgenc_arch arch;
    int nconv;
    conv_unit conv[MAX_CONVS];
    size_t nparam;
    mets_ecgnet_param *param;
    size_t ecg_w, ecg_b, text_w, text_b, log_scale;
    size_t max_act, max_work; /* per window, in floats */
};

/* What one conv + batch norm keeps for the backward pass. y is the unit's output: after ReLU for the
 * stem and conv1, the whole block's output (residual added, ReLU) for conv2, plain BN for down. */
typedef struct conv_act {
    float *z, *y, *mean, *invstd;
} conv_act;

struct mets_ecgnet_tape {
    int max_batch, n, primary, nconv;
    size_t nparam;
    conv_act act[MAX_CONVS];
    const float *input; /* the caller's x, read again by the backward pass */
    float *pool_out, *pooled, *emb, *norms;
    float **grad;
    float *work, *g[4], *d_pooled, *d_raw;
    float *scratch_rm, *scratch_rv; /* running statistics of a non-primary tape, discarded */
};

static size_t add_param(mets_ecgnet *net, const char *name, size_t n, int decay)
{
    mets_ecgnet_param *p = &net->param[net->nparam];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->n = n, p->decay = decay;
    p->w = calloc(n, sizeof *p->w), p->m = calloc(n, sizeof *p->m), p->v = calloc(n, sizeof *p->v);
    return net->nparam++;
}

static void fill_normal(float *w, size_t n, double std, mets_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)(std * mets_rng_normal(rng));
}

static void fill_uniform(float *w, size_t n, double bound, mets_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)(bound * (2.0 * mets_rng_uniform(rng) - 1.0));
}

static void fill(float *w, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        w[i] = v;
}

/* Kaiming-normal convolutions (fan-out, as torchvision's ResNet), BN gamma 1 except the last BN of
 * each residual branch, which starts at 0 so every block starts as the identity. */
static void add_conv_unit(mets_ecgnet *net, int i, mets_rng *rng)
{
    conv_unit *u = &net->conv[i];
    const mets_conv1d_shape *s = &u->conv.shape;
    char name[64];
    snprintf(name, sizeof name, "%s.weight", u->conv.name);
    u->w = add_param(net, name, (size_t)s->cout * s->cin * s->k, 1);
    fill_normal(net->param[u->w].w, net->param[u->w].n, sqrt(2.0 / ((double)s->cout * s->k)), rng);
    snprintf(name, sizeof name, "%s.bn.gamma", u->conv.name);
    u->gamma = add_param(net, name, s->cout, 0);
    fill(net->param[u->gamma].w, s->cout, u->conv.role == METS_CONV_2 ? 0.0f : 1.0f);
    snprintf(name, sizeof name, "%s.bn.beta", u->conv.name);
    u->beta = add_param(net, name, s->cout, 0);
    u->rmean = calloc(s->cout, sizeof *u->rmean);
    u->rvar = malloc(s->cout * sizeof *u->rvar);
    fill(u->rvar, s->cout, 1.0f);
}

static void add_heads(mets_ecgnet *net, mets_rng *rng)
{
    const mets_ecgenc_arch *a = &net->arch;
    int last = a->channels[a->stages - 1];
    net->ecg_w = add_param(net, "head.ecg.weight", (size_t)a->embed_dim * last, 1);
    net->ecg_b = add_param(net, "head.ecg.bias", a->embed_dim, 0);
    net->text_w = add_param(net, "head.text.weight", (size_t)a->embed_dim * a->text_dim, 1);
    net->text_b = add_param(net, "head.text.bias", a->embed_dim, 0);
    net->log_scale = add_param(net, "logit_scale", 1, 0);
    fill_uniform(net->param[net->ecg_w].w, net->param[net->ecg_w].n, 1.0 / sqrt(last), rng);
    fill_uniform(net->param[net->text_w].w, net->param[net->text_w].n, 1.0 / sqrt(a->text_dim), rng);
    net->param[net->log_scale].w[0] = logf(1.0f / 0.07f);
}

static void size_buffers(mets_ecgnet *net)
{
    for (int i = 0; i < net->nconv; i++) {
        const mets_ecgenc_conv *c = &net->conv[i].conv;
        size_t in = (size_t)c->shape.cin * c->in_len, out = (size_t)c->shape.cout * c->out_len;
        size_t work = mets_conv1d_work_floats(&c->shape, c->in_len);
        net->max_act = in > net->max_act ? in : net->max_act;
        net->max_act = out > net->max_act ? out : net->max_act;
        net->max_work = work > net->max_work ? work : net->max_work;
    }
}

mets_ecgnet *mets_ecgnet_new(const mets_ecgenc_arch *arch, uint64_t seed, mets_err *err)
{
    mets_ecgnet *net = calloc(1, sizeof *net);
    mets_ecgenc_conv convs[MAX_CONVS];
    int n = mets_ecgenc_convs(arch, convs, MAX_CONVS);
    if (!net || n > MAX_CONVS || !(net->param = calloc((size_t)3 * n + 5, sizeof *net->param))) {
        free(net);
        mets_err_set(err, METS_ENOMEM, "ECG network: cannot allocate %d layers", n);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (convs[i].out_len <= 0) {
            mets_err_set(err, METS_EINVAL, "ECG network: window of %d samples too short for %s", arch->samples,
                         convs[i].name);
            free(net->param), free(net);
            return NULL;
        }
    mets_rng rng;
    mets_rng_seed(&rng, seed);
    net->arch = *arch;
    net->nconv = n;
    for (int i = 0; i < n; i++) {
        net->conv[i].conv = convs[i];
        add_conv_unit(net, i, &rng);
    }
    add_heads(net, &rng);
    size_buffers(net);
    return net;
}

void mets_ecgnet_free(mets_ecgnet *net)
{
    if (!net)
        return;
    for (size_t i = 0; i < net->nparam; i++)
        free(net->param[i].w), free(net->param[i].m), free(net->param[i].v);
    for (int i = 0; i < net->nconv; i++)
        free(net->conv[i].rmean), free(net->conv[i].rvar);
    free(net->param);
    free(net);
}

const mets_ecgenc_arch *mets_ecgnet_arch(const mets_ecgnet *net)
{
    return &net->arch;
}

size_t mets_ecgnet_param_count(const mets_ecgnet *net)
{
    return net->nparam;
}

mets_ecgnet_param *mets_ecgnet_param_at(mets_ecgnet *net, size_t i)
{
    return &net->param[i];
}

size_t mets_ecgnet_scalars(const mets_ecgnet *net)
{
    size_t n = 0;
    for (size_t i = 0; i < net->nparam; i++)
        n += net->param[i].n;
    return n;
}

float *mets_ecgnet_log_scale(mets_ecgnet *net)
{
    return net->param[net->log_scale].w;
}

size_t mets_ecgnet_log_scale_index(const mets_ecgnet *net)
{
    return net->log_scale;
}

static float *alloc_floats(size_t n, int *ok)
{
    float *p = *ok ? malloc((n ? n : 1) * sizeof *p) : NULL;
    *ok = *ok && p != NULL;
    return p;
}

mets_ecgnet_tape *mets_ecgnet_tape_new(const mets_ecgnet *net, int max_batch, int primary, mets_err *err)
{
    mets_ecgnet_tape *t = calloc(1, sizeof *t);
    size_t B = (size_t)max_batch, last = net->arch.channels[net->arch.stages - 1], D = net->arch.embed_dim;
    int ok = t != NULL && max_batch > 0 && (t->grad = calloc(net->nparam, sizeof *t->grad)) != NULL;
    if (t)
        t->nconv = net->nconv, t->nparam = net->nparam, t->max_batch = max_batch, t->primary = primary;
    for (int i = 0; ok && i < net->nconv; i++) {
        const mets_ecgenc_conv *c = &net->conv[i].conv;
        conv_act *a = &t->act[i];
        a->z = alloc_floats(B * c->shape.cout * c->out_len, &ok);
        a->y = alloc_floats(B * c->shape.cout * c->out_len, &ok);
        a->mean = alloc_floats(c->shape.cout, &ok);
        a->invstd = alloc_floats(c->shape.cout, &ok);
    }
    for (size_t i = 0; ok && i < net->nparam; i++)
        ok = (t->grad[i] = calloc(net->param[i].n, sizeof(float))) != NULL;
    for (int i = 0; i < 4; i++)
        t->g[i] = alloc_floats(B * net->max_act, &ok);
    t->pool_out = alloc_floats(B * net->max_act, &ok);
    t->pooled = alloc_floats(B * last, &ok);
    t->d_pooled = alloc_floats(B * last, &ok);
    t->emb = alloc_floats(B * D, &ok);
    t->d_raw = alloc_floats(B * D, &ok);
    t->norms = alloc_floats(B, &ok);
    t->work = alloc_floats(2 * net->max_work, &ok);
    t->scratch_rm = alloc_floats(net->max_act, &ok);
    t->scratch_rv = alloc_floats(net->max_act, &ok);
    if (!ok) {
        mets_ecgnet_tape_free(t);
        mets_err_set(err, METS_ENOMEM, "ECG network: cannot allocate a tape for %d windows", max_batch);
        return NULL;
    }
    return t;
}

void mets_ecgnet_tape_free(mets_ecgnet_tape *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->nconv; i++)
        free(t->act[i].z), free(t->act[i].y), free(t->act[i].mean), free(t->act[i].invstd);
    for (size_t i = 0; t->grad && i < t->nparam; i++)
        free(t->grad[i]);
    for (int i = 0; i < 4; i++)
        free(t->g[i]);
    free(t->grad), free(t->pool_out), free(t->pooled), free(t->d_pooled), free(t->emb), free(t->d_raw);
    free(t->norms), free(t->work), free(t->scratch_rm), free(t->scratch_rv);
    free(t);
}

float *mets_ecgnet_tape_grad(mets_ecgnet_tape *t, size_t i)
{
    return t->grad[i];
}

void mets_ecgnet_tape_zero_grad(const mets_ecgnet *net, mets_ecgnet_tape *t)
{
    for (size_t i = 0; i < t->nparam; i++)
        memset(t->grad[i], 0, net->param[i].n * sizeof(float));
}

/* conv -> batch norm (batch statistics) for unit i: x -> act.z -> act.y. */
static void unit_forward(mets_ecgnet *net, mets_ecgnet_tape *t, int i, const float *x)
{
    conv_unit *u = &net->conv[i];
    conv_act *a = &t->act[i];
    const mets_conv1d_shape *s = &u->conv.shape;
    mets_conv1d(s, net->param[u->w].w, NULL, x, t->n, u->conv.in_len, a->z, t->work);
    mets_batchnorm_train(a->z, t->n, s->cout, u->conv.out_len, net->param[u->gamma].w, net->param[u->beta].w, BN_EPS,
                         BN_MOMENTUM, t->primary ? u->rmean : t->scratch_rm, t->primary ? u->rvar : t->scratch_rv,
                         a->mean, a->invstd, a->y);
}

static size_t unit_out_size(const mets_ecgnet *net, const mets_ecgnet_tape *t, int i)
{
    return (size_t)t->n * net->conv[i].conv.shape.cout * net->conv[i].conv.out_len;
}

static int has_down(const mets_ecgnet *net, int i)
{
    return i + 2 < net->nconv && net->conv[i + 2].conv.role == METS_CONV_DOWN;
}

/* A residual block whose conv1 is unit i, from x; returns the index of the next block's conv1. */
static int block_forward(mets_ecgnet *net, mets_ecgnet_tape *t, int i, const float *x)
{
    unit_forward(net, t, i, x);
    mets_relu(t->act[i].y, unit_out_size(net, t, i));
    unit_forward(net, t, i + 1, t->act[i].y);
    float *out = t->act[i + 1].y;
    const float *shortcut = x;
    if (has_down(net, i)) {
        unit_forward(net, t, i + 2, x);
        shortcut = t->act[i + 2].y;
    }
    size_t m = unit_out_size(net, t, i + 1);
    for (size_t k = 0; k < m; k++)
        out[k] += shortcut[k];
    mets_relu(out, m);
    return i + (has_down(net, i) ? 3 : 2);
}

/* The conv2 unit of the last block: its y is the network's last feature map. */
static int last_unit(const mets_ecgnet *net)
{
    int i = net->nconv - 1;
    return net->conv[i].conv.role == METS_CONV_DOWN ? i - 1 : i;
}

void mets_ecgnet_forward(mets_ecgnet *net, mets_ecgnet_tape *t, const float *x, int n, float *emb)
{
    const mets_ecgenc_arch *a = &net->arch;
    t->n = n, t->input = x;
    unit_forward(net, t, 0, x);
    mets_relu(t->act[0].y, unit_out_size(net, t, 0));
    mets_maxpool1d(t->act[0].y, n * a->stem_channels, net->conv[0].conv.out_len, 3, 2, 1, t->pool_out);
    const float *in = t->pool_out;
    for (int i = 1; i < net->nconv;) {
        int next = block_forward(net, t, i, in);
        in = t->act[i + 1].y;
        i = next;
    }
    const mets_ecgenc_conv *top = &net->conv[last_unit(net)].conv;
    int channels = top->shape.cout, len = top->out_len;
    mets_avgpool1d(in, n * channels, len, len, len, 0, t->pooled);
    mets_linear(t->pooled, n, channels, net->param[net->ecg_w].w, net->param[net->ecg_b].w, a->embed_dim, t->emb);
    mets_l2_normalize(t->emb, n, a->embed_dim, t->norms);
    memcpy(emb, t->emb, (size_t)n * a->embed_dim * sizeof *emb);
}

/* Batch norm then conv backward of unit i: dy (gradient of the BN output) becomes dz in place, the
 * parameter gradients accumulate, and dx is overwritten unless NULL. */
static void unit_backward(const mets_ecgnet *net, mets_ecgnet_tape *t, int i, const float *x, float *dy, float *dx)
{
    const conv_unit *u = &net->conv[i];
    const conv_act *a = &t->act[i];
    const mets_conv1d_shape *s = &u->conv.shape;
    mets_batchnorm_backward(a->z, t->n, s->cout, u->conv.out_len, net->param[u->gamma].w, a->mean, a->invstd, dy, dy,
                            t->grad[u->gamma], t->grad[u->beta]);
    mets_conv1d_backward(s, net->param[u->w].w, x, t->n, u->conv.in_len, dy, dx, t->grad[u->w], NULL, t->work);
}

/* Backward of the block whose conv1 is unit i and whose input was x. On entry t->g[0] holds the
 * gradient of the block's output; on return it holds the gradient of x (buffers rotate). */
static void block_backward(const mets_ecgnet *net, mets_ecgnet_tape *t, int i, const float *x)
{
    float **g = t->g;
    size_t m = unit_out_size(net, t, i + 1);
    size_t nx = (size_t)t->n * net->conv[i].conv.shape.cin * net->conv[i].conv.in_len;
    mets_relu_backward(t->act[i + 1].y, g[0], g[0], m);
    const float *dshort = g[0];
    if (has_down(net, i)) {
        memcpy(g[1], g[0], m * sizeof(float));
        unit_backward(net, t, i + 2, x, g[1], g[2]);
        dshort = g[2];
    }
    memcpy(g[1], g[0], m * sizeof(float));
    unit_backward(net, t, i + 1, t->act[i].y, g[1], g[3]);
    mets_relu_backward(t->act[i].y, g[3], g[3], unit_out_size(net, t, i));
    unit_backward(net, t, i, x, g[3], g[1]);
    for (size_t k = 0; k < nx; k++)
        g[1][k] += dshort[k];
    float *tmp = g[0];
    g[0] = g[1], g[1] = tmp;
}

void mets_ecgnet_backward(const mets_ecgnet *net, mets_ecgnet_tape *t, const float *d_emb)
{
    const mets_ecgenc_arch *a = &net->arch;
    const mets_ecgenc_conv *top = &net->conv[last_unit(net)].conv;
    int n = t->n, channels = top->shape.cout, len = top->out_len;
    mets_l2_normalize_backward(t->emb, t->norms, n, a->embed_dim, d_emb, t->d_raw);
    mets_linear_backward(t->pooled, n, channels, net->param[net->ecg_w].w, a->embed_dim, t->d_raw, t->d_pooled,
                         t->grad[net->ecg_w], t->grad[net->ecg_b]);
    mets_avgpool1d_backward(n * channels, len, len, len, 0, t->d_pooled, t->g[0]);
    int starts[MAX_CONVS], nblocks = 0;
    for (int i = 1; i < net->nconv; i += has_down(net, i) ? 3 : 2)
        starts[nblocks++] = i;
    for (int b = nblocks - 1; b >= 0; b--)
        block_backward(net, t, starts[b], b > 0 ? t->act[starts[b - 1] + 1].y : t->pool_out);
    const mets_ecgenc_conv *stem = &net->conv[0].conv;
    float *d_stem = t->g[1];
    mets_maxpool1d_backward(t->act[0].y, n * a->stem_channels, stem->out_len, 3, 2, 1, t->g[0], d_stem);
    mets_relu_backward(t->act[0].y, d_stem, d_stem, unit_out_size(net, t, 0));
    unit_backward(net, t, 0, t->input, d_stem, NULL);
}

void mets_ecgnet_text_forward(const mets_ecgnet *net, const float *text, int n, float *out, float *norms)
{
    const mets_ecgenc_arch *a = &net->arch;
    mets_linear(text, n, a->text_dim, net->param[net->text_w].w, net->param[net->text_b].w, a->embed_dim, out);
    mets_l2_normalize(out, n, a->embed_dim, norms);
}

void mets_ecgnet_text_backward(const mets_ecgnet *net, mets_ecgnet_tape *t, const float *text, int n,
                               const float *out, const float *norms, const float *d_out, float *scratch)
{
    const mets_ecgenc_arch *a = &net->arch;
    mets_l2_normalize_backward(out, norms, n, a->embed_dim, d_out, scratch);
    mets_linear_backward(text, n, a->text_dim, net->param[net->text_w].w, a->embed_dim, scratch, NULL,
                         t->grad[net->text_w], t->grad[net->text_b]);
}

static int add_tensor(struct mets_mfile_writer *w, mets_dtype dt, const char *name, const float *data, int ndim,
                      int64_t d0, int64_t d1, int64_t d2)
{
    int64_t shape[3] = {d0, d1, d2};
    if (dt != METS_DT_F16)
        return mets_mfile_writer_add_tensor(w, name, METS_DT_F32, ndim, shape, data);
    size_t n = (size_t)d0 * (ndim > 1 ? (size_t)d1 : 1) * (ndim > 2 ? (size_t)d2 : 1);
    uint16_t *half = malloc(n * sizeof *half);
    if (!half)
        return METS_ENOMEM;
    mets_f32_to_f16(data, half, n);
    int rc = mets_mfile_writer_add_tensor(w, name, METS_DT_F16, ndim, shape, half);
    free(half);
    return rc;
}

static int export_conv(const mets_ecgnet *net, const conv_unit *u, struct mets_mfile_writer *w, mets_dtype dt)
{
    const mets_conv1d_shape *s = &u->conv.shape;
    size_t fan = (size_t)s->cin * s->k;
    float *wf = malloc(s->cout * fan * sizeof *wf), *bf = calloc(s->cout, sizeof *bf);
    int rc = (wf && bf) ? 0 : METS_ENOMEM;
    if (!rc) {
        char name[64];
        memcpy(wf, net->param[u->w].w, s->cout * fan * sizeof *wf);
        mets_batchnorm_fold(wf, bf, s->cout, (int)fan, net->param[u->gamma].w, net->param[u->beta].w, u->rmean,
                            u->rvar, BN_EPS);
        snprintf(name, sizeof name, "%s.weight", u->conv.name);
        rc = add_tensor(w, dt, name, wf, 3, s->cout, s->cin, s->k);
        snprintf(name, sizeof name, "%s.bias", u->conv.name);
        rc = rc ?: add_tensor(w, dt, name, bf, 1, s->cout, 0, 0);
    }
    free(wf), free(bf);
    return rc;
}

int mets_ecgnet_export(const mets_ecgnet *net, struct mets_mfile_writer *w, mets_dtype dt)
{
    const mets_ecgenc_arch *a = &net->arch;
    int rc = mets_ecgenc_arch_write(a, w), last = a->channels[a->stages - 1];
    for (int i = 0; i < net->nconv && !rc; i++)
        rc = export_conv(net, &net->conv[i], w, dt);
    rc = rc ?: add_tensor(w, dt, "head.ecg.weight", net->param[net->ecg_w].w, 2, a->embed_dim, last, 0);
    rc = rc ?: add_tensor(w, dt, "head.ecg.bias", net->param[net->ecg_b].w, 1, a->embed_dim, 0, 0);
    rc = rc ?: add_tensor(w, dt, "head.text.weight", net->param[net->text_w].w, 2, a->embed_dim, a->text_dim, 0);
    rc = rc ?: add_tensor(w, dt, "head.text.bias", net->param[net->text_b].w, 1, a->embed_dim, 0, 0);
    rc = rc ?: add_tensor(w, METS_DT_F32, "logit_scale", net->param[net->log_scale].w, 1, 1, 0, 0);
    return rc;
}

/* One checkpoint tensor: written when w is set, else read back from mf into buf. */
static int state_tensor(struct mets_mfile_writer *w, const mets_mfile *mf, const char *name, float *buf, size_t n,
                        mets_err *err)
{
    int64_t shape[1] = {(int64_t)n};
    const float *src;
    if (w)
        return mets_mfile_writer_add_tensor(w, name, METS_DT_F32, 1, shape, buf);
    int rc = mets_mfile_tensor_f32(mf, name, 1, shape, &src, err);
    if (!rc)
        memcpy(buf, src, n * sizeof *buf);
    return rc;
}

/* Checkpoint tensors: "<param>", "<param>.adam_m", "<param>.adam_v", "<conv>.bn.running_mean|var". */
static int state_tensors(const mets_ecgnet *net, struct mets_mfile_writer *w, const mets_mfile *mf, mets_err *err)
{
    int rc = 0;
    char name[128];
    for (size_t i = 0; i < net->nparam && !rc; i++) {
        const mets_ecgnet_param *p = &net->param[i];
        rc = state_tensor(w, mf, p->name, p->w, p->n, err);
        snprintf(name, sizeof name, "%s.adam_m", p->name);
        rc = rc ?: state_tensor(w, mf, name, p->m, p->n, err);
        snprintf(name, sizeof name, "%s.adam_v", p->name);
        rc = rc ?: state_tensor(w, mf, name, p->v, p->n, err);
    }
    for (int i = 0; i < net->nconv && !rc; i++) {
        const conv_unit *u = &net->conv[i];
        snprintf(name, sizeof name, "%s.bn.running_mean", u->conv.name);
        rc = state_tensor(w, mf, name, u->rmean, u->conv.shape.cout, err);
        snprintf(name, sizeof name, "%s.bn.running_var", u->conv.name);
        rc = rc ?: state_tensor(w, mf, name, u->rvar, u->conv.shape.cout, err);
    }
    return rc;
}

int mets_ecgnet_save_state(const mets_ecgnet *net, struct mets_mfile_writer *w)
{
    int rc = mets_ecgenc_arch_write(&net->arch, w);
    return rc ?: state_tensors(net, w, NULL, NULL);
}

int mets_ecgnet_load_state(mets_ecgnet *net, const struct mets_mfile *mf, mets_err *err)
{
    mets_ecgenc_arch a;
    int rc = mets_ecgenc_arch_read(mf, &a, err);
    if (rc)
        return rc;
    if (memcmp(&a, &net->arch, sizeof a))
        return mets_err_set(err, METS_EFORMAT, "%s: the checkpoint is of another architecture", mets_mfile_name(mf));
    return state_tensors(net, NULL, mf, err);
}
