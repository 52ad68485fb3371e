#include "textenc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mfile.h"
#include "ops.h"

/* Tokens embedded per batch: large enough that the per-token GEMMs run near BLAS peak, small enough
 * that a context's scratch stays around 16 MB. */
#define TOKEN_BUDGET 1024
#define MAX_LAYERS 48

typedef struct layer {
    const float *qkv_w, *qkv_b;     /* [3H, H], [3H]: query, key, value fused at conversion */
    const float *attn_out_w, *attn_out_b, *attn_ln_g, *attn_ln_b;
    const float *ffn_in_w, *ffn_in_b; /* [F, H] */
    const float *ffn_out_w, *ffn_out_b, *ffn_ln_g, *ffn_ln_b;
} layer;

struct mets_textenc {
    mets_mfile *mf;
    mets_tokenizer *tok;
    int layers, hidden, heads, ffn, max_tokens;
    float ln_eps;
    const float *word_emb, *pos_emb, *type_emb, *emb_ln_g, *emb_ln_b;
    layer layer[MAX_LAYERS];
};

struct mets_textenc_ctx {
    int32_t *ids;     /* [TOKEN_BUDGET] */
    int *seq_len;     /* tokens of each text in the batch */
    float *h, *qkv, *attn, *tmp, *ffn, *work;
};

static int get_dim(const mets_mfile *mf, const char *key, int lo, int hi, int *out, mets_err *err)
{
    int64_t v;
    if (mets_mfile_get_i64(mf, key, &v, err))
        return err ? err->code : METS_EFORMAT;
    if (v < lo || v > hi)
        return mets_err_set(err, METS_EFORMAT, "%s: %s = %lld, expected %d..%d", mets_mfile_name(mf), key,
                            (long long)v, lo, hi);
    *out = (int)v;
    return 0;
}

static int read_hparams(mets_textenc *te, mets_err *err)
{
    const mets_mfile *mf = te->mf;
    double eps;
    int rc;
    if ((rc = get_dim(mf, "bert.layers", 1, MAX_LAYERS, &te->layers, err)) ||
        (rc = get_dim(mf, "bert.hidden", 1, 8192, &te->hidden, err)) ||
        (rc = get_dim(mf, "bert.heads", 1, 256, &te->heads, err)) ||
        (rc = get_dim(mf, "bert.ffn", 1, 65536, &te->ffn, err)) ||
        (rc = get_dim(mf, "bert.max_tokens", 2, TOKEN_BUDGET, &te->max_tokens, err)) ||
        (rc = mets_mfile_get_f64(mf, "bert.layer_norm_eps", &eps, err)))
        return rc;
    if (te->hidden % te->heads)
        return mets_err_set(err, METS_EFORMAT, "%s: hidden size %d is not a multiple of %d heads",
                            mets_mfile_name(mf), te->hidden, te->heads);
    te->ln_eps = (float)eps;
    return 0;
}

static int tensor(const mets_textenc *te, const char *name, int64_t d0, int64_t d1, const float **out,
                  mets_err *err)
{
    int64_t shape[2] = {d0, d1};
    return mets_mfile_tensor_f32(te->mf, name, d1 ? 2 : 1, shape, out, err);
}

static int bind_layer(mets_textenc *te, int i, mets_err *err)
{
    int64_t H = te->hidden, F = te->ffn;
    layer *L = &te->layer[i];
    struct {
        const char *suffix;
        int64_t d0, d1;
        const float **dst;
    } t[] = {
        {"attention.qkv.weight", 3 * H, H, &L->qkv_w},
        {"attention.qkv.bias", 3 * H, 0, &L->qkv_b},
        {"attention.output.dense.weight", H, H, &L->attn_out_w},
        {"attention.output.dense.bias", H, 0, &L->attn_out_b},
        {"attention.output.LayerNorm.weight", H, 0, &L->attn_ln_g},
        {"attention.output.LayerNorm.bias", H, 0, &L->attn_ln_b},
        {"intermediate.dense.weight", F, H, &L->ffn_in_w},
        {"intermediate.dense.bias", F, 0, &L->ffn_in_b},
        {"output.dense.weight", H, F, &L->ffn_out_w},
        {"output.dense.bias", H, 0, &L->ffn_out_b},
        {"output.LayerNorm.weight", H, 0, &L->ffn_ln_g},
        {"output.LayerNorm.bias", H, 0, &L->ffn_ln_b},
    };
    for (size_t k = 0; k < sizeof t / sizeof t[0]; k++) {
        char name[128];
        snprintf(name, sizeof name, "encoder.layer.%d.%s", i, t[k].suffix);
        int rc = tensor(te, name, t[k].d0, t[k].d1, t[k].dst, err);
        if (rc)
            return rc;
    }
    return 0;
}

