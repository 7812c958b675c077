/* `latdyn eval MODEL.safetensors FILE.h5` (or `latdyn eval ladid ...`):
 * scores a fitted LaDID model on held-out trajectories. From the first
 * CONTEXT frames of each trajectory it predicts the rest in one pass (at
 * each trajectory's own times, so irregular grids are scored as they are)
 * and reports the normalised MSE per predicted frame, |y - y_hat|^2 / |y|^2,
 * averaged over the trajectories (ladid.md), beside two baselines: the last
 * context frame repeated and (with --train) the mean training frame. With
 * --truth the predictions are scored at the times of a finer grid of the
 * same trajectories, frames between FILE's samples apart from those on its
 * grid. Writes a table and JSON, a PNG strip (truth row over prediction row)
 * and a PNG plot of the nMSE over the horizon. */
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
#include "engine/json.h"
#include "plot/canvas.h"
#include "plot/lineplot.h"

#define STRIP_MAX_FRAMES 16
#define STRIP_MIN_SIDE 48
#define STRIP_GAP 2

typedef struct eval_args {
    const char *model, *input, *json, *strip, *plot, *truth, *train;
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
        "and its mean over the horizon, beside repeating the last context frame (a\n"
        "frame whose truth is all zero counts |y - y_hat|^2 alone).\n"
        "Each trajectory is predicted at its own stored times (irregular grids too).\n"
        "FILE.h5 (and --train, --truth) need the datasets frames [n, L, C, S, S] and\n"
        "times [n, L]; params are not needed. Every output path is checked before\n"
        "any work.\n"
        "Writes a PNG strip of one trajectory (truth row over prediction row) and a\n"
        "PNG plot of the nMSE over the horizon.\n\n"
        "options:\n"
        "  --context N      context frames (default: the model's)\n"
        "  --train FILE.h5  also score the mean frame of FILE.h5 (the training data)\n"
        "                   as a prediction: the mean-training-frame baseline\n"
        "  --truth FINE.h5  the same trajectories on another time grid (e.g. FILE.h5\n"
        "                   has every second frame of FINE.h5): predict and score every\n"
        "                   frame of FINE.h5 after the last context time of FILE.h5,\n"
        "                   reporting frames on FILE.h5's grid and between its samples\n"
        "                   apart\n"
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
    const ld_option options[] = {
        LD_STRING("--json", &a->json),
        LD_STRING("--strip", &a->strip),
        LD_STRING("--plot", &a->plot),
        LD_STRING("--truth", &a->truth),
        LD_STRING("--train", &a->train),
        LD_INT("--context", &a->context, 1, 1000),
        LD_INT("--instance", &a->instance, 0, 100000000),
        LD_INT("--threads", &a->threads, 1, 4096),
    };
    const char **const positional[] = {&a->model, &a->input};
    const ld_command_line cl = {"eval ladid", options, (int)(sizeof options / sizeof *options),
                                positional, 2, 2, "MODEL.safetensors and FILE.h5"};
    return ld_parse_command_line(argc, argv, &cl, err);
}

/* The scores of one evaluation. Baselines: the last context frame repeated,
 * the mean training frame (with --train). With --truth each (trajectory,
 * frame) pair is also counted as on FILE's time grid or between samples. */
typedef struct scores {
    int n, Q, context, have_mean_frame, have_truth;
    int grids_differ;                    /* the trajectories' query times are not all t */
    double *model, *repeat, *mean_frame; /* [Q], averaged over the trajectories */
    double *t;                           /* [Q], times of the first trajectory's queries */
    int *between;                        /* [Q], first trajectory: 1 if between samples */
    double mean_model, mean_repeat, mean_mean_frame;
    double grid_sum, between_sum; /* with --truth: nMSE summed over pairs of each kind */
    int grid_count, between_count;
} scores;

static double ratio_or_nan(double sum, int count) { return count ? sum / count : NAN; }

