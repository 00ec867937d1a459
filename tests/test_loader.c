// The training data's background loader (batch shapes and range, determinism, resuming mid-epoch,
// every image visited, errors) and the seed's augmentation, on the test faces (tests/faces.h).
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/rng.h"
#include "core/train/dataset.h"
#include "faces.h"

// ---------------------------------------------------------------------------------------------
// The loader

typedef struct {
    char *paths[8];
    int ages[8];
    ImageList l;
} FaceList;

static void face_list(FaceList *f, const char *sub, int n, int skip)
{
    for (int i = 0; i < n; i++) {
        char p[PATH_MAX];
        test_need_face(sub, NULL, skip + i, p);
        f->paths[i] = strdup(p);
        f->ages[i] = atoi(strrchr(p, '/') + 1); // the age in its UTKFace name
    }
    f->l = (ImageList){.paths = f->paths, .ages = f->ages, .count = n};
}

static void face_list_free(FaceList *f)
{
    for (int i = 0; i < f->l.count; i++)
        free(f->paths[i]);
}

Test(dataset, loader_batches_have_shape_and_range)
{
    FaceList y, o;
    face_list(&y, "young", 6, 0);
    face_list(&o, "old", 4, 0);
    Err err;
    Loader *l = loader_create(&y.l, &o.l, 32, 2, NULL, 7, 0, 0, &err);
    cr_assert_not_null(l, "%s", err.msg);
    cr_expect_eq(loader_iterations_per_epoch(l), 3);
    size_t n = 2 * 3 * 32 * 32;
    float *a = malloc((n + 1) * sizeof *a), *b = malloc((n + 1) * sizeof *b);
    a[n] = b[n] = 12345.0f;          // sentinels: nothing written past (batch, 3, size, size)
    for (int it = 0; it < 7; it++) { // across two epoch boundaries
        cr_assert_eq(loader_next(l, a, b, &err), 0, "%s", err.msg);
        double sum = 0, sq = 0;
        for (size_t i = 0; i < n; i++) {
            cr_assert(a[i] >= -1.0f && a[i] <= 1.0f, "a[%zu] = %g", i, a[i]);
            cr_assert(b[i] >= -1.0f && b[i] <= 1.0f, "b[%zu] = %g", i, b[i]);
            sum += a[i];
            sq += (double)a[i] * a[i];
        }
        double var = sq / n - (sum / n) * (sum / n);
        cr_expect_gt(var, 0.01, "a face batch is not flat");
        cr_expect_neq(memcmp(a, a + n / 2, n / 2 * sizeof *a), 0, "two different samples");
    }
    cr_expect_eq(a[n], 12345.0f);
    cr_expect_eq(b[n], 12345.0f);
    loader_free(l);
    loader_free(NULL);
    free(a);
    free(b);
    face_list_free(&y);
    face_list_free(&o);
}

// Reads COUNT batches and returns the last one (batch 1).
static void nth_batch(Loader *l, int count, float *a, float *b)
{
    Err err;
    for (int i = 0; i < count; i++)
        cr_assert_eq(loader_next(l, a, b, &err), 0, "%s", err.msg);
}

