/* Tests of the attention family (softmax, multi-head attention): PyTorch
 * fixtures, finite differences and shape errors. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ops/attention.h"
#include "ops/elementwise.h"
#include "test.h"

/* How a test forward calls ld_attention: which inputs the case has (in the
 * order q, k, v, bias), and whether they go through an identity op first so
 * their gradients are fresh arena buffers (the overwrite path). */
typedef struct attn_opts {
    int heads;
    float scale;
    int has_qk, has_bias;
    int fresh_inputs;
} attn_opts;

static ld_tensor *maybe_fresh(ld_ctx *c, ld_tensor *x, const attn_opts *o)
{
    return o->fresh_inputs ? ld_scale(c, x, 1.0f, 0.0f) : x;
}

static ld_tensor *fwd_attention(ld_ctx *c, ld_tensor **x, void *u)
{
    const attn_opts *o = u;
    int i = 0;
    ld_tensor *q = o->has_qk ? maybe_fresh(c, x[i++], o) : NULL;
    ld_tensor *k = o->has_qk ? maybe_fresh(c, x[i++], o) : NULL;
    ld_tensor *v = maybe_fresh(c, x[i++], o);
    ld_tensor *bias = o->has_bias ? maybe_fresh(c, x[i], o) : NULL;
    return ld_attention(c, q, k, v, o->heads, bias, o->scale);
}

/* Self-attention with one tensor as q, k and v: three gradients, one buffer. */
static ld_tensor *fwd_self_attention(ld_ctx *c, ld_tensor **x, void *u)
{
    const attn_opts *o = u;
    ld_tensor *s = maybe_fresh(c, x[0], o);
    return ld_attention(c, s, s, s, o->heads, NULL, o->scale);
}

/* The same attention twice, summed: every gradient arrives twice, so the
 * second backward must add to the first. */
static ld_tensor *fwd_attention_twice(ld_ctx *c, ld_tensor **x, void *u)
{
    return ld_add(c, fwd_attention(c, x, u), fwd_attention(c, x, u));
}

static ld_tensor *fwd_softmax(ld_ctx *c, ld_tensor **x, void *u)
{
    (void)u;
    return ld_softmax(c, x[0]);
}

/* softmax(x) + 2 softmax(x) from two softmax ops: x's gradient arrives twice. */
static ld_tensor *fwd_softmax_twice(ld_ctx *c, ld_tensor **x, void *u)
{
    (void)u;
    return ld_add(c, ld_softmax(c, x[0]), ld_scale(c, ld_softmax(c, x[0]), 2.0f, 0.0f));
}

static void test_vs_torch(void)
{
    ld_st_file f;
    if (fixture_open("attention.safetensors", &f))
        return;
    CHECK(fixture_case(&f, "softmax", 1, fwd_softmax, NULL, 1e-5, 1e-5), "case softmax");
    const char *names[] = {"attn_h1",         "attn_h2",        "attn_h2_bias2d",
                           "attn_h2_bias4d",  "attn_h1_bias_b1", "attn_bias_only",
                           "attn_bias_only_4d", "attn_large"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char key[96];
        snprintf(key, sizeof key, "%s.inputs", names[i]);
        const char *inputs = ld_st_meta_get(&f, key);
        if (!inputs) {
            TEST_FAIL("fixture metadata '%s' missing", key);
            continue;
        }
        attn_opts o = {0};
        snprintf(key, sizeof key, "%s.heads", names[i]);
        o.heads = fixture_int(&f, key);
        snprintf(key, sizeof key, "%s.scale", names[i]);
        o.scale = (float)fixture_double(&f, key);
        o.has_qk = strchr(inputs, 'q') != NULL;
        o.has_bias = strchr(inputs, 'b') != NULL;
        int n = (o.has_qk ? 3 : 1) + o.has_bias;
        CHECK(fixture_case(&f, names[i], n, fwd_attention, &o, 2e-5, 1e-4), "case %s",
              names[i]);
    }
    ld_st_free(&f);
}

