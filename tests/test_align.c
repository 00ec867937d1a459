// Alignment (filter/align.h) and the landmark mask (filter/face_mask.h): the similarity fit
// recovers a known transform; a crop through a rotated, scaled transform and its inverse give
// back the frame's pixels; the template is a plausible face; the mask is 1 on the face, 0 at the
// crop's border, and continuous.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "filter/align.h"
#include "filter/face_blend.h"
#include "filter/face_mask.h"

Test(align, fit_recovers_a_similarity)
{
    const Similarity t = {0.8f * cosf(0.3f), 0.8f * sinf(0.3f), 12.5f, -40.0f};
    float src[2 * ALIGN_POINTS], dst[2 * ALIGN_POINTS];
    for (int i = 0; i < ALIGN_POINTS; i++) {
        src[2 * i] = 100.0f + 300.0f * align_template[2 * i];
        src[2 * i + 1] = 50.0f + 300.0f * align_template[2 * i + 1];
        similarity_apply(t, src[2 * i], src[2 * i + 1], &dst[2 * i], &dst[2 * i + 1]);
    }
    Similarity got = similarity_fit(src, dst, ALIGN_POINTS);
    cr_expect_float_eq(got.a, t.a, 1e-5f);
    cr_expect_float_eq(got.b, t.b, 1e-5f);
    cr_expect_float_eq(got.tx, t.tx, 1e-2f);
    cr_expect_float_eq(got.ty, t.ty, 1e-2f);
    Similarity back = similarity_inverse(got);
    float x, y, u, v;
    similarity_apply(got, 321.0f, 77.0f, &x, &y);
    similarity_apply(back, x, y, &u, &v);
    cr_expect_float_eq(u, 321.0f, 1e-3f);
    cr_expect_float_eq(v, 77.0f, 1e-3f);
    cr_expect_float_eq(similarity_scale(got), 0.8f, 1e-5f);
}

Test(align, aligning_the_template_is_the_identity)
{
    float pts[2 * ALIGN_POINTS];
    for (int i = 0; i < 2 * ALIGN_POINTS; i++)
        pts[i] = 128.0f * align_template[i];
    Similarity t = align_face(pts, 128);
    cr_expect_float_eq(t.a, 1.0f, 1e-5f);
    cr_expect_float_eq(t.b, 0.0f, 1e-5f);
    cr_expect_float_eq(t.tx, 0.0f, 1e-3f);
    cr_expect_float_eq(t.ty, 0.0f, 1e-3f);
}

Test(align, template_is_a_face)
{
    const float *p = align_template;
    // Eyes (36..41 left, 42..47 right) above the nose tip (30) above the mouth (48..67) above
    // the chin (8); left features left of the right ones; all inside the crop.
    cr_expect_lt(p[2 * 36 + 1], p[2 * 30 + 1]);
    cr_expect_lt(p[2 * 30 + 1], p[2 * 51 + 1]);
    cr_expect_lt(p[2 * 57 + 1], p[2 * 8 + 1]);
    cr_expect_lt(p[2 * 36], p[2 * 45]);
    for (int i = 0; i < 2 * ALIGN_POINTS; i++)
        cr_expect(p[i] > 0.0f && p[i] < 1.0f, "template value %d: %g", i, (double)p[i]);
}

