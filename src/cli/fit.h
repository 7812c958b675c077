/* The training loop shared by `latdyn fit` and `latdyn finetune`: epochs of
 * multiple-shooting blocks under the curriculum, validation nMSE after each
 * epoch, checkpoints and log.csv. Given OUT = STEM.safetensors it writes
 *   OUT                       the best-validation model of the latest
 *                             curriculum stage (resumable)
 *   STEM.stageK.safetensors   the best-validation model of stage K
 *   STEM.last.safetensors     the state after the latest epoch (--resume)
 *   STEM.log.csv              one row per epoch
 * each file whole or not at all. A run that ends removes the
 * STEM.stageN.safetensors files it did not write (left by an earlier,
 * longer run), keeping those of the run it resumed. */
#ifndef LD_CLI_FIT_H
#define LD_CLI_FIT_H

#include <stdint.h>

#include "data/sequences.h"
#include "models/ladid.h"

typedef struct ld_fit_job {
    const char *command; /* "fit" or "finetune", for messages */
    const char *out;     /* the best-validation model */
    const char *resume;  /* NULL, or a checkpoint to continue from */
    ld_ladid_data_id data_id; /* the data and split: stored, and checked on resume */
    uint64_t seed;
    int quiet;
} ld_fit_job;

/* Trains m (created, with its initial weights) on train, validating on val
 * (val->n = 0: the epoch's mean training MSE stands in). Resuming keeps
 * the log's rows up to the checkpoint's epoch, and its wall times go on
 * from the last of them. Prints progress unless quiet. The caller checks
 * the outputs first (ld_fit_check_outputs). Returns 0, -1 on an error, or
 * 128 + a signal's number when SIGINT or SIGTERM stopped it (cli/stop.h;
 * err says which checkpoint stands). */
int ld_fit_run(const ld_fit_job *job, ld_ladid_model *m, const ld_sequences *train,
               const ld_sequences *val, ld_err *err);

/* "STEM.safetensors" -> "STEM<suffix>" (suffix e.g. ".log.csv"). */
int ld_fit_sibling(const char *out, const char *suffix, char *buf, size_t len, ld_err *err);

/* Fails, naming the path, unless a file can be written there: not a
 * folder or another non-regular file, not the same file as one of the
 * command's inputs (NULL-terminated list; NULL entries before the end are
 * not allowed, pass "" for an absent one), in a writable folder (probed by
 * creating and removing a temporary file). Commands check every output
 * before reading data, so a bad path costs no work and leaves nothing. */
int ld_fit_check_output(const char *path, const char *const *inputs, ld_err *err);
/* ld_fit_check_output for out and its siblings STEM.last.safetensors,
 * STEM.log.csv and STEM.stage0.safetensors; and none of the inputs may be
 * a later stage file beside out (a run removes those it does not write). */
int ld_fit_check_outputs(const char *out, const char *const *inputs, ld_err *err);

/* Mean of the per-frame nMSE over the horizon of m's prediction of val. */
int ld_fit_validate(ld_ladid_model *m, const ld_sequences *val, double *nmse, ld_err *err);

#endif
