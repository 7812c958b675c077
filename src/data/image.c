/* PNG, TIFF and .npy image reading and PNG/TIFF writing: see image.h. */
#include "data/image.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <tiffio.h>

#include "data/npy.h"
#include "engine/atomic_file.h"

/* Largest side accepted, so that sizes stay well inside int and size_t. */
#define IMAGE_MAX_SIDE (1 << 20)
#define LIB_MSG_LEN 256
/* How every message names a pixel: "pixel at column X, row Y of band C". */
#define PIXEL_PLACE "pixel at column %d, row %d of band %d"

int ld_image_alloc(ld_image *img, int channels, int height, int width, ld_err *err)
{
    memset(img, 0, sizeof *img);
    if (channels < 1 || height < 1 || width < 1 || height > IMAGE_MAX_SIDE ||
        width > IMAGE_MAX_SIDE || channels > 4096)
        return ld_errf(err, "image: bad size %d x %d x %d", channels, height, width);
    size_t n = (size_t)channels * (size_t)height * (size_t)width;
    img->data = calloc(n, sizeof(float));
    if (!img->data)
        return ld_errf(err, "image: out of memory for %d x %d x %d", channels, height, width);
    img->channels = channels;
    img->height = height;
    img->width = width;
    img->bit_depth = 32;
    img->is_float = 1;
    return 0;
}

void ld_image_free(ld_image *img)
{
    free(img->data);
    memset(img, 0, sizeof *img);
}

int ld_image_expand_channels(ld_image *img, int channels, ld_err *err)
{
    if (img->channels != 1 || channels < 1 || channels > 4096)
        return ld_errf(err, "image: cannot expand %d bands into %d", img->channels, channels);
    size_t plane = (size_t)img->height * (size_t)img->width;
    float *grown = realloc(img->data, plane * (size_t)channels * sizeof(float));
    if (!grown)
        return ld_errf(err, "image: out of memory for %d bands", channels);
    for (int c = 1; c < channels; c++)
        memcpy(grown + (size_t)c * plane, grown, plane * sizeof(float));
    img->data = grown;
    img->channels = channels;
    return 0;
}

static int has_extension(const char *path, const char *ext)
{
    size_t n = strlen(path), e = strlen(ext);
    return n >= e && strcasecmp(path + n - e, ext) == 0;
}

/* Fails (and frees the image) at the first NaN or infinite value, or the
 * first equal to the file's no-data value (NAN: it has none): every pixel
 * must be data. */
static int check_pixels(const char *path, ld_image *img, double nodata, ld_err *err)
{
    static const char hint[] = "fill or crop the no-data area first (e.g. gdal_fillnodata.py, "
                               "gdal_translate -srcwin)";
    size_t plane = (size_t)img->height * (size_t)img->width;
    float missing = (float)nodata;
    for (int c = 0; c < img->channels; c++)
        for (size_t i = 0; i < plane; i++) {
            float v = img->data[c * plane + i];
            if (isfinite(v) && v != missing)
                continue;
            int x = (int)(i % (size_t)img->width), y = (int)(i / (size_t)img->width);
            ld_image_free(img);
            if (isfinite(v))
                return ld_errf(err, "%s: " PIXEL_PLACE " holds the file's no-data value %g; "
                                    "every pixel must be data: %s",
                               path, x, y, c, nodata, hint);
            return ld_errf(err, "%s: " PIXEL_PLACE " is %s; if it marks no data, %s", path, x, y,
                           c, isnan(v) ? "NaN" : "infinite", hint);
        }
    return 0;
}

/* The depth and kind an image keeps of its source samples: 8- and 16-bit
 * integers keep their depth for the frame PNGs; wider integers are saved as
 * float sources are (their range mapped). */
static void set_sample_kind(ld_image *img, ld_npy_dtype d)
{
    img->bit_depth = d == LD_NPY_U8 || d == LD_NPY_I8     ? 8
                     : d == LD_NPY_U16 || d == LD_NPY_I16 ? 16
                                                          : 32;
    img->is_float = img->bit_depth == 32;
}

