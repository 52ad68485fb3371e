/* Test helper for test_bad_input.sh: puts a corpus of malformed EcgFrames on ecg.frames, interleaved with
 * three good streams, and writes a manifest with one JSON line per message:
 *     {"kind": "...", "expect": "REASON", "partition": P, "offset": O, "len": N, "hex": "..."}
 * `expect` is the dead-letter reason name the message must get (pipeline/frame.h: mets_frame_reason_name),
 * "any" for random bytes (refused, for whatever reason), or "ok" for a frame that must not be
 * dead-lettered: the good streams good-a (in order), good-b (the same frames out of order and duplicated,
 * which the windower puts right) and good-c (12 leads at 500 Hz). The expected reasons are written here by
 * hand from proto/mets.proto's rules, not computed with the decoder under test.
 * With --stream-cap it puts only valid frames of two streams beyond a daemon's streams.max_streams of 3
 * (run it after the first corpus is consumed, so that the good streams hold the three places).
 * Messages are built with the generated protobuf-c code or written byte by byte where protobuf-c could
 * not write them (wrong wire types, lengths beyond the buffer).
 * usage: make_bad_frames [--stream-cap] BOOTSTRAP MANIFEST */
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/fixtures/bad_frame_bytes.h"
#include "mets.pb-c.h"

#define T0 1714564800000000LL /* 2024-05-01T12:00:00Z */
#define TOPIC "ecg.frames"
#define MAX_MSGS 512
#define MAX_LEADS 1000
#define INVALID (-32768)

typedef struct msg {
    const char *kind, *expect;
    char key[48];
    uint8_t *bytes; /* NULL: a null value (a tombstone) */
    size_t len;
    int32_t partition;
    int64_t offset;
} msg;

static msg msgs[MAX_MSGS];
static int nmsgs;

static void add(const char *kind, const char *expect, const char *key, const void *bytes, size_t len)
{
    if (nmsgs == MAX_MSGS) {
        fprintf(stderr, "make_bad_frames: more than %d messages\n", MAX_MSGS);
        exit(1);
    }
    msg *m = &msgs[nmsgs++];
    m->kind = kind, m->expect = expect, m->len = len, m->partition = -1, m->offset = -1;
    snprintf(m->key, sizeof m->key, "%s", key);
    m->bytes = bytes ? malloc(len ? len : 1) : NULL;
    if (bytes)
        memcpy(m->bytes, bytes, len);
}

/* A frame in protobuf-c's structs that a case spoils before packing; leads own their sample arrays. */
typedef struct frame {
    Mets__V1__EcgFrame m;
    Mets__V1__Lead lead[MAX_LEADS], *leadp[MAX_LEADS];
    uint32_t pace[300];
} frame;

static const char *const lead_names[12] = {"I", "II", "III", "aVR", "aVL", "aVF",
                                           "V1", "V2", "V3", "V4", "V5", "V6"};

/* An ECG-like signal in ADC units at gain 200: a QRS spike and a T wave once a second, lead-scaled. */
static int32_t ecg_adc(int lead, double t)
{
    double ph = t - floor(t);
    double v = 1.2 * exp(-pow((ph - 0.3) / 0.012, 2)) + 0.3 * exp(-pow((ph - 0.55) / 0.05, 2)) -
               0.1 * exp(-pow((ph - 0.27) / 0.01, 2));
    return (int32_t)lrint(v * 200 * (1 + 0.1 * lead));
}

