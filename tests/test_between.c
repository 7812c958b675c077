/* Tests of the between model: presets and configuration round trip, the
 * loss's gradients through the whole model (finite differences), the loss
 * leaving out what came from outside the patch, resume equals
 * uninterrupted, the blend of the two directions (plain and by validity),
 * the carried auto-encoder error, and an end-to-end run on a small
 * translated texture that must beat the cross-fade and find the motion. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/pattern.h"
#include "engine/backend.h"
#include "models/between.h"
#include "ops/advect.h"
#include "ops/elementwise.h"
#include "test.h"

/* frames[n] = texture shifted right by dx * n / stages (bilinear), from a
 * larger canvas so no border is replicated. */
static float *translated_frames(int h, int w, int stages, float dx)
{
    int big = w + 2 * (int)ceilf(dx) + 4;
    float *tex = malloc(sizeof(float) * (size_t)big * big);
    float *frames = malloc(sizeof(float) * (size_t)(stages + 1) * h * w);
    ld_pattern_texture(tex, big, big, 11);
    int off = (big - w) / 2;
    for (int n = 0; n <= stages; n++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                float sx = (float)(x + off) - dx * (float)n / (float)stages;
                int x0 = (int)floorf(sx);
                float f = sx - (float)x0;
                const float *row = tex + (size_t)(y + off) * big;
                frames[((size_t)n * h + y) * w + x] = (1 - f) * row[x0] + f * row[x0 + 1];
            }
    free(tex);
    return frames;
}

static double psnr(const float *a, const float *b, size_t n)
{
    double se = 0;
    for (size_t i = 0; i < n; i++)
        se += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return -10.0 * log10(se / (double)n);
}

static ld_between_config small_config(void)
{
    ld_between_config cfg;
    ld_err err;
    ld_between_preset("quick", 1, &cfg, &err);
    cfg.patch = 16;
    cfg.stride = 4;
    cfg.infer_stride = 8;
    cfg.batch = 8;
    cfg.stages = 4;
    cfg.steps = 240;
    cfg.lr_decay_every = 100;
    cfg.shrink = 0; /* tested on its own: test_shrunk_change */
    return cfg;
}

static void test_presets_and_config(void)
{
    ld_between_config paper, back;
    ld_err err;
    CHECK(ld_between_preset("paper", 1, &paper, &err) == 0, "paper preset");
    CHECK(paper.stages == 8 && paper.patch == 32 && paper.stride == 4 && paper.batch == 16 &&
              paper.latent_channels == 4 && paper.w_mag == 1e-4f && paper.w_space == 1e-3f &&
              paper.field_input == LD_FIELD_INPUT_I0 && paper.lr == 1e-3f &&
              paper.mask_outside == LD_MASK_OFF,
          "paper preset follows between.md");
    CHECK(ld_between_preset("fast", 1, &paper, &err) < 0 && strstr(err.msg, "unknown preset"),
          "unknown preset: %s", err.msg);
    ld_between_preset("quick", 3, &paper, &err);
    ld_config c;
    ld_config_init(&c);
    CHECK(ld_between_config_save(&paper, &c, &err) == 0 && ld_between_config_load(&c, &back, &err) == 0,
          "config round trip: %s", err.msg);
    CHECK(memcmp(&paper, &back, sizeof paper) == 0, "configuration identical after round trip");
    /* a checkpoint from before 'blend', 'carry_error' and 'mask_outside'
     * loads without them; one without a required key does not */
    ld_config older, broken;
    ld_config_init(&older);
    ld_config_init(&broken);
    for (int i = 0; i < c.count; i++) {
        if (strcmp(c.keys[i], "blend") && strcmp(c.keys[i], "carry_error") &&
            strcmp(c.keys[i], "mask_outside"))
            ld_config_set(&older, c.keys[i], c.values[i], &err);
        if (strcmp(c.keys[i], "stages"))
            ld_config_set(&broken, c.keys[i], c.values[i], &err);
    }
    CHECK(paper.blend == LD_BLEND_VALID && paper.carry_error == 1 &&
              paper.mask_outside == LD_MASK_IMAGE &&
              ld_between_config_load(&older, &back, &err) == 0 && back.blend == 0 &&
              back.carry_error == 0 && back.mask_outside == LD_MASK_OFF,
          "configuration without 'blend', 'carry_error' and 'mask_outside' loads with all off: %s",
          err.msg);
    CHECK(ld_between_config_load(&broken, &back, &err) < 0 && strstr(err.msg, "lacks 'stages'"),
          "configuration without 'stages' is refused: %s", err.msg);
    ld_config_free(&older);
    ld_config_free(&broken);
    ld_config_free(&c);
    paper.blend = 3;
    CHECK(ld_between_config_check(&paper, &err) < 0 && strstr(err.msg, "blend 3"),
          "blend not 0, 1 or 2: %s", err.msg);
    paper.blend = 1;
    paper.carry_error = -1;
    CHECK(ld_between_config_check(&paper, &err) < 0 && strstr(err.msg, "carry_error -1"),
          "carry_error neither 0 nor 1: %s", err.msg);
    paper.carry_error = 1;
    paper.field_input = 2;
    CHECK(ld_between_config_check(&paper, &err) < 0 && strstr(err.msg, "field_input 2"),
          "field_input neither 0 nor 1: %s", err.msg);
    paper.field_input = LD_FIELD_INPUT_PAIR;
    paper.patch = 20;
    CHECK(ld_between_config_check(&paper, &err) < 0 && strstr(err.msg, "multiple of 8"),
          "patch not a multiple of 8: %s", err.msg);
}

