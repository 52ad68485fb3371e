/* Streams as METS windows (train/streams.c, train/dataset.c) and their evaluation (eval/streameval.c):
 * reports generated from hand-built annotations, windows of the committed WFDB fixtures against the
 * shared preprocessing run by hand, record lists, set concatenation, and the episode logic of EC57. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dataset.h"
#include "harness.h"
#include "preprocess.h"
#include "streameval.h"
#include "streams.h"
#include "wfdb.h"

#define FIXTURES "tests/fixtures"

enum { N_ = 1, L_ = 2, V_ = 5, A_ = 8, PACE_ = 12, NOISE_ = 14, RHYTHM_ = 28 }; /* WFDB codes */

static mets_annot beat(int64_t t, int code)
{
    return (mets_annot){.sample = t, .code = code};
}

static mets_annot rhythm(int64_t t, const char *aux)
{
    return (mets_annot){.sample = t, .code = RHYTHM_, .aux = aux};
}

static mets_annot noise(int64_t t, int subtype)
{
    return (mets_annot){.sample = t, .code = NOISE_, .subtype = subtype};
}

/* The report of frames [t0, t1) of items[n] at 100 Hz. */
static const char *report(mets_annot *items, int n, int64_t t0, int64_t t1)
{
    static char out[512];
    mets_annots a = {.items = items, .count = (size_t)n};
    int len = mets_streams_report(&a, 100, t0, t1, out, sizeof out);
    CHECK(len == (int)strlen(out), "length %d", len);
    return out;
}

static void report_says_rhythm_rate_and_ectopic_counts(void)
{
    /* beats every 0.5 s (120 bpm), three of them PVCs, one APC */
    mets_annot x[12] = {rhythm(0, "(AFIB")};
    for (int i = 1; i < 12; i++)
        x[i] = beat(10 + 50 * (i - 1), i == 3 || i == 6 || i == 9 ? V_ : i == 7 ? A_ : N_);
    CHECK(!strcmp(report(x, 12, 0, 1000),
                  "atrial fibrillation. heart rate 120 bpm. 3 ventricular premature complexes. "
                  "1 supraventricular premature complex."),
          "%s", report(x, 12, 0, 1000));
}

static void report_turns_sinus_rate_into_tachycardia_or_bradycardia(void)
{
    mets_annot fast[6] = {rhythm(0, "(N"), beat(10, N_), beat(60, N_), beat(110, N_), beat(160, N_), beat(210, N_)};
    CHECK(!strcmp(report(fast, 6, 0, 1000), "sinus tachycardia. heart rate 120 bpm."), "%s", report(fast, 6, 0, 1000));
    mets_annot slow[4] = {rhythm(0, "(N"), beat(10, N_), beat(135, N_), beat(260, N_)};
    CHECK(!strcmp(report(slow, 4, 0, 1000), "sinus bradycardia. heart rate 48 bpm."), "%s", report(slow, 4, 0, 1000));
    mets_annot one[2] = {rhythm(0, "(N"), beat(10, N_)}; /* one beat: no rate, so plain sinus rhythm */
    CHECK(!strcmp(report(one, 2, 0, 1000), "sinus rhythm."), "%s", report(one, 2, 0, 1000));
}

static void report_takes_the_rhythm_in_force_and_changes_inside(void)
{
    mets_annot x[4] = {rhythm(0, "(N"), rhythm(500, "(VT"), rhythm(2000, "(VFL"), rhythm(2500, "(VF")};
    CHECK(!strcmp(report(x, 4, 300, 1300), "sinus rhythm. ventricular tachycardia."), "%s", report(x, 4, 300, 1300));
    CHECK(!strcmp(report(x, 4, 600, 1600), "ventricular tachycardia."), "%s", report(x, 4, 600, 1600));
    CHECK(!strcmp(report(x, 4, 500, 1500), "ventricular tachycardia."), "a change at t0 replaces the old rhythm");
    CHECK(!strcmp(report(x, 4, 1900, 2900), "ventricular tachycardia. ventricular flutter. ventricular fibrillation."),
          "%s", report(x, 4, 1900, 2900));
}

