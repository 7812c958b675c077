/* The LaDID model (../shared/design/ladid.md): latent dynamics by invariant
 * decomposition. A block of frames is encoded frame by frame into tokens, a
 * temporal transformer over the context tokens gives an instance code psi,
 * and a universal MLP maps [psi ; PE(t - t_start)] to a latent z(t) for any
 * real t, decoded (with a static feature map from the context) to a frame.
 *
 * Times: the model sees normalised times u = (t - t_min) / (t_max - t_min),
 * t_min / t_max being the extent of the training data's times (kept in the
 * configuration), so delta_r, the relative-time clip and the PE frequencies
 * (w_k = 2 pi 2^{s_k} / 2 in u) are in units of that extent.
 *
 * Training (multiple shooting): blocks of `context` + Q frames every Q
 * frames of each trajectory; Q follows the curriculum 1, 2, 4, ... up to
 * L - context (or max_query), advancing every `curriculum_every` epochs.
 * This layer never prints: the caller drives epochs and reports. */
#ifndef LD_MODELS_LADID_H
#define LD_MODELS_LADID_H

#include <stdint.h>

#include "data/sequences.h"
#include "engine/checkpoint.h"
#include "engine/optim.h"
#include "engine/schedule.h"
#include "nn/transformer.h"

#define LD_LADID_MAX_LAYERS 8
#define LD_LADID_ENCODER_CONVS 4

typedef struct ld_ladid_config {
    int channels, size;       /* frames C x size x size, size divisible by 16 */
    int context;              /* context frames */
    int d_model, latent;      /* token width d, latent K */
    int layers, heads;        /* transformer */
    int pe_waves;             /* sines (and as many cosines) of the time encoding */
    int dyn_hidden;           /* width of the dynamics MLP's two hidden layers */
    int batch, epochs, curriculum_every, max_query; /* max_query 0: L - context */
    float delta_r, window_eps, window_power; /* layer 1's time window */
    float rel_clip;           /* |t_j - t_i| clip of the relative time encoding */
    float pe_max_scale;       /* s = linspace(0, pe_max_scale, pe_waves) */
    float dropout;            /* in the dynamics MLP */
    float sigma_y;            /* fixed std of the frame likelihood */
    float lr, weight_decay, lr_decay; /* AdamW; lr x lr_decay per epoch */
    float val_fraction;       /* of the instances held out for validation */
    double t_min, t_max;      /* time normalisation (set from the training data) */
} ld_ladid_config;

/* "paper": ladid.md's values (the reference code's defaults); "small": a
 * narrower model for quick runs and tests. channels and size come from
 * the data. */
int ld_ladid_preset(const char *name, int channels, int size, ld_ladid_config *cfg, ld_err *err);
int ld_ladid_config_check(const ld_ladid_config *cfg, ld_err *err);
int ld_ladid_config_save(const ld_ladid_config *cfg, ld_config *out, ld_err *err);
int ld_ladid_config_load(const ld_config *in, ld_ladid_config *cfg, ld_err *err);

typedef struct ld_ladid_model {
    ld_ladid_config cfg;
    ld_params params;
    ld_conv_layer enc_conv[LD_LADID_ENCODER_CONVS];
    ld_norm_layer enc_bn[LD_LADID_ENCODER_CONVS];
    ld_linear_layer enc_fc;
    ld_transformer_layer tf[LD_LADID_MAX_LAYERS];
    ld_linear_layer to_gamma, to_tau;
    ld_linear_layer dyn[3];
    ld_conv_layer static_conv;
    ld_linear_layer dec_fc;
    ld_conv_layer dec_up[4];
    ld_norm_layer dec_bn[4];
    ld_conv_layer dec_out;
} ld_ladid_model;

int ld_ladid_create(ld_ladid_model *m, const ld_ladid_config *cfg, ld_err *err);
void ld_ladid_init_weights(ld_ladid_model *m, uint64_t seed);
void ld_ladid_free(ld_ladid_model *m);

/* out [n, 2 waves]: sin(w_k u), then cos(w_k u), w_k = pi 2^{s_k},
 * s = linspace(0, max_scale, waves) (for u in units of t_max - t_min). */
void ld_ladid_time_encoding(float *out, const float *u, int n, int waves, float max_scale);
/* Normalised time of t under cfg. */
float ld_ladid_normalise_time(const ld_ladid_config *cfg, double t);

/* Multiple shooting: the first frames of the blocks of `context` + q
 * frames every q frames of a length-L trajectory, into starts (room for
 * L entries); returns their number (0 when L < context + q). */
int ld_ladid_blocks(int length, int context, int q, int *starts);
/* The curriculum: q = 2^(epoch / every), at most max_q. stage (may be
 * NULL) gets the curriculum stage (the exponent, frozen once q reaches
 * max_q). */
int ld_ladid_curriculum_q(int epoch, int every, int max_q, int *stage);

typedef struct ld_ladid_losses {
    float total, reconstruction, latent, prior; /* scaled per block */
    float mse;                                  /* per pixel of the query frames */
} ld_ladid_losses;

/* The loss of B blocks of T = context + q frames: frames [B T, C, S, S]
 * (block-major), normalised times [B, T]. Returns the scalar (NULL on
 * error, ctx->err); fills parts when not NULL. */
