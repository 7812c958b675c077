/* Post-norm transformer encoder layer over time-stamped tokens x [B, T, d]
 * (ladid.md, model step 2):
 *     a = attention(x) (+ output projection),  x = LN1(x + a),
 *     x = LN2(x + W2 relu(W1 x + b1) + b2)
 * with one of two attentions:
 *   time window   weights depend on the token times only:
 *                 softmax_j(log(eps) (|t_i - t_j| / delta_r)^p) (the bias
 *                 from ld_time_window_bias), applied to W_v x;
 *   dot relative  scaled dot-product attention per head plus a learned
 *                 relative time encoding: head h's output at token i gets
 *                 W_r,h (sum_j p_ij r_ij) + b_r,h, with r_ij the clipped
 *                 signed t_j - t_i (ld_relative_times): the weighted average
 *                 of a linear map of r_ij over the attended tokens (Shaw et
 *                 al. 2018's relative encoding of the values, for a scalar
 *                 time difference).
 * Parameter names follow PyTorch's nn.TransformerEncoderLayer where they
 * correspond (NAME.q/k/v/out, NAME.rel, NAME.norm1/2, NAME.linear1/2). */
#ifndef LD_NN_TRANSFORMER_H
#define LD_NN_TRANSFORMER_H

#include "nn/layers.h"

typedef enum { LD_ATTN_TIME_WINDOW, LD_ATTN_DOT_RELATIVE } ld_attn_kind;

typedef struct ld_transformer_layer {
    ld_attn_kind kind;
    int d, heads, hidden;
    ld_linear_layer q, k, v, out, rel; /* q, k, rel: dot relative only */
    ld_norm_layer norm1, norm2;
    ld_linear_layer linear1, linear2;
} ld_transformer_layer;

/* The time inputs of the layers for a batch: window_bias [B, 1, T, T]
 * (time-window layers) and relative [B, T, T] (dot-relative layers), both
 * without gradient. */
typedef struct ld_token_times {
    ld_tensor *window_bias, *relative;
} ld_token_times;

/* d divisible by heads; hidden is the MLP width. */
int ld_transformer_layer_create(ld_transformer_layer *l, ld_params *p, const char *name,
                                ld_attn_kind kind, int d, int heads, int hidden, ld_err *err);
void ld_transformer_layer_init(ld_params *p, const ld_transformer_layer *l, ld_rng *rng);
ld_tensor *ld_transformer_layer_forward(ld_ctx *ctx, ld_params *p, const ld_transformer_layer *l,
                                        ld_tensor *x, const ld_token_times *times);

/* out[b, i, j] = log(eps) * (|t_i - t_j| / delta_r)^power for times
 * [batch, T] (computed in double, floored at -1e9 so that a far token gets
 * a weight of exactly 0 and never NaN). */
void ld_time_window_bias(float *out, const float *times, int batch, int T, float delta_r,
                         float eps, float power);
/* out[b, i, j] = clamp(t_j - t_i, -clip, clip). */
void ld_relative_times(float *out, const float *times, int batch, int T, float clip);
/* Both tensors for the layers, in ctx's arena. */
int ld_token_times_make(ld_ctx *ctx, const float *times, int batch, int T, float delta_r,
                        float eps, float power, float clip, ld_token_times *out);

#endif
