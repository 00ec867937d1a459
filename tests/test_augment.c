// The footage-like augmentations of core/train/augment.h: each does what it says (on a
// synthetic picture whose structure makes that visible, and on a real face), none of them
// changes anything when off, and every one is a function of the sample's seed alone.
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/train/augment.h"
#include "faces.h"

#define S 64
#define N (3 * S * S)

// Horizontal stripes 4 px high, grey 60 and 190 with a little colour: every row is constant.
static Image stripes(void)
{
    Image img;
    Err err;
    cr_assert_eq(image_alloc(&img, 80, 80, &err), 0);
    for (int y = 0; y < 80; y++)
        for (int x = 0; x < 80; x++) {
            uint8_t *p = img.rgb + 3 * (y * 80 + x);
            int v = (y / 4) % 2 ? 190 : 60;
            p[0] = (uint8_t)(v + 20), p[1] = (uint8_t)v, p[2] = (uint8_t)(v - 20);
        }
    return img;
}

static float *sample(const Image *img, const Augment *a, uint64_t seed)
{
    float *chw = malloc(N * sizeof(float));
    Err err;
    cr_assert_eq(augment_image(img, S, a, seed, chw, &err), 0, "%s", err.msg);
    return chw;
}

// Mean squared difference of horizontally and vertically adjacent values: the fine detail.
static double detail(const float *chw)
{
    double s = 0.0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y + 1 < S; y++)
            for (int x = 0; x + 1 < S; x++) {
                const float *p = chw + c * S * S + y * S + x;
                s += (p[1] - p[0]) * (p[1] - p[0]) + (p[S] - p[0]) * (p[S] - p[0]);
            }
    return s / (3.0 * (S - 1) * (S - 1));
}

static double mean_abs_diff(const float *a, const float *b)
{
    double s = 0.0;
    for (int i = 0; i < N; i++)
        s += fabsf(a[i] - b[i]);
    return s / N;
}

// Runs one augmentation alone against none over several seeds; returns the mean of f.
static double over_seeds(const Image *img, const Augment *a,
                         double (*f)(const float *with, const float *without))
{
    double s = 0.0;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        float *with = sample(img, a, seed), *without = sample(img, NULL, seed);
        s += f(with, without);
        free(with);
        free(without);
    }
    return s / 8;
}

Test(augment, all_zero_is_the_seeds_augmentation_bit_for_bit)
{
    Image img = stripes();
    Augment none = {0};
    for (uint64_t seed = 1; seed <= 5; seed++) {
        float *a = sample(&img, &none, seed), *b = sample(&img, NULL, seed);
        cr_expect_arr_eq(a, b, N * sizeof(float), "seed %d", (int)seed);
        free(a);
        free(b);
    }
    image_free(&img);
}

Test(augment, every_choice_comes_from_the_seed)
{
    Image img = stripes();
    Augment all = augment_default();
    all.jpeg = 1.0f, all.blur = 0.5f, all.sharpen = 0.5f, all.grey = 0.3f;
    float *a = sample(&img, &all, 11), *b = sample(&img, &all, 11), *c = sample(&img, &all, 12);
    cr_expect_arr_eq(a, b, N * sizeof(float));
    cr_expect_neq(memcmp(a, c, N * sizeof(float)), 0);
    for (int i = 0; i < N; i++)
        cr_assert(a[i] >= -1.0f && a[i] <= 1.0f && c[i] >= -1.0f && c[i] <= 1.0f);
    free(a), free(b), free(c);
    image_free(&img);
}

static double row_variation(const float *with, const float *without)
{
    (void)without;
    double s = 0.0;
    for (int y = 0; y < S; y++)
        for (int x = 1; x < S; x++)
            s += fabsf(with[y * S + x] - with[y * S]);
    return s / (S * (S - 1));
}

Test(augment, rotation_tilts_the_stripes)
{
    Image img = stripes();
    Augment a = {.rotate = 20};
    float *none = sample(&img, NULL, 3);
    cr_expect_eq(row_variation(none, NULL), 0.0, "the seed's crop keeps rows constant");
    cr_expect_gt(over_seeds(&img, &a, row_variation), 0.05, "rows still constant when turned");
    free(none);
    image_free(&img);
}

static double grey_spread(const float *with, const float *without)
{
    (void)without;
    double s = 0.0;
    for (int i = 0; i < S * S; i++)
        s += fabsf(with[i] - with[S * S + i]) + fabsf(with[2 * S * S + i] - with[S * S + i]);
    return s;
}

