/* Tests of checkpoints: an exact round trip of parameters, optimiser,
 * step, RNG, schedule and configuration; clear errors that change nothing
 * for broken files; and training resumed from a checkpoint matching
 * uninterrupted training bit for bit. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/backend.h"
#include "engine/checkpoint.h"
#include "ops/elementwise.h"
#include "test.h"

/* ---- a registry, optimiser and state to save ------------------------------ */

typedef struct shape_spec {
    const char *name;
    int ndim;
    int shape[4];
    int trainable;
} shape_spec;

/* conv [2,3,3,3], w [5], b [1], stats [3] (non-trainable, registered last so
 * that an error on it would show a partial load of the others). */
static const shape_spec model_spec[] = {
    {"conv.weight", 4, {2, 3, 3, 3}, 1},
    {"w", 1, {5}, 1},
    {"b", 1, {1}, 1},
    {"bn.running_mean", 1, {3}, 0},
};
#define MODEL_TENSORS ((int)(sizeof model_spec / sizeof model_spec[0]))

typedef struct saved_state {
    ld_params params;
    ld_optim opt;
    ld_rng rng;
    ld_schedule sched;
    ld_config config;
    int64_t step;
} saved_state;

/* Fills every entry of p (not the padding between them) with normal values
 * from seed. */
static void fill_entries(ld_params *p, uint64_t seed)
{
    ld_rng r;
    ld_rng_init(&r, seed);
    for (int i = 0; i < p->count; i++)
        ld_rng_fill_normal(&r, p->data + p->info[i].offset, p->info[i].numel, 0, 1);
}

/* Registers spec (n tensors) and fills the values from `seed`. */
static int build_registry(ld_params *p, const shape_spec *spec, int n, uint64_t seed)
{
    ld_err err;
    ld_params_init(p);
    for (int i = 0; i < n; i++)
        if (ld_params_add(p, spec[i].name, spec[i].ndim, spec[i].shape, spec[i].trainable,
                          &err) < 0) {
            TEST_FAIL("%s", err.msg);
            return -1;
        }
    if (ld_params_finalize(p, &err)) {
        TEST_FAIL("%s", err.msg);
        return -1;
    }
    fill_entries(p, seed);
    return 0;
}

/* A state with every part non-trivial: moments from three updates, a 64-bit
 * RNG state, a plateau schedule that has reduced its lr, a configuration. */
static int build_state(saved_state *s, const shape_spec *spec, int n, uint64_t seed)
{
    ld_err err;
    memset(s, 0, sizeof *s);
    if (build_registry(&s->params, spec, n, seed))
        return -1;
    if (ld_optim_init(&s->opt, LD_OPTIM_ADAMW, &s->params, 3e-4, &err) ||
        ld_schedule_plateau(&s->sched, 0.1, 0.5, 0, 1e-4, 1, 1e-3, &err)) {
        TEST_FAIL("%s", err.msg);
        return -1;
    }
    ld_rng r;
    ld_rng_init(&r, seed + 1);
    for (int k = 0; k < 3; k++) {
        ld_rng_fill_normal(&r, s->params.grad, s->params.total, 0, 1);
        ld_optim_step(&s->opt, &s->params, &err);
        ld_schedule_observe(&s->sched, 1.0 + k);
    }
    s->opt.beta1 = 0.85; /* hyper-parameters other than the defaults */
    s->opt.eps = 1e-7;
    s->opt.lr = 0.1 + 0.2; /* 17 significant digits to read back exactly */
    s->opt.weight_decay = 1.0 / 3.0;
    s->rng.seed = 0xFEDCBA9876543210ull ^ seed;
    s->rng.counter = 0xF23456789ABCDEF1ull;
    s->step = 4000000000123ll;
    ld_config_init(&s->config);
    if (ld_config_set(&s->config, "model", "between", &err) ||
        ld_config_set(&s->config, "features", "5", &err) ||
        ld_config_set(&s->config, "note", "quotes \" and \\ and tabs\t", &err)) {
        TEST_FAIL("%s", err.msg);
        return -1;
    }
    return 0;
}

