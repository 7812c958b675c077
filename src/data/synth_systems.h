/* The ladid benchmark systems (design/ladid.md, "Systems to generate"):
 * many instances of one dynamical system rendered as image sequences into
 * an ld_sequences, deterministic given the seed (Philox streams per
 * instance, so the result does not depend on the thread count).
 *
 * Time grids (ld_synth_times): regular t_k = k dt, k = 0..L-1; irregular
 * (per instance): t_0 = 0 and the L-1 gaps are proportional to
 * 0.2 + U(0, 1), scaled so that t_{L-1} = (L-1) dt as on the regular grid
 * (gaps between about 0.17 dt and 2 dt, strictly increasing).
 *
 * - pendulum (synth_pendulum.c): theta'' = -(g/l) sin theta - c theta',
 *   RK4 with substeps of at most 1 ms; a grey image (1 channel) of the rod
 *   and bob, anti-aliased by analytic coverage (clamped signed distance),
 *   pivot at the frame centre, 0.3 S pixels per metre (so l <= 1.5 m stays
 *   inside). Instance parameters: theta0 (rad, 0 = hanging down), omega0
 *   (rad/s), length (m), gravity (m/s^2). Time in seconds.
 * - reaction-diffusion (synth_reaction_diffusion.c): the lambda-omega
 *   system u_t = lam(A) u - om(A) v + d lap u, v_t = om(A) u + lam(A) v +
 *   d lap v, lam = 1 - A^2, om = -beta A^2, A^2 = u^2 + v^2, on the periodic
 *   square [-10, 10]^2, explicit midpoint (RK2) steps with the 5-point
 *   Laplacian on a grid of at least 64 cells a side (a multiple of the frame side, box-averaged
 *   down), time step at most min(0.05 / max(1, |beta|), 0.2 dx^2 / d) (the
 *   field turns about sqrt(3) |beta| rad per time unit on the limit cycle;
 *   midpoint steps go unstable above about |beta|^(-4/3), so steps of 0.05
 *   blew up from |beta| 10); fields that still become non-finite are an
 *   error, never frames. Initial condition: a
 *   one-armed spiral u + i v = tanh(r) exp(i (s phi - r + phase)) about a
 *   centre (cx, cy) in [-3, 3]^2, s = +-1 (chirality), then `burn_in` time
 *   units before the first frame. Frames: u mapped from [-1, 1] to [0, 1]
 *   (1 channel). Parameters: center_x, center_y, phase, chirality.
 * - vortex (synth_vortex.c): flow around a cylinder in a channel, the
 *   geometry of Schaefer & Turek (1996) benchmark 2D-2 in units of the
 *   diameter D: channel height 4.1 D, length 22 D, parabolic inflow of mean
 *   speed U, zero-gradient outflow, no-slip walls; cylinder centre 2 D from
 *   the inlet and 2 D above the lower wall by default. D2Q9 BGK lattice
 *   Boltzmann with half-way bounce-back and a Smagorinsky eddy viscosity
 *   (stable up to Re 500 on coarse grids), Re = U D / nu. Time unit D / U.
 *   Frames: the vorticity w = dv/dx - du/dy over the square window of side
 *   4.1 D starting 1 D behind the inlet, mapped by 0.5 + 0.5 tanh(w D /
 *   (4 U)), area-averaged down to S x S (1 channel). The lattice speed U
 *   is the largest <= u_mean that makes dt a whole number of steps; times
 *   lie on the step grid (irregular times are rounded to whole steps and
 *   the stored times are the exact ones). Each instance starts from the
 *   inflow profile plus a divergence-free eddy behind the cylinder (random
 *   strength and sign) and runs `spinup` plus up to 4 time units (random,
 *   so phases differ) before the first frame. Parameters: reynolds,
 *   obstacle_x, obstacle_y. Instances run in parallel (one lattice per
 *   thread). */
#ifndef LD_DATA_SYNTH_SYSTEMS_H
#define LD_DATA_SYNTH_SYSTEMS_H

#include <stdint.h>

#include "data/sequences.h"
#include "engine/error.h"
#include "engine/rng.h"

/* Called after each finished instance (done = 1..total). */
typedef void (*ld_synth_progress_fn)(void *user, int done, int total);

typedef struct ld_synth_grid {
    int n, length, size; /* instances, frames per instance, frame side (multiple of 16) */
    double dt;           /* frame spacing of the regular grid, in the system's time unit */
    int irregular;       /* 1: irregular per-instance time grids */
    uint64_t seed;
} ld_synth_grid;

/* n >= 1, length >= 2, size >= 16 and divisible by 16, dt > 0. */
int ld_synth_grid_check(const ld_synth_grid *g, ld_err *err);
/* The random stream `purpose` (0..15) of instance i. */
void ld_synth_rng(const ld_synth_grid *g, int instance, int purpose, ld_rng *r);
/* Instance i's L times (see above). */
void ld_synth_times(const ld_synth_grid *g, int instance, double *times);
/* Stores a number (shortest exact text) or the grid's settings (dt,
 * irregular, seed) as generator attributes. */
