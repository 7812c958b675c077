/* Tests of the classical baselines of `between`: the cross-fade is the
 * exact linear blend; optimal transport moves a single blob to the
 * interpolated place (mass centre) and conserves mass; TV-L1 optical flow
 * recovers a known translation of a smooth texture and its in-between
 * frames beat the cross-fade on it, the same on any thread count; bad
 * sizes and options fail. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "baselines/crossfade.h"
#include "baselines/flow.h"
#include "baselines/ot.h"
#include "data/metrics.h"
#include "engine/rng.h"
#include "test.h"

static void test_crossfade_linear(void)
{
    enum { C = 2, H = 5, W = 7, N = 4, IMG = C * H * W };
    float i0[IMG], i1[IMG], frames[(N + 1) * IMG];
    ld_rng r;
    ld_rng_init(&r, 5);
    for (int k = 0; k < IMG; k++) {
        i0[k] = 255 * ld_rng_uniform(&r);
        i1[k] = 255 * ld_rng_uniform(&r);
    }
    ld_err err;
    CHECK(ld_baseline_crossfade(i0, i1, C, H, W, N, frames, &err) == 0, "crossfade: %s", err.msg);
    CHECK(!memcmp(frames, i0, sizeof i0) && !memcmp(frames + N * IMG, i1, sizeof i1),
          "end frames are the inputs");
    double worst = 0;
    for (int n = 0; n <= N; n++)
        for (int k = 0; k < IMG; k++) {
            double t = (double)n / N;
            worst = fmax(worst, fabs(frames[n * IMG + k] - ((1 - t) * i0[k] + t * i1[k])));
        }
    CHECK(worst < 1e-4, "frames differ from (1 - t) I0 + t I1 by up to %g", worst);
    CHECK(ld_baseline_crossfade(i0, i1, C, H, W, 0, frames, &err) == -1 &&
              strstr(err.msg, "stages"), "0 stages: '%s'", err.msg);
    CHECK(ld_baseline_crossfade(i0, i1, 0, H, W, N, frames, &err) == -1 &&
              strstr(err.msg, "size"), "0 channels: '%s'", err.msg);
}

/* A Gaussian blob of standard deviation 2 px on zero. */
static void blob(float *img, int h, int w, double cx, double cy, double amplitude)
{
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++)
            img[i * w + j] =
                (float)(amplitude * exp(-((j - cx) * (j - cx) + (i - cy) * (i - cy)) / 8.0));
}

/* Mass centre of the image above its minimum; the sum of its values. */
static double centre(const float *img, int h, int w, double *cx, double *cy)
{
    float lo = INFINITY;
    double m = 0, sum = 0;
    *cx = *cy = 0;
    for (int k = 0; k < h * w; k++)
        lo = fminf(lo, img[k]);
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            double v = img[i * w + j] - lo;
            m += v, *cx += v * j, *cy += v * i, sum += img[i * w + j];
        }
    *cx /= m;
    *cy /= m;
    return sum;
}

typedef struct ot_progress {
    int finished, last_done, total;
} ot_progress;

/* Counts the barycentres reported done (iteration 0) and checks the count
 * only grows. */
static void count_ot_progress(void *user, int done, int total, int iteration, double error)
{
    ot_progress *p = user;
    CHECK(done >= p->last_done && error >= 0, "progress went back: %d after %d", done,
          p->last_done);
    p->last_done = done;
    p->total = total;
    p->finished += iteration == 0;
}

/* A blob at (9, 10) in I0 and at (21, 18) in I1 (amplitudes 1 and 1.2):
 * frame n's mass centre is at the interpolated place within 0.3 px, its
 * total is (1 - t) M0 + t M1, one blob (the peak at the interpolated
 * place, not at the ends as a cross-fade would have it). */