/* An RGB image whose every pixel has R = G = B becomes one grey channel. */
static void collapse_equal_rgb(ld_image *img)
{
    if (img->channels != 3)
        return;
    size_t plane = (size_t)img->height * (size_t)img->width;
    const float *r = img->data, *g = r + plane, *b = g + plane;
    for (size_t i = 0; i < plane; i++)
        if (r[i] != g[i] || r[i] != b[i])
            return;
    float *shrunk = realloc(img->data, plane * sizeof(float));
    if (shrunk)
        img->data = shrunk;
    img->channels = 1;
}

/* ---- PNG ------------------------------------------------------------------------ */

/* libpng error callback: keeps the message and jumps back to the setjmp of
 * the running call, so nothing is printed. */
static void png_capture_error(png_structp png, png_const_charp msg)
{
    snprintf((char *)png_get_error_ptr(png), LIB_MSG_LEN, "%s", msg);
    png_longjmp(png, 1);
}

static void png_ignore_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* Reads a PNG into interleaved samples, expanding palette and low-bit grey
 * to 8 bits and dropping alpha, then converts to planar floats. */
static int load_png(const char *path, FILE *fp, ld_image *img, ld_err *err)
{
    char message[LIB_MSG_LEN] = "";
    png_structp png =
        png_create_read_struct(PNG_LIBPNG_VER_STRING, message, png_capture_error, png_ignore_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return ld_errf(err, "%s: out of memory for the PNG reader", path);
    }
    unsigned char *volatile pixels = NULL;
    png_bytep *volatile rows = NULL;
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(pixels);
        free(rows);
        return ld_errf(err, "%s: corrupt or truncated PNG: %s", path, message);
    }
    png_init_io(png, fp);
    png_read_info(png, info);
    png_set_expand(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    png_uint_32 width = png_get_image_width(png, info), height = png_get_image_height(png, info);
    int channels = png_get_channels(png, info), depth = png_get_bit_depth(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    if (width > IMAGE_MAX_SIDE || height > IMAGE_MAX_SIDE)
        png_error(png, "image too large");
    if ((channels != 1 && channels != 3) || (depth != 8 && depth != 16))
        png_error(png, "unsupported sample layout");
    pixels = malloc(row_bytes * height);
    rows = malloc(height * sizeof *rows);
    if (!pixels || !rows)
        png_error(png, "out of memory");
    for (png_uint_32 y = 0; y < height; y++)
        rows[y] = pixels + y * row_bytes;
    png_read_image(png, rows);
    png_destroy_read_struct(&png, &info, NULL);
    free(rows);

    int rc = ld_image_alloc(img, channels, (int)height, (int)width, err);
    if (rc == 0) {
        size_t plane = (size_t)height * width;
        int bytes = depth / 8;
        for (size_t i = 0; i < plane; i++)
            for (int c = 0; c < channels; c++) {
                const unsigned char *p = pixels + (i * (size_t)channels + (size_t)c) * (size_t)bytes;
                img->data[(size_t)c * plane + i] = (float)(bytes == 2 ? p[0] << 8 | p[1] : p[0]);
            }
        img->bit_depth = depth;
        img->is_float = 0;
        collapse_equal_rgb(img);
    }
    free(pixels);
    return rc;
}

/* Writes interleaved rows (16-bit samples big-endian, as PNG stores them). */
static int write_png_packed(const char *path, const unsigned char *packed, int height, int width,
                            int channels, int bit_depth, ld_err *err)
{
    ld_atomic_file f;
    if (ld_atomic_open(&f, path, err) != 0)
        return -1;
    char message[LIB_MSG_LEN] = "";
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, message, png_capture_error,
                                              png_ignore_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_write_struct(&png, NULL);
        ld_atomic_abort(&f);
        return ld_errf(err, "%s: out of memory for the PNG writer", path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        ld_atomic_abort(&f);
        return ld_errf(err, "%s: cannot write PNG: %s", path, message);
    }
    png_init_io(png, f.fp);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, bit_depth,
                 channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    size_t row_bytes = (size_t)width * (size_t)channels * (size_t)(bit_depth / 8);
    for (int y = 0; y < height; y++)
        png_write_row(png, packed + (size_t)y * row_bytes);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    return ld_atomic_commit(&f, err);
}

int ld_image_save_png(const char *path, const ld_image *img, int bit_depth, float lo, float hi,
                      ld_err *err)
{
    if (img->channels != 1 && img->channels != 3)
        return ld_errf(err, "%s: a PNG needs 1 (grey) or 3 (RGB) channels, the image has %d",
                       path, img->channels);
    if (bit_depth != 8 && bit_depth != 16)
        return ld_errf(err, "%s: PNG bit depth must be 8 or 16, not %d", path, bit_depth);
    if (!(hi > lo) || !isfinite(lo) || !isfinite(hi))
        return ld_errf(err, "%s: PNG value range [%g, %g] is empty", path, lo, hi);
    size_t plane = (size_t)img->height * (size_t)img->width;
    int bytes = bit_depth / 8, channels = img->channels;
    unsigned char *packed = malloc(plane * (size_t)channels * (size_t)bytes);
    if (!packed)
        return ld_errf(err, "%s: out of memory", path);
    double full = bit_depth == 8 ? 255.0 : 65535.0, scale = full / ((double)hi - lo);
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < channels; c++) {
            double v = fmin(fmax((double)img->data[(size_t)c * plane + i], lo), hi);
            unsigned q = (unsigned)floor((v - lo) * scale + 0.5);
            unsigned char *p = packed + (i * (size_t)channels + (size_t)c) * (size_t)bytes;
            if (bytes == 2) {
                p[0] = (unsigned char)(q >> 8);
                p[1] = (unsigned char)(q & 0xff);
            } else {
                p[0] = (unsigned char)q;
            }
        }
    int rc = write_png_packed(path, packed, img->height, img->width, channels, bit_depth, err);
    free(packed);
    return rc;
}

