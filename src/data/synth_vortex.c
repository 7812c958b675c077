/* Flow around a cylinder in a channel by a D2Q9 lattice-Boltzmann solver,
 * rendered as vorticity images (see synth_systems.h). Streaming is "pull":
 * each fluid cell gathers f_q from its upstream neighbour x - c_q; a wall or
 * cylinder there reflects the cell's own opposite population (half-way
 * bounce-back), the inlet supplies the equilibrium at the inflow velocity
 * with the density of the first column, the outlet repeats the last column.
 * Collision is BGK with a Smagorinsky eddy viscosity: tau = (tau0 +
 * sqrt(tau0^2 + 18 sqrt(2) C^2 |Pi_neq| / rho)) / 2 (Hou et al. 1996). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "data/synth_systems.h"

#define CHANNEL_HEIGHT 4.1   /* in diameters (Schaefer & Turek 1996, 2D-2) */
#define CHANNEL_LENGTH 22.0
#define WINDOW_START 1.0     /* the rendered window starts 1 D behind the inlet */
#define VORTICITY_SCALE 4.0  /* w D / U mapped through tanh(w D / (4 U)) */
#define KICK_MIN 0.5         /* initial eddy's strength (see ld_lbm_create) */
#define KICK_MAX 1.0

static const int CX[9] = {0, 1, 0, -1, 0, 1, -1, -1, 1};
static const int CY[9] = {0, 0, 1, 0, -1, 1, 1, -1, -1};
static const int OPP[9] = {0, 3, 4, 1, 2, 7, 8, 5, 6};
static const double W[9] = {4.0 / 9, 1.0 / 9, 1.0 / 9, 1.0 / 9, 1.0 / 9,
                            1.0 / 36, 1.0 / 36, 1.0 / 36, 1.0 / 36};

struct ld_lbm {
    int nx, ny, diameter, periodic, window_x0;
    double u_mean, tau0, smag, cx, cy, steps_per_unit;
    float *f, *g;           /* [9, ny, nx] current and next */
    unsigned char *solid;   /* [ny, nx] 1: cylinder, 2: fluid beside a wall, the
                               cylinder or an open end (or periodic seam), 0: interior */
    float *inflow;          /* [ny] inflow x velocity */
    float *vel, *img;       /* render buffers: [2, ny+2, ny+2] velocity, [ny, ny] image */
    float *row;             /* [9, nx] the populations gathered into one row */
};

void ld_vortex_defaults(ld_vortex_config *c)
{
    *c = (ld_vortex_config){.grid = {.n = 64, .length = 60, .size = 32, .dt = 0.25, .seed = 1},
                            .re_min = 100, .re_max = 500,
                            .obstacle_x = WINDOW_START / CHANNEL_HEIGHT,
                            .obstacle_y = 2.0 / CHANNEL_HEIGHT, .diameter = 0, .u_mean = 0.1,
                            .smagorinsky = 0.1, .spinup = 30};
}

static int vortex_diameter(const ld_vortex_config *c)
{
    int d = (int)ceil(c->grid.size / CHANNEL_HEIGHT);
    return c->diameter ? c->diameter : d > 10 ? d : 10;
}

int ld_vortex_check(const ld_vortex_config *c, ld_err *err)
{
    if (ld_synth_grid_check(&c->grid, err))
        return -1;
    if (!(c->re_min >= 1 && c->re_min <= c->re_max && c->re_max <= 2000))
        return ld_errf(err, "the Reynolds range [%g, %g] must lie within [1, 2000] and be "
                            "ordered", c->re_min, c->re_max);
    if (!(c->obstacle_x >= 0 && c->obstacle_x <= 0.75))
        return ld_errf(err, "the obstacle x position must be in [0, 0.75] of the window "
                            "(got %g)", c->obstacle_x);
    if (!(c->obstacle_y >= 0.25 && c->obstacle_y <= 0.75))
        return ld_errf(err, "the obstacle y position must be in [0.25, 0.75] of the channel "
                            "(got %g)", c->obstacle_y);
    if (c->diameter && (c->diameter < 4 || c->diameter > 200))
        return ld_errf(err, "the cylinder diameter must be 4..200 cells (got %d)", c->diameter);
    if (!(c->u_mean > 0 && c->u_mean <= 0.15))
        return ld_errf(err, "the lattice inflow speed must be in (0, 0.15] (got %g)",
                       c->u_mean);
    if (!(c->smagorinsky >= 0 && c->smagorinsky <= 0.5))
        return ld_errf(err, "the Smagorinsky constant must be in [0, 0.5] (got %g)",
                       c->smagorinsky);
    if (!(c->spinup >= 0 && c->spinup <= 1e4))
        return ld_errf(err, "the spin-up time must be in [0, 1e4] (got %g)", c->spinup);
    return 0;
}

