/* The HTML report: one self-contained page (images embedded as base64
 * data: URIs, inline CSS and a little inline JavaScript, no external
 * references) with the two inputs, a time slider over the N + 1 frames
 * with the field of the current stage beside the frame and a sentence on
 * how well the fields explain the pair, the streamlines,
 * the loss curve and a table of every setting. All caller text is
 * HTML-escaped. */
#ifndef LD_PLOT_REPORT_H
#define LD_PLOT_REPORT_H

#include "engine/error.h"
#include "plot/canvas.h"

typedef struct ld_report {
    const char *title;            /* page heading; NULL: "latdyn between" */
    const char *caption;          /* a short paragraph under the heading, or NULL */
    const ld_bytes *inputs[2];    /* PNGs of I0 and I1 */
    int stages;                   /* N >= 1: there are N + 1 frames */
    const ld_bytes *frames;       /* N + 1 PNGs, frame n at t = n / N */
    const ld_bytes *quivers;      /* N PNGs (stage n moves frame n to n + 1), or NULL */
    const ld_bytes *streamlines;  /* PNG, or NULL */
    const char *fields_note;      /* shown instead of the fields when quivers is NULL;
                                     NULL: a default sentence */
    const char *fields_check;     /* shown under the fields: how well they explain the
                                     pair (ld_between_check_text), or NULL */
    const ld_bytes *loss;         /* PNG of the loss curve, or NULL */
    const char *loss_note;        /* shown when loss is NULL; NULL: "nothing was trained" */
    int n_settings;
    const char *const *setting_keys, *const *setting_values;
} ld_report;

/* Appends the page to html. */
int ld_report_html(const ld_report *r, ld_bytes *html, ld_err *err);
/* Writes the page to path (atomic). */
int ld_report_write(const char *path, const ld_report *r, ld_err *err);

#endif
