/* Patch grid, patch-pair cutting with per-pair normalisation, and
 * stitching: see patches.h. */
#include "data/patches.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- grid ----------------------------------------------------------------------- */

/* Positions along one axis: 0, S, 2S, ... with the last one moved back to
 * length - patch. */
static int axis_count(int length, int patch, int stride)
{
    return (length - patch + stride - 1) / stride + 1;
}

static int axis_origin(int i, int length, int patch, int stride)
{
    int o = i * stride;
    return o < length - patch ? o : length - patch;
}

int ld_patch_grid_init(ld_patch_grid *g, int height, int width, int patch, int stride,
                       ld_err *err)
{
    memset(g, 0, sizeof *g);
    if (patch < 1 || stride < 1 || stride > patch)
        return ld_errf(err, "patches: stride %d must be between 1 and the patch size %d", stride,
                       patch);
    if (height < patch || width < patch)
        return ld_errf(err, "patches: image %d x %d is smaller than the patch %d x %d", height,
                       width, patch, patch);
    int rows = axis_count(height, patch, stride), cols = axis_count(width, patch, stride);
    if ((long long)rows * cols > 1 << 30)
        return ld_errf(err, "patches: %d x %d patches are too many (raise the stride)", rows,
                       cols);
    g->height = height;
    g->width = width;
    g->patch = patch;
    g->stride = stride;
    g->rows = rows;
    g->cols = cols;
    return 0;
}

int ld_patch_count(const ld_patch_grid *g) { return g->rows * g->cols; }

void ld_patch_origin(const ld_patch_grid *g, int index, int *y0, int *x0)
{
    *y0 = axis_origin(index / g->cols, g->height, g->patch, g->stride);
    *x0 = axis_origin(index % g->cols, g->width, g->patch, g->stride);
}

static int check_indices(const ld_patch_grid *g, const int *indices, int batch, ld_err *err)
{
    for (int b = 0; b < batch; b++)
        if (indices[b] < 0 || indices[b] >= ld_patch_count(g))
            return ld_errf(err, "patches: index %d (batch item %d) outside the %d patches of the grid",
                           indices[b], b, ld_patch_count(g));
    return 0;
}

/* ---- cutting -------------------------------------------------------------------- */

int ld_patch_cut(const ld_patch_grid *g, const float *image, int channels, const int *indices,
                 int batch, float *out, ld_err *err)
{
    if (check_indices(g, indices, batch, err) != 0)
        return -1;
    size_t P = (size_t)g->patch, plane = (size_t)g->height * (size_t)g->width;
    for (int b = 0; b < batch; b++) {
        int y0, x0;
        ld_patch_origin(g, indices[b], &y0, &x0);
        for (int c = 0; c < channels; c++)
            for (size_t r = 0; r < P; r++)
                memcpy(out + (((size_t)b * (size_t)channels + (size_t)c) * P + r) * P,
                       image + (size_t)c * plane + ((size_t)y0 + r) * (size_t)g->width + (size_t)x0,
                       P * sizeof(float));
    }
    return 0;
}

static void min_max(const float *x, size_t n, float *lo, float *hi)
{
    for (size_t i = 0; i < n; i++) {
        *lo = fminf(*lo, x[i]);
        *hi = fmaxf(*hi, x[i]);
    }
}

/* x -> (x - lo) / (hi - lo); a division (not a reciprocal) so that lo maps
 * to exactly 0 and hi to exactly 1. */
static void scale_to_unit(float *x, size_t n, float lo, float hi)
{
    float range = hi - lo;
    for (size_t i = 0; i < n; i++)
        x[i] = range > 0 ? (x[i] - lo) / range : 0.0f;
}

int ld_patch_pairs_cut(const ld_patch_grid *g, const float *image0, const float *image1,
                       int channels, const int *indices, int batch, float *out0, float *out1,
                       float *lo, float *hi, ld_err *err)
{
    if (ld_patch_cut(g, image0, channels, indices, batch, out0, err) != 0 ||
        ld_patch_cut(g, image1, channels, indices, batch, out1, err) != 0)
        return -1;
    size_t n = (size_t)channels * (size_t)g->patch * (size_t)g->patch;
    for (int b = 0; b < batch; b++) {
        float *p0 = out0 + (size_t)b * n, *p1 = out1 + (size_t)b * n;
        lo[b] = INFINITY;
        hi[b] = -INFINITY;
        min_max(p0, n, &lo[b], &hi[b]);
        min_max(p1, n, &lo[b], &hi[b]);
        scale_to_unit(p0, n, lo[b], hi[b]);
        scale_to_unit(p1, n, lo[b], hi[b]);
    }
    return 0;
}

