/* Synthetic ground truth for `between` (design/between.md, "How to know it
 * works"): a texture carried by a known time-dependent velocity field
 * u(x, t), t in [0, 1], rendered exactly at t_n = n / N, n = 0..N.
 *
 * Frame n at pixel x is the texture at the foot of the backward
 * characteristic: integrate dX/dt = u(X, t) from (x, t_n) back to t = 0
 * (RK4, substeps of at most 0.25 px), then sample the texture bilinearly.
 * The texture lives on a canvas larger than the frame (it covers every
 * characteristic's foot), so content enters through the borders. For the
 * source scenario, the source term is integrated along the same path:
 * I(x, t_n) = texture(X(0)) + integral_0^t_n S(X(t), t) dt.
 *
 * Coordinates: pixel (row i, column j) has its centre at x = j, y = i; the
 * frame centre is c = ((S-1)/2, (S-1)/2). Velocities are in pixels per unit
 * time. r(t) = 0.5 + t is the ramp of the accelerating scenarios (its
 * integral over [0, 1] is 1, R(t) = 0.5 t + 0.5 t^2 its integral from 0),
 * M is the magnitude (1 by default; 0 stops the motion).
 * - translate: u = M 0.1875 S r(t) (cos 30deg, sin 30deg): accelerating
 *   uniform motion, 0.1875 S px (24 px at S = 128) over [0, 1].
 * - rotate: u = w(t) (-(y - c_y), x - c_x), w(t) = M (20 deg) r(t): about
 *   the centre, clockwise as displayed, rate ramping up, 20 deg in all.
 * - shear: u = (M 0.25 (y - c_y), 0): steady; rows at the top and bottom
 *   edge move 0.125 S px in opposite directions.
 * - lead: a wavy crack through the centre, f(x) = n.(x - c) - A sin(k t.(x
 *   - c) + phase) = 0 with unit normal n at an angle within 20 deg of the
 *   x axis (from the seed), tangent t, A = 0.03 S, k = 2 pi / (0.6 S).
 *   The two halves move apart rigidly along n: the opening width is
 *   W(t) = M 0.08 S R(t); where f(x) > W/2, u = +W'(t)/2 n; where
 *   f(x) < -W/2, u = -W'(t)/2 n; in between lies open water (value 0,
 *   velocity 0): new dark pixels along the crack.
 * - inflow: u = (M 0.2 S (1.5 - t) (1 - 0.5 x / S)(1 + 0.25 cos(2 pi (y -
 *   c_y) / S)), 0): decelerating, compressive flow from the left border;
 *   features enter through it.
 * - source: half the translate velocity, plus the source term
 *   S(x, t) = sum_k A_k exp(-|x - c_k(t)|^2 / (2 s^2)) 2 (t - t_k)_+ /
 *   (1 - t_k)^2 with s = 0.04 S, A_k = 0.3, onsets t_k = 0.1, 0.3, 0.5, and
 *   centres c_k(t) carried by the motion from seed-chosen positions, so a
 *   blob's peak grows to A_k ((t - t_k) / (1 - t_k))^2 (0.3 at t = 1).
 * - drift: rotate and lead at once, as sea ice does: the scene turns about
 *   the centre as in rotate while the crack, turning with it, opens as in
 *   lead: u = w(t) (-(y - c_y), x - c_x) + R(a(t)) u_lead, a(t) = M (20
 *   deg) R(t) the angle turned so far; open water where the point turned
 *   back by a(t) lies in lead's crack. The main job's (`latdyn demo`) scene.
 *
 * Intensities are in [0, 1]: the texture is mapped onto [0, 1] (lead, drift:
 * [0.3, 1], so the open water (0) stands out; source: [0, 0.7], so the
 * blobs stay within 1). A texture image is cropped at a seed-chosen place
 * (scaled up first when smaller than the canvas, which is about 2S x 2S at
 * the default magnitude; ld_synth_texture_fit tells by how much) and
 * normalised by its 0.5 and 99.5 percentiles; `noise` is ld_pattern_texture plus white
 * noise smoothed at three scales (sigma 1, 2.5, 6 px) for detail at every
 * scale, normalised by its 1 and 99 percentiles. */
