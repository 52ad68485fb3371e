/* The WFDB readers (ecg/wfdb.c, ecg/annot.c) against the reference reader: every fixture in
 * tests/fixtures/wfdb/ (real excerpts of MIT-BIH, VFDB, PTB-XL and CinC 2017, and a synthetic record)
 * read as the `wfdb` Python package reads it (reference.json, from scripts/make_wfdb_fixtures.py), and
 * every kind of damaged or foreign file refused with the right code and a message naming the file. */
#include "annot.h"
#include "harness.h"
#include "wfdb.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FIXTURES "tests/fixtures/wfdb/"

static json_t *reference;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    if (f && !fseek(f, 0, SEEK_END)) {
        long n = ftell(f);
        rewind(f);
        buf = malloc((size_t)n + 1);
        *len = fread(buf, 1, (size_t)n, f);
        buf[*len] = 0;
    }
    if (f)
        fclose(f);
    return buf;
}

static void spit(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(buf, 1, len, f) == len, "cannot write %s", path);
    if (f)
        fclose(f);
}

/* Copies fixture `from` to the temporary folder as `to`, keeping only its first `len` bytes when len >= 0. */
static void copy_fixture(const char *from, const char *to, long len)
{
    size_t n;
    char *buf = slurp(from, &n);
    CHECK(buf != NULL, "cannot read %s", from);
    if (buf)
        spit(mets_test_tmp_path(to), buf, len >= 0 && (size_t)len < n ? (size_t)len : n);
    free(buf);
}

/* ---- against reference.json ---- */

static int default_adc_res(int format)
{
    return format == 212 ? 12 : format == 80 ? 8 : 16;
}

/* An integer field that the header may leave out: null in the JSON means WFDB's default, `dflt`. */
static long long opt_int(json_t *o, const char *key, long long dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_null(v) ? dflt : json_integer_value(v);
}

static const char *opt_str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_null(v) ? "" : json_string_value(v);
}

static int same_date(const char *a, const char *b)
{
    int x[3] = {-1, -1, -1}, y[3] = {-2, -2, -2};
    sscanf(a, "%d/%d/%d", &x[0], &x[1], &x[2]);
    sscanf(b, "%d/%d/%d", &y[0], &y[1], &y[2]);
    return !memcmp(x, y, sizeof x) || (!*a && !*b);
}

static void check_signal(const char *rec, int s, const mets_wfdb_signal *g, json_t *j)
{
    const char *units = opt_str(j, "units");
    CHECK(!strcmp(g->file_name, json_string_value(json_object_get(j, "file_name"))), "%s/%d", rec, s);
    CHECK(g->format == json_integer_value(json_object_get(j, "format")), "%s/%d", rec, s);
    CHECK(g->byte_offset == json_integer_value(json_object_get(j, "byte_offset")), "%s/%d", rec, s);
    CHECK(g->gain == json_real_value(json_object_get(j, "gain")), "%s/%d: %g", rec, s, g->gain);
    CHECK(g->baseline == json_integer_value(json_object_get(j, "baseline")), "%s/%d: %d", rec, s, g->baseline);
    CHECK(!strcmp(g->units, *units ? units : "mV"), "%s/%d: %s", rec, s, g->units);
    CHECK(g->adc_res == opt_int(j, "adc_res", default_adc_res(g->format)), "%s/%d", rec, s);
    CHECK(g->adc_zero == opt_int(j, "adc_zero", 0), "%s/%d", rec, s);
    CHECK(g->init_value == opt_int(j, "init_value", g->adc_zero), "%s/%d", rec, s);
    CHECK(g->has_checksum == !json_is_null(json_object_get(j, "checksum")), "%s/%d", rec, s);
    CHECK(g->checksum == opt_int(j, "checksum", 0), "%s/%d", rec, s);
    CHECK(g->block_size == opt_int(j, "block_size", 0), "%s/%d", rec, s);
    CHECK(!strcmp(g->description, opt_str(j, "description")), "%s/%d: '%s'", rec, s, g->description);
}

