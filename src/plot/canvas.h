/* The drawing surface shared by the plots: a cairo RGB canvas, optionally
 * holding a frame scaled to a readable size with white bands above and
 * below it for a title and a legend; text, arrows and colour-bar helpers;
 * and PNG encoding into memory (for the HTML report) or into an atomic
 * file. Nothing here prints; failures return -1 with an ld_err message. */
#ifndef LD_PLOT_CANVAS_H
#define LD_PLOT_CANVAS_H

#include <cairo.h>
#include <stddef.h>

#include "engine/error.h"
#include "plot/colormap.h"

/* A growable byte buffer (PNG files, HTML pages). */
typedef struct ld_bytes {
    unsigned char *data;
    size_t len, cap;
} ld_bytes;

/* Appends n bytes; -1 when out of memory. */
int ld_bytes_append(ld_bytes *b, const void *data, size_t n);
void ld_bytes_free(ld_bytes *b);
/* Writes the bytes to path as one atomic file. */
int ld_bytes_write_file(const char *path, const ld_bytes *b, ld_err *err);

/* Encodes interleaved 8-bit pixels [height][width][channels] (1: grey,
 * 3: RGB) as a PNG into png (appended). */
int ld_png_encode(const unsigned char *pixels, int height, int width, int channels, ld_bytes *png,
                  ld_err *err);

typedef struct ld_canvas {
    cairo_surface_t *surface; /* CAIRO_FORMAT_RGB24 */
    cairo_t *cr;
    int width, height;
    /* Where the frame lies: image pixel (x, y), whose centre is at image
     * coordinates (x + 0.5, y + 0.5), covers the canvas square from
     * (origin_x + scale x, origin_y + scale y) with side `scale`; the frame
     * fills image_width x image_height canvas pixels. Blank canvases have
     * scale 1 and origin 0. */
    double origin_x, origin_y, scale;
    int image_width, image_height;
} ld_canvas;

/* How a frame is placed on a canvas. */
typedef struct ld_canvas_layout {
    int min_side, max_side; /* the frame's long side on the canvas: images
                               shorter than min_side are enlarged by an integer
                               factor (pixels stay sharp), longer than
                               max_side are reduced to it */
    int top, bottom;        /* white bands above and below the frame */
    int min_width;          /* the canvas is at least this wide (frame centred) */
} ld_canvas_layout;

/* A white canvas. */
int ld_canvas_blank(ld_canvas *cv, int width, int height, ld_err *err);
/* A white canvas with the frame drawn as laid out. */
int ld_canvas_with_frame(ld_canvas *cv, const ld_plot_frame *frame, const ld_canvas_layout *layout,
                         ld_err *err);
void ld_canvas_free(ld_canvas *cv);

/* Canvas position of the image point (x, y) in pixel-centre coordinates
 * (pixel (i, j) has its centre at x = i, y = j). */
void ld_canvas_point(const ld_canvas *cv, double x, double y, double *cx, double *cy);

typedef enum { LD_ALIGN_LEFT, LD_ALIGN_CENTRE, LD_ALIGN_RIGHT } ld_text_align;
/* Black sans-serif text with its baseline at y, aligned on x. */
void ld_canvas_text(ld_canvas *cv, double x, double y, double size, ld_text_align align,
                    const char *text);
/* An arrow from (x0, y0) to (x1, y1) in canvas pixels: a shaft of the given
 * width and a filled head `head` pixels long, in colour rgb (0..1) with a
 * thin black outline so that it shows on any background. */
void ld_canvas_arrow(ld_canvas *cv, double x0, double y0, double x1, double y1, double head,
                     double line_width, const double rgb[3]);
/* A horizontal viridis colour bar at (x, y) of size w x h, labelled with
 * `lo_label` at its left end, `hi_label` at its right end and `title`
 * after it. */
void ld_canvas_colour_bar(ld_canvas *cv, double x, double y, double w, double h,
                          const char *lo_label, const char *hi_label, const char *title);

/* The "nice" number 1, 2 or 5 x 10^k nearest x from below (round_up 0) or
 * from above (round_up 1); x > 0. For arrow scales and axis ticks. */
double ld_nice_number(double x, int round_up);

/* The 8-bit RGB value of canvas pixel (x, y) (inside the canvas). */
void ld_canvas_rgb(const ld_canvas *cv, int x, int y, unsigned char rgb[3]);
/* Fails when a drawing call failed (cairo's sticky status). */
int ld_canvas_check(const ld_canvas *cv, const char *what, ld_err *err);
/* Encodes the canvas as an 8-bit RGB PNG into png (appended). */
int ld_canvas_encode_png(const ld_canvas *cv, ld_bytes *png, ld_err *err);
/* Writes the canvas as a PNG file (atomic). */
int ld_canvas_write_png(const ld_canvas *cv, const char *path, ld_err *err);

#endif
