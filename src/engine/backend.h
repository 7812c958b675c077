/* The backend table: the compute kernels behind every op, grouped by op
 * family. Ops (src/ops) check shapes, allocate outputs and record the tape;
 * the kernels they call through this table do the arithmetic on raw device
 * pointers. The CPU backend (src/cpu) fills it from oneDNN, OpenBLAS and
 * OpenMP kernels; a CUDA backend fills the same table, and the networks and
 * models above do not change.
 *
 * Each family's kernel struct is defined in that family's op header
 * (ops/conv.h defines struct ld_conv_kernels, and so on). */
#ifndef LD_BACKEND_H
#define LD_BACKEND_H

typedef struct ld_backend {
    const char *name;
    const struct ld_conv_kernels *conv;             /* ops/conv.h */
    const struct ld_pool_kernels *pool;             /* ops/pool.h */
    const struct ld_resize_kernels *resize;         /* ops/resize.h */
    const struct ld_norm_kernels *norm;             /* ops/norm.h */
    const struct ld_act_kernels *act;               /* ops/act.h */
    const struct ld_linalg_kernels *linalg;         /* ops/linalg.h */
    const struct ld_attention_kernels *attention;   /* ops/attention.h */
    const struct ld_elementwise_kernels *elementwise; /* ops/elementwise.h */
    const struct ld_advect_kernels *advect;         /* ops/advect.h */
    const struct ld_loss_kernels *loss;             /* ops/loss.h */
    const struct ld_random_kernels *random;         /* ops/random.h */
} ld_backend;

/* The CPU backend (oneDNN + OpenBLAS + OpenMP). */
const ld_backend *ld_backend_cpu(void);

#endif
