/* The optimal-transport baseline: see ot.h. Notation of Janati et al.'s
 * Algorithm 1 (iterative Bregman projections), every quantity kept as its
 * logarithm: for the two inputs k with densities mu_k and weights w_k,
 *   a_k = mu_k / K b_k,  bary = d prod_k (K a_k)^w_k,  b_k = bary / K a_k,
 *   d = sqrt(d bary / K d)      (debiasing; d = 1 without it). */
#include "baselines/ot.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "baselines/crossfade.h"
#include "cpu/cpu.h"

#define MASS_FLOOR 1e-3     /* of the joint range: every pixel gets mass */
#define CHECK_EVERY 10      /* iterations between convergence checks */

void ld_ot_default_options(ld_ot_options *o)
{
    *o = (ld_ot_options){.sigma = 2.0f, .max_iterations = 1000, .tolerance = 1e-4f, .debias = 1};
}

/* Work space of one barycentre problem on an H x W grid (planes of H W
 * doubles unless said otherwise). */
typedef struct ot_work {
    int height, width;
    double *kernel_h, *kernel_w; /* [H][H], [W][W] heat kernels */
    double *log_mu[2], *log_a[2], *log_b[2], *log_ka[2], *log_kb[2];
    double *log_bary, *log_d, *log_kd;
    double *exp_buf, *prod_buf;  /* log_convolve's scratch */
    double *line_max;            /* max(H, W) */
    double *block;               /* the one allocation everything above points into */
} ot_work;

static void fill_kernel(double *k, int n, double sigma)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            k[(size_t)i * n + j] = exp(-(double)(i - j) * (i - j) / (2 * sigma * sigma));
}

static int work_alloc(ot_work *w, int height, int width, double sigma)
{
    const size_t plane = (size_t)height * width;
    const size_t planes = 2 * 5 + 3 + 2;
    size_t total = (size_t)height * height + (size_t)width * width + planes * plane +
                   (size_t)(height > width ? height : width);
    memset(w, 0, sizeof *w);
    w->block = malloc(total * sizeof(double));
    if (!w->block)
        return -1;
    w->height = height;
    w->width = width;
    double *p = w->block;
    w->kernel_h = p, p += (size_t)height * height;
    w->kernel_w = p, p += (size_t)width * width;
    double **named[] = {&w->log_mu[0], &w->log_mu[1], &w->log_a[0], &w->log_a[1],
                        &w->log_b[0],  &w->log_b[1],  &w->log_ka[0], &w->log_ka[1],
                        &w->log_kb[0], &w->log_kb[1], &w->log_bary, &w->log_d,
                        &w->log_kd,    &w->exp_buf,   &w->prod_buf};
    for (size_t i = 0; i < planes; i++)
        *named[i] = p, p += plane;
    w->line_max = p;
    fill_kernel(w->kernel_h, height, sigma);
    fill_kernel(w->kernel_w, width, sigma);
    return 0;
}

/* log of a matrix-product output, never -inf (an all-underflowed sum
 * becomes the smallest normal double). */
static double safe_log(double v) { return log(v > DBL_MIN ? v : DBL_MIN); }

/* out = log(K * exp(f)) for the separable heat kernel K: along rows, then
 * along columns, each line shifted by its maximum before exp so that its
 * largest term is 1. */
static void log_convolve(ot_work *w, const double *f, double *out)
{
    const int H = w->height, W = w->width;
    double *e = w->exp_buf, *mid = w->prod_buf, *shift = w->line_max;
#pragma omp parallel for schedule(static) if (H * W > LD_CPU_PARALLEL_MIN)
    for (int i = 0; i < H; i++) {
        const double *row = f + (size_t)i * W;
        double m = row[0];
        for (int j = 1; j < W; j++)
            m = fmax(m, row[j]);
        shift[i] = m;
        for (int j = 0; j < W; j++)
            e[(size_t)i * W + j] = exp(row[j] - m);
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, H, W, W, 1.0, e, W, w->kernel_w, W,
                0.0, mid, W);
#pragma omp parallel for schedule(static) if (H * W > LD_CPU_PARALLEL_MIN)
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++)
            mid[(size_t)i * W + j] = shift[i] + safe_log(mid[(size_t)i * W + j]);
    for (int j = 0; j < W; j++)
        shift[j] = -INFINITY;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++)
            shift[j] = fmax(shift[j], mid[(size_t)i * W + j]);
#pragma omp parallel for schedule(static) if (H * W > LD_CPU_PARALLEL_MIN)
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++)
            e[(size_t)i * W + j] = exp(mid[(size_t)i * W + j] - shift[j]);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, H, W, H, 1.0, w->kernel_h, H, e, W,
                0.0, out, W);
#pragma omp parallel for schedule(static) if (H * W > LD_CPU_PARALLEL_MIN)
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++)
            out[(size_t)i * W + j] = shift[j] + safe_log(out[(size_t)i * W + j]);
}

/* L1 distance between the first marginal of the plan (a_k, b_k),
 * a_k K b_k, and mu_k, summed over both inputs (log_kb holds log K b_k). */
static double marginal_error(const ot_work *w)
{
    const size_t plane = (size_t)w->height * w->width;
    double total = 0;
    for (int k = 0; k < 2; k++)
        for (size_t p = 0; p < plane; p++)
            total += fabs(exp(w->log_a[k][p] + w->log_kb[k][p]) - exp(w->log_mu[k][p]));
    return total;
}

