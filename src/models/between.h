/* The `between` model (../shared/design/between.md): in-between frames of
 * two images through a physical latent space advected by learned velocity
 * fields.
 *   E: image patch -> latent z0 (conv stack at full resolution)
 *   F: image patch (I0, or I0 and I1) -> N velocity fields (U-Net)
 *   A: z^{n+1} = advect(z^n, v^n, dt = 1/N) (no weights)
 *   D: latent -> image (U-Net)
 * The `image` method fixes E and D to the identity (the image itself is
 * advected; only F learns). Training cuts aligned patch pairs on the fly;
 * inference runs every patch of a covering grid and stitches the frames and
 * fields back into full images.
 * This layer never prints: the caller drives the training loop and reports
 * progress. */
#ifndef LD_MODELS_BETWEEN_H
#define LD_MODELS_BETWEEN_H

#include <stdint.h>

#include "data/patches.h"
#include "engine/checkpoint.h"
#include "engine/optim.h"
#include "engine/schedule.h"
#include "nn/unet.h"

#define LD_BETWEEN_MAX_ENCODER 16
#define LD_BETWEEN_MAX_STAGES 64

typedef enum { LD_BETWEEN_LATENT, LD_BETWEEN_IMAGE } ld_between_method;
typedef enum { LD_FIELD_INPUT_I0, LD_FIELD_INPUT_PAIR } ld_field_input;
/* How the two directions make a stage's frame (ld_between_config.blend). */
typedef enum { LD_BLEND_OFF, LD_BLEND_LINEAR, LD_BLEND_VALID } ld_blend;
/* Which loss terms leave out the pixels whose trace left the patch (see
 * mask_outside below); the numbers are what checkpoints store. */
typedef enum { LD_MASK_OFF, LD_MASK_ALL, LD_MASK_IMAGE } ld_mask_outside;

typedef struct ld_between_config {
    int method;           /* ld_between_method */
    int field_input;      /* ld_field_input */
    int channels;         /* C of the images */
    int latent_channels;  /* Cz */
    int stages;           /* N */
    int patch, stride;    /* training patches P x P every S pixels */
    int infer_stride;     /* inference patches every this many pixels */
    int batch, steps;
    float lr, lr_decay;   /* lr x lr_decay every lr_decay_every steps */
    int lr_decay_every;
    int encoder_layers, encoder_width; /* hidden 3x3 convs of E */
    int field_kernel, decoder_kernel;  /* U-Net kernels of F and D */
    int unet_widths[4];   /* three levels and the bottleneck (F, and D unless below) */
    int decoder_widths[4]; /* D's, when > 0; 0: unet_widths (paper) */
    float slope;          /* leaky ReLU */
    float w_ae, w_mag, w_space, w_time; /* loss weights (between.md) */
    float w_backward;     /* time symmetry: E(I1) advected back with -v matches I0 */
    float field_scale;    /* v = field_scale * F(...): 1 in the paper; larger values
                             let a freshly initialised F move content by pixels */
    int latent_skip;      /* 1: z = [I, E(I)] (E gives Cz - C channels) and
                             D(z) = z[:C] + U-Net(z): the latent starts as the
                             image itself, the networks learn what it lacks */
    float clip_norm;      /* gradients clipped to this global norm; 0: off (paper) */
    int blend;            /* an ld_blend: LD_BLEND_LINEAR: stage n's frame is
                             (1 - t_n) D(z^n) + t_n D(zb^n), zb the latent of I1
                             advected back to stage n with -v: both ends inform every
                             frame; LD_BLEND_VALID: the same, but where one direction's
                             trace left the patch (content that entered through the
                             border) the other takes over; LD_BLEND_OFF: D(z^n) (paper) */
    int carry_error;      /* 1: each input's reconstruction error I - D(E(I)) is advected
                             with its latent's fields and added to the frames of its
                             direction, so the end frames are the inputs; 0: off (paper) */
    float w_image;        /* > 0 (latent method with latent_skip): weight of the image
                             term, the image channels of the advected latents alone
                             matching the other input (z^N[:C] ~ I1, zb^0[:C] ~ I0), the
                             image method's loss, so F gets its direct signal; 0: off */
    int image_abs;        /* 1: the image term is the mean absolute difference (quick):
                             pixels no motion explains (a lead's open water, new
                             features) pull the fields with a bounded force, as in
                             TV-L1 flow's data term; 0: the mean squared (before it) */
    float shrink;         /* > 0 (latent method with latent_skip): the decoder's change to
                             the advected image in each frame, D(z^n) (+ the carried error)
                             - z^n[:C], is soft-thresholded by this much (patch values run
                             over [0, 1]): changes below it, where the texture only moves,
                             are dropped, larger ones (features being created) are kept,
                             less it. Inference only; 0: off (paper) */
    int mask_outside;     /* ld_mask_outside. LD_MASK_ALL: the loss terms that score
                             advected content against the other input (dynamics, time
                             symmetry, image term) leave out the pixels whose trace left
                             the patch (content that came in through its border, which
                             the patch cannot know), so motion towards a border is not
                             penalised for the replicated border it brings in;
                             LD_MASK_IMAGE: the image term alone does (quick);
                             LD_MASK_OFF: every pixel counts (paper) */
} ld_between_config;