/* A valid 1 s frame of `stream` with sequence number `seq` (t0 = T0 + seq s): `nleads` leads at `rate`. */
static void frame_init(frame *f, const char *stream, uint64_t seq, int nleads, double rate)
{
    int n = (int)rate;
    memset(f, 0, sizeof *f);
    mets__v1__ecg_frame__init(&f->m);
    f->m.schema_version = 1;
    f->m.stream_id = (char *)stream;
    f->m.source = "make_bad_frames";
    f->m.seq = seq;
    f->m.t0_us = T0 + (int64_t)seq * 1000000;
    f->m.sample_rate_hz = rate;
    f->m.invalid_case = METS__V1__ECG_FRAME__INVALID_INVALID_SAMPLE;
    f->m.invalid_sample = INVALID;
    for (int i = 0; i < nleads; i++) {
        mets__v1__lead__init(&f->lead[i]);
        f->lead[i].name = (char *)lead_names[i % 12];
        f->lead[i].gain = 200;
        f->lead[i].n_samples = (size_t)n;
        f->lead[i].samples = malloc((size_t)n * sizeof(int32_t));
        for (int j = 0; j < n; j++)
            f->lead[i].samples[j] = ecg_adc(i % 12, (double)seq + j / rate);
        f->leadp[i] = &f->lead[i];
    }
    f->m.n_leads = (size_t)nleads;
    f->m.leads = f->leadp;
}

static void frame_free(frame *f)
{
    for (int i = 0; i < MAX_LEADS; i++)
        free(f->lead[i].samples);
    memset(f, 0, sizeof *f);
}

/* Packs f and adds it as one message keyed by its stream id (or "bad" when that is not usable as a key). */
static void add_frame(const char *kind, const char *expect, frame *f)
{
    size_t len = mets__v1__ecg_frame__get_packed_size(&f->m);
    uint8_t *buf = malloc(len ? len : 1);
    mets__v1__ecg_frame__pack(&f->m, buf);
    add(kind, expect, strcmp(expect, "ok") ? "bad" : f->m.stream_id, buf, len);
    free(buf);
}

static frame *fr; /* the frame every case starts from; big, so not on the stack */

/* A fresh valid frame of a bad-input case: 3 leads of 1 s at 250 Hz. */
static frame *base(void)
{
    frame_free(fr);
    frame_init(fr, "bad-input", 7, 3, 250);
    return fr;
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

/* Cuts of a valid frame inside a length-delimited field (never between two leads, where protobuf cannot
 * tell a cut frame from one with fewer leads): a string in the header, the first and the last lead. */
static void truncated(void)
{
    frame *f = base();
    size_t len = mets__v1__ecg_frame__get_packed_size(&f->m);
    uint8_t *buf = malloc(len);
    mets__v1__ecg_frame__pack(&f->m, buf);
    size_t first_lead = len, lead_bytes = mets__v1__lead__get_packed_size(&f->lead[0]);
    for (int i = 0; i < 3; i++) /* a tag byte and a 2-byte length each: every lead is 128..16383 bytes */
        first_lead -= 1 + 2 + mets__v1__lead__get_packed_size(&f->lead[i]);
    const size_t cuts[] = {5, first_lead + 10, first_lead + lead_bytes / 2, len - 100, len - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++)
        add("truncated protobuf", "decode", "bad", buf, cuts[i]);
    free(buf);
}

/* Bytes protobuf-c cannot write: wrong wire types, and lengths beyond the buffer (tests/fixtures). */
static void hand_written_bytes(void)
{
    for (size_t i = 0; i < sizeof mets_bad_wire_types / sizeof *mets_bad_wire_types; i++)
        add("wrong wire type", "decode", "bad", mets_bad_wire_types[i].b, mets_bad_wire_types[i].len);
    for (size_t i = 0; i < sizeof mets_bad_lengths / sizeof *mets_bad_lengths; i++)
        add("length prefix beyond the buffer", "decode", "bad", mets_bad_lengths[i].b, mets_bad_lengths[i].len);
}

static void random_bytes(void)
{
    uint8_t b[512];
    for (int i = 0; i < 10; i++) {
        size_t n = 1 + rnd() % sizeof b;
        for (size_t j = 0; j < n; j++)
            b[j] = (uint8_t)rnd();
        add("random bytes", "any", "bad", b, n);
        b[0] = 0x07; /* field 0, wire type 7: no decoder reads past it */
        add("random bytes after an invalid tag", "decode", "bad", b, n);
    }
}

static void bad_schema_versions(void)
{
    const uint32_t v[] = {0, 2, UINT32_MAX};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        base()->m.schema_version = v[i];
        add_frame("missing or newer schema_version", "schema_version", fr);
    }
    add("empty message", "schema_version", "bad", "", 0); /* all fields default: no schema_version */
    add("null message (tombstone)", "schema_version", "bad", NULL, 0);
}

