/* The swinging pendulum rendered as anti-aliased grey images (see
 * synth_systems.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "data/synth_systems.h"

#define PENDULUM_MAX_SUBSTEP 1e-3  /* s */
#define PIXELS_PER_METRE 0.3       /* times the frame side */
#define BOB_RADIUS 0.07            /* times the frame side */
#define ROD_HALF_WIDTH 0.012       /* times the frame side */
#define ROD_INTENSITY 0.6f

void ld_pendulum_defaults(ld_pendulum_config *c)
{
    *c = (ld_pendulum_config){.grid = {.n = 256, .length = 60, .size = 32, .dt = 0.1, .seed = 1},
                              .length = 1.0, .gravity = 9.81, .damping = 0,
                              .theta_min = -M_PI / 2, .theta_max = M_PI / 2,
                              .omega_min = -2, .omega_max = 2};
}

int ld_pendulum_check(const ld_pendulum_config *c, ld_err *err)
{
    if (ld_synth_grid_check(&c->grid, err))
        return -1;
    if (!(c->length > 0 && c->length <= 1.5))
        return ld_errf(err, "the pendulum length must be in (0, 1.5] m (got %g)", c->length);
    if (!(c->gravity > 0 && c->gravity <= 1000))
        return ld_errf(err, "gravity must be in (0, 1000] m/s^2 (got %g)", c->gravity);
    if (!(c->damping >= 0 && c->damping <= 100))
        return ld_errf(err, "the damping must be in [0, 100] 1/s (got %g)", c->damping);
    if (!(c->theta_min <= c->theta_max) || !isfinite(c->theta_min) || !isfinite(c->theta_max))
        return ld_errf(err, "the initial angle range [%g, %g] is empty", c->theta_min,
                       c->theta_max);
    if (!(c->omega_min <= c->omega_max) || !isfinite(c->omega_min) || !isfinite(c->omega_max))
        return ld_errf(err, "the initial velocity range [%g, %g] is empty", c->omega_min,
                       c->omega_max);
    return 0;
}

/* d(theta, omega)/dt */
static void pendulum_rhs(const ld_pendulum_config *c, double th, double om, double *dth,
                         double *dom)
{
    *dth = om;
    *dom = -(c->gravity / c->length) * sin(th) - c->damping * om;
}

void ld_pendulum_trajectory(const ld_pendulum_config *c, double theta0, double omega0,
                            const double *times, int L, double *theta, double *omega)
{
    double th = theta0, om = omega0;
    theta[0] = th;
    omega[0] = om;
    for (int k = 1; k < L; k++) {
        double span = times[k] - times[k - 1];
        int m = (int)ceil(span / PENDULUM_MAX_SUBSTEP);
        double h = span / m;
        for (int s = 0; s < m; s++) {
            double a1, b1, a2, b2, a3, b3, a4, b4;
            pendulum_rhs(c, th, om, &a1, &b1);
            pendulum_rhs(c, th + 0.5 * h * a1, om + 0.5 * h * b1, &a2, &b2);
            pendulum_rhs(c, th + 0.5 * h * a2, om + 0.5 * h * b2, &a3, &b3);
            pendulum_rhs(c, th + h * a3, om + h * b3, &a4, &b4);
            th += h / 6 * (a1 + 2 * a2 + 2 * a3 + a4);
            om += h / 6 * (b1 + 2 * b2 + 2 * b3 + b4);
        }
        theta[k] = th;
        omega[k] = om;
    }
}

/* Coverage of a pixel by a shape at signed distance d (pixels, negative
 * inside) from its centre: a one-pixel-wide linear ramp. */
static float coverage(double d)
{
    return d <= -0.5 ? 1.0f : d >= 0.5 ? 0.0f : (float)(0.5 - d);
}