Test(augment, grey_makes_the_channels_equal)
{
    Image img = stripes();
    Augment a = {.grey = 1};
    cr_expect_lt(over_seeds(&img, &a, grey_spread), 1e-3);
    cr_expect_gt(over_seeds(&img, NULL, grey_spread), 100.0);
    image_free(&img);
}

static double detail_ratio(const float *with, const float *without)
{
    return detail(with) / detail(without);
}

Test(augment, blur_softens_and_sharpening_hardens)
{
    Image img = stripes();
    Augment blur = {.blur = 1}, sharpen = {.sharpen = 1};
    cr_expect_lt(over_seeds(&img, &blur, detail_ratio), 0.8);
    cr_expect_gt(over_seeds(&img, &sharpen, detail_ratio), 1.1);
    image_free(&img);
}

Test(augment, noise_brightness_and_compression_change_values_a_little)
{
    char path[PATH_MAX];
    test_need_face("young", NULL, 0, path);
    Image face;
    Err err;
    cr_assert_eq(image_load(path, &face, &err), 0, "%s", err.msg);
    Augment noise = {.noise = 0.1f}, bright = {.brightness = 0.1f}, jpeg = {.jpeg = 1};
    // In [-1, 1] units: noise of 0..0.1 of full scale has a mean |d| of about 0.04; a JPEG of
    // a 64 px face at quantisers 4-24 a few levels; brightness at most 0.2.
    double dn = over_seeds(&face, &noise, mean_abs_diff);
    double db = over_seeds(&face, &bright, mean_abs_diff);
    double dj = over_seeds(&face, &jpeg, mean_abs_diff);
    cr_expect(dn > 0.01 && dn < 0.1, "noise: mean |d| %g", dn);
    cr_expect(db > 0.02 && db < 0.2, "brightness: mean |d| %g", db);
    cr_expect(dj > 0.002 && dj < 0.06, "jpeg: mean |d| %g", dj);
    image_free(&face);
}

Test(augment, fields_name_every_amount_once)
{
    cr_assert_eq(augment_field_count * sizeof(float), sizeof(Augment));
    for (int i = 0; i < augment_field_count; i++)
        for (int j = 0; j < i; j++) {
            cr_expect_neq(augment_fields[i].offset, augment_fields[j].offset);
            cr_expect_str_neq(augment_fields[i].name, augment_fields[j].name);
        }
    Augment d = augment_default();
    for (int i = 0; i < augment_field_count; i++) {
        float v = *(const float *)((const char *)&d + augment_fields[i].offset);
        cr_expect(v > 0.0f && v <= augment_fields[i].max, "%s default %g", augment_fields[i].name,
                  v);
    }
}

Test(augment, jpeg_round_trip_loses_more_at_a_coarser_quantiser)
{
    char path[PATH_MAX];
    test_need_face("old", NULL, 0, path);
    Image src, fine, coarse;
    Err err;
    cr_assert_eq(image_load(path, &src, &err), 0, "%s", err.msg);
    cr_assert_eq(image_resize(&src, src.w, src.h, &fine, &err), 0);
    cr_assert_eq(image_resize(&src, src.w, src.h, &coarse, &err), 0);
    cr_assert_eq(image_jpeg_round_trip(&fine, 2, &err), 0, "%s", err.msg);
    cr_assert_eq(image_jpeg_round_trip(&coarse, 24, &err), 0, "%s", err.msg);
    cr_assert(fine.w == src.w && fine.h == src.h && coarse.w == src.w && coarse.h == src.h);
    double ef = 0.0, ec = 0.0;
    size_t n = (size_t)3 * src.w * src.h;
    for (size_t i = 0; i < n; i++) {
        ef += abs(fine.rgb[i] - src.rgb[i]);
        ec += abs(coarse.rgb[i] - src.rgb[i]);
    }
    ef /= (double)n, ec /= (double)n;
    cr_expect(ef < 2.5, "quantiser 2: mean error %g levels", ef);
    cr_expect(ec > 1.5 * ef && ec < 12.0, "quantiser 24: mean error %g levels (2: %g)", ec, ef);
    cr_expect_neq(image_jpeg_round_trip(&fine, 0, &err), 0);
    cr_expect_not_null(strstr(err.msg, "quantiser 0"), "%s", err.msg);
    image_free(&src), image_free(&fine), image_free(&coarse);
}
