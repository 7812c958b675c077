/* Tests of the `latdyn` program's error paths: every bad input gives one
 * clear line on stderr, a non-zero exit status, and no output folder; and
 * one tiny synth -> between -> eval round trip checked through its JSON.
 * The binary built beside the tests is run as a child process. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/image.h"
#include "data/npy.h"
#include "data/sequences.h"
#include "engine/backend.h"
#include "models/between.h"
#include "ops/conv.h"
#include "test.h"

/* Runs latdyn with args; returns the exit status and the first stderr line. */
static int run_latdyn(const char *args, char *first_line, size_t len)
{
    char cmd[4096];
    const char *err_path = test_scratch("stderr.txt");
    if (snprintf(cmd, sizeof cmd, "'%s' %s >/dev/null 2>'%s'", LD_BIN, args, err_path) >=
        (int)sizeof cmd) {
        TEST_FAIL("command too long: %s", args);
        return 128;
    }
    int status = system(cmd);
    first_line[0] = 0;
    FILE *f = fopen(err_path, "r");
    if (f) {
        if (!fgets(first_line, (int)len, f))
            first_line[0] = 0;
        fclose(f);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void write_image(const char *name, int h, int w, float value_nan_at)
{
    float *data = malloc(sizeof(float) * (size_t)h * w);
    for (int i = 0; i < h * w; i++)
        data[i] = (float)(i % 7) / 7.0f;
    if (value_nan_at >= 0)
        data[(int)value_nan_at] = NAN;
    int shape[2] = {h, w};
    ld_err err;
    CHECK(ld_npy_write(test_scratch(name), data, 2, shape, &err) == 0, "write %s: %s", name, err.msg);
    free(data);
}

/* Expects failure with `needle` in the message and no output folder. */
static void expect_error(const char *what, const char *args, const char *needle)
{
    char line[1024], full[1600];
    snprintf(full, sizeof full, "%s -o '%s' --quiet", args, test_scratch("out"));
    int rc = run_latdyn(full, line, sizeof line);
    struct stat st;
    CHECK(rc != 0, "%s: exit status %d, expected failure", what, rc);
    CHECK(strstr(line, needle) != NULL, "%s: message '%s' lacks '%s'", what, line, needle);
    CHECK(strncmp(line, "latdyn", 6) == 0, "%s: message names the program: '%s'", what, line);
    CHECK(stat(test_scratch("out"), &st) != 0, "%s: the output folder must not be created", what);
}

/* 1 when the program is built (it is not when only run_tests was made). */
static int have_binary(void)
{
    if (access(LD_BIN, X_OK) == 0)
        return 1;
    test_skip(LD_BIN " is not built (make builds it)");
    return 0;
}

/* A scratch folder with two 32x32 images a.npy and b.npy; 0 (skipped)
 * without the binary. */
static int small_pair(void)
{
    if (!have_binary())
        return 0;
    test_scratch_make("cli");
    write_image("a.npy", 32, 32, -1);
    write_image("b.npy", 32, 32, -1);
    return 1;
}

static void test_between_bad_inputs(void)
{
    if (!have_binary())
        return;
    test_scratch_make("cli");
    write_image("a.npy", 48, 48, -1);
    write_image("b.npy", 48, 48, -1);
    write_image("small.npy", 40, 56, -1);
    write_image("tiny.npy", 16, 16, -1);
    write_image("tiny2.npy", 16, 16, -1);
    write_image("nan.npy", 48, 48, 100);
    FILE *f = fopen(test_scratch("text.png"), "w");
    if (f) {
        fputs("not an image\n", f);
        fclose(f);
    }
    char args[1200];
    snprintf(args, sizeof args, "between '%s' '%s'", test_scratch("missing.png"), test_scratch("b.npy"));
    expect_error("missing file", args, "missing.png");
    snprintf(args, sizeof args, "between '%s' '%s'", test_scratch("text.png"), test_scratch("b.npy"));
    expect_error("unreadable file", args, "text.png");
    snprintf(args, sizeof args, "between '%s' '%s'", test_scratch("a.npy"), test_scratch("small.npy"));
    expect_error("different sizes", args, "differ in size");
    snprintf(args, sizeof args, "between '%s' '%s'", test_scratch("tiny.npy"), test_scratch("tiny2.npy"));
    expect_error("smaller than the patch", args, "smaller than the patch");
    snprintf(args, sizeof args, "between '%s' '%s' --patch 20", test_scratch("a.npy"), test_scratch("b.npy"));
    expect_error("patch not a multiple of 8", args, "multiple of 8");
    snprintf(args, sizeof args, "between '%s' '%s'", test_scratch("nan.npy"), test_scratch("b.npy"));
    expect_error("NaN pixel", args, "NaN");
    snprintf(args, sizeof args, "between '%s' '%s' --method flow --resume m.safetensors",
             test_scratch("a.npy"), test_scratch("b.npy"));
    expect_error("--resume with a baseline", args, "--method flow learns nothing");
    snprintf(args, sizeof args, "between '%s' '%s' --preset paper --resume m.safetensors",
             test_scratch("a.npy"), test_scratch("b.npy"));
    expect_error("--preset with --resume", args, "leave --preset out");
    char empty_out[1200], line[1024];
    snprintf(empty_out, sizeof empty_out, "between '%s' '%s' -o ''", test_scratch("a.npy"),
             test_scratch("b.npy"));
    CHECK(run_latdyn(empty_out, line, sizeof line) == 2 && strstr(line, "name is empty"),
          "-o '': %s", line);
    /* the same pattern as an 8-bit and a 16-bit PNG, and as 8-bit codes beside floats */
    ld_image codes;
    ld_err err = {{0}};
    CHECK(ld_image_alloc(&codes, 1, 48, 48, &err) == 0, "%s", err.msg);
    for (int i = 0; i < 48 * 48; i++)
        codes.data[i] = (float)(i % 7) / 7.0f;
    CHECK(ld_image_save_png(test_scratch("a8.png"), &codes, 8, 0, 1, &err) == 0 &&
              ld_image_save_png(test_scratch("b16.png"), &codes, 16, 0, 1, &err) == 0,
          "write PNGs: %s", err.msg);
    ld_image_free(&codes);
    snprintf(args, sizeof args, "between '%s' '%s'", test_scratch("a8.png"), test_scratch("b16.png"));
    expect_error("8-bit and 16-bit samples", args,
                 "a8.png holds 8-bit integer samples and ");
    snprintf(args, sizeof args, "between '%s' '%s'", test_scratch("a8.png"), test_scratch("b.npy"));
    expect_error("integer and float samples", args,
                 "b.npy floating-point (or 32/64-bit integer) ones: their values are on "
                 "different scales");
    snprintf(args, sizeof args, "between '%s' '%s' --steps abc", test_scratch("a.npy"), test_scratch("b.npy"));
    expect_error("non-numeric option", args, "not an integer");
    snprintf(args, sizeof args, "between '%s' '%s' --lr fast", test_scratch("a.npy"), test_scratch("b.npy"));
    expect_error("non-numeric float option", args, "not a finite number");
    snprintf(args, sizeof args, "between '%s' '%s' --lr-decay 1.5", test_scratch("a.npy"), test_scratch("b.npy"));
    expect_error("learning-rate decay above 1", args, "--lr-decay: 1.5 is outside");
    snprintf(args, sizeof args, "between '%s' '%s' --blend sometimes", test_scratch("a.npy"),
             test_scratch("b.npy"));
    expect_error("unknown blend", args, "'sometimes' is not one of no, yes, valid");
    snprintf(args, sizeof args, "between '%s' '%s' --precision fp64", test_scratch("a.npy"),
             test_scratch("b.npy"));
    expect_error("unknown precision", args, "'fp64' is not one of f32, bf16");
    snprintf(args, sizeof args, "between '%s' '%s' --mask-outside yes", test_scratch("a.npy"),
             test_scratch("b.npy"));
    expect_error("unknown mask mode", args, "'yes' is not one of no, all, image");
    snprintf(args, sizeof args, "between '%s' '%s' --mask-outside image --method image",
             test_scratch("a.npy"), test_scratch("b.npy"));
    expect_error("image term's mask without an image term", args, "which this run does not have");
    snprintf(args, sizeof args, "between '%s' '%s' --mask-outside image --preset paper",
             test_scratch("a.npy"), test_scratch("b.npy"));
    expect_error("image term's mask, paper preset", args, "its --w-image is 0");
    snprintf(args, sizeof args, "between '%s' '%s' --image-error absolute --preset paper",
             test_scratch("a.npy"), test_scratch("b.npy"));
    expect_error("image term's error, paper preset", args, "this run's --w-image is 0");
    snprintf(args, sizeof args, "between '%s' '%s' --method image --image-error squared",
             test_scratch("a.npy"), test_scratch("b.npy"));
    expect_error("image term's error with the image method", args,
                 "--image-error acts on the encoder and decoder");
    snprintf(args, sizeof args, "between '%s' '%s' --image-error cubed", test_scratch("a.npy"),
             test_scratch("b.npy"));
    expect_error("unknown image error", args, "'cubed' is not one of squared, absolute");
    snprintf(args, sizeof args, "between '%s' '%s' --method image --shrink 0.5",
             test_scratch("a.npy"), test_scratch("b.npy"));
    expect_error("a decoder option with the image method", args,
                 "--shrink acts on the encoder and decoder, which --method image does not have");
    snprintf(args, sizeof args, "between '%s' '%s' --method image --decoder-width 8",
             test_scratch("a.npy"), test_scratch("b.npy"));
    expect_error("the decoder's width with the image method", args, "--decoder-width acts on");
    snprintf(args, sizeof args, "between '%s' '%s' --method magic", test_scratch("a.npy"), test_scratch("b.npy"));
    expect_error("unknown method", args, "--method");
    snprintf(args, sizeof args, "between '%s'", test_scratch("a.npy"));
    expect_error("one image only", args, "two input images");
    test_scratch_remove();
}

/* Runs latdyn with `args` as given; expects failure with `needle` in the
 * first stderr line and, when `out` is not NULL, no file or folder `out`. */
static void expect_failure(const char *what, const char *args, const char *needle,
                           const char *out)
{
    char line[1024];
    int rc = run_latdyn(args, line, sizeof line);
    struct stat st;
    CHECK(rc != 0, "%s: exit status %d, expected failure", what, rc);
    CHECK(strstr(line, needle) != NULL, "%s: message '%s' lacks '%s'", what, line, needle);
    CHECK(strncmp(line, "latdyn", 6) == 0, "%s: message names the program: '%s'", what, line);
    CHECK(!out || stat(out, &st) != 0, "%s: %s must not be created", what, out);
}

/* Runs latdyn with `args`; fails the test unless it succeeds. */
static int expect_success(const char *what, const char *args)
{
    char line[1024];
    int rc = run_latdyn(args, line, sizeof line);
    CHECK(rc == 0, "%s: exit status %d: %s", what, rc, line);
    return rc == 0;
}

/* The whole of a small text file (NUL-terminated, malloc'ed), or NULL. */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = calloc(1, 1 << 16);
    size_t n = text ? fread(text, 1, (1 << 16) - 1, f) : 0;
    fclose(f);
    if (text)
        text[n] = 0;
    return text;
}

/* The number after `key` following the first `anchor` in `json`; NAN
 * when absent or null. */
static double json_number_after(const char *json, const char *anchor, const char *key)
{
    const char *p = strstr(json, anchor);
    p = p ? strstr(p, key) : NULL;
    if (!p)
        return NAN;
    p += strlen(key);
    char *end;
    double v = strtod(p, &end);
    return end == p ? NAN : v;
}

static void test_synth_eval_bad_inputs(void)
{
    if (!have_binary())
        return;
    test_scratch_make("cli");
    char args[2400], out[512], truth[512], bad[512];
    snprintf(out, sizeof out, "%s", test_scratch("out"));
    snprintf(truth, sizeof truth, "%s", test_scratch("truth"));
    snprintf(bad, sizeof bad, "%s", test_scratch("bad"));
    snprintf(args, sizeof args, "synth between --scenario spin -o '%s'", out);
    expect_failure("unknown scenario", args, "unknown scenario 'spin'", out);
    snprintf(args, sizeof args, "synth between --scenario lead --size 8 -o '%s'", out);
    expect_failure("size below 16", args, "--size", out);
    snprintf(args, sizeof args, "synth between --scenario lead --stages abc -o '%s'", out);
    expect_failure("non-numeric stages", args, "not an integer", out);
    snprintf(args, sizeof args, "synth between --scenario lead --magnitude -1 -o '%s'", out);
    expect_failure("negative magnitude", args, "--magnitude", out);
    snprintf(args, sizeof args, "synth between -o '%s'", out);
    expect_failure("no scenario", args, "--scenario is required", out);
    expect_failure("no output folder", "synth between --scenario shear", "-o DIR is required",
                   NULL);
    snprintf(args, sizeof args, "synth between --scenario rotate --texture '%s' -o '%s'",
             test_scratch("missing.png"), out);
    expect_failure("missing texture", args, "missing.png", out);
    expect_failure("unknown system", "synth galaxy", "unknown system", NULL);

    /* A truth folder to score against, and outputs that do not fit it. */
    snprintf(args, sizeof args, "synth between --scenario shear --size 16 --stages 2 -o '%s'",
             truth);
    if (!expect_success("synth", args)) {
        test_scratch_remove();
        return;
    }
    /* The baselines need no patch: a 16 x 16 pair is fine for them. */
    snprintf(args, sizeof args,
             "between '%s/start.npy' '%s/end.npy' -o '%s' --method crossfade --stages 2 --quiet",
             truth, truth, out);
    expect_success("crossfade on 16x16", args);
    snprintf(args, sizeof args, "eval between '%s' '%s'", truth, out);
    expect_success("eval on 16x16", args);
    snprintf(args, sizeof args, "eval between '%s' '%s'", truth, test_scratch("nowhere"));
    expect_failure("missing OUT_DIR", args, "nowhere/frames.npy", NULL);
    snprintf(args, sizeof args, "eval between '%s'", truth);
    expect_failure("one folder only", args, "TRUTH_DIR and OUT_DIR are required", NULL);
    ld_err err;
    float *data = calloc(4 * 2 * 16 * 16, sizeof *data);
    const int wrong_frames[4] = {4, 1, 16, 16}, wrong_size[4] = {3, 1, 16, 8},
              frames_shape[4] = {3, 1, 16, 16}, wrong_fields[4] = {2, 1, 16, 16};
    mkdir(bad, 0777);
    char path[600];
    snprintf(path, sizeof path, "%s/frames.npy", bad);
    CHECK(ld_npy_write(path, data, 4, wrong_frames, &err) == 0, "write: %s", err.msg);
    snprintf(args, sizeof args, "eval between '%s' '%s'", truth, bad);
    expect_failure("too many frames", args, "has shape [4, 1, 16, 16], expected [3, 1, 16, 16]",
                   NULL);
    CHECK(ld_npy_write(path, data, 4, wrong_size, &err) == 0, "write: %s", err.msg);
    expect_failure("frames of another size", args, "expected [3, 1, 16, 16]", NULL);
    CHECK(ld_npy_write(path, data, 4, frames_shape, &err) == 0, "write: %s", err.msg);
    snprintf(path, sizeof path, "%s/fields.npy", bad);
    CHECK(ld_npy_write(path, data, 4, wrong_fields, &err) == 0, "write: %s", err.msg);
    expect_failure("fields of another shape", args, "OUT_DIR/fields.npy has shape", NULL);
    remove(path);
    snprintf(path, sizeof path, "%s/frames.npy", bad);
    data[5] = 200;
    CHECK(ld_npy_write(path, data, 4, frames_shape, &err) == 0, "write: %s", err.msg);
    expect_failure("frames in 0..255", args, "--out-scale", NULL);
    data[5] = NAN;
    CHECK(ld_npy_write(path, data, 4, frames_shape, &err) == 0, "write: %s", err.msg);
    expect_failure("NaN frame", args, "non-finite", NULL);
    snprintf(args, sizeof args, "eval between '%s' '%s' --out-scale 0", truth, bad);
    expect_failure("zero scale", args, "--out-scale", NULL);
    free(data);
    test_scratch_remove();
}

/* synth a 32x32 scene with 2 stages, run the crossfade, ot and flow
 * baselines on its end frames, score them with eval --json. */
static void test_synth_between_eval_round_trip(void)
{
    if (!have_binary())
        return;
    test_scratch_make("cli");
    char args[2400], path[600], truth[512];
    snprintf(truth, sizeof truth, "%s", test_scratch("truth"));
    snprintf(args, sizeof args,
             "synth between --scenario translate --size 32 --stages 2 --seed 3 -o '%s'", truth);
    if (!expect_success("synth", args)) {
        test_scratch_remove();
        return;
    }
    ld_npy_array a;
    ld_err err;
    snprintf(path, sizeof path, "%s/frames.npy", truth);
    if (ld_npy_read(path, &a, &err) == 0) {
        CHECK(a.ndim == 4 && a.shape[0] == 3 && a.shape[1] == 1 && a.shape[2] == 32 &&
                  a.shape[3] == 32, "frames.npy shape");
        ld_npy_free(&a);
    } else {
        TEST_FAIL("%s", err.msg);
    }
    snprintf(path, sizeof path, "%s/fields.npy", truth);
    if (ld_npy_read(path, &a, &err) == 0) {
        /* translate: u = 0.1875 S (0.5 + t) (cos 30, sin 30) at t = 0.25. */
        CHECK(a.ndim == 4 && a.shape[0] == 2 && a.shape[1] == 2 && a.numel == 2 * 2 * 32 * 32 &&
                  fabsf(a.data[0] - 4.5f * 0.8660254f) < 1e-4f &&
                  fabsf(a.data[32 * 32] - 2.25f) < 1e-4f,
              "fields.npy: [%d, %d, ...], stage 0 velocity (%g, %g)", a.shape[0], a.shape[1],
              (double)a.data[0], (double)a.data[32 * 32]);
        ld_npy_free(&a);
    } else {
        TEST_FAIL("%s", err.msg);
    }
    static const char *const methods[] = {"crossfade", "ot", "flow"};
    double psnr[3] = {NAN, NAN, NAN};
    for (int m = 0; m < 3; m++) {
        char dir[64], json_path[600], out[512];
        snprintf(dir, sizeof dir, "out_%s", methods[m]);
        snprintf(out, sizeof out, "%s", test_scratch(dir));
        snprintf(args, sizeof args,
                 "between '%s/start.npy' '%s/end.npy' -o '%s' --method %s --stages 2 --quiet",
                 truth, truth, out, methods[m]);
        if (!expect_success(methods[m], args))
            continue;
        snprintf(json_path, sizeof json_path, "%s/scores.json", out);
        snprintf(args, sizeof args, "eval between '%s' '%s' --json '%s'", truth, out, json_path);
        if (!expect_success("eval", args))
            continue;
        char *json = read_text(json_path);
        CHECK(json != NULL, "%s: no %s", methods[m], json_path);
        if (!json)
            continue;
        CHECK(strstr(json, "\"system\": \"between\"") && strstr(json, "\"stages\": 2") &&
                  strstr(json, "\"height\": 32") && strstr(json, "\"frames\": [") &&
                  strstr(json, "\"mean\": {"),
              "%s: keys missing from %s", methods[m], json);
        /* The end frames are the inputs: infinite PSNR, written as null. */
        CHECK(strstr(json, "{\"n\": 0, \"t\": 0, \"end\": true, \"psnr\": null, \"ssim\": 1}") &&
                  strstr(json, "{\"n\": 2, \"t\": 1, \"end\": true, \"psnr\": null"),
              "%s: end frames in %s", methods[m], json);
        /* the report checks the fields of the method that has them */
        size_t len;
        snprintf(json_path, sizeof json_path, "%s/report.html", out);
        char *page = (char *)test_read_bytes(json_path, &len);
        CHECK(page && (m < 2) == !strstr(page, "<p id=\"field-check\">Field check"),
              "%s: the report's field check %s", methods[m], m < 2 ? "is there" : "is missing");
        free(page);
        psnr[m] = json_number_after(json, "\"mean\"", "\"psnr\": ");
        double frame1 = json_number_after(json, "{\"n\": 1,", "\"psnr\": ");
        double epe = json_number_after(json, "\"mean\"", "\"epe\": ");
        CHECK(isfinite(psnr[m]) && psnr[m] > 10 && psnr[m] < 60 && psnr[m] == frame1,
              "%s: mean PSNR %g, frame 1 %g", methods[m], psnr[m], frame1);
        if (m < 2)
            CHECK(strstr(json, "\"fields\": null") && isnan(epe), "%s: no fields, no EPE",
                  methods[m]);
        else
            CHECK(strstr(json, "{\"stage\": 1, \"epe\": ") && epe > 0 && epe < 3,
                  "flow: mean EPE %g px", epe);
        free(json);
    }
    CHECK(psnr[2] > psnr[0] + 3, "flow (%.2f dB) must beat the cross-fade (%.2f dB)", psnr[2],
          psnr[0]);
    test_scratch_remove();
}

/* The training options given on the command line are the ones the model
 * was trained with: they are in its checkpoint's config. Resuming that
 * checkpoint with options that change its networks or its method, or
 * resuming a damaged copy, fails before any output folder is made. */
static void test_between_options_reach_the_model(void)
{
    if (!small_pair())
        return;
    char args[1600];
    snprintf(args, sizeof args, "between '%s' '%s' --lr-decay-every 0", test_scratch("a.npy"),
             test_scratch("b.npy"));
    expect_error("decay period 0", args, "--lr-decay-every");
    snprintf(args, sizeof args, "between '%s' '%s' --infer-stride 40", test_scratch("a.npy"),
             test_scratch("b.npy"));
    expect_error("inference stride above the patch", args, "strides must be in 1..patch");
    snprintf(args, sizeof args, "between '%s' '%s' --infer-stride 8 --tiles", test_scratch("a.npy"),
             test_scratch("b.npy"));
    expect_error("inference stride and tiles", args, "give one");
    snprintf(args, sizeof args,
             "between '%s' '%s' -o '%s' --steps 2 --batch 2 --lr-decay 0.25 --lr-decay-every 7 "
             "--w-time 0.5 --width 12 --decoder-width 4 --infer-stride 24 --mask-outside all "
             "--quiet",
             test_scratch("a.npy"), test_scratch("b.npy"), test_scratch("run"));
    ld_between_config cfg;
    ld_err err;
    if (expect_success("two-step run", args)) {
        CHECK(ld_between_read_config(test_scratch("run/model.safetensors"), &cfg, &err) == 0,
              "read config: %s", err.msg);
        CHECK(cfg.steps == 2 && cfg.batch == 2 && cfg.lr_decay == 0.25f &&
                  cfg.lr_decay_every == 7 && cfg.w_time == 0.5f && cfg.infer_stride == 24 &&
                  cfg.mask_outside == LD_MASK_ALL,
              "config: steps %d, batch %d, decay %g every %d, w_time %g, inference stride %d, "
              "mask_outside %d", cfg.steps, cfg.batch, (double)cfg.lr_decay, cfg.lr_decay_every,
              (double)cfg.w_time, cfg.infer_stride, cfg.mask_outside);
        CHECK(cfg.unet_widths[0] == 12 && cfg.unet_widths[3] == 96 &&
                  cfg.decoder_widths[0] == 4 && cfg.decoder_widths[3] == 32,
              "widths: field network %d..%d, decoder %d..%d", cfg.unet_widths[0],
              cfg.unet_widths[3], cfg.decoder_widths[0], cfg.decoder_widths[3]);
        /* the report names the enumerated settings (the checkpoint stores numbers) */
        size_t len = 0;
        char *page = (char *)test_read_bytes(test_scratch("run/report.html"), &len);
        CHECK(page && strstr(page, "<th>method</th><td>latent</td>") &&
                  strstr(page, "<th>blend</th><td>valid</td>") &&
                  strstr(page, "<th>field_input</th><td>pair</td>") &&
                  strstr(page, "<th>carry_error</th><td>yes</td>") &&
                  strstr(page, "<th>mask_outside</th><td>all</td>") &&
                  strstr(page, "<th>precision</th><td>f32</td>"),
              "report shows method, blend, field input, carried error, mask and precision by name");
        free(page);
        /* resuming it with other networks fails before any output */
        snprintf(args, sizeof args, "between '%s' '%s' --steps 4 --resume '%s' --width 8",
                 test_scratch("a.npy"), test_scratch("b.npy"),
                 test_scratch("run/model.safetensors"));
        expect_error("resumed with another width", args, "changes its networks: give ");
        snprintf(args, sizeof args, "between '%s' '%s' --steps 4 --resume '%s' --stages 3",
                 test_scratch("a.npy"), test_scratch("b.npy"),
                 test_scratch("run/model.safetensors"));
        expect_error("resumed with other stages", args, "--stages 3 changes its networks");
        snprintf(args, sizeof args, "between '%s' '%s' --steps 4 --resume '%s' --field-input i0",
                 test_scratch("a.npy"), test_scratch("b.npy"),
                 test_scratch("run/model.safetensors"));
        expect_error("resumed with the other field input", args,
                     "was trained with --field-input pair");
        snprintf(args, sizeof args, "between '%s' '%s' --steps 4 --resume '%s' --method image",
                 test_scratch("a.npy"), test_scratch("b.npy"),
                 test_scratch("run/model.safetensors"));
        expect_error("a latent model resumed as an image one", args, "--method latent");
        size_t n = 0; /* a damaged checkpoint: header intact, data cut */
        unsigned char *bytes = test_read_bytes(test_scratch("run/model.safetensors"), &n);
        const char *cut = test_scratch("cut.safetensors");
        CHECK(bytes && n > 100, "checkpoint read back");
        if (bytes && n > 100 && test_write_bytes(cut, bytes, n - 100) == 0) {
            snprintf(args, sizeof args, "between '%s' '%s' --steps 4 --resume '%s'",
                     test_scratch("a.npy"), test_scratch("b.npy"), cut);
            expect_error("a damaged checkpoint resumed", args, "truncated");
        }
        free(bytes);
    }
    test_scratch_remove();
}

/* synth between into a folder that holds an earlier scene with more stages:
 * its frame PNGs beyond N go with it (frames.npy says how many it had). */
static void test_synth_between_rerun(void)
{
    if (!have_binary())
        return;
    test_scratch_make("cli");
    char args[600], frame[400];
    for (int stages = 4; stages >= 2; stages -= 2) {
        snprintf(args, sizeof args,
                 "synth between --scenario shear --size 16 --stages %d -o '%s' --quiet", stages,
                 test_scratch("truth"));
        expect_success("synth between", args);
    }
    struct stat st;
    snprintf(frame, sizeof frame, "%s", test_scratch("truth/frames/frame_002.png"));
    CHECK(stat(frame, &st) == 0, "frame 2 of 2 written");
    snprintf(frame, sizeof frame, "%s", test_scratch("truth/frames/frame_003.png"));
    CHECK(stat(frame, &st) != 0, "the earlier scene's frame 3 removed");
    test_scratch_remove();
}

/* A texture image smaller than the area the motion draws from is
 * enlarged, and synth says so on stderr (not with --quiet); one large
 * enough is only cropped, without a word. */
static void test_synth_between_texture_note(void)
{
    if (!have_binary())
        return;
    test_scratch_make("cli");
    write_image("small_texture.npy", 24, 24, -1);
    write_image("large_texture.npy", 96, 96, -1);
    char args[900], line[1024];
    snprintf(args, sizeof args, "synth between --scenario translate --size 32 --stages 2 "
             "--texture '%s' -o '%s'", test_scratch("small_texture.npy"), test_scratch("a"));
    int rc = run_latdyn(args, line, sizeof line);
    CHECK(rc == 0 && strstr(line, "small_texture.npy (24x24) is smaller than the ") &&
              strstr(line, "enlarged"),
          "exit status %d, stderr '%s'", rc, line);
    snprintf(args, sizeof args, "synth between --scenario translate --size 32 --stages 2 "
             "--texture '%s' -o '%s'", test_scratch("large_texture.npy"), test_scratch("b"));
    rc = run_latdyn(args, line, sizeof line);
    CHECK(rc == 0 && line[0] == 0, "large texture: exit status %d, stderr '%s'", rc, line);
    snprintf(args, sizeof args, "synth between --scenario translate --size 32 --stages 2 "
             "--texture '%s' -o '%s' --quiet", test_scratch("small_texture.npy"),
             test_scratch("c"));
    rc = run_latdyn(args, line, sizeof line);
    CHECK(rc == 0 && line[0] == 0, "--quiet: exit status %d, stderr '%s'", rc, line);
    test_scratch_remove();
}

/* Runs `latdyn ARGS`, sends it SIGTERM once a line starting with `ready`
 * is on its stderr, and returns its exit status; *log gets its stderr
 * (malloc'ed, or NULL). */
static int run_until_stopped(const char *args, const char *ready, char **log)
{
    char script[2400], err_path[300], status_path[300];
    snprintf(err_path, sizeof err_path, "%s", test_scratch("err.txt"));
    snprintf(status_path, sizeof status_path, "%s", test_scratch("status.txt"));
    snprintf(script, sizeof script,
             "'%s' %s 2>'%s' & p=$!; i=0; "
             "while ! grep -q '^%s' '%s' && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; "
             "kill -TERM $p; wait $p; echo $? >'%s'",
             LD_BIN, args, err_path, ready, err_path, status_path);
    CHECK(system(script) == 0, "the script ran");
    char *status = read_text(status_path);
    int rc = status ? atoi(status) : -1;
    free(status);
    *log = read_text(err_path);
    return rc;
}

/* 1 when the rows of a log.csv are steps first..last, one each, in order,
 * and their wall times do not go back. */
static int log_steps_run(const char *csv, long long first, long long last)
{
    long long want = first;
    double wall_before = 0;
    for (const char *row = strchr(csv, '\n'); row && row[1]; row = strchr(row + 1, '\n')) {
        const char *end = strchr(row + 1, '\n'), *wall = row + 1;
        for (const char *c = row + 1; end && c < end; c++)
            if (*c == ',')
                wall = c + 1;
        if (atoll(row + 1) != want++ || atof(wall) < wall_before)
            return 0;
        wall_before = atof(wall);
    }
    return want == last + 1;
}

/* SIGTERM while training: the run saves its checkpoint and its log so far
 * and ends with status 143 and a message saying how to continue (a
 * process the signal killed would also give 143, but neither the message
 * nor the checkpoint); the run resumed from that checkpoint finishes with
 * every output, its log.csv holding every step of both runs.
 * (SIGTERM: a script's background job ignores SIGINT, and so does the
 * program then.) */
static void test_between_stopped_by_signal(void)
{
    if (!small_pair())
        return;
    char pair[1100], args[1600], *log;
    snprintf(pair, sizeof pair, "'%s' '%s' -o '%s'", test_scratch("a.npy"), test_scratch("b.npy"),
             test_scratch("run"));
    snprintf(args, sizeof args, "between %s --steps 100000 --batch 2 --width 8", pair);
    int status = run_until_stopped(args, "step ", &log);
    CHECK(status == 143, "exit status %d, want 143 (128 + SIGTERM)", status);
    const char *lead = "latdyn between: stopped by SIGTERM at step ";
    const char *msg = log ? strstr(log, lead) : NULL;
    long long step = msg ? atoll(msg + strlen(lead)) : 0;
    CHECK(msg && step >= 1 && strstr(msg, "--resume") && strstr(msg, "run/model.safetensors"),
          "message names the step and how to continue: %s", msg ? msg : "(none)");
    struct stat st;
    CHECK(stat(test_scratch("run/model.safetensors"), &st) == 0 &&
              stat(test_scratch("run/frames.npy"), &st) != 0,
          "the checkpoint is saved, no frames yet");
    char *stopped_csv = read_text(test_scratch("run/log.csv"));
    CHECK(stopped_csv && log_steps_run(stopped_csv, 1, step),
          "the stopped run's log.csv holds steps 1..%lld", step);
    if (step >= 1) {
        snprintf(args, sizeof args, "between %s --steps %lld --resume '%s' --quiet", pair,
                 step + 2, test_scratch("run/model.safetensors"));
        if (expect_success("resumed run", args)) {
            char *csv = read_text(test_scratch("run/log.csv"));
            CHECK(csv && log_steps_run(csv, 1, step + 2) && stopped_csv &&
                      !strncmp(csv, stopped_csv, strlen(stopped_csv)),
                  "log.csv keeps the stopped run's rows and goes on to step %lld", step + 2);
            CHECK(stat(test_scratch("run/frames.npy"), &st) == 0, "the resumed run wrote frames");
            free(csv);
        }
    }
    free(stopped_csv);
    free(log);
    test_scratch_remove();
}

/* Outputs that fail to write after training (a file of the user's named
 * `fields` where the fields' folder goes) leave the trained model, none of
 * the outputs, and a message saying how to write them without training
 * again; that --resume then writes them. */
static void test_between_failed_write_keeps_model(void)
{
    if (!small_pair())
        return;
    char run[400], args[1600], line[1024];
    snprintf(run, sizeof run, "%s", test_scratch("run"));
    CHECK(mkdir(run, 0777) == 0, "cannot make %s", run);
    FILE *f = fopen(test_scratch("run/fields"), "w");
    if (f)
        fclose(f);
    snprintf(args, sizeof args, "between '%s' '%s' -o '%s' --steps 2 --batch 2 --width 8 --quiet",
             test_scratch("a.npy"), test_scratch("b.npy"), run);
    int rc = run_latdyn(args, line, sizeof line);
    struct stat st;
    CHECK(rc == 1 && strstr(line, "the folder's earlier outputs are unchanged; the trained "
                                  "model is in ") && strstr(line, "--resume it"),
          "exit status %d, message %s", rc, line);
    CHECK(stat(test_scratch("run/model.safetensors"), &st) == 0 &&
              stat(test_scratch("run/frames.npy"), &st) != 0 &&
              stat(test_scratch("run/frames"), &st) != 0,
          "the model kept, no outputs");
    unlink(test_scratch("run/fields"));
    snprintf(args, sizeof args,
             "between '%s' '%s' -o '%s' --steps 2 --resume '%s/model.safetensors' --quiet",
             test_scratch("a.npy"), test_scratch("b.npy"), run, run);
    if (expect_success("resumed to write the outputs", args))
        CHECK(stat(test_scratch("run/frames.npy"), &st) == 0 &&
                  stat(test_scratch("run/report.html"), &st) == 0,
              "the resumed run wrote the outputs");
    test_scratch_remove();
}

/* The same for `latdyn fit`, whose checkpoints are whole epochs: stopped in
 * its second epoch, it names the first epoch's checkpoint, which resumes. */
static void test_fit_stopped_by_signal(void)
{
    if (!have_binary())
        return;
    test_scratch_make("cli");
    char args[1600], data[300], last[300], *log;
    snprintf(data, sizeof data, "%s", test_scratch("p.h5"));
    snprintf(last, sizeof last, "%s", test_scratch("m.last.safetensors"));
    snprintf(args, sizeof args, "synth pendulum --n 8 --len 8 --size 16 -o '%s' --quiet", data);
    if (!expect_success("synth pendulum", args)) {
        test_scratch_remove();
        return;
    }
    snprintf(args, sizeof args,
             "fit '%s' -o '%s' --preset small --context 4 --epochs 100000 --curriculum 100000",
             data, test_scratch("m.safetensors"));
    int status = run_until_stopped(args, "epoch 1/", &log);
    CHECK(status == 143, "exit status %d, want 143 (128 + SIGTERM)", status);
    const char *lead = "latdyn fit: stopped by SIGTERM during epoch ";
    const char *msg = log ? strstr(log, lead) : NULL;
    int epoch = msg ? atoi(msg + strlen(lead)) : 0;
    char want[800];
    snprintf(want, sizeof want, "%s holds the state after epoch %d: continue with --resume %s",
             last, epoch - 1, last);
    CHECK(msg && epoch >= 2 && strstr(msg, want), "message names the checkpoint: %s",
          msg ? msg : "(none)");
    snprintf(args, sizeof args, "fit '%s' -o '%s' --resume '%s' --epochs %d --quiet", data,
             test_scratch("m.safetensors"), last, epoch);
    expect_success("resumed fit", args);
    free(log);
    test_scratch_remove();
}

/* The README's main job, `latdyn demo`, at a tiny size: every step runs,
 * the outputs it names exist, its summary line gives both scores as
 * eval's JSON files hold them, and the latent run tells its field check. */
static void test_demo(void)
{
    if (!have_binary())
        return;
    test_scratch_make("cli");
    char dir[300], script[1200];
    snprintf(dir, sizeof dir, "%s", test_scratch("demo"));
    snprintf(script, sizeof script, "cd '%s' && '%s' demo -o demo --size 32 --steps 2 --quiet "
             ">stdout.txt 2>stderr.txt", test_scratch_dir, LD_BIN);
    int status = system(script);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "demo exit status %d", status);
    /* values a later step would refuse are refused first, nothing written */
    static const char *const refused[][2] = {{"--size 24", "--size: 24 is outside 32.."},
                                             {"--threads 0", "--threads: 0 is outside 1.."},
                                             {"--stages 65", "--stages: 65 is outside 1..64"}};
    for (size_t k = 0; k < sizeof refused / sizeof refused[0]; k++) {
        char args[300], line[512];
        struct stat gone;
        snprintf(args, sizeof args, "demo -o '%s' %s --quiet", test_scratch("refused"),
                 refused[k][0]);
        int rc = run_latdyn(args, line, sizeof line);
        CHECK(rc == 2 && strstr(line, refused[k][1]) && stat(test_scratch("refused"), &gone) != 0,
              "demo %s: exit status %d, '%s', or a folder made", refused[k][0], rc, line);
    }
    char *out = read_text(test_scratch("stdout.txt"));
    char *latent_json = read_text(test_scratch("demo/eval.json"));
    char *floor_json = read_text(test_scratch("demo/eval_crossfade.json"));
    double latent = NAN, floor = NAN;
    const char *line = out ? strstr(out, "mean PSNR: latent ") : NULL;
    CHECK(line && sscanf(line, "mean PSNR: latent %lf dB, cross-fade %lf dB", &latent, &floor) == 2,
          "summary line with both scores: %s", out ? out : "(no output)");
    double want_latent = latent_json ? json_number_after(latent_json, "\"mean\"", "\"psnr\": ") : NAN;
    double want_floor = floor_json ? json_number_after(floor_json, "\"mean\"", "\"psnr\": ") : NAN;
    CHECK(fabs(latent - want_latent) < 0.006 && fabs(floor - want_floor) < 0.006,
          "scores %.2f / %.2f dB, eval's JSON %.4f / %.4f", latent, floor, want_latent, want_floor);
    char report[400];
    snprintf(report, sizeof report, "%s/between/report.html", dir);
    struct stat st;
    CHECK(stat(report, &st) == 0 && out && strstr(out, "demo/between/report.html"),
          "the report it names exists");
    double check_psnr = NAN, still = NAN;
    line = out ? strstr(out, "between: Field check") : NULL;
    line = line ? strstr(line, "matches it to ") : NULL;
    CHECK(line && sscanf(line, "matches it to %lf dB PSNR, against %lf dB", &check_psnr,
                         &still) == 2 && isfinite(check_psnr) && isfinite(still),
          "the latent run's field check line: %s", out ? out : "(no output)");
    free(out);
    free(latent_json);
    free(floor_json);
    test_scratch_remove();
}

