/* Tests of the resize family: PyTorch fixtures (nearest and bilinear, up and
 * down, odd sizes; NCHW and the channel-blocked layouts), finite
 * differences (overwriting a fresh gradient, and adding into one), and bad
 * sizes. */
#include <stdio.h>
#include <string.h>

#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/resize.h"
#include "test.h"

/* out_h 0: ld_resize2x. fresh: x passes through an identity op first so
 * that its gradient is a fresh arena buffer (the overwrite path). block:
 * x's layout (fwd_blocked). twice: the sum of two resizes of x, so that
 * the second backward adds into the gradient the first one wrote. */
typedef struct resize_opts {
    int out_h, out_w;
    ld_resize_mode mode;
    int fresh;
    int block;
    int twice;
} resize_opts;

static ld_tensor *resize_once(ld_ctx *c, ld_tensor *in, const resize_opts *o)
{
    return o->out_h ? ld_resize(c, in, o->out_h, o->out_w, o->mode) : ld_resize2x(c, in, o->mode);
}

static ld_tensor *fwd_resize(ld_ctx *c, ld_tensor **x, void *u)
{
    const resize_opts *o = u;
    ld_tensor *in = o->fresh ? ld_scale(c, x[0], 1.0f, 0.0f) : x[0];
    ld_tensor *y = resize_once(c, in, o);
    return o->twice ? ld_add(c, y, resize_once(c, in, o)) : y;
}

static const struct {
    const char *suffix;
    int out_h, out_w;
} sizes[] = {
    {"up2", 14, 10},     {"odd", 11, 4}, {"down2", 16, 16},
    {"down_odd", 4, 6},  {"x2", 0, 0},   {"wide", 5, 520},
};
static const struct {
    const char *name;
    ld_resize_mode mode;
} modes[] = {{"nearest", LD_RESIZE_NEAREST}, {"bilinear", LD_RESIZE_BILINEAR}};

static void test_vs_torch(void)
{
    ld_st_file f;
    if (fixture_open("resize.safetensors", &f))
        return;
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++)
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (int fresh = 0; fresh < 2; fresh++) {
                char name[64];
                snprintf(name, sizeof name, "%s_%s", modes[m].name, sizes[s].suffix);
                resize_opts o = {sizes[s].out_h, sizes[s].out_w, modes[m].mode, fresh, 0, 0};
                CHECK(fixture_case(&f, name, 1, fwd_resize, &o, 1e-5, 1e-5), "case %s (fresh %d)",
                      name, fresh);
            }
    ld_st_free(&f);
}

/* The 16-channel cases with x (and so y) in layout o->block. */
static ld_tensor *fwd_blocked(ld_ctx *c, ld_tensor **x, void *u)
{
    const resize_opts *o = u;
    ld_tensor *y = ld_resize(c, ld_to_block(c, x[0], o->block), o->out_h, o->out_w, o->mode);
    return test_unblock(c, y, o->block, "resize");
}

static void test_blocked_vs_torch(void)
{
    static const struct {
        const char *suffix;
        int out_h, out_w;
    } cases[] = {{"up2_c16", 14, 10}, {"odd_c16", 4, 6}};
    static const int blocks[] = {0, 8, 16};
    ld_st_file f;
    if (fixture_open("resize.safetensors", &f))
        return;
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++)
        for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
            for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
                char name[64];
                snprintf(name, sizeof name, "%s_%s", modes[m].name, cases[k].suffix);
                resize_opts o = {cases[k].out_h, cases[k].out_w, modes[m].mode, 0, blocks[b], 0};
                CHECK(fixture_case(&f, name, 1, fwd_blocked, &o, 1e-5, 1e-5), "case %s, block %d",
                      name, blocks[b]);
            }
    ld_st_free(&f);
}

/* Finite differences of one resize of x, and of the sum of two resizes of
 * x through one identity op (fresh): the second backward adds into the
 * gradient the first one wrote. */
static void test_gradients(void)
{
    int shape[4] = {3, 2, 7, 5};
    ld_tensor *x = test_random(4, shape, -1, 1, 1, 41);
    const int outs[][2] = {{14, 10}, {11, 4}, {3, 2}};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++)
        for (size_t s = 0; s < sizeof outs / sizeof outs[0]; s++)
            for (int twice = 0; twice < 2; twice++) {
                resize_opts o = {outs[s][0], outs[s][1], modes[m].mode, twice, 0, twice};
                check_gradients(modes[m].name, fwd_resize, &x, 1, &o, 1e-2, 1e-3, 70);
            }
    ld_tensor_heap_free(x);
}

static void test_same_size(void)
{
    ld_ctx *c = test_ctx();
    ld_tensor *x = ld_tensor_4d(c, 2, 3, 7, 5);
    CHECK(ld_resize(c, x, 7, 5, LD_RESIZE_BILINEAR) == x, "same size returns the input");
}

static void test_errors(void)
{
    ld_ctx *c = test_ctx();
    ld_tensor *x = ld_tensor_4d(c, 2, 3, 7, 5);
    CHECK(ld_resize(c, x, 0, 4, LD_RESIZE_BILINEAR) == NULL && c->failed,
          "resize to 0 rows must fail");
    CHECK(strstr(c->err.msg, "resize") && strstr(c->err.msg, "0x4") &&
              strstr(c->err.msg, "[2, 3, 7, 5]"),
          "message names the op, the size and x: %s", c->err.msg);
    ld_ctx_reset(c);
    int shape3[3] = {3, 7, 5};
    x = ld_tensor_zeros(c, 3, shape3);
    CHECK(ld_resize2x(c, x, LD_RESIZE_NEAREST) == NULL && c->failed, "3-D input must fail");
    CHECK(strstr(c->err.msg, "[N, C, H, W]") != NULL, "message: %s", c->err.msg);
    ld_ctx_reset(c);
    x = ld_tensor_4d(c, 2, 3, 7, 5);
    CHECK(ld_resize(c, x, 4, 4, (ld_resize_mode)7) == NULL && c->failed, "bad mode must fail");
    ld_ctx_reset(c);
    CHECK(ld_resize(c, NULL, 4, 4, LD_RESIZE_NEAREST) == NULL && !c->failed,
          "NULL input propagates");
}

LD_TEST_SUITE(resize) = {
    {"vs_torch", test_vs_torch},
    {"blocked_vs_torch", test_blocked_vs_torch},
    {"gradients", test_gradients},
    {"same_size", test_same_size},
    {"errors", test_errors},
    {NULL, NULL},
};
