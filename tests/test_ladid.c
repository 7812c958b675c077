/* Tests of the LaDID model: the time encoding, the time-window attention
 * weights, block splitting and the curriculum schedule; configuration round
 * trip; the whole loss's gradient by finite differences; resume equals
 * uninterrupted training; a small end-to-end fit on moving blobs that must
 * beat repeating the last context frame; and the fit / predict / eval /
 * finetune commands (outputs, resume, and one clear error line for bad
 * input), run as child processes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "data/metrics.h"
#include "data/npy.h"
#include "models/ladid.h"
#include "ops/attention.h"
#include "test.h"

/* n trajectories of L frames (size x size, one channel) of a Gaussian blob
 * moving at a constant velocity that differs between instances; times
 * 0.1 k. */
static void moving_blobs(ld_sequences *s, int n, int L, int size, unsigned seed)
{
    ld_err err;
    CHECK(ld_sequences_alloc(s, n, L, 1, size, size, 2, &err) == 0, "alloc: %s", err.msg);
    ld_rng rng;
    ld_rng_init(&rng, seed);
    for (int i = 0; i < n; i++) {
        float x0 = size * (0.2f + 0.2f * ld_rng_uniform(&rng));
        float y0 = size * (0.3f + 0.4f * ld_rng_uniform(&rng));
        float vx = size * (0.3f + 0.3f * ld_rng_uniform(&rng)) / (float)L;
        float vy = size * (ld_rng_uniform(&rng) - 0.5f) * 0.2f / (float)L;
        s->params[2 * i] = vx;
        s->params[2 * i + 1] = vy;
        for (int k = 0; k < L; k++) {
            s->times[(size_t)i * L + k] = 0.1 * k;
            float cx = x0 + vx * k, cy = y0 + vy * k;
            float *f = ld_sequences_frame(s, i, k);
            for (int y = 0; y < size; y++)
                for (int x = 0; x < size; x++) {
                    float dx = x - cx, dy = y - cy;
                    f[y * size + x] = expf(-(dx * dx + dy * dy) / (2.0f * 1.5f * 1.5f));
                }
        }
    }
    strcpy(s->system, "blobs");
}

static ld_ladid_config tiny_config(int context)
{
    ld_ladid_config cfg;
    ld_err err;
    ld_ladid_preset("small", 1, 16, &cfg, &err);
    cfg.context = context;
    cfg.d_model = 16;
    cfg.latent = 4;
    cfg.pe_waves = 4;
    cfg.dyn_hidden = 16;
    cfg.batch = 4;
    return cfg;
}

static void test_time_encoding(void)
{
    float u[2] = {0.0f, 0.25f}, pe[2 * 2 * 3];
    ld_ladid_time_encoding(pe, u, 2, 3, 2.0f);
    /* w = pi 2^{0, 1, 2} */
    float want[12] = {0, 0, 0, 1, 1, 1,
                      (float)sin(M_PI * 0.25), (float)sin(2 * M_PI * 0.25), (float)sin(4 * M_PI * 0.25),
                      (float)cos(M_PI * 0.25), (float)cos(2 * M_PI * 0.25), (float)cos(4 * M_PI * 0.25)};
    check_close("time encoding", pe, want, 12, 1e-6, 0);
    ld_ladid_config cfg;
    ld_err err;
    ld_ladid_preset("paper", 1, 32, &cfg, &err);
    cfg.t_min = 2.0;
    cfg.t_max = 6.0;
    CHECK(fabsf(ld_ladid_normalise_time(&cfg, 3.0) - 0.25f) < 1e-7f, "normalised time");
    /* the paper's highest frequency: 2 pi 2^8 / (2 (t_max - t_min)) in t */
    float one = 1.0f / 256.0f, pe16[32];
    ld_ladid_time_encoding(pe16, &one, 1, 16, 8.0f);
    CHECK(fabsf(pe16[15]) < 1e-5f && fabsf(pe16[31] + 1.0f) < 1e-5f,
          "sin/cos of pi at the top frequency: %g %g", pe16[15], pe16[31]);
}

static void test_window_attention(void)
{
    /* times 0, 0.1, 0.3, 0.5, 1.0 with delta_r 0.45: token 0 sees 0..2,
     * token 3 sees 1..3, token 4 only itself, with equal weights */
    float t[5] = {0.0f, 0.1f, 0.3f, 0.5f, 1.0f}, bias[25];
    ld_time_window_bias(bias, t, 1, 5, 0.45f, 1e-2f, 100.0f);
    ld_ctx *ctx = test_ctx();
    int bshape[4] = {1, 1, 5, 5}, vshape[3] = {1, 5, 5};
    float eye[25] = {0};
    for (int i = 0; i < 5; i++)
        eye[i * 5 + i] = 1;
    ld_tensor *w = ld_attention(ctx, NULL, NULL, ld_tensor_wrap(ctx, eye, 3, vshape), 1,
                                ld_tensor_wrap(ctx, bias, 4, bshape), 1.0f);
    CHECK(w != NULL, "attention: %s", ctx->err.msg);
    if (!w)
        return;
    float third = 1.0f / 3.0f;
    float want[25] = {third, third, third, 0, 0,
                      0.25f, 0.25f, 0.25f, 0.25f, 0,
                      third, third, third, 0, 0, /* 0.3: 0.0 .. 0.5 but 0.3 - 0.0 = 0.3 */
                      0, third, third, third, 0,
                      0, 0, 0, 0, 1};
    /* token 2 (0.3): |0.3 - 0.5| = 0.2 and |0.3 - 0| = 0.3 are inside too */
    want[10] = want[11] = want[12] = want[13] = 0.25f;
    check_close("window weights", w->data, want, 25, 1e-4, 0);
    /* the relative times are clipped */
    float rel[25];
    ld_relative_times(rel, t, 1, 5, 0.4f);
    CHECK(rel[1] == 0.1f && rel[4] == 0.4f && rel[20] == -0.4f && rel[23] == -0.4f &&
              fabsf(rel[13] - 0.2f) < 1e-7f,
          "relative times %g %g %g %g", rel[1], rel[4], rel[20], rel[13]);
}

