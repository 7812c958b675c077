/* Tests of the normalisation family (batch norm in training and evaluation
 * mode, layer norm): PyTorch fixtures including the running statistics,
 * finite differences, and shape errors. */
#include <stdio.h>
#include <string.h>

#include "ops/elementwise.h"
#include "ops/norm.h"
#include "test.h"

/* How a test forward calls the op. With f set, a batch-norm forward also
 * compares the updated running statistics with CASE.rm_after / rv_after.
 * fresh: the inputs pass through an identity op first so that their
 * gradients are fresh arena buffers (the overwrite path). */
typedef struct norm_opts {
    const ld_st_file *f;
    const char *name;
    float momentum, eps;
    int training;
    int fresh;
} norm_opts;

static ld_tensor *maybe_fresh(ld_ctx *c, ld_tensor *x, const norm_opts *o)
{
    return o->fresh ? ld_scale(c, x, 1.0f, 0.0f) : x;
}

/* x[0] x, x[1] gamma, x[2] beta, x[3] running mean, x[4] running var */
static ld_tensor *fwd_batchnorm(ld_ctx *c, ld_tensor **x, void *u)
{
    const norm_opts *o = u;
    x[3]->requires_grad = x[4]->requires_grad = 0; /* state, not inputs */
    c->training = o->training;
    ld_tensor *y = ld_batchnorm(c, maybe_fresh(c, x[0], o), maybe_fresh(c, x[1], o),
                                maybe_fresh(c, x[2], o), x[3], x[4], o->momentum, o->eps);
    c->training = 1;
    if (y && o->f) {
        char name[96];
        snprintf(name, sizeof name, "%s.rm_after", o->name);
        fixture_check(o->f, name, x[3]->data, x[3]->numel, 1e-6, 1e-5);
        snprintf(name, sizeof name, "%s.rv_after", o->name);
        fixture_check(o->f, name, x[4]->data, x[4]->numel, 1e-6, 1e-5);
    }
    return y;
}

static ld_tensor *fwd_layernorm(ld_ctx *c, ld_tensor **x, void *u)
{
    const norm_opts *o = u;
    return ld_layernorm(c, maybe_fresh(c, x[0], o), maybe_fresh(c, x[1], o),
                        maybe_fresh(c, x[2], o), o->eps);
}

static void test_vs_torch(void)
{
    ld_st_file f;
    if (fixture_open("norm.safetensors", &f))
        return;
    static const char *const bn[] = {"bn_train4d", "bn_train2d", "bn_eval4d", "bn_eval2d"};
    static const char *const ln[] = {"ln5", "ln128"};
    char key[96];
    for (int fresh = 0; fresh < 2; fresh++) {
        for (size_t i = 0; i < sizeof bn / sizeof bn[0]; i++) {
            norm_opts o = {&f, bn[i], 0, 0, 0, fresh};
            snprintf(key, sizeof key, "%s.momentum", bn[i]);
            o.momentum = (float)fixture_double(&f, key);
            snprintf(key, sizeof key, "%s.eps", bn[i]);
            o.eps = (float)fixture_double(&f, key);
            snprintf(key, sizeof key, "%s.training", bn[i]);
            o.training = fixture_int(&f, key);
            CHECK(fixture_case(&f, bn[i], 5, fwd_batchnorm, &o, 2e-5, 2e-4), "case %s (fresh %d)",
                  bn[i], fresh);
        }
        for (size_t i = 0; i < sizeof ln / sizeof ln[0]; i++) {
            norm_opts o = {NULL, ln[i], 0, 0, 1, fresh};
            snprintf(key, sizeof key, "%s.eps", ln[i]);
            o.eps = (float)fixture_double(&f, key);
            CHECK(fixture_case(&f, ln[i], 3, fwd_layernorm, &o, 2e-5, 2e-4), "case %s (fresh %d)",
                  ln[i], fresh);
        }
    }
    ld_st_free(&f);
}