/* The decoder's widths: unset, D has F's; set, D alone changes (its first
 * convolution's outputs, the parameter count), F stays as it was and the
 * checkpoint's configuration keeps them; set only in part, the
 * configuration is refused. */
static void test_decoder_widths(void)
{
    ld_between_config cfg;
    ld_err err;
    ld_between_preset("quick", 1, &cfg, &err);
    ld_between_model same, narrow;
    CHECK(ld_between_create(&same, &cfg, &err) == 0, "default widths: %s", err.msg);
    ld_between_widths(cfg.decoder_widths, 4);
    CHECK(ld_between_create(&narrow, &cfg, &err) == 0, "narrow decoder: %s", err.msg);
    int d_same = ld_params_find(&same.params, "decoder.down0.conv0.weight"),
        d_narrow = ld_params_find(&narrow.params, "decoder.down0.conv0.weight"),
        f_same = ld_params_find(&same.params, "field.bottleneck.conv1.weight"),
        f_narrow = ld_params_find(&narrow.params, "field.bottleneck.conv1.weight");
    CHECK(d_same >= 0 && d_narrow >= 0 && f_same >= 0 && f_narrow >= 0, "parameters found");
    if (d_same >= 0 && d_narrow >= 0 && f_same >= 0 && f_narrow >= 0) {
        CHECK(same.params.views[d_same].shape[0] == 16 &&
                  narrow.params.views[d_narrow].shape[0] == 4,
              "decoder's first convolution: %d outputs by default, %d narrowed",
              same.params.views[d_same].shape[0], narrow.params.views[d_narrow].shape[0]);
        CHECK(narrow.params.views[f_narrow].numel == same.params.views[f_same].numel &&
                  same.params.views[f_same].shape[0] == 128,
              "field network unchanged");
    }
    CHECK(narrow.params.total < same.params.total, "fewer parameters: %zu against %zu",
          narrow.params.total, same.params.total);
    ld_between_free(&same);
    ld_between_free(&narrow);
    ld_config c;
    ld_between_config back;
    ld_config_init(&c);
    CHECK(ld_between_config_save(&cfg, &c, &err) == 0 && ld_between_config_load(&c, &back, &err) == 0 &&
              back.decoder_widths[0] == 4 && back.decoder_widths[3] == 32,
          "decoder widths kept in the checkpoint's configuration: %s", err.msg);
    ld_config_free(&c);
    cfg.decoder_widths[2] = 0;
    CHECK(ld_between_config_check(&cfg, &err) < 0 && strstr(err.msg, "decoder widths"),
          "decoder widths set in part: %s", err.msg);
}

/* The whole loss as a function of the first input patch, or of the
 * second (the other one fixed). */
typedef struct loss_user {
    ld_between_model *model;
    ld_tensor *i0, *i1;
} loss_user;

static ld_tensor *fwd_loss(ld_ctx *c, ld_tensor **x, void *u)
{
    loss_user *lu = u;
    return ld_between_loss(c, lu->model, x[0], lu->i1, NULL);
}

static ld_tensor *fwd_loss_of_i1(ld_ctx *c, ld_tensor **x, void *u)
{
    loss_user *lu = u;
    return ld_between_loss(c, lu->model, lu->i0, x[0], NULL);
}

