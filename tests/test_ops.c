/* Every op of models/ops.c against a naive double-precision reference, on random shapes that include
 * odd sizes, batch 1 and length 1. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "ops.h"

#define TRIALS 40

static float *rand_vec(size_t n, float lo, float hi)
{
    float *v = malloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = mets_test_uniform(lo, hi);
    return v;
}

/* Max |a - b| relative to max(1, |b|), so large and small values are held to the same digits. */
static void check_close(const char *what, const float *got, const double *want, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++) {
        double scale = fabs(want[i]) > 1.0 ? fabs(want[i]) : 1.0;
        if (!(fabs(got[i] - want[i]) <= tol * scale)) {
            mets_test_fail(__FILE__, __LINE__, "%s[%zu] = %.9g, reference %.9g", what, i, got[i], want[i]);
            return;
        }
    }
}

static void linear_matches_reference(void)
{
    for (int trial = 0; trial < TRIALS; trial++) {
        int n = trial == 0 ? 1 : mets_test_randint(1, 17), in = mets_test_randint(1, 70);
        int out = mets_test_randint(1, 65);
        float *x = rand_vec((size_t)n * in, -1, 1), *w = rand_vec((size_t)out * in, -1, 1);
        float *b = trial % 2 ? rand_vec(out, -1, 1) : NULL, *y = rand_vec((size_t)n * out, 9, 9);
        double *ref = calloc((size_t)n * out, sizeof *ref);
        for (int r = 0; r < n; r++)
            for (int o = 0; o < out; o++) {
                double s = b ? b[o] : 0.0;
                for (int i = 0; i < in; i++)
                    s += (double)x[r * in + i] * w[o * in + i];
                ref[r * out + o] = s;
            }
        mets_linear(x, n, in, w, b, out, y);
        check_close("linear", y, ref, (size_t)n * out, 1e-5);
        mets_linear_rows(x, n, in, w, b, out, y);
        check_close("linear_rows", y, ref, (size_t)n * out, 1e-5);
        float *alone = malloc((size_t)out * sizeof *alone);
        for (int r = 0; r < n; r++) { /* each row as if it came alone: bit-identical */
            mets_linear_rows(x + (size_t)r * in, 1, in, w, b, out, alone);
            CHECK(!memcmp(alone, y + (size_t)r * out, (size_t)out * sizeof *alone), "linear_rows: row %d of %d", r, n);
        }
        free(alone);
        free(x), free(w), free(b), free(y), free(ref);
    }
}

static void conv1d_reference(const mets_conv1d_shape *s, const float *w, const float *b, const float *x, int batch,
                             int len, double *y)
{
    int out_len = mets_conv1d_out_len(s, len);
    for (int n = 0; n < batch; n++)
        for (int co = 0; co < s->cout; co++)
            for (int t = 0; t < out_len; t++) {
                double acc = b ? b[co] : 0.0;
                for (int ci = 0; ci < s->cin; ci++)
                    for (int j = 0; j < s->k; j++) {
                        int i = t * s->stride - s->pad + j * s->dilation;
                        if (i >= 0 && i < len)
                            acc += (double)w[(co * s->cin + ci) * s->k + j] * x[(n * s->cin + ci) * len + i];
                    }
                y[(n * s->cout + co) * out_len + t] = acc;
            }
}

static mets_conv1d_shape random_conv_shape(int trial)
{
    mets_conv1d_shape s = {mets_test_randint(1, 7), mets_test_randint(1, 9), mets_test_randint(1, 7),
                           mets_test_randint(1, 3), mets_test_randint(0, 3), mets_test_randint(1, 3)};
    if (trial % 5 == 0) /* the 1x1 fast path */
        s.k = 1, s.stride = 1, s.pad = 0;
    return s;
}

static void conv1d_matches_reference(void)
{
    int tried = 0;
    for (int trial = 0; tried < TRIALS; trial++) {
        mets_conv1d_shape s = random_conv_shape(trial);
        int batch = trial % 3 == 0 ? 1 : mets_test_randint(1, 3);
        int len = trial % 7 == 0 ? 1 : mets_test_randint(1, 40);
        int out_len = mets_conv1d_out_len(&s, len);
        if (out_len <= 0)
            continue;
        tried++;
        size_t ny = (size_t)batch * s.cout * out_len;
        float *x = rand_vec((size_t)batch * s.cin * len, -1, 1), *w = rand_vec((size_t)s.cout * s.cin * s.k, -1, 1);
        float *b = trial % 2 ? rand_vec(s.cout, -1, 1) : NULL, *y = rand_vec(ny, 9, 9);
        float *work = rand_vec(mets_conv1d_work_floats(&s, len), 9, 9);
        double *ref = calloc(ny, sizeof *ref);
        conv1d_reference(&s, w, b, x, batch, len, ref);
        mets_conv1d(&s, w, b, x, batch, len, y, work);
        check_close("conv1d", y, ref, ny, 1e-5);
        free(x), free(w), free(b), free(y), free(work), free(ref);
    }
}

