/* safetensors reader and writer with a small JSON parser for its header:
 * see safetensors.h. */
#include "engine/safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/atomic_file.h"
#include "engine/json.h"

/* The largest header accepted, as in the reference implementation. */
#define ST_MAX_HEADER (100u << 20)

static const struct {
    const char *name;
    size_t size;
} dtype_table[] = {{"F32", 4}, {"F64", 8}, {"I32", 4}, {"I64", 8}, {"U8", 1}};

size_t ld_st_dtype_size(ld_st_dtype d) { return dtype_table[d].size; }
const char *ld_st_dtype_name(ld_st_dtype d) { return dtype_table[d].name; }

void ld_st_init(ld_st_file *f) { memset(f, 0, sizeof *f); }

void ld_st_free(ld_st_file *f)
{
    for (int i = 0; i < f->meta_count; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->meta);
    free(f->tensors);
    free(f->buffer);
    memset(f, 0, sizeof *f);
}

const ld_st_tensor *ld_st_find(const ld_st_file *f, const char *name)
{
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

const char *ld_st_meta_get(const ld_st_file *f, const char *key)
{
    for (int i = 0; i < f->meta_count; i++)
        if (strcmp(f->meta[i].key, key) == 0)
            return f->meta[i].value;
    return NULL;
}

int ld_st_set_meta(ld_st_file *f, const char *key, const char *value, ld_err *err)
{
    for (int i = 0; i < f->meta_count; i++)
        if (strcmp(f->meta[i].key, key) == 0) {
            char *v = strdup(value);
            if (!v)
                return ld_errf(err, "out of memory");
            free(f->meta[i].value);
            f->meta[i].value = v;
            return 0;
        }
    if (f->meta_count == f->meta_cap) {
        int cap = f->meta_cap ? 2 * f->meta_cap : 16;
        ld_st_meta *grown = realloc(f->meta, (size_t)cap * sizeof *grown);
        if (!grown)
            return ld_errf(err, "out of memory");
        f->meta = grown;
        f->meta_cap = cap;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return ld_errf(err, "out of memory");
    }
    f->meta[f->meta_count].key = k;
    f->meta[f->meta_count].value = v;
    f->meta_count++;
    return 0;
}

static ld_st_tensor *push_tensor(ld_st_file *f, ld_err *err)
{
    if (f->count == f->cap) {
        int cap = f->cap ? 2 * f->cap : 32;
        ld_st_tensor *grown = realloc(f->tensors, (size_t)cap * sizeof *grown);
        if (!grown) {
            ld_errf(err, "out of memory");
            return NULL;
        }
        f->tensors = grown;
        f->cap = cap;
    }
    ld_st_tensor *t = &f->tensors[f->count++];
    memset(t, 0, sizeof *t);
    return t;
}

int ld_st_add(ld_st_file *f, const char *name, ld_st_dtype dtype, int ndim,
              const int64_t *shape, const void *data, ld_err *err)
{
    if (strlen(name) >= LD_ST_NAME_LEN || ndim < 0 || ndim > LD_ST_MAX_DIMS)
        return ld_errf(err, "tensor '%s': name too long or rank %d unsupported", name, ndim);
    if (ld_st_find(f, name))
        return ld_errf(err, "tensor '%s' added twice", name);
    ld_st_tensor *t = push_tensor(f, err);
    if (!t)
        return -1;
    strcpy(t->name, name);
    t->dtype = dtype;
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->numel *= (size_t)shape[i];
    }
    t->data = data;
    t->nbytes = t->numel * ld_st_dtype_size(dtype);
    return 0;
}

/* ---- JSON header parsing ------------------------------------------------ */

typedef struct json_cursor {
    const char *p, *end;
    ld_err *err;
    const char *path;
} json_cursor;

static int jfail(json_cursor *c, const char *what)
{
    return ld_errf(c->err, "%s: corrupt safetensors header: %s", c->path, what);
}

static void skip_ws(json_cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t'))
        c->p++;
}

static int expect(json_cursor *c, char ch)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p != ch) {
        char msg[64];
        snprintf(msg, sizeof msg, "expected '%c'", ch);
        return jfail(c, msg);
    }
    c->p++;
    return 0;
}

