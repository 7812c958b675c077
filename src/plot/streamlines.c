/* Streamline plots: see streamlines.h. */
#include "plot/streamlines.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define SEEDS_ON_LONG_SIDE 30
#define STEPS_PER_CELL 5
#define MIN_SPEED_FRACTION 0.02
#define TOP_BAND 32
#define BOTTOM_BAND 40
#define MIN_WIDTH 480

void ld_fields_mean(const float *fields, int n_fields, int height, int width, float *mean)
{
    size_t n = 2 * (size_t)height * width;
    for (size_t i = 0; i < n; i++) {
        double sum = 0;
        for (int k = 0; k < n_fields; k++)
            sum += fields[(size_t)k * n + i];
        mean[i] = (float)(n_fields > 0 ? sum / n_fields : 0);
    }
}

typedef struct flow {
    const float *vx, *vy;
    int height, width;
} flow;

/* Bilinear sample of the field at (x, y) in pixel-centre coordinates
 * (inside [0, width-1] x [0, height-1]). */
static void flow_at(const flow *f, double x, double y, double *vx, double *vy)
{
    int x0 = (int)floor(x), y0 = (int)floor(y);
    if (x0 > f->width - 2)
        x0 = f->width > 1 ? f->width - 2 : 0;
    if (y0 > f->height - 2)
        y0 = f->height > 1 ? f->height - 2 : 0;
    int x1 = x0 + (f->width > 1), y1 = y0 + (f->height > 1);
    double wx = x - x0, wy = y - y0;
    size_t corner[4] = {(size_t)y0 * f->width + x0, (size_t)y0 * f->width + x1,
                        (size_t)y1 * f->width + x0, (size_t)y1 * f->width + x1};
    double weight[4] = {(1 - wy) * (1 - wx), (1 - wy) * wx, wy * (1 - wx), wy * wx};
    *vx = *vy = 0;
    for (int k = 0; k < 4; k++) {
        *vx += weight[k] * f->vx[corner[k]];
        *vy += weight[k] * f->vy[corner[k]];
    }
}

/* The unit direction of the flow at (x, y) times `sign`; 0 where the speed
 * is below min_speed. */
static int direction_at(const flow *f, double x, double y, double sign, double min_speed,
                        double *ux, double *uy, double *speed)
{
    double vx, vy;
    flow_at(f, x, y, &vx, &vy);
    *speed = hypot(vx, vy);
    if (!(*speed >= min_speed) || *speed <= 0)
        return 0;
    *ux = sign * vx / *speed;
    *uy = sign * vy / *speed;
    return 1;
}

/* Largest t in [0, 1] keeping a + t (b - a) inside [0, limit]. */
static double fraction_inside(double a, double b, double limit)
{
    if (b < 0)
        return a / (a - b);
    if (b > limit)
        return (limit - a) / (b - a);
    return 1;
}

/* The cells (of `step` pixels) crossed by lines: 0 free, else a line id. */
typedef struct cell_mask {
    int *owner;
    int step, rows, cols;
} cell_mask;

static int cell_of(const cell_mask *m, double x, double y)
{
    int col = (int)((x + 0.5) / m->step), row = (int)((y + 0.5) / m->step);
    col = col < m->cols ? col : m->cols - 1;
    row = row < m->rows ? row : m->rows - 1;
    return row * m->cols + col;
}

/* One streamline's points (image coordinates, in flow order), the cells it
 * marked, and the sum of the speeds met. */
typedef struct trace {
    double *x, *y;
    int n, cap;
    int *cells;
    int n_cells;
    double length, speed_sum;
    int speed_count;
} trace;

static int trace_push(trace *t, double x, double y)
{
    if (t->n == t->cap) {
        int cap = t->cap ? 2 * t->cap : 256;
        double *nx = realloc(t->x, (size_t)cap * sizeof *nx);
        if (!nx)
            return -1;
        t->x = nx;
        double *ny = realloc(t->y, (size_t)cap * sizeof *ny);
        if (!ny)
            return -1;
        t->y = ny;
        t->cap = cap;
    }
    t->x[t->n] = x;
    t->y[t->n] = y;
    t->n++;
    return 0;
}

