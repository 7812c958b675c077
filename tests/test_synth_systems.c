/* Tests of the ladid generators: the physics (pendulum energy, bounded
 * reaction-diffusion, lattice-Boltzmann mass conservation and the vortex
 * shedding frequency), the rendered frames (range, the bob where the angle
 * puts it), determinism by seed, the time grids and the option checks. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "data/synth_systems.h"
#include "test.h"

static double pendulum_energy(const ld_pendulum_config *c, double theta, double omega)
{
    return 0.5 * c->length * c->length * omega * omega +
           c->gravity * c->length * (1 - cos(theta));
}

/* Without damping the energy per unit mass stays within 1e-9 (relative)
 * over 100 s (about 50 periods), RK4 with 1 ms substeps; with damping it
 * only decreases. */
static void test_pendulum_energy(void)
{
    ld_pendulum_config c;
    ld_pendulum_defaults(&c);
    enum { L = 1001 };
    double *times = malloc(sizeof(double) * 3 * L), *theta = times + L, *omega = theta + L;
    for (int k = 0; k < L; k++)
        times[k] = 0.1 * k;
    ld_pendulum_trajectory(&c, 2.5, 1.0, times, L, theta, omega);
    double e0 = pendulum_energy(&c, 2.5, 1.0), worst = 0;
    for (int k = 0; k < L; k++)
        worst = fmax(worst, fabs(pendulum_energy(&c, theta[k], omega[k]) - e0) / e0);
    CHECK(worst < 1e-9, "relative energy drift %.3g over 100 s", worst);
    c.damping = 0.3;
    ld_pendulum_trajectory(&c, 2.5, 1.0, times, L, theta, omega);
    int decreasing = 1;
    for (int k = 1; k < L; k++)
        decreasing &= pendulum_energy(&c, theta[k], omega[k]) <=
                      pendulum_energy(&c, theta[k - 1], omega[k - 1]) + 1e-12;
    CHECK(decreasing, "damped energy must not grow");
    double e_end = pendulum_energy(&c, theta[L - 1], omega[L - 1]);
    CHECK(e_end < 1e-6 * e0, "damped pendulum comes to rest (%.3g of the energy left)",
          e_end / e0);
    free(times);
}

/* The smallest and largest value of all frames of s. */
static void frame_range(const ld_sequences *s, float *lo, float *hi)
{
    size_t count = (size_t)s->n * s->length * s->channels * s->height * s->width;
    *lo = 1;
    *hi = 0;
    for (size_t i = 0; i < count; i++) {
        *lo = fminf(*lo, s->frames[i]);
        *hi = fmaxf(*hi, s->frames[i]);
    }
}

/* The centroid of the bob's fully covered pixels sits where theta and the
 * length put it (pivot at the centre, 0.3 S pixels per metre). */
static void check_bob_positions(const ld_pendulum_config *c, const ld_sequences *a)
{
    const int L = a->length, S = a->height;
    double *theta = malloc(sizeof(double) * 2 * L), *omega = theta + L;
    for (int i = 0; i < a->n; i++) {
        ld_pendulum_trajectory(c, a->params[i * 4], a->params[i * 4 + 1], a->times + i * L, L,
                               theta, omega);
        for (int t = 0; t < L; t += L - 1) {
            const float *f = ld_sequences_frame(a, i, t);
            double sx = 0, sy = 0, sw = 0;
            for (int p = 0; p < S * S; p++)
                if (f[p] > 0.99f) {
                    sx += p % S;
                    sy += p / S;
                    sw += 1;
                }
            const double r = 0.3 * S * c->length, mid = 0.5 * (S - 1);
            const double bx = mid + r * sin(theta[t]), by = mid + r * cos(theta[t]);
            CHECK(sw > 0 && hypot(sx / sw - bx, sy / sw - by) < 0.6,
                  "instance %d frame %d: bob at (%.2f, %.2f), expected (%.2f, %.2f)", i, t,
                  sx / sw, sy / sw, bx, by);
        }
    }
    free(theta);
}

