/* CPU kernels (OpenMP) of semi-Lagrangian advection: see ops/advect.h.
 * Every output element is written by one thread only: the forward runs over
 * (batch, row), the backward over batch elements, so results do not depend
 * on the thread count. */
#include <math.h>

#include "cpu/cpu.h"
#include "ops/advect.h"

/* Where one pixel samples along one axis: the two neighbours and the weight
 * of the second. A position clamped to the border, or lying exactly on it,
 * gets two equal neighbours, so the difference that makes the velocity
 * gradient is zero there, as grid_sample's border clamp has it. */
typedef struct axis_sample {
    int i0, i1;
    float frac;
} axis_sample;

static axis_sample sample_axis(float pos, int size)
{
    axis_sample s = {0, 0, 0.0f};
    if (!(pos > 0.0f)) /* also NaN */
        return s;
    if (pos >= (float)(size - 1)) {
        s.i0 = s.i1 = size - 1;
        return s;
    }
    float base = floorf(pos);
    s.i0 = (int)base;
    s.i1 = s.i0 + 1;
    s.frac = pos - base;
    return s;
}

/* The sample of pixel (row, col) of field v ([2, h, w]). */
typedef struct pixel_sample {
    axis_sample x, y;
} pixel_sample;

static pixel_sample sample_pixel(const float *v, float dt, int h, int w, int row, int col)
{
    size_t plane = (size_t)h * (size_t)w, p = (size_t)row * (size_t)w + (size_t)col;
    pixel_sample s;
    s.x = sample_axis((float)col - dt * v[p], w);
    s.y = sample_axis((float)row - dt * v[plane + p], h);
    return s;
}

static float bilinear(const float *z, int w, pixel_sample s)
{
    const float *r0 = z + (size_t)s.y.i0 * (size_t)w, *r1 = z + (size_t)s.y.i1 * (size_t)w;
    float top = r0[s.x.i0] + s.x.frac * (r0[s.x.i1] - r0[s.x.i0]);
    float bottom = r1[s.x.i0] + s.x.frac * (r1[s.x.i1] - r1[s.x.i0]);
    return top + s.y.frac * (bottom - top);
}

static void forward(float *y, const float *z, const float *v, size_t v_batch_stride, float dt,
                    int n, int c, int h, int w)
{
    size_t plane = (size_t)h * (size_t)w;
#pragma omp parallel for schedule(static) if ((size_t)n * c * plane > LD_CPU_PARALLEL_MIN)
    for (int br = 0; br < n * h; br++) {
        int b = br / h, row = br % h;
        const float *field = v + (size_t)b * v_batch_stride;
        for (int col = 0; col < w; col++) {
            pixel_sample s = sample_pixel(field, dt, h, w, row, col);
            size_t p = (size_t)row * (size_t)w + (size_t)col;
            for (int ch = 0; ch < c; ch++) {
                size_t off = ((size_t)b * (size_t)c + (size_t)ch) * plane;
                y[off + p] = bilinear(z + off, w, s);
            }
        }
    }
}

/* Both gradients in one pass over each batch element's pixels, so every
 * pixel's sample is found once: dz += the transpose of the bilinear
 * sampling, dv += -dt * d out / d(sample position) summed over channels.
 * A batch element's dz planes and dv field are written by one thread. */
static void backward(const float *dy, const float *z, const float *v, size_t v_batch_stride,
                     float dt, float *dz, float *dv, int n, int c, int h, int w)
{
    size_t plane = (size_t)h * (size_t)w;
#pragma omp parallel for schedule(static) if ((size_t)n * c * plane > LD_CPU_PARALLEL_MIN)
    for (int b = 0; b < n; b++) {
        const float *field = v + (size_t)b * v_batch_stride;
        const float *z_b = z + (size_t)b * c * plane, *dy_b = dy + (size_t)b * c * plane;
        float *dz_b = dz ? dz + (size_t)b * c * plane : NULL;
        for (int row = 0; row < h; row++)
            for (int col = 0; col < w; col++) {
                pixel_sample s = sample_pixel(field, dt, h, w, row, col);
                size_t p = (size_t)row * (size_t)w + (size_t)col;
                size_t top = (size_t)s.y.i0 * (size_t)w, bottom = (size_t)s.y.i1 * (size_t)w;
                float wx = s.x.frac, wy = s.y.frac, gx = 0.0f, gy = 0.0f;
                for (int ch = 0; ch < c; ch++) {
                    size_t off = (size_t)ch * plane;
                    float g = dy_b[off + p];
                    if (dz_b) {
                        float *d = dz_b + off;
                        d[top + s.x.i0] += g * (1.0f - wy) * (1.0f - wx);
                        d[top + s.x.i1] += g * (1.0f - wy) * wx;
                        d[bottom + s.x.i0] += g * wy * (1.0f - wx);
                        d[bottom + s.x.i1] += g * wy * wx;
                    }
                    const float *zc = z_b + off;
                    float z00 = zc[top + s.x.i0], z01 = zc[top + s.x.i1];
                    float z10 = zc[bottom + s.x.i0], z11 = zc[bottom + s.x.i1];
                    gx += g * ((1.0f - wy) * (z01 - z00) + wy * (z11 - z10));
                    gy += g * ((1.0f - wx) * (z10 - z00) + wx * (z11 - z01));
                }
                if (dv) {
                    dv[(size_t)b * v_batch_stride + p] -= dt * gx;
                    dv[(size_t)b * v_batch_stride + plane + p] -= dt * gy;
                }
            }
    }
}

const struct ld_advect_kernels ld_cpu_advect_kernels = {forward, backward};
