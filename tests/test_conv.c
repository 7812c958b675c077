/* Tests of the convolution family (conv2d, conv_transpose2d, to_block):
 * PyTorch fixtures for forward and every gradient (in NCHW and in the
 * channel-blocked layouts), finite differences on odd sizes, chained /
 * repeated use (fresh and accumulated gradients), the benchmark shape
 * against a reference loop, shape and layout errors; bfloat16 products
 * (LD_PRECISION_BF16) against a double loop over bfloat16-rounded operands
 * and against PyTorch doing the same rounding. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/backend.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "test.h"

/* Fixture comparison: float32 sums of up to a few hundred products of O(1)
 * values (oneDNN and PyTorch sum in different orders). */
#define FIXTURE_ATOL 1e-4
#define FIXTURE_RTOL 1e-4
/* The _wino cases (3x3 and 5x5 between 16-channel blocks, run by Winograd
 * F(4x4, k x k) in those layouts): its transforms scale values by up to
 * 5.25 and 16 before the sums, and its float32 error is ~5e-6 of a
 * tensor's largest value (the weight gradients reach 44 in these cases). */
#define WINOGRAD_FIXTURE_ATOL 1e-3
/* Finite differences: inputs on a grid keep every pre-activation at least
 * 1/128 away from the ReLU kink (see grid_random), and eps moves a
 * pre-activation by at most eps < 1/128, so the function is linear around
 * each point and only float32 rounding remains. */
#define FD_EPS 4e-3
#define FD_TOL 2e-3
#define FD_POINTS 60
/* A chain of two layers: one input moves ~10^4 outputs, whose float32
 * rounding adds up to ~1e-2 of noise in the central difference. */
#define FD_CHAIN_TOL 2e-2

typedef struct conv_case {
    const char *name; /* in tests/fixtures/conv.safetensors */
    int transposed;
    int bias;
    ld_conv_opts opts;
} conv_case;

static double case_atol(const conv_case *cc)
{
    return strstr(cc->name, "_wino") ? WINOGRAD_FIXTURE_ATOL : FIXTURE_ATOL;
}

static ld_tensor *conv_run(ld_ctx *c, const conv_case *cc, ld_tensor *x, ld_tensor *w,
                           ld_tensor *b)
{
    return cc->transposed ? ld_conv_transpose2d(c, x, w, b, cc->opts)
                          : ld_conv2d(c, x, w, b, cc->opts);
}

static ld_tensor *fwd_case(ld_ctx *c, ld_tensor **x, void *u)
{
    const conv_case *cc = u;
    return conv_run(c, cc, x[0], x[1], cc->bias ? x[2] : NULL);
}

#define OPTS(s, p, a) ((ld_conv_opts){.stride = (s), .pad = (p), .act = (a)})
/* The same as constant initializers for the case tables. */
#define CASE_OPTS(s, p, act) {(s), (p), act, 0}
#define NONE {LD_ACT_NONE, 0.0f}
#define RELU {LD_ACT_RELU, 0.0f}
#define LEAKY {LD_ACT_LEAKY_RELU, 0.2f}

static const conv_case fixture_cases[] = {
    {"k1s1p0", 0, 0, CASE_OPTS(1, 0, NONE)},
    {"k1s2p0_b_leaky", 0, 1, CASE_OPTS(2, 0, LEAKY)},
    {"k2s1p0_b_relu", 0, 1, CASE_OPTS(1, 0, RELU)},
    {"k2s2p0_b", 0, 1, CASE_OPTS(2, 0, NONE)},
    {"k3s1p1_b_relu", 0, 1, CASE_OPTS(1, 1, RELU)},
    {"k3s1p1_leaky", 0, 0, CASE_OPTS(1, 1, LEAKY)},
    {"k3s2p1_b_leaky", 0, 1, CASE_OPTS(2, 1, LEAKY)},
    {"k3s1p0_b", 0, 1, CASE_OPTS(1, 0, NONE)},
    {"k3s2p0_relu", 0, 0, CASE_OPTS(2, 0, RELU)},
    {"k5s1p2_b_relu", 0, 1, CASE_OPTS(1, 2, RELU)},
    {"k5s2p2", 0, 0, CASE_OPTS(2, 2, NONE)},
    {"k5s1p1_b_leaky", 0, 1, CASE_OPTS(1, 1, LEAKY)},
    {"t_k2s2p0_b", 1, 1, CASE_OPTS(2, 0, NONE)},
    {"t_k2s2p0_relu", 1, 0, CASE_OPTS(2, 0, RELU)},
    {"t_k2s2p0_b_leaky", 1, 1, CASE_OPTS(2, 0, LEAKY)},
    {"t_k3s2p1_b_relu", 1, 1, CASE_OPTS(2, 1, RELU)},
    {"t_k3s1p1", 1, 0, CASE_OPTS(1, 1, NONE)},
    {"k3s1p1_b_relu_c16", 0, 1, CASE_OPTS(1, 1, RELU)},
    {"k5s2p2_leaky_c16", 0, 0, CASE_OPTS(2, 2, LEAKY)},
    {"t_k2s2p0_b_c32", 1, 1, CASE_OPTS(2, 0, NONE)},
    {"k5s1p2_b_c1", 0, 1, CASE_OPTS(1, 2, NONE)},
    {"k3s1p1_leaky_c1", 0, 0, CASE_OPTS(1, 1, LEAKY)},
    {"k1s1p0_b_relu_c1", 0, 1, CASE_OPTS(1, 0, RELU)},
    {"k3s1p1_b_relu_c3", 0, 1, CASE_OPTS(1, 1, RELU)},
    {"k3s1p1_b_leaky_c32", 0, 1, CASE_OPTS(1, 1, LEAKY)},
    {"k3s1p1_leaky_c32to16", 0, 0, CASE_OPTS(1, 1, LEAKY)},
    {"k5s1p2_b_leaky_c32to16_wino", 0, 1, CASE_OPTS(1, 2, LEAKY)},
    {"k5s1p2_relu_c16to32_wino", 0, 0, CASE_OPTS(1, 2, RELU)},
    {"k3s1p1_b_leaky_c16to32_wino", 0, 1, CASE_OPTS(1, 1, LEAKY)},
    {"k3s1p1_relu_c32to16_wino", 0, 0, CASE_OPTS(1, 1, RELU)},
};

