/* Tests of the synthetic generator of `between` (synth_between.h): frames
 * obey the prescribed motion (warping frame n back along stage n's true
 * field gives frame n+1, away from the borders and from new features),
 * fields have the documented units and x-first order, the lead opens a
 * dark crack, the source adds brightness where its term is, values stay in
 * [0, 1], the output depends on the seed only, a texture image smaller than
 * the canvas is enlarged and says by how much, and bad configurations fail
 * with a message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/image.h"
#include "data/interp.h"
#include "data/synth_between.h"
#include "test.h"

#define S 48
#define N 4
#define PLANE ((size_t)S * S)

typedef struct synth_run {
    ld_synth_motion motion;
    float *frames, *fields; /* [N+1, C, S, S], [N, 2, S, S] */
    int channels;
} synth_run;

/* A smooth texture (waves of period >= 17 px) large enough that it is not
 * scaled: bilinear resampling of it is accurate to ~1e-3, so the warp
 * checks below can be tight. */
static void smooth_texture(ld_image *tex)
{
    ld_err err;
    CHECK(ld_image_alloc(tex, 1, 200, 200, &err) == 0, "alloc: %s", err.msg);
    for (int i = 0; i < 200; i++)
        for (int j = 0; j < 200; j++)
            tex->data[i * 200 + j] = (float)(0.5 + 0.2 * sin(2 * M_PI * j / 17.0 + 0.3) *
                                                       cos(2 * M_PI * i / 23.0) +
                                             0.15 * sin(2 * M_PI * (j + 0.7 * i) / 29.0));
}

static ld_synth_between_config config(ld_synth_scenario s, float magnitude, uint64_t seed)
{
    return (ld_synth_between_config){
        .scenario = s, .stages = N, .size = S, .magnitude = magnitude, .seed = seed};
}

/* Runs the generator; frames and fields are NULL on failure. */
static synth_run generate(const ld_synth_between_config *cfg, const ld_image *tex)
{
    synth_run r = {.channels = ld_synth_between_channels(tex)};
    ld_err err;
    r.frames = malloc((size_t)(cfg->stages + 1) * r.channels * cfg->size * cfg->size * sizeof(float));
    r.fields = malloc((size_t)cfg->stages * 2 * cfg->size * cfg->size * sizeof(float));
    int ok = ld_synth_motion_init(&r.motion, cfg, &err) == 0;
    CHECK(ok, "motion init: %s", ok ? "" : err.msg);
    ok = ok && ld_synth_between(cfg, tex, r.frames, r.fields, NULL, &err) == 0;
    CHECK(ok, "synth %s: %s", ld_synth_scenario_name(cfg->scenario), ok ? "" : err.msg);
    if (!ok) {
        free(r.frames);
        free(r.fields);
        r.frames = r.fields = NULL;
    }
    return r;
}

static void run_free(synth_run *r)
{
    free(r->frames);
    free(r->fields);
}

static const float *frame(const synth_run *r, int n) { return r->frames + (size_t)n * PLANE; }

/* Semi-Lagrangian check of stage n (the step of between.md): frame n+1 at
 * x against frame n at x - dt v^n(x) (plus, for the source scenario, dt
 * times the source term at the middle of that path). Pixels whose sample
 * point is not at least 1 px inside the frame (content entering), or that
 * touch open water (the lead's new feature), are left out. Returns the RMS
 * error and, in *still_rms, that of frame n+1 against frame n unwarped;
 * *count gets the number of pixels compared. */
static double warp_error(const synth_run *r, int n, double *still_rms, int *count)
{
    const ld_synth_motion *m = &r->motion;
    const float *a = frame(r, n), *b = frame(r, n + 1);
    const float *vx = r->fields + (size_t)n * 2 * PLANE, *vy = vx + PLANE;
    const double dt = 1.0 / N, tm = (n + 0.5) / N;
    double se = 0, still = 0;
    int k = 0;
    for (int i = 0; i < S; i++)
        for (int j = 0; j < S; j++) {
            size_t p = (size_t)i * S + j;
            double x = j - dt * vx[p], y = i - dt * vy[p];
            if (x < 1 || y < 1 || x > S - 2 || y > S - 2)
                continue;
            if (m->cfg.scenario == LD_SYNTH_LEAD || m->cfg.scenario == LD_SYNTH_DRIFT) {
                int x0 = (int)x, y0 = (int)y, wet = ld_synth_is_open_water(m, j, i, tm) ||
                                                    ld_synth_is_open_water(m, j, i, tm + dt / 2);
                for (int q = 0; q < 4; q++)
                    wet |= a[(size_t)(y0 + q / 2) * S + x0 + q % 2] < 0.25f;
                if (wet || b[p] < 0.25f)
                    continue;
            }
            double want = ld_bilinear_clamped(a, S, S, (float)x, (float)y) +
                          dt * ld_synth_source(m, j - 0.5 * dt * vx[p], i - 0.5 * dt * vy[p], tm);
            se += (b[p] - want) * (b[p] - want);
            still += ((double)b[p] - a[p]) * ((double)b[p] - a[p]);
            k++;
        }
    *count = k;
    *still_rms = k ? sqrt(still / k) : 0;
    return k ? sqrt(se / k) : INFINITY;
}

