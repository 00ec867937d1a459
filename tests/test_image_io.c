// Still-image I/O: decoding real faces (baseline and progressive JPEG) against the ffmpeg
// command's own decode, PNG and JPEG saving, resizing, the planar float layout, and errors.
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/rng.h"
#include "faces.h"
#include "media/image_io.h"

#define PATHLEN (PATH_MAX + 300)

// The frame type of a JPEG: walks the markers up to the first SOFn and returns n (0 = baseline,
// 2 = progressive), or -1.
static int jpeg_sof(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    unsigned char b[4];
    int sof = -1;
    if (fread(b, 1, 2, f) == 2 && b[0] == 0xff && b[1] == 0xd8) {
        while (fread(b, 1, 4, f) == 4 && b[0] == 0xff) {
            int m = b[1];
            if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {
                sof = m - 0xc0;
                break;
            }
            if (fseek(f, (long)((b[2] << 8) | b[3]) - 2, SEEK_CUR) != 0)
                break;
        }
    }
    fclose(f);
    return sof;
}

static bool is_baseline(const char *p)
{
    return jpeg_sof(p) == 0;
}
static bool is_progressive(const char *p)
{
    return jpeg_sof(p) == 2;
}

static void need_face(const char *sub, bool (*pred)(const char *), char *out, size_t len)
{
    cr_assert(test_face(sub, NULL, pred, 0, out, len), "no suitable face image under %s/%s",
              test_faces_dir(), sub);
}

static char g_dir[] = "/tmp/ageshift_imgio_XXXXXX";

static void setup_dir(void)
{
    cr_assert_not_null(mkdtemp(g_dir), "mkdtemp: %s", strerror(errno));
}

static void teardown_dir(void)
{
    DIR *d = opendir(g_dir);
    if (!d)
        return;
    struct dirent *e;
    char p[PATHLEN];
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
            unlink(p);
        }
    closedir(d);
    rmdir(g_dir);
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    if (d)
        closedir(d);
    return n;
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

static unsigned char *read_bytes(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len);
    cr_assert_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

// The ffmpeg command's rgb24 decode of PATH (with extra options before the output), or NULL.
static unsigned char *ffmpeg_rgb(const char *path, const char *opts, size_t n)
{
    char cmd[PATHLEN + 300];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/ffmpeg -nostdin -v error -i '%s' %s -f rawvideo -pix_fmt "
             "rgb24 -",
             path, opts);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    unsigned char *b = malloc(n + 1);
    size_t got = fread(b, 1, n + 1, p);
    cr_assert_eq(pclose(p), 0, "%s failed", cmd);
    cr_assert_eq(got, n, "%s gave %zu bytes, expected %zu", cmd, got, n);
    return b;
}

static double mean_abs_diff(const uint8_t *a, const uint8_t *b, size_t n, int *max)
{
    double s = 0;
    *max = 0;
    for (size_t i = 0; i < n; i++) {
        int d = abs(a[i] - b[i]);
        s += d;
        if (d > *max)
            *max = d;
    }
    return s / (double)n;
}

static void fill_random_image(Image *img, unsigned seed)
{
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < (size_t)img->w * img->h * 3; i++)
        img->rgb[i] = (uint8_t)rng_below(&r, 256);
}

// ---------------------------------------------------------------------------------------------
// Decoding

