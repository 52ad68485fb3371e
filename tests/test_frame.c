/* Decode + validate (pipeline/frame.c): values in mV, the round trip through the encoder, one crafted
 * frame per rejection reason, and every truncation of a valid frame. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "fixtures/bad_frame_bytes.h"
#include "harness.h"
#include "mets.pb-c.h"

enum { NL = 3, NS = 250, CAP = 600 }; /* a valid frame: 3 leads of 1 s at 250 Hz; room for 12 s at 50 Hz */
#define T0 1700000000000000LL         /* 2023-11-14 */
#define INVALID (-32768)

/* A valid frame in protobuf-c's own structs, so a test can spoil any field, even ones mets_frame cannot
 * express (unknown lead names, leads of different lengths). */
typedef struct pb_frame {
    Mets__V1__EcgFrame m;
    Mets__V1__Lead lead[NL], *leadp[NL];
    int32_t adc[NL][CAP];
    uint32_t pace[METS_FRAME_MAX_PACE + 1];
} pb_frame;

static void pb_frame_init(pb_frame *p)
{
    static const char *const names[NL] = {"II", "V1", "aVR"};
    memset(p, 0, sizeof *p);
    mets__v1__ecg_frame__init(&p->m);
    p->m.schema_version = 1;
    p->m.stream_id = "bed-7";
    p->m.source = "gateway-3";
    p->m.seq = 42;
    p->m.t0_us = T0;
    p->m.sample_rate_hz = 250;
    p->m.invalid_case = METS__V1__ECG_FRAME__INVALID_INVALID_SAMPLE;
    p->m.invalid_sample = INVALID;
    p->m.pacing = 1;
    p->pace[0] = 10, p->pace[1] = NS - 1;
    p->m.n_pace_marks = 2;
    p->m.pace_marks = p->pace;
    for (int i = 0; i < NL; i++) {
        mets__v1__lead__init(&p->lead[i]);
        p->lead[i].name = (char *)names[i];
        p->lead[i].gain = 200;
        p->lead[i].baseline = 1024 + i;
        for (int j = 0; j < CAP; j++)
            p->adc[i][j] = 1024 + i + (j % 50 - 25) * (i + 1);
        p->lead[i].samples = p->adc[i];
        p->lead[i].n_samples = NS;
        p->leadp[i] = &p->lead[i];
    }
    p->adc[1][7] = INVALID;
    p->m.n_leads = NL;
    p->m.leads = p->leadp;
}

static uint8_t *pb_pack(const pb_frame *p, size_t *len)
{
    *len = mets__v1__ecg_frame__get_packed_size(&p->m);
    uint8_t *buf = malloc(*len + 1);
    mets__v1__ecg_frame__pack(&p->m, buf);
    return buf;
}

/* Decodes `len` bytes and checks they are refused for `want` with a message that contains `words`. */
static void check_bytes_rejected(const uint8_t *buf, size_t len, mets_frame_reason want, const char *words)
{
    mets_frame f = {0};
    mets_frame_reason why;
    mets_err err;
    int rc = mets_frame_decode(buf, len, &f, &why, &err);
    CHECK(rc == METS_EFORMAT, "rc %d for a frame that should be refused for %s", rc, mets_frame_reason_name(want));
    CHECK(why == want, "refused for %s, expected %s (%s)", mets_frame_reason_name(why), mets_frame_reason_name(want),
          rc ? err.msg : "");
    CHECK(rc == 0 || strstr(err.msg, words), "message '%s' does not say '%s'", err.msg, words);
    mets_frame_release(&f);
}

static void check_rejected(const pb_frame *p, mets_frame_reason want, const char *words)
{
    size_t len;
    uint8_t *buf = pb_pack(p, &len);
    check_bytes_rejected(buf, len, want, words);
    free(buf);
}

