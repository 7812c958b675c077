/* Tests of the loss family: PyTorch fixtures, finite differences, sums that
 * do not depend on the thread count, and shape errors. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "ops/loss.h"
#include "test.h"

/* The constants of a Gaussian case. */
typedef struct nll_params {
    float fixed_log_std, scale;
} nll_params;

static ld_tensor *fwd_mse(ld_ctx *c, ld_tensor **x, void *u) { (void)u; return ld_mse(c, x[0], x[1]); }

static ld_tensor *fwd_nll_tensor(ld_ctx *c, ld_tensor **x, void *u)
{
    const nll_params *p = u;
    return ld_gaussian_nll(c, x[0], x[1], x[2], p->fixed_log_std, p->scale);
}

static ld_tensor *fwd_nll_fixed(ld_ctx *c, ld_tensor **x, void *u)
{
    const nll_params *p = u;
    return ld_gaussian_nll(c, x[0], x[1], NULL, p->fixed_log_std, p->scale);
}

static ld_tensor *fwd_nll_prior(ld_ctx *c, ld_tensor **x, void *u)
{
    const nll_params *p = u;
    return ld_gaussian_nll(c, x[0], NULL, NULL, p->fixed_log_std, p->scale);
}

static nll_params fixture_params(const ld_st_file *f, const char *name)
{
    char key[96];
    nll_params p;
    snprintf(key, sizeof key, "%s.fixed_log_std", name);
    p.fixed_log_std = (float)fixture_double(f, key);
    snprintf(key, sizeof key, "%s.scale", name);
    p.scale = (float)fixture_double(f, key);
    return p;
}

static void test_vs_torch(void)
{
    ld_st_file f;
    if (fixture_open("loss.safetensors", &f))
        return;
    CHECK(fixture_case(&f, "mse", 2, fwd_mse, NULL, 1e-5, 1e-5), "case mse");
    struct {
        const char *name;
        int n;
        test_forward_fn fn;
    } cases[] = {
        {"nll_tensor", 3, fwd_nll_tensor},
        {"nll_fixed", 2, fwd_nll_fixed},
        {"nll_prior", 1, fwd_nll_prior},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nll_params p = fixture_params(&f, cases[i].name);
        CHECK(fixture_case(&f, cases[i].name, cases[i].n, cases[i].fn, &p, 1e-5, 1e-5), "case %s",
              cases[i].name);
    }
    ld_st_free(&f);
}

static void test_gradients(void)
{
    int s4[4] = {3, 4, 7, 5}, s3[3] = {3, 5, 7};
    ld_tensor *a = test_random(4, s4, -1, 1, 1, 1), *b = test_random(4, s4, -1, 1, 1, 2);
    ld_tensor *ab[2] = {a, b};
    check_gradients("mse", fwd_mse, ab, 2, NULL, 1e-2, 1e-3, 60);
    ld_tensor *x = test_random(3, s3, -2, 2, 1, 3), *m = test_random(3, s3, -1, 1, 1, 4);
    ld_tensor *ls = test_random(3, s3, -0.7f, 0.5f, 1, 5);
    ld_tensor *xml[3] = {x, m, ls};
    nll_params with_tensor = {0.0f, 0.3f}, fixed = {-0.4f, 0.05f}, prior = {0.0f, 1.0f};
    check_gradients("nll log_std tensor", fwd_nll_tensor, xml, 3, &with_tensor, 1e-2, 2e-3, 60);
    check_gradients("nll fixed sigma", fwd_nll_fixed, xml, 2, &fixed, 1e-2, 2e-3, 60);
    check_gradients("nll prior", fwd_nll_prior, xml, 1, &prior, 1e-2, 2e-3, 60);
    ld_tensor_heap_free(a);
    ld_tensor_heap_free(b);
    ld_tensor_heap_free(x);
    ld_tensor_heap_free(m);
    ld_tensor_heap_free(ls);
}

/* The value of the loss does not depend on the thread count. */
static void test_deterministic_threads(void)
{
    int shape[1] = {300001};
    ld_tensor *a = test_random(1, shape, -1, 1, 0, 6), *b = test_random(1, shape, -1, 1, 0, 7);
    ld_ctx *c = test_ctx();
    int saved = omp_get_max_threads();
    float mse[2], nll[2];
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        ld_ctx_reset(c);
        ld_tensor *y = ld_mse(c, a, b), *z = ld_gaussian_nll(c, a, b, NULL, -0.5f, 1e-3f);
        mse[t] = y ? y->data[0] : -1.0f;
        nll[t] = z ? z->data[0] : -1.0f;
    }
    omp_set_num_threads(saved);
    CHECK(mse[0] == mse[1] && mse[0] > 0, "mse %.9g (1 thread) vs %.9g (2)", mse[0], mse[1]);
    CHECK(nll[0] == nll[1] && nll[0] > 0, "nll %.9g (1 thread) vs %.9g (2)", nll[0], nll[1]);
    /* E (a - b)^2 for independent uniforms on [-1, 1) is 2/3 */
    CHECK(mse[0] > 0.66f && mse[0] < 0.67f, "mse of uniforms %g, expected about 2/3", mse[0]);
    ld_tensor_heap_free(a);
    ld_tensor_heap_free(b);
}

static void test_shape_errors(void)
{
    ld_ctx *c = test_ctx();
    ld_tensor *a = ld_tensor_zeros(c, 2, (int[2]){3, 4});
    ld_tensor *b = ld_tensor_zeros(c, 2, (int[2]){4, 3});
    CHECK(ld_mse(c, a, b) == NULL && c->failed, "mse of [3,4] and [4,3] must fail");
    CHECK(strstr(c->err.msg, "mse") && strstr(c->err.msg, "[4, 3]") && strstr(c->err.msg, "[3, 4]"),
          "message names the op and both shapes: %s", c->err.msg);
    ld_ctx_reset(c);
    a = ld_tensor_zeros(c, 2, (int[2]){3, 4});
    b = ld_tensor_zeros(c, 2, (int[2]){3, 5});
    CHECK(ld_gaussian_nll(c, a, NULL, b, 0.0f, 1.0f) == NULL && c->failed,
          "a log_std of another shape must fail");
    CHECK(strstr(c->err.msg, "log_std [3, 5]"), "message names log_std: %s", c->err.msg);
    ld_ctx_reset(c);
    a = ld_tensor_zeros(c, 2, (int[2]){3, 4});
    CHECK(ld_gaussian_nll(c, a, NULL, NULL, 0.0f, INFINITY) == NULL && c->failed,
          "an infinite scale must fail");
    ld_ctx_reset(c);
    CHECK(ld_mse(c, NULL, a) == NULL && !c->failed, "NULL input propagates");
}

LD_TEST_SUITE(loss) = {
    {"vs_torch", test_vs_torch},
    {"gradients", test_gradients},
    {"deterministic_threads", test_deterministic_threads},
    {"shape_errors", test_shape_errors},
    {NULL, NULL},
};