static void test_vs_torch(void)
{
    ld_st_file f;
    if (fixture_open("conv.safetensors", &f))
        return;
    for (size_t i = 0; i < sizeof fixture_cases / sizeof fixture_cases[0]; i++) {
        const conv_case *cc = &fixture_cases[i];
        CHECK(fixture_case(&f, cc->name, 2 + cc->bias, fwd_case, (void *)cc, case_atol(cc),
                           FIXTURE_RTOL),
              "case %s", cc->name);
    }
    ld_st_free(&f);
}

/* A heap tensor with values on the grid k/8 in [-1, 1], plus `offset`. With
 * x and w on that grid and b on it plus 1/128, every pre-activation is an
 * odd multiple of 1/128 (float32 sums of these are exact). */
static ld_tensor *grid_random(int ndim, const int *shape, float offset, unsigned seed)
{
    ld_tensor *t = test_random(ndim, shape, -1.0f, 1.0f, 1, seed);
    for (size_t i = 0; t && i < t->numel; i++)
        t->data[i] = roundf(t->data[i] * 8.0f) / 8.0f + offset;
    return t;
}

#define BIAS_OFFSET (1.0f / 128.0f)

/* Finite differences of one conv case for x, w and b. */
static void check_case_gradients(const conv_case *cc, const int *x_shape, const int *w_shape)
{
    int cout = w_shape[cc->transposed ? 1 : 0];
    ld_tensor *in[3] = {grid_random(4, x_shape, 0.0f, 1), grid_random(4, w_shape, 0.0f, 2),
                        grid_random(1, &cout, BIAS_OFFSET, 3)};
    check_gradients(cc->name, fwd_case, in, 2 + cc->bias, (void *)cc, FD_EPS, FD_TOL,
                    FD_POINTS);
    for (int i = 0; i < 3; i++)
        ld_tensor_heap_free(in[i]);
}

static void test_gradients(void)
{
    static const conv_case cases[] = {
        {"fd k3s2p1 bias leaky", 0, 1, CASE_OPTS(2, 1, LEAKY)},
        {"fd k5s1p2 bias relu", 0, 1, CASE_OPTS(1, 2, RELU)},
        {"fd k2s1p0 no bias", 0, 0, CASE_OPTS(1, 0, NONE)},
        {"fd k1s1p0 bias relu", 0, 1, CASE_OPTS(1, 0, RELU)},
        {"fd transposed k2s2 bias relu", 1, 1, CASE_OPTS(2, 0, RELU)},
        {"fd transposed k3s2p1 bias leaky", 1, 1, CASE_OPTS(2, 1, LEAKY)},
        {"fd transposed k3s1p1 no bias", 1, 0, CASE_OPTS(1, 1, NONE)},
        {"fd k5s1p2 one output channel bias leaky", 0, 1, CASE_OPTS(1, 2, LEAKY)},
    };
    static const int w_shapes[][4] = {{4, 5, 3, 3}, {3, 5, 5, 5}, {6, 5, 2, 2}, {4, 5, 1, 1},
                                      {5, 4, 2, 2}, {5, 3, 3, 3}, {5, 6, 3, 3}, {1, 5, 5, 5}};
    const int x_shape[4] = {3, 5, 7, 5};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case_gradients(&cases[i], x_shape, w_shapes[i]);
}

/* conv2d (16 channels, blocked layouts) feeding conv_transpose2d: the
 * gradients of the intermediate and of the first layer's weights and bias
 * (copies made by ld_scale) are written fresh, the inputs' are added into. */
static ld_tensor *fwd_chain(ld_ctx *c, ld_tensor **x, void *u)
{
    (void)u;
    ld_tensor *w1 = ld_scale(c, x[1], 1.0f, 0.0f), *b1 = ld_scale(c, x[2], 1.0f, 0.0f);
    ld_tensor *h = ld_conv2d(c, x[0], w1, b1, OPTS(1, 1, LD_LEAKY(0.2f)));
    return ld_conv_transpose2d(c, h, x[3], x[4], OPTS(2, 0, LD_NO_ACT));
}

/* x in two convolutions, w in three: their gradients accumulate. */
static ld_tensor *fwd_reuse(ld_ctx *c, ld_tensor **x, void *u)
{
    (void)u;
    ld_tensor *hidden = ld_conv2d(c, x[0], x[1], x[2], OPTS(1, 1, LD_RELU));
    ld_tensor *deeper = ld_conv2d(c, hidden, x[1], NULL, OPTS(2, 1, LD_NO_ACT));
    ld_tensor *direct = ld_conv2d(c, x[0], x[1], NULL, OPTS(2, 1, LD_NO_ACT));
    return ld_add(c, deeper, direct);
}