int ld_image_save_rgb8_png(const char *path, const unsigned char *rgb, int height, int width,
                           ld_err *err)
{
    if (height < 1 || width < 1 || height > IMAGE_MAX_SIDE || width > IMAGE_MAX_SIDE)
        return ld_errf(err, "%s: bad PNG size %d x %d", path, height, width);
    return write_png_packed(path, rgb, height, width, 3, 8, err);
}

/* ---- TIFF ----------------------------------------------------------------------- */

/* libtiff handlers for one file: the first error message is kept, warnings
 * are dropped; returning 1 stops libtiff from calling its global handlers. */
static int tiff_capture_error(TIFF *tif, void *user, const char *module, const char *fmt,
                              va_list ap)
{
    (void)tif;
    char *message = user;
    if (message[0] == '\0') {
        int n = module ? snprintf(message, LIB_MSG_LEN, "%s: ", module) : 0;
        vsnprintf(message + n, (size_t)(LIB_MSG_LEN - n), fmt, ap);
    }
    return 1;
}

static int tiff_ignore_warning(TIFF *tif, void *user, const char *module, const char *fmt,
                               va_list ap)
{
    (void)tif;
    (void)user;
    (void)module;
    (void)fmt;
    (void)ap;
    return 1;
}

/* Opens a TIFF with the capturing handlers. The process-wide libtiff
 * handlers (which print to stderr) are switched off as well, for any code
 * path in libtiff that does not use the per-file ones. */
static TIFF *tiff_open(const char *path, int fd, const char *mode, char *message)
{
    TIFFSetErrorHandler(NULL);
    TIFFSetWarningHandler(NULL);
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts)
        return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(opts, tiff_capture_error, message);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, tiff_ignore_warning, NULL);
    TIFF *tif = fd >= 0 ? TIFFFdOpenExt(fd, path, mode, opts) : TIFFOpenExt(path, mode, opts);
    TIFFOpenOptionsFree(opts);
    return tif;
}

