/* Image and motion quality metrics used to score predictions against ground
 * truth: PSNR, SSIM (Wang, Bovik, Sheikh, Simoncelli 2004, "Image quality
 * assessment: from error visibility to structural similarity") and the
 * end-point error of velocity fields; and, where there is no ground truth,
 * how well velocity fields carry one image onto the other. Accumulated in
 * double. */
#ifndef LD_DATA_METRICS_H
#define LD_DATA_METRICS_H

#include <stddef.h>

#include "engine/error.h"

/* Normalised squared error |pred - truth|^2 / |truth|^2 over n values
 * (ladid.md's nMSE of one frame); the plain |pred - truth|^2 when truth is
 * all zero. */
double ld_nmse(const float *pred, const float *truth, size_t n);

/* PSNR in dB of a mean squared error for data spanning [0, 1]
 * (INFINITY for mse = 0). */
double ld_psnr_from_mse(double mse);

/* Mean of (a - b)^2 over n values. */
double ld_mean_squared_error(const float *a, const float *b, size_t n);

/* 10 log10(data_range^2 / mse) in dB; INFINITY when a equals b. */
double ld_psnr(const float *a, const float *b, size_t n, double data_range);

/* Mean SSIM of two images [channels, height, width], averaged over the
 * channels: Gaussian window 11 x 11 with sigma 1.5 (normalised to sum 1),
 * C1 = (0.01 L)^2, C2 = (0.03 L)^2 with L = data_range, local statistics
 *   mu = w * x, sigma_x^2 = w * x^2 - mu_x^2, sigma_xy = w * (x y) - mu_x mu_y,
 * and the SSIM map averaged over the positions where the whole window fits
 * (a 'valid' filter, as in Wang's reference code). Fails when a side is
 * smaller than 11 or out of memory. */
#define LD_SSIM_WINDOW 11
int ld_ssim(const float *a, const float *b, int channels, int height, int width,
            double data_range, double *ssim, ld_err *err);

/* End-point error of a velocity field: the mean over pixels of
 * |pred - truth| (Euclidean length of the 2-vector difference), for fields
 * [2, height, width] (x component first). */
double ld_epe(const float *pred, const float *truth, int height, int width);

/* How well stage fields explain the motion between two images, with no
 * ground truth: every pixel x of I0 is carried along the N stage fields
 * like a particle (N steps of 1/N, the velocity read bilinearly where the
 * particle is), and I1 is read (bilinear) where its path ends; where the
 * fields are the motion, that is I0(x) again. Scored over the pixels
 * whose path stayed inside the image (content that leaves it has nothing
 * in I1 to match). */
typedef struct ld_field_check {
    double psnr;       /* I1 at the paths' ends against I0, dB, on the kept pixels */
    double psnr_still; /* I1 against I0 on the same pixels: what no motion scores */
    double kept;       /* share of the pixels whose path stayed inside, 0..1 */
    double mean_speed; /* mean |v| over every stage and pixel, pixels per unit time */
} ld_field_check;

/* The check for images i0, i1 [channels, height, width] and fields
 * [stages, 2, height, width] (x velocity first, pixels per unit time),
 * PSNR peak data_range. psnr and psnr_still are NAN when no path stayed
 * inside; INFINITY where they match exactly. The same for any number of
 * threads. Fails only when out of memory. */
int ld_field_check_run(const float *i0, const float *i1, int channels, int height, int width,
                       const float *fields, int stages, double data_range, ld_field_check *check,
                       ld_err *err);

#endif
