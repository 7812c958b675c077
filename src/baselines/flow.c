/* The optical-flow baseline: coarse-to-fine TV-L1 flow and warping; see
 * flow.h. The single-scale solver follows the IPOL reference
 * (tvl1flow_lib.c: thresholding step, primal update with the divergence of
 * the dual variable, dual update with forward differences), with bilinear
 * instead of bicubic warping. */
#include "baselines/flow.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baselines/crossfade.h"
#include "cpu/cpu.h"
#include "data/interp.h"

#define GRAD_IS_ZERO 1e-10f
#define PRESMOOTHING_SIGMA 0.8f   /* finest scale, as in the IPOL code */
#define ZOOM_SIGMA 1.0392f        /* 0.6 sqrt(1 / 0.5^2 - 1): before halving */
#define MIN_COARSE_SIDE 8
#define MAX_SCALES 6              /* chosen automatically */
#define SCALE_LIMIT 16            /* asked for */
#define INVERSE_ITERATIONS 20     /* fixed-point steps of p <- x - t w(p) */

void ld_flow_default_options(ld_flow_options *o)
{
    *o = (ld_flow_options){.lambda = 38.25f, .theta = 0.3f, .tau = 0.25f, .epsilon = 0.01f,
                           .scales = 0, .warps = 5, .max_iterations = 300};
}

/* Scratch planes of the single-scale solver, sized for the finest scale. */
enum {
    P_I1X, P_I1Y, P_I1W, P_I1WX, P_I1WY, P_GRAD, P_RHO_C, P_V1, P_V2, P_P11, P_P12, P_P21, P_P22,
    P_DIV1, P_DIV2, P_COUNT
};

/* Centred differences with border replicate. */
static void centred_gradient(const float *img, int h, int w, float *gx, float *gy)
{
#pragma omp parallel for schedule(static) if (h * w > LD_CPU_PARALLEL_MIN)
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            int jl = j > 0 ? j - 1 : j, jr = j + 1 < w ? j + 1 : j;
            int iu = i > 0 ? i - 1 : i, id = i + 1 < h ? i + 1 : i;
            gx[i * w + j] = 0.5f * (img[i * w + jr] - img[i * w + jl]);
            gy[i * w + j] = 0.5f * (img[id * w + j] - img[iu * w + j]);
        }
}

/* out(x) = img(x + flow(x)), bilinear, border replicate. */
static void warp(const float *img, const float *u1, const float *u2, int h, int w, float *out)
{
#pragma omp parallel for schedule(static) if (h * w > LD_CPU_PARALLEL_MIN)
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++)
            out[i * w + j] = ld_bilinear_clamped(img, h, w, (float)j + u1[i * w + j],
                                                 (float)i + u2[i * w + j]);
}

/* Backward-difference divergence of the dual field (p1, p2), zero outside. */
static void divergence(const float *p1, const float *p2, int h, int w, float *div)
{
#pragma omp parallel for schedule(static) if (h * w > LD_CPU_PARALLEL_MIN)
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            int k = i * w + j;
            div[k] = p1[k] - (j > 0 ? p1[k - 1] : 0) + p2[k] - (i > 0 ? p2[k - w] : 0);
        }
}

/* One dual update of (p1, p2) for one flow component u: forward
 * differences (zero at the last column and row), then
 * p = (p + tau/theta grad u) / (1 + tau/theta |grad u|). */
static void dual_step(const float *u, int h, int w, float taut, float *p1, float *p2)
{
#pragma omp parallel for schedule(static) if (h * w > LD_CPU_PARALLEL_MIN)
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            int k = i * w + j;
            float gx = j + 1 < w ? u[k + 1] - u[k] : 0, gy = i + 1 < h ? u[k + w] - u[k] : 0;
            float norm = 1 + taut * hypotf(gx, gy);
            p1[k] = (p1[k] + taut * gx) / norm;
            p2[k] = (p2[k] + taut * gy) / norm;
        }
}

/* The primal update u = v + theta div p of both components over pixels
 * [lo, hi), returning the squared change summed there (the stopping
 * criterion, summed by ld_cpu_chunked_sum: the same on any thread count). */
typedef struct primal_update {
    const float *v1, *v2, *div1, *div2;
    float *u1, *u2, theta;
} primal_update;

