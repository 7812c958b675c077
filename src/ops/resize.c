/* Resize op, forward and backward side by side. See resize.h. */
#include "ops/resize.h"

#include "engine/backend.h"

#define KERNELS(ctx) ((ctx)->backend->resize)

typedef struct resize_rec {
    ld_tensor *x, *y;
    ld_resize_mode mode;
    ld_resize_shape shape;
} resize_rec;

static void resize_backward(ld_ctx *ctx, void *rec)
{
    resize_rec *r = rec;
    if (!r->y->grad || !r->x->requires_grad)
        return;
    void *scratch = ld_scratch(ctx, KERNELS(ctx)->scratch_bytes(&r->shape));
    int add;
    float *dx = scratch ? ld_grad_dest(ctx, r->x, &add) : NULL;
    if (!dx)
        return;
    if (KERNELS(ctx)->backward(dx, add, r->y->grad, r->mode, &r->shape, scratch)) {
        char s[96];
        ld_fail(ctx, "resize backward: the backend failed on x %s",
                ld_shape_str(r->x, s, sizeof s));
    }
}

ld_tensor *ld_resize(ld_ctx *ctx, ld_tensor *x, int out_h, int out_w, ld_resize_mode mode)
{
    if (!x)
        return NULL;
    char s[96];
    if (x->ndim != 4)
        return ld_fail(ctx, "resize: x must be [N, C, H, W], got %s",
                       ld_shape_str(x, s, sizeof s));
    if (out_h < 1 || out_w < 1)
        return ld_fail(ctx, "resize: output size %dx%d of x %s must be at least 1x1", out_h,
                       out_w, ld_shape_str(x, s, sizeof s));
    if (mode != LD_RESIZE_NEAREST && mode != LD_RESIZE_BILINEAR)
        return ld_fail(ctx, "resize: unknown mode %d", (int)mode);
    if (out_h == x->shape[2] && out_w == x->shape[3])
        return x;
    ld_resize_shape shape = {x->shape[0], x->shape[1], x->shape[2], x->shape[3], out_h, out_w,
                             x->block};
    ld_tensor *y = ld_tensor_4d(ctx, shape.n, shape.c, out_h, out_w);
    if (!y)
        return NULL;
    y->block = x->block;
    void *scratch = ld_scratch(ctx, KERNELS(ctx)->scratch_bytes(&shape));
    if (!scratch)
        return NULL;
    if (KERNELS(ctx)->forward(y->data, x->data, mode, &shape, scratch))
        return ld_fail(ctx, "resize: the backend failed on x %s -> %dx%d",
                       ld_shape_str(x, s, sizeof s), out_h, out_w);
    if (ld_needs_grad(ctx, 1, &x)) {
        y->requires_grad = 1;
        resize_rec *r = ld_tape_record(ctx, resize_backward, sizeof *r);
        if (!r)
            return NULL;
        *r = (resize_rec){x, y, mode, shape};
    }
    return y;
}

ld_tensor *ld_resize2x(ld_ctx *ctx, ld_tensor *x, ld_resize_mode mode)
{
    if (!x)
        return NULL;
    if (x->ndim != 4) {
        char s[96];
        return ld_fail(ctx, "resize2x: x must be [N, C, H, W], got %s",
                       ld_shape_str(x, s, sizeof s));
    }
    return ld_resize(ctx, x, 2 * x->shape[2], 2 * x->shape[3], mode);
}
