/* Tests of the GeoTIFF georeferencing (data/georef.h): a geotransform with
 * its coordinate system and a set of ground control points survive a write
 * and a read, files without georeferencing read as empty, a broken TIFF
 * fails with its name; and `latdyn between` on two GeoTIFFs writes frame
 * and field GeoTIFFs that carry the input's georeferencing and hold the
 * same values as frames.npy and fields.npy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/georef.h"
#include "data/image.h"
#include "data/npy.h"
#include "test.h"

#define WGS84_WKT                                                                          \
    "GEOGCS[\"WGS 84\",DATUM[\"WGS_1984\",SPHEROID[\"WGS 84\",6378137,298.257223563]],"     \
    "PRIMEM[\"Greenwich\",0],UNIT[\"degree\",0.0174532925199433],AUTHORITY[\"EPSG\",\"4326\"]]"

/* A smooth texture moved by (shift, 0) pixels, [bands, h, w]. */
static float *texture(int bands, int h, int w, float shift)
{
    float *data = malloc(sizeof(float) * (size_t)bands * h * w);
    for (int b = 0; b < bands; b++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                data[((size_t)b * h + y) * w + x] =
                    (float)(100 * (b + 1) + sinf(0.5f * ((float)x - shift)) * cosf(0.4f * (float)y));
    return data;
}

/* A north-up geotransform in degrees and its system. */
static ld_georef map_georef(void)
{
    ld_georef g = {0};
    g.has_transform = 1;
    double t[6] = {-52.25, 0.001, 0, 71.5, 0, -0.0005};
    memcpy(g.transform, t, sizeof t);
    g.projection = WGS84_WKT;
    return g;
}

static int transforms_equal(const ld_georef *a, const ld_georef *b)
{
    for (int i = 0; i < 6; i++)
        if (a->transform[i] != b->transform[i])
            return 0;
    return a->has_transform && b->has_transform;
}

static void test_transform_round_trip(void)
{
    test_scratch_make("georef");
    const char *path = test_scratch("map.tif");
    int bands = 2, h = 5, w = 7;
    float *data = texture(bands, h, w, 0);
    ld_georef want = map_georef(), got, again;
    ld_err err = {{0}};
    static const char *const names[2] = {"HH", "HV"};
    CHECK(ld_georef_save_tiff(path, data, bands, h, w, &want, names, &err) == 0, "save: %s",
          err.msg);
    CHECK(ld_georef_read(path, &got, &err) == 0, "read: %s", err.msg);
    CHECK(got.from_tiff && ld_georef_present(&got), "a georeferenced TIFF");
    CHECK(transforms_equal(&got, &want), "transform back: %g %g %g %g %g %g", got.transform[0],
          got.transform[1], got.transform[2], got.transform[3], got.transform[4],
          got.transform[5]);
    CHECK(got.projection && strstr(got.projection, "WGS 84") &&
              strstr(got.projection, "4326"),
          "system back: %s", got.projection ? got.projection : "(none)");
    CHECK(got.gcp_count == 0, "no GCPs (%d)", got.gcp_count);
    /* what was read, written again, reads the same */
    CHECK(ld_georef_save_tiff(path, data, bands, h, w, &got, NULL, &err) == 0 &&
              ld_georef_read(path, &again, &err) == 0,
          "second round: %s", err.msg);
    CHECK(ld_georef_equal(&got, &again), "second round changed the georeferencing");
    /* the pixels through libtiff, exactly */
    ld_image img = {0};
    CHECK(ld_image_load(path, &img, &err) == 0, "load: %s", err.msg);
    CHECK(img.channels == bands && img.height == h && img.width == w && img.is_float,
          "%d x %d x %d float (got %d x %d x %d)", bands, h, w, img.channels, img.height,
          img.width);
    if (!test_failed())
        check_close("bands", img.data, data, (size_t)bands * h * w, 0, 0);
    ld_image_free(&img);
    ld_georef_free(&got);
    ld_georef_free(&again);
    free(data);
    test_scratch_remove();
}

static void test_gcp_round_trip(void)
{
    test_scratch_make("georef");
    const char *path = test_scratch("gcps.tif");
    int h = 6, w = 6;
    float *data = texture(1, h, w, 0);
    ld_georef_gcp gcps[4] = {{0, 0, -52.1, 71.4, 0},
                             {5.5, 0, -52.0, 71.41, 12.5},
                             {0, 5.5, -52.11, 71.3, 0},
                             {5.5, 5.5, -52.01, 71.31, -3}};
    ld_georef want = {0}, got;
    want.gcp_count = 4;
    want.gcps = gcps;
    want.gcp_projection = WGS84_WKT;
    ld_err err = {{0}};
    CHECK(ld_georef_save_tiff(path, data, 1, h, w, &want, NULL, &err) == 0, "save: %s", err.msg);
    CHECK(ld_georef_read(path, &got, &err) == 0, "read: %s", err.msg);
    CHECK(got.gcp_count == 4 && !got.has_transform, "4 GCPs and no transform (got %d, %d)",
          got.gcp_count, got.has_transform);
    for (int i = 0; i < got.gcp_count && i < 4; i++)
        CHECK(got.gcps[i].pixel == gcps[i].pixel && got.gcps[i].line == gcps[i].line &&
                  got.gcps[i].x == gcps[i].x && got.gcps[i].y == gcps[i].y &&
                  got.gcps[i].z == gcps[i].z,
              "GCP %d back: (%g, %g) -> (%g, %g, %g)", i, got.gcps[i].pixel, got.gcps[i].line,
              got.gcps[i].x, got.gcps[i].y, got.gcps[i].z);
    CHECK(got.gcp_projection && strstr(got.gcp_projection, "WGS 84"), "GCP system back: %s",
          got.gcp_projection ? got.gcp_projection : "(none)");
    ld_georef_free(&got);
    free(data);
    test_scratch_remove();
}

static void test_files_without_georef(void)
{
    test_scratch_make("georef");
    ld_err err = {{0}};
    ld_georef g;
    /* a plain float TIFF (libtiff, no geo tags) */
    float *data = texture(1, 4, 4, 0);
    ld_image img = {1, 4, 4, data, 32, 1};
    const char *tif = test_scratch("plain.tif");
    CHECK(ld_image_save_tiff_float(tif, &img, &err) == 0, "save: %s", err.msg);
    CHECK(ld_georef_read(tif, &g, &err) == 0 && g.from_tiff && !ld_georef_present(&g),
          "plain TIFF: a TIFF without georeferencing (%s)", err.msg);
    ld_georef_free(&g);
    /* an .npy is not a TIFF */
    int shape[2] = {4, 4};
    const char *npy = test_scratch("plain.npy");
    CHECK(ld_npy_write(npy, data, 2, shape, &err) == 0, "npy: %s", err.msg);
    CHECK(ld_georef_read(npy, &g, &err) == 0 && !g.from_tiff && !ld_georef_present(&g),
          ".npy: no TIFF, no georeferencing");
    ld_georef_free(&g);
    /* a file that starts like a TIFF and is not one */
    const char *broken = test_scratch("broken.tif");
    FILE *f = fopen(broken, "wb");
    static const char bytes[] = "II*\0 and then no TIFF at all";
    fwrite(bytes, 1, sizeof bytes - 1, f);
    fclose(f);
    err.msg[0] = 0;
    CHECK(ld_georef_read(broken, &g, &err) != 0 && strstr(err.msg, "broken.tif"),
          "a broken TIFF fails naming the file (%s)", err.msg);
    free(data);
    test_scratch_remove();
}

/* Values of a float TIFF [bands, h, w] through libtiff; NULL on failure. */
static float *tiff_values(const char *path, int bands, int h, int w)
{
    ld_image img = {0};
    ld_err err = {{0}};
    if (ld_image_load(path, &img, &err) != 0) {
        TEST_FAIL("%s", err.msg);
        return NULL;
    }
    if (img.channels != bands || img.height != h || img.width != w) {
        TEST_FAIL("%s: %d x %d x %d, want %d x %d x %d", path, img.channels, img.height,
                  img.width, bands, h, w);
        ld_image_free(&img);
        return NULL;
    }
    return img.data;
}

/* The TIFF at `path` carries `want` and holds `values` ([bands, h, w]). */
static void check_output_tiff(const char *path, const ld_georef *want, const float *values,
                              int bands, int h, int w)
{
    ld_georef got;
    ld_err err = {{0}};
    if (ld_georef_read(path, &got, &err) != 0) {
        TEST_FAIL("%s", err.msg);
        return;
    }
    CHECK(transforms_equal(&got, want), "%s: the input's geotransform", path);
    CHECK(got.projection && strstr(got.projection, "WGS 84"), "%s: the input's system", path);
    ld_georef_free(&got);
    float *data = tiff_values(path, bands, h, w);
    if (data)
        check_close(path, data, values, (size_t)bands * h * w, 0, 0);
    free(data);
}

static void test_between_carries_georef(void)
{
    test_scratch_make("georef");
    int h = 24, w = 24, N = 2;
    float *a = texture(1, h, w, 0), *b = texture(1, h, w, 2);
    ld_georef g = map_georef();
    ld_err err = {{0}};
    CHECK(ld_georef_save_tiff(test_scratch("a.tif"), a, 1, h, w, &g, NULL, &err) == 0 &&
              ld_georef_save_tiff(test_scratch("b.tif"), b, 1, h, w, &g, NULL, &err) == 0,
          "inputs: %s", err.msg);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' between '%s/a.tif' '%s/b.tif' -o '%s/out' --method flow "
             "--stages %d --quiet > /dev/null", LD_BIN, test_scratch_dir, test_scratch_dir, test_scratch_dir, N);
    CHECK(system(cmd) == 0, "%s", cmd);
    ld_npy_array frames_npy = {0}, fields_npy = {0};
    if (!test_failed() &&
        (ld_npy_read(test_scratch("out/frames.npy"), &frames_npy, &err) != 0 ||
         ld_npy_read(test_scratch("out/fields.npy"), &fields_npy, &err) != 0))
        TEST_FAIL("%s", err.msg);
    const float *frames = frames_npy.data, *fields = fields_npy.data;
    if (!test_failed()) {
        size_t plane = (size_t)h * w;
        for (int n = 0; n <= N; n++) {
            char name[64];
            snprintf(name, sizeof name, "out/frames/frame_%03d.tif", n);
            check_output_tiff(test_scratch(name), &g, frames + n * plane, 1, h, w);
        }
        for (int n = 0; n < N; n++) {
            char name[64];
            snprintf(name, sizeof name, "out/fields/field_%03d.tif", n);
            check_output_tiff(test_scratch(name), &g, fields + 2 * n * plane, 2, h, w);
        }
    }
    /* only I1 georeferenced: said on stderr, and the outputs carry I1's */
    ld_georef none = {0};
    CHECK(ld_georef_save_tiff(test_scratch("plain.tif"), a, 1, h, w, &none, NULL, &err) == 0,
          "plain input: %s", err.msg);
    snprintf(cmd, sizeof cmd, "'%s' between '%s/plain.tif' '%s/b.tif' -o '%s/out_one' --method "
             "flow --stages %d > /dev/null 2> '%s/one.txt'", LD_BIN, test_scratch_dir,
             test_scratch_dir, test_scratch_dir, N, test_scratch_dir);
    CHECK(system(cmd) == 0, "%s", cmd);
    size_t note_len = 0;
    char *note = (char *)test_read_bytes(test_scratch("one.txt"), &note_len);
    CHECK(note && strstr(note, "between: only ") && strstr(note, "b.tif is georeferenced; the "
                                                                 "TIFF outputs carry its"),
          "stderr: %s", note ? note : "(none)");
    free(note);
    ld_georef carried;
    if (ld_georef_read(test_scratch("out_one/frames/frame_000.tif"), &carried, &err) == 0) {
        CHECK(transforms_equal(&carried, &g), "the outputs carry I1's geotransform");
        ld_georef_free(&carried);
    } else {
        TEST_FAIL("%s", err.msg);
    }
    /* .npy inputs: no TIFFs */
    int shape2[2] = {h, w};
    CHECK(ld_npy_write(test_scratch("a.npy"), a, 2, shape2, &err) == 0 &&
              ld_npy_write(test_scratch("b.npy"), b, 2, shape2, &err) == 0,
          "npy inputs: %s", err.msg);
    snprintf(cmd, sizeof cmd, "'%s' between '%s/a.npy' '%s/b.npy' -o '%s/out_npy' --method "
             "crossfade --stages %d --quiet > /dev/null", LD_BIN, test_scratch_dir, test_scratch_dir,
             test_scratch_dir, N);
    CHECK(system(cmd) == 0, "%s", cmd);
    struct stat st;
    CHECK(stat(test_scratch("out_npy/frames/frame_000.png"), &st) == 0 &&
              stat(test_scratch("out_npy/frames/frame_000.tif"), &st) != 0,
          ".npy inputs give frame PNGs and no TIFFs");
    ld_npy_free(&frames_npy);
    ld_npy_free(&fields_npy);
    free(a);
    free(b);
    test_scratch_remove();
}

LD_TEST_SUITE(georef) = {
    {"transform_round_trip", test_transform_round_trip},
    {"gcp_round_trip", test_gcp_round_trip},
    {"files_without_georef", test_files_without_georef},
    {"between_carries_georef", test_between_carries_georef},
    {NULL, NULL},
};
