/* Flat parameter registry: see params.h. */
#include "engine/params.h"

#include <stdlib.h>
#include <string.h>

void ld_params_init(ld_params *p) { memset(p, 0, sizeof *p); }

void ld_params_free(ld_params *p)
{
    free(p->info);
    free(p->views);
    free(p->data);
    free(p->grad);
    memset(p, 0, sizeof *p);
}

int ld_params_find(const ld_params *p, const char *name)
{
    for (int i = 0; i < p->count; i++)
        if (strcmp(p->info[i].name, name) == 0)
            return i;
    return -1;
}

int ld_params_add(ld_params *p, const char *name, int ndim, const int *shape,
                  int trainable, ld_err *err)
{
    if (p->finalized)
        return ld_errf(err, "parameter '%s' registered after finalize", name);
    if (strlen(name) >= LD_PARAM_NAME_LEN)
        return ld_errf(err, "parameter name '%s' longer than %d characters", name,
                       LD_PARAM_NAME_LEN - 1);
    if (ld_params_find(p, name) >= 0)
        return ld_errf(err, "parameter '%s' registered twice", name);
    if (ndim < 1 || ndim > LD_MAX_DIMS)
        return ld_errf(err, "parameter '%s' has rank %d", name, ndim);
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0)
            return ld_errf(err, "parameter '%s' has dimension %d = %d", name, i, shape[i]);
    if (p->count == p->cap) {
        int cap = p->cap ? 2 * p->cap : 64;
        ld_param_info *grown = realloc(p->info, (size_t)cap * sizeof *grown);
        if (!grown)
            return ld_errf(err, "out of memory registering parameters");
        p->info = grown;
        p->cap = cap;
    }
    ld_param_info *e = &p->info[p->count];
    memset(e, 0, sizeof *e);
    strcpy(e->name, name);
    e->ndim = ndim;
    memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
    e->numel = ld_shape_numel(ndim, shape);
    /* keep each entry 16-float aligned so vector kernels see aligned rows */
    e->offset = (p->total + 15) / 16 * 16;
    e->trainable = trainable;
    p->total = e->offset + e->numel;
    return p->count++;
}

int ld_params_finalize(ld_params *p, ld_err *err)
{
    if (p->finalized)
        return 0;
    size_t n = p->total ? p->total : 1;
    p->data = calloc(n, sizeof(float));
    p->grad = calloc(n, sizeof(float));
    p->views = calloc((size_t)(p->count ? p->count : 1), sizeof *p->views);
    if (!p->data || !p->grad || !p->views)
        return ld_errf(err, "out of memory allocating %zu parameters", p->total);
    for (int i = 0; i < p->count; i++) {
        ld_tensor *v = &p->views[i];
        ld_param_info *e = &p->info[i];
        v->data = p->data + e->offset;
        v->grad = p->grad + e->offset;
        v->ndim = e->ndim;
        memcpy(v->shape, e->shape, sizeof v->shape);
        v->numel = e->numel;
        v->requires_grad = e->trainable;
        if (!e->trainable)
            v->grad = NULL;
    }
    p->finalized = 1;
    return 0;
}

ld_tensor *ld_param(ld_params *p, int i) { return &p->views[i]; }

void ld_params_zero_grad(ld_params *p) { ld_zero_floats(p->grad, p->total); }

size_t ld_params_trainable(const ld_params *p)
{
    size_t n = 0;
    for (int i = 0; i < p->count; i++)
        if (p->info[i].trainable)
            n += p->info[i].numel;
    return n;
}
