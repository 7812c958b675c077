/* Synthetic ground truth for `between`: see synth_between.h. */
#include "data/synth_between.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/cpu.h"
#include "data/interp.h"
#include "data/pattern.h"
#include "engine/rng.h"

#define PI 3.14159265358979323846
#define DEG (PI / 180)

static const char *const scenario_names[LD_SYNTH_SCENARIO_COUNT] = {
    "translate", "rotate", "shear", "lead", "inflow", "source", "drift"};

/* Scenario constants (synth_between.h documents them). */
#define TRANSLATE_SPAN 0.1875   /* displacement over [0, 1], fraction of S */
#define TRANSLATE_ANGLE (30 * DEG)
#define ROTATE_ANGLE (20 * DEG) /* total angle */
#define SHEAR_RATE 0.25
#define LEAD_WIDTH 0.08         /* opening at t = 1, fraction of S */
#define LEAD_MAX_TILT (20 * DEG)
#define LEAD_WAVE_AMPLITUDE 0.03
#define LEAD_WAVE_LENGTH 0.6
#define INFLOW_SPEED 0.2
#define SOURCE_AMPLITUDE 0.3
#define SOURCE_WIDTH 0.04
#define OPEN_WATER 0.0f
#define MAX_SUBSTEP_PX 0.25     /* RK4 substep: at most this many pixels */

const char *ld_synth_scenario_name(ld_synth_scenario s)
{
    return (unsigned)s < LD_SYNTH_SCENARIO_COUNT ? scenario_names[s] : NULL;
}

int ld_synth_scenario_parse(const char *name, ld_synth_scenario *s, ld_err *err)
{
    for (int i = 0; i < LD_SYNTH_SCENARIO_COUNT; i++)
        if (!strcmp(name, scenario_names[i])) {
            *s = (ld_synth_scenario)i;
            return 0;
        }
    return ld_errf(err, "unknown scenario '%s' (translate, rotate, shear, lead, inflow, source, "
                        "drift)", name);
}

int ld_synth_between_config_check(const ld_synth_between_config *cfg, ld_err *err)
{
    if ((unsigned)cfg->scenario >= LD_SYNTH_SCENARIO_COUNT)
        return ld_errf(err, "synth between: unknown scenario %d", (int)cfg->scenario);
    if (cfg->stages < 1)
        return ld_errf(err, "synth between: stages must be at least 1 (got %d)", cfg->stages);
    if (cfg->size < 16)
        return ld_errf(err, "synth between: size must be at least 16 (got %d)", cfg->size);
    if (!isfinite(cfg->magnitude) || cfg->magnitude < 0)
        return ld_errf(err, "synth between: magnitude must be finite and >= 0 (got %g)",
                       (double)cfg->magnitude);
    return 0;
}

static double ramp(double t) { return 0.5 + t; }
static double ramp_integral(double t) { return 0.5 * t + 0.5 * t * t; }

/* Displacement of the translate scenario from 0 to t (scale 1 = translate,
 * 0.5 = source). */
static void translation(const ld_synth_motion *m, double scale, double t, double *dx, double *dy)
{
    double d = scale * m->cfg.magnitude * TRANSLATE_SPAN * m->cfg.size * ramp_integral(t);
    *dx = d * cos(TRANSLATE_ANGLE);
    *dy = d * sin(TRANSLATE_ANGLE);
}

int ld_synth_motion_init(ld_synth_motion *m, const ld_synth_between_config *cfg, ld_err *err)
{
    if (ld_synth_between_config_check(cfg, err))
        return -1;
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->cx = m->cy = 0.5 * (cfg->size - 1);
    ld_rng r;
    ld_rng_init(&r, cfg->seed ^ 0x5eedc0de5eedc0deULL);
    double tilt = (2.0 * ld_rng_uniform(&r) - 1.0) * LEAD_MAX_TILT;
    m->normal[0] = cos(tilt);
    m->normal[1] = sin(tilt);
    m->tangent[0] = -sin(tilt);
    m->tangent[1] = cos(tilt);
    m->crack_phase = 2 * PI * ld_rng_uniform(&r);
    if (cfg->scenario != LD_SYNTH_SOURCE)
        return 0;
    /* Blob positions at t = 1 inside [0.2, 0.8] S, at least 0.25 S apart;
     * their t = 0 positions follow from the motion. */
    double S = cfg->size, dx, dy;
    translation(m, 0.5, 1.0, &dx, &dy);
    static const double onsets[LD_SYNTH_MAX_BLOBS] = {0.1, 0.3, 0.5};
    for (int tries = 0; m->blob_count < LD_SYNTH_MAX_BLOBS && tries < 1000; tries++) {
        double x = S * (0.2 + 0.6 * ld_rng_uniform(&r)), y = S * (0.2 + 0.6 * ld_rng_uniform(&r));
        int ok = 1;
        for (int k = 0; k < m->blob_count; k++)
            ok &= hypot(x - dx - m->blob_x[k], y - dy - m->blob_y[k]) >= 0.25 * S;
        if (!ok)
            continue;
        m->blob_x[m->blob_count] = x - dx;
        m->blob_y[m->blob_count] = y - dy;
        m->blob_onset[m->blob_count] = onsets[m->blob_count];
        m->blob_count++;
    }
    return 0;
}

