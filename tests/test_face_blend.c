// Crop geometry and extraction (edges replicated, area filtering when downscaling) and the blend
// back (no change where the generator changed nothing, bit-identical pixels outside the mask,
// the change at full size at the centre and fading to 0 at the edge, colour matching), and one
// real face blended back, saved as a PNG to look at when AGESHIFT_BLEND_PNG names a path.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/rng.h"
#include "faces.h"
#include "filter/face_blend.h"
#include "media/image_io.h"

static Image make_image(int w, int h)
{
    Image img;
    Err err = {{0}};
    cr_assert_eq(image_alloc(&img, w, h, &err), 0, "%s", err.msg);
    return img;
}

static uint8_t *px(Image *img, int x, int y)
{
    return img->rgb + ((size_t)y * img->w + x) * 3;
}

static void fill_random(Image *img, unsigned seed)
{
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < (size_t)img->w * img->h * 3; i++)
        img->rgb[i] = (uint8_t)rng_below(&r, 256);
}

// A smooth image with some texture: different per channel, values well inside 0..255.
static void fill_smooth(Image *img)
{
    for (int y = 0; y < img->h; y++)
        for (int x = 0; x < img->w; x++)
            for (int c = 0; c < 3; c++)
                px(img, x, y)[c] =
                    (uint8_t)(110 + 50 * sinf(0.031f * x + 0.7f * c) * cosf(0.023f * y - 0.3f * c) +
                              8 * ((x / 3 + y / 5 + c) % 2));
}

static float *crop(const Image *frame, CropSquare c, int size)
{
    float *chw = malloc((size_t)3 * size * size * sizeof *chw);
    cr_assert_not_null(chw);
    Err err = {{0}};
    cr_assert_eq(crop_extract(frame, crop_square_transform(c, size), size, chw, &err), 0, "%s",
                 err.msg);
    return chw;
}

static float *copy_planes(const float *src, int size)
{
    size_t n = (size_t)3 * size * size;
    float *dst = malloc(n * sizeof *dst);
    cr_assert_not_null(dst);
    memcpy(dst, src, n * sizeof *dst);
    return dst;
}

// Blends under the default ellipse mask, as the filter did before landmarks.
static void blend(Image *frame, CropSquare c, const float *orig, const float *gen, int size,
                  const BlendParams *p)
{
    Err err = {{0}};
    EllipseMask e = ellipse_mask_default();
    float *mask = malloc((size_t)size * size * sizeof *mask);
    cr_assert_not_null(mask);
    ellipse_mask_image(&e, size, mask);
    cr_assert_eq(face_blend(frame, crop_square_transform(c, size), orig, gen, mask, size, p, &err),
                 0, "%s", err.msg);
    free(mask);
}

static void blend_at(Image *frame, CropSquare c, const float *orig, const float *gen, int size,
                     float strength)
{
    BlendParams p = blend_params_default(strength);
    blend(frame, c, orig, gen, size, &p);
}

Test(crop, geometry)
{
    FaceRect f = {100, 50, 80, 60};
    CropSquare c = crop_around_face(f, 1.6f, 0.05f);
    cr_expect_float_eq(c.size, 128.0f, 1e-4f);
    cr_expect_float_eq(c.x + 0.5f * c.size, 140.0f, 1e-4f, "centred on the box horizontally");
    cr_expect_float_eq(c.y + 0.5f * c.size, 80.0f + 0.05f * 128.0f, 1e-4f, "moved down by dy");
    CropSquare d = crop_around_face((FaceRect){10, 20, 30, 90}, 2.0f, 0.0f);
    cr_expect_float_eq(d.size, 180.0f, 1e-4f, "the side follows the larger of w and h");
    cr_expect_float_eq(d.x, 25.0f - 90.0f, 1e-4f);
    cr_expect_float_eq(d.y, 65.0f - 90.0f, 1e-4f);
    CropSquare e = crop_around_face((FaceRect){0, 0, 100, 100}, 1.0f, -0.1f);
    cr_expect_float_eq(e.y, -10.0f, 1e-4f, "a negative dy moves up");
    cr_expect_float_eq(crop_around_face(f, CROP_SCALE, CROP_DY).size, CROP_SCALE * 80.0f, 1e-4f);
}

