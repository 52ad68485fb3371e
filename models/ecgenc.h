/* The ECG encoder of METS: a ResNet-style 1D CNN over a 10 s window of up to 12 leads at the model rate,
 * followed by the projection heads into the space it shares with the frozen language model.
 *
 *   input [24, samples]: 12 standard leads (I II III aVR aVL aVF V1..V6; zeros where a lead is missing)
 *                        and 12 constant channels saying which leads are present
 *   stem   conv k=7 s=2 -> ReLU -> max pool k=3 s=2
 *   stages of basic residual blocks (conv k -> ReLU -> conv k, plus a 1x1 projection when the shape
 *          changes), the first block of every stage but the first halving the length
 *   global average pool -> ecg head (linear) -> L2 norm   = the window's embedding
 *   text head (linear on a language-model embedding) -> L2 norm = a prompt's embedding
 *
 * Batch norm is folded into the convolutions when the trainer exports the model, so inference is
 * conv + bias + ReLU only. The architecture (widths, depths, kernel) is read from the model file's
 * metadata, so sizes can change without code changes; mets_ecgenc_arch describes one.
 *
 * Thread-safety: a mets_ecgenc (weights, mmap'd) is immutable and shared; every thread encodes
 * through its own mets_ecgenc_ctx (scratch sized once for a maximum batch).
 *
 *     mets_ecgenc *enc = mets_ecgenc_open("models/mets-ecg.mets", &err);
 *     mets_ecgenc_ctx *ctx = mets_ecgenc_ctx_new(enc, 32, &err);
 *     mets_ecgenc_encode(enc, ctx, windows, n, emb);        // emb[n, mets_ecgenc_dim(enc)]
 *     mets_ecgenc_embed_text(enc, text_vec, 1, prompt);     // prompt in the same space
 */
#ifndef METS_ECGENC_H
#define METS_ECGENC_H

#include <stddef.h>

#include "err.h"
#include "ops.h"

#define METS_ECG_LEADS 12
#define METS_ECG_IN_CHANNELS (2 * METS_ECG_LEADS)
#define METS_ECGENC_MAX_STAGES 6
/* The model.arch metadata of an ECG encoder file: what tells it from any other model file. */
#define METS_ECGENC_ARCH "mets-resnet1d"

/* The 12 standard lead names, in input-channel order. */
extern const char *const mets_ecg_lead_names[METS_ECG_LEADS];
/* Index of a lead name (case-insensitive, "AVR" = "aVR"), or -1. */
int mets_ecg_lead_index(const char *name);
/* The standard lead a recorded signal feeds: by its name, with MIT-BIH's modified lead II ("MLII") as
 * II and an unnamed signal ("ECG", as VFDB writes) as `unnamed_lead` (-1: dropped); -1 when none. */
int mets_ecg_signal_lead(const char *name, int unnamed_lead);

typedef struct mets_ecgenc_arch {
    int rate_hz, samples;  /* model rate and window length */
    int stem_channels;
    int kernel;            /* of every residual-block convolution */
    int stages;
    int channels[METS_ECGENC_MAX_STAGES];
    int blocks[METS_ECGENC_MAX_STAGES];
    int text_dim, embed_dim; /* language-model embedding size; shared space size */
} mets_ecgenc_arch;

/* The shipped default: 100 Hz, 10 s, widths 32/64/96/128, two blocks each, kernel 7, 256-d space. */
mets_ecgenc_arch mets_ecgenc_default_arch(void);

/* One convolution of the network, in forward order, as both the trainer and inference enumerate them. */
typedef enum { METS_CONV_STEM, METS_CONV_1, METS_CONV_2, METS_CONV_DOWN } mets_ecgenc_conv_role;

typedef struct mets_ecgenc_conv {
    char name[48];           /* tensor name prefix, e.g. "stage1.block0.conv1" */
    mets_ecgenc_conv_role role;
    mets_conv1d_shape shape;
    int in_len, out_len;
} mets_ecgenc_conv;

/* Lists the convolutions of `arch` into out (capacity `cap`); returns how many there are. Order: stem,
 * then per block conv1, conv2, and down (the shortcut projection) when the block has one. */
int mets_ecgenc_convs(const mets_ecgenc_arch *arch, mets_ecgenc_conv *out, int cap);
/* Multiply-adds x 2 of encoding one window (convolutions and heads). */
double mets_ecgenc_flops(const mets_ecgenc_arch *arch);
/* Length after the stem's max pool. */
int mets_ecgenc_pool_len(const mets_ecgenc_arch *arch);

/* The architecture as model-file metadata ("enc.*", "ecg.*", "head.*" keys): written by the trainer,
 * read back with validation (every size in range, the window long enough for every stage). */
struct mets_mfile_writer;
struct mets_mfile;
int mets_ecgenc_arch_write(const mets_ecgenc_arch *arch, struct mets_mfile_writer *w);
int mets_ecgenc_arch_read(const struct mets_mfile *mf, mets_ecgenc_arch *arch, mets_err *err);

typedef struct mets_ecgenc mets_ecgenc;
typedef struct mets_ecgenc_ctx mets_ecgenc_ctx;

mets_ecgenc *mets_ecgenc_open(const char *path, mets_err *err);
void mets_ecgenc_free(mets_ecgenc *enc);
const mets_ecgenc_arch *mets_ecgenc_get_arch(const mets_ecgenc *enc);
int mets_ecgenc_dim(const mets_ecgenc *enc);
/* The learned inverse temperature exp(logit_scale): multiplies cosines before a softmax over prompts. */
float mets_ecgenc_logit_scale(const mets_ecgenc *enc);

mets_ecgenc_ctx *mets_ecgenc_ctx_new(const mets_ecgenc *enc, int max_batch, mets_err *err);
void mets_ecgenc_ctx_free(mets_ecgenc_ctx *ctx);

/* Encodes n <= max_batch preprocessed windows x[n, 24, samples] into emb[n, dim], L2-normalised. */
int mets_ecgenc_encode(const mets_ecgenc *enc, mets_ecgenc_ctx *ctx, const float *x, int n, float *emb,
                       mets_err *err);
/* Where encoding time goes, for benchmarks: CPU seconds of the calling thread (so that other jobs on a
 * shared machine do not count) added up over calls, per convolution (indexed as mets_ecgenc_convs lists
 * them; bias, residual add and ReLU are fused into them), for the two poolings and for the ECG head with
 * its L2 norm. Zero it before the first call. */
#define METS_ECGENC_MAX_CONVS (1 + 3 * METS_ECGENC_MAX_STAGES * 8)
typedef struct mets_ecgenc_times {
    double conv[METS_ECGENC_MAX_CONVS];
    double pool, head;
} mets_ecgenc_times;
/* mets_ecgenc_encode that also adds its time per step to *times; identical output. */
int mets_ecgenc_encode_timed(const mets_ecgenc *enc, mets_ecgenc_ctx *ctx, const float *x, int n, float *emb,
                             mets_ecgenc_times *times, mets_err *err);
/* Projects n language-model embeddings text[n, text_dim] into the shared space, L2-normalised. */
void mets_ecgenc_embed_text(const mets_ecgenc *enc, const float *text, int n, float *out);

#endif