/* Lead: the crack function f (0 on the crack at t = 0) and the opening. */
static double crack_level(const ld_synth_motion *m, double x, double y)
{
    double S = m->cfg.size, px = x - m->cx, py = y - m->cy;
    double along = m->tangent[0] * px + m->tangent[1] * py;
    return m->normal[0] * px + m->normal[1] * py -
           LEAD_WAVE_AMPLITUDE * S * sin(2 * PI / (LEAD_WAVE_LENGTH * S) * along + m->crack_phase);
}

static double lead_opening(const ld_synth_motion *m, double t)
{
    return m->cfg.magnitude * LEAD_WIDTH * m->cfg.size * ramp_integral(t);
}

/* Rotate and drift: the angle turned from 0 to t. */
static double rotation_angle(const ld_synth_motion *m, double t)
{
    return m->cfg.magnitude * ROTATE_ANGLE * ramp_integral(t);
}

/* Lead and drift: +1 or -1 for the half that (x, y) belongs to at time t,
 * 0 for open water; 1 for every other scenario. Drift evaluates the crack
 * in the frame turning with the scene. */
static int material_side(const ld_synth_motion *m, double x, double y, double t)
{
    if (m->cfg.scenario != LD_SYNTH_LEAD && m->cfg.scenario != LD_SYNTH_DRIFT)
        return 1;
    if (m->cfg.scenario == LD_SYNTH_DRIFT) {
        double a = -rotation_angle(m, t), px = x - m->cx, py = y - m->cy;
        x = m->cx + cos(a) * px - sin(a) * py;
        y = m->cy + sin(a) * px + cos(a) * py;
    }
    double f = crack_level(m, x, y), half = 0.5 * lead_opening(m, t);
    return f > half ? 1 : f < -half ? -1 : 0;
}

int ld_synth_is_open_water(const ld_synth_motion *m, double x, double y, double t)
{
    return material_side(m, x, y, t) == 0;
}

/* The velocity of the material on `side` (lead: each half has its own
 * smooth field; side 0, open water, is at rest). */
static void side_velocity(const ld_synth_motion *m, int side, double x, double y, double t,
                          double *ux, double *uy)
{
    double M = m->cfg.magnitude, S = m->cfg.size;
    *ux = *uy = 0;
    switch (m->cfg.scenario) {
    case LD_SYNTH_TRANSLATE:
    case LD_SYNTH_SOURCE: {
        double speed = (m->cfg.scenario == LD_SYNTH_SOURCE ? 0.5 : 1.0) * M * TRANSLATE_SPAN * S *
                       ramp(t);
        *ux = speed * cos(TRANSLATE_ANGLE);
        *uy = speed * sin(TRANSLATE_ANGLE);
        break;
    }
    case LD_SYNTH_ROTATE: {
        double w = M * ROTATE_ANGLE * ramp(t);
        *ux = -w * (y - m->cy);
        *uy = w * (x - m->cx);
        break;
    }
    case LD_SYNTH_SHEAR:
        *ux = M * SHEAR_RATE * (y - m->cy);
        break;
    case LD_SYNTH_LEAD: {
        double speed = 0.5 * side * M * LEAD_WIDTH * S * ramp(t);
        *ux = speed * m->normal[0];
        *uy = speed * m->normal[1];
        break;
    }
    case LD_SYNTH_DRIFT: {
        /* the lead's rigid opening turned by the current angle, plus the
         * rotation about the centre */
        double w = M * ROTATE_ANGLE * ramp(t), a = rotation_angle(m, t);
        double speed = 0.5 * side * M * LEAD_WIDTH * S * ramp(t);
        *ux = -w * (y - m->cy) + speed * (cos(a) * m->normal[0] - sin(a) * m->normal[1]);
        *uy = w * (x - m->cx) + speed * (sin(a) * m->normal[0] + cos(a) * m->normal[1]);
        break;
    }
    case LD_SYNTH_INFLOW:
        *ux = M * INFLOW_SPEED * S * (1.5 - t) * (1 - 0.5 * x / S) *
              (1 + 0.25 * cos(2 * PI * (y - m->cy) / S));
        break;
    case LD_SYNTH_SCENARIO_COUNT:
        break;
    }
}

