/* Tests of image I/O: PNG round trips (8/16-bit, grey and RGB), alpha
 * dropped, R = G = B collapsed to one band, float and integer TIFF layouts
 * (strips, tiles, separate planes; 8- to 64-bit integer, 16- to 64-bit
 * float samples), the error paths with their messages
 * (and nothing printed by libpng/libtiff), and the sea-ice sample image
 * when it is present. */
#include <fcntl.h>
#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <tiffio.h>
#include <unistd.h>

#include "data/image.h"
#include "test.h"

static void temp_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "/tmp/ld_test_image_%ld_%s", (long)getpid(), name);
}

/* A test pattern of integers in 0..max, different in every band. */
static float pattern_value(int c, int y, int x, int max)
{
    return (float)((c * 20011 + y * 1013 + x * 37) % (max + 1));
}

static int make_pattern_image(ld_image *img, int channels, int height, int width, int max)
{
    ld_err err = {{0}};
    if (ld_image_alloc(img, channels, height, width, &err) != 0) {
        TEST_FAIL("alloc: %s", err.msg);
        return -1;
    }
    for (int c = 0; c < channels; c++)
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                img->data[((size_t)c * height + y) * width + x] = pattern_value(c, y, x, max);
    return 0;
}

static int same_pixels(const ld_image *a, const ld_image *b)
{
    return a->channels == b->channels && a->height == b->height && a->width == b->width &&
           memcmp(a->data, b->data,
                  (size_t)a->channels * a->height * a->width * sizeof(float)) == 0;
}

static void test_png_round_trips(void)
{
    char path[256];
    temp_path(path, sizeof path, "rt.png");
    for (int channels = 1; channels <= 3; channels += 2)
        for (int depth = 8; depth <= 16; depth += 8) {
            int max = depth == 8 ? 255 : 65535;
            ld_image img, back;
            if (make_pattern_image(&img, channels, 5, 7, max) != 0)
                return;
            ld_err err = {{0}};
            CHECK(ld_image_save_png(path, &img, depth, 0.0f, (float)max, &err) == 0, "save: %s",
                  err.msg);
            if (ld_image_load(path, &back, &err) != 0) {
                TEST_FAIL("load %d-bit, %d channels: %s", depth, channels, err.msg);
            } else {
                CHECK(same_pixels(&img, &back) && back.bit_depth == depth && !back.is_float,
                      "%d-bit %d-channel PNG round trip (got %d channels, %d bits)", depth,
                      channels, back.channels, back.bit_depth);
                ld_image_free(&back);
            }
            ld_image_free(&img);
        }
    remove(path);
}

static void test_png_equal_rgb_becomes_grey(void)
{
    char path[256];
    temp_path(path, sizeof path, "grey.png");
    ld_image img, back;
    if (make_pattern_image(&img, 3, 6, 4, 255) != 0)
        return;
    size_t plane = 6 * 4;
    memcpy(img.data + plane, img.data, plane * sizeof(float));
    memcpy(img.data + 2 * plane, img.data, plane * sizeof(float));
    ld_err err = {{0}};
    CHECK(ld_image_save_png(path, &img, 8, 0, 255, &err) == 0, "save: %s", err.msg);
    if (ld_image_load(path, &back, &err) != 0) {
        TEST_FAIL("load: %s", err.msg);
    } else {
        CHECK(back.channels == 1 && memcmp(back.data, img.data, plane * sizeof(float)) == 0,
              "R = G = B loads as one band (got %d)", back.channels);
        CHECK(ld_image_expand_channels(&back, 3, &err) == 0 && same_pixels(&back, &img),
              "expanded back to the three equal bands: %s", err.msg);
        CHECK(ld_image_expand_channels(&back, 4, &err) != 0 && strstr(err.msg, "expand 3 bands"),
              "only a grey image expands: %s", err.msg);
        ld_image_free(&back);
    }
    ld_image_free(&img);
    remove(path);
}