// At one source pixel per output pixel, aligned to the pixel grid, sampling is exact.
Test(crop, aligned_one_to_one_is_exact)
{
    Image img = make_image(40, 30);
    fill_random(&img, 1);
    float *chw = crop(&img, (CropSquare){5, 7, 20}, 20);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 20; y++)
            for (int x = 0; x < 20; x++)
                cr_assert_float_eq(chw[(c * 20 + y) * 20 + x],
                                   px(&img, 5 + x, 7 + y)[c] / 127.5f - 1.0f, 1e-5f, "(%d, %d, %d)",
                                   c, y, x);
    free(chw);
    image_free(&img);
}

Test(crop, constant_image_gives_constant_output)
{
    Image img = make_image(300, 200);
    for (size_t i = 0; i < (size_t)300 * 200; i++) {
        img.rgb[3 * i] = 200;
        img.rgb[3 * i + 1] = 30;
        img.rgb[3 * i + 2] = 128;
    }
    CropSquare squares[] = {{20.3f, 10.7f, 150}, {-80, -50, 400}, {250, 150, 33.3f}, {1000, 0, 64}};
    int sizes[] = {64, 128, 100, 17};
    for (int s = 0; s < 4; s++) {
        float *chw = crop(&img, squares[s], sizes[s]);
        size_t plane = (size_t)sizes[s] * sizes[s];
        for (size_t i = 0; i < plane; i++) {
            cr_assert_float_eq(chw[i], 200 / 127.5f - 1.0f, 1e-5f);
            cr_assert_float_eq(chw[plane + i], 30 / 127.5f - 1.0f, 1e-5f);
            cr_assert_float_eq(chw[2 * plane + i], 128 / 127.5f - 1.0f, 1e-5f);
        }
        free(chw);
    }
    image_free(&img);
}

// Squares over the frame's edges read the edge pixels (replicated); ASan checks no read strays.
Test(crop, outside_the_frame_replicates_edges)
{
    const int W = 60, H = 40;
    Image img = make_image(W, H);
    fill_random(&img, 2);
    // Wholly left of the frame: every output pixel is column 0 of its row.
    float *chw = crop(&img, (CropSquare){-100, 10, 25}, 25);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 25; y++)
            for (int x = 0; x < 25; x++)
                cr_assert_float_eq(chw[(c * 25 + y) * 25 + x],
                                   px(&img, 0, 10 + y)[c] / 127.5f - 1.0f, 1e-5f);
    free(chw);
    // Over the bottom-right corner: past the edges, the last column / row / corner pixel.
    chw = crop(&img, (CropSquare){W - 10, H - 10, 30}, 30);
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 30; y++)
            for (int x = 0; x < 30; x++) {
                int sx = W - 10 + x < W ? W - 10 + x : W - 1;
                int sy = H - 10 + y < H ? H - 10 + y : H - 1;
                cr_assert_float_eq(chw[(c * 30 + y) * 30 + x], px(&img, sx, sy)[c] / 127.5f - 1.0f,
                                   1e-5f, "(%d, %d, %d)", c, y, x);
            }
    free(chw);
    // Far outside and much larger than the frame, downscaled: the filter's taps all clamp.
    chw = crop(&img, (CropSquare){-5000, -3000, 9000}, 64);
    for (int i = 0; i < 3 * 64 * 64; i++)
        cr_assert(chw[i] >= -1.0f && chw[i] <= 1.0f);
    free(chw);
    image_free(&img);
}

