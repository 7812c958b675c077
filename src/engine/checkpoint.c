/* Checkpoint save and load on top of the safetensors reader and writer:
 * see checkpoint.h. */
#include "engine/checkpoint.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/safetensors.h"

#define MOMENT_M_PREFIX "optim.m/"
#define MOMENT_V_PREFIX "optim.v/"
#define MOMENT_PREFIX_LEN 8
#define CONFIG_PREFIX "config."
#define CONFIG_PREFIX_LEN 7

/* ---- configuration ------------------------------------------------------- */

void ld_config_init(ld_config *c) { memset(c, 0, sizeof *c); }

void ld_config_free(ld_config *c)
{
    for (int i = 0; i < c->count; i++) {
        free(c->keys[i]);
        free(c->values[i]);
    }
    free(c->keys);
    free(c->values);
    memset(c, 0, sizeof *c);
}

const char *ld_config_get(const ld_config *c, const char *key)
{
    for (int i = 0; i < c->count; i++)
        if (strcmp(c->keys[i], key) == 0)
            return c->values[i];
    return NULL;
}

/* The shortest decimal that reads back as the same float (float_digits)
 * or double: 0.001f is written "0.001", not "0.00100000005". */
static void shortest_decimal(char *out, size_t size, double v, int float_digits)
{
    int most = float_digits ? 9 : 17;
    for (int digits = 1; digits <= most; digits++) {
        snprintf(out, size, "%.*g", digits, v);
        if (float_digits ? strtof(out, NULL) == (float)v : strtod(out, NULL) == v)
            return;
    }
}

int ld_config_save_fields(ld_config *out, const void *settings, const ld_config_field *fields,
                          size_t count, const char *model, ld_err *err)
{
    for (size_t i = 0; i < count; i++) {
        const char *p = (const char *)settings + fields[i].offset;
        char value[64];
        if (fields[i].type == LD_CONFIG_INT)
            snprintf(value, sizeof value, "%d", *(const int *)p);
        else if (fields[i].type == LD_CONFIG_FLOAT)
            shortest_decimal(value, sizeof value, *(const float *)p, 1);
        else
            shortest_decimal(value, sizeof value, *(const double *)p, 0);
        if (ld_config_set(out, fields[i].key, value, err))
            return -1;
    }
    return ld_config_set(out, "model", model, err);
}

int ld_config_load_fields(const ld_config *in, void *settings, const ld_config_field *fields,
                          size_t count, const char *model, size_t settings_size, ld_err *err)
{
    const char *name = ld_config_get(in, "model");
    if (!name || strcmp(name, model))
        return ld_errf(err, "not a %s model (model '%s')", model, name ? name : "?");
    memset(settings, 0, settings_size);
    for (size_t i = 0; i < count; i++) {
        const char *v = ld_config_get(in, fields[i].key);
        char *p = (char *)settings + fields[i].offset, *end;
        if (!v && fields[i].optional)
            continue;
        if (!v)
            return ld_errf(err, "the %s configuration lacks '%s'", model, fields[i].key);
        if (fields[i].type == LD_CONFIG_INT)
            *(int *)p = (int)strtol(v, &end, 10);
        else if (fields[i].type == LD_CONFIG_FLOAT)
            *(float *)p = strtof(v, &end);
        else
            *(double *)p = strtod(v, &end);
        if (*end || end == v)
            return ld_errf(err, "the %s configuration's '%s' = '%s' is not a number", model,
                           fields[i].key, v);
    }
    return 0;
}

int ld_config_set(ld_config *c, const char *key, const char *value, ld_err *err)
{
    if (!key[0] || strlen(key) > LD_CONFIG_KEY_MAX)
        return ld_errf(err, "config: key '%.40s' is empty or longer than %d characters", key,
                       LD_CONFIG_KEY_MAX);
    char *v = strdup(value);
    if (!v)
        return ld_errf(err, "config: out of memory");
    for (int i = 0; i < c->count; i++)
        if (strcmp(c->keys[i], key) == 0) {
            free(c->values[i]);
            c->values[i] = v;
            return 0;
        }
    if (c->count == c->cap) {
        int cap = c->cap ? 2 * c->cap : 16;
        char **keys = realloc(c->keys, (size_t)cap * sizeof *keys);
        if (keys)
            c->keys = keys;
        char **values = keys ? realloc(c->values, (size_t)cap * sizeof *values) : NULL;
        if (!values) {
            free(v);
            return ld_errf(err, "config: out of memory");
        }
        c->values = values;
        c->cap = cap;
    }
    char *k = strdup(key);
    if (!k) {
        free(v);
        return ld_errf(err, "config: out of memory");
    }
    c->keys[c->count] = k;
    c->values[c->count] = v;
    c->count++;
    return 0;
}

