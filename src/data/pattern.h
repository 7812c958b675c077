/* Procedural test images: smooth random textures (Gaussian blobs over a few
 * oriented waves), in [0, 1], reproducible from a seed. Built-in data for the
 * demo and for synthetic scenes when no texture file is given. */
#ifndef LD_DATA_PATTERN_H
#define LD_DATA_PATTERN_H

#include <stdint.h>

/* Fills img [h * w] (row-major). */
void ld_pattern_texture(float *img, int h, int w, uint64_t seed);

#endif