/* Rod from the pivot to the bob and the bob, white on black. */
static void render_pendulum(double theta, double length, int S, float *img)
{
    const double px = 0.5 * (S - 1), py = 0.5 * (S - 1);
    const double len = PIXELS_PER_METRE * S * length;
    const double bx = px + len * sin(theta), by = py + len * cos(theta); /* y grows downwards */
    const double r = BOB_RADIUS * S, w = ROD_HALF_WIDTH * S;
    const double dx = bx - px, dy = by - py, seg2 = dx * dx + dy * dy;
    for (int i = 0; i < S; i++)
        for (int j = 0; j < S; j++) {
            double qx = j - px, qy = i - py;
            double s = seg2 > 0 ? (qx * dx + qy * dy) / seg2 : 0;
            s = s < 0 ? 0 : s > 1 ? 1 : s;
            double rod = hypot(qx - s * dx, qy - s * dy) - w;
            double bob = hypot(j - bx, i - by) - r;
            float v = ROD_INTENSITY * coverage(rod), b = coverage(bob);
            img[i * S + j] = b > v ? b : v;
        }
}

typedef struct pendulum_job {
    const ld_pendulum_config *c;
    ld_sequences *out;
} pendulum_job;

/* Simulates and renders instance i (for ld_synth_instances; scratch holds
 * the 2 L doubles of its angle and angular velocity). */
static int pendulum_instance(void *ctx, int i, void *scratch, ld_err *err)
{
    const pendulum_job *job = ctx;
    const ld_pendulum_config *c = job->c;
    const ld_synth_grid *g = &c->grid;
    const int L = g->length, S = g->size;
    ld_sequences *out = job->out;
    ld_rng r;
    ld_synth_rng(g, i, 0, &r);
    double theta0 = c->theta_min + (c->theta_max - c->theta_min) * ld_rng_uniform(&r);
    double omega0 = c->omega_min + (c->omega_max - c->omega_min) * ld_rng_uniform(&r);
    double *times = out->times + (size_t)i * L, *state = scratch;
    ld_synth_times(g, i, times);
    ld_pendulum_trajectory(c, theta0, omega0, times, L, state, state + L);
    for (int t = 0; t < L; t++)
        render_pendulum(state[t], c->length, S, ld_sequences_frame(out, i, t));
    double *p = out->params + (size_t)i * 4;
    p[0] = theta0;
    p[1] = omega0;
    p[2] = c->length;
    p[3] = c->gravity;
    (void)err;
    return 0;
}

int ld_synth_pendulum(const ld_pendulum_config *c, ld_sequences *out, ld_synth_progress_fn fn,
                      void *user, ld_err *err)
{
    if (ld_pendulum_check(c, err))
        return -1;
    const ld_synth_grid *g = &c->grid;
    const int L = g->length, S = g->size;
    if (ld_sequences_alloc(out, g->n, L, 1, S, S, 4, err))
        return -1;
    snprintf(out->system, sizeof out->system, "pendulum");
    static const char *const names[4] = {"theta0", "omega0", "length", "gravity"};
    for (int k = 0; k < 4; k++)
        snprintf(out->param_names[k], LD_SEQ_NAME_LEN, "%s", names[k]);
    if (ld_synth_grid_attrs(g, out, err) || ld_synth_attr(out, "length", c->length, err) ||
        ld_synth_attr(out, "gravity", c->gravity, err) ||
        ld_synth_attr(out, "damping", c->damping, err) ||
        ld_synth_attr(out, "theta_min", c->theta_min, err) ||
        ld_synth_attr(out, "theta_max", c->theta_max, err) ||
        ld_synth_attr(out, "omega_min", c->omega_min, err) ||
        ld_synth_attr(out, "omega_max", c->omega_max, err)) {
        ld_sequences_free(out);
        return -1;
    }
    pendulum_job job = {c, out};
    if (ld_synth_instances(g->n, sizeof(double) * 2 * L, pendulum_instance, &job, fn, user,
                           err)) {
        ld_sequences_free(out);
        return -1;
    }
    return 0;
}
