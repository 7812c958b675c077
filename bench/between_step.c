/* latdyn side of the `between` step benchmark (bench/between_torch.py is
 * PyTorch's): the paper preset, one training step (forward, backward, Adam)
 * on a batch of patch pairs, median over --steps steps; prints the parameter
 * count and the step time as JSON. --precision bf16: the convolutions'
 * products in bfloat16 (between --precision); --mask-outside no|all|image
 * over the preset's (between --mask-outside), to time the mask. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "engine/backend.h"
#include "models/between.h"
#include "train_step.h"

typedef struct between_batch {
    ld_between_model *model;
    ld_tensor *i0, *i1;
} between_batch;

static ld_tensor *between_loss(ld_ctx *ctx, void *arg)
{
    between_batch *b = arg;
    return ld_between_loss(ctx, b->model, b->i0, b->i1, NULL);
}

int main(int argc, char **argv)
{
    int batch = 16, patch = 32, stages = 8, steps = 20, width = 0, decoder_width = 0;
    const char *preset = "paper";
    ld_precision precision = LD_PRECISION_F32;
    static const char *const mask_modes[] = {"no", "all", "image"}; /* ld_mask_outside */
    int mask_outside = -1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads"))
            omp_set_num_threads(atoi(argv[i + 1]));
        else if (!strcmp(argv[i], "--batch"))
            batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--patch"))
            patch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--stages"))
            stages = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps"))
            steps = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--preset"))
            preset = argv[i + 1];
        else if (!strcmp(argv[i], "--width"))
            width = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--decoder-width"))
            decoder_width = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--mask-outside")) {
            mask_outside = -1; /* the last one given counts */
            for (int k = 0; k < 3; k++)
                if (!strcmp(argv[i + 1], mask_modes[k]))
                    mask_outside = k;
            if (mask_outside < 0) {
                fprintf(stderr, "between_step: --mask-outside takes no, all or image\n");
                return 1;
            }
        } else if (!strcmp(argv[i], "--precision") && !strcmp(argv[i + 1], "bf16"))
            precision = LD_PRECISION_BF16;
        else if (strcmp(argv[i], "--precision") || strcmp(argv[i + 1], "f32")) {
            fprintf(stderr, "between_step: unknown option %s %s\n", argv[i], argv[i + 1]);
            return 1;
        }
    }
    ld_err err = {{0}};
    ld_between_config cfg;
    ld_between_model model;
    if (ld_between_preset(preset, 1, &cfg, &err))
        goto fail;
    cfg.batch = batch;
    cfg.patch = patch;
    cfg.stages = stages;
    if (mask_outside >= 0)
        cfg.mask_outside = mask_outside;
    if (width > 0) /* the U-Nets' widths, as latdyn between's options */
        ld_between_widths(cfg.unet_widths, width);
    if (decoder_width > 0)
        ld_between_widths(cfg.decoder_widths, decoder_width);
    if (ld_between_create(&model, &cfg, &err))
        goto fail;
    ld_between_init_weights(&model, 1);
    ld_optim opt;
    if (ld_optim_init(&opt, LD_OPTIM_ADAM, &model.params, 1e-3, &err))
        goto fail;
    ld_ctx ctx;
    ld_ctx_init(&ctx, ld_backend_cpu(), 1);
    ctx.conv_precision = precision;
    int shape[4] = {batch, 1, patch, patch};
    ld_tensor *i0 = ld_tensor_heap(4, shape, 0), *i1 = ld_tensor_heap(4, shape, 0);
    ld_rng_fill_uniform(&ctx.rng, i0->data, i0->numel, 0, 1);
    for (int b = 0; b < batch * patch; b++) /* I1: I0 rolled 2 pixels along x */
        for (int x = 0; x < patch; x++)
            i1->data[b * patch + (x + 2) % patch] = i0->data[b * patch + x];
    between_batch b = {&model, i0, i1};
    if (bench_train_steps(&ctx, &model.params, &opt, between_loss, &b, steps, &err))
        goto fail;
    return 0;
fail:
    fprintf(stderr, "between_step: %s\n", err.msg);
    return 1;
}
