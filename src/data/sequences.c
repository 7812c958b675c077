/* Image sequences of a dynamical system and their HDF5 form: see
 * sequences.h. The file is built in memory (HDF5 core driver, no backing
 * store) and its image written through ld_atomic_file, so a file on disk is
 * always whole. Strings are variable-length UTF-8 (read back as str by
 * h5py); reading also accepts fixed-length strings. HDF5's own error stack
 * printing is switched off while these functions run. */
#include "data/sequences.h"

#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/atomic_file.h"

/* ---- memory ---------------------------------------------------------------- */

static int sizes_ok(int n, int length, int channels, int height, int width, int n_params,
                    size_t *frame_count, ld_err *err)
{
    if (n < 1 || length < 1 || channels < 1 || height < 1 || width < 1)
        return ld_errf(err, "sequence sizes must be positive (n %d, length %d, %dx%dx%d)", n,
                       length, channels, height, width);
    if (n_params < 0 || n_params > LD_SEQ_MAX_PARAMS)
        return ld_errf(err, "%d parameters (at most %d)", n_params, LD_SEQ_MAX_PARAMS);
    double count = (double)n * length * channels * height * width;
    if (count > (double)(SIZE_MAX / sizeof(float) / 2))
        return ld_errf(err, "sequences too large (%.3g values)", count);
    *frame_count = (size_t)n * length * channels * height * width;
    return 0;
}

int ld_sequences_alloc(ld_sequences *s, int n, int length, int channels, int height, int width,
                       int n_params, ld_err *err)
{
    size_t count = 0;
    memset(s, 0, sizeof *s);
    if (sizes_ok(n, length, channels, height, width, n_params, &count, err))
        return -1;
    s->frames = calloc(count, sizeof *s->frames);
    s->times = calloc((size_t)n * length, sizeof *s->times);
    s->params = n_params ? calloc((size_t)n * n_params, sizeof *s->params) : NULL;
    if (!s->frames || !s->times || (n_params && !s->params)) {
        ld_sequences_free(s);
        return ld_errf(err, "out of memory for %d sequences of %d frames %dx%dx%d", n, length,
                       channels, height, width);
    }
    s->n = n;
    s->length = length;
    s->channels = channels;
    s->height = height;
    s->width = width;
    s->n_params = n_params;
    return 0;
}

void ld_sequences_free(ld_sequences *s)
{
    free(s->frames);
    free(s->times);
    free(s->params);
    memset(s, 0, sizeof *s);
}

float *ld_sequences_frame(const ld_sequences *s, int instance, int t)
{
    size_t image = (size_t)s->channels * s->height * s->width;
    return s->frames + ((size_t)instance * s->length + t) * image;
}

/* Copies text into a fixed buffer of `size` bytes; fails when it does not fit. */
static int copy_text(char *dst, size_t size, const char *src, const char *what, ld_err *err)
{
    size_t len = strlen(src);
    if (len >= size)
        return ld_errf(err, "%s '%.40s...' too long (at most %zu characters)", what, src,
                       size - 1);
    memcpy(dst, src, len + 1);
    return 0;
}

int ld_sequences_set_attr(ld_sequences *s, const char *key, const char *value, ld_err *err)
{
    int k = 0;
    while (k < s->n_attrs && strcmp(s->attr_keys[k], key))
        k++;
    if (k == LD_SEQ_MAX_ATTRS)
        return ld_errf(err, "too many attributes (at most %d) adding '%s'", LD_SEQ_MAX_ATTRS,
                       key);
    if (!key[0] || !strcmp(key, "system"))
        return ld_errf(err, "attribute name '%s' is reserved or empty", key);
    if (copy_text(s->attr_keys[k], LD_SEQ_NAME_LEN, key, "attribute name", err) ||
        copy_text(s->attr_values[k], sizeof s->attr_values[k], value, "attribute value", err))
        return -1;
    if (k == s->n_attrs)
        s->n_attrs++;
    return 0;
}

/* FNV-1a steps over the 8-byte words of `size` bytes (the tail padded
 * with zeros). */
static uint64_t hash_words(uint64_t h, const void *data, size_t size)
{
    const unsigned char *p = data;
    for (size_t at = 0; at < size; at += 8) {
        uint64_t word = 0;
        memcpy(&word, p + at, size - at < 8 ? size - at : 8);
        h = (h ^ word) * 0x100000001b3ull;
    }
    return h;
}

