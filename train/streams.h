/* Long recordings as METS windows: the annotated streams of MIT-BIH (mitdb/) and VFDB (vfdb/), each window
 * with a machine-style report generated from the reference annotations, and the short single-lead
 * records of CinC 2017 with a report from their class. Training adds them to PTB-XL (VFDB and MIT-BIH
 * are where ventricular tachycardia and fibrillation come from); evaluation scores them window by window.
 *
 * Windows come from the shared preprocessing, as every other window of METS: each lead of the whole
 * record resampled to the model rate (mets_prep_resample), then every window through mets_prep_window.
 * A window starts every `hop_s` seconds while a whole window fits; a record shorter than one window
 * gives one zero-padded window.
 *
 * Leads: named signals feed the lead of their name ("MLII", MIT-BIH's modified lead II, feeds II).
 * VFDB's two signals are both named "ECG": the database does not say which leads they are. They are
 * Holter channels of the same lab and era as MIT-BIH, whose first channel is a modified lead II in 45 of
 * 48 records, so the first feeds II; the second is dropped rather than given a lead it probably is not.
 * CinC 2017's AliveCor lead is recorded between the two hands: lead I.
 *
 * Records are named relative to the data folder ("mitdb/201", "vfdb/418"); a list is comma-separated
 * ("mitdb/201,vfdb/418"), "all" is every *.hea of mitdb/ and vfdb/, "none" the empty list. The default
 * split (METS_STREAMS_TRAIN_RECORDS) trains on 20 of the 26 shipped MIT-BIH records and 7 of the 11
 * shipped VFDB records and leaves for evaluation the rest (MIT-BIH 201 203 207 208 215 223, VFDB 418 422
 * 430 609: AF, flutter, VT, VF, VFL all occur) and every record that is not shipped (MIT-BIH DS2, the
 * other half of VFDB). CinC 2017 records are chosen by number: training A00001-A01500
 * (METS_CINC_TRAIN_LAST), evaluation from A01501 on.
 *
 * Thread-safety: plain data and pure functions.
 *
 *     mets_streams_opts o = mets_streams_default_opts(100, 1000);   // the model's rate and length
 *     char **names; int n;
 *     if (mets_streams_list(dir, METS_STREAMS_TRAIN_RECORDS, "none", &names, &n, &err)) die(err.msg);
 *     mets_streams_set set;
 *     if (mets_streams_load(dir, names, n, &o, &set, &err)) die(err.msg);
 *     // set.data: windows, set.texts[set.data.text[w]]: "atrial fibrillation. heart rate 112 bpm."
 *     mets_streams_free(&set), mets_streams_list_free(names, n);
 */
#ifndef METS_STREAMS_H
#define METS_STREAMS_H

#include <stddef.h>
#include <stdint.h>

#include "annot.h"
#include "err.h"
#include "trainer.h"

#define METS_STREAMS_TRAIN_RECORDS                                                                            \
    "mitdb/101,mitdb/102,mitdb/104,mitdb/106,mitdb/107,mitdb/108,mitdb/109,mitdb/112,mitdb/114,mitdb/115,"    \
    "mitdb/116,mitdb/118,mitdb/119,mitdb/122,mitdb/124,mitdb/205,mitdb/209,mitdb/217,mitdb/220,mitdb/230,"    \
    "vfdb/420,vfdb/424,vfdb/426,vfdb/428,vfdb/605,vfdb/611,vfdb/614"
#define METS_CINC_TRAIN_LAST 1500

/* The report of a noisy window or of CinC's class "~", shared so both teach one text. */
#define METS_STREAMS_NOISE_TEXT "noisy recording, lead artefact."

/* Writes the report of frames [t0, t1) of an annotated record (fs frames per second) into out, in the
 * lower-case style of the translated PTB-XL reports:
 *   the rhythms in force (the latest rhythm change at or before t0 and those inside: "(N" sinus rhythm,
 *     "(AFIB" atrial fibrillation, "(VT" ventricular tachycardia...; sinus rhythm above 100 bpm is sinus
 *     tachycardia, below 60 sinus bradycardia),
 *   left or right bundle branch block when most beats are L or R, paced rhythm when most are '/',
 *   "heart rate N bpm." from the mean RR interval of the QRS annotations (when there are two or more),
 *   the counts of ventricular (V, r, E, F: AAMI's classes VEB and F) and supraventricular (A, a, J, S:
 *     AAMI's SVEB) premature complexes,
 *   METS_STREAMS_NOISE_TEXT when noise ('~' with a non-zero subtype, or "(NOISE") is in force.
 * e.g. "atrial fibrillation. heart rate 112 bpm. 3 ventricular premature complexes."
 * Returns the length: 0 when the annotations say nothing of the window (e.g. before the first one), or
 * METS_ENOMEM when cap is too small. */
int mets_streams_report(const mets_annots *a, double fs, int64_t t0, int64_t t1, char *out, size_t cap);

/* The report of a CinC 2017 class: 'N' sinus rhythm, 'A' atrial fibrillation, 'O' another rhythm, '~'
 * noise; NULL for anything else. */
const char *mets_cinc_report(char cls);

typedef struct mets_streams_opts {
    int rate_hz, samples; /* the model's rate and window length */
    double hop_s;         /* between window starts; CinC windows are consecutive whatever this says */
    int keep_silent;      /* keep windows without a report (as text ""): evaluation scores every window */
} mets_streams_opts;

/* hop 5 s (training), keep_silent 0. */
mets_streams_opts mets_streams_default_opts(int rate_hz, int samples);

typedef struct mets_streams_record {
    char name[64];        /* "mitdb/201", or the CinC record name "A00004" */
    double fs, seconds;   /* its frames per second (the unit of its annotations) and length */
    char cinc_class;      /* 'N' 'A' 'O' '~' for CinC records, 0 for annotated streams */
    int first_window, nwindows;
} mets_streams_record;

typedef struct mets_streams_set {
    mets_train_data data;  /* windows in record order; text index per window (text_emb not filled) */
    char **texts;          /* [data.ntexts] distinct reports */
    double *start;         /* per window: its start in its record, seconds */
    mets_streams_record *records;
    int nrecords;
    int missing;           /* records of the list whose files are not in the data folder */
} mets_streams_set;

/* The records of `list` (see above; NULL = "all") that are not in `exclude` (NULL = "none"), in list
 * order, as malloc'd names; a listed record need not exist (mets_streams_load counts it as missing).
 * METS_EINVAL for an entry that is not "db/record". */
int mets_streams_list(const char *dir, const char *list, const char *exclude, char ***names, int *n, mets_err *err);
void mets_streams_list_free(char **names, int n);

/* Loads the annotated records names[n] (each "db/record": its .hea, signal files and .atr under dir). */
int mets_streams_load(const char *dir, char *const *names, int n, const mets_streams_opts *o, mets_streams_set *set,
                      mets_err *err);

/* Loads the CinC 2017 records of folder `dir` listed in `reference` (the challenge's REFERENCE.csv:
 * "A00001,N" lines; NULL = dir/REFERENCE.csv) whose number (the digits that end the name) is in
 * [first, last], in consecutive windows, each with the report of its record's class. */
int mets_cinc_load(const char *dir, const char *reference, int first, int last, const mets_streams_opts *o,
                   mets_streams_set *set, mets_err *err);

/* Parses "LO-HI" (or one number) into a range of CinC record numbers; -1 when malformed. */
int mets_cinc_parse_range(const char *s, int *first, int *last);

void mets_streams_free(mets_streams_set *set);

#endif
