#include "canvas.h"

#include <cairo.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define FONT "DejaVu Sans"

struct mets_canvas {
    FILE *out;
    mets_canvas_format fmt;
    cairo_surface_t *surface; /* PNG only */
    cairo_t *cr;
    char *d;                  /* SVG only: the current path's "d" */
    size_t dlen, dcap;
    int in_line;  /* the path's last command was l: more points need no letter */
    long lx, ly;  /* the path's current point in 0.1 mm, as written (so relative steps do not drift) */
    int oom;
};

/* Appends to the SVG path being built; on allocation failure the path is dropped and finish reports it. */
static void d_append(mets_canvas *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void d_append(mets_canvas *c, const char *fmt, ...)
{
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (c->dlen + (size_t)n + 1 > c->dcap) {
        size_t cap = c->dcap ? c->dcap * 2 : 4096;
        char *d = realloc(c->d, cap);
        if (!d) {
            c->oom = 1;
            return;
        }
        c->d = d, c->dcap = cap;
    }
    memcpy(c->d + c->dlen, buf, (size_t)n + 1);
    c->dlen += (size_t)n;
}

/* Text as XML character data or attribute value. */
static void xml_escaped(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20 || *s == '\t')
                fputc(*s, f);
        }
    }
}

static void cairo_rgb(cairo_t *cr, uint32_t rgb, double alpha)
{
    cairo_set_source_rgba(cr, (rgb >> 16 & 255) / 255.0, (rgb >> 8 & 255) / 255.0, (rgb & 255) / 255.0, alpha);
}

