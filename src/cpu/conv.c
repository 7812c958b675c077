/* CPU convolution kernels (see ops/conv.h): oneDNN's (cpu/dnnl.c), except
 * for stride-1 'same' convolutions to fewer than DIRECT_MAX_OUT output
 * channels (a decoder's last layer: grey or RGB frames), which run as
 * direct loops here; and the activation's backward of both, which also
 * writes dz in the layout the backward passes read (ld_cpu_conv_act_grad).
 * oneDNN's blocked kernels pad the few channels to 16: for LaDID's 5x5
 * conv from 8 channels to 1 at 32x32 (batch 800, one thread) its forward
 * took 40 ms, its data gradient 82 ms and its weight gradient 40 ms, plus
 * 15 ms of layout reorders. And 3x3 and 5x5 stride-1 'same' convolutions
 * between tensors blocked by 16 on AVX-512 (the networks' hidden layers),
 * which run by Winograd's F(4x4, 3x3) and F(4x4, 5x5) in
 * cpu/conv_winograd.c: oneDNN has no Winograd kernel for 5x5, and its
 * F(4x4, 3x3) loses to its direct kernels at 16 channels.
 *
 * The loops run in parallel over images (forward, data gradient) or over
 * fixed chunks of images whose partial sums are added in order (weight
 * gradient), so results do not depend on the thread count. */
#include <string.h>
#include <omp.h>

#include "cpu/cpu.h"
#include "engine/arena.h"
#include "ops/conv.h"

#define DNNL (&ld_dnnl_conv_kernels)
#define WGRAD_CHUNK 16 /* images per partial sum of the weight gradient */
#define DIRECT_MAX_OUT 4
#define TILE 32 /* outputs accumulated in registers at once */

static int direct(const ld_conv_problem *p)
{
    return !p->transposed && p->cout < DIRECT_MAX_OUT && p->stride == 1 && p->k % 2 == 1 &&
           p->pad == p->k / 2 && p->oh == p->h && p->ow == p->w && p->x_block == 0 &&
           p->y_block == 0;
}

/* Where Winograd F(4x4, k x k) beats oneDNN (cpu/conv_winograd.c): 3x3 and
 * 5x5 layers from 8x8. Below that most of the taps fall on the padding,
 * which oneDNN's direct kernels skip. */
#define WINOGRAD_MIN_SIZE 8
static int winograd(const ld_conv_problem *p)
{
    return !p->transposed && (p->k == 3 || p->k == 5) && p->stride == 1 && p->pad == p->k / 2 &&
           !p->bf16 && p->h >= WINOGRAD_MIN_SIZE && p->w >= WINOGRAD_MIN_SIZE &&
           p->x_block == 16 && p->y_block == 16 && p->cin % 16 == 0 && p->cout % 16 == 0 &&
           ld_dnnl_conv_preferred_block() == 16;
}

/* The planes the loops work on: an image plane zero-padded by `pad` on
 * every side, row stride wp = w + 2 pad; outputs are accumulated at the same row
 * stride (the last 2 pad columns of each row are not used). Then each tap
 * is one long contiguous loop: out[j] += w * in[j + ky wp + kx]. A plane
 * has k + TILE spare floats at its end. */
typedef struct plane_geom {
    int h, w, k, pad, wp;
    size_t len;  /* floats of a padded plane, spare ones included */
    size_t span; /* h * wp: the outputs of a tap */
} plane_geom;

static plane_geom geom_of(const ld_conv_problem *p)
{
    plane_geom g = {p->h, p->w, p->k, p->pad, p->w + 2 * p->pad, 0, 0};
    g.len = (size_t)(p->h + 2 * p->pad) * g.wp + (size_t)p->k + TILE;
    g.span = (size_t)p->h * g.wp;
    return g;
}

/* src [h, w] into dst at row stride wp, starting `at` rows and columns in,
 * zeros elsewhere. */
static void spread(float *dst, const float *src, const plane_geom *g, int at)
{
    memset(dst, 0, g->len * sizeof *dst);
    for (int r = 0; r < g->h; r++)
        memcpy(dst + (size_t)(r + at) * g->wp + at, src + (size_t)r * g->w,
               (size_t)g->w * sizeof *dst);
}

