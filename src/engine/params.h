/* Parameter registry: every trainable tensor of a model lives in one flat
 * float buffer, with its gradient, and the optimiser moments, in flat buffers
 * of the same layout. Networks register named tensors while they are built;
 * ld_params_finalize allocates the buffers; each registered tensor is then a
 * persistent view (ld_tensor with data and grad pointing into the buffers).
 * Non-trainable state (batch-norm running statistics) is registered with
 * trainable = 0: it is stored and checkpointed, but gets no gradient and is
 * not touched by optimisers. */
#ifndef LD_PARAMS_H
#define LD_PARAMS_H

#include <stddef.h>

#include "engine/error.h"
#include "engine/tensor.h"

#define LD_PARAM_NAME_LEN 96

typedef struct ld_param_info {
    char name[LD_PARAM_NAME_LEN];
    int ndim;
    int shape[LD_MAX_DIMS];
    size_t offset; /* into data / grad */
    size_t numel;
    int trainable;
} ld_param_info;

typedef struct ld_params {
    ld_param_info *info;
    ld_tensor *views; /* one per registered tensor, valid after finalize */
    int count, cap;
    size_t total;     /* floats in data */
    float *data;      /* all values */
    float *grad;      /* all gradients (zero for non-trainable entries) */
    int finalized;
} ld_params;

void ld_params_init(ld_params *p);
void ld_params_free(ld_params *p);
/* Registers a tensor and returns its index, or -1 (with err) for a duplicate
 * name, a bad shape, or a call after finalize. */
int ld_params_add(ld_params *p, const char *name, int ndim, const int *shape,
                  int trainable, ld_err *err);
int ld_params_finalize(ld_params *p, ld_err *err);
/* The view of entry i (after finalize). */
ld_tensor *ld_param(ld_params *p, int i);
int ld_params_find(const ld_params *p, const char *name);
void ld_params_zero_grad(ld_params *p);
/* Number of trainable floats. */
size_t ld_params_trainable(const ld_params *p);

#endif
