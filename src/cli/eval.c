/* `latdyn eval SYSTEM ...`: scores a method's outputs against ground truth.
 * One branch per system: `between` here, `ladid` (also reached as
 * `latdyn eval MODEL.safetensors FILE.h5`) in eval_ladid.c. For between: PSNR and
 * SSIM of every frame against the true frames, end-point error of every
 * stage's field against the true field, and their means over the
 * intermediate frames and the stages, as a table and as JSON. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/options.h"
#include "data/metrics.h"
#include "data/npy.h"
#include "engine/atomic_file.h"
#include "engine/json.h"

typedef struct eval_between_args {
    const char *truth_dir, *out_dir, *json;
    float out_scale; /* OUT frames are divided by this */
} eval_between_args;

static void eval_between_usage(FILE *out)
{
    fprintf(out,
        "usage: latdyn eval between TRUTH_DIR OUT_DIR [--json FILE|-] [--out-scale S]\n\n"
        "Scores the frames (and fields) a method wrote to OUT_DIR against the ground\n"
        "truth that `latdyn synth between` wrote to TRUTH_DIR:\n"
        "  PSNR (dB, data range 1) and SSIM (Gaussian window 11, sigma 1.5) of every\n"
        "  frame, end-point error (mean |v - v_true|, pixels per unit time) of every\n"
        "  stage's field, and their means over the intermediate frames 1..N-1 and the\n"
        "  stages 0..N-1. OUT_DIR/fields.npy is optional (no fields: EPE is n/a).\n\n"
        "The truth is in [0, 1]; OUT_DIR/frames.npy must be too, as it is when the\n"
        "method was given TRUTH_DIR/start.npy and end.npy.\n\n"
        "options:\n"
        "  --json FILE      also write the scores as JSON to FILE ('-': to stdout, and\n"
        "                   the table to stderr); JSON has no infinity: a PSNR of\n"
        "                   identical frames is null there, as is EPE without fields\n"
        "  --out-scale S    divide the OUT frames by S first (e.g. 65535 when the method\n"
        "                   was given the 16-bit start.png and end.png)\n");
}

/* Returns 1 for --help, 0 when parsed, -1 on error. */
static int parse_eval_between(int argc, char **argv, eval_between_args *a, ld_err *err)
{
    *a = (eval_between_args){.out_scale = 1.0f};
    const ld_option options[] = {
        LD_STRING("--json", &a->json),
        LD_FLOAT("--out-scale", &a->out_scale, 1e-30, 1e30),
    };
    const char **const positional[] = {&a->truth_dir, &a->out_dir};
    const ld_command_line cl = {"eval between", options, (int)(sizeof options / sizeof *options),
                                positional, 2, 2, "TRUTH_DIR and OUT_DIR"};
    return ld_parse_command_line(argc, argv, &cl, err);
}

/* Loads DIR/NAME; with `optional`, a missing file leaves a->data NULL. */
static int load_array(const char *dir, const char *name, int optional, ld_npy_array *a,
                      ld_err *err)
{
    char path[4096];
    memset(a, 0, sizeof *a);
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return ld_errf(err, "%s: path too long", dir);
    if (optional && access(path, F_OK) && errno == ENOENT)
        return 0;
    if (access(path, R_OK))
        return ld_errf(err, "%s: %s", path, strerror(errno));
    return ld_npy_read(path, a, err);
}

static void shape_text(const ld_npy_array *a, char *buf, size_t cap)
{
    int len = snprintf(buf, cap, "[");
    for (int d = 0; d < a->ndim && len < (int)cap; d++) {
        if (a->shape[d] < 0) /* any size */
            len += snprintf(buf + len, cap - (size_t)len, "%s*", d ? ", " : "");
        else
            len += snprintf(buf + len, cap - (size_t)len, "%s%d", d ? ", " : "", a->shape[d]);
    }
    if (len < (int)cap)
        snprintf(buf + len, cap - (size_t)len, "]");
}

/* Fails unless `a` has ndim 4 and, where want[d] >= 0, shape[d] = want[d]
 * (want[d] < 0: any size). */
static int check_shape(const ld_npy_array *a, const char *what, const int want[4], ld_err *err)
{
    char got[128], expected[128];
    int ok = a->ndim == 4;
    for (int d = 0; ok && d < 4; d++)
        ok = want[d] < 0 || a->shape[d] == want[d];
    if (ok)
        return 0;
    shape_text(a, got, sizeof got);
    ld_npy_array model = {.ndim = 4};
    memcpy(model.shape, want, 4 * sizeof *want);
    shape_text(&model, expected, sizeof expected);
    return ld_errf(err, "%s has shape %s, expected %s", what, got, expected);
}

typedef struct between_scores {
    int stages, channels, height, width, has_fields;
    double *psnr, *ssim; /* [N + 1] */
    double *epe;         /* [N], NULL without fields */
    double mean_psnr, mean_ssim, mean_epe;
} between_scores;