mets_canvas *mets_canvas_new(FILE *out, mets_canvas_format fmt, double width_mm, double height_mm, double px_per_mm,
                             mets_err *err)
{
    mets_canvas *c = calloc(1, sizeof *c);
    if (!c) {
        mets_err_set(err, METS_ENOMEM, "out of memory");
        return NULL;
    }
    c->out = out, c->fmt = fmt;
    if (fmt == METS_CANVAS_SVG) {
        fprintf(out,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.2fmm\" height=\"%.2fmm\" "
                "viewBox=\"0 0 %.2f %.2f\" font-family=\"" FONT ", sans-serif\">\n"
                "<rect class=\"paper\" x=\"0\" y=\"0\" width=\"%.2f\" height=\"%.2f\" fill=\"#ffffff\"/>\n",
                width_mm, height_mm, width_mm, height_mm, width_mm, height_mm);
        return c;
    }
    int w = (int)lround(width_mm * px_per_mm), h = (int)lround(height_mm * px_per_mm);
    c->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    c->cr = cairo_create(c->surface);
    if (cairo_status(c->cr) != CAIRO_STATUS_SUCCESS) {
        mets_err_set(err, METS_ENOMEM, "cairo: %d x %d px: %s", w, h, cairo_status_to_string(cairo_status(c->cr)));
        mets_canvas_free(c);
        return NULL;
    }
    cairo_set_source_rgb(c->cr, 1, 1, 1);
    cairo_paint(c->cr);
    cairo_scale(c->cr, px_per_mm, px_per_mm);
    cairo_select_font_face(c->cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_line_join(c->cr, CAIRO_LINE_JOIN_ROUND);
    return c;
}

void mets_canvas_free(mets_canvas *c)
{
    if (!c)
        return;
    if (c->cr)
        cairo_destroy(c->cr);
    if (c->surface)
        cairo_surface_destroy(c->surface);
    free(c->d);
    free(c);
}

static cairo_status_t write_png(void *closure, const unsigned char *data, unsigned int length)
{
    return fwrite(data, 1, length, closure) == length ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

int mets_canvas_finish(mets_canvas *c, mets_err *err)
{
    int rc = c->oom ? mets_err_set(err, METS_ENOMEM, "out of memory while drawing") : 0;
    if (c->fmt == METS_CANVAS_SVG) {
        fputs("</svg>\n", c->out);
    } else if (!rc) {
        cairo_surface_flush(c->surface);
        cairo_status_t st = cairo_surface_write_to_png_stream(c->surface, write_png, c->out);
        if (st != CAIRO_STATUS_SUCCESS)
            rc = mets_err_set(err, METS_EIO, "writing the PNG: %s", cairo_status_to_string(st));
    }
    if (!rc && (fflush(c->out) || ferror(c->out)))
        rc = mets_err_set(err, METS_EIO, "write failed");
    mets_canvas_free(c);
    return rc;
}

void mets_canvas_group_begin(mets_canvas *c, const char *id)
{
    if (c->fmt == METS_CANVAS_SVG) {
        fputs("<g id=\"", c->out);
        xml_escaped(c->out, id);
        fputs("\">\n", c->out);
    }
}

void mets_canvas_group_end(mets_canvas *c)
{
    if (c->fmt == METS_CANVAS_SVG)
        fputs("</g>\n", c->out);
}

void mets_canvas_move(mets_canvas *c, double x, double y)
{
    if (c->cr) {
        cairo_move_to(c->cr, x, y);
        return;
    }
    c->lx = lround(x * 10), c->ly = lround(y * 10), c->in_line = 0;
    d_append(c, "M%.1f %.1f", c->lx / 10.0, c->ly / 10.0);
}

/* n tenths as the shortest SVG number: 1 -> ".1", -23 -> "-2.3", 10 -> "1", -5 -> "-.5". */
static void tenths(char *buf, size_t size, long n)
{
    long a = n < 0 ? -n : n;
    if (a % 10 == 0)
        snprintf(buf, size, "%s%ld", n < 0 ? "-" : "", a / 10);
    else if (a < 10)
        snprintf(buf, size, "%s.%ld", n < 0 ? "-" : "", a);
    else
        snprintf(buf, size, "%s%ld.%ld", n < 0 ? "-" : "", a / 10, a % 10);
}

/* Lines as relative steps in 0.1 mm, the letter once: a trace of many points stays small. */
void mets_canvas_line(mets_canvas *c, double x, double y)
{
    if (c->cr) {
        cairo_line_to(c->cr, x, y);
        return;
    }
    long ix = lround(x * 10), iy = lround(y * 10);
    char dx[24], dy[24];
    tenths(dx, sizeof dx, ix - c->lx), tenths(dy, sizeof dy, iy - c->ly);
    d_append(c, "%s%s%s%s", c->in_line ? (dx[0] == '-' ? "" : " ") : "l", dx, dy[0] == '-' ? "" : " ", dy);
    c->lx = ix, c->ly = iy, c->in_line = 1;
}

void mets_canvas_stroke(mets_canvas *c, const mets_pen *pen, const char *cls, const char *label)
{
    if (c->cr) {
        double px = 1, unused = 0;
        cairo_device_to_user_distance(c->cr, &px, &unused);
        cairo_rgb(c->cr, pen->rgb, 1);
        cairo_set_line_width(c->cr, pen->crisp && pen->width < px ? px : pen->width);
        cairo_set_dash(c->cr, &pen->dash, pen->dash > 0 ? 1 : 0, 0);
        cairo_set_antialias(c->cr, pen->crisp ? CAIRO_ANTIALIAS_NONE : CAIRO_ANTIALIAS_DEFAULT);
        cairo_stroke(c->cr);
        return;
    }
    if (c->dlen) {
        fprintf(c->out, "<path class=\"%s\"", cls);
        if (label) {
            fputs(" data-label=\"", c->out);
            xml_escaped(c->out, label);
            fputc('"', c->out);
        }
        fprintf(c->out, " fill=\"none\" stroke=\"#%06x\" stroke-width=\"%.2f\" stroke-linejoin=\"round\"", pen->rgb,
                pen->width);
        if (pen->dash > 0)
            fprintf(c->out, " stroke-dasharray=\"%.2f\"", pen->dash);
        fprintf(c->out, " d=\"%s\"/>\n", c->d);
    }
    c->dlen = 0;
}

void mets_canvas_fill_rect(mets_canvas *c, double x, double y, double w, double h, uint32_t rgb, double opacity,
                           const char *cls)
{
    if (c->cr) {
        cairo_new_path(c->cr);
        cairo_rectangle(c->cr, x, y, w, h);
        cairo_rgb(c->cr, rgb, opacity);
        cairo_fill(c->cr);
        return;
    }
    fprintf(c->out, "<rect class=\"%s\" x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"#%06x\"", cls, x,
            y, w, h, rgb);
    if (opacity < 1)
        fprintf(c->out, " fill-opacity=\"%.2f\"", opacity);
    fputs("/>\n", c->out);
}

void mets_canvas_text(mets_canvas *c, double x, double y, double size, uint32_t rgb, mets_text_anchor anchor,
                      const char *text)
{
    if (c->cr) {
        cairo_new_path(c->cr);
        cairo_set_font_size(c->cr, size);
        cairo_text_extents_t ext;
        cairo_text_extents(c->cr, text, &ext);
        double dx = anchor == METS_TEXT_MIDDLE ? ext.x_advance / 2 : anchor == METS_TEXT_END ? ext.x_advance : 0;
        cairo_move_to(c->cr, x - dx, y);
        cairo_rgb(c->cr, rgb, 1);
        cairo_show_text(c->cr, text);
        cairo_new_path(c->cr);
        return;
    }
    static const char *const anchors[] = {"start", "middle", "end"};
    fprintf(c->out, "<text x=\"%.2f\" y=\"%.2f\" font-size=\"%.2f\" fill=\"#%06x\" text-anchor=\"%s\">", x, y, size,
            rgb, anchors[anchor]);
    xml_escaped(c->out, text);
    fputs("</text>\n", c->out);
}