/* Each window of a batch computed alone (window-major, a residual of its own) comes out bit-identical
 * to its part of the batch's result y[cout, batch, out_len]: scores must not depend on the batch. */
static void same_alone(const mets_conv1d_shape *s, const float *w, const float *wp, const float *b, const float *r,
                       const float *x, int batch, int len, int relu, const float *y, float *work, size_t nwork)
{
    int out_len = mets_conv1d_out_len(s, len);
    float *one = malloc((size_t)s->cout * out_len * sizeof *one);
    for (int n = 0; n < batch; n++) {
        for (int c = 0; c < s->cout && r; c++)
            memcpy(one + (size_t)c * out_len, r + ((size_t)c * batch + n) * out_len, (size_t)out_len * sizeof *one);
        mets_conv1d_cnl(s, w, wp, b, r ? one : NULL, x + (size_t)n * s->cin * len, 1, 1, len, one, relu, work, nwork);
        int same = 1;
        for (int c = 0; c < s->cout; c++)
            same &= !memcmp(one + (size_t)c * out_len, y + ((size_t)c * batch + n) * out_len, (size_t)out_len * sizeof *one);
        CHECK(same, "conv1d_cnl%s: window %d of %d alone differs from its part of the batch", wp ? " packed" : "", n,
              batch);
    }
    free(one);
}

/* One trial of mets_conv1d_cnl: x window-major or channel-major, weights plain (OpenBLAS) or packed (our
 * kernel), a residual that is NULL, another tensor or y itself, scratch for one window or all, with or
 * without the ReLU. */
static void conv1d_cnl_trial(const mets_conv1d_shape *s, int batch, int len, int trial)
{
    int out_len = mets_conv1d_out_len(s, len), window_major = trial % 2, residual = trial / 2 % 3;
    int relu = trial / 24 % 2;
    size_t nx = (size_t)batch * s->cin * len, ny = (size_t)batch * s->cout * out_len, nw = (size_t)s->cout * s->cin * s->k;
    float *x = rand_vec(nx, -1, 1), *xc = malloc(nx * sizeof *xc), *w = rand_vec(nw, -1, 1);
    float *b = trial / 6 % 2 ? rand_vec(s->cout, -1, 1) : NULL, *r = rand_vec(ny, -1, 1), *y = rand_vec(ny, 9, 9);
    size_t one = mets_conv1d_cnl_work_floats(s, len), nwork = trial / 12 % 2 ? one * batch : one;
    float *work = rand_vec(nwork + 1, 9, 9), *wp = NULL;
    double *ref = calloc(ny, sizeof *ref), *want = malloc(ny * sizeof *want);
    conv1d_reference(s, w, b, x, batch, len, ref);
    for (int n = 0; n < batch; n++) /* x[n, c, t] -> xc[c, n, t]; ref[n, c, t] -> want[c, n, t] (+ r) */
        for (int c = 0; c < s->cin; c++)
            memcpy(xc + ((size_t)c * batch + n) * len, x + ((size_t)n * s->cin + c) * len, (size_t)len * sizeof *x);
    for (int n = 0; n < batch; n++)
        for (int c = 0; c < s->cout; c++)
            for (int t = 0; t < out_len; t++) {
                size_t i = ((size_t)c * batch + n) * out_len + t;
                want[i] = ref[((size_t)n * s->cout + c) * out_len + t] + (residual ? r[i] : 0.0);
                want[i] = relu && want[i] < 0 ? 0.0 : want[i];
            }
    if (residual == 2)
        memcpy(y, r, ny * sizeof *y);
    for (int packed = 0; packed < 2; packed++) {
        size_t np = mets_conv1d_packed_floats(s);
        if (packed && !np)
            break; /* no kernel on this CPU */
        if (packed)
            mets_conv1d_pack(s, w, wp = malloc(np * sizeof *wp));
        float *yk = malloc(ny * sizeof *yk);
        memcpy(yk, y, ny * sizeof *y);
        const float *res = residual == 0 ? NULL : residual == 1 ? r : yk;
        mets_conv1d_cnl(s, w, wp, b, res, window_major ? x : xc, window_major, batch, len, yk, relu, work, nwork);
        /* f32 sums of over 1,000 products of magnitude up to 1 drift past 1e-5 */
        check_close(packed ? "conv1d_cnl packed" : "conv1d_cnl", yk, want, ny, s->cin * s->k > 512 ? 1e-4 : 1e-5);
        same_alone(s, w, wp, b, residual ? r : NULL, x, batch, len, relu, yk, work, nwork);
        free(yk);
    }
    free(x), free(xc), free(w), free(b), free(r), free(y), free(work), free(wp), free(ref), free(want);
}

