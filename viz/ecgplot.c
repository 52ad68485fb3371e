#include "ecgplot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOP_MM 18.0
#define LEAD_MM 30.0     /* one lead's band: +-1.5 mV around its baseline */
#define SCORE_GAP_MM 3.0
#define SCORE_MM 24.0    /* probability 0..1 */
#define AXIS_MM 7.0
#define ROW_GAP_MM 5.0
#define GRID_X0_MM (METS_ECGPLOT_LEFT_MM - 15.0) /* the paper starts left of the calibration pulse */
#define LEGEND_ITEM_MM 28.0
#define LEGEND_LINE_MM 5.0
#define MIN_WIDTH_MM 160.0 /* room for the title on short strips */
#define BUCKET_MM 0.25     /* the trace keeps each 0.25 mm column's minimum and maximum: peaks stay exact */

#define INK 0x000000
#define GRID_MINOR 0xf8d5d5
#define GRID_MAJOR 0xe07b7b
#define AXIS_GREY 0x9a9a9a
#define RAISED_RED 0xd62728
#define CLEARED_GREEN 0x2ca02c

/* Distinct colours for up to 16 labels (then they repeat); none is the red or green of the marks. */
static const uint32_t palette[] = {0x1f77b4, 0xff7f0e, 0x9467bd, 0x8c564b, 0xe377c2, 0x17becf, 0xbcbd22, 0x7f7f7f,
                                   0x393b79, 0xe7ba52, 0x843c39, 0x5254a3, 0x008080, 0x000000, 0xb15928, 0xa6cee3};

typedef struct layout {
    double row_s, row_w, row_h, width, height, legend_y;
    int nrows, legend_cols, legend_rows;
} layout;

static layout layout_of(const mets_ecgplot *p)
{
    layout L = {.row_s = p->row_s > 0 ? p->row_s : METS_ECGPLOT_ROW_S};
    double span = p->to_s - p->from_s;
    L.nrows = span > 0 ? (int)ceil(span / L.row_s - 1e-9) : 1;
    L.row_w = (span < L.row_s ? span : L.row_s) * METS_ECGPLOT_MM_PER_S;
    L.row_h = p->nleads * LEAD_MM + (p->nlabels ? SCORE_GAP_MM + SCORE_MM : 0) + AXIS_MM + ROW_GAP_MM;
    L.width = METS_ECGPLOT_LEFT_MM + L.row_w + METS_ECGPLOT_RIGHT_MM;
    if (L.width < MIN_WIDTH_MM)
        L.width = MIN_WIDTH_MM;
    int items = p->nlabels + (p->nmarks ? 2 : 0);
    L.legend_cols = (int)((L.width - GRID_X0_MM) / LEGEND_ITEM_MM);
    L.legend_rows = items ? (items + L.legend_cols - 1) / L.legend_cols : 0;
    L.legend_y = TOP_MM + L.nrows * L.row_h;
    L.height = L.legend_y + (L.legend_rows ? 6.0 + L.legend_rows * LEGEND_LINE_MM : 0) + 2.0;
    return L;
}

void mets_ecgplot_size(const mets_ecgplot *p, double *width_mm, double *height_mm)
{
    layout L = layout_of(p);
    *width_mm = L.width, *height_mm = L.height;
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* A lead's baseline: the median of its valid samples, so that wander does not push it off its band. */
static float median_mv(const float *mv, int n)
{
    float *v = malloc((size_t)(n > 0 ? n : 1) * sizeof *v);
    if (!v)
        return 0;
    int m = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(mv[i]))
            v[m++] = mv[i];
    qsort(v, (size_t)m, sizeof *v, cmp_float);
    float med = m ? v[m / 2] : 0;
    free(v);
    return med;
}