static void check_against_ffmpeg(const char *path)
{
    Image img;
    Err err;
    cr_assert_eq(image_load(path, &img, &err), 0, "%s", err.msg);
    cr_assert_eq(img.w, 200);
    cr_assert_eq(img.h, 200);
    if (access("/usr/bin/ffmpeg", X_OK) != 0) {
        image_free(&img);
        cr_skip_test("/usr/bin/ffmpeg is not installed: pixel comparison skipped");
    }
    size_t n = (size_t)img.w * img.h * 3;
    int max;
    // The same conversion as ours (bicubic chroma, accurate rounding): the decode and the
    // full-range YUV -> RGB conversion agree to within rounding.
    unsigned char *ref = ffmpeg_rgb(path, "-sws_flags bicubic+accurate_rnd+full_chroma_int", n);
    double mad = mean_abs_diff(img.rgb, ref, n, &max);
    cr_expect_leq(max, 2, "%s: max |ours - ffmpeg| = %d (mean %.3f)", path, max, mad);
    free(ref);
    // ffmpeg's default conversion repeats chroma samples instead of interpolating them, so
    // colour edges differ by more; the bulk agrees. A limited/full range mix-up would shift
    // every pixel by several levels.
    ref = ffmpeg_rgb(path, "", n);
    size_t close = 0;
    for (size_t i = 0; i < n; i++)
        close += abs(img.rgb[i] - ref[i]) <= 2;
    mad = mean_abs_diff(img.rgb, ref, n, &max);
    cr_expect_lt(mad, 1.5, "%s: mean |ours - ffmpeg default| = %.3f", path, mad);
    cr_expect_geq((double)close / n, 0.9, "%s: only %zu of %zu within 2", path, close, n);
    // Spot checks, pixel by pixel, in the middle of the face.
    for (int k = 0; k < 5; k++) {
        size_t o = ((size_t)(60 + 20 * k) * 200 + (size_t)(50 + 25 * k)) * 3;
        for (int c = 0; c < 3; c++)
            cr_expect_leq(abs(img.rgb[o + c] - ref[o + c]), 6, "pixel %d channel %d: %d vs %d", k,
                          c, img.rgb[o + c], ref[o + c]);
    }
    free(ref);
    image_free(&img);
}

Test(image_io, baseline_jpeg_matches_ffmpeg)
{
    char path[PATHLEN];
    need_face("young", is_baseline, path, sizeof path);
    check_against_ffmpeg(path);
}

Test(image_io, progressive_jpeg_matches_ffmpeg)
{
    char path[PATHLEN];
    need_face("old", is_progressive, path, sizeof path);
    cr_assert_eq(jpeg_sof(path), 2);
    check_against_ffmpeg(path);
}

Test(image_io, decoded_face_is_not_flat)
{
    char path[PATHLEN];
    need_face("young", is_baseline, path, sizeof path);
    Image img;
    Err err;
    cr_assert_eq(image_load(path, &img, &err), 0, "%s", err.msg);
    int lo = 255, hi = 0;
    for (size_t i = 0; i < (size_t)img.w * img.h * 3; i++) {
        lo = img.rgb[i] < lo ? img.rgb[i] : lo;
        hi = img.rgb[i] > hi ? img.rgb[i] : hi;
    }
    cr_expect_gt(hi - lo, 100, "a face spans more than %d levels", hi - lo);
    image_free(&img);
}

// ---------------------------------------------------------------------------------------------
// Saving

Test(image_io, png_round_trip_is_exact, .init = setup_dir, .fini = teardown_dir)
{
    Image img, back;
    Err err;
    cr_assert_eq(image_alloc(&img, 37, 23, &err), 0);
    fill_random_image(&img, 5);
    const char *names[] = {"a.png", "b.PNG"};
    for (int k = 0; k < 2; k++) {
        char path[PATHLEN];
        snprintf(path, sizeof path, "%s/%s", g_dir, names[k]);
        cr_assert_eq(image_save(path, &img, &err), 0, "%s", err.msg);
        cr_assert_eq(image_load(path, &back, &err), 0, "%s", err.msg);
        cr_assert_eq(back.w, 37);
        cr_assert_eq(back.h, 23);
        cr_expect_eq(memcmp(back.rgb, img.rgb, (size_t)37 * 23 * 3), 0, "%s differs", path);
        image_free(&back);
    }
    cr_expect_eq(count_entries(g_dir), 2, "no temporary files left behind");
    image_free(&img);
}

