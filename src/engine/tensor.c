/* Tensors, the per-step context and the tape: see tensor.h. */
#include "engine/tensor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ld_ctx_init(ld_ctx *ctx, const struct ld_backend *backend, uint64_t seed)
{
    memset(ctx, 0, sizeof *ctx);
    ld_arena_init(&ctx->arena, 0);
    ctx->backend = backend;
    ld_rng_init(&ctx->rng, seed);
    ctx->recording = 1;
    ctx->training = 1;
    return 0;
}

void ld_ctx_free(ld_ctx *ctx)
{
    ld_arena_free(&ctx->arena);
    free(ctx->scratch);
    ctx->scratch = NULL;
    ctx->scratch_bytes = 0;
    free(ctx->tape);
    ctx->tape = NULL;
    ctx->tape_len = ctx->tape_cap = 0;
}

void ld_ctx_reset(ld_ctx *ctx)
{
    ld_arena_reset(&ctx->arena);
    ctx->tape_len = 0;
    ctx->failed = 0;
    ctx->err.msg[0] = 0;
}

void *ld_fail(ld_ctx *ctx, const char *fmt, ...)
{
    if (!ctx->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ctx->err.msg, sizeof ctx->err.msg, fmt, ap);
        va_end(ap);
        ctx->failed = 1;
    }
    return NULL;
}

void *ld_alloc(ld_ctx *ctx, size_t bytes)
{
    void *p = ld_arena_alloc(&ctx->arena, bytes);
    if (!p)
        return ld_fail(ctx, "out of memory: the arenas hold %zu MiB; growing them for %zu bytes "
                            "more would pass %zu MiB, nine tenths of the memory available (a "
                            "smaller batch or width needs less)",
                       ld_arena_total_bytes() >> 20, bytes, ld_arena_memory_limit() >> 20);
    return p;
}

void *ld_scratch(ld_ctx *ctx, size_t bytes)
{
    if (bytes > ctx->scratch_bytes) {
        size_t size = ld_align_up(bytes);
        void *grown = aligned_alloc(LD_ALIGN, size);
        if (!grown)
            return ld_fail(ctx, "out of memory allocating %zu bytes of scratch", bytes);
        free(ctx->scratch);
        ctx->scratch = grown;
        ctx->scratch_bytes = size;
    }
    return ctx->scratch ? ctx->scratch : ld_scratch(ctx, LD_ALIGN);
}

size_t ld_shape_numel(int ndim, const int *shape)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= (size_t)shape[i];
    return n;
}

int ld_require_nchw(ld_ctx *ctx, const char *op, int n, ld_tensor *const *ts)
{
    for (int i = 0; i < n; i++)
        if (ts[i] && ts[i]->block > 1) {
            ld_fail(ctx, "%s: input %d is in the channel-blocked layout (block %d); it reads "
                         "NCHW only (ld_to_block(ctx, x, 0) first)", op, i, ts[i]->block);
            return -1;
        }
    return 0;
}

static ld_tensor *tensor_header(ld_ctx *ctx, int ndim, const int *shape)
{
    if (ndim < 0 || ndim > LD_MAX_DIMS)
        return ld_fail(ctx, "tensor rank %d outside 0..%d", ndim, LD_MAX_DIMS);
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0)
            return ld_fail(ctx, "tensor dimension %d is %d (must be positive)", i, shape[i]);
    ld_tensor *t = ld_alloc(ctx, sizeof *t);
    if (!t)
        return NULL;
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->numel = ld_shape_numel(ndim, shape);
    return t;
}

ld_tensor *ld_tensor_new(ld_ctx *ctx, int ndim, const int *shape)
{
    ld_tensor *t = tensor_header(ctx, ndim, shape);
    if (!t)
        return NULL;
    t->data = ld_alloc(ctx, t->numel * sizeof(float));
    return t->data ? t : NULL;
}

ld_tensor *ld_tensor_zeros(ld_ctx *ctx, int ndim, const int *shape)
{
    ld_tensor *t = ld_tensor_new(ctx, ndim, shape);
    if (t)
        memset(t->data, 0, t->numel * sizeof(float));
    return t;
}

ld_tensor *ld_tensor_4d(ld_ctx *ctx, int n, int c, int h, int w)
{
    int shape[4] = {n, c, h, w};
    return ld_tensor_new(ctx, 4, shape);
}

ld_tensor *ld_tensor_like(ld_ctx *ctx, const ld_tensor *t)
{
    return t ? ld_tensor_new(ctx, t->ndim, t->shape) : NULL;
}

ld_tensor *ld_tensor_wrap(ld_ctx *ctx, float *data, int ndim, const int *shape)
{
    ld_tensor *t = tensor_header(ctx, ndim, shape);
    if (t)
        t->data = data;
    return t;
}

static void reshape_backward(ld_ctx *ctx, void *rec)
{
    ld_tensor **io = rec; /* io[0] input, io[1] output */
    if (!io[1]->grad)
        return;
    float *g = ld_grad(ctx, io[0]);
    if (!g)
        return;
    for (size_t i = 0; i < io[0]->numel; i++)
        g[i] += io[1]->grad[i];
}