static void conv1d_cnl_matches_reference(void)
{
    int tried = 0;
    for (int trial = 0; tried < 4 * TRIALS; trial++) {
        mets_conv1d_shape s = random_conv_shape(trial);
        if (trial % 4 == 3) /* past the kernel's 6x16 tile and its 1024-row block of the reduction */
            s.k = mets_test_randint(3, 7), s.cin = 1024 / s.k + mets_test_randint(1, 40), s.cout = mets_test_randint(6, 20);
        int batch = trial % 3 == 0 ? 1 : mets_test_randint(1, 4);
        int len = trial % 7 == 0 ? 1 : mets_test_randint(1, 70);
        if (mets_conv1d_out_len(&s, len) <= 0)
            continue;
        conv1d_cnl_trial(&s, batch, len, tried++);
    }
}

static void conv1d_out_len_is_zero_when_window_too_short(void)
{
    mets_conv1d_shape s = {1, 1, 5, 1, 0, 2};
    CHECK(mets_conv1d_out_len(&s, 8) == 0);
    CHECK(mets_conv1d_out_len(&s, 9) == 1);
    s.pad = 1;
    CHECK(mets_conv1d_out_len(&s, 7) == 1);
}

static void batchnorm_folded_into_conv_equals_conv_then_batchnorm(void)
{
    for (int trial = 0; trial < TRIALS; trial++) {
        mets_conv1d_shape s = random_conv_shape(trial);
        int len = mets_test_randint(1, 30) + s.dilation * (s.k - 1), batch = mets_test_randint(1, 3);
        int out_len = mets_conv1d_out_len(&s, len), fan = s.cin * s.k;
        size_t ny = (size_t)batch * s.cout * out_len;
        float *x = rand_vec((size_t)batch * s.cin * len, -1, 1), *w = rand_vec((size_t)s.cout * fan, -1, 1);
        float *b = rand_vec(s.cout, -1, 1), *gamma = rand_vec(s.cout, 0.5f, 2), *beta = rand_vec(s.cout, -1, 1);
        float *mean = rand_vec(s.cout, -1, 1), *var = rand_vec(s.cout, 0.1f, 3);
        float *y = rand_vec(ny, 0, 0), *work = rand_vec(mets_conv1d_work_floats(&s, len), 0, 0);
        double *ref = calloc(ny, sizeof *ref);
        conv1d_reference(&s, w, b, x, batch, len, ref);
        for (size_t i = 0; i < ny; i++) {
            int c = (int)(i / out_len) % s.cout;
            ref[i] = (ref[i] - mean[c]) / sqrt((double)var[c] + 1e-5) * gamma[c] + beta[c];
        }
        mets_conv1d(&s, w, b, x, batch, len, y, work);
        mets_batchnorm(y, batch, s.cout, out_len, gamma, beta, mean, var, 1e-5f);
        check_close("conv+batchnorm", y, ref, ny, 1e-5);
        mets_batchnorm_fold(w, b, s.cout, fan, gamma, beta, mean, var, 1e-5f);
        mets_conv1d(&s, w, b, x, batch, len, y, work);
        check_close("folded conv", y, ref, ny, 1e-5);
        free(x), free(w), free(b), free(gamma), free(beta), free(mean), free(var), free(y), free(work), free(ref);
    }
}

