/* latdyn side of the `between` step benchmark (bench/between_torch.py is
 * PyTorch's): the paper preset, one training step (forward, backward, Adam)
 * on a batch of patch pairs, median over --steps steps; prints the parameter
 * count and the step time as JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "engine/backend.h"
#include "timing.h"
#include "models/between.h"

int main(int argc, char **argv)
{
    int batch = 16, patch = 32, stages = 8, steps = 20, width = 0, decoder_width = 0;
    const char *preset = "paper";
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
    }
    ld_err err = {{0}};
    ld_between_config cfg;
    ld_between_model model;
    if (ld_between_preset(preset, 1, &cfg, &err))
        goto fail;
    cfg.batch = batch;
    cfg.patch = patch;
    cfg.stages = stages;
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
    int shape[4] = {batch, 1, patch, patch};
    ld_tensor *i0 = ld_tensor_heap(4, shape, 0), *i1 = ld_tensor_heap(4, shape, 0);
    ld_rng_fill_uniform(&ctx.rng, i0->data, i0->numel, 0, 1);
    for (int b = 0; b < batch * patch; b++) /* I1: I0 rolled 2 pixels along x */
        for (int x = 0; x < patch; x++)
            i1->data[b * patch + (x + 2) % patch] = i0->data[b * patch + x];
    double *times = calloc((size_t)steps, sizeof *times);
    float loss = 0;
    for (int s = 0; s < steps + 3; s++) {
        double t0 = bench_now();
        ld_ctx_reset(&ctx);
        ld_tensor *l = ld_between_loss(&ctx, &model, i0, i1, NULL);
        ld_params_zero_grad(&model.params);
        if (!l || ld_backward(&ctx, l) || ld_optim_step(&opt, &model.params, &err)) {
            snprintf(err.msg, sizeof err.msg, "%s", ctx.err.msg);
            goto fail;
        }
        loss = l->data[0];
        if (s >= 3)
            times[s - 3] = bench_now() - t0;
    }
    printf("{\"impl\": \"latdyn\", \"parameters\": %zu, \"step_s\": %.6f, \"loss\": %.6f, "
           "\"arena_peak_mb\": %.1f}\n",
           ld_params_trainable(&model.params), bench_median(times, (size_t)steps), loss,
           (double)ctx.arena.peak / (1 << 20));
    return 0;
fail:
    fprintf(stderr, "between_step: %s\n", err.msg);
    return 1;
}
