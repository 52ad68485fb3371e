/* The report translator (train/report.c) with the built-in phrase table on real PTB-XL reports, and
 * with small tables of its own for matching rules and for malformed tables. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "report.h"

typedef struct example {
    const char *report, *english;
} example;

/* Real reports of ptbxl_database.csv, as they are there (broken upper-case umlauts included). */
static const example real_reports[] = {
    {"sinusrhythmus periphere niederspannung", "sinus rhythm. low limb lead voltage."},
    {"sinusbradykardie sonst normales ekg", "sinus bradycardia. otherwise normal ecg."},
    {"sinusrhythmus lagetyp normal normales ekg 4.46                          unbestÄtigter bericht",
     "sinus rhythm. normal axis. normal ecg."},
    {"sinusrhythmus linkstyp sonst normales ekg", "sinus rhythm. left axis. otherwise normal ecg."},
    {"sinus arrhythmie lagetyp normal sonst normales ekg", "sinus arrhythmia. normal axis. otherwise normal ecg."},
    {"sinusrhythmus lagetyp normal qrs(t) abnorm    inferiorer infarkt     alter unbest. 4.46                    "
     "      unbestÄtigter bericht",
     "sinus rhythm. normal axis. qrs(t) abnormal, inferior infarction, age undetermined."},
    {"sinusrhythmus lagetyp normal mÄssige amplitudenkriterien fÜr linkshypertrophie 4.46                        "
     "  unbestÄtigter bericht",
     "sinus rhythm. normal axis. moderate voltage criteria for left ventricular hypertrophy."},
    {"sinusrhythmus lagetyp normal unvollstÄndiger rechtsschenkelblock sonst normales ekg",
     "sinus rhythm. normal axis. incomplete right bundle branch block. otherwise normal ecg."},
    {"sinusrhythmus lagetyp normal st & t abnorm, wahrscheinlich    anterolaterale ischÄmie oder linksbelastung    "
     "inferolaterale ischÄmie oder linksbelastung 4.46                          unbestÄtigter bericht",
     "sinus rhythm. normal axis. st & t abnormal, probably anterolateral ischaemia or left ventricular strain. "
     "inferolateral ischaemia or left ventricular strain."},
    {"vorhofflimmern/-flattern lagetyp normal 4.46                          unbestÄtigter bericht",
     "atrial fibrillation/flutter. normal axis."},
    {"sinusrhythmus linkstyp linksschenkelblock linkshypertrophie mÖglich 4.46                          "
     "unbestÄtigter bericht",
     "sinus rhythm. left axis. left bundle branch block. possible left ventricular hypertrophy."},
    {"supraventrikulÄre extrasystole(n) sinusrhythmus lagetyp normal sonst normales ekg 4.46                     "
     "     unbestÄtigter bericht",
     "supraventricular premature beat(s). sinus rhythm. normal axis. otherwise normal ecg."},
    {"sinusrhythmus ueberdrehter linkstyp", "sinus rhythm. marked left axis deviation."},
    {"schrittmacher ekg 4.46                          unbestÄtigter bericht", "pacemaker ecg."},
    {"sinusrhythmus verdacht auf p-sinistrocardiale lagetyp normal",
     "sinus rhythm. suspected left atrial enlargement. normal axis."},
    {"sinusrhythmus a-v block i p-sinistrocardiale unvollstÄndiger rechtsschenkelblock",
     "sinus rhythm. first degree av block. left atrial enlargement. incomplete right bundle branch block."},
    {"sinusrhythmus ueberdrehter rechtstyp vorhofsueberlastung rechts qrs(t) abnormal Edit: RAO, zusätzlich IRBBB, "
     "RVH, (RVH 100, RAO, IRBBB)",
     "sinus rhythm. marked right axis deviation. right atrial overload. qrs(t) abnormal"},
    {"llt sinus mit av-rhythmus wechselnd diskrete st-senkung in v6 pathologisches ekg",
     "left axis. sinus with junctional rhythm. wechselnd slight st depression in v6 abnormal ecg."},
    {"sinusrytm normalt ekg", "sinus rhythm. normal ecg."},
    {"sinusrytm vÄnster el-axel eljest normalt ekg", "sinus rhythm. left axis. otherwise normal ecg."},
    {"sinusrytm ospecifikt inkomplett skÄnkelblock avvikande qrs(t) fÖrlopp    inferior infarkt     Ålder ej "
     "bestÄmmbar",
     "sinus rhythm. non-specific incomplete bundle branch block. qrs(t) abnormal, inferior infarction, age "
     "undetermined."},
};

static const char *const english_reports[] = {
    "sinus rhythm. normal ecg.",
    "trace only requested.",
    "sinus rhythm. left axis deviation. left anterior fascicular block.",
    ("atrial fibrillation. st segments are depressed in ii, v4,5,6. this may be due to myocardial ischaemia and "
     "digitalis effect."),
    "sinus rhythm. q waves in ii, iii, avf consistent with old inferior myocardial infarction.",
};