Test(image_io, jpeg_save_is_close, .init = setup_dir, .fini = teardown_dir)
{
    char face[PATHLEN];
    need_face("young", is_baseline, face, sizeof face);
    Image img, back;
    Err err;
    cr_assert_eq(image_load(face, &img, &err), 0, "%s", err.msg);
    const char *names[] = {"a.jpg", "b.JPEG", "c.Jpg"};
    for (int k = 0; k < 3; k++) {
        char path[PATHLEN];
        snprintf(path, sizeof path, "%s/%s", g_dir, names[k]);
        cr_assert_eq(image_save(path, &img, &err), 0, "%s", err.msg);
        cr_assert_eq(jpeg_sof(path), 0, "%s is a baseline JPEG", path);
        cr_assert_eq(image_load(path, &back, &err), 0, "%s", err.msg);
        cr_assert_eq(back.w, img.w);
        cr_assert_eq(back.h, img.h);
        int max;
        double mad = mean_abs_diff(back.rgb, img.rgb, (size_t)img.w * img.h * 3, &max);
        cr_expect_lt(mad, 3.0, "%s: mean abs diff %.3f", path, mad);
        image_free(&back);
    }
    cr_expect_eq(count_entries(g_dir), 3, "no temporary files left behind");
    image_free(&img);
}

Test(image_io, jpeg_save_odd_size, .init = setup_dir, .fini = teardown_dir)
{
    Image img, back;
    Err err;
    cr_assert_eq(image_alloc(&img, 57, 31, &err), 0);
    memset(img.rgb, 0, (size_t)57 * 31 * 3);
    for (int i = 0; i < 57 * 31; i++) { // flat orange
        img.rgb[3 * i] = 230;
        img.rgb[3 * i + 1] = 120;
        img.rgb[3 * i + 2] = 30;
    }
    char path[PATHLEN];
    snprintf(path, sizeof path, "%s/odd.jpg", g_dir);
    cr_assert_eq(image_save(path, &img, &err), 0, "%s", err.msg);
    cr_assert_eq(image_load(path, &back, &err), 0, "%s", err.msg);
    cr_assert_eq(back.w, 57);
    cr_assert_eq(back.h, 31);
    int max;
    mean_abs_diff(back.rgb, img.rgb, (size_t)57 * 31 * 3, &max);
    cr_expect_leq(max, 3, "flat colour through JPEG: max diff %d", max);
    image_free(&back);
    image_free(&img);
}

