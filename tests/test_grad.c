/* Every backward pass of models/grad.c against central finite differences of its forward op, on
 * random shapes. The scalar loss is sum(r * y) for a fixed random r, so dy = r. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "grad.h"
#include "harness.h"

#define TRIALS 8
#define PROBES 40 /* elements of each tensor probed per trial */

static float *rand_vec(size_t n, float lo, float hi)
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = mets_test_uniform(lo, hi);
    return v;
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* Compares the analytic gradient `grad` of `loss` with respect to `param` with central differences
 * at PROBES random elements. */
static void check_gradient(const char *what, float *param, size_t n, const float *grad, double (*loss)(void *),
                           void *ctx, float eps)
{
    for (int p = 0; p < PROBES && n; p++) {
        size_t i = (size_t)mets_test_randint(0, (int)n - 1);
        float keep = param[i];
        param[i] = keep + eps;
        double up = loss(ctx);
        param[i] = keep - eps;
        double down = loss(ctx);
        param[i] = keep;
        double num = (up - down) / (2.0 * eps);
        if (!(fabs(num - grad[i]) <= 3e-3 + 2e-2 * fabs(num))) {
            mets_test_fail(__FILE__, __LINE__, "%s[%zu]: analytic %.6g, finite difference %.6g", what, i, grad[i], num);
            return;
        }
    }
}

typedef struct linear_case {
    int n, in, out;
    float *x, *w, *b, *r, *y;
} linear_case;

static double linear_loss(void *p)
{
    linear_case *c = p;
    mets_linear(c->x, c->n, c->in, c->w, c->b, c->out, c->y);
    return dot(c->y, c->r, (size_t)c->n * c->out);
}

static void linear_backward_matches_finite_differences(void)
{
    for (int trial = 0; trial < TRIALS; trial++) {
        linear_case c = {.n = mets_test_randint(1, 6), .in = mets_test_randint(1, 20), .out = mets_test_randint(1, 12)};
        c.x = rand_vec((size_t)c.n * c.in, -1, 1), c.w = rand_vec((size_t)c.out * c.in, -1, 1);
        c.b = rand_vec(c.out, -1, 1), c.r = rand_vec((size_t)c.n * c.out, -1, 1), c.y = rand_vec((size_t)c.n * c.out, 0, 0);
        float *dx = rand_vec((size_t)c.n * c.in, 0, 0), *dw = calloc((size_t)c.out * c.in, 4), *db = calloc(c.out, 4);
        mets_linear_backward(c.x, c.n, c.in, c.w, c.out, c.r, dx, dw, db);
        check_gradient("linear dx", c.x, (size_t)c.n * c.in, dx, linear_loss, &c, 1e-2f);
        check_gradient("linear dw", c.w, (size_t)c.out * c.in, dw, linear_loss, &c, 1e-2f);
        check_gradient("linear db", c.b, c.out, db, linear_loss, &c, 1e-2f);
        free(c.x), free(c.w), free(c.b), free(c.r), free(c.y), free(dx), free(dw), free(db);
    }
}

typedef struct conv_case {
    mets_conv1d_shape s;
    int batch, len, out_len;
    float *x, *w, *b, *r, *y, *work;
} conv_case;

static double conv_loss(void *p)
{
    conv_case *c = p;
    mets_conv1d(&c->s, c->w, c->b, c->x, c->batch, c->len, c->y, c->work);
    return dot(c->y, c->r, (size_t)c->batch * c->s.cout * c->out_len);
}

