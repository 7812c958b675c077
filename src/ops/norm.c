/* Batch norm and layer norm, forward and backward side by side. See
 * norm.h. */
#include "ops/norm.h"

#include "engine/backend.h"
#include "ops/act.h"

#define KERNELS(ctx) ((ctx)->backend->norm)

/* 0 when t is [len]; otherwise fails naming the op, the tensor and x. */
static int check_vector(ld_ctx *ctx, const char *op, const char *name, const ld_tensor *t,
                        int len, const ld_tensor *x)
{
    if (t->ndim == 1 && t->shape[0] == len)
        return 0;
    char st[96], sx[96];
    ld_fail(ctx, "%s: %s has shape %s, needs [%d] for x %s", op, name,
            ld_shape_str(t, st, sizeof st), len, ld_shape_str(x, sx, sizeof sx));
    return -1;
}

/* Gradient destinations of x, gamma and beta for an overwriting backward. */
static int begin_grads(ld_ctx *ctx, ld_grad_out g[3], ld_tensor *x, ld_tensor *gamma,
                       ld_tensor *beta)
{
    ld_tensor *ins[3] = {x, gamma, beta};
    return ld_grad_outs_begin(ctx, 3, g, ins);
}

static void finish_grads(ld_ctx *ctx, const ld_grad_out g[3])
{
    for (int i = 0; i < 3; i++)
        ld_grad_out_finish(ctx, &g[i]);
}

/* ---- batch norm ------------------------------------------------------------ */

typedef struct batchnorm_rec {
    ld_tensor *x, *gamma, *beta, *y;
    const float *mean, *var; /* the statistics the forward used */
    int global_stats;
    ld_batchnorm_shape shape;
} batchnorm_rec;

static void batchnorm_backward(ld_ctx *ctx, void *rec)
{
    batchnorm_rec *r = rec;
    if (!r->y->grad)
        return;
    ld_grad_out g[3];
    if (begin_grads(ctx, g, r->x, r->gamma, r->beta))
        return;
    if (KERNELS(ctx)->batchnorm_backward(g[0].buf, g[1].buf, g[2].buf, r->y->grad, r->x->data,
                                         r->gamma->data, r->mean, r->var, r->global_stats,
                                         &r->shape)) {
        char s[96];
        ld_fail(ctx, "batchnorm backward: the backend failed on x %s",
                ld_shape_str(r->x, s, sizeof s));
        return;
    }
    finish_grads(ctx, g);
}

ld_tensor *ld_batchnorm(ld_ctx *ctx, ld_tensor *x, ld_tensor *gamma, ld_tensor *beta,
                        ld_tensor *running_mean, ld_tensor *running_var, float momentum,
                        float eps)
{
    if (ld_require_nchw(ctx, "batchnorm", 1, (ld_tensor *[]){x}))
        return NULL;
    if (!x || !gamma || !beta || !running_mean || !running_var)
        return NULL;
    char s[96];
    if (x->ndim < 2)
        return ld_fail(ctx, "batchnorm: x must be [N, C, ...], got %s",
                       ld_shape_str(x, s, sizeof s));
    int c = x->shape[1];
    if (check_vector(ctx, "batchnorm", "gamma", gamma, c, x) ||
        check_vector(ctx, "batchnorm", "beta", beta, c, x) ||
        check_vector(ctx, "batchnorm", "running_mean", running_mean, c, x) ||
        check_vector(ctx, "batchnorm", "running_var", running_var, c, x))
        return NULL;
    if (!(momentum >= 0.0f && momentum <= 1.0f) || !(eps >= 0.0f))
        return ld_fail(ctx, "batchnorm: momentum %g must be in [0, 1] and eps %g >= 0",
                       (double)momentum, (double)eps);
    ld_batchnorm_shape shape = {x->shape[0], c, x->numel / ((size_t)x->shape[0] * (size_t)c),
                                eps};
    if (ctx->training && (size_t)shape.n * shape.spatial < 2)
        return ld_fail(ctx, "batchnorm: training needs more than one value per channel, x is %s",
                       ld_shape_str(x, s, sizeof s));
    ld_tensor *y = ld_tensor_like(ctx, x);
    if (!y)
        return NULL;
    ld_tensor *ins[3] = {x, gamma, beta};
    int grad = ld_needs_grad(ctx, 3, ins);
    const float *mean = running_mean->data, *var = running_var->data;
    int failed;
    if (ctx->training) {
        /* the batch statistics: kept for the backward, else needed only
         * while the kernel runs */
        size_t bytes = 2 * (size_t)c * sizeof(float);
        float *batch = grad ? ld_alloc(ctx, bytes) : ld_scratch(ctx, bytes);
        if (!batch)
            return NULL;
        failed = KERNELS(ctx)->batchnorm_train_forward(y->data, batch, batch + c,
                                                       running_mean->data, running_var->data,
                                                       x->data, gamma->data, beta->data,
                                                       momentum, &shape);
        mean = batch;
        var = batch + c;
    } else {
        failed = KERNELS(ctx)->batchnorm_eval_forward(y->data, x->data, gamma->data, beta->data,
                                                      mean, var, &shape);
    }
    if (failed)
        return ld_fail(ctx, "batchnorm: the backend failed on x %s",
                       ld_shape_str(x, s, sizeof s));
    if (grad) {
        y->requires_grad = 1;
        batchnorm_rec *r = ld_tape_record(ctx, batchnorm_backward, sizeof *r);
        if (!r)
            return NULL;
        *r = (batchnorm_rec){x, gamma, beta, y, mean, var, !ctx->training, shape};
    }
    return y;
}

