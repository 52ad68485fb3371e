/* How fast METS pre-training runs: one real epoch of mets_train_run (augmentation, forward, backward,
 * AdamW; the default batch of 128) over synthetic windows, on 1 and 2 data-parallel threads, and the epoch
 * time that rate gives for the shipped model's data set. Speed does not depend on the signal's values.
 *
 * usage: bench_train [WINDOWS [EPOCH_WINDOWS]]   (defaults 1024 and 15090, docs/performance.md) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_common.h"
#include "clock.h"
#include "ops.h"
#include "rng.h"
#include "trainer.h"

#define TEXTS 64

/* n windows of 12 leads (a 1.2 Hz pseudo-beat plus noise), lead subsets as the data sets have them. */
static mets_train_data synthetic(int n, int samples, int text_dim)
{
    mets_rng rng;
    mets_rng_seed(&rng, 7);
    mets_train_data d = {.n = n, .samples = samples, .ntexts = TEXTS, .text_dim = text_dim};
    d.leads = malloc((size_t)n * 12 * samples * sizeof *d.leads);
    d.present = malloc((size_t)n * sizeof *d.present);
    d.text = malloc((size_t)n * sizeof *d.text);
    d.text_emb = malloc((size_t)TEXTS * text_dim * sizeof *d.text_emb);
    for (size_t i = 0; i < (size_t)n * 12 * samples; i++)
        d.leads[i] = (float)(sin(2 * M_PI * 1.2 * (double)(i % samples) / 100.0) + 0.1 * mets_rng_normal(&rng));
    for (int w = 0; w < n; w++)
        d.present[w] = w % 3 ? 0xFFF : 0x2, d.text[w] = (int)mets_rng_below(&rng, TEXTS);
    for (int i = 0; i < TEXTS * text_dim; i++)
        d.text_emb[i] = (float)mets_rng_normal(&rng);
    return d;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 1024, epoch_windows = argc > 2 ? atoi(argv[2]) : 15090;
    mets_blas_init();
    mets_ecgenc_arch a = mets_ecgenc_default_arch();
    mets_train_data d = synthetic(n, a.samples, a.text_dim);
    mets_train_opts o = mets_train_default_opts();
    o.epochs = 1, o.quiet = 1;
    if (n < o.batch) {
        fprintf(stderr, "bench_train: need at least one batch of %d windows\n", o.batch);
        return 2;
    }
    int steps = n / o.batch;
    printf("training, batch %d, one epoch of %d synthetic windows (%d steps); epoch time for %d windows\n", o.batch,
           steps * o.batch, steps, epoch_windows);
    printf("%7s %11s %11s %9s %12s\n", "threads", "windows/s", "ms/step", "GFLOPS", "s/epoch");
    for (int threads = 1; threads <= 2; threads++) {
        mets_err err;
        mets_ecgnet *net = mets_ecgnet_new(&a, 1, &err);
        o.threads = threads;
        double t0 = mets_monotonic_s();
        int rc = net ? mets_train_run(net, &d, &o, NULL, &err) : -1;
        double dt = mets_monotonic_s() - t0, rate = steps * o.batch / dt;
        mets_ecgnet_free(net);
        if (rc) {
            fprintf(stderr, "bench_train: %s\n", err.msg);
            return 1;
        }
        /* forward + backward is about 3x the forward's multiply-adds */
        printf("%7d %11.1f %11.1f %9.1f %12.0f\n", threads, rate, dt / steps * 1e3,
               3 * mets_ecgenc_flops(&a) * rate * 1e-9, epoch_windows / rate);
    }
    free(d.leads), free(d.present), free(d.text), free(d.text_emb);
    return 0;
}
