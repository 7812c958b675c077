/* Tests of the engine core: Philox known-answer vectors, RNG determinism,
 * arena reuse, the tape, the parameter registry, safetensors round trip and
 * its error paths, the opening of files read whole (folders and devices
 * refused), the JSON writers. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/atomic_file.h"
#include "engine/json.h"
#include "engine/params.h"
#include "engine/rng.h"
#include "engine/safetensors.h"
#include "ops/elementwise.h"
#include "test.h"

static void test_philox_known_answers(void)
{
    /* Random123 kat_vectors: philox4x32 10 rounds */
    uint32_t out[4];
    ld_philox4x32(0, 0, out);
    CHECK(out[0] == 0x6627e8d5u && out[1] == 0xe169c58du && out[2] == 0xbc57ac4cu &&
              out[3] == 0x9b00dbd8u,
          "zero key/counter: %08x %08x %08x %08x", out[0], out[1], out[2], out[3]);
}

static void test_rng_streams(void)
{
    ld_rng a, b;
    ld_rng_init(&a, 42);
    ld_rng_init(&b, 42);
    float x[1001], y[1001];
    ld_rng_fill_normal(&a, x, 1001, 0, 1);
    for (int i = 0; i < 1001; i++)
        y[i] = 0;
    ld_rng_fill_normal(&b, y, 1001, 0, 1);
    CHECK(memcmp(x, y, sizeof x) == 0, "same seed, same stream");
    CHECK(a.counter == 501, "normal fill consumes one block per two values (%llu)",
          (unsigned long long)a.counter);
    double mean = 0, var = 0;
    for (int i = 0; i < 1001; i++)
        mean += x[i] / 1001.0;
    for (int i = 0; i < 1001; i++)
        var += (x[i] - mean) * (x[i] - mean) / 1000.0;
    CHECK(mean > -0.1 && mean < 0.1 && var > 0.85 && var < 1.15, "N(0,1): mean %g var %g", mean,
          var);
    ld_rng_init(&b, 43);
    ld_rng_fill_normal(&b, y, 1001, 0, 1);
    CHECK(memcmp(x, y, sizeof x) != 0, "another seed, another stream");
    int idx[10], seen = 0;
    for (int i = 0; i < 10; i++)
        idx[i] = i;
    ld_rng_shuffle(&a, idx, 10);
    for (int i = 0; i < 10; i++)
        seen |= 1 << idx[i];
    CHECK(seen == 0x3ff, "shuffle is a permutation");
}

static void test_arena_reuse(void)
{
    ld_arena a;
    ld_arena_init(&a, 1 << 16);
    void *p1 = ld_arena_alloc(&a, 1000), *p2 = ld_arena_alloc(&a, 100000);
    CHECK(p1 && p2 && ((uintptr_t)p1 % LD_ALIGN) == 0 && ((uintptr_t)p2 % LD_ALIGN) == 0,
          "aligned");
    ld_arena_reset(&a);
    void *q1 = ld_arena_alloc(&a, 1000), *q2 = ld_arena_alloc(&a, 100000);
    CHECK(q1 == p1 && q2 == p2, "a reset arena hands out the same memory again");
    CHECK(a.peak >= 101000, "peak recorded (%zu)", a.peak);
    ld_arena_free(&a);
}

/* A chunk beyond the memory limit is refused (NULL), not left for the
 * kernel to kill the process on first touch; the total comes back down
 * when an arena is freed. */
static void test_arena_memory_limit(void)
{
    size_t limit = ld_arena_memory_limit(), before = ld_arena_total_bytes();
    CHECK(limit > ((size_t)64 << 20), "memory limit %zu bytes", limit);
    ld_arena a;
    ld_arena_init(&a, 1 << 16);
    CHECK(ld_arena_alloc(&a, limit + 1) == NULL, "%zu bytes past the limit allocated", limit + 1);
    CHECK(ld_arena_alloc(&a, 1000) != NULL && ld_arena_total_bytes() == before + ((size_t)2 << 20),
          "a small chunk (one 2 MiB page): total %zu, was %zu", ld_arena_total_bytes(), before);
    ld_arena_free(&a);
    CHECK(ld_arena_total_bytes() == before, "total after freeing %zu, was %zu",
          ld_arena_total_bytes(), before);
}

