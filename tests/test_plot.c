/* Tests of the plot layer: GIF round trips through giflib's decoder (frame
 * count, size, loop extension, delays, grey and colour pixel values,
 * downsampling), quiver arrows pointing the way the field goes (and none
 * for a zero field), streamlines of a uniform field as straight horizontal
 * lines, line plots of the stated size, and the HTML report (frames,
 * slider, escaped settings, embedded images decoding back, no external
 * references). */
#include <gif_lib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plot/canvas.h"
#include "plot/colormap.h"
#include "plot/gif.h"
#include "plot/lineplot.h"
#include "plot/quiver.h"
#include "plot/report.h"
#include "plot/streamlines.h"
#include "test.h"

/* /tmp/ld_test_plot_<pid>_<name> */
static void temp_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "/tmp/ld_test_plot_%ld_%s", (long)getpid(), name);
}

/* ---- GIF ------------------------------------------------------------------- */

/* Finds the NETSCAPE2.0 block with a loop count of 0 (forever). */
static int has_loop_extension(const SavedImage *image)
{
    for (int k = 0; k + 1 < image->ExtensionBlockCount; k++) {
        const ExtensionBlock *b = &image->ExtensionBlocks[k], *next = b + 1;
        if (b->Function == APPLICATION_EXT_FUNC_CODE && b->ByteCount == 11 &&
            memcmp(b->Bytes, "NETSCAPE2.0", 11) == 0 && next->Function == CONTINUE_EXT_FUNC_CODE &&
            next->ByteCount == 3 && next->Bytes[0] == 1 && next->Bytes[1] == 0 &&
            next->Bytes[2] == 0)
            return 1;
    }
    return 0;
}

static GifFileType *decode_gif(const char *path)
{
    int error = 0;
    GifFileType *gif = DGifOpenFileName(path, &error);
    if (!gif) {
        TEST_FAIL("giflib cannot open %s: %s", path, GifErrorString(error));
        return NULL;
    }
    if (DGifSlurp(gif) != GIF_OK) {
        TEST_FAIL("giflib cannot decode %s: %s", path, GifErrorString(gif->Error));
        DGifCloseFile(gif, &error);
        return NULL;
    }
    return gif;
}

/* The palette colour of pixel (x, y) of image n. */
static GifColorType gif_pixel(const GifFileType *gif, int n, int x, int y)
{
    const SavedImage *im = &gif->SavedImages[n];
    const ColorMapObject *map = im->ImageDesc.ColorMap ? im->ImageDesc.ColorMap : gif->SColorMap;
    return map->Colors[im->RasterBits[(size_t)y * im->ImageDesc.Width + x]];
}

static void test_gif_grey_round_trip(void)
{
    enum { N = 3, H = 9, W = 17 };
    float frames[N * H * W];
    for (int n = 0; n < N; n++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) /* a ramp over 0..1 plus a shift per frame */
                frames[(n * H + y) * W + x] = (float)(x + y * W) / (H * W - 1) + 0.01f * n;
    char path[256];
    temp_path(path, sizeof path, "grey.gif");
    int delays[N] = {80, 25, 60};
    ld_gif_options opt = {0, delays, 0};
    ld_err err = {{0}};
    if (ld_gif_write(path, frames, N, 1, H, W, 0.0f, 1.0f, &opt, &err) != 0) {
        TEST_FAIL("write: %s", err.msg);
        return;
    }
    GifFileType *gif = decode_gif(path);
    if (gif) {
        CHECK(gif->ImageCount == N, "frames: %d, want %d", gif->ImageCount, N);
        CHECK(gif->SWidth == W && gif->SHeight == H, "size %d x %d, want %d x %d", gif->SWidth,
              gif->SHeight, W, H);
        CHECK(gif->ImageCount > 0 && has_loop_extension(&gif->SavedImages[0]),
              "no NETSCAPE2.0 loop-forever extension before the first frame");
        int worst = 0;
        for (int n = 0; n < gif->ImageCount && n < N; n++) {
            GraphicsControlBlock gcb;
            CHECK(DGifSavedExtensionToGCB(gif, n, &gcb) == GIF_OK && gcb.DelayTime == delays[n],
                  "frame %d delay %d, want %d", n, gcb.DelayTime, delays[n]);
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    GifColorType c = gif_pixel(gif, n, x, y);
                    int want = (int)lround(fmin(frames[(n * H + y) * W + x], 1.0) * 255);
                    int diff = abs(c.Red - want);
                    CHECK(c.Red == c.Green && c.Green == c.Blue, "grey frame has colour");
                    worst = diff > worst ? diff : worst;
                }
        }
        CHECK(worst <= 1, "grey levels off by up to %d (want within 1 of 255 v)", worst);
        int error;
        DGifCloseFile(gif, &error);
    }
    remove(path);
}

