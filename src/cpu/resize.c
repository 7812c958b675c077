/* CPU kernels of the resize family (see ops/resize.h): OpenMP loops over
 * planes, bilinear as two 1-D passes (resize_planes). Not oneDNN's
 * resampling: its nearest rounds half-pixel centres (PyTorch's
 * 'nearest-exact') where PyTorch's 'nearest' floors, its bilinear backward
 * is generic code 2-3x slower than these loops, and its bilinear forward
 * was slower too (16x64x32x32 -> 64x64 on 2 threads: 3.4 ms, 2.6 ms for
 * the loops before the two passes, PyTorch 2.8 ms; AVX-512 machine). */
#include <math.h>
#include <omp.h>
#include <string.h>

#include "cpu/cpu.h"
#include "engine/arena.h"
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

/* The 1-D passes over rows of pixels of `lanes` floats each (1 for NCHW,
 * the block for channel-blocked tensors; callers pass a constant, so each
 * lane count gets its own vectorised copy). restrict: gcc may vectorise
 * and keep the taps in registers. */
static inline void blend_rows(float *restrict row, const float *restrict row0,
                              const float *restrict row1, float w1, size_t n)
{
    for (size_t i = 0; i < n; i++)
        row[i] = row0[i] + w1 * (row1[i] - row0[i]);
}

static inline void gather_columns(float *restrict out, const float *restrict row,
                                  const resize_tap *restrict tx, size_t n, const int lanes)
{
    for (size_t j = 0; j < n; j++) {
        const float *a = row + (size_t)tx[j].i0 * lanes, *b = row + (size_t)tx[j].i1 * lanes;
        for (int l = 0; l < lanes; l++)
            out[j * lanes + l] = a[l] + tx[j].w1 * (b[l] - a[l]);
    }
}

static inline void spread_columns(float *restrict row, const float *restrict g,
                                  const resize_tap *restrict tx, size_t n, const int lanes)
{
    for (size_t j = 0; j < n; j++) {
        float *a = row + (size_t)tx[j].i0 * lanes, *b = row + (size_t)tx[j].i1 * lanes;
        for (int l = 0; l < lanes; l++) {
            a[l] += (1.0f - tx[j].w1) * g[j * lanes + l];
            b[l] += tx[j].w1 * g[j * lanes + l];
        }
    }
}

static inline void add_scaled(float *restrict dst, const float *restrict src, float w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] += w * src[i];
}

/* One plane (lanes channels of an image) forward or backward; see
 * resize_planes. */
static inline void resize_plane(float *in, float *out_plane, float *row, ld_resize_mode mode,
                                const ld_resize_shape *s, const resize_tap *tx,
                                const resize_tap *ty, int backward, int add, const int lanes)
{
    const size_t in_row = (size_t)s->in_w * lanes, out_row = (size_t)s->out_w * lanes;
    if (backward && !add)
        memset(in, 0, (size_t)s->in_h * in_row * sizeof *in);
    for (int oy = 0; oy < s->out_h; oy++) {
        float *row0 = in + (size_t)ty[oy].i0 * in_row, *row1 = in + (size_t)ty[oy].i1 * in_row;
        float *out = out_plane + (size_t)oy * out_row;
        if (mode == LD_RESIZE_NEAREST && backward) {
            for (size_t j = 0; j < (size_t)s->out_w; j++)
                for (int l = 0; l < lanes; l++)
                    row0[(size_t)tx[j].i0 * lanes + l] += out[j * lanes + l];
        } else if (mode == LD_RESIZE_NEAREST) {
            for (size_t j = 0; j < (size_t)s->out_w; j++)
                for (int l = 0; l < lanes; l++)
                    out[j * lanes + l] = row0[(size_t)tx[j].i0 * lanes + l];
        } else if (backward) {
            memset(row, 0, in_row * sizeof *row);
            spread_columns(row, out, tx, (size_t)s->out_w, lanes);
            add_scaled(row0, row, 1.0f - ty[oy].w1, in_row);
            add_scaled(row1, row, ty[oy].w1, in_row);
        } else {
            blend_rows(row, row0, row1, ty[oy].w1, in_row);
            gather_columns(out, row, tx, (size_t)s->out_w, lanes);
        }
    }
}