static void equilibrium(double rho, double ux, double uy, double *feq)
{
    const double usq = 1.5 * (ux * ux + uy * uy);
    for (int q = 0; q < 9; q++) {
        double cu = 3 * (CX[q] * ux + CY[q] * uy);
        feq[q] = W[q] * rho * (1 + cu + 0.5 * cu * cu - usq);
    }
}

int ld_lbm_create(const ld_vortex_config *c, double re, int periodic, double kick, ld_lbm **out,
                  ld_err *err)
{
    *out = NULL;
    if (ld_vortex_check(c, err))
        return -1;
    if (!(re > 0))
        return ld_errf(err, "the Reynolds number must be positive (got %g)", re);
    ld_lbm *m = calloc(1, sizeof *m);
    if (!m)
        return ld_errf(err, "out of memory");
    const int D = vortex_diameter(c);
    m->diameter = D;
    m->ny = (int)lround(CHANNEL_HEIGHT * D);
    m->nx = (int)lround(CHANNEL_LENGTH * D);
    m->periodic = periodic;
    m->window_x0 = (int)lround(WINDOW_START * D);
    /* The largest speed <= u_mean that makes a frame a whole number of steps. */
    long steps_per_frame = (long)ceil(c->grid.dt * D / c->u_mean);
    m->u_mean = c->grid.dt * D / (double)steps_per_frame;
    m->steps_per_unit = D / m->u_mean;
    m->tau0 = 3 * m->u_mean * D / re + 0.5;
    m->smag = c->smagorinsky;
    m->cx = m->window_x0 - 0.5 + c->obstacle_x * m->ny;
    m->cy = -0.5 + c->obstacle_y * m->ny;
    const size_t cells = (size_t)m->nx * m->ny;
    m->f = malloc(sizeof(float) * 9 * cells);
    m->g = malloc(sizeof(float) * 9 * cells);
    m->solid = calloc(cells, 1);
    m->inflow = malloc(sizeof(float) * m->ny);
    m->vel = malloc(sizeof(float) * 2 * (size_t)(m->ny + 2) * (m->ny + 2));
    m->img = malloc(sizeof(float) * (size_t)m->ny * m->ny);
    m->row = malloc(sizeof(float) * 9 * (size_t)m->nx);
    if (!m->f || !m->g || !m->solid || !m->inflow || !m->vel || !m->img || !m->row) {
        ld_errf(err, "out of memory for a %dx%d lattice", m->nx, m->ny);
        ld_lbm_free(m);
        return -1;
    }
    for (int y = 0; y < m->ny; y++) {
        double s = (y + 0.5) / m->ny;
        m->inflow[y] = (float)(6 * m->u_mean * s * (1 - s));
    }
    const double r2 = 0.25 * D * D;
    for (int y = 0; y < m->ny; y++)
        for (int x = 0; x < m->nx; x++) {
            double dx = x - m->cx, dy = y - m->cy;
            m->solid[(size_t)y * m->nx + x] = dx * dx + dy * dy <= r2;
        }
    for (int y = 0; y < m->ny; y++)
        for (int x = 0; x < m->nx; x++) {
            size_t at = (size_t)y * m->nx + x;
            int edge = x == 0 || y == 0 || x == m->nx - 1 || y == m->ny - 1;
            for (int q = 1; q < 9 && !edge && !m->solid[at]; q++)
                edge = m->solid[at - CX[q] - (ptrdiff_t)CY[q] * m->nx] == 1;
            if (edge && !m->solid[at])
                m->solid[at] = 2;
        }
    for (int y = 0; y < m->ny; y++)
        for (int x = 0; x < m->nx; x++) {
            double dx = x - m->cx, dy = y - m->cy, feq[9];
            size_t at = (size_t)y * m->nx + x;
            /* The kick: a divergence-free eddy 1.5 D behind the cylinder,
             * stream function kick U D exp(-r^2 / D^2). */
            double ex = dx - 1.5 * D, a = 2 * kick * m->u_mean / D;
            double bump = a * exp(-(ex * ex + dy * dy) / (double)(D * D));
            const int wall = m->solid[at] == 1;
            double ux = wall ? 0 : m->inflow[y] - bump * dy;
            double uy = wall ? 0 : bump * ex;
            equilibrium(1.0, ux, uy, feq);
            for (int q = 0; q < 9; q++)
                m->f[q * cells + at] = wall ? 0.0f : (float)feq[q];
        }
    *out = m;
    return 0;
}