static mets_report_translator *builtin(void)
{
    static mets_report_translator *t;
    mets_err err = {0};
    if (!t && !(t = mets_report_translator_new(NULL, &err)))
        mets_test_fail(__FILE__, __LINE__, "the built-in table does not load: %s", err.msg);
    return t;
}

/* Translates with `t` and checks the result. */
static void check_translation(const mets_report_translator *t, const char *report, const char *want)
{
    char out[1024];
    int n = mets_report_translate(t, report, out, sizeof out, NULL);
    if (n < 0 || strcmp(out, want) || (size_t)n != strlen(want))
        mets_test_fail(__FILE__, __LINE__, "\"%s\"\n    gave \"%s\" (%d)\n    want \"%s\"", report, out, n, want);
}

/* A phrase table in a temporary file; the caller unlinks and frees the path. */
static char *table_file(const char *text)
{
    char *path = strdup("/tmp/mets_test_report_XXXXXX");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    return path;
}

static mets_report_translator *small_table(const char *text)
{
    char *path = table_file(text);
    mets_err err = {0};
    mets_report_translator *t = mets_report_translator_new(path, &err);
    if (!t)
        mets_test_fail(__FILE__, __LINE__, "table does not load: %s", err.msg);
    unlink(path);
    free(path);
    return t;
}

static void translates_real_reports(void)
{
    for (size_t i = 0; i < sizeof real_reports / sizeof real_reports[0]; i++)
        check_translation(builtin(), real_reports[i].report, real_reports[i].english);
}

static void strips_boilerplate(void)
{
    /* The field is often cut inside the tail, even inside the version number. */
    check_translation(builtin(), "sinusrhythmus normales ekg 4.46                          unbestÄtigter ber",
                      "sinus rhythm. normal ecg.");
    check_translation(builtin(), "sinusrhythmus normales ekg 4.46      ", "sinus rhythm. normal ecg.");
    check_translation(builtin(), "sinusrhythmus normales ekg 4.4", "sinus rhythm. normal ecg.");
    check_translation(builtin(), "sinusrhythmus unbestaetigter bericht normales ekg", "sinus rhythm. normal ecg.");
    check_translation(builtin(), "sinus rhythm. normal ecg. Edit: NORM 100, (NORM 100)", "sinus rhythm. normal ecg.");
    check_translation(builtin(), "4.46 unbestÄtigter bericht", "");
    mets_report_stats st = {0};
    char out[256];
    CHECK(mets_report_translate(builtin(), "sinusrhythmus 4.46 unbestÄtigter bericht", out, sizeof out, &st) > 0);
    CHECK(st.covered == 1 && st.dropped == 4, "covered %zu dropped %zu", st.covered, st.dropped);
}

static void lowercases_umlauts_and_accepts_ae_spellings(void)
{
    const char *want = "incomplete right bundle branch block.";
    check_translation(builtin(), "unvollständiger rechtsschenkelblock", want);
    check_translation(builtin(), "unvollstÄndiger rechtsschenkelblock", want);
    check_translation(builtin(), "UNVOLLSTÄNDIGER RECHTSSCHENKELBLOCK", want);
    check_translation(builtin(), "unvollstaendiger  \t rechtsschenkelblock", want);
    check_translation(builtin(), "ÜBERDREHTER LINKSTYP", "marked left axis deviation.");
    /* Kept words keep their umlauts (lower-cased), only matching folds them. */
    check_translation(builtin(), "sinusrhythmus KÄSEWÜRFEL", "sinus rhythm. käsewürfel");
}

static void passes_english_through(void)
{
    for (size_t i = 0; i < sizeof english_reports / sizeof english_reports[0]; i++) {
        check_translation(builtin(), english_reports[i], english_reports[i]);
        mets_report_stats st = {0};
        char out[1024];
        mets_report_translate(builtin(), english_reports[i], out, sizeof out, &st);
        CHECK(st.covered == 0 && st.uncovered == 0 && st.english > 0, "\"%s\": covered %zu uncovered %zu",
              english_reports[i], st.covered, st.uncovered);
    }
    check_translation(builtin(), "SINUS RHYTHM.   NORMAL   ECG.", "sinus rhythm. normal ecg.");
}

static void replaces_whole_words_only(void)
{
    mets_report_translator *t = small_table("links\tleft\nrechts\tright\nrechtsherz\tright heart\n");
    check_translation(t, "linkstyp links", "linkstyp left");
    check_translation(t, "alinks links-rechts", "alinks left-right");
    check_translation(t, "rechtsherz rechtsherzen", "right heart rechtsherzen"); /* the table says so */
    mets_report_translator_free(t);
    check_translation(builtin(), "linksherzhypertrophie", "linksherzhypertrophie");
}

static void prefers_the_longest_phrase(void)
{
    mets_report_translator *t = small_table("a b\tX\na b c\tY\na\tZ\n");
    check_translation(t, "a b c a b a", "Y X Z");
    check_translation(t, "a  b,c", "X, c");
    mets_report_translator_free(t);
}

