/* How fast the ECG encoder runs: windows per second at batch 1, 8, 32 and 128 on one thread, the
 * effective GFLOPS next to this machine's sgemm peak measured in the same run, and where the time goes
 * layer by layer (mets_ecgenc_encode_timed, in CPU time of the encoding thread). Weights are
 * random (speed does not depend on them) unless a model file is given.
 *
 * --tsv prints one line "batch threads windows/s" for one batch and thread count instead, for
 * bench/onnx_export.py's side-by-side table: with T threads, T workers each encode their own batches
 * through their own context, as metsd's workers do.
 *
 * --cpu times everything (that line, the table and the sgemm peak) in CPU time of the encoding thread
 * instead of wall time, so that other jobs on a shared machine do not count (bench/onnx_export.py --cpu).
 *
 * usage: bench_encoder [--tsv --batch N --threads T --seconds S --cpu] [MODEL.mets] */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_common.h"
#include "clock.h"
#include "ecgenc.h"
#include "ecgnet.h"
#include "mfile.h"

#define MAX_BATCH 128
#define MAX_THREADS 16

static mets_ecgenc *open_model(const char *path, mets_err *err)
{
    if (path)
        return mets_ecgenc_open(path, err);
    mets_ecgenc_arch a = mets_ecgenc_default_arch();
    mets_ecgnet *net = mets_ecgnet_new(&a, 1, err);
    mets_mfile_writer *w = mets_mfile_writer_new();
    char tmp[] = "/tmp/mets-bench-encoder-XXXXXX";
    int fd = mkstemp(tmp);
    mets_ecgenc *enc = NULL;
    if (net && w && fd >= 0 && !mets_ecgnet_export(net, w, METS_DT_F32) && !mets_mfile_writer_write(w, tmp, err))
        enc = mets_ecgenc_open(tmp, err);
    if (fd >= 0)
        remove(tmp);
    mets_mfile_writer_free(w);
    mets_ecgnet_free(net);
    return enc;
}

static int cpu_time; /* --cpu */

/* Wall seconds, or with --cpu CPU seconds of the calling thread. */
static double now(void)
{
    return cpu_time ? mets_thread_cpu_s() : mets_monotonic_s();
}

/* Seconds per call of encoding n windows, over at least `seconds` after a warm-up call. */
static double time_batches(const mets_ecgenc *enc, mets_ecgenc_ctx *ctx, const float *x, int n, float *emb,
                           double seconds)
{
    mets_err err;
    mets_ecgenc_encode(enc, ctx, x, n, emb, &err);
    int calls = 0;
    double t0 = now(), dt;
    do {
        mets_ecgenc_encode(enc, ctx, x, n, emb, &err);
        calls++;
    } while ((dt = now() - t0) < seconds);
    return dt / calls;
}

typedef struct worker {
    const mets_ecgenc *enc;
    const float *x;
    int batch;
    double seconds, rate; /* windows/s of this worker */
    pthread_barrier_t *start;
} worker;

static void *worker_run(void *p)
{
    worker *w = p;
    mets_err err;
    mets_ecgenc_ctx *ctx = mets_ecgenc_ctx_new(w->enc, w->batch, &err);
    float *emb = malloc((size_t)w->batch * mets_ecgenc_dim(w->enc) * sizeof *emb);
    mets_ecgenc_encode(w->enc, ctx, w->x, w->batch, emb, &err);
    pthread_barrier_wait(w->start);
    w->rate = w->batch / time_batches(w->enc, ctx, w->x, w->batch, emb, w->seconds);
    free(emb);
    mets_ecgenc_ctx_free(ctx);
    return NULL;
}

