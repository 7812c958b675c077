/* The safetensors format (used for checkpoints and for the PyTorch test
 * fixtures): 8-byte little-endian header length, a JSON header mapping each
 * tensor name to {dtype, shape, data_offsets} plus an optional
 * "__metadata__" object of string values, then the raw little-endian data.
 * Reading validates everything (header length, JSON, dtypes, shapes against
 * byte ranges, ranges inside the file) and reports a clear error for a
 * truncated or corrupt file. Writing is atomic (atomic_file.h). */
#ifndef LD_SAFETENSORS_H
#define LD_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "engine/error.h"

#define LD_ST_MAX_DIMS 8
#define LD_ST_NAME_LEN 128

typedef enum { LD_ST_F32, LD_ST_F64, LD_ST_I32, LD_ST_I64, LD_ST_U8 } ld_st_dtype;

typedef struct ld_st_tensor {
    char name[LD_ST_NAME_LEN];
    ld_st_dtype dtype;
    int ndim;
    int64_t shape[LD_ST_MAX_DIMS];
    size_t numel;
    const void *data; /* into the file's buffer (reading) or caller's (writing) */
    size_t nbytes;
} ld_st_tensor;

typedef struct ld_st_meta {
    char *key;
    char *value;
} ld_st_meta;

typedef struct ld_st_file {
    ld_st_tensor *tensors;
    int count, cap;
    ld_st_meta *meta;
    int meta_count, meta_cap;
    unsigned char *buffer; /* whole file when read */
} ld_st_file;

size_t ld_st_dtype_size(ld_st_dtype d);
const char *ld_st_dtype_name(ld_st_dtype d);

int ld_st_read(const char *path, ld_st_file *f, ld_err *err);
void ld_st_free(ld_st_file *f);
const ld_st_tensor *ld_st_find(const ld_st_file *f, const char *name);
const char *ld_st_meta_get(const ld_st_file *f, const char *key);

/* Building a file to write: tensors point at the caller's data, which must
 * stay valid until ld_st_write returns. */
void ld_st_init(ld_st_file *f);
int ld_st_add(ld_st_file *f, const char *name, ld_st_dtype dtype, int ndim,
              const int64_t *shape, const void *data, ld_err *err);
int ld_st_set_meta(ld_st_file *f, const char *key, const char *value, ld_err *err);
int ld_st_write(const ld_st_file *f, const char *path, ld_err *err);

/* Reads tensor `name` as float32 of exactly the expected shape (any stored
 * float dtype converted), into out. Errors name the tensor and both shapes. */
int ld_st_read_f32(const ld_st_file *f, const char *name, int ndim, const int64_t *shape,
                   float *out, ld_err *err);

#endif