static void free_state(saved_state *s)
{
    ld_optim_free(&s->opt);
    ld_params_free(&s->params);
    ld_config_free(&s->config);
}

static int save_state(const saved_state *s, const char *path)
{
    ld_err err;
    if (ld_checkpoint_save(path, &s->params, &s->opt, s->step, &s->rng, &s->sched, &s->config,
                           &err)) {
        TEST_FAIL("save: %s", err.msg);
        return -1;
    }
    return 0;
}

static int load_state(saved_state *s, const char *path, ld_err *err)
{
    return ld_checkpoint_load(path, &s->params, &s->opt, &s->step, &s->rng, &s->sched,
                              &s->config, err);
}

static int schedules_equal(const ld_schedule *a, const ld_schedule *b)
{
    int same = a->kind == b->kind && a->base_lr == b->base_lr && a->gamma == b->gamma &&
               a->every == b->every && a->n_milestones == b->n_milestones &&
               a->t_max == b->t_max && a->min_lr == b->min_lr && a->factor == b->factor &&
               a->threshold == b->threshold && a->patience == b->patience &&
               a->cooldown == b->cooldown && a->lr == b->lr && a->best == b->best &&
               a->bad_epochs == b->bad_epochs && a->cooldown_left == b->cooldown_left &&
               a->epochs == b->epochs;
    for (int i = 0; same && i < a->n_milestones; i++)
        same = a->milestones[i] == b->milestones[i];
    return same;
}

static int configs_equal(const ld_config *a, const ld_config *b)
{
    if (a->count != b->count)
        return 0;
    for (int i = 0; i < a->count; i++) {
        const char *v = ld_config_get(b, a->keys[i]);
        if (!v || strcmp(v, a->values[i]) != 0)
            return 0;
    }
    return 1;
}

/* Everything in a equals b, bit for bit. */
static void check_states_equal(const saved_state *a, const saved_state *b, const char *what)
{
    size_t bytes = a->params.total * sizeof(float);
    CHECK(a->params.total == b->params.total && memcmp(a->params.data, b->params.data, bytes) == 0,
          "%s: parameters differ", what);
    CHECK(memcmp(a->opt.m, b->opt.m, bytes) == 0 && memcmp(a->opt.v, b->opt.v, bytes) == 0,
          "%s: optimiser moments differ", what);
    CHECK(a->opt.kind == b->opt.kind && a->opt.lr == b->opt.lr && a->opt.beta1 == b->opt.beta1 &&
              a->opt.beta2 == b->opt.beta2 && a->opt.eps == b->opt.eps &&
              a->opt.weight_decay == b->opt.weight_decay && a->opt.step == b->opt.step,
          "%s: optimiser hyper-parameters or step differ", what);
    CHECK(a->step == b->step, "%s: step %" PRId64 " vs %" PRId64, what, a->step, b->step);
    CHECK(a->rng.seed == b->rng.seed && a->rng.counter == b->rng.counter,
          "%s: rng %" PRIu64 "/%" PRIu64 " vs %" PRIu64 "/%" PRIu64, what, a->rng.seed,
          a->rng.counter, b->rng.seed, b->rng.counter);
    CHECK(schedules_equal(&a->sched, &b->sched), "%s: schedule differs", what);
    CHECK(configs_equal(&a->config, &b->config), "%s: configuration differs", what);
}

/* Numbers are stored as the shortest decimal that reads back exactly. */
typedef struct number_settings {
    float f[4];
    double d[2];
} number_settings;

