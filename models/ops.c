#include "ops.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "err.h"

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

/* Fills row c of y[rows, n] with b[c] so a following GEMM can accumulate (beta = 1). */
static float fill_bias_rows(float *y, int rows, size_t n, const float *b)
{
    if (!b)
        return 0.0f;
    for (int c = 0; c < rows; c++)
        for (size_t i = 0; i < n; i++)
            y[(size_t)c * n + i] = b[c];
    return 1.0f;
}

void mets_linear(const float *x, int n, int in, const float *w, const float *b, int out, float *y)
{
    float beta = fill_bias(y, n, out, b);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, w, in, beta, y, out);
}

void mets_linear_rows(const float *x, int n, int in, const float *w, const float *b, int out, float *y)
{
    for (int i = 0; i < n; i++)
        mets_linear(x + (size_t)i * in, 1, in, w, b, out, y + (size_t)i * out);
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

size_t mets_conv1d_cnl_work_floats(const mets_conv1d_shape *s, int len)
{
    size_t col = mets_conv1d_work_floats(s, len); /* one window's im2col matrix, or its padded input */
    size_t stride = (size_t)s->stride, padded = (len + 2 * s->pad + stride - 1) / stride * stride * s->cin;
    return col > padded ? col : padded;
}

/* row[t] = xc[t * stride + off] for t < n, zero outside xc[0, len): the valid range is copied (memcpy
 * for stride 1) between zeroed edges, with no per-element bounds test. */
static void gather_row(const float *xc, int len, int off, int stride, float *row, int n)
{
    int lo = off < 0 ? (-off + stride - 1) / stride : 0;
    int hi = len - 1 - off < 0 ? 0 : (len - 1 - off) / stride + 1;
    hi = hi > n ? n : hi;
    lo = lo > hi ? hi : lo;
    memset(row, 0, (size_t)lo * sizeof *row);
    if (stride == 1)
        memcpy(row + lo, xc + lo + off, (size_t)(hi - lo) * sizeof *row);
    else
        for (int t = lo; t < hi; t++)
            row[t] = xc[t * stride + off];
    memset(row + hi, 0, (size_t)(n - hi) * sizeof *row);
}

/* im2col of one window whose channel c starts at x + c * x_ld, into col rows of stride col_ld. */
static void im2col_window(const mets_conv1d_shape *s, const float *x, size_t x_ld, int len, float *col,
                          size_t col_ld)
{
    int out_len = mets_conv1d_out_len(s, len);
    for (int c = 0; c < s->cin; c++)
        for (int j = 0; j < s->k; j++)
            gather_row(x + (size_t)c * x_ld, len, j * s->dilation - s->pad, s->stride,
                       col + ((size_t)c * s->k + j) * col_ld, out_len);
}

void mets_conv1d_im2col(const mets_conv1d_shape *s, const float *x, int len, float *col)
{
    im2col_window(s, x, (size_t)len, len, col, (size_t)mets_conv1d_out_len(s, len));
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
        float beta = fill_bias_rows(yn, s->cout, (size_t)out_len, b);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->cout, out_len, fan, 1.0f, w, fan, col, out_len,
                    beta, yn, out_len);
    }
}

/* The convolution kernel for x86-64 with AVX2 and FMA: a 6x16 register tile of y accumulated over the
 * taps of the zero-padded input read in place (no im2col matrix), against weights packed once at load.
 * Unlike a BLAS call it packs nothing per call, which at our sizes (a few dozen to a few hundred output
 * columns per window) costs as much as the arithmetic. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CONV_KERNEL 1
enum { MR = 6, NR = 16, KC = 1024 }; /* KC: rows of the reduction per block */

