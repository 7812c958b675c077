/* Tests of the .npy reader and writer: round trips, the exact header bytes
 * against the NumPy format rules, interchange with NumPy itself (when
 * /usr/bin/python3 has numpy), and the error paths. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "data/image.h"
#include "data/npy.h"
#include "test.h"

/* /tmp/ld_test_npy_<pid>_<name> */
static void temp_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "/tmp/ld_test_npy_%ld_%s", (long)getpid(), name);
}

/* Writes a file with a hand-made version 1.0 header (dict padded to 64
 * bytes) followed by `data_bytes` bytes of data. */
static void write_raw_npy(const char *path, const char *dict, const void *data, size_t data_bytes)
{
    size_t len = strlen(dict) + 1, total = 10 + len;
    size_t pad = (64 - total % 64) % 64;
    len += pad;
    FILE *fp = fopen(path, "wb");
    if (!fp) {
        TEST_FAIL("cannot write %s", path);
        return;
    }
    unsigned char prefix[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                (unsigned char)(len & 0xff), (unsigned char)(len >> 8)};
    fwrite(prefix, 1, 10, fp);
    fputs(dict, fp);
    for (size_t i = 0; i < pad; i++)
        fputc(' ', fp);
    fputc('\n', fp);
    fwrite(data, 1, data_bytes, fp);
    fclose(fp);
}

static void test_round_trip_any_rank(void)
{
    char path[256];
    temp_path(path, sizeof path, "rt.npy");
    float data[30];
    for (int i = 0; i < 30; i++)
        data[i] = (float)i * 0.37f - 4.0f;
    const int shapes[4][3] = {{2, 3, 5}, {30}, {6, 5}, {0}};
    const int ranks[4] = {3, 1, 2, 0}; /* the last is a scalar */
    for (int k = 0; k < 4; k++) {
        ld_err err = {{0}};
        CHECK(ld_npy_write(path, data, ranks[k], shapes[k], &err) == 0, "write: %s", err.msg);
        ld_npy_array a;
        if (ld_npy_read(path, &a, &err) != 0) {
            TEST_FAIL("read rank %d: %s", ranks[k], err.msg);
            continue;
        }
        CHECK(a.ndim == ranks[k] && a.stored_dtype == LD_NPY_F32, "rank %d dtype %s", a.ndim,
              ld_npy_dtype_name(a.stored_dtype));
        for (int d = 0; d < a.ndim; d++)
            CHECK(a.shape[d] == shapes[k][d], "dim %d: %d", d, a.shape[d]);
        CHECK(a.numel == (ranks[k] ? 30u : 1u), "numel %zu", a.numel);
        CHECK(memcmp(a.data, data, a.numel * sizeof(float)) == 0, "values survive rank %d",
              ranks[k]);
        ld_npy_free(&a);
        ld_npy_array head;
        CHECK(ld_npy_read_header(path, &head, &err) == 0 && head.ndim == ranks[k] &&
                  head.numel == (ranks[k] ? 30u : 1u) && !head.data &&
                  (ranks[k] == 0 || head.shape[0] == shapes[k][0]),
              "header only, rank %d: %s", ranks[k], err.msg);
    }
    remove(path);
}

static void test_header_bytes_follow_format(void)
{
    /* NumPy format 1.0: "\x93NUMPY", 1, 0, uint16 LE header length, the dict
     * repr, spaces, '\n', data starting at a multiple of 64. The dict below
     * is 59 characters, so 10 + 59 + 1 = 70 pads up to 128 bytes: a header
     * length field of 118 and 58 spaces. */
    char path[256];
    temp_path(path, sizeof path, "hdr.npy");
    float data[12];
    for (int i = 0; i < 12; i++)
        data[i] = (float)i;
    ld_err err = {{0}};
    CHECK(ld_npy_write(path, data, 2, (const int[]){3, 4}, &err) == 0, "write: %s", err.msg);
    size_t size = 0;
    unsigned char *bytes = test_read_bytes(path, &size);
    const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";
    CHECK(strlen(dict) == 59, "hand-made dict length");
    if (!bytes || size != 128 + 48) {
        TEST_FAIL("file size %zu, want 176", size);
    } else {
        CHECK(memcmp(bytes, "\x93NUMPY\x01\x00", 8) == 0, "magic and version 1.0");
        CHECK(bytes[8] == 118 && bytes[9] == 0, "header length %d", bytes[8] | bytes[9] << 8);
        CHECK(memcmp(bytes + 10, dict, 59) == 0, "dict: %.59s", (const char *)bytes + 10);
        int spaces = 1;
        for (int i = 69; i < 127; i++)
            spaces &= bytes[i] == ' ';
        CHECK(spaces && bytes[127] == '\n', "space padding and newline");
        CHECK(memcmp(bytes + 128, data, 48) == 0, "data right after the header");
    }
    free(bytes);

    /* a 1-D shape is written as a one-element tuple "(7,)" */
    CHECK(ld_npy_write(path, data, 1, (const int[]){7}, &err) == 0, "write: %s", err.msg);
    bytes = test_read_bytes(path, &size);
    CHECK(bytes && size == 128 + 28 && bytes[8] == 118 &&
              memcmp(bytes + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (7,), }", 57) == 0,
          "1-D header (size %zu)", size);
    free(bytes);
    remove(path);
}