/* Lines every mm (minor) or every 5 mm (major) over [x0, x1] x [y0, y1], aligned with the trace's origin. */
static void grid(mets_canvas *c, double x0, double x1, double y0, double y1, int major)
{
    for (int k = (int)ceil(x0 - METS_ECGPLOT_LEFT_MM); k <= (int)floor(x1 - METS_ECGPLOT_LEFT_MM + 1e-6); k++)
        if ((k % 5 == 0) == major) {
            mets_canvas_move(c, METS_ECGPLOT_LEFT_MM + k, y0);
            mets_canvas_line(c, METS_ECGPLOT_LEFT_MM + k, y1);
        }
    for (int k = 0; k <= (int)lround(y1 - y0); k++)
        if ((k % 5 == 0) == major) {
            mets_canvas_move(c, x0, y0 + k);
            mets_canvas_line(c, x1, y0 + k);
        }
    mets_canvas_stroke(c, &(mets_pen){.rgb = major ? GRID_MAJOR : GRID_MINOR, .width = major ? 0.2 : 0.08, .crisp = 1},
                       major ? "grid-major" : "grid-minor", NULL);
}

/* 1 mV for 0.2 s, the standard calibration pulse, left of the trace. */
static void calibration(mets_canvas *c, double base)
{
    double x = METS_ECGPLOT_LEFT_MM - 10, h = METS_ECGPLOT_MM_PER_MV;
    mets_canvas_move(c, x, base);
    mets_canvas_line(c, x + 1, base);
    mets_canvas_line(c, x + 1, base - h);
    mets_canvas_line(c, x + 6, base - h);
    mets_canvas_line(c, x + 6, base);
    mets_canvas_line(c, x + 7, base);
    mets_canvas_stroke(c, &(mets_pen){.rgb = INK, .width = 0.3}, "calibration", NULL);
}

