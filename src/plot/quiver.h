/* Quiver plots (cairo): a velocity field drawn as arrows over a frame.
 * The field is [2, height, width] (x then y component, in pixels per unit
 * time, y pointing down the image rows). Arrows start at the centres of
 * square cells of grid_step pixels (a whole number of cells, centred on
 * the image) and show the cell's mean velocity times dt, i.e. the
 * displacement over dt, enlarged by arrow_scale; their colour is the
 * speed on a viridis scale. A legend under the image states the scale. */
#ifndef LD_PLOT_QUIVER_H
#define LD_PLOT_QUIVER_H

#include "engine/error.h"
#include "plot/canvas.h"

typedef struct ld_quiver_options {
    int grid_step;     /* image pixels between arrows; 0: max(height, width) / 24 */
    float dt;          /* time the drawn displacement covers (one stage: 1/N); 0: 1 */
    float arrow_scale; /* drawn arrow = displacement x arrow_scale; 0: automatic */
    float max_speed;   /* speed at the top of the colour scale; 0: automatic */
    int min_side, max_side; /* the frame's long side on the canvas; 0: 512 and 768 */
    const char *title; /* above the image, or NULL */
} ld_quiver_options;

/* The automatic arrow_scale and max_speed of opt for fields [n_fields, 2,
 * height, width] together (so that the stages of one run share them):
 * max_speed is the largest cell-mean speed; arrow_scale the largest 1, 2 or
 * 5 x 10^k that keeps the longest arrow within 0.9 grid steps (1 for a
 * zero field). */
void ld_quiver_auto_scale(const float *fields, int n_fields, int height, int width,
                          const ld_quiver_options *opt, float *arrow_scale, float *max_speed);

/* Draws the field over the frame (same height and width) on a new canvas
 * (free with ld_canvas_free; nothing to free on failure). Arrows shorter than one canvas pixel are
 * left out, so a zero field draws none. */
int ld_quiver_render(ld_canvas *cv, const ld_plot_frame *frame, const float *field,
                     const ld_quiver_options *opt, ld_err *err);

#endif
