/* NumPy .npy files: writes float32 arrays of any rank (C order, format 1.0,
 * header padded to a multiple of 64 bytes, as NumPy itself writes) through
 * an atomic file; reads arrays of any integer or float type (float16/32/64,
 * int8..int64, uint8..uint64) of either byte order into float32: a float64
 * value beyond float32's range is refused, naming its index. */
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
    LD_NPY_F16,
    LD_NPY_U64
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

/* Reads the whole file into a (free with ld_npy_free). Errors: not a
 * regular file, bad magic, unsupported version or dtype, Fortran order,
 * malformed header, truncated data (checked against the file's size before
 * anything is allocated), a float64 value beyond float32's range. */
int ld_npy_read(const char *path, ld_npy_array *a, ld_err *err);
void ld_npy_free(ld_npy_array *a);
/* Reads only the header: shape, numel and stored_dtype (a->data stays
 * NULL, nothing to free). Errors as ld_npy_read's, less the data's. */
int ld_npy_read_header(const char *path, ld_npy_array *a, ld_err *err);
/* The first dimension of the array in path when it has `ndim` dimensions
 * (e.g. the stage count of an earlier run's frames.npy); 0 when the file
 * is missing, unreadable or of another rank. */
int ld_npy_first_dim(const char *path, int ndim);

/* One element of type dtype (host byte order) at p as float32 in *out: the
 * conversion every reader of such samples (.npy, TIFF) goes through. Fails
 * only for a float64 value that is finite but beyond float32's range (*out
 * is then infinite), with the end of a sentence in err ("is 1e+300, finite
 * but outside float32's range (|x| > 3.4e38)") for the caller to put after
 * the element's place. */
int ld_npy_element_to_float(const unsigned char *p, ld_npy_dtype dtype, float *out, ld_err *err);

/* "float32", "uint16", ... */
const char *ld_npy_dtype_name(ld_npy_dtype d);

#endif
