/* The report-embedding cache (train/textcache.c): a second call reads what the first embedded, gives the
 * same vectors, and embeds only texts it has not seen.
 *
 * usage: test_textcache MINILM.mets */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "mfile.h"
#include "textcache.h"

static const char *minilm_path;

static void second_call_reads_the_cache(void)
{
    mets_err err;
    mets_textenc *te = mets_textenc_open(minilm_path, &err);
    CHECK(te != NULL, "%s", err.msg);
    if (!te)
        return;
    char dir[] = "/tmp/mets-test-textcache-XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/cache.mets", dir);
    char *first[2] = {"sinus rhythm.", "atrial fibrillation."}, *second[3] = {"atrial fibrillation.", "new text.", "sinus rhythm."};
    float a[2 * METS_TEXTENC_DIM], b[3 * METS_TEXTENC_DIM], direct[METS_TEXTENC_DIM];
    CHECK(mets_textcache_embed(path, te, first, 2, a, 1, &err) == 0, "%s", err.msg);
    CHECK(mets_textcache_embed(path, te, second, 3, b, 1, &err) == 0, "%s", err.msg);
    CHECK(memcmp(a, b + 2 * METS_TEXTENC_DIM, sizeof direct) == 0);
    CHECK(memcmp(a + METS_TEXTENC_DIM, b, sizeof direct) == 0);
    mets_textenc_ctx *ctx = mets_textenc_ctx_new(te, &err);
    const char *one[1] = {"new text."};
    CHECK(ctx && mets_textenc_embed(te, ctx, one, 1, direct, &err) == 0);
    CHECK(memcmp(direct, b + METS_TEXTENC_DIM, sizeof direct) == 0);
    mets_mfile *mf = mets_mfile_open(path, &err);
    size_t n = 0;
    CHECK(mf && mets_mfile_get_strs(mf, "texts", &n, &err) == 0 && n == 3, "cache holds %zu texts", n);
    mets_mfile_free(mf);
    mets_textenc_ctx_free(ctx);
    mets_textenc_free(te);
    unlink(path);
    rmdir(dir);
}

int main(int argc, char **argv)
{
    minilm_path = mets_test_model_arg(argc, argv);
    RUN(second_call_reads_the_cache);
    return mets_test_summary();
}
