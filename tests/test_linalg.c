/* Tests of the linear-algebra family (linear, matmul): PyTorch fixtures,
 * finite differences and shape errors. */
#include <stdio.h>
#include <string.h>

#include "ops/elementwise.h"
#include "ops/linalg.h"
#include "test.h"

/* How a test forward calls the op. fresh_inputs passes every input through
 * an identity op first, so the inputs' gradients are fresh arena buffers
 * (the overwrite path of ld_grad_dest) instead of the heap ones. */
typedef struct linalg_opts {
    ld_activation act;
    int trans_a, trans_b;
    int fresh_inputs;
} linalg_opts;

static ld_tensor *maybe_fresh(ld_ctx *c, ld_tensor *x, const linalg_opts *o)
{
    return o->fresh_inputs && x ? ld_scale(c, x, 1.0f, 0.0f) : x;
}

static ld_tensor *fwd_linear(ld_ctx *c, ld_tensor **x, void *u)
{
    const linalg_opts *o = u;
    return ld_linear(c, maybe_fresh(c, x[0], o), maybe_fresh(c, x[1], o),
                     maybe_fresh(c, x[2], o), o->act);
}

static ld_tensor *fwd_linear_nobias(ld_ctx *c, ld_tensor **x, void *u)
{
    const linalg_opts *o = u;
    return ld_linear(c, maybe_fresh(c, x[0], o), maybe_fresh(c, x[1], o), NULL, o->act);
}

static ld_tensor *fwd_matmul(ld_ctx *c, ld_tensor **x, void *u)
{
    const linalg_opts *o = u;
    return ld_matmul(c, maybe_fresh(c, x[0], o), maybe_fresh(c, x[1], o), o->trans_a,
                     o->trans_b);
}

/* The same linear layer on the same input twice, summed: every gradient
 * arrives twice, so the second backward must add to the first. */
static ld_tensor *fwd_linear_twice(ld_ctx *c, ld_tensor **x, void *u)
{
    return ld_add(c, fwd_linear(c, x, u), fwd_linear(c, x, u));
}

/* a a^T with one tensor in both places: both gradients land in one buffer. */
static ld_tensor *fwd_gram(ld_ctx *c, ld_tensor **x, void *u)
{
    const linalg_opts *o = u;
    ld_tensor *a = maybe_fresh(c, x[0], o);
    return ld_matmul(c, a, a, 0, 1);
}

