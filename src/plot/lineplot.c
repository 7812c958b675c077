/* Line plots: see lineplot.h. */
#include "plot/lineplot.h"

#include <math.h>
#include <stdio.h>

#define MARGIN_LEFT 78
#define MARGIN_RIGHT 24
#define MARGIN_TOP 40
#define MARGIN_BOTTOM 56
#define TARGET_TICKS 6
#define MAX_TICKS 64

/* matplotlib's "tab10" colours, cycled over the series */
static const unsigned char series_colours[10][3] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44},  {214, 39, 40},   {148, 103, 189},
    {140, 86, 75},  {227, 119, 194}, {127, 127, 127}, {188, 189, 34}, {23, 190, 207},
};

/* The plotted y of a value (log10 on a log axis); 0 when it cannot be shown. */
static int plotted(float x, float y, int log_y, double *px, double *py)
{
    if (!isfinite(x) || !isfinite(y) || (log_y && !(y > 0)))
        return 0;
    *px = x;
    *py = log_y ? log10(y) : y;
    return 1;
}

/* An axis: data range [lo, hi] mapped onto canvas [a, b]. */
typedef struct axis {
    double lo, hi, a, b;
} axis;

static double axis_map(const axis *ax, double v)
{
    return ax->a + (v - ax->lo) / (ax->hi - ax->lo) * (ax->b - ax->a);
}

/* Widens an empty or one-value range so that it can be drawn. */
static void widen(double *lo, double *hi, double pad_fraction, double empty_pad)
{
    if (*hi > *lo) {
        double pad = pad_fraction * (*hi - *lo);
        *lo -= pad;
        *hi += pad;
    } else {
        double pad = fabs(*lo) > 0 ? fmax(empty_pad, 0.1 * fabs(*lo)) : empty_pad;
        *lo -= pad;
        *hi += pad;
    }
}

/* Tick positions (in plotted units) of a linear axis, or of a log axis
 * (decades, or 1-2-5 steps when fewer than three decades are in range). */
static int make_ticks(const axis *ax, int log_scale, double *ticks)
{
    int n = 0;
    if (log_scale) {
        int first = (int)ceil(ax->lo), last = (int)floor(ax->hi);
        int stride = last - first + 1 > 8 ? (last - first + 8) / 8 : 1;
        if (last - first >= 2) {
            for (int k = first; k <= last && n < MAX_TICKS; k += stride)
                ticks[n++] = k;
            return n;
        }
        static const double mantissas[3] = {1, 2, 5};
        for (int k = (int)floor(ax->lo); k <= (int)ceil(ax->hi); k++)
            for (int i = 0; i < 3 && n < MAX_TICKS; i++) {
                double t = k + log10(mantissas[i]);
                if (t >= ax->lo && t <= ax->hi)
                    ticks[n++] = t;
            }
        return n;
    }
    double step = ld_nice_number((ax->hi - ax->lo) / TARGET_TICKS, 1);
    for (double t = ceil(ax->lo / step) * step; t <= ax->hi + 1e-9 * step && n < MAX_TICKS;
         t += step)
        ticks[n++] = fabs(t) < 1e-9 * step ? 0 : t;
    return n;
}

static void tick_label(double t, int log_scale, char *buf, size_t cap)
{
    snprintf(buf, cap, "%g", log_scale ? pow(10, t) : t);
}

