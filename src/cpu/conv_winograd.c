/* 3x3 and 5x5 stride-1 'same' convolutions between 16-channel-blocked
 * tensors (nChw16c) by Winograd's minimal filtering F(4x4, k x k): a 4x4
 * output tile costs 36 (3x3) or 64 (5x5) products per channel pair instead
 * of 144 or 400. oneDNN has Winograd kernels for 3x3 only, F(4x4, 3x3),
 * which lose to its direct kernels at 16 channels; the paper preset's
 * step spent 150 ms in convolutions, 60 of them in the field network's
 * 5x5 layers and 30 in 3x3 ones at 32x32.
 *
 * AVX-512 only: this file is compiled with -mavx512f -mfma (Makefile) and
 * is the one place with x86 intrinsics; cpu/conv.c calls it only where the
 * CPU has AVX-512, both tensors are blocked by 16 and the images are at
 * least 8x8 (its winograd()).
 *
 * With the interpolation points 0, 1, -1, 2, -2 (and 1/2, -1/2 for 5x5)
 * and infinity,
 *   y = A^T [(G g G^T) . (B^T d B)] A
 * for an alpha x alpha input patch d (alpha = 4 + k - 1: 6 or 8), the
 * k x k kernel g (correlation, PyTorch's conv2d) and the 4x4 outputs y.
 * The three passes:
 * - forward: U = G g G^T per (in, out) channel pair, V = B^T d B per tile
 *   and input channel, M[q] = V[q] U[q] (a product over input channels for
 *   each of the alpha^2 positions q), y = A^T M A, bias and activation;
 * - data gradient: the same correlation of dz with the kernel rotated by
 *   180 degrees and its channel roles swapped;
 * - weight gradient: dU[q] = sum over tiles of V[q]^T (A dz A^T)[q], then
 *   dg = G^T dU G; the bias gradient is the sum of dz.
 * dz = dy times the activation's derivative is formed as the backward's
 * transforms read dy, never stored. Tiles are processed in chunks whose
 * transforms stay in the L2 cache, the chunks split evenly over threads;
 * the weight gradient's partial sums are per thread, added in thread
 * order. Float32 error is ~1e-5 of a tensor's largest value, against ~1e-6
 * for direct sums (tests/test_conv.c: winograd_vs_reference and the _wino
 * fixtures). */
#include <immintrin.h>
#include <omp.h>
#include <string.h>

#include "cpu/cpu.h"
#include "engine/arena.h"
#include "engine/compiler.h"
#include "ops/conv.h"

#define VL 16       /* floats per vector, channels per block */
#define TILE 4      /* outputs per side of a tile */
#define MAX_ALPHA 8 /* side of a transformed tile: TILE + k - 1 for k <= 5 */
#define MAX_POS 64  /* MAX_ALPHA^2 positions */
#define MAX_TAPS 25 /* taps of a 5x5 kernel */
#define ROWS 16     /* rows of the product kernel; chunks and channels are multiples */
#define MAX_CHUNK 128
#define CHUNK_BYTES (1u << 20) /* a chunk's transforms: half of a 2 MiB L2 */

typedef __m512 vec;

static inline vec splat(float f) { return _mm512_set1_ps(f); }

/* ---- the 1-D transforms, on vectors at a stride ------------------------ */

/* out = B^T in (8 -> 8) */
static inline void input8_1d(vec *out, int os, const vec *in, int s)
{
    const vec d0 = in[0], d1 = in[s], d2 = in[2 * s], d3 = in[3 * s], d4 = in[4 * s],
              d5 = in[5 * s], d6 = in[6 * s], d7 = in[7 * s];
    const vec a = _mm512_fnmadd_ps(splat(4.25f), d4, _mm512_add_ps(d2, d6));
    const vec b = _mm512_fnmadd_ps(splat(4.25f), d3, _mm512_add_ps(d1, d5));
    const vec c = _mm512_fmadd_ps(splat(0.25f), d2, _mm512_fnmadd_ps(splat(1.25f), d4, d6));
    const vec e =
        _mm512_fmadd_ps(splat(0.5f), d1, _mm512_fnmadd_ps(splat(2.5f), d3, _mm512_add_ps(d5, d5)));
    const vec f = _mm512_fmadd_ps(splat(4.0f), d2, _mm512_fnmadd_ps(splat(5.0f), d4, d6));
    const vec h = _mm512_fmadd_ps(
        splat(2.0f), d1, _mm512_fnmadd_ps(splat(2.5f), d3, _mm512_mul_ps(splat(0.5f), d5)));
    out[0] = _mm512_fmadd_ps(splat(5.25f), _mm512_sub_ps(d2, d4), _mm512_sub_ps(d6, d0));
    out[os] = _mm512_add_ps(a, b);
    out[2 * os] = _mm512_sub_ps(a, b);
    out[3 * os] = _mm512_add_ps(c, e);
    out[4 * os] = _mm512_sub_ps(c, e);
    out[5 * os] = _mm512_add_ps(f, h);
    out[6 * os] = _mm512_sub_ps(f, h);
    out[7 * os] = _mm512_fmadd_ps(splat(5.25f), _mm512_sub_ps(d3, d5), _mm512_sub_ps(d7, d1));
}

