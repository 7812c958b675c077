/* Softmax and multi-head attention ops, forward and backward side by side.
 * See attention.h. */
#include "ops/attention.h"

#include "engine/backend.h"

#define KERNELS(ctx) ((ctx)->backend->attention)

/* ---- softmax --------------------------------------------------------------- */

typedef struct softmax_rec {
    ld_tensor *x, *y;
    size_t rows, cols;
} softmax_rec;

static void softmax_backward(ld_ctx *ctx, void *rec)
{
    softmax_rec *r = rec;
    if (!r->y->grad || !r->x->requires_grad)
        return;
    float *dx = ld_grad(ctx, r->x);
    if (dx)
        KERNELS(ctx)->softmax_backward(dx, r->y->grad, r->y->data, r->rows, r->cols);
}

ld_tensor *ld_softmax(ld_ctx *ctx, ld_tensor *x)
{
    if (ld_require_nchw(ctx, "softmax", 1, (ld_tensor *[]){x}))
        return NULL;
    if (!x)
        return NULL;
    if (x->ndim < 1 || x->shape[x->ndim - 1] < 1) {
        char sx[96];
        return ld_fail(ctx, "softmax: input %s has no last axis to normalise",
                       ld_shape_str(x, sx, sizeof sx));
    }
    ld_tensor *y = ld_tensor_like(ctx, x);
    if (!y)
        return NULL;
    size_t cols = (size_t)x->shape[x->ndim - 1], rows = x->numel / cols;
    KERNELS(ctx)->softmax_forward(y->data, x->data, rows, cols);
    if (ld_needs_grad(ctx, 1, &x)) {
        y->requires_grad = 1;
        softmax_rec *r = ld_tape_record(ctx, softmax_backward, sizeof *r);
        if (!r)
            return NULL;
        *r = (softmax_rec){x, y, rows, cols};
    }
    return y;
}

/* ---- attention ------------------------------------------------------------- */

typedef struct attention_rec {
    ld_tensor *q, *k, *v, *bias, *y;
    float *probs;
    ld_attention_dims dims;
} attention_rec;

/* An input's gradient destination when it wants one; 0 on success. */
static int grad_dest_if_wanted(ld_ctx *ctx, ld_tensor *t, float **dest, int *accumulate)
{
    if (!t || !t->requires_grad)
        return 0;
    *dest = ld_grad_dest(ctx, t, accumulate);
    return *dest ? 0 : -1;
}

static void attention_backward(ld_ctx *ctx, void *rec)
{
    attention_rec *r = rec;
    if (!r->y->grad)
        return;
    ld_attention_grads g = {0};
    /* in the kernel's order (dq, dk, dv), so shared inputs accumulate */
    if (grad_dest_if_wanted(ctx, r->q, &g.dq, &g.accumulate_q) ||
        grad_dest_if_wanted(ctx, r->k, &g.dk, &g.accumulate_k) ||
        grad_dest_if_wanted(ctx, r->v, &g.dv, &g.accumulate_v))
        return;
    if (r->bias && r->bias->requires_grad && !(g.dbias = ld_grad(ctx, r->bias)))
        return;
    const ld_attention_dims *d = &r->dims;
    float *dscores = NULL;
    if (g.dq || g.dk || g.dbias) {
        dscores = ld_alloc(ctx, d->batch * d->heads * d->tq * d->tk * sizeof *dscores);
        if (!dscores)
            return;
    }
    KERNELS(ctx)->attention_backward(d, r->q ? r->q->data : NULL, r->k ? r->k->data : NULL,
                                     r->v->data, r->probs, r->y->grad, dscores, &g);
}

/* Fills the bias strides of d from the bias shape; -1 when it does not
 * broadcast to [B, heads, Tq, Tk]. */
static int bias_layout(const ld_tensor *bias, ld_attention_dims *d)
{
    size_t plane = d->tq * d->tk;
    const int *s = bias->shape;
    int n = bias->ndim;
    if ((n != 2 && n != 4) || (size_t)s[n - 2] != d->tq || (size_t)s[n - 1] != d->tk)
        return -1;
    if (n == 2) {
        d->bias_batch_stride = d->bias_head_stride = 0;
        return 0;
    }
    if ((s[0] != 1 && (size_t)s[0] != d->batch) || (s[1] != 1 && (size_t)s[1] != d->heads))
        return -1;
    d->bias_head_stride = s[1] == 1 ? 0 : plane;
    d->bias_batch_stride = s[0] == 1 ? 0 : (size_t)s[1] * plane;
    return 0;
}

