/* Tests of the ladid sequence container and its HDF5 form: exact round
 * trip of frames, times, parameters, names and settings; selection; and a
 * clear error for every malformed file (missing file, not HDF5, truncated,
 * missing dataset, wrong rank, inconsistent sizes, NaN, unsorted times). */
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "data/sequences.h"
#include "test.h"

static const char *tmp_path(const char *name)
{
    static char path[2][256];
    static int k;
    k ^= 1;
    snprintf(path[k], sizeof path[k], "/tmp/latdyn_seq_%ld_%s", (long)getpid(), name);
    return path[k];
}

/* A small set with distinct values everywhere. */
static void make_set(ld_sequences *s)
{
    ld_err err;
    CHECK(ld_sequences_alloc(s, 3, 4, 2, 16, 16, 2, &err) == 0, "alloc: %s", err.msg);
    size_t count = (size_t)3 * 4 * 2 * 16 * 16;
    for (size_t i = 0; i < count; i++)
        s->frames[i] = (float)((i * 7919) % 1000) / 999.0f;
    for (int i = 0; i < 3 * 4; i++)
        s->times[i] = 0.1 * (i % 4) + 1e-3 * i;
    for (int i = 0; i < 3 * 2; i++)
        s->params[i] = 1.0 / (i + 3);
    strcpy(s->param_names[0], "theta0");
    strcpy(s->param_names[1], "omega0");
    strcpy(s->system, "pendulum");
    CHECK(ld_sequences_set_attr(s, "dt", "0.1", &err) == 0, "attr: %s", err.msg);
    CHECK(ld_sequences_set_attr(s, "seed", "7", &err) == 0, "attr: %s", err.msg);
    CHECK(ld_sequences_set_attr(s, "dt", "0.05", &err) == 0, "replace attr: %s", err.msg);
}

static void test_round_trip(void)
{
    ld_sequences s, r;
    ld_err err;
    make_set(&s);
    const char *path = tmp_path("rt.h5");
    CHECK(ld_sequences_write_h5(path, &s, &err) == 0, "write: %s", err.msg);
    CHECK(ld_sequences_read_h5(path, &r, &err) == 0, "read: %s", err.msg);
    CHECK(r.n == 3 && r.length == 4 && r.channels == 2 && r.height == 16 && r.width == 16 &&
              r.n_params == 2,
          "sizes %d %d %d %d %d %d", r.n, r.length, r.channels, r.height, r.width, r.n_params);
    if (!test_failed()) {
        CHECK(!memcmp(r.frames, s.frames, sizeof(float) * 3 * 4 * 2 * 16 * 16), "frames");
        CHECK(!memcmp(r.times, s.times, sizeof(double) * 12), "times");
        CHECK(!memcmp(r.params, s.params, sizeof(double) * 6), "params");
        CHECK(!strcmp(r.param_names[0], "theta0") && !strcmp(r.param_names[1], "omega0"),
              "names %s %s", r.param_names[0], r.param_names[1]);
        CHECK(!strcmp(r.system, "pendulum"), "system '%s'", r.system);
        CHECK(r.n_attrs == 2, "%d attributes", r.n_attrs);
        int found = 0;
        for (int a = 0; a < r.n_attrs; a++)
            found += (!strcmp(r.attr_keys[a], "dt") && !strcmp(r.attr_values[a], "0.05")) +
                     (!strcmp(r.attr_keys[a], "seed") && !strcmp(r.attr_values[a], "7"));
        CHECK(found == 2, "attributes dt=0.05 and seed=7 read back");
        CHECK(ld_sequences_frame(&r, 2, 3) == r.frames + (size_t)(2 * 4 + 3) * 2 * 16 * 16,
              "frame address");
    }
    /* The checksum: the same for the data read back, another for one
     * changed frame value or time. */
    uint64_t sum = ld_sequences_checksum(&s);
    CHECK(!test_failed() && ld_sequences_checksum(&r) == sum, "checksum of the read-back data");
    r.frames[100] += 1e-3f;
    CHECK(ld_sequences_checksum(&r) != sum, "a changed frame changes the checksum");
    r.frames[100] = s.frames[100];
    r.times[11] += 1e-9;
    CHECK(ld_sequences_checksum(&r) != sum, "a changed time changes the checksum");
    r.times[11] = s.times[11];
    /* Selection copies the chosen instances. */
    ld_sequences sel;
    const int which[2] = {2, 0};
    CHECK(ld_sequences_select(&s, which, 2, &sel, &err) == 0, "select: %s", err.msg);
    CHECK(sel.n == 2 && sel.times[0] == s.times[8] && sel.params[1] == s.params[5] &&
              *ld_sequences_frame(&sel, 1, 1) == *ld_sequences_frame(&s, 0, 1) &&
              !strcmp(sel.system, "pendulum") && sel.n_attrs == 2,
          "selected copy");
    const int bad[1] = {3};
    ld_sequences none;
    CHECK(ld_sequences_select(&s, bad, 1, &none, &err) != 0 && strstr(err.msg, "out of range"),
          "select out of range: %s", err.msg);
    ld_sequences_free(&sel);
    /* Overwriting goes through a temporary file: no leftovers. */
    CHECK(ld_sequences_write_h5(path, &s, &err) == 0, "rewrite: %s", err.msg);
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    CHECK(access(tmp, F_OK) != 0, "temporary file left behind");
    ld_sequences_free(&r);
    ld_sequences_free(&s);
    remove(path);
}

