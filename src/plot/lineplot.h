/* Line plots (cairo): one or more x/y series with axes, ticks, grid,
 * axis labels, a title, a legend (when a series has a label) and an
 * optional logarithmic y axis. Used for loss curves and error-over-horizon
 * plots; the canvas is written with ld_canvas_write_png or encoded in
 * memory with ld_canvas_encode_png (for the HTML report). */
#ifndef LD_PLOT_LINEPLOT_H
#define LD_PLOT_LINEPLOT_H

#include "engine/error.h"
#include "plot/canvas.h"

typedef struct ld_line_series {
    const float *x, *y; /* n points */
    int n;
    const char *label;  /* legend entry, or NULL */
} ld_line_series;

typedef struct ld_lineplot_options {
    int width, height;  /* canvas size in pixels; 0: 640 x 400 */
    const char *title, *x_label, *y_label; /* each may be NULL */
    int log_y;          /* logarithmic y axis (points with y <= 0 are left out) */
} ld_lineplot_options;

/* Draws the series on a new canvas of the stated size (free with
 * ld_canvas_free; nothing to free on failure). Points with a non-finite
 * coordinate (or y <= 0 on a log axis) are left out and break the line.
 * Fails when no point can be drawn. */
int ld_lineplot_render(ld_canvas *cv, const ld_line_series *series, int n_series,
                       const ld_lineplot_options *opt, ld_err *err);

#endif
