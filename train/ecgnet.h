/* The trainable ECG encoder: the network of models/ecgenc.h with real batch norm, a forward pass that
 * keeps what the backward pass needs, the backward pass, and export to the inference model file with
 * batch norm folded into the convolutions.
 *
 * Threading: the parameters (mets_ecgnet) are shared; each training thread runs forward/backward over
 * its share of a batch through its own mets_ecgnet_tape, which also holds that thread's gradients.
 * Batch-norm statistics are per thread (as data-parallel training without synchronised BN); only the
 * tape created with `primary` set moves the running statistics.
 *
 *     mets_ecgnet *net = mets_ecgnet_new(&arch, seed, &err);
 *     mets_ecgnet_tape *tape = mets_ecgnet_tape_new(net, max_batch, 1, &err);
 *     mets_ecgnet_forward(net, tape, x, n, emb);           // emb: L2-normalised [n, embed_dim]
 *     ... loss gives d_emb ...
 *     mets_ecgnet_backward(net, tape, d_emb);              // accumulates into the tape's gradients
 */
#ifndef METS_ECGNET_H
#define METS_ECGNET_H

#include <stddef.h>
#include <stdint.h>

#include "ecgenc.h"
#include "err.h"
#include "mfile.h"

typedef struct mets_ecgnet mets_ecgnet;
typedef struct mets_ecgnet_tape mets_ecgnet_tape;

/* One trainable tensor: its values, its AdamW moments, whether weight decay applies. */
typedef struct mets_ecgnet_param {
    char name[64];
    float *w, *m, *v;
    size_t n;
    int decay;
} mets_ecgnet_param;

mets_ecgnet *mets_ecgnet_new(const mets_ecgenc_arch *arch, uint64_t seed, mets_err *err);
void mets_ecgnet_free(mets_ecgnet *net);
const mets_ecgenc_arch *mets_ecgnet_arch(const mets_ecgnet *net);
size_t mets_ecgnet_param_count(const mets_ecgnet *net);
mets_ecgnet_param *mets_ecgnet_param_at(mets_ecgnet *net, size_t i);
/* Total number of trainable scalars. */
size_t mets_ecgnet_scalars(const mets_ecgnet *net);

mets_ecgnet_tape *mets_ecgnet_tape_new(const mets_ecgnet *net, int max_batch, int primary, mets_err *err);
void mets_ecgnet_tape_free(mets_ecgnet_tape *tape);
/* The gradient buffer of parameter i in this tape (same size as the parameter). */
float *mets_ecgnet_tape_grad(mets_ecgnet_tape *tape, size_t i);
void mets_ecgnet_tape_zero_grad(const mets_ecgnet *net, mets_ecgnet_tape *tape);

/* Training-mode forward of x[n, 24, samples] (n <= max_batch) into emb[n, embed_dim]. x must stay
 * unchanged until the backward pass, which reads it again. */
void mets_ecgnet_forward(mets_ecgnet *net, mets_ecgnet_tape *tape, const float *x, int n, float *emb);
/* Backward from d_emb[n, embed_dim] (n as in the last forward): accumulates parameter gradients. */
void mets_ecgnet_backward(const mets_ecgnet *net, mets_ecgnet_tape *tape, const float *d_emb);

/* The text head on n language-model embeddings text[n, text_dim] -> out[n, embed_dim] (normalised);
 * norms[n] receives the pre-normalisation lengths for the backward pass. */
void mets_ecgnet_text_forward(const mets_ecgnet *net, const float *text, int n, float *out, float *norms);
/* Accumulates the text head's gradients into `tape` from d_out[n, embed_dim]; `scratch` holds n*embed_dim. */
void mets_ecgnet_text_backward(const mets_ecgnet *net, mets_ecgnet_tape *tape, const float *text, int n,
                               const float *out, const float *norms, const float *d_out, float *scratch);

/* The learned log inverse temperature (initialised to log(1/0.07)) and its parameter index. */
float *mets_ecgnet_log_scale(mets_ecgnet *net);
size_t mets_ecgnet_log_scale_index(const mets_ecgnet *net);

/* Adds the inference model to `w`: the architecture metadata and every tensor with batch norm folded
 * into the convolutions, stored as `dt` (METS_DT_F32, or METS_DT_F16 to ship it at half the size).
 * The caller adds provenance metadata and writes the file. */
struct mets_mfile_writer;
int mets_ecgnet_export(const mets_ecgnet *net, struct mets_mfile_writer *w, mets_dtype dt);
/* Checkpoints hold every parameter, its AdamW moments and the batch-norm running statistics. */
int mets_ecgnet_save_state(const mets_ecgnet *net, struct mets_mfile_writer *w);
int mets_ecgnet_load_state(mets_ecgnet *net, const struct mets_mfile *mf, mets_err *err);

#endif
