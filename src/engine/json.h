/* Writing JSON values: one escaping of strings and one rule for numbers
 * (JSON has no NaN or infinity: they are written as null), for every file
 * the project writes as JSON (safetensors headers, truth.json, scores). */
#ifndef LD_JSON_H
#define LD_JSON_H

#include <stdio.h>

/* s as a quoted JSON string: quote and backslash escaped, control
 * characters as \u00XX; other bytes (UTF-8 included) as they are. */
void ld_json_string(FILE *fp, const char *s);

/* v with `format` (a printf conversion of one double, e.g. "%.6g"), or
 * null when v is not finite. */
void ld_json_number(FILE *fp, const char *format, double v);

#endif
