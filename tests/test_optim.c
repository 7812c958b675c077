/* Tests of the optimisers, gradient clipping and learning-rate schedules
 * against torch.optim (tests/fixtures/gen_optim.py). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/optim.h"
#include "engine/schedule.h"
#include "test.h"

#define N_FIXTURE_PARAMS 3
#define OPTIM_STEPS 10
#define FROZEN_GRAD 7.0f

/* Float32 parameters after ten updates: |got - torch| <= 1e-6 + 1e-6 |torch|. */
#define OPTIM_ATOL 1e-6
#define OPTIM_RTOL 1e-6
/* Learning rates are stored as float32 in the fixture. */
#define LR_RTOL 1e-6

static const int frozen_index = 1; /* "running", between p0 and p1 */
static const float frozen_values[4] = {1.5f, -2.0f, 0.25f, 8.0f};

/* Reads fixture tensor `name` into the values (or gradients) of entry e. */
static int read_entry(const ld_st_file *f, const char *name, const ld_param_info *e, float *base)
{
    int64_t shape[LD_MAX_DIMS];
    ld_err err;
    for (int d = 0; d < e->ndim; d++)
        shape[d] = e->shape[d];
    if (ld_st_read_f32(f, name, e->ndim, shape, base + e->offset, &err)) {
        TEST_FAIL("%s", err.msg);
        return -1;
    }
    return 0;
}

/* Copies fixture tensors "<prefix><i>" into the values (base p->data) or
 * gradients (base p->grad) of the fixture's parameters. */
static int read_entries(const ld_params *p, const ld_st_file *f, const int idx[N_FIXTURE_PARAMS],
                        const char *prefix, float *base)
{
    for (int i = 0; i < N_FIXTURE_PARAMS; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s%d", prefix, i);
        if (read_entry(f, name, &p->info[idx[i]], base))
            return -1;
    }
    return 0;
}

/* The fixture's parameters p0, p1, p2 (set to init.p*) with a non-trainable
 * entry "running" [4] between p0 and p1, whose gradient slot holds garbage
 * (FROZEN_GRAD) that the optimiser and clipping must ignore. Returns the
 * registry index of each fixture parameter in idx. */
static int build_params(ld_params *p, const ld_st_file *f, int idx[N_FIXTURE_PARAMS])
{
    ld_err err;
    int frozen_shape[1] = {4};
    ld_params_init(p);
    for (int i = 0; i < N_FIXTURE_PARAMS; i++) {
        char name[32];
        snprintf(name, sizeof name, "init.p%d", i);
        const ld_st_tensor *t = ld_st_find(f, name);
        if (!t) {
            TEST_FAIL("fixture tensor %s missing", name);
            return -1;
        }
        int shape[LD_MAX_DIMS];
        for (int d = 0; d < t->ndim; d++)
            shape[d] = (int)t->shape[d];
        snprintf(name, sizeof name, "p%d", i);
        idx[i] = ld_params_add(p, name, t->ndim, shape, 1, &err);
        if (i == 0 && ld_params_add(p, "running", 1, frozen_shape, 0, &err) != frozen_index)
            idx[i] = -1;
        if (idx[i] < 0) {
            TEST_FAIL("register: %s", err.msg);
            return -1;
        }
    }
    if (ld_params_finalize(p, &err)) {
        TEST_FAIL("finalize: %s", err.msg);
        return -1;
    }
    if (read_entries(p, f, idx, "init.p", p->data))
        return -1;
    const ld_param_info *frozen = &p->info[frozen_index];
    for (size_t k = 0; k < frozen->numel; k++) {
        p->data[frozen->offset + k] = frozen_values[k];
        p->grad[frozen->offset + k] = FROZEN_GRAD;
    }
    return 0;
}

/* The non-trainable entry kept its values and its garbage gradient, and
 * has no moments. */
static void check_frozen(const ld_params *p, const ld_optim *o)
{
    const ld_param_info *e = &p->info[frozen_index];
    for (size_t k = 0; k < e->numel; k++) {
        CHECK(p->data[e->offset + k] == frozen_values[k], "non-trainable value %zu changed to %g",
              k, p->data[e->offset + k]);
        CHECK(p->grad[e->offset + k] == FROZEN_GRAD, "non-trainable gradient %zu changed", k);
        CHECK(!o || (o->m[e->offset + k] == 0 && o->v[e->offset + k] == 0),
              "non-trainable entry got moments");
    }
}

