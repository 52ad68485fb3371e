/* The trainable ECG network (train/ecgnet.c): its whole backward pass against finite differences on a
 * tiny architecture, export with batch norm folded against the training forward pass, and checkpoint
 * round trips. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ecgnet.h"
#include "harness.h"
#include "mfile.h"

#define BATCH 3

static mets_ecgenc_arch tiny_arch(void)
{
    mets_ecgenc_arch a = {.rate_hz = 100, .samples = 64, .stem_channels = 4, .kernel = 3, .stages = 2,
                          .channels = {4, 6}, .blocks = {2, 1}, .text_dim = 7, .embed_dim = 5};
    return a;
}

static float *random_input(const mets_ecgenc_arch *a, int n)
{
    size_t count = (size_t)n * METS_ECG_IN_CHANNELS * a->samples;
    float *x = malloc(count * sizeof *x);
    for (size_t i = 0; i < count; i++)
        x[i] = mets_test_uniform(-1, 1);
    return x;
}

typedef struct fd_case {
    mets_ecgnet *net;
    mets_ecgnet_tape *tape;
    const float *x, *r;
    float *emb;
} fd_case;

static double loss_of(fd_case *c)
{
    int d = mets_ecgnet_arch(c->net)->embed_dim;
    mets_ecgnet_forward(c->net, c->tape, c->x, BATCH, c->emb);
    double s = 0;
    for (int i = 0; i < BATCH * d; i++)
        s += (double)c->emb[i] * c->r[i];
    return s;
}

static void network_backward_matches_finite_differences(void)
{
    mets_ecgenc_arch a = tiny_arch();
    mets_err err;
    fd_case c = {.net = mets_ecgnet_new(&a, 7, &err)};
    c.tape = mets_ecgnet_tape_new(c.net, BATCH, 1, &err);
    float *x = random_input(&a, BATCH), r[BATCH * 5];
    for (int i = 0; i < BATCH * 5; i++)
        r[i] = mets_test_uniform(-1, 1);
    c.x = x, c.r = r, c.emb = malloc(BATCH * 5 * sizeof(float));
    /* gamma of every conv2 starts at 0, which hides its branch: give every parameter a random value */
    for (size_t p = 0; p < mets_ecgnet_param_count(c.net); p++) {
        mets_ecgnet_param *prm = mets_ecgnet_param_at(c.net, p);
        for (size_t i = 0; i < prm->n; i++)
            prm->w[i] += mets_test_uniform(-0.3f, 0.3f);
    }
    loss_of(&c);
    mets_ecgnet_tape_zero_grad(c.net, c.tape);
    mets_ecgnet_backward(c.net, c.tape, r);
    int checked = 0;
    for (size_t p = 0; p < mets_ecgnet_param_count(c.net); p++) {
        mets_ecgnet_param *prm = mets_ecgnet_param_at(c.net, p);
        if (strstr(prm->name, "head.text") || !strcmp(prm->name, "logit_scale"))
            continue; /* not on the ECG path */
        const float *g = mets_ecgnet_tape_grad(c.tape, p);
        for (int probe = 0; probe < 6; probe++) {
            size_t i = (size_t)mets_test_randint(0, (int)prm->n - 1);
            float keep = prm->w[i], eps = 2e-3f;
            prm->w[i] = keep + eps;
            double up = loss_of(&c);
            prm->w[i] = keep - eps;
            double down = loss_of(&c);
            prm->w[i] = keep;
            double num = (up - down) / (2 * eps);
            CHECK(fabs(num - g[i]) <= 2e-3 + 3e-2 * fabs(num), "%s[%zu]: analytic %.6g, numeric %.6g", prm->name, i,
                  g[i], num);
            checked++;
        }
    }
    CHECK(checked > 60);
    free(x), free(c.emb);
    mets_ecgnet_tape_free(c.tape);
    mets_ecgnet_free(c.net);
}

static char tmpdir[64];

/* Exports with batch norm folded and reads back through the inference encoder. */
static void export_and_encode(const mets_ecgnet *net, mets_dtype dt, const float *x, float *out)
{
    mets_err err;
    char path[128];
    snprintf(path, sizeof path, "%s/ecg.mets", tmpdir);
    mets_mfile_writer *w = mets_mfile_writer_new();
    CHECK(mets_ecgnet_export(net, w, dt) == 0);
    CHECK(mets_mfile_writer_write(w, path, &err) == 0, "%s", err.msg);
    mets_mfile_writer_free(w);
    mets_ecgenc *enc = mets_ecgenc_open(path, &err);
    CHECK(enc != NULL, "%s", err.msg);
    mets_ecgenc_ctx *ctx = enc ? mets_ecgenc_ctx_new(enc, BATCH, &err) : NULL;
    CHECK(ctx && mets_ecgenc_encode(enc, ctx, x, BATCH, out, &err) == 0);
    mets_ecgenc_ctx_free(ctx);
    mets_ecgenc_free(enc);
}

