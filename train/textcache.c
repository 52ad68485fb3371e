#include "textcache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mfile.h"

#define CHUNK 256

typedef struct cache {
    mets_mfile *mf;
    size_t n;
    const float *emb;
} cache;

/* Opens the cache if there is a valid one; a missing or stale cache is simply empty. */
static void open_cache(const char *path, cache *c)
{
    mets_err err;
    memset(c, 0, sizeof *c);
    if (access(path, F_OK) != 0 || !(c->mf = mets_mfile_open(path, &err)))
        return;
    int64_t shape[METS_MFILE_MAX_DIMS] = {-1, METS_TEXTENC_DIM};
    if (mets_mfile_get_strs(c->mf, "texts", &c->n, &err) ||
        mets_mfile_tensor_f32(c->mf, "embeddings", 2, shape, &c->emb, &err) ||
        mets_mfile_tensor_shape(c->mf, "embeddings", shape, &err) < 0 || (size_t)shape[0] != c->n) {
        mets_mfile_free(c->mf);
        memset(c, 0, sizeof *c);
    }
}

/* A cached text and its row: the cache is looked up through a sorted array of these. */
typedef struct entry {
    const char *s;
    size_t len;
    size_t row;
} entry;

static int by_text(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int write_cache(const char *path, char *const *texts, int n, const float *emb, mets_err *err)
{
    size_t *lens = malloc((size_t)(n ? n : 1) * sizeof *lens);
    mets_mfile_writer *w = mets_mfile_writer_new();
    int64_t shape[2] = {n, METS_TEXTENC_DIM};
    static const char model[] = "sentence-transformers/all-MiniLM-L6-v2";
    int rc = (lens && w) ? 0 : METS_ENOMEM;
    for (int i = 0; i < n && !rc; i++)
        lens[i] = strlen(texts[i]);
    rc = rc ?: mets_mfile_writer_set_strs(w, "texts", (const char *const *)texts, lens, (size_t)n);
    rc = rc ?: mets_mfile_writer_set_str(w, "text_model", model, sizeof model - 1);
    rc = rc ?: mets_mfile_writer_add_tensor(w, "embeddings", METS_DT_F32, 2, shape, emb);
    rc = rc ? mets_err_set(err, rc, "%s: cannot build the text cache", path) : mets_mfile_writer_write(w, path, err);
    mets_mfile_writer_free(w);
    free(lens);
    return rc;
}

int mets_textcache_embed(const char *cache_path, const mets_textenc *te, char *const *texts, int n, float *out,
                         int quiet, mets_err *err)
{
    cache c;
    open_cache(cache_path, &c);
    entry *index = malloc((c.n + 1) * sizeof *index);
    int *todo = malloc((size_t)(n ? n : 1) * sizeof *todo), ntodo = 0;
    int rc = (index && todo) ? 0 : mets_err_set(err, METS_ENOMEM, "text cache: out of memory");
    for (size_t i = 0; i < c.n && !rc; i++) {
        mets_mfile_get_strs_at(c.mf, "texts", i, &index[i].s, &index[i].len, NULL);
        index[i].row = i;
    }
    if (!rc)
        qsort(index, c.n, sizeof *index, by_text);
    for (int i = 0; i < n && !rc; i++) {
        entry key = {texts[i], strlen(texts[i]), 0}, *hit = c.n ? bsearch(&key, index, c.n, sizeof *index, by_text) : NULL;
        if (hit)
            memcpy(out + (size_t)i * METS_TEXTENC_DIM, c.emb + hit->row * METS_TEXTENC_DIM, METS_TEXTENC_DIM * sizeof *out);
        else
            todo[ntodo++] = i;
    }
    mets_textenc_ctx *ctx = (!rc && ntodo) ? mets_textenc_ctx_new(te, err) : NULL;
    if (ntodo && !ctx && !rc)
        rc = err->code;
    const char *batch[CHUNK];
    float *emb = malloc((size_t)CHUNK * METS_TEXTENC_DIM * sizeof *emb);
    for (int k = 0; k < ntodo && !rc; k += CHUNK) {
        int m = ntodo - k < CHUNK ? ntodo - k : CHUNK;
        for (int j = 0; j < m; j++)
            batch[j] = texts[todo[k + j]];
        rc = mets_textenc_embed(te, ctx, batch, m, emb, err);
        for (int j = 0; j < m && !rc; j++)
            memcpy(out + (size_t)todo[k + j] * METS_TEXTENC_DIM, emb + (size_t)j * METS_TEXTENC_DIM,
                   METS_TEXTENC_DIM * sizeof *out);
        if (!quiet)
            fprintf(stderr, "\rembedding report texts: %d/%d   ", k + m, ntodo);
    }
    if (!quiet && ntodo)
        fprintf(stderr, "\n");
    mets_mfile_free(c.mf);
    if (!rc && ntodo)
        rc = write_cache(cache_path, texts, n, out, err);
    mets_textenc_ctx_free(ctx);
    free(index), free(todo), free(emb);
    return rc;
}
