/* The BLAS entry points that other files of the CPU backend share (defined
 * in cpu/blas.c, the one file that calls OpenBLAS). */
#ifndef LD_CPU_BLAS_H
#define LD_CPU_BLAS_H

#include <stddef.h>

/* One row-major C = alpha * op(A) op(B) + beta * C (see struct ld_gemm in
 * ops/linalg.h). Runs on one thread when called inside a parallel region. */
void ld_cpu_sgemm(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                  const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                  size_t ldc);

/* 1 when `batch` independent products of m*n*k multiply-adds each should run
 * one per thread (small products, or enough of them to keep every thread
 * busy) rather than one after another on BLAS's own threads. */
int ld_cpu_split_batch(size_t batch, size_t m, size_t n, size_t k);

/* Runs product(ctx, i) for i = 0 .. batch-1: one per thread when
 * ld_cpu_split_batch says so, else one after another on the calling thread,
 * each product then using BLAS's own threads. Never inside a serialised
 * `parallel if (0)` region: OpenBLAS opens a nested team there whose threads
 * fight the outer team's spinning workers (10x slower on 2 cores). */
void ld_cpu_for_each_product(size_t batch, size_t m, size_t n, size_t k,
                             void (*product)(const void *ctx, size_t i), const void *ctx);

#endif
