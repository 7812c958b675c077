/* Progress lines on stderr for long work: step / total, the caller's
 * numbers, steps per second and the time left; at most a few lines per
 * second, and always the last step. Silent when quiet. */
#ifndef LD_CLI_PROGRESS_H
#define LD_CLI_PROGRESS_H

#include <stdint.h>

#include "engine/compiler.h"

typedef struct ld_progress {
    double start_time, last_print;
    int64_t first_step, total;
    int quiet;
} ld_progress;

double ld_now_seconds(void);
void ld_progress_start(ld_progress *p, int64_t first_step, int64_t total, int quiet);
void ld_progress_update(ld_progress *p, int64_t step, const char *fmt, ...) LD_PRINTF(3, 4);

/* 1 when path names a directory. */
int ld_dir_exists(const char *path);

#endif