static void report_says_bundle_branch_block_paced_and_noise(void)
{
    mets_annot lbbb[5] = {rhythm(0, "(N"), beat(10, L_), beat(110, L_), beat(210, N_), beat(310, L_)};
    CHECK(!strcmp(report(lbbb, 5, 0, 1000), "sinus rhythm. left bundle branch block. heart rate 60 bpm."), "%s",
          report(lbbb, 5, 0, 1000));
    mets_annot paced[4] = {rhythm(0, "(P"), beat(10, PACE_), beat(110, PACE_), beat(210, PACE_)};
    CHECK(!strcmp(report(paced, 4, 0, 1000), "paced rhythm. heart rate 60 bpm."), "said once: %s",
          report(paced, 4, 0, 1000));
    mets_annot noisy[3] = {rhythm(0, "(N"), noise(50, 2), noise(400, 0)};
    CHECK(!strcmp(report(noisy, 3, 100, 300), "sinus rhythm. " METS_STREAMS_NOISE_TEXT), "in force: %s",
          report(noisy, 3, 100, 300));
    CHECK(!strcmp(report(noisy, 3, 500, 900), "sinus rhythm."), "clean again: %s", report(noisy, 3, 500, 900));
    mets_annot vfdb[2] = {rhythm(0, "(NOISE"), rhythm(300, "(XYZ")};
    CHECK(!strcmp(report(vfdb, 2, 0, 200), METS_STREAMS_NOISE_TEXT), "%s", report(vfdb, 2, 0, 200));
    CHECK(!strcmp(report(vfdb, 2, 400, 600), ""), "an unknown rhythm says nothing: %s", report(vfdb, 2, 400, 600));
}

static void report_is_empty_before_any_annotation_and_fails_when_too_long(void)
{
    mets_annot x[2] = {rhythm(500, "(AFIB"), beat(600, N_)};
    CHECK(!strcmp(report(x, 2, 0, 400), ""));
    mets_annots a = {.items = x, .count = 2};
    char small[8];
    CHECK(mets_streams_report(&a, 100, 0, 1000, small, sizeof small) == METS_ENOMEM);
    CHECK(!strcmp(mets_cinc_report('A'), "atrial fibrillation.") && !strcmp(mets_cinc_report('~'), METS_STREAMS_NOISE_TEXT));
    CHECK(mets_cinc_report('X') == NULL);
}

static void record_lists_parse_exclude_and_scan_folders(void)
{
    mets_err err;
    char **names;
    int n;
    CHECK(mets_streams_list("unused", "mitdb/101,vfdb/418,mitdb/101,mitdb/200", "mitdb/200", &names, &n, &err) == 0);
    CHECK(n == 2 && !strcmp(names[0], "mitdb/101") && !strcmp(names[1], "vfdb/418"));
    mets_streams_list_free(names, n);
    CHECK(mets_streams_list("unused", "mitdb", NULL, &names, &n, &err) == METS_EINVAL && strstr(err.msg, "db/record"));
    CHECK(mets_streams_list("unused", "none", NULL, &names, &n, &err) == 0 && n == 0);
    mets_streams_list_free(names, n);

    char dir[] = "/tmp/mets-test-streams-XXXXXX", path[128];
    CHECK(mkdtemp(dir) != NULL);
    const char *files[] = {"mitdb/201.hea", "mitdb/100.hea", "mitdb/100.atr", "vfdb/418.hea"};
    snprintf(path, sizeof path, "%s/mitdb", dir), mkdir(path, 0700);
    snprintf(path, sizeof path, "%s/vfdb", dir), mkdir(path, 0700);
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        fclose(fopen(path, "w"));
    }
    CHECK(mets_streams_list(dir, "all", "mitdb/201", &names, &n, &err) == 0);
    CHECK(n == 2 && !strcmp(names[0], "mitdb/100") && !strcmp(names[1], "vfdb/418"));
    mets_streams_list_free(names, n);
    for (int i = 0; i < 4; i++)
        snprintf(path, sizeof path, "%s/%s", dir, files[i]), unlink(path);
    snprintf(path, sizeof path, "%s/mitdb", dir), rmdir(path);
    snprintf(path, sizeof path, "%s/vfdb", dir), rmdir(path);
    rmdir(dir);
}