// A one-pixel checkerboard downscaled by 2-4.3x averages to grey (a point-sampling or plain
// bilinear resize would give black and white).
Test(crop, downscaled_checkerboard_is_grey)
{
    Image img = make_image(500, 500);
    for (int y = 0; y < 500; y++)
        for (int x = 0; x < 500; x++)
            memset(px(&img, x, y), (x + y) % 2 ? 255 : 0, 3);
    float scales[] = {2.0f, 2.37f, 3.0f, 3.5f, 4.3f};
    for (int s = 0; s < 5; s++) {
        int out = 100;
        CropSquare c = {13.4f, 21.9f, scales[s] * (float)out};
        float *chw = crop(&img, c, out);
        float worst = 0.0f;
        for (int i = 0; i < 3 * out * out; i++)
            worst = fmaxf(worst, fabsf(chw[i] - (127.5f / 127.5f - 1.0f)));
        cr_expect_lt(worst * 127.5f, 1.0f, "scale %.2f: %.2f levels off grey", scales[s],
                     worst * 127.5f);
        free(chw);
    }
    image_free(&img);
}

// Downscaling a linear ramp keeps it linear and in place: output pixel u has the mean of its
// footprint (the filter is symmetric and does not shift the image). Within 0.1 of a level: at a
// step of 3 the frame is averaged over 2 x 2 or 3 x 3 blocks first, and a tent sampled on that
// coarser grid is symmetric only to a few hundredths.
Test(crop, downscale_is_not_shifted)
{
    Image img = make_image(256, 64);
    for (int y = 0; y < 64; y++)
        for (int x = 0; x < 256; x++)
            memset(px(&img, x, y), x, 3);
    CropSquare c = {40.25f, 10, 150};
    int out = 50;
    float *chw = crop(&img, c, out);
    float step = c.size / (float)out;
    for (int u = 0; u < out; u++) {
        float want = c.x + ((float)u + 0.5f) * step - 0.5f; // value of the ramp at that point
        float got = (chw[20 * out + u] + 1.0f) * 127.5f;
        cr_expect_float_eq(got, want, 0.1f, "u %d: %g, not %g", u, (double)got, (double)want);
    }
    free(chw);
    image_free(&img);
}

Test(crop, bad_arguments)
{
    Image img = make_image(10, 10), none = {0};
    float chw[3 * 4 * 4];
    Err err = {{0}};
    const Similarity one = {1, 0, 0, 0};
    cr_expect_lt(crop_extract(&none, one, 4, chw, &err), 0);
    cr_expect(strstr(err.msg, "no pixels"), "%s", err.msg);
    cr_expect_lt(crop_extract(&img, (Similarity){0, 0, 0, 0}, 4, chw, &err), 0);
    cr_expect_lt(crop_extract(&img, (Similarity){NAN, 0, 0, 0}, 4, chw, &err), 0);
    cr_expect_lt(crop_extract(&img, (Similarity){1e-9f, 0, 0, 0}, 4, chw, &err), 0);
    cr_expect_lt(crop_extract(&img, (Similarity){1, 0, 1e9f, 0}, 4, chw, &err), 0);
    cr_expect(strstr(err.msg, "crop transform"), "%s", err.msg);
    cr_expect_lt(crop_extract(&img, one, 0, chw, &err), 0);
    cr_expect_lt(crop_extract(&img, one, 4, NULL, &err), 0);
    image_free(&img);
}

