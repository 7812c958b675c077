/* Ops whose output is random: the reparameterised Gaussian sample and
 * dropout. The noise is drawn inside the op from ctx->rng (so a seed fixes
 * it whatever the thread count) and kept on the tape for the backward. */
#ifndef LD_OPS_RANDOM_H
#define LD_OPS_RANDOM_H

#include <stddef.h>

#include "engine/tensor.h"

/* Kernels on n elements. Backward kernels ADD into the gradients they are
 * given (NULL: not wanted). */
struct ld_random_kernels {
    /* y = mean + exp(log_std) * eps */
    void (*normal_forward)(float *y, const float *mean, const float *log_std, const float *eps,
                           size_t n);
    void (*normal_backward)(const float *dy, const float *log_std, const float *eps,
                            float *dmean, float *dlog_std, size_t n);
    /* In place: uniforms u in [0, 1) become the dropout mask,
     * u >= p ? 1 / (1 - p) : 0. */
    void (*dropout_mask)(float *mask, float p, size_t n);
    /* y = x * mask, or y += x * mask when accumulate. */
    void (*apply_mask)(float *y, const float *x, const float *mask, size_t n, int accumulate);
};

/* mean + exp(log_std) * eps with eps ~ N(0, 1) (same shape); gradients to
 * mean and log_std. When ctx->training is 0 the result is `mean` itself. */
ld_tensor *ld_sample_normal(ld_ctx *ctx, ld_tensor *mean, ld_tensor *log_std);

/* Inverted dropout: each element kept with probability 1 - p and scaled by
 * 1 / (1 - p), p in [0, 1). The result is x itself when ctx->training is 0
 * or p is 0. */
ld_tensor *ld_dropout(ld_ctx *ctx, ld_tensor *x, float p);

#endif