static void test_softmax_gradients_and_extremes(void)
{
    int s[3] = {3, 5, 7};
    ld_tensor *x = test_random(3, s, -3, 3, 1, 1);
    check_gradients("softmax", fwd_softmax, &x, 1, NULL, 1e-2, 1e-2, 60);
    check_gradients("softmax twice", fwd_softmax_twice, &x, 1, NULL, 1e-2, 1e-2, 60);
    ld_tensor_heap_free(x);

    /* huge logits stay finite; an all -inf row gives zeros */
    ld_ctx *c = test_ctx();
    int s2[2] = {2, 3};
    ld_tensor *t = ld_tensor_zeros(c, 2, s2);
    float vals[6] = {1000.0f, 999.0f, -1000.0f, -INFINITY, -INFINITY, -INFINITY};
    memcpy(t->data, vals, sizeof vals);
    ld_tensor *y = ld_softmax(c, t);
    CHECK(y != NULL, "softmax failed: %s", c->err.msg);
    if (y) {
        float e1 = expf(-1.0f), want[6] = {1.0f / (1.0f + e1), e1 / (1.0f + e1), 0, 0, 0, 0};
        check_close("softmax extremes", y->data, want, 6, 1e-6, 1e-5);
    }
}

static void test_attention_gradients(void)
{
    enum { B = 3, TQ = 5, TK = 7, E = 6 };
    int sq[3] = {B, TQ, E}, sk[3] = {B, TK, E};
    int sb2[2] = {TQ, TK}, sb4[4] = {B, 2, TQ, TK}, sb41[4] = {B, 1, TQ, TK};
    int sb14[4] = {1, 2, TQ, TK};
    ld_tensor *q = test_random(3, sq, -1, 1, 1, 1), *k = test_random(3, sk, -1, 1, 1, 2);
    ld_tensor *v = test_random(3, sk, -1, 1, 1, 3);
    ld_tensor *bias2 = test_random(2, sb2, -1, 1, 1, 4), *bias4 = test_random(4, sb4, -1, 1, 1, 5);
    ld_tensor *bias41 = test_random(4, sb41, -1, 1, 1, 6);
    ld_tensor *bias14 = test_random(4, sb14, -1, 1, 1, 9);
    float scale = 1.0f / sqrtf(3.0f);
    struct {
        const char *name;
        attn_opts opts;
        ld_tensor *bias;
    } cases[] = {
        {"attention 2 heads", {2, scale, 1, 0, 0}, NULL},
        {"attention 1 head, fresh grads", {1, scale, 1, 0, 1}, NULL},
        {"attention bias [Tq, Tk]", {2, scale, 1, 1, 0}, bias2},
        {"attention bias [B, heads, Tq, Tk], fresh", {2, scale, 1, 1, 1}, bias4},
        {"attention bias [B, 1, Tq, Tk]", {2, scale, 1, 1, 0}, bias41},
        {"attention bias [1, heads, Tq, Tk]", {2, scale, 1, 1, 0}, bias14},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ld_tensor *in[4] = {q, k, v, cases[i].bias};
        check_gradients(cases[i].name, fwd_attention, in, cases[i].bias ? 4 : 3,
                        &cases[i].opts, 1e-2, 1e-2, 60);
    }
    ld_tensor *qkvb[4] = {q, k, v, bias41};
    for (int fresh = 0; fresh < 2; fresh++) {
        attn_opts o = {2, scale, 1, 1, fresh};
        check_gradients(fresh ? "attention twice, fresh" : "attention twice (gradients add)",
                        fwd_attention_twice, qkvb, 4, &o, 1e-2, 1e-2, 60);
    }

    /* bias-only weights: Tq comes from the bias, v is [B, Tk, E] */
    int sbo[2] = {TK, TK};
    ld_tensor *bias_only = test_random(2, sbo, -2, 2, 1, 7);
    ld_tensor *vb[2] = {v, bias_only}, *vb4[2] = {v, bias4};
    attn_opts only = {2, 1.0f, 0, 1, 0}, only_fresh = {2, 1.0f, 0, 1, 1};
    check_gradients("bias-only attention", fwd_attention, vb, 2, &only, 1e-2, 1e-2, 60);
    /* bias4 is [B, 2, Tq, Tk]: Tq = 5 queries over Tk = 7 values */
    check_gradients("bias-only attention [B, heads, Tq, Tk], fresh", fwd_attention, vb4, 2,
                    &only_fresh, 1e-2, 1e-2, 60);

    /* q = k = v = one tensor: gradients from the three roles add up */
    ld_tensor *s = test_random(3, sk, -1, 1, 1, 8);
    for (int fresh = 0; fresh < 2; fresh++) {
        attn_opts o = {2, scale, 1, 0, fresh};
        check_gradients(fresh ? "self-attention, one tensor, fresh" : "self-attention, one tensor",
                        fwd_self_attention, &s, 1, &o, 1e-2, 1e-2, 60);
    }
    ld_tensor *all[] = {q, k, v, bias2, bias4, bias41, bias14, bias_only, s};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        ld_tensor_heap_free(all[i]);
}

