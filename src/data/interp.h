/* Resampling helpers shared by the synthetic generator and the classical
 * baselines: bilinear sampling of a plane with the sample position clamped
 * to the border (border replicate, as the advection step samples), and a
 * separable Gaussian blur with border replicate. Pixel (row i, column j)
 * has its centre at x = j, y = i. */
#ifndef LD_DATA_INTERP_H
#define LD_DATA_INTERP_H

#include "engine/error.h"

/* Value of plane [height, width] at (x, y), bilinear; positions outside
 * [0, width-1] x [0, height-1] are clamped to the border first. */
static inline float ld_bilinear_clamped(const float *plane, int height, int width, float x,
                                        float y)
{
    float xmax = (float)(width - 1), ymax = (float)(height - 1);
    x = x < 0 ? 0 : x > xmax ? xmax : x;
    y = y < 0 ? 0 : y > ymax ? ymax : y;
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + 1 < width ? x0 + 1 : x0, y1 = y0 + 1 < height ? y0 + 1 : y0;
    float fx = x - (float)x0, fy = y - (float)y0;
    const float *r0 = plane + (long)y0 * width, *r1 = plane + (long)y1 * width;
    float top = r0[x0] + fx * (r0[x1] - r0[x0]);
    float bottom = r1[x0] + fx * (r1[x1] - r1[x0]);
    return top + fy * (bottom - top);
}

/* Blurs plane [height, width] in place with a Gaussian of standard
 * deviation sigma pixels (truncated at 3 sigma; sigma <= 0 leaves it
 * unchanged). Fails only when out of memory. */
int ld_gaussian_blur(float *plane, int height, int width, float sigma, ld_err *err);

#endif
