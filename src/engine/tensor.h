/* Tensors: float32 arrays with a shape (NCHW for images), an optional
 * gradient buffer, and the per-step context in which ops run.
 *
 * A tensor made during a step lives in the context's arena and is gone at
 * ld_ctx_reset. Parameters are views into the flat parameter buffer (see
 * params.h) and outlive steps. Ops take and return `ld_tensor *`; on error an
 * op returns NULL and stores a message in ctx->err, and an op given a NULL
 * input returns NULL at once, so a forward pass can be checked once at its
 * end. */
#ifndef LD_TENSOR_H
#define LD_TENSOR_H

#include <stddef.h>
#include <stdint.h>

#include "engine/arena.h"
#include "engine/compiler.h"
#include "engine/error.h"
#include "engine/rng.h"

#define LD_MAX_DIMS 6

typedef struct ld_tensor {
    float *data;
    float *grad;        /* NULL until a gradient reaches it */
    int ndim;
    int shape[LD_MAX_DIMS];
    size_t numel;
    int requires_grad;  /* gradients flow to (or through) this tensor */
    int block;          /* layout of a 4-D tensor's data (its gradient's too): 0 NCHW
                         * (every op's); b > 1 channel-blocked [N, C/b, H, W, b]
                         * (oneDNN's nChw8c, nChw16c; C a multiple of b), which only
                         * the convolution family, pooling, resize and concat take:
                         * see ld_to_block in ops/conv.h */
} ld_tensor;

struct ld_backend;
struct ld_ctx;

/* The arithmetic of the convolutions' products (ld_ctx.conv_precision):
 * float32 (the default), or bfloat16 inputs and weights with float32 sums
 * and outputs (like PyTorch's CPU autocast to bfloat16): faster where the
 * CPU multiplies bfloat16 on AMX tiles, with about 3 significant digits
 * per operand. See ops/conv.h. */
typedef enum { LD_PRECISION_F32, LD_PRECISION_BF16 } ld_precision;

/* Replays one recorded op backwards: reads the output gradient(s) and adds
 * into the input gradients. `rec` is what the forward stored. */
typedef void (*ld_backward_fn)(struct ld_ctx *ctx, void *rec);

typedef struct ld_tape_entry {
    ld_backward_fn backward;
    void *rec;
} ld_tape_entry;

typedef struct ld_ctx {
    ld_arena arena;
    const struct ld_backend *backend;
    ld_rng rng;            /* dropout, sampling */
    int training;          /* batch-norm batch statistics, dropout active */
    int recording;         /* ops record their backward on the tape */
    ld_precision conv_precision; /* LD_PRECISION_F32 unless set (ops/conv.h) */
    ld_tape_entry *tape;   /* grows, kept across resets */
    size_t tape_len, tape_cap;
    void *scratch;         /* see ld_scratch; kept across steps */
    size_t scratch_bytes;
    ld_err err;
    int failed;
} ld_ctx;

int ld_ctx_init(ld_ctx *ctx, const struct ld_backend *backend, uint64_t seed);
void ld_ctx_free(ld_ctx *ctx);
/* Forgets every tensor and tape entry of the step; keeps the memory. */
void ld_ctx_reset(ld_ctx *ctx);
/* Records an error (first one wins) and returns NULL. */
void *ld_fail(ld_ctx *ctx, const char *fmt, ...) LD_PRINTF(2, 3);

/* Arena memory for the current step (NULL and an error when out of memory). */
void *ld_alloc(ld_ctx *ctx, size_t bytes);
/* Temporary memory for one kernel call: valid until the next ld_scratch
 * call, shared by all ops (they run one at a time), grown as needed and
 * kept across steps. For what a kernel needs only while it runs (oneDNN's
 * reordered copies and scratchpad), so it does not pile up in the arena. */
void *ld_scratch(ld_ctx *ctx, size_t bytes);

ld_tensor *ld_tensor_new(ld_ctx *ctx, int ndim, const int *shape);
ld_tensor *ld_tensor_zeros(ld_ctx *ctx, int ndim, const int *shape);
ld_tensor *ld_tensor_4d(ld_ctx *ctx, int n, int c, int h, int w);
/* A tensor in the arena with t's shape. */
ld_tensor *ld_tensor_like(ld_ctx *ctx, const ld_tensor *t);
/* A view of `data` (not copied) as a tensor without gradient. */
ld_tensor *ld_tensor_wrap(ld_ctx *ctx, float *data, int ndim, const int *shape);
/* Same data and gradient, another shape with the same element count. */
ld_tensor *ld_reshape(ld_ctx *ctx, ld_tensor *t, int ndim, const int *shape);

/* Heap tensors for long-lived data (inputs held by tests, datasets).
 * with_grad allocates a zeroed gradient and sets requires_grad. */
ld_tensor *ld_tensor_heap(int ndim, const int *shape, int with_grad);
void ld_tensor_heap_free(ld_tensor *t);

size_t ld_shape_numel(int ndim, const int *shape);
/* 0 when none of the n tensors (NULLs skipped) is channel-blocked; else
 * fails the context naming `op` (for ops that read NCHW only). */
int ld_require_nchw(ld_ctx *ctx, const char *op, int n, ld_tensor *const *ts);
int ld_same_shape(const ld_tensor *a, const ld_tensor *b);
/* "[3, 4, 7, 5]" into buf. */
const char *ld_shape_str(const ld_tensor *t, char *buf, size_t len);

/* Gradient bookkeeping used by ops. */
/* 1 when the context records and any of the n tensors requires a gradient. */
int ld_needs_grad(const ld_ctx *ctx, int n, ld_tensor *const *ts);
/* Appends an entry whose record (rec_bytes, zeroed) the caller fills. */
void *ld_tape_record(ld_ctx *ctx, ld_backward_fn backward, size_t rec_bytes);
/* t's gradient buffer, zero-filled on first use. */
float *ld_grad(ld_ctx *ctx, ld_tensor *t);
/* x[0..n) = 0, by all threads for large n (gradients of megabytes). */
void ld_zero_floats(float *x, size_t n);
/* Where to put an input's gradient: a fresh buffer to overwrite
 * (*accumulate = 0) if t has none yet, else t->grad to add into
 * (*accumulate = 1). Lets ops with beta-style kernels skip a zero fill. */
float *ld_grad_dest(ld_ctx *ctx, ld_tensor *t, int *accumulate);
/* Runs the tape backwards from a scalar loss (its gradient set to 1). */
int ld_backward(ld_ctx *ctx, ld_tensor *loss);
/* Runs the tape backwards with whatever output gradients are already set. */
int ld_tape_replay(ld_ctx *ctx);

#endif
