/* Learning-rate schedules: see schedule.h. */
#include "engine/schedule.h"

#include <math.h>
#include <string.h>

/* torch's ReduceLROnPlateau ignores reductions smaller than this. */
#define PLATEAU_MIN_CHANGE 1e-8

static const char *const kind_names[] = {"constant", "exponential", "multistep", "cosine",
                                         "plateau"};
#define KIND_COUNT ((int)(sizeof kind_names / sizeof kind_names[0]))

const char *ld_schedule_kind_name(ld_schedule_kind kind) { return kind_names[kind]; }

int ld_schedule_kind_parse(const char *name, ld_schedule_kind *kind)
{
    for (int k = 0; k < KIND_COUNT; k++)
        if (strcmp(name, kind_names[k]) == 0) {
            *kind = (ld_schedule_kind)k;
            return 0;
        }
    return -1;
}

int ld_schedule_check(const ld_schedule *s, ld_err *err)
{
    if ((int)s->kind < 0 || (int)s->kind >= KIND_COUNT)
        return ld_errf(err, "schedule: unknown kind %d", (int)s->kind);
    const char *name = kind_names[s->kind];
    if (!(s->base_lr >= 0) || !isfinite(s->base_lr))
        return ld_errf(err, "%s schedule: base lr %g must be finite and >= 0", name, s->base_lr);
    switch (s->kind) {
    case LD_SCHEDULE_CONSTANT:
        break;
    case LD_SCHEDULE_EXPONENTIAL:
        if (!(s->gamma > 0) || s->every < 1)
            return ld_errf(err, "exponential schedule: gamma %g must be > 0 and every %lld >= 1",
                           s->gamma, (long long)s->every);
        break;
    case LD_SCHEDULE_MULTISTEP:
        if (!(s->gamma > 0) || s->n_milestones < 0 ||
            s->n_milestones > LD_SCHEDULE_MAX_MILESTONES)
            return ld_errf(err, "multistep schedule: gamma %g must be > 0 and the milestones "
                                "%d, at most %d", s->gamma, s->n_milestones,
                           LD_SCHEDULE_MAX_MILESTONES);
        for (int i = 0; i < s->n_milestones; i++)
            if (s->milestones[i] < 1 || (i > 0 && s->milestones[i] <= s->milestones[i - 1]))
                return ld_errf(err, "multistep schedule: milestone %d (%lld) must be >= 1 and "
                                    "above the one before", i, (long long)s->milestones[i]);
        break;
    case LD_SCHEDULE_COSINE:
        if (s->t_max < 1 || !(s->min_lr >= 0))
            return ld_errf(err, "cosine schedule: t_max %lld must be >= 1 and min lr %g >= 0",
                           (long long)s->t_max, s->min_lr);
        break;
    case LD_SCHEDULE_PLATEAU:
        if (!(s->factor > 0 && s->factor < 1) || s->patience < 0 || !(s->threshold >= 0) ||
            s->cooldown < 0 || !(s->min_lr >= 0) || !(s->lr >= 0) || isnan(s->best) ||
            s->bad_epochs < 0 || s->cooldown_left < 0 || s->epochs < 0)
            return ld_errf(err, "plateau schedule: need factor in (0, 1) (got %g), patience "
                                "%lld, threshold %g, cooldown %lld, min lr %g >= 0 and a valid "
                                "state", s->factor, (long long)s->patience, s->threshold,
                           (long long)s->cooldown, s->min_lr);
        break;
    }
    return 0;
}

/* Starts a schedule of the given kind at base_lr with everything else 0. */
static void schedule_start(ld_schedule *s, ld_schedule_kind kind, double base_lr)
{
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->base_lr = base_lr;
    s->lr = base_lr;
    s->best = INFINITY;
}

int ld_schedule_constant(ld_schedule *s, double lr, ld_err *err)
{
    schedule_start(s, LD_SCHEDULE_CONSTANT, lr);
    return ld_schedule_check(s, err);
}

int ld_schedule_exponential(ld_schedule *s, double base_lr, double gamma, int64_t every,
                            ld_err *err)
{
    schedule_start(s, LD_SCHEDULE_EXPONENTIAL, base_lr);
    s->gamma = gamma;
    s->every = every;
    return ld_schedule_check(s, err);
}

int ld_schedule_multistep(ld_schedule *s, double base_lr, double gamma, int n_milestones,
                          const int64_t *milestones, ld_err *err)
{
    schedule_start(s, LD_SCHEDULE_MULTISTEP, base_lr);
    s->gamma = gamma;
    s->n_milestones = n_milestones;
    if (n_milestones > LD_SCHEDULE_MAX_MILESTONES)
        return ld_schedule_check(s, err);
    for (int i = 0; i < n_milestones; i++)
        s->milestones[i] = milestones[i];
    return ld_schedule_check(s, err);
}

int ld_schedule_cosine(ld_schedule *s, double base_lr, double min_lr, int64_t t_max,
                       ld_err *err)
{
    schedule_start(s, LD_SCHEDULE_COSINE, base_lr);
    s->min_lr = min_lr;
    s->t_max = t_max;
    return ld_schedule_check(s, err);
}

int ld_schedule_plateau(ld_schedule *s, double base_lr, double factor, int64_t patience,
                        double threshold, int64_t cooldown, double min_lr, ld_err *err)
{
    schedule_start(s, LD_SCHEDULE_PLATEAU, base_lr);
    s->factor = factor;
    s->patience = patience;
    s->threshold = threshold;
    s->cooldown = cooldown;
    s->min_lr = min_lr;
    return ld_schedule_check(s, err);
}

double ld_schedule_lr(const ld_schedule *s, int64_t step)
{
    if (step < 0)
        step = 0;
    switch (s->kind) {
    case LD_SCHEDULE_EXPONENTIAL:
        return s->base_lr * pow(s->gamma, (double)(step / s->every));
    case LD_SCHEDULE_MULTISTEP: {
        int passed = 0;
        while (passed < s->n_milestones && s->milestones[passed] <= step)
            passed++;
        return s->base_lr * pow(s->gamma, passed);
    }
    case LD_SCHEDULE_COSINE:
        if (step >= s->t_max)
            return s->min_lr;
        return s->min_lr +
               (s->base_lr - s->min_lr) * (1 + cos(M_PI * (double)step / (double)s->t_max)) / 2;
    case LD_SCHEDULE_PLATEAU:
        return s->lr;
    case LD_SCHEDULE_CONSTANT:
        break;
    }
    return s->base_lr;
}

double ld_schedule_observe(ld_schedule *s, double metric)
{
    if (s->kind != LD_SCHEDULE_PLATEAU)
        return s->base_lr;
    s->epochs++;
    if (metric < s->best * (1.0 - s->threshold)) {
        s->best = metric;
        s->bad_epochs = 0;
    } else {
        s->bad_epochs++;
    }
    if (s->cooldown_left > 0) {
        s->cooldown_left--;
        s->bad_epochs = 0;
    }
    if (s->bad_epochs > s->patience) {
        double reduced = fmax(s->lr * s->factor, s->min_lr);
        if (s->lr - reduced > PLATEAU_MIN_CHANGE)
            s->lr = reduced;
        s->cooldown_left = s->cooldown;
        s->bad_epochs = 0;
    }
    return s->lr;
}