Test(blend, ellipse_mask_shape)
{
    EllipseMask p = ellipse_mask_default();
    cr_expect_eq(ellipse_mask_at(&p, 0, 0), 1.0f);
    cr_expect_eq(ellipse_mask_at(&p, 0.5f * p.inner * p.rx, 0), 1.0f);
    for (int i = 0; i <= 100; i++) { // zero on the square's edge all round
        float t = -1.0f + 0.02f * (float)i;
        cr_expect_eq(ellipse_mask_at(&p, t, 1.0f), 0.0f);
        cr_expect_eq(ellipse_mask_at(&p, t, -1.0f), 0.0f);
        cr_expect_eq(ellipse_mask_at(&p, 1.0f, t), 0.0f);
        cr_expect_eq(ellipse_mask_at(&p, -1.0f, t), 0.0f);
    }
    float prev = 1.0f;
    for (int i = 0; i <= 100; i++) { // monotone along a diagonal
        float m = ellipse_mask_at(&p, 0.01f * (float)i, 0.01f * (float)i);
        cr_expect_leq(m, prev);
        prev = m;
    }
    cr_expect_float_eq(ellipse_mask_at(&p, p.rx * 0.5f * (1.0f + p.inner), 0), 0.5f, 1e-5f,
                       "half way at the middle of the falloff");
}

// Squares inside, over each edge, over a corner, wholly outside, and larger than the frame.
static const CropSquare squares[] = {
    {100, 60, 150},  {-60, 100, 150},    {400, 30, 150},         {200, -70, 150},
    {250, 300, 150}, {-50, -40, 120},    {420, 320, 120},        {-400, 100, 150},
    {700, 500, 90},  {-300, -300, 1200}, {150.3f, 80.7f, 77.7f},
};

// The generator changed nothing: the frame stays bit-identical, whatever the square.
Test(blend, unchanged_face_leaves_frame_identical)
{
    Image frame = make_image(500, 400), copy = make_image(500, 400);
    fill_random(&frame, 3);
    memcpy(copy.rgb, frame.rgb, (size_t)500 * 400 * 3);
    for (size_t s = 0; s < sizeof squares / sizeof squares[0]; s++) {
        float *orig = crop(&frame, squares[s], 64);
        float *gen = copy_planes(orig, 64);
        blend_at(&frame, squares[s], orig, gen, 64, 1.0f);
        BlendParams p = blend_params_default(0.37f);
        p.color_match = 0.5f;
        blend(&frame, squares[s], orig, gen, 64, &p);
        cr_assert_eq(memcmp(frame.rgb, copy.rgb, (size_t)500 * 400 * 3), 0, "square %zu", s);
        free(orig);
        free(gen);
    }
    image_free(&frame);
    image_free(&copy);
}

Test(blend, strength_zero_changes_nothing)
{
    Image frame = make_image(300, 300), copy = make_image(300, 300);
    fill_random(&frame, 4);
    memcpy(copy.rgb, frame.rgb, (size_t)300 * 300 * 3);
    CropSquare c = {50, 50, 200};
    float *orig = crop(&frame, c, 32), *gen = malloc(3 * 32 * 32 * sizeof(float));
    for (int i = 0; i < 3 * 32 * 32; i++)
        gen[i] = -orig[i];
    blend_at(&frame, c, orig, gen, 32, 0.0f);
    cr_expect_eq(memcmp(frame.rgb, copy.rgb, (size_t)300 * 300 * 3), 0);
    free(orig);
    free(gen);
    image_free(&frame);
    image_free(&copy);
}

