/* Tests of the random family: fixtures whose noise is the engine's own
 * generator re-implemented in Python, values against the op's own noise,
 * dropout statistics, finite differences with the noise fixed, evaluation
 * mode, determinism across thread counts, and bad arguments. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "ops/random.h"
#include "test.h"

static ld_tensor *fwd_sample(ld_ctx *c, ld_tensor **x, void *u)
{
    (void)u;
    return ld_sample_normal(c, x[0], x[1]);
}

static ld_tensor *fwd_dropout(ld_ctx *c, ld_tensor **x, void *u)
{
    return ld_dropout(c, x[0], *(const float *)u);
}

static void test_vs_torch(void)
{
    ld_st_file f;
    if (fixture_open("random.safetensors", &f))
        return;
    ld_ctx *c = test_ctx();
    ld_rng_init(&c->rng, (uint64_t)fixture_int(&f, "sample_normal.seed"));
    CHECK(fixture_case(&f, "sample_normal", 2, fwd_sample, NULL, 1e-5, 1e-5), "sample_normal");
    float p = (float)fixture_double(&f, "dropout.p");
    ld_rng_init(&c->rng, (uint64_t)fixture_int(&f, "dropout.seed"));
    CHECK(fixture_case(&f, "dropout", 1, fwd_dropout, &p, 1e-6, 0), "dropout");
    ld_st_free(&f);
}

/* The sample is exactly mean + exp(log_std) * eps with eps the next normals
 * of the context's generator. */
static void test_sample_values(void)
{
    ld_ctx *c = test_ctx();
    int s[3] = {3, 5, 7};
    ld_tensor *mean = test_random(3, s, -1, 1, 1, 1), *ls = test_random(3, s, -1, 0.5f, 1, 2);
    ld_rng before = c->rng;
    ld_tensor *y = ld_sample_normal(c, mean, ls);
    float *eps = malloc(mean->numel * sizeof *eps), *want = malloc(mean->numel * sizeof *want);
    ld_rng_fill_normal(&before, eps, mean->numel, 0.0f, 1.0f);
    for (size_t i = 0; i < mean->numel; i++)
        want[i] = mean->data[i] + expf(ls->data[i]) * eps[i];
    CHECK(y && y != mean && check_close("sample", y->data, want, y->numel, 0, 0),
          "sample = mean + exp(log_std) * eps");
    CHECK(c->rng.counter == before.counter, "the op consumed exactly the noise it used");
    c->training = 0;
    CHECK(ld_sample_normal(c, mean, ls) == mean, "evaluation mode returns the mean");
    ld_tensor *in[2] = {mean, ls};
    check_gradients("sample in evaluation mode", fwd_sample, in, 2, NULL, 1e-2, 1e-3, 40);
    c->training = 1;
    free(eps);
    free(want);
    ld_tensor_heap_free(mean);
    ld_tensor_heap_free(ls);
}

static void test_dropout_values(void)
{
    ld_ctx *c = test_ctx();
    int s[1] = {200003};
    float p = 0.25f, keep_scale = 1.0f / (1.0f - p);
    ld_tensor *x = test_random(1, s, 0.5f, 1.5f, 0, 3); /* no zeros among the inputs */
    ld_tensor *y = ld_dropout(c, x, p);
    size_t kept = 0, wrong = 0;
    for (size_t i = 0; y && i < x->numel; i++) {
        if (y->data[i] != 0.0f) {
            kept++;
            wrong += y->data[i] != x->data[i] * keep_scale;
        }
    }
    double frac = (double)kept / (double)x->numel;
    CHECK(y && fabs(frac - (1.0 - p)) < 0.005, "kept fraction %.4f, expected %.2f", frac, 1 - p);
    CHECK(wrong == 0, "%zu kept values not scaled by exactly 1 / (1 - p)", wrong);
    c->training = 0;
    CHECK(ld_dropout(c, x, p) == x, "identity in evaluation mode");
    c->training = 1;
    CHECK(ld_dropout(c, x, 0.0f) == x, "identity for p = 0");
    ld_tensor_heap_free(x);
}

