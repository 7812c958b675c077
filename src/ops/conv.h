/* 2-D convolution and transposed convolution (PyTorch semantics and weight
 * layouts) with the bias and an activation fused into the forward.
 *
 * conv2d: x [N, Cin, H, W], w [Cout, Cin, k, k], b [Cout] or NULL,
 *   y [N, Cout, (H + 2 pad - k) / stride + 1, (W + 2 pad - k) / stride + 1]
 *   (floor division, like torch.nn.functional.conv2d).
 * conv_transpose2d: x [N, Cin, H, W], w [Cin, Cout, k, k], b [Cout] or NULL,
 *   y [N, Cout, (H - 1) stride - 2 pad + k, (W - 1) stride - 2 pad + k]
 *   (torch.nn.functional.conv_transpose2d without output padding).
 * Gradients reach x, w and b (those with requires_grad). The activation's
 * backward reads its mask from the stored output, so a leaky ReLU needs a
 * slope >= 0.
 *
 * Layouts: x may be NCHW or channel-blocked (ld_tensor.block), and opts.block
 * picks y's. oneDNN's convolution kernels work in the blocked layout
 * (nChw8c with AVX2, nChw16c with AVX-512); a network that keeps its
 * activations in it between convolutions (and through pooling, resize and
 * concat, which take it too) skips two layout copies per convolution in the
 * forward and two in the backward. ld_to_block moves a tensor between
 * layouts at the edges.
 *
 * Precision: with ctx->conv_precision = LD_PRECISION_BF16 the convolutions
 * that oneDNN runs round x and w (dy and w, x and dy in the backward) to
 * bfloat16 and sum in float32; tensors, outputs and gradients stay float32.
 * The direct loops for fewer than 4 output channels stay float32. Where
 * the backend has no fast bfloat16 products (ld_conv_has_bf16) the op fails
 * instead of running emulated kernels many times slower than float32. */
#ifndef LD_OPS_CONV_H
#define LD_OPS_CONV_H

#include <stddef.h>

#include "engine/error.h"
#include "engine/tensor.h"
#include "ops/act.h"

/* stride 0 is read as 1, so (ld_conv_opts){.pad = 1} is a padded stride-1
 * convolution without activation. */
typedef struct ld_conv_opts {
    int stride;
    int pad;           /* zero padding on every side */
    ld_activation act; /* LD_NO_ACT, LD_RELU or LD_LEAKY(slope >= 0) */
    int block;         /* y's layout: 0 NCHW, 8 or 16 channel-blocked (Cout a multiple) */
} ld_conv_opts;

/* One convolution problem, as the kernels see it (also their cache key). */
typedef struct ld_conv_problem {
    int transposed;   /* 0: conv2d, w [cout, cin, k, k]; 1: transposed, w [cin, cout, k, k] */
    int n, cin, h, w; /* x */
    int cout, k;
    int stride, pad;
    int oh, ow;       /* y [n, cout, oh, ow] */
    int has_bias;
    ld_activation act;
    int x_block, y_block; /* layouts of x (and dx), y (and dy): 0 NCHW, else the block */
    int bf16;             /* products of bfloat16-rounded operands (LD_PRECISION_BF16) */
} ld_conv_problem;

/* A convolution's two passes. */
typedef enum {
    LD_CONV_FORWARD,  /* y = act(conv(x, w) + b) */
    LD_CONV_BACKWARD, /* dz = dy * act'(y), then dx from dz and w, dw and db from dz and x */
} ld_conv_pass;

/* The backward's operands: what it reads, and the gradients it writes
 * (NULL: not wanted; db is ignored without bias), each overwritten
 * (*_add = 0) or added into (*_add = 1, ld_grad_dest's flag). */
typedef struct ld_conv_grads {
    const float *dy, *y, *x, *w;
    float *dx, *dw, *db;
    int dx_add, dw_add, db_add;
} ld_conv_grads;

/* Kernels on raw pointers; each returns 0, or -1 with a message in err.
 * Every pass needs `scratch` of scratch_bytes(pass) bytes, which the op
 * allocates. */
struct ld_conv_kernels {
    int (*scratch_bytes)(const ld_conv_problem *p, ld_conv_pass pass, size_t *bytes,
                         ld_err *err);
    int (*forward)(const ld_conv_problem *p, float *y, const float *x, const float *w,
                   const float *b, void *scratch, ld_err *err);
    int (*backward)(const ld_conv_problem *p, const ld_conv_grads *g, void *scratch,
                    ld_err *err);
    /* dst = src (dst += src with add) for n images of c channels of `plane`
     * pixels, between layouts (0 NCHW, else the block; c a multiple) */
    void (*relayout)(float *dst, int dst_block, const float *src, int src_block, int n, int c,
                     size_t plane, int add);
    /* the channel block the convolutions run in without layout copies (0: NCHW) */
    int (*preferred_block)(void);
    /* 1 when problems with bf16 set run on fast hardware bfloat16 products (AMX) */
    int (*has_bf16)(void);
};

ld_tensor *ld_conv2d(ld_ctx *ctx, ld_tensor *x, ld_tensor *w, ld_tensor *b, ld_conv_opts opts);
ld_tensor *ld_conv_transpose2d(ld_ctx *ctx, ld_tensor *x, ld_tensor *w, ld_tensor *b,
                               ld_conv_opts opts);
/* x [N, C, H, W] in layout `block` (0 NCHW, 8 or 16 with C a multiple of
 * it); x itself when it is already. Gradient to x. */
ld_tensor *ld_to_block(ld_ctx *ctx, ld_tensor *x, int block);
/* The layout for activations of n widths (channel counts) between
 * convolutions: the backend's preferred block when it divides every width,
 * else 0 (NCHW). */
int ld_conv_block_for(const ld_ctx *ctx, int n, const int *widths);
/* 1 when ctx's backend runs LD_PRECISION_BF16 convolutions on fast hardware. */
int ld_conv_has_bf16(const ld_ctx *ctx);

#endif
