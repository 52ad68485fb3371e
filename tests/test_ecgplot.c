/* The alert picture (viz/ecgplot.c on viz/canvas.c): a plot built by hand is drawn as SVG and PNG, and
 * the output's structure is checked: ECG paper at 25 mm/s and 10 mm/mV, one trace per lead and row, one
 * score line per label and row, the alert marks where they belong, a PNG of the promised pixel size. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "canvas.h"
#include "ecgplot.h"
#include "fileio.h"
#include "harness.h"

#define FS 250.0
#define FROM 100.0

enum { NMAX = 25 * 250 }; /* 25 s at FS */
static float lead_a[NMAX], lead_b[NMAX];
static const char *const labels[] = {"SR", "AFIB", "VT"};
static double score_t[12];
static float prob[12 * 3];
static const mets_ecgplot_mark marks[] = {{104.0, METS_MARK_RAISED, "AFIB onset"},
                                          {113.0, METS_MARK_CLEARED, "AFIB cleared"}};

/* A strip of `seconds` from FROM: a 1 mV spike every second on a 0.3 mV offset (lead a), a sine
 * (lead b) with an invalid stretch, and scores every 2 s. */
static mets_ecgplot make_plot(double seconds)
{
    int n = (int)(seconds * FS);
    for (int i = 0; i < n; i++) {
        lead_a[i] = 0.3f + (i % (int)FS == (int)FS / 2 ? 1.0f : 0.0f);
        lead_b[i] = (i >= 500 && i < 600) ? NAN : 0.5f * (float)sin(2 * M_PI * i / FS);
    }
    for (int w = 0; w < 12; w++) {
        score_t[w] = FROM + 2.0 * w;
        prob[w * 3 + 0] = 0.1f, prob[w * 3 + 1] = w < 6 ? 0.8f : 0.2f, prob[w * 3 + 2] = 0.1f;
    }
    return (mets_ecgplot){.title = "synthetic & <test>", .subtitle = "alert AFIB", .from_s = FROM,
                          .to_s = FROM + seconds, .fs = FS, .nsamples = n, .nleads = 2, .lead_names = {"II", "V1"},
                          .mv = {lead_a, lead_b}, .group = "rhythm", .nlabels = 3, .labels = labels, .nscores = 12,
                          .score_t = score_t, .prob = prob, .highlight = 1, .nmarks = 2, .marks = marks};
}

/* Draws p into a file and returns its bytes (NUL-terminated). */
static char *render(const mets_ecgplot *p, mets_canvas_format fmt, double px_per_mm, size_t *len)
{
    const char *path = mets_test_tmp_path(fmt == METS_CANVAS_SVG ? "plot.svg" : "plot.png");
    FILE *f = fopen(path, "wb");
    double w, h;
    mets_ecgplot_size(p, &w, &h);
    mets_err err;
    mets_canvas *c = mets_canvas_new(f, fmt, w, h, px_per_mm, &err);
    CHECK(c != NULL, "%s", err.msg);
    if (!c) {
        fclose(f);
        return NULL;
    }
    mets_ecgplot_draw(p, c);
    CHECK(mets_canvas_finish(c, &err) == 0, "%s", err.msg);
    fclose(f);
    return mets_file_slurp(path, 64u << 20, len, &err);
}

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* The "d" of the k-th path with this class and label. */
static const char *path_d(const char *svg, const char *cls_label, int k)
{
    const char *p = svg;
    for (int i = 0; i <= k && p; i++)
        if ((p = strstr(p, cls_label)))
            p += strlen(cls_label);
    return p ? strstr(p, " d=\"") + 4 : NULL;
}

