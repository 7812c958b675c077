/* `latdyn demo`: the main job on built-in data. Generates a textured scene
 * that turns while a lead opens (`synth between --scenario drift`), runs
 * `latdyn between` with the quick preset on its first and last frames and
 * the cross-fade (the floor every method must beat), scores both against
 * the truth (`eval between`), and prints the two scores and where the
 * report and the frames are. It runs the commands exactly as a user would
 * type them, and prints each command line first. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "models/between.h"

typedef struct demo_args {
    const char *out_dir, *size, *stages, *seed, *steps, *threads;
    int quiet;
} demo_args;

static void demo_usage(FILE *out)
{
    fprintf(out,
            "usage: latdyn demo [options]\n\n"
            "The main job on built-in data: generates a scene (a texture that turns\n"
            "while a lead opens), runs `latdyn between` with the quick preset on its\n"
            "first and last frames, and the cross-fade beside it, scores both against\n"
            "the truth, and prints the scores and where report.html and the frames are.\n"
            "Each step is an ordinary latdyn command, printed before it runs.\n\n"
            "options:\n"
            "  -o, --out DIR  output folder (default latdyn-demo): DIR/truth holds the\n"
            "                 generated scene, DIR/between the result, DIR/eval.json its\n"
            "                 scores, DIR/crossfade and DIR/eval_crossfade.json the floor's\n"
            "  --size S       scene side in pixels, >= 32 (default 64)\n"
            "  --stages N     stages (default 8)\n"
            "  --steps K      training steps (default: the quick preset's)\n"
            "  --seed S       random seed of scene and training (default 1)\n"
            "  --threads T    OpenMP threads (default: OMP_NUM_THREADS)\n"
            "  --quiet        no progress output\n");
}

static int parse_demo_args(int argc, char **argv, demo_args *a, ld_err *err)
{
    *a = (demo_args){.out_dir = "latdyn-demo", .size = "64", .stages = "8", .seed = "1"};
    /* strings, passed on to the commands the demo runs */
    const ld_option options[] = {
        LD_OUT(&a->out_dir),
        LD_STRING("--size", &a->size),
        LD_STRING("--stages", &a->stages),
        LD_STRING("--seed", &a->seed),
        LD_STRING("--steps", &a->steps),
        LD_STRING("--threads", &a->threads),
        LD_FLAG("--quiet", &a->quiet),
    };
    const ld_command_line cl = {"demo", options, (int)(sizeof options / sizeof *options), NULL,
                                0, 0, NULL};
    int rc = ld_parse_command_line(argc, argv, &cl, err);
    if (rc)
        return rc;
    /* the numbers are checked here so that nothing is written for a typo
     * or for a value a later step would refuse (the scene must hold one of
     * the quick preset's 32-pixel patches) */
    int value;
    const struct {
        const char *option, *text;
        int min, max;
    } numeric[] = {{"--size", a->size, 32, 1 << 20},
                   {"--stages", a->stages, 1, LD_BETWEEN_MAX_STAGES},
                   {"--seed", a->seed, 0, 1 << 20},
                   {"--steps", a->steps, 0, 1 << 20},
                   {"--threads", a->threads, 1, 1 << 20}};
    for (size_t k = 0; k < sizeof numeric / sizeof numeric[0]; k++)
        if (numeric[k].text && ld_parse_int(numeric[k].option, numeric[k].text, numeric[k].min,
                                            numeric[k].max, &value, err))
            return -1;
    return 0;
}

/* Runs one subcommand with the argument list `args` (NULL-terminated),
 * after printing it as a command line. */
static int run_step(int (*command)(int, char **), const char *const *args, int quiet)
{
    char *argv[32];
    int argc = 0;
    for (; args[argc]; argc++)
        argv[argc] = (char *)args[argc];
    argv[argc] = NULL;
    if (!quiet) {
        fprintf(stderr, "\n$ latdyn");
        for (int i = 0; i < argc; i++)
            fprintf(stderr, " %s", argv[i]);
        fprintf(stderr, "\n");
    }
    int rc = command(argc, argv);
    fflush(stdout); /* its summary before the next command's progress */
    return rc;
}