static void run_optimiser_case(const ld_st_file *f, const char *case_name, ld_optim_kind kind)
{
    ld_params p;
    ld_optim o;
    ld_err err;
    int idx[N_FIXTURE_PARAMS];
    char key[64];
    if (build_params(&p, f, idx)) {
        ld_params_free(&p);
        return;
    }
    snprintf(key, sizeof key, "%s.lr", case_name);
    if (ld_optim_init(&o, kind, &p, fixture_double(f, key), &err)) {
        TEST_FAIL("%s", err.msg);
        ld_params_free(&p);
        return;
    }
    snprintf(key, sizeof key, "%s.beta1", case_name);
    o.beta1 = fixture_double(f, key);
    snprintf(key, sizeof key, "%s.beta2", case_name);
    o.beta2 = fixture_double(f, key);
    snprintf(key, sizeof key, "%s.eps", case_name);
    o.eps = fixture_double(f, key);
    snprintf(key, sizeof key, "%s.weight_decay", case_name);
    o.weight_decay = fixture_double(f, key);
    int ok = 1;
    for (int k = 0; ok && k < OPTIM_STEPS; k++) {
        char prefix[32];
        snprintf(prefix, sizeof prefix, "grad%d.p", k);
        ok = !read_entries(&p, f, idx, prefix, p.grad);
        if (ok && ld_optim_step(&o, &p, &err)) {
            TEST_FAIL("%s step %d: %s", case_name, k, err.msg);
            ok = 0;
        }
        for (int i = 0; ok && i < N_FIXTURE_PARAMS; i++) {
            char name[64];
            const ld_param_info *e = &p.info[idx[i]];
            snprintf(name, sizeof name, "%s.step%d.p%d", case_name, k, i);
            ok = fixture_check(f, name, p.data + e->offset, e->numel, OPTIM_ATOL, OPTIM_RTOL);
        }
    }
    CHECK(o.step == OPTIM_STEPS, "%s: step count %lld", case_name, (long long)o.step);
    check_frozen(&p, &o);
    ld_optim_free(&o);
    ld_params_free(&p);
}

static void test_adam_vs_torch(void)
{
    ld_st_file f;
    if (fixture_open("optim.safetensors", &f))
        return;
    run_optimiser_case(&f, "adam", LD_OPTIM_ADAM);
    run_optimiser_case(&f, "adam_l2", LD_OPTIM_ADAM);
    ld_st_free(&f);
}

static void test_adamw_vs_torch(void)
{
    ld_st_file f;
    if (fixture_open("optim.safetensors", &f))
        return;
    run_optimiser_case(&f, "adamw", LD_OPTIM_ADAMW);
    run_optimiser_case(&f, "adamw_betas", LD_OPTIM_ADAMW);
    ld_st_free(&f);
}

/* torch.nn.utils.clip_grad_norm_ (max_norm > 0) or clip_grad_value_
 * (max_norm 0) on the fixture's gradients "<case>.g<i>". */
static void run_clip_case(const ld_st_file *f, const char *case_name, double max_norm,
                          float clip_value)
{
    ld_params p;
    int idx[N_FIXTURE_PARAMS];
    char prefix[64];
    if (build_params(&p, f, idx)) {
        ld_params_free(&p);
        return;
    }
    snprintf(prefix, sizeof prefix, "%s.g", case_name);
    if (read_entries(&p, f, idx, prefix, p.grad)) {
        ld_params_free(&p);
        return;
    }
    if (max_norm > 0) {
        char name[64];
        float norm = (float)ld_clip_grad_norm(&p, max_norm);
        snprintf(name, sizeof name, "%s.norm", case_name);
        fixture_check(f, name, &norm, 1, 0, 1e-6);
    } else {
        ld_clip_grad_value(&p, clip_value);
    }
    for (int i = 0; i < N_FIXTURE_PARAMS; i++) {
        char name[64];
        const ld_param_info *e = &p.info[idx[i]];
        snprintf(name, sizeof name, "%s.out%d", case_name, i);
        fixture_check(f, name, p.grad + e->offset, e->numel, 1e-7, 1e-6);
    }
    check_frozen(&p, NULL);
    ld_params_free(&p);
}

