/* Loss functions, each returning a scalar tensor [1]: the mean squared error
 * and the negative log-likelihood of a diagonal Gaussian. */
#ifndef LD_OPS_LOSS_H
#define LD_OPS_LOSS_H

#include <stddef.h>

#include "engine/tensor.h"

/* Kernels on n elements; y and dy are single values. In the Gaussian
 * kernels mean == NULL means a zero mean and log_std == NULL the constant
 * fixed_log_std. Backward kernels ADD into the gradients they are given
 * (NULL: not wanted). The sums do not depend on the thread count. */
struct ld_loss_kernels {
    /* y = mean((a - b)^2) */
    void (*mse_forward)(float *y, const float *a, const float *b, size_t n);
    void (*mse_backward)(const float *dy, const float *a, const float *b, float *da, float *db,
                         size_t n);
    /* y = scale * sum(0.5 log(2 pi) + ls + 0.5 ((x - mean) exp(-ls))^2) */
    void (*gaussian_nll_forward)(float *y, const float *x, const float *mean,
                                 const float *log_std, float fixed_log_std, float scale,
                                 size_t n);
    void (*gaussian_nll_backward)(const float *dy, const float *x, const float *mean,
                                  const float *log_std, float fixed_log_std, float scale,
                                  float *dx, float *dmean, float *dlog_std, size_t n);
};

/* mean over all elements of (a - b)^2; a and b of the same shape. */
ld_tensor *ld_mse(ld_ctx *ctx, ld_tensor *a, ld_tensor *b);

/* scale * sum_i -log N(x_i | mean_i, exp(ls_i)^2)
 *   = scale * sum_i [0.5 log(2 pi) + ls_i + 0.5 ((x_i - mean_i) exp(-ls_i))^2]
 * with ls = log_std, or the constant fixed_log_std when log_std is NULL;
 * mean NULL is a zero mean (the N(0, I) prior with fixed_log_std 0).
 * mean and log_std, when given, have x's shape. Gradients to x, mean and
 * log_std. */
ld_tensor *ld_gaussian_nll(ld_ctx *ctx, ld_tensor *x, ld_tensor *mean, ld_tensor *log_std,
                           float fixed_log_std, float scale);

#endif
