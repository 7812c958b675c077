/* NumPy .npy files: writes float32 arrays of any rank (C order, format 1.0,
 * header padded to a multiple of 64 bytes, as NumPy itself writes) through
 * an atomic file; reads arrays of any integer or float type (float16/32/64,
 * int8..int64, uint8/16/32) of either byte order into float32. */
#ifndef LD_DATA_NPY_H
#define LD_DATA_NPY_H

#include <stddef.h>

#include "engine/error.h"

#define LD_NPY_MAX_DIMS 8

typedef enum ld_npy_dtype {
    LD_NPY_F32,
    LD_NPY_F64,
    LD_NPY_U8,
    LD_NPY_U16,
    LD_NPY_I32,
    LD_NPY_I64,
    LD_NPY_I8,
    LD_NPY_I16,
    LD_NPY_U32,
    LD_NPY_F16
} ld_npy_dtype;

typedef struct ld_npy_array {
    int ndim;                      /* 0 for a scalar */
    int shape[LD_NPY_MAX_DIMS];
    size_t numel;
    float *data;                   /* C order, converted to float32 */
    ld_npy_dtype stored_dtype;     /* the file's element type */
} ld_npy_array;

/* Writes data (numel = product of shape) as '<f4' (or '>f4' on a big-endian
 * host). ndim 0 writes a scalar. */
int ld_npy_write(const char *path, const float *data, int ndim, const int *shape, ld_err *err);

/* Reads the whole file into a (free with ld_npy_free). Errors: bad magic,
 * unsupported version or dtype, Fortran order, malformed header, truncated
 * data. */
int ld_npy_read(const char *path, ld_npy_array *a, ld_err *err);
void ld_npy_free(ld_npy_array *a);
/* Reads only the header: shape, numel and stored_dtype (a->data stays
 * NULL, nothing to free). Errors as ld_npy_read's, less the data's. */
int ld_npy_read_header(const char *path, ld_npy_array *a, ld_err *err);
/* The first dimension of the array in path when it has `ndim` dimensions
 * (e.g. the stage count of an earlier run's frames.npy); 0 when the file
 * is missing, unreadable or of another rank. */
int ld_npy_first_dim(const char *path, int ndim);

/* "float32", "uint16", ... */
const char *ld_npy_dtype_name(ld_npy_dtype d);

#endif