/* out = A^T in (8 -> 4) */
static inline void output8_1d(vec *out, int os, const vec *in, int s)
{
    const vec p1 = _mm512_add_ps(in[s], in[2 * s]), q1 = _mm512_sub_ps(in[s], in[2 * s]);
    const vec p2 = _mm512_add_ps(in[3 * s], in[4 * s]), q2 = _mm512_sub_ps(in[3 * s], in[4 * s]);
    const vec p3 = _mm512_add_ps(in[5 * s], in[6 * s]), q3 = _mm512_sub_ps(in[5 * s], in[6 * s]);
    out[0] = _mm512_add_ps(_mm512_add_ps(in[0], p1), _mm512_add_ps(p2, p3));
    out[os] = _mm512_fmadd_ps(splat(2.0f), q2, _mm512_fmadd_ps(splat(0.5f), q3, q1));
    out[2 * os] = _mm512_fmadd_ps(splat(4.0f), p2, _mm512_fmadd_ps(splat(0.25f), p3, p1));
    out[3 * os] = _mm512_fmadd_ps(splat(8.0f), q2,
                                  _mm512_fmadd_ps(splat(0.125f), q3, _mm512_add_ps(q1, in[7 * s])));
}

/* out = A in (4 -> 8), the output gradient's transform */
static inline void grad8_1d(vec *out, int os, const vec *in, int s)
{
    const vec y0 = in[0], y1 = in[s], y2 = in[2 * s], y3 = in[3 * s];
    const vec e = _mm512_add_ps(y0, y2), o = _mm512_add_ps(y1, y3);
    const vec e4 = _mm512_fmadd_ps(splat(4.0f), y2, y0);
    const vec o2 = _mm512_fmadd_ps(splat(8.0f), y3, _mm512_add_ps(y1, y1));
    const vec eq = _mm512_fmadd_ps(splat(0.25f), y2, y0);
    const vec oq = _mm512_fmadd_ps(splat(0.125f), y3, _mm512_mul_ps(splat(0.5f), y1));
    out[0] = y0;
    out[os] = _mm512_add_ps(e, o);
    out[2 * os] = _mm512_sub_ps(e, o);
    out[3 * os] = _mm512_add_ps(e4, o2);
    out[4 * os] = _mm512_sub_ps(e4, o2);
    out[5 * os] = _mm512_add_ps(eq, oq);
    out[6 * os] = _mm512_sub_ps(eq, oq);
    out[7 * os] = y3;
}

/* out = G in (5 -> 8), the kernel's transform */
static inline void kernel5_1d(vec *out, int os, const vec *in, int s)
{
    const vec g0 = in[0], g1 = in[s], g2 = in[2 * s], g3 = in[3 * s], g4 = in[4 * s];
    const vec even = _mm512_add_ps(_mm512_add_ps(g0, g2), g4), odd = _mm512_add_ps(g1, g3);
    const vec e1 = _mm512_fmadd_ps(splat(16.0f), g4, _mm512_fmadd_ps(splat(4.0f), g2, g0));
    const vec o1 = _mm512_fmadd_ps(splat(8.0f), g3, _mm512_add_ps(g1, g1));
    const vec e2 = _mm512_fmadd_ps(splat(0.0625f), g4, _mm512_fmadd_ps(splat(0.25f), g2, g0));
    const vec o2 = _mm512_fmadd_ps(splat(0.125f), g3, _mm512_mul_ps(splat(0.5f), g1));
    out[0] = _mm512_sub_ps(_mm512_setzero_ps(), g0);
    out[os] = _mm512_mul_ps(splat(-2.0f / 9.0f), _mm512_add_ps(even, odd));
    out[2 * os] = _mm512_mul_ps(splat(-2.0f / 9.0f), _mm512_sub_ps(even, odd));
    out[3 * os] = _mm512_mul_ps(splat(1.0f / 90.0f), _mm512_add_ps(e1, o1));
    out[4 * os] = _mm512_mul_ps(splat(1.0f / 90.0f), _mm512_sub_ps(e1, o1));
    out[5 * os] = _mm512_mul_ps(splat(32.0f / 45.0f), _mm512_add_ps(e2, o2));
    out[6 * os] = _mm512_mul_ps(splat(32.0f / 45.0f), _mm512_sub_ps(e2, o2));
    out[7 * os] = g4;
}

/* out = G^T in (8 -> 5), the kernel gradient's transform */
static inline void kernel5_grad_1d(vec *out, int os, const vec *in, int s)
{
    const vec p1 = _mm512_mul_ps(splat(-2.0f / 9.0f), _mm512_add_ps(in[s], in[2 * s]));
    const vec m1 = _mm512_mul_ps(splat(-2.0f / 9.0f), _mm512_sub_ps(in[s], in[2 * s]));
    const vec p2 = _mm512_mul_ps(splat(1.0f / 90.0f), _mm512_add_ps(in[3 * s], in[4 * s]));
    const vec m2 = _mm512_mul_ps(splat(1.0f / 90.0f), _mm512_sub_ps(in[3 * s], in[4 * s]));
    const vec p3 = _mm512_mul_ps(splat(2.0f / 45.0f), _mm512_add_ps(in[5 * s], in[6 * s]));
    const vec m3 = _mm512_mul_ps(splat(2.0f / 45.0f), _mm512_sub_ps(in[5 * s], in[6 * s]));
    out[0] = _mm512_fmadd_ps(splat(16.0f), p3, _mm512_sub_ps(_mm512_add_ps(p1, p2), in[0]));
    out[os] = _mm512_fmadd_ps(splat(8.0f), m3, _mm512_fmadd_ps(splat(2.0f), m2, m1));
    out[2 * os] = _mm512_fmadd_ps(splat(4.0f), p3, _mm512_fmadd_ps(splat(4.0f), p2, p1));
    out[3 * os] = _mm512_fmadd_ps(splat(2.0f), m3, _mm512_fmadd_ps(splat(8.0f), m2, m1));
    out[4 * os] =
        _mm512_add_ps(_mm512_add_ps(p3, in[7 * s]), _mm512_fmadd_ps(splat(16.0f), p2, p1));
}