static int score_between(const eval_between_args *a, between_scores *s, ld_err *err)
{
    ld_npy_array tf = {0}, tv = {0}, of = {0}, ov = {0};
    int rc = -1;
    memset(s, 0, sizeof *s);
    if (load_array(a->truth_dir, "frames.npy", 0, &tf, err) ||
        load_array(a->truth_dir, "fields.npy", 0, &tv, err) ||
        load_array(a->out_dir, "frames.npy", 0, &of, err) ||
        load_array(a->out_dir, "fields.npy", 1, &ov, err))
        goto done;
    const int any[4] = {-1, -1, -1, -1};
    if (check_shape(&tf, "TRUTH_DIR/frames.npy", any, err))
        goto done;
    const int N = tf.shape[0] - 1, C = tf.shape[1], H = tf.shape[2], W = tf.shape[3];
    const int frame_shape[4] = {N + 1, C, H, W}, field_shape[4] = {N, 2, H, W};
    if (N < 1) {
        ld_errf(err, "TRUTH_DIR/frames.npy holds %d frame(s); at least 2 expected", N + 1);
        goto done;
    }
    if (check_shape(&tv, "TRUTH_DIR/fields.npy", field_shape, err) ||
        check_shape(&of, "OUT_DIR/frames.npy", frame_shape, err) ||
        (ov.data && check_shape(&ov, "OUT_DIR/fields.npy", field_shape, err)))
        goto done;
    float out_max = -INFINITY;
    for (size_t k = 0; k < of.numel; k++) {
        if (!isfinite(of.data[k])) {
            ld_errf(err, "OUT_DIR/frames.npy has a non-finite value at element %zu", k);
            goto done;
        }
        of.data[k] /= a->out_scale;
        out_max = fmaxf(out_max, of.data[k]);
    }
    if (out_max > 4.0f) { /* 8- or 16-bit units; a method may overshoot [0, 1] a little */
        ld_errf(err, "OUT_DIR/frames.npy holds values up to %g but the truth is in [0, 1]: give "
                     "the method TRUTH_DIR/start.npy and end.npy, or pass --out-scale",
                (double)out_max);
        goto done;
    }
    for (size_t k = 0; ov.data && k < ov.numel; k++)
        if (!isfinite(ov.data[k])) {
            ld_errf(err, "OUT_DIR/fields.npy has a non-finite value at element %zu", k);
            goto done;
        }
    *s = (between_scores){.stages = N, .channels = C, .height = H, .width = W,
                          .has_fields = ov.data != NULL};
    s->psnr = malloc((size_t)(N + 1) * sizeof *s->psnr);
    s->ssim = malloc((size_t)(N + 1) * sizeof *s->ssim);
    s->epe = malloc((size_t)N * sizeof *s->epe);
    if (!s->psnr || !s->ssim || !s->epe) {
        ld_errf(err, "out of memory");
        goto done;
    }
    const size_t image = (size_t)C * H * W, field = (size_t)2 * H * W;
    for (int n = 0; n <= N; n++) {
        s->psnr[n] = ld_psnr(of.data + n * image, tf.data + n * image, image, 1.0);
        if (ld_ssim(of.data + n * image, tf.data + n * image, C, H, W, 1.0, &s->ssim[n], err))
            goto done;
        if (n > 0 && n < N) {
            s->mean_psnr += s->psnr[n] / (N - 1);
            s->mean_ssim += s->ssim[n] / (N - 1);
        }
    }
    if (N == 1)
        s->mean_psnr = s->mean_ssim = NAN;
    s->mean_epe = NAN;
    if (s->has_fields) {
        s->mean_epe = 0;
        for (int n = 0; n < N; n++) {
            s->epe[n] = ld_epe(ov.data + n * field, tv.data + n * field, H, W);
            s->mean_epe += s->epe[n] / N;
        }
    }
    rc = 0;
done:
    ld_npy_free(&tf);
    ld_npy_free(&tv);
    ld_npy_free(&of);
    ld_npy_free(&ov);
    return rc;
}

static void scores_free(between_scores *s)
{
    free(s->psnr);
    free(s->ssim);
    free(s->epe);
}