/* ---- numeric metadata fields --------------------------------------------- */

typedef enum { FIELD_DOUBLE, FIELD_INT64, FIELD_UINT64 } field_type;

/* A number stored as metadata `key`, at `offset` in a struct. */
typedef struct field {
    const char *key;
    field_type type;
    size_t offset;
} field;

#define FIELDS(table) (table), (int)(sizeof(table) / sizeof(table)[0])

static const field step_fields[] = {{"step", FIELD_INT64, 0}};
static const field version_fields[] = {{"format_version", FIELD_INT64, 0}};

static const field rng_fields[] = {
    {"rng.seed", FIELD_UINT64, offsetof(ld_rng, seed)},
    {"rng.counter", FIELD_UINT64, offsetof(ld_rng, counter)},
};

static const field optim_fields[] = {
    {"optim.lr", FIELD_DOUBLE, offsetof(ld_optim, lr)},
    {"optim.beta1", FIELD_DOUBLE, offsetof(ld_optim, beta1)},
    {"optim.beta2", FIELD_DOUBLE, offsetof(ld_optim, beta2)},
    {"optim.eps", FIELD_DOUBLE, offsetof(ld_optim, eps)},
    {"optim.weight_decay", FIELD_DOUBLE, offsetof(ld_optim, weight_decay)},
    {"optim.step", FIELD_INT64, offsetof(ld_optim, step)},
};

static const field schedule_fields[] = {
    {"schedule.base_lr", FIELD_DOUBLE, offsetof(ld_schedule, base_lr)},
    {"schedule.gamma", FIELD_DOUBLE, offsetof(ld_schedule, gamma)},
    {"schedule.every", FIELD_INT64, offsetof(ld_schedule, every)},
    {"schedule.t_max", FIELD_INT64, offsetof(ld_schedule, t_max)},
    {"schedule.min_lr", FIELD_DOUBLE, offsetof(ld_schedule, min_lr)},
    {"schedule.factor", FIELD_DOUBLE, offsetof(ld_schedule, factor)},
    {"schedule.threshold", FIELD_DOUBLE, offsetof(ld_schedule, threshold)},
    {"schedule.patience", FIELD_INT64, offsetof(ld_schedule, patience)},
    {"schedule.cooldown", FIELD_INT64, offsetof(ld_schedule, cooldown)},
    {"schedule.lr", FIELD_DOUBLE, offsetof(ld_schedule, lr)},
    {"schedule.best", FIELD_DOUBLE, offsetof(ld_schedule, best)},
    {"schedule.bad_epochs", FIELD_INT64, offsetof(ld_schedule, bad_epochs)},
    {"schedule.cooldown_left", FIELD_INT64, offsetof(ld_schedule, cooldown_left)},
    {"schedule.epochs", FIELD_INT64, offsetof(ld_schedule, epochs)},
};

static int put_fields(ld_st_file *f, const field *fields, int n, const void *obj, ld_err *err)
{
    for (int i = 0; i < n; i++) {
        const char *at = (const char *)obj + fields[i].offset;
        char text[48];
        switch (fields[i].type) {
        case FIELD_DOUBLE: /* the shortest of 15..17 digits that reads back exactly */
            for (int digits = 15; digits <= 17; digits++) {
                snprintf(text, sizeof text, "%.*g", digits, *(const double *)at);
                if (strtod(text, NULL) == *(const double *)at)
                    break;
            }
            break;
        case FIELD_INT64:
            snprintf(text, sizeof text, "%" PRId64, *(const int64_t *)at);
            break;
        case FIELD_UINT64:
            snprintf(text, sizeof text, "%" PRIu64, *(const uint64_t *)at);
            break;
        }
        if (ld_st_set_meta(f, fields[i].key, text, err))
            return -1;
    }
    return 0;
}

