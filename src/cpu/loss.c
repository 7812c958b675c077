/* CPU kernels (OpenMP) of the loss family: see ops/loss.h. Sums are taken
 * in double over fixed chunks and the chunk sums added in order, so the
 * result does not depend on the thread count. */
#include <math.h>

#include "cpu/cpu.h"
#include "ops/loss.h"

#define SUM_MAX_CHUNKS 256
#define SUM_MIN_CHUNK 4096

double ld_cpu_chunked_sum(ld_cpu_range_sum_fn range_sum, const void *args, size_t n)
{
    size_t chunk = (n + SUM_MAX_CHUNKS - 1) / SUM_MAX_CHUNKS;
    if (chunk < SUM_MIN_CHUNK)
        chunk = SUM_MIN_CHUNK;
    size_t chunks = (n + chunk - 1) / chunk;
    double partial[SUM_MAX_CHUNKS];
#pragma omp parallel for schedule(static) if (chunks > 1)
    for (size_t k = 0; k < chunks; k++) {
        size_t hi = (k + 1) * chunk < n ? (k + 1) * chunk : n;
        partial[k] = range_sum(args, k * chunk, hi);
    }
    double s = 0;
    for (size_t k = 0; k < chunks; k++)
        s += partial[k];
    return s;
}

/* ---- mean squared error -------------------------------------------------- */

typedef struct mse_args {
    const float *a, *b;
} mse_args;

static double mse_range(const void *args, size_t lo, size_t hi)
{
    const mse_args *m = args;
    double s = 0;
    for (size_t i = lo; i < hi; i++) {
        double d = (double)m->a[i] - m->b[i];
        s += d * d;
    }
    return s;
}

static void mse_forward(float *y, const float *a, const float *b, size_t n)
{
    mse_args args = {a, b};
    y[0] = (float)(ld_cpu_chunked_sum(mse_range, &args, n) / (double)n);
}

static void mse_backward(const float *dy, const float *a, const float *b, float *da, float *db,
                         size_t n)
{
    float k = 2.0f * dy[0] / (float)n;
#pragma omp parallel for schedule(static) if (n > LD_CPU_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        float g = k * (a[i] - b[i]);
        if (da)
            da[i] += g;
        if (db)
            db[i] -= g;
    }
}

/* ---- Gaussian negative log-likelihood -------------------------------------- */

typedef struct nll_args {
    const float *x, *mean, *log_std; /* mean, log_std may be NULL */
    float fixed_log_std;
} nll_args;

static float nll_log_std(const nll_args *a, size_t i)
{
    return a->log_std ? a->log_std[i] : a->fixed_log_std;
}

/* (x - mean) / std at element i, given its log std. */
static float nll_residual(const nll_args *a, size_t i, float log_std)
{
    return (a->x[i] - (a->mean ? a->mean[i] : 0.0f)) * expf(-log_std);
}

/* sum of ls + 0.5 r^2 (the constant is added once by the caller) */
static double nll_range(const void *args, size_t lo, size_t hi)
{
    const nll_args *a = args;
    double s = 0;
    for (size_t i = lo; i < hi; i++) {
        float ls = nll_log_std(a, i);
        double r = nll_residual(a, i, ls);
        s += ls + 0.5 * r * r;
    }
    return s;
}

static void gaussian_nll_forward(float *y, const float *x, const float *mean,
                                 const float *log_std, float fixed_log_std, float scale, size_t n)
{
    nll_args args = {x, mean, log_std, fixed_log_std};
    double half_log_2pi = 0.5 * log(2.0 * M_PI);
    y[0] = (float)(scale * (ld_cpu_chunked_sum(nll_range, &args, n) + (double)n * half_log_2pi));
}

static void gaussian_nll_backward(const float *dy, const float *x, const float *mean,
                                  const float *log_std, float fixed_log_std, float scale,
                                  float *dx, float *dmean, float *dlog_std, size_t n)
{
    nll_args args = {x, mean, log_std, fixed_log_std};
    float g = dy[0] * scale;
#pragma omp parallel for schedule(static) if (n > LD_CPU_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        float ls = nll_log_std(&args, i);
        float r = nll_residual(&args, i, ls);
        float d_x = g * r * expf(-ls);
        if (dx)
            dx[i] += d_x;
        if (dmean)
            dmean[i] -= d_x;
        if (dlog_std)
            dlog_std[i] += g * (1.0f - r * r);
    }
}

const struct ld_loss_kernels ld_cpu_loss_kernels = {
    mse_forward,
    mse_backward,
    gaussian_nll_forward,
    gaussian_nll_backward,
};