uint64_t ld_sequences_checksum(const ld_sequences *s)
{
    const int sizes[5] = {s->n, s->length, s->channels, s->height, s->width};
    const size_t frames = (size_t)s->n * s->length * s->channels * s->height * s->width;
    uint64_t h = hash_words(0xcbf29ce484222325ull, sizes, sizeof sizes);
    h = hash_words(h, s->frames, frames * sizeof *s->frames);
    return hash_words(h, s->times, (size_t)s->n * s->length * sizeof *s->times);
}

int ld_sequences_select(const ld_sequences *s, const int *which, int count, ld_sequences *out,
                        ld_err *err)
{
    for (int i = 0; i < count; i++)
        if (which[i] < 0 || which[i] >= s->n)
            return ld_errf(err, "instance %d out of range (0..%d)", which[i], s->n - 1);
    if (ld_sequences_alloc(out, count, s->length, s->channels, s->height, s->width,
                           s->n_params, err))
        return -1;
    const size_t seq = (size_t)s->length * s->channels * s->height * s->width;
    for (int i = 0; i < count; i++) {
        memcpy(out->frames + i * seq, s->frames + which[i] * seq, seq * sizeof *s->frames);
        memcpy(out->times + (size_t)i * s->length, s->times + (size_t)which[i] * s->length,
               (size_t)s->length * sizeof *s->times);
        if (s->n_params)
            memcpy(out->params + (size_t)i * s->n_params,
                   s->params + (size_t)which[i] * s->n_params,
                   (size_t)s->n_params * sizeof *s->params);
    }
    memcpy(out->param_names, s->param_names, sizeof out->param_names);
    memcpy(out->system, s->system, sizeof out->system);
    out->n_attrs = s->n_attrs;
    memcpy(out->attr_keys, s->attr_keys, sizeof out->attr_keys);
    memcpy(out->attr_values, s->attr_values, sizeof out->attr_values);
    return 0;
}

/* ---- HDF5 helpers ---------------------------------------------------------- */

/* HDF5 prints its error stack unless told not to; the library never prints. */
typedef struct h5_quiet {
    H5E_auto2_t func;
    void *data;
} h5_quiet;

static void h5_quiet_begin(h5_quiet *q)
{
    H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void h5_quiet_end(const h5_quiet *q)
{
    H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

static hid_t utf8_string_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
        H5Tclose(t);
        return -1;
    }
    return t;
}

/* Writes `count` strings as attribute `name` of `obj`: a scalar when
 * count is 0 (one string, strings[0]), else a 1-D array. */
static int write_string_attr(hid_t obj, const char *name, const char *const *strings, int count)
{
    hsize_t dim = (hsize_t)count;
    hid_t type = utf8_string_type();
    hid_t space = count ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_SCALAR);
    hid_t attr = type >= 0 && space >= 0
                     ? H5Acreate2(obj, name, type, space, H5P_DEFAULT, H5P_DEFAULT)
                     : -1;
    int bad = attr < 0 || H5Awrite(attr, type, strings) < 0;
    if (attr >= 0)
        H5Aclose(attr);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    return bad ? -1 : 0;
}

static int write_dataset(hid_t file, const char *name, hid_t mem_type, hid_t file_type,
                         int rank, const hsize_t *dims, const void *data, hid_t *out)
{
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t set = space >= 0 ? H5Dcreate2(file, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT,
                                        H5P_DEFAULT)
                           : -1;
    hsize_t total = 1;
    for (int d = 0; d < rank; d++)
        total *= dims[d];
    int bad = set < 0 || (total && H5Dwrite(set, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                            data) < 0);
    if (space >= 0)
        H5Sclose(space);
    if (out && !bad)
        *out = set;
    else if (set >= 0)
        H5Dclose(set);
    return bad ? -1 : 0;
}

