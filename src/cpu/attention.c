/* CPU kernels of the attention family (see ops/attention.h): row softmax and
 * multi-head attention, OpenMP over (batch, head) pairs with one strided
 * single-threaded sgemm per product when the products are small, BLAS's own
 * threads otherwise. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "cpu/blas.h"
#include "cpu/cpu.h"
#include "ops/attention.h"

/* exp(x) for x <= 0 in straight-line arithmetic that the compiler
 * vectorises (libm's expf is a call per value): x = k ln2 + r with k
 * rounded to nearest by the 1.5 * 2^23 trick and |r| <= ln2 / 2, exp(r) by
 * Cephes' polynomial (relative error below 1e-7 on [-87, 0]), 2^k put into the
 * exponent bits. Below -87 (and at -inf) it returns 0. */
static inline float exp_nonpositive(float x)
{
    const float round = 12582912.0f; /* 1.5 * 2^23 */
    float xc = x < -87.0f ? -87.0f : x;
    float k = (xc * 1.44269504088896341f + round) - round;
    float r = xc - k * 0.693359375f + k * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    int32_t bits = ((int32_t)k + 127) * (1 << 23);
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return x < -87.0f ? 0.0f : p * scale;
}

/* y = softmax(x) over n values (y may be x); zeros when all are -inf. */
static void softmax_row(float *y, const float *x, size_t n)
{
    float top = -INFINITY;
    for (size_t j = 0; j < n; j++)
        top = x[j] > top ? x[j] : top;
    if (top == -INFINITY) {
        memset(y, 0, n * sizeof *y);
        return;
    }
    for (size_t j = 0; j < n; j++)
        y[j] = exp_nonpositive(x[j] - top);
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (size_t j = 0; j < n; j++)
        sum += y[j];
    float inv = 1.0f / sum;
    for (size_t j = 0; j < n; j++)
        y[j] *= inv;
}

/* dx = y * (dy - sum(dy * y)) over n values, added into dx when accumulate
 * (dx may be dy when not). */
static void softmax_row_backward(float *dx, const float *dy, const float *y, size_t n,
                                 int accumulate)
{
    float dot = 0.0f;
#pragma omp simd reduction(+ : dot)
    for (size_t j = 0; j < n; j++)
        dot += dy[j] * y[j];
    for (size_t j = 0; j < n; j++) {
        float g = y[j] * (dy[j] - dot);
        dx[j] = accumulate ? dx[j] + g : g;
    }
}

static void softmax_forward(float *y, const float *x, size_t rows, size_t cols)
{
#pragma omp parallel for schedule(static) if (rows * cols > LD_CPU_PARALLEL_MIN)
    for (size_t r = 0; r < rows; r++)
        softmax_row(y + r * cols, x + r * cols, cols);
}

static void softmax_backward(float *dx, const float *dy, const float *y, size_t rows,
                             size_t cols)
{
#pragma omp parallel for schedule(static) if (rows * cols > LD_CPU_PARALLEL_MIN)
    for (size_t r = 0; r < rows; r++)
        softmax_row_backward(dx + r * cols, dy + r * cols, y + r * cols, cols, 1);
}

/* Offsets of one (batch, head) pair inside q/out ([B, Tq, E]), k/v
 * ([B, Tk, E]), the [B, heads, Tq, Tk] stacks and the bias. */
typedef struct pair_offsets {
    size_t query, key, scores, bias;
} pair_offsets;

static pair_offsets pair_at(const ld_attention_dims *d, size_t pair)
{
    size_t b = pair / d->heads, h = pair % d->heads, e = d->heads * d->head_dim;
    return (pair_offsets){
        .query = b * d->tq * e + h * d->head_dim,
        .key = b * d->tk * e + h * d->head_dim,
        .scores = pair * d->tq * d->tk,
        .bias = b * d->bias_batch_stride + h * d->bias_head_stride,
    };
}

/* The arguments of one attention_forward / attention_backward call, handed
 * to the per-(batch, head) bodies below. */
typedef struct attention_call {
    const ld_attention_dims *d;
    const float *q, *k, *v, *bias, *probs, *dout;
    float *scores, *out, *dscores;
    const ld_attention_grads *g;
} attention_call;

static void for_each_pair(const attention_call *a, void (*body)(const void *ctx, size_t pair))
{
    const ld_attention_dims *d = a->d;
    ld_cpu_for_each_product(d->batch * d->heads, d->tq, d->tk, d->head_dim, body, a);
}

