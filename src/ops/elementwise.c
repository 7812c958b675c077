/* Element-wise ops, reductions, concat and split: forward and backward side
 * by side. See elementwise.h. */
#include "ops/elementwise.h"

#include <string.h>

#include "engine/backend.h"

#define KERNELS(ctx) ((ctx)->backend->elementwise)

/* ---- add / mul with broadcasting ---------------------------------------- */

typedef struct binary_rec {
    ld_binary_op op;
    ld_tensor *a, *b, *y;
    size_t outer, mid, inner;
} binary_rec;

/* Finds outer/mid/inner such that a = [outer, mid, inner] and b = [mid]:
 * aligned to the right, b's dimensions must equal a's over one run and be 1
 * outside it (axes where a is 1 fit either way). */
static int broadcast_layout(const ld_tensor *a, const ld_tensor *b, size_t *outer, size_t *mid,
                            size_t *inner)
{
    int nb = b->ndim, na = a->ndim;
    if (nb > na)
        return -1;
    int first = -1, last = -1; /* axes of a where b varies (b = a > 1) */
    for (int j = 0; j < nb; j++) {
        int ai = na - nb + j;
        if (b->shape[j] != a->shape[ai] && b->shape[j] != 1)
            return -1;
        if (b->shape[j] == a->shape[ai] && a->shape[ai] > 1) {
            if (first < 0)
                first = ai;
            last = ai;
        }
    }
    for (int ai = first; ai >= 0 && ai <= last; ai++) /* no broadcast inside the run */
        if (b->shape[ai - (na - nb)] != a->shape[ai])
            return -1;
    if (first < 0) { /* b is a single value */
        first = na;
        last = na - 1;
    }
    *outer = *mid = *inner = 1;
    for (int i = 0; i < na; i++) {
        size_t d = (size_t)a->shape[i];
        if (i < first)
            *outer *= d;
        else if (i <= last)
            *mid *= d;
        else
            *inner *= d;
    }
    return 0;
}

/* The gradient of a sum passes through unchanged: an input of the output's
 * shape that has no gradient yet takes the output's buffer itself (nothing
 * reads the output's gradient after this op's backward). Returns 1 when
 * the input was served this way. */
static int pass_through(ld_tensor *in, ld_tensor *y)
{
    if (!in->requires_grad || in->grad || in->numel != y->numel)
        return 0;
    in->grad = y->grad;
    return 1;
}

static void binary_backward(ld_ctx *ctx, void *rec)
{
    binary_rec *r = rec;
    if (!r->y->grad)
        return;
    if (r->op == LD_BINARY_ADD && pass_through(r->a, r->y)) {
        /* a took y's gradient; b still needs its own (unless it is a) */
        float *db = r->b->requires_grad && r->b != r->a ? ld_grad(ctx, r->b) : NULL;
        if (db)
            KERNELS(ctx)->binary_backward(r->op, r->y->grad, r->a->data, r->b->data, NULL, db,
                                          r->outer, r->mid, r->inner);
        else if (r->b == r->a)
            KERNELS(ctx)->axpy(r->a->grad, 1.0f, r->a->grad, r->a->numel); /* a + a */
        return;
    }
    float *da = r->a->requires_grad ? ld_grad(ctx, r->a) : NULL;
    float *db = r->b->requires_grad ? ld_grad(ctx, r->b) : NULL;
    if (ctx->failed)
        return;
    KERNELS(ctx)->binary_backward(r->op, r->y->grad, r->a->data, r->b->data, da, db, r->outer,
                                  r->mid, r->inner);
}