int ld_synth_attr(ld_sequences *s, const char *key, double value, ld_err *err);
int ld_synth_grid_attrs(const ld_synth_grid *g, ld_sequences *s, ld_err *err);
/* Makes instance i of a set with `scratch` (scratch_bytes of its thread's
 * own working space; NULL when none was asked for); 0, or -1 with err. */
typedef int (*ld_synth_instance_fn)(void *ctx, int i, void *scratch, ld_err *err);
/* Runs instance(ctx, 0..n-1, ...) in parallel, each thread with its own
 * scratch, calling fn after each finished one; the first failure stops the
 * rest and its message is the result's. */
int ld_synth_instances(int n, size_t scratch_bytes, ld_synth_instance_fn instance, void *ctx,
                       ld_synth_progress_fn fn, void *user, ld_err *err);
/* Area-weighted resampling of plane [sh, sw] onto [dh, dw] (each output
 * pixel the mean of the source area it covers). */
void ld_area_resample(const float *src, int sh, int sw, float *dst, int dh, int dw);

/* ---- pendulum ---------------------------------------------------------- */
typedef struct ld_pendulum_config {
    ld_synth_grid grid;
    double length, gravity, damping;  /* m, m/s^2, 1/s */
    double theta_min, theta_max;      /* initial angle range, rad */
    double omega_min, omega_max;      /* initial angular velocity range, rad/s */
} ld_pendulum_config;

void ld_pendulum_defaults(ld_pendulum_config *c);
int ld_pendulum_check(const ld_pendulum_config *c, ld_err *err);
/* The state at the L given times from (theta0, omega0) at times[0]. */
void ld_pendulum_trajectory(const ld_pendulum_config *c, double theta0, double omega0,
                            const double *times, int L, double *theta, double *omega);
int ld_synth_pendulum(const ld_pendulum_config *c, ld_sequences *out, ld_synth_progress_fn fn,
                      void *user, ld_err *err);

/* ---- reaction-diffusion ------------------------------------------------- */
typedef struct ld_rd_config {
    ld_synth_grid grid;
    double diffusion, beta; /* d, beta */
    double burn_in;         /* time simulated before the first frame */
} ld_rd_config;

void ld_rd_defaults(ld_rd_config *c);
int ld_rd_check(const ld_rd_config *c, ld_err *err);
int ld_synth_reaction_diffusion(const ld_rd_config *c, ld_sequences *out,
                                ld_synth_progress_fn fn, void *user, ld_err *err);
/* Simulation side used for frame side `size` (a multiple of it, >= 64). */
int ld_rd_grid_side(int size);
/* Advances fields u, v [N, N] on the periodic square by `time`; scratch
 * holds 4 N x N floats. Returns -1 when the fields end non-finite (the
 * simulation blew up), else 0. */
int ld_rd_advance(const ld_rd_config *c, int N, float *u, float *v, float *scratch,
                  double time);

/* ---- vortex: lattice Boltzmann ------------------------------------------ */
typedef struct ld_vortex_config {
    ld_synth_grid grid;
    double re_min, re_max;          /* Reynolds numbers drawn uniformly in [min, max] */
    double obstacle_x, obstacle_y;  /* cylinder centre: fraction of the window width
                                       from its left edge, fraction of the channel height */
    int diameter;                   /* cells per D; 0: max(10, ceil(size / 4.1)) */
    double u_mean;                  /* largest mean inflow speed, lattice units */
    double smagorinsky;             /* Smagorinsky constant (0: plain BGK) */
    double spinup;                  /* time before the first frame, units D / U */
} ld_vortex_config;

void ld_vortex_defaults(ld_vortex_config *c);
int ld_vortex_check(const ld_vortex_config *c, ld_err *err);
int ld_synth_vortex(const ld_vortex_config *c, ld_sequences *out, ld_synth_progress_fn fn,
                    void *user, ld_err *err);

typedef struct ld_lbm ld_lbm;
/* A channel of the vortex geometry at Reynolds number re (periodic: no
 * inflow, the channel is periodic in x and closed by the walls; used to
 * check conservation). Starts at density 1 with the inflow profile plus
 * an eddy of strength `kick` (stream function kick U D exp(-r^2 / D^2))
 * 1.5 D behind the cylinder. */
int ld_lbm_create(const ld_vortex_config *c, double re, int periodic, double kick, ld_lbm **out,
                  ld_err *err);
void ld_lbm_free(ld_lbm *m);
void ld_lbm_run(ld_lbm *m, long steps);
/* Lattice sizes and the steps per time unit D / U. */
void ld_lbm_shape(const ld_lbm *m, int *nx, int *ny, int *diameter, double *steps_per_unit);
double ld_lbm_mass(const ld_lbm *m);
/* Velocity at a cell (0 in solid cells), lattice units. */
void ld_lbm_velocity(const ld_lbm *m, int x, int y, double *ux, double *uy);
/* Cylinder centre in cells. */
void ld_lbm_obstacle(const ld_lbm *m, double *cx, double *cy);
/* The rendered window, S x S floats in [0, 1]; -1 when the flow holds
 * non-finite values (the simulation blew up). */
int ld_lbm_render(const ld_lbm *m, float *frame, int size);

#endif