static void tidies_punctuation(void)
{
    mets_report_translator *t = small_table("alt\t, old.\nx\tex.\n");
    check_translation(t, "infarkt alt , weiter", "infarkt, old. weiter");
    check_translation(t, "x:y", "ex. y");
    check_translation(t, ", x", "ex.");
    check_translation(t, "v4,5,6 x", "v4,5,6 ex.");
    mets_report_translator_free(t);
}

static void count_word(void *ctx, const char *word, size_t len)
{
    CHECK(len == 7 && !memcmp(word, "xyzwort", 7));
    ++*(int *)ctx;
}

static void counts_words(void)
{
    int calls = 0;
    mets_report_stats st = {.on_uncovered = count_word, .ctx = &calls};
    char out[256];
    int n = mets_report_translate(builtin(), "sinusrhythmus lagetyp normal xyzwort 12 v1 4.46 unbestätigter bericht",
                                  out, sizeof out, &st);
    CHECK(n > 0 && !strcmp(out, "sinus rhythm. normal axis. xyzwort 12 v1"), "%s", out);
    CHECK(st.covered == 3 && st.english == 2 && st.uncovered == 1 && st.dropped == 4,
          "covered %zu english %zu uncovered %zu dropped %zu", st.covered, st.english, st.uncovered, st.dropped);
    CHECK(calls == 1);
    mets_report_translate(builtin(), "xyzwort", out, sizeof out, &st); /* adds to the counts */
    CHECK(st.uncovered == 2 && calls == 2);
}

/* The table must fail to load with METS_EFORMAT and a message holding "path:line:" and `expected`. */
static void check_bad_table(const char *text, int line, const char *expected)
{
    char *path = table_file(text), where[256];
    mets_err err = {0};
    mets_report_translator *t = mets_report_translator_new(path, &err);
    snprintf(where, sizeof where, "%s:%d:", path, line);
    CHECK(!t && err.code == METS_EFORMAT, "table \"%s\"", text);
    CHECK(strstr(err.msg, where) && strstr(err.msg, expected), "\"%s\" lacks \"%s\" or \"%s\"", err.msg, where,
          expected);
    mets_report_translator_free(t);
    unlink(path);
    free(path);
}

static void rejects_bad_tables(void)
{
    check_bad_table("# comment\n\nsinus rhythm only\n", 3, "found no tab");
    check_bad_table("a\tb\tc\n", 1, "more than one tab");
    check_bad_table("a\tb\nlinks\t\n", 2, "empty right side");
    check_bad_table("\tleft\n", 1, "empty left side");
    check_bad_table("!keep\tsinus\n", 1, "unknown directive '!keep'");
    check_bad_table("!english\tsinus, rhythm\n", 1, "expected words separated by spaces");
    check_bad_table("überdreht\tmarked\nx\ty\nueberdreht\tmarked\n", 3, "already at line 1");
    check_bad_table(" \t x\n", 1, "expected a phrase");
    mets_err err = {0};
    CHECK(!mets_report_translator_new("/nonexistent/phrases.tsv", &err) && err.code == METS_ENOTFOUND);
    CHECK(strstr(err.msg, "/nonexistent/phrases.tsv"), "%s", err.msg);
}

static void reads_windows_line_ends(void)
{
    mets_report_translator *t = small_table("# table\r\nlinks\tleft\r\n!drop\tbericht\r\n!cut\tedit:\r\n");
    check_translation(t, "links bericht links edit: links", "left left");
    mets_report_translator_free(t);
}

static void rejects_bad_arguments_and_small_buffers(void)
{
    char out[16];
    CHECK(mets_report_translate(NULL, "x", out, sizeof out, NULL) == METS_EINVAL);
    CHECK(mets_report_translate(builtin(), NULL, out, sizeof out, NULL) == METS_EINVAL);
    CHECK(mets_report_translate(builtin(), "x", out, 0, NULL) == METS_EINVAL);
    CHECK(mets_report_translate(builtin(), "sinusrhythmus lagetyp normal", out, sizeof out, NULL) == METS_ENOMEM);
    CHECK(!strcmp(out, "sinus rhythm. n"), "%s", out); /* as much as fits */
    CHECK(mets_report_translate(builtin(), "", out, sizeof out, NULL) == 0 && !*out);
}

int main(void)
{
    RUN(translates_real_reports);
    RUN(strips_boilerplate);
    RUN(lowercases_umlauts_and_accepts_ae_spellings);
    RUN(passes_english_through);
    RUN(replaces_whole_words_only);
    RUN(prefers_the_longest_phrase);
    RUN(tidies_punctuation);
    RUN(counts_words);
    RUN(rejects_bad_tables);
    RUN(reads_windows_line_ends);
    RUN(rejects_bad_arguments_and_small_buffers);
    mets_report_translator_free(builtin());
    return mets_test_summary();
}