/* Lead `lead` of window w must be signal `sig` of the record, resampled whole and windowed at `at` by hand. */
static void check_window_is_shared_preprocessing(const mets_streams_set *set, int w, const char *path, int sig,
                                                 int lead, int at)
{
    mets_err err;
    mets_wfdb_record *rec = mets_wfdb_open(path, &err);
    CHECK(rec != NULL, "%s", err.msg);
    if (!rec)
        return;
    int64_t n = mets_wfdb_nsamp(rec);
    int nsig = mets_wfdb_nsig(rec), S = set->data.samples, len = (int)lround(n * 100 / mets_wfdb_fs(rec));
    float *raw = malloc(n * nsig * sizeof *raw), *x = malloc(n * sizeof *x), *res = calloc(len + S, sizeof *res);
    float *win = malloc((24 * S + mets_prep_work_floats(S)) * sizeof *win);
    CHECK(mets_wfdb_read_phys(rec, 0, n, raw, &err) == 0);
    for (int64_t t = 0; t < n; t++)
        x[t] = raw[t * nsig + sig];
    mets_prep_resample(x, n, mets_wfdb_fs(rec), 100, res, len, &err);
    const float *leads[12] = {NULL};
    leads[lead] = res + at;
    mets_prep_window(leads, S, 100, win, win + 24 * S);
    double worst = 0;
    for (int t = 0; t < S; t++)
        worst = fmax(worst, fabs(win[lead * S + t] - set->data.leads[((size_t)w * 12 + lead) * S + t]));
    CHECK(worst == 0, "window %d differs by %g", w, worst);
    free(raw), free(x), free(res), free(win);
    mets_wfdb_free(rec);
}

static void vfdb_fixture_gives_hopped_windows_with_their_reports(void)
{
    /* 20 s at 250 Hz; "(VFL" at frame 624, "(N" at frame 2499, just inside the first window */
    mets_err err;
    mets_streams_opts o = mets_streams_default_opts(100, 1000);
    mets_streams_set s;
    char *names[2] = {"wfdb/vfdb_418", "wfdb/not_there"};
    CHECK(mets_streams_load(FIXTURES, names, 2, &o, &s, &err) == 0, "%s", err.msg);
    CHECK(s.data.n == 3 && s.nrecords == 1 && s.missing == 1, "%d windows", s.data.n);
    if (s.data.n != 3)
        return mets_streams_free(&s);
    static const char *const expect[3] = {"ventricular flutter. sinus rhythm.", "ventricular flutter. sinus rhythm.",
                                          "sinus rhythm."};
    for (int w = 0; w < 3; w++) {
        CHECK(!strcmp(s.texts[s.data.text[w]], expect[w]), "window %d: %s", w, s.texts[s.data.text[w]]);
        CHECK(s.data.present[w] == 0x2, "the first unnamed signal is lead II, the second dropped");
        CHECK_NEAR(s.start[w], 5.0 * w, 1e-12);
    }
    CHECK(s.data.ntexts == 2 && s.data.text[0] == s.data.text[1] && !strcmp(s.records[0].name, "wfdb/vfdb_418"));
    CHECK_NEAR(s.records[0].seconds, 20.0, 1e-9);
    CHECK_NEAR(s.records[0].fs, 250.0, 1e-9);
    check_window_is_shared_preprocessing(&s, 1, FIXTURES "/wfdb/vfdb_418", 0, 1, 500);
    mets_streams_free(&s);
}