static void conv1d_backward_matches_finite_differences(void)
{
    for (int trial = 0; trial < TRIALS * 2; trial++) {
        conv_case c = {.s = {mets_test_randint(1, 4), mets_test_randint(1, 5), mets_test_randint(1, 5),
                             mets_test_randint(1, 3), mets_test_randint(0, 2), mets_test_randint(1, 2)}};
        if (trial % 4 == 0)
            c.s.k = 1, c.s.stride = 1, c.s.pad = 0;
        c.batch = mets_test_randint(1, 3);
        c.len = mets_test_randint(1, 12) + c.s.dilation * (c.s.k - 1);
        c.out_len = mets_conv1d_out_len(&c.s, c.len);
        size_t nx = (size_t)c.batch * c.s.cin * c.len, nw = (size_t)c.s.cout * c.s.cin * c.s.k;
        size_t ny = (size_t)c.batch * c.s.cout * c.out_len, nwork = mets_conv1d_work_floats(&c.s, c.len);
        c.x = rand_vec(nx, -1, 1), c.w = rand_vec(nw, -1, 1), c.b = rand_vec(c.s.cout, -1, 1);
        c.r = rand_vec(ny, -1, 1), c.y = rand_vec(ny, 0, 0), c.work = rand_vec(nwork, 0, 0);
        float *dx = rand_vec(nx, 9, 9), *dw = calloc(nw, 4), *db = calloc(c.s.cout, 4), *gwork = rand_vec(2 * nwork, 0, 0);
        mets_conv1d_backward(&c.s, c.w, c.x, c.batch, c.len, c.r, dx, dw, db, gwork);
        check_gradient("conv1d dx", c.x, nx, dx, conv_loss, &c, 1e-2f);
        check_gradient("conv1d dw", c.w, nw, dw, conv_loss, &c, 1e-2f);
        check_gradient("conv1d db", c.b, c.s.cout, db, conv_loss, &c, 1e-2f);
        free(c.x), free(c.w), free(c.b), free(c.r), free(c.y), free(c.work), free(dx), free(dw), free(db), free(gwork);
    }
}

typedef struct bn_case {
    int batch, c, len;
    float *x, *gamma, *beta, *r, *y, *rm, *rv, *mean, *invstd;
} bn_case;

static double bn_loss(void *p)
{
    bn_case *c = p;
    mets_batchnorm_train(c->x, c->batch, c->c, c->len, c->gamma, c->beta, 1e-5f, 0.1f, c->rm, c->rv, c->mean,
                         c->invstd, c->y);
    return dot(c->y, c->r, (size_t)c->batch * c->c * c->len);
}

static void batchnorm_backward_matches_finite_differences(void)
{
    for (int trial = 0; trial < TRIALS; trial++) {
        bn_case c = {.batch = mets_test_randint(1, 4), .c = mets_test_randint(1, 4), .len = mets_test_randint(2, 9)};
        size_t n = (size_t)c.batch * c.c * c.len;
        c.x = rand_vec(n, -2, 2), c.gamma = rand_vec(c.c, 0.5f, 2), c.beta = rand_vec(c.c, -1, 1);
        c.r = rand_vec(n, -1, 1), c.y = rand_vec(n, 0, 0), c.rm = rand_vec(c.c, 0, 0), c.rv = rand_vec(c.c, 1, 1);
        c.mean = rand_vec(c.c, 0, 0), c.invstd = rand_vec(c.c, 0, 0);
        float *dx = rand_vec(n, 9, 9), *dg = calloc(c.c, 4), *dbeta = calloc(c.c, 4);
        bn_loss(&c);
        mets_batchnorm_backward(c.x, c.batch, c.c, c.len, c.gamma, c.mean, c.invstd, c.r, dx, dg, dbeta);
        check_gradient("batchnorm dx", c.x, n, dx, bn_loss, &c, 1e-2f);
        check_gradient("batchnorm dgamma", c.gamma, c.c, dg, bn_loss, &c, 1e-2f);
        check_gradient("batchnorm dbeta", c.beta, c.c, dbeta, bn_loss, &c, 1e-2f);
        free(c.x), free(c.gamma), free(c.beta), free(c.r), free(c.y), free(c.rm), free(c.rv), free(c.mean);
        free(c.invstd), free(dx), free(dg), free(dbeta);
    }
}