/* out = B^T in (6 -> 6): F(4x4, 3x3), points 0, 1, -1, 2, -2, infinity */
static inline void input6_1d(vec *out, int os, const vec *in, int s)
{
    const vec d0 = in[0], d1 = in[s], d2 = in[2 * s], d3 = in[3 * s], d4 = in[4 * s],
              d5 = in[5 * s];
    const vec d24 = _mm512_fnmadd_ps(splat(4.0f), d2, d4); /* d4 - 4 d2 */
    const vec d13 = _mm512_fnmadd_ps(splat(4.0f), d1, d3); /* d3 - 4 d1 */
    const vec e24 = _mm512_sub_ps(d4, d2), e13 = _mm512_mul_ps(splat(2.0f), _mm512_sub_ps(d3, d1));
    out[0] = _mm512_fnmadd_ps(splat(5.0f), d2, _mm512_fmadd_ps(splat(4.0f), d0, d4));
    out[os] = _mm512_add_ps(d24, d13);
    out[2 * os] = _mm512_sub_ps(d24, d13);
    out[3 * os] = _mm512_add_ps(e24, e13);
    out[4 * os] = _mm512_sub_ps(e24, e13);
    out[5 * os] = _mm512_fnmadd_ps(splat(5.0f), d3, _mm512_fmadd_ps(splat(4.0f), d1, d5));
}

/* out = A^T in (6 -> 4) */
static inline void output6_1d(vec *out, int os, const vec *in, int s)
{
    const vec p1 = _mm512_add_ps(in[s], in[2 * s]), q1 = _mm512_sub_ps(in[s], in[2 * s]);
    const vec p2 = _mm512_add_ps(in[3 * s], in[4 * s]), q2 = _mm512_sub_ps(in[3 * s], in[4 * s]);
    out[0] = _mm512_add_ps(_mm512_add_ps(in[0], p1), p2);
    out[os] = _mm512_fmadd_ps(splat(2.0f), q2, q1);
    out[2 * os] = _mm512_fmadd_ps(splat(4.0f), p2, p1);
    out[3 * os] = _mm512_fmadd_ps(splat(8.0f), q2, _mm512_add_ps(q1, in[5 * s]));
}

/* out = A in (4 -> 6) */
static inline void grad6_1d(vec *out, int os, const vec *in, int s)
{
    const vec y0 = in[0], y1 = in[s], y2 = in[2 * s], y3 = in[3 * s];
    const vec e = _mm512_add_ps(y0, y2), o = _mm512_add_ps(y1, y3);
    const vec e4 = _mm512_fmadd_ps(splat(4.0f), y2, y0);
    const vec o2 = _mm512_fmadd_ps(splat(8.0f), y3, _mm512_add_ps(y1, y1));
    out[0] = y0;
    out[os] = _mm512_add_ps(e, o);
    out[2 * os] = _mm512_sub_ps(e, o);
    out[3 * os] = _mm512_add_ps(e4, o2);
    out[4 * os] = _mm512_sub_ps(e4, o2);
    out[5 * os] = y3;
}

/* out = G in (3 -> 6) */
static inline void kernel3_1d(vec *out, int os, const vec *in, int s)
{
    const vec g0 = in[0], g1 = in[s], g2 = in[2 * s];
    const vec even = _mm512_add_ps(g0, g2), e4 = _mm512_fmadd_ps(splat(4.0f), g2, g0);
    const vec g1x2 = _mm512_add_ps(g1, g1);
    out[0] = _mm512_mul_ps(splat(0.25f), g0);
    out[os] = _mm512_mul_ps(splat(-1.0f / 6.0f), _mm512_add_ps(even, g1));
    out[2 * os] = _mm512_mul_ps(splat(-1.0f / 6.0f), _mm512_sub_ps(even, g1));
    out[3 * os] = _mm512_mul_ps(splat(1.0f / 24.0f), _mm512_add_ps(e4, g1x2));
    out[4 * os] = _mm512_mul_ps(splat(1.0f / 24.0f), _mm512_sub_ps(e4, g1x2));
    out[5 * os] = g2;
}

/* out = G^T in (6 -> 3) */
static inline void kernel3_grad_1d(vec *out, int os, const vec *in, int s)
{
    const vec p1 = _mm512_mul_ps(splat(-1.0f / 6.0f), _mm512_add_ps(in[s], in[2 * s]));
    const vec m1 = _mm512_mul_ps(splat(-1.0f / 6.0f), _mm512_sub_ps(in[s], in[2 * s]));
    const vec p2 = _mm512_mul_ps(splat(1.0f / 24.0f), _mm512_add_ps(in[3 * s], in[4 * s]));
    const vec m2 = _mm512_mul_ps(splat(1.0f / 24.0f), _mm512_sub_ps(in[3 * s], in[4 * s]));
    out[0] = _mm512_fmadd_ps(splat(0.25f), in[0], _mm512_add_ps(p1, p2));
    out[os] = _mm512_fmadd_ps(splat(2.0f), m2, m1);
    out[2 * os] = _mm512_add_ps(_mm512_fmadd_ps(splat(4.0f), p2, p1), in[5 * s]);
}

/* One variant F(4x4, k x k): its sizes and its five 1-D transforms. */
typedef void (*transform_1d)(vec *out, int os, const vec *in, int s);
typedef struct wino_kind {
    int k, alpha, pos, taps;          /* kernel side, TILE + k - 1, alpha^2, k^2 */
    transform_1d input, output, grad; /* B^T, A^T, A */
    transform_1d kernel, kernel_grad; /* G, G^T */
} wino_kind;