/* Every scenario: each stage's true field carries frame n onto frame n+1
 * to 0.015 RMS (values in [0, 1]; measured <= 0.009, the one-step
 * semi-Lagrangian error of the rotation) where the motion is visible, on
 * a smooth texture, and at least 5 times better than not moving at all. */
static void test_frames_obey_the_motion(void)
{
    ld_image tex;
    smooth_texture(&tex);
    for (int s = 0; s < LD_SYNTH_SCENARIO_COUNT; s++) {
        ld_synth_between_config cfg = config((ld_synth_scenario)s, 1.0f, 3);
        synth_run r = generate(&cfg, &tex);
        if (!r.frames)
            continue;
        for (int n = 0; n < N; n++) {
            double still;
            int count;
            double rms = warp_error(&r, n, &still, &count);
            CHECK(count > (int)PLANE / 3, "%s stage %d: only %d pixels compared",
                  ld_synth_scenario_name(cfg.scenario), n, count);
            CHECK(rms < 0.015 && rms < 0.2 * still,
                  "%s stage %d: warped frame %d differs from frame %d by %.4f RMS (unwarped %.4f)",
                  ld_synth_scenario_name(cfg.scenario), n, n, n + 1, rms, still);
        }
        run_free(&r);
    }
    ld_image_free(&tex);
}

/* Translate on the procedural texture: frame n+1 is frame n shifted by the
 * known displacement D(t_{n+1}) - D(t_n), D(t) = 0.1875 S (0.5 t + 0.5 t^2)
 * (cos 30, sin 30); the known shift explains the change far better than
 * no shift or the opposite shift (the noise texture has detail at 1 px, so
 * bilinear resampling of a frame is not exact). */
static void test_translate_shift(void)
{
    ld_synth_between_config cfg = config(LD_SYNTH_TRANSLATE, 1.0f, 5);
    synth_run r = generate(&cfg, NULL);
    if (!r.frames)
        return;
    for (int n = 0; n < N; n++) {
        double t0 = (double)n / N, t1 = (n + 1.0) / N;
        double d = 0.1875 * S * ((0.5 * t1 + 0.5 * t1 * t1) - (0.5 * t0 + 0.5 * t0 * t0));
        double dx = d * cos(M_PI / 6), dy = d * sin(M_PI / 6), err[2] = {0, 0};
        int k = 0;
        for (int i = 4; i < S - 4; i++)
            for (int j = 4; j < S - 4; j++) {
                float got = frame(&r, n + 1)[i * S + j];
                for (int sign = 0; sign < 2; sign++) {
                    double e = got - ld_bilinear_clamped(frame(&r, n), S, S,
                                                         (float)(j - (sign ? -dx : dx)),
                                                         (float)(i - (sign ? -dy : dy)));
                    err[sign] += e * e;
                }
                k++;
            }
        double rms = sqrt(err[0] / k), wrong = sqrt(err[1] / k);
        CHECK(rms < 0.05 && rms < 0.25 * wrong,
              "translate stage %d: shift by (%.3f, %.3f) leaves %.4f RMS (opposite shift %.4f)",
              n, dx, dy, rms, wrong);
    }
    run_free(&r);
}

/* Fields: stage n is u(x, t_n + dt/2) in pixels per unit time, x first.
 * translate: the constant 0.1875 S (0.5 + t) (cos 30, sin 30); shear: x
 * component 0.25 (y - c), y component 0; rotate: rate 20 deg (0.5 + t)
 * about the centre; ld_synth_velocity agrees with the stored field. */