void ld_patch_denormalise(float *data, int batch, size_t per_sample, const float *lo,
                          const float *hi)
{
    for (int b = 0; b < batch; b++)
        for (size_t i = 0; i < per_sample; i++) {
            float *x = data + (size_t)b * per_sample + i;
            *x = lo[b] + *x * (hi[b] - lo[b]);
        }
}

/* ---- stitching ------------------------------------------------------------------ */

/* The 1-D window of a patch at `origin` along an axis of `length`: all ones
 * for tiles; for blending sin^2(pi (i + 0.5) / P), held at its peak on the
 * side where the patch touches the image border. */
static void fill_window(float *w, int patch, int origin, int length, ld_stitch_mode mode)
{
    const double pi = 3.14159265358979323846;
    for (int i = 0; i < patch; i++) {
        double s = sin(pi * (i + 0.5) / patch);
        w[i] = mode == LD_STITCH_TILES ? 1.0f : (float)(s * s);
    }
    int first_peak = (patch - 1) / 2, last_peak = patch / 2;
    if (origin == 0)
        for (int i = 0; i < first_peak; i++)
            w[i] = w[first_peak];
    if (origin + patch == length)
        for (int i = last_peak + 1; i < patch; i++)
            w[i] = w[last_peak];
}

int ld_stitcher_init(ld_stitcher *s, const ld_patch_grid *g, int channels, ld_stitch_mode mode,
                     ld_err *err)
{
    memset(s, 0, sizeof *s);
    if (channels < 1)
        return ld_errf(err, "stitch: %d channels", channels);
    if (mode != LD_STITCH_TILES && mode != LD_STITCH_BLEND)
        return ld_errf(err, "stitch: unknown mode %d", (int)mode);
    size_t plane = (size_t)g->height * (size_t)g->width;
    s->sum = calloc(plane * (size_t)channels, sizeof *s->sum);
    s->weight = calloc(plane, sizeof *s->weight);
    s->window = malloc(2 * (size_t)g->patch * sizeof *s->window);
    if (!s->sum || !s->weight || !s->window) {
        ld_stitcher_free(s);
        return ld_errf(err, "stitch: out of memory for a %d x %d x %d image", channels, g->height,
                       g->width);
    }
    s->grid = *g;
    s->channels = channels;
    s->mode = mode;
    return 0;
}

int ld_stitcher_add(ld_stitcher *s, const int *indices, int batch, const float *patches,
                    ld_err *err)
{
    const ld_patch_grid *g = &s->grid;
    if (check_indices(g, indices, batch, err) != 0)
        return -1;
    int P = g->patch;
    size_t plane = (size_t)g->height * (size_t)g->width, patch_plane = (size_t)P * (size_t)P;
    float *wy = s->window, *wx = s->window + P;
    for (int b = 0; b < batch; b++) {
        int y0, x0;
        ld_patch_origin(g, indices[b], &y0, &x0);
        fill_window(wy, P, y0, g->height, s->mode);
        fill_window(wx, P, x0, g->width, s->mode);
        const float *patch = patches + (size_t)b * (size_t)s->channels * patch_plane;
        for (int r = 0; r < P; r++)
            for (int c = 0; c < P; c++) {
                size_t at = (size_t)(y0 + r) * (size_t)g->width + (size_t)(x0 + c);
                double w = (double)wy[r] * wx[c];
                s->weight[at] += w;
                for (int ch = 0; ch < s->channels; ch++)
                    s->sum[(size_t)ch * plane + at] +=
                        w * patch[(size_t)ch * patch_plane + (size_t)r * (size_t)P + (size_t)c];
            }
    }
    return 0;
}

int ld_stitcher_finish(const ld_stitcher *s, float *out, ld_err *err)
{
    size_t plane = (size_t)s->grid.height * (size_t)s->grid.width;
    for (size_t i = 0; i < plane; i++) {
        if (s->weight[i] > 0)
            continue;
        return ld_errf(err, "stitch: pixel at column %zu, row %zu is covered by no patch (add "
                            "every patch of the grid before finishing)",
                       i % (size_t)s->grid.width, i / (size_t)s->grid.width);
    }
    for (int ch = 0; ch < s->channels; ch++)
        for (size_t i = 0; i < plane; i++)
            out[(size_t)ch * plane + i] = (float)(s->sum[(size_t)ch * plane + i] / s->weight[i]);
    return 0;
}

void ld_stitcher_clear(ld_stitcher *s)
{
    size_t plane = (size_t)s->grid.height * (size_t)s->grid.width;
    memset(s->sum, 0, plane * (size_t)s->channels * sizeof *s->sum);
    memset(s->weight, 0, plane * sizeof *s->weight);
}

void ld_stitcher_free(ld_stitcher *s)
{
    free(s->sum);
    free(s->weight);
    free(s->window);
    memset(s, 0, sizeof *s);
}
