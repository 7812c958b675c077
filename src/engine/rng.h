/* Seeded random numbers: Philox4x32-10 (Salmon et al., "Parallel random
 * numbers: as easy as 1, 2, 3", SC 2011), a counter-based generator. The
 * state is a 64-bit key (the seed) and a 64-bit counter; each block of four
 * 32-bit outputs is a pure function of (key, counter), so a tensor filled in
 * parallel gets the same numbers whatever the thread count, and saving
 * (seed, counter) in a checkpoint resumes the exact stream.
 * Uniforms: (u >> 8) * 2^-24 in [0, 1). Normals: Box-Muller on two uniforms
 * (1 - u1 used so the log argument is never 0). */
#ifndef LD_RNG_H
#define LD_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct ld_rng {
    uint64_t seed;
    uint64_t counter; /* number of 4-word blocks consumed */
} ld_rng;

void ld_rng_init(ld_rng *r, uint64_t seed);
/* The four 32-bit words of block `counter` under `seed`. */
void ld_philox4x32(uint64_t seed, uint64_t counter, uint32_t out[4]);
uint32_t ld_rng_u32(ld_rng *r);
float ld_rng_uniform(ld_rng *r);
float ld_rng_normal(ld_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint32_t ld_rng_below(ld_rng *r, uint32_t n);
/* Fill n floats; consumes ceil(n/4) blocks (uniform) or ceil(n/2) blocks
 * (normal: two normals per block) and is independent of thread count. */
void ld_rng_fill_uniform(ld_rng *r, float *x, size_t n, float lo, float hi);
void ld_rng_fill_normal(ld_rng *r, float *x, size_t n, float mean, float std);
/* Fisher-Yates shuffle of n indices. */
void ld_rng_shuffle(ld_rng *r, int *idx, int n);

#endif