static void valid_frame_decodes_to_millivolts(void)
{
    pb_frame p;
    pb_frame_init(&p);
    size_t len;
    uint8_t *buf = pb_pack(&p, &len);
    mets_frame f = {0};
    mets_frame_reason why;
    mets_err err;
    CHECK(mets_frame_decode(buf, len, &f, &why, &err) == 0 && why == METS_FRAME_OK);
    CHECK(f.nleads == 3 && f.nsamples == NS && f.rate_hz == 250 && f.t0_us == T0 && f.seq == 42);
    CHECK(!strcmp(f.stream_id, "bed-7") && !strcmp(f.source, "gateway-3"));
    CHECK(f.leads[0] == METS_LEAD_II && f.leads[1] == METS_LEAD_V1 && f.leads[2] == METS_LEAD_AVR);
    CHECK(mets_frame_lead_index(&f, METS_LEAD_AVR) == 2 && mets_frame_lead_index(&f, METS_LEAD_I) == -1);
    CHECK(f.pacing && f.npace == 2 && f.pace[0] == 10 && f.pace[1] == NS - 1);
    CHECK(f.has_invalid && f.invalid_sample == INVALID);
    /* lead V1 sample 0: (1025 + (0 - 25) * 2 - 1025) / 200 = -0.25 mV; sample 7 was the invalid marker */
    CHECK_NEAR(f.mv[NS], -0.25, 1e-7);
    CHECK(isnan(f.mv[NS + 7]));
    CHECK_NEAR(f.mv[2 * NS + 49], 24 * 3 / 200.0, 1e-7);
    mets_frame_release(&f);
    free(buf);
}

/* Values that are whole ADC units at gain 200 survive encode + decode exactly, NaN included. */
static void encode_then_decode_gives_the_same_frame(void)
{
    float mv[2 * 500];
    mets_frame a = {.schema_version = 1, .seq = UINT64_MAX, .t0_us = T0, .rate_hz = 500, .nleads = 2,
                    .nsamples = 500, .leads = {METS_LEAD_V6, METS_LEAD_I}, .gain = {200, 1000},
                    .baseline = {0, -3}, .lead_off = {0, 1}, .has_invalid = 1, .invalid_sample = INT32_MIN,
                    .npace = 1, .pace = {499}, .pacing = 1, .mv = mv};
    strcpy(a.stream_id, "ward 3 / bed 12 — ü");
    for (int j = 0; j < 1000; j++)
        mv[j] = (float)mets_test_randint(-4000, 4000) / (j < 500 ? 200 : 1000);
    mv[3] = mv[777] = NAN;
    uint8_t *buf;
    size_t len;
    mets_err err;
    CHECK(mets_frame_encode(&a, &buf, &len, &err) == 0);
    mets_frame b = {0};
    mets_frame_reason why;
    CHECK(mets_frame_decode(buf, len, &b, &why, &err) == 0, "%s", err.msg);
    CHECK(b.seq == a.seq && b.t0_us == a.t0_us && b.rate_hz == a.rate_hz && !strcmp(b.stream_id, a.stream_id));
    CHECK(!strcmp(b.source, "") && b.nleads == 2 && b.nsamples == 500 && b.leads[0] == METS_LEAD_V6);
    CHECK(b.gain[1] == 1000 && b.baseline[1] == -3 && b.lead_off[1] && !b.lead_off[0]);
    CHECK(b.has_invalid && b.invalid_sample == INT32_MIN && b.pacing && b.npace == 1 && b.pace[0] == 499);
    int same = 1;
    for (int j = 0; j < 1000; j++)
        same &= isnan(mv[j]) ? isnan(b.mv[j]) : b.mv[j] == mv[j];
    CHECK(same, "samples differ after the round trip");
    mets_frame_release(&b);
    free(buf);
}

/* A second, longer frame decoded into the same struct grows its buffer; release leaves it zeroed. */
static void decode_reuses_the_frame(void)
{
    pb_frame p;
    pb_frame_init(&p);
    mets_frame f = {0};
    mets_frame_reason why;
    mets_err err;
    p.m.n_pace_marks = 0; /* they lie past the shorter frame */
    for (int n = 100; n <= 500; n += 400) {
        p.m.sample_rate_hz = n;
        for (int i = 0; i < NL; i++)
            p.lead[i].n_samples = (size_t)n;
        size_t len;
        uint8_t *buf = pb_pack(&p, &len);
        CHECK(mets_frame_decode(buf, len, &f, &why, &err) == 0 && f.nsamples == n && f.mv_cap >= (size_t)n * NL,
              "%s", err.msg);
        free(buf);
    }
    mets_frame_release(&f);
    CHECK(f.mv == NULL && f.mv_cap == 0 && f.nleads == 0);
}

