/* `latdyn synth pendulum|reaction-diffusion|vortex -o FILE.h5 [options]`:
 * the ladid benchmark systems (data/synth_systems.h) written as HDF5
 * sequences (data/sequences.h). One parser for all three: the shared grid
 * options, then each system's own real-valued options from a table. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "data/sequences.h"
#include "data/synth_systems.h"
#include "engine/atomic_file.h"

typedef enum { PENDULUM, REACTION_DIFFUSION, VORTEX } system_kind;

typedef struct system_args {
    system_kind kind;
    const char *name, *out;
    int quiet;
    ld_synth_grid *grid; /* the grid of the config in use */
    ld_pendulum_config pendulum;
    ld_rd_config rd;
    ld_vortex_config vortex;
} system_args;

#define MAX_SYSTEM_OPTIONS 8

/* The system's own options (besides the grid's) into opt; returns their
 * count. */
static int system_options(system_args *a, ld_option *opt)
{
    int count;
    if (a->kind == PENDULUM) {
        ld_pendulum_config *c = &a->pendulum;
        const ld_option o[] = {LD_DOUBLE("--length", &c->length, 1e-3, 1.5),
                               LD_DOUBLE("--gravity", &c->gravity, 1e-3, 1000),
                               LD_DOUBLE("--damping", &c->damping, 0, 100),
                               LD_DOUBLE("--theta-min", &c->theta_min, -3.1416, 3.1416),
                               LD_DOUBLE("--theta-max", &c->theta_max, -3.1416, 3.1416),
                               LD_DOUBLE("--omega-min", &c->omega_min, -50, 50),
                               LD_DOUBLE("--omega-max", &c->omega_max, -50, 50)};
        count = (int)(sizeof o / sizeof o[0]);
        memcpy(opt, o, sizeof o);
    } else if (a->kind == REACTION_DIFFUSION) {
        ld_rd_config *c = &a->rd;
        const ld_option o[] = {LD_DOUBLE("--diffusion", &c->diffusion, 1e-3, 10),
                               LD_DOUBLE("--beta", &c->beta, -100, 100),
                               LD_DOUBLE("--burn-in", &c->burn_in, 0, 1e4)};
        count = (int)(sizeof o / sizeof o[0]);
        memcpy(opt, o, sizeof o);
    } else {
        ld_vortex_config *c = &a->vortex;
        const ld_option o[] = {LD_DOUBLE("--re-min", &c->re_min, 1, 2000),
                               LD_DOUBLE("--re-max", &c->re_max, 1, 2000),
                               LD_DOUBLE("--obstacle-x", &c->obstacle_x, 0, 0.75),
                               LD_DOUBLE("--obstacle-y", &c->obstacle_y, 0.25, 0.75),
                               LD_DOUBLE("--smagorinsky", &c->smagorinsky, 0, 0.5),
                               LD_DOUBLE("--spinup", &c->spinup, 0, 1e4),
                               LD_INT("--diameter", &c->diameter, 4, 200)};
        count = (int)(sizeof o / sizeof o[0]);
        memcpy(opt, o, sizeof o);
    }
    return count;
}

