/* The frozen language model: sentence-transformers/all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT with
 * mean pooling and L2 normalisation) run on OpenBLAS. It embeds label prompts in the daemon and
 * reports during training; METS keeps it frozen, so this is inference only.
 *
 * Thread-safety: a mets_textenc holds the immutable weights (mmap'd from the model file) and may be
 * shared by all threads. Each thread embeds through its own mets_textenc_ctx (scratch buffers,
 * allocated once).
 *
 *     mets_textenc *te = mets_textenc_open("models/all-minilm-l6-v2.mets", &err);
 *     mets_textenc_ctx *ctx = mets_textenc_ctx_new(te, &err);
 *     float v[2 * METS_TEXTENC_DIM];
 *     const char *texts[] = {"atrial fibrillation", "sinus rhythm"};
 *     if (mets_textenc_embed(te, ctx, texts, 2, v, &err)) die(err.msg);
 *     // cosine of the two = dot product, the vectors are unit length
 */
#ifndef METS_TEXTENC_H
#define METS_TEXTENC_H

#include <stdint.h>

#include "err.h"
#include "tokenizer.h"

#define METS_TEXTENC_DIM 384
/* The model.arch metadata of a converted language model file (`mets convert-minilm` writes it). */
#define METS_TEXTENC_ARCH "bert-mean-pool-l2"

typedef struct mets_textenc mets_textenc;
typedef struct mets_textenc_ctx mets_textenc_ctx;

/* Opens a converted all-MiniLM-L6-v2 model file (see `mets convert-minilm`) and checks every tensor's
 * shape against the hyper-parameters in its metadata. */
mets_textenc *mets_textenc_open(const char *path, mets_err *err);
void mets_textenc_free(mets_textenc *te);

const mets_tokenizer *mets_textenc_tokenizer(const mets_textenc *te);
/* Longest token sequence, [CLS] and [SEP] included; longer texts are truncated (256). */
int mets_textenc_max_tokens(const mets_textenc *te);
/* Multiply-adds x 2 to embed one text of `tokens` tokens: the benchmark's FLOP count. */
double mets_textenc_flops(const mets_textenc *te, int tokens);

mets_textenc_ctx *mets_textenc_ctx_new(const mets_textenc *te, mets_err *err);
void mets_textenc_ctx_free(mets_textenc_ctx *ctx);

/* Embeds n NUL-terminated UTF-8 texts into out[n, METS_TEXTENC_DIM], each L2-normalised. Texts are
 * packed into batches of up to a fixed token budget, so per-token layers run as large GEMMs with no
 * padding. Fails only on invalid arguments. */
int mets_textenc_embed(const mets_textenc *te, mets_textenc_ctx *ctx, const char *const *texts, int n, float *out,
                       mets_err *err);

#endif