static double primal_update_range(const void *args, size_t lo, size_t hi)
{
    const primal_update *a = args;
    double change = 0;
    for (size_t k = lo; k < hi; k++) {
        float n1 = a->v1[k] + a->theta * a->div1[k], n2 = a->v2[k] + a->theta * a->div2[k];
        double d1 = (double)n1 - a->u1[k], d2 = (double)n2 - a->u2[k];
        change += d1 * d1 + d2 * d2;
        a->u1[k] = n1;
        a->u2[k] = n2;
    }
    return change;
}

/* TV-L1 at one scale, refining (u1, u2) in place. */
static void tvl1_single_scale(const float *i0, const float *i1, int h, int w,
                              const ld_flow_options *o, float *u1, float *u2, float **s)
{
    const int size = h * w;
    const float l_t = o->lambda * o->theta, taut = o->tau / o->theta;
    float *i1x = s[P_I1X], *i1y = s[P_I1Y], *i1w = s[P_I1W], *i1wx = s[P_I1WX],
          *i1wy = s[P_I1WY], *grad = s[P_GRAD], *rho_c = s[P_RHO_C], *v1 = s[P_V1],
          *v2 = s[P_V2], *div1 = s[P_DIV1], *div2 = s[P_DIV2];
    centred_gradient(i1, h, w, i1x, i1y);
    for (int q = P_P11; q <= P_P22; q++)
        memset(s[q], 0, (size_t)size * sizeof(float));
    for (int warping = 0; warping < o->warps; warping++) {
        warp(i1, u1, u2, h, w, i1w);
        warp(i1x, u1, u2, h, w, i1wx);
        warp(i1y, u1, u2, h, w, i1wy);
        for (int k = 0; k < size; k++) {
            grad[k] = i1wx[k] * i1wx[k] + i1wy[k] * i1wy[k];
            rho_c[k] = i1w[k] - i1wx[k] * u1[k] - i1wy[k] * u2[k] - i0[k];
        }
        double error = INFINITY;
        for (int n = 0; n < o->max_iterations && error > (double)o->epsilon * o->epsilon; n++) {
#pragma omp parallel for schedule(static) if (size > LD_CPU_PARALLEL_MIN)
            for (int k = 0; k < size; k++) {
                float rho = rho_c[k] + i1wx[k] * u1[k] + i1wy[k] * u2[k], step;
                if (rho < -l_t * grad[k])
                    step = l_t;
                else if (rho > l_t * grad[k])
                    step = -l_t;
                else
                    step = grad[k] < GRAD_IS_ZERO ? 0 : -rho / grad[k];
                v1[k] = u1[k] + step * i1wx[k];
                v2[k] = u2[k] + step * i1wy[k];
            }
            divergence(s[P_P11], s[P_P12], h, w, div1);
            divergence(s[P_P21], s[P_P22], h, w, div2);
            primal_update update = {v1, v2, div1, div2, u1, u2, o->theta};
            error = ld_cpu_chunked_sum(primal_update_range, &update, (size_t)size) / size;
            dual_step(u1, h, w, taut, s[P_P11], s[P_P12]);
            dual_step(u2, h, w, taut, s[P_P21], s[P_P22]);
        }
    }
}

/* Resamples plane src [sh, sw] onto [dh, dw] (pixel centres aligned:
 * destination x samples source (x + 0.5) sw / dw - 0.5), times `gain`. */
static void resample(const float *src, int sh, int sw, float *dst, int dh, int dw, float gain)
{
    const float fx = (float)sw / (float)dw, fy = (float)sh / (float)dh;
#pragma omp parallel for schedule(static) if (dh * dw > LD_CPU_PARALLEL_MIN)
    for (int i = 0; i < dh; i++)
        for (int j = 0; j < dw; j++)
            dst[i * dw + j] = gain * ld_bilinear_clamped(src, sh, sw, ((float)j + 0.5f) * fx - 0.5f,
                                                         ((float)i + 0.5f) * fy - 0.5f);
}

static int count_scales(const ld_flow_options *o, int h, int w)
{
    if (o->scales > 0)
        return o->scales;
    int scales = 1;
    for (int side = h < w ? h : w; side / 2 >= MIN_COARSE_SIDE && scales < MAX_SCALES; side /= 2)
        scales++;
    return scales;
}

