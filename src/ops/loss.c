/* Loss functions: forward and backward side by side. See loss.h. */
#include "ops/loss.h"

#include <math.h>

#include "engine/backend.h"

#define KERNELS(ctx) ((ctx)->backend->loss)

static const int scalar_shape[1] = {1};

/* Fails unless t (when given) has x's shape. */
static int check_same_shape(ld_ctx *ctx, const char *op, const char *what, const ld_tensor *x,
                            const ld_tensor *t)
{
    if (!t || ld_same_shape(x, t))
        return 0;
    char sx[96], st[96];
    ld_fail(ctx, "%s: %s %s differs from the input's shape %s", op, what,
            ld_shape_str(t, st, sizeof st), ld_shape_str(x, sx, sizeof sx));
    return -1;
}

/* ---- mean squared error -------------------------------------------------- */

typedef struct mse_rec {
    ld_tensor *a, *b, *y;
} mse_rec;

static void mse_backward(ld_ctx *ctx, void *rec)
{
    mse_rec *r = rec;
    if (!r->y->grad)
        return;
    float *da = r->a->requires_grad ? ld_grad(ctx, r->a) : NULL;
    float *db = r->b->requires_grad ? ld_grad(ctx, r->b) : NULL;
    if (ctx->failed)
        return;
    KERNELS(ctx)->mse_backward(r->y->grad, r->a->data, r->b->data, da, db, r->a->numel);
}

ld_tensor *ld_mse(ld_ctx *ctx, ld_tensor *a, ld_tensor *b)
{
    if (ld_require_nchw(ctx, "mse", 2, (ld_tensor *[]){a, b}))
        return NULL;
    if (!a || !b)
        return NULL;
    if (check_same_shape(ctx, "mse", "target", a, b))
        return NULL;
    ld_tensor *y = ld_tensor_new(ctx, 1, scalar_shape);
    if (!y)
        return NULL;
    KERNELS(ctx)->mse_forward(y->data, a->data, b->data, a->numel);
    ld_tensor *ins[2] = {a, b};
    if (ld_needs_grad(ctx, 2, ins)) {
        y->requires_grad = 1;
        mse_rec *r = ld_tape_record(ctx, mse_backward, sizeof *r);
        if (!r)
            return NULL;
        *r = (mse_rec){a, b, y};
    }
    return y;
}

/* ---- Gaussian negative log-likelihood -------------------------------------- */

typedef struct nll_rec {
    ld_tensor *x, *mean, *log_std, *y; /* mean, log_std may be NULL */
    float fixed_log_std, scale;
} nll_rec;

/* The gradient buffer of an optional input, or NULL when absent or not
 * wanted. */
static float *optional_grad(ld_ctx *ctx, ld_tensor *t)
{
    return t && t->requires_grad ? ld_grad(ctx, t) : NULL;
}

static void nll_backward(ld_ctx *ctx, void *rec)
{
    nll_rec *r = rec;
    if (!r->y->grad)
        return;
    float *dx = optional_grad(ctx, r->x);
    float *dmean = optional_grad(ctx, r->mean);
    float *dlog_std = optional_grad(ctx, r->log_std);
    if (ctx->failed)
        return;
    KERNELS(ctx)->gaussian_nll_backward(r->y->grad, r->x->data, r->mean ? r->mean->data : NULL,
                                        r->log_std ? r->log_std->data : NULL, r->fixed_log_std,
                                        r->scale, dx, dmean, dlog_std, r->x->numel);
}

ld_tensor *ld_gaussian_nll(ld_ctx *ctx, ld_tensor *x, ld_tensor *mean, ld_tensor *log_std,
                           float fixed_log_std, float scale)
{
    if (ld_require_nchw(ctx, "gaussian_nll", 3, (ld_tensor *[]){x, mean, log_std}))
        return NULL;
    if (!x)
        return NULL;
    if (check_same_shape(ctx, "gaussian_nll", "mean", x, mean) ||
        check_same_shape(ctx, "gaussian_nll", "log_std", x, log_std))
        return NULL;
    if (!isfinite(fixed_log_std) || !isfinite(scale))
        return ld_fail(ctx, "gaussian_nll: fixed_log_std %g and scale %g must be finite",
                       (double)fixed_log_std, (double)scale);
    ld_tensor *y = ld_tensor_new(ctx, 1, scalar_shape);
    if (!y)
        return NULL;
    KERNELS(ctx)->gaussian_nll_forward(y->data, x->data, mean ? mean->data : NULL,
                                       log_std ? log_std->data : NULL, fixed_log_std, scale,
                                       x->numel);
    ld_tensor *ins[3] = {x, mean, log_std};
    if (ld_needs_grad(ctx, 3, ins)) {
        y->requires_grad = 1;
        nll_rec *r = ld_tape_record(ctx, nll_backward, sizeof *r);
        if (!r)
            return NULL;
        *r = (nll_rec){x, mean, log_std, y, fixed_log_std, scale};
    }
    return y;
}
