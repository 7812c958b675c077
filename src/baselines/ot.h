/* The optimal-transport baseline of `between` (design/between.md,
 * "Baselines"): entropic displacement interpolation between I0 and I1
 * treated as mass densities, by convolutional Sinkhorn barycentres with
 * weights (1 - t, t) (Solomon et al. 2015, "Convolutional Wasserstein
 * Distances"), optionally debiased (Janati, Cuturi, Gramfort 2020,
 * "Debiased Sinkhorn barycenters"), so the entropic blur does not smear the
 * intermediate frames.
 *
 * Per channel: both images are shifted by their joint minimum plus a small
 * floor (1e-3 of the joint range) so every pixel has positive mass, and
 * normalised to unit mass; the barycentre at t is scaled back to the mass
 * (1 - t) M0 + t M1 and shifted back, so every frame's total (sum over
 * pixels) interpolates linearly between the inputs'. Frames 0 and N are the
 * inputs themselves. Mass is only moved, never created: features cannot
 * appear.
 *
 * The heat kernel exp(-|x - y|^2 / (2 sigma^2)) (cost |x - y|^2 in pixels,
 * entropy eps = 2 sigma^2) is applied separably along rows and columns as
 * dense matrix products in double precision, in the log domain (each line
 * shifted by its maximum before exponentiation), so no scaling underflows.
 * Cost per iteration: O(H W (H + W)); fine up to a few hundred pixels a
 * side. */
#ifndef LD_BASELINES_OT_H
#define LD_BASELINES_OT_H

#include "engine/error.h"

typedef struct ld_ot_options {
    float sigma;        /* entropic blur in pixels (default 2) */
    int max_iterations; /* Sinkhorn iterations per barycentre (default 1000) */
    float tolerance;    /* stop when the L1 error of the input marginals, at
                           unit mass, is below this (default 1e-4) */
    int debias;         /* 1: debiased barycentres (default), 0: plain */
    /* Called at every convergence check (every 10 iterations) and when a
     * barycentre is done: barycentres finished (of channels x (stages - 1)),
     * the running one's iterations so far and its marginal error. NULL
     * (default): silent. */
    void (*progress)(void *user, int done, int total, int iteration, double error);
    void *progress_user;
} ld_ot_options;

void ld_ot_default_options(ld_ot_options *o);

/* i0, i1: [channels, height, width]; frames: [stages + 1, channels, height,
 * width] in the inputs' units. opts NULL: the defaults. Fails on bad sizes
 * or options, or out of memory. */
int ld_baseline_ot(const float *i0, const float *i1, int channels, int height, int width,
                   int stages, const ld_ot_options *opts, float *frames, ld_err *err);

#endif
