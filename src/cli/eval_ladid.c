/* `latdyn eval MODEL.safetensors FILE.h5` (or `latdyn eval ladid ...`):
 * scores a fitted LaDID model on held-out trajectories. From the first
 * CONTEXT frames of each trajectory it predicts the rest in one pass and
 * reports the normalised MSE per predicted frame, |y - y_hat|^2 / |y|^2,
 * averaged over the trajectories (ladid.md), beside the repeat-last-frame
 * baseline, as a table and JSON; it also draws a PNG strip (truth row over
 * prediction row) and a PNG plot of the nMSE over the horizon. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "cli/cli.h"
#include "cli/fit.h"
#include "cli/options.h"
#include "data/metrics.h"
#include "engine/atomic_file.h"
#include "plot/canvas.h"
#include "plot/lineplot.h"

#define STRIP_MAX_FRAMES 16
#define STRIP_MIN_SIDE 48
#define STRIP_GAP 2

typedef struct eval_args {
    const char *model, *input, *json, *strip, *plot;
    int context, instance, threads;
} eval_args;

static void eval_ladid_usage(FILE *out)
{
    fprintf(out,
        "usage: latdyn eval MODEL.safetensors FILE.h5 [options]\n"
        "       latdyn eval ladid MODEL.safetensors FILE.h5 [options]\n\n"
        "Predicts frames CONTEXT..L-1 of every trajectory of FILE.h5 from its first\n"
        "CONTEXT frames with a model from `latdyn fit` and reports the normalised MSE\n"
        "per predicted frame, |y - y_hat|^2 / |y|^2 averaged over the trajectories,\n"
        "and its mean over the horizon, beside repeating the last context frame.\n"
        "Writes a PNG strip of one trajectory (truth row over prediction row) and a\n"
        "PNG plot of the nMSE over the horizon.\n\n"
        "options:\n"
        "  --context N      context frames (default: the model's)\n"
        "  --json FILE      also write the scores as JSON ('-': to stdout, the table to\n"
        "                   stderr)\n"
        "  --strip FILE     the strip (default STEM.eval_strip.png beside the model)\n"
        "  --plot FILE      the nMSE plot (default STEM.eval_nmse.png)\n"
        "  --instance I     the trajectory shown in the strip (0)\n"
        "  --threads T      OpenMP threads (default OMP_NUM_THREADS)\n");
}

static int parse_eval_args(int argc, char **argv, eval_args *a, ld_err *err)
{
    *a = (eval_args){.context = -1};
    int positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val;
        if (!strcmp(opt, "--help") || !strcmp(opt, "-h"))
            return 1;
        if (opt[0] != '-' || !opt[1]) {
            if (positional == 0)
                a->model = opt;
            else if (positional == 1)
                a->input = opt;
            else
                return ld_errf(err, "unexpected argument '%s' (MODEL and FILE.h5 expected)", opt);
            positional++;
            continue;
        }
        if (!(val = ld_option_value(argc, argv, &i, err)))
            return -1;
        int rc = 0;
        if (!strcmp(opt, "--json"))
            a->json = val;
        else if (!strcmp(opt, "--strip"))
            a->strip = val;
        else if (!strcmp(opt, "--plot"))
            a->plot = val;
        else if (!strcmp(opt, "--context"))
            rc = ld_parse_int(opt, val, 1, 1000, &a->context, err);
        else if (!strcmp(opt, "--instance"))
            rc = ld_parse_int(opt, val, 0, 100000000, &a->instance, err);
        else if (!strcmp(opt, "--threads"))
            rc = ld_parse_int(opt, val, 1, 4096, &a->threads, err);
        else
            rc = ld_errf(err, "unknown option '%s' (latdyn eval MODEL FILE.h5 --help)", opt);
        if (rc)
            return -1;
    }
    if (positional < 2)
        return ld_errf(err, "MODEL.safetensors and FILE.h5 are required");
    return 0;
}

typedef struct scores {
    int n, Q, context;
    double *model, *repeat; /* [Q] */
    double *t;              /* [Q], times of the first trajectory's predicted frames */
    double mean_model, mean_repeat;
} scores;

