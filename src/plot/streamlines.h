/* Streamline plots (cairo): curves everywhere tangent to a velocity field
 * [2, height, width] (x then y, pixels per unit time, y down the rows),
 * drawn over a frame. Lines are integrated with the midpoint rule (RK2)
 * along the unit direction of the bilinearly sampled field, forwards and
 * backwards from seeds at the centres of square cells of seed_step
 * pixels, taken from the image border inwards. A line stops at the image
 * border, where the speed falls below min_speed, or where it enters a cell
 * another line has crossed (so lines keep about one seed step apart, as in
 * matplotlib's streamplot); lines shorter than one seed step are dropped.
 * Colour: the line's mean speed on a viridis scale; an arrowhead at its
 * middle shows the direction. */
#ifndef LD_PLOT_STREAMLINES_H
#define LD_PLOT_STREAMLINES_H

#include "engine/error.h"
#include "plot/canvas.h"

typedef struct ld_streamline_options {
    int seed_step;   /* image pixels between seeds; 0: max(height, width) / 30, at least 2 */
    float min_speed; /* lines stop below this speed; 0: 2% of the largest speed */
    float max_speed; /* speed at the top of the colour scale; 0: the largest speed */
    int min_side, max_side; /* the frame's long side on the canvas; 0: 512 and 768 */
    const char *title;      /* above the image, or NULL */
} ld_streamline_options;

/* mean[2, height, width] = the mean of fields [n_fields, 2, height, width]. */
void ld_fields_mean(const float *fields, int n_fields, int height, int width, float *mean);

/* Draws the streamlines of field over the frame (same height and width)
 * on a new canvas (free with ld_canvas_free; nothing to free on failure).
 * A zero field draws no lines. */
int ld_streamlines_render(ld_canvas *cv, const ld_plot_frame *frame, const float *field,
                          const ld_streamline_options *opt, ld_err *err);

#endif
