/* The `between` output folder: see between_outputs.h. */
#include "plot/between_outputs.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/npy.h"
#include "engine/atomic_file.h"
#include "plot/canvas.h"
#include "plot/gif.h"
#include "plot/lineplot.h"
#include "plot/quiver.h"
#include "plot/report.h"
#include "plot/streamlines.h"

#define DISPLAY_MAX_SIDE 512 /* GIF and report frames */
#define GIF_DELAY_CS 25
#define GIF_HOLD_CS 80 /* the first and last frames stay longer */
#define PATH_CAP 4096
#define STAGING_PREFIX ".latdyn-writing-" /* the folder the outputs are written in first */

void ld_between_output_ranges(const ld_image *i0, const ld_image *i1, ld_between_outputs *o)
{
    size_t n0 = (size_t)i0->channels * i0->height * i0->width;
    size_t n1 = (size_t)i1->channels * i1->height * i1->width;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n0; i++) {
        lo = fminf(lo, i0->data[i]);
        hi = fmaxf(hi, i0->data[i]);
    }
    for (size_t i = 0; i < n1; i++) {
        lo = fminf(lo, i1->data[i]);
        hi = fmaxf(hi, i1->data[i]);
    }
    if (!(hi > lo))
        hi = lo + 1;
    int is_float = i0->is_float || i1->is_float;
    int depth = i0->bit_depth > i1->bit_depth ? i0->bit_depth : i1->bit_depth;
    o->display_lo = lo;
    o->display_hi = hi;
    o->bit_depth = depth <= 8 ? 8 : 16;
    float full = o->bit_depth == 8 ? 255 : 65535;
    if (is_float || lo < 0 || hi > full) { /* signed samples too: their range mapped */
        o->bit_depth = 16;
        o->lo = lo;
        o->hi = hi;
    } else {
        o->lo = 0;
        o->hi = full;
        if (o->bit_depth == 8) {
            o->display_lo = 0;
            o->display_hi = full;
        }
    }
}