static void write_json(FILE *fp, const eval_args *a, const scores *s)
{
    fprintf(fp, "{\n  \"model\": \"%s\",\n  \"data\": \"%s\",\n  \"context\": %d,\n"
                "  \"trajectories\": %d,\n  \"frames\": [", a->model, a->input, s->context, s->n);
    for (int k = 0; k < s->Q; k++)
        fprintf(fp, "%s\n    {\"k\": %d, \"t\": %.9g, \"nmse\": %.6g, \"repeat_last\": %.6g}",
                k ? "," : "", k + 1, s->t[k], s->model[k], s->repeat[k]);
    fprintf(fp, "\n  ],\n  \"mean\": {\"nmse\": %.6g, \"repeat_last\": %.6g}\n}\n", s->mean_model,
            s->mean_repeat);
}

static void print_table(FILE *fp, const eval_args *a, const scores *s)
{
    fprintf(fp, "ladid eval: %s on %s, %d trajectories, %d context frames\n", a->model,
            a->input, s->n, s->context);
    fprintf(fp, "     k           t       nMSE   repeat-last\n");
    for (int k = 0; k < s->Q; k++)
        fprintf(fp, "  %4d  %10.4g  %9.5f  %9.5f\n", k + 1, s->t[k], s->model[k], s->repeat[k]);
    fprintf(fp, "  mean over %d predicted frames: nMSE %.5f (repeat-last-frame %.5f)\n", s->Q,
            s->mean_model, s->mean_repeat);
}

/* Truth row over prediction row of trajectory i, frames evenly picked from
 * the horizon, each enlarged to at least STRIP_MIN_SIDE pixels; grey (the
 * first channel) unless the frames are RGB. */
static int write_strip(const char *path, const ld_sequences *d, const float *pred, int i,
                       int context, int Q, ld_err *err)
{
    int S = d->height, C = d->channels, rgb = C == 3, ch = rgb ? 3 : 1;
    int count = Q < STRIP_MAX_FRAMES ? Q : STRIP_MAX_FRAMES;
    int scale = S < STRIP_MIN_SIDE ? (STRIP_MIN_SIDE + S - 1) / S : 1, side = S * scale;
    int width = count * side + (count + 1) * STRIP_GAP, height = 2 * side + 3 * STRIP_GAP;
    size_t plane = (size_t)S * S, frame = (size_t)C * plane;
    unsigned char *px = malloc((size_t)width * height * ch);
    if (!px)
        return ld_errf(err, "out of memory");
    memset(px, 255, (size_t)width * height * ch);
    for (int j = 0; j < count; j++) {
        int k = count > 1 ? (int)((long)j * (Q - 1) / (count - 1)) : 0;
        const float *rows[2] = {ld_sequences_frame(d, i, context + k),
                                pred + ((size_t)i * Q + k) * frame};
        for (int r = 0; r < 2; r++)
            for (int y = 0; y < side; y++)
                for (int x = 0; x < side; x++)
                    for (int c = 0; c < ch; c++) {
                        float v = rows[r][c * plane + (size_t)(y / scale) * S + x / scale];
                        v = v < 0 ? 0 : v > 1 ? 1 : v;
                        int X = STRIP_GAP + j * (side + STRIP_GAP) + x;
                        int Y = STRIP_GAP + r * (side + STRIP_GAP) + y;
                        px[((size_t)Y * width + X) * ch + c] = (unsigned char)lrintf(v * 255.0f);
                    }
    }
    ld_bytes png = {0};
    int rc = ld_png_encode(px, height, width, ch, &png, err) ||
             ld_bytes_write_file(path, &png, err);
    ld_bytes_free(&png);
    free(px);
    return rc ? -1 : 0;
}

static int write_plot(const char *path, const scores *s, ld_err *err)
{
    float *x = malloc((size_t)s->Q * sizeof *x), *ym = malloc((size_t)s->Q * sizeof *ym),
          *yr = malloc((size_t)s->Q * sizeof *yr);
    int rc = -1;
    if (!x || !ym || !yr) {
        ld_errf(err, "out of memory");
    } else {
        for (int k = 0; k < s->Q; k++) {
            x[k] = (float)(k + 1);
            ym[k] = (float)s->model[k];
            yr[k] = (float)s->repeat[k];
        }
        ld_line_series series[2] = {{x, ym, s->Q, "model"}, {x, yr, s->Q, "repeat last frame"}};
        ld_lineplot_options opt = {.title = "nMSE over the prediction horizon",
                                   .x_label = "frames after the context", .y_label = "nMSE",
                                   .log_y = 1};
        ld_canvas cv;
        if (!ld_lineplot_render(&cv, series, 2, &opt, err)) {
            rc = ld_canvas_write_png(&cv, path, err);
            ld_canvas_free(&cv);
        }
    }
    free(x);
    free(ym);
    free(yr);
    return rc;
}

