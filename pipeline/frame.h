/* Decode + validate: the first pipeline stage. Turns the bytes of one Kafka message (an EcgFrame of
 * proto/mets.proto) into a plain `mets_frame` in mV, or says why the message belongs in the dead-letter
 * topic: a stable reason code (a metric label) and a sentence for a person. And back: `mets_frame_encode`
 * writes the bytes of a frame, for `mets replay` and tests.
 *
 * Thread safety: no shared state; one `mets_frame` per worker, reused for every message so that decoding
 * allocates only when a frame is longer than any before it.
 *
 *     mets_frame f = {0};
 *     mets_frame_reason why;
 *     mets_err err;
 *     if (mets_frame_decode(msg, len, &f, &why, &err))
 *         dead_letter(msg, len, why, err.msg);        // mets_frame_reason_name(why) is the metric label
 *     else
 *         window_push(&f);                           // f.mv + i * f.nsamples: lead f.leads[i] in mV
 *     ...
 *     mets_frame_release(&f);
 */
#ifndef METS_PIPELINE_FRAME_H
#define METS_PIPELINE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* The limits of a valid frame: what a bedside monitor can sensibly send, with room to spare. */
#define METS_FRAME_SCHEMA_MAJOR 1        /* the schema_version this reader understands */
#define METS_FRAME_MAX_ID 128            /* bytes of stream_id and of source */
#define METS_FRAME_MIN_RATE_HZ 50.0
#define METS_FRAME_MAX_RATE_HZ 2000.0
#define METS_FRAME_MAX_SECONDS 10        /* of samples per lead */
#define METS_FRAME_MAX_SAMPLES (METS_FRAME_MAX_SECONDS * 2000) /* per lead, at the highest rate */
#define METS_FRAME_MAX_PACE 256          /* pace marks per frame */
#define METS_FRAME_MIN_T0_US 946684800000000LL  /* 2000-01-01T00:00:00Z */
#define METS_FRAME_MAX_T0_US 4102444800000000LL /* 2100-01-01T00:00:00Z */
/* Larger messages are refused before parsing: 12 full leads of 5-byte varints fit with room to spare. */
#define METS_FRAME_MAX_BYTES (2u << 20)

/* The 12 standard leads, in the usual order. */
typedef enum mets_lead {
    METS_LEAD_I, METS_LEAD_II, METS_LEAD_III, METS_LEAD_AVR, METS_LEAD_AVL, METS_LEAD_AVF,
    METS_LEAD_V1, METS_LEAD_V2, METS_LEAD_V3, METS_LEAD_V4, METS_LEAD_V5, METS_LEAD_V6,
    METS_NLEADS
} mets_lead;

/* Why a frame was refused. The numbers equal proto's DeadLetterReason; never renumber or reuse them. */
typedef enum mets_frame_reason {
    METS_FRAME_OK = 0,
    METS_FRAME_DECODE = 1,         /* not a protobuf EcgFrame: truncated or corrupt */
    METS_FRAME_SCHEMA_VERSION = 2, /* missing, or a newer major than METS_FRAME_SCHEMA_MAJOR */
    METS_FRAME_STREAM_ID = 3,      /* empty, longer than METS_FRAME_MAX_ID, or not UTF-8 */
    METS_FRAME_SOURCE = 4,         /* longer than METS_FRAME_MAX_ID or not UTF-8 */
    METS_FRAME_SAMPLE_RATE = 5,    /* not a number within [METS_FRAME_MIN_RATE_HZ, METS_FRAME_MAX_RATE_HZ] */
    METS_FRAME_T0 = 6,             /* outside [METS_FRAME_MIN_T0_US, METS_FRAME_MAX_T0_US) */
    METS_FRAME_NO_LEADS = 7,
    METS_FRAME_LEAD_NAME = 8,      /* not one of the 12 standard names */
    METS_FRAME_DUPLICATE_LEAD = 9,
    METS_FRAME_LEAD_LENGTH = 10,   /* leads with different sample counts */
    METS_FRAME_FRAME_SIZE = 11,    /* no samples, more than METS_FRAME_MAX_SECONDS, or too many bytes */
    METS_FRAME_GAIN = 12,          /* zero, negative or not finite */
    METS_FRAME_SAMPLE_VALUE = 13,  /* a sample that is not finite in mV */
    METS_FRAME_PACE_MARKS = 14,    /* more than METS_FRAME_MAX_PACE, or an index past the frame */
    METS_FRAME_STREAM_CAP = 15,    /* valid, but a new stream beyond the configured cap (set by the windower) */
    METS_FRAME_NREASONS
} mets_frame_reason;

