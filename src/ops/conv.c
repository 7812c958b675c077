/* Convolution and transposed convolution with fused bias and activation:
 * shape checks, forward and backward side by side. See conv.h. */
#include "ops/conv.h"

#include <math.h>

#include "engine/backend.h"

#define KERNELS(ctx) ((ctx)->backend->conv)

typedef struct conv_rec {
    const char *name;
    ld_conv_problem p;
    ld_tensor *x, *w, *b, *y; /* b NULL without bias */
} conv_rec;

/* 0 when `block` is a layout (0 NCHW, 8 or 16) that `channels` channels fit. */
static int check_block(ld_ctx *ctx, const char *name, const char *what, int block, int channels)
{
    if (block == 0 || ((block == 8 || block == 16) && channels % block == 0))
        return 0;
    ld_fail(ctx, "%s: %s's layout block %d does not fit its %d channels (0 NCHW, or 8 or 16 "
                 "dividing the channels)", name, what, block, channels);
    return -1;
}

/* Fills *p from the operands, or fails with a message naming the shapes. */
static int conv_problem(ld_ctx *ctx, const char *name, int transposed, const ld_tensor *x,
                        const ld_tensor *w, const ld_tensor *b, ld_conv_opts opts,
                        ld_conv_problem *p)
{
    char sx[96], sw[96], sb[96];
    ld_shape_str(x, sx, sizeof sx);
    ld_shape_str(w, sw, sizeof sw);
    const char *w_layout = transposed ? "Cin, Cout" : "Cout, Cin";
    if (x->ndim != 4) {
        ld_fail(ctx, "%s: x must be [N, C, H, W], got %s", name, sx);
        return -1;
    }
    if (w->ndim != 4 || w->shape[2] != w->shape[3]) {
        ld_fail(ctx, "%s: w must be [%s, k, k] (a square kernel), got %s", name, w_layout, sw);
        return -1;
    }
    int cin = w->shape[transposed ? 0 : 1], cout = w->shape[transposed ? 1 : 0];
    if (x->shape[1] != cin) {
        ld_fail(ctx, "%s: x %s has %d channels but w %s [%s, k, k] expects %d", name, sx,
                x->shape[1], sw, w_layout, cin);
        return -1;
    }
    if (b && (b->ndim != 1 || b->shape[0] != cout)) {
        ld_fail(ctx, "%s: b must be [%d] (one value per output channel of w %s), got %s", name,
                cout, sw, ld_shape_str(b, sb, sizeof sb));
        return -1;
    }
    int stride = opts.stride ? opts.stride : 1, pad = opts.pad, k = w->shape[2];
    if (stride < 1 || pad < 0) {
        ld_fail(ctx, "%s: stride %d must be >= 1 and pad %d >= 0", name, stride, pad);
        return -1;
    }
    ld_activation act = opts.act;
    int leaky_ok = act.kind == LD_ACT_LEAKY_RELU && isfinite(act.slope) && act.slope >= 0.0f;
    if (act.kind != LD_ACT_NONE && act.kind != LD_ACT_RELU && !leaky_ok) {
        ld_fail(ctx, "%s: the fused activation must be none, relu or leaky relu with slope >= 0 "
                "(got kind %d, slope %g)", name, (int)act.kind, (double)act.slope);
        return -1;
    }
    if (act.kind != LD_ACT_LEAKY_RELU)
        act.slope = 0.0f;
    if (check_block(ctx, name, "x", x->block, cin) || check_block(ctx, name, "y", opts.block, cout))
        return -1;
    int bf16 = ctx->conv_precision == LD_PRECISION_BF16;
    if (bf16 && !KERNELS(ctx)->has_bf16()) {
        ld_fail(ctx, "%s: bfloat16 precision needs fast hardware bfloat16 products (AMX "
                     "tiles), which the %s backend does not have here", name,
                ctx->backend->name);
        return -1;
    }
    int h = x->shape[2], wd = x->shape[3], oh, ow;
    if (transposed) {
        oh = (h - 1) * stride - 2 * pad + k;
        ow = (wd - 1) * stride - 2 * pad + k;
        if (oh < 1 || ow < 1) {
            ld_fail(ctx, "%s: output would be %dx%d (x %s, w %s, stride %d, pad %d)", name, oh,
                    ow, sx, sw, stride, pad);
            return -1;
        }
    } else {
        if (h + 2 * pad < k || wd + 2 * pad < k) {
            ld_fail(ctx, "%s: kernel %dx%d is larger than the padded input %dx%d (x %s, w %s, "
                    "pad %d)", name, k, k, h + 2 * pad, wd + 2 * pad, sx, sw, pad);
            return -1;
        }
        oh = (h + 2 * pad - k) / stride + 1;
        ow = (wd + 2 * pad - k) / stride + 1;
    }
    *p = (ld_conv_problem){.transposed = transposed, .n = x->shape[0], .cin = cin, .h = h,
                           .w = wd, .cout = cout, .k = k, .stride = stride, .pad = pad,
                           .oh = oh, .ow = ow, .has_bias = b != NULL, .act = act,
                           .x_block = x->block, .y_block = opts.block, .bf16 = bf16};
    return 0;
}