static void bad_texts(void)
{
    static char long_id[130], huge_id[4097];
    memset(long_id, 'x', 129);
    memset(huge_id, 'y', 4096);
    const char *const ids[] = {"", long_id, huge_id, "bed\xc3\x28", "bed\xc0\xaf", "bed\xed\xa0\x80", "\xff",
                               "bed\xe2\x82"};
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
        base()->m.stream_id = (char *)ids[i];
        add_frame(i < 3 ? "empty or too long stream_id" : "stream_id not UTF-8", "stream_id", fr);
    }
    const char *const sources[] = {long_id, "gw\xfe", "gw\xf4\x90\x80\x80"}; /* beyond U+10FFFF */
    for (size_t i = 0; i < sizeof sources / sizeof *sources; i++) {
        base()->m.source = (char *)sources[i];
        add_frame(i < 1 ? "too long source" : "source not UTF-8", "source", fr);
    }
    /* A NUL inside a text field (protobuf-c cannot write one: its '#' is replaced after packing). */
    static const char *const marked[][3] = {{"good-a#x", "gateway-1", "stream_id"}, {"bed-n", "gw#", "source"}};
    for (int i = 0; i < 2; i++) {
        base()->m.stream_id = (char *)marked[i][0], fr->m.source = (char *)marked[i][1];
        size_t len = mets__v1__ecg_frame__get_packed_size(&fr->m);
        uint8_t *buf = malloc(len);
        mets__v1__ecg_frame__pack(&fr->m, buf);
        *(uint8_t *)memchr(buf, '#', len) = 0;
        add("NUL byte in a text field", marked[i][2], "bad", buf, len);
        free(buf);
    }
}

static void bad_rates_and_times(void)
{
    const double rates[] = {0, -250, -INFINITY, INFINITY, NAN, 49.99, 2000.01, 1e300};
    for (size_t i = 0; i < sizeof rates / sizeof *rates; i++) {
        base()->m.sample_rate_hz = rates[i];
        add_frame(rates[i] > 0 && isfinite(rates[i]) ? "out-of-range sample rate"
                                                     : "zero, negative or non-finite sample rate",
                  "sample_rate", fr);
    }
    const int64_t t0s[] = {0, -1, 4102444800000000LL, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < sizeof t0s / sizeof *t0s; i++) {
        base()->m.t0_us = t0s[i];
        add_frame("t0 outside 2000..2100", "t0", fr);
    }
}

static void bad_leads(void)
{
    base()->m.n_leads = 0;
    add_frame("no leads", "no_leads", fr);
    const char *const names[] = {"V7", "", "lead II", "\xff\xfe", "I\xcc", "II "};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        base()->lead[1].name = (char *)names[i];
        add_frame(i == 3 || i == 4 ? "lead name not UTF-8" : "unknown lead name", "lead_name", fr);
    }
    frame_free(fr);
    frame_init(fr, "bad-input", 7, 13, 250); /* 12 standard leads, then I again */
    add_frame("13 leads", "duplicate_lead", fr);
    fr->lead[12].name = "V7";
    add_frame("13 leads", "lead_name", fr);
    frame_free(fr);
    frame_init(fr, "bad-input", 7, MAX_LEADS, 250);
    add_frame("1000 leads", "duplicate_lead", fr);
    base()->lead[2].name = "ii";
    add_frame("duplicate lead", "duplicate_lead", fr);
    base()->lead[2].n_samples = 249;
    add_frame("lead count vs samples mismatch", "lead_length", fr);
    base()->lead[0].n_samples = 0;
    add_frame("lead count vs samples mismatch", "lead_length", fr);
}