static void encoder_refuses_what_it_cannot_write(void)
{
    float mv[2] = {NAN, 0};
    mets_frame f = {.schema_version = 1, .nleads = 1, .nsamples = 2, .gain = {200}, .mv = mv};
    uint8_t *buf;
    size_t len;
    mets_err err;
    CHECK(mets_frame_encode(&f, &buf, &len, &err) == METS_EINVAL && strstr(err.msg, "no invalid marker"));
    mv[0] = 1e30f;
    CHECK(mets_frame_encode(&f, &buf, &len, &err) == METS_EINVAL && strstr(err.msg, "no ADC value"));
    f.nleads = 13;
    CHECK(mets_frame_encode(&f, &buf, &len, &err) == METS_EINVAL && buf == NULL);
}

static void undecodable_bytes_are_refused(void)
{
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
    check_bytes_rejected(junk, sizeof junk, METS_FRAME_DECODE, "not a protobuf EcgFrame");
    size_t big = METS_FRAME_MAX_BYTES + 1;
    uint8_t *zeros = calloc(big, 1);
    check_bytes_rejected(zeros, big, METS_FRAME_FRAME_SIZE, "at most");
    free(zeros);
}

static void missing_or_newer_schema_version_is_refused(void)
{
    pb_frame p;
    pb_frame_init(&p);
    p.m.schema_version = 0;
    check_rejected(&p, METS_FRAME_SCHEMA_VERSION, "schema_version is missing");
    p.m.schema_version = 2;
    check_rejected(&p, METS_FRAME_SCHEMA_VERSION, "schema_version 2 is newer");
}

static void bad_stream_id_and_source_are_refused(void)
{
    char long_id[METS_FRAME_MAX_ID + 2];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = 0;
    pb_frame p;
    pb_frame_init(&p);
    p.m.stream_id = "";
    check_rejected(&p, METS_FRAME_STREAM_ID, "stream_id is empty");
    p.m.stream_id = long_id;
    check_rejected(&p, METS_FRAME_STREAM_ID, "stream_id is 129 bytes long");
    p.m.stream_id = "bed\xc3\x28";
    check_rejected(&p, METS_FRAME_STREAM_ID, "stream_id is not valid UTF-8");
    p.m.stream_id = "bed-7";
    p.m.source = "\xed\xa0\x80"; /* a UTF-16 surrogate encoded as UTF-8 */
    check_rejected(&p, METS_FRAME_SOURCE, "source is not valid UTF-8");
}

/* Packs p with text `marked` in it, then turns its '#' into a NUL byte: protobuf-c cannot write one. */
static void check_nul_rejected(pb_frame *p, const char *marked, mets_frame_reason want, const char *words)
{
    size_t len, n = strlen(marked);
    uint8_t *buf = pb_pack(p, &len), *at = NULL;
    for (size_t i = 0; i + n <= len && !at; i++)
        if (!memcmp(buf + i, marked, n))
            at = buf + i;
    CHECK(at, "'%s' not in the packed frame", marked);
    if (at) {
        *(uint8_t *)memchr(at, '#', n) = 0;
        check_bytes_rejected(buf, len, want, words);
    }
    free(buf);
}

static void nul_bytes_in_text_are_refused(void)
{
    pb_frame p;
    pb_frame_init(&p);
    p.m.stream_id = "bed-7#b"; /* would arrive as "bed-7" and merge with that stream */
    check_nul_rejected(&p, "bed-7#b", METS_FRAME_STREAM_ID, "stream_id holds a NUL byte");
    p.m.stream_id = "bed-7";
    p.m.source = "gw#3";
    check_nul_rejected(&p, "gw#3", METS_FRAME_SOURCE, "source holds a NUL byte");
    p.m.source = "gateway-3";
    p.lead[1].name = "V1#";
    check_nul_rejected(&p, "V1#", METS_FRAME_LEAD_NAME, "a lead name holds a NUL byte");
}

static void absurd_sample_rates_are_refused(void)
{
    const double rates[] = {0, -250, NAN, INFINITY, 49.9, 2000.5, 1e9};
    pb_frame p;
    pb_frame_init(&p);
    for (size_t i = 0; i < sizeof rates / sizeof *rates; i++) {
        p.m.sample_rate_hz = rates[i];
        check_rejected(&p, METS_FRAME_SAMPLE_RATE, "is outside 50..2000 Hz");
    }
}

static void absurd_t0_is_refused(void)
{
    const int64_t t0s[] = {0, -1, METS_FRAME_MIN_T0_US - 1, METS_FRAME_MAX_T0_US, INT64_MAX, INT64_MIN};
    pb_frame p;
    pb_frame_init(&p);
    for (size_t i = 0; i < sizeof t0s / sizeof *t0s; i++) {
        p.m.t0_us = t0s[i];
        check_rejected(&p, METS_FRAME_T0, "not a time between the years 2000 and 2100");
    }
}