/* Writes a PNG with libpng directly: rows of packed samples. */
static void write_raw_png(const char *path, int width, int height, int color_type, int depth,
                          const unsigned char *packed, size_t row_bytes, const png_color *palette,
                          int palette_size, const unsigned char *trans, int trans_size)
{
    FILE *fp = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (!fp || setjmp(png_jmpbuf(png))) {
        TEST_FAIL("cannot write test PNG %s", path);
        png_destroy_write_struct(&png, &info);
        if (fp)
            fclose(fp);
        return;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, depth, color_type,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette)
        png_set_PLTE(png, info, palette, palette_size);
    if (trans)
        png_set_tRNS(png, info, trans, trans_size, NULL);
    png_write_info(png, info);
    for (int y = 0; y < height; y++)
        png_write_row(png, packed + (size_t)y * row_bytes);
    png_write_end(png, info);
    png_destroy_write_struct(&png, &info);
    fclose(fp);
}

static void test_png_alpha_and_palette(void)
{
    char path[256];
    temp_path(path, sizeof path, "alpha.png");
    enum { W = 3, H = 2 };
    unsigned char rgba[H * W * 4], ga16[H * W * 4], indexed[H * W];
    for (int i = 0; i < H * W; i++) {
        rgba[4 * i + 0] = (unsigned char)(10 * i);
        rgba[4 * i + 1] = (unsigned char)(10 * i + 1);
        rgba[4 * i + 2] = (unsigned char)(10 * i + 2);
        rgba[4 * i + 3] = (unsigned char)(i * 40); /* alpha must not change the colour */
        unsigned grey = 1000u * (unsigned)i + 7u;
        ga16[4 * i + 0] = (unsigned char)(grey >> 8);
        ga16[4 * i + 1] = (unsigned char)(grey & 0xff);
        ga16[4 * i + 2] = 0;
        ga16[4 * i + 3] = (unsigned char)i;
        indexed[i] = (unsigned char)(i % 2);
    }
    ld_image img;
    ld_err err = {{0}};

    write_raw_png(path, W, H, PNG_COLOR_TYPE_RGBA, 8, rgba, W * 4, NULL, 0, NULL, 0);
    if (ld_image_load(path, &img, &err) != 0) {
        TEST_FAIL("RGBA: %s", err.msg);
    } else {
        int ok = img.channels == 3 && img.bit_depth == 8;
        for (int c = 0; ok && c < 3; c++)
            for (int i = 0; i < H * W; i++)
                ok &= img.data[c * H * W + i] == (float)(10 * i + c);
        CHECK(ok, "RGBA -> RGB with alpha dropped (%d channels)", img.channels);
        ld_image_free(&img);
    }

    write_raw_png(path, W, H, PNG_COLOR_TYPE_GRAY_ALPHA, 16, ga16, W * 4, NULL, 0, NULL, 0);
    if (ld_image_load(path, &img, &err) != 0) {
        TEST_FAIL("grey+alpha: %s", err.msg);
    } else {
        int ok = img.channels == 1 && img.bit_depth == 16;
        for (int i = 0; ok && i < H * W; i++)
            ok &= img.data[i] == (float)(1000 * i + 7);
        CHECK(ok, "16-bit grey+alpha -> grey");
        ld_image_free(&img);
    }

    const png_color palette[2] = {{200, 100, 50}, {1, 2, 3}};
    const unsigned char trans[2] = {255, 0};
    write_raw_png(path, W, H, PNG_COLOR_TYPE_PALETTE, 8, indexed, W, palette, 2, trans, 2);
    if (ld_image_load(path, &img, &err) != 0) {
        TEST_FAIL("palette: %s", err.msg);
    } else {
        CHECK(img.channels == 3 && img.data[0] == 200 && img.data[1] == 1 &&
                  img.data[H * W] == 100 && img.data[2 * H * W + 1] == 3,
              "palette with transparency -> RGB");
        ld_image_free(&img);
    }
    remove(path);
}