static void batchnorm_updates_running_statistics(void)
{
    float x[6] = {1, 2, 3, 5, 7, 9}, y[6], g = 1, b = 0, rm = 0, rv = 1, mean, invstd;
    mets_batchnorm_train(x, 2, 1, 3, &g, &b, 0.0f, 0.5f, &rm, &rv, &mean, &invstd, y);
    /* mean 4.5, squared deviations sum to 47.5: biased variance 47.5 / 6, unbiased 9.5 */
    CHECK_NEAR(mean, 4.5, 1e-6);
    CHECK_NEAR(rm, 2.25, 1e-6);
    CHECK_NEAR(rv, 0.5 + 0.5 * 9.5, 1e-5);
    CHECK_NEAR(invstd, 1 / sqrt(47.5 / 6), 1e-6);
}

typedef struct pool_case {
    int rows, len, k, stride, pad, out_len, max;
    float *x, *r, *y;
} pool_case;

static double pool_loss(void *p)
{
    pool_case *c = p;
    if (c->max)
        mets_maxpool1d(c->x, c->rows, c->len, c->k, c->stride, c->pad, c->y);
    else
        mets_avgpool1d(c->x, c->rows, c->len, c->k, c->stride, c->pad, c->y);
    return dot(c->y, c->r, (size_t)c->rows * c->out_len);
}

static void pooling_and_relu_backward_match_finite_differences(void)
{
    for (int trial = 0; trial < TRIALS * 2; trial++) {
        pool_case c = {.rows = mets_test_randint(1, 4), .len = mets_test_randint(1, 16)};
        c.k = mets_test_randint(1, c.len), c.stride = mets_test_randint(1, 3), c.pad = mets_test_randint(0, c.k / 2);
        c.out_len = mets_pool1d_out_len(c.len, c.k, c.stride, c.pad), c.max = trial % 2;
        size_t n = (size_t)c.rows * c.len;
        c.x = rand_vec(n, -2, 2), c.r = rand_vec((size_t)c.rows * c.out_len, -1, 1);
        /* Max pooling has no derivative where two inputs tie: keep every input 0.05 from every other
         * (and from 0) so that the finite-difference step of 1e-3 never changes which one wins. */
        for (size_t i = 0; c.max && i < n; i++) {
            size_t j = (size_t)mets_test_randint(0, (int)i);
            c.x[i] = c.x[j], c.x[j] = ((float)i - (float)n / 2) * 0.05f + 0.025f;
        }
        c.y = rand_vec((size_t)c.rows * c.out_len, 0, 0);
        float *dx = rand_vec(n, 9, 9);
        if (c.max)
            mets_maxpool1d_backward(c.x, c.rows, c.len, c.k, c.stride, c.pad, c.r, dx);
        else
            mets_avgpool1d_backward(c.rows, c.len, c.k, c.stride, c.pad, c.r, dx);
        check_gradient(c.max ? "maxpool dx" : "avgpool dx", c.x, n, dx, pool_loss, &c, 1e-3f);
        free(c.x), free(c.r), free(c.y), free(dx);
    }
    float y[4] = {0, 2, 0, 0.5f}, dy[4] = {1, 2, 3, 4}, dx[4];
    mets_relu_backward(y, dy, dx, 4);
    CHECK(dx[0] == 0 && dx[1] == 2 && dx[2] == 0 && dx[3] == 4);
}

typedef struct l2_case {
    int rows, dim;
    float *x, *r, *y, *norm;
} l2_case;

static double l2_loss(void *p)
{
    l2_case *c = p;
    memcpy(c->y, c->x, (size_t)c->rows * c->dim * sizeof *c->y);
    mets_l2_normalize(c->y, c->rows, c->dim, c->norm);
    return dot(c->y, c->r, (size_t)c->rows * c->dim);
}

