/* Frame display and colour scales: see colormap.h. */
#include "plot/colormap.h"

#include <math.h>
#include <stddef.h>

int ld_display_bands(int channels) { return channels == 1 ? 1 : 3; }

/* The displayed values of pixel i of a planar frame (plane = H * W). */
static void display_pixel(const float *frame, int channels, size_t plane, size_t i, float out[3])
{
    if (channels == 1) {
        out[0] = frame[i];
    } else if (channels == 2) {
        out[0] = frame[i];
        out[1] = frame[plane + i];
        out[2] = 0.5f * (out[0] + out[1]);
    } else {
        for (int b = 0; b < 3; b++)
            out[b] = frame[(size_t)b * plane + i];
    }
}

void ld_display_composite(const float *frame, int channels, int height, int width, float *out)
{
    size_t plane = (size_t)height * (size_t)width;
    int bands = ld_display_bands(channels);
    for (size_t i = 0; i < plane; i++) {
        float v[3];
        display_pixel(frame, channels, plane, i, v);
        for (int b = 0; b < bands; b++)
            out[(size_t)b * plane + i] = v[b];
    }
}

int ld_downsample_factor(int height, int width, int max_side)
{
    int longest = height > width ? height : width;
    if (max_side <= 0 || longest <= max_side)
        return 1;
    return (longest + max_side - 1) / max_side;
}

void ld_downsample_box(const float *src, int channels, int height, int width, int factor,
                       float *dst)
{
    int out_h = (height + factor - 1) / factor, out_w = (width + factor - 1) / factor;
    for (int c = 0; c < channels; c++) {
        const float *plane = src + (size_t)c * height * width;
        for (int oy = 0; oy < out_h; oy++) {
            int y0 = oy * factor, y1 = y0 + factor < height ? y0 + factor : height;
            for (int ox = 0; ox < out_w; ox++) {
                int x0 = ox * factor, x1 = x0 + factor < width ? x0 + factor : width;
                double sum = 0;
                for (int y = y0; y < y1; y++)
                    for (int x = x0; x < x1; x++)
                        sum += plane[(size_t)y * width + x];
                dst[((size_t)c * out_h + oy) * out_w + ox] =
                    (float)(sum / ((double)(y1 - y0) * (x1 - x0)));
            }
        }
    }
}

void ld_display_reduce(const float *frame, int channels, int height, int width, int factor,
                       float *scratch, float *out)
{
    if (factor <= 1) {
        ld_display_composite(frame, channels, height, width, out);
        return;
    }
    ld_display_composite(frame, channels, height, width, scratch);
    ld_downsample_box(scratch, ld_display_bands(channels), height, width, factor, out);
}

unsigned char ld_display_byte(float v, float lo, float hi)
{
    double t = ((double)v - lo) / ((double)hi - lo);
    if (!(t > 0))
        return 0;
    if (t >= 1)
        return 255;
    return (unsigned char)floor(t * 255.0 + 0.5);
}

void ld_frame_to_bytes(const ld_plot_frame *frame, unsigned char *out)
{
    size_t plane = (size_t)frame->height * (size_t)frame->width;
    int bands = ld_display_bands(frame->channels);
    for (size_t i = 0; i < plane; i++) {
        float v[3];
        display_pixel(frame->data, frame->channels, plane, i, v);
        for (int b = 0; b < bands; b++)
            out[i * (size_t)bands + (size_t)b] = ld_display_byte(v[b], frame->lo, frame->hi);
    }
}

void ld_colormap_viridis(double t, double rgb[3])
{
    /* matplotlib's viridis sampled at t = 0, 1/8, ..., 1; linear in between */
    static const unsigned char stops[9][3] = {
        {68, 1, 84},    {71, 44, 122},  {59, 82, 139},  {44, 113, 142},  {33, 145, 140},
        {39, 173, 129}, {92, 200, 99},  {170, 220, 50}, {253, 231, 37},
    };
    if (!(t > 0))
        t = 0;
    if (t > 1)
        t = 1;
    double pos = t * 8.0;
    int k = (int)pos;
    if (k > 7)
        k = 7;
    double w = pos - k;
    for (int c = 0; c < 3; c++)
        rgb[c] = ((1 - w) * stops[k][c] + w * stops[k + 1][c]) / 255.0;
}
