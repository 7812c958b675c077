/* Tests of the `between` output writer: every listed file is created with
 * the right shape and values (frames.npy and fields.npy read back, frame
 * PNGs loaded back at the input's bit depth, the GIF decoded, the plots
 * and the report present), nothing is written for fields when a method has
 * none, 2-channel inputs become false-colour PNGs, the ranges chosen for
 * 8-bit, 16-bit and float inputs, and clear errors for a missing, non-folder
 * or unwritable output folder. */
#include <dirent.h>
#include <gif_lib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/image.h"
#include "data/npy.h"
#include "plot/between_outputs.h"
#include "test.h"

/* Removes a folder and everything in it (test outputs only). */
static void remove_tree(const char *path)
{
    DIR *dir = opendir(path);
    if (dir) {
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            char child[1024];
            snprintf(child, sizeof child, "%s/%s", path, e->d_name);
            remove_tree(child);
        }
        closedir(dir);
        rmdir(path);
    } else {
        remove(path);
    }
}

/* A fresh empty folder /tmp/ld_test_between_outputs_<pid>_<name>. */
static void make_outdir(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "/tmp/ld_test_between_outputs_%ld_%s", (long)getpid(), name);
    remove_tree(buf);
    if (mkdir(buf, 0777) != 0)
        TEST_FAIL("cannot create %s", buf);
}

/* Files and folders under path, all levels, whose name `counts`. */
static int count_under(const char *path, int (*counts)(const char *name))
{
    DIR *dir = opendir(path);
    if (!dir)
        return 0;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char child[1024];
        snprintf(child, sizeof child, "%s/%s", path, e->d_name);
        n += counts(e->d_name) + count_under(child, counts);
    }
    closedir(dir);
    return n;
}

static int is_temporary(const char *name) { return strstr(name, ".tmp.") != NULL; }
static int any(const char *name) { return name != NULL; }

/* Files under path whose name has the atomic writer's ".tmp." in it. */
static int temp_files_in(const char *path) { return count_under(path, is_temporary); }
/* Files and folders under path, all levels. */
static int entries_in(const char *path) { return count_under(path, any); }

static int exists(const char *dir, const char *name)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, F_OK) == 0;
}

/* A test case: N = 3 stages of C x 20 x 24 frames with integer values in
 * 0..255, a constant field pointing right and down, a short loss curve and
 * a few settings. */
enum { N = 3, H = 20, W = 24 };

typedef struct test_case {
    float *frames, *fields;
    float steps[5], losses[5];
    ld_between_outputs o;
} test_case;

static const char *const setting_keys[] = {"method", "stages", "note"};
static const char *const setting_values[] = {"latent", "3", "<b>&\"x\"</b>"};

static void make_case(test_case *t, int channels, int with_fields)
{
    size_t frame_size = (size_t)channels * H * W;
    t->frames = malloc((N + 1) * frame_size * sizeof(float));
    t->fields = with_fields ? malloc((size_t)N * 2 * H * W * sizeof(float)) : NULL;
    for (size_t i = 0; i < (N + 1) * frame_size; i++)
        t->frames[i] = (float)((i * 37) % 256);
    for (int n = 0; with_fields && n < N; n++)
        for (int i = 0; i < H * W; i++) {
            t->fields[(size_t)(2 * n) * H * W + i] = 6.0f;     /* x */
            t->fields[(size_t)(2 * n + 1) * H * W + i] = 2.0f; /* y */
        }
    for (int i = 0; i < 5; i++) {
        t->steps[i] = (float)(i + 1);
        t->losses[i] = 1.0f / (float)(i + 1);
    }
    ld_between_outputs o = {0};
    o.stages = N;
    o.channels = channels;
    o.height = H;
    o.width = W;
    o.frames = t->frames;
    o.fields = t->fields;
    o.input0 = t->frames;
    o.input1 = t->frames + (size_t)N * frame_size;
    o.bit_depth = 8;
    o.lo = 0;
    o.hi = 255;
    o.loss_steps = t->steps;
    o.losses = t->losses;
    o.n_losses = 5;
    o.n_settings = 3;
    o.setting_keys = setting_keys;
    o.setting_values = setting_values;
    t->o = o;
}