static const wino_kind KIND3 = {
    3, 6, 36, 9, input6_1d, output6_1d, grad6_1d, kernel3_1d, kernel3_grad_1d};
static const wino_kind KIND5 = {
    5, 8, 64, 25, input8_1d, output8_1d, grad8_1d, kernel5_1d, kernel5_grad_1d};

static const wino_kind *kind_of(const ld_conv_problem *p) { return p->k == 3 ? &KIND3 : &KIND5; }

/* ---- geometry --------------------------------------------------------- */

typedef struct wino_shape {
    const wino_kind *kd;
    int n, h, w;  /* images and their size (the output's too) */
    int th, tw;   /* tiles down and across */
    size_t tiles; /* n th tw */
    size_t chunk; /* tiles per chunk, a multiple of ROWS */
    size_t chunks;
} wino_shape;

static wino_shape shape_of(const ld_conv_problem *p)
{
    wino_shape s = {
        kind_of(p), p->n, p->h, p->w, (p->h + TILE - 1) / TILE, (p->w + TILE - 1) / TILE, 0, 0, 0};
    s.tiles = (size_t)s.n * s.th * s.tw;
    size_t fit =
        CHUNK_BYTES / (s.kd->pos * sizeof(float) * (size_t)(p->cin + p->cout)) / ROWS * ROWS;
    size_t need = (s.tiles + ROWS - 1) / ROWS * ROWS;
    s.chunk = fit < ROWS ? ROWS : fit > MAX_CHUNK ? MAX_CHUNK : fit;
    if (s.chunk > need)
        s.chunk = need;
    /* as many chunks for every thread (or close: chunks are whole ROWS) */
    const size_t threads = (size_t)omp_get_max_threads();
    size_t chunks = (s.tiles + s.chunk - 1) / s.chunk;
    chunks = (chunks + threads - 1) / threads * threads;
    const size_t even = (s.tiles + chunks - 1) / chunks;
    s.chunk = (even + ROWS - 1) / ROWS * ROWS;
    s.chunks = (s.tiles + s.chunk - 1) / s.chunk;
    return s;
}

/* A chunk's transforms: [pos][chunk][channels] for the inputs (cin) and the
 * outputs or output gradients (cout), the positions `pos_stride` floats
 * apart: one vector more than a position's floats, so that the vectors a
 * tile's transform stores do not all fall in one set of the L1 cache. */
static size_t pos_stride(const wino_shape *s, int channels)
{
    return s->chunk * (size_t)channels + VL;
}

static size_t chunk_floats(const wino_shape *s, const ld_conv_problem *p)
{
    const size_t floats = s->kd->pos * (pos_stride(s, p->cin) + pos_stride(s, p->cout));
    return ld_align_up(floats * sizeof(float)) / sizeof(float);
}

/* Transformed kernels and their gradients: [pos][rows][cols], the
 * positions one vector more than rows x cols apart (as pos_stride). */
static size_t weights_pos_stride(int cin, int cout) { return (size_t)cin * cout + VL; }

static size_t weights_floats(const ld_conv_problem *p)
{
    const size_t floats = kind_of(p)->pos * weights_pos_stride(p->cin, p->cout);
    return ld_align_up(floats * sizeof(float)) / sizeof(float);
}

static size_t bias_floats(const ld_conv_problem *p)
{
    return ld_align_up((size_t)p->cout * sizeof(float)) / sizeof(float);
}

size_t ld_cpu_winograd_scratch_bytes(const ld_conv_problem *p, int backward)
{
    const wino_shape s = shape_of(p);
    const size_t threads = (size_t)omp_get_max_threads();
    size_t floats = weights_floats(p) + threads * chunk_floats(&s, p);
    if (backward) /* per thread, the weight and bias gradients' partial sums */
        floats += threads * (weights_floats(p) + bias_floats(p));
    return floats * sizeof(float);
}

/* ---- the transforms of a tile ------------------------------------------ */

/* What the transforms read: a tensor's values, or (in the backward, with
 * `mask` = y) output gradients dy times the activation's derivative,
 * dz = dy where y > 0 and slope dy elsewhere, without writing dz out. */
typedef struct source {
    const float *data; /* [n][channels / 16][h][w][16] */
    const float *mask; /* y in the same layout, or NULL */
    float slope;
} source;

/* src at `at` where `keep` is all ones, zeros where it is 0 (masked:
 * src->mask is set; a constant where this is inlined) */
static LD_ALWAYS_INLINE vec load_source(const source *src, int masked, size_t at, __mmask16 keep)
{
    vec v = _mm512_maskz_loadu_ps(keep, src->data + at);
    if (masked) {
        const __mmask16 off = _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(keep, src->mask + at),
                                                 _mm512_setzero_ps(), _CMP_NGT_UQ);
        v = _mm512_mask_mul_ps(v, off, v, _mm512_set1_ps(src->slope));
    }
    return v;
}

/* load_source at pixel (y, x) of a [h][w][VL] plane `plane` floats in,
 * zeros outside the image (read at the plane's start, masked off). */
static LD_ALWAYS_INLINE vec load_pixel(const source *src, int masked, size_t plane, int h, int w,
                                       int y, int x)
{
    const int in = y >= 0 && y < h && x >= 0 && x < w;
    return load_source(src, masked, plane + (in ? ((size_t)y * w + x) * VL : 0),
                       (__mmask16)(in ? 0xFFFF : 0));
}

