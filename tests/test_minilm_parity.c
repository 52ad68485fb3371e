/* The acceptance test of the frozen language model: our C tokenizer and encoder against golden token
 * ids and embeddings from the real sentence-transformers all-MiniLM-L6-v2
 * (scripts/make_minilm_golden.py). Every text: identical ids and cosine >= 0.9999.
 *
 * usage: test_minilm_parity MODEL.mets GOLDEN.json */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "textenc.h"

static const char *model_path, *golden_path;
static mets_textenc *te;
static json_t *golden;
static int ntexts;
static const char **texts;

static void ids_equal_reference_tokenizer(void)
{
    int max = mets_textenc_max_tokens(te), agree = 0;
    int32_t *ids = malloc((size_t)max * sizeof *ids);
    for (int i = 0; i < ntexts; i++) {
        json_t *want = json_object_get(json_array_get(json_object_get(golden, "texts"), i), "ids");
        int n = mets_tokenizer_encode(mets_textenc_tokenizer(te), texts[i], ids, max), same = n == (int)json_array_size(want);
        for (int k = 0; same && k < n; k++)
            same = ids[k] == json_integer_value(json_array_get(want, k));
        agree += same;
        CHECK(same, "token ids differ for text %d: \"%.60s\"", i, texts[i]);
    }
    printf("token ids: %d of %d texts identical to the reference tokenizer\n", agree, ntexts);
    free(ids);
}

static void embeddings_match_sentence_transformers(void)
{
    mets_err err;
    mets_textenc_ctx *ctx = mets_textenc_ctx_new(te, &err);
    float *out = malloc((size_t)ntexts * METS_TEXTENC_DIM * sizeof *out);
    CHECK(ctx && mets_textenc_embed(te, ctx, texts, ntexts, out, &err) == 0, "%s", err.msg);
    double min_cos = 1.0, max_abs = 0.0;
    for (int i = 0; i < ntexts; i++) {
        json_t *want = json_object_get(json_array_get(json_object_get(golden, "texts"), i), "embedding");
        CHECK(json_array_size(want) == METS_TEXTENC_DIM);
        double dot = 0, nw = 0, ng = 0;
        for (int d = 0; d < METS_TEXTENC_DIM; d++) {
            double w = json_real_value(json_array_get(want, d)), g = out[(size_t)i * METS_TEXTENC_DIM + d];
            dot += w * g, nw += w * w, ng += g * g;
            max_abs = fmax(max_abs, fabs(w - g));
        }
        double cos = dot / sqrt(nw * ng);
        min_cos = fmin(min_cos, cos);
        CHECK(cos >= 0.9999, "cosine %.6f for text %d: \"%.60s\"", cos, i, texts[i]);
    }
    printf("embeddings: min cosine %.7f, max abs diff %.2e over %d texts\n", min_cos, max_abs, ntexts);
    free(out);
    mets_textenc_ctx_free(ctx);
}

/* Packing texts into one batch must not change any text's vector. */
static void batched_equals_one_by_one(void)
{
    mets_err err;
    mets_textenc_ctx *ctx = mets_textenc_ctx_new(te, &err);
    float *all = malloc((size_t)ntexts * METS_TEXTENC_DIM * sizeof *all), one[METS_TEXTENC_DIM];
    CHECK(mets_textenc_embed(te, ctx, texts, ntexts, all, &err) == 0, "%s", err.msg);
    for (int i = 0; i < ntexts; i++) {
        CHECK(mets_textenc_embed(te, ctx, texts + i, 1, one, &err) == 0, "%s", err.msg);
        for (int d = 0; d < METS_TEXTENC_DIM; d++)
            CHECK_NEAR(one[d], all[(size_t)i * METS_TEXTENC_DIM + d], 1e-5);
    }
    free(all);
    mets_textenc_ctx_free(ctx);
}

static void missing_model_file_is_a_clear_error(void)
{
    mets_err err;
    CHECK(mets_textenc_open("no/such/model.mets", &err) == NULL);
    CHECK(strstr(err.msg, "no/such/model.mets") != NULL, "message: %s", err.msg);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODEL.mets GOLDEN.json\n", argv[0]);
        return 2;
    }
    model_path = argv[1], golden_path = argv[2];
    mets_err err;
    json_error_t je;
    if (!(te = mets_textenc_open(model_path, &err))) {
        fprintf(stderr, "%s\n(the language model is converted by the README's set-up: scripts/setup.sh)\n", err.msg);
        return 1;
    }
    if (!(golden = json_load_file(golden_path, 0, &je))) {
        fprintf(stderr, "%s:%d: %s\n", golden_path, je.line, je.text);
        return 1;
    }
    json_t *list = json_object_get(golden, "texts");
    ntexts = (int)json_array_size(list);
    texts = malloc((size_t)ntexts * sizeof *texts);
    for (int i = 0; i < ntexts; i++)
        texts[i] = json_string_value(json_object_get(json_array_get(list, i), "text"));
    CHECK(ntexts >= 40, "only %d golden texts", ntexts);
    RUN(ids_equal_reference_tokenizer);
    RUN(embeddings_match_sentence_transformers);
    RUN(batched_equals_one_by_one);
    RUN(missing_model_file_is_a_clear_error);
    free(texts);
    json_decref(golden);
    mets_textenc_free(te);
    return mets_test_summary();
}
