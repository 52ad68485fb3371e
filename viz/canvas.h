/* A drawing surface in millimetres (origin top left, y down) with two back ends behind one set of calls:
 * SVG written by hand (plain text, mm units through the viewBox, every stroke with a class so that tools
 * and tests can find the grid, the leads and the scores) and PNG through cairo. The figure code draws
 * once; only these few primitives differ per format.
 *
 * Thread-safety: a canvas is used by one thread; canvases share nothing.
 *
 *     mets_err err;
 *     mets_canvas *c = mets_canvas_new(f, METS_CANVAS_SVG, 250, 100, 0, &err);  // f: an open FILE *
 *     mets_canvas_move(c, 10, 50);
 *     mets_canvas_line(c, 240, 50);
 *     mets_canvas_stroke(c, &(mets_pen){.rgb = 0x000000, .width = 0.3}, "lead", "II");
 *     mets_canvas_text(c, 10, 8, 4, 0x000000, METS_TEXT_START, "lead II");
 *     if (mets_canvas_finish(c, &err)) ...  // writes the PNG (SVG is written as it goes); frees c
 */
#ifndef METS_VIZ_CANVAS_H
#define METS_VIZ_CANVAS_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"

typedef enum { METS_CANVAS_SVG, METS_CANVAS_PNG } mets_canvas_format;
typedef enum { METS_TEXT_START, METS_TEXT_MIDDLE, METS_TEXT_END } mets_text_anchor;

typedef struct mets_pen {
    uint32_t rgb;   /* 0xRRGGBB */
    double width;   /* mm */
    double dash;    /* mm of dash and of gap; 0: solid */
    int crisp;      /* a hairline such as a grid line: in PNG whole pixels (at least 1), not antialiased */
} mets_pen;

typedef struct mets_canvas mets_canvas;

/* A canvas of width x height mm writing to `out` (left open by finish). px_per_mm is the PNG's
 * resolution (ignored for SVG). NULL with err filled when cairo cannot make the surface. */
mets_canvas *mets_canvas_new(FILE *out, mets_canvas_format fmt, double width_mm, double height_mm, double px_per_mm,
                             mets_err *err);
/* Writes what is left (the PNG, the SVG's closing tag), frees the canvas; METS_EIO when writing failed. */
int mets_canvas_finish(mets_canvas *c, mets_err *err);
/* Frees without finishing (an error path: the caller removes the half-written file). */
void mets_canvas_free(mets_canvas *c);

/* Groups nest; in SVG a <g id="...">, in PNG nothing. */
void mets_canvas_group_begin(mets_canvas *c, const char *id);
void mets_canvas_group_end(mets_canvas *c);

/* The current path: sub-paths started by move, extended by line; stroke draws and clears it. `cls`
 * becomes the SVG class and `label` (may be NULL) a data-label attribute. */
void mets_canvas_move(mets_canvas *c, double x, double y);
void mets_canvas_line(mets_canvas *c, double x, double y);
void mets_canvas_stroke(mets_canvas *c, const mets_pen *pen, const char *cls, const char *label);

void mets_canvas_fill_rect(mets_canvas *c, double x, double y, double w, double h, uint32_t rgb, double opacity,
                           const char *cls);
/* UTF-8 text in a sans-serif face, `size` mm high, its baseline at y. */
void mets_canvas_text(mets_canvas *c, double x, double y, double size, uint32_t rgb, mets_text_anchor anchor,
                      const char *text);

#endif
