/* Learning-rate schedules, matching torch.optim.lr_scheduler. `step` counts
 * the optimiser updates already done, so the lr for update number step + 1
 * is ld_schedule_lr(s, step) (torch: the lr after `step` scheduler.step()
 * calls).
 *   constant:     base
 *   exponential:  base * gamma^floor(step / every)   (ExponentialLR for
 *                 every = 1, StepLR(step_size = every) otherwise)
 *   multistep:    base * gamma^(number of milestones <= step)  (MultiStepLR)
 *   cosine:       min + (base - min) (1 + cos(pi step / t_max)) / 2 for
 *                 step <= t_max, then min (CosineAnnealingLR, which instead
 *                 rises again after t_max)
 *   plateau:      ReduceLROnPlateau, mode "min", relative threshold: after
 *                 each ld_schedule_observe(metric), a metric not below
 *                 best * (1 - threshold) is a bad epoch; more than `patience`
 *                 bad epochs in a row multiply the lr by `factor` (not below
 *                 min_lr; changes under 1e-8 are skipped) and start `cooldown`
 *                 epochs in which bad epochs are not counted.
 * The whole state (hyper-parameters and plateau counters) is in the struct;
 * checkpoints (checkpoint.h) store every field exactly. */
#ifndef LD_SCHEDULE_H
#define LD_SCHEDULE_H

#include <stdint.h>

#include "engine/error.h"

#define LD_SCHEDULE_MAX_MILESTONES 16

typedef enum {
    LD_SCHEDULE_CONSTANT,
    LD_SCHEDULE_EXPONENTIAL,
    LD_SCHEDULE_MULTISTEP,
    LD_SCHEDULE_COSINE,
    LD_SCHEDULE_PLATEAU,
} ld_schedule_kind;

typedef struct ld_schedule {
    ld_schedule_kind kind;
    double base_lr;
    double gamma;       /* exponential, multistep */
    int64_t every;      /* exponential */
    int n_milestones;   /* multistep, ascending */
    int64_t milestones[LD_SCHEDULE_MAX_MILESTONES];
    int64_t t_max;      /* cosine */
    double min_lr;      /* cosine, plateau */
    double factor, threshold; /* plateau */
    int64_t patience, cooldown;
    /* plateau state */
    double lr;          /* current lr */
    double best;        /* best metric so far (+inf before the first) */
    int64_t bad_epochs, cooldown_left, epochs;
} ld_schedule;

/* Constructors; -1 with a message for out-of-range arguments. */
int ld_schedule_constant(ld_schedule *s, double lr, ld_err *err);
int ld_schedule_exponential(ld_schedule *s, double base_lr, double gamma, int64_t every,
                            ld_err *err);
int ld_schedule_multistep(ld_schedule *s, double base_lr, double gamma, int n_milestones,
                          const int64_t *milestones, ld_err *err);
int ld_schedule_cosine(ld_schedule *s, double base_lr, double min_lr, int64_t t_max,
                       ld_err *err);
/* torch's defaults: factor 0.1, patience 10, threshold 1e-4, cooldown 0,
 * min_lr 0. */
int ld_schedule_plateau(ld_schedule *s, double base_lr, double factor, int64_t patience,
                        double threshold, int64_t cooldown, double min_lr, ld_err *err);

/* -1 with a message when a field is out of range (the constructors and
 * the checkpoint loader use it). */
int ld_schedule_check(const ld_schedule *s, ld_err *err);

/* The lr for the update after `step` updates (plateau: the current lr). */
double ld_schedule_lr(const ld_schedule *s, int64_t step);
/* Plateau: records one epoch's metric and returns the (possibly reduced)
 * lr. The other kinds ignore the metric and return their base lr. */
double ld_schedule_observe(ld_schedule *s, double metric);

/* "constant", "exponential", "multistep", "cosine", "plateau";
 * ld_schedule_kind_parse returns -1 for an unknown name. */
const char *ld_schedule_kind_name(ld_schedule_kind kind);
int ld_schedule_kind_parse(const char *name, ld_schedule_kind *kind);

#endif