/* --precision bf16 trains and infers where the CPU has hardware bfloat16
 * (the report says so; its frames are the float32 run's to bfloat16's
 * precision), and fails before any output where it has not. */
static void test_between_bf16(void)
{
    if (!small_pair())
        return;
    char args[1600];
    const char *common = "--steps 2 --batch 2 --width 8 --quiet";
    snprintf(args, sizeof args, "between '%s' '%s' -o '%s' %s --precision bf16",
             test_scratch("a.npy"), test_scratch("b.npy"), test_scratch("bf16"), common);
    if (!ld_backend_cpu()->conv->has_bf16()) {
        expect_failure("bf16 without hardware bfloat16", args,
                       "--precision bf16 needs a CPU that multiplies bfloat16 on AMX",
                       test_scratch("bf16"));
        test_scratch_remove();
        return;
    }
    int ok = expect_success("bf16 run", args);
    snprintf(args, sizeof args, "between '%s' '%s' -o '%s' %s", test_scratch("a.npy"),
             test_scratch("b.npy"), test_scratch("f32"), common);
    if (ok && expect_success("f32 run", args)) {
        size_t len = 0;
        char *page = (char *)test_read_bytes(test_scratch("bf16/report.html"), &len);
        CHECK(page && strstr(page, "<th>precision</th><td>bf16</td>"), "report shows bf16");
        free(page);
        ld_npy_array lo, hi;
        ld_err err;
        if (ld_npy_read(test_scratch("bf16/frames.npy"), &lo, &err) == 0) {
            if (ld_npy_read(test_scratch("f32/frames.npy"), &hi, &err) == 0) {
                double worst = lo.numel == hi.numel ? 0 : INFINITY;
                for (size_t i = 0; i < lo.numel && i < hi.numel; i++)
                    worst = fmax(worst, isfinite(lo.data[i]) ? fabs(lo.data[i] - hi.data[i])
                                                             : INFINITY);
                /* write_image's values span about [0, 1] */
                CHECK(worst > 0 && worst < 0.05, "bf16 frames differ from f32 ones by up to %g "
                      "(want > 0: rounded; < 0.05)", worst);
                ld_npy_free(&hi);
            } else {
                TEST_FAIL("%s", err.msg);
            }
            ld_npy_free(&lo);
        } else {
            TEST_FAIL("%s", err.msg);
        }
    }
    test_scratch_remove();
}

