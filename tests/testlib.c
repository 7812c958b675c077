/* Test framework implementation: see test.h. */
#include "test.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/backend.h"
#include "ops/conv.h"

static int current_failed;
static int current_skipped;
static ld_ctx shared_ctx;
static int shared_ctx_ready;

void test_begin(void);
int test_end(int *skipped);

void test_begin(void)
{
    current_failed = 0;
    current_skipped = 0;
    if (!shared_ctx_ready) {
        ld_ctx_init(&shared_ctx, ld_backend_cpu(), 1234);
        shared_ctx_ready = 1;
    }
    ld_ctx_reset(&shared_ctx);
    ld_rng_init(&shared_ctx.rng, 1234);
    shared_ctx.training = 1;
    shared_ctx.recording = 1;
    shared_ctx.conv_precision = LD_PRECISION_F32;
}

int test_end(int *skipped)
{
    *skipped = current_skipped && !current_failed;
    return current_failed;
}

void test_release(void);
void test_release(void)
{
    if (shared_ctx_ready)
        ld_ctx_free(&shared_ctx);
    shared_ctx_ready = 0;
}

ld_ctx *test_ctx(void) { return &shared_ctx; }

int test_failed(void) { return current_failed; }

void test_fail_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stdout, "    FAIL %s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    current_failed = 1;
}

void test_skip(const char *reason)
{
    fprintf(stdout, "    SKIP: %s\n", reason);
    current_skipped = 1;
}

int check_close(const char *what, const float *got, const float *want, size_t n, double atol,
                double rtol)
{
    size_t worst = 0;
    double worst_excess = -1.0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        double lim = atol + rtol * fabs(w);
        double excess = isfinite(g) ? fabs(g - w) - lim : INFINITY;
        if (excess > 0)
            bad++;
        if (excess > worst_excess) {
            worst_excess = excess;
            worst = i;
        }
    }
    if (bad) {
        test_fail_at(__FILE__, __LINE__,
                     "%s: %d of %zu values off; worst [%zu] got %.7g want %.7g (atol %g rtol %g)",
                     what, bad, n, worst, got[worst], want[worst], atol, rtol);
        return 0;
    }
    return 1;
}

ld_tensor *test_random(int ndim, const int *shape, float lo, float hi, int with_grad,
                       unsigned seed)
{
    ld_tensor *t = ld_tensor_heap(ndim, shape, with_grad);
    if (!t) {
        TEST_FAIL("out of memory");
        return NULL;
    }
    ld_rng r;
    ld_rng_init(&r, 0x7e57000000ull + seed);
    ld_rng_fill_uniform(&r, t->data, t->numel, lo, hi);
    return t;
}

int fixture_open(const char *name, ld_st_file *f)
{
    char path[512];
    ld_err err;
    snprintf(path, sizeof path, "%s/%s", LD_FIXTURE_DIR, name);
    if (ld_st_read(path, f, &err)) {
        TEST_FAIL("fixture: %s (regenerate with `make fixtures`)", err.msg);
        return -1;
    }
    return 0;
}

ld_tensor *fixture_tensor(const ld_st_file *f, const char *name, int with_grad)
{
    const ld_st_tensor *st = ld_st_find(f, name);
    if (!st) {
        TEST_FAIL("fixture tensor '%s' missing", name);
        return NULL;
    }
    int shape[LD_MAX_DIMS];
    int ndim = st->ndim;
    for (int i = 0; i < ndim; i++)
        shape[i] = (int)st->shape[i];
    if (ndim == 0) { /* a scalar is stored as shape [] */
        ndim = 1;
        shape[0] = 1;
    }
    ld_tensor *t = ld_tensor_heap(ndim, shape, with_grad);
    ld_err err;
    if (!t || ld_st_read_f32(f, name, st->ndim, st->shape, t->data, &err)) {
        TEST_FAIL("fixture tensor '%s': %s", name, t ? err.msg : "out of memory");
        ld_tensor_heap_free(t);
        return NULL;
    }
    return t;
}