static void scores_free(scores *s)
{
    free(s->model);
    free(s->repeat);
    free(s->t);
}

int ld_cmd_eval_ladid(int argc, char **argv)
{
    eval_args a;
    ld_err err = {{0}};
    ld_sequences data = {0};
    ld_ladid_config cfg;
    ld_ladid_model m;
    scores s = {0};
    float *pred = NULL;
    int have_model = 0, status = 1;
    char strip[4096], plot[4096];
    int rc = parse_eval_args(argc, argv, &a, &err);
    if (rc > 0) {
        eval_ladid_usage(stdout);
        return 0;
    }
    if (!rc && !a.strip && !ld_fit_sibling(a.model, ".eval_strip.png", strip, sizeof strip, &err))
        a.strip = strip;
    if (!rc && !a.plot && !ld_fit_sibling(a.model, ".eval_nmse.png", plot, sizeof plot, &err))
        a.plot = plot;
    if (rc || !a.strip || !a.plot) {
        fprintf(stderr, "latdyn eval: %s\n", err.msg);
        return 2;
    }
    if (a.threads)
        omp_set_num_threads(a.threads);
    if (ld_ladid_read_config(a.model, &cfg, &err) || ld_ladid_create(&m, &cfg, &err))
        goto done;
    have_model = 1;
    if (ld_ladid_load_weights(&m, a.model, &err) || ld_sequences_read_h5(a.input, &data, &err))
        goto done;
    if (a.context > 0)
        m.cfg.context = a.context;
    int Tc = m.cfg.context, L = data.length, n = data.n;
    if (a.instance >= n) {
        ld_errf(&err, "--instance %d: %s holds %d trajectories", a.instance, a.input, n);
        goto done;
    }
    if (L <= Tc) {
        ld_errf(&err, "%s has trajectories of %d frames: nothing to predict after %d context "
                      "frames", a.input, L, Tc);
        goto done;
    }
    int Q = L - Tc;
    size_t frame = (size_t)data.channels * data.height * data.width;
    s = (scores){.n = n, .Q = Q, .context = Tc};
    s.model = calloc((size_t)Q, sizeof *s.model);
    s.repeat = calloc((size_t)Q, sizeof *s.repeat);
    s.t = calloc((size_t)Q, sizeof *s.t);
    pred = malloc((size_t)n * Q * frame * sizeof *pred);
    if (!s.model || !s.repeat || !s.t || !pred) {
        ld_errf(&err, "out of memory for %d x %d predicted frames", n, Q);
        goto done;
    }
    if (ld_ladid_evaluate(&m, &data, s.model, pred, &err))
        goto done;
    for (int k = 0; k < Q; k++) {
        for (int i = 0; i < n; i++)
            s.repeat[k] += ld_nmse(ld_sequences_frame(&data, i, Tc - 1),
                                   ld_sequences_frame(&data, i, Tc + k), frame) / n;
        s.t[k] = data.times[Tc + k];
        s.mean_model += s.model[k] / Q;
        s.mean_repeat += s.repeat[k] / Q;
    }
    int json_to_stdout = a.json && !strcmp(a.json, "-");
    print_table(json_to_stdout ? stderr : stdout, &a, &s);
    if (json_to_stdout) {
        write_json(stdout, &a, &s);
    } else if (a.json) {
        ld_atomic_file f;
        if (ld_atomic_open(&f, a.json, &err))
            goto done;
        write_json(f.fp, &a, &s);
        if (ld_atomic_commit(&f, &err))
            goto done;
    }
    if (write_strip(a.strip, &data, pred, a.instance, Tc, Q, &err) ||
        write_plot(a.plot, &s, &err))
        goto done;
    fprintf(json_to_stdout ? stderr : stdout, "  strip: %s, plot: %s\n", a.strip, a.plot);
    status = 0;
done:
    if (status)
        fprintf(stderr, "latdyn eval: %s\n", err.msg);
    if (have_model)
        ld_ladid_free(&m);
    ld_sequences_free(&data);
    scores_free(&s);
    free(pred);
    return status;
}