static void test_loss_gradient(void)
{
    /* gradient of the full loss w.r.t. the input image checks every op's
     * backward wiring through E, F, the advection stages and D together */
    ld_between_config cfg = small_config();
    cfg.patch = 8;
    cfg.batch = 2;
    cfg.stages = 2;
    cfg.unet_widths[0] = 2;
    cfg.unet_widths[1] = 3;
    cfg.unet_widths[2] = 3;
    cfg.unet_widths[3] = 4;
    cfg.encoder_layers = 1;
    cfg.encoder_width = 3;
    cfg.slope = 0.2f;
    cfg.mask_outside = LD_MASK_OFF; /* its weights follow the fields without a gradient: below */
    cfg.w_image = 0.5f; /* every term of the loss in the check */
    cfg.image_abs = 0;
    ld_between_model m;
    ld_err err;
    CHECK(ld_between_create(&m, &cfg, &err) == 0, "create: %s", err.msg);
    ld_between_init_weights(&m, 3);
    int shape[4] = {2, 1, 8, 8};
    ld_tensor *i0 = test_random(4, shape, 0, 1, 1, 21), *i1 = test_random(4, shape, 0, 1, 0, 22);
    loss_user lu = {&m, NULL, i1};
    check_gradients("between loss w.r.t. I0", fwd_loss, &i0, 1, &lu, 1e-3, 2e-2, 40);
    /* the masked loss: its weights follow the fields and carry no
     * gradient, so with F on I0 alone they do not move with I1 and the
     * loss is checked w.r.t. I1; the mask must leave pixels out here */
    ld_between_model masked;
    cfg.field_input = LD_FIELD_INPUT_I0;
    cfg.mask_outside = LD_MASK_ALL;
    cfg.image_abs = 1; /* the image term's absolute difference here, squared above */
    CHECK(ld_between_create(&masked, &cfg, &err) == 0, "create: %s", err.msg);
    ld_between_init_weights(&masked, 3);
    ld_tensor *i1_var = test_random(4, shape, 0, 1, 1, 22);
    ld_ctx ctx;
    ld_ctx_init(&ctx, ld_backend_cpu(), 1);
    ld_between_losses on, off;
    CHECK(ld_between_loss(&ctx, &masked, i0, i1_var, &on) != NULL, "loss: %s", ctx.err.msg);
    ld_ctx_reset(&ctx);
    masked.cfg.mask_outside = LD_MASK_OFF;
    CHECK(ld_between_loss(&ctx, &masked, i0, i1_var, &off) != NULL, "loss: %s", ctx.err.msg);
    masked.cfg.mask_outside = LD_MASK_ALL;
    CHECK(on.dynamics < off.dynamics && on.backward < off.backward,
          "the mask leaves pixels out (dynamics %g < %g, time symmetry %g < %g)",
          (double)on.dynamics, (double)off.dynamics, (double)on.backward, (double)off.backward);
    loss_user lu_masked = {&masked, i0, NULL};
    check_gradients("masked between loss w.r.t. I1", fwd_loss_of_i1, &i1_var, 1, &lu_masked,
                    1e-3, 2e-2, 40);
    ld_ctx_free(&ctx);
    ld_tensor_heap_free(i1_var);
    ld_between_free(&masked);
    ld_tensor_heap_free(i0);
    ld_tensor_heap_free(i1);
    ld_between_free(&m);
}

/* mask_outside: fields fixed to a shift of half the patch (F's head
 * weights at zero, its bias the shift) on a pair where I1 is I0 moved that
 * way. Advected, I0 fills the left half with its replicated border and the
 * right half is exact (I1 moved back: the mirror image). The image method:
 * dynamics and time symmetry are large scored everywhere and vanish with
 * every term masked; the image term alone masked leaves them as they are
 * (the image method has no image term). The latent method, whose latent
 * holds the image (latent_skip): its image term is the image method's
 * loss, large unmasked, vanishing masked in either mode; its decoded terms
 * change with all terms masked only. */
static void test_mask_outside(void)
{
    for (int method = LD_BETWEEN_LATENT; method <= LD_BETWEEN_IMAGE; method++) {
        ld_between_config cfg = small_config();
        cfg.method = (ld_between_method)method;
        cfg.batch = 1;
        int N = cfg.stages, P = cfg.patch, shift = P / 2;
        ld_between_model m;
        ld_err err;
        CHECK(ld_between_create(&m, &cfg, &err) == 0, "create: %s", err.msg);
        ld_between_init_weights(&m, 7);
        ld_tensor *head_w = ld_param(&m.params, m.field_net.head.weight),
                  *head_b = ld_param(&m.params, m.field_net.head.bias);
        memset(head_w->data, 0, head_w->numel * sizeof(float));
        for (int k = 0; k < 2 * N; k++) /* x components: half the patch per unit time; y: 0 */
            head_b->data[k] = k % 2 ? 0.0f : (float)shift / cfg.field_scale;
        int shape[4] = {1, 1, P, P};
        ld_tensor *i0 = test_random(4, shape, 0, 0, 0, 1), *i1 = test_random(4, shape, 0, 0, 0, 1);
        float *texture = malloc(sizeof(float) * (size_t)P * (P + shift));
        ld_pattern_texture(texture, P, P + shift, 51);
        for (int y = 0; y < P; y++)
            for (int x = 0; x < P; x++) {
                i0->data[y * P + x] = texture[y * (P + shift) + x + shift];
                i1->data[y * P + x] = texture[y * (P + shift) + x];
            }
        ld_ctx ctx;
        ld_ctx_init(&ctx, ld_backend_cpu(), 1);
        ld_between_losses l[3]; /* by ld_mask_outside */
        for (int mode = LD_MASK_OFF; mode <= LD_MASK_IMAGE; mode++) {
            ld_ctx_reset(&ctx);
            m.cfg.mask_outside = mode;
            CHECK(ld_between_loss(&ctx, &m, i0, i1, &l[mode]) != NULL, "loss: %s", ctx.err.msg);
            CHECK(l[mode].magnitude == l[LD_MASK_OFF].magnitude &&
                      l[mode].smooth_space == l[LD_MASK_OFF].smooth_space,
                  "mode %d: the field penalties do not change", mode);
        }
        const char *name = method == LD_BETWEEN_IMAGE ? "image" : "latent";
        if (method == LD_BETWEEN_IMAGE)
            CHECK(l[LD_MASK_OFF].dynamics > 1e-3f && l[LD_MASK_OFF].backward > 1e-3f &&
                      l[LD_MASK_ALL].dynamics < 1e-10f && l[LD_MASK_ALL].backward < 1e-10f,
                  "image: dynamics %g -> %g and time symmetry %g -> %g with the pixels from "
                  "outside left out", (double)l[LD_MASK_OFF].dynamics,
                  (double)l[LD_MASK_ALL].dynamics, (double)l[LD_MASK_OFF].backward,
                  (double)l[LD_MASK_ALL].backward);
        else
            CHECK(l[LD_MASK_OFF].image > 1e-3f && l[LD_MASK_ALL].image < 1e-10f &&
                      l[LD_MASK_IMAGE].image < 1e-10f &&
                      l[LD_MASK_ALL].dynamics != l[LD_MASK_OFF].dynamics &&
                      l[LD_MASK_ALL].backward != l[LD_MASK_OFF].backward,
                  "latent: image term %g -> %g (all), %g (image); dynamics %g -> %g (all)",
                  (double)l[LD_MASK_OFF].image, (double)l[LD_MASK_ALL].image,
                  (double)l[LD_MASK_IMAGE].image, (double)l[LD_MASK_OFF].dynamics,
                  (double)l[LD_MASK_ALL].dynamics);
        CHECK(l[LD_MASK_IMAGE].dynamics == l[LD_MASK_OFF].dynamics &&
                  l[LD_MASK_IMAGE].backward == l[LD_MASK_OFF].backward &&
                  l[LD_MASK_IMAGE].autoencoder == l[LD_MASK_OFF].autoencoder,
              "%s: the image term's mask leaves dynamics (%g, %g), time symmetry and the "
              "auto-encoder term as they were", name, (double)l[LD_MASK_IMAGE].dynamics,
              (double)l[LD_MASK_OFF].dynamics);
        m.cfg.mask_outside = 3;
        CHECK(ld_between_config_check(&m.cfg, &err) < 0 && strstr(err.msg, "mask_outside 3"),
              "mask_outside outside 0..2: %s", err.msg);
        ld_ctx_free(&ctx);
        free(texture);
        ld_tensor_heap_free(i0);
        ld_tensor_heap_free(i1);
        ld_between_free(&m);
    }
}