static void frame_without_leads_is_refused(void)
{
    pb_frame p;
    pb_frame_init(&p);
    p.m.n_leads = 0;
    check_rejected(&p, METS_FRAME_NO_LEADS, "no leads");
}

static void unknown_lead_name_is_refused(void)
{
    pb_frame p;
    pb_frame_init(&p);
    p.lead[2].name = "V7";
    check_rejected(&p, METS_FRAME_LEAD_NAME, "lead 2 is named 'V7', not one of the 12 standard leads");
    p.lead[2].name = "";
    check_rejected(&p, METS_FRAME_LEAD_NAME, "named ''");
}

static void duplicate_lead_is_refused(void)
{
    pb_frame p;
    pb_frame_init(&p);
    p.lead[2].name = "ii"; /* names match without case, so this is II again */
    check_rejected(&p, METS_FRAME_DUPLICATE_LEAD, "lead II appears twice");
}

static void leads_of_different_lengths_are_refused(void)
{
    pb_frame p;
    pb_frame_init(&p);
    p.lead[1].n_samples = NS - 1;
    check_rejected(&p, METS_FRAME_LEAD_LENGTH, "lead V1 has 249 samples but lead II has 250");
}

static void empty_or_overlong_leads_are_refused(void)
{
    pb_frame p;
    pb_frame_init(&p);
    for (int i = 0; i < NL; i++)
        p.lead[i].n_samples = 0;
    check_rejected(&p, METS_FRAME_FRAME_SIZE, "0 samples per lead at 250 Hz; 1 to 10 s of samples allowed");
    p.m.sample_rate_hz = 50;
    for (int i = 0; i < NL; i++)
        p.lead[i].n_samples = 501;
    check_rejected(&p, METS_FRAME_FRAME_SIZE, "501 samples per lead at 50 Hz");
}

static void bad_gain_is_refused(void)
{
    const double gains[] = {0, -200, NAN, INFINITY};
    pb_frame p;
    pb_frame_init(&p);
    for (size_t i = 0; i < sizeof gains / sizeof *gains; i++) {
        p.lead[1].gain = gains[i];
        check_rejected(&p, METS_FRAME_GAIN, "lead V1 has gain");
    }
}

/* A tiny but positive gain passes the gain check and sends samples beyond float. */
static void samples_beyond_float_are_refused(void)
{
    pb_frame p;
    pb_frame_init(&p);
    p.lead[0].gain = 1e-300;
    check_rejected(&p, METS_FRAME_SAMPLE_VALUE, "lead II sample 0 (999 ADC) is not finite in mV");
}

static void bad_pace_marks_are_refused(void)
{
    pb_frame p;
    pb_frame_init(&p);
    p.pace[1] = NS;
    check_rejected(&p, METS_FRAME_PACE_MARKS, "pace mark at sample 250, past the frame's 250 samples");
    p.pace[1] = 0;
    p.m.n_pace_marks = METS_FRAME_MAX_PACE + 1;
    check_rejected(&p, METS_FRAME_PACE_MARKS, "257 pace marks, at most 256");
}

/* Every prefix of a valid frame is refused, except those that end exactly between two leads: protobuf
 * cannot tell such a prefix from a frame with fewer leads (Kafka delivers whole messages, so it does not
 * happen there). Leads are encoded last, so no prefix loses a header field unseen. */
static void every_truncation_is_refused_or_a_whole_lead_shorter(void)
{
    pb_frame p;
    pb_frame_init(&p);
    size_t len;
    uint8_t *buf = pb_pack(&p, &len);
    mets_frame f = {0};
    mets_frame_reason why;
    mets_err err;
    int accepted = 0, wrong = 0;
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n + 1); /* its own allocation, so ASan sees a read past the cut */
        memcpy(cut, buf, n);
        if (mets_frame_decode(cut, n, &f, &why, &err) == 0) {
            accepted++;
            wrong += f.nleads >= NL || f.nsamples != NS || f.seq != 42;
        } else {
            wrong += why == METS_FRAME_OK;
        }
        free(cut);
    }
    CHECK(accepted == NL - 1 && wrong == 0, "%d prefixes accepted, %d wrongly", accepted, wrong);
    mets_frame_release(&f);
    free(buf);
}

