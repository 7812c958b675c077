/* Tests of the quality metrics (metrics.h): PSNR of identical images and
 * of a known mean squared error, SSIM of identical images, of constant
 * images (closed form) and against an independent direct evaluation of
 * the formula with a 2-D window, the end-point error of known fields, and
 * the field check on a pair shifted by whole pixels. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <omp.h>

#include "data/metrics.h"
#include "engine/rng.h"
#include "test.h"

static void fill_uniform(float *x, size_t n, uint64_t seed)
{
    ld_rng r;
    ld_rng_init(&r, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)ld_rng_uniform(&r);
}

static void test_psnr(void)
{
    enum { n = 300 };
    float a[n], b[n];
    fill_uniform(a, n, 1);
    memcpy(b, a, sizeof a);
    CHECK(isinf(ld_psnr(a, b, n, 1.0)) && ld_psnr(a, b, n, 1.0) > 0, "identical: +inf");
    CHECK(isinf(ld_psnr_from_mse(0)), "mse 0: +inf");
    /* Every value off by 0.1: MSE 0.01, 20 dB for range 1, 26.02 for 2. */
    for (int i = 0; i < n; i++)
        b[i] = a[i] + (i % 2 ? 0.1f : -0.1f);
    double mse = ld_mean_squared_error(a, b, n);
    CHECK(fabs(mse - 0.01) < 1e-7, "mse %.9f, expected 0.01", mse);
    CHECK(fabs(ld_psnr(a, b, n, 1.0) - 20.0) < 1e-4, "psnr %.6f, expected 20", ld_psnr(a, b, n, 1.0));
    CHECK(fabs(ld_psnr(a, b, n, 2.0) - 10 * log10(400.0)) < 1e-4, "psnr range 2 %.6f",
          ld_psnr(a, b, n, 2.0));
    CHECK(fabs(ld_psnr_from_mse(1e-3) - 30.0) < 1e-12, "psnr of mse 1e-3");
    /* One value off by 1 out of 100: MSE 0.01 again. */
    float z[100] = {0}, o[100] = {0};
    o[37] = 1;
    CHECK(fabs(ld_psnr(z, o, 100, 1.0) - 20.0) < 1e-9, "one pixel off");
}

/* SSIM with the 11 x 11 Gaussian window applied directly (2-D, no
 * separation), over the valid positions, averaged over channels. */
static double ssim_direct(const float *a, const float *b, int channels, int h, int w, double L)
{
    double win[11][11], sum = 0;
    for (int i = 0; i < 11; i++)
        for (int j = 0; j < 11; j++)
            sum += win[i][j] = exp(-((i - 5) * (i - 5) + (j - 5) * (j - 5)) / (2 * 1.5 * 1.5));
    const double c1 = 0.01 * L * 0.01 * L, c2 = 0.03 * L * 0.03 * L;
    double total = 0;
    for (int c = 0; c < channels; c++) {
        const float *x = a + (size_t)c * h * w, *y = b + (size_t)c * h * w;
        double mean = 0;
        for (int i = 0; i + 11 <= h; i++)
            for (int j = 0; j + 11 <= w; j++) {
                double mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
                for (int u = 0; u < 11; u++)
                    for (int v = 0; v < 11; v++) {
                        double g = win[u][v] / sum, p = x[(i + u) * w + j + v],
                               q = y[(i + u) * w + j + v];
                        mx += g * p, my += g * q, sxx += g * p * p, syy += g * q * q,
                            sxy += g * p * q;
                    }
                double vx = sxx - mx * mx, vy = syy - my * my, cxy = sxy - mx * my;
                mean += (2 * mx * my + c1) * (2 * cxy + c2) /
                        ((mx * mx + my * my + c1) * (vx + vy + c2));
            }
        total += mean / ((h - 10) * (w - 10));
    }
    return total / channels;
}

