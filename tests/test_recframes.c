/* Records cut into EcgFrames (tools/recframes.c): frame sizes, times and sequence numbers follow the
 * samples; a frame survives the wire (encode, decode) with every ADC value of the record exact; lead
 * subsets and bad options behave. CSV input: rate from the time column or --rate, mV to µV ADC units,
 * empty and nan cells invalid, and every malformed file refused with file:line before any frame. */
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

/* Writes `text` to a scratch file and returns its path. */
static const char *csv_file(const char *name, const char *text)
{
    const char *path = mets_test_tmp_path(name);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "%s", path);
    if (f)
        fputs(text, f), fclose(f);
    return path;
}

typedef struct kept {
    int frames;
    mets_frame first, last;
    float mv[64];   /* the first frame's samples */
    int32_t adc[64]; /* the same on the wire, in ADC units */
} kept;

static int keep_frame(void *p, const mets_frame *f)
{
    kept *k = p;
    if (k->frames == 0) {
        k->first = *f;
        memcpy(k->mv, f->mv, (size_t)f->nleads * f->nsamples * sizeof *f->mv);
        uint8_t *bytes;
        size_t len;
        mets_err err;
        mets_frame back = {0};
        mets_frame_reason why;
        CHECK(mets_frame_encode(f, &bytes, &len, &err) == 0 && mets_frame_decode(bytes, len, &back, &why, &err) == 0);
        for (int i = 0; i < back.nleads * back.nsamples; i++)
            k->adc[i] = isnan(back.mv[i]) ? back.invalid_sample : (int32_t)lround(back.mv[i] * back.gain[0]);
        free(bytes);
        mets_frame_release(&back);
    }
    k->last = *f, k->last.mv = NULL, k->first.mv = NULL;
    k->frames++;
    return 0;
}

static void csv_with_time_column_becomes_frames_in_microvolts(void)
{
    /* 100 Hz with times printed to 2 decimals, 5 rows, leads in file order; frames of 2 samples */
    const char *path = csv_file("bed-3.csv", "time,V1,II\n"
                                             "10.00,0.5,-1.25\n"
                                             "10.01,,0.001\n"
                                             "10.02,nan,NaN\n"
                                             "10.03,32.767,-32.767\n"
                                             "10.04,0,0\n");
    mets_recframes_opts o = mets_recframes_default_opts();
    o.frame_s = 0.02;
    mets_err err;
    mets_recframes *rf = mets_recframes_open(path, &o, &err);
    CHECK(rf != NULL, "%s", err.msg);
    if (!rf)
        return;
    CHECK(mets_recframes_count(rf) == 3);
    CHECK_NEAR(mets_recframes_seconds(rf), 0.05, 1e-12);
    kept k = {0};
    CHECK(mets_recframes_send(rf, keep_frame, &k, &err) == 0, "%s", err.msg);
    mets_recframes_close(rf);
    mets_frame *f = &k.first;
    CHECK(k.frames == 3 && f->nsamples == 2 && k.last.nsamples == 1 && k.last.seq == 2, "%d frames", k.frames);
    CHECK(!strcmp(f->stream_id, "bed-3"), "stream id '%s': the file name", f->stream_id);
    CHECK(f->rate_hz == 100.0 && f->nleads == 2 && f->leads[0] == METS_LEAD_V1 && f->leads[1] == METS_LEAD_II);
    CHECK(f->gain[0] == 1000.0 && f->baseline[0] == 0 && f->has_invalid && f->invalid_sample == -32768);
    CHECK(f->t0_us == o.t0_us + 10000000LL && k.last.t0_us == o.t0_us + 10040000LL, "t0 from the time column");
    /* lead-major: V1 then II; the empty V1 cell invalid */
    const int32_t want[4] = {500, -32768, -1250, 1};
    for (int i = 0; i < 4; i++)
        CHECK(k.adc[i] == want[i], "sample %d: %d ADC, expected %d", i, k.adc[i], want[i]);
}