#ifndef LD_DATA_SYNTH_BETWEEN_H
#define LD_DATA_SYNTH_BETWEEN_H

#include <stdint.h>

#include "data/image.h"
#include "engine/error.h"

typedef enum ld_synth_scenario {
    LD_SYNTH_TRANSLATE,
    LD_SYNTH_ROTATE,
    LD_SYNTH_SHEAR,
    LD_SYNTH_LEAD,
    LD_SYNTH_INFLOW,
    LD_SYNTH_SOURCE,
    LD_SYNTH_DRIFT,
    LD_SYNTH_SCENARIO_COUNT
} ld_synth_scenario;

/* "translate", "rotate", ...; NULL outside the enum. */
const char *ld_synth_scenario_name(ld_synth_scenario s);
/* Fails with a message listing the names when `name` is none of them. */
int ld_synth_scenario_parse(const char *name, ld_synth_scenario *s, ld_err *err);

typedef struct ld_synth_between_config {
    ld_synth_scenario scenario;
    int stages;      /* N >= 1 */
    int size;        /* frame side S >= 16 (frames are S x S) */
    float magnitude; /* M >= 0, 1 = the motion described above */
    uint64_t seed;   /* texture (noise or crop place), crack shape, blobs */
} ld_synth_between_config;

/* Fails with a clear message for an unknown scenario, stages < 1,
 * size < 16, or a negative or non-finite magnitude. */
int ld_synth_between_config_check(const ld_synth_between_config *cfg, ld_err *err);

#define LD_SYNTH_MAX_BLOBS 3

/* The motion of one configuration, with its seed-dependent parts drawn. */
typedef struct ld_synth_motion {
    ld_synth_between_config cfg;
    double cx, cy;                    /* frame centre */
    double normal[2], tangent[2];     /* lead: crack orientation */
    double crack_phase;               /* lead */
    int blob_count;                   /* source */
    double blob_x[LD_SYNTH_MAX_BLOBS], blob_y[LD_SYNTH_MAX_BLOBS]; /* at t = 0 */
    double blob_onset[LD_SYNTH_MAX_BLOBS];
} ld_synth_motion;

/* Fails when the configuration does not pass ld_synth_between_config_check. */
int ld_synth_motion_init(ld_synth_motion *m, const ld_synth_between_config *cfg, ld_err *err);
/* The true Eulerian velocity u(x, y, t) in pixels per unit time. */
void ld_synth_velocity(const ld_synth_motion *m, double x, double y, double t, double *ux,
                       double *uy);
/* The source term S(x, y, t) (intensity per unit time; 0 except for the
 * source scenario). */
double ld_synth_source(const ld_synth_motion *m, double x, double y, double t);
/* Lead: 1 where (x, y) is open water at time t, else 0. */
int ld_synth_is_open_water(const ld_synth_motion *m, double x, double y, double t);

/* Channels of the frames made from `texture` (NULL: procedural noise, 1). */
int ld_synth_between_channels(const ld_image *texture);

/* How the texture was fitted to the canvas the frames draw from (every
 * foot of the backward characteristics, at least half a frame around the
 * frame). */
typedef struct ld_synth_texture_fit {
    int canvas_height, canvas_width;
    double scale; /* the texture image's enlargement to cover the canvas;
                     1 when it was only cropped (and for noise) */
} ld_synth_texture_fit;

/* Renders the N+1 frames [N+1, C, S, S] (C = ld_synth_between_channels)
 * and the N true fields [N, 2, S, S]: stage n's field is u(x, t_n + dt/2),
 * dt = 1/N, x component first. `texture` is an image in its own units
 * (NULL: procedural noise from the seed). *fit (when fit is not NULL) tells
 * how the texture was fitted, so that a caller can say when an image was
 * enlarged. Fails on a bad configuration or out of memory. */
int ld_synth_between(const ld_synth_between_config *cfg, const ld_image *texture, float *frames,
                     float *fields, ld_synth_texture_fit *fit, ld_err *err);

#endif
