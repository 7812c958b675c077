/* Cairo canvases, drawing helpers and PNG encoding: see canvas.h. */
#include "plot/canvas.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/atomic_file.h"

#define PNG_MSG_LEN 256
#define PNG_ZLIB_LEVEL 3

int ld_bytes_append(ld_bytes *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *grown = realloc(b->data, cap);
        if (!grown)
            return -1;
        b->data = grown;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    return 0;
}

void ld_bytes_free(ld_bytes *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int ld_bytes_write_file(const char *path, const ld_bytes *b, ld_err *err)
{
    ld_atomic_file f;
    if (ld_atomic_open(&f, path, err) != 0)
        return -1;
    if (b->len && fwrite(b->data, 1, b->len, f.fp) != b->len) {
        ld_atomic_abort(&f);
        return ld_errf(err, "%s: write failed", path);
    }
    return ld_atomic_commit(&f, err);
}

/* ---- PNG into memory -------------------------------------------------------- */

typedef struct png_sink {
    ld_bytes *out;
    char message[PNG_MSG_LEN];
} png_sink;

static void png_sink_error(png_structp png, png_const_charp msg)
{
    png_sink *sink = png_get_error_ptr(png);
    snprintf(sink->message, sizeof sink->message, "%s", msg);
    png_longjmp(png, 1);
}

static void png_sink_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

static void png_sink_write(png_structp png, png_bytep data, png_size_t n)
{
    png_sink *sink = png_get_io_ptr(png);
    if (ld_bytes_append(sink->out, data, n) != 0)
        png_error(png, "out of memory");
}

static void png_sink_flush(png_structp png) { (void)png; }

int ld_png_encode(const unsigned char *pixels, int height, int width, int channels, ld_bytes *png,
                  ld_err *err)
{
    if ((channels != 1 && channels != 3) || height < 1 || width < 1)
        return ld_errf(err, "png: cannot encode %d x %d pixels with %d channels", height, width,
                       channels);
    png_sink sink = {png, ""};
    png_structp w =
        png_create_write_struct(PNG_LIBPNG_VER_STRING, &sink, png_sink_error, png_sink_warning);
    png_infop info = w ? png_create_info_struct(w) : NULL;
    if (!info) {
        png_destroy_write_struct(&w, NULL);
        return ld_errf(err, "png: out of memory for the encoder");
    }
    if (setjmp(png_jmpbuf(w))) {
        png_destroy_write_struct(&w, &info);
        return ld_errf(err, "png: cannot encode: %s", sink.message);
    }
    png_set_write_fn(w, &sink, png_sink_write, png_sink_flush);
    /* zlib level 3: as small as the default 6 on plots and photos, and
     * about twice as fast */
    png_set_compression_level(w, PNG_ZLIB_LEVEL);
    png_set_IHDR(w, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(w, info);
    size_t row_bytes = (size_t)width * (size_t)channels;
    for (int y = 0; y < height; y++)
        png_write_row(w, pixels + (size_t)y * row_bytes);
    png_write_end(w, info);
    png_destroy_write_struct(&w, &info);
    return 0;
}

/* ---- canvases --------------------------------------------------------------- */

int ld_canvas_blank(ld_canvas *cv, int width, int height, ld_err *err)
{
    memset(cv, 0, sizeof *cv);
    cv->surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    cairo_status_t status = cairo_surface_status(cv->surface);
    if (status == CAIRO_STATUS_SUCCESS) {
        cv->cr = cairo_create(cv->surface);
        status = cairo_status(cv->cr);
    }
    if (status != CAIRO_STATUS_SUCCESS) {
        ld_canvas_free(cv);
        return ld_errf(err, "plot: cannot make a %d x %d canvas: %s", width, height,
                       cairo_status_to_string(status));
    }
    cv->width = width;
    cv->height = height;
    cv->scale = 1;
    cv->image_width = width;
    cv->image_height = height;
    cairo_set_source_rgb(cv->cr, 1, 1, 1);
    cairo_paint(cv->cr);
    return 0;
}

void ld_canvas_free(ld_canvas *cv)
{
    if (cv->cr)
        cairo_destroy(cv->cr);
    if (cv->surface)
        cairo_surface_destroy(cv->surface);
    cv->cr = NULL;
    cv->surface = NULL;
}

/* The frame as a cairo RGB image surface at its own size. */
static cairo_surface_t *frame_surface(const ld_plot_frame *frame, ld_err *err)
{
    int bands = ld_display_bands(frame->channels);
    size_t plane = (size_t)frame->height * (size_t)frame->width;
    unsigned char *bytes = malloc(plane * (size_t)bands);
    if (!bytes) {
        ld_errf(err, "plot: out of memory for a %d x %d frame", frame->height, frame->width);
        return NULL;
    }
    ld_frame_to_bytes(frame, bytes);
    cairo_surface_t *s =
        cairo_image_surface_create(CAIRO_FORMAT_RGB24, frame->width, frame->height);
    if (cairo_surface_status(s) != CAIRO_STATUS_SUCCESS) {
        ld_errf(err, "plot: cannot hold a %d x %d frame: %s", frame->height, frame->width,
                cairo_status_to_string(cairo_surface_status(s)));
        cairo_surface_destroy(s);
        free(bytes);
        return NULL;
    }
    cairo_surface_flush(s);
    unsigned char *data = cairo_image_surface_get_data(s);
    int stride = cairo_image_surface_get_stride(s);
    for (int y = 0; y < frame->height; y++) {
        uint32_t *row = (uint32_t *)(void *)(data + (size_t)y * (size_t)stride);
        for (int x = 0; x < frame->width; x++) {
            const unsigned char *p = bytes + ((size_t)y * frame->width + x) * (size_t)bands;
            uint32_t r = p[0], g = p[bands > 1], b = p[bands > 1 ? 2 : 0];
            row[x] = r << 16 | g << 8 | b;
        }
    }
    cairo_surface_mark_dirty(s);
    free(bytes);
    return s;
}

int ld_canvas_with_frame(ld_canvas *cv, const ld_plot_frame *frame, const ld_canvas_layout *layout,
                         ld_err *err)
{
    int longest = frame->height > frame->width ? frame->height : frame->width;
    double scale = 1;
    if (longest < layout->min_side)
        scale = ceil((double)layout->min_side / longest);
    else if (layout->max_side > 0 && longest > layout->max_side)
        scale = (double)layout->max_side / longest;
    int image_w = (int)ceil(frame->width * scale - 1e-9);
    int image_h = (int)ceil(frame->height * scale - 1e-9);
    int width = image_w > layout->min_width ? image_w : layout->min_width;
    if (ld_canvas_blank(cv, width, layout->top + image_h + layout->bottom, err) != 0)
        return -1;
    cv->scale = scale;
    cv->origin_x = (width - image_w) / 2;
    cv->origin_y = layout->top;
    cv->image_width = image_w;
    cv->image_height = image_h;
    cairo_surface_t *image = frame_surface(frame, err);
    if (!image) {
        ld_canvas_free(cv);
        return -1;
    }
    cairo_t *cr = cv->cr;
    cairo_save(cr);
    cairo_rectangle(cr, cv->origin_x, cv->origin_y, image_w, image_h);
    cairo_clip(cr);
    cairo_translate(cr, cv->origin_x, cv->origin_y);
    cairo_scale(cr, scale, scale);
    cairo_set_source_surface(cr, image, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr),
                             scale >= 1 ? CAIRO_FILTER_NEAREST : CAIRO_FILTER_GOOD);
    cairo_pattern_set_extend(cairo_get_source(cr), CAIRO_EXTEND_PAD);
    cairo_paint(cr);
    cairo_restore(cr);
    cairo_surface_destroy(image);
    return ld_canvas_check(cv, "frame", err);
}

void ld_canvas_point(const ld_canvas *cv, double x, double y, double *cx, double *cy)
{
    *cx = cv->origin_x + cv->scale * (x + 0.5);
    *cy = cv->origin_y + cv->scale * (y + 0.5);
}

void ld_canvas_text(ld_canvas *cv, double x, double y, double size, ld_text_align align,
                    const char *text)
{
    cairo_t *cr = cv->cr;
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t ext;
    cairo_text_extents(cr, text, &ext);
    double shift = align == LD_ALIGN_LEFT ? 0 : align == LD_ALIGN_CENTRE ? ext.x_advance / 2
                                                                        : ext.x_advance;
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_move_to(cr, x - shift, y);
    cairo_show_text(cr, text);
    cairo_new_path(cr);
}

void ld_canvas_arrow(ld_canvas *cv, double x0, double y0, double x1, double y1, double head,
                     double line_width, const double rgb[3])
{
    cairo_t *cr = cv->cr;
    double dx = x1 - x0, dy = y1 - y0, len = hypot(dx, dy);
    if (len <= 0)
        return;
    double ux = dx / len, uy = dy / len;
    if (head > len)
        head = len;
    double bx = x1 - head * ux, by = y1 - head * uy, half = 0.5 * head;
    /* two passes: a black outline, then the colour inside it */
    for (int pass = 0; pass < 2; pass++) {
        double extra = pass == 0 ? 2.0 : 0.0;
        if (pass == 0)
            cairo_set_source_rgb(cr, 0, 0, 0);
        else
            cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_set_line_width(cr, line_width + extra);
        cairo_set_line_cap(cr, CAIRO_LINE_CAP_BUTT);
        if (len > head) {
            cairo_move_to(cr, x0, y0);
            cairo_line_to(cr, bx, by);
            cairo_stroke(cr);
        }
        cairo_move_to(cr, x1, y1);
        cairo_line_to(cr, bx - half * uy, by + half * ux);
        cairo_line_to(cr, bx + half * uy, by - half * ux);
        cairo_close_path(cr);
        if (pass == 0) {
            cairo_set_line_width(cr, extra);
            cairo_stroke_preserve(cr);
        }
        cairo_fill(cr);
    }
}

void ld_canvas_colour_bar(ld_canvas *cv, double x, double y, double w, double h,
                          const char *lo_label, const char *hi_label, const char *title)
{
    cairo_t *cr = cv->cr;
    cairo_pattern_t *ramp = cairo_pattern_create_linear(x, 0, x + w, 0);
    for (int k = 0; k <= 8; k++) {
        double rgb[3];
        ld_colormap_viridis(k / 8.0, rgb);
        cairo_pattern_add_color_stop_rgb(ramp, k / 8.0, rgb[0], rgb[1], rgb[2]);
    }
    cairo_rectangle(cr, x, y, w, h);
    cairo_set_source(cr, ramp);
    cairo_fill_preserve(cr);
    cairo_pattern_destroy(ramp);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_stroke(cr);
    double size = h < 14 ? 11 : h * 0.8, base = y + h - 0.15 * h;
    ld_canvas_text(cv, x - 4, base, size, LD_ALIGN_RIGHT, lo_label);
    cairo_text_extents_t ext;
    cairo_text_extents(cr, hi_label, &ext);
    ld_canvas_text(cv, x + w + 4, base, size, LD_ALIGN_LEFT, hi_label);
    ld_canvas_text(cv, x + w + 12 + ext.x_advance, base, size, LD_ALIGN_LEFT, title);
}

double ld_nice_number(double x, int round_up)
{
    static const double mantissas[3] = {1, 2, 5};
    double decade = pow(10, floor(log10(x)));
    if (round_up) {
        for (int i = 0; i < 3; i++)
            if (mantissas[i] * decade >= x * (1 - 1e-9))
                return mantissas[i] * decade;
        return 10 * decade;
    }
    for (int i = 2; i >= 0; i--)
        if (mantissas[i] * decade <= x * (1 + 1e-9))
            return mantissas[i] * decade;
    return decade;
}

/* Pixel (x, y) of cairo RGB24 data (native-endian 0x00RRGGBB words). */
static void surface_pixel(const unsigned char *data, int stride, int x, int y,
                          unsigned char rgb[3])
{
    uint32_t p;
    memcpy(&p, data + (size_t)y * (size_t)stride + (size_t)x * 4, 4);
    rgb[0] = (unsigned char)(p >> 16);
    rgb[1] = (unsigned char)(p >> 8);
    rgb[2] = (unsigned char)p;
}

void ld_canvas_rgb(const ld_canvas *cv, int x, int y, unsigned char rgb[3])
{
    cairo_surface_flush(cv->surface);
    surface_pixel(cairo_image_surface_get_data(cv->surface),
                  cairo_image_surface_get_stride(cv->surface), x, y, rgb);
}

int ld_canvas_check(const ld_canvas *cv, const char *what, ld_err *err)
{
    cairo_status_t status = cairo_status(cv->cr);
    if (status != CAIRO_STATUS_SUCCESS)
        return ld_errf(err, "plot: drawing the %s failed: %s", what,
                       cairo_status_to_string(status));
    return 0;
}

int ld_canvas_encode_png(const ld_canvas *cv, ld_bytes *png, ld_err *err)
{
    size_t n = (size_t)cv->width * (size_t)cv->height;
    unsigned char *rgb = malloc(n * 3);
    if (!rgb)
        return ld_errf(err, "plot: out of memory for a %d x %d PNG", cv->width, cv->height);
    cairo_surface_flush(cv->surface);
    const unsigned char *data = cairo_image_surface_get_data(cv->surface);
    int stride = cairo_image_surface_get_stride(cv->surface);
    for (int y = 0; y < cv->height; y++)
        for (int x = 0; x < cv->width; x++)
            surface_pixel(data, stride, x, y, rgb + ((size_t)y * cv->width + x) * 3);
    int rc = ld_png_encode(rgb, cv->height, cv->width, 3, png, err);
    free(rgb);
    return rc;
}

int ld_canvas_write_png(const ld_canvas *cv, const char *path, ld_err *err)
{
    ld_bytes png = {0};
    int rc = ld_canvas_encode_png(cv, &png, err);
    if (rc == 0)
        rc = ld_bytes_write_file(path, &png, err);
    else
        ld_err_prefix(err, "%s: ", path);
    ld_bytes_free(&png);
    return rc;
}