static int check_request(const char *outdir, const ld_between_outputs *o, ld_err *err)
{
    if (o->stages < 1 || o->channels < 1 || o->height < 1 || o->width < 1)
        return ld_errf(err, "%s: nothing to write (N = %d stages of %d x %d x %d)", outdir,
                       o->stages, o->channels, o->height, o->width);
    if (!o->frames || !o->input0 || !o->input1)
        return ld_errf(err, "%s: the frames and both inputs are needed", outdir);
    if (o->bit_depth != 8 && o->bit_depth != 16)
        return ld_errf(err, "%s: frame PNG bit depth must be 8 or 16, not %d", outdir,
                       o->bit_depth);
    if (!(o->hi > o->lo) || !isfinite(o->lo) || !isfinite(o->hi))
        return ld_errf(err, "%s: value range [%g, %g] is empty", outdir, o->lo, o->hi);
    if ((o->display_lo != 0 || o->display_hi != 0) &&
        (!(o->display_hi > o->display_lo) || !isfinite(o->display_lo) ||
         !isfinite(o->display_hi)))
        return ld_errf(err, "%s: display range [%g, %g] is empty", outdir, o->display_lo,
                       o->display_hi);
    if (o->n_losses > 0 && (!o->loss_steps || !o->losses))
        return ld_errf(err, "%s: %d loss values without their arrays", outdir, o->n_losses);
    if (o->n_settings > 0 && (!o->setting_keys || !o->setting_values))
        return ld_errf(err, "%s: %d settings without keys or values", outdir, o->n_settings);
    struct stat st;
    if (stat(outdir, &st) != 0)
        return ld_errf(err, "%s: output folder: %s", outdir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return ld_errf(err, "%s: output folder is not a folder", outdir);
    if (access(outdir, W_OK | X_OK) != 0)
        return ld_errf(err, "%s: output folder is not writable: %s", outdir, strerror(errno));
    return 0;
}

static int make_subdir(const char *outdir, const char *name, ld_err *err)
{
    char path[PATH_CAP];
    if (snprintf(path, sizeof path, "%s/%s", outdir, name) >= (int)sizeof path)
        return ld_errf(err, "%s: path too long", outdir);
    if (mkdir(path, 0777) != 0) {
        struct stat st;
        if (errno != EEXIST || stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
            return ld_errf(err, "%s: cannot create the folder: %s", path, strerror(errno));
    }
    return 0;
}

/* What the writer keeps between the steps. */
typedef struct writer {
    const char *outdir;
    const ld_between_outputs *o;
    char path[PATH_CAP];
    float lo, hi;           /* display range */
    int bands, factor, dh, dw; /* displayed bands and the reduced display size */
    float *scratch;         /* bands x H x W */
    float *display;         /* the reduced frames [N + 1, bands, dh, dw] */
    float *reduced_input;   /* [bands, dh, dw] */
    unsigned char *bytes;   /* dh x dw x bands */
    ld_bytes inputs[2], *frame_pngs, *quiver_pngs, streamlines_png, loss_png;
    const char *loss_note;
} writer;

/* w->path = outdir/name (name formatted with one int), before each file:
 * where the caller asks to stop (a signal), the write ends here. */
static int set_path(writer *w, const char *name, int n, ld_err *err)
{
    if (w->o->stopped && w->o->stopped())
        return ld_errf(err, "%s: stopped while writing the outputs", w->outdir);
    char file[256];
    snprintf(file, sizeof file, name, n);
    if (snprintf(w->path, sizeof w->path, "%s/%s", w->outdir, file) >= (int)sizeof w->path)
        return ld_errf(err, "%s: path too long", w->outdir);
    return 0;
}

static size_t plane_of(const ld_between_outputs *o) { return (size_t)o->height * o->width; }

static int write_arrays(writer *w, ld_err *err)
{
    const ld_between_outputs *o = w->o;
    int frame_shape[4] = {o->stages + 1, o->channels, o->height, o->width};
    if (set_path(w, "frames.npy", 0, err) != 0 ||
        ld_npy_write(w->path, o->frames, 4, frame_shape, err) != 0)
        return -1;
    if (!o->fields)
        return 0;
    int field_shape[4] = {o->stages, 2, o->height, o->width};
    if (set_path(w, "fields.npy", 0, err) != 0 ||
        ld_npy_write(w->path, o->fields, 4, field_shape, err) != 0)
        return -1;
    return 0;
}

/* The inputs were TIFFs: frames and fields go out as float TIFFs too. */
static int write_tiffs(const ld_between_outputs *o)
{
    return o->georef && o->georef->from_tiff;
}

/* Full-resolution frame PNGs of the displayed bands at the input's depth and,
 * for TIFF inputs, float TIFFs of every band. */
static int write_frame_files(writer *w, ld_err *err)
{
    const ld_between_outputs *o = w->o;
    if (make_subdir(w->outdir, "frames", err) != 0)
        return -1;
    size_t frame_size = (size_t)o->channels * plane_of(o);
    ld_image shown = {w->bands, o->height, o->width, w->scratch, o->bit_depth, 0};
    for (int n = 0; n <= o->stages; n++) {
        ld_display_composite(o->frames + (size_t)n * frame_size, o->channels, o->height,
                             o->width, w->scratch);
        if (set_path(w, "frames/frame_%03d.png", n, err) != 0 ||
            ld_image_save_png(w->path, &shown, o->bit_depth, o->lo, o->hi, err) != 0)
            return -1;
        if (write_tiffs(o) &&
            (set_path(w, "frames/frame_%03d.tif", n, err) != 0 ||
             ld_georef_save_tiff(w->path, o->frames + (size_t)n * frame_size, o->channels,
                                 o->height, o->width, o->georef, NULL, err) != 0))
            return -1;
    }
    return 0;
}

/* 8-bit PNG of reduced display bands [bands, dh, dw]. */
static int encode_display(writer *w, const float *reduced, ld_bytes *png, ld_err *err)
{
    ld_plot_frame f = {reduced, w->bands, w->dh, w->dw, w->lo, w->hi};
    ld_frame_to_bytes(&f, w->bytes);
    return ld_png_encode(w->bytes, w->dh, w->dw, w->bands, png, err);
}

/* The reduced frames, their PNGs and those of the inputs (for the report),
 * and the GIF. */
static int write_animation(writer *w, ld_err *err)
{
    const ld_between_outputs *o = w->o;
    size_t frame_size = (size_t)o->channels * plane_of(o);
    size_t reduced_size = (size_t)w->bands * w->dh * w->dw;
    for (int n = 0; n <= o->stages; n++) {
        float *reduced = w->display + (size_t)n * reduced_size;
        ld_display_reduce(o->frames + (size_t)n * frame_size, o->channels, o->height, o->width,
                          w->factor, w->scratch, reduced);
        if (encode_display(w, reduced, &w->frame_pngs[n], err) != 0)
            return -1;
    }
    const float *inputs[2] = {o->input0, o->input1};
    for (int k = 0; k < 2; k++) {
        ld_display_reduce(inputs[k], o->channels, o->height, o->width, w->factor, w->scratch,
                          w->reduced_input);
        if (encode_display(w, w->reduced_input, &w->inputs[k], err) != 0)
            return -1;
    }
    int *delays = malloc((size_t)(o->stages + 1) * sizeof *delays);
    if (!delays)
        return ld_errf(err, "%s: out of memory", w->outdir);
    for (int n = 0; n <= o->stages; n++)
        delays[n] = n == 0 || n == o->stages ? GIF_HOLD_CS : GIF_DELAY_CS;
    ld_gif_options gif = {GIF_DELAY_CS, delays, 0};
    int rc = set_path(w, "animation.gif", 0, err);
    if (rc == 0)
        rc = ld_gif_write(w->path, w->display, o->stages + 1, w->bands, w->dh, w->dw, w->lo,
                          w->hi, &gif, err);
    free(delays);
    return rc;
}

/* Renders, writes and keeps (for the report) one plot; frees the canvas. */
static int keep_plot(writer *w, ld_canvas *cv, ld_bytes *png, ld_err *err)
{
    int rc = ld_canvas_encode_png(cv, png, err);
    ld_canvas_free(cv);
    if (rc == 0)
        rc = ld_bytes_write_file(w->path, png, err);
    return rc;
}

static int write_field_plots(writer *w, ld_err *err)
{
    const ld_between_outputs *o = w->o;
    if (make_subdir(w->outdir, "fields", err) != 0)
        return -1;
    size_t frame_size = (size_t)o->channels * plane_of(o), field_size = 2 * plane_of(o);
    ld_quiver_options q = {0};
    q.dt = 1.0f / (float)o->stages;
    ld_quiver_auto_scale(o->fields, o->stages, o->height, o->width, &q, &q.arrow_scale,
                         &q.max_speed);
    char title[128];
    q.title = title;
    for (int n = 0; n < o->stages; n++) {
        ld_plot_frame frame = {o->frames + (size_t)n * frame_size, o->channels, o->height,
                               o->width, w->lo, w->hi};
        snprintf(title, sizeof title, "stage %d of %d: velocity from t = %d/%d to %d/%d", n + 1,
                 o->stages, n, o->stages, n + 1, o->stages);
        ld_canvas cv;
        if (set_path(w, "fields/quiver_%03d.png", n, err) != 0 ||
            ld_quiver_render(&cv, &frame, o->fields + (size_t)n * field_size, &q, err) != 0 ||
            keep_plot(w, &cv, &w->quiver_pngs[n], err) != 0)
            return -1;
        static const char *const velocity_names[2] = {"x velocity (pixels per unit time)",
                                                      "y velocity (pixels per unit time)"};
        if (write_tiffs(o) &&
            (set_path(w, "fields/field_%03d.tif", n, err) != 0 ||
             ld_georef_save_tiff(w->path, o->fields + (size_t)n * field_size, 2, o->height,
                                 o->width, o->georef, velocity_names, err) != 0))
            return -1;
    }
    float *mean = malloc(field_size * sizeof *mean);
    if (!mean)
        return ld_errf(err, "%s: out of memory", w->outdir);
    ld_fields_mean(o->fields, o->stages, o->height, o->width, mean);
    ld_plot_frame frame = {o->input0, o->channels, o->height, o->width, w->lo, w->hi};
    ld_streamline_options s = {0};
    s.title = "streamlines of the velocity averaged over the stages, over I0";
    ld_canvas cv;
    int rc = set_path(w, "fields/streamlines.png", 0, err);
    if (rc == 0)
        rc = ld_streamlines_render(&cv, &frame, mean, &s, err);
    if (rc == 0)
        rc = keep_plot(w, &cv, &w->streamlines_png, err);
    free(mean);
    return rc;
}

/* The loss curve for the report (log scale when every value is above 0);
 * a curve with nothing to draw only leaves a note. */
static int make_loss_plot(writer *w, ld_err *err)
{
    const ld_between_outputs *o = w->o;
    if (o->n_losses <= 0)
        return 0;
    int log_y = 1;
    for (int i = 0; i < o->n_losses; i++)
        if (isfinite(o->losses[i]) && !(o->losses[i] > 0))
            log_y = 0;
    ld_line_series series = {o->loss_steps, o->losses, o->n_losses, NULL};
    ld_lineplot_options opt = {0, 0, "training loss", "step", "loss", log_y};
    ld_canvas cv;
    ld_err plot_err;
    if (ld_lineplot_render(&cv, &series, 1, &opt, &plot_err) != 0) {
        w->loss_note = "The loss has no finite value to plot.";
        return 0;
    }
    int rc = ld_canvas_encode_png(&cv, &w->loss_png, err);
    ld_canvas_free(&cv);
    return rc;
}

/* "23.56 dB PSNR", or "infinite PSNR (exactly)" where nothing differs. */
static void format_psnr(double psnr, char text[32])
{
    if (isinf(psnr))
        snprintf(text, 32, "infinite PSNR (exactly)");
    else
        snprintf(text, 32, "%.2f dB PSNR", psnr);
}

void ld_between_check_text(const ld_field_check *c, char *text)
{
    if (!(c->kept > 0)) {
        snprintf(text, LD_CHECK_TEXT_CAP,
                 "Field check: no pixel's path along the fields stays inside the image, so "
                 "there is nothing in I1 to compare; mean speed %.2f pixels per unit time.",
                 c->mean_speed);
        return;
    }
    char carried[32], still[32];
    format_psnr(c->psnr, carried);
    format_psnr(c->psnr_still, still);
    snprintf(text, LD_CHECK_TEXT_CAP,
             "Field check (no ground truth needed): each pixel of I0 carried along the fields "
             "lands where I1 matches it to %s, against %s for no motion (I1 against I0), over "
             "the %.1f%% of pixels whose path stays inside the image; mean speed %.2f pixels per "
             "unit time.",
             carried, still, 100.0 * c->kept, c->mean_speed);
}

static int write_report(writer *w, ld_err *err)
{
    const ld_between_outputs *o = w->o;
    ld_report r = {0};
    char check[LD_CHECK_TEXT_CAP];
    if (o->fields && o->check) {
        ld_between_check_text(o->check, check);
        r.fields_check = check;
    }
    r.title = o->title ? o->title : "latdyn between: in-between frames and motion";
    r.caption = o->caption ? o->caption
                           : "Frames estimated between I0 (t = 0) and I1 (t = 1), the velocity "
                             "fields that move one into the other, and the settings used.";
    r.inputs[0] = &w->inputs[0];
    r.inputs[1] = &w->inputs[1];
    r.stages = o->stages;
    r.frames = w->frame_pngs;
    if (o->fields) {
        r.quivers = w->quiver_pngs;
        r.streamlines = &w->streamlines_png;
    }
    r.loss = w->loss_png.len ? &w->loss_png : NULL;
    r.loss_note = w->loss_note;
    r.n_settings = o->n_settings;
    r.setting_keys = o->setting_keys;
    r.setting_values = o->setting_values;
    if (set_path(w, "report.html", 0, err) != 0)
        return -1;
    return ld_report_write(w->path, &r, err);
}

static void writer_free(writer *w)
{
    free(w->scratch);
    free(w->display);
    free(w->reduced_input);
    free(w->bytes);
    for (int k = 0; k < 2; k++)
        ld_bytes_free(&w->inputs[k]);
    for (int n = 0; w->frame_pngs && n <= w->o->stages; n++)
        ld_bytes_free(&w->frame_pngs[n]);
    for (int n = 0; w->quiver_pngs && n < w->o->stages; n++)
        ld_bytes_free(&w->quiver_pngs[n]);
    free(w->frame_pngs);
    free(w->quiver_pngs);
    ld_bytes_free(&w->streamlines_png);
    ld_bytes_free(&w->loss_png);
}

/* What an earlier run wrote here and this one does not (frames beyond N,
 * another method's fields, TIFFs) is removed, so that the folder's frames
 * and fields are this run's. The earlier run is read off its own
 * frames.npy and fields.npy: files of those names that no such array
 * accounts for (a folder of the user's own frames) are left alone. */
static int remove_stale_outputs(const char *outdir, const ld_between_outputs *o, ld_err *err)
{
    int N = o->stages, tiffs = write_tiffs(o), fields = o->fields != NULL;
    char path[PATH_CAP];
    snprintf(path, sizeof path, "%s/frames.npy", outdir);
    int old_frames = ld_npy_first_dim(path, 4);
    snprintf(path, sizeof path, "%s/fields.npy", outdir);
    int old_fields = ld_npy_first_dim(path, 4);
    int new_fields = fields ? N : 0;
    if (ld_remove_numbered(outdir, "frames/frame_%03d.png", N + 1, old_frames, err) ||
        ld_remove_numbered(outdir, "frames/frame_%03d.tif", tiffs ? N + 1 : 0, old_frames, err) ||
        ld_remove_numbered(outdir, "fields/quiver_%03d.png", new_fields, old_fields, err) ||
        ld_remove_numbered(outdir, "fields/field_%03d.tif", tiffs ? new_fields : 0, old_fields,
                        err))
        return -1;
    if (old_fields && !fields) {
        if (ld_remove_output(outdir, "fields/streamlines.png", err) ||
            ld_remove_output(outdir, "fields.npy", err))
            return -1;
        snprintf(path, sizeof path, "%s/fields", outdir);
        rmdir(path); /* when empty: files of the user's own stay, and the folder with them */
    }
    return 0;
}

/* Every file this module writes, relative to the output folder: the
 * single ones, and the numbered ones (one %03d, indices 0..N). */
static const char *const single_outputs[] = {"frames.npy", "fields.npy", "animation.gif",
                                             "fields/streamlines.png", "report.html"};
static const char *const numbered_outputs[] = {"frames/frame_%03d.png", "frames/frame_%03d.tif",
                                               "fields/quiver_%03d.png", "fields/field_%03d.tif"};
static const char *const output_folders[] = {"frames", "fields"};
#define COUNT(a) (sizeof a / sizeof a[0])

/* out = dir/name; 0, or -1 when it does not fit in PATH_CAP. */
static int join_path(char out[PATH_CAP], const char *dir, const char *name)
{
    return snprintf(out, PATH_CAP, "%s/%s", dir, name) < PATH_CAP ? 0 : -1;
}

/* Moves staging/name into outdir/name when it is there (rename: the same
 * file system, so it cannot run out of space). */
static int move_output(const char *staging, const char *outdir, const char *name, ld_err *err)
{
    char from[PATH_CAP], to[PATH_CAP];
    if (join_path(from, staging, name) || join_path(to, outdir, name))
        return ld_errf(err, "%s: path too long", outdir);
    if (rename(from, to) != 0 && errno != ENOENT)
        return ld_errf(err, "%s: cannot move into place: %s", to, strerror(errno));
    return 0;
}

/* The outputs written into staging replace those of an earlier run in
 * outdir: the folders first (what cannot be made fails before anything
 * changes), then the earlier run's files this one does not write are
 * removed and every file is renamed into place. The caller keeps SIGINT
 * and SIGTERM from ending the process meanwhile (they only note a stop). */
static int move_outputs(const char *staging, const char *outdir, const ld_between_outputs *o,
                        ld_err *err)
{
    int made[COUNT(output_folders)] = {0};
    for (size_t i = 0; i < COUNT(output_folders); i++) {
        char path[PATH_CAP];
        if (join_path(path, staging, output_folders[i]) || access(path, F_OK) != 0)
            continue; /* not written (no fields) */
        made[i] = join_path(path, outdir, output_folders[i]) == 0 && access(path, F_OK) != 0;
        if (make_subdir(outdir, output_folders[i], err) != 0) {
            for (size_t k = 0; k < i; k++)
                if (made[k] && join_path(path, outdir, output_folders[k]) == 0)
                    rmdir(path);
            ld_err_suffix(err, "; the folder's earlier outputs are unchanged");
            return -1;
        }
    }
    int rc = remove_stale_outputs(outdir, o, err);
    for (size_t i = 0; !rc && i < COUNT(single_outputs); i++)
        rc = move_output(staging, outdir, single_outputs[i], err);
    for (size_t i = 0; !rc && i < COUNT(numbered_outputs); i++)
        for (int n = 0; !rc && n <= o->stages; n++) {
            char name[64];
            snprintf(name, sizeof name, numbered_outputs[i], n);
            rc = move_output(staging, outdir, name, err);
        }
    if (rc)
        ld_err_suffix(err, "; the folder may hold outputs of both this run and an earlier one");
    return rc;
}

/* Removes the staging folder and whatever is left in it (after a failed
 * or stopped write, all this run wrote; after a good one, empty folders). */
static void remove_staging(const char *staging, const ld_between_outputs *o)
{
    ld_err ignored;
    for (size_t i = 0; i < COUNT(single_outputs); i++)
        ld_remove_output(staging, single_outputs[i], &ignored);
    for (size_t i = 0; i < COUNT(numbered_outputs); i++)
        ld_remove_numbered(staging, numbered_outputs[i], 0, o->stages + 1, &ignored);
    char path[PATH_CAP];
    for (size_t i = 0; i < COUNT(output_folders); i++)
        if (join_path(path, staging, output_folders[i]) == 0)
            rmdir(path);
    rmdir(staging);
}

int ld_between_write_outputs(const char *outdir, const ld_between_outputs *o, ld_err *err)
{
    if (check_request(outdir, o, err) != 0)
        return -1;
    char staging[PATH_CAP];
    if (snprintf(staging, sizeof staging, "%s/" STAGING_PREFIX "XXXXXX", outdir) >=
        (int)sizeof staging)
        return ld_errf(err, "%s: path too long", outdir);
    if (!mkdtemp(staging))
        return ld_errf(err, "%s: cannot make a folder to write the outputs in: %s", outdir,
                       strerror(errno));
    writer w = {0};
    w.outdir = staging;
    w.o = o;
    int use_display = o->display_lo != 0 || o->display_hi != 0;
    w.lo = use_display ? o->display_lo : o->lo;
    w.hi = use_display ? o->display_hi : o->hi;
    w.bands = ld_display_bands(o->channels);
    w.factor = ld_downsample_factor(o->height, o->width, DISPLAY_MAX_SIDE);
    w.dh = (o->height + w.factor - 1) / w.factor;
    w.dw = (o->width + w.factor - 1) / w.factor;
    size_t reduced_size = (size_t)w.bands * w.dh * w.dw;
    w.scratch = malloc((size_t)w.bands * plane_of(o) * sizeof(float));
    w.display = malloc((size_t)(o->stages + 1) * reduced_size * sizeof(float));
    w.reduced_input = malloc(reduced_size * sizeof(float));
    w.bytes = malloc(reduced_size);
    w.frame_pngs = calloc((size_t)o->stages + 1, sizeof *w.frame_pngs);
    w.quiver_pngs = calloc((size_t)o->stages, sizeof *w.quiver_pngs);
    int rc = -1;
    if (!w.scratch || !w.display || !w.reduced_input || !w.bytes || !w.frame_pngs ||
        !w.quiver_pngs)
        ld_errf(err, "%s: out of memory for the outputs", outdir);
    else if (write_arrays(&w, err) == 0 && write_frame_files(&w, err) == 0 &&
             write_animation(&w, err) == 0 && (!o->fields || write_field_plots(&w, err) == 0) &&
             make_loss_plot(&w, err) == 0)
        rc = write_report(&w, err);
    writer_free(&w);
    if (rc == 0 && (o->stopped && o->stopped()))
        rc = ld_errf(err, "%s: stopped while writing the outputs", outdir);
    if (rc == 0)
        rc = move_outputs(staging, outdir, o, err);
    else
        ld_err_suffix(err, "; the folder's earlier outputs are unchanged");
    remove_staging(staging, o);
    return rc;
}