static void check_header(const char *rec, const mets_wfdb_header *h, json_t *j)
{
    json_t *cf = json_object_get(j, "counter_freq"), *bc = json_object_get(j, "base_counter");
    CHECK(!strcmp(h->name, json_string_value(json_object_get(j, "name"))), "%s: %s", rec, h->name);
    CHECK(h->nsig == json_integer_value(json_object_get(j, "nsig")), "%s", rec);
    CHECK(h->fs == json_real_value(json_object_get(j, "fs")), "%s: %g", rec, h->fs);
    CHECK(h->nsamp == json_integer_value(json_object_get(j, "nsamp")), "%s", rec);
    CHECK(h->counter_freq == (json_is_null(cf) ? h->fs : json_number_value(cf)), "%s", rec);
    CHECK(h->base_counter == (json_is_null(bc) ? 0 : json_number_value(bc)), "%s", rec);
    CHECK(!strcmp(h->base_time, opt_str(j, "base_time")), "%s: %s", rec, h->base_time);
    CHECK(same_date(h->base_date, opt_str(j, "base_date")), "%s: %s", rec, h->base_date);
    json_t *sigs = json_object_get(j, "signals");
    for (int s = 0; s < h->nsig && s < (int)json_array_size(sigs); s++)
        check_signal(rec, s, &h->sig[s], json_array_get(sigs, s));
}

/* Compares frames [first, first + rows) of a whole-record read with the JSON rows. */
static void check_adc_rows(const char *rec, const char *key, const int32_t *adc, int nsig, int64_t first, json_t *j)
{
    json_t *rows = json_object_get(j, key);
    for (size_t t = 0; t < json_array_size(rows); t++)
        for (int s = 0; s < nsig; s++) {
            long long want = json_integer_value(json_array_get(json_array_get(rows, t), s));
            int32_t got = adc[(first + (int64_t)t) * nsig + s];
            if (got != want) {
                mets_test_fail(__FILE__, __LINE__, "%s %s[%zu][%d] = %d, wfdb %lld", rec, key, t, s, got, want);
                return;
            }
        }
}

static void check_phys_rows(const char *rec, const char *key, const float *x, int nsig, int64_t first, json_t *j)
{
    json_t *rows = json_object_get(j, key);
    for (size_t t = 0; t < json_array_size(rows); t++)
        for (int s = 0; s < nsig; s++) {
            json_t *v = json_array_get(json_array_get(rows, t), s);
            float got = x[(first + (int64_t)t) * nsig + s];
            /* wfdb computes in double; we do too, then round once to float */
            int ok = json_is_null(v) ? isnan(got) : got == (float)json_real_value(v);
            if (!ok) {
                mets_test_fail(__FILE__, __LINE__, "%s %s[%zu][%d] = %.9g, wfdb %.9g", rec, key, t, s, got,
                               json_real_value(v));
                return;
            }
        }
}