static void short_mitdb_fixture_gives_one_padded_window(void)
{
    /* 5 s at 360 Hz, MLII and V1; "(AFIB" at frame 60, seven normal beats from 159 to 1621 */
    mets_err err;
    mets_streams_opts o = mets_streams_default_opts(100, 1000);
    mets_streams_set s;
    char *names[1] = {"wfdb/mitdb_201_af"};
    CHECK(mets_streams_load(FIXTURES, names, 1, &o, &s, &err) == 0, "%s", err.msg);
    CHECK(s.data.n == 1 && s.data.present[0] == ((1u << 1) | (1u << 6)));
    if (s.data.n == 1) {
        CHECK(!strcmp(s.texts[0], "atrial fibrillation. heart rate 89 bpm."), "%s", s.texts[0]);
        check_window_is_shared_preprocessing(&s, 0, FIXTURES "/wfdb/mitdb_201_af", 0, 1, 0);
    }
    mets_streams_free(&s);
}

static void cinc_records_load_by_number_with_their_class_report(void)
{
    mets_err err;
    char ref[] = "/tmp/mets-test-cinc-XXXXXX";
    int fd = mkstemp(ref);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("cinc_A00004,A\r\ncinc_A00005,N\n", f);
    fclose(f);
    mets_streams_opts o = mets_streams_default_opts(100, 1000);
    mets_streams_set s;
    CHECK(mets_cinc_load(FIXTURES "/wfdb", ref, 1, 700, &o, &s, &err) == 0, "%s", err.msg);
    CHECK(s.nrecords == 1 && s.missing == 1 && s.data.n == 1 && s.records[0].cinc_class == 'A');
    CHECK(s.data.n == 1 && s.data.present[0] == 0x1 && !strcmp(s.texts[0], "atrial fibrillation."));
    mets_streams_free(&s);
    CHECK(mets_cinc_load(FIXTURES "/wfdb", ref, 5, 10, &o, &s, &err) == 0 && s.nrecords == 0 && s.missing == 1);
    mets_streams_free(&s);
    unlink(ref);
    int lo, hi;
    CHECK(mets_cinc_parse_range("1-700", &lo, &hi) == 0 && lo == 1 && hi == 700);
    CHECK(mets_cinc_parse_range("701-", &lo, &hi) == 0 && lo == 701 && hi > 8528);
    CHECK(mets_cinc_parse_range("9", &lo, &hi) == 0 && lo == 9 && hi == 9);
    CHECK(mets_cinc_parse_range("9-3", &lo, &hi) == -1 && mets_cinc_parse_range("x", &lo, &hi) == -1);
}

static void appended_sets_share_identical_texts(void)
{
    enum { S = 4 };
    char *a_src[2] = {"sinus rhythm.", "atrial fibrillation."}, *b_texts[2] = {"ventricular tachycardia.", "sinus rhythm."};
    char **a_texts = malloc(2 * sizeof *a_texts);
    a_texts[0] = strdup(a_src[0]), a_texts[1] = strdup(a_src[1]);
    float la[2 * 12 * S] = {0}, lb[3 * 12 * S];
    uint16_t pa[2] = {1, 2}, pb[3] = {4, 8, 16};
    int ta[2] = {1, 0}, tb[3] = {0, 1, 1};
    for (int i = 0; i < 3 * 12 * S; i++)
        lb[i] = (float)i;
    mets_train_data a = {.n = 2, .samples = S, .ntexts = 2, .text = malloc(2 * sizeof(int)),
                         .leads = malloc(sizeof la), .present = malloc(sizeof pa)};
    memcpy(a.text, ta, sizeof ta), memcpy(a.leads, la, sizeof la), memcpy(a.present, pa, sizeof pa);
    mets_train_data b = {.n = 3, .samples = S, .ntexts = 2, .text = tb, .leads = lb, .present = pb};
    mets_err err;
    CHECK(mets_dataset_append(&a, &a_texts, &b, b_texts, &err) == 0, "%s", err.msg);
    CHECK(a.n == 5 && a.ntexts == 3 && !strcmp(a_texts[2], "ventricular tachycardia."));
    CHECK(a.text[0] == 1 && a.text[1] == 0 && a.text[2] == 2 && a.text[3] == 0 && a.text[4] == 0);
    CHECK(a.present[4] == 16 && a.leads[5 * 12 * S - 1] == (float)(3 * 12 * S - 1));
    for (int i = 0; i < a.ntexts; i++)
        free(a_texts[i]);
    free(a_texts), free(a.text), free(a.leads), free(a.present);
}