/* out[j] += sum over taps of w[tap] in[j + ky wp + kx], the kernel flipped
 * for the data gradient; TILE outputs at a time stay in registers through
 * all the taps (planes hold a TILE of spare floats for the last tile). */
static void taps(float *out, const float *in, const float *w, int flip, const plane_geom *g)
{
    const int K = g->k;
    for (size_t j0 = 0; j0 < g->span; j0 += TILE) {
        float t[TILE];
        for (int i = 0; i < TILE; i++)
            t[i] = out[j0 + i];
        for (int ky = 0; ky < K; ky++)
            for (int kx = 0; kx < K; kx++) {
                const float wv = flip ? w[(K - 1 - ky) * K + (K - 1 - kx)] : w[ky * K + kx];
                const float *src = in + j0 + (size_t)ky * g->wp + kx;
#pragma omp simd
                for (int i = 0; i < TILE; i++)
                    t[i] += wv * src[i];
            }
        for (int i = 0; i < TILE; i++)
            out[j0 + i] = t[i];
    }
}

static size_t wgrad_chunks(const ld_conv_problem *p)
{
    return ((size_t)p->n + WGRAD_CHUNK - 1) / WGRAD_CHUNK;
}

/* Per-thread planes, then (weight gradient) the chunks' partial sums. */
static size_t thread_floats(const ld_conv_problem *p) { return 2 * geom_of(p).len; }

/* Bytes of a direct backward's dz (NCHW), before its planes. */
static size_t dz_bytes(const ld_conv_problem *p)
{
    return ld_align_up((size_t)p->n * p->cout * p->oh * p->ow * sizeof(float));
}

static int conv_scratch_bytes(const ld_conv_problem *p, ld_conv_pass which, size_t *bytes,
                              ld_err *err)
{
    if (winograd(p)) {
        *bytes = ld_cpu_winograd_scratch_bytes(p, which == LD_CONV_BACKWARD);
        return 0;
    }
    if (!direct(p))
        return DNNL->scratch_bytes(p, which, bytes, err);
    *bytes = (size_t)omp_get_max_threads() * thread_floats(p) * sizeof(float);
    if (which == LD_CONV_BACKWARD) /* dz, the planes, the weight gradient's partial sums */
        *bytes += dz_bytes(p) + wgrad_chunks(p) * (size_t)p->cout * (p->cin * p->k * p->k + 1) *
                                    sizeof(double);
    return 0;
}

/* This thread's two planes. */
static float *thread_planes(const ld_conv_problem *p, void *scratch)
{
    return (float *)scratch + (size_t)omp_get_thread_num() * thread_floats(p);
}

static int conv_forward(const ld_conv_problem *p, float *y, const float *x, const float *w,
                        const float *b, void *scratch, ld_err *err)
{
    if (winograd(p)) {
        ld_cpu_winograd_forward(p, y, x, w, b, scratch);
        return 0;
    }
    if (!direct(p))
        return DNNL->forward(p, y, x, w, b, scratch, err);
    const plane_geom g = geom_of(p);
    const int C = p->cin, O = p->cout;
    const size_t plane = (size_t)p->h * p->w, kk = (size_t)p->k * p->k;
    const float slope = p->act.kind == LD_ACT_LEAKY_RELU ? p->act.slope : 0.0f;
    const int act = p->act.kind == LD_ACT_RELU || p->act.kind == LD_ACT_LEAKY_RELU;
#pragma omp parallel for schedule(static) if ((size_t)p->n * C * plane > LD_CPU_PARALLEL_MIN)
    for (int n = 0; n < p->n; n++) {
        float *in = thread_planes(p, scratch), *acc = in + g.len;
        for (int o = 0; o < O; o++) {
            const float bias = b ? b[o] : 0.0f;
            for (size_t j = 0; j < g.len; j++)
                acc[j] = bias;
            for (int c = 0; c < C; c++) {
                spread(in, x + ((size_t)n * C + c) * plane, &g, g.pad);
                taps(acc, in, w + ((size_t)o * C + c) * kk, 0, &g);
            }
            float *yo = y + ((size_t)n * O + o) * plane;
            for (int r = 0; r < p->h; r++)
                for (int col = 0; col < p->w; col++) {
                    float v = acc[(size_t)r * g.wp + col];
                    yo[(size_t)r * p->w + col] = act && v < 0 ? slope * v : v;
                }
        }
    }
    return 0;
}