static void test_tape_accumulates_shared_inputs(void)
{
    /* y = x*x + 3x: dy/dx = 2x + 3 through two uses of x */
    ld_ctx *c = test_ctx();
    int s[1] = {4};
    ld_tensor *x = ld_tensor_heap(1, s, 1);
    for (int i = 0; i < 4; i++)
        x->data[i] = (float)i - 1.5f;
    ld_tensor *y = ld_sum(c, ld_add(c, ld_mul(c, x, x), ld_scale(c, x, 3.0f, 0.0f)));
    CHECK(ld_backward(c, y) == 0, "backward: %s", c->err.msg);
    for (int i = 0; i < 4; i++)
        CHECK(x->grad[i] == 2.0f * x->data[i] + 3.0f, "grad[%d] = %g", i, x->grad[i]);
    ld_ctx_reset(c);
    c->recording = 0;
    y = ld_mul(c, x, x);
    CHECK(c->tape_len == 0 && !y->requires_grad, "nothing recorded when not recording");
    c->recording = 1;
    ld_tensor_heap_free(x);
}

static void test_params_registry(void)
{
    ld_params p;
    ld_err err;
    ld_params_init(&p);
    int s1[2] = {3, 5}, s2[1] = {7};
    int a = ld_params_add(&p, "enc.w", 2, s1, 1, &err);
    int b = ld_params_add(&p, "bn.running_mean", 1, s2, 0, &err);
    CHECK(a == 0 && b == 1, "indices");
    CHECK(ld_params_add(&p, "enc.w", 2, s1, 1, &err) < 0 && strstr(err.msg, "twice"),
          "duplicate name refused: %s", err.msg);
    CHECK(ld_params_finalize(&p, &err) == 0, "finalize");
    CHECK(ld_param(&p, a)->data == p.data && ld_param(&p, b)->data - p.data == 16,
          "views into one flat buffer, 16-float aligned");
    CHECK(ld_param(&p, b)->requires_grad == 0 && ld_param(&p, b)->grad == NULL,
          "non-trainable entries get no gradient");
    CHECK(ld_params_trainable(&p) == 15, "trainable count");
    ld_params_free(&p);
}

static void test_safetensors_round_trip_and_errors(void)
{
    float a[6] = {1, 2, 3, 4, 5, 6};
    double d[2] = {0.5, -2.25};
    int64_t sa[2] = {2, 3}, sd[1] = {2};
    ld_st_file f;
    ld_err err;
    ld_st_init(&f);
    CHECK(ld_st_add(&f, "a", LD_ST_F32, 2, sa, a, &err) == 0, "add");
    CHECK(ld_st_add(&f, "d", LD_ST_F64, 1, sd, d, &err) == 0, "add");
    CHECK(ld_st_set_meta(&f, "note", "quote \" backslash \\ newline \n", &err) == 0, "meta");
    test_scratch_make("engine");
    const char *path = test_scratch("round_trip.safetensors");
    CHECK(ld_st_write(&f, path, &err) == 0, "write: %s", err.msg);
    ld_st_free(&f);

    ld_st_file g;
    CHECK(ld_st_read(path, &g, &err) == 0, "read: %s", err.msg);
    float back[6], dback[2];
    CHECK(ld_st_read_f32(&g, "a", 2, sa, back, &err) == 0 && memcmp(back, a, sizeof a) == 0,
          "float data back");
    CHECK(ld_st_read_f32(&g, "d", 1, sd, dback, &err) == 0 && dback[1] == -2.25f,
          "double converted");
    const char *note = ld_st_meta_get(&g, "note");
    CHECK(note && strcmp(note, "quote \" backslash \\ newline \n") == 0, "metadata escapes");
    int64_t wrong[2] = {3, 2};
    CHECK(ld_st_read_f32(&g, "a", 2, wrong, back, &err) < 0 && strstr(err.msg, "[2,3]") &&
              strstr(err.msg, "[3,2]"),
          "shape mismatch names both shapes: %s", err.msg);

    /* truncated: header intact, data cut */
    FILE *fp = fopen(path, "rb");
    unsigned char whole[4096];
    size_t n = fp ? fread(whole, 1, sizeof whole, fp) : 0;
    if (fp)
        fclose(fp);
    ld_st_free(&g);
    const char *bad = test_scratch("bad.safetensors");
    test_write_bytes(bad, whole, n - 5);
    CHECK(ld_st_read(bad, &g, &err) < 0 && strstr(err.msg, "truncated"),
          "truncated file: %s", err.msg);
    test_write_bytes(bad, whole, 4);
    CHECK(ld_st_read(bad, &g, &err) < 0 && strstr(err.msg, "truncated"), "4-byte file: %s",
          err.msg);
    unsigned char garbage[300];
    for (int i = 0; i < 300; i++)
        garbage[i] = (unsigned char)(i * 37 + 11);
    garbage[0] = 200; /* header length 200 + small high bytes: inside, but not JSON */
    for (int i = 1; i < 8; i++)
        garbage[i] = 0;
    test_write_bytes(bad, garbage, sizeof garbage);
    CHECK(ld_st_read(bad, &g, &err) < 0 && strstr(err.msg, "corrupt"), "garbage: %s", err.msg);
    for (int i = 0; i < 8; i++)
        garbage[i] = 0xff;
    test_write_bytes(bad, garbage, sizeof garbage);
    CHECK(ld_st_read(bad, &g, &err) < 0 && strstr(err.msg, "not a safetensors"),
          "huge header length: %s", err.msg);
    CHECK(ld_st_read("/nonexistent/x.safetensors", &g, &err) < 0 &&
              strstr(err.msg, "cannot open"),
          "missing file: %s", err.msg);
    test_scratch_remove();
}