// A smooth frame cropped at one model pixel per frame pixel through a rotation, then put back
// onto a black frame through the inverse: the pixels come back within rounding.
Test(align, warp_and_inverse_return_the_pixels)
{
    enum { W = 160, H = 140, S = 96 };
    Image frame, back;
    Err err = {{0}};
    cr_assert_eq(image_alloc(&frame, W, H, &err), 0);
    cr_assert_eq(image_alloc(&back, W, H, &err), 0);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++)
                frame.rgb[((size_t)y * W + x) * 3 + c] =
                    (uint8_t)(128 + 60 * sinf(0.05f * x + c) * cosf(0.04f * y - c));
    const float angle = 0.35f;
    // Model centre (48, 48) at frame (80, 70), turned by `angle`, scale 1.
    Similarity t = {cosf(angle), sinf(angle), 0, 0};
    float cx, cy;
    similarity_apply(t, 80.0f, 70.0f, &cx, &cy);
    t.tx = 48.0f - cx, t.ty = 48.0f - cy;
    float *crop = malloc(3 * S * S * sizeof *crop), *black = malloc(3 * S * S * sizeof *black);
    float *mask = malloc(S * S * sizeof *mask);
    cr_assert_eq(crop_extract(&frame, t, S, crop, &err), 0, "%s", err.msg);
    for (int i = 0; i < 3 * S * S; i++)
        black[i] = -1.0f;
    for (int i = 0; i < S * S; i++)
        mask[i] = 1.0f;
    BlendParams p = blend_params_default(1.0f);
    p.color_match = 0.0f;
    cr_assert_eq(face_blend(&back, t, black, crop, mask, S, &p, &err), 0, "%s", err.msg);
    int worst = 0, compared = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float u, v;
            similarity_apply(t, (float)x + 0.5f, (float)y + 0.5f, &u, &v);
            if (u < 2 || v < 2 || u > S - 2 || v > S - 2)
                continue; // near the crop's edge the bilinear sample is clamped
            for (int c = 0; c < 3; c++) {
                int d = abs(back.rgb[((size_t)y * W + x) * 3 + c] -
                            frame.rgb[((size_t)y * W + x) * 3 + c]);
                worst = d > worst ? d : worst;
            }
            compared++;
        }
    cr_expect_gt(compared, S * S / 2);
    cr_expect_leq(worst, 2, "a pixel came back %d levels off", worst);
    free(crop);
    free(black);
    free(mask);
    image_free(&frame);
    image_free(&back);
}

Test(face_mask, covers_the_face_and_is_continuous)
{
    enum { S = 128 };
    float pts[2 * ALIGN_POINTS], mask[S * S], bald[S * S];
    for (int i = 0; i < 2 * ALIGN_POINTS; i++)
        pts[i] = (float)S * align_template[i];
    face_mask_landmarks(pts, S, 0.5f, mask);
    face_mask_landmarks(pts, S, 0.0f, bald);
    // Full strength on the nose, the eyes and the mouth; nothing in the corners and on the border.
    const int inner[] = {30, 36, 45, 51, 57};
    for (size_t k = 0; k < sizeof inner / sizeof inner[0]; k++) {
        int x = (int)pts[2 * inner[k]], y = (int)pts[2 * inner[k] + 1];
        cr_expect_float_eq(mask[y * S + x], 1.0f, 1e-6f, "point %d: %g", inner[k],
                           (double)mask[y * S + x]);
    }
    float steepest = 0.0f;
    for (int y = 0; y < S; y++)
        for (int x = 0; x < S; x++) {
            float m = mask[y * S + x];
            cr_assert(m >= 0.0f && m <= 1.0f);
            cr_assert(bald[y * S + x] <= m + 1e-6f, "the hair band only adds");
            if (x == 0 || y == 0 || x == S - 1 || y == S - 1)
                cr_assert_eq(m, 0.0f, "border pixel (%d, %d): %g", x, y, (double)m);
            if (x > 0)
                steepest = fmaxf(steepest, fabsf(m - mask[y * S + x - 1]));
            if (y > 0)
                steepest = fmaxf(steepest, fabsf(m - mask[(y - 1) * S + x]));
        }
    // A raised cosine over FACE_MASK_FEATHER of the crop rises at most pi / 2 per feather width;
    // where the face's ramp meets the border's (same width), their product at most twice that.
    float bound = 2.0f * 1.5708f / (FACE_MASK_FEATHER * S);
    cr_expect_leq(steepest, bound, "a step of %g between neighbours (bound %g)", (double)steepest,
                  (double)bound);
    // The hair band reaches beyond the jaw line at the side of the face (at cheek height).
    int x = (int)pts[2 * 2] - 4, y = (int)pts[2 * 2 + 1];
    cr_expect_gt(mask[y * S + x], bald[y * S + x], "(%d, %d): hair %g, bald %g", x, y,
                 (double)mask[y * S + x], (double)bald[y * S + x]);
}