static int conv_kernel_available(void)
{
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

/* c[6][16] = init + bias + sum over rows r = (ch, j), ch < nch, j < kk, of a[r][0..6) * b[ch * ldb + off[j]
 * + 0..16), where init is a tile at `init` (row stride ldc; it may be c; NULL for zeros) and bias[6] is
 * added to its rows (NULL for none). `a` is packed [rows][6]; masked: only the lanes in m0, m1 of b are
 * read (the last strip); relu: the stored tile is max(c, 0). */
#define ROW(i) c##i##0 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + i), b0, c##i##0), \
               c##i##1 = _mm256_fmadd_ps(_mm256_broadcast_ss(a + i), b1, c##i##1)
__attribute__((target("avx2,fma"), always_inline)) static inline void
tile_6x16(int nch, int kk, const size_t *off, const float *a, const float *b, size_t ldb, float *c, size_t ldc,
          const float *init, const float *bias, int relu, int masked, __m256i m0, __m256i m1)
{
    __m256 c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51;
    if (init) {
        const float *r = init;
        c00 = _mm256_loadu_ps(r), c01 = _mm256_loadu_ps(r + 8), c10 = _mm256_loadu_ps(r + ldc);
        c11 = _mm256_loadu_ps(r + ldc + 8), c20 = _mm256_loadu_ps(r + 2 * ldc), c21 = _mm256_loadu_ps(r + 2 * ldc + 8);
        c30 = _mm256_loadu_ps(r + 3 * ldc), c31 = _mm256_loadu_ps(r + 3 * ldc + 8);
        c40 = _mm256_loadu_ps(r + 4 * ldc), c41 = _mm256_loadu_ps(r + 4 * ldc + 8);
        c50 = _mm256_loadu_ps(r + 5 * ldc), c51 = _mm256_loadu_ps(r + 5 * ldc + 8);
    } else {
        c00 = c01 = c10 = c11 = c20 = c21 = c30 = c31 = c40 = c41 = c50 = c51 = _mm256_setzero_ps();
    }
    if (bias) {
        __m256 v;
        v = _mm256_broadcast_ss(bias), c00 = _mm256_add_ps(c00, v), c01 = _mm256_add_ps(c01, v);
        v = _mm256_broadcast_ss(bias + 1), c10 = _mm256_add_ps(c10, v), c11 = _mm256_add_ps(c11, v);
        v = _mm256_broadcast_ss(bias + 2), c20 = _mm256_add_ps(c20, v), c21 = _mm256_add_ps(c21, v);
        v = _mm256_broadcast_ss(bias + 3), c30 = _mm256_add_ps(c30, v), c31 = _mm256_add_ps(c31, v);
        v = _mm256_broadcast_ss(bias + 4), c40 = _mm256_add_ps(c40, v), c41 = _mm256_add_ps(c41, v);
        v = _mm256_broadcast_ss(bias + 5), c50 = _mm256_add_ps(c50, v), c51 = _mm256_add_ps(c51, v);
    }
    for (int ch = 0; ch < nch; ch++, b += ldb)
        for (int j = 0; j < kk; j++, a += MR) {
            const float *bj = b + off[j];
            __m256 b0 = masked ? _mm256_maskload_ps(bj, m0) : _mm256_loadu_ps(bj);
            __m256 b1 = masked ? _mm256_maskload_ps(bj + 8, m1) : _mm256_loadu_ps(bj + 8);
            ROW(0), ROW(1), ROW(2), ROW(3), ROW(4), ROW(5);
        }
    if (relu) {
        __m256 z = _mm256_setzero_ps();
        c00 = _mm256_max_ps(c00, z), c01 = _mm256_max_ps(c01, z), c10 = _mm256_max_ps(c10, z);
        c11 = _mm256_max_ps(c11, z), c20 = _mm256_max_ps(c20, z), c21 = _mm256_max_ps(c21, z);
        c30 = _mm256_max_ps(c30, z), c31 = _mm256_max_ps(c31, z), c40 = _mm256_max_ps(c40, z);
        c41 = _mm256_max_ps(c41, z), c50 = _mm256_max_ps(c50, z), c51 = _mm256_max_ps(c51, z);
    }
    _mm256_storeu_ps(c, c00), _mm256_storeu_ps(c + 8, c01), _mm256_storeu_ps(c + ldc, c10);
    _mm256_storeu_ps(c + ldc + 8, c11), _mm256_storeu_ps(c + 2 * ldc, c20), _mm256_storeu_ps(c + 2 * ldc + 8, c21);
    _mm256_storeu_ps(c + 3 * ldc, c30), _mm256_storeu_ps(c + 3 * ldc + 8, c31);
    _mm256_storeu_ps(c + 4 * ldc, c40), _mm256_storeu_ps(c + 4 * ldc + 8, c41);
    _mm256_storeu_ps(c + 5 * ldc, c50), _mm256_storeu_ps(c + 5 * ldc + 8, c51);
}
#undef ROW

/* y[cout, n] = r + bias + the product of packed weights ap[ceil(cout/6)][nch * kk][6] and the right
 * operand whose row (ch, j) starts at b + ch * ldb + off[j], then max(y, 0) if relu; r (row stride ldy,
 * NULL for none, may be y) and bias (NULL for none) are read as the first tile is set up, so neither
 * costs a pass of its own. Partial tiles go through a local tile. */
__attribute__((target("avx2,fma"))) static void kernel_gemm(int cout, int nch, int kk, const size_t *off, const float *ap,
                                                            const float *b, size_t ldb, size_t n, const float *bias,
                                                            const float *r, float *y, size_t ldy, int relu)
{
    int K = nch * kk, cb = KC / kk > 0 ? KC / kk : 1; /* channels per K block */
    for (size_t n0 = 0; n0 < n; n0 += NR) {
        int cols = n - n0 < NR ? (int)(n - n0) : NR, masked = cols < NR;
        const int32_t lane[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
        __m256i m0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), _mm256_loadu_si256((const __m256i *)lane));
        __m256i m1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), _mm256_loadu_si256((const __m256i *)(lane + 8)));
        for (int c0 = 0; c0 < nch; c0 += cb) {
            int nc = nch - c0 < cb ? nch - c0 : cb, act = relu && c0 + nc == nch;
            const float *bk = b + (size_t)c0 * ldb + n0;
            for (int m0r = 0; m0r < cout; m0r += MR) {
                const float *a = ap + (size_t)m0r * K + (size_t)c0 * kk * MR;
                float *c = y + (size_t)m0r * ldy + n0;
                const float *ri = c0 ? c : r ? r + (size_t)m0r * ldy + n0 : NULL, *bi = !c0 && bias ? bias + m0r : NULL;
                if (!masked && cout - m0r >= MR) {
                    tile_6x16(nc, kk, off, a, bk, ldb, c, ldy, ri, bi, act, 0, m0, m1);
                    continue;
                }
                float t[MR * NR] = {0}, tb[MR] = {0};
                int rows = cout - m0r < MR ? cout - m0r : MR;
                for (int i = 0; i < rows; i++) {
                    if (ri)
                        memcpy(t + i * NR, ri + (size_t)i * ldy, (size_t)cols * sizeof *t);
                    tb[i] = bi ? bi[i] : 0.0f;
                }
                if (masked)
                    tile_6x16(nc, kk, off, a, bk, ldb, t, NR, t, bi ? tb : NULL, act, 1, m0, m1);
                else
                    tile_6x16(nc, kk, off, a, bk, ldb, t, NR, t, bi ? tb : NULL, act, 0, m0, m1);
                for (int i = 0; i < rows; i++)
                    memcpy(c + (size_t)i * ldy, t + i * NR, (size_t)cols * sizeof *t);
            }
        }
    }
}
#else
static int conv_kernel_available(void)
{
    return 0;
}
#endif