static void check_stats(const char *rec, const int32_t *adc, int nsig, int64_t n, json_t *j)
{
    for (int s = 0; s < nsig; s++) {
        long long sum = 0, lo = INT32_MAX, hi = INT32_MIN;
        for (int64_t t = 0; t < n; t++) {
            int32_t v = adc[t * nsig + s];
            sum += v;
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
        CHECK(sum == json_integer_value(json_array_get(json_object_get(j, "adc_sum"), s)), "%s/%d", rec, s);
        CHECK(lo == json_integer_value(json_array_get(json_object_get(j, "adc_min"), s)), "%s/%d", rec, s);
        CHECK(hi == json_integer_value(json_array_get(json_object_get(j, "adc_max"), s)), "%s/%d", rec, s);
    }
}

static mets_wfdb_record *open_fixture(const char *rec)
{
    char path[256];
    mets_err err = {0};
    snprintf(path, sizeof path, FIXTURES "%s", rec);
    mets_wfdb_record *r = mets_wfdb_open(path, &err);
    CHECK(r != NULL, "%s", err.msg);
    return r;
}

static void headers_match_reference(void)
{
    const char *rec;
    json_t *j;
    json_object_foreach(reference, rec, j) {
        mets_wfdb_record *r = open_fixture(rec);
        if (r)
            check_header(rec, mets_wfdb_header_of(r), json_object_get(j, "header"));
        mets_wfdb_free(r);
    }
}

static void samples_match_reference(void)
{
    const char *rec;
    json_t *j;
    json_object_foreach(reference, rec, j) {
        mets_wfdb_record *r = open_fixture(rec);
        if (!r)
            continue;
        int nsig = mets_wfdb_nsig(r);
        int64_t n = mets_wfdb_nsamp(r), tail = n - (int64_t)json_array_size(json_object_get(j, "adc_tail"));
        int32_t *adc = malloc((size_t)(n * nsig) * sizeof *adc);
        float *x = malloc((size_t)(n * nsig) * sizeof *x);
        mets_err err = {0};
        CHECK(mets_wfdb_read_adc(r, 0, n, adc, &err) == 0, "%s", err.msg);
        CHECK(mets_wfdb_read_phys(r, 0, n, x, &err) == 0, "%s", err.msg);
        check_adc_rows(rec, "adc_head", adc, nsig, 0, j);
        check_adc_rows(rec, "adc_tail", adc, nsig, tail, j);
        check_phys_rows(rec, "phys_head", x, nsig, 0, j);
        check_phys_rows(rec, "phys_tail", x, nsig, tail, j);
        check_stats(rec, adc, nsig, n, j);
        free(adc), free(x);
        mets_wfdb_free(r);
    }
}

/* Reads of any window, in particular ones that start inside a 212 byte triple, equal the same frames of
 * a whole-record read. */
static void windows_match_whole_reads(void)
{
    const char *recs[] = {"mitdb_201_noise", "synth", "ptbxl_00001_lr", "cinc_A00004"};
    for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++) {
        mets_wfdb_record *r = open_fixture(recs[i]);
        if (!r)
            continue;
        int nsig = mets_wfdb_nsig(r);
        int64_t n = mets_wfdb_nsamp(r);
        int32_t *all = malloc((size_t)(n * nsig) * sizeof *all), *w = malloc((size_t)(n * nsig) * sizeof *w);
        mets_err err = {0};
        CHECK(mets_wfdb_read_adc(r, 0, n, all, &err) == 0, "%s", err.msg);
        for (int trial = 0; trial < 200; trial++) {
            int64_t start = mets_test_randint(0, (int)n), len = mets_test_randint(0, (int)(n - start));
            CHECK(mets_wfdb_read_adc(r, start, len, w, &err) == 0, "%s", err.msg);
            CHECK(!memcmp(w, all + start * nsig, (size_t)(len * nsig) * sizeof *w), "%s [%lld, +%lld)", recs[i],
                  (long long)start, (long long)len);
        }
        free(all), free(w);
        mets_wfdb_free(r);
    }
}

static void check_annotation(const char *rec, size_t i, const mets_annot *a, json_t *j)
{
    const char *aux = json_string_value(json_object_get(j, "aux")), *sym = mets_annot_mnemonic(a->code);
    CHECK(a->sample == json_integer_value(json_object_get(j, "sample")), "%s #%zu", rec, i);
    CHECK(a->code == json_integer_value(json_object_get(j, "code")), "%s #%zu", rec, i);
    CHECK(sym && !strcmp(sym, json_string_value(json_object_get(j, "symbol"))), "%s #%zu: %s", rec, i, sym);
    CHECK(a->subtype == json_integer_value(json_object_get(j, "subtype")), "%s #%zu", rec, i);
    CHECK(a->chan == json_integer_value(json_object_get(j, "chan")), "%s #%zu", rec, i);
    CHECK(a->num == json_integer_value(json_object_get(j, "num")), "%s #%zu", rec, i);
    CHECK(aux ? a->aux && !strcmp(a->aux, aux) : !a->aux, "%s #%zu: aux '%s'", rec, i, a->aux ? a->aux : "");
}