/* ---- layer norm ------------------------------------------------------------ */

typedef struct layernorm_rec {
    ld_tensor *x, *gamma, *beta, *y;
    const float *mean, *var; /* per row */
    size_t rows;
    int d;
    float eps;
} layernorm_rec;

static void layernorm_backward(ld_ctx *ctx, void *rec)
{
    layernorm_rec *r = rec;
    if (!r->y->grad)
        return;
    ld_grad_out g[3];
    if (begin_grads(ctx, g, r->x, r->gamma, r->beta))
        return;
    if (KERNELS(ctx)->layernorm_backward(g[0].buf, g[1].buf, g[2].buf, r->y->grad, r->x->data,
                                         r->gamma->data, r->mean, r->var, r->rows, r->d,
                                         r->eps)) {
        char s[96];
        ld_fail(ctx, "layernorm backward: the backend failed on x %s",
                ld_shape_str(r->x, s, sizeof s));
        return;
    }
    finish_grads(ctx, g);
}

ld_tensor *ld_layernorm(ld_ctx *ctx, ld_tensor *x, ld_tensor *gamma, ld_tensor *beta, float eps)
{
    if (ld_require_nchw(ctx, "layernorm", 1, (ld_tensor *[]){x}))
        return NULL;
    if (!x || !gamma || !beta)
        return NULL;
    int d = x->shape[x->ndim - 1];
    if (check_vector(ctx, "layernorm", "gamma", gamma, d, x) ||
        check_vector(ctx, "layernorm", "beta", beta, d, x))
        return NULL;
    if (!(eps >= 0.0f))
        return ld_fail(ctx, "layernorm: eps %g must be >= 0", (double)eps);
    size_t rows = x->numel / (size_t)d;
    ld_tensor *y = ld_tensor_like(ctx, x);
    if (!y)
        return NULL;
    ld_tensor *ins[3] = {x, gamma, beta};
    int grad = ld_needs_grad(ctx, 3, ins);
    float *stats = NULL; /* mean and variance per row, kept for the backward */
    if (grad && !(stats = ld_alloc(ctx, 2 * rows * sizeof(float))))
        return NULL;
    if (KERNELS(ctx)->layernorm_forward(y->data, stats, stats ? stats + rows : NULL, x->data,
                                        gamma->data, beta->data, rows, d, eps)) {
        char s[96];
        return ld_fail(ctx, "layernorm: the backend failed on x %s",
                       ld_shape_str(x, s, sizeof s));
    }
    if (grad) {
        y->requires_grad = 1;
        layernorm_rec *r = ld_tape_record(ctx, layernorm_backward, sizeof *r);
        if (!r)
            return NULL;
        *r = (layernorm_rec){x, gamma, beta, y, stats, stats + rows, rows, d, eps};
    }
    return y;
}
