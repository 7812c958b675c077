/* CPU convolution kernels (see ops/conv.h): oneDNN's (cpu/dnnl.c), except
 * for stride-1 'same' convolutions to fewer than DIRECT_MAX_OUT output
 * channels (a decoder's last layer: grey or RGB frames), which run as
 * direct loops here. oneDNN's blocked kernels pad the few channels to 16:
 * for LaDID's 5x5 conv from 8 channels to 1 at 32x32 (batch 800, one
 * thread) its forward took 40 ms, its data gradient 82 ms and its weight
 * gradient 40 ms, plus 15 ms of layout reorders.
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
#define DIRECT_MAX_OUT 4

static int direct(const ld_conv_problem *p)
{
    return !p->transposed && p->cout < DIRECT_MAX_OUT && p->stride == 1 && p->k % 2 == 1 &&
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
    size_t taps = (size_t)p->cout * (p->cin * p->k * p->k + 1); /* weights and biases */
    *bytes = which == LD_CONV_BACKWARD_WEIGHTS ? wgrad_chunks(p) * taps * sizeof(double) : 0;
    return 0;
}

/* y[o] += w[o, c] * x[c] over the K x K taps of one image plane (the
 * same-padded correlation); the data gradient is the same loop with the
 * roles of the planes swapped (transpose = 1: dx[c] += w[o, c] (*) dy[o]). */
static void correlate(float *out, const float *in, const float *w, int K, int pad, int H, int W,
                      int transpose)
{
    for (int ky = 0; ky < K; ky++) {
        int y_lo, y_hi;
        tap_range(ky, pad, H, &y_lo, &y_hi);
        for (int kx = 0; kx < K; kx++) {
            int x_lo, x_hi, dx = kx - pad, dy = ky - pad;
            tap_range(kx, pad, W, &x_lo, &x_hi);
            const float wv = w[ky * K + kx];
            for (int oy = y_lo; oy < y_hi; oy++) {
                /* the output-side row and the input-side row shifted by the tap */
                size_t at = (size_t)oy * W, shifted = (size_t)(oy + dy) * W + dx;
                float *o = out + (transpose ? shifted : at);
                const float *i = in + (transpose ? at : shifted);
#pragma omp simd
                for (int ox = x_lo; ox < x_hi; ox++)
                    o[ox] += wv * i[ox];
            }
        }
    }
}

static int conv_forward(const ld_conv_problem *p, float *y, const float *x, const float *w,
                        const float *b, void *scratch, ld_err *err)
{
    if (!direct(p))
        return DNNL->forward(p, y, x, w, b, scratch, err);
    const int K = p->k, C = p->cin, O = p->cout;
    const size_t plane = (size_t)p->h * p->w, taps = (size_t)K * K;
    const float slope = p->act.kind == LD_ACT_LEAKY_RELU ? p->act.slope : 0.0f;
    const int act = p->act.kind == LD_ACT_RELU || p->act.kind == LD_ACT_LEAKY_RELU;
#pragma omp parallel for schedule(static) if ((size_t)p->n * C * plane > LD_CPU_PARALLEL_MIN)
    for (int n = 0; n < p->n; n++)
        for (int o = 0; o < O; o++) {
            float *yo = y + ((size_t)n * O + o) * plane;
            const float bias = b ? b[o] : 0.0f;
            for (size_t i = 0; i < plane; i++)
                yo[i] = bias;
            for (int c = 0; c < C; c++)
                correlate(yo, x + ((size_t)n * C + c) * plane, w + ((size_t)o * C + c) * taps, K,
                          p->pad, p->h, p->w, 0);
            if (act)
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
    const int K = p->k, C = p->cin, O = p->cout;
    const size_t plane = (size_t)p->h * p->w, taps = (size_t)K * K;
#pragma omp parallel for schedule(static) if ((size_t)p->n * C * plane > LD_CPU_PARALLEL_MIN)
    for (int n = 0; n < p->n; n++)
        for (int c = 0; c < C; c++) {
            float *dxc = dx + ((size_t)n * C + c) * plane;
            if (!add)
                memset(dxc, 0, plane * sizeof *dxc);
            for (int o = 0; o < O; o++)
                correlate(dxc, dz + ((size_t)n * O + o) * plane, w + ((size_t)o * C + c) * taps,
                          K, p->pad, p->h, p->w, 1);
        }
    return 0;
}

static int conv_backward_weights(const ld_conv_problem *p, float *dw, int dw_add, float *db,
                                 int db_add, const float *dz, const float *x, void *scratch,
                                 ld_err *err)
{
    if (!direct(p))
        return DNNL->backward_weights(p, dw, dw_add, db, db_add, dz, x, scratch, err);
    const int H = p->h, W = p->w, K = p->k, C = p->cin, O = p->cout;
    const size_t plane = (size_t)H * W, weights = (size_t)O * C * K * K;
    const size_t per = weights + (size_t)O, chunks = wgrad_chunks(p);
    double *part = scratch; /* [chunks][weights, then the O biases] */
#pragma omp parallel for schedule(static) if ((size_t)p->n * C * plane > LD_CPU_PARALLEL_MIN)
    for (size_t ch = 0; ch < chunks; ch++) {
        double *acc = part + ch * per;
        memset(acc, 0, per * sizeof *acc);
        size_t end = (ch + 1) * WGRAD_CHUNK < (size_t)p->n ? (ch + 1) * WGRAD_CHUNK : (size_t)p->n;
        for (size_t n = ch * WGRAD_CHUNK; n < end; n++)
            for (int o = 0; o < O; o++) {
                const float *g = dz + (n * O + o) * plane;
                float sum = 0;
#pragma omp simd reduction(+ : sum)
                for (size_t i = 0; i < plane; i++)
                    sum += g[i];
                acc[weights + o] += sum;
                for (int c = 0; c < C; c++) {
                    const float *xc = x + (n * C + c) * plane;
                    double *a = acc + ((size_t)o * C + c) * K * K;
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
                            a[ky * K + kx] += s;
                        }
                    }
                }
            }
    }
    for (size_t t = 0; t < per; t++) {
        double total = 0;
        for (size_t ch = 0; ch < chunks; ch++)
            total += part[ch * per + t];
        float *out = t < weights ? (dw ? dw + t : NULL)
                                 : (p->has_bias && db ? db + (t - weights) : NULL);
        int accumulate = t < weights ? dw_add : db_add;
        if (out)
            *out = accumulate ? *out + (float)total : (float)total;
    }
    return 0;
}

const struct ld_conv_kernels ld_cpu_conv_kernels = {
    conv_scratch_bytes, conv_forward, conv_act_backward, conv_backward_data,
    conv_backward_weights,
};
