/* Images in and out: PNG (libpng), TIFF (libtiff) and .npy arrays loaded
 * into planar float32 [C,H,W] in the input's own units (an 8-bit PNG gives
 * 0..255, a 16-bit one 0..65535, a float TIFF its stored values), and
 * written back as 8/16-bit PNG or float32 TIFF through atomic files.
 * libpng and libtiff messages are captured into the ld_err, never printed.
 *
 * The pixels only: a GeoTIFF's georeferencing is read and written by
 * data/georef.h (GDAL). */
#ifndef LD_DATA_IMAGE_H
#define LD_DATA_IMAGE_H

#include "engine/error.h"

typedef struct ld_image {
    int channels, height, width;
    float *data;   /* [channels, height, width], planar, input units */
    int bit_depth; /* of the source samples: 8, 16, or 32 for float and wider
                      integer sources */
    int is_float;  /* the source samples were floating point or wider than
                      16-bit integers (their range is mapped when saved) */
} ld_image;

/* A zero-filled image (bit_depth 32, is_float 1 until the caller says
 * otherwise). */
int ld_image_alloc(ld_image *img, int channels, int height, int width, ld_err *err);
void ld_image_free(ld_image *img);

/* Repeats the single band of a grey image into `channels` bands, so that a
 * grey image can be paired with a colour one (an image loaded as grey from
 * an R = G = B file returns to the same values in every band). Fails if the
 * image does not have one band. */
int ld_image_expand_channels(ld_image *img, int channels, ld_err *err);

/* Loads PNG, TIFF or .npy, chosen by the file's magic bytes.
 * - PNG: 1..16-bit grey, grey+alpha, RGB, RGBA, palette; alpha is dropped,
 *   and an image whose pixels all have R = G = B becomes one channel.
 * - TIFF: one or more bands of 8/16/32/64-bit (un)signed integer or
 *   16/32/64-bit float samples, contiguous or separate planes, strips or
 *   tiles; an alpha extra sample is dropped.
 * - .npy: any integer or float type, shape [H,W] or [C,H,W].
 * Samples are converted to float32 as ld_npy_element_to_float does.
 * Fails with a one-line message for a missing or unreadable file, a folder
 * or other non-regular file, a file that is not an image, a corrupt or
 * truncated one, an unsupported layout, NaN or infinite pixel values,
 * float64 values beyond float32's range, and pixels equal to a TIFF's GDAL
 * no-data value (TIFFTAG_GDAL_NODATA). A pixel is named as "pixel at column
 * X, row Y of band C" (a .npy element by its index, "[C, Y, X]"). */
int ld_image_load(const char *path, ld_image *img, ld_err *err);
/* 1 when the file starts with a TIFF (or BigTIFF) header, as ld_image_load
 * tells formats apart; 0 otherwise or when it cannot be read. */
int ld_image_is_tiff(const char *path);

/* Writes a 1-channel (grey) or 3-channel (RGB) image as an 8- or 16-bit PNG:
 * values are clamped to [lo, hi] and mapped linearly onto 0..2^bit_depth-1
 * (for an 8-bit input in its own units: lo = 0, hi = 255). */
int ld_image_save_png(const char *path, const ld_image *img, int bit_depth, float lo, float hi,
                      ld_err *err);

/* Writes an interleaved 8-bit RGB buffer rgb[height][width][3] as a PNG. */
int ld_image_save_rgb8_png(const char *path, const unsigned char *rgb, int height, int width,
                           ld_err *err);

/* Writes every band as float32 samples (pixel-interleaved, deflate
 * compressed) to a TIFF. */
int ld_image_save_tiff_float(const char *path, const ld_image *img, ld_err *err);

#endif