/* Files read whole open only when they are regular files: a folder (a
 * checkpoint path given as the run's folder) is named as such instead of
 * being read as a file of LONG_MAX bytes, a device is refused before it is
 * read, and safetensors reading says the same. */
static void test_reading_refuses_non_files(void)
{
    test_scratch_make("engine_files");
    const char *folder = test_scratch("run/");
    CHECK(mkdir(folder, 0700) == 0, "mkdir %s", folder);
    const char *file = test_scratch("five.bin");
    test_write_bytes(file, "12345", 5);
    ld_err err = {{0}};
    size_t size = 0;
    FILE *fp = ld_open_regular_file(file, &size, &err);
    CHECK(fp && size == 5, "a regular file opens with its size (%zu): %s", size, err.msg);
    if (fp)
        fclose(fp);

    char want[300];
    snprintf(want, sizeof want, "%s: is a folder, not a file", folder);
    fp = ld_open_regular_file(folder, &size, &err);
    CHECK(!fp && strcmp(err.msg, want) == 0, "folder: '%s'", err.msg);
    if (fp)
        fclose(fp);
    fp = ld_open_regular_file("/dev/null", NULL, &err);
    CHECK(!fp && strcmp(err.msg, "/dev/null: not a regular file (a device, pipe or socket)") == 0,
          "device: '%s'", err.msg);
    if (fp)
        fclose(fp);
    fp = ld_open_regular_file("/nonexistent/x.bin", NULL, &err);
    CHECK(!fp && strcmp(err.msg, "/nonexistent/x.bin: cannot open: No such file or directory") == 0,
          "missing file: '%s'", err.msg);
    if (fp)
        fclose(fp);

    ld_st_file f;
    CHECK(ld_st_read(folder, &f, &err) < 0 && strcmp(err.msg, want) == 0,
          "safetensors read of a folder: '%s'", err.msg);
    CHECK(ld_st_read("/dev/zero", &f, &err) < 0 && strstr(err.msg, "not a regular file"),
          "safetensors read of a device: '%s'", err.msg);
    test_scratch_remove();
}

/* The first len - 1 bytes of the file at path as a string ("" if none). */
static void read_text(const char *path, char *text, size_t len)
{
    memset(text, 0, len);
    FILE *f = fopen(path, "rb");
    if (f) {
        if (!fread(text, 1, len - 1, f))
            text[0] = 0;
        fclose(f);
    }
}

/* Files committed as a set: when one of them cannot be written whole
 * (a stream in error, as a full disk leaves it) none replaces its target
 * and no temporary file stays; when all can, all are in place. */