Test(image_io, save_overwrites_atomically, .init = setup_dir, .fini = teardown_dir)
{
    Image a, b, back;
    Err err;
    cr_assert_eq(image_alloc(&a, 8, 8, &err), 0);
    cr_assert_eq(image_alloc(&b, 16, 4, &err), 0);
    fill_random_image(&b, 9);
    char path[PATHLEN];
    snprintf(path, sizeof path, "%s/x.png", g_dir);
    cr_assert_eq(image_save(path, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(image_save(path, &b, &err), 0, "%s", err.msg);
    cr_assert_eq(image_load(path, &back, &err), 0, "%s", err.msg);
    cr_expect_eq(back.w, 16);
    cr_expect_eq(back.h, 4);
    cr_expect_eq(memcmp(back.rgb, b.rgb, 16 * 4 * 3), 0);
    cr_expect_eq(count_entries(g_dir), 1);
    image_free(&back);
    image_free(&a);
    image_free(&b);
}

Test(image_io, save_bad_extension_fails_and_leaves_nothing, .init = setup_dir, .fini = teardown_dir)
{
    Image img;
    Err err;
    cr_assert_eq(image_alloc(&img, 4, 4, &err), 0);
    const char *names[] = {"a.bmp", "a.gif", "noext", "a.png.txt"};
    const char *exts[] = {".bmp", ".gif", "extension", ".txt"};
    for (int k = 0; k < 4; k++) {
        char path[PATHLEN];
        snprintf(path, sizeof path, "%s/%s", g_dir, names[k]);
        cr_assert_neq(image_save(path, &img, &err), 0, "%s saved", path);
        cr_expect_not_null(strstr(err.msg, path), "%s", err.msg);
        cr_expect_not_null(strstr(err.msg, exts[k]), "%s", err.msg);
    }
    cr_expect_eq(count_entries(g_dir), 0);
    image_free(&img);
}

Test(image_io, save_into_missing_folder_fails, .init = setup_dir, .fini = teardown_dir)
{
    Image img;
    Err err;
    cr_assert_eq(image_alloc(&img, 4, 4, &err), 0);
    char path[PATHLEN];
    snprintf(path, sizeof path, "%s/missing/a.png", g_dir);
    cr_assert_neq(image_save(path, &img, &err), 0);
    cr_expect_not_null(strstr(err.msg, path), "%s", err.msg);
    cr_expect_not_null(strstr(err.msg, "No such file"), "%s", err.msg);
    cr_expect_eq(count_entries(g_dir), 0);
    image_free(&img);
}

// ---------------------------------------------------------------------------------------------
// Resizing and the planar layout

Test(image_io, resize_shapes)
{
    char face[PATHLEN];
    need_face("young", is_baseline, face, sizeof face);
    Image img, out;
    Err err;
    cr_assert_eq(image_load(face, &img, &err), 0, "%s", err.msg);
    int sizes[][2] = {{224, 224}, {57, 31}, {143, 143}, {1, 1}};
    for (int k = 0; k < 4; k++) {
        cr_assert_eq(image_resize(&img, sizes[k][0], sizes[k][1], &out, &err), 0, "%s", err.msg);
        cr_expect_eq(out.w, sizes[k][0]);
        cr_expect_eq(out.h, sizes[k][1]);
        // A smooth downscale keeps the mean colour.
        double m_in = 0, m_out = 0;
        for (size_t i = 0; i < (size_t)img.w * img.h * 3; i++)
            m_in += img.rgb[i];
        for (size_t i = 0; i < (size_t)out.w * out.h * 3; i++)
            m_out += out.rgb[i];
        m_in /= (double)img.w * img.h * 3;
        m_out /= (double)out.w * out.h * 3;
        if (out.w >= 31 && out.h >= 31)
            cr_expect_lt(fabs(m_in - m_out), 3.0, "%dx%d: mean %.2f vs %.2f", out.w, out.h, m_in,
                         m_out);
        image_free(&out);
    }
    cr_assert_eq(image_resize(&img, 200, 200, &out, &err), 0, "%s", err.msg);
    cr_expect_eq(memcmp(out.rgb, img.rgb, (size_t)200 * 200 * 3), 0, "same size is a copy");
    image_free(&out);
    cr_expect_neq(image_resize(&img, 0, 10, &out, &err), 0);
    cr_expect_null(out.rgb);
    image_free(&img);
}

Test(image_io, resize_keeps_flat_colours)
{
    // libswscale works in YUV inside; a flat colour must come back as that colour.
    Image img, out;
    Err err;
    cr_assert_eq(image_alloc(&img, 50, 40, &err), 0);
    const uint8_t col[3] = {200, 30, 90};
    for (int i = 0; i < 50 * 40; i++)
        memcpy(img.rgb + 3 * i, col, 3);
    cr_assert_eq(image_resize(&img, 73, 19, &out, &err), 0, "%s", err.msg);
    for (int i = 0; i < 73 * 19; i++)
        for (int c = 0; c < 3; c++)
            cr_assert_leq(abs(out.rgb[3 * i + c] - col[c]), 1, "pixel %d channel %d: %d", i, c,
                          out.rgb[3 * i + c]);
    image_free(&out);
    image_free(&img);
}

Test(image_io, planar_round_trip_is_exact)
{
    Image img, back;
    Err err;
    cr_assert_eq(image_alloc(&img, 19, 7, &err), 0);
    cr_assert_eq(image_alloc(&back, 19, 7, &err), 0);
    fill_random_image(&img, 3);
    img.rgb[0] = 0;
    img.rgb[1] = 255;
    float *chw = malloc(sizeof(float) * 3 * 19 * 7);
    image_to_planar(&img, chw);
    cr_expect_float_eq(chw[0], -1.0f, 1e-6);     // R of pixel 0
    cr_expect_float_eq(chw[19 * 7], 1.0f, 1e-6); // G of pixel 0
    for (int p = 0; p < 19 * 7; p++)
        for (int c = 0; c < 3; c++) {
            float v = chw[c * 19 * 7 + p];
            cr_assert(v >= -1.0f && v <= 1.0f);
            cr_assert_float_eq(v, img.rgb[3 * p + c] / 127.5f - 1.0f, 1e-6);
        }
    planar_to_image(chw, &back);
    cr_expect_eq(memcmp(back.rgb, img.rgb, (size_t)19 * 7 * 3), 0);
    // Clamping and rounding.
    chw[0] = 2.0f;
    chw[1] = -3.0f;
    chw[2] = NAN;
    chw[3] = 0.0f;                          // 127.5 rounds to 128
    chw[4] = 1.0f / 127.5f - 1.0f + 0.003f; // just above level 1
    planar_to_image(chw, &back);
    cr_expect_eq(back.rgb[0], 255);
    cr_expect_eq(back.rgb[3], 0);
    cr_expect_eq(back.rgb[6], 0);
    cr_expect_eq(back.rgb[9], 128);
    cr_expect_eq(back.rgb[12], 1);
    free(chw);
    image_free(&img);
    image_free(&back);
    image_free(&back); // freeing twice (zeroed) and NULL are no-ops
    image_free(NULL);
}

// ---------------------------------------------------------------------------------------------
// Errors

static void expect_load_error(const char *path, const char *why)
{
    Image img = {.w = 7, .h = 7, .rgb = NULL};
    Err err = {{0}};
    cr_expect_neq(image_load(path, &img, &err), 0, "%s (%s) loaded", path, why);
    cr_expect_not_null(strstr(err.msg, path), "%s: message does not name it: %s", why, err.msg);
    cr_expect_null(img.rgb);
    cr_expect_eq(img.w, 0);
}

Test(image_io, missing_file_is_an_error, .init = setup_dir, .fini = teardown_dir)
{
    char path[PATHLEN];
    snprintf(path, sizeof path, "%s/none.jpg", g_dir);
    expect_load_error(path, "missing");
    Err err;
    Image img;
    image_load(path, &img, &err);
    cr_expect_not_null(strstr(err.msg, "No such file"), "%s", err.msg);
    expect_load_error(g_dir, "a directory");
}

Test(image_io, corrupt_files_are_errors, .init = setup_dir, .fini = teardown_dir)
{
    char face[PATHLEN];
    need_face("young", is_baseline, face, sizeof face);
    size_t n;
    unsigned char *bytes = read_bytes(face, &n);
    char path[PATHLEN];

    snprintf(path, sizeof path, "%s/half.jpg", g_dir); // truncated baseline JPEG
    write_bytes(path, bytes, n / 2);
    expect_load_error(path, "truncated JPEG");

    snprintf(path, sizeof path, "%s/head.jpg", g_dir); // headers only
    write_bytes(path, bytes, 300);
    expect_load_error(path, "JPEG headers only");

    unsigned char junk[4096];
    Rng r;
    rng_seed(&r, 11);
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (unsigned char)rng_below(&r, 256);
    snprintf(path, sizeof path, "%s/random.jpg", g_dir);
    write_bytes(path, junk, sizeof junk);
    expect_load_error(path, "random bytes named .jpg");
    snprintf(path, sizeof path, "%s/random.png", g_dir);
    write_bytes(path, junk, sizeof junk);
    expect_load_error(path, "random bytes named .png");

    snprintf(path, sizeof path, "%s/empty.png", g_dir);
    write_bytes(path, "", 0);
    expect_load_error(path, "empty file");

    char prog[PATHLEN];
    need_face("old", is_progressive, prog, sizeof prog);
    free(bytes);
    bytes = read_bytes(prog, &n);
    snprintf(path, sizeof path, "%s/half_progressive.jpg", g_dir);
    write_bytes(path, bytes, n / 2);
    expect_load_error(path, "truncated progressive JPEG");
    free(bytes);
}

// ---------------------------------------------------------------------------------------------
// Size limits

Test(image_io, absurd_sizes_are_not_allocated)
{
    Image img;
    Err err;
    const int bad[][2] = {{16385, 1}, {1, 16385},   {8192, 8193},      {0, 5},
                          {5, -1},    {INT_MAX, 2}, {INT_MAX, INT_MAX}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq(image_alloc(&img, bad[i][0], bad[i][1], &err), -1, "%dx%d", bad[i][0],
                     bad[i][1]);
        cr_expect_not_null(strstr(err.msg, "1 to 16384 each way, at most 67108864 pixels"), "%s",
                           err.msg);
        cr_expect_null(img.rgb);
    }
    cr_assert_eq(image_alloc(&img, 16384, 4096, &err), 0, "%s", err.msg); // both limits exactly
    image_free(&img);
}

static uint32_t crc32_of(const uint8_t *p, size_t n, uint32_t crc)
{
    crc = ~crc;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1));
    }
    return ~crc;
}