/* Scratch (ld_scratch) for one pass; NULL after ld_fail. */
static void *conv_scratch(ld_ctx *ctx, const char *name, const ld_conv_problem *p,
                          ld_conv_pass pass)
{
    size_t bytes;
    ld_err err;
    if (KERNELS(ctx)->scratch_bytes(p, pass, &bytes, &err))
        return ld_fail(ctx, "%s: %s", name, err.msg);
    return ld_scratch(ctx, bytes);
}

static void conv_backward(ld_ctx *ctx, void *rec)
{
    conv_rec *r = rec;
    if (!r->y->grad)
        return;
    ld_conv_grads g = {.dy = r->y->grad, .y = r->y->data, .x = r->x->data, .w = r->w->data};
    int want_b = r->b && r->b->requires_grad;
    if ((r->x->requires_grad && !(g.dx = ld_grad_dest(ctx, r->x, &g.dx_add))) ||
        (r->w->requires_grad && !(g.dw = ld_grad_dest(ctx, r->w, &g.dw_add))) ||
        (want_b && !(g.db = ld_grad_dest(ctx, r->b, &g.db_add))))
        return;
    if (!g.dx && !g.dw && !g.db)
        return;
    void *scratch = conv_scratch(ctx, r->name, &r->p, LD_CONV_BACKWARD);
    ld_err err;
    if (scratch && KERNELS(ctx)->backward(&r->p, &g, scratch, &err))
        ld_fail(ctx, "%s backward: %s", r->name, err.msg);
}

static ld_tensor *conv(ld_ctx *ctx, const char *name, int transposed, ld_tensor *x,
                       ld_tensor *w, ld_tensor *b, ld_conv_opts opts)
{
    if (!x || !w)
        return NULL;
    ld_conv_problem p;
    if (conv_problem(ctx, name, transposed, x, w, b, opts, &p))
        return NULL;
    ld_tensor *y = ld_tensor_4d(ctx, p.n, p.cout, p.oh, p.ow);
    void *scratch = y ? conv_scratch(ctx, name, &p, LD_CONV_FORWARD) : NULL;
    if (!scratch)
        return NULL;
    y->block = p.y_block;
    ld_err err;
    if (KERNELS(ctx)->forward(&p, y->data, x->data, w->data, b ? b->data : NULL, scratch, &err))
        return ld_fail(ctx, "%s: %s", name, err.msg);
    ld_tensor *ins[3] = {x, w, b};
    if (ld_needs_grad(ctx, b ? 3 : 2, ins)) {
        y->requires_grad = 1;
        conv_rec *r = ld_tape_record(ctx, conv_backward, sizeof *r);
        if (!r)
            return NULL;
        *r = (conv_rec){name, p, x, w, b, y};
    }
    return y;
}

ld_tensor *ld_conv2d(ld_ctx *ctx, ld_tensor *x, ld_tensor *w, ld_tensor *b, ld_conv_opts opts)
{
    return conv(ctx, "conv2d", 0, x, w, b, opts);
}

ld_tensor *ld_conv_transpose2d(ld_ctx *ctx, ld_tensor *x, ld_tensor *w, ld_tensor *b,
                               ld_conv_opts opts)
{
    return conv(ctx, "conv_transpose2d", 1, x, w, b, opts);
}

int ld_conv_block_for(const ld_ctx *ctx, int n, const int *widths)
{
    int block = KERNELS(ctx)->preferred_block();
    for (int i = 0; i < n && block > 1; i++)
        if (widths[i] % block)
            block = 0;
    return block > 1 ? block : 0;
}

int ld_conv_has_bf16(const ld_ctx *ctx) { return KERNELS(ctx)->has_bf16(); }

typedef struct relayout_rec {
    ld_tensor *x, *y;
} relayout_rec;

static void relayout_backward(ld_ctx *ctx, void *rec)
{
    relayout_rec *r = rec;
    int add;
    float *dx = r->y->grad ? ld_grad_dest(ctx, r->x, &add) : NULL;
    if (!dx)
        return;
    const int *s = r->x->shape;
    KERNELS(ctx)->relayout(dx, r->x->block, r->y->grad, r->y->block, s[0], s[1],
                           (size_t)s[2] * (size_t)s[3], add);
}

ld_tensor *ld_to_block(ld_ctx *ctx, ld_tensor *x, int block)
{
    if (!x)
        return NULL;
    char sx[96];
    if (x->ndim != 4)
        return ld_fail(ctx, "to_block: x must be [N, C, H, W], got %s",
                       ld_shape_str(x, sx, sizeof sx));
    if (check_block(ctx, "to_block", "the target", block, x->shape[1]))
        return NULL;
    if (x->block == block)
        return x;
    ld_tensor *y = ld_tensor_like(ctx, x);
    if (!y)
        return NULL;
    y->block = block;
    const int *s = x->shape;
    KERNELS(ctx)->relayout(y->data, block, x->data, x->block, s[0], s[1],
                           (size_t)s[2] * (size_t)s[3], 0);
    if (ld_needs_grad(ctx, 1, &x)) {
        y->requires_grad = 1;
        relayout_rec *r = ld_tape_record(ctx, relayout_backward, sizeof *r);
        if (!r)
            return NULL;
        *r = (relayout_rec){x, y};
    }
    return y;
}
