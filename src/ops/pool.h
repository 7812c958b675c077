/* Pooling: 2-D max pooling without padding (PyTorch semantics: the output
 * size rounds down, so a 7x5 image pooled 2x2 stride 2 gives 3x2).
 *
 * maxpool2d: x [N, C, H, W] -> y [N, C, (H - k) / stride + 1, (W - k) / stride + 1].
 * The forward leaves a workspace (where each maximum came from) in the arena
 * for the backward, which sends dy to those places. y takes x's layout
 * (NCHW or channel-blocked, ld_tensor.block). */
#ifndef LD_OPS_POOL_H
#define LD_OPS_POOL_H

#include <stddef.h>

#include "engine/error.h"
#include "engine/tensor.h"

/* One pooling problem, as the kernels see it (also their cache key). */
typedef struct ld_pool_problem {
    int n, c, h, w; /* x */
    int k, stride;  /* k x k window */
    int oh, ow;     /* y [n, c, oh, ow] */
    int block;      /* layout of x, y and their gradients (ld_tensor.block) */
} ld_pool_problem;

typedef enum { LD_POOL_FORWARD, LD_POOL_BACKWARD } ld_pool_pass;

/* Kernels on raw pointers; each returns 0, or -1 with a message in err.
 * The op allocates the workspace (kept from forward to backward) and each
 * pass's scratch at the sizes these report. The backward overwrites dx
 * (add = 0) or adds into it (add = 1). */
struct ld_pool_kernels {
    int (*maxpool_workspace_bytes)(const ld_pool_problem *p, size_t *bytes, ld_err *err);
    int (*maxpool_scratch_bytes)(const ld_pool_problem *p, ld_pool_pass pass, size_t *bytes,
                                 ld_err *err);
    int (*maxpool_forward)(const ld_pool_problem *p, float *y, const float *x, void *workspace,
                           void *scratch, ld_err *err);
    int (*maxpool_backward)(const ld_pool_problem *p, float *dx, int add, const float *dy,
                            const void *workspace, void *scratch, ld_err *err);
};

/* k x k windows every `stride` pixels (stride 0 is read as k). */
ld_tensor *ld_maxpool2d(ld_ctx *ctx, ld_tensor *x, int k, int stride);

#endif
