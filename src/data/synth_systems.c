/* What the ladid generators share: the grid check, per-instance random
 * streams, the time grids, running the instances in parallel and
 * area-weighted resampling (see synth_systems.h). */
#include "data/synth_systems.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ld_synth_grid_check(const ld_synth_grid *g, ld_err *err)
{
    if (g->n < 1)
        return ld_errf(err, "the number of instances must be >= 1 (got %d)", g->n);
    if (g->length < 2)
        return ld_errf(err, "the sequence length must be >= 2 (got %d)", g->length);
    if (g->size < 16 || g->size % 16)
        return ld_errf(err, "the frame size must be a multiple of 16, >= 16 (got %d)", g->size);
    if (!(g->dt > 0) || !isfinite(g->dt))
        return ld_errf(err, "the time step must be positive (got %g)", g->dt);
    return 0;
}

void ld_synth_rng(const ld_synth_grid *g, int instance, int purpose, ld_rng *r)
{
    ld_rng_init(r, g->seed);
    r->counter = ((uint64_t)instance << 32) | ((uint64_t)purpose << 28);
}

void ld_synth_times(const ld_synth_grid *g, int instance, double *times)
{
    const int L = g->length;
    times[0] = 0;
    if (!g->irregular) {
        for (int k = 1; k < L; k++)
            times[k] = k * g->dt;
        return;
    }
    ld_rng r;
    ld_synth_rng(g, instance, 15, &r);
    double total = 0;
    for (int k = 1; k < L; k++) {
        times[k] = 0.2 + ld_rng_uniform(&r);
        total += times[k];
    }
    double scale = (L - 1) * g->dt / total, t = 0;
    for (int k = 1; k < L; k++) {
        t += times[k] * scale;
        times[k] = t;
    }
    times[L - 1] = (L - 1) * g->dt;
}

int ld_synth_attr(ld_sequences *s, const char *key, double value, ld_err *err)
{
    char text[40];
    snprintf(text, sizeof text, "%.17g", value);
    for (int digits = 6; digits < 17; digits++) {
        char shorter[40];
        snprintf(shorter, sizeof shorter, "%.*g", digits, value);
        if (strtod(shorter, NULL) == value) {
            memcpy(text, shorter, sizeof text);
            break;
        }
    }
    return ld_sequences_set_attr(s, key, text, err);
}

int ld_synth_grid_attrs(const ld_synth_grid *g, ld_sequences *s, ld_err *err)
{
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)g->seed);
    return ld_synth_attr(s, "dt", g->dt, err) ||
                   ld_sequences_set_attr(s, "irregular", g->irregular ? "1" : "0", err) ||
                   ld_sequences_set_attr(s, "seed", seed, err)
               ? -1
               : 0;
}

/* Overlap weights of output cell o with source cells for a 1-D map of
 * n source cells onto m: source range [o n/m, (o+1) n/m). */
int ld_synth_instances(int n, size_t scratch_bytes, ld_synth_instance_fn instance, void *ctx,
                       ld_synth_progress_fn fn, void *user, ld_err *err)
{
    int done = 0, failed = 0;
    char fail_msg[LD_ERR_LEN] = "";
#pragma omp parallel
    {
        void *scratch = scratch_bytes ? malloc(scratch_bytes) : NULL;
        int usable = !scratch_bytes || scratch;
#pragma omp for schedule(dynamic, 1)
        for (int i = 0; i < n; i++) {
            int stop;
#pragma omp atomic read
            stop = failed;
            if (stop)
                continue;
            ld_err local;
            if (!usable)
                ld_errf(&local, "out of memory for an instance's %zu bytes of working space",
                        scratch_bytes);
            if (!usable || instance(ctx, i, scratch, &local)) {
#pragma omp critical(ld_synth_fail)
                if (!failed) {
                    snprintf(fail_msg, sizeof fail_msg, "%s", local.msg);
#pragma omp atomic write
                    failed = 1;
                }
                continue;
            }
#pragma omp critical(ld_synth_progress)
            {
                done++;
                if (fn)
                    fn(user, done, n);
            }
        }
        free(scratch);
    }
    return failed ? ld_errf(err, "%s", fail_msg) : 0;
}

static int overlap(int o, int n, int m, int *first, double *w, int max_w)
{
    double lo = (double)o * n / m, hi = (double)(o + 1) * n / m;
    int a = (int)floor(lo), count = 0;
    for (int s = a; s < hi && s < n && count < max_w; s++) {
        double l = s > lo ? s : lo, h = s + 1 < hi ? s + 1 : hi;
        w[count++] = (h - l) * m / n;
    }
    *first = a;
    return count;
}

void ld_area_resample(const float *src, int sh, int sw, float *dst, int dh, int dw)
{
    enum { MAX_W = 64 };
    for (int i = 0; i < dh; i++) {
        int y0, x0;
        double wy[MAX_W], wx[MAX_W];
        int ny = overlap(i, sh, dh, &y0, wy, MAX_W);
        for (int j = 0; j < dw; j++) {
            int nx = overlap(j, sw, dw, &x0, wx, MAX_W);
            double acc = 0;
            for (int a = 0; a < ny; a++)
                for (int b = 0; b < nx; b++)
                    acc += wy[a] * wx[b] * src[(long)(y0 + a) * sw + x0 + b];
            dst[(long)i * dw + j] = (float)acc;
        }
    }
}
