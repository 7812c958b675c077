/* Strict option parsing: see options.h. */
#include "cli/options.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int ld_parse_int(const char *option, const char *text, long lo, long hi, int *out, ld_err *err)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (end == text || *end || errno)
        return ld_errf(err, "%s: '%s' is not an integer", option, text);
    if (v < lo || v > hi)
        return ld_errf(err, "%s: %ld is outside %ld..%ld", option, v, lo, hi);
    *out = (int)v;
    return 0;
}

int ld_parse_u64(const char *option, const char *text, uint64_t *out, ld_err *err)
{
    char *end;
    errno = 0;
    if (*text == '-')
        return ld_errf(err, "%s: '%s' must not be negative", option, text);
    unsigned long long v = strtoull(text, &end, 10);
    if (end == text || *end || errno)
        return ld_errf(err, "%s: '%s' is not a non-negative integer", option, text);
    *out = (uint64_t)v;
    return 0;
}

int ld_parse_double(const char *option, const char *text, double lo, double hi, double *out,
                    ld_err *err)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (end == text || *end || errno || !isfinite(v))
        return ld_errf(err, "%s: '%s' is not a finite number", option, text);
    if (v < lo || v > hi)
        return ld_errf(err, "%s: %g is outside %g..%g", option, v, lo, hi);
    *out = v;
    return 0;
}

int ld_parse_float(const char *option, const char *text, double lo, double hi, float *out,
                   ld_err *err)
{
    double v = 0;
    if (ld_parse_double(option, text, lo, hi, &v, err))
        return -1;
    *out = (float)v;
    return 0;
}

static int parse_choice(const ld_option *o, const char *text, ld_err *err)
{
    char names[256] = "";
    for (int k = 0; o->choices[k]; k++) {
        if (!strcmp(text, o->choices[k])) {
            *(int *)o->out = k;
            return 0;
        }
        size_t len = strlen(names);
        snprintf(names + len, sizeof names - len, "%s%s", k ? ", " : "", o->choices[k]);
    }
    return ld_errf(err, "%s: '%s' is not one of %s", o->name, text, names);
}

static int parse_value(const ld_option *o, const char *text, ld_err *err)
{
    switch (o->kind) {
    case LD_OPT_STRING:
        *(const char **)o->out = text;
        return 0;
    case LD_OPT_INT:
        return ld_parse_int(o->name, text, (long)o->lo, (long)o->hi, o->out, err);
    case LD_OPT_U64:
        return ld_parse_u64(o->name, text, o->out, err);
    case LD_OPT_FLOAT:
        return ld_parse_float(o->name, text, o->lo, o->hi, o->out, err);
    case LD_OPT_DOUBLE:
        return ld_parse_double(o->name, text, o->lo, o->hi, o->out, err);
    case LD_OPT_CHOICE:
        return parse_choice(o, text, err);
    case LD_OPT_FLAG:
        break;
    }
    *(int *)o->out = 1;
    return 0;
}

/* 1 when the first len characters of word are exactly `name`. */
static int names(const char *name, const char *word, size_t len)
{
    return strlen(name) == len && !strncmp(word, name, len);
}

int ld_parse_command_line(int argc, char **argv, const ld_command_line *cl, ld_err *err)
{
    int positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *word = argv[i];
        if (!strcmp(word, "--help") || !strcmp(word, "-h"))
            return 1;
        if (word[0] != '-' || !word[1]) {
            if (positional == cl->max_positional)
                return cl->max_positional
                           ? ld_errf(err, "unexpected argument '%s' (%s expected)", word,
                                     cl->positional_names)
                           : ld_errf(err, "unexpected argument '%s'", word);
            *cl->positional[positional++] = word;
            continue;
        }
        /* --name value, or --name=value */
        const char *equals = word[1] == '-' ? strchr(word, '=') : NULL;
        size_t len = equals ? (size_t)(equals - word) : strlen(word);
        const ld_option *o = cl->options;
        while (o < cl->options + cl->n_options && !names(o->name, word, len) &&
               !(o->alias && names(o->alias, word, len)))
            o++;
        if (o == cl->options + cl->n_options)
            return ld_errf(err, "unknown option '%.*s' (latdyn %s --help)", (int)len, word,
                           cl->command);
        if (o->kind == LD_OPT_FLAG && equals)
            return ld_errf(err, "%s takes no value", o->name);
        if (o->kind != LD_OPT_FLAG && !equals && i + 1 >= argc)
            return ld_errf(err, "%s needs a value", word);
        const char *value = o->kind == LD_OPT_FLAG ? NULL : equals ? equals + 1 : argv[++i];
        if (parse_value(o, value, err))
            return -1;
        if (o->given)
            ++*o->given;
    }
    if (positional < cl->min_positional)
        return ld_errf(err, "%s %s required (latdyn %s --help)", cl->positional_names,
                       cl->min_positional > 1 ? "are" : "is", cl->command);
    return 0;
}

int ld_cli_parsed(int rc, const char *command, void (*usage)(FILE *out), const ld_err *err)
{
    if (rc > 0) {
        usage(stdout);
        return 0;
    }
    if (rc) {
        fprintf(stderr, "latdyn %s: %s\n", command, err->msg);
        return 2;
    }
    return -1;
}