/* Parses a JSON string into a malloc'd buffer (escapes decoded; \u limited
 * to ASCII). */
static char *parse_string(json_cursor *c)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p != '"') {
        jfail(c, "expected a string");
        return NULL;
    }
    c->p++;
    size_t cap = 32, len = 0;
    char *s = malloc(cap);
    if (!s) {
        jfail(c, "out of memory");
        return NULL;
    }
    while (c->p < c->end && *c->p != '"') {
        char ch = *c->p++;
        if ((unsigned char)ch < 0x20) {
            free(s);
            jfail(c, "control character in string");
            return NULL;
        }
        if (ch == '\\') {
            if (c->p >= c->end)
                break;
            char e = *c->p++;
            switch (e) {
            case 'n': ch = '\n'; break;
            case 't': ch = '\t'; break;
            case 'r': ch = '\r'; break;
            case 'b': ch = '\b'; break;
            case 'f': ch = '\f'; break;
            case '"': case '\\': case '/': ch = e; break;
            case 'u': {
                unsigned v = 0;
                for (int i = 0; i < 4; i++) {
                    if (c->p >= c->end) {
                        free(s);
                        jfail(c, "truncated \\u escape");
                        return NULL;
                    }
                    char h = *c->p++;
                    v = v * 16 + (unsigned)(h >= '0' && h <= '9' ? h - '0'
                                            : h >= 'a' && h <= 'f' ? h - 'a' + 10
                                            : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 0);
                }
                ch = v < 0x80 ? (char)v : '?';
                break;
            }
            default:
                free(s);
                jfail(c, "bad escape in string");
                return NULL;
            }
        }
        if (len + 2 > cap) {
            cap *= 2;
            char *g = realloc(s, cap);
            if (!g) {
                free(s);
                jfail(c, "out of memory");
                return NULL;
            }
            s = g;
        }
        s[len++] = ch;
    }
    if (c->p >= c->end) {
        free(s);
        jfail(c, "unterminated string");
        return NULL;
    }
    c->p++;
    s[len] = 0;
    return s;
}

static int parse_uint(json_cursor *c, int64_t *out)
{
    skip_ws(c);
    if (c->p >= c->end || *c->p < '0' || *c->p > '9')
        return jfail(c, "expected a non-negative integer");
    int64_t v = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        if (v > (INT64_MAX - 9) / 10)
            return jfail(c, "integer too large");
        v = v * 10 + (*c->p++ - '0');
    }
    *out = v;
    return 0;
}

/* [a, b, ...] of non-negative integers, at most max. */
static int parse_int_array(json_cursor *c, int64_t *vals, int max, int *n)
{
    if (expect(c, '['))
        return -1;
    *n = 0;
    skip_ws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return 0;
    }
    for (;;) {
        if (*n >= max)
            return jfail(c, "array too long");
        if (parse_uint(c, &vals[(*n)++]))
            return -1;
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        return expect(c, ']');
    }
}

static int parse_metadata(json_cursor *c, ld_st_file *f)
{
    if (expect(c, '{'))
        return -1;
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return 0;
    }
    for (;;) {
        char *k = parse_string(c);
        if (!k)
            return -1;
        char *v = NULL;
        if (expect(c, ':') || !(v = parse_string(c))) {
            free(k);
            return -1;
        }
        int rc = ld_st_set_meta(f, k, v, c->err);
        free(k);
        free(v);
        if (rc)
            return -1;
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        return expect(c, '}');
    }
}

