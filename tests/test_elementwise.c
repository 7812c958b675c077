/* Tests of the element-wise family: PyTorch fixtures (concat also in the
 * channel-blocked layouts), finite differences, errors. */
#include <omp.h>
#include <string.h>

#include "ops/conv.h"
#include "ops/elementwise.h"
#include "test.h"

static ld_tensor *fwd_add(ld_ctx *c, ld_tensor **x, void *u) { (void)u; return ld_add(c, x[0], x[1]); }
static ld_tensor *fwd_mul(ld_ctx *c, ld_tensor **x, void *u) { (void)u; return ld_mul(c, x[0], x[1]); }
static ld_tensor *fwd_scale(ld_ctx *c, ld_tensor **x, void *u) { (void)u; return ld_scale(c, x[0], 2.5f, -0.75f); }
static ld_tensor *fwd_sum(ld_ctx *c, ld_tensor **x, void *u) { (void)u; return ld_sum(c, x[0]); }
static ld_tensor *fwd_mean(ld_ctx *c, ld_tensor **x, void *u) { (void)u; return ld_mean(c, x[0]); }
static ld_tensor *fwd_mean_axis1(ld_ctx *c, ld_tensor **x, void *u) { (void)u; return ld_mean_axis(c, x[0], 1); }
static ld_tensor *fwd_sum_last(ld_ctx *c, ld_tensor **x, void *u) { (void)u; return ld_sum_axis(c, x[0], -1); }
static ld_tensor *fwd_concat(ld_ctx *c, ld_tensor **x, void *u) { (void)u; return ld_concat(c, x, 2, 1); }
static ld_tensor *fwd_slice(ld_ctx *c, ld_tensor **x, void *u) { (void)u; return ld_slice(c, x[0], 2, 2, 4); }

/* Sums of intermediate tensors (no gradient buffer yet when the sum's
 * backward runs), so the pass-through path is the one checked:
 * 2 * (s + s) + (s + t) + (s + b) + s with s = 1.5 x0, t = x1 - 1, b
 * broadcast. */
static ld_tensor *fwd_intermediate_sums(ld_ctx *c, ld_tensor **x, void *u)
{
    (void)u;
    ld_tensor *s = ld_scale(c, x[0], 1.5f, 0.0f), *t = ld_scale(c, x[1], 1.0f, -1.0f);
    ld_tensor *twice = ld_scale(c, ld_add(c, s, s), 2.0f, 0.0f);
    ld_tensor *mixed = ld_add(c, ld_add(c, twice, ld_add(c, s, t)), ld_add(c, s, x[2]));
    return ld_add(c, mixed, s);
}

/* s + s where that sum is s's only use: the pass-through of a tensor added
 * to itself. */
static ld_tensor *fwd_self_sum(ld_ctx *c, ld_tensor **x, void *u)
{
    (void)u;
    ld_tensor *s = ld_scale(c, x[0], 1.5f, 0.0f);
    return ld_add(c, s, s);
}

static ld_tensor *fwd_split_weighted(ld_ctx *c, ld_tensor **x, void *u)
{
    (void)u;
    ld_tensor *parts[3];
    int sizes[3] = {1, 2, 1};
    if (ld_split(c, x[0], 1, 3, sizes, parts))
        return NULL;
    /* recombine in another order so every part's gradient is distinct */
    ld_tensor *order[3] = {parts[2], parts[0], ld_scale(c, parts[1], 3.0f, 0.0f)};
    return ld_concat(c, order, 3, 1);
}