void ld_synth_velocity(const ld_synth_motion *m, double x, double y, double t, double *ux,
                       double *uy)
{
    side_velocity(m, material_side(m, x, y, t), x, y, t, ux, uy);
}

double ld_synth_source(const ld_synth_motion *m, double x, double y, double t)
{
    if (m->cfg.scenario != LD_SYNTH_SOURCE)
        return 0;
    double s = SOURCE_WIDTH * m->cfg.size, dx, dy, total = 0;
    translation(m, 0.5, t, &dx, &dy);
    for (int k = 0; k < m->blob_count; k++) {
        double onset = m->blob_onset[k];
        if (t <= onset)
            continue;
        double rx = x - m->blob_x[k] - dx, ry = y - m->blob_y[k] - dy;
        total += SOURCE_AMPLITUDE * exp(-(rx * rx + ry * ry) / (2 * s * s)) * 2 * (t - onset) /
                 ((1 - onset) * (1 - onset));
    }
    return total;
}

/* Path state of the backward integration: position and the source
 * integral accumulated so far. */
typedef struct path_point {
    double x, y, source;
} path_point;

static path_point path_rate(const ld_synth_motion *m, int side, path_point p, double t)
{
    path_point d;
    side_velocity(m, side, p.x, p.y, t, &d.x, &d.y);
    d.source = ld_synth_source(m, p.x, p.y, t);
    return d;
}

static path_point path_step(path_point p, path_point d, double h)
{
    return (path_point){p.x + h * d.x, p.y + h * d.y, p.source + h * d.source};
}

/* Integrates dX/dt = u, dJ/dt = S from (x, y, t) back to 0 with `steps`
 * RK4 steps; returns the foot X(0) and J(t) - J(0), the source added along
 * the way. */
static path_point trace_back(const ld_synth_motion *m, int side, double x, double y, double t,
                             int steps)
{
    path_point p = {x, y, 0};
    double h = -t / steps;
    for (int i = 0; i < steps; i++) {
        double ti = t + i * h;
        path_point k1 = path_rate(m, side, p, ti);
        path_point k2 = path_rate(m, side, path_step(p, k1, h / 2), ti + h / 2);
        path_point k3 = path_rate(m, side, path_step(p, k2, h / 2), ti + h / 2);
        path_point k4 = path_rate(m, side, path_step(p, k3, h), ti + h);
        p.x += h / 6 * (k1.x + 2 * k2.x + 2 * k3.x + k4.x);
        p.y += h / 6 * (k1.y + 2 * k2.y + 2 * k3.y + k4.y);
        p.source += h / 6 * (k1.source + 2 * k2.source + 2 * k3.source + k4.source);
    }
    return (path_point){p.x, p.y, -p.source};
}

/* RK4 substeps per unit time so that no substep moves more than
 * MAX_SUBSTEP_PX: the speed is bounded on a grid over the frame and a
 * margin of half a frame around it (where characteristics' feet lie). */
static int substeps_per_unit_time(const ld_synth_motion *m)
{
    double S = m->cfg.size, vmax = 0;
    for (int ti = 0; ti <= 10; ti++)
        for (int i = 0; i <= 16; i++)
            for (int j = 0; j <= 16; j++) {
                double x = -0.5 * S + 2 * S * j / 16, y = -0.5 * S + 2 * S * i / 16, ux, uy;
                side_velocity(m, 1, x, y, ti / 10.0, &ux, &uy);
                vmax = fmax(vmax, hypot(ux, uy));
            }
    return (int)fmax(16, ceil(vmax / MAX_SUBSTEP_PX));
}

/* The texture canvas: `channels` planes [height, width] in [0, 1]; frame
 * pixel (x, y) is canvas pixel (x - origin_x, y - origin_y). */
typedef struct canvas {
    int channels, height, width, origin_x, origin_y;
    float *data;
} canvas;

