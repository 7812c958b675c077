/* `latdyn synth SYSTEM ...`: synthetic data with known ground truth. One
 * branch per system: `between` here, the ladid systems (pendulum,
 * reaction-diffusion, vortex) in cli/synth_systems.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "data/image.h"
#include "data/npy.h"
#include "data/synth_between.h"
#include "engine/atomic_file.h"
#include "engine/json.h"
#include "models/between.h"

typedef struct between_synth_args {
    ld_synth_between_config cfg;
    const char *texture; /* path, or "noise" */
    const char *out_dir;
    int quiet;
} between_synth_args;

static void synth_between_usage(FILE *out)
{
    fprintf(out,
        "usage: latdyn synth between --scenario NAME -o DIR [options]\n\n"
        "Moves a texture with a known time-dependent velocity field and writes the N+1\n"
        "true frames and the N true fields (ground truth for latdyn between and eval).\n\n"
        "options:\n"
        "  --scenario NAME   translate (accelerating uniform motion), rotate (about the\n"
        "                    centre, rate ramping up), shear (steady), lead (two halves\n"
        "                    move apart and open a dark crack), inflow (features enter\n"
        "                    through the left border), source (moving texture plus\n"
        "                    bright blobs created by a known source term), drift\n"
        "                    (rotate and lead at once, as sea ice does)\n"
        "  -o, --out DIR     output folder (created; its parent must exist)\n"
        "  --texture WHAT    noise (default: procedural texture from the seed) or an\n"
        "                    image file (PNG, TIFF, .npy) to crop the texture from;\n"
        "                    one smaller than the area the motion covers (about\n"
        "                    2S x 2S, more with a larger --magnitude) is enlarged to\n"
        "                    cover it first, with a note on stderr\n"
        "  --stages N        stages N, frames 0..N (default 8; at most 64, as between's)\n"
        "  --size S          frame side in pixels, >= 16 (default 128)\n"
        "  --magnitude M     motion scale, >= 0 (default 1)\n"
        "  --seed S          texture, crop place, crack shape, blob places (default 1)\n"
        "  --quiet           no summary line, no note on an enlarged texture\n\n"
        "DIR gets frames.npy float32 [N+1,C,S,S] in [0,1], fields.npy float32 [N,2,S,S]\n"
        "(stage n: the true velocity at t_n + dt/2, x (column) component first, pixels\n"
        "per unit time), start.npy and end.npy [C,S,S] (frames 0 and N: the inputs for\n"
        "latdyn between), start.png, end.png and frames/frame_NNN.png (16-bit; the first\n"
        "channel unless C is 1 or 3) and truth.json (the settings).\n");
}

/* Returns 1 for --help, 0 when parsed, -1 on error. */
static int parse_synth_between(int argc, char **argv, between_synth_args *a, ld_err *err)
{
    *a = (between_synth_args){.cfg = {.scenario = LD_SYNTH_SCENARIO_COUNT, .stages = 8,
                                      .size = 128, .magnitude = 1.0f, .seed = 1},
                              .texture = "noise"};
    const char *scenario = NULL;
    const ld_option options[] = {
        LD_STRING("--scenario", &scenario),
        LD_OUT(&a->out_dir),
        LD_STRING("--texture", &a->texture),
        LD_INT("--stages", &a->cfg.stages, 1, LD_BETWEEN_MAX_STAGES),
        LD_INT("--size", &a->cfg.size, 16, 8192),
        LD_FLOAT("--magnitude", &a->cfg.magnitude, 0, 1e3),
        LD_U64("--seed", &a->cfg.seed),
        LD_FLAG("--quiet", &a->quiet),
    };
    const ld_command_line cl = {"synth between", options, (int)(sizeof options / sizeof *options),
                                NULL, 0, 0, NULL};
    int rc = ld_parse_command_line(argc, argv, &cl, err);
    if (rc)
        return rc;
    if (!scenario)
        return ld_errf(err, "--scenario is required (translate, rotate, shear, lead, inflow, "
                            "source, drift)");
    if (ld_synth_scenario_parse(scenario, &a->cfg.scenario, err))
        return -1;
    if (!a->out_dir)
        return ld_errf(err, "-o DIR is required");
    return ld_synth_between_config_check(&a->cfg, err);
}

