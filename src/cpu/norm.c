/* CPU kernels of the normalisation family (see ops/norm.h): batch norm as
 * OpenMP loops in parallel over channels (sums float inside a row,
 * vectorised, and double across rows); layer norm from oneDNN (cpu/dnnl.c,
 * declared in cpu/cpu.h).
 *
 * Batch norm is not oneDNN's: on NCHW oneDNN 2.6 runs its generic
 * ncsp_bnorm, which took 4-5x PyTorch's time in the backward and 5x in the
 * evaluation forward (16 x 16..128 x 32 x 32 on 2 threads); these loops
 * beat PyTorch in training (forward + backward) at those sizes. */
#include <math.h>

#include "cpu/cpu.h"
#include "ops/norm.h"

/* ---- batch norm: channel c of x [n, c, spatial] is n rows of spatial ------ */

static size_t bn_row(const ld_batchnorm_shape *s, int n, int c)
{
    return ((size_t)n * (size_t)s->c + (size_t)c) * s->spatial;
}

/* Sum of a over channel c. */
static double bn_sum(const float *a, const ld_batchnorm_shape *s, int c)
{
    double total = 0;
    for (int n = 0; n < s->n; n++) {
        const float *r = a + bn_row(s, n, c);
        float part = 0;
#pragma omp simd reduction(+ : part)
        for (size_t i = 0; i < s->spatial; i++)
            part += r[i];
        total += part;
    }
    return total;
}

/* Sum of (a - shift) * b over channel c, b NULL meaning a - shift (a sum of
 * squares); and into *sum_b, when not NULL, the sum of b. */
static double bn_centered_dot(const float *a, float shift, const float *b,
                              const ld_batchnorm_shape *s, int c, double *sum_b)
{
    double total = 0, total_b = 0;
    for (int n = 0; n < s->n; n++) {
        const float *ra = a + bn_row(s, n, c);
        const float *rb = b ? b + bn_row(s, n, c) : ra;
        float b_shift = b ? 0.0f : shift, part = 0, part_b = 0;
#pragma omp simd reduction(+ : part, part_b)
        for (size_t i = 0; i < s->spatial; i++) {
            part += (ra[i] - shift) * (rb[i] - b_shift);
            part_b += rb[i];
        }
        total += part;
        total_b += part_b;
    }
    if (sum_b)
        *sum_b = total_b;
    return total;
}

/* out = (a - shift) * scale + b * b_scale + offset over channel c (b may be
 * NULL). */
static void bn_combine(float *out, const float *a, float shift, float scale, const float *b,
                       float b_scale, float offset, const ld_batchnorm_shape *s, int c)
{
    for (int n = 0; n < s->n; n++) {
        size_t r = bn_row(s, n, c);
        if (b) {
#pragma omp simd
            for (size_t i = 0; i < s->spatial; i++)
                out[r + i] = (a[r + i] - shift) * scale + b[r + i] * b_scale + offset;
        } else {
#pragma omp simd
            for (size_t i = 0; i < s->spatial; i++)
                out[r + i] = (a[r + i] - shift) * scale + offset;
        }
    }
}

static size_t bn_numel(const ld_batchnorm_shape *s)
{
    return (size_t)s->n * (size_t)s->c * s->spatial;
}

static int bn_train_forward(float *y, float *mean, float *var, float *running_mean,
                            float *running_var, const float *x, const float *gamma,
                            const float *beta, float momentum, const ld_batchnorm_shape *s)
{
    double count = (double)s->n * (double)s->spatial;
#pragma omp parallel for schedule(static) if (bn_numel(s) > LD_CPU_PARALLEL_MIN)
    for (int c = 0; c < s->c; c++) {
        float m = (float)(bn_sum(x, s, c) / count);
        double sq = bn_centered_dot(x, m, NULL, s, c, NULL);
        float v = (float)(sq / count);
        mean[c] = m;
        var[c] = v;
        bn_combine(y, x, m, gamma[c] / sqrtf(v + s->eps), NULL, 0.0f, beta[c], s, c);
        running_mean[c] = (1.0f - momentum) * running_mean[c] + momentum * m;
        running_var[c] = (1.0f - momentum) * running_var[c] + momentum * (float)(sq / (count - 1));
    }
    return 0;
}

static int bn_eval_forward(float *y, const float *x, const float *gamma, const float *beta,
                           const float *mean, const float *var, const ld_batchnorm_shape *s)
{
#pragma omp parallel for schedule(static) if (bn_numel(s) > LD_CPU_PARALLEL_MIN)
    for (int c = 0; c < s->c; c++)
        bn_combine(y, x, mean[c], gamma[c] / sqrtf(var[c] + s->eps), NULL, 0.0f, beta[c], s, c);
    return 0;
}

/* dx = gamma invstd (dy - mean(dy) - (x - mean) invstd^2 mean(dy (x - mean)))
 * with batch statistics; gamma invstd dy with constant ones. */
static int bn_backward(float *dx, float *dgamma, float *dbeta, const float *dy, const float *x,
                       const float *gamma, const float *mean, const float *var,
                       int global_stats, const ld_batchnorm_shape *s)
{
    double count = (double)s->n * (double)s->spatial;
#pragma omp parallel for schedule(static) if (bn_numel(s) > LD_CPU_PARALLEL_MIN)
    for (int c = 0; c < s->c; c++) {
        float invstd = 1.0f / sqrtf(var[c] + s->eps);
        double sum_dy;
        double sum_dy_xmu = bn_centered_dot(x, mean[c], dy, s, c, &sum_dy);
        dbeta[c] = (float)sum_dy;
        dgamma[c] = (float)sum_dy_xmu * invstd;
        float gi = gamma[c] * invstd;
        if (global_stats) {
            bn_combine(dx, dy, 0.0f, gi, NULL, 0.0f, 0.0f, s, c);
        } else {
            float k = (float)(sum_dy_xmu / count) * invstd * invstd;
            bn_combine(dx, x, mean[c], -gi * k, dy, gi, -gi * (float)(sum_dy / count), s, c);
        }
    }
    return 0;
}

const struct ld_norm_kernels ld_cpu_norm_kernels = {
    bn_train_forward,          bn_eval_forward,           bn_backward,
    ld_dnnl_layernorm_forward, ld_dnnl_layernorm_backward,
};