static void test_gif_colour_and_downsampling(void)
{
    /* 3 channels, 20 x 40, shown at most 16 wide: factor 3 -> 7 x 14 */
    enum { N = 2, C = 3, H = 20, W = 40 };
    float *frames = malloc(sizeof(float) * N * C * H * W);
    for (int i = 0; i < N * C * H * W; i++) {
        int c = (i / (H * W)) % C;
        frames[i] = c == 0 ? 200.0f : c == 1 ? 100.0f : 20.0f; /* a flat colour */
    }
    char path[256];
    temp_path(path, sizeof path, "rgb.gif");
    ld_gif_options opt = {10, NULL, 16};
    ld_err err = {{0}};
    if (ld_gif_write(path, frames, N, C, H, W, 0.0f, 255.0f, &opt, &err) != 0) {
        TEST_FAIL("write: %s", err.msg);
        free(frames);
        return;
    }
    GifFileType *gif = decode_gif(path);
    if (gif) {
        CHECK(gif->ImageCount == N && gif->SWidth == 14 && gif->SHeight == 7,
              "%d frames of %d x %d, want %d of 14 x 7", gif->ImageCount, gif->SWidth,
              gif->SHeight, N);
        /* dithering mixes the two cube levels around each value: the mean
         * over the image comes back close, each pixel within one level */
        double sum[3] = {0, 0, 0};
        int far = 0;
        for (int y = 0; y < gif->SHeight; y++)
            for (int x = 0; x < gif->SWidth; x++) {
                GifColorType c = gif_pixel(gif, 0, x, y);
                sum[0] += c.Red;
                sum[1] += c.Green;
                sum[2] += c.Blue;
                far += abs(c.Red - 200) > 51 || abs(c.Green - 100) > 43 || abs(c.Blue - 20) > 51;
            }
        double n = (double)gif->SWidth * gif->SHeight;
        CHECK(fabs(sum[0] / n - 200) < 12 && fabs(sum[1] / n - 100) < 12 &&
                  fabs(sum[2] / n - 20) < 12,
              "mean colour %.1f %.1f %.1f, want about 200 100 20", sum[0] / n, sum[1] / n,
              sum[2] / n);
        CHECK(far == 0, "%d pixels further than one palette step from the colour", far);
        int error;
        DGifCloseFile(gif, &error);
    }
    CHECK(ld_gif_write(path, frames, 0, C, H, W, 0.0f, 255.0f, NULL, &err) != 0 &&
              strstr(err.msg, "frame"),
          "zero frames accepted or unclear message: %s", err.msg);
    CHECK(ld_gif_write("/tmp/ld_no_such_dir/x.gif", frames, N, C, H, W, 0.0f, 255.0f, NULL,
                       &err) != 0 &&
              strstr(err.msg, "/tmp/ld_no_such_dir/x.gif"),
          "unwritable path accepted or not named: %s", err.msg);
    free(frames);
    remove(path);
}

/* ---- quiver and streamlines --------------------------------------------------- */

/* A pixel drawn by a plot in colour: the frames under test are grey, and
 * outlines are black, so colour means arrow or line. */
static int is_coloured(const ld_canvas *cv, int x, int y)
{
    unsigned char p[3];
    ld_canvas_rgb(cv, x, y, p);
    int spread = abs(p[0] - p[1]) + abs(p[1] - p[2]) + abs(p[0] - p[2]);
    return spread > 40;
}

/* Coloured pixels in canvas rectangle [x0, x1) x [y0, y1). */
static int coloured_in(const ld_canvas *cv, int x0, int y0, int x1, int y1)
{
    int n = 0;
    for (int y = y0 < 0 ? 0 : y0; y < y1 && y < cv->height; y++)
        for (int x = x0 < 0 ? 0 : x0; x < x1 && x < cv->width; x++)
            n += is_coloured(cv, x, y);
    return n;
}