static void free_case(test_case *t)
{
    free(t->frames);
    free(t->fields);
}

/* Reads an .npy file and compares its shape and values. */
static void check_npy(const char *dir, const char *name, const int *shape, const float *want)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    ld_npy_array a;
    ld_err err = {{0}};
    if (ld_npy_read(path, &a, &err) != 0) {
        TEST_FAIL("%s: %s", name, err.msg);
        return;
    }
    CHECK(a.ndim == 4 && a.shape[0] == shape[0] && a.shape[1] == shape[1] &&
              a.shape[2] == shape[2] && a.shape[3] == shape[3] && a.stored_dtype == LD_NPY_F32,
          "%s: shape [%d, %d, %d, %d] %s, want [%d, %d, %d, %d] float32", name, a.shape[0],
          a.shape[1], a.shape[2], a.shape[3], ld_npy_dtype_name(a.stored_dtype), shape[0],
          shape[1], shape[2], shape[3]);
    if (a.numel == (size_t)shape[0] * shape[1] * shape[2] * shape[3])
        check_close(name, a.data, want, a.numel, 0, 0);
    ld_npy_free(&a);
}

static int gif_frame_count(const char *dir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/animation.gif", dir);
    int error = 0, count = -1;
    GifFileType *gif = DGifOpenFileName(path, &error);
    if (gif && DGifSlurp(gif) == GIF_OK)
        count = gif->ImageCount;
    if (gif)
        DGifCloseFile(gif, &error);
    return count;
}

/* The report as a string (NULL when unreadable). */
static char *read_report(const char *dir)
{
    char path[1024];
    size_t n;
    snprintf(path, sizeof path, "%s/report.html", dir);
    return (char *)test_read_bytes(path, &n);
}