static void test_atomic_commit_all(void)
{
    test_scratch_make("engine_atomic");
    char a[256], b[256];
    snprintf(a, sizeof a, "%s", test_scratch("a.txt"));
    snprintf(b, sizeof b, "%s", test_scratch("b.txt"));
    test_write_bytes(a, "old a", 5);
    test_write_bytes(b, "old b", 5);
    ld_atomic_file files[2];
    ld_err err = {{0}};
    CHECK(ld_atomic_open(&files[0], a, &err) == 0 && ld_atomic_open(&files[1], b, &err) == 0,
          "open: %s", err.msg);
    fputs("new a", files[0].fp);
    fputs("new b", files[1].fp);
    (void)fgetc(files[1].fp); /* reading a write-only stream sets its error flag */
    CHECK(ld_atomic_commit_all(files, 2, &err) != 0 && strstr(err.msg, "b.txt"),
          "a set with a failed file commits: %s", err.msg);
    char text[16];
    read_text(a, text, sizeof text);
    CHECK(!strcmp(text, "old a"), "a.txt after the failed set: '%s'", text);
    struct stat st;
    CHECK(stat(files[0].tmp_path, &st) != 0 && stat(files[1].tmp_path, &st) != 0,
          "temporary files left");
    CHECK(ld_atomic_open(&files[0], a, &err) == 0 && ld_atomic_open(&files[1], b, &err) == 0,
          "open: %s", err.msg);
    fputs("new a", files[0].fp);
    fputs("new b", files[1].fp);
    CHECK(ld_atomic_commit_all(files, 2, &err) == 0, "commit: %s", err.msg);
    read_text(b, text, sizeof text);
    CHECK(!strcmp(text, "new b"), "b.txt after the set: '%s'", text);
    test_scratch_remove();
}

/* Paths with quotes, backslashes and control characters stay valid JSON
 * strings; non-finite numbers become null. */
static void test_json_writers(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&text, &len);
    if (!fp) {
        TEST_FAIL("open_memstream failed");
        return;
    }
    ld_json_string(fp, "a \"b\"\\c\n\td/\xc3\xa9");
    fputc(' ', fp);
    ld_json_number(fp, "%.3g", 0.123456);
    fputc(' ', fp);
    ld_json_number(fp, "%.3g", NAN);
    fputc(' ', fp);
    ld_json_number(fp, "%.3g", -INFINITY);
    fclose(fp);
    const char *want = "\"a \\\"b\\\"\\\\c\\u000a\\u0009d/\xc3\xa9\" 0.123 null null";
    CHECK(text && !strcmp(text, want), "wrote [%s], want [%s]", text ? text : "", want);
    free(text);
}

/* Context put before or after a message; a long one is cut at the
 * buffer, never overrun; NULL is allowed. */
static void test_error_context(void)
{
    ld_err err;
    ld_errf(&err, "truncated (%d bytes)", 7);
    CHECK(ld_err_prefix(&err, "%s: ", "a.npy") == -1 &&
              !strcmp(err.msg, "a.npy: truncated (7 bytes)"),
          "prefix: '%s'", err.msg);
    CHECK(ld_err_suffix(&err, "; %s", "nothing written") == -1 &&
              !strcmp(err.msg, "a.npy: truncated (7 bytes); nothing written"),
          "suffix: '%s'", err.msg);
    char long_text[2 * LD_ERR_LEN];
    memset(long_text, 'x', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = 0;
    ld_err_prefix(&err, "%s", long_text);
    CHECK(strlen(err.msg) == LD_ERR_LEN - 1 && err.msg[0] == 'x', "a long prefix: %zu chars",
          strlen(err.msg));
    ld_errf(&err, "short");
    ld_err_suffix(&err, "%s", long_text);
    CHECK(strlen(err.msg) == LD_ERR_LEN - 1 && !strncmp(err.msg, "shortxxx", 8),
          "a long suffix: %.12s...", err.msg);
    CHECK(ld_err_prefix(NULL, "x") == -1 && ld_err_suffix(NULL, "x") == -1, "NULL err");
}

LD_TEST_SUITE(engine) = {
    {"philox_known_answers", test_philox_known_answers},
    {"rng_streams", test_rng_streams},
    {"arena_reuse", test_arena_reuse},
    {"arena_memory_limit", test_arena_memory_limit},
    {"atomic_commit_all", test_atomic_commit_all},
    {"tape_accumulates_shared_inputs", test_tape_accumulates_shared_inputs},
    {"params_registry", test_params_registry},
    {"safetensors_round_trip_and_errors", test_safetensors_round_trip_and_errors},
    {"reading_refuses_non_files", test_reading_refuses_non_files},
    {"json_writers", test_json_writers},
    {"error_context", test_error_context},
    {NULL, NULL},
};