Test(dataset, loader_is_deterministic_and_resumable)
{
    FaceList y, o;
    face_list(&y, "young", 6, 0);
    face_list(&o, "old", 4, 0);
    Err err;
    const int S = 24;
    size_t n = 3 * S * S;
    float *a1 = malloc(n * sizeof(float)), *b1 = malloc(n * sizeof(float));
    float *a2 = malloc(n * sizeof(float)), *b2 = malloc(n * sizeof(float));

    // Same seed, same batches.
    Loader *l1 = loader_create(&y.l, &o.l, S, 1, NULL, 99, 0, 0, &err);
    Loader *l2 = loader_create(&y.l, &o.l, S, 1, NULL, 99, 0, 0, &err);
    Loader *l3 = loader_create(&y.l, &o.l, S, 1, NULL, 100, 0, 0, &err);
    cr_assert(l1 && l2 && l3, "%s", err.msg);
    cr_expect_eq(loader_iterations_per_epoch(l1), 6);
    bool differs = false;
    for (int i = 0; i < 4; i++) {
        nth_batch(l1, 1, a1, b1);
        nth_batch(l2, 1, a2, b2);
        cr_expect_eq(memcmp(a1, a2, n * sizeof(float)), 0, "batch %d a", i);
        cr_expect_eq(memcmp(b1, b2, n * sizeof(float)), 0, "batch %d b", i);
        nth_batch(l3, 1, a2, b2);
        differs |= memcmp(a1, a2, n * sizeof(float)) != 0;
    }
    cr_expect(differs, "another seed gives other batches");
    loader_free(l1);
    loader_free(l2);
    loader_free(l3);

    // The 4th batch of epoch 1 (6 iterations per epoch) from an uninterrupted loader...
    l1 = loader_create(&y.l, &o.l, S, 1, NULL, 99, 0, 0, &err);
    cr_assert_not_null(l1, "%s", err.msg);
    nth_batch(l1, 6 + 4, a1, b1);
    loader_free(l1);
    // ...is the first batch of one started at (epoch 1, iteration 3)...
    l2 = loader_create(&y.l, &o.l, S, 1, NULL, 99, 1, 3, &err);
    cr_assert_not_null(l2, "%s", err.msg);
    nth_batch(l2, 1, a2, b2);
    cr_expect_eq(memcmp(a1, a2, n * sizeof(float)), 0);
    cr_expect_eq(memcmp(b1, b2, n * sizeof(float)), 0);
    loader_free(l2);
    // ...and of one started at (epoch 0, iteration 9), the same place counted differently.
    l2 = loader_create(&y.l, &o.l, S, 1, NULL, 99, 0, 9, &err);
    cr_assert_not_null(l2, "%s", err.msg);
    nth_batch(l2, 1, a2, b2);
    cr_expect_eq(memcmp(a1, a2, n * sizeof(float)), 0);
    cr_expect_eq(memcmp(b1, b2, n * sizeof(float)), 0);
    loader_free(l2);

    free(a1);
    free(b1);
    free(a2);
    free(b2);
    face_list_free(&y);
    face_list_free(&o);
}

// Whether CHW (3, size, size) is a crop, flipped or not, of IMG resized to the augmentation's
// 1.12 x size.
static bool is_crop_of(const float *chw, int size, const Image *img)
{
    int t = (int)(size * 1.12);
    Image rs;
    Err err;
    cr_assert_eq(image_resize(img, t, t, &rs, &err), 0, "%s", err.msg);
    size_t plane = (size_t)size * size;
    bool found = false;
    for (int top = 0; top <= t - size && !found; top++)
        for (int left = 0; left <= t - size && !found; left++)
            for (int flip = 0; flip < 2 && !found; flip++) {
                bool same = true;
                for (int y = 0; y < size && same; y++)
                    for (int x = 0; x < size && same; x++) {
                        int sx = left + (flip ? size - 1 - x : x);
                        const uint8_t *px = rs.rgb + 3 * ((size_t)(top + y) * t + sx);
                        for (int c = 0; c < 3; c++)
                            same &= chw[c * plane + (size_t)y * size + x] == px[c] / 127.5f - 1.0f;
                    }
                found = same;
            }
    image_free(&rs);
    return found;
}

Test(dataset, loader_epoch_visits_every_young_image)
{
    // Batch 1, 6 young and 4 old: an epoch is a permutation of the young images, each paired
    // with some old image, each sample an exact crop of its source.
    FaceList y, o;
    face_list(&y, "young", 6, 0);
    face_list(&o, "old", 4, 0);
    Image yi[6], oi[4];
    Err err;
    for (int i = 0; i < 6; i++)
        cr_assert_eq(image_load(y.paths[i], &yi[i], &err), 0, "%s", err.msg);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(image_load(o.paths[i], &oi[i], &err), 0, "%s", err.msg);
    const int S = 32;
    Loader *l = loader_create(&y.l, &o.l, S, 1, NULL, 5, 0, 0, &err);
    cr_assert_not_null(l, "%s", err.msg);
    float *a = malloc(3 * S * S * sizeof(float)), *b = malloc(3 * S * S * sizeof(float));
    for (int epoch = 0; epoch < 2; epoch++) {
        int seen[6] = {0};
        for (int it = 0; it < 6; it++) {
            cr_assert_eq(loader_next(l, a, b, &err), 0, "%s", err.msg);
            int hits = 0;
            for (int i = 0; i < 6; i++)
                if (is_crop_of(a, S, &yi[i])) {
                    seen[i]++;
                    hits++;
                }
            cr_expect_eq(hits, 1, "epoch %d iteration %d: young sample matches %d images", epoch,
                         it, hits);
            hits = 0;
            for (int i = 0; i < 4; i++)
                hits += is_crop_of(b, S, &oi[i]);
            cr_expect_eq(hits, 1, "epoch %d iteration %d: old sample matches %d images", epoch, it,
                         hits);
        }
        for (int i = 0; i < 6; i++)
            cr_expect_eq(seen[i], 1, "epoch %d: young image %d seen %d times", epoch, i, seen[i]);
    }
    loader_free(l);
    free(a);
    free(b);
    for (int i = 0; i < 6; i++)
        image_free(&yi[i]);
    for (int i = 0; i < 4; i++)
        image_free(&oi[i]);
    face_list_free(&y);
    face_list_free(&o);
}