static void absurd_sizes(void)
{
    frame *f = base();
    for (int i = 0; i < 3; i++)
        f->lead[i].n_samples = 0;
    add_frame("no samples", "frame_size", f);
    frame_free(fr);
    frame_init(fr, "bad-input", 7, 3, 2501); /* 2501 samples... */
    fr->m.sample_rate_hz = 250;              /* ...at 250 Hz: more than 10 s */
    add_frame("huge sample count", "frame_size", fr);
    frame_free(fr);
    frame_init(fr, "bad-input", 7, 12, 20001); /* 12 leads of 10.0005 s at 2000 Hz: about 480 kB */
    fr->m.sample_rate_hz = 2000;
    add_frame("huge sample count", "frame_size", fr);
    /* A message beyond METS_FRAME_MAX_BYTES (2 MiB) is refused before parsing. */
    size_t big = (2u << 20) + 1;
    uint8_t *zeros = calloc(big, 1);
    add("message over 2 MiB", "frame_size", "bad", zeros, big);
    /* Just under a default producer's message.max.bytes (1,000,000): a gateway can send it; its dead letter
     * carries it and some 100 bytes more. */
    zeros[0] = 0x07; /* field 0, wire type 7 */
    add("message just under 1 MB", "decode", "bad", zeros, 999900);
    free(zeros);
}

static void non_finite_values(void)
{
    const double gains[] = {0, -0.0, -200, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof gains / sizeof *gains; i++) {
        base()->lead[1].gain = gains[i];
        add_frame("zero, negative or NaN gain", "gain", fr);
    }
    base()->lead[0].gain = 1e-300; /* positive and finite, but every sample lands beyond float */
    add_frame("inf scaled value (tiny gain)", "sample_value", fr);
    base()->lead[2].gain = 5e-324; /* the smallest subnormal */
    add_frame("inf scaled value (tiny gain)", "sample_value", fr);
    frame *f = base(); /* (INT32_MAX - INT32_MIN) / 1e-29 = 4.3e38 > FLT_MAX */
    f->lead[1].gain = 1e-29, f->lead[1].baseline = INT32_MIN, f->lead[1].samples[100] = INT32_MAX;
    add_frame("inf scaled value (extreme baseline)", "sample_value", f);
}

static void bad_pace_marks(void)
{
    frame *f = base();
    for (int i = 0; i < 257; i++)
        f->pace[i] = (uint32_t)i % 250;
    f->m.n_pace_marks = 257, f->m.pace_marks = f->pace;
    add_frame("too many pace marks", "pace_marks", f);
    const uint32_t past[] = {250, UINT32_MAX};
    for (size_t i = 0; i < 2; i++) {
        f = base();
        f->pace[0] = past[i], f->m.n_pace_marks = 1, f->m.pace_marks = f->pace;
        add_frame("pace mark past the frame", "pace_marks", f);
    }
}

/* The malformed cases, in one list so that the good frames can be spread between them. */
static void (*const bad_cases[])(void) = {truncated,  hand_written_bytes,
                                           random_bytes, bad_schema_versions, bad_texts,
                                           bad_rates_and_times, bad_leads, absurd_sizes,
                                           non_finite_values, bad_pace_marks};

/* good-b's order: good-a's 40 seqs with three reorderings (a pair, a triple reversed with one held frame
 * sent twice) and three duplicates of frames already consumed; its last frames are in order, as good-a's. */
static const int good_b_order[] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  11, 10, 12, 13, 14, 15, 12, 16, 17, 18,
                                   19, 22, 22, 21, 20, 23, 24, 25, 25, 26, 27, 28, 29, 0,  30, 31, 32, 33, 34, 35,
                                   36, 37, 38, 39};