/* Grey planes of both images on one joint [0, 1] scale. */
static void normalised_grey(const float *i0, const float *i1, int channels, size_t plane,
                            float *g0, float *g1)
{
    float lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < (size_t)channels * plane; k++) {
        lo = fminf(lo, fminf(i0[k], i1[k]));
        hi = fmaxf(hi, fmaxf(i0[k], i1[k]));
    }
    float scale = hi > lo ? 1.0f / ((hi - lo) * (float)channels) : 0.0f;
    for (size_t k = 0; k < plane; k++) {
        float a = 0, b = 0;
        for (int c = 0; c < channels; c++) {
            a += i0[c * plane + k] - lo;
            b += i1[c * plane + k] - lo;
        }
        g0[k] = a * scale;
        g1[k] = b * scale;
    }
}

static int check_options(const ld_flow_options *o, ld_err *err)
{
    if (!(o->lambda > 0) || !(o->theta > 0) || !(o->tau > 0 && o->tau <= 0.25f) ||
        !(o->epsilon >= 0) || o->scales < 0 || o->scales > SCALE_LIMIT || o->warps < 1 ||
        o->max_iterations < 1)
        return ld_errf(err, "flow: bad options (lambda %g, theta %g and tau %g (<= 0.25) must "
                            "be > 0, epsilon %g >= 0, scales %d in 0..16, warps %d and iterations "
                            "%d >= 1)", (double)o->lambda, (double)o->theta, (double)o->tau,
                       (double)o->epsilon, o->scales, o->warps, o->max_iterations);
    return 0;
}

int ld_flow_tvl1(const float *i0, const float *i1, int channels, int height, int width,
                 const ld_flow_options *opts, float *flow, ld_err *err)
{
    ld_flow_options o;
    if (opts)
        o = *opts;
    else
        ld_flow_default_options(&o);
    if (ld_baseline_check_sizes("flow", channels, height, width, 1, err) ||
        check_options(&o, err))
        return -1;
    const int scales = count_scales(&o, height, width);
    int hs[SCALE_LIMIT], ws[SCALE_LIMIT];
    size_t pyramid = 0, plane = (size_t)height * width;
    for (int l = 0; l < scales; l++) {
        hs[l] = l ? (hs[l - 1] + 1) / 2 : height;
        ws[l] = l ? (ws[l - 1] + 1) / 2 : width;
        pyramid += (size_t)hs[l] * ws[l];
    }
    /* Pyramids of I0 and I1, the flow at the current and the next scale,
     * and the solver's scratch planes. */
    float *block = malloc((2 * pyramid + 4 * plane + P_COUNT * plane) * sizeof(float));
    if (!block)
        return ld_errf(err, "flow: out of memory for %dx%d", width, height);
    float *im0[SCALE_LIMIT], *im1[SCALE_LIMIT], *scratch[P_COUNT];
    float *p = block;
    for (int l = 0; l < scales; l++) {
        im0[l] = p, p += (size_t)hs[l] * ws[l];
        im1[l] = p, p += (size_t)hs[l] * ws[l];
    }
    float *u1 = p, *u2 = p + plane, *next1 = p + 2 * plane, *next2 = p + 3 * plane;
    p += 4 * plane;
    for (int q = 0; q < P_COUNT; q++)
        scratch[q] = p, p += plane;
    int rc = 0;
    normalised_grey(i0, i1, channels, plane, im0[0], im1[0]);
    rc |= ld_gaussian_blur(im0[0], height, width, PRESMOOTHING_SIGMA, err);
    rc |= ld_gaussian_blur(im1[0], height, width, PRESMOOTHING_SIGMA, err);
    for (int l = 1; l < scales && !rc; l++) {
        float *tmp = scratch[0];
        for (int k = 0; k < 2; k++) {
            float *const *im = k ? im1 : im0;
            memcpy(tmp, im[l - 1], (size_t)hs[l - 1] * ws[l - 1] * sizeof(float));
            rc |= ld_gaussian_blur(tmp, hs[l - 1], ws[l - 1], ZOOM_SIGMA, err);
            resample(tmp, hs[l - 1], ws[l - 1], im[l], hs[l], ws[l], 1.0f);
        }
    }
    if (rc) {
        free(block);
        return -1;
    }
    const int top = scales - 1;
    memset(u1, 0, (size_t)hs[top] * ws[top] * sizeof(float));
    memset(u2, 0, (size_t)hs[top] * ws[top] * sizeof(float));
    for (int l = top; l >= 0; l--) {
        tvl1_single_scale(im0[l], im1[l], hs[l], ws[l], &o, u1, u2, scratch);
        if (l == 0)
            break;
        resample(u1, hs[l], ws[l], next1, hs[l - 1], ws[l - 1], (float)ws[l - 1] / (float)ws[l]);
        resample(u2, hs[l], ws[l], next2, hs[l - 1], ws[l - 1], (float)hs[l - 1] / (float)hs[l]);
        float *swap = u1;
        u1 = next1, next1 = swap;
        swap = u2;
        u2 = next2, next2 = swap;
    }
    memcpy(flow, u1, plane * sizeof(float));
    memcpy(flow + plane, u2, plane * sizeof(float));
    free(block);
    return 0;
}

