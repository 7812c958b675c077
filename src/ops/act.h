/* Activations: the kind shared by ops that fuse one (conv, linear) and the
 * standalone activation ops (relu, leaky relu, sigmoid, tanh; PyTorch
 * semantics, any shape). Also the gradient destination used by ops whose
 * backward kernels overwrite their outputs (act, resize, norm). */
#ifndef LD_OPS_ACT_H
#define LD_OPS_ACT_H

#include <stddef.h>

#include "engine/tensor.h"

typedef enum {
    LD_ACT_NONE = 0,
    LD_ACT_RELU,
    LD_ACT_LEAKY_RELU, /* slope for x < 0 in `slope` */
    LD_ACT_SIGMOID,
    LD_ACT_TANH,
} ld_act_kind;

typedef struct ld_activation {
    ld_act_kind kind;
    float slope; /* LD_ACT_LEAKY_RELU only */
} ld_activation;

#define LD_NO_ACT ((ld_activation){LD_ACT_NONE, 0.0f})
#define LD_RELU ((ld_activation){LD_ACT_RELU, 0.0f})
#define LD_LEAKY(s) ((ld_activation){LD_ACT_LEAKY_RELU, (s)})

/* Kernels of the standalone activations over n contiguous values; `act` is
 * never LD_ACT_NONE and a leaky slope is >= 0. Return 0, or -1 when the
 * backend fails. */
struct ld_act_kernels {
    /* y = act(x) */
    int (*forward)(float *y, const float *x, size_t n, ld_activation act);
    /* dx = dy * act'(x), computed from the output y alone; OVERWRITES dx */
    int (*backward)(float *dx, const float *dy, const float *y, size_t n, ld_activation act);
};

/* y = act(x), same shape. LD_ACT_NONE returns x itself. Leaky ReLU needs
 * slope >= 0 (the gradient is taken from the output's sign). Gradient to x. */
ld_tensor *ld_activate(ld_ctx *ctx, ld_tensor *x, ld_activation act);
ld_tensor *ld_relu(ld_ctx *ctx, ld_tensor *x);
ld_tensor *ld_leaky_relu(ld_ctx *ctx, ld_tensor *x, float slope);
ld_tensor *ld_sigmoid(ld_ctx *ctx, ld_tensor *x);
ld_tensor *ld_tanh(ld_ctx *ctx, ld_tensor *x);

/* Where a backward kernel that overwrites writes the gradient of input t:
 * t's fresh gradient buffer when it has none yet; otherwise temporary
 * memory (ld_scratch), which ld_grad_out_finish adds into t->grad; also
 * temporary when t wants no gradient (the kernel writes it anyway; it is
 * dropped). The temporary memory lasts until the next ld_scratch call: only
 * the kernel runs between begin and finish, and it must not call it. */
typedef struct ld_grad_out {
    ld_tensor *t;
    float *buf;  /* where the kernel writes (t->numel floats) */
    int pending; /* buf is scratch to add into t->grad */
} ld_grad_out;

/* Fills g for input t; -1 when out of memory (ctx has the error). */
int ld_grad_out_begin(ld_ctx *ctx, ld_grad_out *g, ld_tensor *t);
/* The same for the n inputs ts of one kernel (g[i] for ts[i]), their
 * temporary buffers from one ld_scratch call. */
int ld_grad_outs_begin(ld_ctx *ctx, int n, ld_grad_out *g, ld_tensor *const *ts);
/* After the kernel ran: adds pending scratch into t's gradient. */
void ld_grad_out_finish(ld_ctx *ctx, const ld_grad_out *g);

#endif