static void test_blocks_and_curriculum(void)
{
    int starts[60];
    CHECK(ld_ladid_blocks(60, 10, 1, starts) == 50 && starts[0] == 0 && starts[49] == 49,
          "q 1: 50 blocks");
    int n = ld_ladid_blocks(60, 10, 8, starts);
    CHECK(n == 6 && starts[1] == 8 && starts[5] == 40, "q 8: %d blocks, last at %d", n,
          starts[n - 1]);
    CHECK(ld_ladid_blocks(60, 10, 50, starts) == 1 && starts[0] == 0, "q 50: one block");
    CHECK(ld_ladid_blocks(12, 10, 4, starts) == 0, "too short: no block");
    int stage;
    int q[8];
    for (int e = 0; e < 8; e++)
        q[e] = ld_ladid_curriculum_q(e * 3, 3, 50, NULL);
    CHECK(q[0] == 1 && q[1] == 2 && q[2] == 4 && q[5] == 32 && q[6] == 50 && q[7] == 50,
          "q %d %d %d %d %d %d", q[0], q[1], q[2], q[5], q[6], q[7]);
    CHECK(ld_ladid_curriculum_q(2, 3, 50, &stage) == 1 && stage == 0, "epoch 2 stage 0");
    CHECK(ld_ladid_curriculum_q(100, 3, 50, &stage) == 50 && stage == 6,
          "stage frozen at 6: %d", stage);
}

static void test_config_round_trip(void)
{
    ld_ladid_config paper, back;
    ld_err err;
    CHECK(ld_ladid_preset("paper", 3, 32, &paper, &err) == 0, "paper preset");
    CHECK(paper.d_model == 128 && paper.latent == 32 && paper.layers == 4 && paper.heads == 1 &&
              paper.delta_r == 0.45f && paper.window_eps == 1e-2f && paper.pe_waves == 16 &&
              paper.pe_max_scale == 8.0f && paper.dyn_hidden == 256 && paper.sigma_y == 1e-3f &&
              paper.lr == 3e-4f && paper.batch == 16 && paper.context == 10,
          "paper preset follows ladid.md");
    paper.t_min = 0.1;
    paper.t_max = 5.9000000000000004;
    ld_config c;
    ld_config_init(&c);
    CHECK(ld_ladid_config_save(&paper, &c, &err) == 0 && ld_ladid_config_load(&c, &back, &err) == 0,
          "round trip: %s", err.msg);
    CHECK(memcmp(&paper, &back, sizeof paper) == 0, "identical after round trip");
    ld_config_free(&c);
    paper.size = 40;
    CHECK(ld_ladid_config_check(&paper, &err) < 0 && strstr(err.msg, "multiple of 16"),
          "size 40: %s", err.msg);
    CHECK(ld_ladid_preset("huge", 1, 32, &paper, &err) < 0 && strstr(err.msg, "unknown preset"),
          "unknown preset: %s", err.msg);
}

typedef struct loss_user {
    ld_ladid_model *m;
    ld_tensor *frames;
    const float *times;
    int B, q;
} loss_user;

static ld_tensor *fwd_loss(ld_ctx *c, ld_tensor **x, void *u)
{
    (void)x;
    loss_user *lu = u;
    c->training = 0;
    return ld_ladid_loss(c, lu->m, lu->frames, lu->times, lu->B, lu->q, NULL);
}