static void test_png_save_maps_range(void)
{
    char path[256];
    temp_path(path, sizeof path, "range.png");
    ld_image img, back;
    ld_err err = {{0}};
    if (ld_image_alloc(&img, 1, 1, 5, &err) != 0)
        return;
    const float values[5] = {-2, -1, 0, 1, 2};
    memcpy(img.data, values, sizeof values);
    CHECK(ld_image_save_png(path, &img, 8, -1, 1, &err) == 0, "save: %s", err.msg);
    CHECK(ld_image_load(path, &back, &err) == 0, "load: %s", err.msg);
    const float want8[5] = {0, 0, 128, 255, 255};
    check_close("8-bit, [-1, 1] -> 0..255 clamped", back.data, want8, 5, 0, 0);
    ld_image_free(&back);
    CHECK(ld_image_save_png(path, &img, 16, -1, 1, &err) == 0, "save: %s", err.msg);
    CHECK(ld_image_load(path, &back, &err) == 0, "load: %s", err.msg);
    const float want16[5] = {0, 0, 32768, 65535, 65535};
    check_close("16-bit, [-1, 1] -> 0..65535 clamped", back.data, want16, 5, 0, 0);
    ld_image_free(&back);

    CHECK(ld_image_save_png(path, &img, 12, -1, 1, &err) != 0 && strstr(err.msg, "8 or 16"),
          "bit depth 12 refused: %s", err.msg);
    CHECK(ld_image_save_png(path, &img, 8, 1, 1, &err) != 0 && strstr(err.msg, "empty"),
          "empty range refused: %s", err.msg);
    ld_image_free(&img);
    CHECK(ld_image_alloc(&img, 2, 3, 3, &err) == 0, "alloc");
    CHECK(ld_image_save_png(path, &img, 8, 0, 1, &err) != 0 && strstr(err.msg, "has 2"),
          "2 channels refused: %s", err.msg);
    ld_image_free(&img);
    remove(path);
}

static void test_png_from_rgb_buffer(void)
{
    char path[256];
    temp_path(path, sizeof path, "buffer.png");
    enum { H = 4, W = 6 };
    unsigned char rgb[H * W * 3];
    for (int i = 0; i < H * W * 3; i++)
        rgb[i] = (unsigned char)(i * 7);
    ld_err err = {{0}};
    ld_image img;
    CHECK(ld_image_save_rgb8_png(path, rgb, H, W, &err) == 0, "save: %s", err.msg);
    if (ld_image_load(path, &img, &err) != 0) {
        TEST_FAIL("load: %s", err.msg);
    } else {
        int ok = img.channels == 3 && img.height == H && img.width == W;
        for (int c = 0; ok && c < 3; c++)
            for (int i = 0; i < H * W; i++)
                ok &= img.data[c * H * W + i] == (float)rgb[3 * i + c];
        CHECK(ok, "interleaved RGB buffer written as a PNG");
        ld_image_free(&img);
    }
    remove(path);
}

static void test_tiff_float_round_trip(void)
{
    char path[256];
    temp_path(path, sizeof path, "float.tif");
    ld_image img, back;
    ld_err err = {{0}};
    if (ld_image_alloc(&img, 4, 9, 13, &err) != 0)
        return;
    for (int i = 0; i < 4 * 9 * 13; i++)
        img.data[i] = sinf((float)i * 0.731f) * powf(10.0f, (float)(i % 7) - 3.0f);
    CHECK(ld_image_save_tiff_float(path, &img, &err) == 0, "save: %s", err.msg);
    if (ld_image_load(path, &back, &err) != 0) {
        TEST_FAIL("load: %s", err.msg);
    } else {
        CHECK(same_pixels(&img, &back) && back.is_float && back.bit_depth == 32,
              "4-band float TIFF round trip (%d bands)", back.channels);
        ld_image_free(&back);
    }
    ld_image_free(&img);
    remove(path);
}