static void annotations_match_reference(void)
{
    const char *rec;
    json_t *j;
    int files = 0;
    json_object_foreach(reference, rec, j) {
        json_t *want = json_object_get(j, "annotations");
        if (!want)
            continue;
        char path[256];
        mets_err err = {0};
        mets_annots a;
        snprintf(path, sizeof path, FIXTURES "%s.atr", rec);
        CHECK(mets_annot_read(path, &a, &err) == 0, "%s", err.msg);
        CHECK(a.count == json_array_size(want), "%s: %zu annotations, wfdb %zu", rec, a.count, json_array_size(want));
        CHECK(a.fs == json_real_value(json_object_get(json_object_get(j, "header"), "fs")), "%s: %g", rec, a.fs);
        for (size_t i = 0; i < a.count && i < json_array_size(want); i++)
            check_annotation(rec, i, &a.items[i], json_array_get(want, i));
        mets_annots_free(&a);
        files++;
    }
    CHECK(files == 4, "%d annotation files", files);
}

static void mnemonics_follow_ecgcodes(void)
{
    const char *want[][2] = {{"1", "N"}, {"5", "V"}, {"8", "A"}, {"12", "/"}, {"14", "~"}, {"28", "+"},
                             {"31", "!"}, {"37", "x"}, {"38", "f"}, {"41", "r"}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const char *got = mets_annot_mnemonic(atoi(want[i][0]));
        CHECK(got && !strcmp(got, want[i][1]), "code %s: %s", want[i][0], got ? got : "NULL");
    }
    CHECK(!mets_annot_mnemonic(15) && !mets_annot_mnemonic(42) && !mets_annot_mnemonic(-1));
    CHECK(!mets_annot_mnemonic(METS_ANNOT_MAX_CODE + 1));
}

/* Every fixture's header checksums hold, except CinC 2017's, whose headers write 0 ("not computed"). */
static void checksums_verify_except_cinc(void)
{
    const char *rec;
    json_t *j;
    json_object_foreach(reference, rec, j) {
        mets_wfdb_record *r = open_fixture(rec);
        mets_err err = {0};
        int rc = r ? mets_wfdb_verify_checksums(r, &err) : 0;
        if (strncmp(rec, "cinc", 4))
            CHECK(rc == 0, "%s", err.msg);
        else
            CHECK(rc == METS_EFORMAT && strstr(err.msg, "cinc_A00004.hea: signal 0 (ECG)"), "%s", err.msg);
        mets_wfdb_free(r);
    }
}

/* ---- damaged and foreign files ---- */

static void expect_open_fails(const char *rec, int code, const char *file, const char *want)
{
    mets_err err = {0};
    mets_wfdb_record *r = mets_wfdb_open(mets_test_tmp_path(rec), &err);
    CHECK(r == NULL, "%s opened", rec);
    mets_wfdb_free(r);
    CHECK(err.code == code, "%s: code %d, expected %d (%s)", rec, err.code, code, err.msg);
    CHECK(strstr(err.msg, file) != NULL, "%s: message does not name %s: %s", rec, file, err.msg);
    CHECK(strstr(err.msg, want) != NULL, "%s: message lacks \"%s\": %s", rec, want, err.msg);
}

static void truncated_dat_is_named_with_both_lengths(void)
{
    copy_fixture(FIXTURES "mitdb_201_af.hea", "mitdb_201_af.hea", -1);
    copy_fixture(FIXTURES "mitdb_201_af.dat", "mitdb_201_af.dat", 5400 - 3);
    expect_open_fails("mitdb_201_af", METS_EFORMAT, "mitdb_201_af.dat",
                      "truncated: header says 1800 samples, file holds 1799");
    copy_fixture(FIXTURES "cinc_A00004.hea", "cinc_A00004.hea", -1);
    copy_fixture(FIXTURES "cinc_A00004.mat", "cinc_A00004.mat", 20);
    expect_open_fails("cinc_A00004.hea", METS_EFORMAT, "cinc_A00004.mat", "file holds 0");
}

static void truncated_atr_is_named(void)
{
    size_t len;
    char *full = slurp(FIXTURES "synth.atr", &len);
    CHECK(full != NULL);
    /* every cut: inside a word, a SKIP, an aux string, or before the end-of-file marker */
    for (size_t cut = 0; full && cut < len; cut++) {
        mets_err err = {0};
        mets_annots a;
        spit(mets_test_tmp_path("cut.atr"), full, cut);
        CHECK(mets_annot_read(mets_test_tmp_path("cut.atr"), &a, &err) == METS_EFORMAT, "cut at %zu", cut);
        CHECK(strstr(err.msg, "cut.atr: truncated") != NULL, "cut at %zu: %s", cut, err.msg);
        CHECK(a.count == 0 && !a.items);
        mets_annots_free(&a);
    }
    free(full);
}

