/* How fast the ECG encoder runs, single-threaded: windows per second at batch 1, 8, 32 and 128, the
 * effective GFLOPS next to this machine's sgemm peak measured in the same run, and where the time goes
 * layer by layer. Weights are random (speed does not depend on them) unless a model file is given.
 *
 * usage: bench_encoder [MODEL.mets] */
#include <stdio.h>
#include <stdlib.h>

#include "bench_common.h"
#include "ecgenc.h"
#include "ecgnet.h"
#include "mfile.h"

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

static double time_batches(const mets_ecgenc *enc, mets_ecgenc_ctx *ctx, const float *x, int n, float *emb)
{
    mets_err err;
    mets_ecgenc_encode(enc, ctx, x, n, emb, &err); /* warm-up */
    int calls = 0;
    double t0 = mets_bench_now(), dt;
    do {
        mets_ecgenc_encode(enc, ctx, x, n, emb, &err);
        calls++;
    } while ((dt = mets_bench_now() - t0) < 1.5);
    return dt / calls;
}

/* Each convolution alone at batch n, as the encoder runs it. */
static void layer_breakdown(const mets_ecgenc_arch *a, int n)
{
    mets_ecgenc_conv convs[64];
    int nconv = mets_ecgenc_convs(a, convs, 64);
    double total = 0, t[64];
    for (int i = 0; i < nconv; i++) {
        const mets_ecgenc_conv *c = &convs[i];
        size_t nx = (size_t)n * c->shape.cin * c->in_len, ny = (size_t)n * c->shape.cout * c->out_len;
        size_t nw = (size_t)c->shape.cout * c->shape.cin * c->shape.k, nwork = mets_conv1d_work_floats(&c->shape, c->in_len);
        float *x = calloc(nx, 4), *y = malloc(ny * 4), *w = calloc(nw, 4), *b = calloc(c->shape.cout, 4);
        float *work = malloc((nwork + 1) * 4);
        int reps = 0;
        double t0 = mets_bench_now();
        do {
            mets_conv1d(&c->shape, w, b, x, n, c->in_len, y, work);
            reps++;
        } while (mets_bench_now() - t0 < 0.2);
        t[i] = (mets_bench_now() - t0) / reps;
        total += t[i];
        free(x), free(y), free(w), free(b), free(work);
    }
    printf("\nper-layer time at batch %d (convolutions only, %.2f ms in all):\n", n, total * 1e3);
    printf("%-22s %16s %8s %9s %7s\n", "layer", "cin>cout k/s", "length", "ms", "share");
    for (int i = 0; i < nconv; i++) {
        const mets_ecgenc_conv *c = &convs[i];
        char shape[32];
        snprintf(shape, sizeof shape, "%d>%d %d/%d", c->shape.cin, c->shape.cout, c->shape.k, c->shape.stride);
        printf("%-22s %16s %8d %9.3f %6.1f%%\n", c->name, shape, c->out_len, t[i] * 1e3, 100 * t[i] / total);
    }
}

int main(int argc, char **argv)
{
    mets_err err;
    mets_blas_init();
    mets_ecgenc *enc = open_model(argc > 1 ? argv[1] : NULL, &err);
    if (!enc) {
        fprintf(stderr, "bench_encoder: %s\n", err.msg);
        return 1;
    }
    const mets_ecgenc_arch *a = mets_ecgenc_get_arch(enc);
    double flops = mets_ecgenc_flops(a), peak = mets_bench_sgemm_gflops(1024);
    static const int batches[] = {1, 8, 32, 128};
    size_t in_size = (size_t)24 * a->samples;
    float *x = malloc(128 * in_size * sizeof *x), *emb = malloc((size_t)128 * a->embed_dim * sizeof *emb);
    for (size_t i = 0; i < 128 * in_size; i++)
        x[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
    printf("ECG encoder, 1 thread: %.1f MFLOP per window; sgemm peak 1024^3 in this run: %.1f GFLOPS\n", flops * 1e-6,
           peak);
    printf("%7s %12s %12s %9s %8s\n", "batch", "windows/s", "ms/window", "GFLOPS", "of peak");
    for (size_t i = 0; i < sizeof batches / sizeof batches[0]; i++) {
        int n = batches[i];
        mets_ecgenc_ctx *ctx = mets_ecgenc_ctx_new(enc, n, &err);
        double dt = time_batches(enc, ctx, x, n, emb), gf = flops * n / dt * 1e-9;
        printf("%7d %12.1f %12.3f %9.1f %7.0f%%\n", n, n / dt, dt / n * 1e3, gf, 100 * gf / peak);
        mets_ecgenc_ctx_free(ctx);
    }
    layer_breakdown(a, 32);
    printf("peak RSS: %.1f MiB\n", mets_bench_peak_rss_mib());
    free(x), free(emb);
    mets_ecgenc_free(enc);
    return 0;
}