void ld_lbm_free(ld_lbm *m)
{
    if (!m)
        return;
    free(m->f);
    free(m->g);
    free(m->solid);
    free(m->inflow);
    free(m->vel);
    free(m->img);
    free(m->row);
    free(m);
}

/* The population q pulled into boundary cell (x, y) from outside the
 * fluid: bounce-back at walls and the cylinder, the equilibrium at the
 * inflow velocity and the first column's density at the inlet, the
 * equilibrium at density 1 and the last column's velocity at the outlet. */
static double boundary_pull(const ld_lbm *m, int x, int y, int q)
{
    const int nx = m->nx, ny = m->ny;
    const size_t cells = (size_t)nx * ny;
    int xs = x - CX[q], ys = y - CY[q];
    if (m->periodic)
        xs = (xs + nx) % nx;
    if (ys < 0 || ys >= ny || (xs >= 0 && xs < nx && m->solid[(size_t)ys * nx + xs] == 1))
        return m->f[OPP[q] * cells + (size_t)y * nx + x];
    if (xs >= 0 && xs < nx)
        return m->f[q * cells + (size_t)ys * nx + xs];
    const size_t edge = (size_t)ys * nx + (xs < 0 ? 0 : nx - 1);
    double rho = 0, jx = 0, jy = 0, feq[9];
    for (int k = 0; k < 9; k++) {
        double fk = m->f[k * cells + edge];
        rho += fk;
        jx += CX[k] * fk;
        jy += CY[k] * fk;
    }
    if (xs < 0)
        equilibrium(rho, m->inflow[ys], 0, feq);
    else
        equilibrium(1.0, jx / rho, jy / rho, feq);
    return feq[q];
}

/* Streaming and collision of one row into m->g; row holds 9 nx floats.
 * The gather is a shifted copy per direction (boundary cells redone by
 * boundary_pull); the collision works in double (float sums lose mass
 * systematically, ~3e-5 over 2000 steps). */
static void lbm_row(const ld_lbm *m, int y, float *row)
{
    const int nx = m->nx, ny = m->ny;
    const size_t cells = (size_t)nx * ny;
    const unsigned char *solid = m->solid + (size_t)y * nx;
    for (int q = 0; q < 9; q++) {
        const int ys = y - CY[q];
        if (ys < 0 || ys >= ny)
            continue; /* a wall row: all its cells are boundary cells */
        const int x0 = CX[q] > 0 ? 1 : 0, x1 = CX[q] < 0 ? nx - 1 : nx;
        const float *src = m->f + q * cells + (size_t)ys * nx - CX[q];
        float *dst = row + (size_t)q * nx;
        for (int x = x0; x < x1; x++)
            dst[x] = src[x];
    }
    for (int x = 0; x < nx; x++)
        if (solid[x] == 2)
            for (int q = 0; q < 9; q++)
                row[(size_t)q * nx + x] = (float)boundary_pull(m, x, y, q);
    const double tau0 = m->tau0, smag2 = 18 * M_SQRT2 * m->smag * m->smag;
    float *g = m->g + (size_t)y * nx;
    const float *r0 = row, *r1 = r0 + nx, *r2 = r1 + nx, *r3 = r2 + nx, *r4 = r3 + nx,
                *r5 = r4 + nx, *r6 = r5 + nx, *r7 = r6 + nx, *r8 = r7 + nx;
    for (int x = 0; x < nx; x++) {
        double fi[9] = {r0[x], r1[x], r2[x], r3[x], r4[x], r5[x], r6[x], r7[x], r8[x]};
        double rho = fi[0] + fi[1] + fi[2] + fi[3] + fi[4] + fi[5] + fi[6] + fi[7] + fi[8];
        double jx = fi[1] - fi[3] + fi[5] - fi[6] - fi[7] + fi[8];
        double jy = fi[2] - fi[4] + fi[5] + fi[6] - fi[7] - fi[8];
        rho = solid[x] == 1 ? 1.0 : rho; /* cylinder cells: computed, never stored */
        const double ux = jx / rho, uy = jy / rho, usq = 1.5 * (ux * ux + uy * uy);
        double feq[9], pxx = 0, pyy = 0, pxy = 0;
        for (int q = 0; q < 9; q++) {
            const double cu = 3.0 * (CX[q] * ux + CY[q] * uy);
            feq[q] = W[q] * rho * (1.0 + cu + 0.5 * cu * cu - usq);
            const double neq = fi[q] - feq[q];
            pxx += CX[q] * CX[q] * neq;
            pyy += CY[q] * CY[q] * neq;
            pxy += CX[q] * CY[q] * neq;
        }
        const double pi = sqrt(pxx * pxx + pyy * pyy + 2.0 * pxy * pxy);
        const double tau = 0.5 * (tau0 + sqrt(tau0 * tau0 + smag2 * pi / rho));
        const double omega = 1.0 / tau, keep = solid[x] == 1 ? 0.0 : 1.0;
        for (int q = 0; q < 9; q++)
            g[q * cells + x] = (float)(keep * (fi[q] - omega * (fi[q] - feq[q])));
    }
}

