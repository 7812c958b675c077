/* The U-Net of between.md: `depth` down stages (two convs + leaky ReLU, keep
 * the skip, 2x2 max-pool), a bottleneck of two convs, `depth` up stages
 * (bilinear resize to the skip's size, conv + leaky, concat with the skip,
 * two convs + leaky) and a 1x1 head without activation. Every conv uses the
 * same odd kernel with 'same' padding. Used as the field extractor F (k5)
 * and the decoder D (k3). */
#ifndef LD_NN_UNET_H
#define LD_NN_UNET_H

#include "nn/layers.h"

#define LD_UNET_MAX_DEPTH 5

typedef struct ld_unet_config {
    int in_ch, out_ch;
    int kernel;                       /* odd */
    int depth;                        /* down/up stages, 1..LD_UNET_MAX_DEPTH */
    int widths[LD_UNET_MAX_DEPTH + 1]; /* per level, the last one the bottleneck */
    float slope;                      /* leaky ReLU slope */
} ld_unet_config;

typedef struct ld_unet {
    ld_unet_config cfg;
    ld_conv_layer down[LD_UNET_MAX_DEPTH][2];
    ld_conv_layer bottleneck[2];
    ld_conv_layer up_conv[LD_UNET_MAX_DEPTH];     /* after the resize */
    ld_conv_layer up_block[LD_UNET_MAX_DEPTH][2]; /* after the concat */
    ld_conv_layer head;
} ld_unet;

/* between.md's preset: widths 16, 32, 64 and a 128 bottleneck, slope 0.2. */
ld_unet_config ld_unet_paper_config(int in_ch, int out_ch, int kernel);
int ld_unet_create(ld_unet *net, ld_params *p, const char *name, const ld_unet_config *cfg,
                   ld_err *err);
void ld_unet_init(ld_unet *net, ld_params *p, ld_rng *rng);
/* x [N, in_ch, H, W] -> [N, out_ch, H, W]; any H, W >= 1. */
ld_tensor *ld_unet_forward(ld_ctx *ctx, ld_params *p, const ld_unet *net, ld_tensor *x);

#endif
