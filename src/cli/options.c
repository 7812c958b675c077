/* Strict option parsing: see options.h. */
#include "cli/options.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

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

const char *ld_option_value(int argc, char **argv, int *i, ld_err *err)
{
    if (*i + 1 >= argc) {
        ld_errf(err, "%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
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
