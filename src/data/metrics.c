/* Image and motion quality metrics: see metrics.h. */
#include "data/metrics.h"

#include <math.h>
#include <stdlib.h>

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
