/* Linear algebra ops: ld_linear and ld_matmul, forward and backward side by
 * side. See linalg.h. */
#include "ops/linalg.h"

#include <string.h>

#include "engine/backend.h"

#define KERNELS(ctx) ((ctx)->backend->linalg)

/* c = op(a) op(b) (+ c when accumulate) for `batch` contiguous row-major
 * matrices stored back to back; m, n, k as in struct ld_gemm. */
static void product(ld_ctx *ctx, size_t batch, int trans_a, int trans_b, size_t m, size_t n,
                    size_t k, const float *a, const float *b, float *c, int accumulate)
{
    ld_gemm g = {
        .trans_a = trans_a, .trans_b = trans_b, .m = m, .n = n, .k = k,
        .alpha = 1.0f, .beta = accumulate ? 1.0f : 0.0f,
        .a = a, .lda = trans_a ? m : k, .stride_a = m * k,
        .b = b, .ldb = trans_b ? k : n, .stride_b = k * n,
        .c = c, .ldc = n, .stride_c = m * n,
        .batch = batch,
    };
    KERNELS(ctx)->gemm(&g);
}

/* ---- linear ---------------------------------------------------------------- */

typedef struct linear_rec {
    ld_tensor *x, *w, *b, *y;
    ld_activation act;
    size_t rows, in, out;
} linear_rec;

static void linear_backward(ld_ctx *ctx, void *rec)
{
    linear_rec *r = rec;
    if (!r->y->grad)
        return;
    const float *dz = r->y->grad; /* gradient before the activation */
    if (r->act.kind != LD_ACT_NONE) {
        size_t n = r->rows * r->out;
        float *buf = ld_alloc(ctx, n * sizeof *buf);
        if (!buf)
            return;
        KERNELS(ctx)->act_backward(buf, r->y->grad, r->y->data, n, r->act);
        dz = buf;
    }
    int accumulate;
    if (r->x->requires_grad) { /* dx [rows, in] = dz [rows, out] w [out, in] */
        float *dx = ld_grad_dest(ctx, r->x, &accumulate);
        if (!dx)
            return;
        product(ctx, 1, 0, 0, r->rows, r->in, r->out, dz, r->w->data, dx, accumulate);
    }
    if (r->w->requires_grad) { /* dw [out, in] = dz^T x */
        float *dw = ld_grad_dest(ctx, r->w, &accumulate);
        if (!dw)
            return;
        product(ctx, 1, 1, 0, r->out, r->in, r->rows, dz, r->x->data, dw, accumulate);
    }
    if (r->b && r->b->requires_grad) {
        float *db = ld_grad(ctx, r->b);
        if (db)
            KERNELS(ctx)->bias_backward(db, dz, r->rows, r->out);
    }
}

static int valid_activation(ld_activation act)
{
    switch (act.kind) {
    case LD_ACT_NONE:
    case LD_ACT_RELU:
    case LD_ACT_SIGMOID:
    case LD_ACT_TANH:
        return 1;
    case LD_ACT_LEAKY_RELU:
        return act.slope >= 0.0f;
    }
    return 0;
}