static void test_ssim(void)
{
    enum { C = 2, H = 19, W = 24 };
    float a[C * H * W], b[C * H * W];
    ld_err err;
    double s = 0;
    fill_uniform(a, C * H * W, 2);
    CHECK(ld_ssim(a, a, C, H, W, 1.0, &s, &err) == 0 && fabs(s - 1) < 1e-9, "identical: %.12f",
          s);
    /* A noisy copy: compare with the direct evaluation. */
    fill_uniform(b, C * H * W, 3);
    for (int i = 0; i < C * H * W; i++)
        b[i] = 0.7f * a[i] + 0.3f * b[i];
    double want = ssim_direct(a, b, C, H, W, 1.0);
    CHECK(ld_ssim(a, b, C, H, W, 1.0, &s, &err) == 0 && fabs(s - want) < 1e-9 && s < 0.99 &&
              s > 0.3, "noisy copy: %.12f, direct %.12f", s, want);
    want = ssim_direct(a, b, C, H, W, 255.0);
    CHECK(ld_ssim(a, b, C, H, W, 255.0, &s, &err) == 0 && fabs(s - want) < 1e-9,
          "data range 255: %.12f, direct %.12f", s, want);
    /* Constant images ca, cb: no variance, SSIM = (2 ca cb + C1) / (ca^2 + cb^2 + C1). */
    for (int i = 0; i < H * W; i++)
        a[i] = 0.25f, b[i] = 0.75f;
    double c1 = 1e-4;
    want = (2 * 0.25 * 0.75 + c1) / (0.25 * 0.25 + 0.75 * 0.75 + c1);
    CHECK(ld_ssim(a, b, 1, H, W, 1.0, &s, &err) == 0 && fabs(s - want) < 1e-6,
          "constant images: %.9f, closed form %.9f", s, want);
    /* Too small for the window. */
    CHECK(ld_ssim(a, b, 1, 10, 40, 1.0, &s, &err) == -1 && strstr(err.msg, "window"),
          "10 rows: '%s'", err.msg);
    CHECK(ld_ssim(a, b, 0, H, W, 1.0, &s, &err) == -1, "no channels");
}

static void test_epe(void)
{
    enum { H = 3, W = 4, P = H * W };
    float truth[2 * P], pred[2 * P];
    fill_uniform(truth, 2 * P, 4);
    memcpy(pred, truth, sizeof pred);
    CHECK(ld_epe(pred, truth, H, W) == 0, "equal fields");
    /* Half the pixels off by (3, -4): EPE 5 / 2; x first, y second. */
    for (int p = 0; p < P; p += 2) {
        pred[p] += 3;
        pred[P + p] -= 4;
    }
    CHECK(fabs(ld_epe(pred, truth, H, W) - 2.5) < 1e-5, "epe %.7f, expected 2.5",
          ld_epe(pred, truth, H, W));
    /* Off in x only by 1 everywhere: 1. */
    memcpy(pred, truth, sizeof pred);
    for (int p = 0; p < P; p++)
        pred[p] += 1;
    CHECK(fabs(ld_epe(pred, truth, H, W) - 1) < 1e-6, "x off by 1");
}

/* PSNR (peak 1) of I1 against I0 over the pixels (x, y) with x <= xmax
 * and y <= ymax, written out here as a reference. */
static double still_psnr(const float *i0, const float *i1, int c, int h, int w, int xmax,
                         int ymax)
{
    double sum = 0;
    int n = 0;
    for (int k = 0; k < c; k++)
        for (int y = 0; y <= ymax; y++)
            for (int x = 0; x <= xmax; x++, n++) {
                double d = (double)i1[(k * h + y) * w + x] - i0[(k * h + y) * w + x];
                sum += d * d;
            }
    return 10 * log10(n / sum);
}

/* I1 is I0 moved by (3, 1) pixels. Fields that move it so over 4 stages
 * (constant, or all in the first two) carry every pixel onto its match:
 * infinite PSNR, over the pixels whose path stays inside; no fields score
 * what no motion does; the opposite motion scores worse; the result does
 * not depend on the thread count. */