static ld_tensor *binary(ld_ctx *ctx, ld_binary_op op, ld_tensor *a, ld_tensor *b)
{
    if (ld_require_nchw(ctx, "element-wise", 2, (ld_tensor *[]){a, b}))
        return NULL;
    if (!a || !b)
        return NULL;
    size_t outer, mid, inner;
    if (broadcast_layout(a, b, &outer, &mid, &inner)) {
        char sa[96], sb[96];
        return ld_fail(ctx, "%s: shape %s does not broadcast to %s",
                       op == LD_BINARY_ADD ? "add" : "mul", ld_shape_str(b, sb, sizeof sb),
                       ld_shape_str(a, sa, sizeof sa));
    }
    ld_tensor *y = ld_tensor_like(ctx, a);
    if (!y)
        return NULL;
    KERNELS(ctx)->binary_forward(op, y->data, a->data, b->data, outer, mid, inner);
    ld_tensor *ins[2] = {a, b};
    if (ld_needs_grad(ctx, 2, ins)) {
        y->requires_grad = 1;
        binary_rec *r = ld_tape_record(ctx, binary_backward, sizeof *r);
        if (!r)
            return NULL;
        *r = (binary_rec){op, a, b, y, outer, mid, inner};
    }
    return y;
}

ld_tensor *ld_add(ld_ctx *ctx, ld_tensor *a, ld_tensor *b) { return binary(ctx, LD_BINARY_ADD, a, b); }
ld_tensor *ld_mul(ld_ctx *ctx, ld_tensor *a, ld_tensor *b) { return binary(ctx, LD_BINARY_MUL, a, b); }

ld_tensor *ld_sub(ld_ctx *ctx, ld_tensor *a, ld_tensor *b)
{
    return ld_add(ctx, a, ld_scale(ctx, b, -1.0f, 0.0f));
}

/* ---- scale ----------------------------------------------------------------- */

typedef struct scale_rec {
    ld_tensor *x, *y;
    float alpha;
} scale_rec;

static void scale_backward(ld_ctx *ctx, void *rec)
{
    scale_rec *r = rec;
    if (!r->y->grad || !r->x->requires_grad)
        return;
    float *dx = ld_grad(ctx, r->x);
    if (dx)
        KERNELS(ctx)->axpy(dx, r->alpha, r->y->grad, r->x->numel);
}

ld_tensor *ld_scale(ld_ctx *ctx, ld_tensor *x, float alpha, float beta)
{
    if (ld_require_nchw(ctx, "scale", 1, (ld_tensor *[]){x}))
        return NULL;
    if (!x)
        return NULL;
    ld_tensor *y = ld_tensor_like(ctx, x);
    if (!y)
        return NULL;
    KERNELS(ctx)->affine(y->data, x->data, alpha, beta, x->numel);
    if (ld_needs_grad(ctx, 1, &x)) {
        y->requires_grad = 1;
        scale_rec *r = ld_tape_record(ctx, scale_backward, sizeof *r);
        if (!r)
            return NULL;
        *r = (scale_rec){x, y, alpha};
    }
    return y;
}

/* ---- reductions ------------------------------------------------------------ */

typedef struct reduce_rec {
    ld_tensor *x, *y;
    float scale;
    size_t outer, n, inner;
} reduce_rec;

static void reduce_backward(ld_ctx *ctx, void *rec)
{
    reduce_rec *r = rec;
    if (!r->y->grad || !r->x->requires_grad)
        return;
    float *dx = ld_grad(ctx, r->x);
    if (dx)
        KERNELS(ctx)->expand_axis(dx, r->y->grad, r->scale, r->outer, r->n, r->inner);
}

static ld_tensor *reduce(ld_ctx *ctx, ld_tensor *x, size_t outer, size_t n, size_t inner,
                         float scale, int ndim, const int *shape)
{
    if (ld_require_nchw(ctx, "reduce", 1, (ld_tensor *[]){x}))
        return NULL;
    ld_tensor *y = ld_tensor_new(ctx, ndim, shape);
    if (!y)
        return NULL;
    KERNELS(ctx)->reduce_axis(y->data, x->data, scale, outer, n, inner);
    if (ld_needs_grad(ctx, 1, &x)) {
        y->requires_grad = 1;
        reduce_rec *r = ld_tape_record(ctx, reduce_backward, sizeof *r);
        if (!r)
            return NULL;
        *r = (reduce_rec){x, y, scale, outer, n, inner};
    }
    return y;
}

static const int scalar_shape[1] = {1};

ld_tensor *ld_sum(ld_ctx *ctx, ld_tensor *x)
{
    return x ? reduce(ctx, x, 1, x->numel, 1, 1.0f, 1, scalar_shape) : NULL;
}