enum { PH = 40, PW = 48 }; /* the test frames: 40 x 48 mid-grey */

static float grey_frame[PH * PW];

static ld_plot_frame test_frame(void)
{
    for (int i = 0; i < PH * PW; i++)
        grey_frame[i] = 0.5f;
    ld_plot_frame f = {grey_frame, 1, PH, PW, 0.0f, 1.0f};
    return f;
}

/* A constant field [2, PH, PW]. */
static float *constant_field(float vx, float vy)
{
    float *v = malloc(sizeof(float) * 2 * PH * PW);
    for (int i = 0; i < PH * PW; i++) {
        v[i] = vx;
        v[PH * PW + i] = vy;
    }
    return v;
}

/* Counts coloured pixels around every arrow seed (grid step 8 on 40 x 48:
 * 5 x 6 cells from (0, 0), centres at 8 k + 3.5): ahead of the seed in
 * direction (dx, dy) and behind it. */
static void count_around_seeds(const ld_canvas *cv, int dx, int dy, int *ahead, int *behind)
{
    *ahead = *behind = 0;
    int reach = (int)(8 * cv->scale / 2);
    for (int i = 0; i < PH / 8; i++)
        for (int j = 0; j < PW / 8; j++) {
            double sx, sy;
            ld_canvas_point(cv, 8 * j + 3.5, 8 * i + 3.5, &sx, &sy);
            int cx = (int)sx, cy = (int)sy;
            if (dx) {
                *ahead += coloured_in(cv, dx > 0 ? cx + 2 : cx - reach, cy - reach,
                                      dx > 0 ? cx + reach : cx - 2, cy + reach);
                *behind += coloured_in(cv, dx > 0 ? cx - reach : cx + 2, cy - reach,
                                       dx > 0 ? cx - 2 : cx + reach, cy + reach);
            } else {
                *ahead += coloured_in(cv, cx - reach, dy > 0 ? cy + 2 : cy - reach, cx + reach,
                                      dy > 0 ? cy + reach : cy - 2);
                *behind += coloured_in(cv, cx - reach, dy > 0 ? cy - reach : cy + 2, cx + reach,
                                       dy > 0 ? cy - 2 : cy + reach);
            }
        }
}

static void test_quiver_arrows_follow_the_field(void)
{
    ld_plot_frame frame = test_frame();
    static const int directions[3][2] = {{1, 0}, {-1, 0}, {0, 1}};
    for (int d = 0; d < 3; d++) {
        /* displacement 4 x 0.25 = 1 px drawn x3: 3 image pixels, 33 on the
         * canvas, short of the 44-pixel half cell looked at around a seed */
        float *field = constant_field(4.0f * directions[d][0], 4.0f * directions[d][1]);
        ld_quiver_options opt = {8, 0.25f, 3.0f, 0, 0, 0, "constant"};
        ld_canvas cv;
        ld_err err = {{0}};
        if (ld_quiver_render(&cv, &frame, field, &opt, &err) != 0) {
            TEST_FAIL("render: %s", err.msg);
            free(field);
            return;
        }
        CHECK(cv.scale == 11 && cv.image_width == 11 * PW && cv.image_height == 11 * PH,
              "a 48-pixel-wide frame is shown x%g (%d x %d), want x11", cv.scale,
              cv.image_width, cv.image_height);
        int ahead, behind;
        count_around_seeds(&cv, directions[d][0], directions[d][1], &ahead, &behind);
        CHECK(ahead > 30 * 60 && ahead > 10 * behind,
              "direction (%d, %d): %d arrow pixels ahead of the seeds, %d behind",
              directions[d][0], directions[d][1], ahead, behind);
        float arrow_scale, max_speed;
        ld_quiver_auto_scale(field, 1, PH, PW, &opt, &arrow_scale, &max_speed);
        /* the longest displacement (1 px) fits 0.9 x 8 px x 5, not x 10 */
        CHECK(arrow_scale == 5 && fabsf(max_speed - 4) < 1e-6f,
              "automatic arrow scale %g (want 5), top speed %g (want 4)", arrow_scale, max_speed);
        ld_canvas_free(&cv);
        free(field);
    }
}

