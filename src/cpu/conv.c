/* CPU convolution kernels (see ops/conv.h): oneDNN's (cpu/dnnl.c), except
 * for stride-1 'same' convolutions to one output channel (a decoder's last
 * layer), which run as direct loops here. oneDNN's blocked kernels pad the
 * single channel to 16: for LaDID's 5x5 conv from 8 channels to 1 at 32x32
 * (batch 800, one thread) its forward took 40 ms and its weight gradient
 * 40 ms, plus 15 ms of layout reorders; these loops take a fraction of it.
 *
 * The loops run in parallel over images (forward, data gradient) or over
 * fixed chunks of images whose partial sums are added in order (weight
 * gradient), so results do not depend on the thread count. */
#include <math.h>
#include <string.h>

#include "cpu/cpu.h"
#include "ops/conv.h"

#define DNNL (&ld_dnnl_conv_kernels)
#define WGRAD_CHUNK 16 /* images per partial sum of the weight gradient */

static int direct(const ld_conv_problem *p)
{
    return !p->transposed && p->cout == 1 && p->stride == 1 && p->k % 2 == 1 &&
           p->pad == p->k / 2 && p->oh == p->h && p->ow == p->w;
}

/* The output columns [lo, hi) whose input column ox + kx - pad lies inside
 * [0, w) (the same for rows). */
static void tap_range(int k_offset, int pad, int size, int *lo, int *hi)
{
    int shift = k_offset - pad;
    *lo = shift < 0 ? -shift : 0;
    *hi = shift > 0 ? size - shift : size;
}

static size_t wgrad_chunks(const ld_conv_problem *p)
{
    return ((size_t)p->n + WGRAD_CHUNK - 1) / WGRAD_CHUNK;
}

static int conv_scratch_bytes(const ld_conv_problem *p, ld_conv_pass which, size_t *bytes,
                              ld_err *err)
{
    if (!direct(p) || which == LD_CONV_ACT_BACKWARD)
        return DNNL->scratch_bytes(p, which, bytes, err);
    size_t taps = (size_t)p->cin * p->k * p->k + 1; /* the weights and the bias */
    *bytes = which == LD_CONV_BACKWARD_WEIGHTS ? wgrad_chunks(p) * taps * sizeof(double) : 0;
    return 0;
}

static int conv_forward(const ld_conv_problem *p, float *y, const float *x, const float *w,
                        const float *b, void *scratch, ld_err *err)
{
    if (!direct(p))
        return DNNL->forward(p, y, x, w, b, scratch, err);
    const int H = p->h, W = p->w, K = p->k, C = p->cin;
    const size_t plane = (size_t)H * W;
    const float bias = b ? b[0] : 0.0f;
    const float slope = p->act.kind == LD_ACT_LEAKY_RELU ? p->act.slope : 0.0f;
#pragma omp parallel for schedule(static) if ((size_t)p->n * C * plane > LD_CPU_PARALLEL_MIN)
    for (int n = 0; n < p->n; n++) {
        float *yo = y + (size_t)n * plane;
        for (size_t i = 0; i < plane; i++)
            yo[i] = bias;
        for (int c = 0; c < C; c++) {
            const float *xc = x + ((size_t)n * C + c) * plane;
            for (int ky = 0; ky < K; ky++) {
                int y_lo, y_hi;
                tap_range(ky, p->pad, H, &y_lo, &y_hi);
                for (int kx = 0; kx < K; kx++) {
                    int x_lo, x_hi, dx = kx - p->pad, dy = ky - p->pad;
                    tap_range(kx, p->pad, W, &x_lo, &x_hi);
                    const float wv = w[((size_t)c * K + ky) * K + kx];
                    for (int oy = y_lo; oy < y_hi; oy++) {
                        float *row = yo + (size_t)oy * W;
                        const float *in = xc + (size_t)(oy + dy) * W + dx;
#pragma omp simd
                        for (int ox = x_lo; ox < x_hi; ox++)
                            row[ox] += wv * in[ox];
                    }
                }
            }
        }
        if (p->act.kind == LD_ACT_RELU || p->act.kind == LD_ACT_LEAKY_RELU)
            for (size_t i = 0; i < plane; i++)
                yo[i] = yo[i] > 0 ? yo[i] : slope * yo[i];
    }
    return 0;
}

static int conv_act_backward(const ld_conv_problem *p, float *dz, const float *dy,
                             const float *y, void *scratch, ld_err *err)
{
    return DNNL->act_backward(p, dz, dy, y, scratch, err);
}