/* V[q * vs], q < pos = (B^T d B)[q] for the alpha x alpha patch of one
 * channel block of src (the [h][w][VL] plane starting `plane` floats in)
 * whose top-left pixel is (y0, x0), zeros outside. */
static LD_ALWAYS_INLINE void input_tile_of(const wino_kind *kd, int masked, float *V, size_t vs,
                                           const source *src, size_t plane, int h, int w, int y0,
                                           int x0)
{
    const int a = kd->alpha;
    vec t[MAX_POS];
    if (y0 >= 0 && x0 >= 0 && y0 + a <= h && x0 + a <= w) {
        const size_t at = plane + ((size_t)y0 * w + x0) * VL;
        for (int i = 0; i < a; i++) { /* along rows: t = d B */
            vec d[MAX_ALPHA];
            for (int j = 0; j < a; j++)
                d[j] = load_source(src, masked, at + ((size_t)i * w + j) * VL, 0xFFFF);
            kd->input(t + i * a, 1, d, 1);
        }
    } else {
        for (int i = 0; i < a; i++) {
            vec d[MAX_ALPHA];
            for (int j = 0; j < a; j++)
                d[j] = load_pixel(src, masked, plane, h, w, y0 + i, x0 + j);
            kd->input(t + i * a, 1, d, 1);
        }
    }
    for (int j = 0; j < a; j++) { /* along columns: B^T t, stored */
        vec v[MAX_ALPHA];
        kd->input(v, 1, t + j, a);
        for (int i = 0; i < a; i++)
            _mm512_storeu_ps(V + (i * a + j) * vs, v[i]);
    }
}

static void input_tile(const wino_kind *kd, float *V, size_t vs, const source *src, size_t plane,
                       int h, int w, int y0, int x0)
{
    if (kd == &KIND3 && src->mask)
        input_tile_of(&KIND3, 1, V, vs, src, plane, h, w, y0, x0);
    else if (kd == &KIND3)
        input_tile_of(&KIND3, 0, V, vs, src, plane, h, w, y0, x0);
    else if (src->mask)
        input_tile_of(&KIND5, 1, V, vs, src, plane, h, w, y0, x0);
    else
        input_tile_of(&KIND5, 0, V, vs, src, plane, h, w, y0, x0);
}

/* Z[q * zs] = (A dz A^T)[q] for the 4x4 output gradients of one channel
 * block of src whose top-left pixel is (y0, x0), zeros outside; *sum
 * (the bias gradient) += their sum. */
static LD_ALWAYS_INLINE void grad_tile_of(const wino_kind *kd, int masked, float *Z, size_t zs,
                                          vec *sum, const source *src, size_t plane, int h, int w,
                                          int y0, int x0)
{
    const int a = kd->alpha;
    vec t[TILE * MAX_ALPHA];
    for (int i = 0; i < TILE; i++) { /* along rows: t[i][.] = A d[i][.] */
        vec d[TILE];
        for (int j = 0; j < TILE; j++) {
            d[j] = load_pixel(src, masked, plane, h, w, y0 + i, x0 + j);
            *sum = _mm512_add_ps(*sum, d[j]);
        }
        kd->grad(t + i * a, 1, d, 1);
    }
    for (int j = 0; j < a; j++) { /* along columns, stored */
        vec z[MAX_ALPHA];
        kd->grad(z, 1, t + j, a);
        for (int i = 0; i < a; i++)
            _mm512_storeu_ps(Z + (i * a + j) * zs, z[i]);
    }
}

static void grad_tile(const wino_kind *kd, float *Z, size_t zs, vec *sum, const source *src,
                      size_t plane, int h, int w, int y0, int x0)
{
    if (kd == &KIND3 && src->mask)
        grad_tile_of(&KIND3, 1, Z, zs, sum, src, plane, h, w, y0, x0);
    else if (kd == &KIND3)
        grad_tile_of(&KIND3, 0, Z, zs, sum, src, plane, h, w, y0, x0);
    else if (src->mask)
        grad_tile_of(&KIND5, 1, Z, zs, sum, src, plane, h, w, y0, x0);
    else
        grad_tile_of(&KIND5, 0, Z, zs, sum, src, plane, h, w, y0, x0);
}

/* out = A^T M A: the 4x4 outputs of a tile from M[q * ms]. */
static LD_ALWAYS_INLINE void output_tile_of(const wino_kind *kd, vec out[TILE * TILE],
                                            const float *M, size_t ms)
{
    const int a = kd->alpha;
    vec t[MAX_ALPHA * TILE];
    for (int i = 0; i < a; i++) { /* along rows: t[i][0..3] */
        vec m[MAX_ALPHA];
        for (int j = 0; j < a; j++)
            m[j] = _mm512_loadu_ps(M + (i * a + j) * ms);
        kd->output(t + i * TILE, 1, m, 1);
    }
    for (int j = 0; j < TILE; j++) /* along columns */
        kd->output(out + j, TILE, t + j, TILE);
}

static void output_tile(const wino_kind *kd, vec out[TILE * TILE], const float *M, size_t ms)
{
    if (kd == &KIND3)
        output_tile_of(&KIND3, out, M, ms);
    else
        output_tile_of(&KIND5, out, M, ms);
}

/* ---- products ----------------------------------------------------------- */

/* c[r * cs + 16 j + 0..15] = (accumulate ? c : 0) + sum over k < K of
 * a[r * ar + k * ak] b[k * bk + 16 j + 0..15], for r < rows, j < cols:
 * 16 rows of one column vector or 8 rows of two (which share each
 * broadcast of a), 16 accumulators either way. Prefetched into L1 (the
 * transforms come from L2): with a's rows contiguous (ak = 1, the
 * correlations) the next block of rows, a line per k; otherwise (the
 * weight gradient, k running over tiles) a's and b's rows 8 k ahead,
 * within the K rows.
 * Both: the products alone 25-45% faster, the paper-preset step ~3%. */