/* Builds the whole file in memory; returns its image (malloc'd) and size. */
static int build_image(const ld_sequences *s, void **image, size_t *size)
{
    size_t payload = (size_t)s->n * s->length * s->channels * s->height * s->width *
                     sizeof(float);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0 || H5Pset_fapl_core(fapl, payload + (1u << 20), 0) < 0) {
        if (fapl >= 0)
            H5Pclose(fapl);
        return -1;
    }
    hid_t file = H5Fcreate("latdyn-sequences.h5", H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (file < 0)
        return -1;
    const hsize_t fdims[5] = {(hsize_t)s->n, (hsize_t)s->length, (hsize_t)s->channels,
                              (hsize_t)s->height, (hsize_t)s->width};
    const hsize_t tdims[2] = {(hsize_t)s->n, (hsize_t)s->length};
    const hsize_t pdims[2] = {(hsize_t)s->n, (hsize_t)s->n_params};
    hid_t params = -1;
    const char *names[LD_SEQ_MAX_PARAMS];
    for (int k = 0; k < s->n_params; k++)
        names[k] = s->param_names[k];
    const char *system = s->system;
    int bad = write_dataset(file, "frames", H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, 5, fdims,
                            s->frames, NULL) ||
              write_dataset(file, "times", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 2, tdims,
                            s->times, NULL) ||
              write_dataset(file, "params", H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, 2, pdims,
                            s->params, &params) ||
              (s->n_params && write_string_attr(params, "names", names, s->n_params)) ||
              write_string_attr(file, "system", &system, 0);
    for (int a = 0; !bad && a < s->n_attrs; a++) {
        const char *value = s->attr_values[a];
        bad = write_string_attr(file, s->attr_keys[a], &value, 0);
    }
    if (params >= 0)
        H5Dclose(params);
    bad = bad || H5Fflush(file, H5F_SCOPE_GLOBAL) < 0;
    ssize_t len = bad ? -1 : H5Fget_file_image(file, NULL, 0);
    *image = len > 0 ? malloc((size_t)len) : NULL;
    bad = bad || !*image || H5Fget_file_image(file, *image, (size_t)len) != len;
    H5Fclose(file);
    if (bad) {
        free(*image);
        *image = NULL;
        return -1;
    }
    *size = (size_t)len;
    return 0;
}

int ld_sequences_write_h5(const char *path, const ld_sequences *s, ld_err *err)
{
    size_t count;
    if (sizes_ok(s->n, s->length, s->channels, s->height, s->width, s->n_params, &count, err))
        return -1;
    void *image = NULL;
    size_t size = 0;
    h5_quiet q;
    h5_quiet_begin(&q);
    int rc = build_image(s, &image, &size);
    h5_quiet_end(&q);
    if (rc)
        return ld_errf(err, "%s: cannot build the HDF5 file (out of memory?)", path);
    ld_atomic_file f;
    if (ld_atomic_open(&f, path, err)) {
        free(image);
        return -1;
    }
    fwrite(image, 1, size, f.fp);
    free(image);
    return ld_atomic_commit(&f, err);
}

/* ---- reading --------------------------------------------------------------- */

/* Opens dataset `name`, checks it is floating point of rank `rank`, and
 * returns its dimensions. */
static hid_t open_dataset(hid_t file, const char *path, const char *name, int rank,
                          hsize_t *dims, ld_err *err)
{
    if (H5Lexists(file, name, H5P_DEFAULT) <= 0) {
        ld_errf(err, "%s: dataset '%s' is missing", path, name);
        return -1;
    }
    hid_t set = H5Dopen2(file, name, H5P_DEFAULT);
    if (set < 0) {
        ld_errf(err, "%s: '%s' is not a dataset", path, name);
        return -1;
    }
    hid_t space = H5Dget_space(set), type = H5Dget_type(set);
    int got = space >= 0 ? H5Sget_simple_extent_ndims(space) : -1;
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    if (got == rank)
        H5Sget_simple_extent_dims(space, dims, NULL);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (got != rank) {
        ld_errf(err, "%s: dataset '%s' has rank %d, expected %d", path, name, got, rank);
    } else if (cls != H5T_FLOAT) {
        ld_errf(err, "%s: dataset '%s' is not floating point", path, name);
    } else {
        return set;
    }
    H5Dclose(set);
    return -1;
}

/* Reads a string attribute (scalar, or element `index` of a 1-D array)
 * into dst; fixed- or variable-length. */