static void test_config_numbers(void)
{
    static const ld_config_field fields[] = {
        {"a", LD_CONFIG_FLOAT, offsetof(number_settings, f[0]), 0},
        {"b", LD_CONFIG_FLOAT, offsetof(number_settings, f[1]), 0},
        {"c", LD_CONFIG_FLOAT, offsetof(number_settings, f[2]), 0},
        {"d", LD_CONFIG_FLOAT, offsetof(number_settings, f[3]), 0},
        {"e", LD_CONFIG_DOUBLE, offsetof(number_settings, d[0]), 0},
        {"f", LD_CONFIG_DOUBLE, offsetof(number_settings, d[1]), 0},
    };
    number_settings want = {{0.001f, 1e-6f, 1.0f / 3.0f, 1.5f}, {0.1, 1.0 / 3.0}}, got;
    static const char *const text[] = {"0.001", "1e-06", "0.33333334", "1.5", "0.1",
                                       "0.3333333333333333"};
    ld_config config;
    ld_config_init(&config);
    ld_err err;
    if (ld_config_save_fields(&config, &want, fields, 6, "numbers", &err) ||
        ld_config_load_fields(&config, &got, fields, 6, "numbers", sizeof got, &err)) {
        TEST_FAIL("%s", err.msg);
    } else {
        for (int i = 0; i < 6; i++)
            CHECK(!strcmp(ld_config_get(&config, fields[i].key), text[i]), "%s stored as '%s', want '%s'",
                  fields[i].key, ld_config_get(&config, fields[i].key), text[i]);
        CHECK(!memcmp(&got, &want, sizeof got), "numbers read back exactly");
    }
    ld_config_free(&config);
}

static void test_round_trip(void)
{
    saved_state saved, loaded;
    test_scratch_make("checkpoint");
    const char *path = test_scratch("round_trip.safetensors");
    ld_err err;
    memset(&loaded, 0, sizeof loaded);
    if (build_state(&saved, model_spec, MODEL_TENSORS, 1) ||
        build_state(&loaded, model_spec, MODEL_TENSORS, 2) || save_state(&saved, path))
        goto done;
    CHECK(saved.sched.lr < saved.sched.base_lr && saved.opt.step == 3, "state is non-trivial");
    if (load_state(&loaded, path, &err)) {
        TEST_FAIL("load: %s", err.msg);
        goto done;
    }
    check_states_equal(&saved, &loaded, "round trip");

    /* a multistep schedule, no optimiser, and the configuration alone */
    const int64_t milestones[3] = {10, 200, 3000};
    ld_schedule multi, back;
    ld_config config;
    ld_config_init(&config);
    ld_schedule_multistep(&multi, 0.1, 0.25, 3, milestones, &err);
    if (ld_checkpoint_save(path, &saved.params, NULL, 7, NULL, &multi, &saved.config, &err) ||
        ld_checkpoint_load(path, &loaded.params, NULL, NULL, NULL, &back, NULL, &err) ||
        ld_checkpoint_read_config(path, &config, &err)) {
        TEST_FAIL("%s", err.msg);
    } else {
        CHECK(schedules_equal(&multi, &back), "multistep schedule round trip");
        CHECK(configs_equal(&saved.config, &config), "ld_checkpoint_read_config");
        CHECK(strcmp(ld_config_get(&config, "note"), "quotes \" and \\ and tabs\t") == 0,
              "escaped configuration value");
    }
    ld_config_free(&config);
done:
    test_scratch_remove();
    free_state(&saved);
    free_state(&loaded);
}

/* The layout numpy / PyTorch safetensors readers expect: an 8-byte
 * little-endian header length (a multiple of 8 here), the JSON header, then
 * the raw float32 data, first tensor first, filling the rest of the file;
 * tensor names, shapes and metadata as documented in checkpoint.h. */
