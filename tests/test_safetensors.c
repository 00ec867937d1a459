// safetensors reader and writer: round trips, F16 conversion, one test per malformed file, and
// the atomic-save guarantees (PATH untouched on failure, no temporary left behind).
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <float.h>
#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/model/safetensors.h"

// Each test gets its own directory under /tmp; Criterion runs every test in its own process.
static char g_dir[64];

static void setup(void)
{
    strcpy(g_dir, "/tmp/test_safetensors.XXXXXX");
    cr_assert_not_null(mkdtemp(g_dir), "mkdtemp: %s", strerror(errno));
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void teardown(void)
{
    chmod(g_dir, 0700); // in case a test left it read-only
    nftw(g_dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(safetensors, .init = setup, .fini = teardown);

// ---------------------------------------------------------------------------------------------
// Helpers

static char *path_in_dir(const char *name)
{
    static char buf[8][256]; // a few paths alive at once within one test
    static int next;
    char *p = buf[next++ % 8];
    snprintf(p, 256, "%s/%s", g_dir, name);
    return p;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    cr_assert_not_null(fp, "fopen %s: %s", path, strerror(errno));
    if (len)
        cr_assert_eq(fwrite(data, 1, len, fp), len);
    cr_assert_eq(fclose(fp), 0);
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    cr_assert_not_null(fp, "fopen %s: %s", path, strerror(errno));
    cr_assert_eq(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    cr_assert_geq(n, 0);
    rewind(fp);
    unsigned char *buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return buf;
}

// Writes a safetensors file by hand: 8-byte little-endian length, the header text, the data.
static char *make_st(const char *name, const char *header, const void *data, size_t dlen)
{
    size_t hlen = strlen(header);
    size_t len = 8 + hlen + dlen;
    unsigned char *buf = malloc(len);
    cr_assert_not_null(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memcpy(buf + 8, header, hlen);
    if (dlen)
        memcpy(buf + 8 + hlen, data, dlen);
    char *path = path_in_dir(name);
    write_file(path, buf, len);
    free(buf);
    return path;
}

// Opening must fail, and the message must name the file and say what is wrong.
static void expect_refused(const char *path, const char *phrase)
{
    Err err = {{0}};
    StFile *f = st_open(path, &err);
    cr_assert_null(f, "%s opened but should have been refused", path);
    cr_assert_not_null(strstr(err.msg, path), "message does not name the file: %s", err.msg);
    cr_assert_not_null(strstr(err.msg, phrase), "message lacks '%s': %s", phrase, err.msg);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "opendir %s: %s", dir, strerror(errno));
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

// ---------------------------------------------------------------------------------------------
// Round trips

Test(safetensors, round_trip_f32_bit_exact)
{
    // Values chosen to catch any conversion: -0, a float subnormal, extremes, a non-round value.
    float scalar[1] = {-0.0f};
    float vec[5] = {1.0f, -2.5f, 1e-40f, FLT_MAX, -FLT_MIN};
    float w4[2 * 3 * 3 * 3];
    for (int i = 0; i < 54; i++)
        w4[i] = (float)i / 7.0f - 3.0f;
    int64_t s_vec[1] = {5}, s_w4[4] = {2, 3, 3, 3}, s_empty[2] = {0, 3};

    Err err = {{0}};
    StWriter *w = st_writer_create();
    cr_assert_not_null(w);
    cr_assert_eq(st_writer_add_f32(w, "model.1.weight", 4, s_w4, w4, &err), 0, "%s", err.msg);
    cr_assert_eq(st_writer_add_f32(w, "scalar", 0, NULL, scalar, &err), 0, "%s", err.msg);
    cr_assert_eq(st_writer_add_f32(w, "empty", 2, s_empty, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(st_writer_add_f32(w, "vec", 1, s_vec, vec, &err), 0, "%s", err.msg);
    cr_assert_eq(st_writer_meta(w, "iteration", "1234", &err), 0, "%s", err.msg);
    cr_assert_eq(st_writer_meta(w, "note", "young→old \"quoted\"", &err), 0, "%s", err.msg);
    // The writer copied the data: scribbling on the caller's buffer must not change the file.
    vec[0] = 99.0f;
    char *path = path_in_dir("rt.safetensors");
    cr_assert_eq(st_writer_save(w, path, &err), 0, "%s", err.msg);
    st_writer_free(w);
    vec[0] = 1.0f;

    // Data section 8-byte aligned, thanks to the space padding.
    size_t flen;
    unsigned char *raw = read_file(path, &flen);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = (hlen << 8) | raw[i];
    cr_assert_eq((8 + hlen) % 8, 0);
    cr_assert_eq(flen, 8 + hlen + sizeof w4 + sizeof scalar + sizeof vec);
    free(raw);

    StFile *f = st_open(path, &err);
    cr_assert_not_null(f, "%s", err.msg);
    cr_assert_str_eq(st_path(f), path);
    cr_assert_eq(st_count(f), 4);
    cr_assert_str_eq(st_get(f, 0)->name, "model.1.weight"); // insertion order kept
    cr_assert_str_eq(st_get(f, 3)->name, "vec");
    cr_assert_null(st_get(f, 4));
    cr_assert_null(st_get(f, -1));
    cr_assert_null(st_find(f, "absent"));
    cr_assert_str_eq(st_meta(f, "iteration"), "1234");
    cr_assert_str_eq(st_meta(f, "note"), "young→old \"quoted\"");
    cr_assert_null(st_meta(f, "absent"));

    const StTensor *t = st_find(f, "model.1.weight");
    cr_assert_not_null(t);
    cr_assert_eq(t->dtype, ST_F32);
    cr_assert_eq(t->ndim, 4);
    cr_assert_eq(t->shape[0], 2);
    cr_assert_eq(t->shape[3], 3);
    cr_assert_eq(t->numel, 54);
    cr_assert_eq(t->nbytes, sizeof w4);
    float got4[54];
    cr_assert_eq(st_read_f32(f, "model.1.weight", got4, 54, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(got4, w4, sizeof w4), 0);

    t = st_find(f, "scalar");
    cr_assert_eq(t->ndim, 0);
    cr_assert_eq(t->numel, 1);
    float gs = 1.0f;
    cr_assert_eq(st_read_f32(f, "scalar", &gs, 1, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(&gs, scalar, 4), 0, "-0.0 must stay -0.0");

    t = st_find(f, "empty");
    cr_assert_eq(t->ndim, 2);
    cr_assert_eq(t->shape[0], 0);
    cr_assert_eq(t->shape[1], 3);
    cr_assert_eq(t->numel, 0);
    cr_assert_eq(t->nbytes, 0);
    cr_assert_eq(st_read_f32(f, "empty", NULL, 0, &err), 0, "%s", err.msg);

    float gv[5];
    cr_assert_eq(st_read_f32(f, "vec", gv, 5, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(gv, vec, sizeof vec), 0);

    // Wrong count and absent tensors are refused, naming file and tensor.
    cr_assert_eq(st_read_f32(f, "vec", gv, 4, &err), -1);
    cr_assert_not_null(strstr(err.msg, path), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "'vec' has 5 values"), "%s", err.msg);
    cr_assert_eq(st_read_f32(f, "nope", gv, 5, &err), -1);
    cr_assert_not_null(strstr(err.msg, "no tensor 'nope'"), "%s", err.msg);
    st_close(f);
}

Test(safetensors, empty_writer_round_trip)
{
    Err err = {{0}};
    StWriter *w = st_writer_create();
    cr_assert_not_null(w);
    char *path = path_in_dir("empty.safetensors");
    cr_assert_eq(st_writer_save(w, path, &err), 0, "%s", err.msg);
    st_writer_free(w);
    StFile *f = st_open(path, &err);
    cr_assert_not_null(f, "%s", err.msg);
    cr_assert_eq(st_count(f), 0);
    cr_assert_null(st_meta(f, "x"));
    st_close(f);
}

Test(safetensors, null_free_is_noop)
{
    st_close(NULL);
    st_writer_free(NULL);
}

Test(safetensors, reads_fixture_written_by_python)
{
    // Written by tests/golden/make_golden.py; unpadded header, offsets not 4-byte aligned.
    const char *path = "tests/fixtures/golden_generator.safetensors";
    if (access(path, R_OK) != 0)
        cr_skip_test("run from the repository root to read %s", path);
    Err err = {{0}};
    StFile *f = st_open(path, &err);
    cr_assert_not_null(f, "%s", err.msg);
    const StTensor *t = st_find(f, "input");
    cr_assert_not_null(t);
    cr_assert_eq(t->ndim, 4);
    cr_assert_eq(t->numel, 2 * 3 * 32 * 32);
    float *x = malloc(t->nbytes);
    cr_assert_not_null(x);
    cr_assert_eq(st_read_f32(f, "input", x, t->numel, &err), 0, "%s", err.msg);
    free(x);
    st_close(f);
}

// ---------------------------------------------------------------------------------------------
// F16

Test(safetensors, f16_conversion)
{
    // F16 bit patterns and their exact float32 values.
    const uint16_t h[] = {
        0x3c00, // 1
        0xc000, // -2
        0x0001, // smallest subnormal 2^-24
        0x03ff, // largest subnormal 1023 * 2^-24
        0x8200, // negative subnormal -2^-15
        0x0400, // smallest normal 2^-14
        0x7bff, // largest finite 65504
        0x3555, // 0.333251953125
        0x8000, // -0
        0x0000, // +0
    };
    const float want[] = {1.0f,     -2.0f,    0x1p-24f,        1023 * 0x1p-24f, -0x1p-15f,
                          0x1p-14f, 65504.0f, 0.333251953125f, -0.0f,           0.0f};
    enum { N = sizeof h / sizeof h[0] };
    unsigned char data[2 * N];
    for (int i = 0; i < N; i++) {
        data[2 * i] = (unsigned char)(h[i] & 0xff);
        data[2 * i + 1] = (unsigned char)(h[i] >> 8);
    }
    char header[128];
    snprintf(header, sizeof header,
             "{\"h\":{\"dtype\":\"F16\",\"shape\":[2,5],\"data_offsets\":[0,%d]}}", 2 * N);
    char *path = make_st("f16.safetensors", header, data, sizeof data);

    Err err = {{0}};
    StFile *f = st_open(path, &err);
    cr_assert_not_null(f, "%s", err.msg);
    const StTensor *t = st_find(f, "h");
    cr_assert_eq(t->dtype, ST_F16);
    cr_assert_eq(t->numel, N);
    cr_assert_eq(t->nbytes, 2 * N);
    float got[N];
    cr_assert_eq(st_read_f32(f, "h", got, N, &err), 0, "%s", err.msg);
    for (int i = 0; i < N; i++) {
        uint32_t gb, wb;
        memcpy(&gb, &got[i], 4);
        memcpy(&wb, &want[i], 4);
        cr_assert_eq(gb, wb, "half 0x%04x: got %a (0x%08x), want %a (0x%08x)", h[i], got[i], gb,
                     want[i], wb);
    }
    st_close(f);
}

// Writing F16: each float rounded to the nearest half, ties to the even one, as the reader's
// bit patterns above; a float beyond half's range is refused rather than saved as Inf.
Test(safetensors, f16_writing_rounds_to_nearest_even)
{
    const float x[] = {1.0f,
                       1.0f + 0x1p-11f,     // halfway between 1 and the next half: to 1 (even)
                       1.0f + 3 * 0x1p-11f, // halfway between 1 + 2^-10 and 1 + 2^-9: to the latter
                       0x1p-24f,            // the smallest subnormal half
                       65504.0f,
                       -0.0f,
                       0.1f};
    const uint16_t want[] = {0x3c00, 0x3c00, 0x3c02, 0x0001, 0x7bff, 0x8000, 0x2e66};
    enum { N = sizeof x / sizeof x[0] };
    int64_t shape[1] = {N};
    Err err = {{0}};
    StWriter *w = st_writer_create();
    cr_assert_eq(st_writer_add(w, "h", 1, shape, x, ST_F16, &err), 0, "%s", err.msg);
    const float too_big[1] = {70000.0f};
    int64_t one[1] = {1};
    cr_assert_neq(st_writer_add(w, "big", 1, one, too_big, ST_F16, &err), 0);
    cr_expect(strstr(err.msg, "'big'") && strstr(err.msg, "beyond half"), "%s", err.msg);
    char *path = path_in_dir("f16_written.safetensors");
    cr_assert_eq(st_writer_save(w, path, &err), 0, "%s", err.msg);
    st_writer_free(w);

    StFile *f = st_open(path, &err);
    cr_assert_not_null(f, "%s", err.msg);
    const StTensor *t = st_find(f, "h");
    cr_assert_not_null(t);
    cr_assert_eq(t->dtype, ST_F16);
    cr_assert_eq(t->nbytes, 2 * N);
    cr_expect_null(st_find(f, "big"), "a refused tensor is not in the file");
    st_close(f);
    size_t len;
    unsigned char *bytes = read_file(path, &len);
    uint64_t header = 0;
    for (int i = 0; i < 8; i++)
        header |= (uint64_t)bytes[i] << (8 * i);
    const unsigned char *data = bytes + 8 + header;
    for (int i = 0; i < N; i++) {
        uint16_t got = (uint16_t)(data[2 * i] | data[2 * i + 1] << 8);
        cr_expect_eq(got, want[i], "%a: got 0x%04x, want 0x%04x", x[i], got, want[i]);
    }
    free(bytes);
}

static void expect_read_refused(const char *name, const char *header, const void *data, size_t dlen,
                                size_t numel, const char *phrase)
{
    char *path = make_st(name, header, data, dlen);
    Err err = {{0}};
    StFile *f = st_open(path, &err);
    cr_assert_not_null(f, "%s", err.msg); // NaN/Inf are found on reading, not on opening
    float out[8];
    cr_assert_eq(st_read_f32(f, "t", out, numel, &err), -1);
    cr_assert_not_null(strstr(err.msg, path), "message does not name the file: %s", err.msg);
    cr_assert_not_null(strstr(err.msg, "'t'"), "message does not name the tensor: %s", err.msg);
    cr_assert_not_null(strstr(err.msg, phrase), "message lacks '%s': %s", phrase, err.msg);
    st_close(f);
}

Test(safetensors, f16_inf_and_nan_refused)
{
    const char *hdr = "{\"t\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]}}";
    const unsigned char inf[6] = {0x00, 0x3c, 0x00, 0x3c, 0x00, 0xfc}; // 1, 1, -inf
    expect_read_refused("h_inf.safetensors", hdr, inf, 6, 3, "index 2 is -Inf");
    const unsigned char nan[6] = {0x00, 0x3c, 0x01, 0x7c, 0x00, 0x3c}; // 1, nan, 1
    expect_read_refused("h_nan.safetensors", hdr, nan, 6, 3, "index 1 is NaN");
}

Test(safetensors, f32_nan_refused)
{
    float v[4] = {0.0f, 1.0f, 2.0f, NAN};
    expect_read_refused("nan.safetensors",
                        "{\"t\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}", v,
                        sizeof v, 4, "index 3 is NaN");
}

Test(safetensors, f32_inf_refused)
{
    float v[3] = {0.0f, INFINITY, 2.0f};
    expect_read_refused("inf.safetensors",
                        "{\"t\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}", v,
                        sizeof v, 3, "index 1 is +Inf");
}

// ---------------------------------------------------------------------------------------------
// Malformed files: st_open refuses each, naming the file and the problem.

static const float four[4] = {1, 2, 3, 4};

Test(safetensors, missing_file)
{
    expect_refused(path_in_dir("nothere.safetensors"), "cannot open: No such file");
}

Test(safetensors, file_of_0_bytes)
{
    char *path = path_in_dir("zero.safetensors");
    write_file(path, "", 0);
    expect_refused(path, "truncated: 0 bytes");
}

Test(safetensors, file_of_5_bytes)
{
    char *path = path_in_dir("five.safetensors");
    write_file(path, "\x10\0\0\0\0", 5);
    expect_refused(path, "truncated: 5 bytes, a safetensors file starts with an 8-byte header");
}

Test(safetensors, header_length_beyond_file)
{
    unsigned char buf[20] = {0x9f, 0x86, 0x01}; // 99999, little-endian
    memcpy(buf + 8, "{}          ", 12);
    char *path = path_in_dir("long.safetensors");
    write_file(path, buf, sizeof buf);
    expect_refused(path, "header length 99999 is beyond the file size 20");
}

Test(safetensors, header_length_huge)
{
    unsigned char buf[16];
    memset(buf, 0xff, 8); // 2^64 - 1: must not wrap around in the range check
    memcpy(buf + 8, "{}      ", 8);
    char *path = path_in_dir("huge.safetensors");
    write_file(path, buf, sizeof buf);
    expect_refused(path, "header length 18446744073709551615 is beyond the file size 16");
}

Test(safetensors, header_length_zero)
{
    unsigned char buf[10] = {0};
    char *path = path_in_dir("hzero.safetensors");
    write_file(path, buf, sizeof buf);
    expect_refused(path, "header length is 0");
}

Test(safetensors, invalid_json)
{
    char *path = make_st("badjson.safetensors", "{\"a\": {\"dtype\": }", NULL, 0);
    expect_refused(path, "invalid JSON at line 1 column ");
}

Test(safetensors, header_not_object)
{
    char *path = make_st("array.safetensors", "[1, 2, 3]", NULL, 0);
    expect_refused(path, "header is not a JSON object");
}

Test(safetensors, duplicate_tensor_names)
{
    char *path = make_st("dup.safetensors",
                         "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
                         "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                         four, 8);
    expect_refused(path, "duplicate object key");
}

Test(safetensors, entry_not_object)
{
    char *path = make_st("entry.safetensors", "{\"a\": 3}", NULL, 0);
    expect_refused(path, "tensor 'a': entry is not a JSON object");
}

Test(safetensors, missing_data_offsets)
{
    char *path =
        make_st("nooffs.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4]}}", four, 16);
    expect_refused(path, "tensor 'w': missing data_offsets");
}

Test(safetensors, missing_dtype)
{
    char *path =
        make_st("nodtype.safetensors", "{\"w\":{\"shape\":[4],\"data_offsets\":[0,16]}}", four, 16);
    expect_refused(path, "tensor 'w': missing dtype");
}

Test(safetensors, missing_shape)
{
    char *path = make_st("noshape.safetensors",
                         "{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,16]}}", four, 16);
    expect_refused(path, "tensor 'w': missing shape");
}

Test(safetensors, dtype_i64)
{
    char *path = make_st("i64.safetensors",
                         "{\"model.1.weight\":{\"dtype\":\"I64\",\"shape\":[2],"
                         "\"data_offsets\":[0,16]}}",
                         four, 16);
    expect_refused(path, "tensor 'model.1.weight': dtype I64 not supported (F32 or F16 only)");
}

Test(safetensors, negative_dimension)
{
    char *path =
        make_st("negdim.safetensors",
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[-4],\"data_offsets\":[0,16]}}", four, 16);
    expect_refused(path, "tensor 'w': shape[0] is not a non-negative integer");
}

Test(safetensors, too_many_dimensions)
{
    char *path = make_st("ndim.safetensors",
                         "{\"w\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,4],"
                         "\"data_offsets\":[0,16]}}",
                         four, 16);
    expect_refused(path, "shape has 9 dimensions, at most 8 supported");
}

Test(safetensors, shape_overflow)
{
    // 2^31 * 2^31 * 2^31 elements: numel * 4 does not fit in 64 bits.
    char *path = make_st("overflow.safetensors",
                         "{\"w\":{\"dtype\":\"F32\",\"shape\":[2147483648,2147483648,2147483648],"
                         "\"data_offsets\":[0,0]}}",
                         NULL, 0);
    expect_refused(path, "too large (size overflows)");
}

// A header length over ST_MAX_HEADER is refused before the JSON is parsed. The file is sparse:
// 100 MB of zeros that take no disk.
Test(safetensors, header_over_the_limit)
{
    char *path = path_in_dir("huge_header.safetensors");
    uint64_t hlen = ST_MAX_HEADER + 1ull;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++)
        len8[i] = (unsigned char)(hlen >> (8 * i));
    write_file(path, len8, 8);
    cr_assert_eq(truncate(path, (off_t)(8 + hlen)), 0, "truncate: %s", strerror(errno));
    expect_refused(path, "header length 100000001 is over the 100000000 bytes a header may have");
}

// More than ST_MAX_TENSORS entries (empty tensors, so the file stays small).
Test(safetensors, too_many_tensors)
{
    size_t n = ST_MAX_TENSORS + 1, cap = 64 * n + 64, len = 0;
    char *json = malloc(cap);
    cr_assert_not_null(json);
    len += (size_t)snprintf(json + len, cap - len, "{\"__metadata__\":{}");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(
            json + len, cap - len,
            ",\"t%zu\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}", i);
    snprintf(json + len, cap - len, "}");
    char *path = make_st("many.safetensors", json, NULL, 0);
    free(json);
    expect_refused(path, "100001 tensors, over the 100000 a file may have");

    // The writer will not make such a file either.
    StWriter *w = st_writer_create();
    Err err;
    const float x = 1;
    char name[32];
    for (int i = 0; i < ST_MAX_TENSORS; i++) {
        snprintf(name, sizeof name, "t%d", i);
        cr_assert_eq(st_writer_add_f32(w, name, 0, NULL, &x, &err), 0, "%s", err.msg);
    }
    cr_assert_eq(st_writer_add_f32(w, "one_more", 0, NULL, &x, &err), -1);
    cr_assert_not_null(strstr(err.msg, "at most 100000 tensors"), "%s", err.msg);
    st_writer_free(w);
}

Test(safetensors, offsets_out_of_range)
{
    char *path =
        make_st("range.safetensors",
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[8,24]}}", four, 16);
    expect_refused(path, "tensor 'w': data_offsets [8, 24] out of range: the data section has 16");
}

Test(safetensors, offsets_not_a_pair)
{
    char *path =
        make_st("pair.safetensors",
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0]}}", four, 16);
    expect_refused(path, "data_offsets is not [begin, end]");
}

Test(safetensors, offsets_reversed)
{
    char *path =
        make_st("rev.safetensors",
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[16,0]}}", four, 16);
    expect_refused(path, "begin after end");
}

Test(safetensors, offsets_inconsistent_with_shape)
{
    char *path =
        make_st("incons.safetensors",
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,16]}}", four, 16);
    expect_refused(path, "data_offsets [0, 16] hold 16 bytes, inconsistent with shape (2, 3) of "
                         "F32 (24 bytes)");
}

Test(safetensors, overlapping_tensors)
{
    char *path = make_st("overlap.safetensors",
                         "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                         "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]},"
                         "\"b\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}",
                         four, 16);
    expect_refused(path, "tensors 'b' and 'a' overlap");
}

Test(safetensors, adjacent_and_empty_tensors_do_not_overlap)
{
    Err err = {{0}};
    char *path = make_st("adjacent.safetensors",
                         "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                         "\"e\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,8]},"
                         "\"b\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[0,8]}}",
                         four, 16);
    StFile *f = st_open(path, &err);
    cr_assert_not_null(f, "%s", err.msg);
    cr_assert_eq(st_count(f), 3);
    st_close(f);
}

Test(safetensors, metadata_value_not_string)
{
    char *path = make_st("meta.safetensors",
                         "{\"__metadata__\":{\"format\":\"pt\",\"step\":12},"
                         "\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}",
                         four, 16);
    expect_refused(path, "__metadata__ value for key 'step' is not a string");
}

Test(safetensors, metadata_not_object)
{
    char *path = make_st("metaarr.safetensors", "{\"__metadata__\":[\"pt\"]}", NULL, 0);
    expect_refused(path, "__metadata__ is not an object");
}

// ---------------------------------------------------------------------------------------------
// Writer

Test(safetensors, writer_refuses_bad_input)
{
    Err err = {{0}};
    StWriter *w = st_writer_create();
    cr_assert_not_null(w);
    int64_t s[1] = {4};
    cr_assert_eq(st_writer_add_f32(w, "a", 1, s, four, &err), 0, "%s", err.msg);
    cr_assert_eq(st_writer_add_f32(w, "a", 1, s, four, &err), -1);
    cr_assert_not_null(strstr(err.msg, "tensor 'a': added twice"), "%s", err.msg);
    cr_assert_eq(st_writer_add_f32(w, "__metadata__", 1, s, four, &err), -1);
    cr_assert_not_null(strstr(err.msg, "reserved"), "%s", err.msg);
    int64_t neg[1] = {-1};
    cr_assert_eq(st_writer_add_f32(w, "n", 1, neg, four, &err), -1);
    cr_assert_not_null(strstr(err.msg, "negative"), "%s", err.msg);
    cr_assert_eq(st_writer_add_f32(w, "d", ST_MAX_DIMS + 1, s, four, &err), -1);
    float bad[4] = {1, 2, NAN, 4};
    cr_assert_eq(st_writer_add_f32(w, "nan", 1, s, bad, &err), -1);
    cr_assert_not_null(strstr(err.msg, "index 2 is NaN"), "%s", err.msg);
    cr_assert_eq(st_writer_add_f32(w, "bad\xff", 1, s, four, &err), -1);
    cr_assert_not_null(strstr(err.msg, "UTF-8"), "%s", err.msg);
    cr_assert_eq(st_writer_meta(w, "k", "bad\xff", &err), -1);

    // The refused adds left nothing behind.
    char *path = path_in_dir("w.safetensors");
    cr_assert_eq(st_writer_save(w, path, &err), 0, "%s", err.msg);
    st_writer_free(w);
    StFile *f = st_open(path, &err);
    cr_assert_not_null(f, "%s", err.msg);
    cr_assert_eq(st_count(f), 1);
    st_close(f);
}

Test(safetensors, save_into_missing_directory)
{
    Err err = {{0}};
    StWriter *w = st_writer_create();
    cr_assert_not_null(w);
    int64_t s[1] = {4};
    cr_assert_eq(st_writer_add_f32(w, "a", 1, s, four, &err), 0, "%s", err.msg);
    char *path = path_in_dir("no/such/dir/m.safetensors");
    cr_assert_eq(st_writer_save(w, path, &err), -1);
    st_writer_free(w);
    cr_assert_not_null(strstr(err.msg, path), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "No such file or directory"), "%s", err.msg);
    cr_assert_eq(count_entries(g_dir), 0, "the save left something behind");
}