static void usage(const system_args *a, FILE *out)
{
    const ld_synth_grid *g = a->grid;
    fprintf(out, "usage: latdyn synth %s -o FILE.h5 [options]\n\n", a->name);
    if (a->kind == PENDULUM)
        fprintf(out,
            "A swinging pendulum, theta'' = -(g/l) sin theta - c theta' (RK4, substeps of at\n"
            "most 1 ms), rendered as anti-aliased grey images: the pivot at the centre, the\n"
            "rod (grey) and the bob (white) on black, 0.3 S pixels per metre. Instances draw\n"
            "the initial angle and velocity uniformly from the given ranges. Time in s.\n"
            "Parameters stored: theta0, omega0, length, gravity.\n\n");
    else if (a->kind == REACTION_DIFFUSION)
        fprintf(out,
            "Lambda-omega spiral waves, u_t = (1-A^2) u + beta A^2 v + d lap u,\n"
            "v_t = -beta A^2 u + (1-A^2) v + d lap v, A^2 = u^2 + v^2, on the periodic square\n"
            "[-10, 10]^2 (midpoint RK2 steps on a grid of >= 64 cells a side, box-averaged to\n"
            "the frame size; steps of at most 0.05 / max(1, |beta|) time units, so a large\n"
            "|beta| takes longer). Instances: a one-armed spiral about a random centre in\n"
            "[-3, 3]^2 with random phase and chirality. Frames show u mapped from [-1, 1]\n"
            "to [0, 1]. Parameters stored: center_x, center_y, phase, chirality.\n\n");
    else
        fprintf(out,
            "Flow around a cylinder (von Karman vortex street) by a D2Q9 lattice-Boltzmann\n"
            "solver (BGK + Smagorinsky) in the channel of Schaefer & Turek (1996) benchmark\n"
            "2D-2: height 4.1 D, length 22 D, parabolic inflow of mean speed U. Frames show\n"
            "the vorticity w over the square window of side 4.1 D starting 1 D behind the\n"
            "inlet, as 0.5 + 0.5 tanh(w D / (4 U)). Time unit D / U. Instances draw the\n"
            "Reynolds number U D / nu uniformly from [--re-min, --re-max] and a random\n"
            "initial kick and spin-up (so the phase differs). Parameters stored: reynolds,\n"
            "obstacle_x, obstacle_y.\n\n");
    fprintf(out,
            "options:\n"
            "  -o, --out FILE.h5   output HDF5 file (frames float32 [n, L, 1, S, S] in [0, 1],\n"
            "                      times float64 [n, L], params float64 [n, k] with names)\n"
            "  --n N               instances (default %d)\n"
            "  --len L             frames per instance, >= 2 (default %d)\n"
            "  --size S            frame side, a multiple of 16 (default %d)\n"
            "  --dt DT             time between frames (default %g)\n"
            "  --irregular         irregular time grids: per instance, the L-1 gaps are\n"
            "                      proportional to 0.2 + U(0, 1), scaled to span (L-1) DT\n"
            "  --seed S            random seed (default %llu)\n"
            "  --quiet             no progress output\n",
            g->n, g->length, g->size, g->dt, (unsigned long long)g->seed);
    if (a->kind == PENDULUM)
        fprintf(out,
            "  --length L          pendulum length in m, <= 1.5 (default %g)\n"
            "  --gravity G         gravity in m/s^2 (default %g)\n"
            "  --damping C         damping rate in 1/s (default %g)\n"
            "  --theta-min A, --theta-max A   initial angle range in rad, 0 = hanging down\n"
            "                      (default %g..%g)\n"
            "  --omega-min W, --omega-max W   initial angular velocity range in rad/s\n"
            "                      (default %g..%g)\n",
            a->pendulum.length, a->pendulum.gravity, a->pendulum.damping,
            a->pendulum.theta_min, a->pendulum.theta_max, a->pendulum.omega_min,
            a->pendulum.omega_max);
    else if (a->kind == REACTION_DIFFUSION)
        fprintf(out,
            "  --diffusion D       diffusion constant d (default %g)\n"
            "  --beta B            beta (default %g)\n"
            "  --burn-in T         time simulated before the first frame (default %g)\n",
            a->rd.diffusion, a->rd.beta, a->rd.burn_in);
    else
        fprintf(out,
            "  --re-min R, --re-max R   Reynolds number range (default %g..%g)\n"
            "  --obstacle-x X      cylinder centre, fraction of the window width from its\n"
            "                      left edge, 0..0.75 (default %.4g: 2 D behind the inlet)\n"
            "  --obstacle-y Y      cylinder centre, fraction of the channel height from the\n"
            "                      bottom, 0.25..0.75 (default %.4g: 2 D)\n"
            "  --diameter N        cylinder diameter in lattice cells (default: max(10,\n"
            "                      ceil(S / 4.1)); larger is slower and more accurate)\n"
            "  --smagorinsky C     Smagorinsky constant, 0 for plain BGK (default %g)\n"
            "  --spinup T          flow time before the first frame, plus up to 4 at random\n"
            "                      (default %g)\n",
            a->vortex.re_min, a->vortex.re_max, a->vortex.obstacle_x, a->vortex.obstacle_y,
            a->vortex.smagorinsky, a->vortex.spinup);
}