static void relu_and_gelu_match_reference(void)
{
    size_t n = 1001;
    float *x = rand_vec(n, -6, 6), *r = malloc(n * sizeof *r), *g = malloc(n * sizeof *g);
    double *want_r = malloc(n * sizeof *want_r), *want_g = malloc(n * sizeof *want_g);
    x[0] = 0.0f;
    for (size_t i = 0; i < n; i++) {
        want_r[i] = x[i] > 0 ? x[i] : 0.0;
        want_g[i] = 0.5 * x[i] * (1.0 + erf(x[i] / sqrt(2.0)));
    }
    memcpy(r, x, n * sizeof *x);
    memcpy(g, x, n * sizeof *x);
    mets_relu(r, n);
    mets_gelu(g, n);
    check_close("relu", r, want_r, n, 0);
    check_close("gelu", g, want_g, n, 1e-6);
    free(x), free(r), free(g), free(want_r), free(want_g);
}

static void pooling_matches_reference(void)
{
    int tried = 0;
    for (int trial = 0; tried < TRIALS; trial++) {
        int rows = mets_test_randint(1, 5), len = trial % 6 == 0 ? 1 : mets_test_randint(1, 33);
        int k = mets_test_randint(1, 6), stride = mets_test_randint(1, 4), pad = mets_test_randint(0, k / 2);
        int out_len = mets_pool1d_out_len(len, k, stride, pad);
        if (out_len <= 0)
            continue;
        tried++;
        float *x = rand_vec((size_t)rows * len, -3, 3), *ymax = rand_vec((size_t)rows * out_len, 9, 9);
        float *yavg = rand_vec((size_t)rows * out_len, 9, 9);
        double *rmax = malloc((size_t)rows * out_len * sizeof *rmax), *ravg = malloc((size_t)rows * out_len * sizeof *ravg);
        for (int r = 0; r < rows; r++)
            for (int t = 0; t < out_len; t++) {
                double m = -INFINITY, s = 0.0;
                for (int j = 0; j < k; j++) {
                    int i = t * stride - pad + j;
                    double v = (i >= 0 && i < len) ? x[r * len + i] : 0.0;
                    if (i >= 0 && i < len && v > m)
                        m = v;
                    s += v;
                }
                rmax[r * out_len + t] = m;
                ravg[r * out_len + t] = s / k;
            }
        mets_maxpool1d(x, rows, len, k, stride, pad, ymax);
        mets_avgpool1d(x, rows, len, k, stride, pad, yavg);
        check_close("maxpool1d", ymax, rmax, (size_t)rows * out_len, 0);
        check_close("avgpool1d", yavg, ravg, (size_t)rows * out_len, 1e-6);
        free(x), free(ymax), free(yavg), free(rmax), free(ravg);
    }
}

static void layernorm_softmax_l2_match_reference(void)
{
    for (int trial = 0; trial < TRIALS; trial++) {
        int rows = mets_test_randint(1, 6), dim = trial == 0 ? 1 : mets_test_randint(1, 400);
        size_t n = (size_t)rows * dim;
        float *x = rand_vec(n, -30, 30), *g = rand_vec(dim, 0.5f, 1.5f), *b = rand_vec(dim, -1, 1);
        float *ln = malloc(n * sizeof *ln), *sm = malloc(n * sizeof *sm), *l2 = malloc(n * sizeof *l2);
        double *rln = malloc(n * sizeof *rln), *rsm = malloc(n * sizeof *rsm), *rl2 = malloc(n * sizeof *rl2);
        for (int r = 0; r < rows; r++) {
            const float *xr = x + (size_t)r * dim;
            double mean = 0, var = 0, mx = -INFINITY, se = 0, ss = 0;
            for (int i = 0; i < dim; i++)
                mean += xr[i], mx = xr[i] > mx ? xr[i] : mx, ss += (double)xr[i] * xr[i];
            mean /= dim;
            for (int i = 0; i < dim; i++)
                var += (xr[i] - mean) * (xr[i] - mean), se += exp(xr[i] - mx);
            var /= dim;
            for (int i = 0; i < dim; i++) {
                rln[(size_t)r * dim + i] = (xr[i] - mean) / sqrt(var + 1e-12) * g[i] + b[i];
                rsm[(size_t)r * dim + i] = exp(xr[i] - mx) / se;
                rl2[(size_t)r * dim + i] = xr[i] / sqrt(ss);
            }
        }
        memcpy(ln, x, n * sizeof *x), memcpy(sm, x, n * sizeof *x), memcpy(l2, x, n * sizeof *x);
        mets_layernorm(ln, rows, dim, g, b, 1e-12f);
        mets_softmax(sm, rows, dim);
        mets_l2_normalize(l2, rows, dim, NULL);
        check_close("layernorm", ln, rln, dim > 1 ? n : 0, 1e-4); /* dim 1: 0/0 scaled by eps, as torch */
        check_close("softmax", sm, rsm, n, 1e-6);
        check_close("l2_normalize", l2, rl2, n, 1e-6);
        free(x), free(g), free(b), free(ln), free(sm), free(l2), free(rln), free(rsm), free(rl2);
    }
}