static void test_quiver_zero_field_draws_nothing(void)
{
    ld_plot_frame frame = test_frame();
    float *field = constant_field(0, 0);
    ld_quiver_options opt = {0};
    opt.dt = 0.125f;
    ld_canvas cv;
    ld_err err = {{0}};
    if (ld_quiver_render(&cv, &frame, field, &opt, &err) != 0) {
        TEST_FAIL("render: %s", err.msg);
    } else {
        int changed = 0;
        for (int y = (int)cv.origin_y; y < (int)cv.origin_y + cv.image_height; y++)
            for (int x = (int)cv.origin_x; x < (int)cv.origin_x + cv.image_width; x++) {
                unsigned char p[3];
                ld_canvas_rgb(&cv, x, y, p);
                changed += p[0] != 128 || p[1] != 128 || p[2] != 128;
            }
        CHECK(changed == 0, "a zero field changed %d pixels of the frame", changed);
        ld_canvas_free(&cv);
    }
    float *bad = NULL;
    CHECK(ld_quiver_render(&cv, &frame, bad, &opt, &err) != 0 && strstr(err.msg, "quiver"),
          "a missing field accepted: %s", err.msg);
    free(field);
}

static void test_streamlines_of_uniform_field_are_horizontal(void)
{
    ld_plot_frame frame = test_frame();
    float *field = constant_field(3.0f, 0.0f);
    ld_streamline_options opt = {0};
    opt.seed_step = 8;
    ld_canvas cv;
    ld_err err = {{0}};
    if (ld_streamlines_render(&cv, &frame, field, &opt, &err) != 0) {
        TEST_FAIL("render: %s", err.msg);
        free(field);
        return;
    }
    /* one line per row of seed cells, through the cell centres 8 k + 3.5 */
    int x0 = (int)cv.origin_x, x1 = x0 + cv.image_width;
    int y_top = (int)cv.origin_y, y_end = y_top + cv.image_height;
    int line_rows[PH / 8];
    for (int k = 0; k < PH / 8; k++) {
        double cx, cy;
        ld_canvas_point(&cv, 0, 8 * k + 3.5, &cx, &cy);
        line_rows[k] = (int)floor(cy);
        int covered = coloured_in(&cv, x0, line_rows[k], x1, line_rows[k] + 1);
        CHECK(covered > 0.9 * cv.image_width, "line %d (canvas row %d) covers %d of %d columns",
              k, line_rows[k], covered, cv.image_width);
    }
    /* everything coloured lies on those rows, give or take the line width
     * and the arrowheads (lines are 88 canvas pixels apart) */
    int stray = 0;
    for (int y = y_top; y < y_end; y++) {
        int near = 0;
        for (int k = 0; k < PH / 8; k++)
            near |= abs(y - line_rows[k]) <= 7;
        if (!near)
            stray += coloured_in(&cv, x0, y, x1, y + 1);
    }
    CHECK(stray == 0, "%d coloured pixels off the lines", stray);
    ld_canvas_free(&cv);

    float *still = constant_field(0, 0);
    if (ld_streamlines_render(&cv, &frame, still, &opt, &err) != 0) {
        TEST_FAIL("render a zero field: %s", err.msg);
    } else {
        CHECK(coloured_in(&cv, x0, y_top, x1, y_end) == 0, "a zero field drew lines");
        ld_canvas_free(&cv);
    }
    free(still);
    free(field);
}

static void test_fields_mean(void)
{
    float fields[2 * 2 * 1 * 2] = {1, 2, 3, 4, /* stage 0: vx, vy */ 3, 4, 5, 6};
    float mean[4];
    ld_fields_mean(fields, 2, 1, 2, mean);
    float want[4] = {2, 3, 4, 5};
    check_close("mean of two fields", mean, want, 4, 0, 0);
}

/* ---- line plots --------------------------------------------------------------- */

/* Width and height from the IHDR chunk of PNG bytes. */
static int png_size(const ld_bytes *png, int *width, int *height)
{
    static const unsigned char signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (png->len < 24 || memcmp(png->data, signature, 8) != 0 ||
        memcmp(png->data + 12, "IHDR", 4) != 0)
        return -1;
    const unsigned char *p = png->data + 16;
    *width = p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
    *height = p[4] << 24 | p[5] << 16 | p[6] << 8 | p[7];
    return 0;
}