/* The scratch of a call: the taps of the columns then the rows (tx, ty),
 * then one row of in_w pixels per thread, each on cache lines of its own. */
static size_t taps_bytes(const ld_resize_shape *s)
{
    return ld_align_up(((size_t)s->out_w + (size_t)s->out_h) * sizeof(resize_tap));
}

static size_t row_floats(const ld_resize_shape *s)
{
    const size_t lanes = s->block > 1 ? (size_t)s->block : 1;
    return ld_align_up((size_t)s->in_w * lanes * sizeof(float)) / sizeof(float);
}

static size_t resize_scratch_bytes(const ld_resize_shape *s)
{
    return taps_bytes(s) + (size_t)omp_get_max_threads() * row_floats(s) * sizeof(float);
}

/* Forward (y from x) or backward (x, the input gradient, from y, the output
 * gradient: added into x when add, else overwriting it), one plane (an
 * image's channel, or its block of channels) per thread so that the
 * backward's sums do not race. The taps
 * are computed once per call. Bilinear runs as two 1-D passes through a
 * row of in_w pixels per thread: the forward blends the two input rows (a
 * vector loop), then reads the columns' taps from that row; the backward
 * spreads an output row's gradient over a row by the taps, then adds it
 * into the two input rows. Nearest reads one pixel. `scratch` holds
 * resize_scratch_bytes. Returns -1 for a block other than 0, 8 or 16. */
static int resize_planes(float *x, float *y, ld_resize_mode mode, const ld_resize_shape *s,
                         int backward, int add, void *scratch)
{
    const int lanes = s->block > 1 ? s->block : 1;
    if ((lanes != 1 && lanes != 8 && lanes != 16) || s->c % lanes)
        return -1;
    const size_t planes = (size_t)s->n * (size_t)(s->c / lanes);
    const size_t in_plane = (size_t)s->in_h * s->in_w * lanes;
    const size_t out_plane = (size_t)s->out_h * s->out_w * lanes;
    const size_t row_stride = row_floats(s);
    resize_tap *tx = scratch, *ty = tx + s->out_w;
    float *rows = (float *)((char *)scratch + taps_bytes(s));
    for (int j = 0; j < s->out_w; j++)
        tx[j] = resize_source(mode, j, s->in_w, s->out_w);
    for (int i = 0; i < s->out_h; i++)
        ty[i] = resize_source(mode, i, s->in_h, s->out_h);
#pragma omp parallel for schedule(static) if (planes * out_plane > LD_CPU_PARALLEL_MIN)
    for (size_t p = 0; p < planes; p++) {
        float *in = x + p * in_plane, *out = y + p * out_plane;
        float *row = rows + (size_t)omp_get_thread_num() * row_stride;
        if (lanes == 1)
            resize_plane(in, out, row, mode, s, tx, ty, backward, add, 1);
        else if (lanes == 8)
            resize_plane(in, out, row, mode, s, tx, ty, backward, add, 8);
        else
            resize_plane(in, out, row, mode, s, tx, ty, backward, add, 16);
    }
    return 0;
}

/* The const casts are the price of one walker for both directions: the
 * forward only reads x, the backward only reads y. */
static int resize_forward(float *y, const float *x, ld_resize_mode mode,
                          const ld_resize_shape *s, void *scratch)
{
    return resize_planes((float *)x, y, mode, s, 0, 0, scratch);
}

static int resize_backward(float *dx, int add, const float *dy, ld_resize_mode mode,
                           const ld_resize_shape *s, void *scratch)
{
    return resize_planes(dx, (float *)dy, mode, s, 1, add, scratch);
}

const struct ld_resize_kernels ld_cpu_resize_kernels = {resize_scratch_bytes, resize_forward,
                                                        resize_backward};