static void test_vs_torch(void)
{
    ld_st_file f;
    if (fixture_open("linalg.safetensors", &f))
        return;
    linalg_opts none = {LD_NO_ACT, 0, 0, 0}, relu = {LD_RELU, 0, 0, 0};
    linalg_opts leaky = {LD_LEAKY(0.2f), 0, 0, 0}, tanh_act = {{LD_ACT_TANH, 0.0f}, 0, 0, 0};
    linalg_opts t[4] = {{LD_NO_ACT, 0, 0, 0}, {LD_NO_ACT, 0, 1, 0}, {LD_NO_ACT, 1, 0, 0},
                        {LD_NO_ACT, 1, 1, 0}};
    struct {
        const char *name;
        int n;
        test_forward_fn fn;
        linalg_opts *opts;
        double tol;
    } cases[] = {
        {"linear_bias", 3, fwd_linear, &none, 1e-5},
        {"linear_nobias", 2, fwd_linear_nobias, &none, 1e-5},
        {"linear_relu_3d", 3, fwd_linear, &relu, 1e-5},
        {"linear_leaky", 3, fwd_linear, &leaky, 1e-5},
        {"linear_tanh", 3, fwd_linear, &tanh_act, 1e-5},
        {"matmul_t00", 2, fwd_matmul, &t[0], 1e-5},
        {"matmul_t01", 2, fwd_matmul, &t[1], 1e-5},
        {"matmul_t10", 2, fwd_matmul, &t[2], 1e-5},
        {"matmul_t11", 2, fwd_matmul, &t[3], 1e-5},
        {"matmul_2d", 2, fwd_matmul, &none, 1e-5},
        {"matmul_4d", 2, fwd_matmul, &none, 1e-5},
        {"matmul_large", 2, fwd_matmul, &none, 1e-4},
        {"linear_large_relu", 3, fwd_linear, &relu, 1e-4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(fixture_case(&f, cases[i].name, cases[i].n, cases[i].fn, cases[i].opts,
                           cases[i].tol, cases[i].tol),
              "case %s", cases[i].name);
    ld_st_free(&f);
}

static void test_linear_gradients(void)
{
    int sx[3] = {3, 7, 5}, sw[2] = {4, 5}, sb[1] = {4};
    ld_tensor *x = test_random(3, sx, -1, 1, 1, 1), *w = test_random(2, sw, -1, 1, 1, 2);
    ld_tensor *b = test_random(1, sb, -1, 1, 1, 3);
    ld_tensor *in[3] = {x, w, b};
    struct {
        const char *name;
        linalg_opts opts;
        double eps;
    } cases[] = {
        {"linear", {LD_NO_ACT, 0, 0, 0}, 1e-2},
        {"linear fresh grads", {LD_NO_ACT, 0, 0, 1}, 1e-2},
        {"linear relu", {LD_RELU, 0, 0, 0}, 1e-3},
        {"linear leaky", {LD_LEAKY(0.1f), 0, 0, 1}, 1e-3},
        {"linear sigmoid", {{LD_ACT_SIGMOID, 0.0f}, 0, 0, 0}, 1e-2},
        {"linear tanh", {{LD_ACT_TANH, 0.0f}, 0, 0, 0}, 1e-2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_gradients(cases[i].name, fwd_linear, in, 3, &cases[i].opts, cases[i].eps, 1e-2,
                        60);
    linalg_opts plain = {LD_NO_ACT, 0, 0, 0}, tanh_fresh = {{LD_ACT_TANH, 0.0f}, 0, 0, 1};
    check_gradients("linear without bias", fwd_linear_nobias, in, 2, &plain, 1e-2, 1e-2, 60);
    check_gradients("linear twice (gradients accumulate)", fwd_linear_twice, in, 3, &plain, 1e-2,
                    1e-2, 60);
    check_gradients("linear twice, fresh", fwd_linear_twice, in, 3, &tanh_fresh, 1e-2, 1e-2, 60);
    ld_tensor_heap_free(x);
    ld_tensor_heap_free(w);
    ld_tensor_heap_free(b);
}

static void test_matmul_gradients(void)
{
    /* op(a) [3, 5, 7], op(b) [3, 7, 3] for every transpose combination */
    int sa[3] = {3, 5, 7}, sat[3] = {3, 7, 5}, sb[3] = {3, 7, 3}, sbt[3] = {3, 3, 7};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            ld_tensor *a = test_random(3, ta ? sat : sa, -1, 1, 1, 10 + (unsigned)ta);
            ld_tensor *b = test_random(3, tb ? sbt : sb, -1, 1, 1, 20 + (unsigned)tb);
            ld_tensor *in[2] = {a, b};
            for (int fresh = 0; fresh < 2; fresh++) {
                char name[64];
                snprintf(name, sizeof name, "matmul trans %d %d%s", ta, tb,
                         fresh ? " fresh grads" : "");
                linalg_opts o = {LD_NO_ACT, ta, tb, fresh};
                check_gradients(name, fwd_matmul, in, 2, &o, 1e-2, 1e-2, 50);
            }
            ld_tensor_heap_free(a);
            ld_tensor_heap_free(b);
        }
    int s2[2] = {5, 3};
    ld_tensor *g = test_random(2, s2, -1, 1, 1, 30);
    linalg_opts fresh = {LD_NO_ACT, 0, 1, 1};
    check_gradients("gram a a^T (one input twice)", fwd_gram, &g, 1, &fresh, 1e-2, 1e-2, 50);
    ld_tensor_heap_free(g);
}

/* Runs f and checks that it fails with a message containing every string of
 * `want` (NULL-terminated). */
static void expect_failure(const char *what, ld_tensor *y, const char *const *want)
{
    ld_ctx *c = test_ctx();
    CHECK(y == NULL && c->failed, "%s must fail", what);
    for (const char *const *w = want; *w; w++)
        CHECK(strstr(c->err.msg, *w) != NULL, "%s: message lacks '%s': %s", what, *w,
              c->err.msg);
    ld_ctx_reset(c);
}

static void test_shape_errors(void)
{
    ld_ctx *c = test_ctx();
    int sx[2] = {6, 5}, sw[2] = {4, 6}, sb[1] = {3}, sw_ok[2] = {4, 5};
    expect_failure("linear with mismatched inner dims",
                   ld_linear(c, ld_tensor_zeros(c, 2, sx), ld_tensor_zeros(c, 2, sw), NULL,
                             LD_NO_ACT),
                   (const char *[]){"linear", "[6, 5]", "[4, 6]", NULL});
    expect_failure("linear with a bias of the wrong size",
                   ld_linear(c, ld_tensor_zeros(c, 2, sx), ld_tensor_zeros(c, 2, sw_ok),
                             ld_tensor_zeros(c, 1, sb), LD_NO_ACT),
                   (const char *[]){"bias", "[3]", NULL});
    expect_failure("linear with a negative leaky slope",
                   ld_linear(c, ld_tensor_zeros(c, 2, sx), ld_tensor_zeros(c, 2, sw_ok), NULL,
                             LD_LEAKY(-0.5f)),
                   (const char *[]){"activation", NULL});
    int sa[3] = {2, 4, 5}, sbm[3] = {2, 4, 3}, sbb[3] = {3, 5, 3};
    expect_failure("matmul with mismatched inner dims",
                   ld_matmul(c, ld_tensor_zeros(c, 3, sa), ld_tensor_zeros(c, 3, sbm), 0, 0),
                   (const char *[]){"inner", "[2, 4, 5]", "[2, 4, 3]", NULL});
    expect_failure("matmul with different batch dims",
                   ld_matmul(c, ld_tensor_zeros(c, 3, sa), ld_tensor_zeros(c, 3, sbb), 0, 0),
                   (const char *[]){"batch", NULL});
    /* the transposed a [2, 4, 5] is [2, 5, 4]: inner 4 matches b [2, 4, 3] */
    ld_tensor *y = ld_matmul(c, ld_tensor_zeros(c, 3, sa), ld_tensor_zeros(c, 3, sbm), 1, 0);
    CHECK(y && y->shape[1] == 5 && y->shape[2] == 3, "a^T b has shape [2, 5, 3]");
    ld_ctx_reset(c);
    CHECK(ld_linear(c, NULL, NULL, NULL, LD_NO_ACT) == NULL && !c->failed,
          "NULL inputs propagate without a new error");
    CHECK(ld_matmul(c, NULL, NULL, 0, 0) == NULL && !c->failed,
          "NULL inputs propagate without a new error");
}

LD_TEST_SUITE(linalg) = {
    {"vs_torch", test_vs_torch},
    {"linear_gradients", test_linear_gradients},
    {"matmul_gradients", test_matmul_gradients},
    {"shape_errors", test_shape_errors},
    {NULL, NULL},
};