static void test_safetensors_layout(void)
{
    saved_state s;
    test_scratch_make("checkpoint");
    const char *path = test_scratch("layout.safetensors");
    ld_st_file f;
    ld_err err;
    if (build_state(&s, model_spec, MODEL_TENSORS, 3) || save_state(&s, path))
        goto done;
    if (ld_st_read(path, &f, &err)) {
        TEST_FAIL("%s", err.msg);
        goto done;
    }
    uint64_t header_len = 0;
    size_t data_bytes = 0;
    for (int i = 7; i >= 0; i--)
        header_len = header_len << 8 | f.buffer[i];
    for (int i = 0; i < f.count; i++)
        data_bytes += f.tensors[i].nbytes;
    const ld_st_tensor *t = ld_st_find(&f, "conv.weight");
    const ld_st_tensor *m = ld_st_find(&f, "optim.m/w");
    size_t file_bytes = 0;
    unsigned char *raw = test_read_bytes(path, &file_bytes);
    CHECK(header_len % 8 == 0 && f.buffer[8] == '{' && file_bytes == 8 + header_len + data_bytes,
          "header length %llu, %zu data bytes, file %zu bytes", (unsigned long long)header_len,
          data_bytes, file_bytes);
    CHECK(t && (const unsigned char *)t->data == f.buffer + 8 + header_len,
          "the first tensor's data starts right after the header");
    free(raw);
    CHECK(t && t->dtype == LD_ST_F32 && t->ndim == 4 && t->shape[0] == 2 && t->shape[3] == 3,
          "conv.weight stored as F32 [2, 3, 3, 3]");
    CHECK(t && memcmp(t->data, s.params.data + s.params.info[0].offset, t->nbytes) == 0,
          "conv.weight data");
    CHECK(m && memcmp(m->data, s.opt.m + s.params.info[1].offset, m->nbytes) == 0,
          "optim.m/w data");
    CHECK(!ld_st_find(&f, "optim.m/bn.running_mean"), "no moments for non-trainable entries");
    CHECK(strcmp(ld_st_meta_get(&f, "rng.seed"), "18364758544493064723") == 0 &&
              strcmp(ld_st_meta_get(&f, "rng.counter"), "17452669531959647985") == 0,
          "RNG state as exact decimals: %s %s", ld_st_meta_get(&f, "rng.seed"),
          ld_st_meta_get(&f, "rng.counter"));
    CHECK(strcmp(ld_st_meta_get(&f, "format"), LD_CHECKPOINT_FORMAT) == 0 &&
              strcmp(ld_st_meta_get(&f, "config.model"), "between") == 0,
          "format tag and configuration metadata");
    ld_st_free(&f);
done:
    test_scratch_remove();
    free_state(&s);
}

/* ---- broken files ------------------------------------------------------ */

/* Loading `path` into target fails with a message containing each of
 * `expect` (NULL-terminated), and target is unchanged. */
static void expect_load_error(saved_state *target, const char *path, const char *what,
                              const char *const *expect)
{
    saved_state before;
    ld_err err;
    if (build_state(&before, model_spec, MODEL_TENSORS, 2)) {
        free_state(&before);
        return;
    }
    check_states_equal(&before, target, "target before the load");
    err.msg[0] = 0;
    if (!load_state(target, path, &err)) {
        TEST_FAIL("%s: load succeeded", what);
    } else {
        for (const char *const *e = expect; *e; e++)
            CHECK(strstr(err.msg, *e), "%s: message lacks '%s': %s", what, *e, err.msg);
    }
    check_states_equal(&before, target, what);
    free_state(&before);
}