/* Zeroes every parameter whose name starts with prefix (silences that
 * network: its output is 0). */
static void zero_params(ld_between_model *m, const char *prefix)
{
    for (int i = 0; i < m->params.count; i++)
        if (!strncmp(m->params.info[i].name, prefix, strlen(prefix)))
            memset(m->params.data + m->params.info[i].offset, 0,
                   m->params.info[i].numel * sizeof(float));
}

/* The image term scores the advected latents' image channels alone: with
 * the decoder's U-Net silenced (D(z) = z[:C]) it equals the dynamics and
 * time-symmetry terms, and it adds w_image times itself to the total. All
 * three masked alike (LD_MASK_ALL; the quick preset masks the image term
 * alone, test_mask_outside), so they stay equal. */
static void test_image_term(void)
{
    ld_between_config cfg = small_config();
    cfg.batch = 2;
    cfg.stages = 2;
    cfg.mask_outside = LD_MASK_ALL;
    ld_between_model m;
    ld_err err;
    CHECK(ld_between_create(&m, &cfg, &err) == 0, "create: %s", err.msg);
    ld_between_init_weights(&m, 5);
    zero_params(&m, "decoder");
    int shape[4] = {2, 1, 16, 16};
    ld_tensor *i0 = test_random(4, shape, 0, 1, 0, 31), *i1 = test_random(4, shape, 0, 1, 0, 32);
    ld_ctx ctx;
    ld_ctx_init(&ctx, ld_backend_cpu(), 1);
    ld_between_losses off, on;
    m.cfg.image_abs = 0; /* squared, as the dynamics and time-symmetry terms */
    m.cfg.w_image = 0;
    CHECK(ld_between_loss(&ctx, &m, i0, i1, &off) != NULL, "loss: %s", ctx.err.msg);
    ld_ctx_reset(&ctx);
    m.cfg.w_image = 2;
    CHECK(ld_between_loss(&ctx, &m, i0, i1, &on) != NULL, "loss: %s", ctx.err.msg);
    CHECK(off.image == 0 && on.image > 1e-4f &&
              fabsf(on.image - (on.dynamics + on.backward)) < 1e-6f * (1 + on.image),
          "image term %g = dynamics %g + backward %g with D(z) = z[:C]", (double)on.image,
          (double)on.dynamics, (double)on.backward);
    CHECK(fabsf(on.total - (off.total + 2 * on.image)) < 1e-5f * (1 + on.total),
          "total %g = %g + 2 x %g", (double)on.total, (double)off.total, (double)on.image);
    /* absolute (quick): with F silenced too, the fields are 0 and the
     * advected image channels are the inputs themselves, so the term is
     * mean |I0 - I1| twice (z^N[:C] against I1, zb^0[:C] against I0) */
    zero_params(&m, "field");
    double abs_sum = 0, square_sum = 0;
    for (size_t i = 0; i < i0->numel; i++) {
        double d = (double)i0->data[i] - (double)i1->data[i];
        abs_sum += fabs(d);
        square_sum += d * d;
    }
    double n = (double)i0->numel;
    ld_between_losses absolute, squared;
    ld_ctx_reset(&ctx);
    m.cfg.image_abs = 1;
    CHECK(ld_between_loss(&ctx, &m, i0, i1, &absolute) != NULL, "loss: %s", ctx.err.msg);
    ld_ctx_reset(&ctx);
    m.cfg.image_abs = 0;
    CHECK(ld_between_loss(&ctx, &m, i0, i1, &squared) != NULL, "loss: %s", ctx.err.msg);
    CHECK(fabs(absolute.image - 2 * abs_sum / n) < 1e-5 &&
              fabs(squared.image - 2 * square_sum / n) < 1e-5,
          "zero fields: absolute image term %g = 2 mean|I0 - I1| %g, squared %g = %g",
          (double)absolute.image, 2 * abs_sum / n, (double)squared.image, 2 * square_sum / n);
    cfg.latent_skip = 0;
    cfg.latent_channels = 4;
    cfg.w_image = 1;
    CHECK(ld_between_config_check(&cfg, &err) < 0 && strstr(err.msg, "--w-image"),
          "refused without the image in the latent: %s", err.msg);
    ld_ctx_free(&ctx);
    ld_tensor_heap_free(i0);
    ld_tensor_heap_free(i1);
    ld_between_free(&m);
}