/* How a test TIFF is laid out. */
typedef struct tiff_spec {
    int width, height, samples, bits, format; /* format: SAMPLEFORMAT_* */
    int separate;                             /* planar configuration */
    int tile;                                 /* tile side, 0 for strips */
    int rows_per_strip;
    int alpha; /* last sample is unassociated alpha */
    const char *nodata; /* GDAL no-data tag, or NULL */
} tiff_spec;

/* Sample s of pixel (y, x) in the test TIFF, exact in float32: integers in
 * range of the type (32- and 64-bit ones beyond 16 and 32 bits, signed ones
 * negative too), floats with a fraction and a sign. */
static double tiff_test_value(const tiff_spec *t, int s, int y, int x)
{
    double top = t->bits == 8 ? 256 : 65536, v = pattern_value(s, y, x, (int)top - 1);
    if (t->format == SAMPLEFORMAT_IEEEFP) /* float16: multiples of 0.5 below 256 */
        return t->bits == 16 ? (fmod(v, 1024) - 512) * 0.5 : v * 0.25 - 5000;
    double scale = t->bits == 64 ? 0x1p40 : t->bits == 32 ? 0x1p8 : 1;
    return t->format == SAMPLEFORMAT_INT ? (v - top / 2) * scale : v * scale;
}

/* The IEEE half-precision bits of v (0, or a normal value with at most 11
 * significant bits, so exact). */
static uint16_t half_bits(double v)
{
    uint16_t sign = v < 0 ? 0x8000 : 0;
    if (v == 0)
        return sign;
    int e;
    double m = frexp(fabs(v), &e); /* |v| = m 2^e, m in [0.5, 1) */
    return (uint16_t)(sign | (e - 1 + 15) << 10 | (int)((2 * m - 1) * 1024));
}

/* Stores v as one sample of the test TIFF's type, in host byte order. */
static void put_sample(unsigned char *p, const tiff_spec *t, double v)
{
    if (t->format == SAMPLEFORMAT_IEEEFP) {
        float f = (float)v;
        uint16_t h = half_bits(v);
        memcpy(p, t->bits == 64 ? (const void *)&v : t->bits == 32 ? (const void *)&f : &h,
               (size_t)t->bits / 8);
        return;
    }
    uint64_t u = (uint64_t)(int64_t)v; /* two's complement for the signed types */
    uint32_t u32 = (uint32_t)u;
    uint16_t u16 = (uint16_t)u;
    uint8_t u8 = (uint8_t)u;
    memcpy(p, t->bits == 64 ? (const void *)&u : t->bits == 32 ? (const void *)&u32
              : t->bits == 16 ? (const void *)&u16 : &u8,
           (size_t)t->bits / 8);
}

