/* The CPU backend table: oneDNN (cpu/dnnl.c), OpenBLAS (cpu/blas.c) and
 * OpenMP kernels (the other files of src/cpu). */
#include "engine/backend.h"

#include "cpu/cpu.h"

static const ld_backend cpu_backend = {
    .name = "cpu",
    .conv = &ld_cpu_conv_kernels,
    .pool = &ld_cpu_pool_kernels,
    .resize = &ld_cpu_resize_kernels,
    .norm = &ld_cpu_norm_kernels,
    .act = &ld_cpu_act_kernels,
    .linalg = &ld_cpu_linalg_kernels,
    .attention = &ld_cpu_attention_kernels,
    .elementwise = &ld_cpu_elementwise_kernels,
    .advect = &ld_cpu_advect_kernels,
    .loss = &ld_cpu_loss_kernels,
    .random = &ld_cpu_random_kernels,
};

const ld_backend *ld_backend_cpu(void) { return &cpu_backend; }