/* The TIFF sample types read, as the .npy element types they convert like. */
static const struct {
    uint16_t format, bits;
    ld_npy_dtype dtype;
} tiff_sample_types[] = {
    {SAMPLEFORMAT_UINT, 8, LD_NPY_U8},     {SAMPLEFORMAT_INT, 8, LD_NPY_I8},
    {SAMPLEFORMAT_UINT, 16, LD_NPY_U16},   {SAMPLEFORMAT_INT, 16, LD_NPY_I16},
    {SAMPLEFORMAT_UINT, 32, LD_NPY_U32},   {SAMPLEFORMAT_INT, 32, LD_NPY_I32},
    {SAMPLEFORMAT_UINT, 64, LD_NPY_U64},   {SAMPLEFORMAT_INT, 64, LD_NPY_I64},
    {SAMPLEFORMAT_IEEEFP, 16, LD_NPY_F16}, {SAMPLEFORMAT_IEEEFP, 32, LD_NPY_F32},
    {SAMPLEFORMAT_IEEEFP, 64, LD_NPY_F64},
};

/* The sample layout of the TIFF being read. */
typedef struct tiff_layout {
    uint32_t width, height, block_width, block_height;
    uint16_t samples, bits, format, planes;
    ld_npy_dtype dtype; /* of the samples */
    int tiled;
    int band_of_sample[64]; /* image band of each file sample, -1 = dropped */
    int bands;
} tiff_layout;

static int tiff_read_layout(const char *path, TIFF *tif, tiff_layout *t, ld_err *err)
{
    uint16_t planar, photometric = PHOTOMETRIC_MINISBLACK, compression, n_extra = 0;
    uint16_t *extra = NULL;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &t->width);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &t->height);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &t->samples);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &t->bits);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &t->format);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
    TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric);
    TIFFGetFieldDefaulted(tif, TIFFTAG_EXTRASAMPLES, &n_extra, &extra);
    if (t->width < 1 || t->height < 1 || t->width > IMAGE_MAX_SIDE || t->height > IMAGE_MAX_SIDE)
        return ld_errf(err, "%s: unsupported TIFF size %u x %u", path, t->width, t->height);
    if (t->samples < 1 || t->samples > 64)
        return ld_errf(err, "%s: unsupported TIFF layout: %u samples per pixel", path, t->samples);
    size_t type = 0, types = sizeof tiff_sample_types / sizeof tiff_sample_types[0];
    while (type < types && (tiff_sample_types[type].format != t->format ||
                            tiff_sample_types[type].bits != t->bits))
        type++;
    if (type == types)
        return ld_errf(err,
                       "%s: unsupported TIFF layout: %u-bit %s samples (supported: 8/16/32/64-bit "
                       "integer, 16/32/64-bit float)",
                       path, t->bits,
                       t->format == SAMPLEFORMAT_IEEEFP ? "float"
                       : t->format == SAMPLEFORMAT_UINT || t->format == SAMPLEFORMAT_INT
                           ? "integer"
                           : "complex or untyped");
    t->dtype = tiff_sample_types[type].dtype;
    if (photometric == PHOTOMETRIC_PALETTE || photometric == PHOTOMETRIC_YCBCR)
        return ld_errf(err, "%s: unsupported TIFF layout: %s colour", path,
                       photometric == PHOTOMETRIC_PALETTE ? "palette" : "YCbCr");
    if (!TIFFIsCODECConfigured(compression))
        return ld_errf(err, "%s: unsupported TIFF compression (scheme %u)", path, compression);
    t->planes = planar == PLANARCONFIG_SEPARATE ? t->samples : 1;
    t->tiled = TIFFIsTiled(tif);
    if (t->tiled) {
        TIFFGetField(tif, TIFFTAG_TILEWIDTH, &t->block_width);
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &t->block_height);
    } else {
        t->block_width = t->width;
        TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &t->block_height);
        if (t->block_height > t->height)
            t->block_height = t->height;
    }
    if (t->block_width < 1 || t->block_height < 1)
        return ld_errf(err, "%s: corrupt TIFF: empty tiles or strips", path);
    /* alpha extra samples (the last n_extra samples) are dropped */
    t->bands = 0;
    for (int s = 0; s < t->samples; s++) {
        int e = s - (t->samples - n_extra);
        int alpha = e >= 0 && (extra[e] == EXTRASAMPLE_ASSOCALPHA ||
                               extra[e] == EXTRASAMPLE_UNASSALPHA);
        t->band_of_sample[s] = alpha ? -1 : t->bands++;
    }
    return 0;
}

/* Rows and columns of the strip or tile at (x0, y0) that lie inside the
 * image. */