static void test_clip_vs_torch(void)
{
    ld_st_file f;
    if (fixture_open("optim.safetensors", &f))
        return;
    run_clip_case(&f, "clip_norm", 1.0, 0);
    run_clip_case(&f, "clip_norm_big", 100.0, 0);
    run_clip_case(&f, "clip_value", 0, 0.5f);
    ld_st_free(&f);
}

/* The lr at each step against "<case>.lr"; plateau schedules observe
 * "<case>.metric" after each step. */
static void check_schedule(const ld_st_file *f, const char *case_name, ld_schedule *s)
{
    char name[64];
    snprintf(name, sizeof name, "%s.lr", case_name);
    ld_tensor *want = fixture_tensor(f, name, 0);
    snprintf(name, sizeof name, "%s.metric", case_name);
    ld_tensor *metric = s->kind == LD_SCHEDULE_PLATEAU ? fixture_tensor(f, name, 0) : NULL;
    if (want && (s->kind != LD_SCHEDULE_PLATEAU || metric)) {
        float *got = malloc(want->numel * sizeof *got);
        for (size_t t = 0; t < want->numel; t++) {
            got[t] = (float)ld_schedule_lr(s, (int64_t)t);
            if (metric)
                ld_schedule_observe(s, metric->data[t]);
        }
        snprintf(name, sizeof name, "%s schedule lr", case_name);
        check_close(name, got, want->data, want->numel, 0, LR_RTOL);
        free(got);
    }
    ld_tensor_heap_free(want);
    ld_tensor_heap_free(metric);
}

static void test_schedules_vs_torch(void)
{
    ld_st_file f;
    ld_schedule s;
    ld_err err;
    const int64_t milestones[3] = {3, 7, 12};
    if (fixture_open("optim.safetensors", &f))
        return;
    CHECK(!ld_schedule_exponential(&s, 0.1, 0.9, 1, &err), "%s", err.msg);
    check_schedule(&f, "exponential", &s);
    CHECK(!ld_schedule_exponential(&s, 0.1, 0.5, 4, &err), "%s", err.msg);
    check_schedule(&f, "step", &s);
    CHECK(!ld_schedule_multistep(&s, 0.1, 0.3, 3, milestones, &err), "%s", err.msg);
    check_schedule(&f, "multistep", &s);
    CHECK(!ld_schedule_cosine(&s, 0.1, 1e-3, 20, &err), "%s", err.msg);
    check_schedule(&f, "cosine", &s);
    CHECK(ld_schedule_lr(&s, 35) == 1e-3, "cosine holds min lr after t_max");
    CHECK(!ld_schedule_plateau(&s, 0.1, 0.5, 2, 1e-4, 0, 0.01, &err), "%s", err.msg);
    check_schedule(&f, "plateau", &s);
    CHECK(!ld_schedule_plateau(&s, 0.1, 0.3, 1, 1e-3, 2, 0.0, &err), "%s", err.msg);
    check_schedule(&f, "plateau_cooldown", &s);
    CHECK(!ld_schedule_constant(&s, 0.02, &err) && ld_schedule_lr(&s, 1000) == 0.02 &&
              ld_schedule_observe(&s, 1.0) == 0.02,
          "constant schedule");
    ld_st_free(&f);
}

static void test_between_decay(void)
{
    /* between.md: lr 1e-3, x0.9 every 500 steps */
    ld_schedule s;
    ld_err err;
    CHECK(!ld_schedule_exponential(&s, 1e-3, 0.9, 500, &err), "%s", err.msg);
    CHECK(ld_schedule_lr(&s, 499) == 1e-3, "no decay before step 500");
    CHECK(fabs(ld_schedule_lr(&s, 500) - 0.9e-3) < 1e-15, "x0.9 at step 500");
    CHECK(fabs(ld_schedule_lr(&s, 1999) - 1e-3 * 0.9 * 0.9 * 0.9) < 1e-15, "x0.9^3 at 1999");
}

