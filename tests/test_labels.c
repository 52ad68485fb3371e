/* Label prompts from YAML (models/labels.c): the shipped conf/labels.yaml loads, bad files fail with
 * file:line:column and what was expected, and the prompt bank scores with one softmax per group.
 *
 * usage: test_labels MINILM.mets   (the converted language model, for the prompt bank) */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecgnet.h"
#include "digest.h"
#include "harness.h"
#include "labels.h"
#include "mfile.h"

static const char *minilm_path;

static void shipped_labels_load(void)
{
    mets_err err;
    mets_labels *l = mets_labels_load("conf/labels.yaml", &err);
    CHECK(l != NULL, "%s", err.msg);
    if (!l)
        return;
    CHECK(l->ngroups == 3 && l->groups[0].nlabels == 5);
    CHECK(mets_labels_find(l, "cinc2017", "~") >= 0); /* quoted in the file: bare ~ is YAML's null */
    int afib = mets_labels_find(l, "rhythm", "AFIB");
    CHECK(afib >= 0 && l->labels[afib].nprompts == 2);
    CHECK(afib >= 0 && !strcmp(l->prompts[l->labels[afib].first_prompt], "atrial fibrillation"));
    CHECK(mets_labels_find(l, "superclass", "AFIB") == -1);
    mets_labels_free(l);
}

static void expect_error(const char *yaml, const char *where, const char *what)
{
    mets_err err;
    mets_labels *l = mets_labels_parse(yaml, strlen(yaml), "bad.yaml", &err);
    CHECK(l == NULL, "accepted: %s", yaml);
    mets_labels_free(l);
    CHECK(l || (strstr(err.msg, where) && strstr(err.msg, what)), "message '%s' lacks '%s' / '%s'", err.msg, where,
          what);
}

static void bad_files_fail_with_line_column_and_expectation(void)
{
    expect_error("version: 1\ngroups:\n  r:\n    AF:\n      promts: [x]\n", "bad.yaml:5:7", "unknown key");
    expect_error("version: 2\ngroups: {}\n", "bad.yaml:1:10", "expected version: 1");
    expect_error("version: 1\ncolour: red\n", "bad.yaml:2:1", "unknown key");
    expect_error("version: 1\ngroups:\n  r:\n    AF:\n      prompts: []\n", "bad.yaml:5:7", "at least one prompt");
    expect_error("version: 1\ngroups:\n  r:\n    AF: {prompts: [a]}\n    AF: {prompts: [b]}\n", "bad.yaml:5:5",
                 "duplicate label");
    expect_error("version: 1\ngroups:\n  r:\n    AF:\n      prompts: [\"\"]\n", "bad.yaml:5:17", "non-empty");
    expect_error("version: 1\ngroups: [a, b]\n", "bad.yaml:2:9", "mapping of label groups");
    expect_error("version: 1\ngroups:\n  r: {AF: {prompts: [a]}\n", "bad.yaml:", "");
    expect_error("", "bad.yaml", "empty document");
    mets_err err;
    CHECK(mets_labels_load("no/such/labels.yaml", &err) == NULL && strstr(err.msg, "no/such/labels.yaml"));
}

/* A tiny exported ECG model gives the text head the bank projects prompts with. */
static mets_ecgenc *tiny_model(const char *path)
{
    mets_ecgenc_arch a = {.rate_hz = 100, .samples = 64, .stem_channels = 4, .kernel = 3, .stages = 1,
                          .channels = {4}, .blocks = {1}, .text_dim = METS_TEXTENC_DIM, .embed_dim = 16};
    mets_err err;
    mets_ecgnet *net = mets_ecgnet_new(&a, 1, &err);
    mets_mfile_writer *w = mets_mfile_writer_new();
    CHECK(mets_ecgnet_export(net, w, METS_DT_F32) == 0 && mets_mfile_writer_write(w, path, &err) == 0);
    mets_mfile_writer_free(w);
    mets_ecgnet_free(net);
    return mets_ecgenc_open(path, &err);
}