static int read_string_attr(hid_t attr, int count, char *dst, size_t size, int index)
{
    hid_t ftype = H5Aget_type(attr);
    if (ftype < 0)
        return -1;
    int bad = H5Tget_class(ftype) != H5T_STRING;
    if (!bad && H5Tis_variable_str(ftype) > 0) {
        char **strings = calloc((size_t)count, sizeof *strings);
        hid_t mtype = utf8_string_type();
        bad = !strings || mtype < 0 || H5Aread(attr, mtype, strings) < 0;
        if (!bad) {
            snprintf(dst, size, "%s", strings[index] ? strings[index] : "");
            hid_t space = H5Aget_space(attr);
            H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, strings);
            H5Sclose(space);
        }
        if (mtype >= 0)
            H5Tclose(mtype);
        free(strings);
    } else if (!bad) {
        size_t len = H5Tget_size(ftype);
        char *buf = calloc((size_t)count * len + 1, 1);
        hid_t mtype = H5Tcopy(ftype);
        bad = !buf || mtype < 0 || H5Aread(attr, mtype, buf) < 0;
        if (!bad) {
            size_t n = strnlen(buf + (size_t)index * len, len);
            snprintf(dst, size, "%.*s", (int)n, buf + (size_t)index * len);
        }
        if (mtype >= 0)
            H5Tclose(mtype);
        free(buf);
    }
    H5Tclose(ftype);
    return bad ? -1 : 0;
}

/* Number of elements of an attribute's dataspace (1 for a scalar). */
static int attr_count(hid_t attr)
{
    hid_t space = H5Aget_space(attr);
    if (space < 0)
        return -1;
    hssize_t n = H5Sget_simple_extent_npoints(space);
    H5Sclose(space);
    return n < 0 || n > INT32_MAX ? -1 : (int)n;
}

typedef struct attr_visit {
    ld_sequences *s;
    const char *path;
    ld_err *err;
} attr_visit;

/* Root attributes: "system" and the generator settings; attributes that are
 * not strings are ignored. */
static herr_t visit_attr(hid_t loc, const char *name, const H5A_info_t *info, void *user)
{
    (void)info;
    attr_visit *v = user;
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    if (attr < 0)
        return ld_errf(v->err, "%s: cannot open attribute '%s'", v->path, name);
    hid_t type = H5Aget_type(attr);
    int is_string = type >= 0 && H5Tget_class(type) == H5T_STRING;
    if (type >= 0)
        H5Tclose(type);
    char value[sizeof v->s->attr_values[0]];
    int rc = 0;
    if (is_string && (attr_count(attr) != 1 || read_string_attr(attr, 1, value, sizeof value, 0)))
        rc = ld_errf(v->err, "%s: attribute '%s' is not one string", v->path, name);
    else if (is_string && !strcmp(name, "system"))
        rc = copy_text(v->s->system, sizeof v->s->system, value, "system name", v->err);
    else if (is_string && ld_sequences_set_attr(v->s, name, value, v->err))
        rc = -1;
    H5Aclose(attr);
    return rc;
}

static int check_finite(const char *path, const char *name, const double *x, size_t count,
                        ld_err *err)
{
    for (size_t i = 0; i < count; i++)
        if (!isfinite(x[i]))
            return ld_errf(err, "%s: '%s' holds a non-finite value at element %zu", path, name,
                           i);
    return 0;
}

/* The names of the parameters from params/names; "param0", "param1", ...
 * when the attribute is absent. */
static int read_param_names(hid_t params, const char *path, ld_sequences *s, ld_err *err)
{
    if (H5Aexists(params, "names") <= 0) {
        for (int k = 0; k < s->n_params; k++)
            snprintf(s->param_names[k], LD_SEQ_NAME_LEN, "param%d", k);
        return 0;
    }
    hid_t attr = H5Aopen(params, "names", H5P_DEFAULT);
    if (attr < 0)
        return ld_errf(err, "%s: cannot open params/names", path);
    int rc = 0;
    if (attr_count(attr) != s->n_params)
        rc = ld_errf(err, "%s: params/names holds %d names for %d parameters", path,
                     attr_count(attr), s->n_params);
    for (int k = 0; !rc && k < s->n_params; k++)
        if (read_string_attr(attr, s->n_params, s->param_names[k], LD_SEQ_NAME_LEN, k))
            rc = ld_errf(err, "%s: params/names is not an array of strings", path);
    H5Aclose(attr);
    return rc;
}