/* Integrates from (x, y) in direction sign (+1 forwards, -1 backwards),
 * appending points to t, marking new cells with `id` in the mask (the
 * cells list has room for every cell). Returns -1 when out of memory. */
static int integrate(const flow *f, cell_mask *m, int id, double x, double y, double sign,
                     double h, double min_speed, trace *t)
{
    int current = cell_of(m, x, y);
    int max_steps = (int)(4.0 * (f->width + f->height) / h) + 16;
    for (int s = 0; s < max_steps; s++) {
        double ux, uy, speed, mx, my, speed_mid;
        if (!direction_at(f, x, y, sign, min_speed, &ux, &uy, &speed))
            break;
        mx = fmin(fmax(x + 0.5 * h * ux, 0), f->width - 1);
        my = fmin(fmax(y + 0.5 * h * uy, 0), f->height - 1);
        if (!direction_at(f, mx, my, sign, min_speed, &ux, &uy, &speed_mid))
            break;
        double nx = x + h * ux, ny = y + h * uy;
        double keep = fmin(fraction_inside(x, nx, f->width - 1),
                           fraction_inside(y, ny, f->height - 1));
        nx = x + keep * (nx - x);
        ny = y + keep * (ny - y);
        int cell = cell_of(m, nx, ny);
        if (cell != current) {
            if (m->owner[cell] != 0)
                break;
            m->owner[cell] = id;
            t->cells[t->n_cells++] = cell;
            current = cell;
        }
        if (trace_push(t, nx, ny) != 0)
            return -1;
        t->length += keep * h;
        t->speed_sum += speed_mid;
        t->speed_count++;
        x = nx;
        y = ny;
        if (keep < 1)
            break;
    }
    return 0;
}

static void reverse(double *v, int n)
{
    for (int i = 0, j = n - 1; i < j; i++, j--) {
        double tmp = v[i];
        v[i] = v[j];
        v[j] = tmp;
    }
}

/* Draws one line: black outline, colour inside, arrowhead in the middle. */
static void draw_trace(ld_canvas *cv, const trace *t, const double rgb[3], double line_width,
                       double head)
{
    cairo_t *cr = cv->cr;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < t->n; i++) {
            double cx, cy;
            ld_canvas_point(cv, t->x[i], t->y[i], &cx, &cy);
            if (i == 0)
                cairo_move_to(cr, cx, cy);
            else
                cairo_line_to(cr, cx, cy);
        }
        if (pass == 0)
            cairo_set_source_rgb(cr, 0, 0, 0);
        else
            cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_set_line_width(cr, line_width + (pass == 0 ? 2 : 0));
        cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
        cairo_stroke(cr);
    }
    int mid = t->n / 2;
    double ax, ay, bx, by;
    ld_canvas_point(cv, t->x[mid - 1], t->y[mid - 1], &ax, &ay);
    ld_canvas_point(cv, t->x[mid], t->y[mid], &bx, &by);
    double len = hypot(bx - ax, by - ay);
    if (len > 0)
        ld_canvas_arrow(cv, bx - head * (bx - ax) / len, by - head * (by - ay) / len, bx, by, head,
                        line_width, rgb);
}

static double largest_speed(const flow *f)
{
    double top = 0;
    for (size_t i = 0; i < (size_t)f->height * f->width; i++) {
        double s = hypot(f->vx[i], f->vy[i]);
        if (s > top)
            top = s;
    }
    return top;
}

/* Integrates the line seeded at cell `seed` and draws it if long enough. */
static int seed_line(ld_canvas *cv, const flow *f, cell_mask *m, int seed, int id, double h,
                     double min_speed, double max_speed, trace *t)
{
    t->n = t->n_cells = t->speed_count = 0;
    t->length = t->speed_sum = 0;
    int row = seed / m->cols, col = seed % m->cols;
    int x_end = (col + 1) * m->step < f->width ? (col + 1) * m->step : f->width;
    int y_end = (row + 1) * m->step < f->height ? (row + 1) * m->step : f->height;
    double x = 0.5 * (col * m->step + x_end - 1), y = 0.5 * (row * m->step + y_end - 1);
    m->owner[seed] = id;
    t->cells[t->n_cells++] = seed;
    if (trace_push(t, x, y) != 0 || integrate(f, m, id, x, y, -1, h, min_speed, t) != 0)
        return -1;
    reverse(t->x, t->n);
    reverse(t->y, t->n);
    if (integrate(f, m, id, x, y, +1, h, min_speed, t) != 0)
        return -1;
    if (t->length < m->step || t->n < 2) {
        for (int i = 0; i < t->n_cells; i++)
            m->owner[t->cells[i]] = 0;
        return 0;
    }
    double rgb[3];
    ld_colormap_viridis(t->speed_sum / t->speed_count / max_speed, rgb);
    double line_width = fmin(2.5, fmax(1.2, m->step * cv->scale / 12));
    draw_trace(cv, t, rgb, line_width, fmin(10, 3 + 0.3 * m->step * cv->scale));
    return 0;
}