static void test_ot_moves_a_blob(void)
{
    enum { H = 28, W = 32, N = 4, P = H * W };
    float *i0 = malloc(sizeof(float) * P), *i1 = malloc(sizeof(float) * P);
    float *frames = malloc(sizeof(float) * (N + 1) * P);
    blob(i0, H, W, 9, 10, 1.0);
    blob(i1, H, W, 21, 18, 1.2);
    ld_err err;
    CHECK(ld_baseline_ot(i0, i1, 1, H, W, N, NULL, frames, &err) == 0, "ot: %s", err.msg);
    double cx, cy, m0 = centre(i0, H, W, &cx, &cy), m1 = centre(i1, H, W, &cx, &cy);
    for (int n = 1; n < N && !test_failed(); n++) {
        double t = (double)n / N, x = 9 + 12 * t, y = 10 + 8 * t;
        const float *f = frames + n * P;
        double mass = centre(f, H, W, &cx, &cy);
        CHECK(hypot(cx - x, cy - y) < 0.3, "t = %.2f: mass centre (%.3f, %.3f), expected (%.2f, %.2f)",
              t, cx, cy, x, y);
        CHECK(fabs(mass - ((1 - t) * m0 + t * m1)) < 1e-3 * m0, "t = %.2f: mass %.5f, expected %.5f",
              t, mass, (1 - t) * m0 + t * m1);
        int ix = (int)lround(x), iy = (int)lround(y);
        float peak = f[iy * W + ix];
        CHECK(peak > 0.5f && peak > 3 * f[10 * W + 9] && peak > 3 * f[18 * W + 21],
              "t = %.2f: %.3f at the interpolated place, %.3f and %.3f at the ends", t,
              (double)peak, (double)f[10 * W + 9], (double)f[18 * W + 21]);
    }
    CHECK(!memcmp(frames, i0, sizeof(float) * P) && !memcmp(frames + N * P, i1, sizeof(float) * P),
          "end frames are the inputs");
    {
        /* a blob moved to its mirror image across the middle column: frame
         * n is frame N' - n mirrored, and every frame's peak stays the
         * blob's (a stale debiasing bent both, growing towards t = 1) */
        enum { M = 8, WM = 40 };
        float *a = malloc(sizeof(float) * H * WM), *b = malloc(sizeof(float) * H * WM);
        float *f = malloc(sizeof(float) * (M + 1) * H * WM);
        blob(a, H, WM, 12, 14, 1.0);
        blob(b, H, WM, WM - 1 - 12, 14, 1.0);
        CHECK(ld_baseline_ot(a, b, 1, H, WM, M, NULL, f, &err) == 0, "ot: %s", err.msg);
        double worst = 0, peak_off = 0;
        for (int n = 1; n < M; n++) {
            const float *here = f + (size_t)n * H * WM, *there = f + (size_t)(M - n) * H * WM;
            float peak = 0;
            for (int y = 0; y < H; y++)
                for (int x = 0; x < WM; x++) {
                    worst = fmax(worst, fabs(here[y * WM + x] - there[y * WM + WM - 1 - x]));
                    peak = fmaxf(peak, here[y * WM + x]);
                }
            peak_off = fmax(peak_off, fabs(peak - 1.0));
        }
        CHECK(worst < 0.02 && peak_off < 0.05,
              "mirrored frames differ by %.4f, a peak is off the blob's by %.4f", worst, peak_off);
        free(a);
        free(b);
        free(f);
    }
    /* the progress callback: every barycentre reported done, in order */
    ot_progress seen = {0, 0, 0};
    ld_ot_options o;
    ld_ot_default_options(&o);
    o.progress = count_ot_progress;
    o.progress_user = &seen;
    CHECK(ld_baseline_ot(i0, i1, 1, H, W, N, &o, frames, &err) == 0, "ot: %s", err.msg);
    CHECK(seen.finished == N - 1 && seen.last_done == N - 1 && seen.total == N - 1,
          "progress: %d barycentres reported done, last %d of %d (want %d)", seen.finished,
          seen.last_done, seen.total, N - 1);
    o.sigma = 0;
    CHECK(ld_baseline_ot(i0, i1, 1, H, W, N, &o, frames, &err) == -1 && strstr(err.msg, "sigma"),
          "sigma 0: '%s'", err.msg);
    /* one constant value in both images (no mass to move): every frame is
     * that value, exactly (the entropic barycentre of two uniform
     * densities is not uniform near the borders) */
    for (int p = 0; p < P; p++)
        i0[p] = i1[p] = 3.5f;
    CHECK(ld_baseline_ot(i0, i1, 1, H, W, N, NULL, frames, &err) == 0, "ot: %s", err.msg);
    int off = 0;
    for (int p = 0; p < (N + 1) * P; p++)
        off += frames[p] != 3.5f;
    CHECK(off == 0, "constant pair: %d samples differ from 3.5", off);
    free(i0);
    free(i1);
    free(frames);
}

/* A smooth texture (oriented waves) at (x - dx, y - dy): an exact
 * translation, no resampling. */
static void waves(float *img, int h, int w, double dx, double dy)
{
    static const double k[5][3] = {{0.31, 0.12, 0.0}, {-0.17, 0.27, 1.1}, {0.22, -0.25, 2.3},
                                   {0.08, 0.36, 0.4}, {0.41, 0.19, 4.0}};
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            double v = 0.5;
            for (int q = 0; q < 5; q++)
                v += 0.09 * sin(k[q][0] * (j - dx) + k[q][1] * (i - dy) + k[q][2]);
            img[i * w + j] = (float)v;
        }
}

/* I1 = I0 moved by (2.6, -1.7) px: the flow inside a margin of 8 px is
 * that within 0.3 px, stage fields are that velocity, and the in-between
 * frames beat the cross-fade by more than 6 dB (measured: 11-15 dB). */