static int have_numpy(void)
{
    return system("/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1") == 0;
}

/* Runs a Python snippet with numpy; returns its exit status. */
static int run_python(const char *script_name, const char *code)
{
    char script[256], cmd[600];
    temp_path(script, sizeof script, script_name);
    FILE *fp = fopen(script, "w");
    if (!fp)
        return -1;
    fputs(code, fp);
    fclose(fp);
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s", script);
    int status = system(cmd);
    remove(script);
    return status;
}

static void test_numpy_reads_our_files(void)
{
    if (!have_numpy()) {
        test_skip("/usr/bin/python3 has no numpy: interchange with NumPy not checked");
        return;
    }
    char path[256], code[1024];
    temp_path(path, sizeof path, "ours.npy");
    float data[30];
    for (int i = 0; i < 30; i++)
        data[i] = (float)i * 0.5f - 3.0f;
    ld_err err = {{0}};
    CHECK(ld_npy_write(path, data, 3, (const int[]){2, 3, 5}, &err) == 0, "write: %s", err.msg);
    snprintf(code, sizeof code,
             "import numpy as np, sys\n"
             "a = np.load('%s')\n"
             "want = np.arange(30, dtype=np.float32).reshape(2, 3, 5) * np.float32(0.5) - 3\n"
             "sys.exit(0 if a.dtype == np.float32 and a.shape == (2, 3, 5) and "
             "np.array_equal(a, want) else 1)\n",
             path);
    CHECK(run_python("check.py", code) == 0, "numpy loads our file with shape, dtype and values");
    remove(path);
}

static void test_we_read_numpy_files(void)
{
    if (!have_numpy()) {
        test_skip("/usr/bin/python3 has no numpy: interchange with NumPy not checked");
        return;
    }
    /* values 3k, less 30 for the signed and float types: negative ones
     * check sign extension (and float16's sign bit) */
    enum { TYPES = 15 };
    static const char *const dtypes[TYPES] = {"<f4", "<f8", "|u1", "<u2", "<i4", "<i8", ">f4",
                                              ">u2", "|i1", "<i2", ">i2", "<u4", "<f2", "<u8",
                                              ">u8"};
    static const ld_npy_dtype want_dtype[TYPES] = {
        LD_NPY_F32, LD_NPY_F64, LD_NPY_U8,  LD_NPY_U16, LD_NPY_I32, LD_NPY_I64, LD_NPY_F32,
        LD_NPY_U16, LD_NPY_I8,  LD_NPY_I16, LD_NPY_I16, LD_NPY_U32, LD_NPY_F16, LD_NPY_U64,
        LD_NPY_U64};
    char prefix[256], list[256] = "", code[1024];
    temp_path(prefix, sizeof prefix, "np_");
    for (int i = 0; i < TYPES; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "'%s', ", dtypes[i]);
    snprintf(code, sizeof code,
             "import numpy as np\n"
             "for i, d in enumerate([%s]):\n"
             "    k = np.arange(24).reshape(2, 3, 4) * 3\n"
             "    np.save('%s%%d.npy' %% i, (k - 30 * (np.dtype(d).kind != 'u')).astype(d))\n"
             "np.save('%sfortran.npy', np.asfortranarray(np.ones((3, 4), np.float32)))\n",
             list, prefix, prefix);
    CHECK(run_python("gen.py", code) == 0, "numpy wrote the test files");
    for (int i = 0; i < TYPES; i++) {
        char path[300];
        snprintf(path, sizeof path, "%s%d.npy", prefix, i);
        ld_npy_array a;
        ld_err err = {{0}};
        if (ld_npy_read(path, &a, &err) != 0) {
            TEST_FAIL("%s: %s", dtypes[i], err.msg);
            continue;
        }
        int ok = a.ndim == 3 && a.shape[0] == 2 && a.shape[1] == 3 && a.shape[2] == 4 &&
                 a.stored_dtype == want_dtype[i];
        int offset = strchr(dtypes[i], 'u') ? 0 : 30;
        for (int k = 0; ok && k < 24; k++)
            ok = a.data[k] == (float)(3 * k - offset);
        CHECK(ok, "numpy %s array read back (stored as %s)", dtypes[i],
              ld_npy_dtype_name(a.stored_dtype));
        ld_npy_free(&a);
        remove(path);
    }
    char path[300];
    snprintf(path, sizeof path, "%sfortran.npy", prefix);
    ld_npy_array a;
    ld_err err = {{0}};
    CHECK(ld_npy_read(path, &a, &err) != 0 && strstr(err.msg, "Fortran-order"),
          "Fortran order refused: %s", err.msg);
    remove(path);
}