ld_tensor *ld_mean(ld_ctx *ctx, ld_tensor *x)
{
    return x ? reduce(ctx, x, 1, x->numel, 1, 1.0f / (float)x->numel, 1, scalar_shape) : NULL;
}

/* outer / n / inner around one axis; -1 when the axis is out of range. */
static int axis_layout(const ld_tensor *x, int *axis, size_t *outer, size_t *n, size_t *inner)
{
    if (*axis < 0)
        *axis += x->ndim;
    if (*axis < 0 || *axis >= x->ndim)
        return -1;
    *outer = *inner = 1;
    for (int i = 0; i < *axis; i++)
        *outer *= (size_t)x->shape[i];
    for (int i = *axis + 1; i < x->ndim; i++)
        *inner *= (size_t)x->shape[i];
    *n = (size_t)x->shape[*axis];
    return 0;
}

static ld_tensor *reduce_axis(ld_ctx *ctx, ld_tensor *x, int axis, int mean)
{
    if (!x)
        return NULL;
    size_t outer, n, inner;
    if (axis_layout(x, &axis, &outer, &n, &inner))
        return ld_fail(ctx, "reduce: axis out of range for a rank-%d tensor", x->ndim);
    int shape[LD_MAX_DIMS], ndim = 0;
    for (int i = 0; i < x->ndim; i++)
        if (i != axis)
            shape[ndim++] = x->shape[i];
    if (ndim == 0)
        shape[ndim++] = 1;
    return reduce(ctx, x, outer, n, inner, mean ? 1.0f / (float)n : 1.0f, ndim, shape);
}

ld_tensor *ld_sum_axis(ld_ctx *ctx, ld_tensor *x, int axis) { return reduce_axis(ctx, x, axis, 0); }
ld_tensor *ld_mean_axis(ld_ctx *ctx, ld_tensor *x, int axis) { return reduce_axis(ctx, x, axis, 1); }

/* ---- concat / slice / split ------------------------------------------------ */

/* One part of a concatenation: rows of part_cols inside rows of whole_cols. */
typedef struct part_rec {
    ld_tensor *part, *whole;
    size_t rows, part_cols, whole_cols, col0;
    int part_is_input; /* concat: part -> whole; slice: whole -> part */
} part_rec;

static void part_backward(ld_ctx *ctx, void *rec)
{
    part_rec *r = rec;
    ld_tensor *in = r->part_is_input ? r->part : r->whole;
    ld_tensor *out = r->part_is_input ? r->whole : r->part;
    if (!out->grad || !in->requires_grad)
        return;
    if (r->part_is_input) { /* the part's gradient is all in the whole's: overwrite if fresh */
        int accumulate;
        float *dpart = ld_grad_dest(ctx, in, &accumulate);
        if (dpart)
            KERNELS(ctx)->copy_rows(dpart, r->part_cols, out->grad + r->col0, r->whole_cols,
                                    r->rows, r->part_cols, accumulate);
        return;
    }
    float *dwhole = ld_grad(ctx, in); /* zeros outside the part */
    if (dwhole)
        KERNELS(ctx)->copy_rows(dwhole + r->col0, r->whole_cols, out->grad, r->part_cols,
                                r->rows, r->part_cols, 1);
}

static int record_part(ld_ctx *ctx, ld_tensor *part, ld_tensor *whole, size_t rows,
                       size_t part_cols, size_t whole_cols, size_t col0, int part_is_input)
{
    part_rec *r = ld_tape_record(ctx, part_backward, sizeof *r);
    if (!r)
        return -1;
    *r = (part_rec){part, whole, rows, part_cols, whole_cols, col0, part_is_input};
    return 0;
}