static void test_chained_and_reused(void)
{
    int xs[4] = {3, 16, 7, 5}, w1s[4] = {16, 16, 3, 3}, w2s[4] = {16, 16, 2, 2}, bs = 16;
    ld_tensor *in[5] = {grid_random(4, xs, 0.0f, 11), grid_random(4, w1s, 0.0f, 12),
                        grid_random(1, &bs, BIAS_OFFSET, 13), grid_random(4, w2s, 0.0f, 14),
                        grid_random(1, &bs, 0.0f, 15)};
    check_gradients("conv2d -> conv_transpose2d", fwd_chain, in, 5, NULL, FD_EPS, FD_CHAIN_TOL,
                    FD_POINTS);
    int rs[4] = {3, 5, 7, 5}, rws[4] = {5, 5, 3, 3}, rbs = 5;
    ld_tensor *reuse[3] = {grid_random(4, rs, 0.0f, 21), grid_random(4, rws, 0.0f, 22),
                           grid_random(1, &rbs, BIAS_OFFSET, 23)};
    /* the deeper layer's input is off the grid, but that layer has no kink */
    check_gradients("x used twice, w three times", fwd_reuse, reuse, 3, NULL, FD_EPS, FD_TOL,
                    FD_POINTS);
    for (int i = 0; i < 5; i++)
        ld_tensor_heap_free(in[i]);
    for (int i = 0; i < 3; i++)
        ld_tensor_heap_free(reuse[i]);
}

/* Gradients of some inputs only: backward_weights without db, and with
 * neither dx nor dw (db alone). */
static void test_partial_gradients(void)
{
    static const conv_case cc = {"partial", 0, 1, CASE_OPTS(2, 1, LEAKY)};
    int xs[4] = {3, 5, 7, 5}, ws[4] = {4, 5, 3, 3}, bs = 4;
    ld_tensor *in[3] = {grid_random(4, xs, 0.0f, 41), grid_random(4, ws, 0.0f, 42),
                        grid_random(1, &bs, BIAS_OFFSET, 43)};
    in[2]->requires_grad = 0;
    check_gradients("x and w without b", fwd_case, in, 3, (void *)&cc, FD_EPS, FD_TOL,
                    FD_POINTS);
    in[0]->requires_grad = in[1]->requires_grad = 0;
    in[2]->requires_grad = 1;
    check_gradients("b alone", fwd_case, in, 3, (void *)&cc, FD_EPS, FD_TOL, FD_POINTS);
    for (int i = 0; i < 3; i++)
        ld_tensor_heap_free(in[i]);
}

/* f rounded to bfloat16 (8 significant bits, to nearest, ties to even), as
 * oneDNN's reorder rounds; finite inputs. */