static void test_field_check(void)
{
    enum { C = 2, H = 24, W = 32, N = 4, DX = 3, DY = 1 };
    const size_t plane = (size_t)H * W;
    float *i0 = malloc(C * plane * sizeof *i0), *i1 = malloc(C * plane * sizeof *i1);
    float *v = calloc(N * 2 * plane, sizeof *v);
    if (!i0 || !i1 || !v) {
        TEST_FAIL("out of memory");
        goto done;
    }
    fill_uniform(i0, C * plane, 7);
    fill_uniform(i1, C * plane, 8);
    for (int k = 0; k < C; k++)
        for (int y = DY; y < H; y++)
            for (int x = DX; x < W; x++)
                i1[(k * H + y) * W + x] = i0[(k * H + y - DY) * W + x - DX];
    ld_err err = {{0}};
    ld_field_check c;
    double kept = (double)(W - DX) * (H - DY) / (H * W);
    double still = still_psnr(i0, i1, C, H, W, W - 1 - DX, H - 1 - DY);
    for (int n = 0; n < N; n++)
        for (size_t p = 0; p < plane; p++) {
            v[2 * n * plane + p] = DX;
            v[(2 * n + 1) * plane + p] = DY;
        }
    CHECK(ld_field_check_run(i0, i1, C, H, W, v, N, 1.0, &c, &err) == 0, "%s", err.msg);
    CHECK(isinf(c.psnr) && c.psnr > 0, "constant fields: %g dB, want infinite", c.psnr);
    CHECK(fabs(c.kept - kept) < 1e-12 && fabs(c.psnr_still - still) < 1e-9,
          "kept %g (want %g), no motion %.6f dB (want %.6f)", c.kept, kept, c.psnr_still, still);
    CHECK(fabs(c.mean_speed - sqrt(DX * DX + DY * DY)) < 1e-6, "mean speed %g", c.mean_speed);
    /* the same motion in the first two stages, at twice the speed */
    for (int n = 0; n < N; n++)
        for (size_t p = 0; p < plane; p++) {
            v[2 * n * plane + p] = n < 2 ? 2 * DX : 0;
            v[(2 * n + 1) * plane + p] = n < 2 ? 2 * DY : 0;
        }
    CHECK(ld_field_check_run(i0, i1, C, H, W, v, N, 1.0, &c, &err) == 0, "%s", err.msg);
    CHECK(isinf(c.psnr) && fabs(c.kept - kept) < 1e-12 &&
              fabs(c.mean_speed - sqrt(DX * DX + DY * DY)) < 1e-6,
          "two fast stages: %g dB, kept %g, speed %g", c.psnr, c.kept, c.mean_speed);
    /* the opposite motion */
    for (size_t i = 0; i < N * 2 * plane; i++)
        v[i] = -v[i];
    CHECK(ld_field_check_run(i0, i1, C, H, W, v, N, 1.0, &c, &err) == 0 && isfinite(c.psnr) &&
              c.psnr < 15 && fabs(c.kept - kept) < 1e-12,
          "opposite motion: %g dB, kept %g", c.psnr, c.kept);
    /* no motion: every pixel kept, the two PSNRs one */
    memset(v, 0, N * 2 * plane * sizeof *v);
    CHECK(ld_field_check_run(i0, i1, C, H, W, v, N, 1.0, &c, &err) == 0 && c.kept == 1 &&
              c.psnr == c.psnr_still && c.mean_speed == 0 &&
              fabs(c.psnr - still_psnr(i0, i1, C, H, W, W - 1, H - 1)) < 1e-9,
          "no motion: %g and %g dB, kept %g", c.psnr, c.psnr_still, c.kept);
    /* a field that is no number at one pixel: the paths that read it (its
     * own and, bilinear, its three up-left neighbours') are left out and
     * never sampled where they are no place; its speed too */
    memset(v, 0, N * 2 * plane * sizeof *v);
    v[5 * W + 7] = NAN;
    CHECK(ld_field_check_run(i0, i1, C, H, W, v, N, 1.0, &c, &err) == 0 &&
              fabs(c.kept - (double)(plane - 4) / plane) < 1e-12 && c.mean_speed == 0 &&
              isfinite(c.psnr),
          "a NaN velocity: kept %g, speed %g, %g dB", c.kept, c.mean_speed, c.psnr);
    /* random fields, 1 and 2 threads: the same bits */
    fill_uniform(v, N * 2 * plane, 9);
    for (size_t i = 0; i < N * 2 * plane; i++)
        v[i] = 8 * v[i] - 4;
    ld_field_check one, two;
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    int rc = ld_field_check_run(i0, i1, C, H, W, v, N, 1.0, &one, &err);
    omp_set_num_threads(2);
    rc |= ld_field_check_run(i0, i1, C, H, W, v, N, 1.0, &two, &err);
    omp_set_num_threads(saved);
    CHECK(rc == 0 && !memcmp(&one, &two, sizeof one) && one.kept < 1 && one.kept > 0.5,
          "1 and 2 threads differ (%.17g, %.17g dB) or kept %g", one.psnr, two.psnr, one.kept);
done:
    free(i0);
    free(i1);
    free(v);
}

LD_TEST_SUITE(metrics) = {
    {"psnr", test_psnr},
    {"ssim", test_ssim},
    {"epe", test_epe},
    {"field_check", test_field_check},
    {NULL, NULL},
};