static int count_of(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_writes_every_file(void)
{
    char dir[512];
    make_outdir(dir, sizeof dir, "all");
    test_case t;
    make_case(&t, 1, 1);
    ld_field_check check = {.psnr = 12.345, .psnr_still = 9.5, .kept = 0.75, .mean_speed = 2.5};
    t.o.check = &check;
    ld_err err = {{0}};
    if (ld_between_write_outputs(dir, &t.o, &err) != 0) {
        TEST_FAIL("write: %s", err.msg);
    } else {
        int frame_shape[4] = {N + 1, 1, H, W}, field_shape[4] = {N, 2, H, W};
        check_npy(dir, "frames.npy", frame_shape, t.frames);
        check_npy(dir, "fields.npy", field_shape, t.fields);
        for (int n = 0; n <= N; n++) {
            char path[1024];
            snprintf(path, sizeof path, "%s/frames/frame_%03d.png", dir, n);
            ld_image img;
            if (ld_image_load(path, &img, &err) != 0) {
                TEST_FAIL("frame %d: %s", n, err.msg);
                continue;
            }
            CHECK(img.channels == 1 && img.height == H && img.width == W && img.bit_depth == 8,
                  "frame %d: %d x %d x %d at %d bits", n, img.channels, img.height, img.width,
                  img.bit_depth);
            if (img.channels == 1 && img.height == H && img.width == W)
                check_close("frame PNG", img.data, t.frames + (size_t)n * H * W, H * W, 0, 0);
            ld_image_free(&img);
        }
        CHECK(!exists(dir, "frames/frame_004.png"), "a frame beyond N written");
        CHECK(gif_frame_count(dir) == N + 1, "animation.gif has %d frames, want %d",
              gif_frame_count(dir), N + 1);
        for (int n = 0; n < N; n++) {
            char name[64];
            snprintf(name, sizeof name, "fields/quiver_%03d.png", n);
            CHECK(exists(dir, name), "%s missing", name);
        }
        CHECK(!exists(dir, "fields/quiver_003.png"), "a quiver beyond N - 1 written");
        CHECK(exists(dir, "fields/streamlines.png"), "fields/streamlines.png missing");
        char *page = read_report(dir);
        if (!page) {
            TEST_FAIL("report.html missing");
        } else {
            CHECK(count_of(page, "class=\"pic frame\"") == N + 1 &&
                      count_of(page, "class=\"plot quiver\"") == N,
                  "report has %d frames and %d quivers, want %d and %d",
                  count_of(page, "class=\"pic frame\""), count_of(page, "class=\"plot quiver\""),
                  N + 1, N);
            CHECK(strstr(page, "type=\"range\"") && strstr(page, "loss over the training steps"),
                  "report lacks the slider or the loss curve");
            CHECK(strstr(page, "<p id=\"field-check\">Field check") &&
                      strstr(page, "to 12.35 dB PSNR, against 9.50 dB PSNR for no motion") &&
                      strstr(page, "the 75.0% of pixels") && strstr(page, "speed 2.50 pixels"),
                  "report lacks the field check's figures");
            CHECK(strstr(page, "&lt;b&gt;&amp;&quot;x&quot;&lt;/b&gt;") && !strstr(page, "<b>&"),
                  "setting value not escaped in the report");
            free(page);
        }
        CHECK(temp_files_in(dir) == 0, "temporary files left behind");
    }
    free_case(&t);
    remove_tree(dir);
}

static void test_no_fields_writes_nothing_for_fields(void)
{
    char dir[512];
    make_outdir(dir, sizeof dir, "nofields");
    test_case t;
    make_case(&t, 1, 0);
    t.o.n_losses = 0;
    ld_field_check check = {.psnr = 12.345, .psnr_still = 9.5, .kept = 0.75, .mean_speed = 2.5};
    t.o.check = &check; /* no fields: not shown */
    ld_err err = {{0}};
    if (ld_between_write_outputs(dir, &t.o, &err) != 0) {
        TEST_FAIL("write: %s", err.msg);
    } else {
        CHECK(exists(dir, "frames.npy") && exists(dir, "animation.gif") &&
                  exists(dir, "frames/frame_003.png") && exists(dir, "report.html"),
              "frames, GIF or report missing");
        CHECK(!exists(dir, "fields.npy") && !exists(dir, "fields"),
              "fields.npy or fields/ written without fields");
        char *page = read_report(dir);
        CHECK(page && strstr(page, "no motion fields") && strstr(page, "no loss curve") &&
                  !strstr(page, "class=\"plot quiver\"") && !strstr(page, "field-check"),
              "the report does not say that there are no fields and no loss, or checks "
              "fields it does not have");
        free(page);
    }
    free_case(&t);
    remove_tree(dir);
}

/* A second run into the same folder with fewer stages and no fields: the
 * first run's frames beyond N, fields.npy and fields/ are gone (eval would
 * otherwise score the old fields with the new frames); files the user put
 * there stay. */
static void test_earlier_run_outputs_replaced(void)
{
    char dir[512], path[600];
    make_outdir(dir, sizeof dir, "rerun");
    test_case t;
    make_case(&t, 1, 1);
    ld_err err = {{0}};
    CHECK(ld_between_write_outputs(dir, &t.o, &err) == 0, "first run: %s", err.msg);
    CHECK(exists(dir, "frames/frame_003.png") && exists(dir, "fields/quiver_002.png") &&
              exists(dir, "fields.npy"),
          "first run's outputs written");
    const char *mine[] = {"frames/notes.txt", "frames/frame_best.png"};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, mine[k]);
        FILE *f = fopen(path, "w");
        if (f)
            fclose(f);
    }
    t.o.stages = 2;
    t.o.fields = NULL;
    t.o.input1 = t.frames + (size_t)2 * H * W;
    if (ld_between_write_outputs(dir, &t.o, &err) != 0) {
        TEST_FAIL("second run: %s", err.msg);
    } else {
        CHECK(exists(dir, "frames/frame_002.png") && !exists(dir, "frames/frame_003.png"),
              "frames beyond N = 2 removed");
        CHECK(!exists(dir, "fields.npy") && !exists(dir, "fields"),
              "the first run's fields removed");
        CHECK(exists(dir, "frames/notes.txt") && exists(dir, "frames/frame_best.png"),
              "the user's own files kept");
        int shape[4] = {3, 1, H, W};
        check_npy(dir, "frames.npy", shape, t.frames);
    }
    free_case(&t);
    remove_tree(dir);
}

