/* Neural-network operators on float32, row-major, built on OpenBLAS's cblas_sgemm, except for the
 * ResNet convolution of mets_conv1d_cnl, which has a kernel of its own on x86-64 with AVX2 and FMA.
 *
 * Every op is a pure function of its arguments: weights are read-only, outputs and scratch
 * (`work`) belong to the caller, so any number of threads may run ops at once as long as each has
 * its own outputs and scratch. BLAS itself runs single-threaded (mets_blas_init): callers
 * parallelise across workers, which scales better for many small windows than threading one GEMM.
 *
 * Layouts follow PyTorch so that weights convert without reshuffling:
 *   linear weight [out, in]; conv1d input [batch, channels, length], weight [cout, cin, k].
 *
 *     mets_blas_init();
 *     mets_linear(x, n, 384, w, b, 1536, y);   // y[n,1536] = x[n,384] * w^T + b
 */
#ifndef METS_OPS_H
#define METS_OPS_H

#include <stddef.h>

/* Pins OpenBLAS to one thread. Call once before any op (idempotent). */
void mets_blas_init(void);

/* y[n, out] = x[n, in] * w[out, in]^T + b[out] (b may be NULL). */
void mets_linear(const float *x, int n, int in, const float *w, const float *b, int out, float *y);
/* mets_linear row by row: each row's result is bit-identical whatever n is, which one GEMM over n rows
 * does not promise (OpenBLAS picks kernels and blockings by shape). For scores that decide alerts, so
 * that a window scores the same alone, in a batch of 16, live or replayed. */
void mets_linear_rows(const float *x, int n, int in, const float *w, const float *b, int out, float *y);

typedef struct mets_conv1d_shape {
    int cin, cout, k;
    int stride, pad, dilation; /* zero padding on both sides, as PyTorch's Conv1d */
} mets_conv1d_shape;

/* Output length for an input of `len` samples, or <= 0 if the window is too short. */
int mets_conv1d_out_len(const mets_conv1d_shape *s, int len);
/* Scratch floats mets_conv1d needs for one input length (0 for a 1x1, stride-1 convolution). */
size_t mets_conv1d_work_floats(const mets_conv1d_shape *s, int len);
/* The matrix mets_conv1d multiplies: col[(c*k + j), t] = x[c, t*stride - pad + j*dilation], zero
 * outside the signal; col is [cin*k, out_len]. */
void mets_conv1d_im2col(const mets_conv1d_shape *s, const float *x, int len, float *col);
/* y[batch, cout, out_len] = conv(x[batch, cin, len], w[cout, cin, k]) + b[cout] (b may be NULL).
 * Lowered to one GEMM per batch item over an im2col matrix [cin*k, out_len] in `work`. */
void mets_conv1d(const mets_conv1d_shape *s, const float *w, const float *b, const float *x, int batch, int len,
                 float *y, float *work);

/* The same convolution over a batch stored channel-major, y[cout, batch, out_len], with the residual
 * add and the ReLU of a ResNet block fused in: y = conv(x) + b + r, then max(y, 0) if relu. r is a
 * tensor shaped as y (NULL for none; it may be y itself, to accumulate). x is x[batch, cin, len] if
 * x_window_major, else x[cin, batch, len]. work holds work_floats >= mets_conv1d_cnl_work_floats(s, len)
 * floats. Each window is computed on its own, by one OpenBLAS GEMM over its im2col matrix, so that its
 * result is bit-identical in any batch (scores decide alerts; replays must match). With wp (w packed by
 * mets_conv1d_pack) a kernel of our own multiplies instead, reading each window's zero-padded input in
 * place: no im2col matrix, no per-call packing (at these sizes they cost as much as the arithmetic),
 * and the ReLU applied as the result is stored. */
void mets_conv1d_cnl(const mets_conv1d_shape *s, const float *w, const float *wp, const float *b, const float *r,
                     const float *x, int x_window_major, int batch, int len, float *y, int relu, float *work,
                     size_t work_floats);
/* Scratch floats mets_conv1d_cnl needs (one window of `len` samples). */
size_t mets_conv1d_cnl_work_floats(const mets_conv1d_shape *s, int len);
/* Floats of w[cout, cin, k] packed for mets_conv1d_cnl's kernel; 0 when this CPU has none (x86-64 with
 * AVX2 and FMA), and then wp must be NULL. */
size_t mets_conv1d_packed_floats(const mets_conv1d_shape *s);
void mets_conv1d_pack(const mets_conv1d_shape *s, const float *w, float *wp);

/* Inference batch norm on x[batch, c, len] in place: (x - mean) / sqrt(var + eps) * gamma + beta. */
void mets_batchnorm(float *x, int batch, int c, int len, const float *gamma, const float *beta, const float *mean,
                    const float *var, float eps);
/* Folds a following batch norm into a conv or linear layer: w[cout, fan] and b[cout] are rewritten so
 * that the layer alone computes layer+BN. This is how inference models are loaded: BN costs nothing. */
void mets_batchnorm_fold(float *w, float *b, int cout, int fan, const float *gamma, const float *beta,
                         const float *mean, const float *var, float eps);

void mets_relu(float *x, size_t n);
/* The exact GELU of BERT: x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)). */
void mets_gelu(float *x, size_t n);

/* Pooling over the last axis of x[rows, len] (rows = batch * channels) into y[rows, out_len], with
 * out_len = (len + 2 pad - k) / stride + 1. Max pooling pads with -inf; average pooling counts the
 * zero padding in the divisor (PyTorch's defaults). Global average pooling is k = len, stride = len. */
int mets_pool1d_out_len(int len, int k, int stride, int pad);
void mets_maxpool1d(const float *x, int rows, int len, int k, int stride, int pad, float *y);
void mets_avgpool1d(const float *x, int rows, int len, int k, int stride, int pad, float *y);

/* In place over each row of x[rows, dim]. */
void mets_layernorm(float *x, int rows, int dim, const float *gamma, const float *beta, float eps);
void mets_softmax(float *x, int rows, int dim);
/* x / max(||x||_2, 1e-12) per row, as torch.nn.functional.normalize; the divisors go to norms[rows]
 * unless norms is NULL (training needs them for the backward pass). */
void mets_l2_normalize(float *x, int rows, int dim, float *norms);

/* Multi-head scaled dot-product self-attention over one sequence of t tokens.
 * q, k, v: [t, heads*hd] with row stride `ld` (so they may be column blocks of one fused QKV
 * projection); out: [t, heads*hd] with row stride `ldo`. key_mask[t] (1 = attend, 0 = padding) may be
 * NULL; at least one key must be attendable. work: mets_attention_work_floats(t) floats. */
size_t mets_attention_work_floats(int t);
void mets_attention(const float *q, const float *k, const float *v, int ld, int t, int heads, int hd,
                    const float *key_mask, float *out, int ldo, float *work);

/* y[dim] = sum_t mask[t] x[t, dim] / max(sum_t mask[t], 1e-9); mask NULL means all ones. This is
 * sentence-transformers' mean pooling. */
void mets_mean_pool(const float *x, int t, int dim, const float *mask, float *y);

#endif