/* Writes the test TIFF with libtiff directly, block by block. */
static void write_test_tiff(const char *path, const tiff_spec *t)
{
    TIFF *tif = TIFFOpen(path, "w");
    if (!tif) {
        TEST_FAIL("cannot write test TIFF %s", path);
        return;
    }
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)t->width);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)t->height);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)t->samples);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)t->bits);
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, (uint16_t)t->format);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG,
                 (uint16_t)(t->separate ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG));
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC,
                 (uint16_t)(t->samples >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK));
    TIFFSetField(tif, TIFFTAG_COMPRESSION, (uint16_t)COMPRESSION_LZW);
    if (t->nodata) { /* GDAL's tag, which libtiff does not know until told */
        static const TIFFFieldInfo nodata_tag = {TIFFTAG_GDAL_NODATA, -1, -1, TIFF_ASCII,
                                                 FIELD_CUSTOM, 1, 0, "GDALNoDataValue"};
        TIFFMergeFieldInfo(tif, &nodata_tag, 1);
        TIFFSetField(tif, TIFFTAG_GDAL_NODATA, t->nodata);
    }
    int base = t->samples >= 3 ? 3 : 1;
    if (t->samples > base) {
        uint16_t extra[8];
        for (int i = 0; i < t->samples - base; i++)
            extra[i] = t->alpha && i == t->samples - base - 1 ? EXTRASAMPLE_UNASSALPHA
                                                              : EXTRASAMPLE_UNSPECIFIED;
        TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, (uint16_t)(t->samples - base), extra);
    }
    int bw = t->tile ? t->tile : t->width, bh = t->tile ? t->tile : t->rows_per_strip;
    if (t->tile) {
        TIFFSetField(tif, TIFFTAG_TILEWIDTH, (uint32_t)t->tile);
        TIFFSetField(tif, TIFFTAG_TILELENGTH, (uint32_t)t->tile);
    } else {
        TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, (uint32_t)t->rows_per_strip);
    }
    int planes = t->separate ? t->samples : 1, per_pixel = t->separate ? 1 : t->samples;
    size_t bytes = (size_t)t->bits / 8, block_bytes = (size_t)bw * bh * per_pixel * bytes;
    unsigned char *block = malloc(block_bytes);
    for (int plane = 0; plane < planes; plane++)
        for (int y0 = 0; y0 < t->height; y0 += bh)
            for (int x0 = 0; x0 < t->width; x0 += bw) {
                memset(block, 0, block_bytes);
                int rows = y0 + bh <= t->height ? bh : t->height - y0;
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < bw && x0 + c < t->width; c++)
                        for (int s = 0; s < per_pixel; s++)
                            put_sample(block + (((size_t)r * bw + c) * per_pixel + s) * bytes, t,
                                       tiff_test_value(t, plane + s, y0 + r, x0 + c));
                if (t->tile)
                    TIFFWriteEncodedTile(tif, TIFFComputeTile(tif, (uint32_t)x0, (uint32_t)y0, 0,
                                                              (uint16_t)plane),
                                         block, (tmsize_t)block_bytes);
                else
                    TIFFWriteEncodedStrip(tif, TIFFComputeStrip(tif, (uint32_t)y0, (uint16_t)plane),
                                          block, (tmsize_t)((size_t)rows * bw * per_pixel * bytes));
            }
    free(block);
    TIFFClose(tif);
}

/* Loads the test TIFF at path and checks its size, kind of samples and
 * every value; `what` names the case in the message. */
static void check_tiff_read_back(const char *path, const tiff_spec *t, int want_depth,
                                 int want_float, const char *what)
{
    ld_image img;
    ld_err err = {{0}};
    if (ld_image_load(path, &img, &err) != 0) {
        TEST_FAIL("%s: %s", what, err.msg);
        return;
    }
    int bands = t->samples - t->alpha;
    int ok = img.channels == bands && img.height == t->height && img.width == t->width &&
             img.bit_depth == want_depth && img.is_float == want_float;
    for (int c = 0; ok && c < bands; c++)
        for (int y = 0; y < t->height; y++)
            for (int x = 0; x < t->width; x++)
                ok &= img.data[((size_t)c * t->height + y) * t->width + x] ==
                      (float)tiff_test_value(t, c, y, x);
    CHECK(ok, "%s: %d bands of %d x %d read back (got %d bands, %d-bit, float %d)", what,
          bands, t->height, t->width, img.channels, img.bit_depth, img.is_float);
    ld_image_free(&img);
}

/* Writes each spec to path and reads it back: as its own bit depth, or
 * as a float source (bit depth 32) when as_float. */
static void write_and_read_back(const char *path, const tiff_spec *specs, size_t n, int as_float)
{
    for (size_t k = 0; k < n; k++) {
        char what[64];
        snprintf(what, sizeof what, "TIFF %zu (%d-bit %s)", k, specs[k].bits,
                 specs[k].format == SAMPLEFORMAT_IEEEFP ? "float"
                 : specs[k].format == SAMPLEFORMAT_INT  ? "signed"
                                                        : "unsigned");
        write_test_tiff(path, &specs[k]);
        check_tiff_read_back(path, &specs[k], as_float ? 32 : specs[k].bits, as_float, what);
    }
}