static void tiff_block_extent(uint32_t x0, uint32_t y0, const tiff_layout *t, uint32_t *rows,
                              uint32_t *cols)
{
    *rows = t->block_height < t->height - y0 ? t->block_height : t->height - y0;
    *cols = t->block_width < t->width - x0 ? t->block_width : t->width - x0;
}

/* Copies one decoded strip or tile (rows of block_width pixels) at (x0, y0)
 * of sample plane `plane` into the image; fails at a float64 sample beyond
 * float32's range. */
static int tiff_copy_block(const char *path, const unsigned char *block, uint32_t x0,
                           uint32_t y0, int plane, const tiff_layout *t, ld_image *img,
                           ld_err *err)
{
    uint32_t rows, cols;
    tiff_block_extent(x0, y0, t, &rows, &cols);
    int per_pixel = t->planes > 1 ? 1 : t->samples;
    size_t bytes = t->bits / 8, plane_size = (size_t)t->width * t->height;
    for (int s = 0; s < per_pixel; s++) {
        int band = t->band_of_sample[plane + s];
        if (band < 0)
            continue;
        for (uint32_t r = 0; r < rows; r++)
            for (uint32_t c = 0; c < cols; c++) {
                size_t at = (((size_t)r * t->block_width + c) * (size_t)per_pixel + (size_t)s) * bytes;
                float *pixel = img->data + (size_t)band * plane_size +
                               (size_t)(y0 + r) * t->width + x0 + c;
                ld_err why;
                if (ld_npy_element_to_float(block + at, t->dtype, pixel, &why))
                    return ld_errf(err, "%s: " PIXEL_PLACE " %s", path, (int)(x0 + c),
                                   (int)(y0 + r), band, why.msg);
            }
    }
    return 0;
}

/* Bytes a decoded block must hold for the part of it inside the image. */
static size_t tiff_block_needed(uint32_t x0, uint32_t y0, const tiff_layout *t)
{
    uint32_t rows, cols;
    tiff_block_extent(x0, y0, t, &rows, &cols);
    size_t per_pixel = t->planes > 1 ? 1 : t->samples;
    return (((size_t)rows - 1) * t->block_width + cols) * per_pixel * (t->bits / 8);
}

static int tiff_read_pixels(const char *path, TIFF *tif, const tiff_layout *t, ld_image *img,
                            const char *message, ld_err *err)
{
    tmsize_t block_size = t->tiled ? TIFFTileSize(tif) : TIFFStripSize(tif);
    unsigned char *block = block_size > 0 ? malloc((size_t)block_size) : NULL;
    if (!block)
        return ld_errf(err, "%s: corrupt TIFF: bad strip or tile size", path);
    for (int plane = 0; plane < t->planes; plane++)
        for (uint32_t y0 = 0; y0 < t->height; y0 += t->block_height)
            for (uint32_t x0 = 0; x0 < t->width; x0 += t->block_width) {
                uint32_t index = t->tiled ? TIFFComputeTile(tif, x0, y0, 0, (uint16_t)plane)
                                          : TIFFComputeStrip(tif, y0, (uint16_t)plane);
                tmsize_t got = t->tiled ? TIFFReadEncodedTile(tif, index, block, block_size)
                                        : TIFFReadEncodedStrip(tif, index, block, block_size);
                if (got < 0 || (size_t)got < tiff_block_needed(x0, y0, t)) {
                    free(block);
                    return ld_errf(err, "%s: corrupt or truncated TIFF: %s", path,
                                   message[0] ? message : "short strip or tile");
                }
                if (tiff_copy_block(path, block, x0, y0, plane, t, img, err)) {
                    free(block);
                    return -1;
                }
            }
    free(block);
    return 0;
}

/* The file's GDAL no-data value (TIFFTAG_GDAL_NODATA, a number as text),
 * or NAN when it has none. libtiff reads the tag as an anonymous field
 * (a count, then the text) unless GDAL has registered it (the text only). */
