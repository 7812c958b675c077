/* `latdyn predict MODEL FILE.h5 -o pred.npy`: frames of every trajectory
 * of FILE.h5 predicted from its first context frames, at the stored times
 * after the context or at any times given (between samples, beyond the
 * training horizon), in one pass per trajectory (no autoregression). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "cli/cli.h"
#include "cli/fit.h"
#include "cli/options.h"
#include "cli/progress.h"
#include "data/npy.h"
#include "models/ladid.h"

#define MAX_TIMES 100000

typedef struct predict_args {
    const char *model, *input, *out, *times;
    int context, threads, quiet;
} predict_args;

static void predict_usage(FILE *out)
{
    fprintf(out,
        "usage: latdyn predict MODEL.safetensors FILE.h5 -o PRED.npy [options]\n\n"
        "Predicts the frames of every trajectory of FILE.h5 from its first CONTEXT\n"
        "frames (and their times) with a model from `latdyn fit`, in one pass.\n"
        "FILE.h5 needs the datasets frames [n, L, C, S, S] and times [n, L] (params\n"
        "are not needed).\n"
        "PRED.npy is float32 [n, Q, C, S, S]: by default the stored frames\n"
        "CONTEXT..L-1 (Q = L - CONTEXT); with --times, the Q times given.\n\n"
        "options:\n"
        "  -o, --out FILE       the predictions (.npy, required)\n"
        "  --context N          context frames (default: the model's)\n"
        "  --times T1,T2,...    predict at these times (the file's time units, the same\n"
        "                       for every trajectory; any real values: between samples,\n"
        "                       beyond the training horizon)\n"
        "  --threads T          OpenMP threads (default OMP_NUM_THREADS)\n"
        "  --quiet              no summary line\n");
}

static int parse_predict_args(int argc, char **argv, predict_args *a, ld_err *err)
{
    *a = (predict_args){.context = -1};
    const ld_option options[] = {
        LD_OUT(&a->out),
        LD_INT("--context", &a->context, 1, 1000),
        LD_STRING("--times", &a->times),
        LD_INT("--threads", &a->threads, 1, 4096),
        LD_FLAG("--quiet", &a->quiet),
    };
    const char **const positional[] = {&a->model, &a->input};
    const ld_command_line cl = {"predict", options, (int)(sizeof options / sizeof *options),
                                positional, 2, 2, "MODEL.safetensors and FILE.h5"};
    int rc = ld_parse_command_line(argc, argv, &cl, err);
    if (rc)
        return rc;
    if (!a->out)
        return ld_errf(err, "-o PRED.npy is required");
    if (!strcmp(a->out, "-"))
        return ld_errf(err, "-o -: the predictions go to a .npy file, not to standard output; "
                            "name one");
    return 0;
}

/* "t1,t2,..." -> times (malloc'd), count. */
static int parse_times(const char *text, double **times, int *count, ld_err *err)
{
    *count = 0;
    *times = malloc(MAX_TIMES * sizeof **times);
    if (!*times)
        return ld_errf(err, "out of memory");
    const char *p = text;
    for (;;) {
        char *end;
        double t = strtod(p, &end);
        if (end == p || !isfinite(t) || (*end && *end != ','))
            return ld_errf(err, "--times: '%s' is not a comma-separated list of numbers", text);
        if (*count == MAX_TIMES)
            return ld_errf(err, "--times: more than %d times", MAX_TIMES);
        (*times)[(*count)++] = t;
        if (!*end)
            return 0;
        p = end + 1;
    }
}

int ld_cmd_predict(int argc, char **argv)
{
    predict_args a;
    ld_err err = {{0}};
    ld_sequences data = {0};
    ld_ladid_config cfg;
    ld_ladid_model m;
    double *given = NULL;
    float *pred = NULL;
    int have_model = 0, status = 1, Q = 0;
    int rc = parse_predict_args(argc, argv, &a, &err);
    if (rc > 0) {
        predict_usage(stdout);
        return 0;
    }
    if (rc || (a.times && parse_times(a.times, &given, &Q, &err))) {
        fprintf(stderr, "latdyn predict: %s\n", err.msg);
        free(given);
        return 2;
    }
    if (a.threads)
        omp_set_num_threads(a.threads);
    double start = ld_now_seconds();
    const char *const inputs[] = {a.model, a.input, NULL};
    if (ld_fit_check_output(a.out, inputs, &err) || ld_ladid_read_config(a.model, &cfg, &err) ||
        ld_ladid_create(&m, &cfg, &err))
        goto done;
    have_model = 1;
    if (ld_ladid_load_weights(&m, a.model, &err) || ld_sequences_read_h5(a.input, &data, &err))
        goto done;
    if (a.context > 0)
        m.cfg.context = a.context;
    int Tc = m.cfg.context, n = data.n;
    if (!given)
        Q = data.length - Tc;
    size_t frame = (size_t)data.channels * data.height * data.width;
    pred = Q > 0 ? malloc((size_t)n * Q * frame * sizeof *pred) : NULL;
    if (Q > 0 && !pred) {
        ld_errf(&err, "out of memory for %d x %d predicted frames", n, Q);
        goto done;
    }
    if (ld_ladid_predict_set(&m, &data, given, 0, Q, pred, &err)) {
        ld_err_prefix(&err, "%s: ", a.input);
        goto done;
    }
    int shape[5] = {n, Q, data.channels, data.height, data.width};
    if (ld_npy_write(a.out, pred, 5, shape, &err))
        goto done;
    if (!a.quiet)
        printf("predict: %d trajectories x %d frames (%s) from %d context frames in %.2f s: %s\n",
               n, Q, given ? "given times" : "stored times", Tc, ld_now_seconds() - start, a.out);
    status = 0;
done:
    if (status)
        fprintf(stderr, "latdyn predict: %s\n", err.msg);
    if (have_model)
        ld_ladid_free(&m);
    ld_sequences_free(&data);
    free(given);
    free(pred);
    return status;
}