static int compare_floats(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* Maps the canvas onto [0, 1] by its `lo_q` and `hi_q` quantiles, clamped. */
static int normalise_by_quantiles(canvas *c, double lo_q, double hi_q, ld_err *err)
{
    size_t n = (size_t)c->channels * c->height * c->width;
    float *sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return ld_errf(err, "synth between: out of memory for the texture canvas");
    memcpy(sorted, c->data, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, compare_floats);
    float lo = sorted[(size_t)(lo_q * (double)(n - 1))];
    float hi = sorted[(size_t)(hi_q * (double)(n - 1))];
    free(sorted);
    float scale = hi > lo ? 1.0f / (hi - lo) : 0.0f;
    for (size_t i = 0; i < n; i++)
        c->data[i] = fminf(1.0f, fmaxf(0.0f, (c->data[i] - lo) * scale));
    return 0;
}

/* Procedural texture: the smooth pattern plus white noise smoothed at a
 * few scales (fine detail for motion to be seen by), normalised by its 1
 * and 99 percentiles. */
static int fill_noise_texture(canvas *c, uint64_t seed, ld_err *err)
{
    static const float scales[] = {1.0f, 2.5f, 6.0f}, gains[] = {0.05f, 0.08f, 0.12f};
    size_t n = (size_t)c->height * c->width;
    float *noise = malloc(n * sizeof *noise);
    if (!noise)
        return ld_errf(err, "synth between: out of memory for the texture canvas");
    ld_pattern_texture(c->data, c->height, c->width, seed);
    ld_rng r;
    ld_rng_init(&r, seed ^ 0x7e77a5e5ULL);
    for (size_t o = 0; o < sizeof scales / sizeof scales[0]; o++) {
        ld_rng_fill_normal(&r, noise, n, 0.0f, 1.0f);
        if (ld_gaussian_blur(noise, c->height, c->width, scales[o], err)) {
            free(noise);
            return -1;
        }
        double var = 0;
        for (size_t i = 0; i < n; i++)
            var += (double)noise[i] * noise[i];
        float gain = gains[o] / (float)sqrt(var / (double)n);
        for (size_t i = 0; i < n; i++)
            c->data[i] += gain * noise[i];
    }
    free(noise);
    return normalise_by_quantiles(c, 0.01, 0.99, err);
}

/* Texture image: scaled up when smaller than the canvas (by *scale; 1 when
 * not), cropped at a seed-chosen place, normalised by its 0.5 and 99.5
 * percentiles. */
static int fill_image_texture(canvas *c, const ld_image *img, uint64_t seed, double *scale_out,
                              ld_err *err)
{
    double scale = fmax(1.0, fmax((double)c->height / img->height, (double)c->width / img->width));
    *scale_out = scale;
    int scaled_h = (int)ceil(img->height * scale), scaled_w = (int)ceil(img->width * scale);
    ld_rng r;
    ld_rng_init(&r, seed ^ 0xc0bb1e5ULL);
    int off_y = (int)ld_rng_below(&r, (uint32_t)(scaled_h - c->height + 1));
    int off_x = (int)ld_rng_below(&r, (uint32_t)(scaled_w - c->width + 1));
    size_t plane = (size_t)c->height * c->width;
    for (int ch = 0; ch < c->channels; ch++) {
        const float *src = img->data + (size_t)ch * img->height * img->width;
        for (int i = 0; i < c->height; i++)
            for (int j = 0; j < c->width; j++)
                c->data[ch * plane + (size_t)i * c->width + j] = ld_bilinear_clamped(
                    src, img->height, img->width, (float)((j + off_x) / scale),
                    (float)((i + off_y) / scale));
    }
    return normalise_by_quantiles(c, 0.005, 0.995, err);
}

int ld_synth_between_channels(const ld_image *texture) { return texture ? texture->channels : 1; }

/* Intensity range the texture is mapped onto, per scenario. */
static void texture_range(ld_synth_scenario s, float *lo, float *hi)
{
    *lo = s == LD_SYNTH_LEAD || s == LD_SYNTH_DRIFT ? 0.3f : 0.0f;
    *hi = s == LD_SYNTH_SOURCE ? 0.7f : 1.0f;
}

int ld_synth_between(const ld_synth_between_config *cfg, const ld_image *texture, float *frames,
                     float *fields, ld_synth_texture_fit *fit, ld_err *err)
{
    ld_synth_motion m;
    if (ld_synth_motion_init(&m, cfg, err))
        return -1;
    if (texture && (texture->channels < 1 || texture->height < 1 || texture->width < 1))
        return ld_errf(err, "synth between: empty texture image");
    const int N = cfg->stages, S = cfg->size, C = ld_synth_between_channels(texture);
    const size_t plane = (size_t)S * S;
    /* Feet of the backward characteristics of every frame pixel: x, y (NaN
     * for open water) and the source added along the path. */
    float *feet = malloc((size_t)(N + 1) * plane * 3 * sizeof *feet);
    canvas c = {.channels = C};
    if (!feet)
        return ld_errf(err, "synth between: out of memory for %d frames of %dx%d", N + 1, S, S);
    const int per_unit = substeps_per_unit_time(&m);
    for (int n = 0; n <= N; n++) {
        double t = (double)n / N;
        int steps = (int)fmax(1, ceil(t * per_unit));
        float *fx = feet + (size_t)n * plane * 3, *fy = fx + plane, *fs = fy + plane;
#pragma omp parallel for schedule(dynamic, 4) if (plane * (size_t)steps > LD_CPU_PARALLEL_MIN)
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++) {
                size_t k = (size_t)i * S + j;
                int side = material_side(&m, j, i, t);
                if (side == 0) {
                    fx[k] = fy[k] = NAN;
                    fs[k] = 0;
                    continue;
                }
                path_point p = n ? trace_back(&m, side, j, i, t, steps) : (path_point){j, i, 0};
                fx[k] = (float)p.x;
                fy[k] = (float)p.y;
                fs[k] = (float)p.source;
            }
    }
    /* The canvas covers every foot, and at least half a frame around it so
     * that the texture is the same for every scenario at default motion. */
    double x_lo = -0.5 * S, y_lo = -0.5 * S, x_hi = 1.5 * S - 1, y_hi = 1.5 * S - 1;
    for (int n = 0; n <= N; n++) {
        const float *fx = feet + (size_t)n * plane * 3, *fy = fx + plane;
        for (size_t k = 0; k < plane; k++)
            if (!isnan(fx[k])) {
                x_lo = fmin(x_lo, fx[k]);
                x_hi = fmax(x_hi, fx[k]);
                y_lo = fmin(y_lo, fy[k]);
                y_hi = fmax(y_hi, fy[k]);
            }
    }
    c.origin_x = (int)floor(x_lo) - 2;
    c.origin_y = (int)floor(y_lo) - 2;
    c.width = (int)ceil(x_hi) + 3 - c.origin_x;
    c.height = (int)ceil(y_hi) + 3 - c.origin_y;
    c.data = malloc((size_t)C * c.height * c.width * sizeof *c.data);
    if (!c.data) {
        free(feet);
        return ld_errf(err, "synth between: out of memory for a %dx%d texture canvas", c.width,
                       c.height);
    }
    double scale = 1.0;
    int rc = texture ? fill_image_texture(&c, texture, cfg->seed, &scale, err)
                     : fill_noise_texture(&c, cfg->seed, err);
    if (fit)
        *fit = (ld_synth_texture_fit){c.height, c.width, scale};
    if (rc) {
        free(feet);
        free(c.data);
        return -1;
    }
    float lo, hi;
    texture_range(cfg->scenario, &lo, &hi);
    const size_t canvas_plane = (size_t)c.height * c.width;
    for (int n = 0; n <= N; n++) {
        const float *fx = feet + (size_t)n * plane * 3, *fy = fx + plane, *fs = fy + plane;
        for (int ch = 0; ch < C; ch++) {
            float *out = frames + ((size_t)n * C + ch) * plane;
            const float *tex = c.data + ch * canvas_plane;
#pragma omp parallel for schedule(static) if (plane > LD_CPU_PARALLEL_MIN)
            for (size_t k = 0; k < plane; k++)
                out[k] = isnan(fx[k]) ? OPEN_WATER
                                      : lo + (hi - lo) * ld_bilinear_clamped(
                                                             tex, c.height, c.width,
                                                             fx[k] - (float)c.origin_x,
                                                             fy[k] - (float)c.origin_y) +
                                            fs[k];
        }
    }
    for (int n = 0; n < N; n++) {
        double t = (n + 0.5) / N;
        float *ux = fields + (size_t)n * 2 * plane, *uy = ux + plane;
        for (int i = 0; i < S; i++)
            for (int j = 0; j < S; j++) {
                double vx, vy;
                ld_synth_velocity(&m, j, i, t, &vx, &vy);
                ux[(size_t)i * S + j] = (float)vx;
                uy[(size_t)i * S + j] = (float)vy;
            }
    }
    free(feet);
    free(c.data);
    return 0;
}
