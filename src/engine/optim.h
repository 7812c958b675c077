/* Optimisers (Adam, AdamW) and gradient clipping over the flat parameter
 * registry (params.h). Only trainable entries are read or written; the
 * non-trainable ones (batch-norm running statistics) are never touched.
 *
 * The update is torch.optim.Adam / AdamW (torch 1.13, amsgrad off) for step
 * t = 1, 2, ...:
 *     Adam:  g += weight_decay * p                (L2 added to the gradient)
 *     AdamW: p *= 1 - lr * weight_decay           (decoupled, before the update)
 *     m = beta1 m + (1 - beta1) g;   v = beta2 v + (1 - beta2) g^2
 *     p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * with eps added after the square root of the bias-corrected v, as torch
 * does. The moments m and v are flat buffers with the layout of
 * params->data. Every update is element-wise, so results do not depend on
 * the thread count. */
#ifndef LD_OPTIM_H
#define LD_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "engine/error.h"
#include "engine/params.h"

typedef enum { LD_OPTIM_ADAM, LD_OPTIM_ADAMW } ld_optim_kind;

typedef struct ld_optim {
    ld_optim_kind kind;
    double lr, beta1, beta2, eps, weight_decay; /* hyper-parameters, set freely */
    int64_t step;  /* updates done so far */
    size_t total;  /* floats in m and v (the params->total it was made for) */
    float *m, *v;  /* first and second moments, layout of params->data */
} ld_optim;

/* "adam" / "adamw"; ld_optim_kind_parse returns -1 for an unknown name. */
const char *ld_optim_kind_name(ld_optim_kind kind);
int ld_optim_kind_parse(const char *name, ld_optim_kind *kind);

/* Zeroed moments for the finalized registry p and torch's defaults:
 * beta1 0.9, beta2 0.999, eps 1e-8, weight_decay 0 (Adam) or 1e-2 (AdamW),
 * step 0. Change the fields afterwards for other values. */
int ld_optim_init(ld_optim *o, ld_optim_kind kind, const ld_params *p, double lr, ld_err *err);
void ld_optim_free(ld_optim *o);
/* One update of every trainable entry of p from p->grad, with o->lr. Fails
 * (nothing changed) if p is not the registry o was made for or a
 * hyper-parameter is out of range. */
int ld_optim_step(ld_optim *o, ld_params *p, ld_err *err);

/* Scales the trainable gradients by max_norm / (norm + 1e-6) when that is
 * below 1, where norm is their global L2 norm (torch.nn.utils.
 * clip_grad_norm_). Returns the norm before clipping. A non-finite norm
 * is returned and the gradients are left as they are. */
double ld_clip_grad_norm(ld_params *p, double max_norm);
/* Clamps every trainable gradient into [-clip, clip]
 * (torch.nn.utils.clip_grad_value_). */
void ld_clip_grad_value(ld_params *p, float clip);

#endif
