/* The cross-fade baseline: see crossfade.h. */
#include "baselines/crossfade.h"

#include <stddef.h>

int ld_baseline_check_sizes(const char *what, int channels, int height, int width, int stages,
                            ld_err *err)
{
    if (channels < 1 || height < 1 || width < 1)
        return ld_errf(err, "%s: bad image size %d x %dx%d", what, channels, width, height);
    if (stages < 1)
        return ld_errf(err, "%s: stages must be at least 1 (got %d)", what, stages);
    return 0;
}

int ld_baseline_crossfade(const float *i0, const float *i1, int channels, int height, int width,
                          int stages, float *frames, ld_err *err)
{
    if (ld_baseline_check_sizes("crossfade", channels, height, width, stages, err))
        return -1;
    const size_t image = (size_t)channels * height * width;
    for (int n = 0; n <= stages; n++) {
        float t = (float)n / (float)stages;
        float *out = frames + (size_t)n * image;
        for (size_t k = 0; k < image; k++)
            out[k] = (1 - t) * i0[k] + t * i1[k]; /* exact at t = 0 and 1 */
    }
    return 0;
}