static void test_loss_gradient(void)
{
    /* the whole loss against central differences, at parameters of every
     * part: encoder, both attention kinds with the relative encoding,
     * instance heads, dynamics MLP, static branch, decoder. In evaluation
     * mode: batch norm with batch statistics over the few values of a tiny
     * model (the static branch's last map has two) is too ill-conditioned
     * for float32 differences; its backward is checked in test_norm. */
    ld_ladid_config cfg = tiny_config(3);
    cfg.layers = 2;
    cfg.heads = 2;
    cfg.sigma_y = 0.3989423f;
    cfg.delta_r = 0.25f;
    ld_ladid_model m;
    ld_err err;
    CHECK(ld_ladid_create(&m, &cfg, &err) == 0, "create: %s", err.msg);
    if (test_failed())
        return;
    ld_ladid_init_weights(&m, 4);
    int B = 2, q = 2, T = 5;
    int shape[4] = {B * T, 1, 16, 16};
    ld_tensor *frames = test_random(4, shape, 0, 1, 0, 31);
    float times[10] = {0, 0.1f, 0.2f, 0.35f, 0.5f, 0.1f, 0.3f, 0.4f, 0.45f, 0.7f};
    loss_user lu = {&m, frames, times, B, q};
    const char *names[] = {"encoder.conv0.weight", "encoder.conv1.weight", "encoder.conv0.bias", "encoder.bn0.weight", "encoder.bn2.weight", "encoder.fc.weight",
                           "transformer.0.v.weight", "transformer.1.q.weight",
                           "transformer.1.rel.weight", "transformer.1.norm2.bias",
                           "instance.gamma.weight", "instance.tau.bias", "dynamics.0.weight",
                           "static.conv.weight", "decoder.fc.bias", "decoder.up1.weight",
                           "decoder.out.weight"};
    size_t count = sizeof names / sizeof names[0];
    ld_tensor *inputs[24];
    for (size_t i = 0; i < count; i++) {
        int k = ld_params_find(&m.params, names[i]);
        CHECK(k >= 0, "parameter %s exists", names[i]);
        if (k < 0)
            return;
        inputs[i] = ld_param(&m.params, k);
    }
    check_gradients("ladid loss w.r.t. parameters", fwd_loss, inputs, (int)count, &lu, 1e-3,
                    3e-2, 6);
    ld_tensor_heap_free(frames);
    ld_ladid_free(&m);
}

/* Runs whole epochs (no validation: a fixed nMSE of 1). */
static void train_epochs(ld_ladid_trainer *t, int epochs)
{
    ld_err err;
    for (int e = 0; e < epochs; e++) {
        ld_ladid_epoch_begin(t);
        int rc;
        while ((rc = ld_ladid_train_step(t, NULL, &err)) == 0)
            ;
        if (rc < 0) {
            TEST_FAIL("step: %s", err.msg);
            return;
        }
        ld_ladid_epoch_end(t, 1.0);
    }
}

static void test_resume_equals_uninterrupted(void)
{
    ld_sequences data;
    moving_blobs(&data, 6, 8, 16, 3);
    ld_ladid_config cfg = tiny_config(3);
    cfg.curriculum_every = 1;
    cfg.t_max = 0.7;
    ld_err err;
    ld_ladid_model a, b;
    ld_ladid_trainer ta, tb;
    CHECK(ld_ladid_create(&a, &cfg, &err) == 0, "create: %s", err.msg);
    ld_ladid_init_weights(&a, 5);
    CHECK(ld_ladid_trainer_init(&ta, &a, &data, 5, &err) == 0, "trainer: %s", err.msg);
    train_epochs(&ta, 2);
    char path[128];
    snprintf(path, sizeof path, "/tmp/latdyn_ladid_resume_%ld.safetensors", (long)getpid());
    CHECK(ld_ladid_save(&ta, path, &err) == 0, "save: %s", err.msg);
    train_epochs(&ta, 2);

    ld_ladid_config read;
    CHECK(ld_ladid_read_config(path, &read, &err) == 0, "read config: %s", err.msg);
    CHECK(memcmp(&read, &cfg, sizeof cfg) == 0, "configuration restored");
    ld_ladid_create(&b, &read, &err);
    ld_ladid_init_weights(&b, 99);
    ld_ladid_trainer_init(&tb, &b, &data, 99, &err);
    CHECK(ld_ladid_resume(&tb, path, &err) == 0, "resume: %s", err.msg);
    CHECK(tb.epoch == 2, "epoch restored (%d)", tb.epoch);
    train_epochs(&tb, 2);
    CHECK(tb.step == ta.step && tb.q == 5, "steps %lld vs %lld, q %d", (long long)tb.step,
          (long long)ta.step, tb.q);
    CHECK(memcmp(a.params.data, b.params.data, a.params.total * sizeof(float)) == 0,
          "parameters bit-identical after resume");
    remove(path);
    ld_ladid_trainer_free(&ta);
    ld_ladid_trainer_free(&tb);
    ld_ladid_free(&a);
    ld_ladid_free(&b);
    ld_sequences_free(&data);
}

/* Mean over instances and predicted frames of the nMSE of repeating the
 * last context frame. */
static double repeat_last_nmse(const ld_sequences *s, int context)
{
    double sum = 0;
    int count = 0;
    size_t frame = (size_t)s->channels * s->height * s->width;
    for (int i = 0; i < s->n; i++)
        for (int k = context; k < s->length; k++, count++) {
            const float *last = ld_sequences_frame(s, i, context - 1);
            const float *y = ld_sequences_frame(s, i, k);
            double se = 0, norm = 0;
            for (size_t p = 0; p < frame; p++) {
                se += ((double)last[p] - y[p]) * ((double)last[p] - y[p]);
                norm += (double)y[p] * y[p];
            }
            sum += se / norm;
        }
    return sum / count;
}