static void test_field_units_and_order(void)
{
    const double c = 0.5 * (S - 1), deg = M_PI / 180;
    for (int s = LD_SYNTH_TRANSLATE; s <= LD_SYNTH_ROTATE + 1; s++) {
        ld_synth_between_config cfg = config((ld_synth_scenario)s, 1.0f, 2);
        synth_run r = generate(&cfg, NULL);
        if (!r.frames)
            continue;
        double worst = 0;
        for (int n = 0; n < N; n++) {
            double t = (n + 0.5) / N;
            const float *vx = r.fields + (size_t)n * 2 * PLANE, *vy = vx + PLANE;
            for (int i = 0; i < S; i++)
                for (int j = 0; j < S; j++) {
                    double wx, wy, ux, uy;
                    if (s == LD_SYNTH_TRANSLATE) {
                        wx = 0.1875 * S * (0.5 + t) * cos(30 * deg);
                        wy = 0.1875 * S * (0.5 + t) * sin(30 * deg);
                    } else if (s == LD_SYNTH_ROTATE) {
                        wx = -20 * deg * (0.5 + t) * (i - c);
                        wy = 20 * deg * (0.5 + t) * (j - c);
                    } else {
                        wx = 0.25 * (i - c);
                        wy = 0;
                    }
                    ld_synth_velocity(&r.motion, j, i, t, &ux, &uy);
                    size_t p = (size_t)i * S + j;
                    worst = fmax(worst, fmax(fabs(vx[p] - wx), fabs(vy[p] - wy)));
                    worst = fmax(worst, fmax(fabs(ux - wx), fabs(uy - wy)));
                }
        }
        CHECK(worst < 1e-4, "%s: field differs from the documented one by %g px/unit time",
              ld_synth_scenario_name(cfg.scenario), worst);
        run_free(&r);
    }
}

/* Lead: the open-water region at t = 1 is material at t = 0 and dark (0)
 * at t = 1; it grows from stage to stage, and the mean over it falls. */
static void test_lead_opens_a_dark_crack(void)
{
    ld_synth_between_config cfg = config(LD_SYNTH_LEAD, 1.0f, 7);
    synth_run r = generate(&cfg, NULL);
    if (!r.frames)
        return;
    double mean[N + 1] = {0};
    int area[N + 1] = {0}, region = 0;
    for (int i = 0; i < S; i++)
        for (int j = 0; j < S; j++) {
            for (int n = 0; n <= N; n++)
                area[n] += ld_synth_is_open_water(&r.motion, j, i, (double)n / N);
            if (!ld_synth_is_open_water(&r.motion, j, i, 1.0))
                continue;
            region++;
            for (int n = 0; n <= N; n++)
                mean[n] += frame(&r, n)[i * S + j];
        }
    CHECK(area[0] == 0 && region == area[N] && region > S, "crack area %d..%d pixels", area[0],
          area[N]);
    for (int n = 0; n <= N && region; n++) {
        mean[n] /= region;
        CHECK(n == 0 || (mean[n] < mean[n - 1] && area[n] > area[n - 1]),
              "stage %d: crack mean %.3f (before %.3f), area %d (before %d)", n, mean[n],
              n ? mean[n - 1] : 0.0, area[n], n ? area[n - 1] : 0);
    }
    CHECK(mean[0] >= 0.3 && mean[N] == 0, "crack mean %.3f at t = 0, %.3f at t = 1", mean[0],
          mean[N]);
    run_free(&r);
}

/* Source: frame N minus frame 0 carried by the motion is ~0.3 (the blobs'
 * peak) where the source term is strong at t = 1 and ~0 where it is 0. */
static void test_source_adds_brightness(void)
{
    ld_synth_between_config cfg = config(LD_SYNTH_SOURCE, 1.0f, 9);
    synth_run r = generate(&cfg, NULL);
    if (!r.frames)
        return;
    CHECK(r.motion.blob_count == LD_SYNTH_MAX_BLOBS, "%d blobs", r.motion.blob_count);
    double peak = 0;
    for (int i = 0; i < S; i++)
        for (int j = 0; j < S; j++)
            peak = fmax(peak, ld_synth_source(&r.motion, j, i, 1.0));
    /* Displacement of the source scenario over [0, 1]: half the translate. */
    double d = 0.5 * 0.1875 * S, dx = d * cos(M_PI / 6), dy = d * sin(M_PI / 6);
    double on = 0, off = 0;
    int n_on = 0, n_off = 0;
    for (int i = 6; i < S - 2; i++)
        for (int j = 8; j < S - 2; j++) {
            double src = ld_synth_source(&r.motion, j, i, 1.0);
            double gain = frame(&r, N)[i * S + j] -
                          ld_bilinear_clamped(frame(&r, 0), S, S, (float)(j - dx), (float)(i - dy));
            if (src > 0.8 * peak)
                on += gain, n_on++;
            else if (src < 1e-4 * peak)
                off += gain, n_off++;
        }
    CHECK(peak > 0 && n_on > 0 && n_off > S, "source peak %g, %d on, %d off", peak, n_on, n_off);
    if (n_on && n_off) {
        on /= n_on;
        off /= n_off;
        CHECK(on > 0.2 && on < 0.31 && fabs(off) < 0.01,
              "brightness gained: %.4f where the source is, %.4f elsewhere", on, off);
    }
    ld_synth_motion still = r.motion;
    still.cfg.scenario = LD_SYNTH_TRANSLATE;
    CHECK(ld_synth_source(&still, 20, 20, 0.9) == 0, "no source term outside the source scenario");
    run_free(&r);
}

