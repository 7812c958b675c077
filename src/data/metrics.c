/* Image and motion quality metrics: see metrics.h. */
#include "data/metrics.h"

#include <math.h>
#include <stdlib.h>

#include "data/interp.h"

double ld_psnr_from_mse(double mse) { return mse > 0 ? -10.0 * log10(mse) : INFINITY; }

double ld_mean_squared_error(const float *a, const float *b, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        sum += d * d;
    }
    return n ? sum / (double)n : 0.0;
}

double ld_nmse(const float *pred, const float *truth, size_t n)
{
    double se = 0, norm = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)pred[i] - truth[i];
        se += d * d;
        norm += (double)truth[i] * truth[i];
    }
    return norm > 0 ? se / norm : se;
}

double ld_psnr(const float *a, const float *b, size_t n, double data_range)
{
    return ld_psnr_from_mse(ld_mean_squared_error(a, b, n) / (data_range * data_range));
}

#define SSIM_SIGMA 1.5
#define SSIM_K1 0.01
#define SSIM_K2 0.03
#define SSIM_MOMENTS 5 /* x, y, x^2, y^2, x y */

/* Local Gaussian-weighted moments of one channel over the valid positions:
 * rows first into `rows` [5][height][out_w], then columns into `out`
 * [5][out_h][out_w]. */
static void local_moments(const float *x, const float *y, int height, int width,
                          const double *w, double *rows, double *out)
{
    const int out_h = height - LD_SSIM_WINDOW + 1, out_w = width - LD_SSIM_WINDOW + 1;
    const size_t row_plane = (size_t)height * out_w, out_plane = (size_t)out_h * out_w;
    for (int i = 0; i < height; i++)
        for (int j = 0; j < out_w; j++) {
            double m[SSIM_MOMENTS] = {0};
            for (int k = 0; k < LD_SSIM_WINDOW; k++) {
                double a = x[(size_t)i * width + j + k], b = y[(size_t)i * width + j + k];
                m[0] += w[k] * a;
                m[1] += w[k] * b;
                m[2] += w[k] * a * a;
                m[3] += w[k] * b * b;
                m[4] += w[k] * a * b;
            }
            for (int q = 0; q < SSIM_MOMENTS; q++)
                rows[q * row_plane + (size_t)i * out_w + j] = m[q];
        }
    for (int q = 0; q < SSIM_MOMENTS; q++)
        for (int i = 0; i < out_h; i++)
            for (int j = 0; j < out_w; j++) {
                double acc = 0;
                for (int k = 0; k < LD_SSIM_WINDOW; k++)
                    acc += w[k] * rows[q * row_plane + (size_t)(i + k) * out_w + j];
                out[q * out_plane + (size_t)i * out_w + j] = acc;
            }
}

int ld_ssim(const float *a, const float *b, int channels, int height, int width,
            double data_range, double *ssim, ld_err *err)
{
    if (height < LD_SSIM_WINDOW || width < LD_SSIM_WINDOW)
        return ld_errf(err, "ssim: the image (%dx%d) is smaller than the %dx%d window", width,
                       height, LD_SSIM_WINDOW, LD_SSIM_WINDOW);
    if (channels < 1)
        return ld_errf(err, "ssim: no channels");
    const int out_h = height - LD_SSIM_WINDOW + 1, out_w = width - LD_SSIM_WINDOW + 1;
    const size_t out_plane = (size_t)out_h * out_w, plane = (size_t)height * width;
    double *rows = malloc(SSIM_MOMENTS * (size_t)height * out_w * sizeof *rows);
    double *mom = malloc(SSIM_MOMENTS * out_plane * sizeof *mom);
    if (!rows || !mom) {
        free(rows);
        free(mom);
        return ld_errf(err, "ssim: out of memory for %dx%d", width, height);
    }
    double w[LD_SSIM_WINDOW], wsum = 0;
    for (int k = 0; k < LD_SSIM_WINDOW; k++) {
        double d = k - (LD_SSIM_WINDOW - 1) / 2;
        wsum += w[k] = exp(-d * d / (2 * SSIM_SIGMA * SSIM_SIGMA));
    }
    for (int k = 0; k < LD_SSIM_WINDOW; k++)
        w[k] /= wsum;
    const double c1 = (SSIM_K1 * data_range) * (SSIM_K1 * data_range);
    const double c2 = (SSIM_K2 * data_range) * (SSIM_K2 * data_range);
    double total = 0;
    for (int ch = 0; ch < channels; ch++) {
        local_moments(a + ch * plane, b + ch * plane, height, width, w, rows, mom);
        double sum = 0;
        for (size_t p = 0; p < out_plane; p++) {
            double mx = mom[p], my = mom[out_plane + p];
            double vx = mom[2 * out_plane + p] - mx * mx, vy = mom[3 * out_plane + p] - my * my;
            double cxy = mom[4 * out_plane + p] - mx * my;
            sum += (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2));
        }
        total += sum / (double)out_plane;
    }
    free(rows);
    free(mom);
    *ssim = total / channels;
    return 0;
}