static float bf16_round(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* n floats as doubles (malloc'ed), each rounded to bfloat16 first when
 * `bf16` is set. */
static double *widen(const float *v, size_t n, int bf16)
{
    double *r = malloc(n * sizeof *r);
    for (size_t i = 0; r && i < n; i++)
        r[i] = bf16 ? bf16_round(v[i]) : v[i];
    return r;
}

/* A stride-1 convolution without bias or activation in double over the
 * given operands, padded by `pad`: y = conv(x, w) and, unless dx, dw and
 * dy are NULL, dx = conv_T(dy, w) and dw = corr(dy, x). Shapes from
 * xs [n, cin, h, w] and ws [cout, cin, k, k]. */
static void reference_passes(double *y, double *dx, double *dw, const double *x,
                             const double *w, const double *dy, const int xs[4], const int ws[4],
                             int pad)
{
    int n = xs[0], cin = xs[1], h = xs[2], wd = xs[3], cout = ws[0], k = ws[2];
    int oh = h + 2 * pad - k + 1, ow = wd + 2 * pad - k + 1, grads = dy != NULL;
    memset(y, 0, (size_t)n * cout * oh * ow * sizeof *y);
    if (grads) {
        memset(dx, 0, (size_t)n * cin * h * wd * sizeof *dx);
        memset(dw, 0, (size_t)cout * cin * k * k * sizeof *dw);
    }
    for (int in = 0; in < n; in++)
        for (int o = 0; o < cout; o++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++) {
                    size_t yo = (((size_t)in * cout + o) * oh + i) * ow + j;
                    for (int c = 0; c < cin; c++)
                        for (int ki = 0; ki < k; ki++)
                            for (int kj = 0; kj < k; kj++) {
                                int yi = i + ki - pad, xj = j + kj - pad;
                                if (yi < 0 || yi >= h || xj < 0 || xj >= wd)
                                    continue;
                                size_t xo = (((size_t)in * cin + c) * h + yi) * wd + xj;
                                size_t wo = (((size_t)o * cin + c) * k + ki) * k + kj;
                                y[yo] += x[xo] * w[wo];
                                if (grads) {
                                    dx[xo] += dy[yo] * w[wo];
                                    dw[wo] += dy[yo] * x[xo];
                                }
                            }
                }
}

/* y = act(conv2d(x, w) + b), stride 1, in double: the plain definition
 * (act: ReLU or leaky ReLU). */
static void reference_conv_act(double *y, const ld_tensor *x, const ld_tensor *w,
                               const ld_tensor *b, int pad, ld_activation act)
{
    double slope = act.kind == LD_ACT_LEAKY_RELU ? act.slope : 0.0;
    double *x64 = widen(x->data, x->numel, 0), *w64 = widen(w->data, w->numel, 0);
    int cout = w->shape[0], k = w->shape[2];
    size_t plane = (size_t)(x->shape[2] + 2 * pad - k + 1) * (x->shape[3] + 2 * pad - k + 1);
    reference_passes(y, NULL, NULL, x64, w64, NULL, x->shape, w->shape, pad);
    for (size_t i = 0; i < (size_t)x->shape[0] * cout * plane; i++) {
        double s = y[i] + b->data[i / plane % cout];
        y[i] = s > 0 ? s : slope * s;
    }
    free(x64);
    free(w64);
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

/* A conv with an activation against the double-precision definition, and
 * its backward by bilinearity: for y = conv2d(x, w), sum(dy y) = sum(dx x)
 * = sum(dw w). Used at shapes too large for a fixture. */
static void check_large(const char *what, const int xs[4], const int ws[4], int pad,
                        ld_activation act, int block, double atol)
{
    ld_ctx *c = test_ctx();
    int bs = ws[0];
    ld_tensor *x = test_random(4, xs, -1, 1, 1, 51), *w = test_random(4, ws, -0.1f, 0.1f, 1, 52);
    ld_tensor *b = test_random(1, &bs, -0.5f, 0.5f, 0, 53);
    ld_conv_opts opts = {.stride = 1, .pad = pad, .act = act, .block = block};
    ld_tensor *y = ld_to_block(c, ld_conv2d(c, ld_to_block(c, x, block), w, b, opts), 0);
    double *ref = y ? malloc(y->numel * sizeof *ref) : NULL;
    float *ref32 = y ? malloc(y->numel * sizeof *ref32) : NULL;
    CHECK(ref && ref32, "%s: forward failed: %s", what, c->err.msg);
    if (ref && ref32) {
        reference_conv_act(ref, x, w, b, pad, act);
        for (size_t i = 0; i < y->numel; i++)
            ref32[i] = (float)ref[i];
        check_close(what, y->data, ref32, y->numel, atol, 1e-4);
    }
    free(ref);
    free(ref32);
    ld_ctx_reset(c);
    opts.act = LD_NO_ACT;
    y = ld_conv2d(c, ld_to_block(c, x, block), w, NULL, opts);
    float *dy = y ? ld_grad(c, y) : NULL;
    for (size_t i = 0; dy && i < y->numel; i++)
        dy[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f;
    int ok = dy && !ld_tape_replay(c);
    CHECK(ok, "%s: backward failed: %s", what, c->err.msg);
    if (ok) {
        double s_y = dot(dy, y->data, y->numel), s_x = dot(x->grad, x->data, x->numel);
        double s_w = dot(w->grad, w->data, w->numel), scale = sqrt((double)y->numel);
        CHECK(fabs(s_x - s_y) < 1e-5 * scale && fabs(s_w - s_y) < 1e-5 * scale,
              "%s: bilinearity: sum(dy y) %.9g, sum(dx x) %.9g, sum(dw w) %.9g", what, s_y, s_x,
              s_w);
    }
    ld_tensor_heap_free(x);
    ld_tensor_heap_free(w);
    ld_tensor_heap_free(b);
}

/* The benchmark's shapes, k3 s1 p1 at batch 16, which take every mix of
 * algorithms where oneDNN has Winograd (with AVX-512): 16 channels at
 * 32x32 (direct forward and data gradient, Winograd weight gradient),
 * 32 -> 64 channels at 16x16 with a leaky ReLU (Winograd in all three
 * passes, the activation applied by a separate pass), 32 -> 16 at 32x32
 * (Winograd forward and weight gradient, direct data gradient); float32
 * error ~1e-6 of the largest value. And LaDID's last layer (5x5 to one or
 * three channels, direct kernels) at a batch of several weight-gradient
 * chunks. */
static void test_large_vs_reference(void)
{
    const int xs[4] = {16, 16, 32, 32}, ws[4] = {16, 16, 3, 3};
    const double atol = 2e-5;
    check_large("large forward vs reference", xs, ws, 1, LD_RELU, 0, atol);
    const int xs32[4] = {16, 32, 16, 16}, ws32[4] = {64, 32, 3, 3};
    check_large("32 -> 64 channels, leaky, vs reference", xs32, ws32, 1, LD_LEAKY(0.2f), 0, atol);
    const int xs2[4] = {16, 32, 32, 32}, ws2[4] = {16, 32, 3, 3};
    check_large("32 -> 16 channels, leaky, vs reference", xs2, ws2, 1, LD_LEAKY(0.2f), 0, atol);
    const int xs1[4] = {40, 8, 16, 16}, ws1[4] = {1, 8, 5, 5}, ws3[4] = {3, 8, 5, 5};
    check_large("one output channel vs reference", xs1, ws1, 2, LD_RELU, 0, atol);
    check_large("three output channels vs reference", xs1, ws3, 2, LD_RELU, 0, atol);
}

/* 3x3 and 5x5 stride-1 'same' convolutions between 16-channel-blocked
 * tensors, which run by Winograd's F(4x4, k x k) where the CPU has AVX-512
 * (cpu/conv_winograd.c; oneDNN elsewhere): the field network's 5x5 32 -> 16
 * at 32x32 and 128 -> 64 at 8x8 (batch 16), the decoder's 3x3 32 -> 16 at
 * 32x32 (batch 48), and 16 -> 32 at odd sizes (tiles cut by the border),
 * against the double definition: float32 error ~1e-5 of the largest value
 * (~8 here). */
#define WINOGRAD_ATOL 2e-4
static void test_winograd_vs_reference(void)
{
    const struct {
        const char *what;
        int xs[4], ws[4];
        ld_activation act;
    } cases[] = {
        {"5x5 32 -> 16 blocked, leaky", {16, 32, 32, 32}, {16, 32, 5, 5}, LD_LEAKY(0.2f)},
        {"5x5 128 -> 64 blocked, leaky", {16, 128, 8, 8}, {64, 128, 5, 5}, LD_LEAKY(0.2f)},
        {"5x5 16 -> 32 blocked, 9x11, relu", {3, 16, 9, 11}, {32, 16, 5, 5}, LD_RELU},
        {"3x3 32 -> 16 blocked, leaky", {48, 32, 32, 32}, {16, 32, 3, 3}, LD_LEAKY(0.2f)},
        {"3x3 16 -> 32 blocked, 9x11, relu", {3, 16, 9, 11}, {32, 16, 3, 3}, LD_RELU},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_large(cases[i].what, cases[i].xs, cases[i].ws, cases[i].ws[2] / 2, cases[i].act, 16,
                    WINOGRAD_ATOL);
}

/* A second call of the same problem (served from the primitive cache) gives
 * bit-identical results, and inference (not recording) gives the same
 * output without a tape. */
static void test_repeat_and_inference(void)
{
    ld_ctx *c = test_ctx();
    int xs[4] = {2, 16, 9, 8}, ws[4] = {32, 16, 3, 3}, bs = 32;
    ld_tensor *x = test_random(4, xs, -1, 1, 0, 31), *w = test_random(4, ws, -1, 1, 0, 32);
    ld_tensor *b = test_random(1, &bs, -1, 1, 0, 33);
    ld_conv_opts opts = OPTS(2, 1, LD_LEAKY(0.1f));
    ld_tensor *y1 = ld_conv2d(c, x, w, b, opts);
    c->recording = 0;
    ld_tensor *y2 = ld_conv2d(c, x, w, b, opts);
    c->recording = 1;
    CHECK(y1 && y2, "forward failed: %s", c->err.msg);
    if (y1 && y2) {
        CHECK(y1->shape[2] == 5 && y1->shape[3] == 4, "output %dx%d, want 5x4", y1->shape[2],
              y1->shape[3]);
        CHECK(!memcmp(y1->data, y2->data, y1->numel * sizeof(float)),
              "repeated call differs");
        CHECK(c->tape_len == 0, "no tape without gradients (tape has %zu)", c->tape_len);
    }
    ld_tensor_heap_free(x);
    ld_tensor_heap_free(w);
    ld_tensor_heap_free(b);
}

/* ---- channel-blocked layouts --------------------------------------------- */

typedef struct layout_case {
    const char *name; /* in tests/fixtures/layout.safetensors */
    int from, to;     /* blocks; a blocked input is stored 5-D [N, C/b, H, W, b] */
} layout_case;

static ld_tensor *fwd_layout(ld_ctx *c, ld_tensor **x, void *u)
{
    const layout_case *lc = u;
    ld_tensor *t = x[0];
    if (lc->from) { /* read the 5-D array as [N, C, H, W] in layout `from` */
        int shape[4] = {t->shape[0], t->shape[1] * t->shape[4], t->shape[2], t->shape[3]};
        t->ndim = 4;
        memcpy(t->shape, shape, sizeof shape);
        t->block = lc->from;
    }
    return ld_to_block(c, t, lc->to);
}

/* x -> block 8 -> block 16: both permutations' gradients, blocked to blocked. */
static ld_tensor *fwd_relayout_twice(ld_ctx *c, ld_tensor **x, void *u)
{
    (void)u;
    return ld_to_block(c, ld_to_block(c, x[0], 8), 16);
}

static void test_layout_vs_torch(void)
{
    static const layout_case cases[] = {
        {"to8", 0, 8}, {"to16", 0, 16}, {"from8", 8, 0}, {"from16", 16, 0}};
    ld_st_file f;
    if (fixture_open("layout.safetensors", &f))
        return;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(fixture_case(&f, cases[i].name, 1, fwd_layout, (void *)&cases[i], 0, 0),
              "case %s", cases[i].name);
    ld_st_free(&f);
    int xs[4] = {2, 32, 3, 5};
    ld_tensor *x = grid_random(4, xs, 0.0f, 61);
    check_gradients("to_block 8 then 16", fwd_relayout_twice, &x, 1, NULL, FD_EPS, FD_TOL,
                    FD_POINTS);
    ld_tensor_heap_free(x);
}

/* A fixture case run with x and y in channel-blocked layouts (each only
 * where its channels fit the block), converted at the edges. */
typedef struct blocked_case {
    const conv_case *cc;
    int x_block, y_block;
    int *blocked_runs; /* counts runs where a layout was blocked */
} blocked_case;

static int fitting(int block, int channels) { return block && channels % block == 0 ? block : 0; }

static ld_tensor *fwd_blocked(ld_ctx *c, ld_tensor **x, void *u)
{
    const blocked_case *bc = u;
    const conv_case *cc = bc->cc;
    int xb = fitting(bc->x_block, x[0]->shape[1]);
    int yb = fitting(bc->y_block, x[1]->shape[cc->transposed ? 1 : 0]);
    *bc->blocked_runs += xb || yb;
    conv_case blocked = *cc;
    blocked.opts.block = yb;
    ld_tensor *y = conv_run(c, &blocked, ld_to_block(c, x[0], xb), x[1], cc->bias ? x[2] : NULL);
    return ld_to_block(c, y, 0);
}

static void test_blocked_vs_torch(void)
{
    static const int layouts[][2] = {{8, 8}, {0, 8}, {8, 0}, {16, 16}, {16, 8}};
    ld_st_file f;
    if (fixture_open("conv.safetensors", &f))
        return;
    int runs = 0;
    for (size_t l = 0; l < sizeof layouts / sizeof layouts[0]; l++)
        for (size_t i = 0; i < sizeof fixture_cases / sizeof fixture_cases[0]; i++) {
            const conv_case *cc = &fixture_cases[i];
            blocked_case bc = {cc, layouts[l][0], layouts[l][1], &runs};
            CHECK(fixture_case(&f, cc->name, 2 + cc->bias, fwd_blocked, &bc, case_atol(cc),
                               FIXTURE_RTOL),
                  "case %s, x block %d, y block %d", cc->name, layouts[l][0], layouts[l][1]);
        }
    ld_st_free(&f);
    CHECK(runs >= 10, "only %d runs had a blocked layout (the 16- and 32-channel cases)", runs);
}

/* Finite differences of convolutions between blocked layouts: x in 8 and
 * y in 16 (oneDNN's own layout on one side), and 3x3 and 5x5 ones with
 * both in 16 (Winograd F(4x4, k x k) on AVX-512). Winograd's sums are not
 * exact on the grid (its transforms divide by 6, 9, 24, 45 and 90): its
 * float32 error, ~1e-5 of outputs of ~10, would be noise of ~1e-2 in a
 * difference over eps 4e-3, so its cases have no activation (no kink to
 * stay away from) and eps 0.1. */
typedef struct blocked_grid_case {
    conv_case cc;
    int x_block;
    int x_shape[4], w_shape[4];
    double eps;
} blocked_grid_case;

static ld_tensor *fwd_blocked_grid(ld_ctx *c, ld_tensor **x, void *u)
{
    const blocked_grid_case *bg = u;
    ld_tensor *xb = ld_to_block(c, x[0], bg->x_block);
    return conv_run(c, &bg->cc, xb, x[1], bg->cc.bias ? x[2] : NULL);
}

static void test_blocked_gradients(void)
{
    ld_conv_opts leaky = {.stride = 1, .pad = 1, .act = LD_LEAKY(0.2f), .block = 16};
    ld_conv_opts relu = {.stride = 2, .pad = 0, .act = LD_RELU, .block = 16};
    ld_conv_opts plain5 = {.stride = 1, .pad = 2, .act = LD_NO_ACT, .block = 16};
    ld_conv_opts plain3 = {.stride = 1, .pad = 1, .act = LD_NO_ACT, .block = 16};
    const blocked_grid_case cases[] = {
        {{"fd blocked k3s1p1 bias leaky", 0, 1, leaky}, 8, {2, 8, 5, 7}, {16, 8, 3, 3}, FD_EPS},
        {{"fd blocked transposed k2s2 bias relu", 1, 1, relu}, 8, {2, 8, 5, 7}, {8, 16, 2, 2},
         FD_EPS},
        {{"fd blocked k5s1p2 16 -> 16 bias (Winograd)", 0, 1, plain5}, 16, {2, 16, 8, 9},
         {16, 16, 5, 5}, 0.1},
        {{"fd blocked k3s1p1 16 -> 16 bias (Winograd)", 0, 1, plain3}, 16, {2, 16, 9, 8},
         {16, 16, 3, 3}, 0.1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int cout = 16;
        ld_tensor *in[3] = {grid_random(4, cases[i].x_shape, 0.0f, 71),
                            grid_random(4, cases[i].w_shape, 0.0f, 72),
                            grid_random(1, &cout, BIAS_OFFSET, 73)};
        check_gradients(cases[i].cc.name, fwd_blocked_grid, in, 3, (void *)&cases[i],
                        cases[i].eps, FD_TOL, FD_POINTS);
        for (int k = 0; k < 3; k++)
            ld_tensor_heap_free(in[k]);
    }
}

/* Expects op to fail with `needle` in the message (and no crash). */
static void expect_fail(ld_ctx *c, ld_tensor *y, const char *what, const char *needle)
{
    CHECK(y == NULL && c->failed, "%s must fail", what);
    CHECK(strstr(c->err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, c->err.msg,
          needle);
    ld_ctx_reset(c);
}

static void test_shape_errors(void)
{
    ld_ctx *c = test_ctx();
    int xs[4] = {2, 3, 8, 8}, w_bad[4] = {4, 5, 3, 3}, w_ok[4] = {4, 3, 3, 3};
    int small[4] = {1, 3, 3, 3}, w5[4] = {4, 3, 5, 5}, x3[3] = {3, 8, 8}, b3 = 3;
    int wt[4] = {3, 4, 2, 2}, wt_bad[4] = {4, 3, 2, 2}, w_rect[4] = {4, 3, 3, 2};
#define T4(s) ld_tensor_zeros(c, 4, s)
    ld_conv_opts plain = OPTS(1, 1, LD_NO_ACT);
    expect_fail(c, ld_conv2d(c, T4(xs), T4(w_bad), NULL, plain),
                "conv2d channel mismatch", "has 3 channels but w [4, 5, 3, 3]");
    expect_fail(c, ld_conv2d(c, T4(small), T4(w5), NULL, OPTS(1, 0, LD_NO_ACT)),
                "conv2d kernel larger than input", "kernel 5x5 is larger than the padded input");
    CHECK(ld_conv2d(c, T4(small), T4(w5), NULL, plain) != NULL,
          "kernel 5 on a 3x3 input padded by 1 fits: %s", c->err.msg);
    ld_ctx_reset(c);
    expect_fail(c, ld_conv2d(c, ld_tensor_zeros(c, 3, x3), T4(w_ok), NULL, plain),
                "conv2d 3-D input", "x must be [N, C, H, W]");
    expect_fail(c, ld_conv2d(c, T4(xs), T4(w_rect), NULL, plain),
                "conv2d non-square kernel", "square kernel");
    ld_tensor *b_bad = ld_tensor_zeros(c, 1, &b3);
    expect_fail(c, ld_conv2d(c, T4(xs), T4(w_ok), b_bad, plain), "conv2d bias size",
                "b must be [4]");
    expect_fail(c, ld_conv2d(c, T4(xs), T4(w_ok), NULL, OPTS(-1, 1, LD_NO_ACT)),
                "conv2d negative stride", "stride -1");
    expect_fail(c, ld_conv2d(c, T4(xs), T4(w_ok), NULL, OPTS(1, 1, LD_LEAKY(-0.5f))),
                "conv2d negative leaky slope", "slope >= 0");
    ld_activation sigmoid = {LD_ACT_SIGMOID, 0.0f};
    expect_fail(c, ld_conv2d(c, T4(xs), T4(w_ok), NULL, OPTS(1, 1, sigmoid)),
                "conv2d sigmoid", "fused activation");
    expect_fail(c, ld_conv_transpose2d(c, T4(xs), T4(wt_bad), NULL, OPTS(2, 0, LD_NO_ACT)),
                "conv_transpose2d channel mismatch", "has 3 channels but w [4, 3, 2, 2]");
    expect_fail(c, ld_conv_transpose2d(c, T4(small), T4(wt), NULL, OPTS(1, 3, LD_NO_ACT)),
                "conv_transpose2d empty output", "output would be");
    /* layouts: a block that does not divide the channels, an unknown block,
     * blocked tensors given to ops that read NCHW only */
    int x16[4] = {2, 16, 4, 4}, w16[4] = {12, 16, 3, 3};
    expect_fail(c, ld_to_block(c, T4(xs), 8), "3 channels to block 8", "does not fit");
    expect_fail(c, ld_to_block(c, T4(x16), 5), "block 5", "does not fit");
    expect_fail(c, ld_to_block(c, ld_tensor_zeros(c, 3, x3), 8), "3-D to block",
                "x must be [N, C, H, W]");
    expect_fail(c, ld_conv2d(c, T4(x16), T4(w16), NULL, (ld_conv_opts){.pad = 1, .block = 8}),
                "12 output channels in block 8", "y's layout block 8");
    ld_tensor *blocked = ld_to_block(c, T4(x16), 8);
    expect_fail(c, ld_add(c, blocked, blocked), "add of blocked tensors", "channel-blocked");
    blocked = ld_to_block(c, T4(x16), 8);
    expect_fail(c, ld_reshape(c, blocked, 4, x16), "reshape of a blocked tensor",
                "channel-blocked");
    blocked = ld_to_block(c, T4(x16), 8);
    CHECK(ld_to_block(c, blocked, 8) == blocked, "to_block to its own layout returns x");
    ld_ctx_reset(c);
#undef T4
    CHECK(ld_conv2d(c, NULL, NULL, NULL, OPTS(1, 0, LD_NO_ACT)) == NULL && !c->failed,
          "NULL inputs propagate without a new error");
}

/* ---- bfloat16 products ----------------------------------------------------- */

/* Largest |got - want| over the largest |want|. */
static double relative_error(const float *got, const double *want, size_t n)
{
    double err = 0, scale = 0;
    for (size_t i = 0; i < n; i++) {
        err = fmax(err, fabs(got[i] - want[i]));
        scale = fmax(scale, fabs(want[i]));
    }
    return err / scale;
}

/* Each pass of a bf16 convolution equals, to float32 summation error, the
 * double-precision pass over the bfloat16-rounded operands (x and w in the
 * forward, dy and w in the data gradient, dy and x in the weight
 * gradient), and differs from the unrounded one by bfloat16's rounding:
 * the operands really are rounded, and only they. In the network's layout
 * (16-channel blocks) and in NCHW; 3x3 and 5x5. */
static void check_bf16_passes(const int xs[4], const int ws[4], int block)
{
    ld_ctx *c = test_ctx();
    ld_ctx_reset(c);
    c->conv_precision = LD_PRECISION_BF16;
    ld_tensor *x = test_random(4, xs, -1, 1, 1, 61), *w = test_random(4, ws, -0.2f, 0.2f, 1, 62);
    ld_tensor *y = ld_conv2d(c, ld_to_block(c, x, block), w, NULL,
                             (ld_conv_opts){.pad = ws[2] / 2, .block = block});
    y = ld_to_block(c, y, 0);
    float *dy = y ? ld_grad(c, y) : NULL;
    for (size_t i = 0; dy && i < y->numel; i++)
        dy[i] = (float)((i * 7919) % 1000) / 500.0f - 1.0f + 1e-3f * (float)(i % 7);
    int ok = dy && !ld_tape_replay(c);
    CHECK(ok, "bf16 %dx%d, block %d: %s", ws[2], ws[2], block, c->err.msg);
    if (ok) {
        /* operands and reference passes: [0] rounded to bfloat16, [1] exact */
        const float *in[3] = {x->data, w->data, dy};
        size_t sizes[3] = {y->numel, x->numel, w->numel}, in_sizes[3] = {x->numel, w->numel,
                                                                           y->numel};
        double *op[2][3], *ref[2][3];
        for (int r = 0; r < 2; r++) {
            for (int p = 0; p < 3; p++) {
                op[r][p] = widen(in[p], in_sizes[p], r == 0);
                ref[r][p] = malloc(sizes[p] * sizeof(double));
            }
            reference_passes(ref[r][0], ref[r][1], ref[r][2], op[r][0], op[r][1], op[r][2], xs,
                             ws, ws[2] / 2);
        }
        const float *got[3] = {y->data, x->grad, w->grad};
        static const char *pass[3] = {"forward", "data gradient", "weight gradient"};
        for (int p = 0; p < 3; p++) {
            double rounded = relative_error(got[p], ref[0][p], sizes[p]);
            double exact = relative_error(got[p], ref[1][p], sizes[p]);
            CHECK(rounded < 2e-6 && exact > 1e-4 && exact < 1e-2,
                  "bf16 %dx%d, block %d, %s: error %.2e against the rounded operands (want "
                  "< 2e-6), %.2e against the exact ones (want bfloat16's 1e-4 .. 1e-2)",
                  ws[2], ws[2], block, pass[p], rounded, exact);
        }
        for (int r = 0; r < 2; r++)
            for (int p = 0; p < 3; p++) {
                free(op[r][p]);
                free(ref[r][p]);
            }
    }
    ld_tensor_heap_free(x);
    ld_tensor_heap_free(w);
}

static int skip_without_bf16(void)
{
    if (ld_conv_has_bf16(test_ctx()))
        return 0;
    test_skip("this CPU has no AMX tiles for bfloat16 products");
    return 1;
}

static void test_bf16_vs_rounded_reference(void)
{
    if (skip_without_bf16())
        return;
    const int xs[4] = {4, 16, 12, 12}, w3[4] = {16, 16, 3, 3}, w5[4] = {32, 16, 5, 5};
    check_bf16_passes(xs, w3, 16);
    check_bf16_passes(xs, w5, 16);
    check_bf16_passes(xs, w3, 0);
}

/* The cases of tests/fixtures/conv_bf16.safetensors (gen_conv.py:
 * PyTorch over operands rounded as latdyn rounds them, so only the order
 * of float32 sums differs; FIXTURE_ATOL / RTOL as for float32), in NCHW
 * and in 16-channel blocks where the channels allow. */
static ld_tensor *fwd_bf16(ld_ctx *c, ld_tensor **x, void *u)
{
    c->conv_precision = LD_PRECISION_BF16;
    return fwd_blocked(c, x, u);
}

static void test_bf16_vs_torch(void)
{
    ld_st_file f;
    if (skip_without_bf16() || fixture_open("conv_bf16.safetensors", &f))
        return;
    int runs = 0, cases = 0;
    char name[96];
    for (int block = 0; block <= 16; block += 16)
        for (size_t i = 0; i < sizeof fixture_cases / sizeof fixture_cases[0]; i++) {
            const conv_case *cc = &fixture_cases[i];
            snprintf(name, sizeof name, "%s.y", cc->name);
            if (!ld_st_find(&f, name))
                continue; /* a float32 direct-loop case */
            blocked_case bc = {cc, block, block, &runs};
            cases++;
            CHECK(fixture_case(&f, cc->name, 2 + cc->bias, fwd_bf16, &bc, FIXTURE_ATOL,
                               FIXTURE_RTOL),
                  "case %s with bfloat16 products, block %d", cc->name, block);
        }
    ld_st_free(&f);
    CHECK(cases == 52, "%d of the 26 bfloat16 cases (twice) found in the fixture", cases);
}

/* A backend without hardware bfloat16 refuses bf16 convolutions with a
 * message saying why, and float32 ones still run. */
static int no_bf16(void) { return 0; }

static void test_bf16_unavailable(void)
{
    const ld_backend *cpu = ld_backend_cpu();
    struct ld_conv_kernels conv = *cpu->conv;
    conv.has_bf16 = no_bf16;
    ld_backend plain = *cpu;
    plain.conv = &conv;
    ld_ctx c;
    ld_ctx_init(&c, &plain, 1);
    int xs[4] = {1, 2, 6, 6}, ws[4] = {4, 2, 3, 3};
    ld_tensor *x = test_random(4, xs, -1, 1, 0, 71), *w = test_random(4, ws, -1, 1, 0, 72);
    CHECK(ld_conv2d(&c, x, w, NULL, OPTS(1, 1, LD_NO_ACT)) != NULL, "float32: %s", c.err.msg);
    c.conv_precision = LD_PRECISION_BF16;
    expect_fail(&c, ld_conv2d(&c, x, w, NULL, OPTS(1, 1, LD_NO_ACT)), "bf16 without hardware",
                "bfloat16 precision needs fast hardware bfloat16 products");
    ld_ctx_free(&c);
    ld_tensor_heap_free(x);
    ld_tensor_heap_free(w);
}

LD_TEST_SUITE(conv) = {
    {"vs_torch", test_vs_torch},
    {"gradients", test_gradients},
    {"chained_and_reused", test_chained_and_reused},
    {"partial_gradients", test_partial_gradients},
    {"large_vs_reference", test_large_vs_reference},
    {"winograd_vs_reference", test_winograd_vs_reference},
    {"repeat_and_inference", test_repeat_and_inference},
    {"shape_errors", test_shape_errors},
    {"layout_vs_torch", test_layout_vs_torch},
    {"blocked_vs_torch", test_blocked_vs_torch},
    {"blocked_gradients", test_blocked_gradients},
    {"bf16_vs_rounded_reference", test_bf16_vs_rounded_reference},
    {"bf16_vs_torch", test_bf16_vs_torch},
    {"bf16_unavailable", test_bf16_unavailable},
    {NULL, NULL},
};