/* Creates `path` as a folder unless it already is one. */
static int make_dir(const char *path, ld_err *err)
{
    struct stat st;
    if (mkdir(path, 0777) && errno != EEXIST)
        return ld_errf(err, "cannot create %s: %s", path, strerror(errno));
    if (stat(path, &st) || !S_ISDIR(st.st_mode))
        return ld_errf(err, "%s exists and is not a folder", path);
    return 0;
}

static int write_truth_json(const char *path, const between_synth_args *a, int channels,
                            ld_err *err)
{
    ld_atomic_file f;
    if (ld_atomic_open(&f, path, err))
        return -1;
    const ld_synth_between_config *c = &a->cfg;
    fprintf(f.fp, "{\n  \"system\": \"between\",\n  \"scenario\": \"%s\",\n  \"stages\": %d,\n"
                  "  \"size\": %d,\n  \"channels\": %d,\n  \"seed\": %llu,\n"
                  "  \"magnitude\": %.9g,\n  \"texture\": ",
            ld_synth_scenario_name(c->scenario), c->stages, c->size, channels,
            (unsigned long long)c->seed, (double)c->magnitude);
    ld_json_string(f.fp, a->texture);
    fprintf(f.fp, ",\n  \"frames\": \"frames.npy [N+1, C, H, W], values in [0, 1]\",\n"
                  "  \"fields\": \"fields.npy [N, 2, H, W], u(x, t_n + dt/2), x component "
                  "first, pixels per unit time\"\n}\n");
    return ld_atomic_commit(&f, err);
}

/* Writes one [C, S, S] frame as a 16-bit PNG over [0, 1] (its first channel
 * unless it has 1 or 3). */
static int write_frame_png(const char *path, float *frame, int channels, int size, ld_err *err)
{
    ld_image img = {.channels = channels == 3 ? 3 : 1, .height = size, .width = size,
                    .data = frame, .bit_depth = 32, .is_float = 1};
    return ld_image_save_png(path, &img, 16, 0.0f, 1.0f, err);
}

static int write_between_outputs(const between_synth_args *a, int channels, float *frames,
                                 const float *fields, ld_err *err)
{
    const int N = a->cfg.stages, S = a->cfg.size;
    const size_t image = (size_t)channels * S * S;
    char path[4096];
    if (strlen(a->out_dir) > sizeof path - 64)
        return ld_errf(err, "%s: path too long", a->out_dir);
    snprintf(path, sizeof path, "%s/frames", a->out_dir);
    if (make_dir(a->out_dir, err) || make_dir(path, err))
        return -1;
    const int frame_shape[4] = {N + 1, channels, S, S}, field_shape[4] = {N, 2, S, S};
    snprintf(path, sizeof path, "%s/frames.npy", a->out_dir);
    int old_frames = ld_npy_first_dim(path, 4); /* an earlier scene's, to remove beyond N */
    if (ld_remove_numbered(a->out_dir, "frames/frame_%03d.png", N + 1, old_frames, err) ||
        ld_npy_write(path, frames, 4, frame_shape, err))
        return -1;
    snprintf(path, sizeof path, "%s/fields.npy", a->out_dir);
    if (ld_npy_write(path, fields, 4, field_shape, err))
        return -1;
    static const char *const ends[2] = {"start", "end"};
    for (int e = 0; e < 2; e++) {
        float *frame = frames + (size_t)(e ? N : 0) * image;
        snprintf(path, sizeof path, "%s/%s.npy", a->out_dir, ends[e]);
        if (ld_npy_write(path, frame, 3, frame_shape + 1, err))
            return -1;
        snprintf(path, sizeof path, "%s/%s.png", a->out_dir, ends[e]);
        if (write_frame_png(path, frame, channels, S, err))
            return -1;
    }
    for (int n = 0; n <= N; n++) {
        snprintf(path, sizeof path, "%s/frames/frame_%03d.png", a->out_dir, n);
        if (write_frame_png(path, frames + (size_t)n * image, channels, S, err))
            return -1;
    }
    snprintf(path, sizeof path, "%s/truth.json", a->out_dir);
    return write_truth_json(path, a, channels, err);
}