static void forward_pair(const void *ctx, size_t pair)
{
    const attention_call *a = ctx;
    const ld_attention_dims *d = a->d;
    size_t e = d->heads * d->head_dim;
    pair_offsets at = pair_at(d, pair);
    float *p = a->scores + at.scores;
    if (a->q)
        ld_cpu_sgemm(0, 1, d->tq, d->tk, d->head_dim, d->scale, a->q + at.query, e,
                     a->k + at.key, e, 0.0f, p, d->tk);
    for (size_t i = 0; i < d->tq; i++) {
        float *row = p + i * d->tk;
        const float *bias_row = a->bias ? a->bias + at.bias + i * d->tk : NULL;
        for (size_t j = 0; bias_row && j < d->tk; j++)
            row[j] = a->q ? row[j] + bias_row[j] : bias_row[j];
        softmax_row(row, row, d->tk);
    }
    ld_cpu_sgemm(0, 0, d->tq, d->head_dim, d->tk, 1.0f, p, d->tk, a->v + at.key, e, 0.0f,
                 a->out + at.query, e);
}

static void attention_forward(const ld_attention_dims *d, const float *q, const float *k,
                              const float *v, const float *bias, float *probs, float *out)
{
    attention_call a = {.d = d, .q = q, .k = k, .v = v, .bias = bias, .scores = probs,
                        .out = out};
    for_each_pair(&a, forward_pair);
}

/* dbias += the score gradients summed over the dimensions the bias
 * broadcasts along. The bias is contiguous, so its element idx is
 * (bias batch, bias head, i, j) with a stride-0 dimension counted as 1. */
static void reduce_bias_grad(const ld_attention_dims *d, const float *dscores, float *dbias)
{
    size_t plane = d->tq * d->tk;
    size_t bias_batches = d->bias_batch_stride ? d->batch : 1;
    size_t bias_heads = d->bias_head_stride ? d->heads : 1;
    size_t total = bias_batches * bias_heads * plane;
    size_t summed = d->batch * d->heads / (bias_batches * bias_heads);
#pragma omp parallel for schedule(static) if (total * summed > LD_CPU_PARALLEL_MIN)
    for (size_t idx = 0; idx < total; idx++) {
        size_t slice = idx / plane, within = idx % plane;
        size_t bb = slice / bias_heads, hb = slice % bias_heads;
        double sum = 0.0;
        for (size_t b = 0; b < d->batch; b++) {
            if (d->bias_batch_stride && b != bb)
                continue;
            for (size_t h = 0; h < d->heads; h++)
                if (!d->bias_head_stride || h == hb)
                    sum += dscores[(b * d->heads + h) * plane + within];
        }
        dbias[idx] += (float)sum;
    }
}

static void backward_pair(const void *ctx, size_t pair)
{
    const attention_call *a = ctx;
    const ld_attention_dims *d = a->d;
    const ld_attention_grads *g = a->g;
    size_t e = d->heads * d->head_dim;
    pair_offsets at = pair_at(d, pair);
    const float *p = a->probs + at.scores;
    float *ds = a->dscores + at.scores;
    if (g->dq || g->dk || g->dbias) { /* ds = softmax backward of dP = dout_h v_h^T */
        ld_cpu_sgemm(0, 1, d->tq, d->tk, d->head_dim, 1.0f, a->dout + at.query, e,
                     a->v + at.key, e, 0.0f, ds, d->tk);
        for (size_t i = 0; i < d->tq; i++)
            softmax_row_backward(ds + i * d->tk, ds + i * d->tk, p + i * d->tk, d->tk, 0);
    }
    if (g->dq) /* dq_h = scale * ds k_h */
        ld_cpu_sgemm(0, 0, d->tq, d->head_dim, d->tk, d->scale, ds, d->tk, a->k + at.key, e,
                     g->accumulate_q ? 1.0f : 0.0f, g->dq + at.query, e);
    if (g->dk) /* dk_h = scale * ds^T q_h */
        ld_cpu_sgemm(1, 0, d->tk, d->head_dim, d->tq, d->scale, ds, d->tk, a->q + at.query, e,
                     g->accumulate_k ? 1.0f : 0.0f, g->dk + at.key, e);
    if (g->dv) /* dv_h = p^T dout_h */
        ld_cpu_sgemm(1, 0, d->tk, d->head_dim, d->tq, 1.0f, p, d->tk, a->dout + at.query, e,
                     g->accumulate_v ? 1.0f : 0.0f, g->dv + at.key, e);
}

static void attention_backward(const ld_attention_dims *d, const float *q, const float *k,
                               const float *v, const float *probs, const float *dout,
                               float *dscores, const ld_attention_grads *g)
{
    attention_call a = {.d = d, .q = q, .k = k, .v = v, .probs = probs, .dout = dout,
                        .dscores = dscores, .g = g};
    for_each_pair(&a, backward_pair);
    if (g->dbias)
        reduce_bias_grad(d, dscores, g->dbias);
}

const struct ld_attention_kernels ld_cpu_attention_kernels = {
    softmax_forward, softmax_backward, attention_forward, attention_backward,
};