Test(dataset, loader_iterations_and_errors)
{
    FaceList y, o;
    face_list(&y, "young", 6, 0);
    face_list(&o, "old", 4, 0);
    Err err;
    Loader *l = loader_create(&y.l, &o.l, 16, 4, NULL, 1, 0, 0, &err);
    cr_assert_not_null(l, "%s", err.msg);
    cr_expect_eq(loader_iterations_per_epoch(l), 1, "6 / 4, the partial batch dropped");
    loader_free(l); // before any batch was taken
    cr_expect_null(loader_create(&y.l, &o.l, 16, 7, NULL, 1, 0, 0, &err));
    cr_expect_not_null(strstr(err.msg, "batch 7"), "%s", err.msg);
    ImageList empty = {0};
    cr_expect_null(loader_create(&y.l, &empty, 16, 1, NULL, 1, 0, 0, &err));
    cr_expect_null(loader_create(&y.l, &o.l, 0, 1, NULL, 1, 0, 0, &err));

    // A file that vanished: the loader reports it, naming it, and keeps reporting it.
    char *saved = y.paths[0];
    y.paths[0] = "/nonexistent/20_0_0_gone.jpg";
    ImageList one = {.paths = y.paths, .ages = y.ages, .count = 1};
    l = loader_create(&one, &o.l, 16, 1, NULL, 1, 0, 0, &err);
    cr_assert_not_null(l, "%s", err.msg);
    float a[3 * 16 * 16], b[3 * 16 * 16];
    cr_expect_neq(loader_next(l, a, b, &err), 0);
    cr_expect_not_null(strstr(err.msg, "/nonexistent/20_0_0_gone.jpg"), "%s", err.msg);
    cr_expect_neq(loader_next(l, a, b, &err), 0);
    loader_free(l);
    y.paths[0] = saved;

    // Stopping mid-epoch with the ring full.
    l = loader_create(&y.l, &o.l, 16, 1, NULL, 1, 0, 0, &err);
    cr_assert_not_null(l, "%s", err.msg);
    cr_assert_eq(loader_next(l, a, b, &err), 0, "%s", err.msg);
    usleep(100000);
    loader_free(l);
    face_list_free(&y);
    face_list_free(&o);
}

// ---------------------------------------------------------------------------------------------
// Augmentation

// An image whose red channel is x and green channel y, so a crop tells where it came from.
static void coord_image(Image *img, int w, int h)
{
    Err err;
    cr_assert_eq(image_alloc(img, w, h, &err), 0);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = img->rgb + 3 * ((size_t)y * w + x);
            p[0] = (uint8_t)x;
            p[1] = (uint8_t)y;
            p[2] = 77;
        }
}

static int level(float v)
{
    return (int)lroundf((v + 1.0f) * 127.5f);
}

// Checks that CHW is a (possibly flipped) SIZE x SIZE crop of a coord_image; returns its
// top, left and flip.
static void crop_of(const float *chw, int size, int *top, int *left, bool *flip)
{
    size_t plane = (size_t)size * size;
    *top = level(chw[plane]);
    int first = level(chw[0]), last = level(chw[size - 1]);
    *flip = first > last;
    *left = *flip ? last : first;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            size_t i = (size_t)y * size + x;
            int want_x = *flip ? *left + size - 1 - x : *left + x;
            cr_assert_eq(level(chw[i]), want_x, "(%d, %d) red", y, x);
            cr_assert_eq(level(chw[plane + i]), *top + y, "(%d, %d) green", y, x);
            cr_assert_eq(level(chw[2 * plane + i]), 77);
        }
}

