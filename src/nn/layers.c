/* Convolution, linear and normalisation layers: see layers.h. */
#include "nn/layers.h"

#include <math.h>
#include <stdio.h>

#include "ops/conv.h"
#include "ops/linalg.h"
#include "ops/norm.h"

static int add_weight_bias(ld_params *p, const char *name, int ndim, const int *wshape,
                           int nbias, int *weight, int *bias, ld_err *err)
{
    char full[LD_PARAM_NAME_LEN];
    snprintf(full, sizeof full, "%s.weight", name);
    *weight = ld_params_add(p, full, ndim, wshape, 1, err);
    snprintf(full, sizeof full, "%s.bias", name);
    *bias = *weight < 0 ? -1 : ld_params_add(p, full, 1, &nbias, 1, err);
    return *bias < 0 ? -1 : 0;
}

int ld_conv_layer_create(ld_conv_layer *l, ld_params *p, const char *name, int in_ch, int out_ch,
                         int kernel, int stride, ld_activation act, ld_err *err)
{
    int wshape[4] = {out_ch, in_ch, kernel, kernel};
    *l = (ld_conv_layer){.in_ch = in_ch, .out_ch = out_ch, .kernel = kernel, .stride = stride,
                         .pad = kernel / 2, .act = act};
    if (kernel % 2 == 0)
        l->pad = 0; /* even kernels (k2 s2) tile the input without padding */
    return add_weight_bias(p, name, 4, wshape, out_ch, &l->weight, &l->bias, err);
}

int ld_conv_transpose_layer_create(ld_conv_layer *l, ld_params *p, const char *name, int in_ch,
                                   int out_ch, int kernel, ld_activation act, ld_err *err)
{
    int wshape[4] = {in_ch, out_ch, kernel, kernel};
    *l = (ld_conv_layer){.in_ch = in_ch, .out_ch = out_ch, .kernel = kernel, .stride = kernel,
                         .pad = 0, .transposed = 1, .act = act};
    return add_weight_bias(p, name, 4, wshape, out_ch, &l->weight, &l->bias, err);
}

ld_tensor *ld_conv_layer_forward(ld_ctx *ctx, ld_params *p, const ld_conv_layer *l, ld_tensor *x)
{
    return ld_conv_layer_forward_to(ctx, p, l, x, 0);
}

ld_tensor *ld_conv_layer_forward_to(ld_ctx *ctx, ld_params *p, const ld_conv_layer *l,
                                    ld_tensor *x, int block)
{
    ld_conv_opts opts = {.stride = l->stride, .pad = l->pad, .act = l->act, .block = block};
    if (l->transposed)
        return ld_conv_transpose2d(ctx, x, ld_param(p, l->weight), ld_param(p, l->bias), opts);
    return ld_conv2d(ctx, x, ld_param(p, l->weight), ld_param(p, l->bias), opts);
}

int ld_linear_layer_create(ld_linear_layer *l, ld_params *p, const char *name, int in_features,
                           int out_features, ld_activation act, ld_err *err)
{
    int wshape[2] = {out_features, in_features};
    *l = (ld_linear_layer){.in_features = in_features, .out_features = out_features, .act = act};
    return add_weight_bias(p, name, 2, wshape, out_features, &l->weight, &l->bias, err);
}

ld_tensor *ld_linear_layer_forward(ld_ctx *ctx, ld_params *p, const ld_linear_layer *l,
                                   ld_tensor *x)
{
    return ld_linear(ctx, x, ld_param(p, l->weight), ld_param(p, l->bias), l->act);
}

static void init_uniform_fan_in(ld_params *p, int weight, int bias, int fan_in, ld_rng *rng)
{
    float bound = 1.0f / sqrtf((float)fan_in);
    ld_tensor *w = ld_param(p, weight), *b = ld_param(p, bias);
    ld_rng_fill_uniform(rng, w->data, w->numel, -bound, bound);
    ld_rng_fill_uniform(rng, b->data, b->numel, -bound, bound);
}

void ld_conv_layer_init(ld_params *p, const ld_conv_layer *l, ld_rng *rng)
{
    int fan_in = (l->transposed ? l->out_ch : l->in_ch) * l->kernel * l->kernel;
    init_uniform_fan_in(p, l->weight, l->bias, fan_in, rng);
}

void ld_linear_layer_init(ld_params *p, const ld_linear_layer *l, ld_rng *rng)
{
    init_uniform_fan_in(p, l->weight, l->bias, l->in_features, rng);
}

static int norm_layer_create(ld_norm_layer *l, ld_params *p, const char *name, int features,
                             int running, ld_err *err)
{
    char full[LD_PARAM_NAME_LEN];
    *l = (ld_norm_layer){.running_mean = -1, .running_var = -1, .features = features,
                         .eps = 1e-5f, .momentum = 0.1f};
    if (add_weight_bias(p, name, 1, &features, features, &l->weight, &l->bias, err))
        return -1;
    if (!running)
        return 0;
    snprintf(full, sizeof full, "%s.running_mean", name);
    l->running_mean = ld_params_add(p, full, 1, &features, 0, err);
    snprintf(full, sizeof full, "%s.running_var", name);
    l->running_var = l->running_mean < 0 ? -1 : ld_params_add(p, full, 1, &features, 0, err);
    return l->running_var < 0 ? -1 : 0;
}

int ld_batchnorm_layer_create(ld_norm_layer *l, ld_params *p, const char *name, int features,
                              ld_err *err)
{
    return norm_layer_create(l, p, name, features, 1, err);
}

int ld_layernorm_layer_create(ld_norm_layer *l, ld_params *p, const char *name, int features,
                              ld_err *err)
{
    return norm_layer_create(l, p, name, features, 0, err);
}

ld_tensor *ld_norm_layer_forward(ld_ctx *ctx, ld_params *p, const ld_norm_layer *l,
                                 ld_tensor *x)
{
    if (l->running_mean < 0)
        return ld_layernorm(ctx, x, ld_param(p, l->weight), ld_param(p, l->bias), l->eps);
    return ld_batchnorm(ctx, x, ld_param(p, l->weight), ld_param(p, l->bias),
                        ld_param(p, l->running_mean), ld_param(p, l->running_var), l->momentum,
                        l->eps);
}

static void fill(ld_params *p, int index, float value)
{
    ld_tensor *t = ld_param(p, index);
    for (size_t i = 0; i < t->numel; i++)
        t->data[i] = value;
}

void ld_norm_layer_init(ld_params *p, const ld_norm_layer *l)
{
    fill(p, l->weight, 1.0f);
    fill(p, l->bias, 0.0f);
    if (l->running_mean >= 0) {
        fill(p, l->running_mean, 0.0f);
        fill(p, l->running_var, 1.0f);
    }
}
