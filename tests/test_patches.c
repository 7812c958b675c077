/* Tests of the patch grid, patch-pair cutting with per-pair normalisation,
 * and stitching (plain tiles and the blended default): coverage, exact
 * reconstruction of constant and smooth images, no seams, and the error
 * paths. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/patches.h"
#include "data/pattern.h"
#include "test.h"

/* Image sizes, patch sizes and strides, including sizes that are not
 * multiples of the stride and a patch as large as one side. */
static const struct {
    int height, width, patch, stride;
} cases[] = {
    {23, 17, 8, 3}, {23, 17, 8, 8}, {9, 31, 7, 2}, {40, 33, 16, 5}, {16, 21, 16, 4}, {12, 12, 5, 5},
};
#define CASE_COUNT ((int)(sizeof cases / sizeof cases[0]))

static int make_grid(ld_patch_grid *g, int k)
{
    ld_err err = {{0}};
    if (ld_patch_grid_init(g, cases[k].height, cases[k].width, cases[k].patch, cases[k].stride,
                           &err) != 0) {
        TEST_FAIL("grid %d: %s", k, err.msg);
        return -1;
    }
    return 0;
}

static int *all_indices(const ld_patch_grid *g)
{
    int n = ld_patch_count(g), *idx = malloc((size_t)n * sizeof *idx);
    for (int i = 0; i < n; i++)
        idx[i] = i;
    return idx;
}

static void test_grid_covers_every_pixel(void)
{
    for (int k = 0; k < CASE_COUNT; k++) {
        ld_patch_grid g;
        if (make_grid(&g, k) != 0)
            continue;
        int H = g.height, W = g.width, P = g.patch, n = ld_patch_count(&g);
        int *covered = calloc((size_t)H * W, sizeof *covered);
        int in_bounds = 1, ends_at_border = 0, strides_ok = 1;
        for (int i = 0; i < n; i++) {
            int y0, x0;
            ld_patch_origin(&g, i, &y0, &x0);
            in_bounds &= y0 >= 0 && x0 >= 0 && y0 + P <= H && x0 + P <= W;
            ends_at_border |= y0 + P == H && x0 + P == W;
            if (i % g.cols) { /* neighbours along a row: 0 < step <= stride */
                int py0, px0;
                ld_patch_origin(&g, i - 1, &py0, &px0);
                strides_ok &= py0 == y0 && x0 > px0 && x0 - px0 <= g.stride;
            }
            for (int y = y0; in_bounds && y < y0 + P; y++)
                for (int x = x0; x < x0 + P; x++)
                    covered[y * W + x]++;
        }
        int uncovered = 0;
        for (int i = 0; i < H * W; i++)
            uncovered += covered[i] == 0;
        CHECK(in_bounds && ends_at_border && strides_ok && uncovered == 0,
              "grid %d x %d, P %d, S %d: %d x %d patches, in bounds %d, last at the border %d, "
              "%d pixels uncovered",
              H, W, P, g.stride, g.rows, g.cols, in_bounds, ends_at_border, uncovered);
        free(covered);
    }
    /* the counts follow ceil((L - P) / S) + 1 */
    ld_patch_grid g;
    ld_err err = {{0}};
    CHECK(ld_patch_grid_init(&g, 32, 35, 32, 4, &err) == 0 && g.rows == 1 && g.cols == 2,
          "32 x 35, P 32, S 4: %d x %d", g.rows, g.cols);
    CHECK(ld_patch_grid_init(&g, 64, 64, 32, 32, &err) == 0 && g.rows == 2 && g.cols == 2,
          "64 x 64 tiles of 32: %d x %d", g.rows, g.cols);
    int y0, x0;
    CHECK(ld_patch_grid_init(&g, 70, 64, 32, 32, &err) == 0 && g.rows == 3, "70 rows: %d", g.rows);
    ld_patch_origin(&g, 2 * g.cols, &y0, &x0);
    CHECK(y0 == 38 && x0 == 0, "last row of tiles shifted back to 70 - 32 = 38 (got %d)", y0);
}

