/* Tests of the quality metrics (metrics.h): PSNR of identical images and
 * of a known mean squared error, SSIM of identical images, of constant
 * images (closed form) and against an independent direct evaluation of
 * the formula with a 2-D window, and the end-point error of known fields. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

LD_TEST_SUITE(metrics) = {
    {"psnr", test_psnr},
    {"ssim", test_ssim},
    {"epe", test_epe},
    {NULL, NULL},
};