static void put32(FILE *f, uint32_t v)
{
    const uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    fwrite(b, 1, 4, f);
}

static void png_chunk(FILE *f, const char *type, const uint8_t *data, uint32_t len)
{
    put32(f, len);
    uint32_t crc = crc32_of((const uint8_t *)type, 4, 0);
    crc = crc32_of(data, len, crc);
    fwrite(type, 1, 4, f);
    if (len)
        fwrite(data, 1, len, f);
    put32(f, crc);
}

// A w x h 8-bit gray PNG. With pixels, its rows are black, in one stored (uncompressed) deflate
// block (w * h < 65535); without, its picture data is two bytes, as in a file cut short.
static void write_gray_png(const char *path, uint32_t w, uint32_t h, bool pixels)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    fwrite("\x89PNG\r\n\x1a\n", 1, 8, f);
    uint8_t ihdr[13] = {0};
    for (int i = 0; i < 4; i++) {
        ihdr[i] = (uint8_t)(w >> (24 - 8 * i));
        ihdr[4 + i] = (uint8_t)(h >> (24 - 8 * i));
    }
    ihdr[8] = 8; // bit depth; colour type 0 (gray), no interlace
    png_chunk(f, "IHDR", ihdr, 13);
    if (pixels) {
        size_t raw = (size_t)(w + 1) * h; // a filter byte (0) before each row
        cr_assert_lt(raw, 65535);
        uint8_t *z = calloc(raw + 11, 1);
        cr_assert_not_null(z);
        z[0] = 0x78, z[1] = 0x01;                        // zlib header
        z[2] = 1;                                        // the final block, stored
        z[3] = (uint8_t)raw, z[4] = (uint8_t)(raw >> 8); // LEN, then NLEN
        z[5] = (uint8_t)~raw, z[6] = (uint8_t)(~raw >> 8);
        uint32_t adler = (uint32_t)((raw % 65521) << 16 | 1); // of raw zero bytes
        for (int i = 0; i < 4; i++)
            z[7 + raw + i] = (uint8_t)(adler >> (24 - 8 * i));
        png_chunk(f, "IDAT", z, (uint32_t)raw + 11);
        free(z);
    } else {
        png_chunk(f, "IDAT", (const uint8_t *)"\x78\x01", 2);
    }
    png_chunk(f, "IEND", (const uint8_t *)"", 0);
    cr_assert_eq(fclose(f), 0);
}