static void garbage_header_is_rejected(void)
{
    const char elf[] = "\x7f" "ELF\x02\x01\x01\0\0\0garbage\n\n";
    spit(mets_test_tmp_path("junk.hea"), elf, sizeof elf - 1);
    expect_open_fails("junk", METS_EFORMAT, "junk.hea:1", "record line has no number of signals");
    const char *comment = "# only a comment\r\n\r\n";
    const char *shorter = "short 2 360 10\nshort.dat 212 200 11 1024 0 0 0 MLII\n";
    spit(mets_test_tmp_path("empty.hea"), comment, strlen(comment));
    expect_open_fails("empty", METS_EFORMAT, "empty.hea", "no record line");
    spit(mets_test_tmp_path("short.hea"), shorter, strlen(shorter));
    expect_open_fails("short", METS_EFORMAT, "short.hea", "header says 2 signals, has 1 signal lines");
}

static void unsupported_format_is_named(void)
{
    const char hea[] = "r310 1 360 10\nr310.dat 310 200 11 1024 0 0 0 MLII\n";
    spit(mets_test_tmp_path("r310.hea"), hea, sizeof hea - 1);
    expect_open_fails("r310", METS_EFORMAT, "r310.hea:2", "unsupported format 310 (supported: 16, 212, 80)");
}

static void missing_files_are_not_found(void)
{
    expect_open_fails("nosuchrecord", METS_ENOTFOUND, "nosuchrecord.hea", "No such file");
    copy_fixture(FIXTURES "vfdb_418.hea", "vfdb_418.hea", -1);
    expect_open_fails("vfdb_418", METS_ENOTFOUND, "vfdb_418.dat", "No such file");
    mets_err err = {0};
    mets_annots a;
    CHECK(mets_annot_read(mets_test_tmp_path("nosuch.atr"), &a, &err) == METS_ENOTFOUND, "%s", err.msg);
    CHECK(strstr(err.msg, "nosuch.atr") != NULL, "%s", err.msg);
    mets_annots_free(&a);
}