double fixture_double(const ld_st_file *f, const char *key)
{
    const char *v = ld_st_meta_get(f, key);
    if (!v) {
        TEST_FAIL("fixture metadata '%s' missing", key);
        return 0;
    }
    return atof(v);
}

int fixture_int(const ld_st_file *f, const char *key) { return (int)fixture_double(f, key); }

int fixture_check(const ld_st_file *f, const char *name, const float *got, size_t n,
                  double atol, double rtol)
{
    ld_tensor *want = fixture_tensor(f, name, 0);
    if (!want)
        return 0;
    int ok;
    if (want->numel != n) {
        TEST_FAIL("%s: %zu values computed, fixture has %zu", name, n, want->numel);
        ok = 0;
    } else {
        ok = check_close(name, got, want->data, n, atol, rtol);
    }
    ld_tensor_heap_free(want);
    return ok;
}

int fixture_case(const ld_st_file *f, const char *case_name, int n_inputs, test_forward_fn fn,
                 void *user, double atol, double rtol)
{
    ld_tensor *xs[16] = {0};
    char name[160];
    int ok = n_inputs <= 16;
    for (int i = 0; ok && i < n_inputs; i++) {
        snprintf(name, sizeof name, "%s.x%d", case_name, i);
        xs[i] = fixture_tensor(f, name, 1);
        ok = xs[i] != NULL;
    }
    ld_ctx *ctx = test_ctx();
    ld_ctx_reset(ctx);
    ld_tensor *y = ok ? fn(ctx, xs, user) : NULL;
    if (ok && !y) {
        TEST_FAIL("%s: forward failed: %s", case_name, ctx->err.msg);
        ok = 0;
    }
    if (ok) {
        snprintf(name, sizeof name, "%s.y", case_name);
        ok = fixture_check(f, name, y->data, y->numel, atol, rtol);
        snprintf(name, sizeof name, "%s.dy", case_name);
        ld_tensor *dy = fixture_tensor(f, name, 0);
        if (dy && dy->numel == y->numel && y->requires_grad) {
            memcpy(ld_grad(ctx, y), dy->data, dy->numel * sizeof(float));
            if (ld_tape_replay(ctx)) {
                TEST_FAIL("%s: backward failed: %s", case_name, ctx->err.msg);
                ok = 0;
            }
            for (int i = 0; ok && i < n_inputs; i++) {
                snprintf(name, sizeof name, "%s.dx%d", case_name, i);
                if (!ld_st_find(f, name))
                    continue; /* an input without a gradient (an index, a mask) */
                ok &= fixture_check(f, name, xs[i]->grad, xs[i]->numel, atol, rtol);
            }
        } else if (dy) {
            TEST_FAIL("%s: output has no gradient path or dy has the wrong size", case_name);
            ok = 0;
        }
        ld_tensor_heap_free(dy);
    }
    for (int i = 0; i < n_inputs; i++)
        ld_tensor_heap_free(xs[i]);
    ld_ctx_reset(ctx);
    return ok;
}

ld_tensor *test_unblock(ld_ctx *ctx, ld_tensor *y, int block, const char *op)
{
    if (y && y->block != block) {
        ld_fail(ctx, "%s: output in layout block %d, its input in %d", op, y->block, block);
        return NULL;
    }
    return ld_to_block(ctx, y, 0);
}

/* sum_i r_i * out_i in double, by a forward pass without recording. */
static double weighted_output(ld_ctx *ctx, test_forward_fn f, ld_tensor **inputs, void *user,
                              const float *r, size_t n, const ld_rng *rng0, int *ok)
{
    ld_ctx_reset(ctx);
    ctx->rng = *rng0;
    ctx->recording = 0;
    ld_tensor *out = f(ctx, inputs, user);
    ctx->recording = 1;
    if (!out || out->numel != n) {
        *ok = 0;
        return 0;
    }
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)r[i] * out->data[i];
    return s;
}