static void train(ld_between_trainer *t, int steps)
{
    ld_err err;
    for (int s = 0; s < steps; s++)
        if (ld_between_train_step(t, NULL, &err)) {
            TEST_FAIL("train step: %s", err.msg);
            return;
        }
}

static void test_resume_equals_uninterrupted(void)
{
    ld_between_config cfg = small_config();
    cfg.unet_widths[0] = 4;
    cfg.unet_widths[1] = 4;
    cfg.unet_widths[2] = 4;
    cfg.unet_widths[3] = 4;
    int h = 24, w = 24;
    float *frames = translated_frames(h, w, cfg.stages, 2.0f);
    const float *i0 = frames, *i1 = frames + (size_t)cfg.stages * h * w;
    ld_err err;
    ld_between_model a, b;
    ld_between_trainer ta, tb;
    ld_between_create(&a, &cfg, &err);
    ld_between_init_weights(&a, 5);
    ld_between_trainer_init(&ta, &a, i0, i1, h, w, 5, &err);
    train(&ta, 8);
    char path[128];
    snprintf(path, sizeof path, "/tmp/latdyn_between_resume_%ld.safetensors", (long)getpid());
    CHECK(ld_between_save(&ta, path, &err) == 0, "save: %s", err.msg);
    train(&ta, 8);

    ld_between_config read;
    CHECK(ld_between_read_config(path, &read, &err) == 0, "read config: %s", err.msg);
    ld_between_create(&b, &read, &err);
    ld_between_init_weights(&b, 99); /* overwritten by the checkpoint */
    ld_between_trainer_init(&tb, &b, i0, i1, h, w, 99, &err);
    CHECK(ld_between_resume(&tb, path, &err) == 0, "resume: %s", err.msg);
    train(&tb, 8);
    CHECK(tb.step == 16, "step restored and advanced (%lld)", (long long)tb.step);
    CHECK(memcmp(a.params.data, b.params.data, a.params.total * sizeof(float)) == 0,
          "parameters bit-identical after resume");
    remove(path);
    ld_between_trainer_free(&ta);
    ld_between_trainer_free(&tb);
    ld_between_free(&a);
    ld_between_free(&b);
    free(frames);
}

/* What the stage tests share: a model, two textured batches I0 and I1
 * [2, 1, P, P] and a context that does not record. */
typedef struct stage_case {
    ld_between_model m;
    ld_ctx ctx;
    float *i0, *i1;
    ld_tensor *x0, *x1;
    int B, P, N;
    size_t patch; /* floats in one batch */
    float dt;
} stage_case;

static void stage_case_init(stage_case *s, const ld_between_config *cfg, uint64_t weight_seed,
                            uint64_t texture_seed)
{
    int B = 2, P = cfg->patch, shape[4] = {B, 1, P, P};
    ld_err err;
    s->B = B;
    s->P = P;
    s->N = cfg->stages;
    s->patch = (size_t)B * P * P;
    s->dt = 1.0f / (float)cfg->stages;
    CHECK(ld_between_create(&s->m, cfg, &err) == 0, "create: %s", err.msg);
    ld_between_init_weights(&s->m, weight_seed);
    s->i0 = malloc(sizeof(float) * s->patch);
    s->i1 = malloc(sizeof(float) * s->patch);
    ld_pattern_texture(s->i0, B * P, P, texture_seed);
    ld_pattern_texture(s->i1, B * P, P, texture_seed + 1);
    ld_ctx_init(&s->ctx, ld_backend_cpu(), 0);
    s->ctx.recording = 0;
    s->x0 = ld_tensor_wrap(&s->ctx, s->i0, 4, shape);
    s->x1 = ld_tensor_wrap(&s->ctx, s->i1, 4, shape);
}

static void stage_case_free(stage_case *s)
{
    ld_ctx_free(&s->ctx);
    free(s->i0);
    free(s->i1);
    ld_between_free(&s->m);
}

