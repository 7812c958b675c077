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

/* The longest stable and accurate step: the diffusion limit, and for the
 * reaction a phase turn of at most RD_MAX_STEP radians per unit of beta
 * (the field turns at about sqrt(3) |beta| A^2 rad per time unit near the
 * limit cycle, where midpoint steps stop being stable above roughly
 * |beta|^(-4/3): beta 10 blew up at 0.05). */
static double rd_max_step(const ld_rd_config *c, int N)
{
    const double dx = RD_DOMAIN / N;
    return fmin(RD_MAX_STEP / fmax(1.0, fabs(c->beta)), 0.2 * dx * dx / c->diffusion);
}

int ld_rd_advance(const ld_rd_config *c, int N, float *u, float *v, float *scratch, double time)
{
    const size_t plane = (size_t)N * N;
    const double hmax = rd_max_step(c, N);
    const long steps = (long)ceil(time / hmax);
    const double h = steps ? time / steps : 0;
    float *hu = scratch, *hv = hu + plane, *nu = hv + plane, *nv = nu + plane;
    for (long s = 0; s < steps; s++) {
        rd_update(c, N, 0.5 * h, u, v, u, v, hu, hv);
        rd_update(c, N, h, hu, hv, u, v, nu, nv);
        memcpy(u, nu, plane * sizeof *u);
        memcpy(v, nv, plane * sizeof *v);
    }
    int finite = 1;
    for (size_t a = 0; a < plane; a++)
        finite &= isfinite(u[a]) && isfinite(v[a]);
    return finite ? 0 : -1;
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

/* Simulates and renders instance i into `out`; work holds 6 N x N planes.
 * Fails when the fields stop being finite. */
static int rd_instance(const ld_rd_config *c, int i, ld_sequences *out, float *work,
                       ld_err *err)
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
    for (int t = 0; t < L; t++) {
        if (ld_rd_advance(c, N, u, v, scratch, t ? times[t] - times[t - 1] : c->burn_in))
            return ld_errf(err, "the reaction-diffusion simulation became unstable (non-finite "
                                "fields) in instance %d before frame %d (beta %g, diffusion %g)",
                           i, t, c->beta, c->diffusion);
        for (size_t a = 0; a < (size_t)N * N; a++) {
            float x = 0.5f + 0.5f * u[a];
            scratch[a] = x < 0 ? 0 : x > 1 ? 1 : x;
        }
        ld_area_resample(scratch, N, N, ld_sequences_frame(out, i, t), S, S);
    }
    return 0;
}

/* rd_instance for ld_synth_instances: each thread's scratch holds the
 * 6 N x N planes. */
typedef struct rd_job {
    const ld_rd_config *c;
    ld_sequences *out;
} rd_job;

static int rd_instance_job(void *ctx, int i, void *scratch, ld_err *err)
{
    const rd_job *job = ctx;
    return rd_instance(job->c, i, job->out, scratch, err);
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
    rd_job job = {c, out};
    if (ld_synth_instances(g->n, sizeof(float) * 6 * (size_t)N * N, rd_instance_job, &job, fn,
                           user, err)) {
        ld_sequences_free(out);
        return -1;
    }
    return 0;
}
