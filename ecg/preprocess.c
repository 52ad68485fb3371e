#include "preprocess.h"

#include <math.h>
#include <soxr.h>
#include <string.h>

int mets_prep_resample(const float *x, size_t n_in, double in_rate, double out_rate, float *out, size_t n_out,
                       mets_err *err)
{
    if (in_rate == out_rate) {
        size_t n = n_in < n_out ? n_in : n_out;
        memcpy(out, x, n * sizeof *out);
        return (int)n;
    }
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    size_t done = 0;
    soxr_error_t e = soxr_oneshot(in_rate, out_rate, 1, x, n_in, NULL, out, n_out, &done, &io, &q, NULL);
    if (e)
        return mets_err_set(err, METS_EINVAL, "resampling %g Hz -> %g Hz: %s", in_rate, out_rate, e);
    for (size_t i = done; i < n_out; i++) /* the resampler's tail can come up a sample short */
        out[i] = done ? out[done - 1] : 0.0f;
    return (int)n_out;
}

size_t mets_prep_work_floats(int samples)
{
    return 3 * (size_t)samples;
}

typedef struct biquad {
    double b0, b1, b2, a1, a2;
} biquad;

/* 2nd-order Butterworth high-pass by the bilinear transform with a pre-warped cut-off. */
static biquad highpass_design(double cutoff, double rate)
{
    double k = tan(M_PI * cutoff / rate), q = M_SQRT1_2, norm = 1.0 / (1.0 + k / q + k * k);
    biquad f = {norm, -2.0 * norm, norm, 2.0 * (k * k - 1.0) * norm, (1.0 - k / q + k * k) * norm};
    return f;
}

/* Runs the high-pass over x[n] in place (direct form II transposed), starting from the steady state of a
 * constant x[0]: a high-pass maps a constant to 0, which the states z1 = -b0 x0, z2 = b2 x0 produce, so
 * a signal's offset causes no transient. */
static void run_biquad(const biquad *f, float *x, int n)
{
    double z1 = -f->b0 * x[0], z2 = f->b2 * x[0];
    for (int i = 0; i < n; i++) {
        double in = x[i], out = f->b0 * in + z1;
        z1 = f->b1 * in - f->a1 * out + z2;
        z2 = f->b2 * in - f->a2 * out;
        x[i] = (float)out;
    }
}

void mets_prep_highpass(float *x, int n, double rate, float *work)
{
    if (n < 2)
        return;
    /* Odd extension by up to one second on both sides (as scipy's filtfilt), so the ends settle. */
    int pad = (int)rate < n - 1 ? (int)rate : n - 1;
    float *ext = work;
    for (int i = 0; i < pad; i++)
        ext[i] = 2.0f * x[0] - x[pad - i];
    memcpy(ext + pad, x, (size_t)n * sizeof *x);
    for (int i = 0; i < pad; i++)
        ext[pad + n + i] = 2.0f * x[n - 1] - x[n - 2 - i];
    int len = n + 2 * pad;
    biquad f = highpass_design(METS_PREP_HIGHPASS_HZ, rate);
    run_biquad(&f, ext, len);
    for (int i = 0, j = len - 1; i < j; i++, j--) {
        float t = ext[i];
        ext[i] = ext[j], ext[j] = t;
    }
    run_biquad(&f, ext, len);
    for (int i = 0; i < n; i++)
        x[i] = ext[len - 1 - pad - i];
}

void mets_prep_window(const float *const leads[METS_PREP_LEADS], int samples, double rate, float *out, float *work)
{
    for (int l = 0; l < METS_PREP_LEADS; l++) {
        float *row = out + (size_t)l * samples, *mask = out + (size_t)(METS_PREP_LEADS + l) * samples;
        float present = leads[l] ? 1.0f : 0.0f;
        for (int t = 0; t < samples; t++) {
            row[t] = leads[l] && isfinite(leads[l][t]) ? leads[l][t] : 0.0f;
            mask[t] = present;
        }
        if (!leads[l])
            continue;
        mets_prep_highpass(row, samples, rate, work);
        for (int t = 0; t < samples; t++)
            row[t] = fminf(fmaxf(row[t], -METS_PREP_CLIP_MV), METS_PREP_CLIP_MV);
    }
}