size_t mets_conv1d_packed_floats(const mets_conv1d_shape *s)
{
#ifdef CONV_KERNEL
    if (conv_kernel_available())
        return (size_t)(s->cout + MR - 1) / MR * MR * s->cin * s->k;
#endif
    return 0;
}

void mets_conv1d_pack(const mets_conv1d_shape *s, const float *w, float *wp)
{
#ifdef CONV_KERNEL
    int fan = s->cin * s->k;
    for (int m0 = 0; m0 < s->cout; m0 += MR)
        for (int f = 0; f < fan; f++)
            for (int i = 0; i < MR; i++)
                *wp++ = m0 + i < s->cout ? w[(size_t)(m0 + i) * fan + f] : 0.0f;
#endif
}

/* y[c, :] = r[c, :] + b[c] over y[cout, n] (r or b may be NULL, r may be y); returns the GEMM's beta. */
static float fill_bias_residual(float *y, int cout, size_t n, const float *b, const float *r)
{
    if (!r)
        return fill_bias_rows(y, cout, n, b);
    if (r == y && !b)
        return 1.0f;
    for (int c = 0; c < cout; c++) {
        float bc = b ? b[c] : 0.0f, *yc = y + (size_t)c * n;
        const float *rc = r + (size_t)c * n;
        for (size_t i = 0; i < n; i++)
            yc[i] = rc[i] + bc;
    }
    return 1.0f;
}

