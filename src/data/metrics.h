/* Image and motion quality metrics used to score predictions against ground
 * truth: PSNR, SSIM (Wang, Bovik, Sheikh, Simoncelli 2004, "Image quality
 * assessment: from error visibility to structural similarity") and the
 * end-point error of velocity fields. Accumulated in double. */
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

#endif