static void test_vs_torch(void)
{
    ld_st_file f;
    if (fixture_open("elementwise.safetensors", &f))
        return;
    struct {
        const char *name;
        int n;
        test_forward_fn fn;
    } cases[] = {
        {"add_same", 2, fwd_add},   {"add_channel", 2, fwd_add},   {"mul_last", 2, fwd_mul},
        {"mul_rows", 2, fwd_mul},   {"scale", 1, fwd_scale},       {"sum", 1, fwd_sum},
        {"mean", 1, fwd_mean},      {"mean_axis1", 1, fwd_mean_axis1},
        {"sum_axis_last", 1, fwd_sum_last}, {"concat1", 2, fwd_concat}, {"slice2", 1, fwd_slice},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        CHECK(fixture_case(&f, cases[i].name, cases[i].n, cases[i].fn, NULL, 1e-5, 1e-5),
              "case %s", cases[i].name);
    ld_st_free(&f);
}

/* concat along the channels of tensors in layout *block. */
static ld_tensor *fwd_concat_blocked(ld_ctx *c, ld_tensor **x, void *u)
{
    const int *block = u;
    ld_tensor *parts[2] = {ld_to_block(c, x[0], *block), ld_to_block(c, x[1], *block)};
    return test_unblock(c, ld_concat(c, parts, 2, 1), *block, "concat");
}

static void test_concat_blocked(void)
{
    static const int blocks[] = {8, 16};
    ld_st_file f;
    if (fixture_open("elementwise.safetensors", &f))
        return;
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++)
        CHECK(fixture_case(&f, "concat1_c16", 2, fwd_concat_blocked, (void *)&blocks[i], 1e-6,
                           1e-6),
              "block %d", blocks[i]);
    ld_st_free(&f);
    ld_ctx *c = test_ctx();
    int s16[4] = {2, 16, 3, 4};
    ld_tensor *a = ld_to_block(c, ld_tensor_zeros(c, 4, s16), 8), *b = ld_tensor_zeros(c, 4, s16);
    ld_tensor *mixed[2] = {a, b}, *same[2] = {a, a};
    CHECK(ld_concat(c, mixed, 2, 1) == NULL && strstr(c->err.msg, "layout blocks 8 and 0"),
          "blocked and NCHW inputs must fail: %s", c->err.msg);
    ld_ctx_reset(c);
    a = ld_to_block(c, ld_tensor_zeros(c, 4, s16), 8);
    same[0] = same[1] = a;
    CHECK(ld_concat(c, same, 2, 2) == NULL && strstr(c->err.msg, "axes 0 and 1 only"),
          "blocked inputs along H must fail: %s", c->err.msg);
    ld_ctx_reset(c);
}

static void test_gradients(void)
{
    int s4[4] = {3, 4, 7, 5}, sc[3] = {4, 1, 1}, s3[3] = {3, 6, 5}, s1[1] = {5};
    ld_tensor *a = test_random(4, s4, -1, 1, 1, 1), *b = test_random(3, sc, -1, 1, 1, 2);
    ld_tensor *p = test_random(3, s3, -1, 1, 1, 3), *q = test_random(1, s1, -1, 1, 1, 4);
    ld_tensor *ab[2] = {a, b}, *pq[2] = {p, q}, *aa[2] = {a, a};
    check_gradients("add broadcast", fwd_add, ab, 2, NULL, 1e-2, 1e-3, 60);
    check_gradients("mul broadcast", fwd_mul, pq, 2, NULL, 1e-2, 1e-3, 60);
    check_gradients("mul same input twice", fwd_mul, aa, 2, NULL, 1e-2, 1e-3, 60);
    check_gradients("scale", fwd_scale, &a, 1, NULL, 1e-2, 1e-3, 60);
    check_gradients("mean", fwd_mean, &a, 1, NULL, 1e-2, 1e-3, 60);
    check_gradients("mean axis", fwd_mean_axis1, &p, 1, NULL, 1e-2, 1e-3, 60);
    check_gradients("split and concat", fwd_split_weighted, &a, 1, NULL, 1e-2, 1e-3, 60);
    ld_tensor *a2 = test_random(4, s4, -1, 1, 1, 5);
    ld_tensor *sums[3] = {a, a2, b};
    check_gradients("sums of intermediates", fwd_intermediate_sums, sums, 3, NULL, 1e-2, 1e-3, 60);
    ld_tensor_heap_free(a2);
    check_gradients("intermediate added to itself", fwd_self_sum, &a, 1, NULL, 1e-2, 1e-3, 60);
    ld_tensor_heap_free(a);
    ld_tensor_heap_free(b);
    ld_tensor_heap_free(p);
    ld_tensor_heap_free(q);
}

