// The detection passes of filter/face_find.h on real faces pasted into frames: upright, tilted
// (found only by the turned passes), several at once (each reported once), the second cascade's
// boxes mapped onto the first's framing; and the landmark check of filter/align.h that tells a
// face from a box the points merely follow.
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "faces.h"
#include "filter/align.h"
#include "filter/face_find.h"
#include "media/image_io.h"

#define FIRST "/usr/share/opencv4/lbpcascades/lbpcascade_frontalface_improved.xml"
#define SECOND "/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt.xml"
#define W 640
#define H 480

static Cascade *first, *second;
static FaceFinder *finder;

static void setup(void)
{
    Err err;
    first = cascade_load(FIRST, &err);
    cr_assert_not_null(first, "%s", err.msg);
    second = cascade_load(SECOND, &err);
    cr_assert_not_null(second, "%s", err.msg);
    finder = face_finder_create(first, second, &err);
    cr_assert_not_null(finder, "%s", err.msg);
}

static void teardown(void)
{
    face_finder_free(finder);
    cascade_free(first);
    cascade_free(second);
}

TestSuite(face_find, .init = setup, .fini = teardown, .timeout = 120);

// A young test face, grey, turned by deg about its centre and pasted centred at (cx, cy) into a
// frame of mid-grey; the face square's side in the frame is `side`.
static void paste_face(uint8_t *frame, int k, float cx, float cy, float side, float deg)
{
    char path[PATH_MAX];
    test_need_face("young", NULL, k, path);
    Image img;
    Err err;
    cr_assert_eq(image_load(path, &img, &err), 0, "%s", err.msg);
    const float a = deg * (float)M_PI / 180.0f, c = cosf(a), s = sinf(a), k_px = img.w / side;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            float u = (float)x + 0.5f - cx, v = (float)y + 0.5f - cy;
            float sx = (c * u + s * v) * k_px + 0.5f * img.w,
                  sy = (-s * u + c * v) * k_px + 0.5f * img.h;
            int ix = (int)sx, iy = (int)sy;
            if (sx < 0 || sy < 0 || ix >= img.w || iy >= img.h)
                continue;
            const uint8_t *p = img.rgb + 3 * ((size_t)iy * img.w + ix);
            frame[(size_t)y * W + x] = (uint8_t)((77 * p[0] + 150 * p[1] + 29 * p[2] + 128) >> 8);
        }
    image_free(&img);
}

static uint8_t *blank(void)
{
    uint8_t *f = malloc(W * H);
    memset(f, 128, W * H);
    return f;
}

static int find(const uint8_t *frame, unsigned passes, FaceHit *hits)
{
    Err err;
    int n = face_finder_run(finder, frame, W, H, W, 60, passes, hits, 16, &err);
    cr_assert_geq(n, 0, "%s", err.msg);
    return n;
}

static bool near(const FaceHit *h, float cx, float cy, float side)
{
    float bx = h->box.x + 0.5f * h->box.w, by = h->box.y + 0.5f * h->box.h;
    return fabsf(bx - cx) < 0.25f * side && fabsf(by - cy) < 0.25f * side;
}

Test(face_find, an_upright_face_is_found_once_by_all_passes)
{
    uint8_t *frame = blank();
    paste_face(frame, 0, 320, 240, 200, 0);
    FaceHit hits[16];
    cr_assert_eq(find(frame, FIND_ALL, hits), 1, "one face, several passes, one box");
    cr_expect(near(&hits[0], 320, 240, 200));
    cr_expect_eq(hits[0].pass, FIND_FRONTAL, "the first cascade's box is kept");
    free(frame);
}

Test(face_find, a_tilted_face_needs_the_turned_passes)
{
    uint8_t *frame = blank();
    paste_face(frame, 1, 320, 240, 200, 28);
    FaceHit hits[16];
    cr_expect_eq(find(frame, FIND_FRONTAL, hits), 0, "the upright cascade found a 28-degree tilt");
    int n = find(frame, FIND_TILTED, hits);
    cr_assert_eq(n, 1);
    cr_expect(near(&hits[0], 320, 240, 200), "box at %g,%g", hits[0].box.x, hits[0].box.y);
    free(frame);
}

Test(face_find, two_faces_two_boxes_largest_first)
{
    uint8_t *frame = blank();
    paste_face(frame, 2, 170, 240, 150, 0);
    paste_face(frame, 3, 470, 230, 190, -15);
    FaceHit hits[16];
    cr_assert_eq(find(frame, FIND_ALL, hits), 2);
    cr_expect(near(&hits[0], 470, 230, 190));
    cr_expect(near(&hits[1], 170, 240, 150));
    free(frame);
}

Test(face_find, the_second_cascades_box_is_framed_as_the_firsts)
{
    uint8_t *frame = blank();
    paste_face(frame, 4, 300, 250, 210, 0);
    FaceHit a[16], b[16];
    cr_assert_eq(find(frame, FIND_FRONTAL, a), 1);
    cr_assert_eq(find(frame, FIND_SECOND, b), 1);
    float dx = (a[0].box.x + 0.5f * a[0].box.w) - (b[0].box.x + 0.5f * b[0].box.w);
    float dy = (a[0].box.y + 0.5f * a[0].box.h) - (b[0].box.y + 0.5f * b[0].box.h);
    cr_expect_lt(hypotf(dx, dy), 0.1f * a[0].box.w, "centres %g px apart", hypotf(dx, dy));
    cr_expect_lt(fabsf(b[0].box.w / a[0].box.w - 1.0f), 0.15f, "sides %g and %g", a[0].box.w,
                 b[0].box.w);
    free(frame);
}

Test(face_find, nothing_in_an_empty_frame)
{
    uint8_t *frame = blank();
    for (int i = 0; i < W * H; i++) // a smooth gradient with a little texture
        frame[i] = (uint8_t)(60 + (i % W) / 8 + (int)((unsigned)i * 7919u % 13u));
    FaceHit hits[16];
    cr_expect_eq(find(frame, FIND_ALL, hits), 0);
    Err err;
    cr_expect_lt(face_finder_run(finder, frame, W, H, W - 1, 60, FIND_ALL, hits, 16, &err), 0);
    free(frame);
}

Test(face_find, landmarks_hold_on_to_a_face_and_follow_an_empty_box)
{
    Err err;
    LandmarkModel *lm = landmarks_load(LANDMARKS_DEFAULT_MODEL, &err);
    cr_assert_not_null(lm, "%s", err.msg);
    uint8_t *frame = blank();
    paste_face(frame, 5, 320, 240, 200, 0);
    FaceHit hits[16];
    cr_assert_eq(find(frame, FIND_FRONTAL, hits), 1);
    float on_face = landmark_box_follow(lm, frame, W, H, W, hits[0].box);
    FaceRect beside = hits[0].box;
    beside.x -= 200; // grey: nothing for the points to hold on to
    float off_face = landmark_box_follow(lm, frame, W, H, W, beside);
    cr_expect_lt(on_face, LANDMARK_FOLLOW_MAX, "on the face: %g", on_face);
    cr_expect_gt(off_face, 0.9f, "on grey: %g", off_face);
    landmarks_free(lm);
    free(frame);
}