ld_tensor *ld_concat(ld_ctx *ctx, ld_tensor *const *xs, int n, int axis)
{
    if (n < 1)
        return ld_fail(ctx, "concat of no tensors");
    for (int k = 0; k < n; k++)
        if (!xs[k])
            return NULL;
    size_t outer, len0, inner;
    if (axis_layout(xs[0], &axis, &outer, &len0, &inner))
        return ld_fail(ctx, "concat: axis out of range for a rank-%d tensor", xs[0]->ndim);
    /* channel-blocked tensors (channels a multiple of the block) concatenate
     * along N or C with the same copies as NCHW ones: each image's blocks of
     * channels follow each other */
    int block = xs[0]->block;
    for (int k = 0; k < n; k++)
        if (xs[k]->block != block || (block > 1 && axis > 1))
            return ld_fail(ctx, "concat: inputs 0 and %d have layout blocks %d and %d (axis %d; "
                                "blocked tensors concatenate along axes 0 and 1 only, in one "
                                "layout)", k, block, xs[k]->block, axis);
    int shape[LD_MAX_DIMS];
    memcpy(shape, xs[0]->shape, sizeof shape);
    shape[axis] = 0;
    for (int k = 0; k < n; k++) {
        int same = xs[k]->ndim == xs[0]->ndim;
        for (int i = 0; same && i < xs[0]->ndim; i++)
            same = i == axis || xs[k]->shape[i] == xs[0]->shape[i];
        if (!same) {
            char s0[96], sk[96];
            return ld_fail(ctx, "concat: shapes %s and %s differ outside axis %d",
                           ld_shape_str(xs[0], s0, sizeof s0), ld_shape_str(xs[k], sk, sizeof sk),
                           axis);
        }
        shape[axis] += xs[k]->shape[axis];
    }
    ld_tensor *y = ld_tensor_new(ctx, xs[0]->ndim, shape);
    if (!y)
        return NULL;
    y->block = block;
    size_t whole_cols = (size_t)shape[axis] * inner, col0 = 0;
    int grad = ld_needs_grad(ctx, n, xs);
    y->requires_grad = grad;
    for (int k = 0; k < n; k++) {
        size_t cols = (size_t)xs[k]->shape[axis] * inner;
        KERNELS(ctx)->copy_rows(y->data + col0, whole_cols, xs[k]->data, cols, outer, cols, 0);
        if (grad && xs[k]->requires_grad &&
            record_part(ctx, xs[k], y, outer, cols, whole_cols, col0, 1))
            return NULL;
        col0 += cols;
    }
    return y;
}

ld_tensor *ld_slice(ld_ctx *ctx, ld_tensor *x, int axis, int start, int len)
{
    if (ld_require_nchw(ctx, "slice", 1, (ld_tensor *[]){x}))
        return NULL;
    if (!x)
        return NULL;
    size_t outer, n, inner;
    if (axis_layout(x, &axis, &outer, &n, &inner))
        return ld_fail(ctx, "slice: axis out of range for a rank-%d tensor", x->ndim);
    if (start < 0 || len < 1 || (size_t)start + (size_t)len > n)
        return ld_fail(ctx, "slice [%d, %d) outside axis %d of size %zu", start, start + len,
                       axis, n);
    int shape[LD_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[axis] = len;
    ld_tensor *y = ld_tensor_new(ctx, x->ndim, shape);
    if (!y)
        return NULL;
    size_t cols = (size_t)len * inner, whole_cols = n * inner, col0 = (size_t)start * inner;
    KERNELS(ctx)->copy_rows(y->data, cols, x->data + col0, whole_cols, outer, cols, 0);
    if (ld_needs_grad(ctx, 1, &x)) {
        y->requires_grad = 1;
        if (record_part(ctx, y, x, outer, cols, whole_cols, col0, 0))
            return NULL;
    }
    return y;
}

int ld_split(ld_ctx *ctx, ld_tensor *x, int axis, int n, const int *sizes, ld_tensor **outs)
{
    if (!x)
        return -1;
    int ax = axis < 0 ? axis + x->ndim : axis;
    if (ax < 0 || ax >= x->ndim) {
        ld_fail(ctx, "split: axis out of range for a rank-%d tensor", x->ndim);
        return -1;
    }
    int total = 0;
    for (int k = 0; k < n; k++)
        total += sizes[k];
    if (total != x->shape[ax]) {
        ld_fail(ctx, "split: sizes add to %d, axis %d has %d", total, ax, x->shape[ax]);
        return -1;
    }
    int start = 0;
    for (int k = 0; k < n; k++) {
        outs[k] = ld_slice(ctx, x, ax, start, sizes[k]);
        if (!outs[k])
            return -1;
        start += sizes[k];
    }
    return 0;
}