static const char *need_meta(const ld_st_file *f, const char *path, const char *key,
                             ld_err *err)
{
    const char *v = ld_st_meta_get(f, key);
    if (!v)
        ld_errf(err, "%s: checkpoint metadata '%s' missing", path, key);
    return v;
}

/* Parses the whole of text as a number of the given type into *at
 * (doubles: anything strtod reads, inf and subnormals included; integers:
 * decimal within range). */
static int parse_number(const char *text, field_type type, void *at)
{
    char *end = NULL;
    if (!text[0] || isspace((unsigned char)text[0]) || text[0] == '+' ||
        (text[0] == '-' && type == FIELD_UINT64))
        return -1;
    errno = 0;
    if (type == FIELD_DOUBLE) {
        double v = strtod(text, &end);
        if (*end)
            return -1;
        *(double *)at = v;
    } else if (type == FIELD_INT64) {
        long long v = strtoll(text, &end, 10);
        if (*end || errno)
            return -1;
        *(int64_t *)at = (int64_t)v;
    } else {
        unsigned long long v = strtoull(text, &end, 10);
        if (*end || errno)
            return -1;
        *(uint64_t *)at = (uint64_t)v;
    }
    return 0;
}

/* Reads every field into obj; obj may be partly written on error, so pass
 * a temporary. */
static int get_fields(const ld_st_file *f, const char *path, const field *fields, int n,
                      void *obj, ld_err *err)
{
    for (int i = 0; i < n; i++) {
        const char *text = need_meta(f, path, fields[i].key, err);
        if (!text)
            return -1;
        if (parse_number(text, fields[i].type, (char *)obj + fields[i].offset))
            return ld_errf(err, "%s: checkpoint metadata '%s' = '%.40s' is not a valid %s", path,
                           fields[i].key, text,
                           fields[i].type == FIELD_DOUBLE ? "number" : "64-bit integer");
    }
    return 0;
}

/* ---- saving -------------------------------------------------------------- */

/* The name of entry e's tensor (prefix + its name) and its shape. */
static void entry_tensor(const ld_param_info *e, const char *prefix, char name[LD_ST_NAME_LEN],
                         int64_t shape[LD_MAX_DIMS])
{
    snprintf(name, LD_ST_NAME_LEN, "%s%s", prefix, e->name);
    for (int d = 0; d < e->ndim; d++)
        shape[d] = e->shape[d];
}

/* Adds data + e's offset as an F32 tensor with entry e's shape. */
static int add_tensor(ld_st_file *f, const char *prefix, const ld_param_info *e,
                      const float *data, ld_err *err)
{
    char name[LD_ST_NAME_LEN];
    int64_t shape[LD_MAX_DIMS];
    entry_tensor(e, prefix, name, shape);
    return ld_st_add(f, name, LD_ST_F32, e->ndim, shape, data + e->offset, err);
}

static int put_schedule(ld_st_file *f, const ld_schedule *s, ld_err *err)
{
    char milestones[LD_SCHEDULE_MAX_MILESTONES * 21 + 1] = "";
    size_t len = 0;
    for (int i = 0; i < s->n_milestones; i++)
        len += (size_t)snprintf(milestones + len, sizeof milestones - len,
                                i ? ",%" PRId64 : "%" PRId64, s->milestones[i]);
    if (ld_st_set_meta(f, "schedule.kind", ld_schedule_kind_name(s->kind), err) ||
        ld_st_set_meta(f, "schedule.milestones", milestones, err))
        return -1;
    return put_fields(f, FIELDS(schedule_fields), s, err);
}

