/* Tests of semi-Lagrangian advection: grid_sample fixtures, finite
 * differences for z and v, exact shifts, the identity, determinism across
 * thread counts, axes of size 1, the multi-step helper and shape errors. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/advect.h"
#include "ops/elementwise.h"
#include "test.h"

static ld_tensor *fwd_advect(ld_ctx *c, ld_tensor **x, void *u)
{
    return ld_advect(c, x[0], x[1], *(const float *)u);
}

static void test_vs_torch(void)
{
    ld_st_file f;
    if (fixture_open("advect.safetensors", &f))
        return;
    const char *cases[] = {"dt0125", "dt1", "wide"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char key[64];
        snprintf(key, sizeof key, "%s.dt", cases[i]);
        float dt = (float)fixture_double(&f, key);
        CHECK(fixture_case(&f, cases[i], 2, fwd_advect, &dt, 1e-5, 1e-4), "case %s", cases[i]);
    }
    ld_st_free(&f);
}

/* A field whose displacements dt * v are k + f pixels, k an integer in
 * [-3, 3] and f in [0.2, 0.8]: sample positions stay well away from pixel
 * boundaries (where bilinear sampling has kinks), and many fall outside the
 * image and are clamped. */
static ld_tensor *smooth_field(int n, int h, int w, float dt, unsigned seed)
{
    int shape[4] = {n, 2, h, w};
    ld_tensor *v = test_random(4, shape, 0.0f, 1.0f, 1, seed);
    for (size_t i = 0; i < v->numel; i++) {
        float k = floorf(7.0f * v->data[i]) - 3.0f;
        float frac = 0.2f + 0.6f * (7.0f * v->data[i] - floorf(7.0f * v->data[i]));
        v->data[i] = (k + frac) / dt;
    }
    return v;
}

static void test_gradients(void)
{
    int zs[4] = {3, 2, 7, 5};
    float dts[2] = {0.5f, 1.0f};
    for (int i = 0; i < 2; i++) {
        ld_tensor *z = test_random(4, zs, -1, 1, 1, 10 + (unsigned)i);
        ld_tensor *v = smooth_field(3, 7, 5, dts[i], 20 + (unsigned)i);
        ld_tensor *in[2] = {z, v};
        check_gradients(i ? "advect dt 1" : "advect dt 0.5", fwd_advect, in, 2, &dts[i], 1e-2,
                        2e-3, 120);
        ld_tensor_heap_free(z);
        ld_tensor_heap_free(v);
    }
}

/* A constant field moving by a whole number of pixels shifts the image
 * exactly: out(row, col) = z(row - dy, col - dx) where that is inside. */
static void test_constant_shift(void)
{
    ld_ctx *c = test_ctx();
    int n = 2, ch = 2, h = 9, w = 11, shift_x = 2, shift_y = -1;
    float dt = 0.125f;
    int zs[4] = {n, ch, h, w};
    ld_tensor *z = test_random(4, zs, -1, 1, 0, 3);
    ld_tensor *v = ld_tensor_4d(c, n, 2, h, w);
    size_t plane = (size_t)h * w;
    for (int b = 0; b < n; b++)
        for (size_t p = 0; p < plane; p++) {
            v->data[(size_t)b * 2 * plane + p] = (float)shift_x / dt;
            v->data[(size_t)b * 2 * plane + plane + p] = (float)shift_y / dt;
        }
    ld_tensor *y = ld_advect(c, z, v, dt);
    CHECK(y != NULL, "advect failed: %s", c->err.msg);
    int compared = 0, wrong = 0;
    for (int bc = 0; y && bc < n * ch; bc++)
        for (int row = 0; row < h; row++)
            for (int col = 0; col < w; col++) {
                int src_row = row - shift_y, src_col = col - shift_x;
                if (src_row < 0 || src_row >= h || src_col < 0 || src_col >= w)
                    continue;
                compared++;
                wrong += y->data[bc * plane + (size_t)row * w + col] !=
                         z->data[bc * plane + (size_t)src_row * w + src_col];
            }
    CHECK(compared == n * ch * (h - 1) * (w - 2) && wrong == 0,
          "%d of %d pixels not shifted exactly", wrong, compared);
    /* at the left border the first column is replicated */
    CHECK(y && y->data[(size_t)2 * w] == z->data[(size_t)3 * w], "border replicate");
    ld_tensor_heap_free(z);
}

static void test_zero_field_identity(void)
{
    ld_ctx *c = test_ctx();
    int zs[4] = {3, 2, 7, 5};
    ld_tensor *z = test_random(4, zs, -1, 1, 0, 4);
    ld_tensor *v = ld_tensor_zeros(c, 4, (int[4]){3, 2, 7, 5});
    ld_tensor *y = ld_advect(c, z, v, 0.7f);
    CHECK(y && memcmp(y->data, z->data, z->numel * sizeof(float)) == 0,
          "a zero field must give z back exactly");
    ld_tensor_heap_free(z);
}