/* One decoded frame. Leads are kept in the order the monitor sent them; lead i's samples are
 * mv[i * nsamples .. (i + 1) * nsamples), in mV, NaN where the monitor marked a sample invalid. A test may
 * fill one by hand with `mv` pointing at its own array (and mv_cap 0: decode never frees that). */
typedef struct mets_frame {
    uint32_t schema_version;
    char stream_id[METS_FRAME_MAX_ID + 1];
    char source[METS_FRAME_MAX_ID + 1];
    uint64_t seq;
    int64_t t0_us;
    double rate_hz;
    int nleads;
    int nsamples;                      /* per lead */
    mets_lead leads[METS_NLEADS];      /* the standard lead of each column */
    double gain[METS_NLEADS];          /* ADC units per mV, as sent; the encoder quantises with it */
    int32_t baseline[METS_NLEADS];     /* ADC value of 0 mV, as sent */
    uint8_t lead_off[METS_NLEADS];
    int has_invalid;                   /* whether the monitor named an invalid-sample marker */
    int32_t invalid_sample;            /* that marker, in ADC units */
    int pacing;
    int npace;
    uint32_t pace[METS_FRAME_MAX_PACE]; /* sample indices of pace pulses, < nsamples */
    float *mv;
    size_t mv_cap;                     /* floats owned at mv by decode; 0 when mv belongs to the caller */
} mets_frame;

/* The key of a clock record in the frames topic: no frame (its value is empty), a Kafka timestamp that says
 * time has passed in that partition. metsd writes one a second into each partition it has read to its end
 * (pipeline/recovery.h: the clock of signal loss); a stream id never starts with byte 0xFF (UTF-8).
 * Consumers of the frames topic skip these. */
#define METS_FRAME_CLOCK_KEY "\xff" "clock"
#define METS_FRAME_CLOCK_KEY_LEN 6

/* The end of the frame's last sample: t0 plus its samples' duration. */
int64_t mets_frame_end_us(const mets_frame *f);

/* Decodes and validates `len` bytes into `f` (zeroed, or filled by an earlier decode). Returns 0 with
 * *reason = METS_FRAME_OK, or METS_EFORMAT with *reason and err->msg saying what is wrong (f's contents
 * are then unspecified), or METS_ENOMEM. */
int mets_frame_decode(const uint8_t *buf, size_t len, mets_frame *f, mets_frame_reason *reason, mets_err *err);

/* Encodes `f` into a malloc'd buffer *out of *len bytes (the caller frees it). Samples are quantised as
 * round(mv * gain) + baseline; NaN becomes invalid_sample, and needs has_invalid. Returns 0, METS_EINVAL
 * (NaN without a marker, a value beyond int32, nleads/nsamples out of range) or METS_ENOMEM. */
int mets_frame_encode(const mets_frame *f, uint8_t **out, size_t *len, mets_err *err);

/* Frees what decode allocated and leaves `f` zeroed. */
void mets_frame_release(mets_frame *f);

/* Column of `lead` in `f`, or -1 when the frame does not carry it. */
int mets_frame_lead_index(const mets_frame *f, mets_lead lead);

/* "I", "aVR", "V6": the standard name; NULL for a value out of range. */
const char *mets_lead_name(mets_lead lead);

/* "ok", "decode", "sample_rate", ...: stable snake_case names, used as metric labels. */
const char *mets_frame_reason_name(mets_frame_reason reason);

#endif