/* Walks a path of M (absolute) and l (relative, repeated) commands: its x extent and sub-path count. */
static void path_extent(const char *d, double *xmin, double *xmax, int *subpaths)
{
    double x = 0, y = 0;
    *xmin = 1e9, *xmax = -1e9, *subpaths = 0;
    char cmd = 'M';
    while (*d && *d != '"') {
        if (*d == 'M' || *d == 'l' || *d == 'L')
            cmd = *d++;
        char *end;
        double a = strtod(d, &end), b = strtod(end, &end);
        if (end == d)
            break;
        d = end;
        if (cmd == 'M')
            x = a, y = b, (*subpaths)++, cmd = 'L'; /* pairs after M are lines (absolute) */
        else if (cmd == 'L')
            x = a, y = b;
        else
            x += a, y += b;
        *xmin = x < *xmin ? x : *xmin, *xmax = x > *xmax ? x : *xmax;
        while (*d == ' ')
            d++;
    }
    (void)y;
}

static void svg_is_ecg_paper_at_25_mm_per_s(void)
{
    mets_ecgplot p = make_plot(10);
    size_t len;
    char *svg = render(&p, METS_CANVAS_SVG, 0, &len);
    if (!svg)
        return;
    double w, h;
    mets_ecgplot_size(&p, &w, &h);
    CHECK_NEAR(w, METS_ECGPLOT_LEFT_MM + 250 + METS_ECGPLOT_RIGHT_MM, 1e-9); /* 10 s = 250 mm */
    char want[128];
    snprintf(want, sizeof want, "width=\"%.2fmm\" height=\"%.2fmm\" viewBox=\"0 0 %.2f %.2f\"", w, h, w, h);
    CHECK(strstr(svg, want) != NULL, "%s", want);
    CHECK(!strncmp(svg, "<?xml", 5) && strstr(svg, "</svg>\n") == svg + len - 7);
    CHECK(count(svg, "class=\"grid-minor\"") == 1 && count(svg, "class=\"grid-major\"") == 1);
    CHECK(count(svg, "class=\"calibration\"") == 2);
    CHECK(count(svg, "class=\"lead\"") == 2);
    CHECK(count(svg, "class=\"score\"") == 3);
    CHECK(count(svg, "class=\"mark raised\" data-label=\"AFIB onset\"") == 1);
    CHECK(count(svg, "class=\"mark cleared\"") == 0, "113 s is outside 100..110 s");
    CHECK(strstr(svg, "synthetic &amp; &lt;test&gt;") != NULL, "text is escaped");
    CHECK(strstr(svg, ">AFIB</text>") && strstr(svg, ">VT</text>"), "the legend names the labels");
    /* Lead II: from the row's start (x = LEFT) to its last sample, 25 mm per second, one piece. */
    double xmin, xmax;
    int sub;
    path_extent(path_d(svg, "class=\"lead\" data-label=\"II\"", 0), &xmin, &xmax, &sub);
    CHECK_NEAR(xmin, METS_ECGPLOT_LEFT_MM, 0.06);
    CHECK_NEAR(xmax, METS_ECGPLOT_LEFT_MM + 250 - 25 / FS, 0.3);
    CHECK(sub == 1, "%d pieces", sub);
    /* V1 has an invalid stretch: two pieces. */
    path_extent(path_d(svg, "class=\"lead\" data-label=\"V1\"", 0), &xmin, &xmax, &sub);
    CHECK(sub == 2, "%d pieces", sub);
    /* Scores: p = 1 at the panel's top (2 leads of 30 mm and a 3 mm gap under the title), 0 24 mm lower. */
    double top = 18.0 + 2 * 30 + 3, x0, y0;
    sscanf(path_d(svg, "class=\"score\" data-label=\"AFIB\"", 0), "M%lf %lf", &x0, &y0);
    CHECK_NEAR(x0, METS_ECGPLOT_LEFT_MM, 0.06);
    CHECK_NEAR(y0, top + (1 - 0.8) * 24, 0.06);
    sscanf(path_d(svg, "class=\"score\" data-label=\"SR\"", 0), "M%lf %lf", &x0, &y0);
    CHECK_NEAR(y0, top + (1 - 0.1) * 24, 0.06);
    /* The raise at 104 s: 4 s = 100 mm after the row's start. */
    path_extent(path_d(svg, "class=\"mark raised\"", 0), &xmin, &xmax, &sub);
    CHECK_NEAR(xmin, METS_ECGPLOT_LEFT_MM + 100, 0.06);
    CHECK_NEAR(xmax, METS_ECGPLOT_LEFT_MM + 100, 0.06);
    free(svg);
}