static int read_file(hid_t file, const char *path, ld_sequences *s, ld_err *err)
{
    hsize_t fd[5], td[2], pd[2] = {0, 0};
    hid_t frames = -1, times = -1, params = -1;
    int rc = -1;
    if ((frames = open_dataset(file, path, "frames", 5, fd, err)) < 0 ||
        (times = open_dataset(file, path, "times", 2, td, err)) < 0)
        goto done;
    /* params are optional: none when the dataset is absent */
    if (H5Lexists(file, "params", H5P_DEFAULT) <= 0)
        pd[0] = fd[0];
    else if ((params = open_dataset(file, path, "params", 2, pd, err)) < 0)
        goto done;
    if (td[0] != fd[0] || td[1] != fd[1] || pd[0] != fd[0]) {
        char params_dims[64] = "";
        if (params >= 0)
            snprintf(params_dims, sizeof params_dims, ", params [%llu, %llu]",
                     (unsigned long long)pd[0], (unsigned long long)pd[1]);
        ld_errf(err, "%s: inconsistent sizes: frames [%llu, %llu, ...], times [%llu, %llu]%s",
                path, (unsigned long long)fd[0], (unsigned long long)fd[1],
                (unsigned long long)td[0], (unsigned long long)td[1], params_dims);
        goto done;
    }
    if (pd[1] > LD_SEQ_MAX_PARAMS) {
        ld_errf(err, "%s: %llu parameters (at most %d)", path, (unsigned long long)pd[1],
                LD_SEQ_MAX_PARAMS);
        goto done;
    }
    for (int d = 0; d < 5; d++)
        if (fd[d] > (hsize_t)INT32_MAX || fd[d] == 0) {
            ld_errf(err, "%s: 'frames' has an empty or too large dimension", path);
            goto done;
        }
    if (ld_sequences_alloc(s, (int)fd[0], (int)fd[1], (int)fd[2], (int)fd[3], (int)fd[4],
                           (int)pd[1], err))
        goto done;
    if (H5Dread(frames, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->frames) < 0 ||
        H5Dread(times, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->times) < 0 ||
        (s->n_params &&
         H5Dread(params, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, s->params) < 0)) {
        ld_errf(err, "%s: cannot read the data (truncated or damaged file?)", path);
        goto done;
    }
    const size_t count = (size_t)s->n * s->length * s->channels * s->height * s->width;
    for (size_t i = 0; i < count; i++)
        if (!isfinite(s->frames[i])) {
            ld_errf(err, "%s: 'frames' holds a non-finite value at element %zu", path, i);
            goto done;
        } else if (!(s->frames[i] >= 0 && s->frames[i] <= 1)) {
            ld_errf(err, "%s: 'frames' holds %g at element %zu; frames must lie in [0, 1] (the "
                         "model's decoder ends in a sigmoid): scale them",
                    path, (double)s->frames[i], i);
            goto done;
        }
    if (check_finite(path, "times", s->times, (size_t)s->n * s->length, err) ||
        check_finite(path, "params", s->params, (size_t)s->n * s->n_params, err))
        goto done;
    for (int i = 0; i < s->n; i++)
        for (int t = 1; t < s->length; t++)
            if (!(s->times[(size_t)i * s->length + t] > s->times[(size_t)i * s->length + t - 1])) {
                ld_errf(err, "%s: the times of instance %d are not increasing (at frame %d)",
                        path, i, t);
                goto done;
            }
    if (s->n_params && read_param_names(params, path, s, err))
        goto done;
    attr_visit v = {s, path, err};
    hsize_t idx = 0;
    if (H5Aiterate2(file, H5_INDEX_NAME, H5_ITER_INC, &idx, visit_attr, &v) < 0)
        goto done;
    rc = 0;
done:
    if (frames >= 0)
        H5Dclose(frames);
    if (times >= 0)
        H5Dclose(times);
    if (params >= 0)
        H5Dclose(params);
    return rc;
}

int ld_sequences_read_h5(const char *path, ld_sequences *s, ld_err *err)
{
    memset(s, 0, sizeof *s);
    FILE *fp = ld_open_regular_file(path, NULL, err); /* a folder or pipe: said plainly */
    if (!fp)
        return -1;
    fclose(fp);
    h5_quiet q;
    h5_quiet_begin(&q);
    int rc = -1;
    if (H5Fis_hdf5(path) <= 0) {
        ld_errf(err, "%s: not an HDF5 file", path);
    } else {
        hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
        if (file < 0)
            ld_errf(err, "%s: cannot open as HDF5 (truncated or damaged file?)", path);
        else {
            rc = read_file(file, path, s, err);
            H5Fclose(file);
        }
    }
    h5_quiet_end(&q);
    if (rc)
        ld_sequences_free(s);
    return rc;
}
