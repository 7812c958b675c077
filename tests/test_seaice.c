/* Tests on the real Sentinel-1 sea-ice pair in ../shared/data/seaice (next
 * to the repository; skipped when absent): both images load with the
 * library's loader as matching single-band 900 x 900 images of finite
 * 8-bit values, and the cross-fade baseline runs on a 64 x 64 crop. No
 * training here (too slow for a unit test). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "baselines/crossfade.h"
#include "data/image.h"
#include "test.h"

#define SEAICE_DIR LD_FIXTURE_DIR "/../../../shared/data/seaice"
#define CROP 64

static const char *const pair[2] = {
    SEAICE_DIR "/Sentinel1_HH_Sigma0_2020-03-19T16_01Z.png",
    SEAICE_DIR "/Sentinel1_HH_Sigma0_2020-03-20T15_54Z.png",
};

static void test_sentinel1_pair(void)
{
    if (access(pair[0], R_OK) || access(pair[1], R_OK)) {
        test_skip("the Sentinel-1 pair is not in ../shared/data/seaice (shared data absent)");
        return;
    }
    ld_image img[2] = {{0}, {0}};
    ld_err err;
    for (int k = 0; k < 2; k++) {
        if (ld_image_load(pair[k], &img[k], &err)) {
            TEST_FAIL("load %s: %s", pair[k], err.msg);
            ld_image_free(&img[0]);
            return;
        }
        /* RGBA with R = G = B and opaque alpha: one grey band, 0..255. */
        CHECK(img[k].channels == 1 && img[k].height == 900 && img[k].width == 900 &&
                  img[k].bit_depth == 8, "%s: %d x %dx%d, %d bits", pair[k], img[k].channels,
              img[k].width, img[k].height, img[k].bit_depth);
        size_t n = (size_t)img[k].channels * img[k].height * img[k].width;
        float lo = INFINITY, hi = -INFINITY;
        int finite = 1;
        for (size_t i = 0; i < n; i++) {
            finite &= isfinite(img[k].data[i]) != 0;
            lo = fminf(lo, img[k].data[i]);
            hi = fmaxf(hi, img[k].data[i]);
        }
        CHECK(finite && lo >= 0 && hi <= 255 && hi - lo > 50, "%s: values in [%g, %g]%s",
              pair[k], (double)lo, (double)hi, finite ? "" : ", not all finite");
    }
    CHECK(img[0].channels == img[1].channels && img[0].height == img[1].height &&
              img[0].width == img[1].width, "the two images differ in shape");
    if (test_failed()) {
        ld_image_free(&img[0]);
        ld_image_free(&img[1]);
        return;
    }
    /* A 64 x 64 crop from the middle of both, cross-faded in 4 stages. */
    enum { N = 4, P = CROP * CROP };
    float crop[2][P], frames[(N + 1) * P];
    const int y0 = 418, x0 = 402, w = img[0].width;
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < CROP; i++)
            memcpy(crop[k] + i * CROP, img[k].data + (size_t)(y0 + i) * w + x0,
                   CROP * sizeof(float));
    CHECK(memcmp(crop[0], crop[1], sizeof crop[0]) != 0, "the two crops are identical");
    CHECK(ld_baseline_crossfade(crop[0], crop[1], 1, CROP, CROP, N, frames, &err) == 0,
          "crossfade: %s", err.msg);
    CHECK(!memcmp(frames, crop[0], sizeof crop[0]) && !memcmp(frames + N * P, crop[1], sizeof crop[1]),
          "end frames are the crops");
    double worst = 0;
    for (int n = 0; n <= N; n++)
        for (int p = 0; p < P; p++) {
            float v = frames[n * P + p];
            double t = (double)n / N, want = (1 - t) * crop[0][p] + t * crop[1][p];
            worst = fmax(worst, isfinite(v) ? fabs(v - want) : INFINITY);
        }
    CHECK(worst < 1e-3, "cross-fade frames differ from the blend by up to %g (0..255 units)",
          worst);
    ld_image_free(&img[0]);
    ld_image_free(&img[1]);
}

LD_TEST_SUITE(seaice) = {
    {"sentinel1_pair", test_sentinel1_pair},
    {NULL, NULL},
};