void ld_lbm_run(ld_lbm *m, long steps)
{
    for (long s = 0; s < steps; s++) {
        for (int y = 0; y < m->ny; y++)
            lbm_row(m, y, m->row);
        float *t = m->f;
        m->f = m->g;
        m->g = t;
    }
}

void ld_lbm_shape(const ld_lbm *m, int *nx, int *ny, int *diameter, double *steps_per_unit)
{
    *nx = m->nx;
    *ny = m->ny;
    *diameter = m->diameter;
    *steps_per_unit = m->steps_per_unit;
}

double ld_lbm_mass(const ld_lbm *m)
{
    double mass = 0;
    for (size_t i = 0; i < (size_t)9 * m->nx * m->ny; i++)
        mass += m->f[i];
    return mass;
}

void ld_lbm_velocity(const ld_lbm *m, int x, int y, double *ux, double *uy)
{
    const size_t cells = (size_t)m->nx * m->ny, at = (size_t)y * m->nx + x;
    double rho = 0, jx = 0, jy = 0;
    for (int q = 0; q < 9; q++) {
        double fq = m->f[q * cells + at];
        rho += fq;
        jx += CX[q] * fq;
        jy += CY[q] * fq;
    }
    *ux = rho != 0 ? jx / rho : 0; /* 0 in the cylinder; NaN stays NaN */
    *uy = rho != 0 ? jy / rho : 0;
}

void ld_lbm_obstacle(const ld_lbm *m, double *cx, double *cy)
{
    *cx = m->cx;
    *cy = m->cy;
}

/* Vorticity over the window (one cell of margin kept for the differences;
 * outside the channel the velocity is 0, as at the walls). */
int ld_lbm_render(const ld_lbm *m, float *frame, int size)
{
    const int n = m->ny, x0 = m->window_x0, wide = n + 2;
    float *vel = m->vel, *img = m->img;
    int finite = 1;
    for (int i = 0; i < wide; i++)
        for (int j = 0; j < wide; j++) {
            int y = i - 1, x = x0 + j - 1;
            double ux = 0, uy = 0;
            if (y >= 0 && y < m->ny && x >= 0 && x < m->nx)
                ld_lbm_velocity(m, x, y, &ux, &uy);
            vel[(size_t)i * wide + j] = (float)ux;
            vel[(size_t)(wide + i) * wide + j] = (float)uy;
        }
    const float *u = vel, *v = vel + (size_t)wide * wide;
    const double scale = m->diameter / (VORTICITY_SCALE * m->u_mean);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            size_t c = (size_t)(i + 1) * wide + j + 1;
            double w = 0.5 * (v[c + 1] - v[c - 1]) - 0.5 * (u[c + wide] - u[c - wide]);
            /* Row 0 is the lower wall side: flip so that "up" is up in the image. */
            img[(size_t)(n - 1 - i) * n + j] = (float)(0.5 + 0.5 * tanh(w * scale));
            finite &= isfinite(w) != 0;
        }
    ld_area_resample(img, n, n, frame, size, size);
    return finite ? 0 : -1;
}

