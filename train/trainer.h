/* METS pre-training: contrastive learning of the ECG encoder against the frozen language model's
 * embeddings of each ECG's report (symmetric InfoNCE, learnable temperature), AdamW with linear
 * warm-up and cosine decay, data-parallel over threads, checkpoints and resume, progress on stderr.
 *
 *     mets_train_opts o = mets_train_default_opts();
 *     o.epochs = 20;
 *     mets_ecgnet *net = mets_ecgnet_new(&arch, o.seed, &err);
 *     if (mets_train_run(net, &data, &o, &err)) die(err.msg);
 */
#ifndef METS_TRAINER_H
#define METS_TRAINER_H

#include <stdint.h>

#include "ecgnet.h"
#include "err.h"
#include "rng.h"

/* Training windows, already through the shared preprocessing (ecg/preprocess.h) minus the mask
 * channels, which augmentation decides per step. */
typedef struct mets_train_data {
    int n, samples;
    float *leads;       /* [n, 12, samples], mV */
    uint16_t *present;  /* per window: bit l set when lead l was recorded */
    int *text;          /* per window: index of its report text */
    int ntexts, text_dim;
    float *text_emb;    /* [ntexts, text_dim]: the frozen language model's embeddings */
} mets_train_data;

/* Recorded noise (e.g. NSTDB's muscle artefact and baseline wander) mixed into training windows, as
 * telemetry gets it: with probability `p` a window gets a random stretch of one noise record's channels
 * (channel k on the k-th recorded lead, modulo nsig), at an SNR drawn uniformly in [snr_lo_db, snr_hi_db]
 * measured as NSTDB does (signal: the lead's peak-to-peak amplitude squared over 8; noise: its mean
 * square). Below `drown_db` the window is paired with text `text` (a report such as "noisy recording,
 * lead artefact.") instead of its own, so that the model learns to say when it cannot read a rhythm. */
typedef struct mets_train_noise {
    const float *sig; /* [nsig, n] mV at the model rate, through the same baseline filter as windows */
    int nsig, n;
    double p, snr_lo_db, snr_hi_db, drown_db;
    int text;
} mets_train_noise;

typedef struct mets_train_opts {
    int epochs, batch, threads;
    float lr, weight_decay, warmup_frac, min_lr_frac;
    uint64_t seed;
    int augment;            /* 0 turns augmentation and random lead subsets off (tests) */
    const int *repeat;      /* per window: how many times an epoch draws it (NULL: once each), so that
                               rare rhythms are not starved */
    const mets_train_noise *noise; /* recorded noise mixed in with augmentation (NULL: none) */
    const char *checkpoint; /* written at the end of every epoch when set */
    int resume;             /* continue from `checkpoint` when it exists */
    int quiet;
    /* Called after every epoch (e.g. to export and evaluate on the validation fold); non-zero stops. */
    int (*on_epoch)(void *ctx, int epoch, double loss, mets_ecgnet *net);
    void *ctx;
} mets_train_opts;

mets_train_opts mets_train_default_opts(void);

/* Builds the input window in[24, samples] of window w from its recorded leads that are also in `keep`
 * (a lead bit set; 0xFFF keeps all). With `augment`: a random subset of those leads (so single-lead II
 * and 3-lead telemetry work), amplitude scaling, noise, baseline wander, time shift. */
void mets_train_augment(const mets_train_data *d, int w, uint16_t keep, mets_rng *rng, int augment, double rate,
                        float *in);
/* Mixes recorded noise into in[24, samples] (built by mets_train_augment) as `nz` says; returns 1 when the
 * window is drowned (its text becomes nz->text), else 0. */
int mets_train_add_noise(const mets_train_noise *nz, int samples, mets_rng *rng, float *in);

/* Trains `net` in place. Returns 0, or an error (bad options, out of memory, checkpoint I/O). The mean
 * loss of the last epoch goes to *final_loss when not NULL. */
int mets_train_run(mets_ecgnet *net, const mets_train_data *d, const mets_train_opts *o, double *final_loss,
                   mets_err *err);

#endif
