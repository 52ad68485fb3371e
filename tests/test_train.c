/* The trainer (train/trainer.c): on a tiny synthetic task (windows of three kinds of rhythm, each with its
 * own "report" embedding) and on real windows cut from the committed WFDB fixtures with their generated
 * reports embedded by the real language model, training must reduce the contrastive loss; resuming
 * from a checkpoint must continue exactly where an uninterrupted run would be.
 *
 * usage: test_train MINILM.mets */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "mfile.h"
#include "streams.h"
#include "textenc.h"
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

static const char *minilm_path;

/* 2 s windows every 0.5 s of three fixture excerpts (ventricular flutter, atrial fibrillation, noise). */
static void training_on_fixture_records_reduces_the_loss(void)
{
    mets_err err;
    mets_streams_opts so = mets_streams_default_opts(100, 200);
    so.hop_s = 0.5;
    mets_streams_set s;
    char *names[3] = {"wfdb/vfdb_418", "wfdb/mitdb_201_af", "wfdb/mitdb_201_noise"};
    CHECK(mets_streams_load("tests/fixtures", names, 3, &so, &s, &err) == 0, "%s", err.msg);
    mets_textenc *te = mets_textenc_open(minilm_path, &err);
    mets_textenc_ctx *ctx = te ? mets_textenc_ctx_new(te, &err) : NULL;
    CHECK(ctx != NULL, "%s", err.msg);
    if (!ctx || s.data.n < 40)
        goto out;
    s.data.text_dim = METS_TEXTENC_DIM;
    s.data.text_emb = malloc((size_t)s.data.ntexts * METS_TEXTENC_DIM * sizeof(float));
    CHECK(mets_textenc_embed(te, ctx, (const char *const *)s.texts, s.data.ntexts, s.data.text_emb, &err) == 0);
    mets_ecgenc_arch a = {.rate_hz = 100, .samples = 200, .stem_channels = 8, .kernel = 5, .stages = 2,
                          .channels = {8, 16}, .blocks = {1, 1}, .text_dim = METS_TEXTENC_DIM, .embed_dim = 16};
    mets_train_opts o = mets_train_default_opts();
    o.batch = 16, o.epochs = 1, o.quiet = 1;
    mets_ecgnet *net = mets_ecgnet_new(&a, 3, &err);
    double first, last;
    CHECK(mets_train_run(net, &s.data, &o, &first, &err) == 0, "%s", err.msg);
    o.epochs = 30, o.seed = 4;
    CHECK(mets_train_run(net, &s.data, &o, &last, &err) == 0, "%s", err.msg);
    printf("%d fixture windows, %d distinct reports: loss %.3f after 1 epoch, %.3f after 30 more\n", s.data.n,
           s.data.ntexts, first, last);
    CHECK(last < 0.8 * first, "loss went from %.3f to %.3f", first, last);
    mets_ecgnet_free(net);
out:
    mets_textenc_ctx_free(ctx);
    mets_textenc_free(te);
    mets_streams_free(&s);
}

/* Recorded noise is added at the SNR drawn, measured as NSTDB does (peak-to-peak squared over 8 against the
 * noise's mean square), only on the leads shown, and a window below drown_db takes the noise text. */
static void noise_is_mixed_at_the_drawn_snr(void)
{
    enum { S = 1000, LEN = 5000 };
    float *noise = malloc(2 * LEN * sizeof *noise), *in = calloc(24 * S, sizeof *in);
    for (int i = 0; i < 2 * LEN; i++)
        noise[i] = mets_test_uniform(-1, 1);
    for (int t = 0; t < S; t++) /* lead II shown, a 2 mV peak-to-peak sine; lead I hidden */
        in[1 * S + t] = (float)sin(2 * M_PI * t / 100.0), in[(12 + 1) * S + t] = 1;
    float *clean = malloc(24 * S * sizeof *clean);
    memcpy(clean, in, 24 * S * sizeof *in);
    for (double snr = -6; snr <= 24; snr += 6) {
        mets_train_noise nz = {.sig = noise, .nsig = 2, .n = LEN, .p = 1, .snr_lo_db = snr, .snr_hi_db = snr,
                               .drown_db = 9, .text = 7};
        mets_rng rng;
        mets_rng_seed(&rng, 3);
        memcpy(in, clean, 24 * S * sizeof *in);
        int drowned = mets_train_add_noise(&nz, S, &rng, in);
        double ms = 0, hidden = 0;
        for (int t = 0; t < S; t++) {
            double d = in[S + t] - clean[S + t];
            ms += d * d / S, hidden += fabs(in[t]);
        }
        CHECK_NEAR(10 * log10((2.0 * 2 / 8) / ms), snr, 1e-3);
        CHECK(drowned == (snr < 9), "SNR %g: drowned %d", snr, drowned);
        CHECK(hidden == 0, "noise reached a hidden lead");
    }
    mets_train_noise never = {.sig = noise, .nsig = 2, .n = LEN, .p = 0};
    mets_rng rng;
    mets_rng_seed(&rng, 3);
    memcpy(in, clean, 24 * S * sizeof *in);
    CHECK(mets_train_add_noise(&never, S, &rng, in) == 0 && !memcmp(in, clean, 24 * S * sizeof *in), "p = 0");
    free(noise), free(in), free(clean);
}

int main(int argc, char **argv)
{
    minilm_path = mets_test_model_arg(argc, argv);
    mets_blas_init();
    RUN(training_reduces_the_contrastive_loss);
    RUN(resume_continues_exactly_where_training_stopped);
    RUN(training_on_fixture_records_reduces_the_loss);
    RUN(noise_is_mixed_at_the_drawn_snr);
    return mets_test_summary();
}
