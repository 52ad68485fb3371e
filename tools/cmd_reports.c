/* mets reports [--data DIR] [--table FILE] [--show N]: translates every report of PTB-XL into English
 * with the phrase table and prints how much of the report text the table covers, the most frequent
 * words it does not know, and how many distinct reports remain; the way to extend the table. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "strlist.h"
#include "csv.h"
#include "report.h"

#define TOP_UNCOVERED 30
#define MAX_REPORT 8192 /* bytes of one translation; PTB-XL's longest report is under 400 */

static const char usage_text[] =
    "usage: mets reports [--data DIR] [--table FILE] [--show N]\n"
    "  Translates the reports of DIR/ptbxl/ptbxl_database.csv into English and prints the coverage:\n"
    "  report words covered by the phrase table, already English, uncovered (top 30 with counts),\n"
    "  and the number of distinct reports before and after translation.\n"
    "  -d, --data DIR     the data folder (default: $METS_DATA, else the repository's .cache/data)\n"
    "  -t, --table FILE   a phrase table to try instead of the built-in train/report_phrases.tsv\n"
    "  -s, --show N       also print N reports before and after translation\n";

static int by_string(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The uncovered words, one entry per occurrence; counted at the end. */
static void note_uncovered(void *ctx, const char *word, size_t len)
{
    mets_strlist_add(ctx, word, len);
}

typedef struct corpus {
    mets_strlist before, after, uncovered;
    mets_report_stats stats;
} corpus;

static int add_translation(corpus *c, const mets_report_translator *tr, const mets_csv *csv, int col,
                           mets_err *err)
{
    char out[MAX_REPORT];
    const char *report = mets_csv_field(csv, (size_t)col);
    int n = mets_report_translate(tr, report, out, sizeof out, &c->stats);
    if (n < 0)
        return mets_err_set(err, n, "line %d: cannot translate the report (%s)", mets_csv_line(csv),
                            mets_err_name(n));
    if (mets_strlist_add(&c->before, report, strlen(report)) || mets_strlist_add(&c->after, out, (size_t)n))
        return mets_err_set(err, METS_ENOMEM, "out of memory");
    return 0;
}

static int translate_all(const char *csv_path, const mets_report_translator *tr, corpus *c, mets_err *err)
{
    mets_csv *csv = mets_csv_open(csv_path, err);
    if (!csv)
        return err->code;
    int col = mets_csv_column(csv, "report"), rc;
    if (col < 0)
        rc = mets_err_set(err, METS_EFORMAT, "%s: no column 'report'", csv_path);
    else
        while ((rc = mets_csv_next(csv, err)) == 1 && !(rc = add_translation(c, tr, csv, col, err)))
            ;
    mets_csv_close(csv);
    return rc;
}

/* Sorts the list and returns the number of distinct strings. */
static size_t count_distinct(mets_strlist *l)
{
    qsort(l->v, l->n, sizeof *l->v, by_string);
    size_t d = 0;
    for (size_t i = 0; i < l->n; i++)
        d += !i || strcmp(l->v[i - 1], l->v[i]);
    return d;
}

static double percent(size_t part, size_t whole)
{
    return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static void print_coverage(const mets_report_stats *s)
{
    size_t words = s->covered + s->english + s->uncovered;
    printf("report words (boilerplate of %zu words deleted first): %zu\n", s->dropped, words);
    printf("  covered by the phrase table %8zu  %6.2f%%\n", s->covered, percent(s->covered, words));
    printf("  English already             %8zu  %6.2f%%\n", s->english, percent(s->english, words));
    printf("  uncovered                   %8zu  %6.2f%%\n", s->uncovered, percent(s->uncovered, words));
    printf("words not English already that the table covers: %.2f%%\n",
           percent(s->covered, s->covered + s->uncovered));
}

typedef struct word_count {
    const char *word;
    size_t count;
} word_count;

static int by_count(const void *pa, const void *pb)
{
    const word_count *a = pa, *b = pb;
    return a->count != b->count ? (a->count < b->count ? 1 : -1) : strcmp(a->word, b->word);
}

static int print_uncovered(mets_strlist *words)
{
    size_t distinct = count_distinct(words), k = 0;
    word_count *wc = malloc((distinct ? distinct : 1) * sizeof *wc);
    if (!wc)
        return -1;
    for (size_t i = 0; i < words->n; i++) {
        if (!i || strcmp(words->v[i - 1], words->v[i]))
            wc[k++] = (word_count){words->v[i], 0};
        wc[k - 1].count++;
    }
    qsort(wc, k, sizeof *wc, by_count);
    printf("uncovered words, top %d of %zu distinct:\n", TOP_UNCOVERED, distinct);
    for (size_t i = 0; i < k && i < TOP_UNCOVERED; i++)
        printf("  %6zu  %s\n", wc[i].count, wc[i].word);
    free(wc);
    return 0;
}

/* N reports spread evenly over the file, before and after. */
static void print_examples(const corpus *c, long show)
{
    for (long i = 0; i < show && c->before.n; i++) {
        size_t at = (size_t)i * c->before.n / (size_t)show;
        printf("\nbefore: %s\nafter:  %s\n", c->before.v[at], c->after.v[at]);
    }
}

static int report_corpus(const char *csv_path, const mets_report_translator *tr, long show)
{
    corpus c = {.stats.on_uncovered = note_uncovered};
    c.stats.ctx = &c.uncovered;
    mets_err err;
    int rc = translate_all(csv_path, tr, &c, &err);
    if (rc)
        fprintf(stderr, "mets reports: %s\n", err.msg);
    else {
        printf("reports: %zu in %s\n", c.before.n, csv_path);
        print_coverage(&c.stats);
        rc = print_uncovered(&c.uncovered);
        print_examples(&c, show);
        size_t before = count_distinct(&c.before), after = count_distinct(&c.after);
        printf("%sdistinct reports: %zu before translation, %zu after\n", show ? "\n" : "", before, after);
    }
    mets_strlist_free(&c.before), mets_strlist_free(&c.after), mets_strlist_free(&c.uncovered);
    return rc ? 1 : 0;
}

int mets_cmd_reports(int argc, char **argv)
{
    static const struct option opts[] = {{"data", required_argument, NULL, 'd'},
                                         {"table", required_argument, NULL, 't'},
                                         {"show", required_argument, NULL, 's'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *data = NULL, *table = NULL;
    long show = 0;
    char *end;
    for (int c; (c = getopt_long(argc, argv, "d:t:s:h", opts, NULL)) != -1;) {
        if (c == 'd')
            data = optarg;
        else if (c == 't')
            table = optarg;
        else if (c == 's' && (show = strtol(optarg, &end, 10)) >= 0 && !*end && *optarg)
            continue;
        else {
            fputs(usage_text, c == 'h' ? stdout : stderr);
            return c == 'h' ? 0 : 2;
        }
    }
    if (optind < argc) {
        fputs(usage_text, stderr);
        return 2;
    }
    mets_err err;
    mets_report_translator *tr = mets_report_translator_new(table, &err);
    if (!tr) {
        fprintf(stderr, "mets reports: %s\n", err.msg);
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/ptbxl/ptbxl_database.csv", mets_cli_data_dir(data));
    int rc = report_corpus(path, tr, show);
    mets_report_translator_free(tr);
    return rc;
}
