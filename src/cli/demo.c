/* `latdyn demo`: the main job on built-in data until a model replaces it. A
 * U-Net auto-encoder (between.md's decoder architecture, k3) learns to
 * reproduce random 32x32 crops of a generated texture; the loss going down
 * is printed, the model is checkpointed, and training resumes from it. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <omp.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "data/metrics.h"
#include "data/pattern.h"
#include "engine/backend.h"
#include "engine/checkpoint.h"
#include "engine/optim.h"
#include "engine/schedule.h"
#include "nn/unet.h"
#include "ops/loss.h"

#define DEMO_IMAGE 64
#define DEMO_PATCH 32
#define DEMO_BATCH 16

typedef struct demo_args {
    int steps, threads, quiet;
    uint64_t seed;
    const char *out_dir, *resume;
} demo_args;

static void demo_usage(FILE *out)
{
    fprintf(out,
            "usage: latdyn demo [options]\n\n"
            "Trains a U-Net auto-encoder (widths 16-32-64, 128 bottleneck, 3x3 kernels) on\n"
            "random %dx%d crops of a generated %dx%d texture, batch %d, Adam lr 1e-3 decayed\n"
            "x0.9 every 100 steps, printing the loss as it goes down. Writes\n"
            "OUT/model.safetensors (resumable).\n\n"
            "options:\n"
            "  --steps N      training steps in all (default 300)\n"
            "  --seed S       random seed (default 1)\n"
            "  --threads T    OpenMP threads (default: OMP_NUM_THREADS)\n"
            "  -o, --out DIR  output folder (default latdyn-demo)\n"
            "  --resume CKPT  continue from a checkpoint written by this command\n"
            "  --quiet        no progress output\n",
            DEMO_PATCH, DEMO_PATCH, DEMO_IMAGE, DEMO_IMAGE, DEMO_BATCH);
}

static int parse_demo_args(int argc, char **argv, demo_args *a, ld_err *err)
{
    *a = (demo_args){.steps = 300, .seed = 1, .out_dir = "latdyn-demo"};
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val;
        if (!strcmp(opt, "--quiet")) {
            a->quiet = 1;
            continue;
        }
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h"))
            return 1;
        if (!(val = ld_option_value(argc, argv, &i, err)))
            return -1;
        if (!strcmp(opt, "--steps")) {
            if (ld_parse_int(opt, val, 1, 100000000, &a->steps, err))
                return -1;
        } else if (!strcmp(opt, "--seed")) {
            if (ld_parse_u64(opt, val, &a->seed, err))
                return -1;
        } else if (!strcmp(opt, "--threads")) {
            if (ld_parse_int(opt, val, 1, 4096, &a->threads, err))
                return -1;
        } else if (!strcmp(opt, "-o") || !strcmp(opt, "--out")) {
            a->out_dir = val;
        } else if (!strcmp(opt, "--resume")) {
            a->resume = val;
        } else {
            return ld_errf(err, "unknown option '%s' (latdyn demo --help)", opt);
        }
    }
    return 0;
}

/* Copies DEMO_BATCH random crops of the texture into x [B, 1, P, P]. */
static void random_crops(ld_rng *rng, const float *image, float *x)
{
    for (int b = 0; b < DEMO_BATCH; b++) {
        int oy = (int)ld_rng_below(rng, DEMO_IMAGE - DEMO_PATCH + 1);
        int ox = (int)ld_rng_below(rng, DEMO_IMAGE - DEMO_PATCH + 1);
        for (int y = 0; y < DEMO_PATCH; y++)
            memcpy(x + ((size_t)b * DEMO_PATCH + y) * DEMO_PATCH,
                   image + (size_t)(oy + y) * DEMO_IMAGE + ox, DEMO_PATCH * sizeof(float));
    }
}