/* A folder of the user's own numbered frames, with no frames.npy that a
 * run of ours wrote: frames 0..N are written (as asked), the rest left. */
static void test_user_frames_beyond_n_kept(void)
{
    char dir[512], path[600];
    make_outdir(dir, sizeof dir, "userframes");
    snprintf(path, sizeof path, "%s/frames", dir);
    mkdir(path, 0777);
    for (int i = 0; i < 10; i++) {
        snprintf(path, sizeof path, "%s/frames/frame_%03d.png", dir, i);
        FILE *f = fopen(path, "w");
        if (f)
            fclose(f);
    }
    test_case t;
    make_case(&t, 1, 0);
    ld_err err = {{0}};
    CHECK(ld_between_write_outputs(dir, &t.o, &err) == 0, "write: %s", err.msg);
    CHECK(exists(dir, "frames/frame_004.png") && exists(dir, "frames/frame_009.png"),
          "the user's frames beyond N kept");
    free_case(&t);
    remove_tree(dir);
}

static void test_two_bands_become_false_colour(void)
{
    char dir[512];
    make_outdir(dir, sizeof dir, "sar");
    test_case t;
    make_case(&t, 2, 1);
    t.o.bit_depth = 16;
    t.o.hi = 300; /* values 0..255 in a 0..300 range -> 16-bit codes */
    ld_err err = {{0}};
    if (ld_between_write_outputs(dir, &t.o, &err) != 0) {
        TEST_FAIL("write: %s", err.msg);
    } else {
        char path[1024];
        snprintf(path, sizeof path, "%s/frames/frame_001.png", dir);
        ld_image img;
        if (ld_image_load(path, &img, &err) != 0) {
            TEST_FAIL("frame 1: %s", err.msg);
        } else {
            CHECK(img.channels == 3 && img.bit_depth == 16, "%d channels at %d bits, want 3, 16",
                  img.channels, img.bit_depth);
            const float *f = t.frames + (size_t)2 * H * W; /* frame 1, bands 0 and 1 */
            int bad = 0;
            for (int i = 0; i < H * W && img.channels == 3; i++) {
                double b0 = f[i], b1 = f[H * W + i], mean = 0.5 * (b0 + b1);
                double want[3] = {b0, b1, mean};
                for (int c = 0; c < 3; c++)
                    bad += fabs(img.data[c * H * W + i] - round(want[c] / 300 * 65535)) > 0.5;
            }
            CHECK(bad == 0, "%d samples differ from R = band 0, G = band 1, B = mean", bad);
            ld_image_free(&img);
        }
        int frame_shape[4] = {N + 1, 2, H, W};
        check_npy(dir, "frames.npy", frame_shape, t.frames);
    }
    free_case(&t);
    remove_tree(dir);
}

