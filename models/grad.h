/* Backward passes of the ops in ops.h, and the training-only pieces (batch norm with batch
 * statistics, the symmetric InfoNCE loss, AdamW). Used by `mets train`; inference never links them in
 * spirit (it uses folded batch norm from ops.h).
 *
 * Conventions: `dy` is the gradient of the loss with respect to an op's output, `dx` the gradient to
 * write for its input (overwritten; NULL when the caller does not need it), and parameter gradients
 * (`dw`, `db`, `dgamma`, `dbeta`) are ACCUMULATED into, so a caller zeroes them once per step. Every
 * function is checked against finite differences in tests/test_grad.c.
 *
 * Thread-safety: pure functions of their arguments, as ops.h.
 */
#ifndef METS_GRAD_H
#define METS_GRAD_H

#include <stddef.h>

#include "ops.h"

void mets_linear_backward(const float *x, int n, int in, const float *w, int out, const float *dy, float *dx,
                          float *dw, float *db);

/* `work` needs 2 * mets_conv1d_work_floats(s, len) floats (the im2col matrix and its gradient). */
void mets_conv1d_backward(const mets_conv1d_shape *s, const float *w, const float *x, int batch, int len,
                          const float *dy, float *dx, float *dw, float *db, float *work);

/* Batch norm in training mode, y[batch, c, len] from x: normalises with the batch's own mean and
 * (biased) variance per channel, saves them for the backward pass (mean[c], invstd[c]), and moves the
 * running statistics towards them by `momentum` (PyTorch's convention: unbiased running variance). */
void mets_batchnorm_train(const float *x, int batch, int c, int len, const float *gamma, const float *beta,
                          float eps, float momentum, float *running_mean, float *running_var, float *mean,
                          float *invstd, float *y);
/* x is the forward input; dx may alias dy. */
void mets_batchnorm_backward(const float *x, int batch, int c, int len, const float *gamma, const float *mean,
                             const float *invstd, const float *dy, float *dx, float *dgamma, float *dbeta);

/* dx = dy where the forward output y > 0, else 0; dx may alias dy. */
void mets_relu_backward(const float *y, const float *dy, float *dx, size_t n);

/* Routes each output gradient to the input that was the maximum (the first one on ties). */
void mets_maxpool1d_backward(const float *x, int rows, int len, int k, int stride, int pad, const float *dy,
                             float *dx);
void mets_avgpool1d_backward(int rows, int len, int k, int stride, int pad, const float *dy, float *dx);

/* y = x / ||x|| per row (the forward output); dx may alias dy. `norm` holds each row's ||x|| as
 * mets_l2_normalize reported it. */
void mets_l2_normalize_backward(const float *y, const float *norm, int rows, int dim, const float *dy, float *dx);

/* Symmetric InfoNCE (CLIP) over a batch of n pairs of unit vectors a[n, dim], b[n, dim] with logits
 * exp(log_scale) * a b^T. Rows whose `group` ids are equal are the same report, so each is a positive
 * for the other (soft targets spread evenly over them) instead of a false negative; group may be NULL
 * (pair i only matches pair i). Returns the loss and writes da, db (overwritten) and d_log_scale.
 * work: 2 * n * n floats. */
float mets_infonce(const float *a, const float *b, int n, int dim, float log_scale, const int *group, float *da,
                   float *db, float *d_log_scale, float *work);

typedef struct mets_adamw {
    float lr, beta1, beta2, eps, weight_decay;
    long step; /* incremented by mets_adamw_begin_step */
} mets_adamw;

/* Call once per optimisation step, before updating each parameter tensor with mets_adamw_update. */
void mets_adamw_begin_step(mets_adamw *opt);
/* Decoupled weight decay (AdamW); m and v are the tensor's moment buffers, zero at the start. */
void mets_adamw_update(const mets_adamw *opt, float *param, const float *grad, float *m, float *v, size_t n,
                       int decay);

#endif
