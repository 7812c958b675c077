/* Tests of the U-Net (nn/unet.c): its activations in the convolutions'
 * channel-blocked layout give what NCHW gives (output, input gradient,
 * every parameter's gradient), and widths the block does not divide run
 * in NCHW. */
#include <stdlib.h>
#include <string.h>

#include "engine/backend.h"
#include "nn/unet.h"
#include "ops/conv.h"
#include "test.h"

static int no_block(void) { return 0; }

/* Forward of `net` on x in a fresh context over `backend`, then backward
 * from a fixed output gradient: the output copied to *y (*ny floats), x's
 * gradient to *dx, the parameters' gradients to *dp (all malloc'd).
 * Returns 0, or -1 after a failed test. */
static int run_unet(const ld_backend *backend, ld_unet *net, ld_params *p, ld_tensor *x,
                    float **y, float **dx, float **dp, size_t *ny)
{
    ld_ctx ctx;
    if (ld_ctx_init(&ctx, backend, 1)) {
        TEST_FAIL("U-Net: context: %s", ctx.err.msg);
        return -1;
    }
    memset(x->grad, 0, x->numel * sizeof *x->grad);
    ld_params_zero_grad(p);
    ld_tensor *out = ld_unet_forward(&ctx, p, net, x);
    float *g = out ? ld_grad(&ctx, out) : NULL;
    for (size_t i = 0; g && i < out->numel; i++)
        g[i] = (float)((i * 7919) % 997) / 498.5f - 1.0f;
    int rc = g && out->block == 0 && !ld_tape_replay(&ctx) ? 0 : -1;
    if (!rc) {
        *ny = out->numel;
        *y = malloc(out->numel * sizeof **y);
        *dx = malloc(x->numel * sizeof **dx);
        *dp = malloc(p->total * sizeof **dp);
        if (*y && *dx && *dp) {
            memcpy(*y, out->data, out->numel * sizeof **y);
            memcpy(*dx, x->grad, x->numel * sizeof **dx);
            memcpy(*dp, p->grad, p->total * sizeof **dp);
        } else {
            TEST_FAIL("U-Net: out of memory for the copies");
            rc = -1;
        }
    } else {
        TEST_FAIL("U-Net forward/backward: %s", ctx.err.msg);
    }
    ld_ctx_free(&ctx);
    return rc;
}

/* The same network on the CPU backend (blocked between convolutions) and
 * on a copy that prefers NCHW. */
static void compare_layouts(const char *what, const int *widths, int expect_blocked)
{
    ld_params p;
    ld_params_init(&p);
    ld_unet net;
    ld_unet_config cfg = {.in_ch = 2, .out_ch = 3, .kernel = 3, .depth = 2, .slope = 0.2f};
    memcpy(cfg.widths, widths, 3 * sizeof *widths);
    ld_err err;
    int ok = !ld_unet_create(&net, &p, "unet", &cfg, &err) && !ld_params_finalize(&p, &err);
    CHECK(ok, "%s: create: %s", what, err.msg);
    if (!ok) {
        ld_params_free(&p);
        return;
    }
    ld_rng rng;
    ld_rng_init(&rng, 5);
    ld_unet_init(&net, &p, &rng);
    const ld_backend *cpu = ld_backend_cpu();
    ld_ctx probe;
    ld_ctx_init(&probe, cpu, 1);
    int blocked = ld_conv_block_for(&probe, 3, widths) > 0;
    ld_ctx_free(&probe);
    CHECK(blocked == expect_blocked, "%s: widths %d, %d, %d %s the preferred block", what,
          widths[0], widths[1], widths[2], blocked ? "fit" : "do not fit");
    struct ld_conv_kernels nchw_conv = *cpu->conv;
    nchw_conv.preferred_block = no_block;
    ld_backend nchw = *cpu;
    nchw.conv = &nchw_conv;
    /* below 8x8, where both layouts run oneDNN's convolutions: blocked
     * 3x3 layers from 8x8 run by Winograd (cpu/conv_winograd.c, tested in
     * test_conv.c), whose float32 error (~1e-6) moves a pre-activation
     * that close to 0 across the leaky ReLU's kink, which changes its
     * derivative 5-fold: a gradient difference this comparison could not
     * tell from a layout bug. */
    int shape[4] = {3, 2, 7, 6};
    ld_tensor *x = test_random(4, shape, -1, 1, 1, 7);
    float *y[2] = {0}, *dx[2] = {0}, *dp[2] = {0};
    size_t ny[2] = {0};
    if (!run_unet(cpu, &net, &p, x, &y[0], &dx[0], &dp[0], &ny[0]) &&
        !run_unet(&nchw, &net, &p, x, &y[1], &dx[1], &dp[1], &ny[1]) && ny[0] == ny[1]) {
        check_close(what, y[0], y[1], ny[0], 1e-6, 1e-5);
        check_close(what, dx[0], dx[1], x->numel, 1e-6, 1e-5);
        check_close(what, dp[0], dp[1], p.total, 1e-6, 1e-5);
    }
    for (int i = 0; i < 2; i++) {
        free(y[i]);
        free(dx[i]);
        free(dp[i]);
    }
    ld_tensor_heap_free(x);
    ld_params_free(&p);
}

static void test_blocked_matches_nchw(void)
{
    const int fitting[3] = {16, 32, 64}, odd[3] = {12, 24, 48};
    compare_layouts("widths 16, 32, 64", fitting, 1);
    compare_layouts("widths 12, 24, 48", odd, 0);
}

LD_TEST_SUITE(unet) = {
    {"blocked_matches_nchw", test_blocked_matches_nchw},
    {NULL, NULL},
};
