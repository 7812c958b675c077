/* Tests of the standalone activations: PyTorch fixtures, finite
 * differences, and bad options. */
#include <math.h>
#include <string.h>

#include "ops/act.h"
#include "ops/elementwise.h"
#include "test.h"

/* The activation under test; fresh passes x through an identity op first so
 * that its gradient is a fresh arena buffer (the overwrite path) instead of
 * the heap one (the accumulate path). */
typedef struct act_opts {
    ld_activation act;
    int fresh;
} act_opts;

static ld_tensor *fwd_act(ld_ctx *c, ld_tensor **x, void *u)
{
    const act_opts *o = u;
    return ld_activate(c, o->fresh ? ld_scale(c, x[0], 1.0f, 0.0f) : x[0], o->act);
}

/* The activation of one input twice, summed: the second backward adds. */
static ld_tensor *fwd_act_twice(ld_ctx *c, ld_tensor **x, void *u)
{
    return ld_add(c, fwd_act(c, x, u), fwd_act(c, x, u));
}

static const struct {
    const char *name;
    ld_activation act;
} kinds[] = {
    {"relu", {LD_ACT_RELU, 0.0f}},
    {"leaky_relu", {LD_ACT_LEAKY_RELU, 0.2f}},
    {"sigmoid", {LD_ACT_SIGMOID, 0.0f}},
    {"tanh", {LD_ACT_TANH, 0.0f}},
};
enum { N_KINDS = sizeof kinds / sizeof kinds[0] };

static void test_vs_torch(void)
{
    ld_st_file f;
    if (fixture_open("act.safetensors", &f))
        return;
    for (int k = 0; k < N_KINDS; k++)
        for (int fresh = 0; fresh < 2; fresh++) {
            act_opts o = {kinds[k].act, fresh};
            CHECK(fixture_case(&f, kinds[k].name, 1, fwd_act, &o, 1e-5, 1e-5),
                  "case %s (fresh %d)", kinds[k].name, fresh);
        }
    ld_st_free(&f);
}

static void test_convenience(void)
{
    ld_ctx *c = test_ctx();
    int shape[1] = {4};
    ld_tensor *x = ld_tensor_new(c, 1, shape);
    const float v[4] = {-2.0f, -0.5f, 0.0f, 1.5f};
    memcpy(x->data, v, sizeof v);
    ld_tensor *r = ld_relu(c, x), *l = ld_leaky_relu(c, x, 0.1f), *s = ld_sigmoid(c, x),
              *t = ld_tanh(c, x);
    CHECK(r && l && s && t, "forward failed: %s", c->err.msg);
    if (c->failed)
        return;
    for (int i = 0; i < 4; i++) {
        float want_r = v[i] > 0 ? v[i] : 0.0f, want_l = v[i] > 0 ? v[i] : 0.1f * v[i];
        float want_s = 1.0f / (1.0f + expf(-v[i])), want_t = tanhf(v[i]);
        check_close("relu", &r->data[i], &want_r, 1, 1e-6, 1e-6);
        check_close("leaky", &l->data[i], &want_l, 1, 1e-6, 1e-6);
        check_close("sigmoid", &s->data[i], &want_s, 1, 1e-6, 1e-6);
        check_close("tanh", &t->data[i], &want_t, 1, 1e-6, 1e-6);
    }
    CHECK(ld_activate(c, x, LD_NO_ACT) == x, "no activation returns its input");
}

/* Moves values away from the kinks of relu and leaky relu (|x| >= 0.05),
 * where a finite difference with eps 1e-2 would straddle the kink. */
static void away_from_zero(ld_tensor *x)
{
    for (size_t i = 0; i < x->numel; i++)
        x->data[i] = copysignf(0.05f + fabsf(x->data[i]), x->data[i]);
}

static void test_gradients(void)
{
    int shape[4] = {3, 2, 7, 5};
    ld_tensor *x = test_random(4, shape, -2, 2, 1, 31);
    away_from_zero(x);
    for (int k = 0; k < N_KINDS; k++) {
        act_opts o = {kinds[k].act, 0};
        check_gradients(kinds[k].name, fwd_act, &x, 1, &o, 1e-2, 2e-3, 80);
        check_gradients(kinds[k].name, fwd_act_twice, &x, 1, &o, 1e-2, 2e-3, 40);
    }
    ld_tensor_heap_free(x);
}

static void test_errors(void)
{
    ld_ctx *c = test_ctx();
    int shape[2] = {3, 4};
    ld_tensor *x = ld_tensor_zeros(c, 2, shape);
    CHECK(ld_leaky_relu(c, x, -0.1f) == NULL && c->failed, "negative slope must fail");
    CHECK(strstr(c->err.msg, "leaky_relu") && strstr(c->err.msg, "slope"),
          "message names the op and the slope: %s", c->err.msg);
    ld_ctx_reset(c);
    x = ld_tensor_zeros(c, 2, shape);
    CHECK(ld_activate(c, x, (ld_activation){(ld_act_kind)42, 0.0f}) == NULL && c->failed,
          "an unknown kind must fail");
    CHECK(strstr(c->err.msg, "unknown") != NULL, "message: %s", c->err.msg);
    ld_ctx_reset(c);
    CHECK(ld_relu(c, NULL) == NULL && !c->failed, "NULL input propagates without a new error");
}

LD_TEST_SUITE(act) = {
    {"vs_torch", test_vs_torch},
    {"convenience", test_convenience},
    {"gradients", test_gradients},
    {"errors", test_errors},
    {NULL, NULL},
};