#ifdef CONV_KERNEL
/* Rows of one window's zero-padded input x[c, len] split by phase, so that a stride-s convolution reads
 * contiguous rows: phase q of channel c at work + c * ld + q * p holds padded samples q, q + s, q + 2s...
 * Tap j of output t then reads work[c * ld + off[j] + t]. Returns ld. */
static size_t pad_phases(const mets_conv1d_shape *s, const float *x, size_t x_ld, int len, float *work, size_t *off)
{
    int p = (len + 2 * s->pad + s->stride - 1) / s->stride, used = 0; /* used: bit q for phase q */
    for (int j = 0; j < s->k; j++) {
        int q = j * s->dilation % s->stride;
        off[j] = (size_t)q * p + (size_t)(j * s->dilation / s->stride);
        used |= 1 << q;
    }
    size_t ld = (size_t)p * s->stride;
    for (int c = 0; c < s->cin; c++)
        for (int q = 0; q < s->stride; q++)
            if (used >> q & 1)
                gather_row(x + c * x_ld, len, q - s->pad, s->stride, work + c * ld + (size_t)q * p, p);
    return ld;
}

/* mets_conv1d_cnl on the packed weights wp, window by window, reading each window's input in place
 * (zero-padded and split by phase in `work`, unless the convolution is 1x1 stride 1): no im2col matrix. */
static void conv_cnl_kernel(const mets_conv1d_shape *s, const float *wp, const float *x, size_t x_ld, size_t x_win,
                            int batch, int len, const float *bias, const float *r, float *y, int relu, float *work)
{
    int out_len = mets_conv1d_out_len(s, len);
    size_t n = (size_t)batch * out_len, off[64];
    METS_ASSERT(s->k <= 64 && s->stride <= 31, "kernel %d, stride %d", s->k, s->stride);
    for (int i = 0; i < batch; i++) {
        const float *b = x + i * x_win;
        size_t ld = x_ld;
        off[0] = 0;
        if (!conv_is_pointwise(s))
            ld = pad_phases(s, b, x_ld, len, work, off), b = work;
        size_t at = (size_t)i * out_len;
        kernel_gemm(s->cout, s->cin, s->k, off, wp, b, ld, (size_t)out_len, bias, r ? r + at : NULL, y + at, n, relu);
    }
}
#endif

/* mets_conv1d_cnl through OpenBLAS: one GEMM per window over its im2col matrix in `work` (or over the
 * input itself for a 1x1, stride-1 convolution), so that a window's result does not depend on the batch
 * it came in: one GEMM across windows would pick its blocking by the batch's width. */
static void conv_cnl_blas(const mets_conv1d_shape *s, const float *w, const float *x, size_t x_ld, size_t x_win,
                          int batch, int len, float *y, float beta, float *work, size_t work_floats)
{
    int out_len = mets_conv1d_out_len(s, len), fan = s->cin * s->k, n = batch * out_len;
    int direct = conv_is_pointwise(s);
    METS_ASSERT(direct || work_floats >= (size_t)fan * out_len, "%zu work floats for %d x %d", work_floats, fan,
                out_len);
    for (int i = 0; i < batch; i++) {
        const float *b = x + (size_t)i * x_win;
        size_t ldb = x_ld;
        if (!direct)
            im2col_window(s, b, x_ld, len, work, (size_t)out_len), b = work, ldb = (size_t)out_len;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->cout, out_len, fan, 1.0f, w, fan, b, (int)ldb,
                    beta, y + (size_t)i * out_len, n);
    }
}

void mets_conv1d_cnl(const mets_conv1d_shape *s, const float *w, const float *wp, const float *b, const float *r,
                     const float *x, int x_window_major, int batch, int len, float *y, int relu, float *work,
                     size_t work_floats)
{
    size_t n = (size_t)batch * mets_conv1d_out_len(s, len);
    if (n == 0)
        return;
    size_t x_ld = x_window_major ? (size_t)len : (size_t)batch * len; /* between channels */
    size_t x_win = x_window_major ? (size_t)s->cin * len : (size_t)len; /* between windows */
#ifdef CONV_KERNEL
    if (wp) {
        conv_cnl_kernel(s, wp, x, x_ld, x_win, batch, len, b, r, y, relu, work);
        return;
    }
#endif
    float beta = fill_bias_residual(y, s->cout, n, b, r);
    conv_cnl_blas(s, w, x, x_ld, x_win, batch, len, y, beta, work, work_floats);
    if (relu)
        mets_relu(y, (size_t)s->cout * n);
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
