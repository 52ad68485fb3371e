/* The shared preprocessing path (ecg/preprocess.c): resampling accuracy against the analytic signal,
 * the baseline filter's response, and the layout of the encoder's input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "preprocess.h"

static void resampling_a_sine_matches_the_analytic_signal(void)
{
    static const double rates[][2] = {{360, 100}, {250, 100}, {300, 100}, {500, 100}, {100, 250}};
    for (size_t r = 0; r < sizeof rates / sizeof rates[0]; r++) {
        double in_rate = rates[r][0], out_rate = rates[r][1], f = 7.3;
        size_t n_in = (size_t)(in_rate * 10), n_out = (size_t)(out_rate * 10);
        float *x = malloc(n_in * sizeof *x), *y = malloc(n_out * sizeof *y);
        for (size_t i = 0; i < n_in; i++)
            x[i] = (float)sin(2 * M_PI * f * i / in_rate);
        mets_err err;
        CHECK(mets_prep_resample(x, n_in, in_rate, out_rate, y, n_out, &err) == (int)n_out, "%s", err.msg);
        double worst = 0;
        for (size_t i = n_out / 10; i < n_out - n_out / 10; i++) /* away from the edges */
            worst = fmax(worst, fabs(y[i] - sin(2 * M_PI * f * i / out_rate)));
        CHECK(worst < 2e-3, "%g -> %g Hz: max error %g", in_rate, out_rate, worst);
        free(x), free(y);
    }
}

static double gain_at(double freq, double rate, int n)
{
    float *x = malloc(n * sizeof *x), *work = malloc(mets_prep_work_floats(n) * sizeof *work);
    for (int i = 0; i < n; i++)
        x[i] = (float)(sin(2 * M_PI * freq * i / rate) + 3.0); /* with an offset the filter must remove */
    mets_prep_highpass(x, n, rate, work);
    double peak = 0;
    for (int i = n / 4; i < 3 * n / 4; i++)
        peak = fmax(peak, fabs(x[i]));
    free(x), free(work);
    return peak;
}

static void highpass_removes_baseline_and_keeps_the_ecg_band(void)
{
    CHECK(gain_at(0.05, 100, 1000) < 0.02, "0.05 Hz wander: gain %g", gain_at(0.05, 100, 1000));
    CHECK(gain_at(0.5, 100, 1000) > 0.45 && gain_at(0.5, 100, 1000) < 0.55); /* -6 dB at the cut-off (filtfilt) */
    for (double f = 2; f < 45; f += 5)
        CHECK(fabs(gain_at(f, 100, 1000) - 1.0) < 0.02, "%g Hz: gain %g", f, gain_at(f, 100, 1000));
}

static void highpass_of_a_constant_is_zero_everywhere(void)
{
    float x[300], work[900];
    for (int i = 0; i < 300; i++)
        x[i] = 1.7f;
    mets_prep_highpass(x, 300, 100, work);
    for (int i = 0; i < 300; i++)
        CHECK(fabsf(x[i]) < 1e-5f, "x[%d] = %g", i, x[i]);
}

static void window_masks_missing_leads_and_cleans_samples(void)
{
    enum { N = 500 };
    float ii[N], v1[N], out[24 * N], *work = malloc(mets_prep_work_floats(N) * sizeof *work);
    for (int i = 0; i < N; i++)
        ii[i] = (float)sin(2 * M_PI * 10 * i / 100.0), v1[i] = 9.0f * (float)sin(2 * M_PI * 5 * i / 100.0);
    ii[100] = NAN;
    const float *leads[12] = {NULL};
    leads[1] = ii, leads[6] = v1;
    mets_prep_window(leads, N, 100, out, work);
    for (int l = 0; l < 12; l++) {
        int present = l == 1 || l == 6;
        for (int t = 0; t < N; t++) {
            CHECK(out[(12 + l) * N + t] == (float)present);
            if (!present)
                CHECK(out[l * N + t] == 0.0f);
            CHECK(isfinite(out[l * N + t]) && fabsf(out[l * N + t]) <= METS_PREP_CLIP_MV);
        }
    }
    CHECK(fabsf(out[1 * N + 250] - ii[250]) < 0.05f, "lead II in the band passes: %g vs %g", out[N + 250], ii[250]);
    float vmax = 0;
    for (int t = 0; t < N; t++)
        vmax = fmaxf(vmax, out[6 * N + t]);
    CHECK(vmax == METS_PREP_CLIP_MV, "V1 clipped at %g", vmax);
    free(work);
}

int main(void)
{
    RUN(resampling_a_sine_matches_the_analytic_signal);
    RUN(highpass_removes_baseline_and_keeps_the_ecg_band);
    RUN(highpass_of_a_constant_is_zero_everywhere);
    RUN(window_masks_missing_leads_and_cleans_samples);
    return mets_test_summary();
}
