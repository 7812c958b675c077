/* Progress lines on stderr for long work: the unit done / total (steps,
 * patches, ...), the caller's numbers, units per second and the time
 * left; at most one line a second, and always the last unit. Silent when
 * quiet. */
#ifndef LD_CLI_PROGRESS_H
#define LD_CLI_PROGRESS_H

#include <stdint.h>

#include "engine/compiler.h"

typedef struct ld_progress {
    double start_time, last_print;
    int64_t first_step, total;
    const char *unit, *units; /* "step", "steps" */
    int quiet;
} ld_progress;

double ld_now_seconds(void);
/* unit and units: the singular and plural of what is counted (string
 * literals: they are kept). */
void ld_progress_start(ld_progress *p, int64_t first_step, int64_t total, const char *unit,
                       const char *units, int quiet);
void ld_progress_update(ld_progress *p, int64_t step, const char *fmt, ...) LD_PRINTF(3, 4);

/* 1 when path names a directory. */
int ld_dir_exists(const char *path);

#endif
