/* latdyn side of the per-op benchmark (bench/ops_torch.py is PyTorch's):
 * times forward + backward of each op family on the shapes of between.md's
 * paper preset, the same cases and names as bench/ops_cases.py, and prints
 * one JSON object per case: {"case": ..., "ms": median ms per forward +
 * backward}. Threads from OMP_NUM_THREADS or --threads. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <omp.h>

#include "engine/backend.h"
#include "timing.h"
#include "ops/act.h"
#include "ops/advect.h"
#include "ops/attention.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "ops/loss.h"
#include "ops/norm.h"
#include "ops/pool.h"
#include "ops/resize.h"

#define MAX_INPUTS 4

typedef struct bench_case {
    const char *name;
    ld_tensor *(*forward)(ld_ctx *ctx, ld_tensor **in, const struct bench_case *c);
    int n_inputs;
    int shapes[MAX_INPUTS][5]; /* ndim, dims... */
    int p[4];                  /* case parameters (kernel, stride, heads, ...) */
} bench_case;

static ld_tensor *f_conv(ld_ctx *c, ld_tensor **in, const bench_case *b)
{
    ld_conv_opts o = {.stride = b->p[1], .pad = b->p[0] / 2, .act = LD_LEAKY(0.2f)};
    return ld_conv2d(c, in[0], in[1], in[2], o);
}
static ld_tensor *f_deconv(ld_ctx *c, ld_tensor **in, const bench_case *b)
{
    (void)b;
    ld_conv_opts o = {.stride = 2, .pad = 0, .act = LD_RELU};
    return ld_conv_transpose2d(c, in[0], in[1], in[2], o);
}
static ld_tensor *f_maxpool(ld_ctx *c, ld_tensor **in, const bench_case *b) { (void)b; return ld_maxpool2d(c, in[0], 2, 2); }
static ld_tensor *f_resize(ld_ctx *c, ld_tensor **in, const bench_case *b) { (void)b; return ld_resize2x(c, in[0], LD_RESIZE_BILINEAR); }
static ld_tensor *f_batchnorm(ld_ctx *c, ld_tensor **in, const bench_case *b)
{
    (void)b;
    return ld_batchnorm(c, in[0], in[1], in[2], in[3], in[3], 0.0f, 1e-5f);
}
static ld_tensor *f_layernorm(ld_ctx *c, ld_tensor **in, const bench_case *b) { (void)b; return ld_layernorm(c, in[0], in[1], in[2], 1e-5f); }
static ld_tensor *f_linear(ld_ctx *c, ld_tensor **in, const bench_case *b) { (void)b; return ld_linear(c, in[0], in[1], in[2], LD_RELU); }
static ld_tensor *f_matmul(ld_ctx *c, ld_tensor **in, const bench_case *b) { (void)b; return ld_matmul(c, in[0], in[1], 0, 0); }
static ld_tensor *f_attention(ld_ctx *c, ld_tensor **in, const bench_case *b)
{
    int e = in[0]->shape[2], heads = b->p[0];
    return ld_attention(c, in[0], in[1], in[2], heads, NULL, 1.0f / sqrtf((float)(e / heads)));
}
static ld_tensor *f_softmax(ld_ctx *c, ld_tensor **in, const bench_case *b) { (void)b; return ld_softmax(c, in[0]); }
static ld_tensor *f_advect(ld_ctx *c, ld_tensor **in, const bench_case *b) { (void)b; return ld_advect(c, in[0], in[1], 0.125f); }
static ld_tensor *f_add(ld_ctx *c, ld_tensor **in, const bench_case *b) { (void)b; return ld_add(c, in[0], in[1]); }
static ld_tensor *f_concat(ld_ctx *c, ld_tensor **in, const bench_case *b) { (void)b; return ld_concat(c, in, 2, 1); }
static ld_tensor *f_mse(ld_ctx *c, ld_tensor **in, const bench_case *b) { (void)b; return ld_mse(c, in[0], in[1]); }

#define CONV(name, cin, cout, k, hw, stride)                                                  \
    {name, f_conv, 3, {{4, 16, cin, hw, hw}, {4, cout, cin, k, k}, {1, cout}}, {k, stride}}
#define IMG2(name, fn, c, hw) {name, fn, 2, {{4, 16, c, hw, hw}, {4, 16, c, hw, hw}}, {0}}

