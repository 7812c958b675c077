/* U-Net forward and construction: see unet.h. */
#include "nn/unet.h"

#include <stdio.h>

#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/pool.h"
#include "ops/resize.h"

ld_unet_config ld_unet_paper_config(int in_ch, int out_ch, int kernel)
{
    return (ld_unet_config){.in_ch = in_ch, .out_ch = out_ch, .kernel = kernel, .depth = 3,
                            .widths = {16, 32, 64, 128}, .slope = 0.2f};
}

/* Registers one conv with 'same' padding and the U-Net's activation. */
static int unet_conv(ld_conv_layer *l, ld_params *p, const char *name, const char *part, int in,
                     int out, int kernel, ld_activation act, ld_err *err)
{
    char full[LD_PARAM_NAME_LEN];
    snprintf(full, sizeof full, "%s.%s", name, part);
    return ld_conv_layer_create(l, p, full, in, out, kernel, 1, act, err);
}

int ld_unet_create(ld_unet *net, ld_params *p, const char *name, const ld_unet_config *cfg,
                   ld_err *err)
{
    if (cfg->depth < 1 || cfg->depth > LD_UNET_MAX_DEPTH || cfg->kernel % 2 == 0)
        return ld_errf(err, "U-Net '%s': depth %d (1..%d) or kernel %d (odd) invalid", name,
                       cfg->depth, LD_UNET_MAX_DEPTH, cfg->kernel);
    net->cfg = *cfg;
    ld_activation leaky = LD_LEAKY(cfg->slope);
    char part[32];
    int k = cfg->kernel, in = cfg->in_ch;
    for (int d = 0; d < cfg->depth; d++) {
        int w = cfg->widths[d];
        snprintf(part, sizeof part, "down%d.conv0", d);
        if (unet_conv(&net->down[d][0], p, name, part, in, w, k, leaky, err))
            return -1;
        snprintf(part, sizeof part, "down%d.conv1", d);
        if (unet_conv(&net->down[d][1], p, name, part, w, w, k, leaky, err))
            return -1;
        in = w;
    }
    int wb = cfg->widths[cfg->depth];
    if (unet_conv(&net->bottleneck[0], p, name, "bottleneck.conv0", in, wb, k, leaky, err) ||
        unet_conv(&net->bottleneck[1], p, name, "bottleneck.conv1", wb, wb, k, leaky, err))
        return -1;
    in = wb;
    for (int d = cfg->depth - 1; d >= 0; d--) {
        int w = cfg->widths[d];
        snprintf(part, sizeof part, "up%d.conv", d);
        if (unet_conv(&net->up_conv[d], p, name, part, in, w, k, leaky, err))
            return -1;
        snprintf(part, sizeof part, "up%d.conv0", d);
        if (unet_conv(&net->up_block[d][0], p, name, part, 2 * w, w, k, leaky, err))
            return -1;
        snprintf(part, sizeof part, "up%d.conv1", d);
        if (unet_conv(&net->up_block[d][1], p, name, part, w, w, k, leaky, err))
            return -1;
        in = w;
    }
    return unet_conv(&net->head, p, name, "head", in, cfg->out_ch, 1, LD_NO_ACT, err);
}

void ld_unet_init(ld_unet *net, ld_params *p, ld_rng *rng)
{
    for (int d = 0; d < net->cfg.depth; d++) {
        ld_conv_layer_init(p, &net->down[d][0], rng);
        ld_conv_layer_init(p, &net->down[d][1], rng);
        ld_conv_layer_init(p, &net->up_conv[d], rng);
        ld_conv_layer_init(p, &net->up_block[d][0], rng);
        ld_conv_layer_init(p, &net->up_block[d][1], rng);
    }
    ld_conv_layer_init(p, &net->bottleneck[0], rng);
    ld_conv_layer_init(p, &net->bottleneck[1], rng);
    ld_conv_layer_init(p, &net->head, rng);
}

ld_tensor *ld_unet_forward(ld_ctx *ctx, ld_params *p, const ld_unet *net, ld_tensor *x)
{
    ld_tensor *skips[LD_UNET_MAX_DEPTH];
    /* activations stay in the convolutions' layout from the first
     * convolution to the head (when the widths allow) */
    int depth = net->cfg.depth, block = ld_conv_block_for(ctx, depth + 1, net->cfg.widths);
    for (int d = 0; d < depth; d++) {
        x = ld_conv_layer_forward_to(ctx, p, &net->down[d][0], x, block);
        x = ld_conv_layer_forward_to(ctx, p, &net->down[d][1], x, block);
        skips[d] = x;
        if (!x)
            return NULL;
        if (x->shape[2] < 2 || x->shape[3] < 2)
            return ld_fail(ctx, "U-Net: a %dx%d map cannot be pooled at level %d (input too "
                                "small for depth %d)", x->shape[2], x->shape[3], d, depth);
        x = ld_maxpool2d(ctx, x, 2, 2);
    }
    x = ld_conv_layer_forward_to(ctx, p, &net->bottleneck[0], x, block);
    x = ld_conv_layer_forward_to(ctx, p, &net->bottleneck[1], x, block);
    for (int d = depth - 1; d >= 0; d--) {
        if (!x)
            return NULL;
        /* resize to the skip's size: x2 for even sizes, exact for odd ones */
        x = ld_resize(ctx, x, skips[d]->shape[2], skips[d]->shape[3], LD_RESIZE_BILINEAR);
        x = ld_conv_layer_forward_to(ctx, p, &net->up_conv[d], x, block);
        ld_tensor *pair[2] = {x, skips[d]};
        x = ld_concat(ctx, pair, 2, 1);
        x = ld_conv_layer_forward_to(ctx, p, &net->up_block[d][0], x, block);
        x = ld_conv_layer_forward_to(ctx, p, &net->up_block[d][1], x, block);
    }
    /* the head reads NCHW: a decoder's, to 1-3 channels, runs the CPU's
     * direct kernel, which takes NCHW only */
    return ld_conv_layer_forward(ctx, p, &net->head, ld_to_block(ctx, x, 0));
}