static void test_pendulum_frames(void)
{
    ld_pendulum_config c;
    ld_pendulum_defaults(&c);
    c.grid = (ld_synth_grid){.n = 5, .length = 8, .size = 32, .dt = 0.1, .seed = 3};
    ld_sequences a, b;
    ld_err err;
    CHECK(ld_synth_pendulum(&c, &a, NULL, NULL, &err) == 0, "generate: %s", err.msg);
    CHECK(ld_synth_pendulum(&c, &b, NULL, NULL, &err) == 0, "generate: %s", err.msg);
    if (test_failed())
        return;
    const size_t count = (size_t)5 * 8 * 32 * 32;
    CHECK(!memcmp(a.frames, b.frames, count * sizeof(float)) &&
              !memcmp(a.params, b.params, sizeof(double) * 5 * 4),
          "same seed, same data");
    float lo, hi;
    frame_range(&a, &lo, &hi);
    CHECK(lo >= 0 && hi <= 1 && hi > 0.99f && lo == 0, "frames in [0, 1]: %g..%g", lo, hi);
    CHECK(!strcmp(a.system, "pendulum") && !strcmp(a.param_names[0], "theta0") &&
              a.params[2] == 1.0 && a.params[3] == 9.81,
          "system and parameters");
    for (int i = 0; i < 5; i++)
        CHECK(fabs(a.params[i * 4]) <= M_PI / 2 && fabs(a.params[i * 4 + 1]) <= 2,
              "initial state %d in range", i);
    check_bob_positions(&c, &a);
    ld_sequences_free(&b);
    /* Intervention: a shorter pendulum on another planet. */
    c.length = 0.6;
    c.gravity = 3.7;
    CHECK(ld_synth_pendulum(&c, &b, NULL, NULL, &err) == 0, "generate: %s", err.msg);
    CHECK(b.params[2] == 0.6 && b.params[3] == 3.7, "intervened parameters stored");
    check_bob_positions(&c, &b);
    ld_sequences_free(&b);
    c.length = 1;
    c.gravity = 9.81;
    c.grid.seed = 4;
    CHECK(ld_synth_pendulum(&c, &b, NULL, NULL, &err) == 0, "generate: %s", err.msg);
    CHECK(memcmp(a.params, b.params, sizeof(double) * 5 * 4) != 0, "another seed differs");
    ld_sequences_free(&a);
    ld_sequences_free(&b);
}

static void test_time_grids(void)
{
    ld_synth_grid g = {.n = 3, .length = 50, .size = 16, .dt = 0.2, .seed = 9};
    double reg[50], irr[50], other[50];
    ld_synth_times(&g, 0, reg);
    CHECK(reg[0] == 0 && fabs(reg[49] - 9.8) < 1e-12 && fabs(reg[7] - 1.4) < 1e-12,
          "regular grid");
    g.irregular = 1;
    ld_synth_times(&g, 0, irr);
    ld_synth_times(&g, 1, other);
    double min_gap = 1e9, max_gap = 0;
    for (int k = 1; k < 50; k++) {
        min_gap = fmin(min_gap, irr[k] - irr[k - 1]);
        max_gap = fmax(max_gap, irr[k] - irr[k - 1]);
    }
    CHECK(irr[0] == 0 && irr[49] == reg[49], "irregular grid spans the same time");
    CHECK(min_gap > 0.16 * 0.2 && max_gap < 2.1 * 0.2 && max_gap > 1.3 * min_gap,
          "irregular gaps %.4f..%.4f", min_gap, max_gap);
    CHECK(memcmp(irr, other, sizeof irr) != 0, "each instance has its own grid");
    ld_err err;
    g.size = 24;
    CHECK(ld_synth_grid_check(&g, &err) != 0 && strstr(err.msg, "multiple of 16"),
          "size 24: %s", err.msg);
    g.size = 16;
    g.n = -2;
    CHECK(ld_synth_grid_check(&g, &err) != 0 && strstr(err.msg, "instances"), "n < 1: %s",
          err.msg);
    g.n = 1;
    g.length = 1;
    CHECK(ld_synth_grid_check(&g, &err) != 0, "length 1");
    g.length = 2;
    g.dt = 0;
    CHECK(ld_synth_grid_check(&g, &err) != 0, "dt 0");
}