static void test_grid_errors(void)
{
    ld_patch_grid g;
    ld_err err = {{0}};
    CHECK(ld_patch_grid_init(&g, 31, 40, 32, 4, &err) != 0 &&
              strstr(err.msg, "image 31 x 40 is smaller than the patch 32 x 32"),
          "image smaller than the patch: %s", err.msg);
    CHECK(ld_patch_grid_init(&g, 40, 40, 8, 9, &err) != 0 && strstr(err.msg, "stride 9"),
          "stride larger than the patch: %s", err.msg);
    CHECK(ld_patch_grid_init(&g, 40, 40, 8, 0, &err) != 0 && strstr(err.msg, "stride 0"),
          "stride 0: %s", err.msg);

    CHECK(ld_patch_grid_init(&g, 10, 10, 4, 2, &err) == 0, "grid");
    float image[100] = {0}, out[2 * 16];
    int bad[2] = {0, 16};
    CHECK(ld_patch_cut(&g, image, 1, bad, 2, out, &err) != 0 &&
              strstr(err.msg, "index 16 (batch item 1) outside the 16 patches"),
          "index outside the grid: %s", err.msg);
    ld_stitcher s;
    CHECK(ld_stitcher_init(&s, &g, 1, LD_STITCH_BLEND, &err) == 0, "stitcher: %s", err.msg);
    int some[1] = {0};
    CHECK(ld_stitcher_add(&s, bad, 2, out, &err) != 0 && strstr(err.msg, "index 16"),
          "stitch index outside the grid: %s", err.msg);
    CHECK(ld_stitcher_add(&s, some, 1, out, &err) == 0, "add: %s", err.msg);
    /* patch 0 covers rows and columns 0..3: the first pixel left is in row 0 */
    CHECK(ld_stitcher_finish(&s, image, &err) != 0 &&
              strstr(err.msg, "pixel at column 4, row 0 is covered by no patch"),
          "missing patches: %s", err.msg);
    ld_stitcher_free(&s);
}

/* Cuts every patch of the [channels, H, W] image and stitches them back. */
static int cut_and_stitch(const ld_patch_grid *g, const float *image, int channels,
                          ld_stitch_mode mode, float *out)
{
    int n = ld_patch_count(g), *idx = all_indices(g);
    float *patches = malloc((size_t)n * channels * g->patch * g->patch * sizeof(float));
    ld_stitcher s;
    ld_err err = {{0}};
    int rc = ld_patch_cut(g, image, channels, idx, n, patches, &err);
    if (rc == 0)
        rc = ld_stitcher_init(&s, g, channels, mode, &err);
    if (rc == 0) {
        rc = ld_stitcher_add(&s, idx, n, patches, &err);
        if (rc == 0)
            rc = ld_stitcher_finish(&s, out, &err);
        ld_stitcher_free(&s);
    }
    if (rc != 0)
        TEST_FAIL("cut and stitch: %s", err.msg);
    free(patches);
    free(idx);
    return rc;
}

static void test_stitch_constant_is_exact(void)
{
    const float levels[2] = {0.3f, -1234.567f};
    for (int k = 0; k < CASE_COUNT; k++)
        for (int mode = LD_STITCH_TILES; mode <= LD_STITCH_BLEND; mode++) {
            ld_patch_grid g;
            if (make_grid(&g, k) != 0)
                continue;
            size_t plane = (size_t)g.height * g.width;
            float *image = malloc(2 * plane * sizeof(float)), *out = malloc(2 * plane * sizeof(float));
            for (size_t i = 0; i < 2 * plane; i++)
                image[i] = levels[i / plane];
            if (cut_and_stitch(&g, image, 2, (ld_stitch_mode)mode, out) == 0)
                CHECK(memcmp(image, out, 2 * plane * sizeof(float)) == 0,
                      "constant image back exactly: %d x %d, P %d, S %d, mode %d", g.height,
                      g.width, g.patch, g.stride, mode);
            free(image);
            free(out);
        }
}