int ld_cmd_demo(int argc, char **argv)
{
    demo_args a;
    ld_err err = {{0}};
    int rc = parse_demo_args(argc, argv, &a, &err);
    if (rc) {
        if (rc > 0) {
            demo_usage(stdout);
            return 0;
        }
        fprintf(stderr, "latdyn demo: %s\n", err.msg);
        return 2;
    }
    if (a.threads)
        omp_set_num_threads(a.threads);
    if (mkdir(a.out_dir, 0777) && !ld_dir_exists(a.out_dir)) {
        fprintf(stderr, "latdyn demo: cannot create %s\n", a.out_dir);
        return 1;
    }

    static float image[DEMO_IMAGE * DEMO_IMAGE];
    ld_pattern_texture(image, DEMO_IMAGE, DEMO_IMAGE, 2024);

    ld_params params;
    ld_unet net;
    ld_ctx ctx;
    ld_optim opt = {0};
    ld_schedule sched;
    ld_config config;
    int64_t step = 0;
    ld_params_init(&params);
    ld_config_init(&config);
    ld_ctx_init(&ctx, ld_backend_cpu(), a.seed);
    ld_unet_config cfg = ld_unet_paper_config(1, 1, 3);
    int status = 1;
    if (ld_unet_create(&net, &params, "unet", &cfg, &err) ||
        ld_params_finalize(&params, &err) ||
        ld_optim_init(&opt, LD_OPTIM_ADAM, &params, 1e-3, &err) ||
        ld_schedule_exponential(&sched, 1e-3, 0.9, 100, &err) ||
        ld_config_set(&config, "model", "demo-unet-autoencoder", &err))
        goto done;
    ld_unet_init(&net, &params, &ctx.rng);
    if (a.resume && ld_checkpoint_load(a.resume, &params, &opt, &step, &ctx.rng, &sched, NULL,
                                       &err))
        goto done;
    if (!a.quiet)
        fprintf(stderr, "demo: U-Net auto-encoder, %zu parameters, %d threads, steps %lld..%d\n",
                ld_params_trainable(&params), omp_get_max_threads(), (long long)step, a.steps);

    ld_progress progress;
    ld_progress_start(&progress, step, a.steps, a.quiet);
    int shape[4] = {DEMO_BATCH, 1, DEMO_PATCH, DEMO_PATCH};
    for (; step < a.steps; step++) {
        ld_ctx_reset(&ctx);
        ld_tensor *x = ld_tensor_new(&ctx, 4, shape);
        if (!x)
            break;
        random_crops(&ctx.rng, image, x->data);
        ld_tensor *loss = ld_mse(&ctx, ld_unet_forward(&ctx, &params, &net, x), x);
        ld_params_zero_grad(&params);
        if (ld_backward(&ctx, loss))
            break;
        opt.lr = ld_schedule_lr(&sched, opt.step);
        if (ld_optim_step(&opt, &params, &err))
            goto done;
        ld_progress_update(&progress, step + 1, "loss %.5f  lr %.2e", loss->data[0], opt.lr);
    }
    if (ctx.failed) {
        snprintf(err.msg, sizeof err.msg, "%s", ctx.err.msg);
        goto done;
    }

    /* the whole texture through the trained network */
    ld_ctx_reset(&ctx);
    ctx.recording = 0;
    int full[4] = {1, 1, DEMO_IMAGE, DEMO_IMAGE};
    ld_tensor *x = ld_tensor_wrap(&ctx, image, 4, full);
    ld_tensor *mse = ld_mse(&ctx, ld_unet_forward(&ctx, &params, &net, x), x);
    if (!mse) {
        snprintf(err.msg, sizeof err.msg, "%s", ctx.err.msg);
        goto done;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/model.safetensors", a.out_dir);
    if (ld_checkpoint_save(path, &params, &opt, step, &ctx.rng, &sched, &config, &err))
        goto done;
    printf("demo: %lld steps; reconstruction of the whole %dx%d texture: MSE %.3g "
           "(PSNR %.1f dB); model written to %s\n",
           (long long)step, DEMO_IMAGE, DEMO_IMAGE, mse->data[0], ld_psnr_from_mse(mse->data[0]),
           path);
    status = 0;
done:
    if (status)
        fprintf(stderr, "latdyn demo: %s\n", err.msg[0] ? err.msg : ctx.err.msg);
    ld_optim_free(&opt);
    ld_config_free(&config);
    ld_params_free(&params);
    ld_ctx_free(&ctx);
    return status;
}
