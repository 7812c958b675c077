/* CPU kernels of the resize family (see ops/resize.h): OpenMP loops over
 * planes with the column taps computed once per block. Not oneDNN's
 * resampling: its nearest rounds half-pixel centres (PyTorch's
 * 'nearest-exact') where PyTorch's 'nearest' floors, its bilinear backward
 * is generic code 2-3x slower than these loops, and its bilinear forward
 * was slower too (16x64x32x32 -> 64x64 on 2 threads: 3.4 ms, here 2.6 ms,
 * PyTorch 2.8 ms). */
#include <math.h>
#include <string.h>

#include "cpu/cpu.h"
#include "ops/resize.h"

/* Along one axis, output pixel `dst` reads (1 - w1) x[i0] + w1 x[i1]. */
typedef struct resize_tap {
    int i0, i1;
    float w1;
} resize_tap;

/* PyTorch's source pixels (upsample_nearest2d / upsample_bilinear2d with
 * align_corners=False): float32 scale in / out; the bilinear source
 * coordinate in double from it, as PyTorch 1.13 computes it (in float32
 * the weights of a 520-pixel-wide output are off by 3e-5). */
static resize_tap resize_source(ld_resize_mode mode, int dst, int in, int out)
{
    float scale = (float)in / (float)out;
    if (mode == LD_RESIZE_NEAREST) {
        int src = out == 2 * in ? dst / 2 : (int)floorf((float)dst * scale);
        src = src < in - 1 ? src : in - 1;
        return (resize_tap){src, src, 0.0f};
    }
    double src = ((double)dst + 0.5) * scale - 0.5;
    src = src > 0.0 ? src : 0.0;
    int i0 = (int)src;
    return (resize_tap){i0, i0 + (i0 < in - 1), (float)(src - i0)};
}

/* Output columns whose taps are computed at once (on the stack). */
enum { RESIZE_TAP_BLOCK = 256 };

/* One output pixel from its input pixels (row0, row1 are the two input
 * rows it reads). */
static float resize_gather(const float *row0, const float *row1, resize_tap ty, resize_tap tx)
{
    float top = row0[tx.i0] + tx.w1 * (row0[tx.i1] - row0[tx.i0]);
    float bottom = row1[tx.i0] + tx.w1 * (row1[tx.i1] - row1[tx.i0]);
    return top + ty.w1 * (bottom - top);
}

/* Its transpose: adds output gradient g into the input pixels it read. */
static void resize_scatter(float *row0, float *row1, resize_tap ty, resize_tap tx, float g)
{
    float g0 = (1.0f - ty.w1) * g, g1 = ty.w1 * g;
    row0[tx.i0] += (1.0f - tx.w1) * g0;
    row0[tx.i1] += tx.w1 * g0;
    row1[tx.i0] += (1.0f - tx.w1) * g1;
    row1[tx.i1] += tx.w1 * g1;
}

/* Forward (y from x) or backward (x, the input gradient, overwritten from
 * y, the output gradient), one plane per thread so that the backward's
 * sums do not race. Nearest reads one pixel: its own short paths. */
static void resize_planes(float *x, float *y, ld_resize_mode mode, const ld_resize_shape *s,
                          int backward)
{
    size_t planes = (size_t)s->n * (size_t)s->c;
    size_t in_plane = (size_t)s->in_h * (size_t)s->in_w;
    size_t out_plane = (size_t)s->out_h * (size_t)s->out_w;
    int nearest = mode == LD_RESIZE_NEAREST;
#pragma omp parallel for schedule(static) if (planes * out_plane > LD_CPU_PARALLEL_MIN)
    for (size_t p = 0; p < planes; p++) {
        float *in = x + p * in_plane;
        if (backward)
            memset(in, 0, in_plane * sizeof *in);
        for (int ox0 = 0; ox0 < s->out_w; ox0 += RESIZE_TAP_BLOCK) {
            resize_tap tx[RESIZE_TAP_BLOCK];
            int cols = s->out_w - ox0 < RESIZE_TAP_BLOCK ? s->out_w - ox0 : RESIZE_TAP_BLOCK;
            for (int j = 0; j < cols; j++)
                tx[j] = resize_source(mode, ox0 + j, s->in_w, s->out_w);
            for (int oy = 0; oy < s->out_h; oy++) {
                resize_tap ty = resize_source(mode, oy, s->in_h, s->out_h);
                float *row0 = in + (size_t)ty.i0 * (size_t)s->in_w;
                float *row1 = in + (size_t)ty.i1 * (size_t)s->in_w;
                float *out = y + p * out_plane + (size_t)oy * (size_t)s->out_w + (size_t)ox0;
                if (backward && nearest)
                    for (int j = 0; j < cols; j++)
                        row0[tx[j].i0] += out[j];
                else if (backward)
                    for (int j = 0; j < cols; j++)
                        resize_scatter(row0, row1, ty, tx[j], out[j]);
                else if (nearest)
                    for (int j = 0; j < cols; j++)
                        out[j] = row0[tx[j].i0];
                else
                    for (int j = 0; j < cols; j++)
                        out[j] = resize_gather(row0, row1, ty, tx[j]);
            }
        }
    }
}

/* The const casts are the price of one walker for both directions: the
 * forward only reads x, the backward only reads y. */
static int resize_forward(float *y, const float *x, ld_resize_mode mode,
                          const ld_resize_shape *s)
{
    resize_planes((float *)x, y, mode, s, 0);
    return 0;
}

static int resize_backward(float *dx, const float *dy, ld_resize_mode mode,
                           const ld_resize_shape *s)
{
    resize_planes(dx, (float *)dy, mode, s, 1);
    return 0;
}

const struct ld_resize_kernels ld_cpu_resize_kernels = {resize_forward, resize_backward};
