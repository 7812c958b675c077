/* Resizing of NCHW images to any output size, up or down, PyTorch
 * semantics:
 *   LD_RESIZE_NEAREST   F.interpolate(mode='nearest'): output pixel o takes
 *                       input pixel min(floor(o * in / out), in - 1) (not
 *                       'nearest-exact'; with an exact factor of 2 up, o / 2)
 *   LD_RESIZE_BILINEAR  F.interpolate(mode='bilinear', align_corners=False):
 *                       half-pixel centres, no antialiasing when shrinking */
#ifndef LD_OPS_RESIZE_H
#define LD_OPS_RESIZE_H

#include "engine/tensor.h"

typedef enum { LD_RESIZE_NEAREST, LD_RESIZE_BILINEAR } ld_resize_mode;

/* x [n, c, in_h, in_w] -> y [n, c, out_h, out_w], both (and their
 * gradients) in layout `block` (ld_tensor.block: 0 NCHW, else channel-blocked) */
typedef struct ld_resize_shape {
    int n, c, in_h, in_w, out_h, out_w;
    int block;
} ld_resize_shape;

/* Kernels; return 0, or -1 when the backend fails. Each call needs
 * `scratch` of scratch_bytes(s) bytes (LD_ALIGN-aligned), which the op
 * takes from ld_scratch, so no call allocates. */
struct ld_resize_kernels {
    size_t (*scratch_bytes)(const ld_resize_shape *s);
    int (*forward)(float *y, const float *x, ld_resize_mode mode, const ld_resize_shape *s,
                   void *scratch);
    /* dx from dy: added into dx when add, else overwriting it */
    int (*backward)(float *dx, int add, const float *dy, ld_resize_mode mode,
                    const ld_resize_shape *s, void *scratch);
};

/* x [N, C, H, W] -> [N, C, out_h, out_w] in x's layout (NCHW or
 * channel-blocked); returns x itself when the size is unchanged. Gradient
 * to x. */
ld_tensor *ld_resize(ld_ctx *ctx, ld_tensor *x, int out_h, int out_w, ld_resize_mode mode);
/* Twice the height and width (F.interpolate(scale_factor=2)). */
ld_tensor *ld_resize2x(ld_ctx *ctx, ld_tensor *x, ld_resize_mode mode);

#endif