int ld_streamlines_render(ld_canvas *cv, const ld_plot_frame *frame, const float *field,
                          const ld_streamline_options *opt, ld_err *err)
{
    int height = frame->height, width = frame->width;
    if (!frame->data || !field || height < 1 || width < 1 || frame->channels < 1)
        return ld_errf(err, "streamlines: needs a frame and a field (got %d x %d, %d channels)",
                       height, width, frame->channels);
    if (!(frame->hi > frame->lo))
        return ld_errf(err, "streamlines: display range [%g, %g] is empty", frame->lo,
                       frame->hi);
    flow f = {field, field + (size_t)height * width, height, width};
    int longest = height > width ? height : width;
    cell_mask m = {NULL, opt->seed_step > 0 ? opt->seed_step : longest / SEEDS_ON_LONG_SIDE, 0, 0};
    if (m.step < 2)
        m.step = 2;
    m.rows = (height + m.step - 1) / m.step;
    m.cols = (width + m.step - 1) / m.step;
    double top = largest_speed(&f);
    double max_speed = opt->max_speed > 0 ? opt->max_speed : top > 0 ? top : 1;
    double min_speed = opt->min_speed > 0 ? opt->min_speed : MIN_SPEED_FRACTION * top;
    double h = fmax(0.25, (double)m.step / STEPS_PER_CELL);

    ld_canvas_layout layout = {opt->min_side > 0 ? opt->min_side : 512,
                               opt->max_side > 0 ? opt->max_side : 768, TOP_BAND, BOTTOM_BAND,
                               MIN_WIDTH};
    if (ld_canvas_with_frame(cv, frame, &layout, err) != 0)
        return -1;
    int n_cells = m.rows * m.cols;
    m.owner = calloc((size_t)n_cells, sizeof *m.owner);
    trace t = {0};
    t.cells = malloc((size_t)n_cells * sizeof *t.cells);
    int rc = 0;
    if (!m.owner || !t.cells) {
        rc = ld_errf(err, "streamlines: out of memory");
    } else if (top > 0) {
        /* seeds ring by ring from the border inwards */
        int rings = ((m.rows < m.cols ? m.rows : m.cols) + 1) / 2, id = 0;
        for (int ring = 0; ring < rings && rc == 0; ring++)
            for (int cell = 0; cell < n_cells && rc == 0; cell++) {
                int r = cell / m.cols, c = cell % m.cols;
                int d = r < c ? r : c;
                d = d < m.rows - 1 - r ? d : m.rows - 1 - r;
                d = d < m.cols - 1 - c ? d : m.cols - 1 - c;
                if (d != ring || m.owner[cell] != 0)
                    continue;
                if (seed_line(cv, &f, &m, cell, ++id, h, min_speed, max_speed, &t) != 0)
                    rc = ld_errf(err, "streamlines: out of memory");
            }
    }
    free(m.owner);
    free(t.cells);
    free(t.x);
    free(t.y);
    if (rc == 0) {
        if (opt->title)
            ld_canvas_text(cv, cv->width / 2.0, TOP_BAND - 10, 15, LD_ALIGN_CENTRE, opt->title);
        char hi_label[32];
        snprintf(hi_label, sizeof hi_label, "%.3g", max_speed);
        ld_canvas_colour_bar(cv, 30, cv->origin_y + cv->image_height + 14, 160, 14, "0",
                             hi_label, "mean speed of the line, px per unit time");
        rc = ld_canvas_check(cv, "streamlines", err);
    }
    if (rc != 0)
        ld_canvas_free(cv);
    return rc;
}