/* x (at stage `from`) advected to stage `to` with fields [B, 2N, P, P]:
 * forward with v^k, or back with -v^k, one stage at a time. */
static ld_tensor *advected(stage_case *s, ld_tensor *x, ld_tensor *fields, int from, int to)
{
    ld_ctx *ctx = &s->ctx;
    for (int k = from; k < to; k++)
        x = ld_advect(ctx, x, ld_slice(ctx, fields, 1, 2 * k, 2), s->dt);
    for (int k = from - 1; k >= to; k--)
        x = ld_advect(ctx, x, ld_scale(ctx, ld_slice(ctx, fields, 1, 2 * k, 2), -1.0f, 0.0f),
                      s->dt);
    return x;
}

/* With blending, stage n is (1 - t) I0 advected forward + t I1 advected
 * back with -v (the image method, so E and D are the identity): checked
 * against the unblended stages and a back-advection done here. */
static void test_blended_stages(void)
{
    ld_between_config cfg = small_config();
    cfg.method = LD_BETWEEN_IMAGE;
    stage_case s;
    stage_case_init(&s, &cfg, 3, 5);
    int N = s.N;
    size_t patch = s.patch;
    ld_tensor *plain, *blended, *fields, *fields_b;
    s.m.cfg.blend = 0;
    int rc = ld_between_forward_stages(&s.ctx, &s.m, s.x0, s.x1, &plain, &fields);
    s.m.cfg.blend = 1;
    rc |= ld_between_forward_stages(&s.ctx, &s.m, s.x0, s.x1, &blended, &fields_b);
    CHECK(rc == 0, "forward stages: %s", s.ctx.err.msg);
    double worst = 0;
    for (int n = 0; n <= N && rc == 0; n++) {
        ld_tensor *back = advected(&s, s.x1, fields, N, n);
        float t = (float)n / (float)N;
        for (size_t i = 0; i < patch; i++) {
            double want = (1.0 - t) * plain->data[n * patch + i] + t * back->data[i];
            double d = fabs(blended->data[n * patch + i] - want);
            worst = d > worst ? d : worst;
        }
    }
    CHECK(rc == 0 && worst < 1e-5, "blended stages match (1-t) forward + t backward (max diff %g)",
          worst);
    CHECK(rc == 0 && memcmp(blended->data, s.i0, sizeof(float) * patch) == 0 &&
              memcmp(blended->data + N * patch, s.i1, sizeof(float) * patch) == 0,
          "the end stages are the inputs themselves");
    stage_case_free(&s);
}

/* Blending by validity: with a constant field moving content right by 2 px
 * a stage, stage n's forward trace leaves the patch at columns c < 2n
 * (content that entered through the left border) and its backward trace at
 * c > P - 1 - 2 (N - n); there the other direction alone makes the frame,
 * elsewhere the weights are (1 - t, t). */
static void test_validity_blend(void)
{
    ld_between_config cfg = small_config();
    cfg.method = LD_BETWEEN_IMAGE;
    stage_case s;
    stage_case_init(&s, &cfg, 3, 5);
    int P = s.P, N = s.N;
    size_t patch = s.patch;
    float step = 2.0f;
    /* the field network outputs the constant (step / dt, 0): zero head
     * weights, the bias carrying the x velocity over the field scale */
    ld_tensor *head_w = ld_param(&s.m.params, s.m.field_net.head.weight),
              *head_b = ld_param(&s.m.params, s.m.field_net.head.bias);
    memset(head_w->data, 0, sizeof(float) * head_w->numel);
    for (int k = 0; k < 2 * N; k++)
        head_b->data[k] = k % 2 == 0 ? step / s.dt / cfg.field_scale : 0.0f;
    ld_tensor *plain, *valid, *fields, *fields_v;
    s.m.cfg.blend = LD_BLEND_OFF;
    int rc = ld_between_forward_stages(&s.ctx, &s.m, s.x0, s.x1, &plain, &fields);
    s.m.cfg.blend = LD_BLEND_VALID;
    rc |= ld_between_forward_stages(&s.ctx, &s.m, s.x0, s.x1, &valid, &fields_v);
    CHECK(rc == 0, "forward stages: %s", s.ctx.err.msg);
    double worst = 0;
    int forward_only = 0, backward_only = 0;
    for (int n = 1; n < N && rc == 0; n++) {
        ld_tensor *back = advected(&s, s.x1, fields, N, n);
        float t = (float)n / (float)N;
        for (size_t i = 0; i < patch; i++) {
            int c = (int)(i % (size_t)P);
            int forward_ok = c >= (int)step * n, back_ok = c <= P - 1 - (int)step * (N - n);
            double w = forward_ok && !back_ok ? 1.0 : !forward_ok && back_ok ? 0.0 : 1.0 - t;
            forward_only += forward_ok && !back_ok;
            backward_only += !forward_ok && back_ok;
            double want = w * plain->data[n * patch + i] + (1.0 - w) * back->data[i];
            worst = fmax(worst, fabs(valid->data[n * patch + i] - want));
        }
    }
    CHECK(rc == 0 && forward_only > 0 && backward_only > 0 && worst < 1e-5,
          "each direction gives way where its trace left the patch (max diff %g; %d pixels "
          "forward only, %d backward only)",
          worst, forward_only, backward_only);
    CHECK(rc == 0 && memcmp(valid->data, s.i0, sizeof(float) * patch) == 0 &&
              memcmp(valid->data + N * patch, s.i1, sizeof(float) * patch) == 0,
          "the end stages are the inputs themselves");
    s.ctx.recording = 1;
    CHECK(ld_between_forward_stages(&s.ctx, &s.m, s.x0, s.x1, &valid, &fields_v) < 0 &&
              strstr(s.ctx.err.msg, "for inference"),
          "blending by validity refuses to record: %s", s.ctx.err.msg);
    stage_case_free(&s);
}