// A good file at PATH, replaced by a save with different contents.
static StWriter *writer_with(float v, int64_t n)
{
    StWriter *w = st_writer_create();
    cr_assert_not_null(w);
    float *d = malloc((size_t)n * sizeof *d);
    cr_assert_not_null(d);
    for (int64_t i = 0; i < n; i++)
        d[i] = v;
    Err err = {{0}};
    cr_assert_eq(st_writer_add_f32(w, "x", 1, &n, d, &err), 0, "%s", err.msg);
    free(d);
    return w;
}

static void expect_x(const char *path, float v, size_t n)
{
    Err err = {{0}};
    StFile *f = st_open(path, &err);
    cr_assert_not_null(f, "%s", err.msg);
    float *d = malloc(n * sizeof *d);
    cr_assert_not_null(d);
    cr_assert_eq(st_read_f32(f, "x", d, n, &err), 0, "%s", err.msg);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(d[i], v);
    free(d);
    st_close(f);
}

Test(safetensors, save_replaces_existing_file)
{
    Err err = {{0}};
    char *path = path_in_dir("m.safetensors");
    StWriter *w = writer_with(1.0f, 10);
    cr_assert_eq(st_writer_save(w, path, &err), 0, "%s", err.msg);
    st_writer_free(w);
    expect_x(path, 1.0f, 10);

    w = writer_with(2.0f, 3);
    cr_assert_eq(st_writer_save(w, path, &err), 0, "%s", err.msg);
    st_writer_free(w);
    expect_x(path, 2.0f, 3);
    cr_assert_eq(count_entries(g_dir), 1, "a temporary file was left behind");
}