/* 10 mm per mV: lead II's spikes (1 mV above its 0.3 mV baseline) rise 10 mm from the baseline. */
static void trace_is_10_mm_per_mv_around_its_median(void)
{
    mets_ecgplot p = make_plot(10);
    size_t len;
    char *svg = render(&p, METS_CANVAS_SVG, 0, &len);
    if (!svg)
        return;
    const char *d = path_d(svg, "class=\"lead\" data-label=\"II\"", 0);
    char *end;
    double y0 = strtod(strchr(d, ' ') + 1, &end), y = y0, ymin = y0, ymax = y0;
    for (const char *q = end; *q != '"';) {
        if (*q == 'l')
            q++;
        strtod(q, &end);
        y += strtod(end, &end);
        ymin = y < ymin ? y : ymin, ymax = y > ymax ? y : ymax;
        q = end;
        while (*q == ' ')
            q++;
    }
    CHECK_NEAR(ymax, y0, 0.06);        /* the baseline is the lowest point, drawn at the band's middle */
    CHECK_NEAR(y0 - ymin, 10.0, 0.06); /* 1 mV */
    CHECK_NEAR(y0, 18.0 + 15.0, 0.06); /* the first lead's band starts under the title */
    free(svg);
}

static void long_range_wraps_into_rows_of_10_s(void)
{
    mets_ecgplot p = make_plot(24);
    size_t len;
    char *svg = render(&p, METS_CANVAS_SVG, 0, &len);
    if (!svg)
        return;
    CHECK(strstr(svg, "<g id=\"row-3\">") && !strstr(svg, "<g id=\"row-4\">"));
    CHECK(count(svg, "class=\"lead\"") == 6 && count(svg, "class=\"score\"") == 9);
    CHECK(count(svg, "class=\"grid-minor\"") == 3);
    CHECK(count(svg, "class=\"mark raised\"") == 1 && count(svg, "class=\"mark cleared\"") == 1);
    /* The third row holds 4 s: 100 mm of trace; the clear at 113 s is 3 s into the second row. */
    double xmin, xmax;
    int sub;
    path_extent(path_d(svg, "class=\"lead\" data-label=\"II\"", 2), &xmin, &xmax, &sub);
    CHECK_NEAR(xmax - xmin, 100 - 25 / FS, 0.3);
    path_extent(path_d(svg, "class=\"mark cleared\"", 0), &xmin, &xmax, &sub);
    CHECK_NEAR(xmin, METS_ECGPLOT_LEFT_MM + 75, 0.06);
    CHECK(strstr(svg, "stroke-dasharray") != NULL, "the clear is dashed");
    free(svg);
}

static uint32_t be32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void png_has_signature_and_the_size_in_pixels(void)
{
    mets_ecgplot p = make_plot(10);
    double w, h;
    mets_ecgplot_size(&p, &w, &h);
    size_t len;
    unsigned char *png = (unsigned char *)render(&p, METS_CANVAS_PNG, 4, &len);
    if (!png)
        return;
    CHECK(len > 1000 && !memcmp(png, "\x89PNG\r\n\x1a\n", 8) && !memcmp(png + 12, "IHDR", 4));
    CHECK(be32(png + 16) == (uint32_t)lround(w * 4), "width %u", be32(png + 16));
    CHECK(be32(png + 20) == (uint32_t)lround(h * 4), "height %u", be32(png + 20));
    free(png);
}

int main(void)
{
    RUN(svg_is_ecg_paper_at_25_mm_per_s);
    RUN(trace_is_10_mm_per_mv_around_its_median);
    RUN(long_range_wraps_into_rows_of_10_s);
    RUN(png_has_signature_and_the_size_in_pixels);
    mets_test_remove_tmpdir();
    return mets_test_summary();
}
