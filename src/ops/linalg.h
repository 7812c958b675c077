/* Linear algebra ops: the fully connected layer (matrix product with bias and
 * a fused activation) and the batched matrix product, PyTorch semantics.
 *
 * Matrices are row-major. The kernels are one (batched) general matrix
 * product and the bias + activation passes around it. */
#ifndef LD_OPS_LINALG_H
#define LD_OPS_LINALG_H

#include <stddef.h>

#include "engine/tensor.h"
#include "ops/act.h"

/* C_i = alpha * op(A_i) op(B_i) + beta * C_i for i < batch, row-major;
 * op(A_i) is m x k (A_i stored k x m when trans_a), op(B_i) is k x n
 * (B_i stored n x k when trans_b), C_i is m x n; matrix i starts at
 * a + i * stride_a (likewise b, c); lda/ldb/ldc are the row strides. */
typedef struct ld_gemm {
    int trans_a, trans_b;
    size_t m, n, k;
    float alpha, beta;
    const float *a;
    size_t lda, stride_a;
    const float *b;
    size_t ldb, stride_b;
    float *c;
    size_t ldc, stride_c;
    size_t batch;
} ld_gemm;

/* Kernels. gemm follows its beta; the others say what they do. */
struct ld_linalg_kernels {
    void (*gemm)(const ld_gemm *g);
    /* y[r, c] = act(y[r, c] + bias[c]) in place; bias may be NULL */
    void (*bias_act_forward)(float *y, const float *bias, size_t rows, size_t cols,
                             ld_activation act);
    /* dz = dy * act'(.) computed from the activation's output y (overwrites dz) */
    void (*act_backward)(float *dz, const float *dy, const float *y, size_t n,
                         ld_activation act);
    /* db[c] += sum_r dz[r, c] */
    void (*bias_backward)(float *db, const float *dz, size_t rows, size_t cols);
};

/* y = act(x w^T + b): x [..., in] (leading dimensions flattened to rows),
 * w [out, in] (PyTorch layout), b [out] or NULL; y [..., out]. Every
 * activation kind is supported; leaky ReLU needs slope >= 0 (its gradient is
 * taken from the output's sign). Gradients reach x, w and b. */
ld_tensor *ld_linear(ld_ctx *ctx, ld_tensor *x, ld_tensor *w, ld_tensor *b, ld_activation act);

/* op(a) op(b) over the last two axes, op = transpose when trans_*:
 * a [B..., M, K] (or [B..., K, M] when trans_a), b [B..., K, N] (or
 * [B..., N, K] when trans_b), y [B..., M, N]. a and b have the same batch
 * dimensions (none for 2-D). Gradients reach a and b. */
ld_tensor *ld_matmul(ld_ctx *ctx, ld_tensor *a, ld_tensor *b, int trans_a, int trans_b);

#endif