static void direct_backward_data(const ld_conv_problem *p, float *dx, int add, const float *dz,
                                 const float *w, void *scratch)
{
    const plane_geom g = geom_of(p);
    const int C = p->cin, O = p->cout;
    const size_t plane = (size_t)p->h * p->w, kk = (size_t)p->k * p->k;
#pragma omp parallel for schedule(static) if ((size_t)p->n * C * plane > LD_CPU_PARALLEL_MIN)
    for (int n = 0; n < p->n; n++) {
        float *in = thread_planes(p, scratch), *acc = in + g.len;
        for (int c = 0; c < C; c++) {
            memset(acc, 0, g.len * sizeof *acc);
            for (int o = 0; o < O; o++) {
                spread(in, dz + ((size_t)n * O + o) * plane, &g, g.pad);
                taps(acc, in, w + ((size_t)o * C + c) * kk, 1, &g);
            }
            float *dxc = dx + ((size_t)n * C + c) * plane;
            for (int r = 0; r < p->h; r++)
                for (int col = 0; col < p->w; col++) {
                    float v = acc[(size_t)r * g.wp + col];
                    dxc[(size_t)r * p->w + col] = add ? dxc[(size_t)r * p->w + col] + v : v;
                }
        }
    }
}

static void direct_backward_weights(const ld_conv_problem *p, float *dw, int dw_add, float *db,
                                    int db_add, const float *dz, const float *x, void *scratch)
{
    const plane_geom g = geom_of(p);
    const int K = p->k, C = p->cin, O = p->cout;
    const size_t plane = (size_t)p->h * p->w, weights = (size_t)O * C * K * K;
    const size_t per = weights + (size_t)O, chunks = wgrad_chunks(p);
    /* [chunks][weights, then the O biases], after the threads' planes */
    double *part = (double *)((float *)scratch + (size_t)omp_get_max_threads() * thread_floats(p));
#pragma omp parallel for schedule(static) if ((size_t)p->n * C * plane > LD_CPU_PARALLEL_MIN)
    for (size_t ch = 0; ch < chunks; ch++) {
        float *in = thread_planes(p, scratch), *grad = in + g.len;
        double *acc = part + ch * per;
        memset(acc, 0, per * sizeof *acc);
        size_t end = (ch + 1) * WGRAD_CHUNK < (size_t)p->n ? (ch + 1) * WGRAD_CHUNK : (size_t)p->n;
        for (size_t n = ch * WGRAD_CHUNK; n < end; n++)
            for (int o = 0; o < O; o++) {
                /* dz at the planes' row stride, zeros in the unused columns */
                spread(grad, dz + (n * O + o) * plane, &g, 0);
                float sum = 0;
#pragma omp simd reduction(+ : sum)
                for (size_t j = 0; j < g.span; j++)
                    sum += grad[j];
                acc[weights + o] += sum;
                for (int c = 0; c < C; c++) {
                    spread(in, x + (n * C + c) * plane, &g, g.pad);
                    double *a = acc + ((size_t)o * C + c) * K * K;
                    for (int ky = 0; ky < K; ky++)
                        for (int kx = 0; kx < K; kx++) {
                            const float *src = in + (size_t)ky * g.wp + kx;
                            float s = 0;
#pragma omp simd reduction(+ : s)
                            for (size_t j = 0; j < g.span; j++)
                                s += grad[j] * src[j];
                            a[ky * K + kx] += s;
                        }
                }
            }
    }
    for (size_t t = 0; t < per; t++) {
        double total = 0;
        for (size_t ch = 0; ch < chunks; ch++)
            total += part[ch * per + t];
        float *out = t < weights ? (dw ? dw + t : NULL)
                                 : (p->has_bias && db ? db + (t - weights) : NULL);
        int accumulate = t < weights ? dw_add : db_add;
        if (out)
            *out = accumulate ? *out + (float)total : (float)total;
    }
}

/* Where channel c of image n of an [N, C, plane] tensor in layout `block`
 * (0 or 1 NCHW, else channel-blocked) starts, and the step between its
 * pixels. */
