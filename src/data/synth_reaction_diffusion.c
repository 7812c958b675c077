/* Lambda-omega spiral waves on a periodic square (see synth_systems.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/synth_systems.h"

#define RD_DOMAIN 20.0   /* side of the periodic square [-10, 10]^2 */
#define RD_MIN_GRID 64
#define RD_MAX_STEP 0.05
#define RD_CENTRE_RANGE 3.0

void ld_rd_defaults(ld_rd_config *c)
{
    *c = (ld_rd_config){.grid = {.n = 256, .length = 60, .size = 32, .dt = 0.2, .seed = 1},
                        .diffusion = 0.1, .beta = 1.0, .burn_in = 2.0};
}

int ld_rd_check(const ld_rd_config *c, ld_err *err)
{
    if (ld_synth_grid_check(&c->grid, err))
        return -1;
    if (!(c->diffusion > 0 && c->diffusion <= 10))
        return ld_errf(err, "the diffusion constant must be in (0, 10] (got %g)", c->diffusion);
    if (!(fabs(c->beta) <= 100))
        return ld_errf(err, "beta must be in [-100, 100] (got %g)", c->beta);
    if (!(c->burn_in >= 0 && c->burn_in <= 1e4))
        return ld_errf(err, "the burn-in time must be in [0, 1e4] (got %g)", c->burn_in);
    return 0;
}

int ld_rd_grid_side(int size)
{
    return size * ((RD_MIN_GRID + size - 1) / size);
}

/* (un, vn) = (ub, vb) + h F(u, v), F the right-hand side. */
static void rd_update(const ld_rd_config *c, int N, double h, const float *u, const float *v,
                      const float *ub, const float *vb, float *un, float *vn)
{
    const double dx = RD_DOMAIN / N, k = c->diffusion / (dx * dx);
    for (int i = 0; i < N; i++) {
        const int up = (i + N - 1) % N, down = (i + 1) % N;
        for (int j = 0; j < N; j++) {
            const int left = (j + N - 1) % N, right = (j + 1) % N, at = i * N + j;
            double uu = u[at], vv = v[at], a2 = uu * uu + vv * vv;
            double lam = 1 - a2, om = -c->beta * a2;
            double lu = u[up * N + j] + u[down * N + j] + u[i * N + left] + u[i * N + right] -
                        4 * uu;
            double lv = v[up * N + j] + v[down * N + j] + v[i * N + left] + v[i * N + right] -
                        4 * vv;
            un[at] = (float)(ub[at] + h * (lam * uu - om * vv + k * lu));
            vn[at] = (float)(vb[at] + h * (om * uu + lam * vv + k * lv));
        }
    }
}

void ld_rd_advance(const ld_rd_config *c, int N, float *u, float *v, float *scratch,
                   double time)
{
    const size_t plane = (size_t)N * N;
    const double dx = RD_DOMAIN / N;
    const double hmax = fmin(RD_MAX_STEP, 0.2 * dx * dx / c->diffusion);
    const long steps = (long)ceil(time / hmax);
    const double h = steps ? time / steps : 0;
    float *hu = scratch, *hv = hu + plane, *nu = hv + plane, *nv = nu + plane;
    for (long s = 0; s < steps; s++) {
        rd_update(c, N, 0.5 * h, u, v, u, v, hu, hv);
        rd_update(c, N, h, hu, hv, u, v, nu, nv);
        memcpy(u, nu, plane * sizeof *u);
        memcpy(v, nv, plane * sizeof *v);
    }
}

/* The spiral initial condition about (cx, cy). */
static void rd_initial(int N, double cx, double cy, double phase, double chirality, float *u,
                       float *v)
{
    const double dx = RD_DOMAIN / N;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++) {
            double x = -0.5 * RD_DOMAIN + (j + 0.5) * dx - cx;
            double y = -0.5 * RD_DOMAIN + (i + 0.5) * dx - cy;
            double r = hypot(x, y), arg = chirality * atan2(y, x) - r + phase;
            u[i * N + j] = (float)(tanh(r) * cos(arg));
            v[i * N + j] = (float)(tanh(r) * sin(arg));
        }
}

/* Simulates and renders instance i into `out`; work holds 6 N x N planes. */
static void rd_instance(const ld_rd_config *c, int i, ld_sequences *out, float *work)
{
    const ld_synth_grid *g = &c->grid;
    const int L = g->length, S = g->size, N = ld_rd_grid_side(S);
    float *u = work, *v = u + (size_t)N * N, *scratch = v + (size_t)N * N;
    ld_rng r;
    ld_synth_rng(g, i, 0, &r);
    double *p = out->params + (size_t)i * 4;
    p[0] = RD_CENTRE_RANGE * (2 * ld_rng_uniform(&r) - 1);
    p[1] = RD_CENTRE_RANGE * (2 * ld_rng_uniform(&r) - 1);
    p[2] = 2 * M_PI * ld_rng_uniform(&r);
    p[3] = ld_rng_uniform(&r) < 0.5f ? -1 : 1;
    double *times = out->times + (size_t)i * L;
    ld_synth_times(g, i, times);
    rd_initial(N, p[0], p[1], p[2], p[3], u, v);
    ld_rd_advance(c, N, u, v, scratch, c->burn_in);
    for (int t = 0; t < L; t++) {
        if (t)
            ld_rd_advance(c, N, u, v, scratch, times[t] - times[t - 1]);
        for (size_t a = 0; a < (size_t)N * N; a++) {
            float x = 0.5f + 0.5f * u[a];
            scratch[a] = x < 0 ? 0 : x > 1 ? 1 : x;
        }
        ld_area_resample(scratch, N, N, ld_sequences_frame(out, i, t), S, S);
    }
}

int ld_synth_reaction_diffusion(const ld_rd_config *c, ld_sequences *out,
                                ld_synth_progress_fn fn, void *user, ld_err *err)
{
    if (ld_rd_check(c, err))
        return -1;
    const ld_synth_grid *g = &c->grid;
    const int S = g->size, N = ld_rd_grid_side(S);
    if (ld_sequences_alloc(out, g->n, g->length, 1, S, S, 4, err))
        return -1;
    snprintf(out->system, sizeof out->system, "reaction-diffusion");
    static const char *const names[4] = {"center_x", "center_y", "phase", "chirality"};
    for (int k = 0; k < 4; k++)
        snprintf(out->param_names[k], LD_SEQ_NAME_LEN, "%s", names[k]);
    if (ld_synth_grid_attrs(g, out, err) || ld_synth_attr(out, "diffusion", c->diffusion, err) ||
        ld_synth_attr(out, "beta", c->beta, err) ||
        ld_synth_attr(out, "burn_in", c->burn_in, err) ||
        ld_synth_attr(out, "domain", RD_DOMAIN, err) || ld_synth_attr(out, "grid", N, err)) {
        ld_sequences_free(out);
        return -1;
    }
    int done = 0, failed = 0;
    /* Instances in parallel, each thread with its own planes. */
#pragma omp parallel
    {
        float *work = malloc(sizeof(float) * 6 * (size_t)N * N);
        if (!work) {
#pragma omp atomic write
            failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int i = 0; i < g->n; i++) {
            if (!work)
                continue;
            rd_instance(c, i, out, work);
#pragma omp critical(ld_synth_progress)
            {
                done++;
                if (fn)
                    fn(user, done, g->n);
            }
        }
        free(work);
    }
    if (failed) {
        ld_sequences_free(out);
        return ld_errf(err, "out of memory for a %dx%d grid", N, N);
    }
    return 0;
}
