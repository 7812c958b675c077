/* Max pooling: shape checks, forward and backward side by side. See pool.h. */
#include "ops/pool.h"

#include "engine/backend.h"

#define KERNELS(ctx) ((ctx)->backend->pool)

typedef struct maxpool_rec {
    ld_pool_problem p;
    ld_tensor *x, *y;
    void *workspace; /* arena, filled by the forward */
} maxpool_rec;

/* Scratch (ld_scratch) for one pass of the kernels; NULL after ld_fail. */
static void *maxpool_scratch(ld_ctx *ctx, const ld_pool_problem *p, ld_pool_pass pass)
{
    size_t bytes;
    ld_err err;
    if (KERNELS(ctx)->maxpool_scratch_bytes(p, pass, &bytes, &err))
        return ld_fail(ctx, "maxpool2d: %s", err.msg);
    return ld_scratch(ctx, bytes);
}

static void maxpool_backward(ld_ctx *ctx, void *rec)
{
    maxpool_rec *r = rec;
    if (!r->y->grad || !r->x->requires_grad)
        return;
    void *scratch = maxpool_scratch(ctx, &r->p, LD_POOL_BACKWARD);
    int add;
    float *dx = scratch ? ld_grad_dest(ctx, r->x, &add) : NULL;
    if (!dx)
        return;
    ld_err err;
    if (KERNELS(ctx)->maxpool_backward(&r->p, dx, add, r->y->grad, r->workspace, scratch, &err))
        ld_fail(ctx, "maxpool2d backward: %s", err.msg);
}

ld_tensor *ld_maxpool2d(ld_ctx *ctx, ld_tensor *x, int k, int stride)
{
    if (!x)
        return NULL;
    char sx[96];
    ld_shape_str(x, sx, sizeof sx);
    if (x->ndim != 4)
        return ld_fail(ctx, "maxpool2d: x must be [N, C, H, W], got %s", sx);
    if (stride == 0)
        stride = k;
    if (k < 1 || stride < 1)
        return ld_fail(ctx, "maxpool2d: window %d and stride %d must be >= 1 (x %s)", k, stride,
                       sx);
    int h = x->shape[2], w = x->shape[3];
    if (h < k || w < k)
        return ld_fail(ctx, "maxpool2d: window %dx%d is larger than the input %dx%d (x %s)", k,
                       k, h, w, sx);
    ld_pool_problem p = {.n = x->shape[0], .c = x->shape[1], .h = h, .w = w, .k = k,
                         .stride = stride, .oh = (h - k) / stride + 1,
                         .ow = (w - k) / stride + 1, .block = x->block};
    size_t workspace_bytes;
    ld_err err;
    if (KERNELS(ctx)->maxpool_workspace_bytes(&p, &workspace_bytes, &err))
        return ld_fail(ctx, "maxpool2d: %s", err.msg);
    ld_tensor *y = ld_tensor_4d(ctx, p.n, p.c, p.oh, p.ow);
    void *workspace = y ? ld_alloc(ctx, workspace_bytes) : NULL;
    void *scratch = workspace ? maxpool_scratch(ctx, &p, LD_POOL_FORWARD) : NULL;
    if (!scratch)
        return NULL;
    if (KERNELS(ctx)->maxpool_forward(&p, y->data, x->data, workspace, scratch, &err))
        return ld_fail(ctx, "maxpool2d: %s", err.msg);
    y->block = x->block;
    if (ld_needs_grad(ctx, 1, &x)) {
        y->requires_grad = 1;
        maxpool_rec *r = ld_tape_record(ctx, maxpool_backward, sizeof *r);
        if (!r)
            return NULL;
        *r = (maxpool_rec){p, x, y, workspace};
    }
    return y;
}
