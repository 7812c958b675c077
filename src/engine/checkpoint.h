/* Checkpoints: everything needed to resume training, in one safetensors
 * file (written atomically) that PyTorch / numpy can read:
 *   tensors   every registered parameter under its name, float32, with its
 *             registered shape (non-trainable entries too);
 *             "optim.m/<name>", "optim.v/<name>": the optimiser moments of
 *             each trainable entry (when an optimiser is saved)
 *   metadata  "format" = LD_CHECKPOINT_FORMAT, "format_version";
 *             "step"; "rng.seed", "rng.counter" (exact 64-bit decimals);
 *             "optim.kind", "optim.lr", "optim.beta1", "optim.beta2",
 *             "optim.eps", "optim.weight_decay", "optim.step";
 *             "schedule.kind" and every field of ld_schedule as
 *             "schedule.<field>"; "config.<key>" for the model
 *             configuration. Floating-point values are written with the
 *             fewest digits (15 to 17) that read back bit for bit.
 * Loading goes into an already-built registry (build the model from
 * ld_checkpoint_read_config first) and validates the whole file before
 * anything is copied: on any error nothing the caller passed is changed. */
#ifndef LD_CHECKPOINT_H
#define LD_CHECKPOINT_H

#include <stdint.h>

#include "engine/error.h"
#include "engine/optim.h"
#include "engine/params.h"
#include "engine/rng.h"
#include "engine/schedule.h"

#define LD_CHECKPOINT_FORMAT "latdyn.checkpoint"
#define LD_CHECKPOINT_VERSION 1

/* Longest configuration key accepted. */
#define LD_CONFIG_KEY_MAX 100

/* A model configuration: key/value strings in insertion order (owned). */
typedef struct ld_config {
    char **keys, **values;
    int count, cap;
} ld_config;

void ld_config_init(ld_config *c);
void ld_config_free(ld_config *c);
/* Adds key or replaces its value. Keys have 1 to LD_CONFIG_KEY_MAX
 * characters. */
int ld_config_set(ld_config *c, const char *key, const char *value, ld_err *err);
/* The value of key, or NULL. */
const char *ld_config_get(const ld_config *c, const char *key);

/* A model's settings struct described once as a table of fields, so that
 * saving, loading and reporting go through one loop. */
typedef enum ld_config_type { LD_CONFIG_INT, LD_CONFIG_FLOAT, LD_CONFIG_DOUBLE } ld_config_type;
typedef struct ld_config_field {
    const char *key;
    ld_config_type type;
    size_t offset; /* offsetof(the struct, the field) */
    int optional;  /* 1: a setting added later, whose 0 is the behaviour before it;
                      a checkpoint written without it loads it as 0 */
} ld_config_field;

/* Writes every field of the struct at `settings` into out as text (each
 * number as the shortest decimal that reads back to the same float or
 * double: exact round trips, and 0.001f reads "0.001"), and
 * "model" = model. */
int ld_config_save_fields(ld_config *out, const void *settings, const ld_config_field *fields,
                          size_t count, const char *model, ld_err *err);
/* Reads them back into the (zeroed) struct; fails when "model" is not
 * `model`, a key that is not optional is missing or a value is not a
 * number. */
int ld_config_load_fields(const ld_config *in, void *settings, const ld_config_field *fields,
                          size_t count, const char *model, size_t settings_size, ld_err *err);

/* Writes the checkpoint. opt, rng, sched and config may be NULL (then that
 * part is not stored); opt must have been made for p and sched must pass
 * ld_schedule_check. */
int ld_checkpoint_save(const char *path, const ld_params *p, const ld_optim *opt, int64_t step,
                       const ld_rng *rng, const ld_schedule *sched, const ld_config *config,
                       ld_err *err);

/* Loads a checkpoint into the finalized registry p: every registered name
 * must be present as F32 with the registered shape, and the file may hold
 * no tensor the model does not have. Each non-NULL output is restored and
 * must be present in the file: opt (moments, hyper-parameters and step; the
 * kind must match), step, rng, sched, config (replaced by the file's
 * "config.*" entries). A NULL output skips that part (an optimiser's
 * moments in the file are then ignored). On error (missing or unreadable
 * file, truncated or corrupt data, wrong shape or dtype, missing or unknown
 * tensor, missing state) the message names the file and the problem, and
 * nothing is changed. */
int ld_checkpoint_load(const char *path, ld_params *p, ld_optim *opt, int64_t *step,
                       ld_rng *rng, ld_schedule *sched, ld_config *config, ld_err *err);

/* Reads only the model configuration of a checkpoint (into config, which is
 * replaced), so the model can be built before ld_checkpoint_load. */
int ld_checkpoint_read_config(const char *path, ld_config *config, ld_err *err);

#endif