static int put_checkpoint(ld_st_file *f, const ld_params *p, const ld_optim *opt, int64_t step,
                          const ld_rng *rng, const ld_schedule *sched, const ld_config *config,
                          ld_err *err)
{
    int64_t version = LD_CHECKPOINT_VERSION;
    if (ld_st_set_meta(f, "format", LD_CHECKPOINT_FORMAT, err) ||
        put_fields(f, FIELDS(version_fields), &version, err) ||
        put_fields(f, FIELDS(step_fields), &step, err))
        return -1;
    if (rng && put_fields(f, FIELDS(rng_fields), rng, err))
        return -1;
    if (opt && (ld_st_set_meta(f, "optim.kind", ld_optim_kind_name(opt->kind), err) ||
                put_fields(f, FIELDS(optim_fields), opt, err)))
        return -1;
    if (sched && (ld_schedule_check(sched, err) || put_schedule(f, sched, err)))
        return -1;
    for (int i = 0; config && i < config->count; i++) {
        char key[CONFIG_PREFIX_LEN + LD_CONFIG_KEY_MAX + 1];
        snprintf(key, sizeof key, CONFIG_PREFIX "%s", config->keys[i]);
        if (ld_st_set_meta(f, key, config->values[i], err))
            return -1;
    }
    for (int i = 0; i < p->count; i++)
        if (add_tensor(f, "", &p->info[i], p->data, err))
            return -1;
    for (int i = 0; opt && i < p->count; i++)
        if (p->info[i].trainable && (add_tensor(f, MOMENT_M_PREFIX, &p->info[i], opt->m, err) ||
                                     add_tensor(f, MOMENT_V_PREFIX, &p->info[i], opt->v, err)))
            return -1;
    return 0;
}

int ld_checkpoint_save(const char *path, const ld_params *p, const ld_optim *opt, int64_t step,
                       const ld_rng *rng, const ld_schedule *sched, const ld_config *config,
                       ld_err *err)
{
    if (!p->finalized)
        return ld_errf(err, "%s: cannot save a parameter registry that is not finalized", path);
    if (opt && (opt->total != p->total || !opt->m))
        return ld_errf(err, "%s: the optimiser was made for %zu parameters, the registry has %zu",
                       path, opt->total, p->total);
    ld_st_file f;
    ld_st_init(&f);
    int rc = put_checkpoint(&f, p, opt, step, rng, sched, config, err);
    if (!rc)
        rc = ld_st_write(&f, path, err);
    ld_st_free(&f);
    return rc;
}

/* ---- loading ------------------------------------------------------------- */

static void shape_str(int ndim, const int64_t *shape, char *buf, size_t len)
{
    size_t at = (size_t)snprintf(buf, len, "[");
    for (int d = 0; d < ndim && at < len; d++)
        at += (size_t)snprintf(buf + at, len - at, d ? ", %" PRId64 : "%" PRId64, shape[d]);
    if (at < len)
        snprintf(buf + at, len - at, "]");
}

/* The tensor prefix + e->name, checked to be F32 with e's shape. */
static const ld_st_tensor *find_tensor(const ld_st_file *f, const char *path, const char *prefix,
                                       const ld_param_info *e, ld_err *err)
{
    char name[LD_ST_NAME_LEN], want[128], have[128];
    int64_t shape[LD_MAX_DIMS];
    entry_tensor(e, prefix, name, shape);
    shape_str(e->ndim, shape, want, sizeof want);
    const ld_st_tensor *t = ld_st_find(f, name);
    if (!t) {
        ld_errf(err, "%s: tensor '%s' missing from the checkpoint (the model has it with shape %s)",
                path, name, want);
        return NULL;
    }
    shape_str(t->ndim, t->shape, have, sizeof have);
    int same = t->ndim == e->ndim;
    for (int d = 0; same && d < e->ndim; d++)
        same = t->shape[d] == shape[d];
    if (!same) {
        ld_errf(err, "%s: tensor '%s' has shape %s in the checkpoint, the model has %s", path,
                name, have, want);
        return NULL;
    }
    if (t->dtype != LD_ST_F32) {
        ld_errf(err, "%s: tensor '%s' has dtype %s in the checkpoint, expected F32", path, name,
                ld_st_dtype_name(t->dtype));
        return NULL;
    }
    return t;
}

/* 1 when tensor `name` belongs to the model: a parameter, or a moment of a
 * trainable one. */