static int parse_tensor_entry(json_cursor *c, ld_st_tensor *t, int64_t offsets[2])
{
    int have_dtype = 0, have_shape = 0, have_offsets = 0;
    if (expect(c, '{'))
        return -1;
    for (;;) {
        char *key = parse_string(c);
        if (!key)
            return -1;
        if (expect(c, ':')) {
            free(key);
            return -1;
        }
        int rc = 0;
        if (strcmp(key, "dtype") == 0) {
            char *d = parse_string(c);
            if (!d) {
                rc = -1;
            } else {
                rc = jfail(c, "unsupported dtype");
                for (size_t i = 0; i < sizeof dtype_table / sizeof dtype_table[0]; i++)
                    if (strcmp(d, dtype_table[i].name) == 0) {
                        t->dtype = (ld_st_dtype)i;
                        rc = 0;
                    }
                if (rc)
                    ld_errf(c->err, "%s: tensor '%s' has unsupported dtype '%s'", c->path,
                            t->name, d);
                free(d);
            }
            have_dtype = 1;
        } else if (strcmp(key, "shape") == 0) {
            rc = parse_int_array(c, t->shape, LD_ST_MAX_DIMS, &t->ndim);
            have_shape = 1;
        } else if (strcmp(key, "data_offsets") == 0) {
            int n = 0;
            rc = parse_int_array(c, offsets, 2, &n);
            if (!rc && n != 2)
                rc = jfail(c, "data_offsets needs two integers");
            have_offsets = 1;
        } else {
            rc = jfail(c, "unknown key in tensor entry");
        }
        free(key);
        if (rc)
            return -1;
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (expect(c, '}'))
            return -1;
        break;
    }
    if (!have_dtype || !have_shape || !have_offsets)
        return jfail(c, "tensor entry lacks dtype, shape or data_offsets");
    return 0;
}

int ld_st_read(const char *path, ld_st_file *f, ld_err *err)
{
    ld_st_init(f);
    size_t size;
    FILE *fp = ld_open_regular_file(path, &size, err);
    if (!fp)
        return -1;
    if (size < 8) {
        fclose(fp);
        return ld_errf(err, "%s: truncated (%zu bytes; a safetensors file has at least 8)", path,
                       size);
    }
    f->buffer = malloc(size);
    if (!f->buffer) {
        fclose(fp);
        return ld_errf(err, "%s: out of memory reading %zu bytes", path, size);
    }
    size_t got = fread(f->buffer, 1, size, fp);
    fclose(fp);
    if (got != size) {
        ld_st_free(f);
        return ld_errf(err, "%s: read error", path);
    }
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--)
        header_len = header_len << 8 | f->buffer[i];
    if (header_len > ST_MAX_HEADER || header_len > (uint64_t)size - 8) {
        ld_st_free(f);
        return ld_errf(err, "%s: not a safetensors file or truncated (header length %llu, file "
                            "%zu bytes)", path, (unsigned long long)header_len, size);
    }
    const unsigned char *blob = f->buffer + 8 + header_len;
    size_t blob_len = size - 8 - (size_t)header_len;
    json_cursor c = {(const char *)f->buffer + 8, (const char *)blob, err, path};
    int rc = expect(&c, '{');
    skip_ws(&c);
    int empty = !rc && c.p < c.end && *c.p == '}';
    if (empty)
        c.p++;
    while (!rc && !empty) {
        char *name = parse_string(&c);
        if (!name || expect(&c, ':')) {
            free(name);
            rc = -1;
            break;
        }
        if (strcmp(name, "__metadata__") == 0) {
            rc = parse_metadata(&c, f);
        } else if (strlen(name) >= LD_ST_NAME_LEN || ld_st_find(f, name)) {
            rc = ld_errf(err, "%s: tensor name '%.60s' too long or repeated", path, name);
        } else {
            ld_st_tensor *t = push_tensor(f, err);
            int64_t off[2] = {0, 0};
            if (!t) {
                rc = -1;
            } else {
                strcpy(t->name, name);
                rc = parse_tensor_entry(&c, t, off);
            }
            if (!rc) {
                t->numel = 1;
                for (int i = 0; i < t->ndim; i++)
                    t->numel *= (size_t)t->shape[i];
                t->nbytes = t->numel * ld_st_dtype_size(t->dtype);
                if (off[1] < off[0] || (uint64_t)off[1] > blob_len)
                    rc = ld_errf(err, "%s: tensor '%s' data [%lld, %lld) lies outside the %zu "
                                      "data bytes (truncated file?)", path, t->name,
                                 (long long)off[0], (long long)off[1], blob_len);
                else if ((size_t)(off[1] - off[0]) != t->nbytes)
                    rc = ld_errf(err, "%s: tensor '%s' has %lld data bytes, its shape needs %zu",
                                 path, t->name, (long long)(off[1] - off[0]), t->nbytes);
                else
                    t->data = blob + off[0];
            }
        }
        free(name);
        if (rc)
            break;
        skip_ws(&c);
        if (c.p < c.end && *c.p == ',') {
            c.p++;
            continue;
        }
        rc = expect(&c, '}');
        break;
    }
    if (!rc) {
        skip_ws(&c);
        if (c.p != c.end)
            rc = jfail(&c, "trailing bytes after the header object");
    }
    if (rc) {
        ld_st_free(f);
        return -1;
    }
    return 0;
}