/* Windows/s of `threads` workers encoding batches of n at the same time. */
static double run_workers(const mets_ecgenc *enc, const float *x, int n, int threads, double seconds)
{
    pthread_t tid[MAX_THREADS];
    worker w[MAX_THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)threads);
    for (int i = 0; i < threads; i++) {
        w[i] = (worker){.enc = enc, .x = x, .batch = n, .seconds = seconds, .start = &start};
        pthread_create(&tid[i], NULL, worker_run, &w[i]);
    }
    double total = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        total += w[i].rate;
    }
    pthread_barrier_destroy(&start);
    return total;
}

/* Per-step time per window at batch 1 and 32, from the encoder's own timing table. */
static void layer_breakdown(const mets_ecgenc *enc, const float *x)
{
    static const int batches[2] = {1, 32};
    mets_ecgenc_times t[2];
    mets_err err;
    float *emb = malloc((size_t)32 * mets_ecgenc_dim(enc) * sizeof *emb);
    for (int b = 0; b < 2; b++) {
        mets_ecgenc_ctx *ctx = mets_ecgenc_ctx_new(enc, batches[b], &err);
        mets_ecgenc_encode(enc, ctx, x, batches[b], emb, &err);
        memset(&t[b], 0, sizeof t[b]);
        int windows = 0;
        double t0 = mets_monotonic_s();
        do {
            mets_ecgenc_encode_timed(enc, ctx, x, batches[b], emb, &t[b], &err);
            windows += batches[b];
        } while (mets_monotonic_s() - t0 < 1.5);
        for (int i = 0; i < METS_ECGENC_MAX_CONVS; i++)
            t[b].conv[i] /= windows;
        t[b].pool /= windows, t[b].head /= windows;
        mets_ecgenc_ctx_free(ctx);
    }
    free(emb);
    const mets_ecgenc_arch *a = mets_ecgenc_get_arch(enc);
    mets_ecgenc_conv convs[METS_ECGENC_MAX_CONVS];
    int nconv = mets_ecgenc_convs(a, convs, METS_ECGENC_MAX_CONVS);
    double total[2] = {0, 0}, conv_total[2] = {0, 0};
    for (int b = 0; b < 2; b++) {
        for (int i = 0; i < nconv; i++)
            conv_total[b] += t[b].conv[i];
        total[b] = conv_total[b] + t[b].pool + t[b].head;
    }
    printf("\nper-layer CPU time per window, 1 thread (mets_ecgenc_encode_timed; bias, residual add and ReLU are "
           "fused into the convolutions):\n");
    printf("%-22s %13s %6s %8s %8s %7s %7s %7s\n", "layer", "cin>cout k/s", "length", "ms b=1", "ms b=32",
           "share", "GF b=1", "GF b=32");
    for (int i = 0; i < nconv; i++) {
        const mets_ecgenc_conv *c = &convs[i];
        char shape[32];
        snprintf(shape, sizeof shape, "%d>%d %d/%d", c->shape.cin, c->shape.cout, c->shape.k, c->shape.stride);
        double mflop = 2e-6 * c->shape.cout * c->shape.cin * c->shape.k * c->out_len;
        printf("%-22s %13s %6d %8.3f %8.3f %6.1f%% %7.1f %7.1f\n", c->name, shape, c->out_len, t[0].conv[i] * 1e3,
               t[1].conv[i] * 1e3, 100 * t[1].conv[i] / total[1], mflop * 1e-3 / t[0].conv[i],
               mflop * 1e-3 / t[1].conv[i]);
    }
    struct {
        const char *name;
        double t0, t1;
    } rows[] = {{"all convolutions", conv_total[0], conv_total[1]},
                {"max pool + avg pool", t[0].pool, t[1].pool},
                {"ECG head + L2 norm", t[0].head, t[1].head},
                {"total", total[0], total[1]}};
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++)
        printf("%-22s %13s %6s %8.3f %8.3f %6.1f%%\n", rows[r].name, "", "", rows[r].t0 * 1e3, rows[r].t1 * 1e3,
               100 * rows[r].t1 / total[1]);
    double flops = mets_ecgenc_flops(a);
    printf("convolutions: %.1f GFLOPS at batch 1, %.1f at batch 32; whole encoder %.1f and %.1f\n",
           (flops - 2.0 * a->embed_dim * a->channels[a->stages - 1]) * 1e-9 / conv_total[0],
           (flops - 2.0 * a->embed_dim * a->channels[a->stages - 1]) * 1e-9 / conv_total[1], flops * 1e-9 / total[0],
           flops * 1e-9 / total[1]);
}