static void test_help_and_unknown_command(void)
{
    if (!have_binary())
        return;
    test_scratch_make("cli");
    char line[1024];
    CHECK(run_latdyn("--help", line, sizeof line) == 0, "--help succeeds");
    CHECK(run_latdyn("between --help", line, sizeof line) == 0, "between --help succeeds");
    CHECK(run_latdyn("frobnicate", line, sizeof line) == 2 && strstr(line, "unknown command"),
          "unknown command: '%s'", line);
    test_scratch_remove();
}

/* The ladid systems: bad options fail clearly before any work, a good run
 * writes a readable HDF5 file. */
static void test_synth_systems(void)
{
    if (!have_binary())
        return;
    test_scratch_make("cli");
    expect_error("unknown system", "synth lorenz", "unknown system 'lorenz'");
    expect_error("size not a multiple of 16", "synth pendulum --size 40", "multiple of 16");
    expect_error("size too small", "synth vortex --size 8", "outside 16..");
    expect_error("negative count", "synth vortex --n -3", "--n: -3 is outside");
    expect_error("one frame", "synth reaction-diffusion --len 1", "--len: 1 is outside");
    expect_error("zero time step", "synth reaction-diffusion --dt 0", "--dt: 0 is outside");
    expect_error("reversed Reynolds range", "synth vortex --re-min 600 --re-max 200",
                 "Reynolds range");
    expect_error("pendulum too long", "synth pendulum --length 2", "--length: 2 is outside");
    expect_error("empty angle range", "synth pendulum --theta-min 1 --theta-max 0",
                 "initial angle range");
    expect_error("option of another system", "synth pendulum --re-min 100", "unknown option");
    expect_error("non-numeric size", "synth pendulum --size big", "not an integer");
    char line[1024], args[1200];
    snprintf(args, sizeof args, "synth pendulum --n 2 --len 3 --size 16 -o '%s' --quiet",
             test_scratch("no_such_dir/p.h5"));
    CHECK(run_latdyn(args, line, sizeof line) != 0 && strstr(line, "cannot write"),
          "unwritable output: '%s'", line);
    CHECK(run_latdyn("synth vortex --help", line, sizeof line) == 0, "synth vortex --help");
    const char *out = test_scratch("p.h5");
    snprintf(args, sizeof args,
             "synth pendulum --n 3 --len 5 --size 16 --irregular --seed 7 --damping 0.5 "
             "-o '%s' --quiet",
             out);
    CHECK(run_latdyn(args, line, sizeof line) == 0, "synth pendulum: '%s'", line);
    ld_sequences s;
    ld_err err;
    if (ld_sequences_read_h5(out, &s, &err) == 0) {
        CHECK(s.n == 3 && s.length == 5 && s.channels == 1 && s.height == 16 &&
                  !strcmp(s.system, "pendulum") && s.n_params == 4,
              "file contents");
        int irregular = 0, damping = 0;
        for (int a = 0; a < s.n_attrs; a++) {
            irregular |= !strcmp(s.attr_keys[a], "irregular") && !strcmp(s.attr_values[a], "1");
            damping |= !strcmp(s.attr_keys[a], "damping") && !strcmp(s.attr_values[a], "0.5");
        }
        CHECK(irregular && damping, "settings stored as attributes");
        CHECK(fabs(s.times[4] - 0.4) < 1e-12 && fabs(s.times[1] - 0.1) > 1e-6,
              "irregular grid spanning 4 dt");
        ld_sequences_free(&s);
    } else {
        TEST_FAIL("read back: %s", err.msg);
    }
    test_scratch_remove();
}

LD_TEST_SUITE(cli) = {
    {"between_bad_inputs", test_between_bad_inputs},
    {"synth_eval_bad_inputs", test_synth_eval_bad_inputs},
    {"synth_between_eval_round_trip", test_synth_between_eval_round_trip},
    {"synth_systems", test_synth_systems},
    {"between_options_reach_the_model", test_between_options_reach_the_model},
    {"demo", test_demo},
    {"synth_between_rerun", test_synth_between_rerun},
    {"synth_between_texture_note", test_synth_between_texture_note},
    {"between_stopped_by_signal", test_between_stopped_by_signal},
    {"between_failed_write_keeps_model", test_between_failed_write_keeps_model},
    {"fit_stopped_by_signal", test_fit_stopped_by_signal},
    {"between_bf16", test_between_bf16},
    {"help_and_unknown_command", test_help_and_unknown_command},
    {NULL, NULL},
};