static void csv_with_sample_column_takes_the_given_rate(void)
{
    const char *path = csv_file("s.csv", "sample,I\n7,0.1\n8,0.2\n9,0.3\n");
    mets_recframes_opts o = mets_recframes_default_opts();
    o.csv_rate_hz = 250, o.stream_id = "bed-9";
    kept k = {0};
    mets_err err;
    CHECK(mets_recframes_each(path, &o, keep_frame, &k, &err) == 0, "%s", err.msg);
    CHECK(k.frames == 1 && k.first.nsamples == 3 && k.first.rate_hz == 250.0 && !strcmp(k.first.stream_id, "bed-9"));
    CHECK(k.first.t0_us == o.t0_us + 28000, "sample 7 at 250 Hz is 28 ms");
    o.csv_rate_hz = 0;
    CHECK(mets_recframes_each(path, &o, keep_frame, &k, &err) == METS_EINVAL && strstr(err.msg, ":1: ") &&
          strstr(err.msg, "--rate"), "%s", err.msg);
}

/* Each bad file is refused at open, naming the file and line of the problem. */
static void bad_csv_is_refused_with_its_line(void)
{
    static const struct {
        const char *text, *where, *what;
    } bad[] = {
        {"seconds,I\n0,1\n", "bad.csv:1: ", "'time'"},
        {"time,I,Foo\n0,1,2\n", "bad.csv:1: ", "column 3"},
        {"time,I,I\n0,1,2\n", "bad.csv:1: ", "column 3"},
        {"time\n0\n0.01\n", "bad.csv:1: ", "no lead columns"},
        {"time,I\n0,1\n0.004,1\n0.008,abc\n", "bad.csv:4: ", "'abc'"},
        {"time,I\n0,1\n0.004,1\n0.008,inf\n", "bad.csv:4: ", "number in mV"},
        {"time,I\n0,1\n0.004,1\n0.008,1500\n", "bad.csv:4: ", "32.767"},
        {"time,I\n0,1\n0.004,1\n0.008,1,2\n", "bad.csv:4: ", "fields"},
        {"time,I\n0,1\n0.004,1\n0.008,1\n0.016,1\n", "bad.csv:5: ", "uniform"},
        {"time,I\n0,1\n0,1\n", "bad.csv:3: ", "after"},
        {"time,I\n0,1\n\n0.004,1\nx,1\n", "bad.csv:5: ", "time in seconds"},
        {"time,I\n0,1\n", "bad.csv: ", "at least 2"},
        {"time,I\n0,1\n1,1\n", "bad.csv: ", "1 Hz"},
    };
    mets_recframes_opts o = mets_recframes_default_opts();
    mets_err err;
    int got = 0;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *path = csv_file("bad.csv", bad[i].text);
        CHECK(mets_recframes_open(path, &o, &err) == NULL && err.code < 0, "case %zu opened", i);
        CHECK(strstr(err.msg, bad[i].where) && strstr(err.msg, bad[i].what), "case %zu: '%s', expected '%s' and '%s'",
              i, err.msg, bad[i].where, bad[i].what);
        CHECK(mets_recframes_each(path, &o, count_leads, &got, &err) < 0 && got == 0, "case %zu: a frame was made", i);
    }
    const char *gap = csv_file("gap.csv", "sample,I\n0,1\n1,1\n3,1\n");
    o.csv_rate_hz = 360;
    CHECK(mets_recframes_open(gap, &o, &err) == NULL && strstr(err.msg, "gap.csv:4: sample 3, expected 2"), "%s",
          err.msg);
    o.csv_rate_hz = 0;
    CHECK(mets_recframes_open(mets_test_tmp_path("missing.csv"), &o, &err) == NULL && strstr(err.msg, "missing.csv"));
}

/* Times printed with fewer decimals than the rate needs (360 Hz to 3 decimals) still make a uniform rate. */
static void csv_rate_tolerates_rounded_times(void)
{
    char text[8192] = "time,II\n";
    for (int i = 0; i < 360; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%.3f,%d\n", i / 360.0, i % 7);
    mets_recframes_opts o = mets_recframes_default_opts();
    mets_err err;
    mets_recframes *rf = mets_recframes_open(csv_file("r.csv", text), &o, &err);
    CHECK(rf != NULL, "%s", err.msg);
    if (rf)
        CHECK(mets_recframes_count(rf) == 4 && mets_recframes_seconds(rf) == 1.0, "%lld frames",
              (long long)mets_recframes_count(rf));
    mets_recframes_close(rf);
}

int main(void)
{
    RUN(record_becomes_exact_frames);
    RUN(options_choose_leads_and_refuse_nonsense);
    RUN(csv_with_time_column_becomes_frames_in_microvolts);
    RUN(csv_with_sample_column_takes_the_given_rate);
    RUN(bad_csv_is_refused_with_its_line);
    RUN(csv_rate_tolerates_rounded_times);
    mets_test_remove_tmpdir();
    return mets_test_summary();
}