/* With carry_error, the latent method's frames are its plain frames plus
 * e0 = I0 - D(E(I0)) advected forward, and with blending (1 - t) times that
 * plus t times e1 = I1 - D(E(I1)) advected back: checked against the frames
 * without it and advections done here, on an untrained model (large
 * reconstruction errors). The end frames are then the inputs. */
static void test_carried_error(void)
{
    ld_between_config cfg = small_config();
    stage_case s;
    stage_case_init(&s, &cfg, 4, 7);
    int N = s.N, B = s.B;
    size_t patch = s.patch;
    for (int blend = 0; blend <= 1; blend++) {
        ld_tensor *plain, *carried, *fields, *fields_c;
        s.m.cfg.blend = blend;
        s.m.cfg.carry_error = 0;
        int rc = ld_between_forward_stages(&s.ctx, &s.m, s.x0, s.x1, &plain, &fields);
        s.m.cfg.carry_error = 1;
        rc |= ld_between_forward_stages(&s.ctx, &s.m, s.x0, s.x1, &carried, &fields_c);
        CHECK(rc == 0, "forward stages: %s", s.ctx.err.msg);
        if (rc)
            break;
        /* the plain frames' own directions: without blending the frames
         * are D(z^n); with it, D(z^0) and D(zb^N) are the end frames */
        ld_tensor *e0 = ld_sub(&s.ctx, s.x0, ld_slice(&s.ctx, plain, 0, 0, B));
        ld_tensor *e1 = ld_sub(&s.ctx, s.x1, ld_slice(&s.ctx, plain, 0, N * B, B));
        double worst = 0, reconstruction = 0;
        for (size_t i = 0; i < patch; i++)
            reconstruction = fmax(reconstruction, fabs(e0->data[i]));
        for (int n = 0; n <= N; n++) {
            ld_tensor *forward = advected(&s, e0, fields, 0, n);
            ld_tensor *back = advected(&s, e1, fields, N, n);
            float t = blend ? (float)n / (float)N : 0.0f;
            for (size_t i = 0; i < patch; i++) {
                double want = plain->data[n * patch + i] + (1.0 - t) * forward->data[i] +
                              t * back->data[i];
                worst = fmax(worst, fabs(carried->data[n * patch + i] - want));
            }
        }
        CHECK(reconstruction > 0.01 && worst < 1e-5,
              "blend %d: frames = plain + carried errors (max diff %g; largest error carried %g)",
              blend, worst, reconstruction);
        double end0 = 0, end1 = 0;
        for (size_t i = 0; i < patch; i++) {
            end0 = fmax(end0, fabs(carried->data[i] - s.i0[i]));
            end1 = fmax(end1, fabs(carried->data[N * patch + i] - s.i1[i]));
        }
        CHECK(end0 < 1e-6 && (!blend || end1 < 1e-6),
              "blend %d: frame 0 is I0 (max diff %g) and, blended, frame N is I1 (%g)", blend,
              end0, end1);
    }
    stage_case_free(&s);
}

static void test_translation_end_to_end(void)
{
    ld_between_config cfg = small_config();
    int h = 40, w = 40, N = cfg.stages;
    float dx = 4.0f;
    float *truth = translated_frames(h, w, N, dx);
    size_t plane = (size_t)h * w;
    ld_err err;
    ld_between_model m;
    ld_between_trainer t;
    CHECK(ld_between_create(&m, &cfg, &err) == 0, "create: %s", err.msg);
    ld_between_init_weights(&m, 1);
    CHECK(ld_between_trainer_init(&t, &m, truth, truth + N * plane, h, w, 1, &err) == 0,
          "trainer: %s", err.msg);
    train(&t, cfg.steps);
    float *frames = malloc(sizeof(float) * (N + 1) * plane);
    float *fields = malloc(sizeof(float) * N * 2 * plane);
    CHECK(ld_between_infer(&m, truth, truth + N * plane, h, w, LD_STITCH_BLEND, frames, fields,
                           NULL, NULL, &err) == 0,
          "infer: %s", err.msg);
    /* score the interior (inflow at the left border cannot be predicted) */
    double latent = 0, fade = 0, vx = 0, vy = 0;
    int m0 = 6, count = 0;
    float *a = malloc(sizeof(float) * plane), *b = malloc(sizeof(float) * plane),
          *c = malloc(sizeof(float) * plane);
    for (int n = 1; n < N; n++) {
        float t0 = (float)n / (float)N;
        int k = 0;
        for (int y = m0; y < h - m0; y++)
            for (int x = m0; x < w - m0; x++, k++) {
                size_t i = (size_t)y * w + x;
                a[k] = frames[n * plane + i];
                b[k] = truth[n * plane + i];
                c[k] = (1 - t0) * truth[i] + t0 * truth[N * plane + i];
            }
        latent += psnr(a, b, (size_t)k) / (N - 1);
        fade += psnr(c, b, (size_t)k) / (N - 1);
    }
    for (int n = 0; n < N; n++)
        for (int y = m0; y < h - m0; y++)
            for (int x = m0; x < w - m0; x++, count++) {
                vx += fields[(2 * n) * plane + (size_t)y * w + x];
                vy += fields[(2 * n + 1) * plane + (size_t)y * w + x];
            }
    vx /= count;
    vy /= count;
    printf("    latent %.2f dB, cross-fade %.2f dB, mean v (%.2f, %.2f) px/unit time, truth (%.1f, 0)\n",
           latent, fade, vx, vy, dx);
    CHECK(latent > fade + 3.0, "latent (%.2f dB) beats cross-fade (%.2f dB) by 3 dB", latent, fade);
    CHECK(fabs(vx - dx) < 0.25 * dx && fabs(vy) < 0.25 * dx,
          "mean field (%.2f, %.2f) within 25%% of the true motion (%.1f, 0)", vx, vy, dx);
    free(a);
    free(b);
    free(c);
    free(frames);
    free(fields);
    free(truth);
    ld_between_trainer_free(&t);
    ld_between_free(&m);
}