static int bind_weights(mets_textenc *te, mets_err *err)
{
    int64_t H = te->hidden;
    int rc;
    if ((rc = tensor(te, "embeddings.word_embeddings.weight", -1, H, &te->word_emb, err)) ||
        (rc = tensor(te, "embeddings.position_embeddings.weight", -1, H, &te->pos_emb, err)) ||
        (rc = tensor(te, "embeddings.token_type_embeddings.weight", -1, H, &te->type_emb, err)) ||
        (rc = tensor(te, "embeddings.LayerNorm.weight", H, 0, &te->emb_ln_g, err)) ||
        (rc = tensor(te, "embeddings.LayerNorm.bias", H, 0, &te->emb_ln_b, err)))
        return rc;
    int64_t shape[4];
    mets_mfile_tensor_shape(te->mf, "embeddings.position_embeddings.weight", shape, NULL);
    if (shape[0] < te->max_tokens)
        return mets_err_set(err, METS_EFORMAT, "%s: %lld position embeddings, fewer than max_tokens %d",
                            mets_mfile_name(te->mf), (long long)shape[0], te->max_tokens);
    for (int i = 0; i < te->layers; i++)
        if ((rc = bind_layer(te, i, err)))
            return rc;
    return 0;
}

static int load_tokenizer(mets_textenc *te, mets_err *err)
{
    const mets_mfile *mf = te->mf;
    size_t n;
    int rc = mets_mfile_get_strs(mf, "tokenizer.vocab", &n, err);
    if (rc)
        return rc;
    int64_t shape[4];
    mets_mfile_tensor_shape(mf, "embeddings.word_embeddings.weight", shape, NULL);
    if ((int64_t)n != shape[0])
        return mets_err_set(err, METS_EFORMAT, "%s: vocabulary has %zu tokens but word embeddings %lld rows",
                            mets_mfile_name(mf), n, (long long)shape[0]);
    const char **words = malloc(n * sizeof *words);
    size_t *lens = malloc(n * sizeof *lens);
    if (!words || !lens) {
        free(words), free(lens);
        return mets_err_set(err, METS_ENOMEM, "%s: out of memory for the vocabulary", mets_mfile_name(mf));
    }
    for (size_t i = 0; i < n && !rc; i++)
        rc = mets_mfile_get_strs_at(mf, "tokenizer.vocab", i, &words[i], &lens[i], err);
    if (!rc) {
        te->tok = mets_tokenizer_new(words, lens, n, err);
        if (!te->tok)
            rc = mets_err_prefix(err, "%s: ", mets_mfile_name(mf));
    }
    free(words), free(lens);
    return rc;
}

mets_textenc *mets_textenc_open(const char *path, mets_err *err)
{
    mets_textenc *te = calloc(1, sizeof *te);
    if (!te) {
        mets_err_set(err, METS_ENOMEM, "%s: out of memory", path);
        return NULL;
    }
    te->mf = mets_mfile_open(path, err);
    if (!te->mf || read_hparams(te, err) || bind_weights(te, err) || load_tokenizer(te, err)) {
        mets_textenc_free(te);
        return NULL;
    }
    mets_blas_init();
    return te;
}

void mets_textenc_free(mets_textenc *te)
{
    if (!te)
        return;
    mets_tokenizer_free(te->tok);
    mets_mfile_free(te->mf);
    free(te);
}

const mets_tokenizer *mets_textenc_tokenizer(const mets_textenc *te)
{
    return te->tok;
}

int mets_textenc_max_tokens(const mets_textenc *te)
{
    return te->max_tokens;
}

double mets_textenc_flops(const mets_textenc *te, int tokens)
{
    double H = te->hidden, F = te->ffn, T = tokens;
    double per_layer = T * (3 * H * H + H * H + 2 * H * F) /* projections and FFN */
                       + 2 * T * T * H;                    /* scores and weighted sum */
    return 2.0 * te->layers * per_layer;
}

mets_textenc_ctx *mets_textenc_ctx_new(const mets_textenc *te, mets_err *err)
{
    size_t T = TOKEN_BUDGET, H = te->hidden;
    mets_textenc_ctx *c = calloc(1, sizeof *c);
    if (c) {
        c->ids = malloc(T * sizeof *c->ids);
        c->seq_len = malloc(T * sizeof *c->seq_len);
        c->h = malloc(T * H * sizeof(float));
        c->qkv = malloc(3 * T * H * sizeof(float));
        c->attn = malloc(T * H * sizeof(float));
        c->tmp = malloc(T * H * sizeof(float));
        c->ffn = malloc(T * (size_t)te->ffn * sizeof(float));
        c->work = malloc(mets_attention_work_floats(te->max_tokens) * sizeof(float));
    }
    if (!c || !c->ids || !c->seq_len || !c->h || !c->qkv || !c->attn || !c->tmp || !c->ffn || !c->work) {
        mets_textenc_ctx_free(c);
        mets_err_set(err, METS_ENOMEM, "text encoder: out of memory for scratch buffers");
        return NULL;
    }
    return c;
}