ld_tensor *ld_ladid_loss(ld_ctx *ctx, ld_ladid_model *m, ld_tensor *frames, const float *times,
                         int B, int q, ld_ladid_losses *parts);

/* Predicts frames at any times: context frames [B, context, C, S, S],
 * their times [B, context] and the query times [B, Q] in the data's units;
 * out [B, Q, C, S, S]. Evaluation mode (psi is the mean). */
int ld_ladid_predict(ld_ladid_model *m, const float *context, const double *context_times,
                     const double *query_times, int B, int Q, float *out, ld_err *err);

/* Predicts every trajectory of data from its first `context` frames: at
 * the stored times of frames context..L-1 when times is NULL (Q must be
 * L - context), else at Q given times (data units) per trajectory, those of
 * trajectory i at times + i * times_stride (stride 0: the same for all);
 * out [n, Q, C, S, S]. Checks the frame size and lengths. */
int ld_ladid_predict_set(ld_ladid_model *m, const ld_sequences *data, const double *times,
                         size_t times_stride, int Q, float *out, ld_err *err);

/* Predicts frames context..L-1 of every instance from its first `context`
 * frames; per_frame [L - context] gets the nMSE per predicted frame
 * averaged over the instances; pred (may be NULL) [n, L - context, C, S, S]. */
int ld_ladid_evaluate(ld_ladid_model *m, const ld_sequences *data, double *per_frame,
                      float *pred, ld_err *err);

/* Splits the instances by a fixed permutation (the same for every seed,
 * so a resumed or repeated run gets the same split): the first n_val
 * permuted instances go to val (left empty, n = 0, when n_val is 0), the
 * next n_train (all the rest when n_train <= 0) to train. */
int ld_ladid_split(const ld_sequences *all, int n_val, int n_train, ld_sequences *train,
                   ld_sequences *val, ld_err *err);
/* The smallest and largest time of a set. */
void ld_ladid_time_range(const ld_sequences *s, double *t_min, double *t_max);

/* What identifies the data a training run uses: the file's trajectory
 * count and frame shape, the split (training and validation trajectories)
 * and a checksum of its frames and times (ld_sequences_checksum).
 * Checkpoints store it; resuming on other data is refused. */
typedef struct ld_ladid_data_id {
    int n, length, channels, height, width;
    int n_train, n_val;
    uint64_t checksum;
    const char *name; /* the data file, for messages (not stored) */
} ld_ladid_data_id;

/* The identity of `all` split into n_train and n_val trajectories. */
void ld_ladid_data_id_of(const ld_sequences *all, const char *name, int n_train, int n_val,
                         ld_ladid_data_id *id);

/* Training. */
typedef struct ld_ladid_trainer {
    ld_ladid_model *model;
    const ld_sequences *data;   /* training instances */
    ld_ladid_data_id data_id;   /* saved in checkpoints, checked on resume (n 0: unknown) */
    ld_ctx ctx;
    ld_optim opt;
    ld_schedule sched;
    int64_t step;               /* optimiser steps done */
    int epoch;                  /* epochs done */
    double best_val;            /* best validation nMSE of the current stage */
    int best_stage;             /* the stage best_val belongs to */
    /* the epoch in progress */
    int q, stage, n_blocks, cursor;
    int *blocks;                /* instance * length + start, shuffled */
    int *starts;                /* [length], scratch for ld_ladid_blocks */
    float *batch_frames, *batch_times;
} ld_ladid_trainer;

int ld_ladid_trainer_init(ld_ladid_trainer *t, ld_ladid_model *m, const ld_sequences *train,
                          uint64_t seed, ld_err *err);
void ld_ladid_trainer_free(ld_ladid_trainer *t);
/* Starts epoch t->epoch: its q and stage from the curriculum, its blocks
 * shuffled. Returns the number of steps in the epoch. */
int ld_ladid_epoch_begin(ld_ladid_trainer *t);
/* Optimiser steps that epoch `epoch` takes (for progress estimates). */
int64_t ld_ladid_epoch_steps(const ld_ladid_trainer *t, int epoch);
/* One optimiser step on the next batch of the epoch (1 when the epoch had
 * no batch left, 0 after a step). */
int ld_ladid_train_step(ld_ladid_trainer *t, ld_ladid_losses *losses, ld_err *err);
/* Closes the epoch with its validation nMSE: decays the lr, counts the
 * epoch, and returns 1 when val_nmse is the best of the current curriculum
 * stage (then save the model), else 0. */
int ld_ladid_epoch_end(ld_ladid_trainer *t, double val_nmse);

/* Checkpoints hold the parameters, optimiser, step, RNG, schedule,
 * configuration, the curriculum state (epoch, stage best) and the data's
 * identity (t->data_id, when known). Resuming with t->data_id set fails,
 * naming what differs, when the checkpoint was trained on other data or
 * another split (a checkpoint without the identity is taken as it is). */
int ld_ladid_save(const ld_ladid_trainer *t, const char *path, ld_err *err);
int ld_ladid_resume(ld_ladid_trainer *t, const char *path, ld_err *err);
int ld_ladid_read_config(const char *path, ld_ladid_config *cfg, ld_err *err);
/* Only the parameters (for prediction or fine-tuning). */
int ld_ladid_load_weights(ld_ladid_model *m, const char *path, ld_err *err);

#endif