static LD_ALWAYS_INLINE void product_block(float *c, size_t cs, const float *a, size_t ar,
                                           size_t ak, const float *b, size_t bk, int K,
                                           int accumulate, int rows, int cols)
{
    vec acc[ROWS][2];
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++)
            acc[r][j] = accumulate ? _mm512_loadu_ps(c + r * cs + j * VL) : _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        vec bv[2];
        for (int j = 0; j < cols; j++)
            bv[j] = _mm512_loadu_ps(b + (size_t)k * bk + j * VL);
        const float *ak_row = a + (size_t)k * ak;
        if (ak == 1) /* the next block: the chunk's next rows, or the buffer after them */
            _mm_prefetch((const char *)(a + (size_t)rows * ar + (size_t)k * VL), _MM_HINT_T0);
        else if (k + 8 < K) {
            _mm_prefetch((const char *)(ak_row + 8 * ak), _MM_HINT_T0);
            for (int j = 0; j < cols; j++)
                _mm_prefetch((const char *)(b + (size_t)(k + 8) * bk + j * VL), _MM_HINT_T0);
        }
        for (int r = 0; r < rows; r++) {
            const vec av = _mm512_set1_ps(ak_row[r * ar]);
            for (int j = 0; j < cols; j++)
                acc[r][j] = _mm512_fmadd_ps(av, bv[j], acc[r][j]);
        }
    }
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < cols; j++)
            _mm512_storeu_ps(c + r * cs + j * VL, acc[r][j]);
}

/* c [ROWS][n] (+)= a b over K, n a multiple of 16: blocks of two column
 * vectors, or one where n is 16. */
static LD_ALWAYS_INLINE void product_rows_of(float *c, size_t cs, const float *a, size_t ar,
                                             size_t ak, const float *b, size_t bk, int K,
                                             int accumulate, int n)
{
    if (n == VL) {
        product_block(c, cs, a, ar, ak, b, bk, K, accumulate, ROWS, 1);
        return;
    }
    for (int r = 0; r < ROWS; r += ROWS / 2) {
        int j = 0;
        for (; j + 2 * VL <= n; j += 2 * VL)
            product_block(c + r * cs + j, cs, a + r * ar, ar, ak, b + j, bk, K, accumulate,
                          ROWS / 2, 2);
        if (j < n)
            product_block(c + r * cs + j, cs, a + r * ar, ar, ak, b + j, bk, K, accumulate,
                          ROWS / 2, 1);
    }
}

/* product_rows_of with the correlations' row distance (ak = 1, ar = the
 * input channels) a constant where it is one of the common ones: the 16
 * rows' broadcasts then address by displacement; with ar a variable they
 * need 16 index registers, which spilled (a stack load per FMA). */
static void product_rows(float *c, size_t cs, const float *a, size_t ar, size_t ak, const float *b,
                         size_t bk, int K, int accumulate, int n)
{
    if (ak == 1 && ar == 16)
        product_rows_of(c, cs, a, 16, 1, b, bk, K, accumulate, n);
    else if (ak == 1 && ar == 32)
        product_rows_of(c, cs, a, 32, 1, b, bk, K, accumulate, n);
    else if (ak == 1 && ar == 64)
        product_rows_of(c, cs, a, 64, 1, b, bk, K, accumulate, n);
    else if (ak == 1 && ar == 128)
        product_rows_of(c, cs, a, 128, 1, b, bk, K, accumulate, n);
    else
        product_rows_of(c, cs, a, ar, ak, b, bk, K, accumulate, n);
}

/* ---- weights -------------------------------------------------------------- */

/* Lane l of the result: l * stride. */
static __m512i lane_offsets(int stride)
{
    return _mm512_mullo_epi32(
        _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
        _mm512_set1_epi32(stride));
}

/* U [pos][rows][cols] = G g G^T of the kernels of a correlation from `rows`
 * to `cols` channels: w [cout][cin][k][k] itself (rotated = 0: rows = cin,
 * cols = cout), or rotated by 180 degrees with the roles swapped (the data
 * gradient's: rows = cout, cols = cin). Vectorised over 16 columns. */
static void transform_weights(const wino_kind *kd, float *U, const float *w, int cin, int cout,
                              int rotated)
{
    const int rows = rotated ? cout : cin, cols = rotated ? cin : cout;
    const int col_blocks = cols / VL, a = kd->alpha, k = kd->k, taps = kd->taps;
    const size_t ws = weights_pos_stride(cin, cout);
#pragma omp parallel for schedule(static)
    for (int task = 0; task < rows * col_blocks; task++) {
        const int r = task / col_blocks, c0 = task % col_blocks * VL;
        /* the 16 kernels of this task, taps apart (rotated) or cin taps apart */
        const float *k0 = w + (rotated ? (size_t)r * cin + c0 : (size_t)c0 * cin + r) * taps;
        const __m512i lanes = lane_offsets(rotated ? taps : cin * taps);
        vec in[MAX_TAPS], t[MAX_ALPHA * 5], u[MAX_POS];
        for (int t0 = 0; t0 < taps; t0++)
            in[t0] = _mm512_i32gather_ps(lanes, k0 + (rotated ? taps - 1 - t0 : t0), 4);
        for (int i = 0; i < k; i++) /* along rows: t[i][.] = G g[i][.] */
            kd->kernel(t + i * a, 1, in + i * k, 1);
        for (int j = 0; j < a; j++) /* along columns */
            kd->kernel(u + j, a, t + j, a);
        for (int q = 0; q < kd->pos; q++)
            _mm512_storeu_ps(U + q * ws + (size_t)r * cols + c0, u[q]);
    }
}