/* Batch-norm inputs for x of the given shape: x, gamma, beta with
 * gradients; running statistics without (variance positive). */
static void batchnorm_inputs(ld_tensor **in, int ndim, const int *shape, unsigned seed)
{
    int c[1] = {shape[1]};
    in[0] = test_random(ndim, shape, -2, 3, 1, seed);
    in[1] = test_random(1, c, 0.5f, 1.5f, 1, seed + 1);
    in[2] = test_random(1, c, -1, 1, 1, seed + 2);
    in[3] = test_random(1, c, -0.5f, 0.5f, 0, seed + 3);
    in[4] = test_random(1, c, 0.5f, 1.5f, 0, seed + 4);
}

static void free_inputs(ld_tensor **in, int n)
{
    for (int i = 0; i < n; i++)
        ld_tensor_heap_free(in[i]);
}

static void test_batchnorm_gradients(void)
{
    int s4[4] = {3, 4, 7, 5}, s2[2] = {3, 5};
    ld_tensor *in4[5], *in2[5];
    batchnorm_inputs(in4, 4, s4, 51);
    batchnorm_inputs(in2, 2, s2, 61);
    for (int training = 0; training < 2; training++) {
        norm_opts o = {NULL, NULL, 0.1f, 1e-5f, training, 0};
        check_gradients(training ? "batchnorm 4d train" : "batchnorm 4d eval", fwd_batchnorm,
                        in4, 5, &o, 1e-2, 5e-3, 60);
        check_gradients(training ? "batchnorm 2d train" : "batchnorm 2d eval", fwd_batchnorm,
                        in2, 5, &o, 1e-2, 5e-3, 60);
    }
    free_inputs(in4, 5);
    free_inputs(in2, 5);
}

static void test_layernorm_gradients(void)
{
    const int shapes[2][3] = {{3, 4, 5}, {2, 3, 128}};
    for (int s = 0; s < 2; s++) {
        int d[1] = {shapes[s][2]};
        ld_tensor *in[3] = {test_random(3, shapes[s], -2, 2, 1, 71),
                            test_random(1, d, 0.5f, 1.5f, 1, 72), test_random(1, d, -1, 1, 1, 73)};
        norm_opts o = {NULL, NULL, 0, 1e-5f, 1, 0};
        check_gradients(s ? "layernorm D=128" : "layernorm D=5", fwd_layernorm, in, 3, &o, 1e-2,
                        5e-3, 60);
        free_inputs(in, 3);
    }
}

/* Evaluation mode leaves the running statistics alone; training with one
 * value per channel is refused. */
static void test_batchnorm_modes(void)
{
    ld_ctx *c = test_ctx();
    int s4[4] = {2, 3, 4, 4};
    ld_tensor *in[5];
    batchnorm_inputs(in, 4, s4, 81);
    float rm[3], rv[3];
    memcpy(rm, in[3]->data, sizeof rm);
    memcpy(rv, in[4]->data, sizeof rv);
    c->training = 0;
    CHECK(ld_batchnorm(c, in[0], in[1], in[2], in[3], in[4], 0.1f, 1e-5f) != NULL, "eval: %s",
          c->err.msg);
    CHECK(memcmp(rm, in[3]->data, sizeof rm) == 0 && memcmp(rv, in[4]->data, sizeof rv) == 0,
          "evaluation must not move the running statistics");
    c->training = 1;
    CHECK(ld_batchnorm(c, in[0], in[1], in[2], in[3], in[4], 0.1f, 1e-5f) != NULL, "train: %s",
          c->err.msg);
    CHECK(memcmp(rm, in[3]->data, sizeof rm) != 0, "training moves the running mean");
    ld_ctx_reset(c);
    int s1[4] = {1, 3, 1, 1};
    ld_tensor *x1 = ld_tensor_zeros(c, 4, s1);
    CHECK(ld_batchnorm(c, x1, in[1], in[2], in[3], in[4], 0.1f, 1e-5f) == NULL && c->failed,
          "training on one value per channel must fail");
    CHECK(strstr(c->err.msg, "more than one value") != NULL, "message: %s", c->err.msg);
    free_inputs(in, 5);
}

