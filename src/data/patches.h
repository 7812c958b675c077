/* Patches for training and inference (design/between.md, "Training: patch
 * to patch" and "Inference: stitch"):
 * - a patch grid of P x P patches with stride S that covers a whole H x W
 *   image (the last row and column of patches are shifted back to end at
 *   the border, so nothing is cut off);
 * - cutting batches of aligned patch pairs from I0 and I1 on the fly, each
 *   pair scaled to [0, 1] by one affine map from the joint min and max;
 * - stitching predicted patches back into a full image, as plain tiles or
 *   blended with a smooth window.
 * Images are planar float32 [C, H, W]; patch batches are [B, C, P, P]. */
#ifndef LD_DATA_PATCHES_H
#define LD_DATA_PATCHES_H

#include <stddef.h>

#include "engine/error.h"

typedef struct ld_patch_grid {
    int height, width;  /* of the image */
    int patch, stride;
    int rows, cols;     /* patch positions along y and along x */
} ld_patch_grid;

/* Fails when the image is smaller than the patch or the stride is not in
 * 1..patch (a larger stride would leave pixels uncovered). */
int ld_patch_grid_init(ld_patch_grid *g, int height, int width, int patch, int stride,
                       ld_err *err);
/* Number of patches, rows * cols; patch i is at grid row i / cols, column
 * i % cols. */
int ld_patch_count(const ld_patch_grid *g);
/* Top-left corner of patch `index` (0 <= index < ld_patch_count). */
void ld_patch_origin(const ld_patch_grid *g, int index, int *y0, int *x0);

/* Copies patches indices[0..batch-1] of image [channels, H, W] into
 * out [batch, channels, P, P]. Fails on an index outside the grid. */
int ld_patch_cut(const ld_patch_grid *g, const float *image, int channels, const int *indices,
                 int batch, float *out, ld_err *err);

/* Cuts aligned patch pairs from image0 and image1 (both [channels, H, W])
 * into out0 and out1 ([batch, channels, P, P]) and scales each pair by one
 * affine map x -> (x - lo) / (hi - lo), lo and hi the min and max over
 * both patches and all channels together, so the pair spans [0, 1]. lo[b]
 * and hi[b] are stored to map outputs back (ld_patch_denormalise). A
 * constant pair (hi = lo) becomes all zeros. */
int ld_patch_pairs_cut(const ld_patch_grid *g, const float *image0, const float *image1,
                       int channels, const int *indices, int batch, float *out0, float *out1,
                       float *lo, float *hi, ld_err *err);

/* Maps samples back to the input's units in place: x = lo[b] + x * (hi[b] -
 * lo[b]) for the per_sample values of sample b of data [batch, ...]. */
void ld_patch_denormalise(float *data, int batch, size_t per_sample, const float *lo,
                          const float *hi);

typedef enum ld_stitch_mode {
    /* every patch counts equally at every pixel (the paper's tiles when the
     * stride equals the patch; where the last row or column of tiles
     * overlaps its neighbour, the two are averaged) */
    LD_STITCH_TILES,
    /* separable raised-cosine window, sin^2(pi (i + 0.5) / P): strictly
     * positive inside the patch and near zero at its edges, so overlapping
     * patches fade into each other without seams; on a side where a patch
     * touches the image border the window stays flat at its peak, so border
     * pixels get full weight. Needs overlap (stride < patch) to blend. */
    LD_STITCH_BLEND
} ld_stitch_mode;

/* Accumulates weighted patches into a [channels, H, W] image. Sums are
 * kept in double so that equal patches stitch back exactly. */
typedef struct ld_stitcher {
    ld_patch_grid grid;
    int channels;
    ld_stitch_mode mode;
    double *sum;     /* [channels, H, W] weighted sums */
    double *weight;  /* [H, W] sums of weights */
    float *window;   /* [2, P]: the 1-D window along y then along x of the
                        patch being added */
} ld_stitcher;

int ld_stitcher_init(ld_stitcher *s, const ld_patch_grid *g, int channels, ld_stitch_mode mode,
                     ld_err *err);
/* Adds patches [batch, channels, P, P] at grid positions indices[]. */
int ld_stitcher_add(ld_stitcher *s, const int *indices, int batch, const float *patches,
                    ld_err *err);
/* Writes the weighted mean into out [channels, H, W]. Fails if a pixel got
 * no patch (not every patch of the grid was added). */
int ld_stitcher_finish(const ld_stitcher *s, float *out, ld_err *err);
/* Forgets the added patches, for the next image of the same size. */
void ld_stitcher_clear(ld_stitcher *s);
void ld_stitcher_free(ld_stitcher *s);

#endif
