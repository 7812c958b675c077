/* CPU kernels of the linear-algebra family (see ops/linalg.h): every OpenBLAS
 * call of the project, plus the OpenMP bias and activation passes around the
 * matrix products of ld_linear. */
#include <cblas.h>
#include <math.h>
#include <omp.h>

#include "cpu/blas.h"
#include "cpu/cpu.h"
#include "ops/linalg.h"

/* Below this many multiply-adds a product is too small for BLAS's own
 * threads to pay off, so a batch of them is split across threads instead. */
#define SMALL_GEMM_WORK ((size_t)1 << 18)

/* Columns summed together by one thread in bias_backward. */
#define BIAS_COLUMN_BLOCK 64

void ld_cpu_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                  const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                  size_t ldc)
{
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (blasint)m, (blasint)n, (blasint)k, alpha, a,
                (blasint)lda, b, (blasint)ldb, beta, c, (blasint)ldc);
}

int ld_cpu_split_batch(size_t batch, size_t m, size_t n, size_t k)
{
    size_t work = m * n * k;
    if (batch < 2 || omp_in_parallel() || batch * work < LD_CPU_PARALLEL_MIN)
        return 0;
    return work < SMALL_GEMM_WORK || batch >= (size_t)omp_get_max_threads();
}

void ld_cpu_for_each_product(size_t batch, size_t m, size_t n, size_t k,
                             void (*product)(const void *ctx, size_t i), const void *ctx)
{
    if (ld_cpu_split_batch(batch, m, n, k)) {
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < batch; i++)
            product(ctx, i);
    } else {
        for (size_t i = 0; i < batch; i++)
            product(ctx, i);
    }
}

static void gemm_one(const void *ctx, size_t i)
{
    const ld_gemm *g = ctx;
    ld_cpu_sgemm(g->trans_a, g->trans_b, g->m, g->n, g->k, g->alpha, g->a + i * g->stride_a,
                 g->lda, g->b + i * g->stride_b, g->ldb, g->beta, g->c + i * g->stride_c, g->ldc);
}

static void gemm(const ld_gemm *g)
{
    ld_cpu_for_each_product(g->batch, g->m, g->n, g->k, gemm_one, g);
}

static float activate(float z, ld_activation act)
{
    switch (act.kind) {
    case LD_ACT_RELU:
        return z > 0.0f ? z : 0.0f;
    case LD_ACT_LEAKY_RELU:
        return z > 0.0f ? z : act.slope * z;
    case LD_ACT_SIGMOID:
        return 1.0f / (1.0f + expf(-z));
    case LD_ACT_TANH:
        return tanhf(z);
    case LD_ACT_NONE:
        break;
    }
    return z;
}

/* The activation's derivative at the input that produced output y. */
static float activation_slope(float y, ld_activation act)
{
    switch (act.kind) {
    case LD_ACT_RELU:
        return y > 0.0f ? 1.0f : 0.0f;
    case LD_ACT_LEAKY_RELU:
        return y > 0.0f ? 1.0f : act.slope;
    case LD_ACT_SIGMOID:
        return y * (1.0f - y);
    case LD_ACT_TANH:
        return 1.0f - y * y;
    case LD_ACT_NONE:
        break;
    }
    return 1.0f;
}

/* ReLU, leaky ReLU and no activation are all z > 0 ? z : s * z (s = 0, the
 * slope, 1): such activations run in branch-free loops the compiler
 * vectorises. Returns 0 for the curved ones, with s untouched. */
static int negative_slope(ld_activation act, float *s)
{
    switch (act.kind) {
    case LD_ACT_NONE:
        *s = 1.0f;
        return 1;
    case LD_ACT_RELU:
        *s = 0.0f;
        return 1;
    case LD_ACT_LEAKY_RELU:
        *s = act.slope;
        return 1;
    case LD_ACT_SIGMOID:
    case LD_ACT_TANH:
        break;
    }
    return 0;
}

static void bias_act_forward(float *y, const float *bias, size_t rows, size_t cols,
                             ld_activation act)
{
    float s = 1.0f;
    int piecewise = negative_slope(act, &s);
#pragma omp parallel for schedule(static) if (rows * cols > LD_CPU_PARALLEL_MIN)
    for (size_t r = 0; r < rows; r++) {
        float *row = y + r * cols;
        if (bias)
            for (size_t c = 0; c < cols; c++)
                row[c] += bias[c];
        if (piecewise)
            for (size_t c = 0; c < cols; c++)
                row[c] = row[c] > 0.0f ? row[c] : s * row[c];
        else
            for (size_t c = 0; c < cols; c++)
                row[c] = activate(row[c], act);
    }
}

static void act_backward(float *dz, const float *dy, const float *y, size_t n, ld_activation act)
{
    float s = 1.0f;
    int piecewise = negative_slope(act, &s);
    if (piecewise) {
#pragma omp parallel for schedule(static) if (n > LD_CPU_PARALLEL_MIN)
        for (size_t i = 0; i < n; i++)
            dz[i] = y[i] > 0.0f ? dy[i] : s * dy[i];
    } else {
#pragma omp parallel for schedule(static) if (n > LD_CPU_PARALLEL_MIN)
        for (size_t i = 0; i < n; i++)
            dz[i] = dy[i] * activation_slope(y[i], act);
    }
}

static void bias_backward(float *db, const float *dz, size_t rows, size_t cols)
{
    /* each thread sums a block of columns, reading rows contiguously */
#pragma omp parallel for schedule(static) if (rows * cols > LD_CPU_PARALLEL_MIN)
    for (size_t c0 = 0; c0 < cols; c0 += BIAS_COLUMN_BLOCK) {
        size_t width = cols - c0 < BIAS_COLUMN_BLOCK ? cols - c0 : BIAS_COLUMN_BLOCK;
        double sums[BIAS_COLUMN_BLOCK] = {0};
        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < width; c++)
                sums[c] += dz[r * cols + c0 + c];
        for (size_t c = 0; c < width; c++)
            db[c0 + c] += (float)sums[c];
    }
}

const struct ld_linalg_kernels ld_cpu_linalg_kernels = {
    gemm, bias_act_forward, act_backward, bias_backward,
};
