/* NumPy .npy reader and writer: see npy.h. Format reference:
 * numpy.lib.format (magic "\x93NUMPY", version, little-endian header length,
 * a Python dict literal padded with spaces and ended by '\n' so that the
 * data starts at a multiple of 64 bytes). */
#include "data/npy.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/atomic_file.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6
#define NPY_ALIGN 64
/* Largest header accepted when reading (NumPy's own limit is 10000 bytes
 * for untrusted files; shapes of any rank we use fit well inside). */
#define NPY_MAX_HEADER 65536

static const struct {
    const char *code; /* kind and size as in a descr, e.g. "f4" */
    const char *name;
    size_t size;
} dtype_table[] = {
    [LD_NPY_F32] = {"f4", "float32", 4}, [LD_NPY_F64] = {"f8", "float64", 8},
    [LD_NPY_U8] = {"u1", "uint8", 1},    [LD_NPY_U16] = {"u2", "uint16", 2},
    [LD_NPY_I32] = {"i4", "int32", 4},   [LD_NPY_I64] = {"i8", "int64", 8},
    [LD_NPY_I8] = {"i1", "int8", 1},     [LD_NPY_I16] = {"i2", "int16", 2},
    [LD_NPY_U32] = {"u4", "uint32", 4},  [LD_NPY_F16] = {"f2", "float16", 2},
    [LD_NPY_U64] = {"u8", "uint64", 8},
};
#define DTYPE_COUNT ((int)(sizeof dtype_table / sizeof dtype_table[0]))

const char *ld_npy_dtype_name(ld_npy_dtype d) { return dtype_table[d].name; }

static int host_is_little_endian(void)
{
    const uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

/* ---- writing ------------------------------------------------------------------ */

/* The header dict in NumPy's spelling, padded and ended by '\n'; returns its
 * length (without the 10-byte prefix), or -1 if it does not fit. */
static int format_header_dict(char *buf, size_t cap, int ndim, const int *shape)
{
    size_t n = (size_t)snprintf(buf, cap, "{'descr': '%cf4', 'fortran_order': False, 'shape': (",
                                host_is_little_endian() ? '<' : '>');
    for (int i = 0; i < ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ", %d" : "%d", shape[i]);
    if (n < cap)
        n += (size_t)snprintf(buf + n, cap - n, "%s), }", ndim == 1 ? "," : "");
    size_t unpadded = NPY_MAGIC_LEN + 4 + n + 1;
    size_t pad = NPY_ALIGN - unpadded % NPY_ALIGN;
    if (n + pad + 1 >= cap || n + pad + 1 > 65535)
        return -1;
    memset(buf + n, ' ', pad);
    buf[n + pad] = '\n';
    return (int)(n + pad + 1);
}

int ld_npy_write(const char *path, const float *data, int ndim, const int *shape, ld_err *err)
{
    if (ndim < 0 || ndim > LD_NPY_MAX_DIMS)
        return ld_errf(err, "%s: cannot write a %d-dimensional array (at most %d)", path, ndim,
                       LD_NPY_MAX_DIMS);
    size_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0)
            return ld_errf(err, "%s: negative dimension %d in shape", path, shape[i]);
        numel *= (size_t)shape[i];
    }
    char dict[1024];
    int dict_len = format_header_dict(dict, sizeof dict, ndim, shape);
    if (dict_len < 0)
        return ld_errf(err, "%s: npy header too long", path);
    unsigned char prefix[NPY_MAGIC_LEN + 4];
    memcpy(prefix, NPY_MAGIC, NPY_MAGIC_LEN);
    prefix[6] = 1; /* version 1.0 */
    prefix[7] = 0;
    prefix[8] = (unsigned char)(dict_len & 0xff);
    prefix[9] = (unsigned char)(dict_len >> 8);

    ld_atomic_file f;
    if (ld_atomic_open(&f, path, err) != 0)
        return -1;
    int ok = fwrite(prefix, 1, sizeof prefix, f.fp) == sizeof prefix &&
             fwrite(dict, 1, (size_t)dict_len, f.fp) == (size_t)dict_len &&
             fwrite(data, sizeof(float), numel, f.fp) == numel;
    if (!ok) {
        int saved = errno;
        ld_atomic_abort(&f);
        return ld_errf(err, "%s: write failed: %s", path, strerror(saved));
    }
    return ld_atomic_commit(&f, err);
}