static void write_json(FILE *fp, const eval_args *a, const scores *s)
{
    fputs("{\n  \"model\": ", fp);
    ld_json_string(fp, a->model);
    fputs(",\n  \"data\": ", fp);
    ld_json_string(fp, a->input);
    fprintf(fp, ",\n  \"context\": %d,\n  \"trajectories\": %d,\n  \"t_of\": \"%s\",\n"
                "  \"frames\": [", s->context, s->n,
            s->grids_differ ? "trajectory 0" : "every trajectory");
    for (int k = 0; k < s->Q; k++) {
        fprintf(fp, "%s\n    {\"k\": %d, \"t\": %.9g, \"nmse\": ", k ? "," : "", k + 1,
                s->t[k]);
        ld_json_number(fp, "%.6g", s->model[k]);
        fputs(", \"repeat_last\": ", fp);
        ld_json_number(fp, "%.6g", s->repeat[k]);
        if (s->have_mean_frame) {
            fputs(", \"mean_frame\": ", fp);
            ld_json_number(fp, "%.6g", s->mean_frame[k]);
        }
        if (s->have_truth)
            fprintf(fp, ", \"between_samples\": %s", s->between[k] ? "true" : "false");
        fputc('}', fp);
    }
    fputs("\n  ],\n  \"mean\": {\"nmse\": ", fp);
    ld_json_number(fp, "%.6g", s->mean_model);
    fputs(", \"repeat_last\": ", fp);
    ld_json_number(fp, "%.6g", s->mean_repeat);
    if (s->have_mean_frame) {
        fputs(", \"mean_frame\": ", fp);
        ld_json_number(fp, "%.6g", s->mean_mean_frame);
    }
    if (s->have_truth) /* null when a kind has no frame */
        for (int kind = 0; kind < 2; kind++) {
            fprintf(fp, ", \"%s\": ", kind ? "nmse_between_samples" : "nmse_on_grid");
            ld_json_number(fp, "%.6g", kind ? ratio_or_nan(s->between_sum, s->between_count)
                                             : ratio_or_nan(s->grid_sum, s->grid_count));
        }
    fputs("}\n}\n", fp);
}

static void print_table(FILE *fp, const eval_args *a, const scores *s)
{
    fprintf(fp, "ladid eval: %s on %s%s%s, %d trajectories, %d context frames\n", a->model,
            a->input, a->truth ? ", truth " : "", a->truth ? a->truth : "", s->n, s->context);
    fprintf(fp, "     k           t       nMSE  repeat-last%s%s\n",
            s->have_mean_frame ? "   mean-frame" : "", s->have_truth ? "  query" : "");
    for (int k = 0; k < s->Q; k++) {
        fprintf(fp, "  %4d  %10.4g  %9.5f    %9.5f", k + 1, s->t[k], s->model[k], s->repeat[k]);
        if (s->have_mean_frame)
            fprintf(fp, "    %9.5f", s->mean_frame[k]);
        if (s->have_truth)
            fprintf(fp, "  %s", s->between[k] ? "between" : "grid");
        fprintf(fp, "\n");
    }
    fprintf(fp, "  mean over %d predicted frames: nMSE %.5f (repeat-last-frame %.5f", s->Q,
            s->mean_model, s->mean_repeat);
    if (s->have_mean_frame)
        fprintf(fp, ", mean-training-frame %.5f", s->mean_mean_frame);
    fprintf(fp, ")\n");
    if (s->grids_differ)
        fprintf(fp, "  (t: trajectory 0's times; the other trajectories' grids differ)\n");
    if (s->have_truth)
        fprintf(fp, "  on the grid of %s: nMSE %.5f (%d frames); between its samples: nMSE "
                    "%.5f (%d frames)\n", a->input, ratio_or_nan(s->grid_sum, s->grid_count),
                s->grid_count, ratio_or_nan(s->between_sum, s->between_count),
                s->between_count);
}

/* Truth row over prediction row of trajectory i, frames evenly picked from
 * the horizon, each enlarged to at least STRIP_MIN_SIDE pixels; grey (the
 * first channel) unless the frames are RGB. */
static int encode_strip(const ld_sequences *d, const int *first, const float *pred, int i, int Q,
                        ld_bytes *png, ld_err *err)
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
        const float *rows[2] = {ld_sequences_frame(d, i, first[i] + k),
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
    int rc = ld_png_encode(px, height, width, ch, png, err);
    free(px);
    return rc ? -1 : 0;
}

