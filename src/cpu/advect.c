/* CPU kernels (OpenMP) of semi-Lagrangian advection: see ops/advect.h.
 * Every output element is written by one thread only: the forward and the
 * velocity gradient run over (batch, row), the scatter into the z gradient
 * over (batch, channel) planes, so results do not depend on the thread
 * count. */
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

/* dz += the transpose of the bilinear sampling, one (batch, channel) plane
 * per iteration. */
static void scatter_z_grad(const float *dy, const float *v, size_t v_batch_stride, float dt,
                           float *dz, int n, int c, int h, int w)
{
    size_t plane = (size_t)h * (size_t)w;
#pragma omp parallel for schedule(static) if ((size_t)n * c * plane > LD_CPU_PARALLEL_MIN)
    for (int bc = 0; bc < n * c; bc++) {
        const float *field = v + (size_t)(bc / c) * v_batch_stride;
        const float *g = dy + (size_t)bc * plane;
        float *d = dz + (size_t)bc * plane;
        for (int row = 0; row < h; row++)
            for (int col = 0; col < w; col++) {
                pixel_sample s = sample_pixel(field, dt, h, w, row, col);
                float gv = g[(size_t)row * (size_t)w + (size_t)col];
                float top = gv * (1.0f - s.y.frac), bottom = gv * s.y.frac;
                float *r0 = d + (size_t)s.y.i0 * (size_t)w, *r1 = d + (size_t)s.y.i1 * (size_t)w;
                r0[s.x.i0] += top * (1.0f - s.x.frac);
                r0[s.x.i1] += top * s.x.frac;
                r1[s.x.i0] += bottom * (1.0f - s.x.frac);
                r1[s.x.i1] += bottom * s.x.frac;
            }
    }
}

/* dv += -dt * d out / d(sample position), summed over channels. */
static void velocity_grad(const float *dy, const float *z, const float *v,
                          size_t v_batch_stride, float dt, float *dv, int n, int c, int h, int w)
{
    size_t plane = (size_t)h * (size_t)w;
#pragma omp parallel for schedule(static) if ((size_t)n * c * plane > LD_CPU_PARALLEL_MIN)
    for (int br = 0; br < n * h; br++) {
        int b = br / h, row = br % h;
        const float *field = v + (size_t)b * v_batch_stride;
        float *dfield = dv + (size_t)b * v_batch_stride;
        for (int col = 0; col < w; col++) {
            pixel_sample s = sample_pixel(field, dt, h, w, row, col);
            size_t p = (size_t)row * (size_t)w + (size_t)col;
            float gx = 0.0f, gy = 0.0f;
            for (int ch = 0; ch < c; ch++) {
                size_t off = ((size_t)b * (size_t)c + (size_t)ch) * plane;
                const float *r0 = z + off + (size_t)s.y.i0 * (size_t)w;
                const float *r1 = z + off + (size_t)s.y.i1 * (size_t)w;
                float d_col = (1.0f - s.y.frac) * (r0[s.x.i1] - r0[s.x.i0]) +
                              s.y.frac * (r1[s.x.i1] - r1[s.x.i0]);
                float d_row = (1.0f - s.x.frac) * (r1[s.x.i0] - r0[s.x.i0]) +
                              s.x.frac * (r1[s.x.i1] - r0[s.x.i1]);
                gx += dy[off + p] * d_col;
                gy += dy[off + p] * d_row;
            }
            dfield[p] -= dt * gx;
            dfield[plane + p] -= dt * gy;
        }
    }
}

static void backward(const float *dy, const float *z, const float *v, size_t v_batch_stride,
                     float dt, float *dz, float *dv, int n, int c, int h, int w)
{
    if (dz)
        scatter_z_grad(dy, v, v_batch_stride, dt, dz, n, c, h, w);
    if (dv)
        velocity_grad(dy, z, v, v_batch_stride, dt, dv, n, c, h, w);
}

const struct ld_advect_kernels ld_cpu_advect_kernels = {forward, backward};
