/* libFuzzer target for the WFDB readers: whatever the bytes, the header parser, the record opener and the
 * annotation parser either refuse them with a message or return data on which every read is safe and
 * reads only inside the input.
 *
 * Input layout: u16 header length, u16 sample-data length (both little-endian, cut to what is there),
 * then the header text, the sample bytes, and the annotation bytes (the rest). */
#include "annot.h"
#include "wfdb.h"

#include <stdlib.h>
#include <string.h>

enum { MAX_FRAMES = 1 << 14 }; /* bounds the work per input, not what is tried */

static volatile unsigned sink; /* keeps reads of returned values from being optimised away */

/* The next n bytes (fewer if the input ends first) as an exact-size heap copy, so that ASan catches any
 * read past the end; *n becomes the length taken. */
static unsigned char *take(const uint8_t **data, size_t *size, size_t *n)
{
    *n = *n < *size ? *n : *size;
    unsigned char *p = malloc(*n ? *n : 1);
    if (p && *n)
        memcpy(p, *data, *n);
    *data += *n, *size -= *n;
    return p;
}

static void read_some(const mets_wfdb_record *rec)
{
    int nsig = mets_wfdb_nsig(rec);
    int64_t n = mets_wfdb_nsamp(rec);
    int64_t frames = n < MAX_FRAMES ? n : MAX_FRAMES, start = n - frames;
    int32_t *adc = malloc((size_t)(frames ? frames : 1) * (size_t)nsig * sizeof *adc);
    float *x = malloc((size_t)(frames ? frames : 1) * (size_t)nsig * sizeof *x);
    mets_err err;
    if (adc && x && !mets_wfdb_read_adc(rec, start, frames, adc, &err) &&
        !mets_wfdb_read_phys(rec, start, frames, x, &err) && frames)
        sink += (unsigned)adc[frames * nsig - 1] + (x[0] == x[0]);
    mets_wfdb_read_adc(rec, n, 1, adc, &err); /* just past the end: refused */
    if (n <= MAX_FRAMES)
        mets_wfdb_verify_checksums(rec, &err);
    for (int s = 0; s <= nsig; s++) {
        const mets_wfdb_signal *sig = mets_wfdb_signal_info(rec, s);
        if (sig)
            sink += (unsigned)strlen(sig->description) + (unsigned)strlen(sig->units);
    }
    free(adc);
    free(x);
}

static void annotations(const unsigned char *buf, size_t len)
{
    mets_annots a;
    mets_err err;
    if (mets_annot_parse_mem(buf, len, "fuzz.atr", &a, &err)) {
        sink += (unsigned)strlen(err.msg);
        return;
    }
    for (size_t i = 0; i < a.count; i++) {
        const char *m = mets_annot_mnemonic(a.items[i].code);
        sink += (unsigned)(m ? strlen(m) : 0) + (unsigned)(a.items[i].aux ? strlen(a.items[i].aux) : 0);
    }
    mets_annots_free(&a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    size_t hea_len = (size_t)data[0] | (size_t)data[1] << 8, dat_len = (size_t)data[2] | (size_t)data[3] << 8;
    data += 4, size -= 4;
    unsigned char *hea = take(&data, &size, &hea_len), *dat = take(&data, &size, &dat_len);
    size_t atr_len = size;
    unsigned char *atr = take(&data, &size, &atr_len);
    mets_wfdb_header *hdr = malloc(sizeof *hdr);
    mets_err err;
    if (hea && dat && atr && hdr) {
        if (mets_wfdb_parse_header_mem((const char *)hea, hea_len, "fuzz.hea", hdr, &err))
            sink += (unsigned)strlen(err.msg);
        mets_wfdb_record *rec = mets_wfdb_open_mem((const char *)hea, hea_len, dat, dat_len, "fuzz.hea", &err);
        if (rec)
            read_some(rec);
        mets_wfdb_free(rec);
        annotations(atr, atr_len);
    }
    free(hdr);
    free(hea), free(dat), free(atr);
    return 0;
}