static void test_tiff_integer_layouts(void)
{
    char path[256];
    temp_path(path, sizeof path, "layout.tif");
    const tiff_spec specs[] = {
        /* 16-bit, two bands in separate planes, 16 x 16 tiles, partial tiles */
        {35, 21, 2, 16, SAMPLEFORMAT_UINT, 1, 16, 0, 0, NULL},
        /* 8-bit RGBA, interleaved, strips of 3 rows: alpha dropped */
        {11, 8, 4, 8, SAMPLEFORMAT_UINT, 0, 0, 3, 1, NULL},
        /* signed 16-bit grey in one strip per row */
        {9, 5, 1, 16, SAMPLEFORMAT_INT, 0, 0, 1, 0, NULL},
        /* 8-bit, five bands, separate planes, strips */
        {7, 6, 5, 8, SAMPLEFORMAT_UINT, 1, 0, 4, 0, NULL},
    };
    write_and_read_back(path, specs, sizeof specs / sizeof specs[0], 0);
    remove(path);
}

/* 32- and 64-bit integer and 16- and 64-bit float samples (the help's
 * "integer or float bands"): read exactly, kept as float sources are
 * (bit depth 32, range mapped in the frame PNGs) like wide .npy types. */
static void test_tiff_wide_and_float_samples(void)
{
    char path[256];
    temp_path(path, sizeof path, "wide.tif");
    const tiff_spec specs[] = {
        {9, 5, 1, 32, SAMPLEFORMAT_INT, 0, 0, 2, 0, NULL},
        {35, 21, 2, 32, SAMPLEFORMAT_UINT, 1, 16, 0, 0, NULL},
        {7, 6, 1, 64, SAMPLEFORMAT_INT, 0, 0, 4, 0, NULL},
        {7, 6, 2, 64, SAMPLEFORMAT_UINT, 0, 0, 3, 0, NULL},
        {11, 8, 3, 64, SAMPLEFORMAT_IEEEFP, 0, 0, 3, 0, NULL},
        {11, 8, 2, 16, SAMPLEFORMAT_IEEEFP, 1, 0, 5, 0, NULL},
    };
    write_and_read_back(path, specs, sizeof specs / sizeof specs[0], 1);

    /* a float64 sample beyond float32's range is named as such, not as an
     * infinite pixel: band 1 at column 3, row 2 */
    TIFF *tif = TIFFOpen(path, "w");
    double rows[3][4 * 2] = {{0}};
    rows[2][3 * 2 + 1] = -1e300;
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, 4u);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, 3u);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, 2);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 64);
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, 1, (uint16_t[]){EXTRASAMPLE_UNSPECIFIED});
    for (uint32_t y = 0; y < 3; y++)
        TIFFWriteScanline(tif, rows[y], y, 0);
    TIFFClose(tif);
    ld_image img;
    ld_err err = {{0}};
    CHECK(ld_image_load(path, &img, &err) != 0 &&
              strstr(err.msg, "pixel at column 3, row 2 of band 1 is -1e+300, finite but outside "
                              "float32's range (|x| > 3.4e38)") &&
              strstr(err.msg, path),
          "float64 TIFF sample beyond float32: %s", err.msg);
    remove(path);
}

/* A GeoTIFF's no-data value (GDAL's tag): a file whose pixels include it
 * is refused, naming the pixel and the value; one whose pixels do not is
 * read as usual. */
static void test_tiff_nodata(void)
{
    char path[256];
    temp_path(path, sizeof path, "nodata.tif");
    tiff_spec t = {9, 5, 1, 16, SAMPLEFORMAT_INT, 0, 0, 5, 0, NULL};
    char present[32];
    snprintf(present, sizeof present, "%g", tiff_test_value(&t, 0, 0, 0));
    const char *values[2] = {present, "12345.5"};
    for (int k = 0; k < 2; k++) {
        t.nodata = values[k];
        write_test_tiff(path, &t);
        ld_image img;
        ld_err err = {{0}};
        int rc = ld_image_load(path, &img, &err);
        if (k == 0) {
            char want[128];
            snprintf(want, sizeof want,
                     "pixel at column 0, row 0 of band 0 holds the file's no-data value %s",
                     present);
            CHECK(rc != 0 && strstr(err.msg, want) && strstr(err.msg, path),
                  "no-data pixels refused: %s", err.msg);
        } else {
            CHECK(rc == 0, "a no-data value no pixel holds: %s", err.msg);
            if (rc == 0)
                ld_image_free(&img);
        }
    }
    remove(path);
}