static void expect_read_error(const char *path, const char *want)
{
    ld_npy_array a;
    ld_err err = {{0}};
    int rc = ld_npy_read(path, &a, &err);
    CHECK(rc != 0 && strstr(err.msg, want) && strstr(err.msg, path),
          "want an error with '%s', got rc %d: %s", want, rc, err.msg);
    if (rc == 0)
        ld_npy_free(&a);
}

static void test_read_errors(void)
{
    char path[256];
    temp_path(path, sizeof path, "bad.npy");
    float zeros[12] = {0};

    expect_read_error("/tmp/ld_test_npy_no_such_file.npy", "cannot open");

    FILE *fp = fopen(path, "w");
    fputs("this is text, not an array\n", fp);
    fclose(fp);
    expect_read_error(path, "bad magic");

    write_raw_npy(path, "{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }", zeros, 24);
    expect_read_error(path, "unsupported npy dtype '<c8'");

    write_raw_npy(path, "{'descr': '<f4', 'fortran_order': True, 'shape': (3, 4), }", zeros, 48);
    expect_read_error(path, "Fortran-order");

    write_raw_npy(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }", zeros, 40);
    expect_read_error(path, "truncated npy data: 40 of 48 bytes");

    /* a header promising 40 GB over 48 bytes of data: told before any
     * allocation is tried (it was "out of memory for 0 elements") */
    write_raw_npy(path, "{'descr': '<f4', 'fortran_order': False, 'shape': (100000, 100000), }",
                  zeros, 48);
    expect_read_error(path, "truncated npy data: 48 of 40000000000 bytes");
    write_raw_npy(path,
                  "{'descr': '<f8', 'fortran_order': False, 'shape': (2147483647, 2147483647, "
                  "2147483647), }",
                  zeros, 48);
    expect_read_error(path, "npy shape too large: its byte count overflows size_t");

    write_raw_npy(path, "{'descr': '<f4', 'fortran_order': False, }", zeros, 4);
    expect_read_error(path, "no 'shape'");

    /* double quotes are accepted too */
    write_raw_npy(path, "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (3, 4), }",
                  zeros, 48);
    ld_npy_array a;
    ld_err err = {{0}};
    CHECK(ld_npy_read(path, &a, &err) == 0 && a.ndim == 2 && a.shape[1] == 4,
          "double-quoted header: %s", err.msg);
    ld_npy_free(&a);
    remove(path);
}

/* uint64 is read as int64 is (converted to float32); a float64 value
 * beyond float32's range is refused with its index, not turned into an
 * infinity that the image check would call infinite. */
static void test_wide_types(void)
{
    char path[256];
    temp_path(path, sizeof path, "wide.npy");
    uint64_t u64[4] = {0, 7, (uint64_t)1 << 40, UINT64_MAX};
    write_raw_npy(path, "{'descr': '<u8', 'fortran_order': False, 'shape': (2, 2), }", u64,
                  sizeof u64);
    ld_npy_array a;
    ld_err err = {{0}};
    if (ld_npy_read(path, &a, &err) != 0) {
        TEST_FAIL("uint64 read: %s", err.msg);
    } else {
        CHECK(a.stored_dtype == LD_NPY_U64 && a.data[1] == 7.0f && a.data[2] == 0x1p40f &&
                  a.data[3] == 0x1p64f,
              "uint64 values as float32: %g %g %g", a.data[1], a.data[2], a.data[3]);
        ld_npy_free(&a);
    }

    double f64[6] = {0, 1, 3.4e38, -2, -5e-300, 1e300};
    write_raw_npy(path, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", f64,
                  sizeof f64);
    expect_read_error(path, "element [1, 2] is 1e+300, finite but outside float32's range "
                            "(|x| > 3.4e38)");
    ld_image img;
    CHECK(ld_image_load(path, &img, &err) != 0 &&
              strstr(err.msg, "element [1, 2] is 1e+300, finite but outside float32's range") &&
              !strstr(err.msg, "infinite"),
          "as an image too: %s", err.msg);
    f64[5] = -1e39;
    write_raw_npy(path, "{'descr': '<f8', 'fortran_order': False, 'shape': (1, 2, 3), }", f64,
                  sizeof f64);
    expect_read_error(path, "element [0, 1, 2] is -1e+39, finite but outside float32's range");
    f64[5] = 7;
    write_raw_npy(path, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", f64,
                  sizeof f64);
    CHECK(ld_npy_read(path, &a, &err) == 0 && a.data[2] == 3.4e38f && a.data[4] == -0.0f &&
              a.data[5] == 7.0f,
          "float64 values inside float32's range are read: %s", err.msg);
    ld_npy_free(&a);
    remove(path);

    /* a folder named like an array */
    CHECK(mkdir(path, 0700) == 0, "mkdir %s", path);
    expect_read_error(path, "is a folder, not a file");
    rmdir(path);
}

