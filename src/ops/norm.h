/* Normalisation ops, PyTorch semantics: batch norm (nn.BatchNorm1d/2d) and
 * layer norm over the last dimension (nn.LayerNorm(D)). */
#ifndef LD_OPS_NORM_H
#define LD_OPS_NORM_H

#include <stddef.h>

#include "engine/tensor.h"

/* Batch-norm problem: x viewed as [n, c, spatial]. */
typedef struct ld_batchnorm_shape {
    int n, c;
    size_t spatial;
    float eps;
} ld_batchnorm_shape;

/* Kernels; return 0, or -1 when the backend fails. Backward kernels
 * OVERWRITE dx, dgamma and dbeta (all three required). */
struct ld_norm_kernels {
    /* Training: normalises with the batch statistics, written to mean and
     * var (biased variance), and moves the running statistics towards them:
     * r = (1 - momentum) r + momentum b, running_var taking the unbiased
     * batch variance. */
    int (*batchnorm_train_forward)(float *y, float *mean, float *var, float *running_mean,
                                   float *running_var, const float *x, const float *gamma,
                                   const float *beta, float momentum,
                                   const ld_batchnorm_shape *s);
    /* Evaluation: normalises with the given (running) statistics. */
    int (*batchnorm_eval_forward)(float *y, const float *x, const float *gamma,
                                  const float *beta, const float *mean, const float *var,
                                  const ld_batchnorm_shape *s);
    /* mean/var: the statistics the forward used; global_stats: they were
     * the running ones (constants), else the batch's own. */
    int (*batchnorm_backward)(float *dx, float *dgamma, float *dbeta, const float *dy,
                              const float *x, const float *gamma, const float *mean,
                              const float *var, int global_stats, const ld_batchnorm_shape *s);
    /* x [rows, d]; mean/var [rows] are written when not NULL (kept for the
     * backward). */
    int (*layernorm_forward)(float *y, float *mean, float *var, const float *x,
                             const float *gamma, const float *beta, size_t rows, int d,
                             float eps);
    int (*layernorm_backward)(float *dx, float *dgamma, float *dbeta, const float *dy,
                              const float *x, const float *gamma, const float *mean,
                              const float *var, size_t rows, int d, float eps);
};

/* x [N, C, ...] (e.g. [N, C, H, W] or [N, C]); gamma, beta, running_mean,
 * running_var [C]. ctx->training: normalises with the batch statistics
 * (biased variance) and updates running_mean/var in place (running_var with
 * the unbiased variance; momentum 0.1 is PyTorch's default); needs more than
 * one value per channel. Otherwise normalises with the running statistics.
 * Gradients to x, gamma and beta in both modes; the running statistics are
 * state, never differentiated. */
ld_tensor *ld_batchnorm(ld_ctx *ctx, ld_tensor *x, ld_tensor *gamma, ld_tensor *beta,
                        ld_tensor *running_mean, ld_tensor *running_var, float momentum,
                        float eps);

/* Normalises x [..., D] over its last dimension, then * gamma + beta
 * (gamma, beta [D]). Gradients to all three. */
ld_tensor *ld_layernorm(ld_ctx *ctx, ld_tensor *x, ld_tensor *gamma, ld_tensor *beta, float eps);

#endif