static void test_load_errors(void)
{
    saved_state good, target, other;
    test_scratch_make("checkpoint");
    const char *path = test_scratch("good.safetensors"), *bad = test_scratch("bad.safetensors");
    unsigned char *bytes = NULL;
    size_t n = 0;
    ld_err err;
    memset(&other, 0, sizeof other);
    memset(&target, 0, sizeof target);
    if (build_state(&good, model_spec, MODEL_TENSORS, 1) ||
        build_state(&target, model_spec, MODEL_TENSORS, 2) || save_state(&good, path) ||
        !(bytes = test_read_bytes(path, &n)))
        goto done;

    expect_load_error(&target, "/nonexistent/dir/ckpt.safetensors", "missing file",
                      (const char *[]){"/nonexistent/dir/ckpt.safetensors", "cannot open", NULL});

    test_write_bytes(bad, bytes, n - 20);
    expect_load_error(&target, bad, "truncated data", (const char *[]){bad, "truncated", NULL});
    test_write_bytes(bad, bytes, 100);
    expect_load_error(&target, bad, "truncated header", (const char *[]){bad, "truncated", NULL});

    unsigned char garbage[300];
    ld_rng r;
    ld_rng_init(&r, 77);
    for (size_t i = 0; i < sizeof garbage; i++)
        garbage[i] = (unsigned char)ld_rng_below(&r, 256);
    test_write_bytes(bad, garbage, sizeof garbage);
    expect_load_error(&target, bad, "garbage bytes",
                      (const char *[]){bad, "not a safetensors", NULL});
    memcpy(bytes + 8, garbage, 40); /* a plausible length, then a garbage header */
    test_write_bytes(bad, bytes, n);
    expect_load_error(&target, bad, "garbage header", (const char *[]){bad, "corrupt", NULL});

    /* shapes and names: saved from a model with different tensors */
    shape_spec wider[MODEL_TENSORS];
    memcpy(wider, model_spec, sizeof wider);
    wider[MODEL_TENSORS - 1].shape[0] = 4;
    if (!build_state(&other, wider, MODEL_TENSORS, 5) && !save_state(&other, bad))
        expect_load_error(&target, bad, "wrong shape",
                          (const char *[]){bad, "'bn.running_mean'", "[4]", "[3]", NULL});
    free_state(&other);
    if (!build_state(&other, model_spec, MODEL_TENSORS - 1, 5) && !save_state(&other, bad))
        expect_load_error(&target, bad, "missing tensor",
                          (const char *[]){bad, "'bn.running_mean' missing", NULL});
    free_state(&other);
    shape_spec extra[MODEL_TENSORS + 1];
    memcpy(extra, model_spec, sizeof model_spec);
    extra[MODEL_TENSORS] = (shape_spec){"head.bias", 1, {2}, 1};
    if (!build_state(&other, extra, MODEL_TENSORS + 1, 5) && !save_state(&other, bad))
        expect_load_error(&target, bad, "unknown tensor",
                          (const char *[]){bad, "'head.bias'", "not a parameter", NULL});
    free_state(&other);

    /* state the caller asks for but the file lacks or contradicts */
    if (ld_checkpoint_save(bad, &good.params, NULL, 1, &good.rng, &good.sched, NULL, &err))
        TEST_FAIL("%s", err.msg);
    expect_load_error(&target, bad, "no optimiser", (const char *[]){"no optimiser state", NULL});
    if (ld_checkpoint_save(bad, &good.params, &good.opt, 1, NULL, &good.sched, NULL, &err))
        TEST_FAIL("%s", err.msg);
    expect_load_error(&target, bad, "no rng", (const char *[]){"no RNG state", NULL});
    good.opt.kind = LD_OPTIM_ADAM;
    save_state(&good, bad);
    good.opt.kind = LD_OPTIM_ADAMW;
    expect_load_error(&target, bad, "optimiser kind", (const char *[]){"adam", "adamw", NULL});

    /* the good checkpoint with conv.weight stored as float64 */
    ld_st_file in, out;
    double conv64[54];
    if (ld_st_read(path, &in, &err)) {
        TEST_FAIL("%s", err.msg);
        goto done;
    }
    ld_st_init(&out);
    for (int i = 0; i < in.meta_count; i++)
        ld_st_set_meta(&out, in.meta[i].key, in.meta[i].value, &err);
    for (int i = 0; i < in.count; i++) {
        const ld_st_tensor *t = &in.tensors[i];
        int as_f64 = strcmp(t->name, "conv.weight") == 0 && t->numel == 54;
        for (size_t k = 0; as_f64 && k < t->numel; k++)
            conv64[k] = ((const float *)t->data)[k];
        ld_st_add(&out, t->name, as_f64 ? LD_ST_F64 : t->dtype, t->ndim, t->shape,
                  as_f64 ? (const void *)conv64 : t->data, &err);
    }
    if (ld_st_write(&out, bad, &err))
        TEST_FAIL("%s", err.msg);
    ld_st_free(&out);
    ld_st_free(&in);
    expect_load_error(&target, bad, "float64 tensor",
                      (const char *[]){"'conv.weight'", "dtype F64", NULL});

    /* a safetensors file that is not a checkpoint */
    char fixture[512];
    snprintf(fixture, sizeof fixture, "%s/optim.safetensors", LD_FIXTURE_DIR);
    expect_load_error(&target, fixture, "not a checkpoint",
                      (const char *[]){"not a latdyn checkpoint", NULL});

    /* the loads that failed left the good checkpoint loadable */
    if (load_state(&target, path, &err))
        TEST_FAIL("good checkpoint: %s", err.msg);
    else
        check_states_equal(&good, &target, "load after failures");
done:
    free(bytes);
    test_scratch_remove();
    free_state(&good);
    free_state(&target);
}