/* ---- error paths ---------------------------------------------------------------- */

/* Sends stderr to a file while the error paths run, to check that libpng
 * and libtiff print nothing. */
typedef struct stderr_capture {
    int saved_fd;
    char path[256];
} stderr_capture;

static void capture_stderr(stderr_capture *cap)
{
    temp_path(cap->path, sizeof cap->path, "stderr.txt");
    fflush(stderr);
    cap->saved_fd = dup(2);
    int fd = open(cap->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 2);
    close(fd);
}

/* Restores stderr; returns the number of bytes written meanwhile. */
static long release_stderr(stderr_capture *cap)
{
    fflush(stderr);
    dup2(cap->saved_fd, 2);
    close(cap->saved_fd);
    struct stat st;
    long size = stat(cap->path, &st) == 0 ? (long)st.st_size : -1;
    remove(cap->path);
    return size;
}

static void expect_load_error(const char *path, const char *want)
{
    ld_image img;
    ld_err err = {{0}};
    int rc = ld_image_load(path, &img, &err);
    CHECK(rc != 0 && strstr(err.msg, want) && strstr(err.msg, path) && !strchr(err.msg, '\n'),
          "%s: want a one-line error with '%s', got rc %d: %s", path, want, rc, err.msg);
    if (rc == 0)
        ld_image_free(&img);
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    if (fp) {
        fputs(text, fp);
        fclose(fp);
    }
}

static void test_load_errors(void)
{
    char png_path[256], tif_path[256], other[256];
    temp_path(png_path, sizeof png_path, "bad.png");
    temp_path(tif_path, sizeof tif_path, "bad.tif");
    temp_path(other, sizeof other, "bad.dat");
    stderr_capture cap;
    capture_stderr(&cap);

    expect_load_error("/tmp/ld_test_image_no_such_file.png", "cannot open: No such file");
    write_text(png_path, "hello, I am text\n");
    expect_load_error(png_path, "not a PNG file");
    write_text(tif_path, "hello, I am text\n");
    expect_load_error(tif_path, "not a TIFF file");
    write_text(other, "");
    expect_load_error(other, "empty file");
    write_text(other, "GIF89a....");
    expect_load_error(other, "not a PNG, TIFF or .npy image");

    /* truncated PNG: noise so that the image data is most of the file */
    ld_image img;
    ld_err err = {{0}};
    if (make_pattern_image(&img, 3, 64, 64, 255) == 0) {
        for (int i = 0; i < 3 * 64 * 64; i++)
            img.data[i] = (float)((i * 2654435761u) >> 24);
        CHECK(ld_image_save_png(png_path, &img, 8, 0, 255, &err) == 0, "save: %s", err.msg);
        struct stat st;
        stat(png_path, &st);
        CHECK(truncate(png_path, st.st_size / 2) == 0, "truncate");
        expect_load_error(png_path, "corrupt or truncated PNG");

        /* a NaN in a float TIFF, band 1 at x = 3, y = 2 */
        img.data[64 * 64 + 2 * 64 + 3] = NAN;
        CHECK(ld_image_save_tiff_float(tif_path, &img, &err) == 0, "save: %s", err.msg);
        expect_load_error(tif_path, "pixel at column 3, row 2 of band 1 is NaN");
        img.data[64 * 64 + 2 * 64 + 3] = -INFINITY;
        CHECK(ld_image_save_tiff_float(tif_path, &img, &err) == 0, "save: %s", err.msg);
        expect_load_error(tif_path, "pixel at column 3, row 2 of band 1 is infinite");

        stat(tif_path, &st);
        CHECK(truncate(tif_path, st.st_size / 2) == 0, "truncate");
        expect_load_error(tif_path, "corrupt");
        ld_image_free(&img);
    }

    /* an unsupported sample type: complex floats */
    TIFF *tif = TIFFOpen(tif_path, "w");
    float row[8] = {1, 2, 3, 4};
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, 4u);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, 1u);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, 64);
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_COMPLEXIEEEFP);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFWriteScanline(tif, row, 0, 0);
    TIFFClose(tif);
    expect_load_error(tif_path, "unsupported TIFF layout: 64-bit complex or untyped samples "
                                "(supported: 8/16/32/64-bit integer, 16/32/64-bit float)");

    /* a folder where an image is expected */
    remove(other);
    CHECK(mkdir(other, 0700) == 0, "mkdir %s", other);
    expect_load_error(other, "is a folder, not a file");
    rmdir(other);

    long printed = release_stderr(&cap);
    CHECK(printed == 0, "libpng/libtiff printed %ld bytes to stderr", printed);
    remove(png_path);
    remove(tif_path);
    remove(other);
}

