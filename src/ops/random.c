/* Random ops (reparameterised Gaussian sample, dropout): forward and
 * backward side by side. See random.h. */
#include "ops/random.h"

#include "engine/backend.h"

#define KERNELS(ctx) ((ctx)->backend->random)

/* ---- reparameterised Gaussian sample ---------------------------------------- */

typedef struct normal_rec {
    ld_tensor *mean, *log_std, *eps, *y;
} normal_rec;

static void normal_backward(ld_ctx *ctx, void *rec)
{
    normal_rec *r = rec;
    if (!r->y->grad)
        return;
    float *dmean = r->mean->requires_grad ? ld_grad(ctx, r->mean) : NULL;
    float *dlog_std = r->log_std->requires_grad ? ld_grad(ctx, r->log_std) : NULL;
    if (ctx->failed)
        return;
    KERNELS(ctx)->normal_backward(r->y->grad, r->log_std->data, r->eps->data, dmean, dlog_std,
                                  r->y->numel);
}

ld_tensor *ld_sample_normal(ld_ctx *ctx, ld_tensor *mean, ld_tensor *log_std)
{
    if (ld_require_nchw(ctx, "sample_normal", 2, (ld_tensor *[]){mean, log_std}))
        return NULL;
    if (!mean || !log_std)
        return NULL;
    if (!ld_same_shape(mean, log_std)) {
        char sm[96], sl[96];
        return ld_fail(ctx, "sample_normal: mean %s and log_std %s differ in shape",
                       ld_shape_str(mean, sm, sizeof sm), ld_shape_str(log_std, sl, sizeof sl));
    }
    if (!ctx->training)
        return mean;
    ld_tensor *eps = ld_tensor_like(ctx, mean);
    ld_tensor *y = ld_tensor_like(ctx, mean);
    if (!eps || !y)
        return NULL;
    ld_rng_fill_normal(&ctx->rng, eps->data, eps->numel, 0.0f, 1.0f);
    KERNELS(ctx)->normal_forward(y->data, mean->data, log_std->data, eps->data, y->numel);
    ld_tensor *ins[2] = {mean, log_std};
    if (ld_needs_grad(ctx, 2, ins)) {
        y->requires_grad = 1;
        normal_rec *r = ld_tape_record(ctx, normal_backward, sizeof *r);
        if (!r)
            return NULL;
        *r = (normal_rec){mean, log_std, eps, y};
    }
    return y;
}

/* ---- dropout ----------------------------------------------------------------- */

typedef struct dropout_rec {
    ld_tensor *x, *y;
    const float *mask;
} dropout_rec;

static void dropout_backward(ld_ctx *ctx, void *rec)
{
    dropout_rec *r = rec;
    if (!r->y->grad || !r->x->requires_grad)
        return;
    float *dx = ld_grad(ctx, r->x);
    if (dx)
        KERNELS(ctx)->apply_mask(dx, r->y->grad, r->mask, r->x->numel, 1);
}

ld_tensor *ld_dropout(ld_ctx *ctx, ld_tensor *x, float p)
{
    if (ld_require_nchw(ctx, "dropout", 1, (ld_tensor *[]){x}))
        return NULL;
    if (!x)
        return NULL;
    if (!(p >= 0.0f && p < 1.0f))
        return ld_fail(ctx, "dropout: probability %g outside [0, 1)", (double)p);
    if (!ctx->training || p == 0.0f)
        return x;
    float *mask = ld_alloc(ctx, x->numel * sizeof *mask);
    ld_tensor *y = ld_tensor_like(ctx, x);
    if (!mask || !y)
        return NULL;
    ld_rng_fill_uniform(&ctx->rng, mask, x->numel, 0.0f, 1.0f);
    KERNELS(ctx)->dropout_mask(mask, p, x->numel);
    KERNELS(ctx)->apply_mask(y->data, x->data, mask, x->numel, 0);
    if (ld_needs_grad(ctx, 1, &x)) {
        y->requires_grad = 1;
        dropout_rec *r = ld_tape_record(ctx, dropout_backward, sizeof *r);
        if (!r)
            return NULL;
        *r = (dropout_rec){x, y, mask};
    }
    return y;
}