/* The corpus: every bad case, with frames of good-a, good-b and good-c produced between them. */
static void corpus(void)
{
    frame *g = malloc(sizeof *g);
    size_t nb = sizeof good_b_order / sizeof *good_b_order, ncase = sizeof bad_cases / sizeof *bad_cases;
    for (size_t i = 0, c = 0; i < nb; i++) {
        if (i < 40) {
            frame_init(g, "good-a", i, 3, 250);
            add_frame("good frame", "ok", g);
            frame_free(g);
        }
        frame_init(g, "good-b", (uint64_t)good_b_order[i], 3, 250);
        add_frame(i > 0 && good_b_order[i] <= good_b_order[i - 1] ? "out-of-order or duplicate seq" : "good frame",
                  "ok", g);
        frame_free(g);
        if (i < 20) {
            frame_init(g, "good-c", i, 12, 500);
            add_frame("good frame", "ok", g);
            frame_free(g);
        }
        if (i % 3 == 2 && c < ncase)
            bad_cases[c++]();
    }
    free(g);
}

static void stream_cap(void)
{
    frame *g = malloc(sizeof *g);
    for (int i = 0; i < 4; i++) {
        frame_init(g, i % 2 ? "cap-2" : "cap-1", (uint64_t)i / 2, 3, 250);
        add_frame("valid frame of a stream beyond the cap", "stream_cap", g);
        frame_free(g);
    }
    free(g);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    msg *x = m->_private;
    if (m->err) {
        fprintf(stderr, "make_bad_frames: %s (%zu bytes): %s\n", x->kind, x->len, rd_kafka_err2str(m->err));
        return;
    }
    x->partition = m->partition, x->offset = m->offset;
}

/* Produces every message in order (one in flight, so Kafka keeps the order of each stream). */
static int produce_all(const char *bootstrap)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "max.in.flight.requests.per.connection", "1", errstr, sizeof errstr) ||
        rd_kafka_conf_set(conf, "message.max.bytes", "10000000", errstr, sizeof errstr)) {
        fprintf(stderr, "make_bad_frames: %s\n", errstr);
        return 1;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "make_bad_frames: %s\n", errstr);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < nmsgs && !rc; i++) {
        msg *m = &msgs[i];
        rd_kafka_resp_err_t e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(TOPIC), RD_KAFKA_V_KEY(m->key, strlen(m->key)),
                                                  RD_KAFKA_V_VALUE(m->bytes, m->len), RD_KAFKA_V_OPAQUE(m),
                                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e)
            fprintf(stderr, "make_bad_frames: %s: %s\n", m->kind, rd_kafka_err2str(e));
        rc = e != 0;
    }
    rc = rd_kafka_flush(rk, 60000) || rc;
    rd_kafka_destroy(rk);
    for (int i = 0; i < nmsgs; i++)
        rc |= msgs[i].offset < 0;
    return rc;
}

static int write_manifest(const char *path)
{
    FILE *out = fopen(path, "w");
    if (!out) {
        perror(path);
        return 1;
    }
    for (int i = 0; i < nmsgs; i++) {
        const msg *m = &msgs[i];
        fprintf(out, "{\"kind\": \"%s\", \"expect\": \"%s\", \"key\": \"%s\", \"partition\": %d, \"offset\": %lld, "
                     "\"null\": %s, \"len\": %zu, \"hex\": \"",
                m->kind, m->expect, m->key, m->partition, (long long)m->offset, m->bytes ? "false" : "true", m->len);
        for (size_t j = 0; m->bytes && j < m->len; j++)
            fprintf(out, "%02x", m->bytes[j]);
        fputs("\"}\n", out);
    }
    return fclose(out) != 0;
}

int main(int argc, char **argv)
{
    int cap = argc == 4 && !strcmp(argv[1], "--stream-cap");
    if (argc != 3 + cap) {
        fprintf(stderr, "usage: make_bad_frames [--stream-cap] BOOTSTRAP MANIFEST\n");
        return 2;
    }
    fr = calloc(1, sizeof *fr);
    if (cap)
        stream_cap();
    else
        corpus();
    frame_free(fr);
    free(fr);
    int rc = produce_all(argv[1 + cap]) || write_manifest(argv[2 + cap]);
    for (int i = 0; i < nmsgs; i++)
        free(msgs[i].bytes);
    return rc;
}
