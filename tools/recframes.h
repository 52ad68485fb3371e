/* A recording cut into EcgFrames, as a bedside monitor would send it: fixed-duration frames of the
 * record's own samples, consecutive sequence numbers, first-sample times derived from the sample index so
 * that replaying the same record twice gives the same frames. `mets replay` publishes them; tests feed
 * them to the pipeline directly.
 *
 * Two inputs. A WFDB record: its own ADC samples with its gain and baseline, WFDB's invalid-sample
 * marker. A CSV file (a path ending in ".csv"): a header `time,I,II,V1,...` (or `sample,...` with
 * `csv_rate_hz`), one row per sample, one column per standard lead in mV; empty cells and `nan` are
 * invalid samples. Its values become ADC units as WFDB format 16 would hold them in µV: gain 1000 per mV,
 * baseline 0, invalid marker -32768, so |value| <= 32.767 mV. The CSV is parsed and checked whole at open,
 * so a bad file is refused ("file:line: what was expected") before any frame exists.
 *
 * Thread safety: an opened record is used by one thread at a time.
 *
 *     mets_recframes_opts o = mets_recframes_default_opts();
 *     o.stream_id = "bed-12";
 *     mets_recframes *rf = mets_recframes_open(".cache/data/mitdb/201", &o, &err);   // or "ecg.csv"
 *     if (!rf || mets_recframes_send(rf, publish, ctx, &err) < 0) die(err.msg);
 *     mets_recframes_close(rf);
 */
#ifndef METS_RECFRAMES_H
#define METS_RECFRAMES_H

#include <stdint.h>

#include "err.h"
#include "frame.h"

#define METS_RECFRAMES_CSV_GAIN 1000.0   /* ADC units per mV of CSV input (µV) */
#define METS_RECFRAMES_CSV_INVALID -32768 /* the invalid-sample marker of CSV input */

typedef struct mets_recframes_opts {
    const char *stream_id; /* NULL: the record's name (a CSV's file name without ".csv") */
    const char *source;    /* the device field of every frame ("" by default) */
    double frame_s;        /* frame duration, rounded to whole samples (default 0.25 s) */
    uint16_t leads;        /* bit l keeps standard lead l (default all the record has) */
    int64_t t0_us;         /* UTC time of the record's time 0 (default 2026-01-01T00:00:00Z) */
    double start_s, duration_s; /* the part of the record to send (default all) */
    double csv_rate_hz;    /* the rate of a CSV with a `sample` column (0: none given) */
} mets_recframes_opts;

mets_recframes_opts mets_recframes_default_opts(void);

typedef struct mets_recframes mets_recframes;

/* Opens a WFDB record or parses a CSV file whole, and checks the options against it. NULL with `err`
 * naming the file: it cannot be read or is malformed (CSV: "path:line: ..."), it has none of the wanted
 * leads, or the options are out of range. `o` is copied; its strings must outlive the handle. */
mets_recframes *mets_recframes_open(const char *path, const mets_recframes_opts *o, mets_err *err);
void mets_recframes_close(mets_recframes *rf);

/* The frames `send` will produce, and the seconds of record they cover. */
int64_t mets_recframes_count(const mets_recframes *rf);
double mets_recframes_seconds(const mets_recframes *rf);

/* The next frame in order, in *f (valid until the next call or close): 1, 0 after the last, or a negative
 * METS_E* code with `err` filled when a WFDB sample file cannot be read. */
int mets_recframes_next(mets_recframes *rf, const mets_frame **f, mets_err *err);

/* Calls `each` for every frame left, in order; a non-zero return stops and is returned. A negative METS_E*
 * code with `err` filled when a WFDB sample file cannot be read. */
int mets_recframes_send(mets_recframes *rf, int (*each)(void *ctx, const mets_frame *f), void *ctx, mets_err *err);

/* Open, send, close in one call. */
int mets_recframes_each(const char *path, const mets_recframes_opts *o, int (*each)(void *ctx, const mets_frame *f),
                        void *ctx, mets_err *err);

#endif
