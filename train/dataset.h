/* Training sets from any source (PTB-XL, the annotated streams, CinC 2017): a record's leads read and
 * resampled to the model rate through the shared preprocessing path (ecg/preprocess.h), ready to be cut
 * into windows; the distinct report texts of a set (interned, so that windows with the same report share
 * one text index, and the contrastive loss never treats two copies of one report as negatives); and the
 * concatenation of sets from different sources.
 *
 * Thread-safety: plain data; one thread builds a set at a time.
 *
 *     mets_textset ts = {0};
 *     d.text[w] = mets_textset_intern(&ts, "sinus rhythm.");   // -1: out of memory
 *     char **texts = mets_textset_take(&ts, &d.ntexts);         // the caller frees texts[i] and texts
 */
#ifndef METS_DATASET_H
#define METS_DATASET_H

#include <stdint.h>

#include "err.h"
#include "trainer.h"

/* A record's signals as the 12 standard leads at the model rate. */
typedef struct mets_dataset_leads {
    float *lead[12]; /* NULL where the record has no such lead; each `len` samples, zero past the record */
    int n;           /* samples the record fills at the model rate */
    int len;         /* allocated samples per lead: at least the `min_len` asked for */
    uint16_t present;
    double fs;       /* the record's frames per second */
    double seconds;  /* length of what was read */
} mets_dataset_leads;

/* Reads frames [0, max_frames) of the WFDB record `path` (all when max_frames <= 0), maps its signals to
 * the standard leads by name ("MLII", MIT-BIH's modified lead II, as II; a signal named "ECG", i.e. an
 * unnamed one, as `unnamed_lead`, or dropped when it is -1 or taken; the first signal of a lead wins),
 * sets invalid samples to 0 and resamples every lead to rate_hz with mets_prep_resample. */
int mets_dataset_read_leads(const char *path, int rate_hz, int unnamed_lead, int64_t max_frames, int min_len,
                            mets_dataset_leads *out, mets_err *err);
void mets_dataset_leads_free(mets_dataset_leads *l);

/* Reads every signal of the WFDB record `path` (a noise record, whose channels name no lead; an
 * uncalibrated signal, gain 0, gets WFDB's default gain of 200), resampled to rate_hz and through the
 * windows' baseline filter (mets_prep_highpass): *sig becomes [*nsig, *n] mV, malloc'd. */
int mets_dataset_read_noise(const char *path, int rate_hz, float **sig, int *nsig, int *n, mets_err *err);

/* Distinct texts, in order of first appearance, with a hash index over them. */
typedef struct mets_textset {
    char **texts;
    int n, cap;
    int *slots; /* open addressing: index into texts, or -1 */
    int nslots;
} mets_textset;

/* The index of `text` in the set, adding a copy when it is new; -1 when out of memory. */
int mets_textset_intern(mets_textset *ts, const char *text);
/* Hands the texts over (their count to *n) and frees the index; the set is empty afterwards. */
char **mets_textset_take(mets_textset *ts, int *n);
void mets_textset_free(mets_textset *ts);

/* Appends the windows of src (texts src_texts[src->ntexts]) to dst (texts *dst_texts[dst->ntexts],
 * malloc'd as the loaders leave them, replaced by the merged list): a text of both sets gets one index.
 * Both sets must have the same window length and no embeddings yet (text_emb NULL). */
int mets_dataset_append(mets_train_data *dst, char ***dst_texts, const mets_train_data *src,
                        char *const *src_texts, mets_err *err);

#endif