static void test_lineplot_size_and_series(void)
{
    float steps[50], loss[50], other[50];
    for (int i = 0; i < 50; i++) {
        steps[i] = (float)(i * 10);
        loss[i] = 2.0f * expf(-0.1f * i);
        other[i] = i == 20 ? NAN : 0.5f; /* a gap in the line */
    }
    ld_line_series series[2] = {{steps, loss, 50, "total"}, {steps, other, 50, "flat"}};
    for (int log_y = 0; log_y <= 1; log_y++) {
        ld_lineplot_options opt = {300, 200, "loss <title>", "step", "loss", log_y};
        ld_canvas cv;
        ld_err err = {{0}};
        if (ld_lineplot_render(&cv, series, 2, &opt, &err) != 0) {
            TEST_FAIL("render (log_y %d): %s", log_y, err.msg);
            continue;
        }
        CHECK(cv.width == 300 && cv.height == 200, "canvas %d x %d, want 300 x 200", cv.width,
              cv.height);
        /* the first series is drawn in tab10 blue (31, 119, 180) */
        int blue = 0;
        for (int y = 0; y < cv.height; y++)
            for (int x = 0; x < cv.width; x++) {
                unsigned char p[3];
                ld_canvas_rgb(&cv, x, y, p);
                blue += abs(p[0] - 31) < 20 && abs(p[1] - 119) < 20 && abs(p[2] - 180) < 20;
            }
        CHECK(blue > 150, "only %d pixels of the first series' colour", blue);
        ld_bytes png = {0};
        int w = 0, h = 0;
        CHECK(ld_canvas_encode_png(&cv, &png, &err) == 0 && png_size(&png, &w, &h) == 0 &&
                  w == 300 && h == 200,
              "PNG of %d x %d, want 300 x 200 (%s)", w, h, err.msg);
        char path[256];
        temp_path(path, sizeof path, "plot.png");
        CHECK(ld_canvas_write_png(&cv, path, &err) == 0 && access(path, F_OK) == 0,
              "write: %s", err.msg);
        remove(path);
        ld_bytes_free(&png);
        ld_canvas_free(&cv);
    }
    float negative[2] = {-1, 0};
    ld_line_series none = {steps, negative, 2, NULL};
    ld_lineplot_options log_opt = {0, 0, NULL, NULL, NULL, 1};
    ld_canvas cv;
    ld_err err = {{0}};
    CHECK(ld_lineplot_render(&cv, &none, 1, &log_opt, &err) != 0 && strstr(err.msg, "no point"),
          "nothing to plot on a log axis accepted: %s", err.msg);
}

static void test_nice_numbers(void)
{
    CHECK(ld_nice_number(7.2, 0) == 5 && ld_nice_number(7.2, 1) == 10 &&
              ld_nice_number(0.03, 0) == 0.02 && ld_nice_number(0.03, 1) == 0.05 &&
              ld_nice_number(100, 0) == 100 && ld_nice_number(100, 1) == 100,
          "1-2-5 rounding wrong: %g %g %g %g", ld_nice_number(7.2, 0), ld_nice_number(7.2, 1),
          ld_nice_number(0.03, 0), ld_nice_number(0.03, 1));
}

/* ---- report ------------------------------------------------------------------- */

static int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* Decodes base64 up to the first character outside the alphabet. */
static size_t base64_decode(const char *s, unsigned char *out, size_t cap)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned acc = 0;
    int bits = 0;
    size_t n = 0;
    for (; *s && *s != '='; s++) {
        const char *d = strchr(digits, *s);
        if (!d)
            break;
        acc = acc << 6 | (unsigned)(d - digits);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n < cap)
                out[n] = (unsigned char)(acc >> bits & 0xff);
            n++;
        }
    }
    return n;
}

/* A page as a NUL-terminated string (NULL and a failed test on error). */
static char *report_text(const ld_report *r)
{
    ld_bytes html = {0};
    ld_err err = {{0}};
    if (ld_report_html(r, &html, &err) != 0 || ld_bytes_append(&html, "", 1) != 0) {
        TEST_FAIL("report: %s", err.msg);
        ld_bytes_free(&html);
        return NULL;
    }
    return (char *)html.data;
}

