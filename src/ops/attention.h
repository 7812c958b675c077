/* Softmax over the last axis and multi-head scaled dot-product attention as
 * one coarse op (PyTorch semantics).
 *
 * Attention: q [B, Tq, E], k and v [B, Tk, E], E = heads * Dh; head h uses
 * columns h*Dh .. (h+1)*Dh - 1 of q, k and v (no permutes needed), and
 *     out[:, :, head h] = softmax_j(scale * q_h k_h^T + bias) v_h.
 * The softmax probabilities [B, heads, Tq, Tk] are kept for the backward. */
#ifndef LD_OPS_ATTENTION_H
#define LD_OPS_ATTENTION_H

#include <stddef.h>

#include "engine/tensor.h"

/* Sizes of one attention call. The bias (when given) is a stack of
 * [Tq, Tk] matrices: the one for (batch b, head h) starts at
 * b * bias_batch_stride + h * bias_head_stride; a stride of 0 broadcasts. */
typedef struct ld_attention_dims {
    size_t batch, heads, tq, tk, head_dim;
    size_t bias_batch_stride, bias_head_stride;
    float scale;
} ld_attention_dims;

/* Gradient buffers of one attention backward (NULL: not wanted). dq, dk and
 * dv are overwritten where their accumulate flag is 0 and added into
 * otherwise, in the order dq, dk, dv (so one buffer may serve two of them
 * when q, k or v are the same tensor); dbias is always added into and has
 * the bias's own (broadcast) shape. */
typedef struct ld_attention_grads {
    float *dq, *dk, *dv, *dbias;
    int accumulate_q, accumulate_k, accumulate_v;
} ld_attention_grads;

struct ld_attention_kernels {
    /* y = softmax of each row of x [rows, cols] (y may be x) */
    void (*softmax_forward)(float *y, const float *x, size_t rows, size_t cols);
    /* dx += y * (dy - sum(dy * y)) per row, y the softmax output */
    void (*softmax_backward)(float *dx, const float *dy, const float *y, size_t rows,
                             size_t cols);
    /* probs [B, heads, Tq, Tk] = softmax(scale * q_h k_h^T + bias) (just
     * softmax(bias) when q and k are NULL); out [B, Tq, E] = probs v_h */
    void (*attention_forward)(const ld_attention_dims *d, const float *q, const float *k,
                              const float *v, const float *bias, float *probs, float *out);
    /* dscores: scratch of probs' size (receives the gradient of the scores) */
    void (*attention_backward)(const ld_attention_dims *d, const float *q, const float *k,
                               const float *v, const float *probs, const float *dout,
                               float *dscores, const ld_attention_grads *g);
};

/* Softmax over the last axis (numerically stable). A row that is all -inf
 * gives zeros rather than NaN. */
ld_tensor *ld_softmax(ld_ctx *ctx, ld_tensor *x);

/* Multi-head attention as described above. bias is NULL or broadcasts to
 * [B, heads, Tq, Tk]: shape [Tq, Tk], [B, 1, Tq, Tk], [1, heads, Tq, Tk] or
 * [B, heads, Tq, Tk]. With q = k = NULL the weights are softmax(bias) alone
 * (attention that depends on time only; Tq then comes from the bias, which
 * is required). Gradients reach q, k, v and bias. */
ld_tensor *ld_attention(ld_ctx *ctx, ld_tensor *q, ld_tensor *k, ld_tensor *v, int heads,
                        ld_tensor *bias, float scale);

#endif