static void window_votes_become_episodes_of_the_window_centres(void)
{
    /* 10 s windows every 2 s over 30 s: window k's centre is [k*2 + 4, k*2 + 6) */
    uint8_t v[11] = {0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 1};
    mets_episode e[11];
    int n = mets_streameval_detect(v, 11, 2, 10, 30, 4, e);
    CHECK(n == 2, "%d episodes: the lone vote of window 7 is dropped", n);
    CHECK_NEAR(e[0].start, 8, 1e-12);
    CHECK_NEAR(e[0].end, 14, 1e-12);
    CHECK_NEAR(e[1].start, 22, 1e-12);
    CHECK_NEAR(e[1].end, 30, 1e-12); /* the last window reaches to the end */
    uint8_t first[3] = {1, 1, 0};
    n = mets_streameval_detect(first, 3, 2, 10, 14, 0, e);
    CHECK(n == 1 && e[0].start == 0 && e[0].end == 8, "the first window reaches back to 0");
}

static void reference_episodes_follow_the_rhythm_in_force(void)
{
    mets_annot x[6] = {rhythm(0, "(N"), beat(50, V_), rhythm(100, "(VFL"), rhythm(300, "(VF"),
                       rhythm(500, "(N"), rhythm(900, "(VFIB")};
    mets_annots a = {.items = x, .count = 6};
    static const char *const vf[3] = {"(VFL", "(VF", "(VFIB"};
    mets_episode e[6];
    int n = mets_streameval_reference(&a, 100, 10.5, vf, 3, e, 6);
    CHECK(n == 2 && e[0].start == 1 && e[0].end == 5 && e[1].start == 9 && e[1].end == 10.5, "%d", n);
    mets_episode det[2] = {{0, 4}, {6, 20}}, afl[2] = {{1, 2}, {8, 9}}, out[4];
    n = mets_episodes_subtract(det, 2, afl, 2, out);
    CHECK(n == 4 && out[0].end == 1 && out[1].start == 2 && out[1].end == 4 && out[2].end == 8 && out[3].start == 9);
}

static void cinc_f1_follows_the_challenge_formula(void)
{
    mets_cinc_result r = {.confusion = {{8, 1, 1, 0}, {1, 3, 0, 0}, {2, 0, 2, 1}, {0, 0, 0, 0}}};
    mets_cinc_score(&r);
    CHECK_NEAR(r.f1[0], 2.0 * 8 / (10 + 11), 1e-12);
    CHECK_NEAR(r.f1[1], 2.0 * 3 / (4 + 4), 1e-12);
    CHECK_NEAR(r.f1[2], 2.0 * 2 / (5 + 3), 1e-12);
    CHECK_NEAR(r.f1[3], 0, 1e-12); /* one wrong "~" prediction: F1 0 */
    CHECK_NEAR(r.f1_nao, (r.f1[0] + r.f1[1] + r.f1[2]) / 3, 1e-12);
    CHECK_NEAR(r.f1_all, (r.f1[0] + r.f1[1] + r.f1[2]) / 4, 1e-12);
}

int main(void)
{
    RUN(report_says_rhythm_rate_and_ectopic_counts);
    RUN(report_turns_sinus_rate_into_tachycardia_or_bradycardia);
    RUN(report_takes_the_rhythm_in_force_and_changes_inside);
    RUN(report_says_bundle_branch_block_paced_and_noise);
    RUN(report_is_empty_before_any_annotation_and_fails_when_too_long);
    RUN(record_lists_parse_exclude_and_scan_folders);
    RUN(vfdb_fixture_gives_hopped_windows_with_their_reports);
    RUN(short_mitdb_fixture_gives_one_padded_window);
    RUN(cinc_records_load_by_number_with_their_class_report);
    RUN(appended_sets_share_identical_texts);
    RUN(window_votes_become_episodes_of_the_window_centres);
    RUN(reference_episodes_follow_the_rhythm_in_force);
    RUN(cinc_f1_follows_the_challenge_formula);
    return mets_test_summary();
}
