/* How frames and speeds are shown: planar float frames in the input's units
 * mapped to 8-bit grey or RGB for display (with the composite used for
 * channel counts other than 1 and 3), box downsampling for large images,
 * and the viridis colour scale used for speeds. */
#ifndef LD_PLOT_COLORMAP_H
#define LD_PLOT_COLORMAP_H

/* A frame to show: values in [lo, hi] map to black .. white (clamped). */
typedef struct ld_plot_frame {
    const float *data; /* [channels, height, width], planar */
    int channels, height, width;
    float lo, hi;
} ld_plot_frame;

/* Bands shown for a frame of `channels` bands: 1 (grey) for one channel,
 * 3 (RGB) otherwise. */
int ld_display_bands(int channels);

/* The displayed bands [ld_display_bands(channels), height, width]:
 * - 1 channel: itself (grey);
 * - 2 channels (e.g. two SAR polarisations): false colour R = band 0,
 *   G = band 1, B = the mean of both (equal bands look grey);
 * - 3 or more: bands 0, 1, 2 as R, G, B (further bands are not shown). */
void ld_display_composite(const float *frame, int channels, int height, int width, float *out);

/* Smallest integer factor f >= 1 with ceil(max(height, width) / f) <=
 * max_side; 1 when max_side <= 0. */
int ld_downsample_factor(int height, int width, int max_side);
/* Box filter by an integer factor: dst is [channels, ceil(height / f),
 * ceil(width / f)], each value the mean of the source pixels of its cell
 * (cells at the right and bottom edges may hold fewer). */
void ld_downsample_box(const float *src, int channels, int height, int width, int factor,
                       float *dst);

/* The displayed bands of a frame reduced by a box factor:
 * out[ld_display_bands(channels), ceil(height / factor), ceil(width / factor)];
 * scratch holds ld_display_bands(channels) * height * width floats (unused
 * when factor is 1). */
void ld_display_reduce(const float *frame, int channels, int height, int width, int factor,
                       float *scratch, float *out);

/* round(255 (v - lo) / (hi - lo)), clamped to 0..255 (NaN gives 0). */
unsigned char ld_display_byte(float v, float lo, float hi);
/* The frame's displayed bands as interleaved 8-bit pixels
 * out[height][width][ld_display_bands(channels)]. */
void ld_frame_to_bytes(const ld_plot_frame *frame, unsigned char *out);

/* matplotlib's viridis colour scale at t in [0, 1] (clamped), as RGB in
 * [0, 1]. */
void ld_colormap_viridis(double t, double rgb[3]);

#endif