static void test_area_resample(void)
{
    float src[41 * 41], dst[32 * 32];
    double mean_src = 0, mean_dst = 0;
    for (int i = 0; i < 41 * 41; i++) {
        src[i] = (float)((i * 37) % 101) / 100.0f;
        mean_src += src[i] / (41.0 * 41.0);
    }
    ld_area_resample(src, 41, 41, dst, 32, 32);
    for (int i = 0; i < 32 * 32; i++)
        mean_dst += dst[i] / (32.0 * 32.0);
    CHECK(fabs(mean_src - mean_dst) < 1e-5, "mean kept: %.6f vs %.6f", mean_src, mean_dst);
    float box[64 * 64], down[16 * 16];
    for (int i = 0; i < 64 * 64; i++)
        box[i] = (float)((i / 64) / 4 * 16 + (i % 64) / 4);
    ld_area_resample(box, 64, 64, down, 16, 16);
    int exact = 1;
    for (int i = 0; i < 16 * 16; i++)
        exact &= fabsf(down[i] - (float)i) < 1e-4f;
    CHECK(exact, "integer factor: block means");
}

/* From random states inside the unit disk, the lambda-omega system stays
 * within |A| <= 1 (+1e-3) and settles near the limit cycle |A| = 1 away
 * from defects. */
static void test_reaction_diffusion_bounded(void)
{
    ld_rd_config c;
    ld_rd_defaults(&c);
    const int N = 64;
    float *w = malloc(sizeof(float) * 6 * N * N), *u = w, *v = w + N * N;
    ld_rng r;
    ld_rng_init(&r, 5);
    for (int i = 0; i < N * N; i++) {
        double rad = ld_rng_uniform(&r), ang = 2 * M_PI * ld_rng_uniform(&r);
        u[i] = (float)(rad * cos(ang));
        v[i] = (float)(rad * sin(ang));
    }
    ld_rd_advance(&c, N, u, v, w + 2 * N * N, 20.0);
    double max_a = 0, mean_a = 0;
    for (int i = 0; i < N * N; i++) {
        double a = hypot(u[i], v[i]);
        max_a = fmax(max_a, a);
        mean_a += a / (N * N);
    }
    CHECK(isfinite(max_a) && max_a <= 1.001, "max |A| = %.5f", max_a);
    CHECK(mean_a > 0.5, "mean |A| = %.3f (the waves persist)", mean_a);
    free(w);

    c.grid = (ld_synth_grid){.n = 3, .length = 6, .size = 16, .dt = 0.5, .seed = 2};
    ld_sequences s;
    ld_err err;
    CHECK(ld_synth_reaction_diffusion(&c, &s, NULL, NULL, &err) == 0, "generate: %s", err.msg);
    if (test_failed())
        return;
    float lo, hi;
    frame_range(&s, &lo, &hi);
    CHECK(lo >= 0 && hi <= 1 && hi - lo > 0.8f, "frames span [0, 1]: %g..%g", lo, hi);
    double change = 0;
    const float *f0 = ld_sequences_frame(&s, 0, 0), *f1 = ld_sequences_frame(&s, 0, 5);
    for (int p = 0; p < 16 * 16; p++)
        change += fabs(f1[p] - f0[p]) / 256;
    CHECK(change > 0.05, "the spiral moves (mean change %.3f)", change);
    CHECK(fabs(s.params[3]) == 1 && fabs(s.params[0]) <= 3, "parameters");
    /* Instances run in parallel; one thread gives the same bytes. */
    ld_sequences one;
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    CHECK(ld_synth_reaction_diffusion(&c, &one, NULL, NULL, &err) == 0, "generate: %s",
          err.msg);
    omp_set_num_threads(threads);
    CHECK(!test_failed() &&
              !memcmp(one.frames, s.frames, sizeof(float) * (size_t)3 * 6 * 16 * 16) &&
              !memcmp(one.params, s.params, sizeof(double) * 3 * 4),
          "independent of the thread count");
    ld_sequences_free(&one);
    ld_sequences_free(&s);
    c.diffusion = -1;
    CHECK(ld_synth_reaction_diffusion(&c, &s, NULL, NULL, &err) != 0 &&
              strstr(err.msg, "diffusion"),
          "negative diffusion: %s", err.msg);
}

/* Strong rotation (|beta| up to the allowed 100) stays finite and bounded:
 * steps of 0.05 made every frame NaN from |beta| 10 on. Fields that do blow
 * up are reported, not rendered. */