/* Grid lines, tick labels and the frame of the plot area. */
static void draw_axes(ld_canvas *cv, const axis *xa, const axis *ya, int log_y)
{
    cairo_t *cr = cv->cr;
    double ticks[MAX_TICKS];
    char label[48];
    cairo_set_line_width(cr, 1);
    int n = make_ticks(xa, 0, ticks);
    for (int i = 0; i < n; i++) {
        double x = floor(axis_map(xa, ticks[i])) + 0.5;
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_move_to(cr, x, ya->a);
        cairo_line_to(cr, x, ya->b);
        cairo_stroke(cr);
        tick_label(ticks[i], 0, label, sizeof label);
        ld_canvas_text(cv, x, ya->a + 18, 12, LD_ALIGN_CENTRE, label);
    }
    n = make_ticks(ya, log_y, ticks);
    for (int i = 0; i < n; i++) {
        double y = floor(axis_map(ya, ticks[i])) + 0.5;
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_move_to(cr, xa->a, y);
        cairo_line_to(cr, xa->b, y);
        cairo_stroke(cr);
        tick_label(ticks[i], log_y, label, sizeof label);
        ld_canvas_text(cv, xa->a - 6, y + 4, 12, LD_ALIGN_RIGHT, label);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_rectangle(cr, xa->a + 0.5, ya->b + 0.5, xa->b - xa->a, ya->a - ya->b);
    cairo_stroke(cr);
}

static void draw_series(ld_canvas *cv, const ld_line_series *s, const double rgb[3],
                        const axis *xa, const axis *ya, int log_y)
{
    cairo_t *cr = cv->cr;
    int drawing = 0, count = 0;
    double px = 0, py = 0;
    for (int i = 0; i < s->n; i++) {
        double x, y;
        if (!plotted(s->x[i], s->y[i], log_y, &x, &y)) {
            drawing = 0;
            continue;
        }
        px = axis_map(xa, x);
        py = axis_map(ya, y);
        if (drawing)
            cairo_line_to(cr, px, py);
        else
            cairo_move_to(cr, px, py);
        drawing = 1;
        count++;
    }
    cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
    cairo_set_line_width(cr, 1.8);
    cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
    cairo_stroke(cr);
    if (count == 1) { /* a single point: show it as a dot */
        cairo_arc(cr, px, py, 3, 0, 2 * M_PI);
        cairo_fill(cr);
    }
}

static void draw_legend(ld_canvas *cv, const ld_line_series *series, int n_series, const axis *xa,
                        const axis *ya)
{
    cairo_t *cr = cv->cr;
    double width = 0;
    int rows = 0;
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 12);
    for (int k = 0; k < n_series; k++)
        if (series[k].label) {
            cairo_text_extents_t ext;
            cairo_text_extents(cr, series[k].label, &ext);
            width = fmax(width, ext.x_advance);
            rows++;
        }
    if (rows == 0)
        return;
    double box_w = width + 44, box_h = rows * 18 + 8;
    double x0 = xa->b - box_w - 8, y0 = ya->b + 8;
    cairo_rectangle(cr, x0, y0, box_w, box_h);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_fill_preserve(cr);
    cairo_set_source_rgb(cr, 0.6, 0.6, 0.6);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    int row = 0;
    for (int k = 0; k < n_series; k++) {
        if (!series[k].label)
            continue;
        const unsigned char *c = series_colours[k % 10];
        double y = y0 + 15 + 18 * row++;
        cairo_set_source_rgb(cr, c[0] / 255.0, c[1] / 255.0, c[2] / 255.0);
        cairo_set_line_width(cr, 2);
        cairo_move_to(cr, x0 + 6, y - 4);
        cairo_line_to(cr, x0 + 30, y - 4);
        cairo_stroke(cr);
        ld_canvas_text(cv, x0 + 36, y, 12, LD_ALIGN_LEFT, series[k].label);
    }
}

int ld_lineplot_render(ld_canvas *cv, const ld_line_series *series, int n_series,
                       const ld_lineplot_options *opt, ld_err *err)
{
    int width = opt->width > 0 ? opt->width : 640, height = opt->height > 0 ? opt->height : 400;
    if (width < MARGIN_LEFT + MARGIN_RIGHT + 20 || height < MARGIN_TOP + MARGIN_BOTTOM + 20)
        return ld_errf(err, "lineplot: %d x %d is too small for a plot", width, height);
    double x_lo = INFINITY, x_hi = -INFINITY, y_lo = INFINITY, y_hi = -INFINITY;
    for (int k = 0; k < n_series; k++)
        for (int i = 0; i < series[k].n; i++) {
            double x, y;
            if (!plotted(series[k].x[i], series[k].y[i], opt->log_y, &x, &y))
                continue;
            x_lo = fmin(x_lo, x);
            x_hi = fmax(x_hi, x);
            y_lo = fmin(y_lo, y);
            y_hi = fmax(y_hi, y);
        }
    if (!(x_hi >= x_lo))
        return ld_errf(err, "lineplot: no point to plot%s",
                       opt->log_y ? " (a log axis needs values above 0)" : "");
    if (!(x_hi > x_lo))
        widen(&x_lo, &x_hi, 0, 0.5);
    widen(&y_lo, &y_hi, 0.05, 0.5);
    if (ld_canvas_blank(cv, width, height, err) != 0)
        return -1;
    axis xa = {x_lo, x_hi, MARGIN_LEFT, width - MARGIN_RIGHT};
    axis ya = {y_lo, y_hi, height - MARGIN_BOTTOM, MARGIN_TOP};
    draw_axes(cv, &xa, &ya, opt->log_y);
    cairo_save(cv->cr);
    cairo_rectangle(cv->cr, xa.a, ya.b, xa.b - xa.a, ya.a - ya.b);
    cairo_clip(cv->cr);
    for (int k = 0; k < n_series; k++) {
        const unsigned char *c = series_colours[k % 10];
        double rgb[3] = {c[0] / 255.0, c[1] / 255.0, c[2] / 255.0};
        draw_series(cv, &series[k], rgb, &xa, &ya, opt->log_y);
    }
    cairo_restore(cv->cr);
    draw_legend(cv, series, n_series, &xa, &ya);
    if (opt->title)
        ld_canvas_text(cv, width / 2.0, 24, 15, LD_ALIGN_CENTRE, opt->title);
    if (opt->x_label)
        ld_canvas_text(cv, (xa.a + xa.b) / 2, height - 14, 13, LD_ALIGN_CENTRE, opt->x_label);
    if (opt->y_label) {
        cairo_save(cv->cr);
        cairo_translate(cv->cr, 18, (ya.a + ya.b) / 2);
        cairo_rotate(cv->cr, -M_PI / 2);
        ld_canvas_text(cv, 0, 0, 13, LD_ALIGN_CENTRE, opt->y_label);
        cairo_restore(cv->cr);
    }
    if (ld_canvas_check(cv, "line plot", err) != 0) {
        ld_canvas_free(cv);
        return -1;
    }
    return 0;
}