static void prompt_bank_softmax_is_per_group(void)
{
    mets_err err;
    char dir[] = "/tmp/mets-test-labels-XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/tiny.mets", dir);
    mets_labels *l = mets_labels_load("conf/labels.yaml", &err);
    mets_textenc *te = mets_textenc_open(minilm_path, &err);
    mets_ecgenc *enc = tiny_model(path);
    CHECK(l && te && enc, "%s", err.msg);
    mets_promptbank *pb = (l && te && enc) ? mets_promptbank_new(l, te, enc, &err) : NULL;
    CHECK(pb != NULL, "%s", err.msg);
    if (pb) {
        int L = l->nlabels, D = mets_ecgenc_dim(enc);
        float emb[2 * 16], *cos = malloc(2 * L * sizeof *cos), *prob = malloc(2 * L * sizeof *prob);
        for (int i = 0; i < 2 * D; i++)
            emb[i] = mets_test_uniform(-1, 1);
        mets_l2_normalize(emb, 2, D, NULL);
        mets_promptbank_score(pb, emb, 2, 10.0f, cos, prob);
        const float *m = mets_promptbank_matrix(pb);
        for (int i = 0; i < 2; i++)
            for (int g = 0; g < l->ngroups; g++) {
                double sum = 0;
                for (int k = 0; k < l->groups[g].nlabels; k++) {
                    int j = l->groups[g].first_label + k;
                    double c = 0;
                    for (int d = 0; d < D; d++)
                        c += (double)emb[i * D + d] * m[j * D + d];
                    CHECK_NEAR(cos[i * L + j], c, 1e-5);
                    sum += prob[i * L + j];
                }
                CHECK_NEAR(sum, 1.0, 1e-5);
            }
        for (int j = 0; j < L; j++) {
            double n2 = 0;
            for (int d = 0; d < D; d++)
                n2 += (double)m[j * D + d] * m[j * D + d];
            CHECK_NEAR(n2, 1.0, 1e-5);
        }
        free(cos), free(prob);
    }
    mets_promptbank_free(pb);
    mets_ecgenc_free(enc);
    mets_textenc_free(te);
    mets_labels_free(l);
    unlink(path);
    rmdir(dir);
}

/* The prompt set's identity follows its prompts, not the file's layout; SHA-256 as OpenSSL computes it. */
static void fingerprint_follows_the_prompts(void)
{
    static const char a[] = "version: 1\ngroups:\n  rhythm:\n    AFIB: {prompts: [atrial fibrillation]}\n"
                            "    SR: {prompts: [sinus rhythm]}\n";
    static const char same[] = "# reformatted\nversion: 1\ngroups:\n  rhythm:\n    AFIB:\n      prompts:\n"
                               "        - atrial fibrillation   # a comment\n    SR:\n      prompts: [sinus rhythm]\n";
    static const char reworded[] = "version: 1\ngroups:\n  rhythm:\n    AFIB: {prompts: [atrial fibrillation.]}\n"
                                   "    SR: {prompts: [sinus rhythm]}\n";
    static const char moved[] = "version: 1\ngroups:\n  rhythm:\n    AFIB: {prompts: [atrial fibrillation, sinus rhythm]}\n"
                                "    SR: {prompts: [x]}\n";
    const char *texts[] = {a, same, reworded, moved};
    char fp[4][17];
    mets_err err;
    for (int i = 0; i < 4; i++) {
        mets_labels *l = mets_labels_parse(texts[i], strlen(texts[i]), "l.yaml", &err);
        CHECK(l && mets_labels_fingerprint(l, fp[i]) == 0, "%d: %s", i, err.msg);
        CHECK(strlen(fp[i]) == 16 && strspn(fp[i], "0123456789abcdef") == 16, "%s", fp[i]);
        mets_labels_free(l);
    }
    CHECK(!strcmp(fp[0], fp[1]), "layout and comments changed the fingerprint");
    CHECK(strcmp(fp[0], fp[2]) && strcmp(fp[0], fp[3]) && strcmp(fp[2], fp[3]), "a prompt change kept it");
    char abc[17];
    mets_digest *d = mets_digest_new();
    mets_digest_add(d, "ab", 2), mets_digest_add(d, "c", 1);
    mets_digest_finish(d, abc);
    CHECK(!strcmp(abc, "ba7816bf8f01cfea"), "SHA-256 of abc: %s", abc); /* FIPS 180-2, appendix B.1 */
}

int main(int argc, char **argv)
{
    minilm_path = mets_test_model_arg(argc, argv);
    RUN(shipped_labels_load);
    RUN(bad_files_fail_with_line_column_and_expectation);
    RUN(prompt_bank_softmax_is_per_group);
    RUN(fingerprint_follows_the_prompts);
    return mets_test_summary();
}
