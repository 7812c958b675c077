/* Adam / AdamW updates and gradient clipping over the flat parameter
 * buffers: see optim.h. */
#include "engine/optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Entries smaller than this many floats are processed by one thread. */
#define PARALLEL_MIN 32768
/* The sum of squares of an entry is taken in this many fixed parts, so the
 * result does not depend on the thread count. */
#define NORM_PARTS 64

typedef void (*range_kernel)(size_t begin, size_t end, void *arg);

/* Runs kernel on [offset, offset + numel) of every trainable entry. */
static void for_each_trainable(const ld_params *p, range_kernel kernel, void *arg)
{
    for (int i = 0; i < p->count; i++) {
        const ld_param_info *e = &p->info[i];
        if (e->trainable)
            kernel(e->offset, e->offset + e->numel, arg);
    }
}

static const char *const kind_names[] = {"adam", "adamw"};

const char *ld_optim_kind_name(ld_optim_kind kind) { return kind_names[kind]; }

int ld_optim_kind_parse(const char *name, ld_optim_kind *kind)
{
    for (int k = 0; k < 2; k++)
        if (strcmp(name, kind_names[k]) == 0) {
            *kind = (ld_optim_kind)k;
            return 0;
        }
    return -1;
}

int ld_optim_init(ld_optim *o, ld_optim_kind kind, const ld_params *p, double lr, ld_err *err)
{
    memset(o, 0, sizeof *o);
    if (!p->finalized)
        return ld_errf(err, "optimiser: the parameter registry is not finalized");
    size_t n = p->total ? p->total : 1;
    o->m = calloc(n, sizeof(float));
    o->v = calloc(n, sizeof(float));
    if (!o->m || !o->v) {
        ld_optim_free(o);
        return ld_errf(err, "optimiser: out of memory for the moments of %zu parameters",
                       p->total);
    }
    o->kind = kind;
    o->lr = lr;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->weight_decay = kind == LD_OPTIM_ADAMW ? 1e-2 : 0.0;
    o->total = p->total;
    return 0;
}

void ld_optim_free(ld_optim *o)
{
    free(o->m);
    free(o->v);
    memset(o, 0, sizeof *o);
}

typedef struct adam_args {
    float *param;
    const float *grad;
    float *m, *v;
    float decay;        /* AdamW: 1 - lr * weight_decay; Adam: 1 */
    float l2;           /* Adam: weight_decay; AdamW: 0 */
    float beta1, one_minus_beta1, beta2, one_minus_beta2;
    float neg_step_size; /* -lr / (1 - beta1^t) */
    float bc2_sqrt;      /* sqrt(1 - beta2^t) */
    float eps;
} adam_args;

/* The operations and their order follow torch's single-tensor Adam/AdamW. */
static void adam_range(size_t begin, size_t end, void *arg)
{
    const adam_args *a = arg;
    /* locals, so that the loop vectorises (the arrays do not overlap) */
    float *restrict param = a->param, *restrict mean = a->m, *restrict var = a->v;
    const float *restrict grad = a->grad;
    const adam_args k = *a;
#pragma omp parallel for schedule(static) if (end - begin >= PARALLEL_MIN)
    for (size_t i = begin; i < end; i++) {
        float p = param[i] * k.decay;
        float g = grad[i] + k.l2 * p;
        float m = mean[i] * k.beta1 + k.one_minus_beta1 * g;
        float v = var[i] * k.beta2 + k.one_minus_beta2 * g * g;
        float denom = sqrtf(v) / k.bc2_sqrt + k.eps;
        mean[i] = m;
        var[i] = v;
        param[i] = p + k.neg_step_size * m / denom;
    }
}

int ld_optim_step(ld_optim *o, ld_params *p, ld_err *err)
{
    if (!p->finalized || p->total != o->total || !o->m)
        return ld_errf(err, "optimiser: made for %zu parameters, given a registry of %zu%s",
                       o->total, p->total, p->finalized ? "" : " (not finalized)");
    if (!(o->lr >= 0) || !(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1) ||
        !(o->eps >= 0) || !(o->weight_decay >= 0))
        return ld_errf(err, "optimiser: invalid hyper-parameters lr %g beta1 %g beta2 %g eps %g "
                            "weight_decay %g (need lr, eps, weight_decay >= 0, betas in [0, 1))",
                       o->lr, o->beta1, o->beta2, o->eps, o->weight_decay);
    o->step++;
    double t = (double)o->step;
    int decoupled = o->kind == LD_OPTIM_ADAMW;
    adam_args a = {
        .param = p->data,
        .grad = p->grad,
        .m = o->m,
        .v = o->v,
        .decay = decoupled ? (float)(1.0 - o->lr * o->weight_decay) : 1.0f,
        .l2 = decoupled ? 0.0f : (float)o->weight_decay,
        .beta1 = (float)o->beta1,
        .one_minus_beta1 = (float)(1.0 - o->beta1),
        .beta2 = (float)o->beta2,
        .one_minus_beta2 = (float)(1.0 - o->beta2),
        .neg_step_size = (float)(-o->lr / (1.0 - pow(o->beta1, t))),
        .bc2_sqrt = (float)sqrt(1.0 - pow(o->beta2, t)),
        .eps = (float)o->eps,
    };
    for_each_trainable(p, adam_range, &a);
    return 0;
}

/* ---- clipping ------------------------------------------------------------ */

typedef struct grad_args {
    float *grad;
    double sum;  /* norm_range: sum of squares so far */
    float value; /* scale_range: factor; clamp_range: bound */
} grad_args;

static void norm_range(size_t begin, size_t end, void *arg)
{
    grad_args *a = arg;
    size_t n = end - begin;
    double part[NORM_PARTS];
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN)
    for (int k = 0; k < NORM_PARTS; k++) {
        double s = 0;
        for (size_t i = begin + n * (size_t)k / NORM_PARTS;
             i < begin + n * (size_t)(k + 1) / NORM_PARTS; i++)
            s += (double)a->grad[i] * a->grad[i];
        part[k] = s;
    }
    for (int k = 0; k < NORM_PARTS; k++)
        a->sum += part[k];
}

static void scale_range(size_t begin, size_t end, void *arg)
{
    const grad_args *a = arg;
#pragma omp parallel for schedule(static) if (end - begin >= PARALLEL_MIN)
    for (size_t i = begin; i < end; i++)
        a->grad[i] *= a->value;
}

static void clamp_range(size_t begin, size_t end, void *arg)
{
    const grad_args *a = arg;
#pragma omp parallel for schedule(static) if (end - begin >= PARALLEL_MIN)
    for (size_t i = begin; i < end; i++)
        a->grad[i] = fminf(fmaxf(a->grad[i], -a->value), a->value);
}

double ld_clip_grad_norm(ld_params *p, double max_norm)
{
    grad_args a = {p->grad, 0.0, 0.0f};
    for_each_trainable(p, norm_range, &a);
    double norm = sqrt(a.sum);
    double coef = max_norm / (norm + 1e-6);
    if (isfinite(norm) && coef < 1.0) {
        a.value = (float)coef;
        for_each_trainable(p, scale_range, &a);
    }
    return norm;
}

void ld_clip_grad_value(ld_params *p, float clip)
{
    grad_args a = {p->grad, 0.0, clip};
    for_each_trainable(p, clamp_range, &a);
}