static void write_scores_json(FILE *fp, const between_scores *s)
{
    const int N = s->stages;
    fprintf(fp, "{\n  \"system\": \"between\",\n  \"stages\": %d,\n  \"channels\": %d,\n"
                "  \"height\": %d,\n  \"width\": %d,\n  \"frames\": [",
            N, s->channels, s->height, s->width);
    for (int n = 0; n <= N; n++) {
        fprintf(fp, "%s\n    {\"n\": %d, \"t\": %.6g, \"end\": %s, \"psnr\": ", n ? "," : "", n,
                (double)n / N, n == 0 || n == N ? "true" : "false");
        ld_json_number(fp, "%.6g", s->psnr[n]);
        fputs(", \"ssim\": ", fp);
        ld_json_number(fp, "%.6g", s->ssim[n]);
        fputc('}', fp);
    }
    fputs("\n  ],\n  \"fields\": ", fp);
    if (s->has_fields) {
        fputc('[', fp);
        for (int n = 0; n < N; n++) {
            fprintf(fp, "%s\n    {\"stage\": %d, \"epe\": ", n ? "," : "", n);
            ld_json_number(fp, "%.6g", s->epe[n]);
            fputc('}', fp);
        }
        fputs("\n  ]", fp);
    } else {
        fputs("null", fp);
    }
    fputs(",\n  \"mean\": {\"psnr\": ", fp);
    ld_json_number(fp, "%.6g", s->mean_psnr);
    fputs(", \"ssim\": ", fp);
    ld_json_number(fp, "%.6g", s->mean_ssim);
    fputs(", \"epe\": ", fp);
    ld_json_number(fp, "%.6g", s->mean_epe);
    fputs("}\n}\n", fp);
}

static void print_scores_table(FILE *fp, const eval_between_args *a, const between_scores *s)
{
    const int N = s->stages;
    fprintf(fp, "between eval: %s against %s, %d stages, %d x %dx%d\n", a->out_dir, a->truth_dir,
            N, s->channels, s->width, s->height);
    fprintf(fp, "     n      t   PSNR dB    SSIM   EPE px (stage n)\n");
    for (int n = 0; n <= N; n++) {
        fprintf(fp, "  %c%3d  %5.3f  %8.2f  %6.4f", n == 0 || n == N ? '*' : ' ', n,
                (double)n / N, s->psnr[n], s->ssim[n]);
        if (s->has_fields && n < N)
            fprintf(fp, "   %8.3f\n", s->epe[n]);
        else
            fprintf(fp, "   %8s\n", n < N ? "n/a" : "");
    }
    fprintf(fp, "  mean over frames 1..%d: PSNR %.2f dB, SSIM %.4f; over stages 0..%d: EPE ",
            N - 1, s->mean_psnr, s->mean_ssim, N - 1);
    if (s->has_fields)
        fprintf(fp, "%.3f px\n", s->mean_epe);
    else
        fprintf(fp, "n/a (no OUT_DIR/fields.npy)\n");
    fprintf(fp, "  (* end frames: the method's inputs, not in the means)\n");
}

static int eval_between(int argc, char **argv)
{
    eval_between_args a;
    ld_err err = {{0}};
    between_scores s = {0};
    int rc = parse_eval_between(argc, argv, &a, &err);
    if (rc > 0) {
        eval_between_usage(stdout);
        return 0;
    }
    if (rc) {
        fprintf(stderr, "latdyn eval between: %s\n", err.msg);
        return 2;
    }
    if (score_between(&a, &s, &err))
        goto fail;
    int json_to_stdout = a.json && !strcmp(a.json, "-");
    print_scores_table(json_to_stdout ? stderr : stdout, &a, &s);
    if (json_to_stdout) {
        write_scores_json(stdout, &s);
    } else if (a.json) {
        ld_atomic_file f;
        if (ld_atomic_open(&f, a.json, &err))
            goto fail;
        write_scores_json(f.fp, &s);
        if (ld_atomic_commit(&f, &err))
            goto fail;
    }
    scores_free(&s);
    return 0;
fail:
    fprintf(stderr, "latdyn eval between: %s\n", err.msg);
    scores_free(&s);
    return 1;
}

/* The systems `eval` can score. */
static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} systems[] = {
    {"between", eval_between, "in-between frames and fields against synth between's truth"},
    {"ladid", ld_cmd_eval_ladid, "a fitted model's predictions of held-out trajectories (nMSE)"},
};
#define SYSTEM_COUNT (sizeof systems / sizeof systems[0])

static void eval_usage(FILE *out)
{
    fprintf(out, "usage: latdyn eval SYSTEM [options]   (latdyn eval SYSTEM --help)\n"
                 "       latdyn eval MODEL.safetensors FILE.h5 [options]   (= eval ladid)\n\n"
                 "systems:\n");
    for (size_t i = 0; i < SYSTEM_COUNT; i++)
        fprintf(out, "  %-10s %s\n", systems[i].name, systems[i].summary);
}

int ld_cmd_eval(int argc, char **argv)
{
    if (argc < 2) {
        eval_usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        eval_usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < SYSTEM_COUNT; i++)
        if (!strcmp(argv[1], systems[i].name))
            return systems[i].run(argc - 1, argv + 1);
    size_t len = strlen(argv[1]), ext = strlen(".safetensors");
    if (len > ext && !strcmp(argv[1] + len - ext, ".safetensors"))
        return ld_cmd_eval_ladid(argc, argv);
    fprintf(stderr, "latdyn eval: unknown system '%s' (between, ladid, or a MODEL.safetensors)\n",
            argv[1]);
    return 2;
}
