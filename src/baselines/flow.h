/* The optical-flow baseline of `between` (design/between.md, "Known
 * weakness ... what to try"): classical coarse-to-fine TV-L1 optical flow
 * (Zach, Pock, Bischof 2007, in the form of Sanchez, Meinhardt-Llopis,
 * Facciolo 2013, "TV-L1 Optical Flow Estimation", IPOL) from I0 to I1, and
 * intermediate frames by warping I0 forward and I1 backward along it.
 *
 * The flow w is defined on I0's grid: I0(x) ~ I1(x + w(x)). Both images are
 * normalised together to [0, 1] (joint minimum and maximum), channels
 * averaged to one grey plane. Per scale of the pyramid (factor 2, Gaussian
 * pre-smoothing), `warps` times: I1 and its gradient are warped (bilinear,
 * border replicate) by the current flow and the linearised TV-L1 energy
 * |grad w1| + |grad w2| + lambda |rho(w)| is minimised by the primal-dual
 * scheme with the coupling parameter theta and time step tau.
 *
 * Frame n at t = n/N: every pixel x is traced back to the point p of I0
 * that the motion x(t) = p + t w(p) brings there (fixed-point iteration
 * p <- x - t w(p)), and frame(x) = (1 - t) I0(p) + t I1(p + w(p)). Stage
 * n's field is the Eulerian velocity of that motion at its middle time
 * t = (n + 1/2)/N: v^n(x) = w(p(x, t)), pixels per unit time (so the
 * displacement over the whole interval is w). Frames 0 and N are the
 * inputs themselves. */
#ifndef LD_BASELINES_FLOW_H
#define LD_BASELINES_FLOW_H

#include "engine/error.h"

typedef struct ld_flow_options {
    float lambda;       /* data weight for images in [0, 1] (default 38.25 =
                           IPOL's 0.15 for images in [0, 255]) */
    float theta;        /* coupling (default 0.3) */
    float tau;          /* dual time step, <= 0.25 (default 0.25) */
    float epsilon;      /* stop a warp's iterations when the mean squared
                           flow update is below epsilon^2 (default 0.01) */
    int scales;         /* pyramid levels; 0: as many as keep the coarsest
                           side >= 8, at most 6 (default 0) */
    int warps;          /* warps per scale (default 5) */
    int max_iterations; /* per warp (default 300) */
} ld_flow_options;

void ld_flow_default_options(ld_flow_options *o);

/* TV-L1 flow from i0 to i1 ([channels, height, width] each) into flow
 * [2, height, width] (x component first, pixels). opts NULL: defaults.
 * Fails on bad sizes or options, or out of memory. */
int ld_flow_tvl1(const float *i0, const float *i1, int channels, int height, int width,
                 const ld_flow_options *opts, float *flow, ld_err *err);

/* The baseline: frames [stages + 1, channels, height, width] in the inputs'
 * units and, when `fields` is not NULL, fields [stages, 2, height, width]. */
int ld_baseline_flow(const float *i0, const float *i1, int channels, int height, int width,
                     int stages, const ld_flow_options *opts, float *frames, float *fields,
                     ld_err *err);

#endif