double ld_epe(const float *pred, const float *truth, int height, int width)
{
    const size_t plane = (size_t)height * width;
    double sum = 0;
    for (size_t p = 0; p < plane; p++)
        sum += hypot((double)pred[p] - truth[p], (double)pred[plane + p] - truth[plane + p]);
    return plane ? sum / (double)plane : 0.0;
}

/* Row y's sums for ld_field_check_run: squared errors of the carried and
 * the still I1 on the kept pixels, their count, and the speeds. */
enum { CHECK_CARRIED, CHECK_STILL, CHECK_KEPT, CHECK_SPEED, CHECK_SUMS };

static void field_check_row(const float *i0, const float *i1, int channels, int height,
                            int width, const float *fields, int stages, int y, double *sums)
{
    const size_t plane = (size_t)height * width;
    const float dt = 1.0f / (float)stages;
    for (int x = 0; x < width; x++) {
        float px = (float)x, py = (float)y;
        int inside = 1;
        for (int n = 0; n < stages; n++) {
            const float *vx = fields + (size_t)2 * n * plane, *vy = vx + plane;
            double speed = hypot(vx[(size_t)y * width + x], vy[(size_t)y * width + x]);
            if (isfinite(speed))
                sums[CHECK_SPEED] += speed;
            if (!inside)
                continue; /* it left (or its position is no number): not sampled again */
            float u = ld_bilinear_clamped(vx, height, width, px, py);
            float v = ld_bilinear_clamped(vy, height, width, px, py);
            px += dt * u;
            py += dt * v;
            inside = px >= 0 && py >= 0 && px <= (float)(width - 1) && py <= (float)(height - 1);
        }
        if (!inside)
            continue;
        sums[CHECK_KEPT] += 1;
        for (int c = 0; c < channels; c++) {
            double start = i0[c * plane + (size_t)y * width + x];
            double carried = ld_bilinear_clamped(i1 + c * plane, height, width, px, py);
            double still = i1[c * plane + (size_t)y * width + x];
            sums[CHECK_CARRIED] += (carried - start) * (carried - start);
            sums[CHECK_STILL] += (still - start) * (still - start);
        }
    }
}

static double psnr_of_sum(double squares, double count, double data_range)
{
    if (count <= 0)
        return NAN;
    double mse = squares / count;
    return mse > 0 ? 10.0 * log10(data_range * data_range / mse) : INFINITY;
}

int ld_field_check_run(const float *i0, const float *i1, int channels, int height, int width,
                       const float *fields, int stages, double data_range, ld_field_check *check,
                       ld_err *err)
{
    /* per-row sums, added up in row order: the same for any thread count */
    double *rows = calloc((size_t)height * CHECK_SUMS, sizeof *rows);
    if (!rows)
        return ld_errf(err, "out of memory checking the fields");
#pragma omp parallel for schedule(static)
    for (int y = 0; y < height; y++)
        field_check_row(i0, i1, channels, height, width, fields, stages, y,
                        rows + (size_t)y * CHECK_SUMS);
    double sums[CHECK_SUMS] = {0};
    for (int y = 0; y < height; y++)
        for (int k = 0; k < CHECK_SUMS; k++)
            sums[k] += rows[(size_t)y * CHECK_SUMS + k];
    free(rows);
    double pixels = (double)height * width;
    check->psnr = psnr_of_sum(sums[CHECK_CARRIED], sums[CHECK_KEPT] * channels, data_range);
    check->psnr_still = psnr_of_sum(sums[CHECK_STILL], sums[CHECK_KEPT] * channels, data_range);
    check->kept = sums[CHECK_KEPT] / pixels;
    check->mean_speed = sums[CHECK_SPEED] / (pixels * stages);
    return 0;
}