static double clamp(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Sample i's x on a row starting at t0. */
static double sample_x(const mets_ecgplot *p, long i, double t0)
{
    return METS_ECGPLOT_LEFT_MM + ((double)i / p->fs + p->from_s - t0) * METS_ECGPLOT_MM_PER_S;
}

/* One lead over [t0, t1): per 0.25 mm column its lowest and highest samples in time order (what a printer
 * of that resolution shows; it halves the SVG), broken at invalid samples, kept inside the row's area. */
static void trace(mets_canvas *c, const mets_ecgplot *p, int lead, double t0, double t1, double base, double med,
                  double ytop, double ybot)
{
    const float *mv = p->mv[lead];
    long i0 = lround((t0 - p->from_s) * p->fs), i1 = lround((t1 - p->from_s) * p->fs);
    if (i1 > p->nsamples)
        i1 = p->nsamples;
    int drawing = 0;
    for (long i = i0; i < i1;) {
        if (isnan(mv[i])) {
            drawing = 0, i++;
            continue;
        }
        double col = floor((sample_x(p, i, t0) - METS_ECGPLOT_LEFT_MM) / BUCKET_MM);
        long j = i, lo = i, hi = i;
        while (j + 1 < i1 && !isnan(mv[j + 1]) &&
               floor((sample_x(p, j + 1, t0) - METS_ECGPLOT_LEFT_MM) / BUCKET_MM) == col) {
            j++;
            lo = mv[j] < mv[lo] ? j : lo, hi = mv[j] > mv[hi] ? j : hi;
        }
        long pts[3] = {i, lo < hi ? lo : hi, lo < hi ? hi : lo}; /* i: where a piece starts, so it starts there */
        int drawing_before = drawing;
        for (int k = drawing ? 1 : 0; k < 3; k++) {
            if (k && pts[k] == pts[k - 1] && (k == 2 || !drawing_before))
                continue;
            double y = clamp(base - (mv[pts[k]] - med) * METS_ECGPLOT_MM_PER_MV, ytop, ybot);
            if (drawing)
                mets_canvas_line(c, sample_x(p, pts[k], t0), y);
            else
                mets_canvas_move(c, sample_x(p, pts[k], t0), y), drawing = 1;
        }
        i = j + 1;
    }
    mets_canvas_stroke(c, &(mets_pen){.rgb = INK, .width = 0.3}, "lead", p->lead_names[lead]);
}

/* Label k's probability at t, linear between window ends; NAN outside the scored span. */
static double prob_at(const mets_ecgplot *p, int k, double t)
{
    const float *q = p->prob;
    int n = p->nlabels;
    for (int i = 1; i < p->nscores; i++)
        if (p->score_t[i - 1] <= t && t <= p->score_t[i]) {
            double a = (t - p->score_t[i - 1]) / (p->score_t[i] - p->score_t[i - 1]);
            return q[(size_t)(i - 1) * n + k] + a * (q[(size_t)i * n + k] - q[(size_t)(i - 1) * n + k]);
        }
    return p->nscores == 1 && t == p->score_t[0] ? q[k] : NAN;
}

static void score_point(mets_canvas *c, const mets_ecgplot *p, int k, double t, double t0, double ytop, int *started)
{
    double v = prob_at(p, k, t);
    if (isnan(v))
        return;
    double x = METS_ECGPLOT_LEFT_MM + (t - t0) * METS_ECGPLOT_MM_PER_S, y = ytop + (1 - v) * SCORE_MM;
    if (*started)
        mets_canvas_line(c, x, y);
    else
        mets_canvas_move(c, x, y), *started = 1;
}

/* Label k's probability over [t0, t1]: every window end in the row, and the row's edges where windows
 * on both sides give a value. */
static void score_line(mets_canvas *c, const mets_ecgplot *p, int k, double t0, double t1, double ytop)
{
    int started = 0;
    score_point(c, p, k, t0, t0, ytop, &started);
    for (int i = 0; i < p->nscores; i++)
        if (p->score_t[i] > t0 && p->score_t[i] < t1)
            score_point(c, p, k, p->score_t[i], t0, ytop, &started);
    score_point(c, p, k, t1, t0, ytop, &started);
    int hl = k == p->highlight;
    mets_canvas_stroke(c, &(mets_pen){.rgb = palette[k % 16], .width = hl ? 0.7 : 0.3}, "score", p->labels[k]);
}

static void score_panel(mets_canvas *c, const mets_ecgplot *p, const layout *L, double t0, double t1, double ytop)
{
    double x1 = METS_ECGPLOT_LEFT_MM + (t1 - t0) * METS_ECGPLOT_MM_PER_S;
    for (int q = 0; q <= 4; q++) {
        mets_canvas_move(c, METS_ECGPLOT_LEFT_MM, ytop + q * SCORE_MM / 4);
        mets_canvas_line(c, x1, ytop + q * SCORE_MM / 4);
    }
    mets_canvas_move(c, METS_ECGPLOT_LEFT_MM, ytop);
    mets_canvas_line(c, METS_ECGPLOT_LEFT_MM, ytop + SCORE_MM);
    mets_canvas_stroke(c, &(mets_pen){.rgb = 0xd8d8d8, .width = 0.15, .crisp = 1}, "score-axis", NULL);
    mets_canvas_text(c, METS_ECGPLOT_LEFT_MM - 1.5, ytop + 1.2, 2.6, AXIS_GREY, METS_TEXT_END, "1");
    mets_canvas_text(c, METS_ECGPLOT_LEFT_MM - 1.5, ytop + SCORE_MM / 2 + 1, 2.6, AXIS_GREY, METS_TEXT_END, "0.5");
    mets_canvas_text(c, METS_ECGPLOT_LEFT_MM - 1.5, ytop + SCORE_MM + 0.8, 2.6, AXIS_GREY, METS_TEXT_END, "0");
    mets_canvas_text(c, GRID_X0_MM, ytop + SCORE_MM / 4 + 1, 2.6, AXIS_GREY, METS_TEXT_START, "p");
    for (int k = 0; k < p->nlabels; k++)
        if (k != p->highlight)
            score_line(c, p, k, t0, t1, ytop);
    if (p->highlight >= 0 && p->highlight < p->nlabels)
        score_line(c, p, p->highlight, t0, t1, ytop); /* on top */
    (void)L;
}

/* Ticks every second with labels, under the row. */
static void time_axis(mets_canvas *c, double t0, double t1, double y)
{
    char buf[32];
    for (double t = ceil(t0 - 1e-9); t <= t1 + 1e-9; t += 1) {
        double x = METS_ECGPLOT_LEFT_MM + (t - t0) * METS_ECGPLOT_MM_PER_S;
        mets_canvas_move(c, x, y);
        mets_canvas_line(c, x, y + 1.5);
        snprintf(buf, sizeof buf, "%.0f s", t + 0.0); /* + 0.0: -0 becomes 0 */
        mets_canvas_text(c, x, y + 4.6, 2.8, INK, METS_TEXT_MIDDLE, buf);
    }
    mets_canvas_stroke(c, &(mets_pen){.rgb = INK, .width = 0.2}, "axis", NULL);
}

static const mets_pen *mark_pen(mets_mark_kind kind)
{
    static const mets_pen raised = {.rgb = RAISED_RED, .width = 0.45},
                          cleared = {.rgb = CLEARED_GREEN, .width = 0.5, .dash = 1.2};
    return kind == METS_MARK_RAISED ? &raised : &cleared;
}

static void marks(mets_canvas *c, const mets_ecgplot *p, double t0, double t1, double ytop, double ybot)
{
    for (int m = 0; m < p->nmarks; m++) {
        const mets_ecgplot_mark *mk = &p->marks[m];
        if (mk->t_s < t0 || mk->t_s > t1 || (mk->t_s == t1 && t1 < p->to_s))
            continue; /* a mark on a row boundary is drawn once, at the start of the next row */
        double x = METS_ECGPLOT_LEFT_MM + (mk->t_s - t0) * METS_ECGPLOT_MM_PER_S;
        mets_canvas_move(c, x, ytop);
        mets_canvas_line(c, x, ybot);
        const mets_pen *pen = mark_pen(mk->kind);
        mets_canvas_stroke(c, pen, mk->kind == METS_MARK_RAISED ? "mark raised" : "mark cleared", mk->text);
        int right = x + 40 < METS_ECGPLOT_LEFT_MM + (t1 - t0) * METS_ECGPLOT_MM_PER_S;
        mets_canvas_text(c, right ? x + 1 : x - 1, ytop + 3.2, 3.0, pen->rgb, right ? METS_TEXT_START : METS_TEXT_END,
                         mk->text);
    }
}

/* Alert duration: shades the score panel between a raise and the next clear (or the row's end). */
static void alert_bands(mets_canvas *c, const mets_ecgplot *p, double t0, double t1, double ytop)
{
    for (int m = 0; m < p->nmarks; m++) {
        if (p->marks[m].kind != METS_MARK_RAISED)
            continue;
        double end = p->to_s;
        for (int n = 0; n < p->nmarks; n++)
            if (p->marks[n].kind == METS_MARK_CLEARED && p->marks[n].t_s >= p->marks[m].t_s && p->marks[n].t_s < end)
                end = p->marks[n].t_s;
        double a = p->marks[m].t_s > t0 ? p->marks[m].t_s : t0, b = end < t1 ? end : t1;
        if (b > a)
            mets_canvas_fill_rect(c, METS_ECGPLOT_LEFT_MM + (a - t0) * METS_ECGPLOT_MM_PER_S, ytop,
                                  (b - a) * METS_ECGPLOT_MM_PER_S, SCORE_MM, RAISED_RED, 0.08, "alert-band");
    }
}

static void row(mets_canvas *c, const mets_ecgplot *p, const layout *L, int r, const float *med)
{
    double t0 = p->from_s + r * L->row_s, t1 = t0 + L->row_s < p->to_s ? t0 + L->row_s : p->to_s;
    double y0 = TOP_MM + r * L->row_h, x1 = METS_ECGPLOT_LEFT_MM + (t1 - t0) * METS_ECGPLOT_MM_PER_S;
    double ecg_bot = y0 + p->nleads * LEAD_MM, score_top = ecg_bot + SCORE_GAP_MM;
    double axis_y = p->nlabels ? score_top + SCORE_MM : ecg_bot;
    char id[32];
    snprintf(id, sizeof id, "row-%d", r + 1);
    mets_canvas_group_begin(c, id);
    grid(c, GRID_X0_MM, x1, y0, ecg_bot, 0);
    grid(c, GRID_X0_MM, x1, y0, ecg_bot, 1);
    for (int l = 0; l < p->nleads; l++) {
        double base = y0 + l * LEAD_MM + LEAD_MM / 2;
        mets_canvas_text(c, GRID_X0_MM + 1, base - METS_ECGPLOT_MM_PER_MV - 2, 3.5, INK, METS_TEXT_START,
                         p->lead_names[l]);
        calibration(c, base);
        trace(c, p, l, t0, t1, base, med[l], y0, ecg_bot);
    }
    if (p->nlabels) {
        alert_bands(c, p, t0, t1, score_top);
        score_panel(c, p, L, t0, t1, score_top);
    }
    time_axis(c, t0, t1, axis_y);
    marks(c, p, t0, t1, y0, axis_y);
    mets_canvas_group_end(c);
}

static void legend(mets_canvas *c, const mets_ecgplot *p, const layout *L)
{
    if (!L->legend_rows)
        return;
    char buf[96];
    mets_canvas_group_begin(c, "legend");
    snprintf(buf, sizeof buf, "p: zero-shot probability of each label of group %s, at each window's end",
             p->group ? p->group : "");
    mets_canvas_text(c, GRID_X0_MM, L->legend_y + 2.5, 3.0, INK, METS_TEXT_START, buf);
    int items = p->nlabels + (p->nmarks ? 2 : 0);
    for (int k = 0; k < items; k++) {
        double x = GRID_X0_MM + (k % L->legend_cols) * LEGEND_ITEM_MM;
        double y = L->legend_y + 6.0 + (k / L->legend_cols) * LEGEND_LINE_MM + 1.5;
        mets_pen pen = {.rgb = palette[k % 16], .width = k == p->highlight ? 0.7 : 0.4};
        const char *name = k < p->nlabels ? p->labels[k] : k == p->nlabels ? "alert raised" : "alert cleared";
        if (k >= p->nlabels)
            pen = *mark_pen(k == p->nlabels ? METS_MARK_RAISED : METS_MARK_CLEARED);
        mets_canvas_move(c, x, y - 1);
        mets_canvas_line(c, x + 6, y - 1);
        mets_canvas_stroke(c, &pen, "legend", name);
        mets_canvas_text(c, x + 7.5, y, 3.0, INK, METS_TEXT_START, name);
    }
    mets_canvas_group_end(c);
}

void mets_ecgplot_draw(const mets_ecgplot *p, mets_canvas *c)
{
    layout L = layout_of(p);
    float med[METS_ECGPLOT_MAX_LEADS];
    for (int l = 0; l < p->nleads; l++)
        med[l] = median_mv(p->mv[l], p->nsamples);
    mets_canvas_text(c, GRID_X0_MM, 7.5, 5.0, INK, METS_TEXT_START, p->title ? p->title : "");
    if (p->subtitle)
        mets_canvas_text(c, GRID_X0_MM, 13.5, 3.5, INK, METS_TEXT_START, p->subtitle);
    mets_canvas_text(c, L.width - METS_ECGPLOT_RIGHT_MM, 7.5, 3.0, AXIS_GREY, METS_TEXT_END, "25 mm/s, 10 mm/mV");
    for (int r = 0; r < L.nrows; r++)
        row(c, p, &L, r, med);
    legend(c, p, &L);
}