/* ---- resume equals uninterrupted ----------------------------------------- */

#define TINY_BATCH 8
#define TRAIN_STEPS 20

/* w [features], b [1] and a non-trainable entry, Adam, a plateau schedule on
 * the loss, clipping, and a context whose RNG draws the inputs. */
typedef struct tiny_model {
    ld_params params;
    ld_optim opt;
    ld_schedule sched;
    ld_ctx ctx;
    int w, b, features;
} tiny_model;

static int tiny_build(tiny_model *m, const ld_config *config, uint64_t seed)
{
    ld_err err;
    memset(m, 0, sizeof *m);
    const char *features = ld_config_get(config, "features");
    m->features = features ? atoi(features) : 0;
    int shape_w[1] = {m->features}, shape_b[1] = {1}, shape_stats[1] = {2};
    ld_params_init(&m->params);
    ld_ctx_init(&m->ctx, ld_backend_cpu(), seed);
    m->w = ld_params_add(&m->params, "w", 1, shape_w, 1, &err);
    m->b = m->w < 0 ? -1 : ld_params_add(&m->params, "b", 1, shape_b, 1, &err);
    if (m->b < 0 || ld_params_add(&m->params, "stats", 1, shape_stats, 0, &err) < 0 ||
        ld_params_finalize(&m->params, &err) ||
        ld_optim_init(&m->opt, LD_OPTIM_ADAM, &m->params, 0.1, &err) ||
        ld_schedule_plateau(&m->sched, 0.1, 0.5, 1, 1e-4, 0, 1e-3, &err)) {
        TEST_FAIL("tiny model: %s", err.msg);
        return -1;
    }
    fill_entries(&m->params, seed);
    return 0;
}

static void tiny_free(tiny_model *m)
{
    ld_optim_free(&m->opt);
    ld_params_free(&m->params);
    ld_ctx_free(&m->ctx);
}

/* One update on loss = mean((w * x + b - y)^2) with x [8, features] drawn
 * from the context's RNG and y = 0.5 x - 0.25. */
static int tiny_step(tiny_model *m, int64_t step)
{
    ld_ctx *c = &m->ctx;
    ld_err err;
    int shape[2] = {TINY_BATCH, m->features};
    ld_ctx_reset(c);
    ld_params_zero_grad(&m->params);
    ld_tensor *x = ld_tensor_new(c, 2, shape), *y = ld_tensor_new(c, 2, shape);
    if (!x || !y)
        return -1;
    ld_rng_fill_normal(&c->rng, x->data, x->numel, 0, 1);
    for (size_t i = 0; i < y->numel; i++)
        y->data[i] = 0.5f * x->data[i] - 0.25f;
    ld_tensor *pred = ld_add(c, ld_mul(c, x, ld_param(&m->params, m->w)),
                             ld_param(&m->params, m->b));
    ld_tensor *r = ld_sub(c, pred, y);
    ld_tensor *loss = ld_mean(c, ld_mul(c, r, r));
    if (!loss || ld_backward(c, loss)) {
        TEST_FAIL("tiny model step %" PRId64 ": %s", step, c->err.msg);
        return -1;
    }
    ld_clip_grad_norm(&m->params, 1.0);
    m->opt.lr = ld_schedule_lr(&m->sched, step);
    if (ld_optim_step(&m->opt, &m->params, &err)) {
        TEST_FAIL("%s", err.msg);
        return -1;
    }
    ld_schedule_observe(&m->sched, loss->data[0]);
    return 0;
}