static void test_bad_options(void)
{
    ld_schedule s;
    ld_err err;
    const int64_t unordered[2] = {5, 3};
    CHECK(ld_schedule_exponential(&s, 0.1, 0.9, 0, &err) && strstr(err.msg, "every"),
          "every = 0 rejected: %s", err.msg);
    CHECK(ld_schedule_cosine(&s, 0.1, 0.0, 0, &err) && strstr(err.msg, "t_max"),
          "t_max = 0 rejected: %s", err.msg);
    CHECK(ld_schedule_plateau(&s, 0.1, 1.5, 2, 1e-4, 0, 0, &err) && strstr(err.msg, "factor"),
          "factor 1.5 rejected: %s", err.msg);
    CHECK(ld_schedule_multistep(&s, 0.1, 0.5, 2, unordered, &err) && strstr(err.msg, "milestone"),
          "unordered milestones rejected: %s", err.msg);
    CHECK(ld_schedule_constant(&s, -1.0, &err) && strstr(err.msg, "lr"), "negative lr rejected");

    ld_params p, other;
    ld_optim o;
    int shape[1] = {3};
    ld_params_init(&p);
    ld_params_init(&other);
    CHECK(ld_optim_init(&o, LD_OPTIM_ADAM, &p, 0.1, &err) && strstr(err.msg, "finalize"),
          "optimiser on an unfinalized registry rejected: %s", err.msg);
    ld_params_add(&p, "w", 1, shape, 1, &err);
    ld_params_finalize(&p, &err);
    shape[0] = 40;
    ld_params_add(&other, "w", 1, shape, 1, &err);
    ld_params_finalize(&other, &err);
    if (ld_optim_init(&o, LD_OPTIM_ADAM, &p, 0.1, &err)) {
        TEST_FAIL("%s", err.msg);
    } else {
        p.data[0] = 1.0f;
        p.grad[0] = 1.0f;
        CHECK(ld_optim_step(&o, &other, &err) && strstr(err.msg, "made for 3 parameters"),
              "wrong registry rejected: %s", err.msg);
        o.beta1 = 1.0;
        CHECK(ld_optim_step(&o, &p, &err) && strstr(err.msg, "beta1 1"),
              "beta1 = 1 rejected: %s", err.msg);
        CHECK(p.data[0] == 1.0f && o.step == 0 && o.m[0] == 0, "failed step changed nothing");
        ld_optim_free(&o);
    }
    ld_params_free(&p);
    ld_params_free(&other);
}

/* One large entry (parallel path) updated and clipped with 1 and with 2
 * threads gives the same bits. */
static void test_thread_independent(void)
{
    enum { N = 100003 };
    int shape[1] = {N};
    float *result[2];
    double norm[2];
    int threads_before = omp_get_max_threads();
    for (int run = 0; run < 2; run++) {
        ld_params p;
        ld_optim o;
        ld_err err;
        ld_rng r;
        ld_params_init(&p);
        ld_params_add(&p, "big", 1, shape, 1, &err);
        if (ld_params_finalize(&p, &err) || ld_optim_init(&o, LD_OPTIM_ADAMW, &p, 0.01, &err)) {
            TEST_FAIL("%s", err.msg);
            return;
        }
        omp_set_num_threads(run + 1);
        ld_rng_init(&r, 5);
        ld_rng_fill_normal(&r, p.data, N, 0, 1);
        for (int k = 0; k < 3; k++) {
            ld_rng_fill_normal(&r, p.grad, N, 0, 1);
            norm[run] = ld_clip_grad_norm(&p, 10.0);
            ld_optim_step(&o, &p, &err);
        }
        result[run] = malloc(N * sizeof(float));
        memcpy(result[run], p.data, N * sizeof(float));
        ld_optim_free(&o);
        ld_params_free(&p);
    }
    omp_set_num_threads(threads_before);
    CHECK(norm[0] == norm[1], "norm differs with the thread count: %.17g vs %.17g", norm[0],
          norm[1]);
    CHECK(norm[0] > 10.0, "the clipping path ran (norm %g)", norm[0]);
    CHECK(memcmp(result[0], result[1], N * sizeof(float)) == 0,
          "parameters differ with the thread count");
    free(result[0]);
    free(result[1]);
}

LD_TEST_SUITE(optim) = {
    {"adam_vs_torch", test_adam_vs_torch},
    {"adamw_vs_torch", test_adamw_vs_torch},
    {"clip_vs_torch", test_clip_vs_torch},
    {"schedules_vs_torch", test_schedules_vs_torch},
    {"between_decay", test_between_decay},
    {"bad_options", test_bad_options},
    {"thread_independent", test_thread_independent},
    {NULL, NULL},
};