// The generator changed everything wildly: pixels outside the mask stay bit-identical (checked
// against the test's own geometry, with a margin of one model pixel at the ellipse: the mask is
// sampled bilinearly from model resolution).
Test(blend, outside_the_mask_is_bit_identical)
{
    const int W = 500, H = 400;
    Image frame = make_image(W, H), before = make_image(W, H);
    Rng r;
    rng_seed(&r, 9);
    BlendParams p = blend_params_default(1.0f);
    EllipseMask e = ellipse_mask_default();
    for (size_t s = 0; s < sizeof squares / sizeof squares[0]; s++) {
        fill_random(&frame, 100 + (unsigned)s);
        memcpy(before.rgb, frame.rgb, (size_t)W * H * 3);
        CropSquare c = squares[s];
        float *orig = crop(&frame, c, 48), *gen = malloc(3 * 48 * 48 * sizeof(float));
        for (int i = 0; i < 3 * 48 * 48; i++)
            gen[i] = rng_range(&r, -1.0f, 1.0f);
        blend(&frame, c, orig, gen, 48, &p);
        float half = 0.5f * c.size, cx = c.x + half, cy = c.y + half;
        int inside_changed = 0, outside = 0;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                float u = ((float)x + 0.5f - cx) / half / e.rx;
                float v = ((float)y + 0.5f - cy) / half / e.ry;
                int same = memcmp(px(&frame, x, y), px(&before, x, y), 3) == 0;
                float margin = 1.0f + 2.0f / 48.0f / e.rx; // a model pixel, in the ellipse's units
                if (u * u + v * v >= margin * margin) {
                    outside++;
                    cr_assert(same, "square %zu: pixel (%d, %d) outside the mask changed", s, x, y);
                } else if (!same) {
                    inside_changed++;
                }
            }
        int in_frame = c.x + c.size > 0 && c.y + c.size > 0 && c.x < W && c.y < H;
        if (in_frame)
            cr_expect_gt(inside_changed, 0, "square %zu: the face changed", s);
        else
            cr_expect_eq(outside, W * H, "square %zu: wholly outside", s);
        free(orig);
        free(gen);
    }
    image_free(&frame);
    image_free(&before);
}

// A uniform +50 from the generator (colour matching off): +50 at the centre, 0 at the square's
// edge, monotone between, and the frame's fine detail (finer than the model's pixels) kept.
Test(blend, uniform_change_fades_from_centre_to_edge)
{
    const int W = 400, H = 400;
    Image frame = make_image(W, H), before = make_image(W, H);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            memset(px(&frame, x, y), (x + y) % 2 ? 110 : 90, 3); // 1 px detail around 100
    memcpy(before.rgb, frame.rgb, (size_t)W * H * 3);
    CropSquare c = {100, 80, 240};
    float *orig = crop(&frame, c, 64), *gen = copy_planes(orig, 64);
    for (int i = 0; i < 3 * 64 * 64; i++)
        gen[i] += 50.0f / 127.5f;
    BlendParams p = blend_params_default(1.0f);
    p.color_match = 0.0f;
    blend(&frame, c, orig, gen, 64, &p);
    int cxp = 100 + 120, cyp = 80 + 120;
    for (int ch = 0; ch < 3; ch++) {
        int d = px(&frame, cxp, cyp)[ch] - px(&before, cxp, cyp)[ch];
        cr_expect_eq(d, 50, "centre: +%d", d);
        d = px(&frame, cxp + 1, cyp)[ch] - px(&before, cxp + 1, cyp)[ch];
        cr_expect_eq(d, 50, "the 1 px detail is kept: +%d", d);
    }
    // Along the four half-axes and a diagonal, from the centre to the square's edge.
    int dirs[5][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}, {1, 1}};
    for (int k = 0; k < 5; k++) {
        int prev = 50;
        for (int t = 0; t < 120; t++) {
            int x = cxp + dirs[k][0] * t, y = cyp + dirs[k][1] * t;
            int d = px(&frame, x, y)[1] - px(&before, x, y)[1];
            cr_expect_leq(d, prev, "dir %d, step %d: %d after %d", k, t, d, prev);
            cr_expect_geq(d, 0);
            prev = d;
        }
        cr_expect_eq(prev, 0, "dir %d: 0 at the square's edge", k);
    }
    free(orig);
    free(gen);
    image_free(&frame);
    image_free(&before);
}

