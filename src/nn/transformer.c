/* Transformer encoder layer with time-window or dot-product attention and a
 * relative time encoding: see transformer.h. */
#include "nn/transformer.h"

#include <math.h>
#include <stdio.h>

#include "ops/attention.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"

int ld_transformer_layer_create(ld_transformer_layer *l, ld_params *p, const char *name,
                                ld_attn_kind kind, int d, int heads, int hidden, ld_err *err)
{
    char full[LD_PARAM_NAME_LEN];
    *l = (ld_transformer_layer){.kind = kind, .d = d, .heads = heads, .hidden = hidden};
    if (heads < 1 || d % heads)
        return ld_errf(err, "%s: %d features do not split into %d heads", name, d, heads);
#define SUB(field) (snprintf(full, sizeof full, "%s.%s", name, field), full)
    if (kind == LD_ATTN_DOT_RELATIVE &&
        (ld_linear_layer_create(&l->q, p, SUB("q"), d, d, LD_NO_ACT, err) ||
         ld_linear_layer_create(&l->k, p, SUB("k"), d, d, LD_NO_ACT, err) ||
         ld_linear_layer_create(&l->rel, p, SUB("rel"), 1, d, LD_NO_ACT, err)))
        return -1;
    if (ld_linear_layer_create(&l->v, p, SUB("v"), d, d, LD_NO_ACT, err) ||
        ld_linear_layer_create(&l->out, p, SUB("out"), d, d, LD_NO_ACT, err) ||
        ld_layernorm_layer_create(&l->norm1, p, SUB("norm1"), d, err) ||
        ld_layernorm_layer_create(&l->norm2, p, SUB("norm2"), d, err) ||
        ld_linear_layer_create(&l->linear1, p, SUB("linear1"), d, hidden, LD_RELU, err) ||
        ld_linear_layer_create(&l->linear2, p, SUB("linear2"), hidden, d, LD_NO_ACT, err))
        return -1;
#undef SUB
    return 0;
}

void ld_transformer_layer_init(ld_params *p, const ld_transformer_layer *l, ld_rng *rng)
{
    if (l->kind == LD_ATTN_DOT_RELATIVE) {
        ld_linear_layer_init(p, &l->q, rng);
        ld_linear_layer_init(p, &l->k, rng);
        ld_linear_layer_init(p, &l->rel, rng);
    }
    ld_linear_layer_init(p, &l->v, rng);
    ld_linear_layer_init(p, &l->out, rng);
    ld_norm_layer_init(p, &l->norm1);
    ld_norm_layer_init(p, &l->norm2);
    ld_linear_layer_init(p, &l->linear1, rng);
    ld_linear_layer_init(p, &l->linear2, rng);
}

/* Head h's columns of x [B, T, d] (x itself for one head). */
static ld_tensor *head_part(ld_ctx *ctx, ld_tensor *x, int h, int heads)
{
    if (heads == 1 || !x)
        return x;
    int dh = x->shape[2] / heads;
    return ld_slice(ctx, x, 2, h * dh, dh);
}

/* Dot-product attention with the relative time term, head by head. */
static ld_tensor *dot_relative(ld_ctx *ctx, ld_params *p, const ld_transformer_layer *l,
                               ld_tensor *x, ld_tensor *relative)
{
    ld_tensor *q = ld_linear_layer_forward(ctx, p, &l->q, x);
    ld_tensor *k = ld_linear_layer_forward(ctx, p, &l->k, x);
    ld_tensor *v = ld_linear_layer_forward(ctx, p, &l->v, x);
    if (!q || !k || !v || !relative)
        return NULL;
    int B = x->shape[0], T = x->shape[1], H = l->heads, dh = l->d / H;
    float scale = 1.0f / sqrtf((float)dh);
    ld_tensor *heads[64];
    if (H > 64)
        return ld_fail(ctx, "attention: at most 64 heads");
    ld_tensor *wr = ld_param(p, l->rel.weight), *br = ld_param(p, l->rel.bias);
    for (int h = 0; h < H; h++) {
        ld_tensor *scores = ld_matmul(ctx, head_part(ctx, q, h, H), head_part(ctx, k, h, H), 0, 1);
        ld_tensor *probs = ld_softmax(ctx, ld_scale(ctx, scores, scale, 0.0f));
        ld_tensor *o = ld_matmul(ctx, probs, head_part(ctx, v, h, H), 0, 0);
        int s_shape[3] = {B, T, 1};
        ld_tensor *s = ld_sum_axis(ctx, ld_mul(ctx, probs, relative), 2);
        s = s ? ld_reshape(ctx, s, 3, s_shape) : NULL;
        ld_tensor *w = H == 1 ? wr : ld_slice(ctx, wr, 0, h * dh, dh);
        ld_tensor *b = H == 1 ? br : ld_slice(ctx, br, 0, h * dh, dh);
        heads[h] = ld_add(ctx, o, ld_linear(ctx, s, w, b, LD_NO_ACT));
    }
    return H == 1 ? heads[0] : ld_concat(ctx, heads, H, 2);
}

ld_tensor *ld_transformer_layer_forward(ld_ctx *ctx, ld_params *p, const ld_transformer_layer *l,
                                        ld_tensor *x, const ld_token_times *times)
{
    ld_tensor *a;
    if (l->kind == LD_ATTN_TIME_WINDOW)
        a = ld_attention(ctx, NULL, NULL, ld_linear_layer_forward(ctx, p, &l->v, x), l->heads,
                         times->window_bias, 1.0f);
    else
        a = dot_relative(ctx, p, l, x, times->relative);
    a = ld_linear_layer_forward(ctx, p, &l->out, a);
    x = ld_norm_layer_forward(ctx, p, &l->norm1, ld_add(ctx, x, a));
    ld_tensor *f = ld_linear_layer_forward(ctx, p, &l->linear2,
                                           ld_linear_layer_forward(ctx, p, &l->linear1, x));
    return ld_norm_layer_forward(ctx, p, &l->norm2, ld_add(ctx, x, f));
}

void ld_time_window_bias(float *out, const float *times, int batch, int T, float delta_r,
                         float eps, float power)
{
    double log_eps = log((double)eps);
    for (int b = 0; b < batch; b++)
        for (int i = 0; i < T; i++)
            for (int j = 0; j < T; j++) {
                double r = fabs((double)times[b * T + i] - times[b * T + j]) / delta_r;
                double v = log_eps * pow(r, (double)power);
                out[((size_t)b * T + i) * T + j] = (float)(v < -1e9 ? -1e9 : v);
            }
}

void ld_relative_times(float *out, const float *times, int batch, int T, float clip)
{
    for (int b = 0; b < batch; b++)
        for (int i = 0; i < T; i++)
            for (int j = 0; j < T; j++) {
                float r = times[b * T + j] - times[b * T + i];
                out[((size_t)b * T + i) * T + j] = r > clip ? clip : r < -clip ? -clip : r;
            }
}

int ld_token_times_make(ld_ctx *ctx, const float *times, int batch, int T, float delta_r,
                        float eps, float power, float clip, ld_token_times *out)
{
    int wshape[4] = {batch, 1, T, T}, rshape[3] = {batch, T, T};
    out->window_bias = ld_tensor_new(ctx, 4, wshape);
    out->relative = ld_tensor_new(ctx, 3, rshape);
    if (!out->window_bias || !out->relative)
        return -1;
    ld_time_window_bias(out->window_bias->data, times, batch, T, delta_r, eps, power);
    ld_relative_times(out->relative->data, times, batch, T, clip);
    return 0;
}