static void test_gradients(void)
{
    int s3[3] = {3, 5, 7}, s4[4] = {3, 2, 7, 5};
    ld_tensor *mean = test_random(3, s3, -1, 1, 1, 4), *ls = test_random(3, s3, -1, 0.5f, 1, 5);
    ld_tensor *in[2] = {mean, ls};
    check_gradients("sample_normal", fwd_sample, in, 2, NULL, 1e-2, 2e-3, 60);
    ld_tensor *x = test_random(4, s4, -1, 1, 1, 6);
    float p = 0.4f;
    check_gradients("dropout", fwd_dropout, &x, 1, &p, 1e-2, 1e-3, 60);
    ld_tensor_heap_free(mean);
    ld_tensor_heap_free(ls);
    ld_tensor_heap_free(x);
}

/* The same seed gives the same noise with 1 and 2 threads (sizes large
 * enough for the generator and kernels to run in parallel). */
static void test_deterministic_threads(void)
{
    ld_ctx *c = test_ctx();
    int s[1] = {150001};
    ld_tensor *mean = test_random(1, s, -1, 1, 0, 7), *ls = test_random(1, s, -1, 0.5f, 0, 8);
    size_t n = mean->numel;
    float *out = malloc(4 * n * sizeof *out);
    int saved = omp_get_max_threads();
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        ld_ctx_reset(c);
        ld_rng_init(&c->rng, 42);
        ld_tensor *y = ld_sample_normal(c, mean, ls), *d = ld_dropout(c, mean, 0.3f);
        if (!y || !d) {
            TEST_FAIL("forward failed: %s", c->err.msg);
            break;
        }
        memcpy(out + 2 * (size_t)t * n, y->data, n * sizeof *out);
        memcpy(out + (2 * (size_t)t + 1) * n, d->data, n * sizeof *out);
    }
    omp_set_num_threads(saved);
    CHECK(memcmp(out, out + 2 * n, n * sizeof *out) == 0, "sample differs between 1 and 2 threads");
    CHECK(memcmp(out + n, out + 3 * n, n * sizeof *out) == 0,
          "dropout differs between 1 and 2 threads");
    free(out);
    ld_tensor_heap_free(mean);
    ld_tensor_heap_free(ls);
}

static void test_errors(void)
{
    ld_ctx *c = test_ctx();
    ld_tensor *x = ld_tensor_zeros(c, 2, (int[2]){3, 4});
    CHECK(ld_dropout(c, x, 1.0f) == NULL && c->failed && strstr(c->err.msg, "dropout"),
          "p = 1 must fail: %s", c->err.msg);
    ld_ctx_reset(c);
    x = ld_tensor_zeros(c, 2, (int[2]){3, 4});
    CHECK(ld_dropout(c, x, -0.1f) == NULL && c->failed, "p < 0 must fail");
    ld_ctx_reset(c);
    x = ld_tensor_zeros(c, 2, (int[2]){3, 4});
    ld_tensor *ls = ld_tensor_zeros(c, 2, (int[2]){4, 3});
    CHECK(ld_sample_normal(c, x, ls) == NULL && c->failed, "mismatched shapes must fail");
    CHECK(strstr(c->err.msg, "[3, 4]") && strstr(c->err.msg, "[4, 3]"),
          "message names both shapes: %s", c->err.msg);
    ld_ctx_reset(c);
    CHECK(ld_sample_normal(c, NULL, NULL) == NULL && !c->failed, "NULL input propagates");
}

LD_TEST_SUITE(random) = {
    {"vs_torch", test_vs_torch},
    {"sample_values", test_sample_values},
    {"dropout_values", test_dropout_values},
    {"gradients", test_gradients},
    {"deterministic_threads", test_deterministic_threads},
    {"errors", test_errors},
    {NULL, NULL},
};