static void test_reaction_diffusion_strong_beta(void)
{
    ld_rd_config c;
    ld_rd_defaults(&c);
    c.grid = (ld_synth_grid){.n = 1, .length = 3, .size = 16, .dt = 0.2, .seed = 1};
    c.burn_in = 1.0;
    const double betas[] = {10, -20, 100};
    for (int b = 0; b < 3; b++) {
        c.beta = betas[b];
        ld_sequences s;
        ld_err err;
        CHECK(ld_synth_reaction_diffusion(&c, &s, NULL, NULL, &err) == 0, "beta %g: %s",
              c.beta, err.msg);
        if (test_failed())
            return;
        float lo, hi;
        frame_range(&s, &lo, &hi);
        CHECK(lo >= 0 && hi <= 1 && hi - lo > 0.3f, "beta %g: frames %g..%g", c.beta, lo, hi);
        ld_sequences_free(&s);
    }
    const int N = 64;
    float *w = malloc(sizeof(float) * 6 * N * N), *u = w, *v = w + N * N;
    for (int i = 0; i < N * N; i++)
        u[i] = v[i] = 1e19f;
    CHECK(ld_rd_advance(&c, N, u, v, w + 2 * N * N, 0.1) == -1, "blown-up fields reported");
    for (int i = 0; i < N * N; i++)
        u[i] = v[i] = 0.5f;
    CHECK(ld_rd_advance(&c, N, u, v, w + 2 * N * N, 0.1) == 0, "finite fields pass");
    free(w);
}

/* A closed lattice (periodic in x, walls and the cylinder bounce back)
 * keeps its mass to float rounding: 1e-5 relative over 2000 steps. */
static void test_lbm_mass(void)
{
    ld_vortex_config c;
    ld_vortex_defaults(&c);
    c.grid.size = 16;
    ld_lbm *m;
    ld_err err;
    CHECK(ld_lbm_create(&c, 200, 1, 1.0, &m, &err) == 0, "create: %s", err.msg);
    if (test_failed())
        return;
    double m0 = ld_lbm_mass(m);
    ld_lbm_run(m, 2000);
    double m1 = ld_lbm_mass(m), ux, uy;
    ld_lbm_velocity(m, 100, 20, &ux, &uy);
    CHECK(fabs(m1 - m0) / m0 < 1e-5, "mass %.9g -> %.9g (relative %.2g)", m0, m1,
          fabs(m1 - m0) / m0);
    CHECK(ux > 0.01, "the flow still moves (u = %.4f)", ux);
    ld_lbm_free(m);
}

/* Vortex shedding at Re 100 in the channel of Schaefer & Turek (1996),
 * "Benchmark computations of laminar flow around a cylinder", benchmark
 * 2D-2 (channel 4.1 D high, cylinder 2 D from the inlet, 2 D above the
 * lower wall, parabolic inflow of mean U, Re = U D / nu = 100): their
 * reference Strouhal number St = f D / U lies in 0.2950..0.3050; we take
 * 0.30 and allow 10%. The frequency comes from the upward zero crossings
 * of the transverse velocity 2 D behind the cylinder on its axis, after
 * 20 D / U of spin-up, over 20 D / U (about six periods). D = 10 cells. */
static void test_vortex_strouhal(void)
{
    ld_vortex_config c;
    ld_vortex_defaults(&c);
    c.grid.size = 32;
    ld_lbm *m;
    ld_err err;
    CHECK(ld_lbm_create(&c, 100, 0, 1.0, &m, &err) == 0, "create: %s", err.msg);
    if (test_failed())
        return;
    int nx, ny, d;
    double spu, cx, cy;
    ld_lbm_shape(m, &nx, &ny, &d, &spu);
    ld_lbm_obstacle(m, &cx, &cy);
    CHECK(d == 10 && ny == 41 && nx == 220, "lattice %dx%d, D %d", nx, ny, d);
    const int px = (int)lround(cx + 2 * d), py = (int)lround(cy);
    ld_lbm_run(m, lround(20 * spu));
    const long steps = lround(20 * spu);
    double prev = 0, first = -1, last = -1;
    int crossings = 0;
    for (long s = 1; s <= steps; s++) {
        double ux, uy;
        ld_lbm_run(m, 1);
        ld_lbm_velocity(m, px, py, &ux, &uy);
        if (s > 1 && prev < 0 && uy >= 0) {
            double at = s - uy / (uy - prev);
            if (first < 0)
                first = at;
            else
                crossings++;
            last = at;
        }
        prev = uy;
    }
    ld_lbm_free(m);
    CHECK(crossings >= 4, "%d shedding periods seen", crossings);
    if (crossings < 1)
        return;
    double st = crossings / ((last - first) / spu);
    CHECK(fabs(st - 0.30) <= 0.03, "Strouhal number %.4f, reference 0.30 (Schaefer & Turek)", st);
}