static void test_stitch_smooth_image_has_no_seams(void)
{
    for (int k = 0; k < CASE_COUNT; k++)
        for (int mode = LD_STITCH_TILES; mode <= LD_STITCH_BLEND; mode++) {
            ld_patch_grid g;
            if (make_grid(&g, k) != 0)
                continue;
            size_t plane = (size_t)g.height * g.width;
            float *image = malloc(2 * plane * sizeof(float)), *out = malloc(2 * plane * sizeof(float));
            for (int y = 0; y < g.height; y++)
                for (int x = 0; x < g.width; x++)
                    image[y * g.width + x] = 0.01f * (float)x - 0.02f * (float)y + 0.5f;
            ld_pattern_texture(image + plane, g.height, g.width, 7);
            if (cut_and_stitch(&g, image, 2, (ld_stitch_mode)mode, out) == 0)
                check_close("ramp and texture stitched back", out, image, 2 * plane, 1e-5, 0);
            free(image);
            free(out);
        }
}

/* Largest |(out[p] - out[q]) - (ref[p] - ref[q])| over horizontally and
 * vertically adjacent pixels: the jumps that out adds to ref. */
static double largest_added_jump(const float *out, const float *ref, int H, int W)
{
    double worst = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int p = y * W + x;
            if (x + 1 < W)
                worst = fmax(worst, fabs((double)out[p + 1] - out[p] - (ref[p + 1] - ref[p])));
            if (y + 1 < H)
                worst = fmax(worst, fabs((double)out[p + W] - out[p] - (ref[p + W] - ref[p])));
        }
    return worst;
}

static void test_blend_is_continuous(void)
{
    /* A linear image; every patch gets its own constant offset in
     * [-0.1, 0.1]. Tiles jump by the offset differences at their borders;
     * the blend fades from one offset to the next over the overlap, so the
     * step between neighbouring pixels stays a small fraction of them (for
     * a sin^2 window about pi / P of the offset difference). */
    enum { H = 90, W = 77, P = 32 };
    const double spread = 0.2;
    const struct {
        ld_stitch_mode mode;
        int stride;
        double lowest, highest; /* bounds on the jump, as fractions of spread */
    } runs[] = {{LD_STITCH_TILES, P, 0.5, 1.0}, {LD_STITCH_BLEND, P / 2, 0, 0.1},
                {LD_STITCH_BLEND, 11, 0, 0.1}};
    float *image = malloc((size_t)H * W * sizeof(float)), *out = malloc((size_t)H * W * sizeof(float));
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            image[y * W + x] = 0.01f * (float)x + 0.005f * (float)y;
    for (size_t k = 0; k < sizeof runs / sizeof runs[0]; k++) {
        ld_patch_grid g;
        ld_stitcher s;
        ld_err err = {{0}};
        if (ld_patch_grid_init(&g, H, W, P, runs[k].stride, &err) != 0 ||
            ld_stitcher_init(&s, &g, 1, runs[k].mode, &err) != 0) {
            TEST_FAIL("%s", err.msg);
            continue;
        }
        int n = ld_patch_count(&g), *idx = all_indices(&g);
        float *patches = malloc((size_t)n * P * P * sizeof(float));
        ld_patch_cut(&g, image, 1, idx, n, patches, &err);
        for (int i = 0; i < n; i++) {
            float offset = (float)(spread * (((i * 7919) % 101) / 100.0 - 0.5));
            for (int j = 0; j < P * P; j++)
                patches[(size_t)i * P * P + j] += offset;
        }
        CHECK(ld_stitcher_add(&s, idx, n, patches, &err) == 0 &&
                  ld_stitcher_finish(&s, out, &err) == 0,
              "stitch: %s", err.msg);
        double jump = largest_added_jump(out, image, H, W) / spread;
        CHECK(jump >= runs[k].lowest && jump <= runs[k].highest,
              "mode %d, stride %d: largest step %g of the offset spread, want %g..%g",
              (int)runs[k].mode, runs[k].stride, jump, runs[k].lowest, runs[k].highest);
        ld_stitcher_free(&s);
        free(patches);
        free(idx);
    }
    free(image);
    free(out);
}