/* Every scenario and both textures: frames finite and in [0, 1]. */
static void test_values_in_unit_range(void)
{
    ld_image tex;
    smooth_texture(&tex);
    for (int s = 0; s < LD_SYNTH_SCENARIO_COUNT; s++)
        for (int t = 0; t < 2; t++) {
            ld_synth_between_config cfg = config((ld_synth_scenario)s, 1.5f, 11);
            synth_run r = generate(&cfg, t ? &tex : NULL);
            if (!r.frames)
                continue;
            float lo = INFINITY, hi = -INFINITY;
            for (size_t k = 0; k < (N + 1) * PLANE; k++) {
                lo = fminf(lo, r.frames[k]);
                hi = fmaxf(hi, r.frames[k]);
            }
            CHECK(lo >= 0 && hi <= 1 && hi > lo, "%s (%s): values in [%g, %g]",
                  ld_synth_scenario_name(cfg.scenario), t ? "smooth" : "noise", (double)lo,
                  (double)hi);
            run_free(&r);
        }
    ld_image_free(&tex);
}

/* Same seed, same bytes; another seed, another texture; magnitude 0
 * stops the motion (all frames equal, fields 0). */
static void test_determinism_and_magnitude(void)
{
    for (int s = 0; s < LD_SYNTH_SCENARIO_COUNT; s++) {
        ld_synth_between_config cfg = config((ld_synth_scenario)s, 1.0f, 21);
        synth_run a = generate(&cfg, NULL), b = generate(&cfg, NULL);
        cfg.seed = 22;
        synth_run c = generate(&cfg, NULL);
        if (a.frames && b.frames && c.frames) {
            CHECK(!memcmp(a.frames, b.frames, (N + 1) * PLANE * sizeof(float)) &&
                      !memcmp(a.fields, b.fields, N * 2 * PLANE * sizeof(float)),
                  "%s: same seed, different output", ld_synth_scenario_name(cfg.scenario));
            CHECK(memcmp(a.frames, c.frames, (N + 1) * PLANE * sizeof(float)),
                  "%s: seeds 21 and 22 give the same frames", ld_synth_scenario_name(cfg.scenario));
        }
        run_free(&a);
        run_free(&b);
        run_free(&c);
    }
    ld_synth_between_config cfg = config(LD_SYNTH_ROTATE, 0.0f, 4);
    synth_run r = generate(&cfg, NULL);
    if (!r.frames)
        return;
    float field_max = 0;
    for (size_t k = 0; k < N * 2 * PLANE; k++)
        field_max = fmaxf(field_max, fabsf(r.fields[k]));
    CHECK(field_max == 0, "magnitude 0: field up to %g", (double)field_max);
    for (int n = 1; n <= N; n++)
        CHECK(!memcmp(frame(&r, 0), frame(&r, n), PLANE * sizeof(float)),
              "magnitude 0: frame %d differs from frame 0", n);
    run_free(&r);
}