/* Simulates and renders instance i into `out`. */
static int vortex_instance(const ld_vortex_config *c, int i, ld_sequences *out, ld_err *err)
{
    const ld_synth_grid *g = &c->grid;
    const int L = g->length;
    ld_rng r;
    ld_synth_rng(g, i, 0, &r);
    double re = c->re_min + (c->re_max - c->re_min) * ld_rng_uniform(&r);
    double kick = (KICK_MIN + (KICK_MAX - KICK_MIN) * ld_rng_uniform(&r)) *
                  (ld_rng_uniform(&r) < 0.5f ? -1 : 1);
    /* A random extra spin-up of up to 4 time units (about one shedding
     * period) gives each instance its own phase. */
    double spinup = c->spinup + 4 * ld_rng_uniform(&r);
    ld_lbm *m;
    if (ld_lbm_create(c, re, 0, kick, &m, err))
        return -1;
    double *times = out->times + (size_t)i * L;
    ld_synth_times(g, i, times);
    ld_lbm_run(m, lround(spinup * m->steps_per_unit));
    long step = 0;
    int rc = 0;
    for (int t = 0; t < L && !rc; t++) {
        long target = lround(times[t] * m->steps_per_unit);
        if (t && target <= step)
            target = step + 1;
        ld_lbm_run(m, target - step);
        step = target;
        times[t] = step / m->steps_per_unit;
        if (ld_lbm_render(m, ld_sequences_frame(out, i, t), g->size) ||
            !isfinite(ld_lbm_mass(m)))
            rc = ld_errf(err, "the flow simulation became unstable at Re %.1f (try a larger "
                              "--size or a lower --re-max)", re);
    }
    ld_lbm_free(m);
    double *p = out->params + (size_t)i * 3;
    p[0] = re;
    p[1] = c->obstacle_x;
    p[2] = c->obstacle_y;
    return rc;
}

/* vortex_instance for ld_synth_instances (each makes its own lattice). */
typedef struct vortex_job {
    const ld_vortex_config *c;
    ld_sequences *out;
} vortex_job;

static int vortex_instance_job(void *ctx, int i, void *scratch, ld_err *err)
{
    const vortex_job *job = ctx;
    (void)scratch;
    return vortex_instance(job->c, i, job->out, err);
}

int ld_synth_vortex(const ld_vortex_config *c, ld_sequences *out, ld_synth_progress_fn fn,
                    void *user, ld_err *err)
{
    if (ld_vortex_check(c, err))
        return -1;
    const ld_synth_grid *g = &c->grid;
    if (ld_sequences_alloc(out, g->n, g->length, 1, g->size, g->size, 3, err))
        return -1;
    snprintf(out->system, sizeof out->system, "vortex");
    static const char *const names[3] = {"reynolds", "obstacle_x", "obstacle_y"};
    for (int k = 0; k < 3; k++)
        snprintf(out->param_names[k], LD_SEQ_NAME_LEN, "%s", names[k]);
    if (ld_synth_grid_attrs(g, out, err) || ld_synth_attr(out, "re_min", c->re_min, err) ||
        ld_synth_attr(out, "re_max", c->re_max, err) ||
        ld_synth_attr(out, "diameter_cells", vortex_diameter(c), err) ||
        ld_synth_attr(out, "smagorinsky", c->smagorinsky, err) ||
        ld_synth_attr(out, "spinup", c->spinup, err) ||
        ld_sequences_set_attr(out, "geometry",
                              "Schaefer-Turek 2D-2 channel: H 4.1 D, L 22 D", err)) {
        ld_sequences_free(out);
        return -1;
    }
    /* instances in parallel: one lattice per thread, no synchronisation
     * per time step (which costs much on a shared machine) */
    vortex_job job = {c, out};
    if (ld_synth_instances(g->n, 0, vortex_instance_job, &job, fn, user, err)) {
        ld_sequences_free(out);
        return -1;
    }
    return 0;
}