Test(safetensors, failed_save_leaves_old_file_intact)
{
    Err err = {{0}};
    char *path = path_in_dir("m.safetensors");
    StWriter *w = writer_with(1.0f, 10);
    cr_assert_eq(st_writer_save(w, path, &err), 0, "%s", err.msg);
    st_writer_free(w);

    // Root ignores directory permissions, so block the temporary name instead: a directory
    // where the writer wants to create PATH.tmp.<pid> makes the save fail before any rename.
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    cr_assert_eq(mkdir(tmp, 0700), 0, "mkdir %s: %s", tmp, strerror(errno));
    w = writer_with(2.0f, 3);
    cr_assert_eq(st_writer_save(w, path, &err), -1);
    cr_assert_not_null(strstr(err.msg, path), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "cannot create temporary file"), "%s", err.msg);
    expect_x(path, 1.0f, 10);
    cr_assert_eq(rmdir(tmp), 0);

    if (geteuid() != 0) { // the plain case, where permissions apply
        cr_assert_eq(chmod(g_dir, 0500), 0);
        cr_assert_eq(st_writer_save(w, path, &err), -1);
        cr_assert_not_null(strstr(err.msg, "Permission denied"), "%s", err.msg);
        cr_assert_eq(chmod(g_dir, 0700), 0);
        expect_x(path, 1.0f, 10);
    }
    st_writer_free(w);
    cr_assert_eq(count_entries(g_dir), 1, "a temporary file was left behind");
}

Test(safetensors, full_disk_leaves_old_file_intact)
{
    Err err = {{0}};
    char *path = path_in_dir("m.safetensors");
    StWriter *w = writer_with(1.0f, 10);
    cr_assert_eq(st_writer_save(w, path, &err), 0, "%s", err.msg);
    st_writer_free(w);

    // A file size limit fails write() part-way through, as a full disk would (EFBIG instead of
    // ENOSPC). This test runs in its own process, so the limit does not leak into others.
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &rl), 0);
    rl.rlim_cur = 64 * 1024;
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0, "setrlimit: %s", strerror(errno));

    w = writer_with(2.0f, 1 << 16); // 256 KiB of data
    cr_assert_eq(st_writer_save(w, path, &err), -1);
    st_writer_free(w);
    cr_assert_not_null(strstr(err.msg, path), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, strerror(EFBIG)), "%s", err.msg);
    expect_x(path, 1.0f, 10);
    cr_assert_eq(count_entries(g_dir), 1, "the temporary file was left behind");
}