/* "paper": between.md's values; "quick": smaller and faster (see the
 * definition for what differs and why). Returns -1 for an unknown name. */
int ld_between_preset(const char *name, int channels, ld_between_config *cfg, ld_err *err);
/* Checks ranges (patch a multiple of 8, and so on) with a clear message. */
int ld_between_config_check(const ld_between_config *cfg, ld_err *err);
/* U-Net widths doubling from `first` down the levels: W, 2W, 4W, 8W (the
 * presets' are 16, 32, 64, 128). */
void ld_between_widths(int widths[4], int first);
/* To and from the key/value configuration stored in checkpoints. */
int ld_between_config_save(const ld_between_config *cfg, ld_config *out, ld_err *err);
int ld_between_config_load(const ld_config *in, ld_between_config *cfg, ld_err *err);

typedef struct ld_between_model {
    ld_between_config cfg;
    ld_params params;
    ld_conv_layer encoder[LD_BETWEEN_MAX_ENCODER];
    int encoder_count;
    ld_unet field_net, decoder;
    ld_precision precision; /* the convolutions' products when training and inferring
                               (LD_PRECISION_F32 from ld_between_create; a run
                               setting, not saved with the model) */
} ld_between_model;

int ld_between_create(ld_between_model *m, const ld_between_config *cfg, ld_err *err);
void ld_between_init_weights(ld_between_model *m, uint64_t seed);
void ld_between_free(ld_between_model *m);

typedef struct ld_between_losses {
    float total, dynamics, autoencoder, magnitude, smooth_space, smooth_time, backward, image;
} ld_between_losses;

/* The training loss of a batch of normalised patch pairs i0, i1
 * [B, C, P, P]; fills the parts when `parts` is not NULL (after the
 * forward). Returns the scalar loss tensor, NULL on error (ctx->err). */
ld_tensor *ld_between_loss(ld_ctx *ctx, ld_between_model *m, ld_tensor *i0, ld_tensor *i1,
                           ld_between_losses *parts);

/* The stages of a batch of normalised patch pairs: frames [N+1, B, C, P, P]
 * as a tensor [(N+1) B, C, P, P] (stage-major) and fields [B, 2N, P, P];
 * with cfg.blend, each stage blends both directions (see blend above).
 * Without recording unless ctx->recording (refused with LD_BLEND_VALID). */
int ld_between_forward_stages(ld_ctx *ctx, ld_between_model *m, ld_tensor *i0, ld_tensor *i1,
                              ld_tensor **frames, ld_tensor **fields);

/* Training on one image pair. */
typedef struct ld_between_trainer {
    ld_between_model *model;
    ld_ctx ctx;
    ld_optim opt;
    ld_schedule sched;
    int64_t step;
    ld_patch_grid grid;
    const float *image0, *image1; /* [C, H, W], input units */
    float *batch0, *batch1, *lo, *hi;
    int *indices;
} ld_between_trainer;

int ld_between_trainer_init(ld_between_trainer *t, ld_between_model *m, const float *image0,
                            const float *image1, int height, int width, uint64_t seed,
                            ld_err *err);
void ld_between_trainer_free(ld_between_trainer *t);
/* One optimiser step on a random batch of patch pairs. */
int ld_between_train_step(ld_between_trainer *t, ld_between_losses *losses, ld_err *err);
/* Everything needed to resume: parameters, optimiser, step, RNG, schedule,
 * configuration. */
int ld_between_save(const ld_between_trainer *t, const char *path, ld_err *err);
int ld_between_resume(ld_between_trainer *t, const char *path, ld_err *err);
/* Reads only the configuration of a checkpoint (to build the model first). */
int ld_between_read_config(const char *path, ld_between_config *cfg, ld_err *err);

/* Inference over whole images [C, H, W] (input units): frames
 * [N+1, C, H, W] in input units and fields [N, 2, H, W] in pixels per unit
 * time. `done` (may be NULL) is called with the number of patches done. */
int ld_between_infer(ld_between_model *m, const float *image0, const float *image1, int height,
                     int width, ld_stitch_mode mode, float *frames, float *fields,
                     void (*done)(void *user, int patches_done, int patches_total), void *user,
                     ld_err *err);

#endif