/* For every pixel x, the point p with p + t w(p) = x (fixed-point
 * iteration from p = x - t w(x)), stored as px, py. */
static void invert_motion(const float *flow, int h, int w, float t, float *px, float *py)
{
    const size_t plane = (size_t)h * w;
#pragma omp parallel for schedule(static) if (h * w > LD_CPU_PARALLEL_MIN)
    for (int i = 0; i < h; i++)
        for (int j = 0; j < w; j++) {
            float x = (float)j, y = (float)i;
            for (int it = 0; it < INVERSE_ITERATIONS; it++) {
                float fx = ld_bilinear_clamped(flow, h, w, x, y);
                float fy = ld_bilinear_clamped(flow + plane, h, w, x, y);
                x = (float)j - t * fx;
                y = (float)i - t * fy;
            }
            px[i * w + j] = x;
            py[i * w + j] = y;
        }
}

int ld_baseline_flow(const float *i0, const float *i1, int channels, int height, int width,
                     int stages, const ld_flow_options *opts, float *frames, float *fields,
                     ld_err *err)
{
    if (ld_baseline_check_sizes("flow", channels, height, width, stages, err))
        return -1;
    const size_t plane = (size_t)height * width, image = (size_t)channels * plane;
    float *flow = malloc(4 * plane * sizeof *flow);
    if (!flow)
        return ld_errf(err, "flow: out of memory for %dx%d", width, height);
    float *px = flow + 2 * plane, *py = flow + 3 * plane;
    if (ld_flow_tvl1(i0, i1, channels, height, width, opts, flow, err)) {
        free(flow);
        return -1;
    }
    memcpy(frames, i0, image * sizeof *frames);
    memcpy(frames + (size_t)stages * image, i1, image * sizeof *frames);
    for (int n = 1; n < stages; n++) {
        float t = (float)n / (float)stages;
        invert_motion(flow, height, width, t, px, py);
        for (int c = 0; c < channels; c++) {
            const float *a = i0 + c * plane, *b = i1 + c * plane;
            float *out = frames + (size_t)n * image + c * plane;
#pragma omp parallel for schedule(static) if (plane > LD_CPU_PARALLEL_MIN)
            for (size_t k = 0; k < plane; k++) {
                float wx = ld_bilinear_clamped(flow, height, width, px[k], py[k]);
                float wy = ld_bilinear_clamped(flow + plane, height, width, px[k], py[k]);
                out[k] = (1 - t) * ld_bilinear_clamped(a, height, width, px[k], py[k]) +
                         t * ld_bilinear_clamped(b, height, width, px[k] + wx, py[k] + wy);
            }
        }
    }
    for (int n = 0; fields && n < stages; n++) {
        invert_motion(flow, height, width, (n + 0.5f) / (float)stages, px, py);
        float *vx = fields + (size_t)n * 2 * plane, *vy = vx + plane;
        for (size_t k = 0; k < plane; k++) {
            vx[k] = ld_bilinear_clamped(flow, height, width, px[k], py[k]);
            vy[k] = ld_bilinear_clamped(flow + plane, height, width, px[k], py[k]);
        }
    }
    free(flow);
    return 0;
}