void mets_textenc_ctx_free(mets_textenc_ctx *c)
{
    if (!c)
        return;
    free(c->ids), free(c->seq_len), free(c->h), free(c->qkv), free(c->attn), free(c->tmp), free(c->ffn);
    free(c->work);
    free(c);
}

static void add_into(float *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] += src[i];
}

static void embed_tokens(const mets_textenc *te, mets_textenc_ctx *c, int nseq, int total)
{
    size_t H = te->hidden;
    for (int s = 0, t = 0; s < nseq; s++)
        for (int p = 0; p < c->seq_len[s]; p++, t++) {
            float *row = c->h + t * H;
            const float *w = te->word_emb + (size_t)c->ids[t] * H, *pos = te->pos_emb + p * H;
            for (size_t d = 0; d < H; d++)
                row[d] = w[d] + pos[d] + te->type_emb[d];
        }
    mets_layernorm(c->h, total, (int)H, te->emb_ln_g, te->emb_ln_b, te->ln_eps);
}

static void run_layer(const mets_textenc *te, const layer *L, mets_textenc_ctx *c, int nseq, int total)
{
    int H = te->hidden, H3 = 3 * H;
    size_t n = (size_t)total * H;
    mets_linear(c->h, total, H, L->qkv_w, L->qkv_b, H3, c->qkv);
    for (int s = 0, t = 0; s < nseq; t += c->seq_len[s++]) {
        const float *q = c->qkv + (size_t)t * H3;
        mets_attention(q, q + H, q + 2 * H, H3, c->seq_len[s], te->heads, H / te->heads, NULL, c->attn + (size_t)t * H,
                       H, c->work);
    }
    mets_linear(c->attn, total, H, L->attn_out_w, L->attn_out_b, H, c->tmp);
    add_into(c->h, c->tmp, n);
    mets_layernorm(c->h, total, H, L->attn_ln_g, L->attn_ln_b, te->ln_eps);
    mets_linear(c->h, total, H, L->ffn_in_w, L->ffn_in_b, te->ffn, c->ffn);
    mets_gelu(c->ffn, (size_t)total * te->ffn);
    mets_linear(c->ffn, total, te->ffn, L->ffn_out_w, L->ffn_out_b, H, c->tmp);
    add_into(c->h, c->tmp, n);
    mets_layernorm(c->h, total, H, L->ffn_ln_g, L->ffn_ln_b, te->ln_eps);
}

/* Runs the packed batch in c->ids and writes one pooled, normalised vector per text into out. */
static void run_batch(const mets_textenc *te, mets_textenc_ctx *c, int nseq, int total, float *out)
{
    embed_tokens(te, c, nseq, total);
    for (int i = 0; i < te->layers; i++)
        run_layer(te, &te->layer[i], c, nseq, total);
    for (int s = 0, t = 0; s < nseq; t += c->seq_len[s++])
        mets_mean_pool(c->h + (size_t)t * te->hidden, c->seq_len[s], te->hidden, NULL, out + (size_t)s * te->hidden);
    mets_l2_normalize(out, nseq, te->hidden, NULL);
}

int mets_textenc_embed(const mets_textenc *te, mets_textenc_ctx *c, const char *const *texts, int n, float *out,
                       mets_err *err)
{
    if (n < 0 || (n > 0 && (!texts || !out)))
        return mets_err_set(err, METS_EINVAL, "text encoder: bad arguments (n = %d)", n);
    int first = 0, nseq = 0, total = 0;
    int32_t one[TOKEN_BUDGET];
    for (int i = 0; i < n; i++) {
        if (!texts[i])
            return mets_err_set(err, METS_EINVAL, "text encoder: text %d is NULL", i);
        int len = mets_tokenizer_encode(te->tok, texts[i], one, te->max_tokens);
        if (total + len > TOKEN_BUDGET) {
            run_batch(te, c, nseq, total, out + (size_t)first * te->hidden);
            first = i, nseq = 0, total = 0;
        }
        memcpy(c->ids + total, one, (size_t)len * sizeof *one);
        c->seq_len[nseq++] = len;
        total += len;
    }
    if (nseq)
        run_batch(te, c, nseq, total, out + (size_t)first * te->hidden);
    return 0;
}
