#include "grad.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

void mets_linear_backward(const float *x, int n, int in, const float *w, int out, const float *dy, float *dx,
                          float *dw, float *db)
{
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, dy, out, w, in, 0.0f, dx, in);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, dy, out, x, in, 1.0f, dw, in);
    if (db)
        for (int r = 0; r < n; r++)
            for (int o = 0; o < out; o++)
                db[o] += dy[(size_t)r * out + o];
}

/* The adjoint of im2col: scatters dcol[(c*k + j), t] back onto dx[c, t*stride - pad + j*dilation]. */
static void col2im(const mets_conv1d_shape *s, const float *dcol, int len, int out_len, float *dx)
{
    memset(dx, 0, (size_t)s->cin * len * sizeof *dx);
    for (int c = 0; c < s->cin; c++)
        for (int j = 0; j < s->k; j++) {
            const float *row = dcol + ((size_t)c * s->k + j) * out_len;
            int off = j * s->dilation - s->pad;
            for (int t = 0; t < out_len; t++) {
                int i = t * s->stride + off;
                if (i >= 0 && i < len)
                    dx[(size_t)c * len + i] += row[t];
            }
        }
}

void mets_conv1d_backward(const mets_conv1d_shape *s, const float *w, const float *x, int batch, int len,
                          const float *dy, float *dx, float *dw, float *db, float *work)
{
    int out_len = mets_conv1d_out_len(s, len), fan = s->cin * s->k;
    int pointwise = mets_conv1d_work_floats(s, len) == 0;
    float *col = work, *dcol = work + (size_t)fan * out_len;
    for (int n = 0; n < batch; n++) {
        const float *xn = x + (size_t)n * s->cin * len, *dyn = dy + (size_t)n * s->cout * out_len;
        float *dxn = dx ? dx + (size_t)n * s->cin * len : NULL;
        if (pointwise)
            col = (float *)xn; /* read only: the 1x1 convolution's im2col is its input */
        else
            mets_conv1d_im2col(s, xn, len, col);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->cout, fan, out_len, 1.0f, dyn, out_len, col, out_len,
                    1.0f, dw, fan);
        if (db)
            for (int c = 0; c < s->cout; c++)
                for (int t = 0; t < out_len; t++)
                    db[c] += dyn[(size_t)c * out_len + t];
        if (!dxn)
            continue;
        float *target = pointwise ? dxn : dcol;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, fan, out_len, s->cout, 1.0f, w, fan, dyn, out_len, 0.0f,
                    target, out_len);
        if (!pointwise)
            col2im(s, dcol, len, out_len, dxn);
    }
}

void mets_batchnorm_train(const float *x, int batch, int c, int len, const float *gamma, const float *beta,
                          float eps, float momentum, float *running_mean, float *running_var, float *mean,
                          float *invstd, float *y)
{
    double count = (double)batch * len;
    for (int ch = 0; ch < c; ch++) {
        double sum = 0.0, sq = 0.0;
        for (int n = 0; n < batch; n++) {
            const float *row = x + ((size_t)n * c + ch) * len;
            for (int t = 0; t < len; t++)
                sum += row[t];
        }
        double mu = sum / count;
        for (int n = 0; n < batch; n++) {
            const float *row = x + ((size_t)n * c + ch) * len;
            for (int t = 0; t < len; t++)
                sq += (row[t] - mu) * (row[t] - mu);
        }
        double var = sq / count;
        mean[ch] = (float)mu;
        invstd[ch] = (float)(1.0 / sqrt(var + eps));
        running_mean[ch] = (1 - momentum) * running_mean[ch] + momentum * (float)mu;
        running_var[ch] = (1 - momentum) * running_var[ch] + momentum * (float)(count > 1 ? var * count / (count - 1) : var);
        float scale = invstd[ch] * gamma[ch], shift = beta[ch] - mean[ch] * scale;
        for (int n = 0; n < batch; n++) {
            size_t off = ((size_t)n * c + ch) * len;
            for (int t = 0; t < len; t++)
                y[off + t] = x[off + t] * scale + shift;
        }
    }
}

void mets_batchnorm_backward(const float *x, int batch, int c, int len, const float *gamma, const float *mean,
                             const float *invstd, const float *dy, float *dx, float *dgamma, float *dbeta)
{
    double count = (double)batch * len;
    for (int ch = 0; ch < c; ch++) {
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        for (int n = 0; n < batch; n++) {
            size_t off = ((size_t)n * c + ch) * len;
            for (int t = 0; t < len; t++) {
                double xhat = (x[off + t] - mean[ch]) * invstd[ch];
                sum_dy += dy[off + t];
                sum_dy_xhat += dy[off + t] * xhat;
            }
        }
        dgamma[ch] += (float)sum_dy_xhat;
        dbeta[ch] += (float)sum_dy;
        double k = gamma[ch] * invstd[ch] / count;
        for (int n = 0; n < batch; n++) {
            size_t off = ((size_t)n * c + ch) * len;
            for (int t = 0; t < len; t++) {
                double xhat = (x[off + t] - mean[ch]) * invstd[ch];
                dx[off + t] = (float)(k * (count * dy[off + t] - sum_dy - xhat * sum_dy_xhat));
            }
        }
    }
}