static int conv_backward_data(const ld_conv_problem *p, float *dx, int add, const float *dz,
                              const float *w, void *scratch, ld_err *err)
{
    if (!direct(p))
        return DNNL->backward_data(p, dx, add, dz, w, scratch, err);
    const int H = p->h, W = p->w, K = p->k, C = p->cin;
    const size_t plane = (size_t)H * W;
#pragma omp parallel for schedule(static) if ((size_t)p->n * C * plane > LD_CPU_PARALLEL_MIN)
    for (int n = 0; n < p->n; n++) {
        const float *g = dz + (size_t)n * plane;
        for (int c = 0; c < C; c++) {
            float *dxc = dx + ((size_t)n * C + c) * plane;
            if (!add)
                memset(dxc, 0, plane * sizeof *dxc);
            for (int ky = 0; ky < K; ky++) {
                int y_lo, y_hi;
                tap_range(ky, p->pad, H, &y_lo, &y_hi);
                for (int kx = 0; kx < K; kx++) {
                    int x_lo, x_hi, dx_off = kx - p->pad, dy_off = ky - p->pad;
                    tap_range(kx, p->pad, W, &x_lo, &x_hi);
                    const float wv = w[((size_t)c * K + ky) * K + kx];
                    for (int oy = y_lo; oy < y_hi; oy++) {
                        float *out = dxc + (size_t)(oy + dy_off) * W + dx_off;
                        const float *row = g + (size_t)oy * W;
#pragma omp simd
                        for (int ox = x_lo; ox < x_hi; ox++)
                            out[ox] += wv * row[ox];
                    }
                }
            }
        }
    }
    return 0;
}

static int conv_backward_weights(const ld_conv_problem *p, float *dw, int dw_add, float *db,
                                 int db_add, const float *dz, const float *x, void *scratch,
                                 ld_err *err)
{
    if (!direct(p))
        return DNNL->backward_weights(p, dw, dw_add, db, db_add, dz, x, scratch, err);
    const int H = p->h, W = p->w, K = p->k, C = p->cin;
    const size_t plane = (size_t)H * W, taps = (size_t)C * K * K, chunks = wgrad_chunks(p);
    double *part = scratch; /* [chunks][taps + 1], the bias last */
#pragma omp parallel for schedule(static) if ((size_t)p->n * C * plane > LD_CPU_PARALLEL_MIN)
    for (size_t ch = 0; ch < chunks; ch++) {
        double *acc = part + ch * (taps + 1);
        memset(acc, 0, (taps + 1) * sizeof *acc);
        int last = (int)((ch + 1) * WGRAD_CHUNK < (size_t)p->n ? (ch + 1) * WGRAD_CHUNK
                                                                : (size_t)p->n);
        for (int n = (int)(ch * WGRAD_CHUNK); n < last; n++) {
            const float *g = dz + (size_t)n * plane;
            float sum = 0;
#pragma omp simd reduction(+ : sum)
            for (size_t i = 0; i < plane; i++)
                sum += g[i];
            acc[taps] += sum;
            for (int c = 0; c < C; c++) {
                const float *xc = x + ((size_t)n * C + c) * plane;
                for (int ky = 0; ky < K; ky++) {
                    int y_lo, y_hi;
                    tap_range(ky, p->pad, H, &y_lo, &y_hi);
                    for (int kx = 0; kx < K; kx++) {
                        int x_lo, x_hi, dx = kx - p->pad, dy = ky - p->pad;
                        tap_range(kx, p->pad, W, &x_lo, &x_hi);
                        float s = 0;
                        for (int oy = y_lo; oy < y_hi; oy++) {
                            const float *row = g + (size_t)oy * W;
                            const float *in = xc + (size_t)(oy + dy) * W + dx;
#pragma omp simd reduction(+ : s)
                            for (int ox = x_lo; ox < x_hi; ox++)
                                s += row[ox] * in[ox];
                        }
                        acc[((size_t)c * K + ky) * K + kx] += s;
                    }
                }
            }
        }
    }
    for (size_t t = 0; t <= taps; t++) {
        double total = 0;
        for (size_t ch = 0; ch < chunks; ch++)
            total += part[ch * (taps + 1) + t];
        float *out = t < taps ? (dw ? dw + t : NULL) : (p->has_bias ? db : NULL);
        int accumulate = t < taps ? dw_add : db_add;
        if (out)
            *out = accumulate ? *out + (float)total : (float)total;
    }
    return 0;
}

const struct ld_conv_kernels ld_cpu_conv_kernels = {
    conv_scratch_bytes, conv_forward, conv_act_backward, conv_backward_data,
    conv_backward_weights,
};
