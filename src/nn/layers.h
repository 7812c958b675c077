/* Building blocks of networks: a layer registers its named parameters in an
 * ld_params registry when created and runs its op(s) in forward. Weights are
 * initialised like PyTorch's defaults (uniform in +-1/sqrt(fan_in) for both
 * weights and biases), from a seeded RNG. */
#ifndef LD_NN_LAYERS_H
#define LD_NN_LAYERS_H

#include "engine/params.h"
#include "ops/act.h"

typedef struct ld_conv_layer {
    int weight, bias; /* parameter indices */
    int in_ch, out_ch, kernel, stride, pad;
    int transposed;   /* a transposed convolution (weight [in, out, k, k]) */
    ld_activation act;
} ld_conv_layer;

typedef struct ld_linear_layer {
    int weight, bias;
    int in_features, out_features;
    ld_activation act;
} ld_linear_layer;

/* 'same' padding (k/2) for odd kernels; stride 1 or 2. */
int ld_conv_layer_create(ld_conv_layer *l, ld_params *p, const char *name, int in_ch, int out_ch,
                         int kernel, int stride, ld_activation act, ld_err *err);
/* Transposed convolution, kernel k, stride k, no padding (upsampling by k). */
int ld_conv_transpose_layer_create(ld_conv_layer *l, ld_params *p, const char *name, int in_ch,
                                   int out_ch, int kernel, ld_activation act, ld_err *err);
ld_tensor *ld_conv_layer_forward(ld_ctx *ctx, ld_params *p, const ld_conv_layer *l,
                                 ld_tensor *x);
/* The same with the output in layout `block` (ld_tensor.block). */
ld_tensor *ld_conv_layer_forward_to(ld_ctx *ctx, ld_params *p, const ld_conv_layer *l,
                                    ld_tensor *x, int block);

int ld_linear_layer_create(ld_linear_layer *l, ld_params *p, const char *name, int in_features,
                           int out_features, ld_activation act, ld_err *err);
ld_tensor *ld_linear_layer_forward(ld_ctx *ctx, ld_params *p, const ld_linear_layer *l,
                                   ld_tensor *x);

/* Normalisation layers: gamma and beta [features] (trainable, initialised
 * to 1 and 0), and for batch norm the running mean and variance
 * (non-trainable, 0 and 1), registered as NAME.weight, NAME.bias,
 * NAME.running_mean, NAME.running_var (PyTorch's names). */
typedef struct ld_norm_layer {
    int weight, bias, running_mean, running_var; /* running_*: -1 for layer norm */
    int features;
    float eps, momentum;
} ld_norm_layer;

/* nn.BatchNorm1d/2d(features) and nn.LayerNorm(features) defaults (eps 1e-5,
 * momentum 0.1). */
int ld_batchnorm_layer_create(ld_norm_layer *l, ld_params *p, const char *name, int features,
                              ld_err *err);
int ld_layernorm_layer_create(ld_norm_layer *l, ld_params *p, const char *name, int features,
                              ld_err *err);
/* Batch norm over x [N, features, ...] (training statistics when
 * ctx->training) or layer norm over the last axis, as created. */
ld_tensor *ld_norm_layer_forward(ld_ctx *ctx, ld_params *p, const ld_norm_layer *l,
                                 ld_tensor *x);
void ld_norm_layer_init(ld_params *p, const ld_norm_layer *l);

/* Initial values (after ld_params_finalize): weight and bias uniform in
 * +-1/sqrt(fan_in), fan_in = in_ch * k * k (convs: PyTorch's fan_in of the
 * weight tensor, which for a transposed conv is out_ch * k * k) or
 * in_features. */
void ld_conv_layer_init(ld_params *p, const ld_conv_layer *l, ld_rng *rng);
void ld_linear_layer_init(ld_params *p, const ld_linear_layer *l, ld_rng *rng);

#endif