/* Forward and both gradients of a problem big enough to run in parallel. */
static void advect_run(int threads, ld_tensor *z, ld_tensor *v, float *out, float *dz, float *dv)
{
    ld_ctx *c = test_ctx();
    omp_set_num_threads(threads);
    ld_ctx_reset(c);
    memset(z->grad, 0, z->numel * sizeof(float));
    memset(v->grad, 0, v->numel * sizeof(float));
    ld_tensor *y = ld_advect(c, z, v, 0.25f);
    if (!y) {
        TEST_FAIL("advect failed: %s", c->err.msg);
        return;
    }
    float *g = ld_grad(c, y);
    for (size_t i = 0; i < y->numel; i++)
        g[i] = (float)((i * 7919) % 13) - 6.0f;
    CHECK(ld_tape_replay(c) == 0, "backward failed: %s", c->err.msg);
    memcpy(out, y->data, y->numel * sizeof(float));
    memcpy(dz, z->grad, z->numel * sizeof(float));
    memcpy(dv, v->grad, v->numel * sizeof(float));
}

static void test_deterministic_threads(void)
{
    int zs[4] = {2, 4, 64, 48}, vs[4] = {2, 2, 64, 48};
    ld_tensor *z = test_random(4, zs, -1, 1, 1, 5);
    ld_tensor *v = test_random(4, vs, -20, 20, 1, 6); /* displacements up to 5 px */
    size_t nz = z->numel, nv = v->numel;
    float *a = calloc(2 * (2 * nz + nv), sizeof(float));
    float *b = a + 2 * nz + nv;
    int saved = omp_get_max_threads();
    advect_run(1, z, v, a, a + nz, a + 2 * nz);
    advect_run(2, z, v, b, b + nz, b + 2 * nz);
    omp_set_num_threads(saved);
    CHECK(memcmp(a, b, nz * sizeof(float)) == 0, "forward differs between 1 and 2 threads");
    CHECK(memcmp(a + nz, b + nz, nz * sizeof(float)) == 0, "dz differs between 1 and 2 threads");
    CHECK(memcmp(a + 2 * nz, b + 2 * nz, nv * sizeof(float)) == 0,
          "dv differs between 1 and 2 threads");
    free(a);
    ld_tensor_heap_free(z);
    ld_tensor_heap_free(v);
}

/* An axis of size 1: samples along it stay at 0 and its velocity gets no
 * gradient; the other axis interpolates as usual. */
static void test_unit_axis(void)
{
    ld_ctx *c = test_ctx();
    float zrow[4] = {1.0f, 3.0f, 7.0f, 15.0f};
    ld_tensor *z = ld_tensor_heap(4, (int[4]){1, 1, 1, 4}, 1);
    ld_tensor *v = ld_tensor_heap(4, (int[4]){1, 2, 1, 4}, 1);
    memcpy(z->data, zrow, sizeof zrow);
    /* x displacements (dt = 0.5): 0.5, -0.25, 1, 9; y ones are arbitrary */
    float field[8] = {1.0f, -0.5f, 2.0f, 18.0f, 3.0f, -5.0f, 0.3f, 100.0f};
    memcpy(v->data, field, sizeof field);
    ld_tensor *y = ld_advect(c, z, v, 0.5f);
    float want[4] = {1.0f, 4.0f, 3.0f, 1.0f}; /* at x = 0 (clamped), 1.25, 1, -6 (clamped) */
    CHECK(y && check_close("unit-height output", y->data, want, 4, 1e-6, 0), "output");
    if (y) {
        for (size_t i = 0; i < 4; i++)
            ld_grad(c, y)[i] = 1.0f;
        CHECK(ld_tape_replay(c) == 0, "backward failed: %s", c->err.msg);
        /* d out / d vx = -dt * slope inside, 0 where clamped */
        float want_dv[8] = {0.0f, -0.5f * 4.0f, -0.5f * 4.0f, 0.0f, 0, 0, 0, 0};
        check_close("unit-height dv", v->grad, want_dv, 8, 1e-6, 0);
    }
    ld_ctx_reset(c);
    ld_tensor *zc = ld_tensor_heap(4, (int[4]){1, 1, 4, 1}, 0);
    ld_tensor *vc = ld_tensor_heap(4, (int[4]){1, 2, 4, 1}, 0);
    memcpy(zc->data, zrow, sizeof zrow);
    memcpy(vc->data, field + 4, 4 * sizeof(float));
    memcpy(vc->data + 4, field, 4 * sizeof(float));
    y = ld_advect(c, zc, vc, 0.5f);
    CHECK(y && check_close("unit-width output", y->data, want, 4, 1e-6, 0), "output");
    ld_tensor_heap_free(z);
    ld_tensor_heap_free(v);
    ld_tensor_heap_free(zc);
    ld_tensor_heap_free(vc);
}

