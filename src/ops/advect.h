/* Semi-Lagrangian advection of an image-shaped tensor by a velocity field:
 * one step of dz/dt + v . grad z = 0,
 *     out(p) = bilinear(z, p - dt * v(p))
 * at every pixel p = (col, row), the sample position clamped to
 * [0, W-1] x [0, H-1] (border replicate). v[:, 0] is the x (column) and
 * v[:, 1] the y (row) velocity in pixels per unit time.
 *
 * Equal, forward and backward, to torch.nn.functional.grid_sample(z, grid,
 * mode='bilinear', padding_mode='border', align_corners=True) with
 * grid[..., 0] = 2 (col - dt vx) / (W - 1) - 1 and
 * grid[..., 1] = 2 (row - dt vy) / (H - 1) - 1: in particular a sample
 * position clamped to the border, or lying exactly on it, passes no gradient
 * to that velocity component, and along an axis of size 1 the sample is
 * always at 0. */
#ifndef LD_OPS_ADVECT_H
#define LD_OPS_ADVECT_H

#include "engine/tensor.h"

/* Kernels; z and y are [n, c, h, w]. v holds n fields of [2, h, w], field b
 * starting at v + b * v_batch_stride (2 h w for a plain [n, 2, h, w]).
 * The backward ADDS into dz and dv (either may be NULL: not wanted); its
 * result does not depend on the thread count. */
struct ld_advect_kernels {
    void (*forward)(float *y, const float *z, const float *v, size_t v_batch_stride, float dt,
                    int n, int c, int h, int w);
    void (*backward)(const float *dy, const float *z, const float *v, size_t v_batch_stride,
                     float dt, float *dz, float *dv, int n, int c, int h, int w);
};

/* One step: z [N, C, H, W], v [N, 2, H, W]; gradients to z and v. */
ld_tensor *ld_advect(ld_ctx *ctx, ld_tensor *z, ld_tensor *v, float dt);

/* `steps` steps for inference, not recorded on the tape. v is [N, 2, H, W]
 * (the same field every step) or [N, 2 * steps, H, W] (step k uses channels
 * 2k and 2k + 1). When `states` is not NULL it receives the state after each
 * step (states[steps - 1] is the result). */
ld_tensor *ld_advect_steps(ld_ctx *ctx, ld_tensor *z, ld_tensor *v, float dt, int steps,
                           ld_tensor **states);

#endif