static void test_ranges_for_input_kinds(void)
{
    float a[4] = {2, 0, 1, 3}, b[4] = {0, 5, 1, 1};
    ld_image i0 = {1, 2, 2, a, 8, 0}, i1 = {1, 2, 2, b, 8, 0};
    ld_between_outputs o = {0};
    ld_between_output_ranges(&i0, &i1, &o);
    CHECK(o.bit_depth == 8 && o.lo == 0 && o.hi == 255 && o.display_lo == 0 &&
              o.display_hi == 255,
          "8-bit: depth %d, [%g, %g], display [%g, %g]", o.bit_depth, o.lo, o.hi, o.display_lo,
          o.display_hi);
    i0.bit_depth = i1.bit_depth = 16;
    ld_between_output_ranges(&i0, &i1, &o);
    CHECK(o.bit_depth == 16 && o.lo == 0 && o.hi == 65535 && o.display_lo == 0 &&
              o.display_hi == 5,
          "16-bit: depth %d, [%g, %g], display [%g, %g]", o.bit_depth, o.lo, o.hi, o.display_lo,
          o.display_hi);
    /* signed integer samples (int8, int16 TIFF or npy): a fixed [0, 2^d - 1]
     * would clamp the negative ones, so their range is mapped */
    a[0] = -2;
    for (int depth = 8; depth <= 16; depth += 8) {
        i0.bit_depth = i1.bit_depth = depth;
        ld_between_output_ranges(&i0, &i1, &o);
        CHECK(o.bit_depth == 16 && o.lo == -2 && o.hi == 5 && o.display_lo == -2 &&
                  o.display_hi == 5,
              "signed %d-bit: depth %d, [%g, %g], display [%g, %g]", depth, o.bit_depth, o.lo,
              o.hi, o.display_lo, o.display_hi);
    }
    i0.is_float = i1.is_float = 1;
    i0.bit_depth = i1.bit_depth = 32;
    ld_between_output_ranges(&i0, &i1, &o);
    CHECK(o.bit_depth == 16 && o.lo == -2 && o.hi == 5 && o.display_lo == -2 &&
              o.display_hi == 5,
          "float: depth %d, [%g, %g], display [%g, %g]", o.bit_depth, o.lo, o.hi, o.display_lo,
          o.display_hi);
}

static void test_bad_output_folders(void)
{
    test_case t;
    make_case(&t, 1, 1);
    ld_err err = {{0}};
    char dir[512];
    snprintf(dir, sizeof dir, "/tmp/ld_test_between_outputs_%ld_missing", (long)getpid());
    remove_tree(dir);
    CHECK(ld_between_write_outputs(dir, &t.o, &err) != 0 && strstr(err.msg, dir) &&
              strstr(err.msg, "No such file"),
          "missing folder: %s", err.msg);
    CHECK(access(dir, F_OK) != 0, "the missing folder was created");

    FILE *fp = fopen(dir, "w"); /* a file where the folder should be */
    if (fp)
        fclose(fp);
    CHECK(ld_between_write_outputs(dir, &t.o, &err) != 0 && strstr(err.msg, "not a folder"),
          "a file as the folder: %s", err.msg);
    remove(dir);

    /* not writable even for root: /proc/self is a folder of the kernel's */
    CHECK(ld_between_write_outputs("/proc/self", &t.o, &err) != 0 &&
              strstr(err.msg, "/proc/self"),
          "an unwritable folder: %s", err.msg);

    make_outdir(dir, sizeof dir, "badrange");
    t.o.hi = t.o.lo;
    CHECK(ld_between_write_outputs(dir, &t.o, &err) != 0 && strstr(err.msg, "range") &&
              !exists(dir, "frames.npy"),
          "an empty value range: %s", err.msg);
    free_case(&t);
    remove_tree(dir);
}

/* A write that fails (a file of the user's named `fields` where the
 * fields' folder goes) fails with a message naming it and leaves the
 * folder as it was: none of this run's outputs, no folder it made. */
static void test_failed_write_changes_nothing(void)
{
    char dir[512], path[700];
    make_outdir(dir, sizeof dir, "failed");
    snprintf(path, sizeof path, "%s/fields", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL, "cannot make %s", path);
    if (f)
        fclose(f);
    test_case t;
    make_case(&t, 1, 1);
    ld_err err = {{0}};
    CHECK(ld_between_write_outputs(dir, &t.o, &err) != 0 && strstr(err.msg, "fields") &&
              strstr(err.msg, "the folder's earlier outputs are unchanged"),
          "message: %s", err.msg);
    CHECK(!exists(dir, "frames.npy") && !exists(dir, "fields.npy") &&
              !exists(dir, "animation.gif") && !exists(dir, "frames/frame_000.png") &&
              !exists(dir, "frames") && !exists(dir, "report.html") && exists(dir, "fields") &&
              temp_files_in(dir) == 0 && entries_in(dir) == 1,
          "outputs left behind after the failed write, or the user's file removed");
    free_case(&t);
    remove_tree(dir);
}