static double min_cosine(const float *a, const float *b)
{
    double worst = 1;
    for (int i = 0; i < BATCH; i++) {
        double dot = 0;
        for (int d = 0; d < 5; d++)
            dot += (double)a[i * 5 + d] * b[i * 5 + d];
        worst = dot < worst ? dot : worst;
    }
    return worst;
}

static void exported_model_matches_training_forward(void)
{
    mets_ecgenc_arch a = tiny_arch();
    mets_err err;
    mets_ecgnet *net = mets_ecgnet_new(&a, 3, &err);
    mets_ecgnet_tape *tape = mets_ecgnet_tape_new(net, BATCH, 1, &err);
    for (size_t p = 0; p < mets_ecgnet_param_count(net); p++) {
        mets_ecgnet_param *prm = mets_ecgnet_param_at(net, p);
        for (size_t i = 0; i < prm->n; i++)
            prm->w[i] += mets_test_uniform(-0.2f, 0.2f);
    }
    /* Repeated forward passes make the running statistics converge to the batch's own. */
    float *x = random_input(&a, BATCH), train[BATCH * 5], f32[BATCH * 5], f16[BATCH * 5];
    for (int it = 0; it < 300; it++)
        mets_ecgnet_forward(net, tape, x, BATCH, train);
    export_and_encode(net, METS_DT_F32, x, f32);
    export_and_encode(net, METS_DT_F16, x, f16);
    CHECK(min_cosine(train, f32) > 0.995, "cosine %.5f between training and exported model", min_cosine(train, f32));
    CHECK(min_cosine(f32, f16) > 0.9995, "cosine %.6f between f32 and f16 exports", min_cosine(f32, f16));
    free(x);
    mets_ecgnet_tape_free(tape);
    mets_ecgnet_free(net);
}

static void checkpoint_round_trip_restores_the_network(void)
{
    mets_ecgenc_arch a = tiny_arch();
    mets_err err;
    mets_ecgnet *net = mets_ecgnet_new(&a, 11, &err), *other = mets_ecgnet_new(&a, 12, &err);
    mets_ecgnet_tape *tape = mets_ecgnet_tape_new(net, BATCH, 1, &err);
    float *x = random_input(&a, BATCH), e1[BATCH * 5], e2[BATCH * 5];
    mets_ecgnet_forward(net, tape, x, BATCH, e1);
    char path[128];
    snprintf(path, sizeof path, "%s/ckpt.mets", tmpdir);
    mets_mfile_writer *w = mets_mfile_writer_new();
    CHECK(mets_ecgnet_save_state(net, w) == 0);
    CHECK(mets_mfile_writer_write(w, path, &err) == 0, "%s", err.msg);
    mets_mfile_writer_free(w);
    mets_mfile *mf = mets_mfile_open(path, &err);
    CHECK(mf && mets_ecgnet_load_state(other, mf, &err) == 0, "%s", err.msg);
    mets_ecgnet_tape *tape2 = mets_ecgnet_tape_new(other, BATCH, 1, &err);
    mets_ecgnet_forward(other, tape2, x, BATCH, e2);
    CHECK(memcmp(e1, e2, sizeof e1) == 0);
    mets_ecgenc_arch b = a;
    b.channels[1] = 8;
    mets_ecgnet *wrong = mets_ecgnet_new(&b, 1, &err);
    CHECK(mets_ecgnet_load_state(wrong, mf, &err) == METS_EFORMAT);
    CHECK(strstr(err.msg, "ckpt.mets") != NULL, "%s", err.msg);
    mets_ecgnet_free(wrong);
    mets_mfile_free(mf);
    free(x);
    mets_ecgnet_tape_free(tape), mets_ecgnet_tape_free(tape2);
    mets_ecgnet_free(net), mets_ecgnet_free(other);
}

static void default_architecture_is_about_100_mflop(void)
{
    mets_ecgenc_arch a = mets_ecgenc_default_arch();
    double f = mets_ecgenc_flops(&a);
    printf("default encoder: %.1f MFLOP per window\n", f * 1e-6);
    CHECK(f > 80e6 && f < 130e6);
}

int main(void)
{
    mets_blas_init();
    snprintf(tmpdir, sizeof tmpdir, "/tmp/mets-test-ecgnet-XXXXXX");
    if (!mkdtemp(tmpdir))
        return 1;
    RUN(network_backward_matches_finite_differences);
    RUN(exported_model_matches_training_forward);
    RUN(checkpoint_round_trip_restores_the_network);
    RUN(default_architecture_is_about_100_mflop);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return mets_test_summary();
}