/* Bad configurations fail with a message naming the problem. */
static void test_errors(void)
{
    ld_err err;
    ld_synth_scenario s = LD_SYNTH_SHEAR;
    CHECK(ld_synth_scenario_parse("spin", &s, &err) == -1 && strstr(err.msg, "unknown scenario") &&
              strstr(err.msg, "translate") && s == LD_SYNTH_SHEAR,
          "unknown scenario name: '%s'", err.msg);
    for (int k = 0; k < LD_SYNTH_SCENARIO_COUNT; k++)
        CHECK(ld_synth_scenario_parse(ld_synth_scenario_name((ld_synth_scenario)k), &s, &err) == 0 &&
                  (int)s == k, "scenario %d round trip", k);
    CHECK(ld_synth_scenario_name(LD_SYNTH_SCENARIO_COUNT) == NULL, "name of a bad scenario");
    static const struct {
        ld_synth_between_config cfg;
        const char *needle;
    } bad[] = {
        {{.scenario = LD_SYNTH_SCENARIO_COUNT, .stages = 4, .size = 32, .magnitude = 1}, "scenario"},
        {{.scenario = (ld_synth_scenario)-1, .stages = 4, .size = 32, .magnitude = 1}, "scenario"},
        {{.scenario = LD_SYNTH_LEAD, .stages = 0, .size = 32, .magnitude = 1}, "stages"},
        {{.scenario = LD_SYNTH_LEAD, .stages = 4, .size = 15, .magnitude = 1}, "size"},
        {{.scenario = LD_SYNTH_LEAD, .stages = 4, .size = 32, .magnitude = -0.5f}, "magnitude"},
        {{.scenario = LD_SYNTH_LEAD, .stages = 4, .size = 32, .magnitude = NAN}, "magnitude"},
        {{.scenario = LD_SYNTH_LEAD, .stages = 4, .size = 32, .magnitude = INFINITY}, "magnitude"},
    };
    float frames[1], fields[1];
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        ld_synth_motion m;
        err.msg[0] = 0;
        CHECK(ld_synth_between(&bad[k].cfg, NULL, frames, fields, NULL, &err) == -1 &&
                  strstr(err.msg, bad[k].needle),
              "bad config %zu: '%s' lacks '%s'", k, err.msg, bad[k].needle);
        CHECK(ld_synth_motion_init(&m, &bad[k].cfg, &err) == -1, "motion init of bad config %zu",
              k);
    }
    ld_image empty = {.channels = 1, .height = 0, .width = 10};
    ld_synth_between_config cfg = config(LD_SYNTH_TRANSLATE, 1.0f, 1);
    CHECK(ld_synth_between(&cfg, &empty, frames, fields, NULL, &err) == -1 &&
              strstr(err.msg, "empty texture"), "empty texture: '%s'", err.msg);
}

/* The fit tells the canvas (about 2S x 2S: half a frame around the frame)
 * and how much a texture image was enlarged to cover it, so that `latdyn
 * synth between` can say so: a small image by canvas / side, one as large
 * as the canvas not at all (cropped only), noise not at all. */
static void test_texture_fit(void)
{
    ld_synth_between_config cfg = config(LD_SYNTH_ROTATE, 1.0f, 1);
    float *frames = malloc((N + 1) * PLANE * sizeof *frames);
    float *fields = malloc(N * 2 * PLANE * sizeof *fields);
    ld_image small, large;
    ld_err err = {{0}};
    ld_synth_texture_fit fit = {0, 0, 0};
    CHECK(ld_image_alloc(&small, 1, 12, 16, &err) == 0, "alloc: %s", err.msg);
    for (int i = 0; i < 12 * 16; i++)
        small.data[i] = (float)(i % 7);
    CHECK(ld_synth_between(&cfg, &small, frames, fields, &fit, &err) == 0, "small: %s", err.msg);
    CHECK(fit.canvas_height >= 2 * S && fit.canvas_width >= 2 * S &&
              fit.canvas_height < 3 * S && fit.canvas_width < 3 * S,
          "canvas %d x %d for frames of %d", fit.canvas_width, fit.canvas_height, S);
    double want = fmax(fit.canvas_height / 12.0, fit.canvas_width / 16.0);
    CHECK(fabs(fit.scale - want) < 1e-12 && fit.scale > 8,
          "12 x 16 texture enlarged %g times, want %g", fit.scale, want);

    CHECK(ld_image_alloc(&large, 1, fit.canvas_height, fit.canvas_width, &err) == 0, "alloc: %s",
          err.msg);
    for (size_t i = 0; i < (size_t)fit.canvas_height * fit.canvas_width; i++)
        large.data[i] = (float)(i % 11);
    CHECK(ld_synth_between(&cfg, &large, frames, fields, &fit, &err) == 0 && fit.scale == 1,
          "a canvas-sized texture is only cropped (scale %g): %s", fit.scale, err.msg);
    fit.scale = 0;
    CHECK(ld_synth_between(&cfg, NULL, frames, fields, &fit, &err) == 0 && fit.scale == 1,
          "noise: scale %g", fit.scale);
    ld_image_free(&small);
    ld_image_free(&large);
    free(frames);
    free(fields);
}

LD_TEST_SUITE(synth_between) = {
    {"frames_obey_the_motion", test_frames_obey_the_motion},
    {"translate_shift", test_translate_shift},
    {"field_units_and_order", test_field_units_and_order},
    {"lead_opens_a_dark_crack", test_lead_opens_a_dark_crack},
    {"source_adds_brightness", test_source_adds_brightness},
    {"values_in_unit_range", test_values_in_unit_range},
    {"determinism_and_magnitude", test_determinism_and_magnitude},
    {"texture_fit", test_texture_fit},
    {"errors", test_errors},
    {NULL, NULL},
};
