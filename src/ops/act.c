/* Standalone activation ops (relu, leaky relu, sigmoid, tanh), forward and
 * backward side by side, and the gradient destination for overwriting
 * backward kernels. See act.h. */
#include "ops/act.h"

#include "engine/backend.h"
#include "ops/elementwise.h"

#define KERNELS(ctx) ((ctx)->backend->act)

/* ---- gradients from overwriting kernels --------------------------------- */

/* Floats that a temporary gradient of t takes in the shared scratch
 * (rounded up so that each buffer starts LD_ALIGN-aligned). */
static size_t scratch_floats(const ld_tensor *t)
{
    return ld_align_up(t->numel * sizeof(float)) / sizeof(float);
}

int ld_grad_outs_begin(ld_ctx *ctx, int n, ld_grad_out *g, ld_tensor *const *ts)
{
    size_t floats = 0;
    for (int i = 0; i < n; i++) {
        g[i] = (ld_grad_out){ts[i], NULL, 0};
        if (ts[i]->requires_grad) {
            int accumulate;
            float *dest = ld_grad_dest(ctx, ts[i], &accumulate);
            if (!dest)
                return -1;
            g[i].pending = accumulate;
            g[i].buf = accumulate ? NULL : dest;
        }
        if (!g[i].buf)
            floats += scratch_floats(ts[i]);
    }
    float *scratch = floats ? ld_scratch(ctx, floats * sizeof(float)) : NULL;
    if (floats && !scratch)
        return -1;
    for (int i = 0; i < n; i++)
        if (!g[i].buf) {
            g[i].buf = scratch;
            scratch += scratch_floats(ts[i]);
        }
    return 0;
}

int ld_grad_out_begin(ld_ctx *ctx, ld_grad_out *g, ld_tensor *t)
{
    return ld_grad_outs_begin(ctx, 1, g, &t);
}

void ld_grad_out_finish(ld_ctx *ctx, const ld_grad_out *g)
{
    if (g->pending)
        ctx->backend->elementwise->axpy(g->t->grad, 1.0f, g->buf, g->t->numel);
}

/* ---- activations ----------------------------------------------------------- */

typedef struct act_rec {
    ld_tensor *x, *y;
    ld_activation act;
} act_rec;

static void act_backward(ld_ctx *ctx, void *rec)
{
    act_rec *r = rec;
    if (!r->y->grad || !r->x->requires_grad)
        return;
    ld_grad_out dx;
    if (ld_grad_out_begin(ctx, &dx, r->x))
        return;
    if (KERNELS(ctx)->backward(dx.buf, r->y->grad, r->y->data, r->x->numel, r->act)) {
        ld_fail(ctx, "activation backward: the backend failed on %zu values", r->x->numel);
        return;
    }
    ld_grad_out_finish(ctx, &dx);
}

ld_tensor *ld_activate(ld_ctx *ctx, ld_tensor *x, ld_activation act)
{
    if (ld_require_nchw(ctx, "activation", 1, (ld_tensor *[]){x}))
        return NULL;
    if (!x)
        return NULL;
    switch (act.kind) {
    case LD_ACT_NONE:
        return x;
    case LD_ACT_RELU:
    case LD_ACT_SIGMOID:
    case LD_ACT_TANH:
        act.slope = 0.0f;
        break;
    case LD_ACT_LEAKY_RELU:
        if (!(act.slope >= 0.0f))
            return ld_fail(ctx, "leaky_relu: slope %g must be >= 0", (double)act.slope);
        break;
    default:
        return ld_fail(ctx, "activate: unknown activation kind %d", (int)act.kind);
    }
    ld_tensor *y = ld_tensor_like(ctx, x);
    if (!y)
        return NULL;
    if (KERNELS(ctx)->forward(y->data, x->data, x->numel, act)) {
        char s[96];
        return ld_fail(ctx, "activation: the backend failed on x %s",
                       ld_shape_str(x, s, sizeof s));
    }
    if (ld_needs_grad(ctx, 1, &x)) {
        y->requires_grad = 1;
        act_rec *r = ld_tape_record(ctx, act_backward, sizeof *r);
        if (!r)
            return NULL;
        *r = (act_rec){x, y, act};
    }
    return y;
}

ld_tensor *ld_relu(ld_ctx *ctx, ld_tensor *x) { return ld_activate(ctx, x, LD_RELU); }
ld_tensor *ld_leaky_relu(ld_ctx *ctx, ld_tensor *x, float slope)
{
    return ld_activate(ctx, x, LD_LEAKY(slope));
}
ld_tensor *ld_sigmoid(ld_ctx *ctx, ld_tensor *x)
{
    return ld_activate(ctx, x, (ld_activation){LD_ACT_SIGMOID, 0.0f});
}
ld_tensor *ld_tanh(ld_ctx *ctx, ld_tensor *x)
{
    return ld_activate(ctx, x, (ld_activation){LD_ACT_TANH, 0.0f});
}