static const bench_case cases[] = {
    CONV("conv k3 16->16 32x32", 16, 16, 3, 32, 1),
    CONV("conv k5 1->16 32x32", 1, 16, 5, 32, 1),
    CONV("conv k5 16->16 32x32", 16, 16, 5, 32, 1),
    CONV("conv k5 32->32 16x16", 32, 32, 5, 16, 1),
    CONV("conv k5 64->64 8x8", 64, 64, 5, 8, 1),
    CONV("conv k5 128->128 4x4", 128, 128, 5, 4, 1),
    CONV("conv k3 128->64 8x8", 128, 64, 3, 8, 1),
    CONV("conv k5 s2 16->32 16x16", 16, 32, 5, 16, 2),
    {"deconv k2s2 64->32 4x4", f_deconv, 3, {{4, 16, 64, 4, 4}, {4, 64, 32, 2, 2}, {1, 32}}, {0}},
    {"maxpool 2x2 16x32x32", f_maxpool, 1, {{4, 16, 16, 32, 32}}, {0}},
    {"resize x2 bilinear 64x8x8", f_resize, 1, {{4, 16, 64, 8, 8}}, {0}},
    {"batchnorm 32x16x16", f_batchnorm, 4, {{4, 16, 32, 16, 16}, {1, 32}, {1, 32}, {1, 32}}, {0}},
    {"layernorm 960x128", f_layernorm, 3, {{2, 960, 128}, {1, 128}, {1, 128}}, {0}},
    {"linear 960x128->256 relu", f_linear, 3, {{2, 960, 128}, {2, 256, 128}, {1, 256}}, {0}},
    {"matmul 16x(60x128)(128x60)", f_matmul, 2, {{3, 16, 60, 128}, {3, 16, 128, 60}}, {0}},
    {"attention B16 T10 E128 h1", f_attention, 3, {{3, 16, 10, 128}, {3, 16, 10, 128}, {3, 16, 10, 128}}, {1}},
    {"attention B16 T60 E128 h4", f_attention, 3, {{3, 16, 60, 128}, {3, 16, 60, 128}, {3, 16, 60, 128}}, {4}},
    {"softmax 960x60", f_softmax, 1, {{2, 960, 60}}, {0}},
    {"advect 4x32x32", f_advect, 2, {{4, 16, 4, 32, 32}, {4, 16, 2, 32, 32}}, {0}},
    IMG2("add 16x32x32", f_add, 16, 32),
    IMG2("concat 2x16x32x32", f_concat, 16, 32),
    IMG2("mse 1x32x32", f_mse, 1, 32),
};

/* One forward + backward with an all-ones output gradient; -1 on error. */
static int run_once(ld_ctx *ctx, const bench_case *c, ld_tensor **in)
{
    ld_ctx_reset(ctx);
    ld_tensor *y = c->forward(ctx, in, c);
    if (!y)
        return -1;
    int accumulate; /* a fresh buffer, not zeroed first: ones_like does not zero either */
    float *g = ld_grad_dest(ctx, y, &accumulate);
    if (!g)
        return -1;
    long n = (long)y->numel; /* parallel like PyTorch's ones_like */
#pragma omp parallel for schedule(static) if (n > 16384)
    for (long i = 0; i < n; i++)
        g[i] = 1.0f;
    return ld_tape_replay(ctx);
}

int main(int argc, char **argv)
{
    double budget = 0.5;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            omp_set_num_threads(atoi(argv[++i]));
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            budget = atof(argv[++i]);
        else if (!strcmp(argv[i], "--case") && i + 1 < argc)
            only = argv[++i];
        else {
            fprintf(stderr, "usage: ops [--threads T] [--seconds S] [--case SUBSTRING]\n");
            return 2;
        }
    }
    ld_ctx ctx;
    ld_ctx_init(&ctx, ld_backend_cpu(), 1);
    ld_rng rng;
    ld_rng_init(&rng, 7);
    static double times[100000];
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const bench_case *c = &cases[k];
        if (only && !strstr(c->name, only))
            continue;
        ld_tensor *in[MAX_INPUTS] = {0};
        for (int i = 0; i < c->n_inputs; i++) {
            /* batch-norm running statistics (input 3) take no gradient */
            in[i] = ld_tensor_heap(c->shapes[i][0], c->shapes[i] + 1, !(c->forward == f_batchnorm && i == 3));
            ld_rng_fill_uniform(&rng, in[i]->data, in[i]->numel, 0.0f, 1.0f);
        }
        if (c->forward == f_advect) /* velocities of a few pixels per unit time */
            for (size_t j = 0; j < in[1]->numel; j++)
                in[1]->data[j] = 8.0f * in[1]->data[j] - 4.0f;
        int n = 0, failed = 0;
        for (int w = 0; w < 3 && !failed; w++)
            failed = run_once(&ctx, c, in);
        double start = bench_now();
        while (!failed && (bench_now() - start < budget || n < 5) && n < 100000) {
            double t0 = bench_now();
            failed = run_once(&ctx, c, in);
            times[n++] = bench_now() - t0;
        }
        if (failed) {
            fprintf(stderr, "%s: %s\n", c->name, ctx.err.msg);
            return 1;
        }
        printf("{\"case\": \"%s\", \"ms\": %.6f}\n", c->name,
               1000.0 * bench_median(times, (size_t)n));
        fflush(stdout);
        for (int i = 0; i < c->n_inputs; i++)
            ld_tensor_heap_free(in[i]);
    }
    ld_ctx_free(&ctx);
    return 0;
}