void mets_relu_backward(const float *y, const float *dy, float *dx, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}

void mets_maxpool1d_backward(const float *x, int rows, int len, int k, int stride, int pad, const float *dy,
                             float *dx)
{
    int out_len = mets_pool1d_out_len(len, k, stride, pad);
    memset(dx, 0, (size_t)rows * len * sizeof *dx);
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * len;
        for (int t = 0; t < out_len; t++) {
            int lo = t * stride - pad, hi = lo + k, best = -1;
            lo = lo < 0 ? 0 : lo;
            hi = hi > len ? len : hi;
            for (int i = lo; i < hi; i++)
                if (best < 0 || xr[i] > xr[best])
                    best = i;
            if (best >= 0)
                dx[(size_t)r * len + best] += dy[(size_t)r * out_len + t];
        }
    }
}

void mets_avgpool1d_backward(int rows, int len, int k, int stride, int pad, const float *dy, float *dx)
{
    int out_len = mets_pool1d_out_len(len, k, stride, pad);
    memset(dx, 0, (size_t)rows * len * sizeof *dx);
    for (int r = 0; r < rows; r++)
        for (int t = 0; t < out_len; t++) {
            int lo = t * stride - pad, hi = lo + k;
            lo = lo < 0 ? 0 : lo;
            hi = hi > len ? len : hi;
            float g = dy[(size_t)r * out_len + t] / (float)k;
            for (int i = lo; i < hi; i++)
                dx[(size_t)r * len + i] += g;
        }
}

void mets_l2_normalize_backward(const float *y, const float *norm, int rows, int dim, const float *dy, float *dx)
{
    for (int r = 0; r < rows; r++) {
        const float *yr = y + (size_t)r * dim, *dyr = dy + (size_t)r * dim;
        float *dxr = dx + (size_t)r * dim;
        float dot = 0.0f;
        for (int i = 0; i < dim; i++)
            dot += yr[i] * dyr[i];
        for (int i = 0; i < dim; i++)
            dxr[i] = (dyr[i] - yr[i] * dot) / norm[r];
    }
}

static int same_group(const int *group, int i, int j)
{
    return group ? group[i] == group[j] : i == j;
}

float mets_infonce(const float *a, const float *b, int n, int dim, float log_scale, const int *group, float *da,
                   float *db, float *d_log_scale, float *work)
{
    float scale = expf(log_scale), *logits = work, *dl = work + (size_t)n * n;
    double loss = 0.0, dls = 0.0;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, dim, scale, a, dim, b, dim, 0.0f, logits, n);
    /* dl = (softmax over each row - target) + (softmax over each column - target), both / 2n. Targets
     * spread evenly over the pairs of the same group; the matrix of targets is symmetric. */
    memset(dl, 0, (size_t)n * n * sizeof *dl);
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            /* pass 0 walks row i, pass 1 column i */
            size_t step = pass ? (size_t)n : 1, base = pass ? (size_t)i : (size_t)i * n;
            float mx = -INFINITY;
            int positives = 0;
            for (int j = 0; j < n; j++) {
                mx = fmaxf(mx, logits[base + j * step]);
                positives += same_group(group, i, j);
            }
            double sum = 0.0;
            for (int j = 0; j < n; j++)
                sum += exp(logits[base + j * step] - mx);
            double log_sum = mx + log(sum);
            for (int j = 0; j < n; j++) {
                double target = same_group(group, i, j) ? 1.0 / positives : 0.0;
                double l = logits[base + j * step];
                loss -= target * (l - log_sum);
                dl[base + j * step] += (float)((exp(l - log_sum) - target) / (2.0 * n));
            }
        }
    for (size_t k = 0; k < (size_t)n * n; k++)
        dls += (double)dl[k] * logits[k];
    *d_log_scale = (float)dls;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, dim, n, scale, dl, n, b, dim, 0.0f, da, dim);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, dim, n, scale, dl, n, a, dim, 0.0f, db, dim);
    return (float)(loss / (2.0 * n));
}

void mets_adamw_begin_step(mets_adamw *opt)
{
    opt->step++;
}

void mets_adamw_update(const mets_adamw *opt, float *param, const float *grad, float *m, float *v, size_t n,
                       int decay)
{
    float c1 = 1.0f - powf(opt->beta1, (float)opt->step), c2 = 1.0f - powf(opt->beta2, (float)opt->step);
    float shrink = decay ? 1.0f - opt->lr * opt->weight_decay : 1.0f;
    for (size_t i = 0; i < n; i++) {
        m[i] = opt->beta1 * m[i] + (1.0f - opt->beta1) * grad[i];
        v[i] = opt->beta2 * v[i] + (1.0f - opt->beta2) * grad[i] * grad[i];
        param[i] = param[i] * shrink - opt->lr * (m[i] / c1) / (sqrtf(v[i] / c2) + opt->eps);
    }
}
