/* Resampling helpers: see interp.h. */
#include "data/interp.h"

#include <math.h>
#include <stdlib.h>

#include "cpu/cpu.h"

/* out[i * stride] = sum_k taps[k] * in[clamp(i + k - radius) * stride] for
 * i in 0..n-1: one line of the separable blur. */
static void blur_line(const float *in, float *out, int n, long stride, const float *taps,
                      int radius)
{
    for (int i = 0; i < n; i++) {
        float acc = 0;
        for (int k = -radius; k <= radius; k++) {
            int j = i + k < 0 ? 0 : i + k >= n ? n - 1 : i + k;
            acc += taps[k + radius] * in[j * stride];
        }
        out[i * stride] = acc;
    }
}

int ld_gaussian_blur(float *plane, int height, int width, float sigma, ld_err *err)
{
    if (sigma <= 0)
        return 0;
    int radius = (int)ceilf(3 * sigma);
    float *taps = malloc((size_t)(2 * radius + 1) * sizeof *taps);
    float *tmp = malloc((size_t)height * width * sizeof *tmp);
    if (!taps || !tmp) {
        free(taps);
        free(tmp);
        return ld_errf(err, "gaussian blur: out of memory for %dx%d", width, height);
    }
    float sum = 0;
    for (int k = -radius; k <= radius; k++)
        sum += taps[k + radius] = expf(-(float)(k * k) / (2 * sigma * sigma));
    for (int k = 0; k <= 2 * radius; k++)
        taps[k] /= sum;
#pragma omp parallel for schedule(static) if ((size_t)height * width > LD_CPU_PARALLEL_MIN)
    for (int y = 0; y < height; y++)
        blur_line(plane + (long)y * width, tmp + (long)y * width, width, 1, taps, radius);
#pragma omp parallel for schedule(static) if ((size_t)height * width > LD_CPU_PARALLEL_MIN)
    for (int x = 0; x < width; x++)
        blur_line(tmp + x, plane + x, height, width, taps, radius);
    free(taps);
    free(tmp);
    return 0;
}