Test(dataset, augment_crops_within_bounds_and_flips)
{
    // size 100: the seed resizes to int(100 * 1.12) = 112, which this image already is.
    Image img;
    coord_image(&img, 112, 112);
    float *chw = malloc(3 * 100 * 100 * sizeof(float));
    int flips = 0, tops[13] = {0}, lefts[13] = {0};
    for (uint64_t seed = 0; seed < 200; seed++) {
        Err err;
        cr_assert_eq(augment_image(&img, 100, NULL, seed, chw, &err), 0, "%s", err.msg);
        for (int i = 0; i < 3 * 100 * 100; i++)
            cr_assert(chw[i] >= -1.0f && chw[i] <= 1.0f);
        int top, left;
        bool flip;
        crop_of(chw, 100, &top, &left, &flip);
        cr_assert(top >= 0 && top <= 12, "top %d", top);
        cr_assert(left >= 0 && left <= 12, "left %d", left);
        tops[top]++;
        lefts[left]++;
        flips += flip;
    }
    cr_expect(flips > 60 && flips < 140, "%d flips of 200", flips);
    for (int k = 0; k <= 12; k++) { // every offset, including both extremes, occurs
        cr_expect_gt(tops[k], 0, "top %d never chosen", k);
        cr_expect_gt(lefts[k], 0, "left %d never chosen", k);
    }
    // The choice is a function of the seed alone.
    float *again = malloc(3 * 100 * 100 * sizeof(float));
    Err err;
    cr_assert_eq(augment_image(&img, 100, NULL, 17, chw, &err), 0);
    cr_assert_eq(augment_image(&img, 100, NULL, 17, again, &err), 0);
    cr_expect_eq(memcmp(chw, again, 3 * 100 * 100 * sizeof(float)), 0);
    free(again);
    free(chw);
    image_free(&img);
}

Test(dataset, augment_non_square_keeps_aspect)
{
    // 112 x 168 (w x h): the shorter side is already 112, so the crop moves 0..12 across and
    // 0..68 down.
    Image img;
    coord_image(&img, 112, 168);
    float *chw = malloc(3 * 100 * 100 * sizeof(float));
    int max_top = 0;
    for (uint64_t seed = 0; seed < 100; seed++) {
        Err err;
        cr_assert_eq(augment_image(&img, 100, NULL, seed, chw, &err), 0, "%s", err.msg);
        int top, left;
        bool flip;
        crop_of(chw, 100, &top, &left, &flip);
        cr_assert(top >= 0 && top <= 68, "top %d", top);
        cr_assert(left >= 0 && left <= 12, "left %d", left);
        max_top = top > max_top ? top : max_top;
    }
    cr_expect_gt(max_top, 12, "crops reach below a square's range");
    image_free(&img);

    // A wide source: 300 x 200 becomes 168 x 112 before the crop. A horizontal ramp over
    // 0..255 then spans at most 100 / 168 of the range in a crop, a square resize would span
    // 100 / 112.
    Err err;
    cr_assert_eq(image_alloc(&img, 300, 200, &err), 0);
    for (int y = 0; y < 200; y++)
        for (int x = 0; x < 300; x++)
            memset(img.rgb + 3 * ((size_t)y * 300 + x), (int)(x * 255 / 299), 3);
    cr_assert_eq(augment_image(&img, 100, NULL, 3, chw, &err), 0, "%s", err.msg);
    int span = abs(level(chw[99]) - level(chw[0]));
    cr_expect(span > 140 && span < 160, "ramp span %d (expected about 255 * 99 / 167)", span);
    free(chw);
    image_free(&img);
}

Test(dataset, augment_real_face)
{
    char p[PATH_MAX];
    test_need_face("young", NULL, 0, p);
    Image img;
    Err err;
    cr_assert_eq(image_load(p, &img, &err), 0, "%s", err.msg);
    float *a = malloc(3 * 128 * 128 * sizeof(float)), *b = malloc(3 * 128 * 128 * sizeof(float));
    cr_assert_eq(augment_image(&img, 128, NULL, 1, a, &err), 0, "%s", err.msg);
    cr_assert_eq(augment_image(&img, 128, NULL, 2, b, &err), 0, "%s", err.msg);
    for (int i = 0; i < 3 * 128 * 128; i++)
        cr_assert(a[i] >= -1.0f && a[i] <= 1.0f);
    cr_expect_neq(memcmp(a, b, 3 * 128 * 128 * sizeof(float)), 0);
    cr_expect_neq(augment_image(&img, 0, NULL, 1, a, &err), 0);
    free(a);
    free(b);
    image_free(&img);
}