static void test_steps(void)
{
    ld_ctx *c = test_ctx();
    int zs[4] = {3, 2, 7, 5}, fs[4] = {3, 4, 7, 5};
    ld_tensor *z = test_random(4, zs, -1, 1, 1, 7);
    ld_tensor *fields = test_random(4, fs, -3, 3, 0, 8);
    ld_tensor *states[2];
    size_t tape0 = c->tape_len;
    ld_tensor *last = ld_advect_steps(c, z, fields, 0.5f, 2, states);
    CHECK(last && last == states[1] && !last->requires_grad && c->tape_len == tape0,
          "advect_steps returns the last state and records nothing");
    ld_tensor *v0 = ld_slice(c, fields, 1, 0, 2), *v1 = ld_slice(c, fields, 1, 2, 2);
    ld_tensor *one = ld_advect(c, z, v0, 0.5f);
    ld_tensor *two = ld_advect(c, one, v1, 0.5f);
    CHECK(last && two && check_close("per-step fields", last->data, two->data, two->numel, 0, 0)
              && check_close("first state", states[0]->data, one->data, one->numel, 0, 0),
          "steps with per-step fields equal chained advect");
    ld_tensor *same = ld_advect_steps(c, z, v0, 0.5f, 2, NULL);
    ld_tensor *twice = ld_advect(c, one, v0, 0.5f);
    CHECK(same && twice && check_close("same field", same->data, twice->data, same->numel, 0, 0),
          "one field applied twice");
    CHECK(ld_advect_steps(c, z, fields, 0.5f, 3, NULL) == NULL && c->failed &&
              strstr(c->err.msg, "3 steps need 2 (one field) or 6"),
          "4 field channels for 3 steps must fail: %s", c->err.msg);
    ld_tensor_heap_free(z);
    ld_tensor_heap_free(fields);
}

static void test_shape_errors(void)
{
    ld_ctx *c = test_ctx();
    ld_tensor *z = ld_tensor_zeros(c, 4, (int[4]){3, 2, 7, 5});
    ld_tensor *v3 = ld_tensor_zeros(c, 4, (int[4]){3, 3, 7, 5});
    CHECK(ld_advect(c, z, v3, 0.5f) == NULL && c->failed, "3 velocity channels must fail");
    CHECK(strstr(c->err.msg, "[3, 2, 7, 5]") && strstr(c->err.msg, "[3, 3, 7, 5]"),
          "message names both shapes: %s", c->err.msg);
    ld_ctx_reset(c);
    z = ld_tensor_zeros(c, 4, (int[4]){3, 2, 7, 5});
    ld_tensor *vs = ld_tensor_zeros(c, 4, (int[4]){3, 2, 7, 4});
    CHECK(ld_advect(c, z, vs, 0.5f) == NULL && c->failed, "a field of another size must fail");
    CHECK(strstr(c->err.msg, "velocity field [3, 2, 7, 5]") && strstr(c->err.msg, "[3, 2, 7, 4]"),
          "message names the expected and given shapes: %s", c->err.msg);
    ld_ctx_reset(c);
    z = ld_tensor_zeros(c, 3, (int[3]){2, 7, 5});
    ld_tensor *v = ld_tensor_zeros(c, 4, (int[4]){1, 2, 7, 5});
    CHECK(ld_advect(c, z, v, 0.5f) == NULL && c->failed, "a 3-d z must fail");
    ld_ctx_reset(c);
    z = ld_tensor_zeros(c, 4, (int[4]){1, 2, 7, 5});
    v = ld_tensor_zeros(c, 4, (int[4]){1, 2, 7, 5});
    CHECK(ld_advect(c, z, v, NAN) == NULL && c->failed, "a NaN dt must fail");
    ld_ctx_reset(c);
    CHECK(ld_advect(c, NULL, v, 0.5f) == NULL && !c->failed, "NULL input propagates");
}

LD_TEST_SUITE(advect) = {
    {"vs_torch", test_vs_torch},
    {"gradients", test_gradients},
    {"constant_shift", test_constant_shift},
    {"zero_field_identity", test_zero_field_identity},
    {"deterministic_threads", test_deterministic_threads},
    {"unit_axis", test_unit_axis},
    {"steps", test_steps},
    {"shape_errors", test_shape_errors},
    {NULL, NULL},
};