/* Runs the barycentre iterations for weights (1 - t, t) on the densities
 * already in log_mu, leaving log of the barycentre in log_bary. The
 * scalings b start from the previous call's (the barycentre at the
 * previous stage, a close guess) unless `cold`. done and total: barycentres
 * finished and in all, for the progress callback. */
static void barycentre(ot_work *w, double t, int cold, const ld_ot_options *o, int done,
                       int total)
{
    const size_t plane = (size_t)w->height * w->width;
    const double weight[2] = {1 - t, t};
    if (cold)
        for (int k = 0; k < 2; k++)
            memset(w->log_b[k], 0, plane * sizeof(double));
    /* The debiasing starts afresh at every stage: the stopping test reads
     * the input marginals only, which hold for any weights, so a d carried
     * over from the previous t let the iterations stop with the barycentre
     * half-way to this one (a moved blob's peak off by up to 12%, growing
     * towards t = 1). */
    memset(w->log_d, 0, plane * sizeof(double));
    for (int it = 0; it < o->max_iterations; it++) {
        for (int k = 0; k < 2; k++)
            log_convolve(w, w->log_b[k], w->log_kb[k]);
        if (it > 0 && it % CHECK_EVERY == 0) {
            double error = marginal_error(w);
            if (o->progress)
                o->progress(o->progress_user, done, total, it, error);
            if (error < o->tolerance)
                break;
        }
        for (int k = 0; k < 2; k++) {
            for (size_t p = 0; p < plane; p++)
                w->log_a[k][p] = w->log_mu[k][p] - w->log_kb[k][p];
            log_convolve(w, w->log_a[k], w->log_ka[k]);
        }
        for (size_t p = 0; p < plane; p++)
            w->log_bary[p] = w->log_d[p] + weight[0] * w->log_ka[0][p] +
                             weight[1] * w->log_ka[1][p];
        for (int k = 0; k < 2; k++)
            for (size_t p = 0; p < plane; p++)
                w->log_b[k][p] = w->log_bary[p] - w->log_ka[k][p];
        if (o->debias) {
            log_convolve(w, w->log_d, w->log_kd);
            for (size_t p = 0; p < plane; p++)
                w->log_d[p] = 0.5 * (w->log_d[p] + w->log_bary[p] - w->log_kd[p]);
        }
    }
}

int ld_baseline_ot(const float *i0, const float *i1, int channels, int height, int width,
                   int stages, const ld_ot_options *opts, float *frames, ld_err *err)
{
    ld_ot_options o;
    if (opts)
        o = *opts;
    else
        ld_ot_default_options(&o);
    if (ld_baseline_check_sizes("ot", channels, height, width, stages, err))
        return -1;
    if (!(o.sigma > 0) || o.max_iterations < 1 || !(o.tolerance >= 0))
        return ld_errf(err, "ot: sigma (%g) must be > 0, iterations (%d) >= 1, tolerance (%g) "
                            ">= 0", (double)o.sigma, o.max_iterations, (double)o.tolerance);
    const size_t plane = (size_t)height * width, image = (size_t)channels * plane;
    ot_work w;
    if (work_alloc(&w, height, width, o.sigma))
        return ld_errf(err, "ot: out of memory for %dx%d", width, height);
    memcpy(frames, i0, image * sizeof *frames);
    memcpy(frames + (size_t)stages * image, i1, image * sizeof *frames);
    for (int c = 0; c < channels; c++) {
        const float *src[2] = {i0 + c * plane, i1 + c * plane};
        double lo = INFINITY, hi = -INFINITY, mass[2] = {0, 0};
        for (int k = 0; k < 2; k++)
            for (size_t p = 0; p < plane; p++) {
                lo = fmin(lo, src[k][p]);
                hi = fmax(hi, src[k][p]);
            }
        if (!(hi > lo)) { /* one constant value in both: every frame is it */
            for (int n = 1; n < stages; n++)
                for (size_t p = 0; p < plane; p++)
                    frames[(size_t)n * image + c * plane + p] = (float)lo;
            continue;
        }
        const double floor_mass = MASS_FLOOR * (hi - lo);
        const double offset = lo - floor_mass; /* pixel mass = value - offset */
        for (int k = 0; k < 2; k++) {
            for (size_t p = 0; p < plane; p++)
                mass[k] += src[k][p] - offset;
            for (size_t p = 0; p < plane; p++)
                w.log_mu[k][p] = log((src[k][p] - offset) / mass[k]);
        }
        for (int n = 1; n < stages; n++) {
            double t = (double)n / stages, total = 0, peak = -INFINITY;
            int done = c * (stages - 1) + n - 1, count = channels * (stages - 1);
            barycentre(&w, t, n == 1, &o, done, count);
            if (o.progress)
                o.progress(o.progress_user, done + 1, count, 0, 0);
            for (size_t p = 0; p < plane; p++)
                peak = fmax(peak, w.log_bary[p]);
            for (size_t p = 0; p < plane; p++)
                total += exp(w.log_bary[p] - peak);
            const double scale = ((1 - t) * mass[0] + t * mass[1]) / total;
            float *out = frames + (size_t)n * image + c * plane;
            for (size_t p = 0; p < plane; p++)
                out[p] = (float)(exp(w.log_bary[p] - peak) * scale + offset);
        }
    }
    free(w.block);
    return 0;
}
