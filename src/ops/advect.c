/* Semi-Lagrangian advection: forward and backward side by side. See
 * advect.h. */
#include "ops/advect.h"

#include <math.h>

#include "engine/backend.h"

#define KERNELS(ctx) ((ctx)->backend->advect)

typedef struct advect_rec {
    ld_tensor *z, *v, *y;
    float dt;
} advect_rec;

/* Checks z [N, C, H, W] against v [N, field_channels, H, W] and dt; fails
 * with both shapes named. */
static int check_inputs(ld_ctx *ctx, const char *op, const ld_tensor *z, const ld_tensor *v,
                        int field_channels, float dt)
{
    char sz[96], sv[96];
    if (z->ndim != 4 || v->ndim != 4 || v->shape[0] != z->shape[0] ||
        v->shape[1] != field_channels || v->shape[2] != z->shape[2] ||
        v->shape[3] != z->shape[3]) {
        ld_fail(ctx, "%s: z %s needs a velocity field [%d, %d, %d, %d], got %s", op,
                ld_shape_str(z, sz, sizeof sz), z->ndim == 4 ? z->shape[0] : -1, field_channels,
                z->ndim == 4 ? z->shape[2] : -1, z->ndim == 4 ? z->shape[3] : -1,
                ld_shape_str(v, sv, sizeof sv));
        return -1;
    }
    if (!isfinite(dt)) {
        ld_fail(ctx, "%s: time step dt is not finite", op);
        return -1;
    }
    return 0;
}

static void advect_backward(ld_ctx *ctx, void *rec)
{
    advect_rec *r = rec;
    if (!r->y->grad)
        return;
    float *dz = r->z->requires_grad ? ld_grad(ctx, r->z) : NULL;
    float *dv = r->v->requires_grad ? ld_grad(ctx, r->v) : NULL;
    if (ctx->failed)
        return;
    const int *s = r->z->shape;
    KERNELS(ctx)->backward(r->y->grad, r->z->data, r->v->data, r->v->numel / (size_t)s[0],
                           r->dt, dz, dv, s[0], s[1], s[2], s[3]);
}

ld_tensor *ld_advect(ld_ctx *ctx, ld_tensor *z, ld_tensor *v, float dt)
{
    if (ld_require_nchw(ctx, "advect", 2, (ld_tensor *[]){z, v}))
        return NULL;
    if (!z || !v)
        return NULL;
    if (check_inputs(ctx, "advect", z, v, 2, dt))
        return NULL;
    ld_tensor *y = ld_tensor_like(ctx, z);
    if (!y)
        return NULL;
    const int *s = z->shape;
    KERNELS(ctx)->forward(y->data, z->data, v->data, v->numel / (size_t)s[0], dt, s[0], s[1],
                          s[2], s[3]);
    ld_tensor *ins[2] = {z, v};
    if (ld_needs_grad(ctx, 2, ins)) {
        y->requires_grad = 1;
        advect_rec *r = ld_tape_record(ctx, advect_backward, sizeof *r);
        if (!r)
            return NULL;
        *r = (advect_rec){z, v, y, dt};
    }
    return y;
}

ld_tensor *ld_advect_steps(ld_ctx *ctx, ld_tensor *z, ld_tensor *v, float dt, int steps,
                           ld_tensor **states)
{
    if (!z || !v)
        return NULL;
    if (steps < 1)
        return ld_fail(ctx, "advect_steps: %d steps (need at least 1)", steps);
    if (v->ndim == 4 && v->shape[1] != 2 && v->shape[1] != 2 * steps) {
        char sv[96];
        return ld_fail(ctx, "advect_steps: v %s has %d channels; %d steps need 2 (one field) or "
                       "%d (one per step)", ld_shape_str(v, sv, sizeof sv), v->shape[1], steps,
                       2 * steps);
    }
    int per_step = v->ndim == 4 && v->shape[1] == 2 * steps;
    if (check_inputs(ctx, "advect_steps", z, v, per_step ? 2 * steps : 2, dt))
        return NULL;
    const int *s = z->shape;
    size_t v_batch_stride = v->numel / (size_t)s[0];
    size_t field_size = 2 * (size_t)s[2] * (size_t)s[3];
    ld_tensor *state = z;
    for (int k = 0; k < steps; k++) {
        ld_tensor *next = ld_tensor_like(ctx, z);
        if (!next)
            return NULL;
        const float *field = v->data + (per_step ? (size_t)k * field_size : 0);
        KERNELS(ctx)->forward(next->data, state->data, field, v_batch_stride, dt, s[0], s[1],
                              s[2], s[3]);
        if (states)
            states[k] = next;
        state = next;
    }
    return state;
}