/* The nMSE over the horizon, of the model and the baselines, as a PNG. */
static int encode_plot(const scores *s, ld_bytes *png, ld_err *err)
{
    const double *ys[3] = {s->model, s->repeat, s->mean_frame};
    const char *names[3] = {"model", "repeat last frame", "mean training frame"};
    int count = s->have_mean_frame ? 3 : 2, rc = -1;
    float *buf = malloc((size_t)(count + 1) * s->Q * sizeof *buf);
    if (!buf)
        return ld_errf(err, "out of memory");
    ld_line_series series[3];
    for (int k = 0; k < s->Q; k++)
        buf[k] = (float)(k + 1);
    for (int j = 0; j < count; j++) {
        float *y = buf + (size_t)(j + 1) * s->Q;
        for (int k = 0; k < s->Q; k++)
            y[k] = (float)ys[j][k];
        series[j] = (ld_line_series){buf, y, s->Q, names[j]};
    }
    ld_lineplot_options opt = {.title = "nMSE over the prediction horizon",
                               .x_label = "frames after the context", .y_label = "nMSE",
                               .log_y = 1};
    ld_canvas cv;
    if (!ld_lineplot_render(&cv, series, count, &opt, err)) {
        rc = ld_canvas_encode_png(&cv, png, err);
        ld_canvas_free(&cv);
    }
    free(buf);
    return rc;
}

/* The strip, the plot and (json_file) the JSON, written as one set: none
 * of them replaced unless all are whole. */
static int write_files(const eval_args *a, const scores *s, int json_file, const ld_bytes *strip,
                       const ld_bytes *plot, ld_err *err)
{
    const char *paths[3] = {a->strip, a->plot, a->json};
    const ld_bytes *bytes[3] = {strip, plot, NULL};
    ld_atomic_file files[3];
    int n = json_file ? 3 : 2;
    for (int i = 0; i < n; i++) {
        if (ld_atomic_open(&files[i], paths[i], err)) {
            for (int k = 0; k < i; k++)
                ld_atomic_abort(&files[k]);
            return -1;
        }
        if (bytes[i])
            fwrite(bytes[i]->data, 1, bytes[i]->len, files[i].fp);
        else
            write_json(files[i].fp, a, s);
    }
    return ld_atomic_commit_all(files, n, err);
}

static void scores_free(scores *s)
{
    free(s->model);
    free(s->repeat);
    free(s->mean_frame);
    free(s->t);
    free(s->between);
}

/* The mean of every frame of the file at path (the mean-training-frame
 * baseline), which must have frames the size of `like`'s. */
static float *mean_frame_of(const char *path, const ld_sequences *like, ld_err *err)
{
    ld_sequences train = {0};
    if (ld_sequences_read_h5(path, &train, err))
        return NULL;
    size_t frame = (size_t)like->channels * like->height * like->width;
    size_t count = (size_t)train.n * train.length;
    float *mean = NULL;
    if (train.channels != like->channels || train.height != like->height ||
        train.width != like->width) {
        ld_errf(err, "--train %s: frames %dx%dx%d, not those of the data (%dx%dx%d)", path,
                train.channels, train.height, train.width, like->channels, like->height,
                like->width);
    } else if (!(mean = malloc(frame * sizeof *mean))) {
        ld_errf(err, "out of memory");
    } else {
        for (size_t p = 0; p < frame; p++) {
            double sum = 0;
            for (size_t f = 0; f < count; f++)
                sum += train.frames[f * frame + p];
            mean[p] = (float)(sum / (double)count);
        }
    }
    ld_sequences_free(&train);
    return mean;
}

/* first[i] = the index in truth of trajectory i's first frame after the
 * last context time of data's trajectory i. Every trajectory must leave the
 * same number of such frames: returns it, or -1 with an error. */
static int query_frames(const ld_sequences *data, const ld_sequences *truth, int Tc, int *first,
                        ld_err *err)
{
    int Q = -1;
    for (int i = 0; i < data->n; i++) {
        double last = data->times[(size_t)i * data->length + Tc - 1];
        const double *t = truth->times + (size_t)i * truth->length;
        int j = 0;
        while (j < truth->length && t[j] <= last)
            j++;
        first[i] = j;
        if (i == 0)
            Q = truth->length - j;
        if (truth->length - j != Q || Q < 1) {
            ld_errf(err, "trajectory %d leaves %d frames to predict after the %d context frames "
                         "(trajectory 0: %d); every trajectory needs the same number, at least 1",
                    i, truth->length - j, Tc, Q);
            return -1;
        }
    }
    return Q;
}