static void test_flow_recovers_translation(void)
{
    enum { H = 64, W = 64, N = 4, P = H * W };
    const double dx = 2.6, dy = -1.7;
    float *truth = malloc(sizeof(float) * (N + 1) * P), *frames = malloc(sizeof(float) * (N + 1) * P);
    float *fade = malloc(sizeof(float) * (N + 1) * P), *fields = malloc(sizeof(float) * N * 2 * P);
    float *flow = malloc(sizeof(float) * 2 * P);
    for (int n = 0; n <= N; n++)
        waves(truth + n * P, H, W, dx * n / N, dy * n / N);
    ld_err err;
    CHECK(ld_flow_tvl1(truth, truth + N * P, 1, H, W, NULL, flow, &err) == 0, "flow: %s", err.msg);
    double worst = 0;
    for (int i = 8; i < H - 8; i++)
        for (int j = 8; j < W - 8; j++)
            worst = fmax(worst, hypot(flow[i * W + j] - dx, flow[P + i * W + j] - dy));
    CHECK(worst < 0.3, "flow off the translation (%.1f, %.1f) by up to %.3f px", dx, dy, worst);
    CHECK(ld_baseline_flow(truth, truth + N * P, 1, H, W, N, NULL, frames, fields, &err) == 0 &&
              ld_baseline_crossfade(truth, truth + N * P, 1, H, W, N, fade, &err) == 0,
          "baselines: %s", err.msg);
    for (int n = 1; n < N; n++) {
        /* Interior only: content enters through the borders. */
        double se_flow = 0, se_fade = 0;
        int count = 0;
        for (int i = 8; i < H - 8; i++)
            for (int j = 8; j < W - 8; j++) {
                size_t p = (size_t)n * P + i * W + j;
                se_flow += (frames[p] - truth[p]) * (frames[p] - truth[p]);
                se_fade += (fade[p] - truth[p]) * (fade[p] - truth[p]);
                count++;
            }
        double psnr_flow = ld_psnr_from_mse(se_flow / count), psnr_fade = ld_psnr_from_mse(se_fade / count);
        CHECK(psnr_flow > psnr_fade + 6, "frame %d: flow %.2f dB, cross-fade %.2f dB", n,
              psnr_flow, psnr_fade);
    }
    worst = 0;
    for (int n = 0; n < N; n++)
        for (int i = 8; i < H - 8; i++)
            for (int j = 8; j < W - 8; j++) {
                const float *v = fields + (size_t)n * 2 * P;
                worst = fmax(worst, hypot(v[i * W + j] - dx, v[P + i * W + j] - dy));
            }
    CHECK(worst < 0.3, "stage fields off the velocity by up to %.3f px per unit time", worst);
    ld_flow_options o;
    ld_flow_default_options(&o);
    o.tau = 0.5f;
    CHECK(ld_flow_tvl1(truth, truth + N * P, 1, H, W, &o, flow, &err) == -1 &&
              strstr(err.msg, "tau"), "tau 0.5: '%s'", err.msg);
    free(truth);
    free(frames);
    free(fade);
    free(fields);
    free(flow);
}

/* TV-L1 on a scene above the parallel threshold (136 x 136 > 128 x 128)
 * gives bit-identical flows on 1, 2 and 3 threads: its stopping criterion
 * is summed over fixed chunks, not by an OpenMP reduction. */
static void test_flow_threads(void)
{
    enum { H = 136, W = 136, P = H * W };
    float *pair = malloc(sizeof(float) * 2 * P), *flow = malloc(sizeof(float) * 3 * 2 * P);
    waves(pair, H, W, 0, 0);
    waves(pair + P, H, W, 1.3, 0.8);
    ld_err err;
    int saved = omp_get_max_threads(), ok = 1;
    for (int t = 0; t < 3; t++) {
        omp_set_num_threads(t + 1);
        ok &= ld_flow_tvl1(pair, pair + P, 1, H, W, NULL, flow + (size_t)t * 2 * P, &err) == 0;
    }
    omp_set_num_threads(saved);
    CHECK(ok, "flow: %s", err.msg);
    CHECK(!memcmp(flow, flow + 2 * P, sizeof(float) * 2 * P) &&
              !memcmp(flow, flow + 4 * P, sizeof(float) * 2 * P),
          "flows differ between 1, 2 and 3 threads");
    CHECK(fabs(flow[(H / 2) * W + W / 2] - 1.3) < 0.3, "flow x %.3f at the centre, want 1.3",
          flow[(H / 2) * W + W / 2]);
    free(pair);
    free(flow);
}

LD_TEST_SUITE(baselines) = {
    {"crossfade_linear", test_crossfade_linear},
    {"ot_moves_a_blob", test_ot_moves_a_blob},
    {"flow_recovers_translation", test_flow_recovers_translation},
    {"flow_threads", test_flow_threads},
    {NULL, NULL},
};