/* ---- reading ------------------------------------------------------------------ */

/* Points just past "'key':" (either quote style) in the header dict, or NULL. */
static const char *find_key(const char *dict, const char *key)
{
    size_t len = strlen(key);
    for (const char *p = strstr(dict, key); p; p = strstr(p + 1, key)) {
        if (p == dict || (p[-1] != '\'' && p[-1] != '"') || p[len] != p[-1])
            continue;
        const char *q = p + len + 1;
        while (*q == ' ')
            q++;
        if (*q != ':')
            continue;
        q++;
        while (*q == ' ')
            q++;
        return q;
    }
    return NULL;
}

/* Parses the descr value (a quoted string like '<f4') into dtype and swap. */
static int parse_descr(const char *path, const char *dict, ld_npy_dtype *dtype, int *swap,
                       ld_err *err)
{
    const char *p = find_key(dict, "descr");
    if (!p || (*p != '\'' && *p != '"'))
        return ld_errf(err, "%s: npy header has no 'descr' string", path);
    const char *end = strchr(p + 1, *p);
    if (!end || end - p - 1 >= 16)
        return ld_errf(err, "%s: npy header has a malformed 'descr'", path);
    char descr[16];
    memcpy(descr, p + 1, (size_t)(end - p - 1));
    descr[end - p - 1] = '\0';
    char order = descr[0];
    const char *code = order && strchr("<>|=", order) ? descr + 1 : descr;
    for (int d = 0; d < DTYPE_COUNT; d++)
        if (strcmp(code, dtype_table[d].code) == 0) {
            *dtype = (ld_npy_dtype)d;
            int little = host_is_little_endian();
            *swap = dtype_table[d].size > 1 && ((order == '<' && !little) || (order == '>' && little));
            return 0;
        }
    return ld_errf(err,
                   "%s: unsupported npy dtype '%s' (supported: float16, float32, float64, int8, "
                   "int16, int32, int64, uint8, uint16, uint32, uint64)",
                   path, descr);
}

static int parse_shape(const char *path, const char *dict, ld_npy_array *a, ld_err *err)
{
    const char *p = find_key(dict, "shape");
    if (!p || *p != '(')
        return ld_errf(err, "%s: npy header has no 'shape' tuple", path);
    p++;
    a->ndim = 0;
    a->numel = 1;
    for (;;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == ')')
            return 0;
        char *end;
        errno = 0;
        long dim = strtol(p, &end, 10);
        if (end == p || errno || dim < 0 || dim > INT32_MAX)
            return ld_errf(err, "%s: npy header has a malformed 'shape'", path);
        if (a->ndim == LD_NPY_MAX_DIMS)
            return ld_errf(err, "%s: npy array has more than %d dimensions", path,
                           LD_NPY_MAX_DIMS);
        if (dim && a->numel > SIZE_MAX / 8 / (size_t)dim)
            return ld_errf(err, "%s: npy shape too large: its byte count overflows size_t", path);
        a->shape[a->ndim++] = (int)dim;
        a->numel *= (size_t)dim;
        p = end;
    }
}

/* Reads and checks the magic, version and header dict; leaves fp at the
 * data. */