/* A millionth of the mean sample spacing of data's trajectory i: times
 * closer than this are the same sample. */
static double same_time(const ld_sequences *data, int i)
{
    const double *ts = data->times + (size_t)i * data->length;
    return 1e-6 * (ts[data->length - 1] - ts[0]) / (data->length - 1);
}

/* 1 when time t lies between the samples of data's trajectory i, 0 when it
 * is one of them. */
static int between_samples(const ld_sequences *data, int i, double t)
{
    const double *ts = data->times + (size_t)i * data->length;
    double tol = same_time(data, i);
    for (int j = 0; j < data->length; j++)
        if (fabs(ts[j] - t) <= tol)
            return 0;
    return 1;
}

/* --truth must hold data's trajectories: its times span data's, and at
 * every time the two share their frames agree (nMSE under 1e-4, room for
 * a file stored at lower precision). */
static int check_truth(const ld_sequences *data, const ld_sequences *truth, const char *data_path,
                       const char *truth_path, ld_err *err)
{
    size_t frame = (size_t)data->channels * data->height * data->width;
    for (int i = 0; i < data->n; i++) {
        const double *td = data->times + (size_t)i * data->length,
                     *tt = truth->times + (size_t)i * truth->length;
        double tol = same_time(data, i);
        if (tt[0] > td[0] + tol || tt[truth->length - 1] < td[data->length - 1] - tol)
            return ld_errf(err, "--truth %s: trajectory %d runs from t = %g to %g, %s's from %g "
                                "to %g; the truth must cover it",
                           truth_path, i, tt[0], tt[truth->length - 1], data_path, td[0],
                           td[data->length - 1]);
        for (int j = 0, k = 0; j < data->length; j++) {
            while (k < truth->length && tt[k] < td[j] - tol)
                k++;
            if (k == truth->length || fabs(tt[k] - td[j]) > tol)
                continue;
            double e = ld_nmse(ld_sequences_frame(data, i, j), ld_sequences_frame(truth, i, k),
                               frame);
            if (!(e <= 1e-4))
                return ld_errf(err, "--truth %s: trajectory %d at t = %g is not %s's frame there "
                                    "(nMSE %.3g): not the same trajectories",
                               truth_path, i, td[j], data_path, e);
        }
    }
    return 0;
}

