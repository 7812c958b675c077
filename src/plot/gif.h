/* Looping GIF animations of float frames (giflib), written atomically.
 * Grey frames (1 channel) use a 256-level grey palette. Colour frames (3
 * or more channels, and the false-colour composite of 2-channel frames,
 * see colormap.h) use a fixed 6 x 7 x 6 RGB cube (252 colours) with 4 x 4
 * ordered (Bayer) dithering; no per-image palette is computed. */
#ifndef LD_PLOT_GIF_H
#define LD_PLOT_GIF_H

#include "engine/error.h"

typedef struct ld_gif_options {
    int delay_cs;               /* delay after every frame, in 1/100 s; 0: 25 */
    const int *frame_delays_cs; /* one delay per frame overriding delay_cs, or NULL */
    int max_side;               /* frames are box-downsampled by the smallest integer
                                   factor that brings their long side to at most this;
                                   0: full size */
} ld_gif_options;

/* Writes frames [n_frames, channels, height, width] (planar float; values
 * in [lo, hi] map to black .. white, clamped) as an animation that loops
 * forever (NETSCAPE2.0 extension). opt may be NULL (defaults). */
int ld_gif_write(const char *path, const float *frames, int n_frames, int channels, int height,
                 int width, float lo, float hi, const ld_gif_options *opt, ld_err *err);

#endif