static void test_pairs_normalised_jointly(void)
{
    enum { H = 19, W = 23, C = 2, P = 8, B = 5 };
    float *i0 = malloc((size_t)C * H * W * sizeof(float)), *i1 = malloc((size_t)C * H * W * sizeof(float));
    ld_pattern_texture(i0, H, W, 1);
    ld_pattern_texture(i0 + H * W, H, W, 2);
    ld_pattern_texture(i1, H, W, 3);
    ld_pattern_texture(i1 + H * W, H, W, 4);
    for (int i = 0; i < C * H * W; i++) {
        i0[i] = 100.0f * i0[i] - 20.0f;
        i1[i] = 300.0f * i1[i] + 5.0f; /* a different range: the map is joint */
    }
    for (int i = 0; i < H * W; i++)
        i0[i] = i1[i] = 42.0f; /* band 0 constant in both: the range comes from band 1 */
    ld_patch_grid g;
    ld_err err = {{0}};
    CHECK(ld_patch_grid_init(&g, H, W, P, 3, &err) == 0, "grid: %s", err.msg);
    int idx[B] = {0, 3, ld_patch_count(&g) - 1, 7, 3};
    size_t n = (size_t)C * P * P;
    float *p0 = malloc(B * n * sizeof(float)), *p1 = malloc(B * n * sizeof(float));
    float *raw0 = malloc(B * n * sizeof(float)), *raw1 = malloc(B * n * sizeof(float));
    float lo[B], hi[B];
    CHECK(ld_patch_pairs_cut(&g, i0, i1, C, idx, B, p0, p1, lo, hi, &err) == 0, "cut: %s",
          err.msg);
    ld_patch_cut(&g, i0, C, idx, B, raw0, &err);
    ld_patch_cut(&g, i1, C, idx, B, raw1, &err);
    for (int b = 0; b < B; b++) {
        float min = INFINITY, max = -INFINITY, want_lo = INFINITY, want_hi = -INFINITY;
        int in_unit = 1;
        for (size_t i = 0; i < n; i++) {
            float a = p0[b * n + i], c = p1[b * n + i];
            in_unit &= a >= 0 && a <= 1 && c >= 0 && c <= 1;
            min = fminf(min, fminf(a, c));
            max = fmaxf(max, fmaxf(a, c));
            want_lo = fminf(want_lo, fminf(raw0[b * n + i], raw1[b * n + i]));
            want_hi = fmaxf(want_hi, fmaxf(raw0[b * n + i], raw1[b * n + i]));
        }
        CHECK(in_unit && min == 0.0f && max == 1.0f && lo[b] == want_lo && hi[b] == want_hi,
              "pair %d: in [0, 1] %d, joint min %g max %g, lo %g (want %g), hi %g (want %g)", b,
              in_unit, min, max, lo[b], want_lo, hi[b], want_hi);
    }
    ld_patch_denormalise(p0, B, n, lo, hi);
    ld_patch_denormalise(p1, B, n, lo, hi);
    check_close("denormalised I0 patches", p0, raw0, B * n, 1e-4, 1e-6);
    check_close("denormalised I1 patches", p1, raw1, B * n, 1e-4, 1e-6);

    /* a constant pair: no division by zero, zeros, and mapped back exactly */
    for (int i = 0; i < C * H * W; i++)
        i0[i] = i1[i] = 42.0f;
    CHECK(ld_patch_pairs_cut(&g, i0, i1, C, idx, 1, p0, p1, lo, hi, &err) == 0, "cut: %s",
          err.msg);
    int zeros = 1;
    for (size_t i = 0; i < n; i++)
        zeros &= p0[i] == 0.0f && p1[i] == 0.0f;
    ld_patch_denormalise(p0, 1, n, lo, hi);
    CHECK(zeros && lo[0] == 42.0f && hi[0] == 42.0f && p0[0] == 42.0f,
          "constant pair -> zeros, lo = hi = 42, mapped back to 42");
    free(i0);
    free(i1);
    free(p0);
    free(p1);
    free(raw0);
    free(raw1);
}

LD_TEST_SUITE(patches) = {
    {"grid_covers_every_pixel", test_grid_covers_every_pixel},
    {"grid_errors", test_grid_errors},
    {"stitch_constant_is_exact", test_stitch_constant_is_exact},
    {"stitch_smooth_image_has_no_seams", test_stitch_smooth_image_has_no_seams},
    {"blend_is_continuous", test_blend_is_continuous},
    {"pairs_normalised_jointly", test_pairs_normalised_jointly},
    {NULL, NULL},
};