/* ---- writing ------------------------------------------------------------ */

/* Writes the header JSON into fp (a memory stream) with the data offsets. */
static void put_header(FILE *fp, const ld_st_file *f)
{
    size_t offset = 0;
    fputc('{', fp);
    if (f->meta_count) {
        fputs("\"__metadata__\":{", fp);
        for (int i = 0; i < f->meta_count; i++) {
            if (i)
                fputc(',', fp);
            ld_json_string(fp, f->meta[i].key);
            fputc(':', fp);
            ld_json_string(fp, f->meta[i].value);
        }
        fputc('}', fp);
    }
    for (int i = 0; i < f->count; i++) {
        const ld_st_tensor *t = &f->tensors[i];
        if (i || f->meta_count)
            fputc(',', fp);
        ld_json_string(fp, t->name);
        fprintf(fp, ":{\"dtype\":\"%s\",\"shape\":[", ld_st_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++)
            fprintf(fp, d ? ",%lld" : "%lld", (long long)t->shape[d]);
        fprintf(fp, "],\"data_offsets\":[%zu,%zu]}", offset, offset + t->nbytes);
        offset += t->nbytes;
    }
    fputc('}', fp);
}

int ld_st_write(const ld_st_file *f, const char *path, ld_err *err)
{
    char *header = NULL;
    size_t header_len = 0;
    FILE *mem = open_memstream(&header, &header_len);
    if (!mem)
        return ld_errf(err, "out of memory");
    put_header(mem, f);
    if (fclose(mem) != 0) {
        free(header);
        return ld_errf(err, "out of memory");
    }
    size_t padded = (header_len + 7) / 8 * 8; /* data starts 8-byte aligned */
    ld_atomic_file out;
    if (ld_atomic_open(&out, path, err)) {
        free(header);
        return -1;
    }
    unsigned char len_bytes[8];
    for (int i = 0; i < 8; i++)
        len_bytes[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    fwrite(len_bytes, 1, 8, out.fp);
    fwrite(header, 1, header_len, out.fp);
    for (size_t i = header_len; i < padded; i++)
        fputc(' ', out.fp);
    free(header);
    for (int i = 0; i < f->count; i++)
        fwrite(f->tensors[i].data, 1, f->tensors[i].nbytes, out.fp);
    return ld_atomic_commit(&out, err);
}

int ld_st_read_f32(const ld_st_file *f, const char *name, int ndim, const int64_t *shape,
                   float *out, ld_err *err)
{
    const ld_st_tensor *t = ld_st_find(f, name);
    if (!t)
        return ld_errf(err, "tensor '%s' missing", name);
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++)
        same = t->shape[i] == shape[i];
    if (!same) {
        char want[128] = "", have[128] = "";
        size_t a = 0, b = 0;
        for (int i = 0; i < ndim && a < sizeof want; i++)
            a += (size_t)snprintf(want + a, sizeof want - a, i ? ",%lld" : "%lld",
                                  (long long)shape[i]);
        for (int i = 0; i < t->ndim && b < sizeof have; i++)
            b += (size_t)snprintf(have + b, sizeof have - b, i ? ",%lld" : "%lld",
                                  (long long)t->shape[i]);
        return ld_errf(err, "tensor '%s' has shape [%s], expected [%s]", name, have, want);
    }
    if (t->dtype == LD_ST_F32) {
        memcpy(out, t->data, t->nbytes);
    } else if (t->dtype == LD_ST_F64) {
        for (size_t i = 0; i < t->numel; i++) {
            double v;
            memcpy(&v, (const unsigned char *)t->data + 8 * i, 8);
            out[i] = (float)v;
        }
    } else {
        return ld_errf(err, "tensor '%s' has dtype %s, expected F32", name,
                       ld_st_dtype_name(t->dtype));
    }
    return 0;
}
