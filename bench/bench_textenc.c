/* How fast the frozen language model embeds label prompts, single-threaded, next to this machine's
 * sgemm peak measured in the same run.
 *
 * usage: bench_textenc [MODEL.mets] */
#include <stdio.h>
#include <stdlib.h>

#include "bench_common.h"
#include "clock.h"
#include "ops.h"
#include "textenc.h"

/* Prompts of the length users write: 3 to 20 tokens. */
static const char *const prompts[] = {
    "atrial fibrillation",
    "an ECG showing atrial fibrillation with an irregularly irregular rhythm and no P waves",
    "normal sinus rhythm",
    "sinus bradycardia",
    "sinus tachycardia",
    "ventricular tachycardia",
    "ventricular fibrillation",
    "atrial flutter",
    "complete right bundle branch block",
    "left bundle branch block",
    "first degree AV block",
    "ST elevation myocardial infarction",
    "ST depression suggesting ischaemia",
    "left ventricular hypertrophy",
    "paced rhythm",
    "premature ventricular contractions",
    "supraventricular tachycardia",
    "sinus arrhythmia",
    "ventricular bigeminy",
    "noise or lead off",
};
#define NPROMPTS (int)(sizeof prompts / sizeof prompts[0])

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : METS_DEFAULT_TEXT_MODEL;
    mets_err err;
    mets_blas_init();
    mets_textenc *te = mets_textenc_open(path, &err);
    mets_textenc_ctx *ctx = te ? mets_textenc_ctx_new(te, &err) : NULL;
    if (!ctx) {
        fprintf(stderr, "bench_textenc: %s\n", err.msg);
        return 1;
    }
    double peak = mets_bench_sgemm_gflops(1024, mets_monotonic_s);
    static const int sizes[] = {1, 16, 256};
    const char **batch = malloc(256 * sizeof *batch);
    float *out = malloc(256 * METS_TEXTENC_DIM * sizeof *out);
    int32_t ids[256];
    printf("text encoder (all-MiniLM-L6-v2), 1 thread; sgemm peak 1024^3 in this run: %.1f GFLOPS\n", peak);
    printf("%8s %10s %12s %12s %9s %8s\n", "prompts", "tokens", "prompts/s", "ms/call", "GFLOPS", "of peak");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        int n = sizes[s], tokens = 0;
        double flops = 0;
        for (int i = 0; i < n; i++) {
            batch[i] = prompts[i % NPROMPTS];
            int t = mets_tokenizer_encode(mets_textenc_tokenizer(te), batch[i], ids, 256);
            tokens += t;
            flops += mets_textenc_flops(te, t);
        }
        mets_textenc_embed(te, ctx, batch, n, out, &err); /* warm-up: page in the weights */
        int calls = 0;
        double t0 = mets_monotonic_s(), dt;
        do {
            mets_textenc_embed(te, ctx, batch, n, out, &err);
            calls++;
        } while ((dt = mets_monotonic_s() - t0) < 2.0);
        double gflops = flops * calls / dt * 1e-9;
        printf("%8d %10d %12.1f %12.3f %9.1f %7.0f%%\n", n, tokens, n * calls / dt, dt / calls * 1e3, gflops,
               100.0 * gflops / peak);
    }
    printf("peak RSS: %.1f MiB (the model file is mmap'd; pages touched count)\n", mets_bench_peak_rss_mib());
    free(batch), free(out);
    mets_textenc_ctx_free(ctx);
    mets_textenc_free(te);
    return 0;
}