/* Headers whose numbers make no sense are refused at parse time, naming line and field. */
static void absurd_headers_are_rejected(void)
{
    const struct {
        const char *text, *want;
    } cases[] = {
        {"r 0 360 10\n", "number of signals '0' is not in 1..64"},
        {"r 65 360 10\n", "number of signals '65'"},
        {"r 1 0 10\nr.dat 16\n", "sampling frequency '0' is not a positive number"},
        {"r 1 -360 10\nr.dat 16\n", "sampling frequency '-360'"},
        {"r 1 nan 10\nr.dat 16\n", "sampling frequency 'nan'"},
        {"r 1 360/0 10\nr.dat 16\n", "counter frequency"},
        {"r 1 360/720(1 10\nr.dat 16\n", "base counter"},
        {"r 1 360 -5\nr.dat 16\n", "number of samples '-5'"},
        {"r 1 360 99999999999999999999\nr.dat 16\n", "number of samples"},
        {"r 1 360 10 0:0:0 1/1/2000 extra\nr.dat 16\n", "unexpected 'extra'"},
        {"r/2 1 360\n", "multi-segment"},
        {"r 1\nr.dat 16 1e999\n", "gain '1e999' is not a number"},
        {"r 1\nr.dat 16 200(x)/mV\n", "baseline"},
        {"r 1\nr.dat 16 200(0/mV\n", "baseline"},
        {"r 1\nr.dat 16 200(0)x\n", "gain[(baseline)][/units]"},
        {"r 1\nr.dat 212x2\n", "multi-frequency"},
        {"r 1\nr.dat 212:3\n", "skewed"},
        {"r 1\nr.dat 16+x\n", "format[xN][:N][+N]"},
        {"r 1\nr.dat\n", "no format"},
        {"r 1\nr.dat 16 200 99\n", "ADC resolution '99'"},
        {"r 1\nr.dat 16 200 16 0 0 99999999999\n", "checksum '99999999999'"},
        {"r 1\nr.dat 16 200 16 0 0 0 -1\n", "block size '-1'"},
        {"r 1\n../etc/passwd 16\n", "only sample files beside the header"},
        {"r 1\n~ 16\n", "only sample files beside the header"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mets_wfdb_header *h = malloc(sizeof *h);
        mets_err err = {0};
        int rc = mets_wfdb_parse_header_mem(cases[i].text, strlen(cases[i].text), "r.hea", h, &err);
        CHECK(rc == METS_EFORMAT, "case %zu: %d", i, rc);
        CHECK(strstr(err.msg, cases[i].want) != NULL, "case %zu: message lacks \"%s\": %s", i, cases[i].want,
              err.msg);
        free(h);
    }
}

/* What a header may leave out takes WFDB's default; what the open then cannot do is refused. */
static void header_defaults_and_record_rules(void)
{
    const char *text = "# c\r\n  r 2\r\nr.dat 212\r\nr.dat 212 100(-3)\r\n";
    mets_wfdb_header *h = malloc(sizeof *h);
    mets_err err = {0};
    CHECK(mets_wfdb_parse_header_mem(text, strlen(text), "r.hea", h, &err) == 0, "%s", err.msg);
    CHECK(h->fs == 250 && h->counter_freq == 250 && h->nsamp == -1 && h->nsig == 2);
    CHECK(h->sig[0].gain == 200 && h->sig[0].baseline == 0 && !strcmp(h->sig[0].units, "mV"));
    CHECK(h->sig[0].adc_res == 12 && !h->sig[0].has_checksum && !strcmp(h->sig[0].description, ""));
    CHECK(h->sig[1].gain == 100 && h->sig[1].baseline == -3);
    free(h);

    /* nsamp left out: the file's size decides (7 bytes of 212 with 2 signals: 2 whole frames) */
    const unsigned char dat[7] = {0x01, 0x20, 0x03, 0x04, 0x50, 0x06, 0x07};
    mets_wfdb_record *r = mets_wfdb_open_mem(text, strlen(text), dat, sizeof dat, "mem/r.hea", &err);
    CHECK(r && mets_wfdb_nsamp(r) == 2, "%s", err.msg);
    int32_t v[4];
    CHECK(r && mets_wfdb_read_adc(r, 0, 2, v, &err) == 0, "%s", err.msg);
    CHECK(v[0] == 0x001 && v[1] == 0x203 && v[2] == 0x004 && v[3] == 0x506, "%d %d %d %d", v[0], v[1], v[2], v[3]);
    CHECK(r && !mets_wfdb_signal_info(r, 2) && !mets_wfdb_signal_info(r, -1));
    mets_wfdb_free(r);

    const char *apart = "r 3 360 1\na.dat 16\nb.dat 16\na.dat 16\n", *mixed = "r 2 360 1\na.dat 16\na.dat 212\n";
    CHECK(!mets_wfdb_open_mem(apart, strlen(apart), dat, sizeof dat, "r.hea", &err));
    CHECK(strstr(err.msg, "signal 2 is in a.dat but not next to signal 0") != NULL, "%s", err.msg);
    CHECK(!mets_wfdb_open_mem(mixed, strlen(mixed), dat, sizeof dat, "r.hea", &err));
    CHECK(strstr(err.msg, "share a.dat but not its format") != NULL, "%s", err.msg);
    const char *huge = "r 64 360 9223372036854775807\nr.dat 16\n";
    char big[4096];
    snprintf(big, sizeof big, "%s", huge);
    for (int s = 1; s < 64; s++)
        strcat(big, "r.dat 16\n");
    CHECK(!mets_wfdb_open_mem(big, strlen(big), dat, sizeof dat, "r.hea", &err));
    CHECK(strstr(err.msg, "more than any file holds") != NULL, "%s", err.msg);
}

static void out_of_range_reads_are_refused(void)
{
    mets_wfdb_record *r = open_fixture("synth");
    if (!r)
        return;
    int32_t adc[8 * 5];
    float x[8 * 5];
    mets_err err = {0};
    const int64_t bad[][2] = {{-1, 1}, {0, 8}, {7, 1}, {8, 0}, {3, -1}, {INT64_MAX, 2}, {2, INT64_MAX}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(mets_wfdb_read_adc(r, bad[i][0], bad[i][1], adc, &err) == METS_EINVAL, "case %zu", i);
        CHECK(mets_wfdb_read_phys(r, bad[i][0], bad[i][1], x, &err) == METS_EINVAL, "case %zu", i);
        CHECK(strstr(err.msg, "synth.hea: frames") != NULL, "%s", err.msg);
    }
    CHECK(mets_wfdb_read_adc(r, 7, 0, adc, &err) == 0, "%s", err.msg);
    mets_wfdb_free(r);
}

static void checksum_mismatch_names_the_signal(void)
{
    size_t len;
    char *hea = slurp(FIXTURES "ptbxl_00001_lr.hea", &len);
    char *at = hea ? strstr(hea, " 592 0 II") : NULL;
    CHECK(at != NULL);
    if (!at)
        return;
    memcpy(at, " 593", 4);
    spit(mets_test_tmp_path("ptbxl_00001_lr.hea"), hea, len);
    copy_fixture(FIXTURES "ptbxl_00001_lr.dat", "ptbxl_00001_lr.dat", -1);
    mets_err err = {0};
    mets_wfdb_record *r = mets_wfdb_open(mets_test_tmp_path("ptbxl_00001_lr"), &err);
    CHECK(r && mets_wfdb_verify_checksums(r, &err) == METS_EFORMAT);
    CHECK(strstr(err.msg, "ptbxl_00001_lr.hea: signal 1 (II): header checksum 593, data sum 592") != NULL, "%s",
          err.msg);
    mets_wfdb_free(r);
    free(hea);
}

static void bad_annotation_streams_are_rejected(void)
{
    const struct {
        unsigned char bytes[12];
        size_t len;
        const char *want;
    } cases[] = {
        {{0x05, 55 << 2, 0, 0}, 4, "undefined annotation code 55 at byte 0"},
        {{0x00, 60 << 2, 0, 0}, 4, "pseudo-code 60 before any annotation"},
        {{0x01, 0x04, 0x00, 0x01 | 63 << 2, 0, 0}, 6, "aux string of 256 bytes"},
        {{0x01, 0x04, 0x00, 59 << 2, 0xff, 0x7f}, 6, "truncated: SKIP interval cut short"},
        {{0x01, 0x04}, 2, "truncated: no end-of-file marker"},
        {{0x01}, 1, "truncated"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mets_err err = {0};
        mets_annots a;
        CHECK(mets_annot_parse_mem(cases[i].bytes, cases[i].len, "x.atr", &a, &err) == METS_EFORMAT, "case %zu", i);
        CHECK(strstr(err.msg, "x.atr: ") && strstr(err.msg, cases[i].want), "case %zu: %s", i, err.msg);
        mets_annots_free(&a);
    }
}

int main(void)
{
    json_error_t jerr;
    reference = json_load_file(FIXTURES "reference.json", 0, &jerr);
    if (!reference) {
        fprintf(stderr, "test_wfdb: %s: %s (run from the repository root)\n", FIXTURES "reference.json", jerr.text);
        return 1;
    }
    RUN(headers_match_reference);
    RUN(samples_match_reference);
    RUN(windows_match_whole_reads);
    RUN(annotations_match_reference);
    RUN(mnemonics_follow_ecgcodes);
    RUN(checksums_verify_except_cinc);
    RUN(truncated_dat_is_named_with_both_lengths);
    RUN(truncated_atr_is_named);
    RUN(garbage_header_is_rejected);
    RUN(unsupported_format_is_named);
    RUN(missing_files_are_not_found);
    RUN(absurd_headers_are_rejected);
    RUN(header_defaults_and_record_rules);
    RUN(out_of_range_reads_are_refused);
    RUN(checksum_mismatch_names_the_signal);
    RUN(bad_annotation_streams_are_rejected);
    mets_test_remove_tmpdir();
    json_decref(reference);
    return mets_test_summary();
}
