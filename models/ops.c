#include "ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

void mets_blas_init(void)
{
    openblas_set_num_threads(1);
}

/* Broadcasts b[cols] into every row of y[rows, cols] so a following GEMM can accumulate (beta = 1). */
static float fill_bias(float *y, int rows, int cols, const float *b)
{
    if (!b)
        return 0.0f;
    for (int r = 0; r < rows; r++)
        memcpy(y + (size_t)r * cols, b, (size_t)cols * sizeof *b);
    return 1.0f;
}

void mets_linear(const float *x, int n, int in, const float *w, const float *b, int out, float *y)
{
    float beta = fill_bias(y, n, out, b);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w, in, beta, y, out);
}

int mets_conv1d_out_len(const mets_conv1d_shape *s, int len)
{
    int span = s->dilation * (s->k - 1) + 1;
    int padded = len + 2 * s->pad;
    return padded < span ? 0 : (padded - span) / s->stride + 1;
}

static int conv_is_pointwise(const mets_conv1d_shape *s)
{
    return s->k == 1 && s->stride == 1 && s->pad == 0;
}

size_t mets_conv1d_work_floats(const mets_conv1d_shape *s, int len)
{
    if (conv_is_pointwise(s))
        return 0;
    return (size_t)s->cin * s->k * (size_t)mets_conv1d_out_len(s, len);
}

void mets_conv1d_im2col(const mets_conv1d_shape *s, const float *x, int len, float *col)
{
    int out_len = mets_conv1d_out_len(s, len);
    for (int c = 0; c < s->cin; c++) {
        const float *xc = x + (size_t)c * len;
        for (int j = 0; j < s->k; j++) {
            float *row = col + ((size_t)c * s->k + j) * out_len;
            int off = j * s->dilation - s->pad;
            for (int t = 0; t < out_len; t++) {
                int i = t * s->stride + off;
                row[t] = (i >= 0 && i < len) ? xc[i] : 0.0f;
            }
        }
    }
}

void mets_conv1d(const mets_conv1d_shape *s, const float *w, const float *b, const float *x, int batch, int len,
                 float *y, float *work)
{
    int out_len = mets_conv1d_out_len(s, len);
    int fan = s->cin * s->k;
    for (int n = 0; n < batch; n++) {
        const float *xn = x + (size_t)n * s->cin * len;
        float *yn = y + (size_t)n * s->cout * out_len;
        const float *col = xn;
        if (!conv_is_pointwise(s)) {
            mets_conv1d_im2col(s, xn, len, work);
            col = work;
        }
        float beta = 0.0f;
        if (b) {
            for (int c = 0; c < s->cout; c++)
                for (int t = 0; t < out_len; t++)
                    yn[(size_t)c * out_len + t] = b[c];
            beta = 1.0f;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->cout, out_len, fan, 1.0f, w, fan, col, out_len,
                    beta, yn, out_len);
    }
}

void mets_batchnorm(float *x, int batch, int c, int len, const float *gamma, const float *beta, const float *mean,
                    const float *var, float eps)
{
    for (int ch = 0; ch < c; ch++) {
        float scale = gamma[ch] / sqrtf(var[ch] + eps);
        float shift = beta[ch] - mean[ch] * scale;
        for (int n = 0; n < batch; n++) {
            float *row = x + ((size_t)n * c + ch) * len;
            for (int t = 0; t < len; t++)
                row[t] = row[t] * scale + shift;
        }
    }
}

void mets_batchnorm_fold(float *w, float *b, int cout, int fan, const float *gamma, const float *beta,
                         const float *mean, const float *var, float eps)
{
    for (int c = 0; c < cout; c++) {
        float scale = gamma[c] / sqrtf(var[c] + eps);
        for (int i = 0; i < fan; i++)
            w[(size_t)c * fan + i] *= scale;
        b[c] = (b[c] - mean[c]) * scale + beta[c];
    }
}

void mets_relu(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void mets_gelu(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * (float)M_SQRT1_2));
}

int mets_pool1d_out_len(int len, int k, int stride, int pad)
{
    int padded = len + 2 * pad;
    return padded < k ? 0 : (padded - k) / stride + 1;
}

