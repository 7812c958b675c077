/* Shared definitions of the CPU backend: the kernel tables each file of
 * src/cpu defines, assembled into the backend table by cpu/backend.c, and
 * the oneDNN layer-norm kernels (cpu/dnnl.c, where every oneDNN call lives)
 * that the normalisation table (cpu/norm.c, OpenMP batch norm) takes. */
#ifndef LD_CPU_H
#define LD_CPU_H

#include <stddef.h>

/* Below this many elements a loop runs on one thread (thread start-up would
 * cost more than the work). */
#define LD_CPU_PARALLEL_MIN 16384

extern const struct ld_conv_kernels ld_cpu_conv_kernels;               /* cpu/conv.c */
extern const struct ld_conv_kernels ld_dnnl_conv_kernels; /* cpu/dnnl.c, used by cpu/conv.c */
int ld_dnnl_conv_preferred_block(void);                    /* cpu/dnnl.c */
int ld_dnnl_has_bf16(void);                                /* cpu/dnnl.c */
extern const struct ld_pool_kernels ld_cpu_pool_kernels;               /* cpu/dnnl.c */
extern const struct ld_resize_kernels ld_cpu_resize_kernels;           /* cpu/resize.c */
extern const struct ld_norm_kernels ld_cpu_norm_kernels;               /* cpu/norm.c */
extern const struct ld_act_kernels ld_cpu_act_kernels;                 /* cpu/dnnl.c */
extern const struct ld_linalg_kernels ld_cpu_linalg_kernels;           /* cpu/blas.c */
extern const struct ld_attention_kernels ld_cpu_attention_kernels;     /* cpu/attention.c */
extern const struct ld_elementwise_kernels ld_cpu_elementwise_kernels; /* cpu/elementwise.c */
extern const struct ld_advect_kernels ld_cpu_advect_kernels;           /* cpu/advect.c */
extern const struct ld_loss_kernels ld_cpu_loss_kernels;               /* cpu/loss.c */
extern const struct ld_random_kernels ld_cpu_random_kernels;           /* cpu/random.c */

/* Sum of terms [lo, hi) of a series (a loss, a tensor's elements). */
typedef double (*ld_cpu_range_sum_fn)(const void *args, size_t lo, size_t hi);
/* The sum of n terms in double, over fixed chunks whose sums are added in
 * order: the result does not depend on the thread count (cpu/loss.c). */
double ld_cpu_chunked_sum(ld_cpu_range_sum_fn range_sum, const void *args, size_t n);

struct ld_conv_problem;
struct ld_conv_grads;

/* A convolution's dz = dy * act'(y) (dy itself without activation; y, dy
 * in y's layout, p->y_block), written in NCHW (block 1) or in oneDNN's
 * channel-blocked layout nChw8c / nChw16c (block 8 / 16: channels in groups
 * of `block`, each pixel's group contiguous, the last group padded with
 * zeros), which the backward passes then read without a reorder
 * (cpu/conv.c). */
void ld_cpu_conv_act_grad(const struct ld_conv_problem *p, int block, float *dz,
                          const float *dy, const float *y);

/* 3x3 and 5x5 stride-1 'same' convolutions between nChw16c tensors by
 * Winograd's F(4x4, 3x3) and F(4x4, 5x5) on AVX-512 (cpu/conv_winograd.c;
 * cpu/conv.c decides where): the scratch bytes of the forward (backward =
 * 0) or backward pass, and the two passes, as in struct ld_conv_kernels. */
size_t ld_cpu_winograd_scratch_bytes(const struct ld_conv_problem *p, int backward);
void ld_cpu_winograd_forward(const struct ld_conv_problem *p, float *y, const float *x,
                             const float *w, const float *b, void *scratch);
void ld_cpu_winograd_backward(const struct ld_conv_problem *p, const struct ld_conv_grads *g,
                              void *scratch);

/* oneDNN layer norm (cpu/dnnl.c) for the table in cpu/norm.c; see
 * struct ld_norm_kernels in ops/norm.h. */
int ld_dnnl_layernorm_forward(float *y, float *mean, float *var, const float *x,
                              const float *gamma, const float *beta, size_t rows, int d,
                              float eps);
int ld_dnnl_layernorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                               const float *x, const float *gamma, const float *mean,
                               const float *var, size_t rows, int d, float eps);

#endif