static void l2_normalize_backward_matches_finite_differences(void)
{
    for (int trial = 0; trial < TRIALS; trial++) {
        l2_case c = {.rows = mets_test_randint(1, 4), .dim = mets_test_randint(1, 20)};
        size_t n = (size_t)c.rows * c.dim;
        c.x = rand_vec(n, -2, 2), c.r = rand_vec(n, -1, 1), c.y = rand_vec(n, 0, 0), c.norm = rand_vec(c.rows, 0, 0);
        float *dx = rand_vec(n, 9, 9);
        l2_loss(&c);
        mets_l2_normalize_backward(c.y, c.norm, c.rows, c.dim, c.r, dx);
        check_gradient("l2_normalize dx", c.x, n, dx, l2_loss, &c, 1e-3f);
        free(c.x), free(c.r), free(c.y), free(c.norm), free(dx);
    }
}

typedef struct nce_case {
    int n, dim;
    const int *group;
    float *a, *b, log_scale, *da, *db, d_ls, *work;
} nce_case;

static double nce_loss(void *p)
{
    nce_case *c = p;
    float da[64 * 8], db[64 * 8], dls;
    return mets_infonce(c->a, c->b, c->n, c->dim, c->log_scale, c->group, da, db, &dls, c->work);
}

static void infonce_backward_matches_finite_differences(void)
{
    static const int groups[8] = {0, 1, 0, 2, 3, 1, 4, 5};
    for (int trial = 0; trial < TRIALS; trial++) {
        nce_case c = {.n = mets_test_randint(1, 8), .dim = mets_test_randint(1, 8), .group = trial % 2 ? groups : NULL};
        size_t n = (size_t)c.n * c.dim;
        c.a = rand_vec(n, -1, 1), c.b = rand_vec(n, -1, 1), c.log_scale = mets_test_uniform(0, 2.5f);
        c.da = rand_vec(n, 0, 0), c.db = rand_vec(n, 0, 0), c.work = rand_vec(2 * (size_t)c.n * c.n, 0, 0);
        mets_infonce(c.a, c.b, c.n, c.dim, c.log_scale, c.group, c.da, c.db, &c.d_ls, c.work);
        check_gradient("infonce da", c.a, n, c.da, nce_loss, &c, 1e-3f);
        check_gradient("infonce db", c.b, n, c.db, nce_loss, &c, 1e-3f);
        check_gradient("infonce dlog_scale", &c.log_scale, 1, &c.d_ls, nce_loss, &c, 1e-3f);
        free(c.a), free(c.b), free(c.da), free(c.db), free(c.work);
    }
}

static void infonce_is_log_n_for_identical_vectors(void)
{
    enum { N = 4, D = 3 };
    float a[N * D], work[2 * N * N], da[N * D], db[N * D], dls;
    for (int i = 0; i < N * D; i++)
        a[i] = (i % D == 0) ? 1.0f : 0.0f;
    float loss = mets_infonce(a, a, N, D, 0.0f, NULL, da, db, &dls, work);
    CHECK_NEAR(loss, log(N), 1e-5); /* every logit equal: a uniform guess over N */
}

static void adamw_first_step_moves_by_lr_and_decays(void)
{
    mets_adamw opt = {.lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.5f};
    float p[2] = {1.0f, 1.0f}, g[2] = {3.0f, -2.0f}, m[2] = {0}, v[2] = {0};
    mets_adamw_begin_step(&opt);
    mets_adamw_update(&opt, p, g, m, v, 2, 1);
    /* bias-corrected first step: m/sqrt(v) = sign(g); decay shrinks by lr * wd first */
    CHECK_NEAR(p[0], 1.0 * (1 - 0.05) - 0.1, 1e-6);
    CHECK_NEAR(p[1], 1.0 * (1 - 0.05) + 0.1, 1e-6);
}

int main(void)
{
    mets_blas_init();
    RUN(linear_backward_matches_finite_differences);
    RUN(conv1d_backward_matches_finite_differences);
    RUN(batchnorm_backward_matches_finite_differences);
    RUN(batchnorm_updates_running_statistics);
    RUN(pooling_and_relu_backward_match_finite_differences);
    RUN(l2_normalize_backward_matches_finite_differences);
    RUN(infonce_backward_matches_finite_differences);
    RUN(infonce_is_log_n_for_identical_vectors);
    RUN(adamw_first_step_moves_by_lr_and_decays);
    return mets_test_summary();
}