static void test_vortex_generator(void)
{
    ld_vortex_config c;
    ld_vortex_defaults(&c);
    c.grid = (ld_synth_grid){.n = 2, .length = 4, .size = 16, .dt = 0.5, .irregular = 1,
                             .seed = 4};
    c.spinup = 1;
    c.obstacle_y = 0.6;
    ld_sequences s;
    ld_err err;
    CHECK(ld_synth_vortex(&c, &s, NULL, NULL, &err) == 0, "generate: %s", err.msg);
    if (test_failed())
        return;
    float lo, hi;
    frame_range(&s, &lo, &hi);
    CHECK(lo >= 0 && hi <= 1 && lo < 0.3f && hi > 0.7f, "vorticity frames %g..%g", lo, hi);
    for (int i = 0; i < 2; i++) {
        const double *p = s.params + i * 3, *t = s.times + i * 4;
        CHECK(p[0] >= 100 && p[0] <= 500 && p[2] == 0.6, "instance %d: Re %g, y %g", i, p[0],
              p[2]);
        CHECK(t[0] == 0 && t[1] > 0 && t[2] > t[1] && fabs(t[3] - 1.5) < 0.01,
              "instance %d times %g %g %g %g", i, t[0], t[1], t[2], t[3]);
        /* On the lattice step grid: D / U = 100 steps. */
        CHECK(fabs(t[1] * 100 - lround(t[1] * 100)) < 1e-9, "time %.6f on a step", t[1]);
    }
    CHECK(!strcmp(s.system, "vortex") && !strcmp(s.param_names[0], "reynolds"), "names");
    ld_sequences_free(&s);
    /* Intervention: the cylinder centre follows --obstacle-x/-y (window from
     * x = D - 1/2, channel from y = -1/2, both 41 cells for D = 10). */
    ld_lbm *m;
    double cx, cy;
    c.obstacle_x = 0.5;
    CHECK(ld_lbm_create(&c, 100, 0, 0, &m, &err) == 0, "create: %s", err.msg);
    if (m) {
        ld_lbm_obstacle(m, &cx, &cy);
        CHECK(fabs(cx - (9.5 + 0.5 * 41)) < 1e-9 && fabs(cy - (-0.5 + 0.6 * 41)) < 1e-9,
              "obstacle at (%g, %g)", cx, cy);
        ld_lbm_free(m);
    }
    c.re_min = 600;
    c.re_max = 200;
    CHECK(ld_synth_vortex(&c, &s, NULL, NULL, &err) != 0 && strstr(err.msg, "Reynolds"),
          "reversed Reynolds range: %s", err.msg);
    c.re_min = 100;
    c.obstacle_y = 0.9;
    CHECK(ld_synth_vortex(&c, &s, NULL, NULL, &err) != 0 && strstr(err.msg, "obstacle"),
          "obstacle near the wall: %s", err.msg);
}

LD_TEST_SUITE(synth_systems) = {
    {"pendulum_energy", test_pendulum_energy},
    {"pendulum_frames", test_pendulum_frames},
    {"time_grids", test_time_grids},
    {"area_resample", test_area_resample},
    {"reaction_diffusion_bounded", test_reaction_diffusion_bounded},
    {"reaction_diffusion_strong_beta", test_reaction_diffusion_strong_beta},
    {"lbm_mass", test_lbm_mass},
    {"vortex_strouhal", test_vortex_strouhal},
    {"vortex_generator", test_vortex_generator},
    {NULL, NULL},
};