static int tiny_train(tiny_model *m, int64_t from, int64_t to)
{
    for (int64_t s = from; s < to; s++)
        if (tiny_step(m, s))
            return -1;
    return 0;
}

static void test_resume_equals_uninterrupted(void)
{
    tiny_model straight, first, resumed;
    ld_config config, config_read;
    ld_err err;
    int64_t step = 0;
    test_scratch_make("checkpoint");
    const char *path = test_scratch("resume.safetensors");
    ld_config_init(&config);
    ld_config_init(&config_read);
    memset(&first, 0, sizeof first);
    memset(&resumed, 0, sizeof resumed);
    memset(&straight, 0, sizeof straight);
    ld_config_set(&config, "features", "5", &err);
    if (tiny_build(&straight, &config, 11) || tiny_train(&straight, 0, TRAIN_STEPS))
        goto done;
    CHECK(straight.sched.lr < straight.sched.base_lr,
          "the plateau schedule reduced the lr during the run (so its state matters)");

    if (tiny_build(&first, &config, 11) || tiny_train(&first, 0, TRAIN_STEPS / 2))
        goto done;
    if (ld_checkpoint_save(path, &first.params, &first.opt, TRAIN_STEPS / 2, &first.ctx.rng,
                           &first.sched, &config, &err)) {
        TEST_FAIL("save: %s", err.msg);
        goto done;
    }
    /* a fresh model built from the checkpoint's configuration, with other
     * initial values and another seed */
    if (ld_checkpoint_read_config(path, &config_read, &err)) {
        TEST_FAIL("read config: %s", err.msg);
        goto done;
    }
    if (tiny_build(&resumed, &config_read, 99))
        goto done;
    if (ld_checkpoint_load(path, &resumed.params, &resumed.opt, &step, &resumed.ctx.rng,
                           &resumed.sched, NULL, &err)) {
        TEST_FAIL("load: %s", err.msg);
        goto done;
    }
    CHECK(step == TRAIN_STEPS / 2, "step %" PRId64 " restored", step);
    if (tiny_train(&resumed, step, TRAIN_STEPS))
        goto done;
    size_t bytes = straight.params.total * sizeof(float);
    CHECK(memcmp(straight.params.data, resumed.params.data, bytes) == 0,
          "resumed parameters are bit-identical to uninterrupted training");
    CHECK(memcmp(straight.opt.m, resumed.opt.m, bytes) == 0 &&
              memcmp(straight.opt.v, resumed.opt.v, bytes) == 0 &&
              straight.opt.step == resumed.opt.step,
          "resumed optimiser state is bit-identical");
    CHECK(straight.ctx.rng.counter == resumed.ctx.rng.counter &&
              schedules_equal(&straight.sched, &resumed.sched),
          "resumed RNG and schedule match");
done:
    test_scratch_remove();
    tiny_free(&straight);
    tiny_free(&first);
    tiny_free(&resumed);
    ld_config_free(&config);
    ld_config_free(&config_read);
}

LD_TEST_SUITE(checkpoint) = {
    {"config_numbers", test_config_numbers},
    {"round_trip", test_round_trip},
    {"safetensors_layout", test_safetensors_layout},
    {"load_errors", test_load_errors},
    {"resume_equals_uninterrupted", test_resume_equals_uninterrupted},
    {NULL, NULL},
};