static void test_report_page(void)
{
    enum { N = 3 };
    unsigned char pixels[4 * 5] = {0, 50, 100, 150, 200, 250, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    ld_bytes png = {0};
    ld_err err = {{0}};
    if (ld_png_encode(pixels, 4, 5, 1, &png, &err) != 0) {
        TEST_FAIL("encode: %s", err.msg);
        return;
    }
    ld_bytes frames[N + 1], quivers[N];
    for (int n = 0; n <= N; n++)
        frames[n] = png;
    for (int n = 0; n < N; n++)
        quivers[n] = png;
    const char *keys[3] = {"stages", "note", "input"};
    const char *values[3] = {"3", "a<&\">b", "/data/i0.png"};
    ld_report r = {0};
    r.title = "test & report";
    r.inputs[0] = r.inputs[1] = &png;
    r.stages = N;
    r.frames = frames;
    r.quivers = quivers;
    r.streamlines = &png;
    r.loss = &png;
    r.n_settings = 3;
    r.setting_keys = keys;
    r.setting_values = values;
    char *page = report_text(&r);
    if (page) {
        CHECK(count_of(page, "<img class=\"pic frame\"") == N + 1, "%d frame images, want %d",
              count_of(page, "<img class=\"pic frame\""), N + 1);
        CHECK(count_of(page, "<img class=\"plot quiver\"") == N, "%d quiver images, want %d",
              count_of(page, "<img class=\"plot quiver\""), N);
        CHECK(strstr(page, "<input type=\"range\" id=\"slider\" min=\"0\" max=\"3\"") != NULL,
              "no slider over frames 0..3");
        CHECK(strstr(page, "<title>test &amp; report</title>") != NULL, "title not escaped");
        for (int i = 0; i < 3; i++)
            CHECK(strstr(page, keys[i]) != NULL, "setting %s missing", keys[i]);
        CHECK(strstr(page, "<td>a&lt;&amp;&quot;&gt;b</td>") != NULL && !strstr(page, "a<&"),
              "setting value not escaped");
        CHECK(!strstr(page, "src=\"http") && !strstr(page, "href=\"http") &&
                  !strstr(page, "src=\"//") && !strstr(page, "<link"),
              "external reference in the page");
        CHECK(count_of(page, "src=\"data:image/png;base64,") == 2 + (N + 1) + N + 2,
              "%d embedded images, want %d", count_of(page, "src=\"data:image/png;base64,"),
              2 + (N + 1) + N + 2);
        unsigned char back[4096];
        const char *b64 = strstr(page, "base64,");
        size_t n = b64 ? base64_decode(b64 + 7, back, sizeof back) : 0;
        CHECK(n == png.len && memcmp(back, png.data, n) == 0,
              "embedded image decodes to %zu bytes, want the %zu PNG bytes", n, png.len);
        free(page);
    }
    r.quivers = NULL;
    r.streamlines = NULL;
    r.loss = NULL;
    page = report_text(&r);
    if (page) {
        CHECK(!strstr(page, "class=\"plot quiver\"") && strstr(page, "no motion fields") &&
                  strstr(page, "no loss curve"),
              "a report without fields or loss does not say so");
        free(page);
    }
    r.frames = NULL;
    ld_bytes html = {0};
    CHECK(ld_report_html(&r, &html, &err) != 0 && strstr(err.msg, "frames"),
          "a report without frames accepted: %s", err.msg);
    ld_bytes_free(&html);
    ld_bytes_free(&png);
}

LD_TEST_SUITE(plot) = {
    {"gif_grey_round_trip", test_gif_grey_round_trip},
    {"gif_colour_and_downsampling", test_gif_colour_and_downsampling},
    {"quiver_arrows_follow_the_field", test_quiver_arrows_follow_the_field},
    {"quiver_zero_field_draws_nothing", test_quiver_zero_field_draws_nothing},
    {"streamlines_of_uniform_field_are_horizontal",
     test_streamlines_of_uniform_field_are_horizontal},
    {"fields_mean", test_fields_mean},
    {"lineplot_size_and_series", test_lineplot_size_and_series},
    {"nice_numbers", test_nice_numbers},
    {"report_page", test_report_page},
    {NULL, NULL},
};
