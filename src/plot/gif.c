/* GIF animation writer: see gif.h. */
#include "plot/gif.h"

#include <gif_lib.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "engine/atomic_file.h"
#include "plot/colormap.h"

#define GIF_DEFAULT_DELAY_CS 25
/* levels of the colour cube per channel: 6 x 7 x 6 = 252 palette entries */
static const int cube_levels[3] = {6, 7, 6};

static int gif_to_file(GifFileType *gif, const GifByteType *data, int n)
{
    FILE *fp = gif->UserData;
    return (int)fwrite(data, 1, (size_t)n, fp);
}

static ColorMapObject *make_palette(int bands)
{
    GifColorType colours[256];
    memset(colours, 0, sizeof colours);
    if (bands == 1) {
        for (int i = 0; i < 256; i++)
            colours[i].Red = colours[i].Green = colours[i].Blue = (GifByteType)i;
    } else {
        for (int r = 0; r < cube_levels[0]; r++)
            for (int g = 0; g < cube_levels[1]; g++)
                for (int b = 0; b < cube_levels[2]; b++) {
                    GifColorType *c = &colours[(r * cube_levels[1] + g) * cube_levels[2] + b];
                    c->Red = (GifByteType)(r * 255 / (cube_levels[0] - 1));
                    c->Green = (GifByteType)(g * 255 / (cube_levels[1] - 1));
                    c->Blue = (GifByteType)(b * 255 / (cube_levels[2] - 1));
                }
    }
    return GifMakeMapObject(256, colours);
}

/* Palette index of interleaved display bytes at (x, y): the grey level, or
 * the dithered colour-cube entry. */
static GifPixelType palette_index(const unsigned char *px, int bands, int x, int y)
{
    static const unsigned char bayer[4][4] = {
        {0, 8, 2, 10}, {12, 4, 14, 6}, {3, 11, 1, 9}, {15, 7, 13, 5}};
    if (bands == 1)
        return px[0];
    double threshold = (bayer[y & 3][x & 3] + 0.5) / 16.0;
    int index = 0;
    for (int c = 0; c < 3; c++) {
        int top = cube_levels[c] - 1;
        int level = (int)(px[c] * top / 255.0 + threshold);
        index = index * cube_levels[c] + (level > top ? top : level);
    }
    return (GifPixelType)index;
}

static int gif_fail(GifFileType *gif, ld_atomic_file *f, const char *path, const char *what,
                    ld_err *err)
{
    int code = gif ? gif->Error : 0, close_error = 0;
    if (gif)
        EGifCloseFile(gif, &close_error);
    ld_atomic_abort(f);
    const char *reason = GifErrorString(code ? code : close_error);
    return ld_errf(err, "%s: cannot write GIF (%s): %s", path, what, reason ? reason : "?");
}

int ld_gif_write(const char *path, const float *frames, int n_frames, int channels, int height,
                 int width, float lo, float hi, const ld_gif_options *opt, ld_err *err)
{
    ld_gif_options defaults = {0};
    if (!opt)
        opt = &defaults;
    if (n_frames < 1 || channels < 1 || height < 1 || width < 1)
        return ld_errf(err, "%s: a GIF needs at least one frame (got %d frames of %d x %d x %d)",
                       path, n_frames, channels, height, width);
    if (!(hi > lo))
        return ld_errf(err, "%s: GIF value range [%g, %g] is empty", path, lo, hi);
    int factor = ld_downsample_factor(height, width, opt->max_side);
    int h = (height + factor - 1) / factor, w = (width + factor - 1) / factor;
    if (h > 65535 || w > 65535)
        return ld_errf(err, "%s: %d x %d is too large for a GIF", path, h, w);
    int bands = ld_display_bands(channels);
    size_t plane = (size_t)height * width, small_plane = (size_t)h * w;
    float *composite = malloc(plane * (size_t)bands * sizeof(float));
    float *small = malloc(small_plane * (size_t)bands * sizeof(float));
    unsigned char *bytes = malloc(small_plane * (size_t)bands);
    GifPixelType *row = malloc((size_t)w * sizeof *row);
    ColorMapObject *palette = make_palette(bands);
    ld_atomic_file f = {0};
    int rc = -1;
    if (!composite || !small || !bytes || !row || !palette) {
        ld_errf(err, "%s: out of memory for the GIF", path);
        goto done;
    }
    if (ld_atomic_open(&f, path, err) != 0)
        goto done;
    int gif_error = 0;
    GifFileType *gif = EGifOpen(f.fp, gif_to_file, &gif_error);
    if (!gif) {
        ld_atomic_abort(&f);
        ld_errf(err, "%s: cannot start GIF: %s", path, GifErrorString(gif_error));
        goto done;
    }
    EGifSetGifVersion(gif, true);
    if (EGifPutScreenDesc(gif, w, h, 8, 0, palette) == GIF_ERROR) {
        gif_fail(gif, &f, path, "screen", err);
        goto done;
    }
    static const unsigned char loop_forever[3] = {1, 0, 0}; /* sub-block 1, count 0 */
    if (EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE) == GIF_ERROR ||
        EGifPutExtensionBlock(gif, 11, "NETSCAPE2.0") == GIF_ERROR ||
        EGifPutExtensionBlock(gif, 3, loop_forever) == GIF_ERROR ||
        EGifPutExtensionTrailer(gif) == GIF_ERROR) {
        gif_fail(gif, &f, path, "loop extension", err);
        goto done;
    }
    for (int n = 0; n < n_frames; n++) {
        int delay = opt->frame_delays_cs ? opt->frame_delays_cs[n]
                    : opt->delay_cs > 0  ? opt->delay_cs
                                         : GIF_DEFAULT_DELAY_CS;
        GraphicsControlBlock gcb = {DISPOSE_DO_NOT, false, delay, NO_TRANSPARENT_COLOR};
        GifByteType control[4];
        size_t control_len = EGifGCBToExtension(&gcb, control);
        if (EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, (int)control_len, control) ==
                GIF_ERROR ||
            EGifPutImageDesc(gif, 0, 0, w, h, false, NULL) == GIF_ERROR) {
            gif_fail(gif, &f, path, "frame header", err);
            goto done;
        }
        ld_display_reduce(frames + (size_t)n * channels * plane, channels, height, width, factor,
                          composite, small);
        ld_plot_frame shown = {small, bands, h, w, lo, hi};
        ld_frame_to_bytes(&shown, bytes);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++)
                row[x] = palette_index(bytes + ((size_t)y * w + x) * bands, bands, x, y);
            if (EGifPutLine(gif, row, w) == GIF_ERROR) {
                gif_fail(gif, &f, path, "pixels", err);
                goto done;
            }
        }
    }
    if (EGifCloseFile(gif, &gif_error) == GIF_ERROR) {
        ld_atomic_abort(&f);
        ld_errf(err, "%s: cannot finish GIF: %s", path, GifErrorString(gif_error));
        goto done;
    }
    rc = ld_atomic_commit(&f, err);
done:
    GifFreeMapObject(palette);
    free(composite);
    free(small);
    free(bytes);
    free(row);
    return rc;
}