/* Shapes of q, k, v and the bias into d; -1 after ld_fail when they do not fit. */
static int attention_dims(ld_ctx *ctx, const ld_tensor *q, const ld_tensor *k,
                          const ld_tensor *v, int heads, const ld_tensor *bias,
                          ld_attention_dims *d)
{
    char sq[96] = "none", sk[96] = "none", sv[96], sb[96] = "none";
    ld_shape_str(v, sv, sizeof sv);
    if (q)
        ld_shape_str(q, sq, sizeof sq);
    if (k)
        ld_shape_str(k, sk, sizeof sk);
    if (bias)
        ld_shape_str(bias, sb, sizeof sb);
    if (v->ndim != 3 || (q && (q->ndim != 3 || k->ndim != 3))) {
        ld_fail(ctx, "attention: q %s, k %s and v %s must all be [B, T, E]", sq, sk, sv);
        return -1;
    }
    int batch = v->shape[0], tk = v->shape[1], e = v->shape[2];
    if (heads < 1 || e % heads != 0) {
        ld_fail(ctx, "attention: embedding size %d of v %s is not divisible by %d heads", e, sv,
                heads);
        return -1;
    }
    if (q && (q->shape[0] != batch || k->shape[0] != batch || q->shape[2] != e ||
              k->shape[2] != e || k->shape[1] != tk)) {
        ld_fail(ctx, "attention: q %s, k %s, v %s: want q [B, Tq, E] and k, v [B, Tk, E]", sq,
                sk, sv);
        return -1;
    }
    if (!q && (!bias || bias->ndim < 2)) {
        ld_fail(ctx, "attention without q and k needs a bias [.., Tq, Tk], got %s", sb);
        return -1;
    }
    *d = (ld_attention_dims){
        .batch = (size_t)batch,
        .heads = (size_t)heads,
        .tq = (size_t)(q ? q->shape[1] : bias->shape[bias->ndim - 2]),
        .tk = (size_t)tk,
        .head_dim = (size_t)(e / heads),
    };
    if (bias && bias_layout(bias, d)) {
        ld_fail(ctx, "attention: bias %s does not broadcast to [B, heads, Tq, Tk] = "
                "[%d, %d, %zu, %d] (use [Tq, Tk], [B or 1, heads or 1, Tq, Tk])", sb, batch,
                heads, d->tq, tk);
        return -1;
    }
    return 0;
}

ld_tensor *ld_attention(ld_ctx *ctx, ld_tensor *q, ld_tensor *k, ld_tensor *v, int heads,
                        ld_tensor *bias, float scale)
{
    if (ld_require_nchw(ctx, "attention", 4, (ld_tensor *[]){q, k, v, bias}))
        return NULL;
    /* q = k = NULL is the bias-only form, unless they are NULL because an
     * earlier op failed */
    if (!v || ctx->failed)
        return NULL;
    if (!q != !k)
        return ld_fail(ctx, "attention: give both q and k, or neither (bias-only weights)");
    ld_attention_dims d;
    if (attention_dims(ctx, q, k, v, heads, bias, &d))
        return NULL;
    d.scale = scale;
    int shape[3] = {v->shape[0], (int)d.tq, v->shape[2]};
    ld_tensor *y = ld_tensor_new(ctx, 3, shape);
    float *probs = ld_alloc(ctx, d.batch * d.heads * d.tq * d.tk * sizeof *probs);
    if (!y || !probs)
        return NULL;
    KERNELS(ctx)->attention_forward(&d, q ? q->data : NULL, k ? k->data : NULL, v->data,
                                    bias ? bias->data : NULL, probs, y->data);
    ld_tensor *ins[4] = {q, k, v, bias};
    if (ld_needs_grad(ctx, 4, ins)) {
        y->requires_grad = 1;
        attention_rec *r = ld_tape_record(ctx, attention_backward, sizeof *r);
        if (!r)
            return NULL;
        *r = (attention_rec){q, k, v, bias, y, probs, d};
    }
    return y;
}