ld_tensor *ld_linear(ld_ctx *ctx, ld_tensor *x, ld_tensor *w, ld_tensor *b, ld_activation act)
{
    if (ld_require_nchw(ctx, "linear", 3, (ld_tensor *[]){x, w, b}))
        return NULL;
    if (!x || !w)
        return NULL;
    char sx[96], sw[96], sb[96];
    if (x->ndim < 1 || w->ndim != 2 || w->shape[1] < 1 || x->shape[x->ndim - 1] != w->shape[1])
        return ld_fail(ctx, "linear: input %s does not match weight %s (want [out, %d])",
                       ld_shape_str(x, sx, sizeof sx), ld_shape_str(w, sw, sizeof sw),
                       x->ndim > 0 ? x->shape[x->ndim - 1] : 0);
    if (b && (b->ndim != 1 || b->shape[0] != w->shape[0]))
        return ld_fail(ctx, "linear: bias %s does not match weight %s (want [%d])",
                       ld_shape_str(b, sb, sizeof sb), ld_shape_str(w, sw, sizeof sw),
                       w->shape[0]);
    if (!valid_activation(act))
        return ld_fail(ctx, "linear: unsupported activation (kind %d, slope %g)", (int)act.kind,
                       (double)act.slope);
    int shape[LD_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = w->shape[0];
    ld_tensor *y = ld_tensor_new(ctx, x->ndim, shape);
    if (!y)
        return NULL;
    size_t in = (size_t)w->shape[1], out = (size_t)w->shape[0], rows = x->numel / in;
    product(ctx, 1, 0, 1, rows, out, in, x->data, w->data, y->data, 0);
    if (b || act.kind != LD_ACT_NONE)
        KERNELS(ctx)->bias_act_forward(y->data, b ? b->data : NULL, rows, out, act);
    ld_tensor *ins[3] = {x, w, b};
    if (ld_needs_grad(ctx, 3, ins)) {
        y->requires_grad = 1;
        linear_rec *r = ld_tape_record(ctx, linear_backward, sizeof *r);
        if (!r)
            return NULL;
        *r = (linear_rec){x, w, b, y, act, rows, in, out};
    }
    return y;
}

/* ---- matmul ---------------------------------------------------------------- */

typedef struct matmul_rec {
    ld_tensor *a, *b, *y;
    int trans_a, trans_b;
    size_t batch, m, n, k;
} matmul_rec;

static void matmul_backward(ld_ctx *ctx, void *rec)
{
    matmul_rec *r = rec;
    if (!r->y->grad)
        return;
    const float *dy = r->y->grad;
    size_t m = r->m, n = r->n, k = r->k;
    int accumulate;
    if (r->a->requires_grad) {
        float *da = ld_grad_dest(ctx, r->a, &accumulate);
        if (!da)
            return;
        if (r->trans_a) /* da [K, M] = op(b) dy^T */
            product(ctx, r->batch, r->trans_b, 1, k, m, n, r->b->data, dy, da, accumulate);
        else /* da [M, K] = dy op(b)^T */
            product(ctx, r->batch, 0, !r->trans_b, m, k, n, dy, r->b->data, da, accumulate);
    }
    if (r->b->requires_grad) {
        float *db = ld_grad_dest(ctx, r->b, &accumulate);
        if (!db)
            return;
        if (r->trans_b) /* db [N, K] = dy^T op(a) */
            product(ctx, r->batch, 1, r->trans_a, n, k, m, dy, r->a->data, db, accumulate);
        else /* db [K, N] = op(a)^T dy */
            product(ctx, r->batch, !r->trans_a, 0, k, n, m, r->a->data, dy, db, accumulate);
    }
}

ld_tensor *ld_matmul(ld_ctx *ctx, ld_tensor *a, ld_tensor *b, int trans_a, int trans_b)
{
    if (ld_require_nchw(ctx, "matmul", 2, (ld_tensor *[]){a, b}))
        return NULL;
    if (!a || !b)
        return NULL;
    char sa[96], sb[96];
    int nd = a->ndim;
    int same_batch = nd >= 2 && b->ndim == nd;
    for (int i = 0; same_batch && i < nd - 2; i++)
        same_batch = a->shape[i] == b->shape[i];
    if (!same_batch)
        return ld_fail(ctx, "matmul: %s and %s need the same batch dimensions and rank >= 2",
                       ld_shape_str(a, sa, sizeof sa), ld_shape_str(b, sb, sizeof sb));
    int m = a->shape[nd - (trans_a ? 1 : 2)], k = a->shape[nd - (trans_a ? 2 : 1)];
    int kb = b->shape[nd - (trans_b ? 1 : 2)], n = b->shape[nd - (trans_b ? 2 : 1)];
    if (k != kb)
        return ld_fail(ctx, "matmul: inner dimensions differ: a %s%s has %d, b %s%s has %d",
                       ld_shape_str(a, sa, sizeof sa), trans_a ? " (transposed)" : "", k,
                       ld_shape_str(b, sb, sizeof sb), trans_b ? " (transposed)" : "", kb);
    int shape[LD_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[nd - 2] = m;
    shape[nd - 1] = n;
    ld_tensor *y = ld_tensor_new(ctx, nd, shape);
    if (!y)
        return NULL;
    size_t batch = ld_shape_numel(nd - 2, a->shape);
    product(ctx, batch, trans_a, trans_b, (size_t)m, (size_t)n, (size_t)k, a->data, b->data,
            y->data, 0);
    ld_tensor *ins[2] = {a, b};
    if (ld_needs_grad(ctx, 2, ins)) {
        y->requires_grad = 1;
        matmul_rec *r = ld_tape_record(ctx, matmul_backward, sizeof *r);
        if (!r)
            return NULL;
        *r = (matmul_rec){a, b, y, trans_a, trans_b, batch, (size_t)m, (size_t)n, (size_t)k};
    }
    return y;
}