/* Bytes protobuf-c cannot take as an EcgFrame: a declared field with another wire type, wire type 7, field
 * number 0, an unterminated group, a varint of 11 bytes. */
static void wrong_wire_types_are_refused(void)
{
    for (size_t i = 0; i < sizeof mets_bad_wire_types / sizeof *mets_bad_wire_types; i++)
        check_bytes_rejected(mets_bad_wire_types[i].b, mets_bad_wire_types[i].len, METS_FRAME_DECODE,
                             "not a protobuf EcgFrame");
}

static void lengths_beyond_the_buffer_are_refused(void)
{
    for (size_t i = 0; i < sizeof mets_bad_lengths / sizeof *mets_bad_lengths; i++)
        check_bytes_rejected(mets_bad_lengths[i].b, mets_bad_lengths[i].len, METS_FRAME_DECODE,
                             "not a protobuf EcgFrame");
}

/* Zero bytes are a valid protobuf message with every field at its default: refused for the missing
 * schema_version, whether Kafka hands over an empty value or a null one. */
static void empty_message_is_refused_for_its_schema_version(void)
{
    static const uint8_t none[1];
    check_bytes_rejected(none, 0, METS_FRAME_SCHEMA_VERSION, "schema_version is missing");
    check_bytes_rejected(NULL, 0, METS_FRAME_SCHEMA_VERSION, "schema_version is missing");
}

/* Checks run in a fixed order and the first failing one names the reason: a frame wrong everywhere in its
 * header is refused for each field in turn as the ones before it are mended. */
static void the_first_failing_check_names_the_reason(void)
{
    pb_frame p;
    pb_frame_init(&p);
    p.m.schema_version = 0, p.m.stream_id = "", p.m.source = "\xff", p.m.sample_rate_hz = 0, p.m.t0_us = 0;
    p.m.n_leads = 0;
    check_rejected(&p, METS_FRAME_SCHEMA_VERSION, "missing");
    p.m.schema_version = 1;
    check_rejected(&p, METS_FRAME_STREAM_ID, "empty");
    p.m.stream_id = "bed-7";
    check_rejected(&p, METS_FRAME_SOURCE, "not valid UTF-8");
    p.m.source = "";
    check_rejected(&p, METS_FRAME_SAMPLE_RATE, "outside");
    p.m.sample_rate_hz = 250;
    check_rejected(&p, METS_FRAME_T0, "not a time");
    p.m.t0_us = T0;
    check_rejected(&p, METS_FRAME_NO_LEADS, "no leads");
}

static void non_utf8_or_padded_lead_names_are_refused(void)
{
    const char *const names[] = {"\xff\xfe", "I\xcc", "II ", "lead II"};
    pb_frame p;
    pb_frame_init(&p);
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        p.lead[1].name = (char *)names[i];
        check_rejected(&p, METS_FRAME_LEAD_NAME, "not one of the 12 standard leads");
    }
}

/* Thirteen leads cannot all be standard and distinct: the 13th is a duplicate or an unknown name. */
static void thirteen_leads_are_refused(void)
{
    static const char *const names[13] = {"I", "II", "III", "aVR", "aVL", "aVF", "V1",
                                          "V2", "V3", "V4", "V5", "V6", "I"};
    static int32_t adc[250];
    Mets__V1__Lead lead[13], *leadp[13];
    pb_frame p;
    pb_frame_init(&p);
    for (int i = 0; i < 13; i++) {
        mets__v1__lead__init(&lead[i]);
        lead[i].name = (char *)names[i], lead[i].gain = 200, lead[i].n_samples = 250, lead[i].samples = adc;
        leadp[i] = &lead[i];
    }
    p.m.n_leads = 13, p.m.leads = leadp;
    check_rejected(&p, METS_FRAME_DUPLICATE_LEAD, "lead I appears twice");
    lead[12].name = "V7";
    check_rejected(&p, METS_FRAME_LEAD_NAME, "lead 12 is named 'V7'");
}

