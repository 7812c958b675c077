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
/* The value after an option at argv[*i] (advancing *i), or NULL with an
 * error when the option is the last word. */
const char *ld_option_value(int argc, char **argv, int *i, ld_err *err);
/* What a command does with its parser's result: rc > 0 (--help) prints the
 * usage on stdout and returns exit status 0; rc < 0 prints "latdyn COMMAND:
 * message" on stderr and returns 2; rc == 0 returns -1 (go on). */
int ld_cli_parsed(int rc, const char *command, void (*usage)(FILE *out), const ld_err *err);

#endif
