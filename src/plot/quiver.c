/* Quiver plots: see quiver.h. */
#include "plot/quiver.h"

#include <math.h>
#include <stdio.h>

#define QUIVER_CELLS_ON_LONG_SIDE 24
#define QUIVER_TOP_BAND 32
#define QUIVER_BOTTOM_BAND 60
#define QUIVER_MIN_WIDTH 480

/* The arrow cells: nx x ny squares of `step` pixels starting at (x0, y0). */
typedef struct quiver_grid {
    int step, nx, ny, x0, y0;
} quiver_grid;

static quiver_grid make_grid(int height, int width, int grid_step)
{
    quiver_grid g;
    int longest = height > width ? height : width, shortest = height < width ? height : width;
    g.step = grid_step > 0 ? grid_step : longest / QUIVER_CELLS_ON_LONG_SIDE;
    if (g.step < 1)
        g.step = 1;
    if (g.step > shortest)
        g.step = shortest;
    g.nx = width / g.step;
    g.ny = height / g.step;
    g.x0 = (width - g.nx * g.step) / 2;
    g.y0 = (height - g.ny * g.step) / 2;
    return g;
}

/* Mean velocity of cell (i, j) and its centre in pixel-centre coordinates. */
static void cell_mean(const float *field, int height, int width, const quiver_grid *g, int i,
                      int j, double *vx, double *vy, double *cx, double *cy)
{
    size_t plane = (size_t)height * width;
    int xa = g->x0 + j * g->step, ya = g->y0 + i * g->step;
    double sx = 0, sy = 0;
    for (int y = ya; y < ya + g->step; y++)
        for (int x = xa; x < xa + g->step; x++) {
            sx += field[(size_t)y * width + x];
            sy += field[plane + (size_t)y * width + x];
        }
    double n = (double)g->step * g->step;
    *vx = sx / n;
    *vy = sy / n;
    *cx = xa + 0.5 * (g->step - 1);
    *cy = ya + 0.5 * (g->step - 1);
}

static double dt_of(const ld_quiver_options *opt) { return opt->dt > 0 ? opt->dt : 1.0; }

void ld_quiver_auto_scale(const float *fields, int n_fields, int height, int width,
                          const ld_quiver_options *opt, float *arrow_scale, float *max_speed)
{
    quiver_grid g = make_grid(height, width, opt->grid_step);
    double top = 0;
    for (int n = 0; n < n_fields; n++)
        for (int i = 0; i < g.ny; i++)
            for (int j = 0; j < g.nx; j++) {
                double vx, vy, cx, cy;
                cell_mean(fields + (size_t)n * 2 * height * width, height, width, &g, i, j, &vx,
                          &vy, &cx, &cy);
                double speed = hypot(vx, vy);
                if (speed > top)
                    top = speed;
            }
    double longest_step = top * dt_of(opt);
    *max_speed = (float)top;
    *arrow_scale =
        longest_step > 0 ? (float)ld_nice_number(0.9 * g.step / longest_step, 0) : 1.0f;
}

int ld_quiver_render(ld_canvas *cv, const ld_plot_frame *frame, const float *field,
                     const ld_quiver_options *opt, ld_err *err)
{
    int height = frame->height, width = frame->width;
    if (!frame->data || !field || height < 1 || width < 1 || frame->channels < 1)
        return ld_errf(err, "quiver: needs a frame and a field (got %d x %d, %d channels)",
                       height, width, frame->channels);
    if (!(frame->hi > frame->lo))
        return ld_errf(err, "quiver: display range [%g, %g] is empty", frame->lo, frame->hi);
    float arrow_scale = opt->arrow_scale, max_speed = opt->max_speed;
    if (!(arrow_scale > 0) || !(max_speed > 0)) {
        float auto_scale, auto_speed;
        ld_quiver_auto_scale(field, 1, height, width, opt, &auto_scale, &auto_speed);
        if (!(arrow_scale > 0))
            arrow_scale = auto_scale;
        if (!(max_speed > 0))
            max_speed = auto_speed;
    }
    ld_canvas_layout layout = {opt->min_side > 0 ? opt->min_side : 512,
                               opt->max_side > 0 ? opt->max_side : 768, QUIVER_TOP_BAND,
                               QUIVER_BOTTOM_BAND, QUIVER_MIN_WIDTH};
    if (ld_canvas_with_frame(cv, frame, &layout, err) != 0)
        return -1;
    if (opt->title)
        ld_canvas_text(cv, cv->width / 2.0, QUIVER_TOP_BAND - 10, 15, LD_ALIGN_CENTRE,
                       opt->title);

    quiver_grid g = make_grid(height, width, opt->grid_step);
    double dt = dt_of(opt), cell = g.step * cv->scale;
    double line_width = fmin(3.0, fmax(1.2, cell / 16));
    double to_canvas = arrow_scale * dt * cv->scale; /* canvas pixels per unit velocity */
    for (int i = 0; i < g.ny; i++)
        for (int j = 0; j < g.nx; j++) {
            double vx, vy, x, y, x0, y0;
            cell_mean(field, height, width, &g, i, j, &vx, &vy, &x, &y);
            double speed = hypot(vx, vy);
            if (speed * to_canvas < 1)
                continue;
            double rgb[3];
            ld_colormap_viridis(max_speed > 0 ? speed / max_speed : 0, rgb);
            ld_canvas_point(cv, x, y, &x0, &y0);
            double len = speed * to_canvas;
            ld_canvas_arrow(cv, x0, y0, x0 + vx * to_canvas, y0 + vy * to_canvas,
                            fmin(0.4 * len, 3 + 0.2 * cell), line_width, rgb);
        }

    char line[256], hi_label[32];
    double legend_y = cv->origin_y + cv->image_height;
    snprintf(line, sizeof line, "arrow = displacement over dt = %g, x %g (arrows every %d px)",
             dt, arrow_scale, g.step);
    ld_canvas_text(cv, 10, legend_y + 20, 13, LD_ALIGN_LEFT, line);
    snprintf(hi_label, sizeof hi_label, "%.3g", max_speed);
    ld_canvas_colour_bar(cv, 30, legend_y + 32, 160, 14, "0", hi_label,
                         "speed, px per unit time");
    if (ld_canvas_check(cv, "quiver plot", err) != 0) {
        ld_canvas_free(cv);
        return -1;
    }
    return 0;
}
