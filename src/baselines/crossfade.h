/* The cross-fade baseline of `between` (design/between.md, "Baselines"):
 * frame n = (1 - t_n) I0 + t_n I1, t_n = n / N. No motion, no fields: the
 * floor every method must beat. */
#ifndef LD_BASELINES_CROSSFADE_H
#define LD_BASELINES_CROSSFADE_H

#include "engine/error.h"

/* i0, i1: [channels, height, width]; frames: [stages + 1, channels,
 * height, width]. Fails on non-positive sizes. */
int ld_baseline_crossfade(const float *i0, const float *i1, int channels, int height, int width,
                          int stages, float *frames, ld_err *err);

/* Checks the sizes shared by every baseline (named `what` in the message). */
int ld_baseline_check_sizes(const char *what, int channels, int height, int width, int stages,
                            ld_err *err);

#endif