/* The mean intermediate-frame PSNR in a JSON file `eval between` wrote
 * (its "mean": {"psnr": ...}; null, for identical frames, reads as
 * infinity); NAN when the file or the value is missing. */
static double mean_psnr(const char *path)
{
    static const char key[] = "\"mean\": {\"psnr\": ";
    char text[8192] = "";
    FILE *f = fopen(path, "r");
    if (!f)
        return NAN;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = 0;
    const char *at = strstr(text, key);
    if (!at)
        return NAN;
    at += strlen(key);
    return strncmp(at, "null", 4) == 0 ? INFINITY : strtod(at, NULL);
}

int ld_cmd_demo(int argc, char **argv)
{
    demo_args a;
    ld_err err = {{0}};
    int rc = ld_cli_parsed(parse_demo_args(argc, argv, &a, &err), "demo", demo_usage, &err);
    if (rc >= 0)
        return rc;
    if (!ld_dir_exists(a.out_dir) && mkdir(a.out_dir, 0777)) {
        fprintf(stderr, "latdyn demo: cannot create folder '%s'\n", a.out_dir);
        return 1;
    }
    char truth[1024], result[1024], floor_dir[1024], start[1100], end[1100], json[1100],
        floor_json[1100];
    snprintf(truth, sizeof truth, "%s/truth", a.out_dir);
    snprintf(result, sizeof result, "%s/between", a.out_dir);
    snprintf(floor_dir, sizeof floor_dir, "%s/crossfade", a.out_dir);
    snprintf(start, sizeof start, "%s/start.npy", truth);
    snprintf(end, sizeof end, "%s/end.npy", truth);
    snprintf(json, sizeof json, "%s/eval.json", a.out_dir);
    snprintf(floor_json, sizeof floor_json, "%s/eval_crossfade.json", a.out_dir);
    const char *synth[] = {"synth", "between", "--scenario", "drift", "--size", a.size,
                           "--stages", a.stages, "--seed", a.seed, "-o", truth, NULL};
    const char *between[24] = {"between", start, end, "-o", result, "--preset", "quick",
                               "--stages", a.stages, "--seed", a.seed};
    int n = 11;
    if (a.steps) {
        between[n++] = "--steps";
        between[n++] = a.steps;
    }
    if (a.threads) {
        between[n++] = "--threads";
        between[n++] = a.threads;
    }
    if (a.quiet)
        between[n++] = "--quiet";
    between[n] = NULL;
    const char *crossfade[] = {"between", start, end, "-o", floor_dir, "--method", "crossfade",
                               "--stages", a.stages, "--quiet", NULL};
    const char *eval[] = {"eval", "between", truth, result, "--json", json, NULL};
    const char *eval_floor[] = {"eval", "between", truth, floor_dir, "--json", floor_json, NULL};
    if ((rc = run_step(ld_cmd_synth, synth, a.quiet)) ||
        (rc = run_step(ld_cmd_between, between, a.quiet)) ||
        (rc = run_step(ld_cmd_eval, eval, a.quiet)) ||
        (rc = run_step(ld_cmd_between, crossfade, a.quiet)) ||
        (rc = run_step(ld_cmd_eval, eval_floor, a.quiet)))
        return rc;
    printf("\ndemo: in-between frames against the truth, mean PSNR: latent %.2f dB, "
           "cross-fade %.2f dB\n"
           "      report %s/report.html\n      frames %s/frames/ (all in %s/frames.npy and "
           "%s/animation.gif)\n      fields %s/fields/ (all in %s/fields.npy)\n"
           "      scores %s (truth in %s)\n",
           mean_psnr(json), mean_psnr(floor_json), result, result, result, result, result, result,
           json, truth);
    return 0;
}
