/* The `latdyn` program: dispatches to one subcommand per file in src/cli. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#define LATDYN_VERSION "0.1.0"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"between", ld_cmd_between, "in-between frames and motion fields of two images"},
    {"synth", ld_cmd_synth, "generate synthetic data with known ground truth"},
    {"fit", ld_cmd_fit, "learn the dynamics of many trajectories (LaDID)"},
    {"predict", ld_cmd_predict, "predict frames at any times with a fitted model"},
    {"finetune", ld_cmd_finetune, "adapt a fitted model to an intervened system"},
    {"eval", ld_cmd_eval, "score results against ground truth"},
    {"demo", ld_cmd_demo, "the main job on built-in data: between on a generated drifting scene"},
};

static void usage(FILE *out)
{
    fprintf(out, "latdyn %s: learn the dynamics hidden in image data\n\n"
                 "usage: latdyn COMMAND [options]   (latdyn COMMAND --help for its options)\n\n"
                 "commands:\n", LATDYN_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nThreads: OMP_NUM_THREADS (or --threads where a command has it).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("latdyn %s\n", LATDYN_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "latdyn: unknown command '%s' (latdyn --help lists them)\n", argv[1]);
    return 2;
}