static void l2_normalize_leaves_zero_vector_zero(void)
{
    float z[3] = {0, 0, 0};
    mets_l2_normalize(z, 1, 3, NULL);
    CHECK(z[0] == 0 && z[1] == 0 && z[2] == 0);
}

static void attention_matches_reference(void)
{
    for (int trial = 0; trial < TRIALS; trial++) {
        int t = trial == 0 ? 1 : mets_test_randint(1, 20), heads = mets_test_randint(1, 4);
        int hd = mets_test_randint(1, 9), width = heads * hd, ld = 3 * width + trial % 3, ldo = width + trial % 2;
        float *qkv = rand_vec((size_t)t * ld, -2, 2), *out = rand_vec((size_t)t * ldo, 9, 9);
        float *mask = NULL, *work = rand_vec(mets_attention_work_floats(t), 9, 9);
        if (trial % 2) {
            mask = rand_vec(t, 0, 1);
            for (int j = 0; j < t; j++)
                mask[j] = (j == 0 || mask[j] > 0.3f) ? 1.0f : 0.0f;
        }
        double *ref = calloc((size_t)t * ldo, sizeof *ref), *p = malloc((size_t)t * sizeof *p);
        for (int h = 0; h < heads; h++)
            for (int i = 0; i < t; i++) {
                double mx = -INFINITY, sum = 0;
                for (int j = 0; j < t; j++) {
                    double s = 0;
                    for (int d = 0; d < hd; d++)
                        s += (double)qkv[i * ld + h * hd + d] * qkv[j * ld + width + h * hd + d];
                    p[j] = (mask && mask[j] == 0) ? -INFINITY : s / sqrt(hd);
                    mx = p[j] > mx ? p[j] : mx;
                }
                for (int j = 0; j < t; j++)
                    sum += (p[j] = exp(p[j] - mx));
                for (int d = 0; d < hd; d++) {
                    double acc = 0;
                    for (int j = 0; j < t; j++)
                        acc += p[j] / sum * qkv[j * ld + 2 * width + h * hd + d];
                    ref[i * ldo + h * hd + d] = acc;
                }
            }
        mets_attention(qkv, qkv + width, qkv + 2 * width, ld, t, heads, hd, mask, out, ldo, work);
        for (int i = 0; i < t; i++)
            check_close("attention", out + (size_t)i * ldo, ref + (size_t)i * ldo, width, 1e-5);
        free(qkv), free(out), free(mask), free(work), free(ref), free(p);
    }
}

static void mean_pool_matches_reference(void)
{
    for (int trial = 0; trial < TRIALS; trial++) {
        int t = trial == 0 ? 1 : mets_test_randint(1, 30), dim = mets_test_randint(1, 50);
        float *x = rand_vec((size_t)t * dim, -1, 1), *y = rand_vec(dim, 9, 9), *mask = NULL;
        double *ref = calloc(dim, sizeof *ref), count = 0;
        if (trial % 2) {
            mask = rand_vec(t, 0, 1);
            for (int i = 0; i < t; i++)
                mask[i] = mask[i] > 0.5f ? 1.0f : 0.0f;
        }
        for (int i = 0; i < t; i++) {
            double m = mask ? mask[i] : 1.0;
            count += m;
            for (int d = 0; d < dim; d++)
                ref[d] += m * x[i * dim + d];
        }
        for (int d = 0; d < dim; d++)
            ref[d] /= count > 1e-9 ? count : 1e-9;
        mets_mean_pool(x, t, dim, mask, y);
        check_close("mean_pool", y, ref, dim, 1e-6);
        free(x), free(y), free(mask), free(ref);
    }
}

int main(void)
{
    mets_blas_init();
    RUN(linear_matches_reference);
    RUN(conv1d_matches_reference);
    RUN(conv1d_cnl_matches_reference);
    RUN(conv1d_out_len_is_zero_when_window_too_short);
    RUN(batchnorm_folded_into_conv_equals_conv_then_batchnorm);
    RUN(relu_and_gelu_match_reference);
    RUN(pooling_matches_reference);
    RUN(layernorm_softmax_l2_match_reference);
    RUN(l2_normalize_leaves_zero_vector_zero);
    RUN(attention_matches_reference);
    RUN(mean_pool_matches_reference);
    return mets_test_summary();
}