static int synth_between(int argc, char **argv)
{
    between_synth_args a;
    ld_err err = {{0}};
    ld_image texture = {0};
    float *frames = NULL, *fields = NULL;
    int status = 1;
    int rc = parse_synth_between(argc, argv, &a, &err);
    if (rc > 0) {
        synth_between_usage(stdout);
        return 0;
    }
    if (rc) {
        fprintf(stderr, "latdyn synth between: %s\n", err.msg);
        return 2;
    }
    int use_file = strcmp(a.texture, "noise") != 0;
    if (use_file && ld_image_load(a.texture, &texture, &err))
        goto done;
    const int C = ld_synth_between_channels(use_file ? &texture : NULL);
    const int N = a.cfg.stages, S = a.cfg.size;
    frames = malloc((size_t)(N + 1) * C * S * S * sizeof *frames);
    fields = malloc((size_t)N * 2 * S * S * sizeof *fields);
    if (!frames || !fields) {
        ld_errf(&err, "out of memory for %d frames of %dx%d", N + 1, S, S);
        goto done;
    }
    ld_synth_texture_fit fit;
    if (ld_synth_between(&a.cfg, use_file ? &texture : NULL, frames, fields, &fit, &err) ||
        write_between_outputs(&a, C, frames, fields, &err))
        goto done;
    if (fit.scale > 1 && !a.quiet)
        fprintf(stderr, "synth between: %s (%dx%d) is smaller than the %dx%d area the motion "
                        "covers: enlarged %.1fx (one of at least %dx%d is only cropped)\n",
                a.texture, texture.width, texture.height, fit.canvas_width, fit.canvas_height,
                fit.scale, fit.canvas_width, fit.canvas_height);
    if (!a.quiet)
        printf("synth between: %s, %d stages, %d x %dx%d, texture %s; wrote %s/ (frames.npy, "
               "fields.npy, start.npy, end.npy, frames/)\n",
               ld_synth_scenario_name(a.cfg.scenario), N, C, S, S, a.texture, a.out_dir);
    status = 0;
done:
    if (status)
        fprintf(stderr, "latdyn synth between: %s\n", err.msg);
    ld_image_free(&texture);
    free(frames);
    free(fields);
    return status;
}

/* The systems `synth` can generate. */
static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} systems[] = {
    {"between", synth_between, "a texture moved by a known velocity field (latdyn between)"},
    {"pendulum", ld_cmd_synth_system, "a swinging pendulum as images (HDF5 sequences)"},
    {"reaction-diffusion", ld_cmd_synth_system,
     "lambda-omega spiral waves on a periodic square (HDF5 sequences)"},
    {"vortex", ld_cmd_synth_system,
     "flow around a cylinder, lattice Boltzmann, vorticity images (HDF5 sequences)"},
};
#define SYSTEM_COUNT (sizeof systems / sizeof systems[0])

static void synth_usage(FILE *out)
{
    fprintf(out, "usage: latdyn synth SYSTEM [options]   (latdyn synth SYSTEM --help)\n\n"
                 "systems:\n");
    for (size_t i = 0; i < SYSTEM_COUNT; i++)
        fprintf(out, "  %-19s %s\n", systems[i].name, systems[i].summary);
}

int ld_cmd_synth(int argc, char **argv)
{
    if (argc < 2) {
        synth_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        synth_usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < SYSTEM_COUNT; i++)
        if (!strcmp(argv[1], systems[i].name))
            return systems[i].run(argc - 1, argv + 1);
    fprintf(stderr, "latdyn synth: unknown system '%s' (between, pendulum, reaction-diffusion, "
                    "vortex)\n", argv[1]);
    return 2;
}
