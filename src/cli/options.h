/* Command-line option parsing shared by the subcommands: strict number
 * parsing (the whole string must be a number in range) with one clear error
 * line naming the option. */
#ifndef LD_CLI_OPTIONS_H
#define LD_CLI_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

#include "engine/error.h"

int ld_parse_int(const char *option, const char *text, long lo, long hi, int *out, ld_err *err);
int ld_parse_u64(const char *option, const char *text, uint64_t *out, ld_err *err);
int ld_parse_double(const char *option, const char *text, double lo, double hi, double *out,
                    ld_err *err);
int ld_parse_float(const char *option, const char *text, double lo, double hi, float *out,
                   ld_err *err);
/* One option of a command line and where its value goes. */
typedef enum ld_option_kind {
    LD_OPT_FLAG,   /* no value: int *out = 1 */
    LD_OPT_STRING, /* const char **out = the word */
    LD_OPT_INT,    /* int *out, in lo..hi */
    LD_OPT_U64,    /* uint64_t *out */
    LD_OPT_FLOAT,  /* float *out, in lo..hi */
    LD_OPT_DOUBLE, /* double *out, in lo..hi */
    LD_OPT_CHOICE, /* int *out = the index of the word in choices (NULL-ended) */
} ld_option_kind;

typedef struct ld_option {
    const char *name;  /* "--out" */
    const char *alias; /* "-o", or NULL */
    ld_option_kind kind;
    void *out;
    double lo, hi;
    const char *const *choices;
    int *given; /* when not NULL, incremented each time the option appears */
} ld_option;

/* Table entries, every field given. */
#define LD_OPT_VALUE(name, alias, kind, out, lo, hi) {name, alias, kind, out, lo, hi, NULL, NULL}
#define LD_FLAG(name, out) LD_OPT_VALUE(name, NULL, LD_OPT_FLAG, out, 0, 0)
#define LD_STRING(name, out) LD_OPT_VALUE(name, NULL, LD_OPT_STRING, out, 0, 0)
#define LD_OUT(out) LD_OPT_VALUE("--out", "-o", LD_OPT_STRING, out, 0, 0)
#define LD_INT(name, out, lo, hi) LD_OPT_VALUE(name, NULL, LD_OPT_INT, out, lo, hi)
#define LD_U64(name, out) LD_OPT_VALUE(name, NULL, LD_OPT_U64, out, 0, 0)
#define LD_FLOAT(name, out, lo, hi) LD_OPT_VALUE(name, NULL, LD_OPT_FLOAT, out, lo, hi)
#define LD_DOUBLE(name, out, lo, hi) LD_OPT_VALUE(name, NULL, LD_OPT_DOUBLE, out, lo, hi)
#define LD_CHOICE(name, out, choices) {name, NULL, LD_OPT_CHOICE, out, 0, 0, choices, NULL}

/* A command's grammar: its options, and where the words that are not
 * options go (*positional[0], *positional[1], ... in order, at most
 * max_positional of them; "-" is such a word). */
typedef struct ld_command_line {
    const char *command; /* "fit", "eval ladid": named in errors */
    const ld_option *options;
    int n_options;
    const char **const *positional;
    int min_positional, max_positional;
    const char *positional_names; /* "MODEL.safetensors and FILE.h5" */
} ld_command_line;

/* Parses argv[1..argc-1]: 1 for --help or -h, 0 when every word fitted, -1
 * with one error naming the word otherwise (unknown option, missing or bad
 * value, unexpected or missing positional word). */
int ld_parse_command_line(int argc, char **argv, const ld_command_line *cl, ld_err *err);
/* What a command does with its parser's result: rc > 0 (--help) prints the
 * usage on stdout and returns exit status 0; rc < 0 prints "latdyn COMMAND:
 * message" on stderr and returns 2; rc == 0 returns -1 (go on). */
int ld_cli_parsed(int rc, const char *command, void (*usage)(FILE *out), const ld_err *err);

#endif