static void test_no_params_and_bad_alloc(void)
{
    ld_sequences s, r;
    ld_err err;
    CHECK(ld_sequences_alloc(&s, 2, 3, 1, 16, 16, 0, &err) == 0, "alloc: %s", err.msg);
    for (int i = 0; i < 6; i++)
        s.times[i] = i % 3;
    const char *path = tmp_path("np.h5");
    CHECK(ld_sequences_write_h5(path, &s, &err) == 0, "write: %s", err.msg);
    CHECK(ld_sequences_read_h5(path, &r, &err) == 0, "read: %s", err.msg);
    CHECK(r.n_params == 0 && r.params == NULL && r.n == 2, "no parameters read back");
    ld_sequences_free(&r);
    ld_sequences_free(&s);
    remove(path);
    CHECK(ld_sequences_alloc(&s, -1, 3, 1, 16, 16, 0, &err) != 0 && strstr(err.msg, "positive"),
          "negative size: %s", err.msg);
    CHECK(ld_sequences_alloc(&s, 1, 3, 1, 16, 16, LD_SEQ_MAX_PARAMS + 1, &err) != 0,
          "too many parameters");
    CHECK(ld_sequences_set_attr(&s, "system", "x", &err) != 0, "reserved attribute");
    char long_value[200];
    memset(long_value, 'a', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = 0;
    CHECK(ld_sequences_set_attr(&s, "k", long_value, &err) != 0 && strstr(err.msg, "too long"),
          "long value: %s", err.msg);
}

/* Writes an HDF5 file with the given datasets (NULL rank-0 entries left out). */
typedef struct fake_set {
    const char *name;
    int rank;
    hsize_t dims[5];
} fake_set;

static void write_fake(const char *path, const fake_set *sets, int count, int nan_in_frames)
{
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(file >= 0, "create %s", path);
    for (int k = 0; k < count; k++) {
        hsize_t total = 1;
        for (int d = 0; d < sets[k].rank; d++)
            total *= sets[k].dims[d];
        double *data = calloc(total, sizeof *data);
        for (hsize_t i = 0; i < total; i++)
            data[i] = (double)i / (double)total;
        if (nan_in_frames && !strcmp(sets[k].name, "frames"))
            data[total / 2] = NAN;
        hid_t space = H5Screate_simple(sets[k].rank, sets[k].dims, NULL);
        hid_t set = H5Dcreate2(file, sets[k].name, H5T_IEEE_F64LE, space, H5P_DEFAULT,
                               H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(set, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
        H5Dclose(set);
        H5Sclose(space);
        free(data);
    }
    H5Fclose(file);
}

static void expect_read_error(const char *what, const char *path, const char *needle)
{
    ld_sequences s;
    ld_err err = {{0}};
    int rc = ld_sequences_read_h5(path, &s, &err);
    CHECK(rc != 0, "%s: read succeeded", what);
    CHECK(strstr(err.msg, needle) != NULL, "%s: message '%s' lacks '%s'", what, err.msg, needle);
    CHECK(s.frames == NULL && s.times == NULL, "%s: nothing left allocated", what);
}

static void test_read_errors(void)
{
    const char *path = tmp_path("bad.h5");
    expect_read_error("missing file", tmp_path("does_not_exist.h5"), "cannot open");
    FILE *f = fopen(path, "w");
    fputs("this is not an HDF5 file\n", f);
    fclose(f);
    expect_read_error("text file", path, "not an HDF5 file");

    /* A good file cut in half. */
    ld_sequences s;
    ld_err err;
    make_set(&s);
    CHECK(ld_sequences_write_h5(path, &s, &err) == 0, "write: %s", err.msg);
    ld_sequences_free(&s);
    f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);
    CHECK(truncate(path, size / 2) == 0, "truncate");
    ld_sequences r;
    err.msg[0] = 0;
    CHECK(ld_sequences_read_h5(path, &r, &err) != 0 && err.msg[0], "truncated file: '%s'",
          err.msg);

    const fake_set frames = {"frames", 5, {2, 3, 1, 4, 4}};
    const fake_set times = {"times", 2, {2, 3}};
    const fake_set params = {"params", 2, {2, 0}};
    fake_set sets[3] = {frames, times, params};
    /* params are optional: frames and times alone read, with no parameters */
    write_fake(path, sets, 2, 0);
    CHECK(ld_sequences_read_h5(path, &r, &err) == 0 && r.n == 2 && r.length == 3 &&
              r.n_params == 0 && r.params == NULL && r.times[4] > r.times[3],
          "frames and times without params read: %s", err.msg);
    ld_sequences_free(&r);
    /* params without their names attribute: named param0, param1, ... */
    sets[2].dims[1] = 2;
    write_fake(path, sets, 3, 0);
    CHECK(ld_sequences_read_h5(path, &r, &err) == 0 && r.n_params == 2 &&
              !strcmp(r.param_names[0], "param0") && !strcmp(r.param_names[1], "param1") &&
              r.params[3] == 3.0 / 4,
          "params without names read: %s", err.msg);
    ld_sequences_free(&r);
    sets[2] = params;
    write_fake(path, sets + 1, 2, 0);
    expect_read_error("missing frames", path, "dataset 'frames' is missing");
    sets[0].rank = 4;
    write_fake(path, sets, 3, 0);
    expect_read_error("wrong rank", path, "'frames' has rank 4, expected 5");
    sets[0] = frames;
    sets[1].dims[1] = 4;
    write_fake(path, sets, 3, 0);
    expect_read_error("inconsistent sizes", path, "inconsistent sizes");
    sets[1] = times;
    write_fake(path, sets, 3, 1);
    expect_read_error("NaN frame", path, "non-finite");
    write_fake(path, sets, 3, 0);
    CHECK(ld_sequences_read_h5(path, &r, &err) == 0 && r.n == 2 && r.n_params == 0,
          "a float64 file without parameters reads: %s", err.msg);
    ld_sequences_free(&r);
    make_set(&s);
    s.times[5] = s.times[4];
    CHECK(ld_sequences_write_h5(path, &s, &err) == 0, "write: %s", err.msg);
    ld_sequences_free(&s);
    expect_read_error("repeated time", path, "times of instance 1 are not increasing");
    make_set(&s);
    s.frames[7] = 1.5f;
    CHECK(ld_sequences_write_h5(path, &s, &err) == 0, "write: %s", err.msg);
    ld_sequences_free(&s);
    expect_read_error("frame value above 1", path, "holds 1.5 at element 7; frames must lie in");
    remove(path);
}

LD_TEST_SUITE(sequences) = {
    {"round_trip", test_round_trip},
    {"no_params_and_bad_alloc", test_no_params_and_bad_alloc},
    {"read_errors", test_read_errors},
    {NULL, NULL},
};
