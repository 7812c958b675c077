/* CPU kernels (OpenMP) of the element-wise family: see ops/elementwise.h. */
#include <string.h>

#include "cpu/cpu.h"
#include "ops/elementwise.h"

/* a = [outer, mid, inner] as rows of `inner` contiguous elements sharing
 * one b value, so the inner loop has no index arithmetic. */
static void binary_forward(ld_binary_op op, float *y, const float *a, const float *b,
                           size_t outer, size_t mid, size_t inner)
{
    size_t rows = outer * mid;
#pragma omp parallel for schedule(static) if (rows * inner > LD_CPU_PARALLEL_MIN)
    for (size_t r = 0; r < rows; r++) {
        const float bv = b[r % mid];
        const float *ar = a + r * inner;
        float *yr = y + r * inner;
        if (op == LD_BINARY_ADD)
            for (size_t i = 0; i < inner; i++)
                yr[i] = ar[i] + bv;
        else
            for (size_t i = 0; i < inner; i++)
                yr[i] = ar[i] * bv;
    }
}

/* Same shapes (mid = numel, inner = 1 collapses to this): plain loops. */
static void binary_forward_same(ld_binary_op op, float *y, const float *a, const float *b,
                                size_t n)
{
#pragma omp parallel for schedule(static) if (n > LD_CPU_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        y[i] = op == LD_BINARY_ADD ? a[i] + b[i] : a[i] * b[i];
}

static void binary_forward_any(ld_binary_op op, float *y, const float *a, const float *b,
                               size_t outer, size_t mid, size_t inner)
{
    if (outer == 1 && inner == 1)
        binary_forward_same(op, y, a, b, mid);
    else
        binary_forward(op, y, a, b, outer, mid, inner);
}

static void axpy(float *y, float alpha, const float *x, size_t n)
{
#pragma omp parallel for schedule(static) if (n > LD_CPU_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        y[i] += alpha * x[i];
}

/* d += dy * factor, element by element (mul's backward for inputs of the
 * output's shape). */
static void accumulate_product(float *d, const float *dy, const float *factor, size_t n)
{
#pragma omp parallel for schedule(static) if (n > LD_CPU_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        d[i] += dy[i] * factor[i];
}

/* The backward of one same-shape input: the gradient itself for add, times
 * the other input for mul; one vectorisable pass. */
static void same_shape_backward(ld_binary_op op, float *d, const float *dy, const float *other,
                                size_t n)
{
    if (op == LD_BINARY_ADD)
        axpy(d, 1.0f, dy, n);
    else
        accumulate_product(d, dy, other, n);
}

static void binary_backward(ld_binary_op op, const float *dy, const float *a, const float *b,
                            float *da, float *db, size_t outer, size_t mid, size_t inner)
{
    size_t rows = outer * mid;
    if (outer == 1 && inner == 1) {
        if (da)
            same_shape_backward(op, da, dy, b, mid);
        if (db)
            same_shape_backward(op, db, dy, a, mid);
        return;
    }
    if (da) {
#pragma omp parallel for schedule(static) if (rows * inner > LD_CPU_PARALLEL_MIN)
        for (size_t r = 0; r < rows; r++) {
            const float bv = op == LD_BINARY_ADD ? 1.0f : b[r % mid];
            const float *g = dy + r * inner;
            float *d = da + r * inner;
            for (size_t i = 0; i < inner; i++)
                d[i] += g[i] * bv;
        }
    }
    if (db) {
        /* each b element sums over outer x inner; parallel over b */
#pragma omp parallel for schedule(static) if (rows * inner > LD_CPU_PARALLEL_MIN)
        for (size_t m = 0; m < mid; m++) {
            double s = 0;
            for (size_t o = 0; o < outer; o++) {
                size_t base = (o * mid + m) * inner;
                if (op == LD_BINARY_ADD)
                    for (size_t k = 0; k < inner; k++)
                        s += dy[base + k];
                else
                    for (size_t k = 0; k < inner; k++)
                        s += (double)dy[base + k] * a[base + k];
            }
            db[m] += (float)s;
        }
    }
}

static void affine(float *y, const float *x, float alpha, float beta, size_t n)
{
#pragma omp parallel for schedule(static) if (n > LD_CPU_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        y[i] = alpha * x[i] + beta;
}

static double sum_range(const void *x, size_t lo, size_t hi)
{
    double s = 0;
    for (size_t k = lo; k < hi; k++)
        s += ((const float *)x)[k];
    return s;
}

static void reduce_axis(float *y, const float *x, float scale, size_t outer, size_t n,
                        size_t inner)
{
    if (outer * inner == 1) { /* full reduction: the same sum whatever the thread count */
        y[0] = (float)(scale * ld_cpu_chunked_sum(sum_range, x, n));
        return;
    }
#pragma omp parallel for schedule(static) if (outer * n * inner > LD_CPU_PARALLEL_MIN)
    for (size_t oi = 0; oi < outer * inner; oi++) {
        size_t o = oi / inner, i = oi % inner;
        double s = 0;
        for (size_t k = 0; k < n; k++)
            s += x[(o * n + k) * inner + i];
        y[oi] = (float)(scale * s);
    }
}

static void expand_axis(float *dx, const float *dy, float scale, size_t outer, size_t n,
                        size_t inner)
{
    /* row k of dx [o][n][inner] gets row o of dy [outer][inner] */
#pragma omp parallel for collapse(2) schedule(static) if (outer * n * inner > LD_CPU_PARALLEL_MIN)
    for (size_t o = 0; o < outer; o++)
        for (size_t k = 0; k < n; k++) {
            float *d = dx + (o * n + k) * inner;
            const float *s = dy + o * inner;
            for (size_t i = 0; i < inner; i++)
                d[i] += scale * s[i];
        }
}

static void copy_rows(float *dst, size_t dst_stride, const float *src, size_t src_stride,
                      size_t rows, size_t cols, int accumulate)
{
#pragma omp parallel for schedule(static) if (rows * cols > LD_CPU_PARALLEL_MIN)
    for (size_t r = 0; r < rows; r++) {
        float *d = dst + r * dst_stride;
        const float *s = src + r * src_stride;
        if (accumulate)
            for (size_t c = 0; c < cols; c++)
                d[c] += s[c];
        else
            memcpy(d, s, cols * sizeof *d);
    }
}

const struct ld_elementwise_kernels ld_cpu_elementwise_kernels = {
    binary_forward_any, binary_backward, affine, axpy, reduce_axis, expand_axis, copy_rows,
};