static double tiff_nodata(TIFF *tif)
{
    const TIFFField *field = TIFFFindField(tif, TIFFTAG_GDAL_NODATA, TIFF_ANY);
    if (!field)
        return NAN;
    const char *value = NULL;
    uint32_t count = UINT32_MAX; /* registered: NUL-terminated text */
    int got;
    if (!TIFFFieldPassCount(field)) {
        got = TIFFGetField(tif, TIFFTAG_GDAL_NODATA, &value);
    } else if (TIFFFieldReadCount(field) == TIFF_VARIABLE2) {
        got = TIFFGetField(tif, TIFFTAG_GDAL_NODATA, &count, &value);
    } else {
        uint16_t short_count = 0;
        got = TIFFGetField(tif, TIFFTAG_GDAL_NODATA, &short_count, &value);
        count = short_count;
    }
    if (!got || !value)
        return NAN;
    char text[64], *end;
    snprintf(text, sizeof text, "%.*s", (int)(count < sizeof text ? count : sizeof text - 1),
             value);
    double v = strtod(text, &end);
    return end == text ? NAN : v;
}

/* *nodata: the file's no-data value, NAN when it has none. */
static int load_tiff(const char *path, ld_image *img, double *nodata, ld_err *err)
{
    char message[LIB_MSG_LEN] = "";
    TIFF *tif = tiff_open(path, -1, "r", message);
    if (!tif)
        return ld_errf(err, "%s: corrupt TIFF: %s", path, message[0] ? message : "cannot open");
    tiff_layout t;
    int rc = tiff_read_layout(path, tif, &t, err);
    if (rc == 0)
        rc = ld_image_alloc(img, t.bands, (int)t.height, (int)t.width, err);
    if (rc == 0) {
        set_sample_kind(img, t.dtype);
        *nodata = tiff_nodata(tif);
        rc = tiff_read_pixels(path, tif, &t, img, message, err);
        if (rc != 0)
            ld_image_free(img);
    }
    TIFFClose(tif);
    return rc;
}

static int tiff_set_float_tags(TIFF *tif, const ld_image *img)
{
    int ok = TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)img->width) &&
             TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)img->height) &&
             TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)img->channels) &&
             TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)32) &&
             TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, (uint16_t)SAMPLEFORMAT_IEEEFP) &&
             TIFFSetField(tif, TIFFTAG_PLANARCONFIG, (uint16_t)PLANARCONFIG_CONTIG) &&
             TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, (uint16_t)PHOTOMETRIC_MINISBLACK) &&
             TIFFSetField(tif, TIFFTAG_COMPRESSION, (uint16_t)COMPRESSION_ADOBE_DEFLATE) &&
             TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(tif, 0));
    if (ok && img->channels > 1) {
        /* bands beyond the first are plain data, not alpha */
        uint16_t extra[4096];
        for (int i = 0; i < img->channels - 1; i++)
            extra[i] = EXTRASAMPLE_UNSPECIFIED;
        ok = TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, (uint16_t)(img->channels - 1), extra);
    }
    return ok;
}

int ld_image_save_tiff_float(const char *path, const ld_image *img, ld_err *err)
{
    if (img->channels < 1 || img->channels > 4096)
        return ld_errf(err, "%s: cannot write %d bands to a TIFF", path, img->channels);
    size_t plane = (size_t)img->height * (size_t)img->width;
    float *row = malloc((size_t)img->width * (size_t)img->channels * sizeof(float));
    if (!row)
        return ld_errf(err, "%s: out of memory", path);
    ld_atomic_file f;
    if (ld_atomic_open(&f, path, err) != 0) {
        free(row);
        return -1;
    }
    char message[LIB_MSG_LEN] = "";
    TIFF *tif = tiff_open(f.tmp_path, fileno(f.fp), "w", message);
    int ok = tif && tiff_set_float_tags(tif, img);
    for (int y = 0; ok && y < img->height; y++) {
        for (int x = 0; x < img->width; x++)
            for (int c = 0; c < img->channels; c++)
                row[(size_t)x * (size_t)img->channels + (size_t)c] =
                    img->data[(size_t)c * plane + (size_t)y * (size_t)img->width + (size_t)x];
        ok = TIFFWriteScanline(tif, row, (uint32_t)y, 0) == 1;
    }
    ok = ok && TIFFFlush(tif) == 1;
    /* TIFFCleanup frees libtiff's state but leaves the descriptor, which
     * belongs to the atomic file. */
    if (tif)
        TIFFCleanup(tif);
    free(row);
    if (!ok) {
        ld_atomic_abort(&f);
        return ld_errf(err, "%s: cannot write TIFF: %s", path, message[0] ? message : "libtiff failed");
    }
    return ld_atomic_commit(&f, err);
}