/* With shrink tau, every frame is the advected image plus the decoder's
 * change to it soft-thresholded by tau: checked against the frames without
 * shrinking (no blending, so frame n is the forward row n, whose image
 * channel is I0 advected n stages), with and without the carried error, on
 * an untrained model, tau the mean size of its changes. A latent without
 * the image inside cannot be shrunk. */
static void test_shrunk_change(void)
{
    ld_between_config cfg = small_config();
    stage_case s;
    stage_case_init(&s, &cfg, 4, 7);
    int N = s.N;
    size_t patch = s.patch;
    float tau = 0.01f;
    s.m.cfg.blend = 0;
    for (int carry = 0; carry <= 1; carry++) {
        ld_tensor *plain, *shrunk, *fields, *fields_s, *image[LD_BETWEEN_MAX_STAGES + 1];
        s.m.cfg.carry_error = carry;
        s.m.cfg.shrink = 0;
        int rc = ld_between_forward_stages(&s.ctx, &s.m, s.x0, s.x1, &plain, &fields);
        CHECK(rc == 0, "forward stages: %s", s.ctx.err.msg);
        if (rc)
            break;
        /* tau: the mean size of the changes, so that some fall on each side */
        double total = 0;
        for (int n = 0; n <= N; n++) {
            image[n] = advected(&s, s.x0, fields, 0, n);
            for (size_t i = 0; i < patch; i++)
                total += fabs(plain->data[n * patch + i] - image[n]->data[i]);
        }
        tau = (float)(total / ((double)(N + 1) * (double)patch));
        s.m.cfg.shrink = tau;
        rc = ld_between_forward_stages(&s.ctx, &s.m, s.x0, s.x1, &shrunk, &fields_s);
        CHECK(rc == 0 && tau > 0, "forward stages: %s (tau %g)", s.ctx.err.msg, (double)tau);
        if (rc)
            break;
        double worst = 0;
        size_t below = 0, above = 0;
        for (int n = 0; n <= N; n++) {
            for (size_t i = 0; i < patch; i++) {
                double change = plain->data[n * patch + i] - image[n]->data[i];
                double kept = change > tau ? change - tau : change < -tau ? change + tau : 0;
                below += fabs(change) < tau;
                above += fabs(change) > tau;
                worst = fmax(worst,
                             fabs(shrunk->data[n * patch + i] - (image[n]->data[i] + kept)));
            }
        }
        CHECK(worst < 1e-5 && below > 0 && above > 0,
              "carry %d: frames = advected image + shrunk change (max diff %g; %zu changes "
              "below tau = %g, %zu above)", carry, worst, below, (double)tau, above);
    }
    s.m.cfg.shrink = tau;
    s.m.cfg.latent_skip = 0;
    s.m.cfg.w_image = 0; /* the quick preset's image term needs it too */
    ld_err err;
    CHECK(ld_between_config_check(&s.m.cfg, &err) < 0 && strstr(err.msg, "--shrink"),
          "shrink without the image inside the latent is refused: %s", err.msg);
    stage_case_free(&s);
}

LD_TEST_SUITE(between) = {
    {"image_term", test_image_term},
    {"decoder_widths", test_decoder_widths},
    {"presets_and_config", test_presets_and_config},
    {"loss_gradient", test_loss_gradient},
    {"mask_outside", test_mask_outside},
    {"resume_equals_uninterrupted", test_resume_equals_uninterrupted},
    {"blended_stages", test_blended_stages},
    {"validity_blend", test_validity_blend},
    {"carried_error", test_carried_error},
    {"shrunk_change", test_shrunk_change},
    {"translation_end_to_end", test_translation_end_to_end},
    {NULL, NULL},
};