int ld_cmd_eval_ladid(int argc, char **argv)
{
    eval_args a;
    ld_err err = {{0}};
    ld_sequences data = {0}, fine = {0};
    const ld_sequences *truth = &data;
    ld_ladid_config cfg;
    ld_ladid_model m;
    scores s = {0};
    float *pred = NULL, *mean = NULL;
    double *tq = NULL;
    int *first = NULL;
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
    const char *const inputs[] = {a.model, a.input, a.truth ? a.truth : "",
                                  a.train ? a.train : "", NULL};
    if ((a.json && strcmp(a.json, "-") && ld_fit_check_output(a.json, inputs, &err)) ||
        ld_fit_check_output(a.strip, inputs, &err) || ld_fit_check_output(a.plot, inputs, &err))
        goto done;
    if (ld_ladid_read_config(a.model, &cfg, &err) || ld_ladid_create(&m, &cfg, &err))
        goto done;
    have_model = 1;
    if (ld_ladid_load_weights(&m, a.model, &err) || ld_sequences_read_h5(a.input, &data, &err))
        goto done;
    if (a.truth) {
        if (ld_sequences_read_h5(a.truth, &fine, &err))
            goto done;
        if (fine.n != data.n || fine.channels != data.channels || fine.height != data.height ||
            fine.width != data.width) {
            ld_errf(&err, "--truth %s: %d trajectories of %dx%dx%d frames, not the %d of "
                          "%dx%dx%d of %s", a.truth, fine.n, fine.channels, fine.height,
                    fine.width, data.n, data.channels, data.height, data.width, a.input);
            goto done;
        }
        if (check_truth(&data, &fine, a.input, a.truth, &err))
            goto done;
        truth = &fine;
    }
    if (a.context > 0)
        m.cfg.context = a.context;
    int Tc = m.cfg.context, n = data.n;
    if (a.instance >= n) {
        ld_errf(&err, "--instance %d: %s holds %d trajectories", a.instance, a.input, n);
        goto done;
    }
    if (data.length < Tc) {
        ld_errf(&err, "%s has trajectories of %d frames, fewer than the %d context frames",
                a.input, data.length, Tc);
        goto done;
    }
    if (!(first = malloc((size_t)n * sizeof *first))) {
        ld_errf(&err, "out of memory");
        goto done;
    }
    int Q = query_frames(&data, truth, Tc, first, &err);
    if (Q < 0)
        goto done;
    size_t frame = (size_t)data.channels * data.height * data.width;
    s = (scores){.n = n, .Q = Q, .context = Tc, .have_truth = a.truth != NULL,
                 .have_mean_frame = a.train != NULL};
    s.model = calloc((size_t)Q, sizeof *s.model);
    s.repeat = calloc((size_t)Q, sizeof *s.repeat);
    s.mean_frame = calloc((size_t)Q, sizeof *s.mean_frame);
    s.t = calloc((size_t)Q, sizeof *s.t);
    s.between = calloc((size_t)Q, sizeof *s.between);
    tq = malloc((size_t)n * Q * sizeof *tq);
    pred = malloc((size_t)n * Q * frame * sizeof *pred);
    if (!s.model || !s.repeat || !s.mean_frame || !s.t || !s.between || !tq || !pred) {
        ld_errf(&err, "out of memory for %d x %d predicted frames", n, Q);
        goto done;
    }
    for (int i = 0; i < n; i++)
        memcpy(tq + (size_t)i * Q, truth->times + (size_t)i * truth->length + first[i],
               (size_t)Q * sizeof *tq);
    if (ld_ladid_predict_set(&m, &data, tq, (size_t)Q, Q, pred, &err) ||
        (a.train && !(mean = mean_frame_of(a.train, &data, &err))))
        goto done;
    for (int k = 0; k < Q; k++) {
        for (int i = 0; i < n; i++) {
            const float *y = ld_sequences_frame(truth, i, first[i] + k);
            double e = ld_nmse(pred + ((size_t)i * Q + k) * frame, y, frame);
            s.model[k] += e / n;
            s.repeat[k] += ld_nmse(ld_sequences_frame(&data, i, Tc - 1), y, frame) / n;
            if (mean)
                s.mean_frame[k] += ld_nmse(mean, y, frame) / n;
            if (a.truth) {
                int between = between_samples(&data, i, tq[(size_t)i * Q + k]);
                if (between) {
                    s.between_sum += e;
                    s.between_count++;
                } else {
                    s.grid_sum += e;
                    s.grid_count++;
                }
                if (i == 0)
                    s.between[k] = between;
            }
        }
        s.t[k] = tq[k];
        for (int i = 1; i < n; i++)
            s.grids_differ |= tq[(size_t)i * Q + k] != tq[k];
        s.mean_model += s.model[k] / Q;
        s.mean_repeat += s.repeat[k] / Q;
        s.mean_mean_frame += s.mean_frame[k] / Q;
    }
    int json_to_stdout = a.json && !strcmp(a.json, "-");
    print_table(json_to_stdout ? stderr : stdout, &a, &s);
    if (json_to_stdout)
        write_json(stdout, &a, &s);
    ld_bytes strip_png = {0}, plot_png = {0};
    int written = encode_strip(truth, first, pred, a.instance, Q, &strip_png, &err) == 0 &&
                  encode_plot(&s, &plot_png, &err) == 0 &&
                  write_files(&a, &s, a.json && !json_to_stdout, &strip_png, &plot_png, &err) == 0;
    ld_bytes_free(&strip_png);
    ld_bytes_free(&plot_png);
    if (!written)
        goto done;
    fprintf(json_to_stdout ? stderr : stdout, "  strip: %s, plot: %s\n", a.strip, a.plot);
    status = 0;
done:
    if (status)
        fprintf(stderr, "latdyn eval: %s\n", err.msg);
    if (have_model)
        ld_ladid_free(&m);
    ld_sequences_free(&data);
    ld_sequences_free(&fine);
    scores_free(&s);
    free(pred);
    free(mean);
    free(tq);
    free(first);
    return status;
}
