/* The trainer (train/trainer.c) on a tiny synthetic task: windows of three kinds of rhythm, each with
 * its own "report" embedding. Training must reduce the contrastive loss, and resuming from a
 * checkpoint must continue exactly where an uninterrupted run would be. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "mfile.h"
#include "trainer.h"

enum { WINDOWS = 48, SAMPLES = 128, KINDS = 3, TEXT_DIM = 8 };

static mets_ecgenc_arch tiny_arch(void)
{
    mets_ecgenc_arch a = {.rate_hz = 100, .samples = SAMPLES, .stem_channels = 8, .kernel = 5, .stages = 2,
                          .channels = {8, 12}, .blocks = {1, 1}, .text_dim = TEXT_DIM, .embed_dim = 6};
    return a;
}

static mets_train_data make_data(void)
{
    mets_train_data d = {.n = WINDOWS, .samples = SAMPLES, .ntexts = KINDS, .text_dim = TEXT_DIM};
    d.leads = calloc((size_t)WINDOWS * 12 * SAMPLES, sizeof(float));
    d.present = malloc(WINDOWS * sizeof *d.present);
    d.text = malloc(WINDOWS * sizeof *d.text);
    d.text_emb = malloc(KINDS * TEXT_DIM * sizeof(float));
    for (int k = 0; k < KINDS * TEXT_DIM; k++)
        d.text_emb[k] = mets_test_uniform(-1, 1);
    for (int w = 0; w < WINDOWS; w++) {
        int kind = w % KINDS;
        double rate = (kind + 1) * 1.3, phase = mets_test_uniform(0, 6.28f);
        d.present[w] = 0xFFF, d.text[w] = kind;
        for (int l = 0; l < 12; l++)
            for (int t = 0; t < SAMPLES; t++)
                d.leads[((size_t)w * 12 + l) * SAMPLES + t] =
                    (float)((l + 1) * 0.1 * sin(2 * M_PI * rate * t / 100.0 + phase) + 0.05 * mets_test_uniform(-1, 1));
    }
    return d;
}

static void free_data(mets_train_data *d)
{
    free(d->leads), free(d->present), free(d->text), free(d->text_emb);
}

static void training_reduces_the_contrastive_loss(void)
{
    mets_train_data d = make_data();
    mets_ecgenc_arch a = tiny_arch();
    mets_err err;
    mets_train_opts o = mets_train_default_opts();
    o.batch = 12, o.epochs = 1, o.quiet = 1, o.augment = 0;
    mets_ecgnet *net = mets_ecgnet_new(&a, 5, &err);
    double first, last;
    CHECK(mets_train_run(net, &d, &o, &first, &err) == 0, "%s", err.msg);
    o.epochs = 40, o.seed = 2;
    CHECK(mets_train_run(net, &d, &o, &last, &err) == 0, "%s", err.msg);
    /* Windows of one kind share a report, so about 4 of 12 are positives: the floor is near log 4. */
    printf("loss after 1 epoch %.3f, after 40 more %.3f (floor about log 4 = %.3f)\n", first, last, log(4.0));
    CHECK(last < 0.6 * first, "loss went from %.3f to %.3f", first, last);
    mets_ecgnet_free(net);
    free_data(&d);
}

static int stop_after_two(void *ctx, int epoch, double loss, mets_ecgnet *net)
{
    return epoch == 1; /* epochs count from 0 */
}

static void resume_continues_exactly_where_training_stopped(void)
{
    mets_train_data d = make_data();
    mets_ecgenc_arch a = tiny_arch();
    mets_err err;
    char dir[] = "/tmp/mets-test-train-XXXXXX", ckpt[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(ckpt, sizeof ckpt, "%s/ckpt.mets", dir);
    mets_train_opts o = mets_train_default_opts();
    o.batch = 12, o.epochs = 4, o.quiet = 1, o.threads = 2;
    mets_ecgnet *straight = mets_ecgnet_new(&a, 9, &err), *resumed = mets_ecgnet_new(&a, 9, &err);
    CHECK(mets_train_run(straight, &d, &o, NULL, &err) == 0, "%s", err.msg);
    o.checkpoint = ckpt, o.resume = 1, o.on_epoch = stop_after_two;
    CHECK(mets_train_run(resumed, &d, &o, NULL, &err) == 0, "%s", err.msg); /* stops after 2 of 4 */
    mets_ecgnet_free(resumed);
    resumed = mets_ecgnet_new(&a, 1234, &err); /* a new process: other initial weights, then the checkpoint */
    o.on_epoch = NULL;
    CHECK(mets_train_run(resumed, &d, &o, NULL, &err) == 0, "%s", err.msg);
    for (size_t p = 0; p < mets_ecgnet_param_count(straight); p++) {
        const mets_ecgnet_param *x = mets_ecgnet_param_at(straight, p), *y = mets_ecgnet_param_at(resumed, p);
        CHECK(memcmp(x->w, y->w, x->n * sizeof(float)) == 0, "%s differs after resume", x->name);
    }
    unlink(ckpt);
    rmdir(dir);
    mets_ecgnet_free(straight), mets_ecgnet_free(resumed);
    free_data(&d);
}

int main(void)
{
    mets_blas_init();
    RUN(training_reduces_the_contrastive_loss);
    RUN(resume_continues_exactly_where_training_stopped);
    return mets_test_summary();
}
