/* The LaDID model: configuration and presets, networks, loss, multiple-
 * shooting training with the growing-horizon curriculum, checkpoints and
 * prediction at any time. See ladid.h and ladid.md. */
#include "models/ladid.h"

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/metrics.h"
#include "engine/backend.h"
#include "ops/act.h"
#include "ops/elementwise.h"
#include "ops/loss.h"
#include "ops/random.h"

#define STATIC_CH 64 /* channels of the encoder's last feature map */

/* ---- configuration --------------------------------------------------------- */

/* Every setting once: presets, checkpoints and reports go through this. */
static const ld_config_field config_fields[] = {
#define INT_FIELD(name) \
    {.key = #name, .type = LD_CONFIG_INT, .offset = offsetof(ld_ladid_config, name)}
#define FLOAT_FIELD(name) \
    {.key = #name, .type = LD_CONFIG_FLOAT, .offset = offsetof(ld_ladid_config, name)}
#define DOUBLE_FIELD(name) \
    {.key = #name, .type = LD_CONFIG_DOUBLE, .offset = offsetof(ld_ladid_config, name)}
    INT_FIELD(channels), INT_FIELD(size), INT_FIELD(context), INT_FIELD(d_model),
    INT_FIELD(latent), INT_FIELD(layers), INT_FIELD(heads), INT_FIELD(pe_waves),
    INT_FIELD(dyn_hidden), INT_FIELD(batch), INT_FIELD(epochs), INT_FIELD(curriculum_every),
    INT_FIELD(max_query), FLOAT_FIELD(delta_r), FLOAT_FIELD(window_eps),
    FLOAT_FIELD(window_power), FLOAT_FIELD(rel_clip), FLOAT_FIELD(pe_max_scale),
    FLOAT_FIELD(dropout), FLOAT_FIELD(sigma_y), FLOAT_FIELD(lr), FLOAT_FIELD(weight_decay),
    FLOAT_FIELD(lr_decay), FLOAT_FIELD(val_fraction), DOUBLE_FIELD(t_min), DOUBLE_FIELD(t_max),
#undef INT_FIELD
#undef FLOAT_FIELD
#undef DOUBLE_FIELD
};
#define CONFIG_FIELD_COUNT (sizeof config_fields / sizeof config_fields[0])

int ld_ladid_preset(const char *name, int channels, int size, ld_ladid_config *cfg, ld_err *err)
{
    /* paper: ladid.md; p "large" is 100 (the weight of a token at 0.9 delta_r is
     * exp(-4.6 0.9^100) = 0.99988, at 1.1 delta_r 0); the relative encoding clips
     * at half the time extent; lr decays 2 % per epoch */
    *cfg = (ld_ladid_config){
        .channels = channels, .size = size, .context = 10, .d_model = 128, .latent = 32,
        .layers = 4, .heads = 1, .pe_waves = 16, .dyn_hidden = 256, .batch = 16, .epochs = 60,
        .curriculum_every = 10, .max_query = 0, .delta_r = 0.45f, .window_eps = 1e-2f,
        .window_power = 100.0f, .rel_clip = 0.5f, .pe_max_scale = 8.0f, .dropout = 0.0f,
        .sigma_y = 1e-3f, .lr = 3e-4f, .weight_decay = 1e-2f, .lr_decay = 0.98f,
        .val_fraction = 0.1f, .t_min = 0.0, .t_max = 1.0};
    if (!strcmp(name, "paper"))
        return 0;
    if (!strcmp(name, "small")) {
        /* a quarter of the widths, two layers, fewer waves: seconds per
         * epoch on small data */
        cfg->d_model = 32;
        cfg->latent = 8;
        cfg->layers = 2;
        cfg->pe_waves = 8;
        cfg->dyn_hidden = 64;
        cfg->lr = 1e-3f;
        return 0;
    }
    return ld_errf(err, "unknown preset '%s' (paper or small)", name);
}

int ld_ladid_config_check(const ld_ladid_config *c, ld_err *err)
{
    if (c->channels < 1 || c->channels > 64)
        return ld_errf(err, "%d frame channels (1..64 supported)", c->channels);
    if (c->size < 16 || c->size % 16 || c->size > 4096)
        return ld_errf(err, "frames of %dx%d: the side must be a multiple of 16 (the encoder "
                            "halves it four times)", c->size, c->size);
    if (c->context < 1 || c->context > 1000)
        return ld_errf(err, "--context %d outside 1..1000", c->context);
    if (c->heads >= 1 && c->d_model >= 1 && c->d_model % c->heads)
        return ld_errf(err, "--heads %d must divide the model width %d (the token width d "
                            "is split among the heads)", c->heads, c->d_model);
    if (c->d_model < 1 || c->latent < 1 || c->heads < 1 ||
        c->layers < 1 || c->layers > LD_LADID_MAX_LAYERS || c->pe_waves < 1 ||
        c->dyn_hidden < 1)
        return ld_errf(err, "model sizes out of range (d %d, K %d, %d layers of %d heads)",
                       c->d_model, c->latent, c->layers, c->heads);
    if (c->batch < 2)
        return ld_errf(err, "--batch %d: training needs at least 2 blocks per step (batch "
                            "normalisation)", c->batch);
    if (c->epochs < 0 || c->curriculum_every < 1 || c->max_query < 0)
        return ld_errf(err, "batch, epochs or curriculum settings out of range");
    if (!(c->delta_r > 0) || !(c->window_eps > 0 && c->window_eps < 1) ||
        !(c->window_power > 0) || !(c->rel_clip > 0) || !(c->pe_max_scale >= 0))
        return ld_errf(err, "time window or encoding settings out of range");
    if (!(c->dropout >= 0 && c->dropout < 1) || !(c->sigma_y > 0))
        return ld_errf(err, "dropout must be in [0, 1) and sigma_y positive");
    if (!(c->lr > 0) || !(c->weight_decay >= 0) || !(c->lr_decay > 0 && c->lr_decay <= 1))
        return ld_errf(err, "learning-rate settings out of range");
    if (!(c->val_fraction >= 0 && c->val_fraction < 1))
        return ld_errf(err, "--val-fraction %g outside [0, 1)", (double)c->val_fraction);
    if (!isfinite(c->t_min) || !isfinite(c->t_max) || !(c->t_max > c->t_min))
        return ld_errf(err, "the time range [%g, %g] is empty", c->t_min, c->t_max);
    return 0;
}

int ld_ladid_config_save(const ld_ladid_config *cfg, ld_config *out, ld_err *err)
{
    return ld_config_save_fields(out, cfg, config_fields, CONFIG_FIELD_COUNT, "ladid", err);
}

int ld_ladid_config_load(const ld_config *in, ld_ladid_config *cfg, ld_err *err)
{
    if (ld_config_load_fields(in, cfg, config_fields, CONFIG_FIELD_COUNT, "ladid", sizeof *cfg, err))
        return -1;
    return ld_ladid_config_check(cfg, err);
}

/* ---- networks -------------------------------------------------------------- */

int ld_ladid_create(ld_ladid_model *m, const ld_ladid_config *cfg, ld_err *err)
{
    memset(m, 0, sizeof *m);
    ld_params_init(&m->params);
    if (ld_ladid_config_check(cfg, err))
        return -1;
    m->cfg = *cfg;
    ld_params *p = &m->params;
    int C = cfg->channels, d = cfg->d_model, K = cfg->latent, cells = (cfg->size / 16);
    cells *= cells;
    static const int widths[5] = {0, 8, 16, 32, STATIC_CH};
    static const int kernels[4] = {5, 5, 5, 2};
    char name[64];
    for (int i = 0; i < LD_LADID_ENCODER_CONVS; i++) {
        snprintf(name, sizeof name, "encoder.conv%d", i);
        if (ld_conv_layer_create(&m->enc_conv[i], p, name, i ? widths[i] : C, widths[i + 1],
                                 kernels[i], 2, LD_RELU, err))
            return -1;
        snprintf(name, sizeof name, "encoder.bn%d", i);
        if (ld_batchnorm_layer_create(&m->enc_bn[i], p, name, widths[i + 1], err))
            return -1;
    }
    if (ld_linear_layer_create(&m->enc_fc, p, "encoder.fc", STATIC_CH * cells, d, LD_NO_ACT, err))
        return -1;
    for (int l = 0; l < cfg->layers; l++) {
        snprintf(name, sizeof name, "transformer.%d", l);
        if (ld_transformer_layer_create(&m->tf[l], p, name,
                                        l ? LD_ATTN_DOT_RELATIVE : LD_ATTN_TIME_WINDOW, d,
                                        cfg->heads, 2 * d, err))
            return -1;
    }
    int H = cfg->dyn_hidden;
    static const int up[5] = {STATIC_CH, 32, 16, 8, 8};
    if (ld_linear_layer_create(&m->to_gamma, p, "instance.gamma", d, K, LD_NO_ACT, err) ||
        ld_linear_layer_create(&m->to_tau, p, "instance.tau", d, K, LD_NO_ACT, err) ||
        ld_linear_layer_create(&m->dyn[0], p, "dynamics.0", K + 2 * cfg->pe_waves, H, LD_RELU,
                               err) ||
        ld_linear_layer_create(&m->dyn[1], p, "dynamics.1", H, H, LD_RELU, err) ||
        ld_linear_layer_create(&m->dyn[2], p, "dynamics.2", H, K, LD_NO_ACT, err) ||
        ld_conv_layer_create(&m->static_conv, p, "static.conv", STATIC_CH, STATIC_CH, 3, 1,
                             LD_NO_ACT, err) ||
        ld_linear_layer_create(&m->dec_fc, p, "decoder.fc", K, STATIC_CH * cells, LD_NO_ACT, err))
        return -1;
    for (int i = 0; i < 4; i++) {
        snprintf(name, sizeof name, "decoder.up%d", i);
        if (ld_conv_transpose_layer_create(&m->dec_up[i], p, name, up[i], up[i + 1], 2, LD_RELU,
                                           err))
            return -1;
        snprintf(name, sizeof name, "decoder.bn%d", i);
        if (ld_batchnorm_layer_create(&m->dec_bn[i], p, name, up[i + 1], err))
            return -1;
    }
    if (ld_conv_layer_create(&m->dec_out, p, "decoder.out", up[4], C, 5, 1, LD_NO_ACT, err))
        return -1;
    return ld_params_finalize(p, err);
}

void ld_ladid_init_weights(ld_ladid_model *m, uint64_t seed)
{
    ld_rng rng;
    ld_rng_init(&rng, seed ^ 0x1ad1dull);
    ld_params *p = &m->params;
    for (int i = 0; i < LD_LADID_ENCODER_CONVS; i++) {
        ld_conv_layer_init(p, &m->enc_conv[i], &rng);
        ld_norm_layer_init(p, &m->enc_bn[i]);
    }
    ld_linear_layer_init(p, &m->enc_fc, &rng);
    for (int l = 0; l < m->cfg.layers; l++)
        ld_transformer_layer_init(p, &m->tf[l], &rng);
    ld_linear_layer_init(p, &m->to_gamma, &rng);
    ld_linear_layer_init(p, &m->to_tau, &rng);
    for (int i = 0; i < 3; i++)
        ld_linear_layer_init(p, &m->dyn[i], &rng);
    ld_conv_layer_init(p, &m->static_conv, &rng);
    ld_linear_layer_init(p, &m->dec_fc, &rng);
    for (int i = 0; i < 4; i++) {
        ld_conv_layer_init(p, &m->dec_up[i], &rng);
        ld_norm_layer_init(p, &m->dec_bn[i]);
    }
    ld_conv_layer_init(p, &m->dec_out, &rng);
}

void ld_ladid_free(ld_ladid_model *m) { ld_params_free(&m->params); }

void ld_ladid_time_encoding(float *out, const float *u, int n, int waves, float max_scale)
{
    for (int i = 0; i < n; i++)
        for (int k = 0; k < waves; k++) {
            double s = waves > 1 ? (double)max_scale * k / (waves - 1) : 0.0;
            double w = M_PI * pow(2.0, s);
            out[(size_t)i * 2 * waves + k] = (float)sin(w * u[i]);
            out[(size_t)i * 2 * waves + waves + k] = (float)cos(w * u[i]);
        }
}

float ld_ladid_normalise_time(const ld_ladid_config *cfg, double t)
{
    return (float)((t - cfg->t_min) / (cfg->t_max - cfg->t_min));
}

/* ---- forward pieces ---------------------------------------------------------- */

/* The conv stack: [N, C, S, S] -> [N, 64, S/16, S/16]. */
static ld_tensor *encoder_maps(ld_ctx *ctx, ld_ladid_model *m, ld_tensor *x)
{
    for (int i = 0; i < LD_LADID_ENCODER_CONVS; i++)
        x = ld_norm_layer_forward(ctx, &m->params, &m->enc_bn[i],
                                  ld_conv_layer_forward(ctx, &m->params, &m->enc_conv[i], x));
    return x;
}

/* Frames [B T, C, S, S] -> tokens [B, T, d]. */
static ld_tensor *encode_tokens(ld_ctx *ctx, ld_ladid_model *m, ld_tensor *frames, int B, int T)
{
    ld_tensor *maps = encoder_maps(ctx, m, frames);
    if (!maps)
        return NULL;
    int flat[2] = {B * T, (int)(maps->numel / (size_t)(B * T))};
    ld_tensor *tok = ld_linear_layer_forward(ctx, &m->params, &m->enc_fc,
                                             ld_reshape(ctx, maps, 2, flat));
    int shape[3] = {B, T, m->cfg.d_model};
    return tok ? ld_reshape(ctx, tok, 3, shape) : NULL;
}

/* The transformer over tokens [B, T, d] at normalised times [B, T]. */
static ld_tensor *transform(ld_ctx *ctx, ld_ladid_model *m, ld_tensor *x, const float *u)
{
    if (!x)
        return NULL;
    const ld_ladid_config *c = &m->cfg;
    ld_token_times tt;
    if (ld_token_times_make(ctx, u, x->shape[0], x->shape[1], c->delta_r, c->window_eps,
                            c->window_power, c->rel_clip, &tt))
        return NULL;
    for (int l = 0; l < c->layers; l++)
        x = ld_transformer_layer_forward(ctx, &m->params, &m->tf[l], x, &tt);
    return x;
}

/* [B, ...] -> [B, n, ...] by repeating along a new axis 1. */
static ld_tensor *repeat(ld_ctx *ctx, ld_tensor *x, int n)
{
    if (!x)
        return NULL;
    int shape[3] = {x->shape[0], 1, (int)(x->numel / (size_t)x->shape[0])};
    ld_tensor *one = ld_reshape(ctx, x, 3, shape);
    ld_tensor **parts = ld_alloc(ctx, (size_t)n * sizeof *parts);
    if (!one || !parts)
        return NULL;
    for (int i = 0; i < n; i++)
        parts[i] = one;
    return ld_concat(ctx, parts, n, 1);
}

/* Static map [B, 64, S/16, S/16] from context frames [B, Tc, C S S]. */
static ld_tensor *static_map(ld_ctx *ctx, ld_ladid_model *m, ld_tensor *context)
{
    if (!context)
        return NULL;
    int B = context->shape[0], S = m->cfg.size;
    int img[4] = {B, m->cfg.channels, S, S};
    ld_tensor *mean = ld_mean_axis(ctx, context, 1);
    ld_tensor *first = ld_slice(ctx, context, 1, 0, 1);
    if (!mean || !first)
        return NULL;
    ld_tensor *diff = ld_sub(ctx, mean, ld_reshape(ctx, first, 2, mean->shape));
    diff = diff ? ld_reshape(ctx, diff, 4, img) : NULL;
    return ld_conv_layer_forward(ctx, &m->params, &m->static_conv, encoder_maps(ctx, m, diff));
}

/* Latents z [B, Q, K] at query times u_q [B, Q] from psi [B, K] and the
 * start times u0 [B]. */
static ld_tensor *dynamics(ld_ctx *ctx, ld_ladid_model *m, ld_tensor *psi, const float *u_q,
                           const float *u0, int B, int Q)
{
    const ld_ladid_config *c = &m->cfg;
    int pe_shape[3] = {B, Q, 2 * c->pe_waves};
    ld_tensor *pe = ld_tensor_new(ctx, 3, pe_shape);
    float *rel = ld_alloc(ctx, (size_t)B * Q * sizeof *rel);
    if (!pe || !rel || !psi)
        return NULL;
    for (int b = 0; b < B; b++)
        for (int q = 0; q < Q; q++)
            rel[b * Q + q] = u_q[b * Q + q] - u0[b];
    ld_ladid_time_encoding(pe->data, rel, B * Q, c->pe_waves, c->pe_max_scale);
    ld_tensor *in[2] = {repeat(ctx, psi, Q), pe};
    ld_tensor *x = ld_concat(ctx, in, 2, 2);
    x = ld_dropout(ctx, ld_linear_layer_forward(ctx, &m->params, &m->dyn[0], x), c->dropout);
    x = ld_dropout(ctx, ld_linear_layer_forward(ctx, &m->params, &m->dyn[1], x), c->dropout);
    return ld_linear_layer_forward(ctx, &m->params, &m->dyn[2], x);
}

/* Frames [B Q, C, S, S] from latents z [B, Q, K] and the static map. */
static ld_tensor *decode(ld_ctx *ctx, ld_ladid_model *m, ld_tensor *z, ld_tensor *stat)
{
    if (!z || !stat)
        return NULL;
    int B = z->shape[0], Q = z->shape[1], s = m->cfg.size / 16;
    ld_tensor *x = ld_add(ctx, ld_linear_layer_forward(ctx, &m->params, &m->dec_fc, z),
                          repeat(ctx, stat, Q));
    int maps[4] = {B * Q, STATIC_CH, s, s};
    x = x ? ld_reshape(ctx, x, 4, maps) : NULL;
    for (int i = 0; i < 4; i++)
        x = ld_norm_layer_forward(ctx, &m->params, &m->dec_bn[i],
                                  ld_conv_layer_forward(ctx, &m->params, &m->dec_up[i], x));
    return ld_sigmoid(ctx, ld_conv_layer_forward(ctx, &m->params, &m->dec_out, x));
}

/* Columns [first, first + n) of rows of `width` floats, into the arena. */
static float *time_columns(ld_ctx *ctx, const float *u, int rows, int width, int first, int n)
{
    float *out = ld_alloc(ctx, (size_t)rows * n * sizeof *out);
    if (out)
        for (int r = 0; r < rows; r++)
            memcpy(out + (size_t)r * n, u + (size_t)r * width + first, (size_t)n * sizeof *out);
    return out;
}

/* psi [B, K] (sampled in training, the mean otherwise), the static map and
 * the context's first times, from context tokens and frames. */
typedef struct instance_code {
    ld_tensor *psi, *stat;
    float *u0;
} instance_code;

static int encode_instance(ld_ctx *ctx, ld_ladid_model *m, ld_tensor *ctx_tokens,
                           ld_tensor *ctx_frames, const float *u_ctx, int B, instance_code *out)
{
    int Tc = m->cfg.context;
    ld_tensor *h = transform(ctx, m, ctx_tokens, u_ctx);
    ld_tensor *gamma = ld_linear_layer_forward(ctx, &m->params, &m->to_gamma, h);
    ld_tensor *tau = ld_linear_layer_forward(ctx, &m->params, &m->to_tau, h);
    out->psi = ld_mean_axis(ctx, ld_sample_normal(ctx, gamma, tau), 1);
    out->stat = static_map(ctx, m, ctx_frames);
    out->u0 = time_columns(ctx, u_ctx, B, Tc, 0, 1);
    return out->psi && out->stat && out->u0 ? 0 : -1;
}

/* ---- loss -------------------------------------------------------------------- */

ld_tensor *ld_ladid_loss(ld_ctx *ctx, ld_ladid_model *m, ld_tensor *frames, const float *times,
                         int B, int q, ld_ladid_losses *parts)
{
    const ld_ladid_config *c = &m->cfg;
    int Tc = c->context, T = Tc + q;
    if (!frames)
        return NULL;
    if (frames->ndim != 4 || frames->shape[0] != B * T || frames->shape[1] != c->channels ||
        frames->shape[2] != c->size || frames->shape[3] != c->size)
        return ld_fail(ctx, "ladid loss: frames must be [%d, %d, %d, %d]", B * T, c->channels,
                       c->size, c->size);
    size_t frame = (size_t)c->channels * c->size * c->size;
    int seq[3] = {B, T, (int)frame};
    ld_tensor *blocks = ld_reshape(ctx, frames, 3, seq);
    ld_tensor *tokens = encode_tokens(ctx, m, frames, B, T);
    instance_code code;
    if (!tokens || encode_instance(ctx, m, ld_slice(ctx, tokens, 1, 0, Tc),
                                   ld_slice(ctx, blocks, 1, 0, Tc),
                                   time_columns(ctx, times, B, T, 0, Tc), B, &code))
        return NULL;
    float *u_q = time_columns(ctx, times, B, T, Tc, q);
    ld_tensor *z = u_q ? dynamics(ctx, m, code.psi, u_q, code.u0, B, q) : NULL;
    ld_tensor *pred = decode(ctx, m, z, code.stat);
    /* latent targets: the whole block through the same encoder + transformer */
    ld_tensor *h_full = ld_slice(ctx, transform(ctx, m, tokens, times), 1, Tc, q);
    ld_tensor *gamma_f = ld_linear_layer_forward(ctx, &m->params, &m->to_gamma, h_full);
    ld_tensor *tau_f = ld_linear_layer_forward(ctx, &m->params, &m->to_tau, h_full);
    ld_tensor *target = ld_slice(ctx, blocks, 1, Tc, q);
    if (!pred || !target)
        return NULL;
    target = ld_reshape(ctx, target, 4, pred->shape);
    /* sums over frames and pixels (latent dimensions), means over blocks */
    float per_block = 1.0f / (float)B;
    ld_tensor *rec = ld_gaussian_nll(ctx, target, pred, NULL, logf(c->sigma_y), per_block);
    ld_tensor *lat = ld_gaussian_nll(ctx, z, gamma_f, tau_f, 0.0f, per_block);
    ld_tensor *prior = ld_gaussian_nll(ctx, code.psi, NULL, NULL, 0.0f, per_block);
    ld_tensor *total = ld_add(ctx, ld_add(ctx, rec, lat), prior);
    if (!total)
        return NULL;
    if (parts)
        *parts = (ld_ladid_losses){
            .total = total->data[0], .reconstruction = rec->data[0], .latent = lat->data[0],
            .prior = prior->data[0],
            .mse = (float)ld_mean_squared_error(pred->data, target->data, pred->numel)};
    return total;
}

/* ---- prediction ---------------------------------------------------------------- */

int ld_ladid_predict(ld_ladid_model *m, const float *context, const double *context_times,
                     const double *query_times, int B, int Q, float *out, ld_err *err)
{
    const ld_ladid_config *c = &m->cfg;
    int Tc = c->context, S = c->size, C = c->channels;
    size_t frame = (size_t)C * S * S;
    ld_ctx ctx;
    if (ld_ctx_init(&ctx, ld_backend_cpu(), 0))
        return ld_errf(err, "out of memory");
    ctx.training = 0;
    ctx.recording = 0;
    int rc = 0;
    /* a few instances at a time keeps the memory bounded */
    for (int first = 0; first < B && !rc; first += c->batch) {
        int nb = B - first < c->batch ? B - first : c->batch;
        ld_ctx_reset(&ctx);
        float *u_c = ld_alloc(&ctx, (size_t)nb * Tc * sizeof *u_c);
        float *u_q = ld_alloc(&ctx, (size_t)nb * Q * sizeof *u_q);
        if (!u_c || !u_q) {
            rc = ld_errf(err, "out of memory");
            break;
        }
        /* times from each instance's first context frame (the model uses
         * only differences of times), so a far-off time origin costs no
         * float32 precision */
        double span = c->t_max - c->t_min;
        for (int b = 0; b < nb; b++) {
            const double *tc = context_times + (size_t)(first + b) * Tc,
                         *tq = query_times + (size_t)(first + b) * Q;
            for (int i = 0; i < Tc; i++)
                u_c[b * Tc + i] = (float)((tc[i] - tc[0]) / span);
            for (int i = 0; i < Q; i++)
                u_q[b * Q + i] = (float)((tq[i] - tc[0]) / span);
        }
        int fshape[4] = {nb * Tc, C, S, S}, sshape[3] = {nb, Tc, (int)frame};
        ld_tensor *frames = ld_tensor_wrap(&ctx, (float *)context + (size_t)first * Tc * frame,
                                           4, fshape);
        instance_code code;
        ld_tensor *pred = NULL;
        if (!encode_instance(&ctx, m, encode_tokens(&ctx, m, frames, nb, Tc),
                             ld_reshape(&ctx, frames, 3, sshape), u_c, nb, &code))
            pred = decode(&ctx, m, dynamics(&ctx, m, code.psi, u_q, code.u0, nb, Q), code.stat);
        if (!pred)
            rc = ld_errf(err, "prediction: %s", ctx.err.msg);
        else
            memcpy(out + (size_t)first * Q * frame, pred->data, pred->numel * sizeof(float));
    }
    ld_ctx_free(&ctx);
    return rc;
}

int ld_ladid_predict_set(ld_ladid_model *m, const ld_sequences *data, const double *times,
                         size_t times_stride, int Q, float *out, ld_err *err)
{
    const ld_ladid_config *c = &m->cfg;
    int Tc = c->context, L = data->length, n = data->n;
    size_t frame = (size_t)c->channels * c->size * c->size;
    if (data->channels != c->channels || data->height != c->size || data->width != c->size)
        return ld_errf(err, "the data's frames (%dx%dx%d) are not the model's (%dx%dx%d)",
                       data->channels, data->height, data->width, c->channels, c->size, c->size);
    if (L < Tc || (!times && Q != L - Tc) || Q < 1)
        return ld_errf(err, "trajectories of %d frames: %s %d context frames", L,
                       L < Tc ? "fewer than the" : "nothing to predict after the", Tc);
    float *ctxf = malloc((size_t)n * Tc * frame * sizeof *ctxf);
    double *tc = malloc((size_t)n * Tc * sizeof *tc), *tq = malloc((size_t)n * Q * sizeof *tq);
    int rc = -1;
    if (!ctxf || !tc || !tq) {
        ld_errf(err, "out of memory for %d trajectories", n);
    } else {
        for (int i = 0; i < n; i++) {
            memcpy(ctxf + (size_t)i * Tc * frame, ld_sequences_frame(data, i, 0),
                   (size_t)Tc * frame * sizeof *ctxf);
            memcpy(tc + (size_t)i * Tc, data->times + (size_t)i * L, (size_t)Tc * sizeof *tc);
            memcpy(tq + (size_t)i * Q,
                   times ? times + i * times_stride : data->times + (size_t)i * L + Tc,
                   (size_t)Q * sizeof *tq);
        }
        rc = ld_ladid_predict(m, ctxf, tc, tq, n, Q, out, err);
    }
    free(ctxf);
    free(tc);
    free(tq);
    return rc;
}

int ld_ladid_evaluate(ld_ladid_model *m, const ld_sequences *data, double *per_frame,
                      float *pred, ld_err *err)
{
    const ld_ladid_config *c = &m->cfg;
    int Q = data->length - c->context, n = data->n;
    size_t frame = (size_t)c->channels * c->size * c->size;
    if (Q < 1)
        return ld_errf(err, "trajectories of %d frames leave nothing to predict after %d "
                            "context frames", data->length, c->context);
    float *out = pred ? pred : malloc((size_t)n * Q * frame * sizeof *out);
    if (!out)
        return ld_errf(err, "out of memory for %d trajectories", n);
    int rc = ld_ladid_predict_set(m, data, NULL, 0, Q, out, err);
    for (int k = 0; !rc && k < Q; k++) {
        double sum = 0;
        for (int i = 0; i < n; i++)
            sum += ld_nmse(out + ((size_t)i * Q + k) * frame,
                           ld_sequences_frame(data, i, c->context + k), frame);
        per_frame[k] = sum / n;
    }
    if (out != pred)
        free(out);
    return rc;
}

/* ---- training -------------------------------------------------------------------- */

int ld_ladid_split(const ld_sequences *all, int n_val, int n_train, ld_sequences *train,
                   ld_sequences *val, ld_err *err)
{
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    if (n_val < 0 || n_val >= all->n)
        return ld_errf(err, "%d validation instances leave none of %d to train on", n_val,
                       all->n);
    if (n_train <= 0 || n_train > all->n - n_val)
        n_train = all->n - n_val;
    int *order = malloc((size_t)all->n * sizeof *order);
    if (!order)
        return ld_errf(err, "out of memory");
    for (int i = 0; i < all->n; i++)
        order[i] = i;
    ld_rng rng;
    ld_rng_init(&rng, 0x5b117ull);
    ld_rng_shuffle(&rng, order, all->n);
    int rc = (n_val && ld_sequences_select(all, order, n_val, val, err)) ||
             ld_sequences_select(all, order + n_val, n_train, train, err);
    free(order);
    if (rc) {
        ld_sequences_free(train);
        ld_sequences_free(val);
        return -1;
    }
    return 0;
}

void ld_ladid_data_id_of(const ld_sequences *all, const char *name, int n_train, int n_val,
                         ld_ladid_data_id *id)
{
    *id = (ld_ladid_data_id){.n = all->n, .length = all->length, .channels = all->channels,
                             .height = all->height, .width = all->width, .n_train = n_train,
                             .n_val = n_val, .checksum = ld_sequences_checksum(all),
                             .name = name};
}

void ld_ladid_time_range(const ld_sequences *s, double *t_min, double *t_max)
{
    size_t n = (size_t)s->n * s->length;
    *t_min = INFINITY;
    *t_max = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        *t_min = fmin(*t_min, s->times[i]);
        *t_max = fmax(*t_max, s->times[i]);
    }
}

int ld_ladid_blocks(int length, int context, int q, int *starts)
{
    int n = 0;
    for (int s = 0; q > 0 && s + context + q <= length; s += q)
        starts[n++] = s;
    return n;
}

int ld_ladid_curriculum_q(int epoch, int every, int max_q, int *stage)
{
    int s = 0, q = 1;
    while (q < max_q && s < epoch / every) {
        s++;
        q *= 2;
    }
    if (stage)
        *stage = s;
    return q < max_q ? q : max_q;
}

/* The longest q of the curriculum for the training data: one that leaves
 * at least two blocks in an epoch (batch norm needs more than one block
 * in a batch), so half the query frames when there is one trajectory. */
static int max_query(const ld_ladid_trainer *t)
{
    int most = t->data->length - t->model->cfg.context;
    if (t->data->n == 1)
        most /= 2;
    int cap = t->model->cfg.max_query;
    return cap > 0 && cap < most ? cap : most;
}

int ld_ladid_trainer_init(ld_ladid_trainer *t, ld_ladid_model *m, const ld_sequences *train,
                          uint64_t seed, ld_err *err)
{
    memset(t, 0, sizeof *t);
    t->model = m;
    t->data = train;
    t->best_val = INFINITY;
    const ld_ladid_config *c = &m->cfg;
    if (train->channels != c->channels || train->height != c->size || train->width != c->size)
        return ld_errf(err, "the data's frames (%dx%dx%d) are not the model's (%dx%dx%d)",
                       train->channels, train->height, train->width, c->channels, c->size,
                       c->size);
    if (train->length < c->context + 1 || train->n < 1)
        return ld_errf(err, "training needs trajectories longer than the %d context frames "
                            "(have %d of %d frames)", c->context, train->n, train->length);
    if (train->n == 1 && train->length < c->context + 2)
        return ld_errf(err, "one trajectory of %d frames holds a single block of the %d context "
                            "frames and a query; training needs two (batch normalisation): "
                            "give a longer trajectory or more of them",
                       train->length, c->context);
    size_t frame = (size_t)c->channels * c->size * c->size;
    size_t most = (size_t)(c->batch + 1) * (size_t)train->length;
    t->blocks = malloc((size_t)train->n * train->length * sizeof *t->blocks);
    t->starts = malloc((size_t)train->length * sizeof *t->starts);
    t->batch_frames = malloc(most * frame * sizeof(float));
    t->batch_times = malloc(most * sizeof(float));
    if (ld_ctx_init(&t->ctx, ld_backend_cpu(), seed) || !t->blocks || !t->starts ||
        !t->batch_frames ||
        !t->batch_times || ld_optim_init(&t->opt, LD_OPTIM_ADAMW, &m->params, c->lr, err) ||
        ld_schedule_exponential(&t->sched, c->lr, c->lr_decay, 1, err)) {
        if (!err->msg[0])
            ld_errf(err, "out of memory");
        ld_ladid_trainer_free(t);
        return -1;
    }
    t->opt.weight_decay = c->weight_decay;
    return 0;
}

void ld_ladid_trainer_free(ld_ladid_trainer *t)
{
    free(t->blocks);
    free(t->starts);
    free(t->batch_frames);
    free(t->batch_times);
    ld_optim_free(&t->opt);
    ld_ctx_free(&t->ctx);
    t->blocks = t->starts = NULL;
    t->batch_frames = t->batch_times = NULL;
}

/* Blocks of the epoch's curriculum stage per trajectory, into starts
 * (room for L), with its q and stage. */
static int epoch_blocks(const ld_ladid_trainer *t, int epoch, int *starts, int *q, int *stage)
{
    const ld_ladid_config *c = &t->model->cfg;
    *q = ld_ladid_curriculum_q(epoch, c->curriculum_every, max_query(t), stage);
    return ld_ladid_blocks(t->data->length, c->context, *q, starts);
}

/* Blocks in the batch taken with `left` blocks left: the batch size, or
 * one more when a single block would be left over (batch norm needs more
 * than one block in a batch). */
static int64_t batch_blocks(int64_t left, int B)
{
    int64_t b = left < B ? left : B;
    return left - b == 1 ? b + 1 : b;
}

/* Steps of an epoch of n blocks. */
static int64_t steps_for(int64_t n, int B)
{
    int64_t steps = 0;
    for (int64_t left = n; left > 0; left -= batch_blocks(left, B))
        steps++;
    return steps;
}

int64_t ld_ladid_epoch_steps(const ld_ladid_trainer *t, int epoch)
{
    int q, stage;
    int64_t blocks = (int64_t)epoch_blocks(t, epoch, t->starts, &q, &stage) * t->data->n;
    return steps_for(blocks, t->model->cfg.batch);
}

int ld_ladid_epoch_begin(ld_ladid_trainer *t)
{
    const ld_sequences *d = t->data;
    int L = d->length;
    int per = epoch_blocks(t, t->epoch, t->starts, &t->q, &t->stage);
    t->n_blocks = 0;
    for (int i = 0; i < d->n; i++)
        for (int k = 0; k < per; k++)
            t->blocks[t->n_blocks++] = i * L + t->starts[k];
    ld_rng_shuffle(&t->ctx.rng, t->blocks, t->n_blocks);
    t->cursor = 0;
    t->opt.lr = ld_schedule_lr(&t->sched, t->epoch);
    return (int)steps_for(t->n_blocks, t->model->cfg.batch);
}

int ld_ladid_train_step(ld_ladid_trainer *t, ld_ladid_losses *losses, ld_err *err)
{
    ld_ladid_model *m = t->model;
    const ld_ladid_config *c = &m->cfg;
    const ld_sequences *d = t->data;
    if (t->cursor >= t->n_blocks)
        return 1;
    int B = (int)batch_blocks(t->n_blocks - t->cursor, c->batch);
    int T = c->context + t->q, L = d->length;
    size_t frame = (size_t)c->channels * c->size * c->size;
    for (int b = 0; b < B; b++) {
        int i = t->blocks[t->cursor + b] / L, s = t->blocks[t->cursor + b] % L;
        memcpy(t->batch_frames + (size_t)b * T * frame, ld_sequences_frame(d, i, s),
               (size_t)T * frame * sizeof(float));
        for (int k = 0; k < T; k++)
            t->batch_times[b * T + k] = ld_ladid_normalise_time(c, d->times[(size_t)i * L + s + k]);
    }
    t->cursor += B;
    ld_ctx *ctx = &t->ctx;
    ld_ctx_reset(ctx);
    ctx->recording = 1;
    ctx->training = 1;
    int shape[4] = {B * T, c->channels, c->size, c->size};
    ld_tensor *loss = ld_ladid_loss(ctx, m, ld_tensor_wrap(ctx, t->batch_frames, 4, shape),
                                    t->batch_times, B, t->q, losses);
    ld_params_zero_grad(&m->params);
    if (!loss || ld_backward(ctx, loss))
        return ld_errf(err, "training step %lld: %s", (long long)t->step, ctx->err.msg);
    if (!isfinite(loss->data[0]))
        return ld_errf(err, "training diverged at step %lld (loss %g); try a lower --lr",
                       (long long)t->step, loss->data[0]);
    if (ld_optim_step(&t->opt, &m->params, err))
        return -1;
    t->step++;
    return 0;
}

int ld_ladid_epoch_end(ld_ladid_trainer *t, double val_nmse)
{
    t->epoch++;
    if (t->stage != t->best_stage) {
        t->best_stage = t->stage;
        t->best_val = INFINITY;
    }
    if (!(val_nmse < t->best_val))
        return 0;
    t->best_val = val_nmse;
    return 1;
}

/* ---- checkpoints ------------------------------------------------------------------- */

/* The data identity as checkpoint entries: "data.trajectories" (n),
 * "data.frames" (L x C x H x W), "data.split" (training, validation) and
 * "data.checksum" (hex). */
#define DATA_ID_KEYS 4
static const char *const data_id_keys[DATA_ID_KEYS] = {"data.trajectories", "data.frames",
                                                       "data.split", "data.checksum"};

static void data_id_text(const ld_ladid_data_id *id, char text[DATA_ID_KEYS][64])
{
    snprintf(text[0], 64, "%d", id->n);
    snprintf(text[1], 64, "%dx%dx%dx%d", id->length, id->channels, id->height, id->width);
    snprintf(text[2], 64, "%d,%d", id->n_train, id->n_val);
    snprintf(text[3], 64, "%016llx", (unsigned long long)id->checksum);
}

/* Compares the data identity stored in a checkpoint (when it has one) with
 * the run's; the message names the first difference. */
static int data_id_check(const ld_config *stored, const ld_ladid_data_id *id, const char *path,
                         ld_err *err)
{
    char now[DATA_ID_KEYS][64];
    data_id_text(id, now);
    const char *was[DATA_ID_KEYS];
    for (int k = 0; k < DATA_ID_KEYS; k++)
        if (!(was[k] = ld_config_get(stored, data_id_keys[k])))
            return 0; /* written before the identity was stored */
    const char *data = id->name ? id->name : "the data";
    if (strcmp(was[0], now[0]))
        return ld_errf(err, "%s was trained on a file of %s trajectories, %s holds %s: resume "
                            "with the data it was trained on", path, was[0], data, now[0]);
    if (strcmp(was[1], now[1]))
        return ld_errf(err, "%s was trained on trajectories of (frames x C x H x W) %s, %s has "
                            "%s: resume with the data it was trained on", path, was[1], data,
                       now[1]);
    if (strcmp(was[2], now[2]))
        return ld_errf(err, "%s was trained with (training, validation) trajectories %s, this "
                            "run splits %s into %s (a checkpoint of another command or split?)",
                       path, was[2], data, now[2]);
    if (strcmp(was[3], now[3]))
        return ld_errf(err, "%s was trained on other frames or times than those of %s (checksum "
                            "%s, now %s): resume with the data it was trained on", path, data,
                       was[3], now[3]);
    return 0;
}

int ld_ladid_save(const ld_ladid_trainer *t, const char *path, ld_err *err)
{
    ld_config cfg;
    ld_config_init(&cfg);
    char epoch[32], best[40], stage[32], id[DATA_ID_KEYS][64];
    snprintf(epoch, sizeof epoch, "%d", t->epoch);
    snprintf(best, sizeof best, "%.17g", t->best_val);
    snprintf(stage, sizeof stage, "%d", t->best_stage);
    data_id_text(&t->data_id, id);
    int rc = ld_ladid_config_save(&t->model->cfg, &cfg, err) ||
             ld_config_set(&cfg, "train.epoch", epoch, err) ||
             ld_config_set(&cfg, "train.best_val", best, err) ||
             ld_config_set(&cfg, "train.best_stage", stage, err);
    for (int k = 0; !rc && t->data_id.n > 0 && k < DATA_ID_KEYS; k++)
        rc = ld_config_set(&cfg, data_id_keys[k], id[k], err);
    if (!rc)
        rc = ld_checkpoint_save(path, &t->model->params, &t->opt, t->step, &t->ctx.rng,
                                &t->sched, &cfg, err);
    ld_config_free(&cfg);
    return rc ? -1 : 0;
}

int ld_ladid_resume(ld_ladid_trainer *t, const char *path, ld_err *err)
{
    ld_config cfg;
    ld_config_init(&cfg);
    /* one read of the file; on a failure (other data too) the trainer is
     * left half loaded, for the caller to discard */
    int rc = ld_checkpoint_load(path, &t->model->params, &t->opt, &t->step, &t->ctx.rng,
                                &t->sched, &cfg, err) ||
             (t->data_id.n > 0 && data_id_check(&cfg, &t->data_id, path, err));
    const char *epoch = ld_config_get(&cfg, "train.epoch");
    const char *best = ld_config_get(&cfg, "train.best_val");
    const char *stage = ld_config_get(&cfg, "train.best_stage");
    if (!rc && (!epoch || !best || !stage))
        rc = ld_errf(err, "%s holds no training state (a model saved for prediction only?)",
                     path);
    if (!rc) {
        t->epoch = atoi(epoch);
        t->best_val = strtod(best, NULL);
        t->best_stage = atoi(stage);
    }
    ld_config_free(&cfg);
    return rc;
}

int ld_ladid_read_config(const char *path, ld_ladid_config *cfg, ld_err *err)
{
    ld_config c;
    ld_config_init(&c);
    int rc = ld_checkpoint_read_config(path, &c, err);
    if (!rc)
        rc = ld_ladid_config_load(&c, cfg, err);
    ld_config_free(&c);
    return rc;
}

int ld_ladid_load_weights(ld_ladid_model *m, const char *path, ld_err *err)
{
    return ld_checkpoint_load(path, &m->params, NULL, NULL, NULL, NULL, NULL, err);
}
