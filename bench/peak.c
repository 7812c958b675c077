/* The machine's float32 ceiling, to read the convolutions' GFLOP/s
 * against: oneDNN's own sgemm (JIT for the CPU's widest vectors) on square
 * matrices large enough to run at its best, median of --repeats calls.
 * Prints one JSON line: size, threads, ms, GFLOP/s. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include <dnnl.h>

#include "timing.h"

int main(int argc, char **argv)
{
    int n = 2048, repeats = 7, threads = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        char *end;
        long v = strtol(argv[i + 1], &end, 10);
        if (*end || v < 1 || v > 16384) {
            fprintf(stderr, "peak: %s needs a positive integer, got '%s'\n", argv[i], argv[i + 1]);
            return 2;
        }
        if (!strcmp(argv[i], "--size"))
            n = (int)v;
        else if (!strcmp(argv[i], "--repeats"))
            repeats = (int)v;
        else if (!strcmp(argv[i], "--threads"))
            threads = (int)v;
        else {
            fprintf(stderr, "peak: unknown option %s (--size N --repeats R --threads T)\n",
                    argv[i]);
            return 2;
        }
    }
    if (threads)
        omp_set_num_threads(threads);
    const size_t count = (size_t)n * n;
    float *a = malloc(count * sizeof *a), *b = malloc(count * sizeof *b);
    float *c = malloc(count * sizeof *c);
    double *times = malloc((size_t)repeats * sizeof *times);
    if (!a || !b || !c || !times) {
        fprintf(stderr, "peak: out of memory for %d x %d matrices\n", n, n);
        return 1;
    }
    for (size_t i = 0; i < count; i++) {
        a[i] = (float)(i % 17) / 17.0f - 0.5f;
        b[i] = (float)(i % 13) / 13.0f - 0.5f;
    }
    for (int r = -1; r < repeats; r++) { /* one warm-up call */
        double t0 = bench_now();
        if (dnnl_sgemm('N', 'N', n, n, n, 1.0f, a, n, b, n, 0.0f, c, n) != dnnl_success) {
            fprintf(stderr, "peak: dnnl_sgemm failed\n");
            return 1;
        }
        if (r >= 0)
            times[r] = bench_now() - t0;
    }
    double s = bench_median(times, (size_t)repeats);
    printf("{\"size\": %d, \"threads\": %d, \"ms\": %.3f, \"gflops\": %.1f}\n", n,
           omp_get_max_threads(), s * 1e3, 2.0 * n * n * (double)n / s / 1e9);
    free(a), free(b), free(c), free(times);
    return 0;
}
