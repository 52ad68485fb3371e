/* PhysioNet WFDB records: the header (.hea) and the sample files it names, in formats 16, 212 and 80,
 * with a byte offset ("16+24": the samples of a CinC 2017 .mat file start 24 bytes in).
 * Reference: the WFDB header(5) and signal(5) manual pages.
 *
 * Thread-safety: a mets_wfdb_record is immutable once opened; any number of threads may read from it at
 * once (samples are fetched with pread, which keeps no file position). Nothing is loaded up front: a
 * read of n frames touches only the bytes that hold them.
 *
 *     mets_err err;
 *     mets_wfdb_record *rec = mets_wfdb_open(".cache/data/mitdb/201", &err);  // or "…/201.hea"
 *     if (!rec) die(err.msg);               // names the file and the problem
 *     int nsig = mets_wfdb_nsig(rec);
 *     int64_t n = (int64_t)(10 * mets_wfdb_fs(rec));      // 10 s
 *     float *x = malloc(n * nsig * sizeof *x);
 *     if (mets_wfdb_read_phys(rec, 0, n, x, &err)) die(err.msg);
 *     // x[t * nsig + s] is signal s at frame t, in mets_wfdb_signal_info(rec, s)->units
 *     mets_wfdb_free(rec);
 */
#ifndef METS_WFDB_H
#define METS_WFDB_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define METS_WFDB_MAX_SIGNALS 64

/* One signal line. Fields the header leaves out hold WFDB's defaults, as noted. */
typedef struct {
    char file_name[128];  /* relative to the header's folder */
    int format;           /* 16, 212 or 80 */
    int64_t byte_offset;  /* the "+N" of "16+24"; 0 when absent */
    double gain;          /* ADC units per physical unit; 200 when absent; 0 as written means uncalibrated
                             (NSTDB's noise records), converted with 200 as libwfdb does */
    int32_t baseline;     /* ADC value of physical zero; adc_zero when absent */
    char units[32];       /* "mV" when absent */
    int32_t adc_res;      /* bits; 12 for 212, 16 for 16, 8 for 80 when absent or 0 */
    int32_t adc_zero;     /* 0 when absent */
    int32_t init_value;   /* first sample; adc_zero when absent */
    int32_t checksum;     /* 16-bit sum of all samples, as written (signed or not) */
    int has_checksum;     /* 0 when the header has no checksum field */
    int32_t block_size;   /* 0 when absent */
    char description[96]; /* the lead name, e.g. "MLII", "V1"; "" when absent */
} mets_wfdb_signal;

typedef struct {
    char name[64];
    int nsig;
    double fs;           /* frames per second; 250 when absent */
    double counter_freq; /* fs when absent */
    double base_counter; /* 0 when absent */
    int64_t nsamp;       /* frames per signal; -1 when absent (then the open takes it from the file size) */
    char base_time[24];  /* "HH:MM:SS" as written; "" when absent */
    char base_date[16];  /* "DD/MM/YYYY" as written; "" when absent */
    mets_wfdb_signal sig[METS_WFDB_MAX_SIGNALS];
} mets_wfdb_header;

/* Parses header text (CR LF or LF lines; '#' lines are comments). `name` is used in messages. Rejects with
 * METS_EFORMAT, naming line and field: unsupported formats, multi-segment and multi-frequency records,
 * nsig outside 1..64, fs <= 0, gain 0 (WFDB's "uncalibrated"), and numbers that do not fit. */
int mets_wfdb_parse_header_mem(const char *text, size_t len, const char *name, mets_wfdb_header *hdr,
                               mets_err *err);

typedef struct mets_wfdb_record mets_wfdb_record;

/* Opens `path` (the record path with or without ".hea"), parses the header and opens every sample file
 * it names, checking that each holds the frames the header promises: a short file is METS_EFORMAT
 * ("…/100.dat: truncated: header says 650000 samples, file holds 649999"); a missing one METS_ENOTFOUND. */
mets_wfdb_record *mets_wfdb_open(const char *path, mets_err *err);
/* The same on memory: `dat` serves every sample file the header names; both buffers must outlive the
 * record. `name` is used in messages. This is what the fuzzer drives. */
mets_wfdb_record *mets_wfdb_open_mem(const char *hea, size_t hea_len, const void *dat, size_t dat_len,
                                     const char *name, mets_err *err);
void mets_wfdb_free(mets_wfdb_record *rec);

const mets_wfdb_header *mets_wfdb_header_of(const mets_wfdb_record *rec);
int mets_wfdb_nsig(const mets_wfdb_record *rec);
double mets_wfdb_fs(const mets_wfdb_record *rec);
int64_t mets_wfdb_nsamp(const mets_wfdb_record *rec); /* frames per signal, always known once open */
/* Signal s's line (name = description, gain, baseline, units, adc_zero…); NULL when s is out of range. */
const mets_wfdb_signal *mets_wfdb_signal_info(const mets_wfdb_record *rec, int s);

/* Reads frames [start, start + n) of all signals as ADC values, frame-interleaved as in the files:
 * out[t * nsig + s], n * nsig values. METS_EINVAL when the range leaves [0, nsamp). WFDB's invalid sample
 * (-32768 in format 16, -2048 in 212, -128 in 80) comes back as is. */
int mets_wfdb_read_adc(const mets_wfdb_record *rec, int64_t start, int64_t n, int32_t *out, mets_err *err);
/* The same in physical units, (adc - baseline) / gain, with invalid samples as NaN. */
int mets_wfdb_read_phys(const mets_wfdb_record *rec, int64_t start, int64_t n, float *out, mets_err *err);
/* Reads every sample and compares each signal's 16-bit sum with the header's checksum field, where there
 * is one: METS_EFORMAT names the first signal that disagrees. CinC 2017 headers write 0 there ("not
 * computed"), so their records fail this check by design. */
int mets_wfdb_verify_checksums(const mets_wfdb_record *rec, mets_err *err);

#endif
