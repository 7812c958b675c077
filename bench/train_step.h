/* The timed training step of the model step benchmarks (between_step,
 * ladid_step): forward, backward and optimiser step, BENCH_WARMUP steps
 * first, then the median over `steps`, printed as the JSON line that
 * bench/compare_*.py read. */
#ifndef LD_BENCH_TRAIN_STEP_H
#define LD_BENCH_TRAIN_STEP_H

#include <stdio.h>
#include <stdlib.h>

#include "engine/optim.h"
#include "engine/params.h"
#include "engine/tensor.h"
#include "timing.h"

#define BENCH_WARMUP 3

/* The model's loss on the benchmark's batch, recorded on ctx's tape. */
typedef ld_tensor *(*bench_loss_fn)(ld_ctx *ctx, void *model);

static inline int bench_train_steps(ld_ctx *ctx, ld_params *params, ld_optim *opt,
                                    bench_loss_fn loss_of, void *model, int steps, ld_err *err)
{
    if (steps < 1)
        return ld_errf(err, "--steps %d: at least one timed step", steps);
    double *times = calloc((size_t)steps, sizeof *times);
    if (!times)
        return ld_errf(err, "out of memory for %d timings", steps);
    float loss = 0;
    for (int s = 0; s < steps + BENCH_WARMUP; s++) {
        double t0 = bench_now();
        ld_ctx_reset(ctx);
        ld_tensor *l = loss_of(ctx, model);
        ld_params_zero_grad(params);
        if (!l || ld_backward(ctx, l)) {
            free(times);
            return ld_errf(err, "%s", ctx->err.msg);
        }
        if (ld_optim_step(opt, params, err)) {
            free(times);
            return -1;
        }
        loss = l->data[0];
        if (s >= BENCH_WARMUP)
            times[s - BENCH_WARMUP] = bench_now() - t0;
    }
    printf("{\"impl\": \"latdyn\", \"parameters\": %zu, \"step_s\": %.6f, \"loss\": %.6g, "
           "\"arena_peak_mb\": %.1f}\n",
           ld_params_trainable(params), bench_median(times, (size_t)steps), loss,
           (double)ctx->arena.peak / (1 << 20));
    free(times);
    return 0;
}

#endif
