/* Progress output: see progress.h. */
#include "cli/progress.h"

#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#define PROGRESS_INTERVAL_S 1.0

double ld_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void ld_progress_start(ld_progress *p, int64_t first_step, int64_t total, const char *unit,
                       const char *units, int quiet)
{
    p->unit = unit;
    p->units = units;
    p->start_time = ld_now_seconds();
    p->last_print = 0;
    p->first_step = first_step;
    p->total = total;
    p->quiet = quiet;
}

void ld_progress_update(ld_progress *p, int64_t step, const char *fmt, ...)
{
    if (p->quiet)
        return;
    double now = ld_now_seconds();
    if (step < p->total && now - p->last_print < PROGRESS_INTERVAL_S)
        return;
    p->last_print = now;
    double elapsed = now - p->start_time;
    double rate = elapsed > 0 ? (double)(step - p->first_step) / elapsed : 0;
    char msg[256], speed[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* slow units (minutes each) read better as seconds per unit; before the
     * first is done there is no time left to tell */
    if (!(rate > 0)) {
        snprintf(speed, sizeof speed, "ETA after the first %s", p->unit);
    } else {
        int eta = (int)((double)(p->total - step) / rate);
        if (rate >= 0.1)
            snprintf(speed, sizeof speed, "%.1f %s/s  ETA %dm%02ds", rate, p->units, eta / 60,
                     eta % 60);
        else
            snprintf(speed, sizeof speed, "%.0f s/%s  ETA %dh%02dm", 1 / rate, p->unit,
                     eta / 3600, eta / 60 % 60);
    }
    fprintf(stderr, "%s %lld/%lld  %s%s%s\n", p->unit, (long long)step, (long long)p->total, msg,
            *msg ? "  " : "", speed);
}

int ld_dir_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}