static int is_model_tensor(const ld_params *p, const char *name)
{
    if (ld_params_find(p, name) >= 0)
        return 1;
    if (strncmp(name, MOMENT_M_PREFIX, MOMENT_PREFIX_LEN) != 0 &&
        strncmp(name, MOMENT_V_PREFIX, MOMENT_PREFIX_LEN) != 0)
        return 0;
    int i = ld_params_find(p, name + MOMENT_PREFIX_LEN);
    return i >= 0 && p->info[i].trainable;
}

/* Finds and checks every tensor: src[i] the parameter i, src[count + i]
 * and src[2 count + i] its moments (trainable entries, with_moments). */
static int find_tensors(const ld_st_file *f, const char *path, const ld_params *p,
                        int with_moments, const ld_st_tensor **src, ld_err *err)
{
    for (int i = 0; i < f->count; i++)
        if (!is_model_tensor(p, f->tensors[i].name))
            return ld_errf(err, "%s: tensor '%s' in the checkpoint is not a parameter of this "
                                "model", path, f->tensors[i].name);
    for (int i = 0; i < p->count; i++) {
        const ld_param_info *e = &p->info[i];
        if (!(src[i] = find_tensor(f, path, "", e, err)))
            return -1;
        if (!with_moments || !e->trainable)
            continue;
        if (!(src[p->count + i] = find_tensor(f, path, MOMENT_M_PREFIX, e, err)) ||
            !(src[2 * p->count + i] = find_tensor(f, path, MOMENT_V_PREFIX, e, err)))
            return -1;
    }
    return 0;
}

static int check_format(const ld_st_file *f, const char *path, ld_err *err)
{
    const char *format = ld_st_meta_get(f, "format");
    if (!format || strcmp(format, LD_CHECKPOINT_FORMAT) != 0)
        return ld_errf(err, "%s: not a latdyn checkpoint (metadata 'format' is %s%s%s, expected "
                            "'" LD_CHECKPOINT_FORMAT "')", path, format ? "'" : "",
                       format ? format : "missing", format ? "'" : "");
    int64_t version = 0;
    if (get_fields(f, path, FIELDS(version_fields), &version, err))
        return -1;
    if (version != LD_CHECKPOINT_VERSION)
        return ld_errf(err, "%s: checkpoint format version %" PRId64 ", this build reads %d", path,
                       version, LD_CHECKPOINT_VERSION);
    return 0;
}

static int get_optim(const ld_st_file *f, const char *path, ld_optim *o, ld_err *err)
{
    const char *kind_name = ld_st_meta_get(f, "optim.kind");
    ld_optim_kind kind;
    if (!kind_name)
        return ld_errf(err, "%s: the checkpoint has no optimiser state", path);
    if (ld_optim_kind_parse(kind_name, &kind))
        return ld_errf(err, "%s: unknown optimiser '%.40s' in the checkpoint", path, kind_name);
    if (kind != o->kind)
        return ld_errf(err, "%s: the checkpoint's optimiser is %s, this one is %s", path,
                       kind_name, ld_optim_kind_name(o->kind));
    if (get_fields(f, path, FIELDS(optim_fields), o, err))
        return -1;
    if (o->step < 0)
        return ld_errf(err, "%s: negative optimiser step %" PRId64, path, o->step);
    return 0;
}

static int get_schedule(const ld_st_file *f, const char *path, ld_schedule *s, ld_err *err)
{
    const char *kind_name = ld_st_meta_get(f, "schedule.kind");
    memset(s, 0, sizeof *s);
    if (!kind_name)
        return ld_errf(err, "%s: the checkpoint has no schedule state", path);
    if (ld_schedule_kind_parse(kind_name, &s->kind))
        return ld_errf(err, "%s: unknown schedule '%.40s' in the checkpoint", path, kind_name);
    if (get_fields(f, path, FIELDS(schedule_fields), s, err))
        return -1;
    const char *list = need_meta(f, path, "schedule.milestones", err);
    if (!list)
        return -1;
    for (const char *at = list; *at; s->n_milestones++) {
        char item[24];
        size_t len = strcspn(at, ",");
        if (s->n_milestones == LD_SCHEDULE_MAX_MILESTONES || len == 0 || len >= sizeof item)
            return ld_errf(err, "%s: bad schedule milestones '%.60s'", path, list);
        memcpy(item, at, len);
        item[len] = 0;
        if (parse_number(item, FIELD_INT64, &s->milestones[s->n_milestones]))
            return ld_errf(err, "%s: bad schedule milestones '%.60s'", path, list);
        at += len + (at[len] == ',');
    }
    ld_err why;
    if (ld_schedule_check(s, &why))
        return ld_errf(err, "%s: %s", path, why.msg);
    return 0;
}

