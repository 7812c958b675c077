/* Tests of the pooling family (maxpool2d): PyTorch fixtures for forward and
 * gradient, finite differences on odd sizes (fresh and accumulated
 * gradients), shape errors. */
#include <string.h>

#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/pool.h"
#include "test.h"

/* Max pooling copies values: fixtures match exactly up to float32 noise. */
#define FIXTURE_TOL 1e-6
/* Inputs are distinct multiples of 0.01 (see distinct_values), so eps 1e-3
 * never changes which element is a window's maximum: exact up to rounding. */
#define FD_EPS 1e-3
#define FD_TOL 1e-3
#define FD_POINTS 80

typedef struct pool_case {
    const char *name; /* in tests/fixtures/pool.safetensors */
    int k, stride;
} pool_case;

static ld_tensor *fwd_case(ld_ctx *c, ld_tensor **x, void *u)
{
    const pool_case *pc = u;
    return ld_maxpool2d(c, x[0], pc->k, pc->stride);
}

static void test_vs_torch(void)
{
    static const pool_case cases[] = {
        {"k2s2_even", 2, 2}, {"k2s2_odd", 2, 2}, {"k3s2_odd", 3, 2},
        {"k3s1", 3, 1},      {"k2s2_c16", 2, 2},
    };
    ld_st_file f;
    if (fixture_open("pool.safetensors", &f))
        return;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(fixture_case(&f, cases[i].name, 1, fwd_case, (void *)&cases[i], FIXTURE_TOL,
                           FIXTURE_TOL),
              "case %s", cases[i].name);
    ld_st_free(&f);
}

/* The 16-channel case with x (and so y) in the channel-blocked layouts. */
static ld_tensor *fwd_blocked(ld_ctx *c, ld_tensor **x, void *u)
{
    const int *block = u;
    return test_unblock(c, ld_maxpool2d(c, ld_to_block(c, x[0], *block), 2, 2), *block,
                        "maxpool2d");
}

static void test_blocked_vs_torch(void)
{
    static const int blocks[] = {8, 16};
    ld_st_file f;
    if (fixture_open("pool.safetensors", &f))
        return;
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        CHECK(fixture_case(&f, "k2s2_c16", 1, fwd_blocked, (void *)&blocks[i], FIXTURE_TOL,
                           FIXTURE_TOL),
              "block %d", blocks[i]);
    ld_st_free(&f);
}

/* A heap tensor holding 0.01 * (a permutation of 0 .. numel-1), centred. */
static ld_tensor *distinct_values(int ndim, const int *shape)
{
    enum { PRIME = 7919 };
    ld_tensor *t = ld_tensor_heap(ndim, shape, 1);
    if (!t || t->numel % PRIME == 0) {
        TEST_FAIL("distinct_values: %zu elements", t ? t->numel : 0);
        return t;
    }
    for (size_t i = 0; i < t->numel; i++)
        t->data[i] = 0.01f * (float)((i * PRIME) % t->numel) - 0.005f * (float)t->numel;
    return t;
}

/* x pooled directly and through an intermediate: the intermediate's
 * gradient is written fresh; the backward of the direct pooling (replayed
 * last) must add to what the scale already put into x's gradient. */
static ld_tensor *fwd_intermediate_and_twice(ld_ctx *c, ld_tensor **x, void *u)
{
    (void)u;
    ld_tensor *direct = ld_maxpool2d(c, x[0], 2, 2);
    ld_tensor *scaled = ld_scale(c, x[0], 1.5f, 0.25f);
    return ld_add(c, direct, ld_maxpool2d(c, scaled, 2, 2));
}

static void test_gradients(void)
{
    static const pool_case cases[] = {
        {"fd k2s2 on 7x5", 2, 2}, {"fd k3s2 on 7x5", 3, 2}, {"fd k3s1 on 7x5", 3, 1},
        {"fd k2 default stride", 2, 0},
    };
    int shape[4] = {3, 5, 7, 5};
    ld_tensor *x = distinct_values(4, shape);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_gradients(cases[i].name, fwd_case, &x, 1, (void *)&cases[i], FD_EPS, FD_TOL,
                        FD_POINTS);
    check_gradients("fd intermediate and twice", fwd_intermediate_and_twice, &x, 1, NULL,
                    FD_EPS, FD_TOL, FD_POINTS);
    ld_tensor_heap_free(x);
}

static void test_output_shape(void)
{
    ld_ctx *c = test_ctx();
    int shape[4] = {2, 3, 7, 5};
    ld_tensor *x = ld_tensor_zeros(c, 4, shape);
    ld_tensor *y = ld_maxpool2d(c, x, 2, 2), *z = ld_maxpool2d(c, x, 3, 1);
    CHECK(y && y->shape[0] == 2 && y->shape[1] == 3 && y->shape[2] == 3 && y->shape[3] == 2,
          "7x5 pooled 2x2 stride 2 must be 3x2");
    CHECK(z && z->shape[2] == 5 && z->shape[3] == 3, "7x5 pooled 3x3 stride 1 must be 5x3");
}

static void test_shape_errors(void)
{
    ld_ctx *c = test_ctx();
    int s4[4] = {2, 3, 3, 5}, s3[3] = {3, 8, 8};
    CHECK(ld_maxpool2d(c, ld_tensor_zeros(c, 4, s4), 4, 2) == NULL && c->failed,
          "window larger than the input must fail");
    CHECK(strstr(c->err.msg, "window 4x4 is larger than the input 3x5") != NULL,
          "message names the problem: %s", c->err.msg);
    ld_ctx_reset(c);
    CHECK(ld_maxpool2d(c, ld_tensor_zeros(c, 3, s3), 2, 2) == NULL && c->failed &&
              strstr(c->err.msg, "x must be [N, C, H, W]") != NULL,
          "3-D input must fail clearly: %s", c->err.msg);
    ld_ctx_reset(c);
    CHECK(ld_maxpool2d(c, ld_tensor_zeros(c, 4, s4), 0, 1) == NULL && c->failed &&
              strstr(c->err.msg, "must be >= 1") != NULL,
          "window 0 must fail clearly: %s", c->err.msg);
    ld_ctx_reset(c);
    CHECK(ld_maxpool2d(c, NULL, 2, 2) == NULL && !c->failed, "NULL input propagates");
}

LD_TEST_SUITE(pool) = {
    {"vs_torch", test_vs_torch},
    {"blocked_vs_torch", test_blocked_vs_torch},
    {"gradients", test_gradients},
    {"output_shape", test_output_shape},
    {"shape_errors", test_shape_errors},
    {NULL, NULL},
};
