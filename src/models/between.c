/* The `between` model: configuration and presets, networks, loss, training
 * step, checkpoints and tiled inference. See between.h. */
#include "models/between.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/backend.h"
#include "ops/advect.h"
#include "ops/conv.h"
#include "ops/elementwise.h"
#include "ops/loss.h"

/* ---- configuration --------------------------------------------------------- */

/* Every setting once: its key, type and place; presets, checkpoints and
 * reports all go through this table. */
static const ld_config_field config_fields[] = {
#define INT_FIELD(name) \
    {.key = #name, .type = LD_CONFIG_INT, .offset = offsetof(ld_between_config, name)}
#define FLOAT_FIELD(name) \
    {.key = #name, .type = LD_CONFIG_FLOAT, .offset = offsetof(ld_between_config, name)}
    INT_FIELD(method), INT_FIELD(field_input), INT_FIELD(channels), INT_FIELD(latent_channels),
    INT_FIELD(stages), INT_FIELD(patch), INT_FIELD(stride), INT_FIELD(infer_stride),
    INT_FIELD(batch), INT_FIELD(steps), FLOAT_FIELD(lr), FLOAT_FIELD(lr_decay),
    INT_FIELD(lr_decay_every), INT_FIELD(encoder_layers), INT_FIELD(encoder_width),
    INT_FIELD(field_kernel), INT_FIELD(decoder_kernel), INT_FIELD(unet_widths[0]),
    INT_FIELD(unet_widths[1]), INT_FIELD(unet_widths[2]), INT_FIELD(unet_widths[3]),
    FLOAT_FIELD(slope), FLOAT_FIELD(w_ae), FLOAT_FIELD(w_mag), FLOAT_FIELD(w_space),
    FLOAT_FIELD(w_time), FLOAT_FIELD(w_backward), FLOAT_FIELD(field_scale), INT_FIELD(latent_skip),
    FLOAT_FIELD(clip_norm),
    /* added after the first release of the format: checkpoints without
     * them load with these off, as they were made */
#define OPTIONAL(kind, name)                                                                   \
    {.key = #name, .type = LD_CONFIG_##kind, .offset = offsetof(ld_between_config, name),      \
     .optional = 1}
    OPTIONAL(INT, blend), OPTIONAL(INT, carry_error), OPTIONAL(FLOAT, shrink),
    OPTIONAL(FLOAT, w_image), OPTIONAL(INT, decoder_widths[0]), OPTIONAL(INT, decoder_widths[1]),
    OPTIONAL(INT, decoder_widths[2]), OPTIONAL(INT, decoder_widths[3]),
    OPTIONAL(INT, mask_outside), OPTIONAL(INT, image_abs),
#undef OPTIONAL
#undef INT_FIELD
#undef FLOAT_FIELD
};
#define CONFIG_FIELD_COUNT (sizeof config_fields / sizeof config_fields[0])

int ld_between_preset(const char *name, int channels, ld_between_config *cfg, ld_err *err)
{
    /* paper: between.md verbatim */
    *cfg = (ld_between_config){
        .method = LD_BETWEEN_LATENT, .field_input = LD_FIELD_INPUT_I0, .channels = channels,
        .latent_channels = 4, .stages = 8, .patch = 32, .stride = 4, .infer_stride = 16,
        .batch = 16, .steps = 6000, .lr = 1e-3f, .lr_decay = 0.9f, .lr_decay_every = 500,
        .encoder_layers = 6, .encoder_width = 16, .field_kernel = 5, .decoder_kernel = 3,
        .unet_widths = {16, 32, 64, 128}, .slope = 0.2f, .w_ae = 1.0f, .w_mag = 1e-4f,
        .w_space = 1e-3f, .w_time = 1e-3f, .w_backward = 0.0f, .field_scale = 1.0f, .latent_skip = 0};
    if (!strcmp(name, "paper"))
        return 0;
    if (!strcmp(name, "quick")) {
        /* both images to F (the motion is not identifiable from I0 alone),
         * time symmetry, the image inside the latent, F's output scaled so
         * that it starts moving content by pixels, field penalties scaled
         * for velocities of several pixels per unit time (the paper's 1e-4
         * on |v|^2 shrank an 8 px shift to 3.6 px), fewer steps with a
         * faster decay, gradients clipped (without, a drifting scene's
         * fields ran away after ~200 steps), both directions blended with
         * each giving way where its content entered through the border,
         * each input's auto-encoder error carried with it, a stronger
         * auto-encoder term (the new-feature scenes need it; 2 loses the
         * opening lead), and the decoder's change to the advected image
         * dropped where it is below 1% of the patch's range (where the
         * texture only moves it is noise), and the image channels of the
         * advected latents scored against the other input (the image
         * term: F's direct signal; it took the rotating scene's fields
         * from a third of the motion to most of it), scored only where
         * the content's trace stayed inside the patch (what a patch
         * brings in through its border is replicated border, which
         * pulled the fields towards small motion on real pairs; masking
         * the decoded terms too loses the opening lead), as a mean
         * absolute difference (a lead's open water, which no motion of I0
         * explains, pulled the squared term's fields into a bump beside
         * the crack) at weight 0.6 (0.3 left SAR source behind the image
         * method). Measured in bench/RESULTS.md. */
        cfg->field_input = LD_FIELD_INPUT_PAIR;
        cfg->w_backward = 1.0f;
        cfg->field_scale = 8.0f;
        cfg->latent_skip = 1;
        cfg->latent_channels = channels + 3;
        cfg->w_mag = 1e-6f;
        cfg->w_space = 1e-4f;
        cfg->steps = 600;
        cfg->stride = 8;
        cfg->lr_decay_every = 150;
        cfg->lr_decay = 0.5f; /* ends at 1/8 of lr (see bench/RESULTS.md) */
        cfg->clip_norm = 1.0f;
        cfg->blend = LD_BLEND_VALID;
        cfg->carry_error = 1;
        cfg->w_ae = 1.5f;
        cfg->shrink = 0.01f;
        cfg->w_image = 0.6f;
        cfg->image_abs = 1;
        cfg->mask_outside = LD_MASK_IMAGE;
        return 0;
    }
    return ld_errf(err, "unknown preset '%s' (paper or quick)", name);
}

void ld_between_widths(int widths[4], int first)
{
    for (int k = 0; k < 4; k++)
        widths[k] = first << k;
}

int ld_between_config_check(const ld_between_config *c, ld_err *err)
{
    if (c->method != LD_BETWEEN_LATENT && c->method != LD_BETWEEN_IMAGE)
        return ld_errf(err, "unknown method %d", c->method);
    if (c->channels < 1 || c->channels > 64)
        return ld_errf(err, "%d image channels (1..64 supported)", c->channels);
    if (c->stages < 1 || c->stages > LD_BETWEEN_MAX_STAGES)
        return ld_errf(err, "--stages %d outside 1..%d", c->stages, LD_BETWEEN_MAX_STAGES);
    if (c->patch < 8 || c->patch % 8)
        return ld_errf(err, "--patch %d must be a multiple of 8 (the U-Net pools three times)",
                       c->patch);
    if (c->stride < 1 || c->stride > c->patch || c->infer_stride < 1 ||
        c->infer_stride > c->patch)
        return ld_errf(err, "strides must be in 1..patch (%d); got %d and %d", c->patch,
                       c->stride, c->infer_stride);
    if (c->batch < 1 || c->steps < 0 || !(c->lr > 0) || !(c->lr_decay > 0) ||
        c->lr_decay_every < 1 || !(c->clip_norm >= 0) || isinf(c->clip_norm))
        return ld_errf(err, "batch, steps, learning-rate or clipping settings out of range");
    if (c->blend < LD_BLEND_OFF || c->blend > LD_BLEND_VALID)
        return ld_errf(err, "blend %d is not 0 (off), 1 (on) or 2 (by validity)", c->blend);
    if (c->field_input != LD_FIELD_INPUT_I0 && c->field_input != LD_FIELD_INPUT_PAIR)
        return ld_errf(err, "field_input %d is neither 0 (I0) nor 1 (the pair)", c->field_input);
    if (c->carry_error != 0 && c->carry_error != 1)
        return ld_errf(err, "carry_error %d is neither 0 (off) nor 1 (on)", c->carry_error);
    if (!(c->shrink >= 0 && c->shrink <= 1))
        return ld_errf(err, "--shrink %g outside 0..1 (patch values run over [0, 1])",
                       (double)c->shrink);
    if (!(c->w_image >= 0) || isinf(c->w_image))
        return ld_errf(err, "--w-image %g must be a finite weight >= 0", (double)c->w_image);
    if ((c->w_image > 0 || c->shrink > 0) && c->method == LD_BETWEEN_LATENT && !c->latent_skip)
        return ld_errf(err, "%s needs the image inside the latent (latent_skip, as in the "
                            "quick preset): it works on the latent's image channels",
                       c->w_image > 0 ? "--w-image" : "--shrink");
    if (c->image_abs != 0 && c->image_abs != 1)
        return ld_errf(err, "image_abs %d is neither 0 (squared) nor 1 (absolute)", c->image_abs);
    if (c->mask_outside < LD_MASK_OFF || c->mask_outside > LD_MASK_IMAGE)
        return ld_errf(err, "mask_outside %d is not 0 (off), 1 (all terms) or 2 (the image term)",
                       c->mask_outside);
    if (c->encoder_layers < 0 || c->encoder_layers > LD_BETWEEN_MAX_ENCODER - 1 ||
        c->latent_channels < 1 || c->encoder_width < 1)
        return ld_errf(err, "encoder settings out of range");
    for (int k = 0; k < 4; k++)
        if (c->decoder_widths[k] < 0 || (c->decoder_widths[k] > 0) != (c->decoder_widths[0] > 0))
            return ld_errf(err, "decoder widths must be all 0 (as the field network's) or all "
                                "positive");
    if (c->field_kernel % 2 == 0 || c->decoder_kernel % 2 == 0)
        return ld_errf(err, "U-Net kernels must be odd");
    if (c->w_ae < 0 || c->w_mag < 0 || c->w_space < 0 || c->w_time < 0 || c->w_backward < 0)
        return ld_errf(err, "loss weights must not be negative");
    if (!(c->field_scale > 0))
        return ld_errf(err, "field scale must be positive");
    if (c->latent_skip && c->latent_channels <= c->channels)
        return ld_errf(err, "a latent with the image inside needs more than %d channels (has %d)",
                       c->channels, c->latent_channels);
    return 0;
}

int ld_between_config_save(const ld_between_config *cfg, ld_config *out, ld_err *err)
{
    return ld_config_save_fields(out, cfg, config_fields, CONFIG_FIELD_COUNT, "between", err);
}

int ld_between_config_load(const ld_config *in, ld_between_config *cfg, ld_err *err)
{
    if (ld_config_load_fields(in, cfg, config_fields, CONFIG_FIELD_COUNT, "between", sizeof *cfg, err))
        return -1;
    return ld_between_config_check(cfg, err);
}

/* ---- networks -------------------------------------------------------------- */

int ld_between_create(ld_between_model *m, const ld_between_config *cfg, ld_err *err)
{
    memset(m, 0, sizeof *m);
    if (ld_between_config_check(cfg, err))
        return -1;
    m->cfg = *cfg;
    ld_params_init(&m->params);
    ld_activation leaky = LD_LEAKY(cfg->slope);
    int C = cfg->channels, N = cfg->stages;
    ld_unet_config f = {.in_ch = cfg->field_input == LD_FIELD_INPUT_PAIR ? 2 * C : C,
                        .out_ch = 2 * N, .kernel = cfg->field_kernel, .depth = 3,
                        .slope = cfg->slope};
    memcpy(f.widths, cfg->unet_widths, sizeof cfg->unet_widths);
    if (ld_unet_create(&m->field_net, &m->params, "field", &f, err))
        return -1;
    if (cfg->method == LD_BETWEEN_LATENT) {
        int in = C;
        char name[64];
        for (int i = 0; i < cfg->encoder_layers; i++) {
            snprintf(name, sizeof name, "encoder.conv%d", i);
            if (ld_conv_layer_create(&m->encoder[i], &m->params, name, in, cfg->encoder_width, 3,
                                     1, leaky, err))
                return -1;
            in = cfg->encoder_width;
        }
        int encoded = cfg->latent_channels - (cfg->latent_skip ? C : 0);
        if (ld_conv_layer_create(&m->encoder[cfg->encoder_layers], &m->params, "encoder.out", in,
                                 encoded, 3, 1, LD_NO_ACT, err))
            return -1;
        m->encoder_count = cfg->encoder_layers + 1;
        ld_unet_config d = f;
        d.in_ch = cfg->latent_channels;
        d.out_ch = C;
        d.kernel = cfg->decoder_kernel;
        if (cfg->decoder_widths[0] > 0)
            memcpy(d.widths, cfg->decoder_widths, sizeof d.widths);
        if (ld_unet_create(&m->decoder, &m->params, "decoder", &d, err))
            return -1;
    }
    return ld_params_finalize(&m->params, err);
}

void ld_between_init_weights(ld_between_model *m, uint64_t seed)
{
    ld_rng rng;
    ld_rng_init(&rng, seed ^ 0xb37ee7ull);
    ld_unet_init(&m->field_net, &m->params, &rng);
    if (m->cfg.method == LD_BETWEEN_LATENT) {
        for (int i = 0; i < m->encoder_count; i++)
            ld_conv_layer_init(&m->params, &m->encoder[i], &rng);
        ld_unet_init(&m->decoder, &m->params, &rng);
    }
}

void ld_between_free(ld_between_model *m) { ld_params_free(&m->params); }

static ld_tensor *encode(ld_ctx *ctx, ld_between_model *m, ld_tensor *image)
{
    if (m->cfg.method == LD_BETWEEN_IMAGE)
        return image;
    /* the hidden layers' outputs in the convolutions' layout (when the
     * width allows); the last layer, to a few channels, reads NCHW */
    int last = m->encoder_count - 1, block = ld_conv_block_for(ctx, 1, &m->cfg.encoder_width);
    ld_tensor *x = image;
    for (int i = 0; i < last; i++)
        x = ld_conv_layer_forward_to(ctx, &m->params, &m->encoder[i], x, block);
    x = ld_conv_layer_forward(ctx, &m->params, &m->encoder[last], ld_to_block(ctx, x, 0));
    if (!m->cfg.latent_skip)
        return x;
    ld_tensor *parts[2] = {image, x};
    return ld_concat(ctx, parts, 2, 1);
}

static ld_tensor *decode(ld_ctx *ctx, ld_between_model *m, ld_tensor *z)
{
    if (m->cfg.method == LD_BETWEEN_IMAGE)
        return z;
    ld_tensor *y = ld_unet_forward(ctx, &m->params, &m->decoder, z);
    return m->cfg.latent_skip ? ld_add(ctx, ld_slice(ctx, z, 1, 0, m->cfg.channels), y) : y;
}

static ld_tensor *extract_fields(ld_ctx *ctx, ld_between_model *m, ld_tensor *i0, ld_tensor *i1)
{
    ld_tensor *in = i0;
    if (m->cfg.field_input == LD_FIELD_INPUT_PAIR) {
        ld_tensor *pair[2] = {i0, i1};
        in = ld_concat(ctx, pair, 2, 1);
    }
    ld_tensor *raw = ld_unet_forward(ctx, &m->params, &m->field_net, in);
    return m->cfg.field_scale == 1.0f ? raw : ld_scale(ctx, raw, m->cfg.field_scale, 0.0f);
}

/* Stage n's field [B, 2, P, P] out of fields [B, 2N, P, P]. */
static ld_tensor *stage_field(ld_ctx *ctx, ld_tensor *fields, int n)
{
    return ld_slice(ctx, fields, 1, 2 * n, 2);
}

/* Stage n's step backwards in time: z^n from z^{n+1} with -v^n. */
static ld_tensor *advect_back(ld_ctx *ctx, ld_tensor *z, ld_tensor *fields, int n, float dt)
{
    return ld_advect(ctx, z, ld_scale(ctx, stage_field(ctx, fields, n), -1.0f, 0.0f), dt);
}

/* How far inside the patch each pixel's sample point p - step v(p) lies,
 * as a factor [B, 1, P, P]: 1 inside, falling linearly to 0 one pixel
 * outside. v is one stage's field [B, 2, P, P]. */
static ld_tensor *inside_factor(ld_ctx *ctx, ld_tensor *v, float step)
{
    if (!v)
        return NULL;
    int B = v->shape[0], H = v->shape[2], W = v->shape[3], shape[4] = {B, 1, H, W};
    ld_tensor *f = ld_tensor_new(ctx, 4, shape);
    if (!f)
        return NULL;
    size_t plane = (size_t)H * (size_t)W;
    for (int b = 0; b < B; b++) {
        const float *vx = v->data + (size_t)b * 2 * plane, *vy = vx + plane;
        for (int r = 0; r < H; r++)
            for (int c = 0; c < W; c++) {
                size_t p = (size_t)r * (size_t)W + (size_t)c;
                float x = (float)c - step * vx[p], y = (float)r - step * vy[p];
                float out = fmaxf(fmaxf(-x, x - (float)(W - 1)), fmaxf(-y, y - (float)(H - 1)));
                f->data[(size_t)b * plane + p] = fminf(1.0f, fmaxf(0.0f, 1.0f - out));
            }
    }
    return f;
}

/* How much of each pixel's trace stayed inside the patch, stage by stage:
 * a mask advected like the latent, times the inside factor of every step.
 * forward[n] [B, 1, P, P] for I0's content carried to stage n (n = 0..
 * last_forward), back[n] for I1's content carried back to stage n (n =
 * first_back..N). Not recorded (no gradient flows through them). */
static int inside_traces(ld_ctx *ctx, ld_tensor *fields, int N, ld_tensor **forward,
                         int last_forward, ld_tensor **back, int first_back)
{
    float dt = 1.0f / (float)N;
    int recording = ctx->recording, rc = 0;
    ctx->recording = 0;
    int shape[4] = {fields->shape[0], 1, fields->shape[2], fields->shape[3]};
    forward[0] = ld_tensor_new(ctx, 4, shape);
    back[N] = ld_tensor_new(ctx, 4, shape);
    if (forward[0] && back[N]) {
        size_t count = (size_t)shape[0] * (size_t)shape[2] * (size_t)shape[3];
        for (size_t i = 0; i < count; i++)
            forward[0]->data[i] = back[N]->data[i] = 1.0f;
    }
    for (int n = 1; n <= last_forward; n++) {
        ld_tensor *v = stage_field(ctx, fields, n - 1);
        forward[n] = ld_mul(ctx, ld_advect(ctx, forward[n - 1], v, dt), inside_factor(ctx, v, dt));
        rc |= !forward[n];
    }
    for (int n = N - 1; n >= first_back; n--) {
        back[n] = ld_mul(ctx, advect_back(ctx, back[n + 1], fields, n, dt),
                         inside_factor(ctx, stage_field(ctx, fields, n), -dt));
        rc |= !back[n];
    }
    ctx->recording = recording;
    return rc || !forward[0] || !back[N] ? -1 : 0;
}

/* ---- loss ------------------------------------------------------------------ */

/* mean over all elements of x^2 */
static ld_tensor *mean_square(ld_ctx *ctx, ld_tensor *x) { return ld_mean(ctx, ld_mul(ctx, x, x)); }

/* Difference of neighbours along `axis`: x[1:] - x[:-1]. */
static ld_tensor *neighbour_difference(ld_ctx *ctx, ld_tensor *x, int axis, int step)
{
    if (!x)
        return NULL;
    int len = x->shape[axis] - step;
    return ld_sub(ctx, ld_slice(ctx, x, axis, step, len), ld_slice(ctx, x, axis, 0, len));
}

/* A per-pixel weight [B, 1, P, P] repeated over C channels, [B, C, P, P]
 * (a constant: no gradient). */
static ld_tensor *over_channels(ld_ctx *ctx, const ld_tensor *weight, int C)
{
    int B = weight->shape[0], shape[4] = {B, C, weight->shape[2], weight->shape[3]};
    ld_tensor *w = ld_tensor_new(ctx, 4, shape);
    if (!w)
        return NULL;
    size_t plane = (size_t)shape[2] * (size_t)shape[3];
    for (int i = 0; i < B; i++)
        for (int c = 0; c < C; c++)
            memcpy(w->data + ((size_t)i * C + c) * plane, weight->data + (size_t)i * plane,
                   plane * sizeof(float));
    return w;
}

/* The mean over all elements of weight (a - b)^2, weight [B, 1, P, P] (no
 * gradient) applied to every channel of a and b [B, C, P, P]; the plain
 * mean squared error without a weight. With absolute, weight |a - b|. */
static ld_tensor *weighted_error(ld_ctx *ctx, ld_tensor *a, ld_tensor *b, const ld_tensor *weight,
                                 int absolute)
{
    if (!weight && !absolute)
        return ld_mse(ctx, a, b);
    if (!a || !b)
        return NULL;
    ld_tensor *d = ld_sub(ctx, a, b);
    ld_tensor *e = absolute
                       ? ld_add(ctx, ld_relu(ctx, d), ld_relu(ctx, ld_scale(ctx, d, -1.0f, 0.0f)))
                       : ld_mul(ctx, d, d);
    return ld_mean(ctx, weight ? ld_mul(ctx, e, over_channels(ctx, weight, a->shape[1])) : e);
}

/* w * x (a scalar tensor), or NULL's propagation. */
static ld_tensor *weighted(ld_ctx *ctx, ld_tensor *x, float w) { return ld_scale(ctx, x, w, 0.0f); }

ld_tensor *ld_between_loss(ld_ctx *ctx, ld_between_model *m, ld_tensor *i0, ld_tensor *i1,
                           ld_between_losses *parts)
{
    const ld_between_config *c = &m->cfg;
    int N = c->stages;
    float dt = 1.0f / (float)N;
    if (!i0 || !i1)
        return NULL;
    int B = i0->shape[0];
    ld_tensor *fields = extract_fields(ctx, m, i0, i1);

    /* E on I0 and I1 together */
    ld_tensor *pair[2] = {i0, i1};
    ld_tensor *z_both = encode(ctx, m, ld_concat(ctx, pair, 2, 0));
    ld_tensor *z0 = ld_slice(ctx, z_both, 0, 0, B), *z1 = ld_slice(ctx, z_both, 0, B, B);

    ld_tensor *z = z0;
    for (int n = 0; n < N; n++)
        z = ld_advect(ctx, z, stage_field(ctx, fields, n), dt);
    /* decoded: z^N (-> I1), z^0 (-> I0), z1 (-> I1), and with time symmetry
     * the back-advected E(I1) (-> I0), all through D in one batch */
    ld_tensor *dec_in[4] = {z, z0, z1, NULL};
    ld_tensor *targets[4] = {i1, i0, i1, i0};
    int n_dec = 3;
    if (c->w_backward > 0) {
        ld_tensor *zb = z1;
        for (int n = N - 1; n >= 0; n--)
            zb = advect_back(ctx, zb, fields, n, dt);
        dec_in[n_dec++] = zb;
    }
    ld_tensor *decoded = decode(ctx, m, ld_concat(ctx, dec_in, n_dec, 0));
    /* with mask_outside, the advected parts are scored where their traces
     * stayed inside the patch: z^N (and the image term's z^N[:C]) by I0's
     * trace, the back-advected E(I1) by I1's; the decoded ones (dynamics,
     * time symmetry) with LD_MASK_ALL only */
    int image_term = c->w_image > 0 && c->method == LD_BETWEEN_LATENT;
    ld_tensor *weight[4] = {NULL, NULL, NULL, NULL};
    if (fields && (c->mask_outside == LD_MASK_ALL || (c->mask_outside == LD_MASK_IMAGE && image_term))) {
        ld_tensor *forward[LD_BETWEEN_MAX_STAGES + 1], *back[LD_BETWEEN_MAX_STAGES + 1];
        if (inside_traces(ctx, fields, N, forward, N, back, n_dec == 4 ? 0 : N))
            return NULL;
        weight[0] = forward[N];
        weight[3] = n_dec == 4 ? back[0] : NULL;
    }
    /* the image term: the advected image channels alone against the target */
    ld_tensor *image = NULL;
    if (image_term) {
        int C = c->channels;
        image = weighted_error(ctx, ld_slice(ctx, z, 1, 0, C), i1, weight[0], c->image_abs);
        if (n_dec == 4) /* and E(I1) advected back against I0 */
            image = ld_add(ctx, image, weighted_error(ctx, ld_slice(ctx, dec_in[3], 1, 0, C), i0,
                                                      weight[3], c->image_abs));
    }
    ld_tensor *target = ld_concat(ctx, targets, n_dec, 0);
    /* per-part MSEs: slices of one decoded batch */
    ld_tensor *mse[4];
    for (int k = 0; k < n_dec; k++)
        mse[k] = weighted_error(ctx, ld_slice(ctx, decoded, 0, k * B, B),
                                ld_slice(ctx, target, 0, k * B, B),
                                c->mask_outside == LD_MASK_ALL ? weight[k] : NULL, 0);

    ld_tensor *dynamics = mse[0];
    ld_tensor *ae = c->method == LD_BETWEEN_LATENT ? ld_add(ctx, mse[1], mse[2]) : NULL;
    ld_tensor *back = n_dec == 4 ? mse[3] : NULL;
    /* field terms; |v|^2 = vx^2 + vy^2 per pixel, summed over stages: the
     * mean over [B, 2N, P, P] times 2N */
    float per_stage = 2.0f * (float)N;
    ld_tensor *magnitude = weighted(ctx, mean_square(ctx, fields), per_stage);
    ld_tensor *space = weighted(
        ctx,
        ld_add(ctx, mean_square(ctx, neighbour_difference(ctx, fields, 3, 1)),
               mean_square(ctx, neighbour_difference(ctx, fields, 2, 1))),
        per_stage);
    ld_tensor *time = N > 1 ? weighted(ctx, mean_square(ctx, neighbour_difference(ctx, fields, 1, 2)),
                                       2.0f * (float)(N - 1))
                            : NULL;

    ld_tensor *total = dynamics;
    if (ae)
        total = ld_add(ctx, total, weighted(ctx, ae, c->w_ae));
    total = ld_add(ctx, total, weighted(ctx, magnitude, c->w_mag));
    total = ld_add(ctx, total, weighted(ctx, space, c->w_space));
    if (time)
        total = ld_add(ctx, total, weighted(ctx, time, c->w_time));
    if (back)
        total = ld_add(ctx, total, weighted(ctx, back, c->w_backward));
    if (image)
        total = ld_add(ctx, total, weighted(ctx, image, c->w_image));
    if (!total)
        return NULL;
    if (parts) {
        *parts = (ld_between_losses){
            .total = total->data[0], .dynamics = dynamics->data[0],
            .autoencoder = ae ? ae->data[0] : 0, .magnitude = magnitude->data[0],
            .smooth_space = space->data[0], .smooth_time = time ? time->data[0] : 0,
            .backward = back ? back->data[0] : 0, .image = image ? image->data[0] : 0};
    }
    return total;
}

/* The rows that one decode covers, into row[]; returns how many. Without
 * blending: x0 advected over stages 0..N (N + 1 rows). With blending: x0
 * advected over stages 0..N-1, then x1 advected back over stages 1..N
 * (2N rows; each end stage needs only its own direction). The latents and
 * the carried errors both take this layout. */
static int stage_rows(ld_ctx *ctx, const ld_between_config *c, ld_tensor *fields, ld_tensor *x0,
                      ld_tensor *x1, ld_tensor **row)
{
    int N = c->stages, forward = c->blend ? N : N + 1;
    float dt = 1.0f / (float)N;
    row[0] = x0;
    for (int n = 1; n < forward; n++)
        row[n] = ld_advect(ctx, row[n - 1], stage_field(ctx, fields, n - 1), dt);
    if (!c->blend)
        return N + 1;
    ld_tensor **back = row + N - 1; /* back[n]: stage n, n = 1..N */
    back[N] = x1;
    for (int n = N - 1; n >= 1; n--)
        back[n] = advect_back(ctx, back[n + 1], fields, n, dt);
    return 2 * N;
}

/* Blending by validity (blend 2): the forward direction's weight at every
 * pixel of stages 1..N-1, into weight[n] [B, 1, P, P] (the backward one is
 * 1 minus it). Each direction's trace is followed back to its input stage
 * (inside_traces); content that entered through the patch border has no
 * source there, so that direction gives way: weight (1 - t) a / ((1 - t) a
 * + t b) with a and b how much of each trace stayed inside, and (1 - t)
 * where neither did. */
static int validity_weights(ld_ctx *ctx, ld_tensor *fields, int N, ld_tensor **weight)
{
    ld_tensor *forward[LD_BETWEEN_MAX_STAGES + 1], *back[LD_BETWEEN_MAX_STAGES + 1];
    if (inside_traces(ctx, fields, N, forward, N - 1, back, 1))
        return -1;
    int shape[4] = {fields->shape[0], 1, fields->shape[2], fields->shape[3]};
    size_t count = (size_t)shape[0] * (size_t)shape[2] * (size_t)shape[3];
    for (int n = 1; n < N; n++) {
        weight[n] = ld_tensor_new(ctx, 4, shape);
        if (!weight[n])
            return -1;
        float t = (float)n / (float)N;
        for (size_t i = 0; i < count; i++) {
            float a = (1.0f - t) * forward[n]->data[i], b = t * back[n]->data[i];
            weight[n]->data[i] = a + b > 1e-6f ? a / (a + b) : 1.0f - t;
        }
    }
    return 0;
}

/* advected + soft_threshold(decoded - advected, tau), advected the image
 * channels z[:C] of the latents: the decoder's change to the advected image
 * (with carry_error, its change along the path) dropped where it is below
 * tau, kept less tau where it is above. */
static ld_tensor *shrink_change(ld_ctx *ctx, ld_tensor *decoded, ld_tensor *latents, int C,
                                float tau)
{
    ld_tensor *advected = ld_slice(ctx, latents, 1, 0, C);
    ld_tensor *change = ld_sub(ctx, decoded, advected);
    ld_tensor *up = ld_relu(ctx, ld_scale(ctx, change, 1.0f, -tau));
    ld_tensor *down = ld_relu(ctx, ld_scale(ctx, change, -1.0f, -tau));
    return ld_add(ctx, advected, ld_sub(ctx, up, down));
}

/* weight * a + (1 - weight) * b, as b + weight (a - b); a and b [B, C, P,
 * P], weight [B, 1, P, P]. For inference only (forward_stages refuses the
 * valid blend while recording): the weights depend on the fields without
 * a gradient. */
static ld_tensor *weighted_blend(ld_ctx *ctx, ld_tensor *a, ld_tensor *b, const ld_tensor *weight)
{
    if (!a || !b)
        return NULL;
    return ld_add(ctx, b, ld_mul(ctx, over_channels(ctx, weight, a->shape[1]), ld_sub(ctx, a, b)));
}

int ld_between_forward_stages(ld_ctx *ctx, ld_between_model *m, ld_tensor *i0, ld_tensor *i1,
                              ld_tensor **frames, ld_tensor **fields)
{
    const ld_between_config *c = &m->cfg;
    int N = c->stages, B = i0->shape[0];
    *fields = extract_fields(ctx, m, i0, i1);
    ld_tensor *z[2 * LD_BETWEEN_MAX_STAGES], *z0 = encode(ctx, m, i0);
    ld_tensor *z1 = c->blend ? encode(ctx, m, i1) : NULL;
    int rows = stage_rows(ctx, c, *fields, z0, z1, z);
    ld_tensor *latents = ld_concat(ctx, z, rows, 0), *decoded = decode(ctx, m, latents);
    /* carry_error: e0 = I0 - D(E(I0)) and, blended, e1 = I1 - D(E(I1))
     * (the first and last rows) take the latents' paths and are added to
     * their rows; the image method's decoder is the identity, nothing to
     * carry */
    if (c->carry_error && c->method != LD_BETWEEN_IMAGE) {
        ld_tensor *e[2 * LD_BETWEEN_MAX_STAGES];
        ld_tensor *e0 = ld_sub(ctx, i0, ld_slice(ctx, decoded, 0, 0, B));
        ld_tensor *e1 = c->blend ? ld_sub(ctx, i1, ld_slice(ctx, decoded, 0, (rows - 1) * B, B))
                                 : NULL;
        stage_rows(ctx, c, *fields, e0, e1, e);
        decoded = ld_add(ctx, decoded, ld_concat(ctx, e, rows, 0));
    }
    if (c->shrink > 0 && c->method != LD_BETWEEN_IMAGE)
        decoded = shrink_change(ctx, decoded, latents, c->channels, c->shrink);
    if (!c->blend) {
        *frames = decoded;
        return *frames && *fields ? 0 : -1;
    }
    ld_tensor *stage[LD_BETWEEN_MAX_STAGES + 1], *weight[LD_BETWEEN_MAX_STAGES];
    if (c->blend == LD_BLEND_VALID) {
        if (ctx->recording) {
            ld_fail(ctx, "blending by validity is for inference (it records no gradient)");
            return -1;
        }
        if (!*fields || validity_weights(ctx, *fields, N, weight))
            return -1;
    }
    stage[0] = ld_slice(ctx, decoded, 0, 0, B);
    for (int n = 1; n < N; n++) {
        float t = (float)n / (float)N;
        ld_tensor *forward = ld_slice(ctx, decoded, 0, n * B, B),
                  *backward = ld_slice(ctx, decoded, 0, (N - 1 + n) * B, B);
        stage[n] = c->blend == LD_BLEND_VALID
                       ? weighted_blend(ctx, forward, backward, weight[n])
                       : ld_add(ctx, ld_scale(ctx, forward, 1.0f - t, 0.0f),
                                ld_scale(ctx, backward, t, 0.0f));
    }
    stage[N] = ld_slice(ctx, decoded, 0, (2 * N - 1) * B, B);
    *frames = ld_concat(ctx, stage, N + 1, 0);
    return *frames && *fields ? 0 : -1;
}

/* ---- training -------------------------------------------------------------- */

int ld_between_trainer_init(ld_between_trainer *t, ld_between_model *m, const float *image0,
                            const float *image1, int height, int width, uint64_t seed,
                            ld_err *err)
{
    memset(t, 0, sizeof *t);
    t->model = m;
    t->image0 = image0;
    t->image1 = image1;
    const ld_between_config *c = &m->cfg;
    if (ld_patch_grid_init(&t->grid, height, width, c->patch, c->stride, err))
        return -1;
    size_t per = (size_t)c->batch * (size_t)c->channels * (size_t)c->patch * (size_t)c->patch;
    t->batch0 = malloc(per * sizeof(float));
    t->batch1 = malloc(per * sizeof(float));
    t->lo = malloc((size_t)c->batch * sizeof(float));
    t->hi = malloc((size_t)c->batch * sizeof(float));
    t->indices = malloc((size_t)c->batch * sizeof(int));
    ld_ctx_init(&t->ctx, ld_backend_cpu(), seed);
    t->ctx.conv_precision = m->precision;
    if (!t->batch0 || !t->batch1 || !t->lo || !t->hi || !t->indices ||
        ld_optim_init(&t->opt, LD_OPTIM_ADAM, &m->params, c->lr, err) ||
        ld_schedule_exponential(&t->sched, c->lr, c->lr_decay, c->lr_decay_every, err)) {
        if (!err->msg[0])
            ld_errf(err, "out of memory");
        ld_between_trainer_free(t);
        return -1;
    }
    return 0;
}

void ld_between_trainer_free(ld_between_trainer *t)
{
    free(t->batch0);
    free(t->batch1);
    free(t->lo);
    free(t->hi);
    free(t->indices);
    ld_optim_free(&t->opt);
    ld_ctx_free(&t->ctx);
    t->batch0 = t->batch1 = t->lo = t->hi = NULL;
    t->indices = NULL;
}

int ld_between_train_step(ld_between_trainer *t, ld_between_losses *losses, ld_err *err)
{
    ld_between_model *m = t->model;
    const ld_between_config *c = &m->cfg;
    ld_ctx *ctx = &t->ctx;
    int count = ld_patch_count(&t->grid);
    for (int b = 0; b < c->batch; b++)
        t->indices[b] = (int)ld_rng_below(&ctx->rng, (uint32_t)count);
    if (ld_patch_pairs_cut(&t->grid, t->image0, t->image1, c->channels, t->indices, c->batch,
                           t->batch0, t->batch1, t->lo, t->hi, err))
        return -1;
    ld_ctx_reset(ctx);
    ctx->recording = 1;
    int shape[4] = {c->batch, c->channels, c->patch, c->patch};
    ld_tensor *i0 = ld_tensor_wrap(ctx, t->batch0, 4, shape);
    ld_tensor *i1 = ld_tensor_wrap(ctx, t->batch1, 4, shape);
    ld_tensor *loss = ld_between_loss(ctx, m, i0, i1, losses);
    ld_params_zero_grad(&m->params);
    if (!loss || ld_backward(ctx, loss))
        return ld_errf(err, "training step %lld: %s", (long long)t->step, ctx->err.msg);
    if (!isfinite(loss->data[0]))
        return ld_errf(err, "training diverged at step %lld (loss %g); try a lower --lr",
                       (long long)t->step, loss->data[0]);
    if (c->clip_norm > 0)
        ld_clip_grad_norm(&m->params, c->clip_norm);
    t->opt.lr = ld_schedule_lr(&t->sched, t->step);
    if (ld_optim_step(&t->opt, &m->params, err))
        return -1;
    t->step++;
    return 0;
}

int ld_between_save(const ld_between_trainer *t, const char *path, ld_err *err)
{
    ld_config cfg;
    ld_config_init(&cfg);
    int rc = ld_between_config_save(&t->model->cfg, &cfg, err);
    if (!rc)
        rc = ld_checkpoint_save(path, &t->model->params, &t->opt, t->step, &t->ctx.rng,
                                &t->sched, &cfg, err);
    ld_config_free(&cfg);
    return rc;
}

int ld_between_resume(ld_between_trainer *t, const char *path, ld_err *err)
{
    return ld_checkpoint_load(path, &t->model->params, &t->opt, &t->step, &t->ctx.rng,
                              &t->sched, NULL, err);
}

int ld_between_read_config(const char *path, ld_between_config *cfg, ld_err *err)
{
    ld_config c;
    ld_config_init(&c);
    int rc = ld_checkpoint_read_config(path, &c, err);
    if (!rc)
        rc = ld_between_config_load(&c, cfg, err);
    ld_config_free(&c);
    return rc;
}

/* ---- inference ------------------------------------------------------------- */

int ld_between_infer(ld_between_model *m, const float *image0, const float *image1, int height,
                     int width, ld_stitch_mode mode, float *frames, float *fields,
                     void (*done)(void *user, int patches_done, int patches_total), void *user,
                     ld_err *err)
{
    const ld_between_config *c = &m->cfg;
    int C = c->channels, N = c->stages, P = c->patch, B = c->batch;
    size_t plane = (size_t)P * P;
    ld_patch_grid grid;
    ld_stitcher frame_st = {0}, field_st = {0};
    ld_ctx ctx;
    int rc = -1;
    float *b0 = NULL, *b1 = NULL, *lo = NULL, *hi = NULL, *stacked = NULL;
    int *idx = NULL;
    if (ld_patch_grid_init(&grid, height, width, P, c->infer_stride, err))
        return -1;
    ld_ctx_init(&ctx, ld_backend_cpu(), 0);
    ctx.recording = 0;
    ctx.training = 0;
    ctx.conv_precision = m->precision;
    b0 = malloc((size_t)B * C * plane * sizeof(float));
    b1 = malloc((size_t)B * C * plane * sizeof(float));
    stacked = malloc((size_t)B * (N + 1) * C * plane * sizeof(float));
    lo = malloc((size_t)B * sizeof(float));
    hi = malloc((size_t)B * sizeof(float));
    idx = malloc((size_t)B * sizeof(int));
    if (!b0 || !b1 || !stacked || !lo || !hi || !idx) {
        ld_errf(err, "out of memory");
        goto done;
    }
    if (ld_stitcher_init(&frame_st, &grid, (N + 1) * C, mode, err) ||
        ld_stitcher_init(&field_st, &grid, 2 * N, mode, err))
        goto done;
    int total = ld_patch_count(&grid);
    for (int first = 0; first < total; first += B) {
        int nb = total - first < B ? total - first : B;
        for (int b = 0; b < nb; b++)
            idx[b] = first + b;
        if (ld_patch_pairs_cut(&grid, image0, image1, C, idx, nb, b0, b1, lo, hi, err))
            goto done;
        ld_ctx_reset(&ctx);
        int shape[4] = {nb, C, P, P};
        ld_tensor *st_frames, *st_fields;
        if (ld_between_forward_stages(&ctx, m, ld_tensor_wrap(&ctx, b0, 4, shape),
                                      ld_tensor_wrap(&ctx, b1, 4, shape), &st_frames,
                                      &st_fields)) {
            ld_errf(err, "inference: %s", ctx.err.msg);
            goto done;
        }
        /* [(N+1), nb, C, P, P] -> [nb, (N+1) C, P, P], then back to units */
        for (int n = 0; n <= N; n++)
            for (int b = 0; b < nb; b++)
                memcpy(stacked + ((size_t)b * (N + 1) + n) * C * plane,
                       st_frames->data + ((size_t)n * nb + b) * C * plane,
                       (size_t)C * plane * sizeof(float));
        ld_patch_denormalise(stacked, nb, (size_t)(N + 1) * C * plane, lo, hi);
        if (ld_stitcher_add(&frame_st, idx, nb, stacked, err) ||
            ld_stitcher_add(&field_st, idx, nb, st_fields->data, err))
            goto done;
        if (done)
            done(user, first + nb, total);
    }
    if (ld_stitcher_finish(&frame_st, frames, err) || ld_stitcher_finish(&field_st, fields, err))
        goto done;
    rc = 0;
done:
    ld_stitcher_free(&frame_st);
    ld_stitcher_free(&field_st);
    ld_ctx_free(&ctx);
    free(b0);
    free(b1);
    free(stacked);
    free(lo);
    free(hi);
    free(idx);
    return rc;
}