/* Returns 1 for --help, 0 when parsed, -1 on error. */
static int parse(int argc, char **argv, system_args *a, ld_err *err)
{
    ld_synth_grid *g = a->grid;
    const ld_option grid[] = {
        LD_OUT(&a->out),
        LD_INT("--n", &g->n, 1, 1000000),
        LD_INT("--len", &g->length, 2, 100000),
        LD_INT("--size", &g->size, 16, 4096),
        LD_DOUBLE("--dt", &g->dt, 1e-9, 1e6),
        LD_U64("--seed", &g->seed),
        LD_FLAG("--irregular", &g->irregular),
        LD_FLAG("--quiet", &a->quiet),
    };
    char command[64];
    snprintf(command, sizeof command, "synth %s", a->name);
    const int n_grid = (int)(sizeof grid / sizeof *grid);
    ld_option options[sizeof grid / sizeof *grid + MAX_SYSTEM_OPTIONS];
    memcpy(options, grid, sizeof grid);
    int n = n_grid + system_options(a, options + n_grid);
    const ld_command_line cl = {command, options, n, NULL, 0, 0, NULL};
    int rc = ld_parse_command_line(argc, argv, &cl, err);
    if (rc)
        return rc;
    if (!a->out)
        return ld_errf(err, "-o FILE.h5 is required");
    return a->kind == PENDULUM             ? ld_pendulum_check(&a->pendulum, err)
           : a->kind == REACTION_DIFFUSION ? ld_rd_check(&a->rd, err)
                                           : ld_vortex_check(&a->vortex, err);
}

static void report_progress(void *user, int done, int total)
{
    (void)total;
    ld_progress_update(user, done, "%s", "");
}

static int generate(system_args *a, ld_sequences *s, ld_progress *p, ld_err *err)
{
    if (a->kind == PENDULUM)
        return ld_synth_pendulum(&a->pendulum, s, report_progress, p, err);
    if (a->kind == REACTION_DIFFUSION)
        return ld_synth_reaction_diffusion(&a->rd, s, report_progress, p, err);
    return ld_synth_vortex(&a->vortex, s, report_progress, p, err);
}

int ld_cmd_synth_system(int argc, char **argv)
{
    system_args a = {.name = argv[0]};
    ld_pendulum_defaults(&a.pendulum);
    ld_rd_defaults(&a.rd);
    ld_vortex_defaults(&a.vortex);
    if (!strcmp(a.name, "pendulum")) {
        a.kind = PENDULUM;
        a.grid = &a.pendulum.grid;
    } else if (!strcmp(a.name, "reaction-diffusion")) {
        a.kind = REACTION_DIFFUSION;
        a.grid = &a.rd.grid;
    } else {
        a.kind = VORTEX;
        a.grid = &a.vortex.grid;
    }
    ld_err err = {{0}};
    int rc = parse(argc, argv, &a, &err);
    if (rc > 0) {
        usage(&a, stdout);
        return 0;
    }
    if (rc) {
        fprintf(stderr, "latdyn synth %s: %s\n", a.name, err.msg);
        return 2;
    }
    /* Fail before a long generation when the output cannot be written. */
    ld_atomic_file probe;
    if (ld_atomic_open(&probe, a.out, &err)) {
        fprintf(stderr, "latdyn synth %s: %s\n", a.name, err.msg);
        return 1;
    }
    ld_atomic_abort(&probe);
    ld_sequences s;
    memset(&s, 0, sizeof s);
    ld_progress p;
    ld_progress_start(&p, 0, a.grid->n, "instance", "instances", a.quiet);
    double start = ld_now_seconds();
    if (generate(&a, &s, &p, &err) || ld_sequences_write_h5(a.out, &s, &err)) {
        fprintf(stderr, "latdyn synth %s: %s\n", a.name, err.msg);
        ld_sequences_free(&s);
        return 1;
    }
    struct stat st;
    double mb = stat(a.out, &st) == 0 ? (double)st.st_size / (1 << 20) : 0;
    printf("synth %s: %d instances x %d frames of %dx%dx%d, dt %g (%s), params", a.name, s.n,
           s.length, s.channels, s.height, s.width, a.grid->dt,
           a.grid->irregular ? "irregular" : "regular");
    for (int k = 0; k < s.n_params; k++)
        printf(" %s", s.param_names[k]);
    printf("; wrote %s (%.1f MB) in %.1f s\n", a.out, mb, ld_now_seconds() - start);
    ld_sequences_free(&s);
    return 0;
}