static void test_shape_errors(void)
{
    ld_ctx *c = test_ctx();
    int s1[2] = {3, 4}, s2[2] = {3, 5};
    ld_tensor *a = ld_tensor_zeros(c, 2, s1), *b = ld_tensor_zeros(c, 2, s2);
    CHECK(ld_add(c, a, b) == NULL && c->failed, "add of [3,4] and [3,5] must fail");
    CHECK(strstr(c->err.msg, "broadcast") != NULL, "message names the problem: %s", c->err.msg);
    ld_ctx_reset(c);
    a = ld_tensor_zeros(c, 2, s1);
    CHECK(ld_slice(c, a, 1, 2, 3) == NULL && c->failed, "slice past the end must fail");
    ld_ctx_reset(c);
    CHECK(ld_add(c, NULL, NULL) == NULL, "NULL inputs propagate");
    ld_ctx_reset(c);
    int s3[4] = {3, 1, 4, 5}, s4[4] = {3, 2, 4, 5}, s5[3] = {2, 1, 5};
    ld_tensor *p = ld_tensor_zeros(c, 4, s3), *q = ld_tensor_zeros(c, 4, s3);
    CHECK(ld_add(c, p, q) != NULL, "equal shapes with a size-1 axis add: %s", c->err.msg);
    ld_tensor *r = ld_tensor_zeros(c, 4, s4), *t = ld_tensor_zeros(c, 3, s5);
    CHECK(ld_add(c, r, t) == NULL, "[2,1,5] inside [3,2,4,5] broadcasts in the middle of its run");
}

/* A tensor in a concat twice, and the concat's input also used elsewhere:
 * each part's gradient is overwritten when it is the first to arrive and
 * added after that. y = concat(a, x, a) with a = 2 x: given dy = (g0, g1,
 * g2), dx = 2 (g0 + g2) + g1 exactly. */
static void test_concat_repeated(void)
{
    ld_ctx *c = test_ctx();
    const int xs[3] = {2, 3, 4};
    ld_tensor *x = test_random(3, xs, -1, 1, 1, 7);
    ld_tensor *a = ld_scale(c, x, 2.0f, 0.0f);
    ld_tensor *parts[3] = {a, x, a};
    ld_tensor *y = ld_concat(c, parts, 3, 1);
    float *dy = y ? ld_grad(c, y) : NULL;
    CHECK(dy != NULL, "concat failed: %s", c->err.msg);
    for (size_t i = 0; dy && i < y->numel; i++)
        dy[i] = (float)(i % 11) - 5.0f;
    int ok = dy && !ld_tape_replay(c);
    CHECK(ok, "backward failed: %s", c->err.msg);
    if (ok) {
        float want[24];
        for (int n = 0; n < 2; n++)
            for (int k = 0; k < 12; k++) { /* 3 x 4 values per image in each part */
                const float *g = dy + (size_t)n * 36 + k;
                want[n * 12 + k] = 2.0f * (g[0] + g[24]) + g[12];
            }
        check_close("concat of a repeated input: dx", x->grad, want, 24, 0, 0);
    }
    ld_tensor_heap_free(x);
}

/* A full sum is the same whatever the thread count, even where the order
 * of the double additions shows in the float result: 2^60 + 2^36 is a
 * tie between two floats (rounded down to 2^60, to even), and 32768 ones
 * added one by one after it vanish in double (its ulp is 256) but tip it
 * up when added among themselves first, as a second thread would. */
static void test_sum_threads(void)
{
    int shape[1] = {65536}; /* above LD_CPU_PARALLEL_MIN */
    ld_tensor *x = ld_tensor_heap(1, shape, 0);
    for (size_t i = 0; i < x->numel; i++)
        x->data[i] = i >= x->numel / 2 ? 1.0f : 0.0f;
    x->data[0] = 0x1p60f;
    x->data[1] = 0x1p36f;
    ld_ctx *c = test_ctx();
    int saved = omp_get_max_threads();
    float sum[3];
    for (int t = 0; t < 3; t++) {
        omp_set_num_threads(t + 1);
        ld_ctx_reset(c);
        ld_tensor *y = ld_sum(c, x);
        sum[t] = y ? y->data[0] : -1.0f;
    }
    omp_set_num_threads(saved);
    CHECK(sum[0] == sum[1] && sum[1] == sum[2], "sum %.9g (1 thread), %.9g (2), %.9g (3)",
          sum[0], sum[1], sum[2]);
    /* fixed chunks of 4096, added in order: the ones count */
    CHECK(sum[0] == 0x1p60f + 0x1p37f, "sum %.9g, want 2^60 + 2^37", sum[0]);
    ld_tensor_heap_free(x);
}

LD_TEST_SUITE(elementwise) = {
    {"sum_threads", test_sum_threads},
    {"vs_torch", test_vs_torch},
    {"gradients", test_gradients},
    {"concat_blocked", test_concat_blocked},
    {"concat_repeated", test_concat_repeated},
    {"shape_errors", test_shape_errors},
    {NULL, NULL},
};