static void test_fit_end_to_end(void)
{
    int L = 12, context = 4;
    ld_sequences train, test;
    moving_blobs(&train, 32, L, 16, 7);
    moving_blobs(&test, 8, L, 16, 8);
    ld_ladid_config cfg;
    ld_err err;
    ld_ladid_preset("small", 1, 16, &cfg, &err);
    cfg.context = context;
    cfg.batch = 8;
    cfg.curriculum_every = 4;
    cfg.t_min = 0.0;
    cfg.t_max = 0.1 * (L - 1);
    cfg.sigma_y = 0.05f;
    int epochs = 24;
    ld_ladid_model m;
    ld_ladid_trainer t;
    CHECK(ld_ladid_create(&m, &cfg, &err) == 0, "create: %s", err.msg);
    ld_ladid_init_weights(&m, 1);
    CHECK(ld_ladid_trainer_init(&t, &m, &train, 1, &err) == 0, "trainer: %s", err.msg);
    train_epochs(&t, epochs);
    double per_frame[16], model = 0;
    CHECK(ld_ladid_evaluate(&m, &test, per_frame, NULL, &err) == 0, "evaluate: %s", err.msg);
    for (int k = 0; k < L - context; k++)
        model += per_frame[k] / (L - context);
    double base = repeat_last_nmse(&test, context);
    printf("    ladid nMSE %.4f, repeat-last-frame %.4f (%lld steps)\n", model, base,
           (long long)t.step);
    CHECK(model < 0.7 * base, "model nMSE %.4f beats repeating the last frame (%.4f)", model, base);
    ld_ladid_trainer_free(&t);
    ld_ladid_free(&m);
    ld_sequences_free(&train);
    ld_sequences_free(&test);
}

/* ---- the commands -------------------------------------------------------- */

/* Runs latdyn with args (in the scratch folder); returns the exit status
 * and the first stderr line. */
