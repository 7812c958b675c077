/* Tests of the `latdyn` program's error paths: every bad input gives one
 * clear line on stderr, a non-zero exit status, and no output folder. The
 * binary built beside the tests is run as a child process. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/npy.h"
#include "data/sequences.h"
#include "test.h"

static char scratch_dir[256];

static const char *scratch(const char *name)
{
    static char path[4][512];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", scratch_dir, name);
    return path[k];
}

static void make_scratch(void)
{
    snprintf(scratch_dir, sizeof scratch_dir, "/tmp/latdyn_cli_%ld", (long)getpid());
    mkdir(scratch_dir, 0777);
}

static void remove_scratch(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", scratch_dir);
    CHECK(system(cmd) == 0, "clean up %s", scratch_dir);
}

/* Runs latdyn with args; returns the exit status and the first stderr line. */
static int run_latdyn(const char *args, char *first_line, size_t len)
{
    char cmd[2048];
    const char *err_path = scratch("stderr.txt");
    snprintf(cmd, sizeof cmd, "'%s' %s >/dev/null 2>'%s'", LD_BIN, args, err_path);
    int status = system(cmd);
    first_line[0] = 0;
    FILE *f = fopen(err_path, "r");
    if (f) {
        if (!fgets(first_line, (int)len, f))
            first_line[0] = 0;
        fclose(f);
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static void write_image(const char *name, int h, int w, float value_nan_at)
{
    float *data = malloc(sizeof(float) * (size_t)h * w);
    for (int i = 0; i < h * w; i++)
        data[i] = (float)(i % 7) / 7.0f;
    if (value_nan_at >= 0)
        data[(int)value_nan_at] = NAN;
    int shape[2] = {h, w};
    ld_err err;
    CHECK(ld_npy_write(scratch(name), data, 2, shape, &err) == 0, "write %s: %s", name, err.msg);
    free(data);
}

/* Expects failure with `needle` in the message and no output folder. */
static void expect_error(const char *what, const char *args, const char *needle)
{
    char line[1024], full[1600];
    snprintf(full, sizeof full, "%s -o '%s' --quiet", args, scratch("out"));
    int rc = run_latdyn(full, line, sizeof line);
    struct stat st;
    CHECK(rc != 0, "%s: exit status %d, expected failure", what, rc);
    CHECK(strstr(line, needle) != NULL, "%s: message '%s' lacks '%s'", what, line, needle);
    CHECK(strncmp(line, "latdyn", 6) == 0, "%s: message names the program: '%s'", what, line);
    CHECK(stat(scratch("out"), &st) != 0, "%s: the output folder must not be created", what);
}

/* 1 when the program is built (it is not when only run_tests was made). */
static int have_binary(void)
{
    if (access(LD_BIN, X_OK) == 0)
        return 1;
    test_skip(LD_BIN " is not built (make builds it)");
    return 0;
}

static void test_between_bad_inputs(void)
{
    if (!have_binary())
        return;
    make_scratch();
    write_image("a.npy", 48, 48, -1);
    write_image("b.npy", 48, 48, -1);
    write_image("small.npy", 40, 56, -1);
    write_image("tiny.npy", 16, 16, -1);
    write_image("tiny2.npy", 16, 16, -1);
    write_image("nan.npy", 48, 48, 100);
    FILE *f = fopen(scratch("text.png"), "w");
    if (f) {
        fputs("not an image\n", f);
        fclose(f);
    }
    char args[1200];
    snprintf(args, sizeof args, "between '%s' '%s'", scratch("missing.png"), scratch("b.npy"));
    expect_error("missing file", args, "missing.png");
    snprintf(args, sizeof args, "between '%s' '%s'", scratch("text.png"), scratch("b.npy"));
    expect_error("unreadable file", args, "text.png");
    snprintf(args, sizeof args, "between '%s' '%s'", scratch("a.npy"), scratch("small.npy"));
    expect_error("different sizes", args, "differ in size");
    snprintf(args, sizeof args, "between '%s' '%s'", scratch("tiny.npy"), scratch("tiny2.npy"));
    expect_error("smaller than the patch", args, "smaller than the patch");
    snprintf(args, sizeof args, "between '%s' '%s' --patch 20", scratch("a.npy"), scratch("b.npy"));
    expect_error("patch not a multiple of 8", args, "multiple of 8");
    snprintf(args, sizeof args, "between '%s' '%s'", scratch("nan.npy"), scratch("b.npy"));
    expect_error("NaN pixel", args, "NaN");
    snprintf(args, sizeof args, "between '%s' '%s' --steps abc", scratch("a.npy"), scratch("b.npy"));
    expect_error("non-numeric option", args, "not an integer");
    snprintf(args, sizeof args, "between '%s' '%s' --lr fast", scratch("a.npy"), scratch("b.npy"));
    expect_error("non-numeric float option", args, "not a finite number");
    snprintf(args, sizeof args, "between '%s' '%s' --method magic", scratch("a.npy"), scratch("b.npy"));
    expect_error("unknown method", args, "--method");
    snprintf(args, sizeof args, "between '%s'", scratch("a.npy"));
    expect_error("one image only", args, "two input images");
    remove_scratch();
}

static void test_help_and_unknown_command(void)
{
    if (!have_binary())
        return;
    make_scratch();
    char line[1024];
    CHECK(run_latdyn("--help", line, sizeof line) == 0, "--help succeeds");
    CHECK(run_latdyn("between --help", line, sizeof line) == 0, "between --help succeeds");
    CHECK(run_latdyn("frobnicate", line, sizeof line) == 2 && strstr(line, "unknown command"),
          "unknown command: '%s'", line);
    remove_scratch();
}

/* The ladid systems: bad options fail clearly before any work, a good run
 * writes a readable HDF5 file. */
static void test_synth_systems(void)
{
    if (!have_binary())
        return;
    make_scratch();
    expect_error("unknown system", "synth lorenz", "unknown system 'lorenz'");
    expect_error("size not a multiple of 16", "synth pendulum --size 40", "multiple of 16");
    expect_error("size too small", "synth vortex --size 8", "outside 16..");
    expect_error("negative count", "synth vortex --n -3", "--n: -3 is outside");
    expect_error("one frame", "synth reaction-diffusion --len 1", "--len: 1 is outside");
    expect_error("zero time step", "synth reaction-diffusion --dt 0", "--dt: 0 is outside");
    expect_error("reversed Reynolds range", "synth vortex --re-min 600 --re-max 200",
                 "Reynolds range");
    expect_error("pendulum too long", "synth pendulum --length 2", "--length: 2 is outside");
    expect_error("empty angle range", "synth pendulum --theta-min 1 --theta-max 0",
                 "initial angle range");
    expect_error("option of another system", "synth pendulum --re-min 100", "unknown option");
    expect_error("non-numeric size", "synth pendulum --size big", "not an integer");
    char line[1024], args[1200];
    snprintf(args, sizeof args, "synth pendulum --n 2 --len 3 --size 16 -o '%s' --quiet",
             scratch("no_such_dir/p.h5"));
    CHECK(run_latdyn(args, line, sizeof line) != 0 && strstr(line, "cannot write"),
          "unwritable output: '%s'", line);
    CHECK(run_latdyn("synth vortex --help", line, sizeof line) == 0, "synth vortex --help");
    const char *out = scratch("p.h5");
    snprintf(args, sizeof args,
             "synth pendulum --n 3 --len 5 --size 16 --irregular --seed 7 --damping 0.5 "
             "-o '%s' --quiet",
             out);
    CHECK(run_latdyn(args, line, sizeof line) == 0, "synth pendulum: '%s'", line);
    ld_sequences s;
    ld_err err;
    if (ld_sequences_read_h5(out, &s, &err) == 0) {
        CHECK(s.n == 3 && s.length == 5 && s.channels == 1 && s.height == 16 &&
                  !strcmp(s.system, "pendulum") && s.n_params == 4,
              "file contents");
        int irregular = 0, damping = 0;
        for (int a = 0; a < s.n_attrs; a++) {
            irregular |= !strcmp(s.attr_keys[a], "irregular") && !strcmp(s.attr_values[a], "1");
            damping |= !strcmp(s.attr_keys[a], "damping") && !strcmp(s.attr_values[a], "0.5");
        }
        CHECK(irregular && damping, "settings stored as attributes");
        CHECK(fabs(s.times[4] - 0.4) < 1e-12 && fabs(s.times[1] - 0.1) > 1e-6,
              "irregular grid spanning 4 dt");
        ld_sequences_free(&s);
    } else {
        TEST_FAIL("read back: %s", err.msg);
    }
    remove_scratch();
}

LD_TEST_SUITE(cli) = {
    {"between_bad_inputs", test_between_bad_inputs},
    {"synth_systems", test_synth_systems},
    {"help_and_unknown_command", test_help_and_unknown_command},
    {NULL, NULL},
};
