/* Procedural textures: see pattern.h. */
#include "data/pattern.h"

#include <math.h>

#include "engine/rng.h"

#define PATTERN_BLOBS 24
#define PATTERN_WAVES 3

void ld_pattern_texture(float *img, int h, int w, uint64_t seed)
{
    ld_rng r;
    ld_rng_init(&r, seed);
    float bx[PATTERN_BLOBS], by[PATTERN_BLOBS], bs[PATTERN_BLOBS], ba[PATTERN_BLOBS];
    float kx[PATTERN_WAVES], ky[PATTERN_WAVES], ph[PATTERN_WAVES];
    float size = (float)(h < w ? h : w);
    for (int i = 0; i < PATTERN_BLOBS; i++) {
        bx[i] = ld_rng_uniform(&r) * (float)w;
        by[i] = ld_rng_uniform(&r) * (float)h;
        bs[i] = size * (0.03f + 0.09f * ld_rng_uniform(&r));
        ba[i] = ld_rng_uniform(&r) * 2.0f - 1.0f;
    }
    for (int i = 0; i < PATTERN_WAVES; i++) {
        float angle = ld_rng_uniform(&r) * 3.14159265f;
        float freq = (2.0f + 6.0f * ld_rng_uniform(&r)) * 6.2831853f / size;
        kx[i] = freq * cosf(angle);
        ky[i] = freq * sinf(angle);
        ph[i] = ld_rng_uniform(&r) * 6.2831853f;
    }
    float lo = INFINITY, hi = -INFINITY;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float v = 0;
            for (int i = 0; i < PATTERN_WAVES; i++)
                v += 0.25f * sinf(kx[i] * (float)x + ky[i] * (float)y + ph[i]);
            for (int i = 0; i < PATTERN_BLOBS; i++) {
                float dx = (float)x - bx[i], dy = (float)y - by[i];
                v += ba[i] * expf(-(dx * dx + dy * dy) / (2 * bs[i] * bs[i]));
            }
            img[y * w + x] = v;
            lo = fminf(lo, v);
            hi = fmaxf(hi, v);
        }
    float scale = hi > lo ? 1.0f / (hi - lo) : 0.0f;
    for (int i = 0; i < h * w; i++)
        img[i] = (img[i] - lo) * scale;
}