static int run_latdyn(const char *args, char *first_line, size_t len)
{
    char cmd[2048];
    const char *err_path = test_scratch("stderr.txt");
    snprintf(cmd, sizeof cmd, "cd '%s' && OMP_NUM_THREADS=1 '%s' %s >/dev/null 2>'%s'",
             test_scratch_dir, LD_BIN, args, err_path);
    int status = system(cmd);
    first_line[0] = 0;
    FILE *f = fopen(err_path, "r");
    if (f) {
        if (!fgets(first_line, (int)len, f))
            first_line[0] = 0;
        fclose(f);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int exists(const char *name)
{
    struct stat st;
    return stat(test_scratch(name), &st) == 0 && st.st_size > 0;
}

static int count_lines(const char *name)
{
    FILE *f = fopen(test_scratch(name), "r");
    int n = 0, c;
    if (!f)
        return -1;
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static void expect_ok(const char *args)
{
    char line[1024];
    int rc = run_latdyn(args, line, sizeof line);
    CHECK(rc == 0, "latdyn %s: status %d: %s", args, rc, line);
}

static void expect_error(const char *args, const char *needle)
{
    char line[1024];
    int rc = run_latdyn(args, line, sizeof line);
    CHECK(rc != 0, "latdyn %s: exit status %d, expected failure", args, rc);
    CHECK(strstr(line, needle) != NULL && !strncmp(line, "latdyn", 6),
          "latdyn %s: message '%s' lacks '%s'", args, line, needle);
}

/* The text of scratch file `name` (a static buffer; "" when unreadable). */
static const char *scratch_text(const char *name)
{
    static char text[1 << 16];
    FILE *f = fopen(test_scratch(name), "r");
    size_t len = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[len] = 0;
    return text;
}

/* The number after "key": in the "mean" object of an eval JSON file (NAN
 * when absent or null). */
static double json_mean(const char *name, const char *key)
{
    const char *text = scratch_text(name);
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\": ", key);
    const char *mean = strstr(text, "\"mean\": {"), *at = mean ? strstr(mean, pattern) : NULL;
    return at && at[strlen(pattern)] != 'n' ? strtod(at + strlen(pattern), NULL) : NAN;
}


/* The start of line `row` (0: the first) of text, or NULL. */
static const char *text_line(const char *text, int row)
{
    for (; text && row > 0; row--)
        text = (text = strchr(text, '\n')) ? text + 1 : NULL;
    return text && *text ? text : NULL;
}

/* Field `col` of line `row` of a CSV text as a number (NAN when absent). */
static double csv_number(const char *text, int row, int col)
{
    const char *at = text_line(text, row);
    for (; at && col > 0; col--)
        at = (at = strpbrk(at, ",\n")) && *at == ',' ? at + 1 : NULL;
    return at ? strtod(at, NULL) : NAN;
}

/* The checkpoint entry `key` of scratch file `name` ("" when absent). */
static const char *checkpoint_entry(const char *name, const char *key)
{
    static char value[128];
    ld_config c;
    ld_err err;
    ld_config_init(&c);
    value[0] = 0;
    if (ld_checkpoint_read_config(test_scratch(name), &c, &err) == 0 && ld_config_get(&c, key))
        snprintf(value, sizeof value, "%s", ld_config_get(&c, key));
    ld_config_free(&c);
    return value;
}

/* Every second frame of data (times kept): the "trained grid" of the
 * continuous-time check. */
static void every_second_frame(const ld_sequences *data, ld_sequences *coarse)
{
    ld_err err;
    int L = (data->length + 1) / 2;
    size_t frame = (size_t)data->channels * data->height * data->width;
    CHECK(ld_sequences_alloc(coarse, data->n, L, data->channels, data->height, data->width, 0,
                             &err) == 0, "alloc: %s", err.msg);
    for (int i = 0; i < data->n; i++)
        for (int k = 0; k < L; k++) {
            coarse->times[(size_t)i * L + k] = data->times[(size_t)i * data->length + 2 * k];
            memcpy(ld_sequences_frame(coarse, i, k), ld_sequences_frame(data, i, 2 * k),
                   frame * sizeof(float));
        }
}

/* eval --train: the mean-frame baseline against one computed here; eval
 * --truth: the frames on the coarse grid score as when evaluated alone,
 * the others are counted as between samples. */
static void check_eval_baselines(const ld_sequences *data)
{
    ld_err err;
    ld_sequences coarse;
    every_second_frame(data, &coarse);
    CHECK(ld_sequences_write_h5(test_scratch("coarse.h5"), &coarse, &err) == 0, "write: %s", err.msg);
    expect_ok("eval m.safetensors blobs.h5 --train blobs.h5 --json mean.json");
    size_t frame = (size_t)data->height * data->width, frames = (size_t)data->n * data->length;
    float *mean = calloc(frame, sizeof *mean);
    for (size_t f = 0; f < frames; f++)
        for (size_t p = 0; p < frame; p++)
            mean[p] += data->frames[f * frame + p] / (float)frames;
    double expect = 0;
    int Q = data->length - 3;
    for (int i = 0; i < data->n; i++)
        for (int k = 3; k < data->length; k++)
            expect += ld_nmse(mean, ld_sequences_frame(data, i, k), frame) / (data->n * Q);
    free(mean);
    double got = json_mean("mean.json", "mean_frame");
    CHECK(fabs(got - expect) < 1e-4 * expect, "mean-frame baseline %g, expected %g", got, expect);

    /* coarse: context frames 0, 2, 4 (times 0 .. 0.4); queries at 0.5 .. 0.7 */
    expect_ok("eval m.safetensors coarse.h5 --json grid.json --context 3");
    expect_ok("eval m.safetensors coarse.h5 --truth blobs.h5 --json fine.json --context 3");
    double grid = json_mean("grid.json", "nmse"), on = json_mean("fine.json", "nmse_on_grid"),
           off = json_mean("fine.json", "nmse_between_samples");
    CHECK(fabs(on - grid) < 1e-5 * grid, "on-grid nMSE %g differs from the coarse eval's %g", on,
          grid);
    CHECK(isfinite(off) && off > 0, "nMSE between samples %g", off);
    expect_error("eval m.safetensors coarse.h5 --truth odd.h5", "--truth odd.h5");
    /* a truth of other trajectories, or one ending before the data */
    ld_sequences other, shorter;
    moving_blobs(&other, data->n, data->length, data->height, 6);
    moving_blobs(&shorter, data->n, data->length - 2, data->height, 5);
    CHECK(ld_sequences_write_h5(test_scratch("other_truth.h5"), &other, &err) == 0 &&
              ld_sequences_write_h5(test_scratch("short_truth.h5"), &shorter, &err) == 0,
          "write: %s", err.msg);
    expect_error("eval m.safetensors coarse.h5 --truth other_truth.h5 --context 3",
                 "not the same trajectories");
    expect_error("eval m.safetensors coarse.h5 --truth short_truth.h5 --context 3",
                 "the truth must cover it");
    ld_sequences_free(&other);
    ld_sequences_free(&shorter);
    ld_sequences_free(&coarse);
}

static void test_commands(void)
{
    test_scratch_make("ladid_cli");
    ld_sequences data, odd;
    ld_err err;
    moving_blobs(&data, 12, 8, 16, 5);
    CHECK(ld_sequences_write_h5(test_scratch("blobs.h5"), &data, &err) == 0, "write: %s", err.msg);
    CHECK(ld_sequences_alloc(&odd, 4, 8, 1, 12, 12, 0, &err) == 0, "alloc: %s", err.msg);
    for (int i = 0; i < 4 * 8; i++)
        odd.times[i] = i % 8;
    CHECK(ld_sequences_write_h5(test_scratch("odd.h5"), &odd, &err) == 0, "write: %s", err.msg);

    const char *fit = "fit blobs.h5 -o m.safetensors --preset small --context 3 --batch 8 "
                      "--curriculum 1 --val-fraction 0.25 --quiet";
    char args[1024];
    snprintf(args, sizeof args, "%s --epochs 2", fit);
    expect_ok(args);
    CHECK(exists("m.safetensors") && exists("m.last.safetensors") &&
              exists("m.stage0.safetensors"),
          "fit wrote the model, the last state and the stage-0 best");
    CHECK(count_lines("m.log.csv") == 3, "log: header and 2 epochs (%d lines)",
          count_lines("m.log.csv"));
    expect_ok("fit blobs.h5 -o m.safetensors --resume m.last.safetensors --epochs 3 --quiet");
    CHECK(count_lines("m.log.csv") == 4, "resumed log: 3 epochs (%d lines)",
          count_lines("m.log.csv"));
    /* resumed into another name: its log starts with the rows of the run
     * it continues (beside the checkpoint) */
    expect_ok("fit blobs.h5 -o n.safetensors --resume m.last.safetensors --epochs 4 --quiet");
    CHECK(count_lines("n.log.csv") == 5, "log of the run resumed elsewhere: 4 epochs (%d lines)",
          count_lines("n.log.csv"));
    /* Resuming from the best of stage 1 (after epoch 2) redoes epoch 3: the
     * log keeps rows 1 and 2 (row 2's wall_s made 1000.5 here) and its new
     * row 3 goes on from 1000.5 s; the stage files of the run resumed stay. */
    static char log[1 << 16];
    const char *before = scratch_text("m.log.csv");
    memcpy(log, before, strlen(before) + 1);
    char *row3 = (char *)text_line(log, 3), *row2_wall = row3 ? row3 - 1 : NULL;
    while (row2_wall && row2_wall > log && row2_wall[-1] != ',')
        row2_wall--;
    CHECK(row3 && row2_wall > log, "log rows: %s", log);
    if (test_failed())
        return;
    char edited[4096];
    int kept = snprintf(edited, sizeof edited, "%.*s1000.5\n", (int)(row2_wall - log), log);
    snprintf(edited + kept, sizeof edited - kept, "%s", row3);
    test_write_bytes(test_scratch("m.log.csv"), edited, strlen(edited));
    expect_ok("fit blobs.h5 -o m.safetensors --resume m.stage1.safetensors --epochs 3 --quiet");
    const char *resumed = scratch_text("m.log.csv");
    CHECK(count_lines("m.log.csv") == 4 && !strncmp(resumed, edited, (size_t)kept) &&
              csv_number(resumed, 3, 0) == 3 && csv_number(resumed, 3, 11) > 1000.5,
          "log after resuming at epoch 2: rows 1, 2 kept, row 3 at 1000.5 s on:\n%s", resumed);
    CHECK(exists("m.stage0.safetensors") && exists("m.stage1.safetensors") &&
              exists("m.stage2.safetensors"), "the resumed run's stage files stay");

    expect_ok("predict m.safetensors blobs.h5 -o pred.npy --quiet");
    expect_ok("predict m.safetensors blobs.h5 -o at.npy --times 0.05,0.25,1.5 --quiet");
    ld_npy_array a = {0}, b = {0};
    CHECK(ld_npy_read(test_scratch("pred.npy"), &a, &err) == 0 &&
              ld_npy_read(test_scratch("at.npy"), &b, &err) == 0, "read: %s", err.msg);
    CHECK(a.ndim == 5 && a.shape[0] == 12 && a.shape[1] == 5 && a.shape[3] == 16,
          "stored times: [12, 5, 1, 16, 16]");
    CHECK(b.ndim == 5 && b.shape[0] == 12 && b.shape[1] == 3, "given times: [12, 3, 1, 16, 16]");
    for (size_t i = 0; b.data && i < b.numel; i++)
        if (!(b.data[i] >= 0 && b.data[i] <= 1)) {
            TEST_FAIL("prediction %zu = %g outside [0, 1]", i, b.data[i]);
            break;
        }
    /* the same trajectories a million seconds later: the same predictions
     * (the model uses only time differences; float32 times from the
     * origin differed by up to 6e-3) */
    ld_sequences later;
    CHECK(ld_sequences_select(&data, (int[]){0, 1, 2}, 3, &later, &err) == 0, "select: %s",
          err.msg);
    for (int i = 0; i < later.n * later.length; i++)
        later.times[i] += 1e6;
    CHECK(ld_sequences_write_h5(test_scratch("later.h5"), &later, &err) == 0, "write: %s",
          err.msg);
    ld_sequences_free(&later);
    expect_ok("predict m.safetensors later.h5 -o later.npy --quiet");
    ld_npy_array c = {0};
    CHECK(ld_npy_read(test_scratch("later.npy"), &c, &err) == 0 && c.numel * 4 == a.numel,
          "read: %s", err.msg);
    double worst = 0;
    for (size_t i = 0; c.data && i < c.numel; i++)
        worst = fmax(worst, fabs(c.data[i] - a.data[i]));
    CHECK(worst < 1e-5, "predictions 1e6 s later differ by up to %g", worst);
    ld_npy_free(&c);
    ld_npy_free(&a);
    ld_npy_free(&b);

    expect_ok("eval m.safetensors blobs.h5 --json scores.json");
    expect_ok("eval ladid m.safetensors blobs.h5 --strip s.png --plot p.png");
    CHECK(exists("scores.json") && exists("m.eval_strip.png") && exists("m.eval_nmse.png") &&
              exists("s.png") && exists("p.png"),
          "eval wrote JSON, strips and plots");
    check_eval_baselines(&data);
    expect_ok("finetune m.safetensors blobs.h5 --n-train 4 --n-val 2 --epochs 1 -o t.safetensors "
              "--quiet");
    expect_ok("finetune m.safetensors blobs.h5 --n-train 4 --epochs 1 --from-scratch "
              "-o s.safetensors --quiet");
    CHECK(exists("t.safetensors") && exists("s.safetensors"), "finetune wrote the models");

    expect_error("fit blobs.h5 --quiet", "-o MODEL.safetensors is required");
    expect_error("fit blobs.h5 -o x.safetensors --val-fraction 2", "--val-fraction");
    expect_error("fit odd.h5 -o x.safetensors --context 3", "multiple of 16");
    expect_error("fit blobs.h5 -o x.safetensors --context 8", "more than the 8 context frames");
    expect_error("fit blobs.h5 -o nowhere/x.safetensors --context 3 --quiet",
                 "nowhere/x.safetensors");
    expect_error("fit blobs.h5 -o x.safetensors --resume m.last.safetensors --lr 0.1",
                 "only --epochs");
    expect_error("fit missing.h5 -o x.safetensors", "missing.h5");
    CHECK(!exists("x.safetensors"), "no model after an error");
    expect_error("predict m.safetensors blobs.h5 -o q.npy --times 1,x", "--times");
    expect_error("predict blobs.h5 blobs.h5 -o q.npy", "blobs.h5");
    expect_error("predict m.safetensors odd.h5 -o q.npy", "frames");
    expect_error("eval m.safetensors blobs.h5 --instance 99", "--instance 99");
    expect_error("finetune m.safetensors blobs.h5 --n-train 13 -o f.safetensors",
                 "leaving 6 to train on");
    expect_error("finetune m.safetensors blobs.h5 -o f.safetensors", "--n-train");
    ld_sequences_free(&data);
    ld_sequences_free(&odd);
    test_scratch_remove();
}

/* Outputs checked before any work, the data of a resume checked, stale
 * stage files removed, finetune's validation trajectories fixed. */
static void test_command_checks(void)
{
    test_scratch_make("ladid_checks");
    ld_sequences data, fewer, other;
    ld_err err;
    moving_blobs(&data, 12, 8, 16, 5);
    moving_blobs(&fewer, 10, 8, 16, 5);
    moving_blobs(&other, 12, 8, 16, 6);
    CHECK(ld_sequences_write_h5(test_scratch("blobs.h5"), &data, &err) == 0 &&
              ld_sequences_write_h5(test_scratch("fewer.h5"), &fewer, &err) == 0 &&
              ld_sequences_write_h5(test_scratch("other.h5"), &other, &err) == 0,
          "write: %s", err.msg);
    ld_sequences_free(&data);
    ld_sequences_free(&fewer);
    ld_sequences_free(&other);
    /* left by an earlier, longer run: only m.stage4.safetensors matches */
    const char *stale[] = {"m.stage4.safetensors", "m.stage04.safetensors",
                           "m.stage4.safetensors.bak", "mm.stage4.safetensors"};
    for (int k = 0; k < 4; k++)
        test_write_bytes(test_scratch(stale[k]), "old", 3);
    const char *fit = "fit blobs.h5 -o m.safetensors --preset small --context 3 --batch 8 "
                      "--curriculum 1 --val-fraction 0.25 --epochs 1 --quiet";
    expect_ok(fit);
    CHECK(exists("m.stage0.safetensors") && !exists("m.stage4.safetensors") &&
              exists("m.stage04.safetensors") && exists("m.stage4.safetensors.bak") &&
              exists("mm.stage4.safetensors"),
          "the stale stage file removed, the others kept");
    CHECK(!strcmp(checkpoint_entry("m.last.safetensors", "data.split"), "9,3") &&
              !strcmp(checkpoint_entry("m.last.safetensors", "data.trajectories"), "12"),
          "the checkpoint names its data: split '%s'",
          checkpoint_entry("m.last.safetensors", "data.split"));

    /* a folder as the output: refused before any training or file */
    CHECK(mkdir(test_scratch("adir"), 0755) == 0, "mkdir");
    expect_error("fit blobs.h5 -o adir --preset small --context 3 --epochs 1 --quiet",
                 "adir is a folder");
    expect_error("finetune m.safetensors blobs.h5 --n-train 2 --epochs 1 -o adir --quiet",
                 "adir is a folder");
    expect_error("predict m.safetensors blobs.h5 -o adir", "adir is a folder");
    expect_error("eval m.safetensors blobs.h5 --json adir", "adir is a folder");
    CHECK(!exists("adir.last.safetensors") && !exists("adir.stage0.safetensors") &&
              !exists("adir.log.csv"), "nothing written beside the folder");
    expect_error("eval m.safetensors blobs.h5 --strip s.png --plot nodir/p.png", "nodir/p.png");
    CHECK(!exists("s.png"), "no strip written before the bad plot path fails");

    /* an output that is one of the command's inputs (or would replace one
     * beside it): refused, the inputs intact */
    expect_error("fit blobs.h5 -o blobs.h5 --preset small --context 3 --epochs 1 --quiet",
                 "blobs.h5 is the input blobs.h5");
    expect_error("predict m.safetensors blobs.h5 -o m.safetensors", "is the input m.safetensors");
    expect_error("predict m.safetensors blobs.h5 -o blobs.h5", "is the input blobs.h5");
    expect_error("eval m.safetensors blobs.h5 --json blobs.h5", "is the input blobs.h5");
    expect_error("eval m.safetensors blobs.h5 --train fewer.h5 --plot fewer.h5",
                 "is the input fewer.h5");
    expect_error("finetune m.safetensors blobs.h5 --n-train 2 --epochs 1 -o m.safetensors",
                 "is the input m.safetensors");
    expect_error("finetune m.stage0.safetensors blobs.h5 --n-train 2 --epochs 1 -o m.safetensors",
                 "m.stage0.safetensors is the input");
    ld_sequences back;
    CHECK(ld_sequences_read_h5(test_scratch("blobs.h5"), &back, &err) == 0 && back.n == 12,
          "the data file intact: %s", err.msg);
    ld_sequences_free(&back);
    ld_ladid_config cfg;
    CHECK(ld_ladid_read_config(test_scratch("m.safetensors"), &cfg, &err) == 0,
          "the model intact: %s", err.msg);

    /* resuming on other data, or another command's split */
    expect_error("fit fewer.h5 -o m.safetensors --resume m.last.safetensors --epochs 2 --quiet",
                 "a file of 12 trajectories, fewer.h5 holds 10");
    expect_error("fit other.h5 -o m.safetensors --resume m.last.safetensors --epochs 2 --quiet",
                 "other frames or times than those of other.h5");
    expect_ok("finetune m.safetensors blobs.h5 --n-train 2 --epochs 1 -o t2.safetensors --quiet");
    expect_ok("finetune m.safetensors blobs.h5 --n-train 4 --epochs 1 -o t4.safetensors --quiet");
    expect_error("fit blobs.h5 -o t2.safetensors --resume t2.last.safetensors --epochs 2 --quiet",
                 "(training, validation) trajectories 2,6, this run splits blobs.h5 into 9,3");
    expect_ok("fit blobs.h5 -o m.safetensors --resume m.last.safetensors --epochs 2 --quiet");
    /* a finetune run continued: the same split, more epochs, its log goes on */
    expect_ok("finetune m.safetensors blobs.h5 --n-train 3 --epochs 1 -o t3.safetensors --quiet");
    expect_ok("finetune m.safetensors blobs.h5 --n-train 3 --epochs 2 -o t3.safetensors "
              "--resume t3.last.safetensors --quiet");
    CHECK(count_lines("t3.log.csv") == 3, "resumed finetune log: 2 epochs (%d lines)",
          count_lines("t3.log.csv"));
    expect_error("finetune m.safetensors blobs.h5 --n-train 4 --epochs 3 -o t3.safetensors "
                 "--resume t3.last.safetensors",
                 "this run splits blobs.h5 into 4,6");
    expect_error("finetune m.safetensors blobs.h5 --n-train 3 --epochs 3 --lr 0.1 "
                 "-o t3.safetensors --resume t3.last.safetensors",
                 "resume it with those (or without them)");
    expect_ok("finetune m.safetensors blobs.h5 --n-train 3 --epochs 3 --curriculum 5 --seed 4 "
              "-o t3.safetensors --resume t3.last.safetensors --quiet");

    /* finetune validates on the same 6 of 12 whatever K; K beyond the rest
     * or a --n-val leaving none are refused */
    const char *split = checkpoint_entry("t2.safetensors", "data.split");
    CHECK(!strcmp(split, "2,6"), "finetune --n-train 2 split (training, validation) %s", split);
    split = checkpoint_entry("t4.safetensors", "data.split");
    CHECK(!strcmp(split, "4,6"), "finetune --n-train 4 split (training, validation) %s", split);
    expect_error("finetune m.safetensors blobs.h5 --n-train 7 -o f.safetensors",
                 "--n-train 7: blobs.h5 holds 12 trajectories and 6 of them are held out");
    expect_error("finetune m.safetensors blobs.h5 --n-train 1 --n-val 12 -o f.safetensors",
                 "none would be left to train on");
    expect_error("fit blobs.h5 -o h.safetensors --preset small --heads 5 --context 3",
                 "--heads 5 must divide the model width 32");
    expect_error("fit blobs.h5 -o h.safetensors --preset small --context 3 --batch 1",
                 "--batch: 1 is outside 2..");
    /* one trajectory of 8 frames, 3 of context: its curriculum stops at
     * q = 2 (two blocks per epoch; q = 4 would give one, and batch norm
     * cannot train on one) */
    expect_ok("finetune m.safetensors blobs.h5 --n-train 1 --epochs 4 --curriculum 1 "
              "-o one.safetensors --quiet");
    CHECK(exists("one.safetensors") && exists("one.stage1.safetensors") &&
              !exists("one.stage2.safetensors"),
          "one trajectory: curriculum stages 0 and 1 only");
    CHECK(!exists("f.safetensors") && !exists("h.safetensors"), "no model after an error");
    test_scratch_remove();
}

LD_TEST_SUITE(ladid) = {
    {"time_encoding", test_time_encoding},
    {"window_attention", test_window_attention},
    {"blocks_and_curriculum", test_blocks_and_curriculum},
    {"config_round_trip", test_config_round_trip},
    {"loss_gradient", test_loss_gradient},
    {"resume_equals_uninterrupted", test_resume_equals_uninterrupted},
    {"fit_end_to_end", test_fit_end_to_end},
    {"commands", test_commands},
    {"command_checks", test_command_checks},
    {NULL, NULL},
};
