/* WFDB records cut into EcgFrames (tools/recframes.c): frame sizes, times and sequence numbers follow the
 * samples; a frame survives the wire (encode, decode) with every ADC value of the record exact; lead
 * subsets and bad options behave. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "recframes.h"
#include "wfdb.h"

#define VFDB "tests/fixtures/wfdb/vfdb_418" /* 20 s at 250 Hz, two unnamed "ECG" signals */

typedef struct seen {
    int frames, samples;
    int64_t first_t0, last_t0;
    uint64_t last_seq;
    int32_t *adc; /* the record's ADC values of the first signal, to compare with */
    int mismatches;
} seen;

static int check_frame(void *p, const mets_frame *f)
{
    seen *s = p;
    uint8_t *bytes;
    size_t len;
    mets_err err;
    mets_frame back = {0};
    mets_frame_reason why;
    if (mets_frame_encode(f, &bytes, &len, &err) || mets_frame_decode(bytes, len, &back, &why, &err))
        s->mismatches++;
    for (int t = 0; t < back.nsamples; t++) {
        double mv = back.mv[t];
        int32_t adc = isnan(mv) ? back.invalid_sample : (int32_t)lround(mv * back.gain[0]) + back.baseline[0];
        s->mismatches += adc != s->adc[s->samples + t];
    }
    if (s->frames == 0)
        s->first_t0 = f->t0_us;
    s->last_t0 = f->t0_us, s->last_seq = f->seq;
    s->frames++, s->samples += f->nsamples;
    free(bytes);
    mets_frame_release(&back);
    return 0;
}

static void record_becomes_exact_frames(void)
{
    mets_err err;
    mets_wfdb_record *rec = mets_wfdb_open(VFDB, &err);
    CHECK(rec != NULL, "%s", err.msg);
    if (!rec)
        return;
    int64_t n = mets_wfdb_nsamp(rec);
    int32_t *all = malloc((size_t)n * 2 * sizeof *all);
    seen s = {.adc = malloc((size_t)n * sizeof(int32_t))};
    CHECK(mets_wfdb_read_adc(rec, 0, n, all, &err) == 0);
    for (int64_t t = 0; t < n; t++)
        s.adc[t] = all[t * 2];
    mets_recframes_opts o = mets_recframes_default_opts();
    o.stream_id = "bed-7", o.frame_s = 0.2; /* 50 samples at 250 Hz */
    CHECK(mets_recframes_each(VFDB, &o, check_frame, &s, &err) == 0, "%s", err.msg);
    CHECK(s.frames == 100 && s.samples == n && s.last_seq == 99, "%d frames, %d samples", s.frames, s.samples);
    CHECK(s.first_t0 == o.t0_us && s.last_t0 == o.t0_us + 99 * 200000LL);
    CHECK(s.mismatches == 0, "%d values changed on the wire", s.mismatches);
    free(all), free(s.adc);
    mets_wfdb_free(rec);
}

static int count_leads(void *p, const mets_frame *f)
{
    *(int *)p = f->nleads * 100 + f->leads[0];
    return 1; /* one frame is enough: stop */
}

static void options_choose_leads_and_refuse_nonsense(void)
{
    mets_err err;
    mets_recframes_opts o = mets_recframes_default_opts();
    int got = 0;
    CHECK(mets_recframes_each(VFDB, &o, count_leads, &got, &err) == 1);
    CHECK(got == 100 + METS_LEAD_II, "the first unnamed signal is lead II, the second dropped (got %d)", got);
    o.leads = 1u << METS_LEAD_V1;
    CHECK(mets_recframes_each(VFDB, &o, count_leads, &got, &err) == METS_EINVAL && strstr(err.msg, "vfdb_418"));
    o = mets_recframes_default_opts();
    o.frame_s = 0;
    CHECK(mets_recframes_each(VFDB, &o, count_leads, &got, &err) == METS_EINVAL);
    o = mets_recframes_default_opts();
    CHECK(mets_recframes_each("tests/fixtures/wfdb/nothing", &o, count_leads, &got, &err) == METS_ENOTFOUND);
}

int main(void)
{
    RUN(record_becomes_exact_frames);
    RUN(options_choose_leads_and_refuse_nonsense);
    return mets_test_summary();
}