/* dw [cout][cin][k][k] (+)= G^T dU G, where dU [pos][cin][cout] is the sum
 * of `parts` partial sums `part_floats` apart, added in order. */
static void finish_weight_grad(const wino_kind *kd, float *dw, int add, const float *part,
                               size_t part_floats, int parts, int cin, int cout)
{
    const int col_blocks = cout / VL, a = kd->alpha, k = kd->k, taps = kd->taps;
    const size_t ws = weights_pos_stride(cin, cout);
#pragma omp parallel for schedule(static)
    for (int task = 0; task < cin * col_blocks; task++) {
        const int c = task / col_blocks, o0 = task % col_blocks * VL;
        vec s[MAX_POS], t[5 * MAX_ALPHA], g[MAX_TAPS];
        for (int q = 0; q < kd->pos; q++) {
            const float *at = part + q * ws + (size_t)c * cout + o0;
            s[q] = _mm512_loadu_ps(at);
            for (int i = 1; i < parts; i++)
                s[q] = _mm512_add_ps(s[q], _mm512_loadu_ps(at + i * part_floats));
        }
        for (int i = 0; i < a; i++) /* along rows: t[i][.] = G^T s[i][.] */
            kd->kernel_grad(t + i * k, 1, s + i * a, 1);
        for (int j = 0; j < k; j++) /* along columns */
            kd->kernel_grad(g + j, k, t + j, k);
        /* the 16 kernels' tap q, cin taps apart */
        float *k0 = dw + ((size_t)o0 * cin + c) * taps;
        const __m512i lanes = lane_offsets(cin * taps);
        for (int q = 0; q < taps; q++) {
            vec v = g[q];
            if (add)
                v = _mm512_add_ps(v, _mm512_i32gather_ps(lanes, k0 + q, 4));
            _mm512_i32scatter_ps(k0 + q, lanes, v, 4);
        }
    }
}

/* ---- the passes ------------------------------------------------------------ */

/* Where tile `t` lies: its image and the top-left pixel of its outputs. */
static void tile_at(const wino_shape *s, size_t t, int *n, int *y, int *x)
{
    const size_t per_image = (size_t)s->th * s->tw;
    *n = (int)(t / per_image);
    *y = (int)(t % per_image / s->tw) * TILE;
    *x = (int)(t % s->tw) * TILE;
}

/* V [pos][chunk][cin] for the chunk's tiles of x (zeros past the last). */
static void transform_inputs(float *V, const wino_shape *s, size_t t0, const source *x, int cin)
{
    const size_t plane = (size_t)s->h * s->w * VL, vs = pos_stride(s, cin);
    const int pad = s->kd->k / 2;
    for (size_t t = 0; t < s->chunk; t++)
        for (int cb = 0; cb < cin / VL; cb++) {
            float *v = V + t * cin + (size_t)cb * VL;
            if (t0 + t >= s->tiles) {
                for (int q = 0; q < s->kd->pos; q++)
                    memset(v + q * vs, 0, VL * sizeof *v);
                continue;
            }
            int n, y, xx;
            tile_at(s, t0 + t, &n, &y, &xx);
            input_tile(s->kd, v, vs, x, ((size_t)n * (cin / VL) + cb) * plane, s->h, s->w, y - pad,
                       xx - pad);
        }
}

/* One correlation pass: y (+)= act(corr(x, kernels of U) + bias). */
typedef struct corr_pass {
    int cin, cout;     /* channels of x and y */
    const float *U;    /* [pos][cin][cout] */
    const float *bias; /* [cout] or NULL */
    int act;           /* apply v < 0 ? slope v : v */
    float slope;
    int add; /* y += the result (no bias or activation then) */
} corr_pass;

static void correlate(const wino_shape *s, const corr_pass *c, float *y, const source *x,
                      float *work, size_t work_floats)
{
    const int cin = c->cin, cout = c->cout, pos = s->kd->pos;
    const size_t T = s->chunk, plane = (size_t)s->h * s->w * VL;
    const size_t vs = pos_stride(s, cin), ms = pos_stride(s, cout);
#pragma omp parallel
    {
        float *V = work + (size_t)omp_get_thread_num() * work_floats, *M = V + pos * vs;
#pragma omp for schedule(static)
        for (size_t ch = 0; ch < s->chunks; ch++) {
            const size_t t0 = ch * T;
            transform_inputs(V, s, t0, x, cin);
            for (int q = 0; q < pos; q++)
                for (size_t t = 0; t < T; t += ROWS)
                    product_rows(M + q * ms + t * cout, cout, V + q * vs + t * cin, cin, 1,
                                 c->U + q * weights_pos_stride(cin, cout), cout, cin, 0, cout);
            for (size_t t = 0; t < T && t0 + t < s->tiles; t++) {
                int n, y0, x0;
                tile_at(s, t0 + t, &n, &y0, &x0);
                for (int ob = 0; ob < cout; ob += VL) {
                    vec out[TILE * TILE];
                    output_tile(s->kd, out, M + t * cout + ob, ms);
                    const vec bias = c->bias ? _mm512_loadu_ps(c->bias + ob) : _mm512_setzero_ps();
                    float *yp = y + ((size_t)n * (cout / VL) + ob / VL) * plane;
                    for (int i = 0; i < TILE && y0 + i < s->h; i++)
                        for (int j = 0; j < TILE && x0 + j < s->w; j++) {
                            float *at = yp + ((size_t)(y0 + i) * s->w + x0 + j) * VL;
                            vec v = _mm512_add_ps(out[i * TILE + j], bias);
                            if (c->act) {
                                const __mmask16 neg =
                                    _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
                                v = _mm512_mask_mul_ps(v, neg, v, _mm512_set1_ps(c->slope));
                            }
                            if (c->add)
                                v = _mm512_add_ps(v, _mm512_loadu_ps(at));
                            _mm512_storeu_ps(at, v);
                        }
                }
            }
        }
    }
}

