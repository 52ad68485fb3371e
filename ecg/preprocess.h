/* The one preprocessing path of METS, shared unchanged by training, evaluation and the daemon, so the
 * encoder sees the same kind of input everywhere:
 *
 *   each lead in mV at its source rate
 *     -> resampled to the model rate (libsoxr; one-shot for recordings, streaming in the daemon)
 *     -> a window of `samples` at the model rate (mets_prep_window):
 *          invalid samples (NaN) set to 0, baseline wander removed by a zero-phase 0.5 Hz high-pass
 *          (2nd-order Butterworth run forwards and backwards, odd-extended at both ends to avoid edge
 *          transients), amplitudes clipped to +-5 mV (electrode artefacts), kept in mV (amplitude is
 *          diagnostic, e.g. for hypertrophy)
 *     -> the encoder's input [24, samples]: the 12 standard leads (zeros where missing), then 12
 *        constant channels, 1 where the lead is present.
 *
 * Thread-safety: pure functions of their arguments; `work` belongs to the caller.
 */
#ifndef METS_PREPROCESS_H
#define METS_PREPROCESS_H

#include <stddef.h>

#include "err.h"

#define METS_PREP_LEADS 12
#define METS_PREP_HIGHPASS_HZ 0.5
#define METS_PREP_CLIP_MV 5.0f

/* Resamples one lead x[n_in] at in_rate to out[n_out] at out_rate (libsoxr, high quality); n_out is
 * what the caller wants (usually round(n_in * out_rate / in_rate)); returns the number written. */
int mets_prep_resample(const float *x, size_t n_in, double in_rate, double out_rate, float *out, size_t n_out,
                       mets_err *err);

/* Floats of scratch mets_prep_window needs for a window of `samples`. */
size_t mets_prep_work_floats(int samples);

/* Builds the encoder input out[24, samples] from leads[i] (samples values at `rate`, lead i in the
 * standard order I II III aVR aVL aVF V1..V6, NULL when the lead is missing). */
void mets_prep_window(const float *const leads[METS_PREP_LEADS], int samples, double rate, float *out, float *work);

/* The baseline filter alone, in place on x[n] at `rate`: exposed for tests and plots. */
void mets_prep_highpass(float *x, int n, double rate, float *work);

#endif