static void test_image_from_npy(void)
{
    char path[256];
    temp_path(path, sizeof path, "img.npy");
    float data[24];
    for (int i = 0; i < 24; i++)
        data[i] = (float)i - 5.5f;
    ld_err err = {{0}};
    ld_image img;
    CHECK(ld_npy_write(path, data, 3, (const int[]){2, 3, 4}, &err) == 0, "write: %s", err.msg);
    if (ld_image_load(path, &img, &err) != 0) {
        TEST_FAIL("load [C,H,W]: %s", err.msg);
    } else {
        CHECK(img.channels == 2 && img.height == 3 && img.width == 4 && img.is_float &&
                  img.bit_depth == 32 && memcmp(img.data, data, sizeof data) == 0,
              "[2,3,4] npy -> 2 bands of 3 x 4");
        ld_image_free(&img);
    }
    CHECK(ld_npy_write(path, data, 2, (const int[]){6, 4}, &err) == 0, "write: %s", err.msg);
    CHECK(ld_image_load(path, &img, &err) == 0 && img.channels == 1 && img.height == 6,
          "[H,W] npy -> one band: %s", err.msg);
    ld_image_free(&img);

    unsigned short u16[6] = {0, 1, 2, 65535, 4, 5};
    write_raw_npy(path, "{'descr': '<u2', 'fortran_order': False, 'shape': (2, 3), }", u16, 12);
    CHECK(ld_image_load(path, &img, &err) == 0 && img.bit_depth == 16 && !img.is_float &&
              img.data[3] == 65535.0f,
          "uint16 npy -> 16-bit image: %s", err.msg);
    ld_image_free(&img);

    short i16[6] = {0, -300, 2, 32767, 4, 5};
    write_raw_npy(path, "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 3), }", i16, 12);
    CHECK(ld_image_load(path, &img, &err) == 0 && img.bit_depth == 16 && !img.is_float &&
              img.data[1] == -300.0f && img.data[3] == 32767.0f,
          "int16 npy -> 16-bit image, negative samples kept: %s", err.msg);
    ld_image_free(&img);

    int i32[6] = {0, -7, 2, 100000, 4, 5};
    write_raw_npy(path, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", i32, 24);
    CHECK(ld_image_load(path, &img, &err) == 0 && img.bit_depth == 32 && img.is_float &&
              img.data[1] == -7.0f && img.data[3] == 100000.0f,
          "int32 npy -> an image saved as float sources are: %s", err.msg);
    ld_image_free(&img);

    CHECK(ld_npy_write(path, data, 1, (const int[]){24}, &err) == 0, "write: %s", err.msg);
    CHECK(ld_image_load(path, &img, &err) != 0 && strstr(err.msg, "shape [H,W] or [C,H,W]"),
          "1-D array refused: %s", err.msg);

    data[2 * 4 + 1] = INFINITY; /* band 0, y 2, x 1 */
    CHECK(ld_npy_write(path, data, 2, (const int[]){6, 4}, &err) == 0, "write: %s", err.msg);
    CHECK(ld_image_load(path, &img, &err) != 0 &&
              strstr(err.msg, "pixel at column 1, row 2 of band 0 is infinite"),
          "infinite pixel refused: %s", err.msg);
    data[2 * 4 + 1] = NAN;
    CHECK(ld_npy_write(path, data, 2, (const int[]){6, 4}, &err) == 0, "write: %s", err.msg);
    CHECK(ld_image_load(path, &img, &err) != 0 &&
              strstr(err.msg, "pixel at column 1, row 2 of band 0 is NaN"),
          "NaN pixel refused: %s", err.msg);
    remove(path);
}

LD_TEST_SUITE(npy) = {
    {"round_trip_any_rank", test_round_trip_any_rank},
    {"header_bytes_follow_format", test_header_bytes_follow_format},
    {"numpy_reads_our_files", test_numpy_reads_our_files},
    {"we_read_numpy_files", test_we_read_numpy_files},
    {"read_errors", test_read_errors},
    {"wide_types", test_wide_types},
    {"image_from_npy", test_image_from_npy},
    {NULL, NULL},
};
