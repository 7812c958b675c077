/* The test framework: suites of named test functions, value assertions,
 * comparison with PyTorch fixtures, and finite-difference gradient checks.
 *
 * A test file ends with
 *     LD_TEST_SUITE(conv) = {{"name", fn}, ..., {NULL, NULL}};
 * at the start of a line; the Makefile collects these lines, so adding a
 * file needs no other edit. The runner prints one line per test and ends
 * with "N passed, N failed, N skipped". */
#ifndef LD_TEST_H
#define LD_TEST_H

#include <stddef.h>

#include "engine/compiler.h"
#include "engine/safetensors.h"
#include "engine/tensor.h"

typedef struct ld_test_case {
    const char *name;
    void (*fn)(void);
} ld_test_case;

#define LD_TEST_SUITE(name) const ld_test_case ld_suite_##name[]

/* Marks the running test failed with a message (file:line added). */
void test_fail_at(const char *file, int line, const char *fmt, ...) LD_PRINTF(3, 4);
#define TEST_FAIL(...) test_fail_at(__FILE__, __LINE__, __VA_ARGS__)
#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond))                                                                       \
            test_fail_at(__FILE__, __LINE__, __VA_ARGS__);                                 \
    } while (0)
/* Marks the running test skipped, with the reason printed. */
void test_skip(const char *reason);
int test_failed(void);

/* A context on the CPU backend, reset at the start of every test. */
ld_ctx *test_ctx(void);

/* |got - want| <= atol + rtol * |want| everywhere; on failure reports the
 * worst element. Returns 1 when close. */
int check_close(const char *what, const float *got, const float *want, size_t n, double atol,
                double rtol);

/* Heap tensor filled with uniform values in [lo, hi) from a fixed stream. */
ld_tensor *test_random(int ndim, const int *shape, float lo, float hi, int with_grad,
                       unsigned seed);

/* ---- a test's scratch folder ------------------------------------------------ */
/* Writes n bytes to path (a failed check when it cannot; -1), or reads
 * a whole file (malloc'ed, its size in *n, followed by a 0 byte so that a
 * text file is a string; NULL when unreadable). */
int test_write_bytes(const char *path, const void *bytes, size_t n);
unsigned char *test_read_bytes(const char *path, size_t *n);

/* test_scratch_make(tag) makes /tmp/latdyn_<tag>_<pid> (its path in
 * test_scratch_dir); test_scratch(name) is a path inside it (the last four
 * returned stay valid); test_scratch_remove() deletes the folder. */
extern char test_scratch_dir[256];
void test_scratch_make(const char *tag);
const char *test_scratch(const char *name);
void test_scratch_remove(void);

/* ---- PyTorch fixtures (tests/fixtures/<family>.safetensors) ---------------- */
/* Opens tests/fixtures/NAME (relative to the source tree); fails the test
 * and returns -1 when missing. */
int fixture_open(const char *name, ld_st_file *f);
/* Heap tensor with the stored shape and values (with a zeroed gradient when
 * with_grad); NULL and a failed test when missing. */
ld_tensor *fixture_tensor(const ld_st_file *f, const char *name, int with_grad);
/* Integer metadata value; fails the test when missing. */
int fixture_int(const ld_st_file *f, const char *key);
double fixture_double(const ld_st_file *f, const char *key);
/* Compares `got` (n floats) to stored tensor `name`. */
int fixture_check(const ld_st_file *f, const char *name, const float *got, size_t n,
                  double atol, double rtol);

/* Builds the op under test from the inputs; returns its output. */
typedef ld_tensor *(*test_forward_fn)(ld_ctx *ctx, ld_tensor **inputs, void *user);

/* Runs one fixture case: loads CASE.x0 .. CASE.x{n-1} (with gradients),
 * runs f, compares the output with CASE.y, replays the tape from CASE.dy
 * and compares each input gradient with CASE.dx{i}. Returns 1 when all
 * match. */
int fixture_case(const ld_st_file *f, const char *case_name, int n_inputs, test_forward_fn fn,
                 void *user, double atol, double rtol);

/* y (an op's output from an input in layout `block`) back in NCHW, after
 * checking that the op kept the layout; NULL and a context error if not. */
ld_tensor *test_unblock(ld_ctx *ctx, ld_tensor *y, int block, const char *op);

/* ---- finite differences ---------------------------------------------------- */

/* Checks the backward of f against central differences of
 * L = sum_i r_i * out_i (r fixed random weights, L accumulated in double;
 * the forward itself runs in float32, so eps and tol suit float32), for
 * every input with requires_grad, at up to max_points elements each. The
 * context's RNG is restored before every forward, so random ops are
 * differentiated with their noise fixed. */
void check_gradients(const char *name, test_forward_fn f, ld_tensor **inputs, int n_inputs,
                     void *user, double eps, double tol, int max_points);

#endif
