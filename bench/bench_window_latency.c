/* How long the window stage holds a window back, per source rate: a 12-lead monitor sends 250 ms frames
 * in real time, and for every window the hold-back is the signal time received when the window comes
 * out minus the window's end. That delay adds to every alert's latency (the goal: alerts within 300 ms of
 * a window closing). Also the stage's CPU per stream, as a share of one core: with clean leads, and with
 * lead V6 flagged lead-off throughout (conditions take more resampling work).
 *
 * Per look-ahead (window.lookahead_s): the exact one, and the shorter ones that release windows sooner
 * (bench_lookahead measures what they change in the scores).
 *
 * usage: bench_window_latency [SECONDS [LOOKAHEAD_S...]]   (default 180 s of signal per rate; look-aheads
 *        exact, 0.1 and 0 s; a negative one is the exact) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "window.h"

#define T0_US 1700000000000000LL /* on the hop grid */
enum { MAXWIN = 4096 };

typedef struct latencies {
    double received_s; /* signal time pushed so far */
    double held[MAXWIN];
    int n;
} latencies;

static void on_window(const mets_window *win, void *ctx)
{
    latencies *l = ctx;
    if (l->n < MAXWIN)
        l->held[l->n++] = l->received_s - (double)(win->end_us - T0_US) / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ECG-like test signal: a 1.2 Hz fundamental with harmonics up to ~40 Hz and a baseline offset. */
static float signal_mv(int lead, double t)
{
    double x = 0.3 + 0.05 * lead;
    for (int h = 1; h <= 30; h++)
        x += (0.8 / h) * sin(2 * M_PI * 1.2 * h * t + 0.7 * h + lead);
    return (float)x;
}

/* Streams `seconds` of a 12-lead monitor at `rate` in 250 ms frames; fills l, returns CPU seconds. */
static double run_rate(double rate, double seconds, double lookahead_s, int lead_off, latencies *l)
{
    mets_window_params p = mets_window_default_params();
    p.lookahead_s = lookahead_s;
    mets_err err;
    mets_windower *w = mets_windower_new(&p, &err);
    if (!w) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    mets_frame f;
    memset(&f, 0, sizeof f);
    snprintf(f.stream_id, sizeof f.stream_id, "bed-1");
    f.schema_version = 1, f.rate_hz = rate, f.nleads = METS_NLEADS;
    for (int i = 0; i < METS_NLEADS; i++)
        f.leads[i] = (mets_lead)i, f.gain[i] = 200;
    f.lead_off[METS_LEAD_V6] = (uint8_t)lead_off;
    int64_t nframes = llround(seconds * 4), n = 0;
    f.mv = malloc((size_t)METS_NLEADS * (size_t)ceil(rate / 4 + 1) * sizeof *f.mv);
    l->n = 0;
    double cpu = 0;
    for (int64_t k = 0; k < nframes; k++) {
        int64_t next = llround((double)(k + 1) * rate / 4);
        f.seq = (uint64_t)k, f.nsamples = (int)(next - n);
        f.t0_us = T0_US + llround((double)n * 1e6 / rate);
        for (int i = 0; i < METS_NLEADS; i++)
            for (int j = 0; j < f.nsamples; j++)
                f.mv[(size_t)i * f.nsamples + j] = signal_mv(i, (double)(n + j) / rate);
        n = next;
        l->received_s = (double)n / rate;
        double c0 = cpu_now();
        if (mets_windower_push(w, &f, on_window, l, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            exit(1);
        }
        cpu += cpu_now() - c0;
    }
    free(f.mv);
    mets_windower_free(w);
    return cpu;
}

int main(int argc, char **argv)
{
    static const double rates[] = {50, 100, 125, 250, 257, 360, 500, 1000}; /* 100: the model rate */
    double seconds = argc > 1 ? atof(argv[1]) : 180, look[16] = {-1, 0.1, 0};
    int nlook = 3;
    if (argc > 2)
        for (nlook = 0; nlook < 16 && nlook + 2 < argc; nlook++)
            look[nlook] = atof(argv[nlook + 2]);
    static latencies l;
    mets_window_params p = mets_window_default_params();
    printf("window stage hold-back: 12 leads, 250 ms frames, %g s windows every %g s at %g Hz, %g s of signal\n",
           p.length_s, p.hop_s, p.rate_hz, seconds);
    printf("(received signal time when a window comes out - its end; the first window is skipped: it also\n"
           " waits for max_reorder_frames = %d frames)\n", p.max_reorder_frames);
    printf("%10s %8s %8s %8s %8s %8s %12s %12s\n", "look-ahead", "rate Hz", "windows", "min s", "median s", "max s",
           "CPU % core", "V6 off: CPU");
    for (int a = 0; a < nlook; a++)
        for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
            double cpu_off = run_rate(rates[r], seconds, look[a], 1, &l), cpu = run_rate(rates[r], seconds, look[a], 0, &l);
            int n = l.n - 1;
            double *h = l.held + 1;
            qsort(h, (size_t)n, sizeof *h, cmp_double);
            char la[16];
            snprintf(la, sizeof la, look[a] < 0 ? "exact" : "%g s", look[a]);
            if (n < 1) {
                printf("%10s %8g %8d\n", la, rates[r], l.n);
                continue;
            }
            printf("%10s %8g %8d %8.3f %8.3f %8.3f %12.4f %12.4f\n", la, rates[r], l.n, h[0], h[n / 2], h[n - 1],
                   100 * cpu / seconds, 100 * cpu_off / seconds);
        }
    return 0;
}
