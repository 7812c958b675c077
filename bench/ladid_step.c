/* latdyn side of the LaDID step benchmark (bench/ladid_torch.py is
 * PyTorch's, bench/compare_ladid.py runs both): the paper preset, one
 * training step (forward, backward, AdamW) on a batch of blocks of frames
 * (default 16 blocks of 60 frames of 32x32: 10 context + 50 query), median
 * over --steps steps; prints the parameter count and the step time as
 * JSON. The frames are uniform noise in [0, 1], which no model predicts:
 * the loss printed is of order 1e9 because the paper's reconstruction
 * term is a Gaussian log-likelihood with sigma_y = 1e-3, summed over a
 * block's pixels (squared errors of ~0.1 per pixel times 1 / (2 sigma_y^2)
 * times 50 x 32 x 32 pixels); PyTorch's side prints the same order. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "engine/backend.h"
#include "models/ladid.h"
#include "train_step.h"

typedef struct ladid_batch {
    ld_ladid_model *model;
    ld_tensor *x;
    const float *times;
    int blocks, queries;
} ladid_batch;

static ld_tensor *ladid_loss(ld_ctx *ctx, void *arg)
{
    ladid_batch *b = arg;
    return ld_ladid_loss(ctx, b->model, b->x, b->times, b->blocks, b->queries, NULL);
}

int main(int argc, char **argv)
{
    int batch = 16, frames = 60, size = 32, context = 10, steps = 10;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads"))
            omp_set_num_threads(atoi(argv[i + 1]));
        else if (!strcmp(argv[i], "--batch"))
            batch = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--frames"))
            frames = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--size"))
            size = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--steps"))
            steps = atoi(argv[i + 1]);
    }
    ld_err err = {{0}};
    ld_ladid_config cfg;
    ld_ladid_model model;
    if (ld_ladid_preset("paper", 1, size, &cfg, &err))
        goto fail;
    cfg.batch = batch;
    cfg.context = context;
    cfg.t_min = 0;
    cfg.t_max = 0.1 * (frames - 1);
    if (ld_ladid_create(&model, &cfg, &err))
        goto fail;
    ld_ladid_init_weights(&model, 1);
    ld_optim opt;
    if (ld_optim_init(&opt, LD_OPTIM_ADAMW, &model.params, cfg.lr, &err))
        goto fail;
    opt.weight_decay = cfg.weight_decay;
    ld_ctx ctx;
    ld_ctx_init(&ctx, ld_backend_cpu(), 1);
    ctx.training = 1;
    int shape[4] = {batch * frames, 1, size, size};
    ld_tensor *x = ld_tensor_heap(4, shape, 0);
    ld_rng_fill_uniform(&ctx.rng, x->data, x->numel, 0, 1);
    float *times = malloc((size_t)batch * frames * sizeof *times);
    for (int i = 0; i < batch * frames; i++)
        times[i] = ld_ladid_normalise_time(&cfg, 0.1 * (i % frames));
    ladid_batch b = {&model, x, times, batch, frames - context};
    if (bench_train_steps(&ctx, &model.params, &opt, ladid_loss, &b, steps, &err))
        goto fail;
    free(times);
    ld_tensor_heap_free(x);
    ld_ctx_free(&ctx);
    ld_optim_free(&opt);
    ld_ladid_free(&model);
    return 0;
fail:
    fprintf(stderr, "ladid_step: %s\n", err.msg);
    return 1;
}
