/* Element-wise ops and reductions: add and mul (with broadcasting of the
 * second operand), scale (alpha * x + beta), sum and mean (over everything or
 * one axis), concat and split along an axis.
 *
 * Broadcasting: b broadcasts against a when, aligned to the right, b's
 * dimensions that are not 1 form one contiguous run of a's dimensions
 * (a [B,C,H,W] + b [C,1,1]; a [B,T,D] + b [D]; a [B,D] + b [B,1]). */
#ifndef LD_OPS_ELEMENTWISE_H
#define LD_OPS_ELEMENTWISE_H

#include <stddef.h>

#include "engine/tensor.h"

typedef enum { LD_BINARY_ADD, LD_BINARY_MUL } ld_binary_op;

/* Kernels; a and y are [outer, mid, inner], b is [mid]. Backward kernels
 * ADD into the gradients they are given (NULL: not wanted). */
struct ld_elementwise_kernels {
    void (*binary_forward)(ld_binary_op op, float *y, const float *a, const float *b,
                           size_t outer, size_t mid, size_t inner);
    void (*binary_backward)(ld_binary_op op, const float *dy, const float *a, const float *b,
                            float *da, float *db, size_t outer, size_t mid, size_t inner);
    /* y = alpha * x + beta */
    void (*affine)(float *y, const float *x, float alpha, float beta, size_t n);
    /* y += alpha * x */
    void (*axpy)(float *y, float alpha, const float *x, size_t n);
    /* y[o, i] = scale * sum_k x[o, k, i], x is [outer, n, inner] */
    void (*reduce_axis)(float *y, const float *x, float scale, size_t outer, size_t n,
                        size_t inner);
    /* dx[o, k, i] += scale * dy[o, i] */
    void (*expand_axis)(float *dx, const float *dy, float scale, size_t outer, size_t n,
                        size_t inner);
    /* rows x cols block copy between row strides; adds when accumulate */
    void (*copy_rows)(float *dst, size_t dst_stride, const float *src, size_t src_stride,
                      size_t rows, size_t cols, int accumulate);
};

ld_tensor *ld_add(ld_ctx *ctx, ld_tensor *a, ld_tensor *b);
ld_tensor *ld_mul(ld_ctx *ctx, ld_tensor *a, ld_tensor *b);
/* alpha * x + beta */
ld_tensor *ld_scale(ld_ctx *ctx, ld_tensor *x, float alpha, float beta);
/* a - b (same shape or broadcast b): add(a, scale(b, -1)) as one op */
ld_tensor *ld_sub(ld_ctx *ctx, ld_tensor *a, ld_tensor *b);
/* Scalars ([1]). */
ld_tensor *ld_sum(ld_ctx *ctx, ld_tensor *x);
ld_tensor *ld_mean(ld_ctx *ctx, ld_tensor *x);
/* Reduce one axis away (negative axis counts from the end). */
ld_tensor *ld_sum_axis(ld_ctx *ctx, ld_tensor *x, int axis);
ld_tensor *ld_mean_axis(ld_ctx *ctx, ld_tensor *x, int axis);
/* Concatenation of n tensors along axis; all other dimensions equal. All
 * in one layout; channel-blocked ones (ld_tensor.block) along axis 0 or 1. */
ld_tensor *ld_concat(ld_ctx *ctx, ld_tensor *const *xs, int n, int axis);
/* Slice [start, start + len) of axis. */
ld_tensor *ld_slice(ld_ctx *ctx, ld_tensor *x, int axis, int start, int len);
/* Splits axis into n parts of the given sizes (summing to the axis). */
int ld_split(ld_ctx *ctx, ld_tensor *x, int axis, int n, const int *sizes, ld_tensor **outs);

#endif