static int get_config(const ld_st_file *f, ld_config *c, ld_err *err)
{
    for (int i = 0; i < f->meta_count; i++)
        if (strncmp(f->meta[i].key, CONFIG_PREFIX, CONFIG_PREFIX_LEN) == 0 &&
            ld_config_set(c, f->meta[i].key + CONFIG_PREFIX_LEN, f->meta[i].value, err))
            return -1;
    return 0;
}

/* Replaces *config by *fresh (which is left empty). */
static void config_replace(ld_config *config, ld_config *fresh)
{
    ld_config_free(config);
    *config = *fresh;
    ld_config_init(fresh);
}

int ld_checkpoint_load(const char *path, ld_params *p, ld_optim *opt, int64_t *step,
                       ld_rng *rng, ld_schedule *sched, ld_config *config, ld_err *err)
{
    if (!p->finalized)
        return ld_errf(err, "%s: cannot load into a parameter registry that is not finalized",
                       path);
    if (opt && (opt->total != p->total || !opt->m))
        return ld_errf(err, "%s: the optimiser was made for %zu parameters, the registry has %zu",
                       path, opt->total, p->total);
    ld_st_file f;
    if (ld_st_read(path, &f, err))
        return -1;
    /* everything is read into these and checked before anything is copied */
    const ld_st_tensor **src = calloc(3 * (size_t)p->count + 1, sizeof *src);
    ld_optim new_opt;
    ld_schedule new_sched;
    ld_config new_config;
    ld_rng new_rng = {0, 0};
    int64_t new_step = 0;
    ld_config_init(&new_config);
    int rc = src ? 0 : ld_errf(err, "%s: out of memory", path);
    if (!rc)
        rc = check_format(&f, path, err);
    if (!rc && step)
        rc = get_fields(&f, path, FIELDS(step_fields), &new_step, err);
    if (!rc && rng && !ld_st_meta_get(&f, "rng.seed"))
        rc = ld_errf(err, "%s: the checkpoint has no RNG state", path);
    if (!rc && rng)
        rc = get_fields(&f, path, FIELDS(rng_fields), &new_rng, err);
    if (!rc && opt) {
        new_opt = *opt;
        rc = get_optim(&f, path, &new_opt, err);
    }
    if (!rc && sched)
        rc = get_schedule(&f, path, &new_sched, err);
    if (!rc)
        rc = find_tensors(&f, path, p, opt != NULL, src, err);
    if (!rc && config)
        rc = get_config(&f, &new_config, err);
    if (!rc) {
        for (int i = 0; i < p->count; i++) {
            const ld_param_info *e = &p->info[i];
            size_t bytes = e->numel * sizeof(float);
            memcpy(p->data + e->offset, src[i]->data, bytes);
            if (opt && e->trainable) {
                memcpy(opt->m + e->offset, src[p->count + i]->data, bytes);
                memcpy(opt->v + e->offset, src[2 * p->count + i]->data, bytes);
            }
        }
        if (opt)
            *opt = new_opt;
        if (step)
            *step = new_step;
        if (rng)
            *rng = new_rng;
        if (sched)
            *sched = new_sched;
        if (config)
            config_replace(config, &new_config);
    }
    ld_config_free(&new_config);
    free(src);
    ld_st_free(&f);
    return rc;
}

int ld_checkpoint_read_config(const char *path, ld_config *config, ld_err *err)
{
    ld_st_file f;
    if (ld_st_read(path, &f, err))
        return -1;
    ld_config fresh;
    ld_config_init(&fresh);
    int rc = check_format(&f, path, err);
    if (!rc)
        rc = get_config(&f, &fresh, err);
    if (!rc)
        config_replace(config, &fresh);
    ld_config_free(&fresh);
    ld_st_free(&f);
    return rc;
}