ld_tensor *ld_reshape(ld_ctx *ctx, ld_tensor *t, int ndim, const int *shape)
{
    if (!t)
        return NULL;
    if (ld_require_nchw(ctx, "reshape", 1, &t))
        return NULL;
    if (ld_shape_numel(ndim, shape) != t->numel)
        return ld_fail(ctx, "reshape: %zu elements cannot take a shape of %zu",
                       t->numel, ld_shape_numel(ndim, shape));
    ld_tensor *out = tensor_header(ctx, ndim, shape);
    if (!out)
        return NULL;
    out->data = t->data;
    out->requires_grad = t->requires_grad;
    if (ld_needs_grad(ctx, 1, &t)) {
        /* the output's gradient is its own buffer; backward adds it into the
         * input's, so views never alias gradients that others accumulate */
        ld_tensor **io = ld_tape_record(ctx, reshape_backward, 2 * sizeof *io);
        if (!io)
            return NULL;
        io[0] = t;
        io[1] = out;
    }
    return out;
}

ld_tensor *ld_tensor_heap(int ndim, const int *shape, int with_grad)
{
    ld_tensor *t = calloc(1, sizeof *t);
    if (!t || ndim < 0 || ndim > LD_MAX_DIMS) {
        free(t);
        return NULL;
    }
    t->ndim = ndim;
    memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    t->numel = ld_shape_numel(ndim, shape);
    t->data = calloc(t->numel ? t->numel : 1, sizeof(float));
    if (with_grad) {
        t->grad = calloc(t->numel ? t->numel : 1, sizeof(float));
        t->requires_grad = 1;
    }
    if (!t->data || (with_grad && !t->grad)) {
        ld_tensor_heap_free(t);
        return NULL;
    }
    return t;
}

void ld_tensor_heap_free(ld_tensor *t)
{
    if (!t)
        return;
    free(t->data);
    free(t->grad);
    free(t);
}

int ld_same_shape(const ld_tensor *a, const ld_tensor *b)
{
    if (a->ndim != b->ndim)
        return 0;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i])
            return 0;
    return 1;
}

const char *ld_shape_str(const ld_tensor *t, char *buf, size_t len)
{
    size_t pos = 0;
    pos += (size_t)snprintf(buf + pos, len - pos, "[");
    for (int i = 0; i < t->ndim && pos < len; i++)
        pos += (size_t)snprintf(buf + pos, len - pos, i ? ", %d" : "%d", t->shape[i]);
    if (pos < len)
        snprintf(buf + pos, len - pos, "]");
    return buf;
}

int ld_needs_grad(const ld_ctx *ctx, int n, ld_tensor *const *ts)
{
    if (!ctx->recording)
        return 0;
    for (int i = 0; i < n; i++)
        if (ts[i] && ts[i]->requires_grad)
            return 1;
    return 0;
}

void *ld_tape_record(ld_ctx *ctx, ld_backward_fn backward, size_t rec_bytes)
{
    if (ctx->tape_len == ctx->tape_cap) {
        size_t cap = ctx->tape_cap ? 2 * ctx->tape_cap : 256;
        ld_tape_entry *grown = realloc(ctx->tape, cap * sizeof *grown);
        if (!grown)
            return ld_fail(ctx, "out of memory growing the tape");
        ctx->tape = grown;
        ctx->tape_cap = cap;
    }
    void *rec = ld_alloc(ctx, rec_bytes);
    if (!rec)
        return NULL;
    memset(rec, 0, rec_bytes);
    ctx->tape[ctx->tape_len].backward = backward;
    ctx->tape[ctx->tape_len].rec = rec;
    ctx->tape_len++;
    return rec;
}

#define ZERO_BLOCK ((size_t)1 << 16) /* floats per task of ld_zero_floats */

void ld_zero_floats(float *x, size_t n)
{
    const size_t blocks = (n + ZERO_BLOCK - 1) / ZERO_BLOCK;
#pragma omp parallel for schedule(static) if (blocks > 1)
    for (size_t b = 0; b < blocks; b++) {
        const size_t at = b * ZERO_BLOCK;
        memset(x + at, 0, (n - at < ZERO_BLOCK ? n - at : ZERO_BLOCK) * sizeof *x);
    }
}

float *ld_grad(ld_ctx *ctx, ld_tensor *t)
{
    if (!t->grad) {
        t->grad = ld_alloc(ctx, t->numel * sizeof(float));
        if (t->grad)
            ld_zero_floats(t->grad, t->numel);
    }
    return t->grad;
}

float *ld_grad_dest(ld_ctx *ctx, ld_tensor *t, int *accumulate)
{
    if (t->grad) {
        *accumulate = 1;
        return t->grad;
    }
    *accumulate = 0;
    t->grad = ld_alloc(ctx, t->numel * sizeof(float));
    return t->grad;
}

int ld_backward(ld_ctx *ctx, ld_tensor *loss)
{
    if (!loss || ctx->failed)
        return -1;
    if (loss->numel != 1) {
        ld_fail(ctx, "backward needs a scalar loss, got %zu elements", loss->numel);
        return -1;
    }
    float *g = ld_grad(ctx, loss);
    if (!g)
        return -1;
    g[0] += 1.0f;
    return ld_tape_replay(ctx);
}

int ld_tape_replay(ld_ctx *ctx)
{
    if (ctx->failed)
        return -1;
    for (size_t i = ctx->tape_len; i-- > 0;) {
        ctx->tape[i].backward(ctx, ctx->tape[i].rec);
        if (ctx->failed)
            return -1;
    }
    return 0;
}