static size_t layout_start(int n, int c, int C, size_t plane, int block)
{
    if (block <= 1)
        return ((size_t)n * C + c) * plane;
    int groups = (C + block - 1) / block;
    return ((size_t)n * groups + c / block) * plane * block + c % block;
}

static size_t layout_step(int block) { return block > 1 ? (size_t)block : 1; }

static int same_layout(int a, int b) { return a == b || (a <= 1 && b <= 1); }

void ld_cpu_conv_act_grad(const ld_conv_problem *p, int block, float *dz, const float *dy,
                          const float *y)
{
    const int C = p->cout, groups = (C + block - 1) / block;
    const size_t plane = (size_t)p->oh * p->ow, total = (size_t)p->n * C * plane;
    const float slope = p->act.kind == LD_ACT_LEAKY_RELU ? p->act.slope : 0.0f;
    if (p->act.kind == LD_ACT_NONE && same_layout(block, p->y_block)) {
        memcpy(dz, dy, total * sizeof *dz);
        return;
    }
    if (same_layout(block, p->y_block)) { /* C is a multiple of a blocked y's block */
#pragma omp parallel for schedule(static) if (total > LD_CPU_PARALLEL_MIN)
        for (size_t i = 0; i < total; i++)
            dz[i] = y[i] > 0.0f ? dy[i] : slope * dy[i];
        return;
    }
    const int act = p->act.kind != LD_ACT_NONE;
    const size_t in_step = layout_step(p->y_block);
#pragma omp parallel for collapse(2) schedule(static) if (total > LD_CPU_PARALLEL_MIN)
    for (int n = 0; n < p->n; n++)
        for (int gr = 0; gr < groups; gr++) {
            float *out = dz + ((size_t)n * groups + gr) * plane * block;
            for (int c = 0; c < block; c++) {
                const int ch = gr * block + c;
                if (ch >= C) { /* the last group's padding */
                    for (size_t i = 0; i < plane; i++)
                        out[i * block + c] = 0.0f;
                    continue;
                }
                const size_t at = layout_start(n, ch, C, plane, p->y_block);
                const float *dyc = dy + at, *yc = y + at;
                for (size_t i = 0; i < plane; i++) {
                    const float g = dyc[i * in_step];
                    out[i * block + c] = act && !(yc[i * in_step] > 0.0f) ? slope * g : g;
                }
            }
        }
}

static void conv_relayout(float *dst, int dst_block, const float *src, int src_block, int n,
                          int c, size_t plane, int add)
{
    const size_t total = (size_t)n * c * plane;
    if (same_layout(dst_block, src_block)) {
#pragma omp parallel for schedule(static) if (total > LD_CPU_PARALLEL_MIN)
        for (size_t i = 0; i < total; i++)
            dst[i] = add ? dst[i] + src[i] : src[i];
        return;
    }
    const size_t to_step = layout_step(dst_block), from_step = layout_step(src_block);
#pragma omp parallel for collapse(2) schedule(static) if (total > LD_CPU_PARALLEL_MIN)
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++) {
            float *to = dst + layout_start(i, ch, c, plane, dst_block);
            const float *from = src + layout_start(i, ch, c, plane, src_block);
            for (size_t j = 0; j < plane; j++)
                to[j * to_step] = add ? to[j * to_step] + from[j * from_step] : from[j * from_step];
        }
}

static int conv_backward(const ld_conv_problem *p, const ld_conv_grads *g, void *scratch,
                         ld_err *err)
{
    if (winograd(p)) {
        ld_cpu_winograd_backward(p, g, scratch);
        return 0;
    }
    if (!direct(p))
        return DNNL->backward(p, g, scratch, err);
    float *dz = scratch;
    void *planes = (char *)scratch + dz_bytes(p);
    ld_cpu_conv_act_grad(p, 1, dz, g->dy, g->y);
    if (g->dx)
        direct_backward_data(p, g->dx, g->dx_add, dz, g->w, planes);
    if (g->dw || (p->has_bias && g->db))
        direct_backward_weights(p, g->dw, g->dw_add, g->db, g->db_add, dz, g->x, planes);
    return 0;
}

const struct ld_conv_kernels ld_cpu_conv_kernels = {
    conv_scratch_bytes, conv_forward, conv_backward, conv_relayout, ld_dnnl_conv_preferred_block,
    ld_dnnl_has_bf16,
};