/* Calls op_call with fresh tensors x [3, 4, 7, 5], v4 [4], v5 [5] and
 * checks that it fails with a message containing `want`. */
typedef ld_tensor *(*norm_call)(ld_ctx *c, ld_tensor *x, ld_tensor *v4, ld_tensor *v5);

static void expect_error(const char *what, norm_call op_call, const char *want)
{
    ld_ctx *c = test_ctx();
    ld_ctx_reset(c);
    int s4[4] = {3, 4, 7, 5}, s4v[1] = {4}, s5v[1] = {5};
    ld_tensor *x = ld_tensor_zeros(c, 4, s4), *v4 = ld_tensor_zeros(c, 1, s4v);
    ld_tensor *v5 = ld_tensor_zeros(c, 1, s5v);
    CHECK(op_call(c, x, v4, v5) == NULL && c->failed, "%s must fail", what);
    CHECK(strstr(c->err.msg, want) != NULL, "%s: message '%s' lacks '%s'", what, c->err.msg,
          want);
}

static ld_tensor *bn_gamma5(ld_ctx *c, ld_tensor *x, ld_tensor *v4, ld_tensor *v5)
{
    return ld_batchnorm(c, x, v5, v4, v4, v4, 0.1f, 1e-5f);
}
static ld_tensor *bn_var5(ld_ctx *c, ld_tensor *x, ld_tensor *v4, ld_tensor *v5)
{
    return ld_batchnorm(c, x, v4, v4, v4, v5, 0.1f, 1e-5f);
}
static ld_tensor *bn_momentum(ld_ctx *c, ld_tensor *x, ld_tensor *v4, ld_tensor *v5)
{
    (void)v5;
    return ld_batchnorm(c, x, v4, v4, v4, v4, 1.5f, 1e-5f);
}
static ld_tensor *bn_1d(ld_ctx *c, ld_tensor *x, ld_tensor *v4, ld_tensor *v5)
{
    (void)x, (void)v5;
    return ld_batchnorm(c, v4, v4, v4, v4, v4, 0.1f, 1e-5f);
}
static ld_tensor *ln_gamma4(ld_ctx *c, ld_tensor *x, ld_tensor *v4, ld_tensor *v5)
{
    return ld_layernorm(c, x, v4, v5, 1e-5f);
}

static void test_errors(void)
{
    expect_error("batchnorm with gamma [5] for 4 channels", bn_gamma5,
                 "batchnorm: gamma has shape [5], needs [4] for x [3, 4, 7, 5]");
    expect_error("batchnorm with running_var [5]", bn_var5, "running_var has shape [5]");
    expect_error("batchnorm with momentum 1.5", bn_momentum, "momentum 1.5");
    expect_error("batchnorm of a 1-D tensor", bn_1d, "x must be [N, C, ...], got [4]");
    expect_error("layernorm with gamma [4] for D = 5", ln_gamma4,
                 "layernorm: gamma has shape [4], needs [5] for x [3, 4, 7, 5]");
    ld_ctx *c = test_ctx();
    ld_ctx_reset(c);
    CHECK(ld_layernorm(c, NULL, NULL, NULL, 1e-5f) == NULL && !c->failed,
          "NULL inputs propagate");
}

LD_TEST_SUITE(norm) = {
    {"vs_torch", test_vs_torch},
    {"batchnorm_gradients", test_batchnorm_gradients},
    {"layernorm_gradients", test_layernorm_gradients},
    {"batchnorm_modes", test_batchnorm_modes},
    {"errors", test_errors},
    {NULL, NULL},
};
