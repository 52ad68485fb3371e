/* A WFDB record cut into EcgFrames, as a bedside monitor would send it: fixed-duration frames of the
 * record's own samples (ADC units with the record's gain and baseline, WFDB's invalid-sample marker),
 * consecutive sequence numbers, first-sample times derived from the sample index so that replaying the
 * same record twice gives the same frames. `mets replay` publishes them; tests feed them to the
 * pipeline directly.
 *
 *     mets_recframes_opts o = mets_recframes_default_opts();
 *     o.stream_id = "bed-12";
 *     mets_recframes_each(".cache/data/mitdb/201", &o, publish, ctx, &err);
 */
#ifndef METS_RECFRAMES_H
#define METS_RECFRAMES_H

#include <stdint.h>

#include "err.h"
#include "frame.h"

typedef struct mets_recframes_opts {
    const char *stream_id; /* NULL: the record's name */
    const char *source;    /* the device field of every frame ("" by default) */
    double frame_s;        /* frame duration, rounded to whole samples (default 0.25 s) */
    uint16_t leads;        /* bit l keeps standard lead l (default all the record has) */
    int64_t t0_us;         /* UTC time of the record's first sample (default 2026-01-01T00:00:00Z) */
    double start_s, duration_s; /* the part of the record to send (default all) */
} mets_recframes_opts;

mets_recframes_opts mets_recframes_default_opts(void);

/* Calls `each` for every frame in order; a non-zero return stops and is returned. Errors: the record
 * cannot be read (named), it has none of the wanted leads, or the options are out of range. */
int mets_recframes_each(const char *path, const mets_recframes_opts *o, int (*each)(void *ctx, const mets_frame *f),
                        void *ctx, mets_err *err);

#endif