void ld_cpu_winograd_forward(const ld_conv_problem *p, float *y, const float *x, const float *w,
                             const float *b, void *scratch)
{
    const wino_shape s = shape_of(p);
    float *U = scratch, *work = U + weights_floats(p);
    transform_weights(s.kd, U, w, p->cin, p->cout, 0);
    /* the op sets the slope to 0 for ReLU and for none */
    const corr_pass c = {
        p->cin, p->cout, U, p->has_bias ? b : NULL, p->act.kind != LD_ACT_NONE, p->act.slope, 0};
    const source in = {x, NULL, 0.0f};
    correlate(&s, &c, y, &in, work, chunk_floats(&s, p));
}

/* Per thread, into `part` (each weights_floats, then bias_floats): the
 * thread's share of dU [pos][cin][cout] = sum over tiles of V^T Z and of
 * the bias gradient, the sum of dz. Returns the number of threads. */
static int weight_grad(const wino_shape *s, const ld_conv_problem *p, int want_dw, const source *x,
                       const source *dz, float *work, float *part)
{
    const int cin = p->cin, cout = p->cout, pos = s->kd->pos;
    const size_t T = s->chunk, plane = (size_t)s->h * s->w * VL;
    const size_t vs = pos_stride(s, cin), zs = pos_stride(s, cout);
    const size_t ws = weights_pos_stride(cin, cout);
    const size_t part_floats = weights_floats(p) + bias_floats(p), wf = chunk_floats(s, p);
    int team = 1;
#pragma omp parallel
    {
        const int me = omp_get_thread_num();
#pragma omp single
        team = omp_get_num_threads();
        float *V = work + me * wf, *Z = V + pos * vs;
        float *mine = part + me * part_floats, *db_mine = mine + weights_floats(p);
        memset(db_mine, 0, bias_floats(p) * sizeof *db_mine);
        int fresh = 1; /* the thread's first chunk writes its partial sum */
#pragma omp for schedule(static) nowait
        for (size_t ch = 0; ch < s->chunks; ch++) {
            const size_t t0 = ch * T;
            if (want_dw)
                transform_inputs(V, s, t0, x, cin);
            for (size_t t = 0; t < T; t++) {
                int n = 0, y0 = 0, x0 = 0;
                const int valid = t0 + t < s->tiles;
                if (valid)
                    tile_at(s, t0 + t, &n, &y0, &x0);
                for (int ob = 0; ob < cout; ob += VL) {
                    float *z = Z + t * cout + ob;
                    if (!valid) {
                        for (int q = 0; q < pos; q++)
                            memset(z + q * zs, 0, VL * sizeof *z);
                        continue;
                    }
                    vec sum = _mm512_loadu_ps(db_mine + ob);
                    grad_tile(s->kd, z, zs, &sum, dz, ((size_t)n * (cout / VL) + ob / VL) * plane,
                              s->h, s->w, y0, x0);
                    _mm512_storeu_ps(db_mine + ob, sum);
                }
            }
            if (!want_dw)
                continue;
            for (int q = 0; q < pos; q++)
                for (int c = 0; c < cin; c += ROWS)
                    product_rows(mine + q * ws + (size_t)c * cout, cout, V + q * vs + c, 1, cin,
                                 Z + q * zs, cout, (int)T, !fresh, cout);
            fresh = 0;
        }
        if (want_dw && fresh) /* no chunk for this thread */
            memset(mine, 0, weights_floats(p) * sizeof *mine);
    }
    return team;
}

void ld_cpu_winograd_backward(const ld_conv_problem *p, const ld_conv_grads *g, void *scratch)
{
    const wino_shape s = shape_of(p);
    const size_t threads = (size_t)omp_get_max_threads(), wf = chunk_floats(&s, p);
    const size_t part_floats = weights_floats(p) + bias_floats(p);
    float *U = scratch, *work = U + weights_floats(p), *part = work + threads * wf;
    const source dz = {g->dy, p->act.kind != LD_ACT_NONE ? g->y : NULL, p->act.slope};
    if (g->dx) {
        transform_weights(s.kd, U, g->w, p->cin, p->cout, 1);
        const corr_pass c = {p->cout, p->cin, U, NULL, 0, 0.0f, g->dx_add};
        correlate(&s, &c, g->dx, &dz, work, wf);
    }
    const source x = {g->x, NULL, 0.0f};
    const int want_db = p->has_bias && g->db;
    if (!g->dw && !want_db)
        return;
    const int parts = weight_grad(&s, p, g->dw != NULL, &x, &dz, work, part);
    if (g->dw)
        finish_weight_grad(s.kd, g->dw, g->dw_add, part, part_floats, parts, p->cin, p->cout);
    for (int o = 0; want_db && o < p->cout; o++) {
        float sum = 0.0f;
        for (int i = 0; i < parts; i++)
            sum += part[i * part_floats + weights_floats(p) + o];
        g->db[o] = g->db_add ? g->db[o] + sum : sum;
    }
}