// A generator that only tints the face: after colour matching (almost) nothing changes.
Test(blend, colour_matching_removes_a_tint)
{
    const int W = 400, H = 300;
    Image frame = make_image(W, H), before = make_image(W, H);
    fill_smooth(&frame);
    memcpy(before.rgb, frame.rgb, (size_t)W * H * 3);
    CropSquare c = {90, 40, 200};
    float *orig = crop(&frame, c, 64), *gen = copy_planes(orig, 64);
    const float tint[3] = {0.12f, -0.07f, 0.2f};
    for (int ch = 0; ch < 3; ch++)
        for (int i = 0; i < 64 * 64; i++)
            gen[ch * 64 * 64 + i] += tint[ch];
    BlendParams p = blend_params_default(1.0f);
    blend(&frame, c, orig, gen, 64, &p);
    int worst = 0;
    for (size_t i = 0; i < (size_t)W * H * 3; i++)
        worst =
            abs(frame.rgb[i] - before.rgb[i]) > worst ? abs(frame.rgb[i] - before.rgb[i]) : worst;
    cr_expect_leq(worst, 1, "a pure tint changed a pixel by %d", worst);

    // Without matching the tint shows, in full at the centre.
    memcpy(frame.rgb, before.rgb, (size_t)W * H * 3);
    p.color_match = 0.0f;
    blend(&frame, c, orig, gen, 64, &p);
    for (int ch = 0; ch < 3; ch++) {
        int d = px(&frame, 190, 140)[ch] - px(&before, 190, 140)[ch];
        cr_expect(abs(d - (int)lrintf(tint[ch] * 127.5f)) <= 1, "channel %d: %d", ch, d);
    }
    free(orig);
    free(gen);
    image_free(&frame);
    image_free(&before);
}

// Colour matching removes only the mean: a local change (a dark patch) still shows.
Test(blend, colour_matching_keeps_local_change)
{
    Image frame = make_image(300, 300);
    fill_smooth(&frame);
    CropSquare c = {50, 50, 200};
    float *orig = crop(&frame, c, 64), *gen = copy_planes(orig, 64);
    for (int ch = 0; ch < 3; ch++)
        for (int y = 28; y < 36; y++)
            for (int x = 28; x < 36; x++)
                gen[(ch * 64 + y) * 64 + x] -= 0.5f;
    uint8_t centre_before = px(&frame, 150, 150)[0];
    blend_at(&frame, c, orig, gen, 64, 1.0f);
    cr_expect_lt(px(&frame, 150, 150)[0] + 40, centre_before, "the patch darkens the centre");
    free(orig);
    free(gen);
    image_free(&frame);
}

Test(blend, bad_arguments)
{
    Image img = make_image(20, 20), none = {0};
    float planes[3 * 4 * 4] = {0}, mask[4 * 4] = {0};
    Err err = {{0}};
    Similarity t = crop_square_transform((CropSquare){0, 0, 10}, 4);
    BlendParams p = blend_params_default(1.0f);
    cr_expect_lt(face_blend(&none, t, planes, planes, mask, 4, &p, &err), 0);
    cr_expect_lt(face_blend(&img, (Similarity){-0.0f, 0, 0, 0}, planes, planes, mask, 4, &p, &err),
                 0);
    cr_expect_lt(face_blend(&img, t, planes, planes, mask, 0, &p, &err), 0);
    cr_expect_lt(face_blend(&img, t, NULL, planes, mask, 4, &p, &err), 0);
    cr_expect_lt(face_blend(&img, t, planes, planes, NULL, 4, &p, &err), 0);
    p.strength = NAN;
    cr_expect_lt(face_blend(&img, t, planes, planes, mask, 4, &p, &err), 0);
    p.strength = 1.5f;
    cr_expect_lt(face_blend(&img, t, planes, planes, mask, 4, &p, &err), 0);
    cr_expect(strstr(err.msg, "strength"), "%s", err.msg);
    p = blend_params_default(1.0f);
    p.detail = -0.1f;
    cr_expect_lt(face_blend(&img, t, planes, planes, mask, 4, &p, &err), 0);
    cr_expect(strstr(err.msg, "detail"), "%s", err.msg);
    image_free(&img);
}