/* Checks that the last op failed with a message containing `want`. */
static void expect_failure(const char *what, ld_tensor *y, const char *want)
{
    ld_ctx *c = test_ctx();
    CHECK(y == NULL && c->failed, "%s must fail", what);
    CHECK(strstr(c->err.msg, want) != NULL, "%s: message lacks '%s': %s", what, want,
          c->err.msg);
    ld_ctx_reset(c);
}

static void test_shape_errors(void)
{
    ld_ctx *c = test_ctx();
    int s7[3] = {2, 5, 7}, s6[3] = {2, 5, 6}, s6k[3] = {2, 4, 6}, sb[2] = {5, 3};
    ld_tensor *q7 = ld_tensor_zeros(c, 3, s7);
    expect_failure("E = 7 with 2 heads", ld_attention(c, q7, q7, q7, 2, NULL, 1.0f),
                   "not divisible by 2 heads");
    ld_tensor *q = ld_tensor_zeros(c, 3, s6), *k = ld_tensor_zeros(c, 3, s6k);
    ld_tensor *v = ld_tensor_zeros(c, 3, s6);
    expect_failure("k and v with different lengths", ld_attention(c, q, k, v, 2, NULL, 1.0f),
                   "[2, 4, 6]");
    q = ld_tensor_zeros(c, 3, s6);
    ld_tensor *bias = ld_tensor_zeros(c, 2, sb);
    expect_failure("bias [5, 3] for Tq = Tk = 5", ld_attention(c, q, q, q, 2, bias, 1.0f),
                   "bias [5, 3] does not broadcast");
    q = ld_tensor_zeros(c, 3, s6);
    expect_failure("bias-only without a bias", ld_attention(c, NULL, NULL, q, 2, NULL, 1.0f),
                   "needs a bias");
    q = ld_tensor_zeros(c, 3, s6);
    expect_failure("q without k", ld_attention(c, q, NULL, q, 2, NULL, 1.0f), "both q and k");
    CHECK(ld_attention(c, NULL, NULL, NULL, 1, NULL, 1.0f) == NULL && !c->failed,
          "a NULL v propagates without a new error");
    CHECK(ld_softmax(c, NULL) == NULL && !c->failed, "NULL propagates");
}

LD_TEST_SUITE(attention) = {
    {"vs_torch", test_vs_torch},
    {"softmax_gradients", test_softmax_gradients_and_extremes},
    {"attention_gradients", test_attention_gradients},
    {"shape_errors", test_shape_errors},
    {NULL, NULL},
};