static void fill_windows(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"tsv", no_argument, NULL, 't'},
                                         {"batch", required_argument, NULL, 'b'},
                                         {"threads", required_argument, NULL, 'j'},
                                         {"seconds", required_argument, NULL, 's'},
                                         {"cpu", no_argument, NULL, 'c'},
                                         {NULL, 0, NULL, 0}};
    int tsv = 0, tsv_batch = 1, threads = 1, c;
    double seconds = 1.5;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 't')
            tsv = 1;
        else if (c == 'b')
            tsv_batch = atoi(optarg);
        else if (c == 'j')
            threads = atoi(optarg);
        else if (c == 's')
            seconds = atof(optarg);
        else if (c == 'c')
            cpu_time = 1;
        else
            return 2;
    }
    if (tsv_batch < 1 || tsv_batch > MAX_BATCH || threads < 1 || threads > MAX_THREADS || seconds <= 0) {
        fprintf(stderr, "bench_encoder: --batch 1..%d, --threads 1..%d, --seconds > 0\n", MAX_BATCH, MAX_THREADS);
        return 2;
    }
    mets_err err;
    mets_blas_init();
    mets_ecgenc *enc = open_model(optind < argc ? argv[optind] : NULL, &err);
    if (!enc) {
        fprintf(stderr, "bench_encoder: %s\n", err.msg);
        return 1;
    }
    const mets_ecgenc_arch *a = mets_ecgenc_get_arch(enc);
    size_t in_size = (size_t)METS_ECG_IN_CHANNELS * a->samples;
    float *x = malloc(MAX_BATCH * in_size * sizeof *x), *emb = malloc((size_t)MAX_BATCH * a->embed_dim * sizeof *emb);
    fill_windows(x, MAX_BATCH * in_size);
    if (tsv) {
        printf("%d %d %.2f\n", tsv_batch, threads, run_workers(enc, x, tsv_batch, threads, seconds));
        free(x), free(emb);
        mets_ecgenc_free(enc);
        return 0;
    }
    double flops = mets_ecgenc_flops(a), peak = mets_bench_sgemm_gflops(1024, now);
    static const int batches[] = {1, 8, 32, 128};
    printf("ECG encoder, 1 thread: %.1f MFLOP per window; sgemm peak 1024^3 in this run: %.1f GFLOPS (%s time)\n",
           flops * 1e-6, peak, cpu_time ? "CPU" : "wall");
    printf("%7s %12s %12s %9s %8s\n", "batch", "windows/s", "ms/window", "GFLOPS", "of peak");
    for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++) {
        int n = batches[i];
        mets_ecgenc_ctx *ctx = mets_ecgenc_ctx_new(enc, n, &err);
        double dt = 1e30;
        for (int r = 0; r < 3; r++) { /* the best third: a round another job slowed down does not count */
            double t = time_batches(enc, ctx, x, n, emb, seconds / 3);
            dt = t < dt ? t : dt;
        }
        double gf = flops * n / dt * 1e-9;
        printf("%7d %12.1f %12.3f %9.1f %7.0f%%\n", n, n / dt, dt / n * 1e3, gf, 100 * gf / peak);
        mets_ecgenc_ctx_free(ctx);
    }
    layer_breakdown(enc, x);
    printf("peak RSS: %.1f MiB\n", mets_bench_peak_rss_mib());
    free(x), free(emb);
    mets_ecgenc_free(enc);
    return 0;
}
