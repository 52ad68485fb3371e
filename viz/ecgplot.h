/* The alert picture: an ECG strip on standard paper (25 mm/s, 10 mm/mV, 1 mm minor and 5 mm major grid,
 * a 1 mV calibration pulse per lead) wrapped into rows of row_s seconds like a rhythm-strip printout,
 * each row followed by a panel of the zero-shot probabilities of one label group on the same time axis,
 * with vertical marks where an alert was raised and cleared. Inputs are plain arrays the caller fills
 * (tools/cmd_plot.c scores a record the way metsd does); this file only lays out and draws.
 *
 * In the SVG every stroke has a class: "grid-minor", "grid-major", "calibration", "lead" (one path per
 * lead and row, data-label = lead name), "score" (one per label and row, data-label = label name),
 * "mark raised" / "mark cleared" (data-label = the mark's text). Trace x = METS_ECGPLOT_LEFT_MM +
 * 25 mm per second from the row's start.
 *
 * Thread-safety: pure; any number of threads may draw different plots.
 *
 *     mets_ecgplot p = {.title = "201", .from_s = 60, .to_s = 80, .fs = 360, .nsamples = 7200,
 *                       .nleads = 1, .lead_names = {"II"}, .mv = {lead_ii}};
 *     double w, h;
 *     mets_ecgplot_size(&p, &w, &h);
 *     mets_canvas *c = mets_canvas_new(f, METS_CANVAS_SVG, w, h, 0, &err);
 *     mets_ecgplot_draw(&p, c);
 *     mets_canvas_finish(c, &err);
 */
#ifndef METS_VIZ_ECGPLOT_H
#define METS_VIZ_ECGPLOT_H

#include "canvas.h"

#define METS_ECGPLOT_MAX_LEADS 12
#define METS_ECGPLOT_MM_PER_S 25.0
#define METS_ECGPLOT_MM_PER_MV 10.0
#define METS_ECGPLOT_LEFT_MM 22.0  /* paper edge to the first sample: lead name and calibration pulse */
#define METS_ECGPLOT_RIGHT_MM 6.0
#define METS_ECGPLOT_ROW_S 10.0    /* default row length */

typedef enum { METS_MARK_RAISED, METS_MARK_CLEARED } mets_mark_kind;

typedef struct mets_ecgplot_mark {
    double t_s;          /* record seconds */
    mets_mark_kind kind;
    const char *text;    /* e.g. "AFIB raised 0.91" */
} mets_ecgplot_mark;

typedef struct mets_ecgplot {
    const char *title, *subtitle; /* subtitle may be NULL */
    double from_s, to_s;          /* the record seconds shown */
    double row_s;                 /* 0: METS_ECGPLOT_ROW_S */
    /* The strip: nsamples per lead at fs, the first at from_s, in mV (NaN: no sample). */
    double fs;
    int nsamples, nleads;
    const char *lead_names[METS_ECGPLOT_MAX_LEADS];
    const float *mv[METS_ECGPLOT_MAX_LEADS];
    /* The scores: nscores windows ending at score_t[i] (record seconds), prob[i * nlabels + k]. */
    const char *group;
    int nlabels, nscores;
    const char *const *labels;
    const double *score_t;
    const float *prob;
    int highlight;                /* label drawn thicker (the alert's), -1: none */
    int nmarks;
    const mets_ecgplot_mark *marks;
} mets_ecgplot;

/* The picture's size in mm. */
void mets_ecgplot_size(const mets_ecgplot *p, double *width_mm, double *height_mm);
void mets_ecgplot_draw(const mets_ecgplot *p, mets_canvas *c);

#endif