void check_gradients(const char *name, test_forward_fn f, ld_tensor **inputs, int n_inputs,
                     void *user, double eps, double tol, int max_points)
{
    ld_ctx *ctx = test_ctx();
    ld_rng rng0 = ctx->rng;
    ld_ctx_reset(ctx);
    for (int k = 0; k < n_inputs; k++)
        if (inputs[k]->grad)
            memset(inputs[k]->grad, 0, inputs[k]->numel * sizeof(float));
    ld_tensor *out = f(ctx, inputs, user);
    if (!out) {
        TEST_FAIL("%s: forward failed: %s", name, ctx->err.msg);
        return;
    }
    size_t n = out->numel;
    float *r = malloc(n * sizeof *r);
    ld_rng wr;
    ld_rng_init(&wr, 99);
    ld_rng_fill_uniform(&wr, r, n, -1.0f, 1.0f);
    float *g = ld_grad(ctx, out);
    memcpy(g, r, n * sizeof *r);
    if (ld_tape_replay(ctx)) {
        TEST_FAIL("%s: backward failed: %s", name, ctx->err.msg);
        free(r);
        return;
    }
    for (int k = 0; k < n_inputs; k++) {
        ld_tensor *x = inputs[k];
        if (!x->requires_grad)
            continue;
        float *analytic = malloc(x->numel * sizeof *analytic);
        memcpy(analytic, x->grad, x->numel * sizeof *analytic);
        size_t step = x->numel > (size_t)max_points ? x->numel / (size_t)max_points : 1;
        int bad = 0, ok = 1;
        double worst = 0;
        size_t worst_i = 0;
        double worst_num = 0;
        for (size_t i = 0; i < x->numel; i += step) {
            float saved = x->data[i];
            x->data[i] = (float)(saved + eps);
            double plus = weighted_output(ctx, f, inputs, user, r, n, &rng0, &ok);
            x->data[i] = (float)(saved - eps);
            double minus = weighted_output(ctx, f, inputs, user, r, n, &rng0, &ok);
            x->data[i] = saved;
            double h = (double)(float)(saved + eps) - (double)(float)(saved - eps);
            double numeric = (plus - minus) / h;
            double err = fabs(numeric - analytic[i]) / fmax(1.0, fabs(numeric));
            if (err > tol)
                bad++;
            if (err > worst) {
                worst = err;
                worst_i = i;
                worst_num = numeric;
            }
        }
        if (!ok)
            TEST_FAIL("%s: forward failed during finite differences: %s", name, ctx->err.msg);
        else if (bad)
            TEST_FAIL("%s: input %d: %d gradient entries off; worst [%zu] analytic %.6g numeric "
                      "%.6g (tol %g)", name, k, bad, worst_i, analytic[worst_i], worst_num, tol);
        free(analytic);
    }
    free(r);
    ld_ctx_reset(ctx);
    ctx->rng = rng0;
}

/* ---- whole files ------------------------------------------------------------- */

int test_write_bytes(const char *path, const void *bytes, size_t n)
{
    FILE *fp = fopen(path, "wb");
    int ok = fp && fwrite(bytes, 1, n, fp) == n;
    if (fp && fclose(fp))
        ok = 0;
    if (!ok)
        TEST_FAIL("cannot write %s", path);
    return ok ? 0 : -1;
}

unsigned char *test_read_bytes(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    *n = (size_t)ftell(fp);
    rewind(fp);
    unsigned char *b = malloc(*n + 1);
    if (b && fread(b, 1, *n, fp) != *n) {
        free(b);
        b = NULL;
    }
    if (b)
        b[*n] = 0; /* text files read as strings */
    fclose(fp);
    return b;
}

/* ---- scratch folder ----------------------------------------------------------- */

char test_scratch_dir[256];

void test_scratch_make(const char *tag)
{
    snprintf(test_scratch_dir, sizeof test_scratch_dir, "/tmp/latdyn_%s_%ld", tag,
             (long)getpid());
    mkdir(test_scratch_dir, 0777);
}

const char *test_scratch(const char *name)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", test_scratch_dir, name);
    return path[k];
}

void test_scratch_remove(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", test_scratch_dir);
    CHECK(system(cmd) == 0, "clean up %s", test_scratch_dir);
}