/* ---- npy and dispatch --------------------------------------------------------- */

static int load_npy_image(const char *path, ld_image *img, ld_err *err)
{
    ld_npy_array a;
    if (ld_npy_read(path, &a, err) != 0)
        return -1;
    int channels = a.ndim == 3 ? a.shape[0] : 1;
    if ((a.ndim != 2 && a.ndim != 3) || a.numel == 0 || channels > 4096 ||
        a.shape[a.ndim - 2] > IMAGE_MAX_SIDE || a.shape[a.ndim - 1] > IMAGE_MAX_SIDE) {
        ld_npy_free(&a);
        return ld_errf(err, "%s: an image array must have shape [H,W] or [C,H,W] (non-empty)",
                       path);
    }
    img->channels = channels;
    img->height = a.shape[a.ndim - 2];
    img->width = a.shape[a.ndim - 1];
    img->data = a.data; /* ownership moves to the image */
    set_sample_kind(img, a.stored_dtype);
    return 0;
}

typedef enum { FORMAT_UNKNOWN, FORMAT_PNG, FORMAT_TIFF, FORMAT_NPY } file_format;

static file_format detect_format(const unsigned char *magic, size_t n)
{
    if (n >= 8 && png_sig_cmp(magic, 0, 8) == 0)
        return FORMAT_PNG;
    if (n >= 4 && ((memcmp(magic, "II", 2) == 0 && (magic[2] == 42 || magic[2] == 43) && magic[3] == 0) ||
                   (memcmp(magic, "MM", 2) == 0 && magic[2] == 0 && (magic[3] == 42 || magic[3] == 43))))
        return FORMAT_TIFF;
    if (n >= 6 && memcmp(magic, "\x93NUMPY", 6) == 0)
        return FORMAT_NPY;
    return FORMAT_UNKNOWN;
}

int ld_image_is_tiff(const char *path)
{
    unsigned char magic[8];
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return 0;
    size_t n = fread(magic, 1, sizeof magic, fp);
    fclose(fp);
    return detect_format(magic, n) == FORMAT_TIFF;
}

/* The message for a file whose first bytes match no supported format. */
static int unknown_format_error(const char *path, size_t n, ld_err *err)
{
    if (n == 0)
        return ld_errf(err, "%s: empty file, not an image", path);
    if (has_extension(path, ".png"))
        return ld_errf(err, "%s: not a PNG file (no PNG signature)", path);
    if (has_extension(path, ".tif") || has_extension(path, ".tiff"))
        return ld_errf(err, "%s: not a TIFF file (no TIFF header)", path);
    if (has_extension(path, ".npy"))
        return ld_errf(err, "%s: not an npy file (bad magic)", path);
    return ld_errf(err, "%s: not a PNG, TIFF or .npy image", path);
}

int ld_image_load(const char *path, ld_image *img, ld_err *err)
{
    memset(img, 0, sizeof *img);
    FILE *fp = ld_open_regular_file(path, NULL, err);
    if (!fp)
        return -1;
    unsigned char magic[8];
    size_t n = fread(magic, 1, sizeof magic, fp);
    if (ferror(fp)) {
        int saved = errno;
        fclose(fp);
        return ld_errf(err, "%s: cannot read: %s", path, strerror(saved));
    }
    file_format format = detect_format(magic, n);
    int rc;
    double nodata = NAN;
    if (format == FORMAT_PNG) {
        rewind(fp);
        rc = load_png(path, fp, img, err);
        fclose(fp);
    } else {
        fclose(fp);
        rc = format == FORMAT_TIFF  ? load_tiff(path, img, &nodata, err)
             : format == FORMAT_NPY ? load_npy_image(path, img, err)
                                    : unknown_format_error(path, n, err);
    }
    if (rc != 0)
        return -1;
    return check_pixels(path, img, nodata, err);
}