static void expect_size_refused(const char *path, const char *says)
{
    Image img;
    Err err = {""};
    cr_expect_eq(image_load(path, &img, &err), -1, "%s loaded", path);
    cr_expect(strstr(err.msg, path) && strstr(err.msg, says), "%s", err.msg);
    cr_expect_null(img.rgb);
}

Test(image_io, images_over_the_size_limits_are_refused, .init = setup_dir, .fini = teardown_dir)
{
    char path[PATHLEN];
    // The writer itself: a small image loads, black.
    snprintf(path, sizeof path, "%s/small.png", g_dir);
    write_gray_png(path, 5, 3, true);
    Image img;
    Err err;
    cr_assert_eq(image_load(path, &img, &err), 0, "%s", err.msg);
    cr_expect(img.w == 5 && img.h == 3 && img.rgb[0] == 0 && img.rgb[44] == 0);
    image_free(&img);

    snprintf(path, sizeof path, "%s/wide.png", g_dir);
    write_gray_png(path, 16385, 1, true);
    expect_size_refused(path, "16385x1");
    // 67 Mpixels in a file of a few bytes: refused before a picture that size is allocated.
    snprintf(path, sizeof path, "%s/huge.png", g_dir);
    write_gray_png(path, 8200, 8200, false);
    expect_size_refused(path, "64 Mpixel");
    snprintf(path, sizeof path, "%s/absurd.png", g_dir);
    write_gray_png(path, 100000, 100000, false);
    expect_size_refused(path, "cannot");
}
