/* CPU kernels (OpenMP) of the random family: see ops/random.h. The noise
 * itself comes from the op (engine/rng.h); these are element-wise. */
#include <math.h>

#include "cpu/cpu.h"
#include "ops/random.h"

static void normal_forward(float *y, const float *mean, const float *log_std, const float *eps,
                           size_t n)
{
#pragma omp parallel for schedule(static) if (n > LD_CPU_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        y[i] = mean[i] + expf(log_std[i]) * eps[i];
}

static void normal_backward(const float *dy, const float *log_std, const float *eps,
                            float *dmean, float *dlog_std, size_t n)
{
#pragma omp parallel for schedule(static) if (n > LD_CPU_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++) {
        if (dmean)
            dmean[i] += dy[i];
        if (dlog_std)
            dlog_std[i] += dy[i] * eps[i] * expf(log_std[i]);
    }
}

static void dropout_mask(float *mask, float p, size_t n)
{
    float keep_scale = 1.0f / (1.0f - p);
#pragma omp parallel for schedule(static) if (n > LD_CPU_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        mask[i] = mask[i] >= p ? keep_scale : 0.0f;
}

static void apply_mask(float *y, const float *x, const float *mask, size_t n, int accumulate)
{
#pragma omp parallel for schedule(static) if (n > LD_CPU_PARALLEL_MIN)
    for (size_t i = 0; i < n; i++)
        y[i] = (accumulate ? y[i] : 0.0f) + x[i] * mask[i];
}

const struct ld_random_kernels ld_cpu_random_kernels = {
    normal_forward,
    normal_backward,
    dropout_mask,
    apply_mask,
};