/* Asks to stop at the fifth file of a write. */
static int stop_calls;
static int stop_at_fifth(void) { return ++stop_calls >= 5; }

/* A write stopped part way (a signal) or failing in its last file leaves
 * an earlier run's outputs as they were: all of them, none of this run's. */
static void test_stopped_write_keeps_earlier_run(void)
{
    char dir[512];
    make_outdir(dir, sizeof dir, "stopped");
    test_case earlier, later;
    make_case(&earlier, 1, 1);
    ld_err err = {{0}};
    CHECK(ld_between_write_outputs(dir, &earlier.o, &err) == 0, "first run: %s", err.msg);
    int first_entries = entries_in(dir);
    make_case(&later, 1, 1);
    later.frames[0] += 1; /* another run's frames */
    later.o.stopped = stop_at_fifth;
    stop_calls = 0;
    CHECK(ld_between_write_outputs(dir, &later.o, &err) != 0 && strstr(err.msg, "stopped") &&
              strstr(err.msg, "unchanged"),
          "stopped write: %s", err.msg);
    CHECK(entries_in(dir) == first_entries && exists(dir, "report.html") &&
              exists(dir, "fields/quiver_000.png"),
          "the earlier run's outputs, and nothing else, after the stop");
    ld_npy_array frames = {0};
    char path[700];
    snprintf(path, sizeof path, "%s/frames.npy", dir);
    CHECK(ld_npy_read(path, &frames, &err) == 0 && frames.numel > 0 &&
              !memcmp(frames.data, earlier.o.frames, frames.numel * sizeof(float)),
          "frames.npy still the earlier run's");
    ld_npy_free(&frames);
    free_case(&earlier);
    free_case(&later);
    remove_tree(dir);
}

/* The field check's sentence: its figures, and words where a PSNR is
 * infinite (identical inputs, fields that carry every pixel exactly). */
static void test_check_text(void)
{
    char text[LD_CHECK_TEXT_CAP];
    ld_field_check c = {.psnr = 31.004, .psnr_still = INFINITY, .kept = 1, .mean_speed = 0.125};
    ld_between_check_text(&c, text);
    CHECK(strstr(text, "matches it to 31.00 dB PSNR, against infinite PSNR (exactly) for no "
                       "motion") && strstr(text, "the 100.0% of pixels") &&
              strstr(text, "mean speed 0.12 pixels per unit time."),
          "%s", text);
    c.psnr = INFINITY;
    ld_between_check_text(&c, text);
    CHECK(strstr(text, "matches it to infinite PSNR (exactly), against infinite"), "%s", text);
    c.kept = 0;
    c.psnr = c.psnr_still = NAN;
    ld_between_check_text(&c, text);
    CHECK(strstr(text, "no pixel's path along the fields stays inside the image") &&
              !strstr(text, "nan"),
          "%s", text);
}

LD_TEST_SUITE(between_outputs) = {
    {"writes_every_file", test_writes_every_file},
    {"no_fields_writes_nothing_for_fields", test_no_fields_writes_nothing_for_fields},
    {"earlier_run_outputs_replaced", test_earlier_run_outputs_replaced},
    {"user_frames_beyond_n_kept", test_user_frames_beyond_n_kept},
    {"two_bands_become_false_colour", test_two_bands_become_false_colour},
    {"ranges_for_input_kinds", test_ranges_for_input_kinds},
    {"bad_output_folders", test_bad_output_folders},
    {"check_text", test_check_text},
    {"failed_write_changes_nothing", test_failed_write_changes_nothing},
    {"stopped_write_keeps_earlier_run", test_stopped_write_keeps_earlier_run},
    {NULL, NULL},
};