static void test_save_errors(void)
{
    ld_image img;
    ld_err err = {{0}};
    if (make_pattern_image(&img, 1, 3, 3, 255) != 0)
        return;
    const char *path = "/tmp/ld_test_image_no_such_dir/x.png";
    CHECK(ld_image_save_png(path, &img, 8, 0, 255, &err) != 0 && strstr(err.msg, "cannot write"),
          "PNG into a missing folder: %s", err.msg);
    CHECK(ld_image_save_tiff_float("/tmp/ld_test_image_no_such_dir/x.tif", &img, &err) != 0 &&
              strstr(err.msg, "cannot write"),
          "TIFF into a missing folder: %s", err.msg);
    ld_image_free(&img);
}

static void test_sea_ice_sample(void)
{
    const char *dir = getenv("LATDYN_SEAICE_DIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/Sentinel1_HH_Sigma0_2020-03-19T16_01Z.png",
             dir ? dir : LD_FIXTURE_DIR "/../../../shared/data/seaice");
    if (access(path, R_OK) != 0) {
        char reason[1200];
        snprintf(reason, sizeof reason,
                 "sea-ice sample %s not found (set LATDYN_SEAICE_DIR to its folder)", path);
        test_skip(reason);
        return;
    }
    ld_image img;
    ld_err err = {{0}};
    if (ld_image_load(path, &img, &err) != 0) {
        TEST_FAIL("%s", err.msg);
        return;
    }
    CHECK(img.channels == 1 && img.height == 900 && img.width == 900 && img.bit_depth == 8,
          "RGBA with R = G = B loads as one 900 x 900 band (got %d x %d x %d, %d-bit)",
          img.channels, img.height, img.width, img.bit_depth);
    float lo = 255, hi = 0;
    for (int i = 0; i < img.height * img.width; i++) {
        lo = fminf(lo, img.data[i]);
        hi = fmaxf(hi, img.data[i]);
    }
    CHECK(lo >= 0 && hi <= 255 && hi > lo, "values in 0..255 and not constant (%g..%g)", lo, hi);
    ld_image_free(&img);
}

LD_TEST_SUITE(image) = {
    {"png_round_trips", test_png_round_trips},
    {"png_equal_rgb_becomes_grey", test_png_equal_rgb_becomes_grey},
    {"png_alpha_and_palette", test_png_alpha_and_palette},
    {"png_save_maps_range", test_png_save_maps_range},
    {"png_from_rgb_buffer", test_png_from_rgb_buffer},
    {"tiff_float_round_trip", test_tiff_float_round_trip},
    {"tiff_integer_layouts", test_tiff_integer_layouts},
    {"tiff_wide_and_float_samples", test_tiff_wide_and_float_samples},
    {"tiff_nodata", test_tiff_nodata},
    {"load_errors", test_load_errors},
    {"save_errors", test_save_errors},
    {"sea_ice_sample", test_sea_ice_sample},
    {NULL, NULL},
};