static int read_header(FILE *fp, const char *path, ld_npy_array *a, int *swap, ld_err *err)
{
    unsigned char prefix[NPY_MAGIC_LEN + 2];
    if (fread(prefix, 1, sizeof prefix, fp) != sizeof prefix ||
        memcmp(prefix, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
        return ld_errf(err, "%s: not an npy file (bad magic)", path);
    int major = prefix[6];
    if (major < 1 || major > 3)
        return ld_errf(err, "%s: unsupported npy format version %d.%d", path, major, prefix[7]);
    unsigned char len_bytes[4] = {0};
    size_t len_size = major == 1 ? 2 : 4;
    if (fread(len_bytes, 1, len_size, fp) != len_size)
        return ld_errf(err, "%s: truncated npy header", path);
    size_t header_len = (size_t)len_bytes[0] | (size_t)len_bytes[1] << 8 |
                        (size_t)len_bytes[2] << 16 | (size_t)len_bytes[3] << 24;
    if (header_len > NPY_MAX_HEADER)
        return ld_errf(err, "%s: npy header of %zu bytes is too long", path, header_len);
    char *dict = malloc(header_len + 1);
    if (!dict)
        return ld_errf(err, "out of memory");
    int rc = 0;
    if (fread(dict, 1, header_len, fp) != header_len) {
        rc = ld_errf(err, "%s: truncated npy header", path);
    } else {
        dict[header_len] = '\0';
        const char *fortran = find_key(dict, "fortran_order");
        if (!fortran || (strncmp(fortran, "False", 5) != 0 && strncmp(fortran, "True", 4) != 0))
            rc = ld_errf(err, "%s: npy header has no 'fortran_order' flag", path);
        else if (strncmp(fortran, "True", 4) == 0)
            rc = ld_errf(err, "%s: Fortran-order npy arrays are not supported (save with C order)",
                         path);
        else if (parse_descr(path, dict, &a->stored_dtype, swap, err) != 0 ||
                 parse_shape(path, dict, a, err) != 0)
            rc = -1;
    }
    free(dict);
    return rc;
}

/* An IEEE half-precision value (its bits) as float. */
static float half_to_float(uint16_t h)
{
    int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    float magnitude = exponent == 0    ? ldexpf((float)mantissa, -24) /* zero, subnormal */
                      : exponent == 31 ? (mantissa ? NAN : INFINITY)
                                       : ldexpf((float)(mantissa | 0x400), exponent - 25);
    return h & 0x8000 ? -magnitude : magnitude;
}

int ld_npy_element_to_float(const unsigned char *p, ld_npy_dtype dtype, float *out, ld_err *err)
{
    double wide;
    switch (dtype) {
    case LD_NPY_F32: memcpy(out, p, 4); return 0;
    case LD_NPY_F64: memcpy(&wide, p, 8); break;
    case LD_NPY_U8: *out = (float)p[0]; return 0;
    case LD_NPY_U16: { uint16_t v; memcpy(&v, p, 2); *out = (float)v; return 0; }
    case LD_NPY_I32: { int32_t v; memcpy(&v, p, 4); *out = (float)v; return 0; }
    case LD_NPY_I64: { int64_t v; memcpy(&v, p, 8); *out = (float)v; return 0; }
    case LD_NPY_I8: *out = (float)(int8_t)p[0]; return 0;
    case LD_NPY_I16: { int16_t v; memcpy(&v, p, 2); *out = (float)v; return 0; }
    case LD_NPY_U32: { uint32_t v; memcpy(&v, p, 4); *out = (float)v; return 0; }
    case LD_NPY_F16: { uint16_t v; memcpy(&v, p, 2); *out = half_to_float(v); return 0; }
    case LD_NPY_U64: { uint64_t v; memcpy(&v, p, 8); *out = (float)v; return 0; }
    default: *out = NAN; return ld_errf(err, "has an unknown element type %d", (int)dtype);
    }
    if (isfinite(wide) && fabs(wide) > FLT_MAX) {
        *out = wide > 0 ? INFINITY : -INFINITY;
        return ld_errf(err, "is %g, finite but outside float32's range (|x| > 3.4e38)", wide);
    }
    *out = (float)wide;
    return 0;
}

/* The C-order index of element `flat` of a, as NumPy writes it: "[2, 60]". */
static void format_index(const ld_npy_array *a, size_t flat, char *buf, size_t cap)
{
    size_t index[LD_NPY_MAX_DIMS];
    for (int d = a->ndim - 1; d >= 0; d--) {
        index[d] = flat % (size_t)a->shape[d];
        flat /= (size_t)a->shape[d];
    }
    int len = snprintf(buf, cap, "[");
    for (int d = 0; d < a->ndim && len < (int)cap; d++)
        len += snprintf(buf + len, cap - (size_t)len, "%s%zu", d ? ", " : "", index[d]);
    if (len < (int)cap)
        snprintf(buf + len, cap - (size_t)len, "]");
}

static void reverse_bytes(unsigned char *p, size_t size)
{
    for (size_t i = 0; i < size / 2; i++) {
        unsigned char t = p[i];
        p[i] = p[size - 1 - i];
        p[size - 1 - i] = t;
    }
}

/* Opens path and reads its header into a (no data); *swap as read_header,
 * *data_bytes: the bytes the file holds after the header. */
static FILE *open_array(const char *path, ld_npy_array *a, int *swap, size_t *data_bytes,
                        ld_err *err)
{
    memset(a, 0, sizeof *a);
    size_t file_bytes;
    FILE *fp = ld_open_regular_file(path, &file_bytes, err);
    if (!fp)
        return NULL;
    if (read_header(fp, path, a, swap, err) != 0) {
        fclose(fp);
        return NULL;
    }
    long header_bytes = ftell(fp);
    *data_bytes = header_bytes >= 0 && (size_t)header_bytes <= file_bytes
                      ? file_bytes - (size_t)header_bytes
                      : 0;
    return fp;
}

int ld_npy_read_header(const char *path, ld_npy_array *a, ld_err *err)
{
    int swap;
    size_t data_bytes;
    FILE *fp = open_array(path, a, &swap, &data_bytes, err);
    if (!fp)
        return -1;
    fclose(fp);
    return 0;
}

int ld_npy_first_dim(const char *path, int ndim)
{
    ld_npy_array a;
    ld_err ignored;
    if (ld_npy_read_header(path, &a, &ignored) != 0 || a.ndim != ndim || ndim < 1)
        return 0;
    return a.shape[0];
}

int ld_npy_read(const char *path, ld_npy_array *a, ld_err *err)
{
    int swap = 0;
    size_t data_bytes;
    FILE *fp = open_array(path, a, &swap, &data_bytes, err);
    if (!fp)
        return -1;
    size_t size = dtype_table[a->stored_dtype].size, numel = a->numel;
    size_t bytes = numel * size;
    /* before allocating: a header may promise far more than the file holds */
    if (data_bytes < bytes) {
        fclose(fp);
        ld_npy_free(a);
        return ld_errf(err, "%s: truncated npy data: %zu of %zu bytes", path, data_bytes, bytes);
    }
    unsigned char *raw = malloc(bytes ? bytes : 1);
    a->data = malloc(numel ? numel * sizeof(float) : sizeof(float));
    if (!raw || !a->data) {
        free(raw);
        fclose(fp);
        ld_npy_free(a);
        return ld_errf(err, "%s: out of memory for %zu elements", path, numel);
    }
    size_t got = fread(raw, 1, bytes, fp);
    fclose(fp);
    if (got != bytes) {
        free(raw);
        ld_npy_free(a);
        return ld_errf(err, "%s: truncated npy data: %zu of %zu bytes", path, got, bytes);
    }
    for (size_t i = 0; i < numel; i++) {
        unsigned char *p = raw + i * size;
        if (swap)
            reverse_bytes(p, size);
        ld_err why;
        if (ld_npy_element_to_float(p, a->stored_dtype, &a->data[i], &why)) {
            char index[LD_NPY_MAX_DIMS * 12 + 4];
            format_index(a, i, index, sizeof index);
            free(raw);
            ld_npy_free(a);
            return ld_errf(err, "%s: element %s %s", path, index, why.msg);
        }
    }
    free(raw);
    return 0;
}

void ld_npy_free(ld_npy_array *a)
{
    free(a->data);
    memset(a, 0, sizeof *a);
}