/* Max (is_max) or average pooling; the window is clipped to the signal, and the average divides by k
 * so that zero padding counts, as PyTorch's defaults. */
static void pool1d(const float *x, int rows, int len, int k, int stride, int pad, float *y, int is_max)
{
    int out_len = mets_pool1d_out_len(len, k, stride, pad);
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * len;
        for (int t = 0; t < out_len; t++) {
            int lo = t * stride - pad, hi = lo + k;
            lo = lo < 0 ? 0 : lo;
            hi = hi > len ? len : hi;
            float acc = is_max ? -INFINITY : 0.0f;
            for (int i = lo; i < hi; i++)
                acc = is_max ? (xr[i] > acc ? xr[i] : acc) : acc + xr[i];
            y[(size_t)r * out_len + t] = is_max ? acc : acc / (float)k;
        }
    }
}

void mets_maxpool1d(const float *x, int rows, int len, int k, int stride, int pad, float *y)
{
    pool1d(x, rows, len, k, stride, pad, y, 1);
}

void mets_avgpool1d(const float *x, int rows, int len, int k, int stride, int pad, float *y)
{
    pool1d(x, rows, len, k, stride, pad, y, 0);
}

void mets_layernorm(float *x, int rows, int dim, const float *gamma, const float *beta, float eps)
{
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * dim;
        float mean = 0.0f, var = 0.0f;
        for (int i = 0; i < dim; i++)
            mean += xr[i];
        mean /= (float)dim;
        for (int i = 0; i < dim; i++)
            var += (xr[i] - mean) * (xr[i] - mean);
        float inv = 1.0f / sqrtf(var / (float)dim + eps);
        for (int i = 0; i < dim; i++)
            xr[i] = (xr[i] - mean) * inv * gamma[i] + beta[i];
    }
}

void mets_softmax(float *x, int rows, int dim)
{
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * dim;
        float m = -INFINITY, sum = 0.0f;
        for (int i = 0; i < dim; i++)
            m = xr[i] > m ? xr[i] : m;
        for (int i = 0; i < dim; i++) {
            xr[i] = expf(xr[i] - m);
            sum += xr[i];
        }
        for (int i = 0; i < dim; i++)
            xr[i] /= sum;
    }
}

void mets_l2_normalize(float *x, int rows, int dim, float *norms)
{
    for (int r = 0; r < rows; r++) {
        float *xr = x + (size_t)r * dim;
        float ss = 0.0f;
        for (int i = 0; i < dim; i++)
            ss += xr[i] * xr[i];
        float norm = sqrtf(ss);
        norm = norm > 1e-12f ? norm : 1e-12f;
        if (norms)
            norms[r] = norm;
        for (int i = 0; i < dim; i++)
            xr[i] /= norm;
    }
}

size_t mets_attention_work_floats(int t)
{
    return (size_t)t * t;
}

void mets_attention(const float *q, const float *k, const float *v, int ld, int t, int heads, int hd,
                    const float *key_mask, float *out, int ldo, float *work)
{
    float scale = 1.0f / sqrtf((float)hd);
    for (int h = 0; h < heads; h++) {
        size_t col = (size_t)h * hd;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t, t, hd, scale, q + col, ld, k + col, ld, 0.0f, work,
                    t);
        if (key_mask)
            for (int i = 0; i < t; i++)
                for (int j = 0; j < t; j++)
                    if (key_mask[j] == 0.0f)
                        work[(size_t)i * t + j] = -INFINITY;
        mets_softmax(work, t, t);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, hd, t, 1.0f, work, t, v + col, ld, 0.0f,
                    out + col, ldo);
    }
}

void mets_mean_pool(const float *x, int t, int dim, const float *mask, float *y)
{
    float count = 0.0f;
    memset(y, 0, (size_t)dim * sizeof *y);
    for (int i = 0; i < t; i++) {
        float m = mask ? mask[i] : 1.0f;
        if (m == 0.0f)
            continue;
        for (int d = 0; d < dim; d++)
            y[d] += m * x[(size_t)i * dim + d];
        count += m;
    }
    float inv = 1.0f / (count > 1e-9f ? count : 1e-9f);
    for (int d = 0; d < dim; d++)
        y[d] *= inv;
}