/* 12 full leads one sample past 10 s at the highest rate: about 240,000 samples, refused by count. */
static void huge_sample_counts_are_refused(void)
{
    enum { N = METS_FRAME_MAX_SAMPLES + 1 };
    static int32_t adc[N];
    Mets__V1__Lead lead[METS_NLEADS], *leadp[METS_NLEADS];
    pb_frame p;
    pb_frame_init(&p);
    p.m.sample_rate_hz = METS_FRAME_MAX_RATE_HZ, p.m.n_pace_marks = 0;
    for (int i = 0; i < METS_NLEADS; i++) {
        mets__v1__lead__init(&lead[i]);
        lead[i].name = (char *)mets_lead_name((mets_lead)i), lead[i].gain = 200;
        lead[i].n_samples = N, lead[i].samples = adc;
        leadp[i] = &lead[i];
    }
    p.m.n_leads = METS_NLEADS, p.m.leads = leadp;
    check_rejected(&p, METS_FRAME_FRAME_SIZE, "20001 samples per lead at 2000 Hz");
}

/* A negative zero is not a positive gain (proto3 does not send a field equal to 0: it arrives as 0). */
static void negative_zero_gain_is_refused(void)
{
    pb_frame p;
    pb_frame_init(&p);
    p.lead[0].gain = -0.0;
    check_rejected(&p, METS_FRAME_GAIN, "lead II has gain 0,");
}

/* Gains that pass the gain check yet scale a sample beyond float: the smallest subnormal, and a small gain
 * with the baseline and the sample at opposite ends of int32 ((2^32 - 1) / 1e-29 > FLT_MAX). */
static void extreme_gain_and_baseline_give_samples_beyond_float(void)
{
    pb_frame p;
    pb_frame_init(&p);
    p.lead[2].gain = 5e-324;
    check_rejected(&p, METS_FRAME_SAMPLE_VALUE, "lead aVR sample 0");
    pb_frame_init(&p);
    p.lead[1].gain = 1e-29, p.lead[1].baseline = INT32_MIN, p.adc[1][100] = INT32_MAX;
    check_rejected(&p, METS_FRAME_SAMPLE_VALUE, "lead V1 sample 100 (2147483647 ADC) is not finite in mV");
}

static void pace_mark_at_uint32_max_is_refused(void)
{
    pb_frame p;
    pb_frame_init(&p);
    p.pace[0] = UINT32_MAX;
    check_rejected(&p, METS_FRAME_PACE_MARKS, "pace mark at sample 4294967295");
}

static void reason_names_are_stable(void)
{
    CHECK(!strcmp(mets_frame_reason_name(METS_FRAME_OK), "ok"));
    CHECK(!strcmp(mets_frame_reason_name(METS_FRAME_SAMPLE_RATE), "sample_rate"));
    CHECK(!strcmp(mets_frame_reason_name(METS_FRAME_PACE_MARKS), "pace_marks"));
    CHECK(!strcmp(mets_frame_reason_name(METS_FRAME_NREASONS), "unknown"));
    CHECK(!strcmp(mets_lead_name(METS_LEAD_AVL), "aVL") && mets_lead_name(METS_NLEADS) == NULL);
}

int main(void)
{
    RUN(valid_frame_decodes_to_millivolts);
    RUN(encode_then_decode_gives_the_same_frame);
    RUN(decode_reuses_the_frame);
    RUN(encoder_refuses_what_it_cannot_write);
    RUN(undecodable_bytes_are_refused);
    RUN(missing_or_newer_schema_version_is_refused);
    RUN(bad_stream_id_and_source_are_refused);
    RUN(nul_bytes_in_text_are_refused);
    RUN(absurd_sample_rates_are_refused);
    RUN(absurd_t0_is_refused);
    RUN(frame_without_leads_is_refused);
    RUN(unknown_lead_name_is_refused);
    RUN(duplicate_lead_is_refused);
    RUN(leads_of_different_lengths_are_refused);
    RUN(empty_or_overlong_leads_are_refused);
    RUN(bad_gain_is_refused);
    RUN(samples_beyond_float_are_refused);
    RUN(bad_pace_marks_are_refused);
    RUN(every_truncation_is_refused_or_a_whole_lead_shorter);
    RUN(wrong_wire_types_are_refused);
    RUN(lengths_beyond_the_buffer_are_refused);
    RUN(empty_message_is_refused_for_its_schema_version);
    RUN(the_first_failing_check_names_the_reason);
    RUN(non_utf8_or_padded_lead_names_are_refused);
    RUN(thirteen_leads_are_refused);
    RUN(huge_sample_counts_are_refused);
    RUN(negative_zero_gain_is_refused);
    RUN(extreme_gain_and_baseline_give_samples_beyond_float);
    RUN(pace_mark_at_uint32_max_is_refused);
    RUN(reason_names_are_stable);
    return mets_test_summary();
}