// A real face in a 640x480 frame, a fake "generated" face (darker, tinted, with a texture, at
// model size 128) blended back at strength 1. Checks the mask's promise on a real picture, and
// with AGESHIFT_BLEND_PNG set saves before | after | 4x difference there to look at.
Test(blend, real_face_picture)
{
    char path[4096];
    test_need_face("young", NULL, 0, path);
    Image face = {0}, big = {0};
    Err err = {{0}};
    cr_assert_eq(image_load(path, &face, &err), 0, "%s", err.msg);
    const int W = 640, H = 480, S = 260, X0 = 190, Y0 = 100, M = 128;
    cr_assert_eq(image_resize(&face, S, S, &big, &err), 0, "%s", err.msg);
    Image frame = make_image(W, H), before = make_image(W, H);
    for (int y = 0; y < H; y++) // a plain background: a soft gradient
        for (int x = 0; x < W; x++) {
            uint8_t *p = px(&frame, x, y);
            p[0] = (uint8_t)(60 + x / 8);
            p[1] = (uint8_t)(70 + y / 6);
            p[2] = (uint8_t)(90 + (x + y) / 16);
        }
    for (int y = 0; y < S; y++)
        memcpy(px(&frame, X0, Y0 + y), big.rgb + (size_t)y * S * 3, (size_t)S * 3);
    memcpy(before.rgb, frame.rgb, (size_t)W * H * 3);

    // The detector's box that gives exactly the pasted square with the default constants.
    float side = (float)S, box = side / CROP_SCALE;
    FaceRect f = {X0 + 0.5f * side - 0.5f * box, Y0 + 0.5f * side - CROP_DY * side - 0.5f * box,
                  box, box};
    CropSquare c = crop_around_face(f, CROP_SCALE, CROP_DY);
    cr_expect_float_eq(c.x, (float)X0, 1e-3f);
    cr_expect_float_eq(c.y, (float)Y0, 1e-3f);
    float *orig = crop(&frame, c, M), *gen = copy_planes(orig, M);
    const float tint[3] = {0.15f, 0.0f, -0.1f};
    for (int ch = 0; ch < 3; ch++)
        for (int y = 0; y < M; y++)
            for (int x = 0; x < M; x++) {
                float *g = &gen[(ch * M + y) * M + x];
                float texture = 0.12f * sinf(0.9f * (float)x + 0.4f * (float)y) *
                                sinf(0.35f * (float)y - 0.2f * (float)x);
                *g = (*g + 1.0f) * 0.7f - 1.0f + texture + tint[ch];
            }
    blend_at(&frame, c, orig, gen, M, 1.0f);

    EllipseMask p = ellipse_mask_default();
    float half = 0.5f * c.size, margin = 1.0f + 2.0f / (float)M / p.rx;
    long changed = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float u = ((float)x + 0.5f - c.x - half) / half / p.rx;
            float v = ((float)y + 0.5f - c.y - half) / half / p.ry;
            int same = memcmp(px(&frame, x, y), px(&before, x, y), 3) == 0;
            if (u * u + v * v >= margin * margin)
                cr_assert(same, "pixel (%d, %d) outside the mask changed", x, y);
            changed += !same;
        }
    cr_expect_gt(changed, (long)(0.5 * 3.14 * half * half * p.rx * p.ry));

    const char *out = getenv("AGESHIFT_BLEND_PNG");
    if (out && *out) {
        Image sheet = make_image(3 * W, H);
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++)
                for (int ch = 0; ch < 3; ch++) {
                    int a = px(&before, x, y)[ch], b = px(&frame, x, y)[ch];
                    int d = 4 * abs(a - b);
                    px(&sheet, x, y)[ch] = (uint8_t)a;
                    px(&sheet, W + x, y)[ch] = (uint8_t)b;
                    px(&sheet, 2 * W + x, y)[ch] = (uint8_t)(d > 255 ? 255 : d);
                }
        cr_expect_eq(image_save(out, &sheet, &err), 0, "%s", err.msg);
        image_free(&sheet);
    }
    free(orig);
    free(gen);
    image_free(&face);
    image_free(&big);
    image_free(&frame);
    image_free(&before);
}
