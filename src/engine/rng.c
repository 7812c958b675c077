/* Philox4x32-10 counter-based generator: see rng.h. */
#include "engine/rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u
#define PHILOX_W1 0xBB67AE85u

void ld_rng_init(ld_rng *r, uint64_t seed)
{
    r->seed = seed;
    r->counter = 0;
}

void ld_philox4x32(uint64_t seed, uint64_t counter, uint32_t out[4])
{
    uint32_t c0 = (uint32_t)counter, c1 = (uint32_t)(counter >> 32), c2 = 0, c3 = 0;
    uint32_t k0 = (uint32_t)seed, k1 = (uint32_t)(seed >> 32);
    for (int round = 0; round < 10; round++) {
        uint64_t p0 = (uint64_t)PHILOX_M0 * c0;
        uint64_t p1 = (uint64_t)PHILOX_M1 * c2;
        uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
        uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
        k0 += PHILOX_W0;
        k1 += PHILOX_W1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

static float u32_to_unit(uint32_t u) { return (float)(u >> 8) * (1.0f / 16777216.0f); }

static void box_muller(uint32_t a, uint32_t b, float *z0, float *z1)
{
    double u1 = 1.0 - (double)(a >> 8) * (1.0 / 16777216.0); /* (0, 1] */
    double u2 = (double)(b >> 8) * (1.0 / 16777216.0);
    double rad = sqrt(-2.0 * log(u1));
    *z0 = (float)(rad * cos(2.0 * M_PI * u2));
    *z1 = (float)(rad * sin(2.0 * M_PI * u2));
}

uint32_t ld_rng_u32(ld_rng *r)
{
    uint32_t out[4];
    ld_philox4x32(r->seed, r->counter++, out);
    return out[0];
}

float ld_rng_uniform(ld_rng *r) { return u32_to_unit(ld_rng_u32(r)); }

float ld_rng_normal(ld_rng *r)
{
    uint32_t out[4];
    float z0, z1;
    ld_philox4x32(r->seed, r->counter++, out);
    box_muller(out[0], out[1], &z0, &z1);
    return z0;
}

uint32_t ld_rng_below(ld_rng *r, uint32_t n)
{
    uint32_t limit = UINT32_MAX - UINT32_MAX % n;
    uint32_t u;
    do
        u = ld_rng_u32(r);
    while (u >= limit);
    return u % n;
}

void ld_rng_fill_uniform(ld_rng *r, float *x, size_t n, float lo, float hi)
{
    size_t blocks = (n + 3) / 4;
    uint64_t base = r->counter;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t b = 0; b < blocks; b++) {
        uint32_t out[4];
        ld_philox4x32(r->seed, base + b, out);
        for (size_t k = 0; k < 4 && 4 * b + k < n; k++)
            x[4 * b + k] = lo + (hi - lo) * u32_to_unit(out[k]);
    }
    r->counter += blocks;
}

void ld_rng_fill_normal(ld_rng *r, float *x, size_t n, float mean, float std)
{
    size_t blocks = (n + 1) / 2;
    uint64_t base = r->counter;
#pragma omp parallel for schedule(static) if (n > 65536)
    for (size_t b = 0; b < blocks; b++) {
        uint32_t out[4];
        float z0, z1;
        ld_philox4x32(r->seed, base + b, out);
        box_muller(out[0], out[1], &z0, &z1);
        x[2 * b] = mean + std * z0;
        if (2 * b + 1 < n)
            x[2 * b + 1] = mean + std * z1;
    }
    r->counter += blocks;
}

void ld_rng_shuffle(ld_rng *r, int *idx, int n)
{
    for (int i = n - 1; i > 0; i--) {
        int j = (int)ld_rng_below(r, (uint32_t)i + 1);
        int t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}
