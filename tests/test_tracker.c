// Face tracking: jitter removed on a still face, real motion followed, faces kept through missed
// detections and dropped after keep_frames, stable ids, max_faces, false detections never shown.
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "core/base/rng.h"
#include "filter/tracker.h"

static Tracker *make(const TrackerOptions *o)
{
    Err err = {{0}};
    Tracker *t = tracker_create(o, &err);
    cr_assert_not_null(t, "tracker_create: %s", err.msg);
    return t;
}

static FaceRect noisy(Rng *r, float x, float y, float w, float h, float amp)
{
    return (FaceRect){x + rng_range(r, -amp, amp), y + rng_range(r, -amp, amp),
                      w + rng_range(r, -amp, amp), h + rng_range(r, -amp, amp)};
}

static float cx(FaceRect b)
{
    return b.x + 0.5f * b.w;
}
static float cy(FaceRect b)
{
    return b.y + 0.5f * b.h;
}

// The one reported face (asserts there is exactly one).
static TrackedFace only_face(const Tracker *t)
{
    TrackedFace f[4];
    int n = tracker_faces(t, f, 4);
    cr_assert_eq(n, 1, "expected one face, got %d", n);
    return f[0];
}

static double stddev(const double *v, int n)
{
    double m = 0.0, s = 0.0;
    for (int i = 0; i < n; i++)
        m += v[i];
    m /= n;
    for (int i = 0; i < n; i++)
        s += (v[i] - m) * (v[i] - m);
    return sqrt(s / n);
}

Test(tracker, iou)
{
    FaceRect a = {0, 0, 10, 10}, b = {5, 0, 10, 10}, c = {20, 20, 5, 5}, e = {0, 0, 0, 10};
    cr_expect_float_eq(face_rect_iou(a, a), 1.0f, 1e-6f);
    cr_expect_float_eq(face_rect_iou(a, b), 50.0f / 150.0f, 1e-6f);
    cr_expect_eq(face_rect_iou(a, c), 0.0f);
    cr_expect_eq(face_rect_iou(a, e), 0.0f);
}

Test(tracker, still_face_jitter_is_removed)
{
    Tracker *t = make(NULL);
    Rng r;
    rng_seed(&r, 7);
    enum { FRAMES = 400, SETTLE = 40 };
    double det_x[FRAMES], det_y[FRAMES], box_x[FRAMES], box_y[FRAMES], box_w[FRAMES];
    float prev_x = 0, prev_y = 0, max_step = 0;
    for (int f = 0; f < FRAMES; f++) {
        FaceRect d = noisy(&r, 200, 150, 80, 80, 2.0f);
        det_x[f] = cx(d);
        det_y[f] = cy(d);
        tracker_update(t, &d, 1);
        if (f == 0) {
            cr_expect_eq(tracker_faces(t, NULL, 0), 0, "a new track is reported after min_hits");
            continue;
        }
        TrackedFace face = only_face(t);
        cr_assert_eq(face.id, 1);
        box_x[f] = cx(face.box);
        box_y[f] = cy(face.box);
        box_w[f] = face.box.w;
        if (f > SETTLE)
            max_step = fmaxf(max_step, hypotf(box_x[f] - prev_x, box_y[f] - prev_y));
        prev_x = box_x[f];
        prev_y = box_y[f];
    }
    int m = FRAMES - SETTLE;
    double nx = stddev(det_x + SETTLE, m), ny = stddev(det_y + SETTLE, m);
    double sx = stddev(box_x + SETTLE, m), sy = stddev(box_y + SETTLE, m);
    double sw = stddev(box_w + SETTLE, m);
    cr_expect_lt(max_step, 0.5f, "box moves %.3f px in a frame on a still face", max_step);
    cr_expect_gt(nx / sx, 4.0, "x: noise std %.3f, smoothed %.3f", nx, sx);
    cr_expect_gt(ny / sy, 4.0, "y: noise std %.3f, smoothed %.3f", ny, sy);
    cr_expect_lt(sw, 2.0 / sqrt(3.0) / 4.0, "width std %.3f", sw);
    cr_expect_lt(fabs(box_x[FRAMES - 1] - 240.0), 1.0);
    cr_expect_lt(fabs(box_y[FRAMES - 1] - 190.0), 1.0);
    tracker_free(t);
}

// A face moving at 5 px/frame (with jitter) is followed within a quarter of its width, then
// settles when it stops.
static void follow_motion(int detect_every, float max_lag_frac)
{
    Tracker *t = make(NULL);
    Rng r;
    rng_seed(&r, 11);
    const float size = 80.0f, speed = 5.0f;
    float worst = 0.0f;
    for (int f = 0; f < 160; f++) {
        float x = 100.0f + speed * (float)(f < 100 ? f : 100);
        if (f % detect_every == 0) {
            FaceRect d = noisy(&r, x, 200, size, size, 2.0f);
            tracker_update(t, &d, 1);
        } else {
            tracker_carry(t);
        }
        if (f < 2 * detect_every)
            continue;
        TrackedFace face = only_face(t);
        cr_assert_eq(face.id, 1, "frame %d", f);
        float lag = fabsf(cx(face.box) - (x + 0.5f * size));
        if (f >= 5 * detect_every && f < 100)
            worst = fmaxf(worst, lag);
        if (f >= 150)
            cr_expect_lt(lag, 2.5f, "frame %d: %.2f px off after stopping", f, lag);
    }
    cr_expect_lt(worst, max_lag_frac * size, "every %d frames: lag %.2f px", detect_every, worst);
    tracker_free(t);
}

Test(tracker, moving_face_is_followed)
{
    follow_motion(1, 0.25f);
}
Test(tracker, moving_face_is_followed_between_detections)
{
    follow_motion(3, 0.25f);
    follow_motion(5, 0.25f);
}

// A real jump (the face moved a third of its size) is taken almost at once; what is left inside
// the dead band then goes at the base rate.
Test(tracker, jump_is_followed_quickly)
{
    Tracker *t = make(NULL);
    for (int f = 0; f < 60; f++) {
        FaceRect d = {f < 10 ? 100.0f : 130.0f, 100, 90, 90};
        tracker_update(t, &d, 1);
        if (f == 0)
            continue;
        float x = only_face(t).box.x;
        if (f == 10)
            cr_expect_gt(x, 120.0f, "x %.2f right after the jump", x);
        if (f == 12)
            cr_expect_lt(fabsf(x - 130.0f), 1.5f, "x %.2f two frames later", x);
        if (f >= 10)
            cr_expect_leq(x, 130.0f, "no overshoot");
    }
    cr_expect_lt(fabsf(only_face(t).box.x - 130.0f), 0.5f);
    tracker_free(t);
}

// Detection rounds with the face missed in the middle: MISS empty rounds, then the face again.
static int survives_misses(int misses, int keep, int *id_after)
{
    TrackerOptions o = tracker_default_options();
    o.keep_frames = keep;
    Tracker *t = make(&o);
    FaceRect d = {300, 100, 100, 100};
    for (int f = 0; f < 10; f++)
        tracker_update(t, &d, 1);
    int alive = 1;
    for (int m = 1; m <= misses; m++) {
        tracker_update(t, NULL, 0);
        TrackedFace face;
        int n = tracker_faces(t, &face, 1);
        if (n == 1) {
            cr_expect_eq(face.misses, m);
            cr_expect_float_eq(face.confidence, 1.0f - (float)m / (float)(keep + 1), 1e-6f);
            cr_expect_lt(fabsf(face.box.x - 300.0f), 0.01f, "a still face stays put when missed");
        }
        alive = n == 1;
    }
    tracker_update(t, &d, 1);
    TrackedFace face;
    *id_after = tracker_faces(t, &face, 1) == 1 ? face.id : -1;
    tracker_free(t);
    return alive;
}

Test(tracker, missed_face_survives_keep_frames)
{
    int id;
    cr_expect(survives_misses(3, 5, &id));
    cr_expect_eq(id, 1, "the same track picks the face up again");
    cr_expect(survives_misses(5, 5, &id));
    cr_expect_eq(id, 1);
    cr_expect(survives_misses(2, 2, &id));
    cr_expect_eq(id, 1);
}

Test(tracker, missed_face_dies_after_keep_frames)
{
    int id;
    cr_expect_not(survives_misses(6, 5, &id));
    cr_expect_eq(id, -1, "a new track is not reported before its second detection");
    cr_expect_not(survives_misses(1, 0, &id));
}

// Frames without detection (tracker_carry) do not count as misses.
Test(tracker, carry_is_not_a_miss)
{
    Tracker *t = make(NULL);
    FaceRect d = {50, 60, 70, 70};
    tracker_update(t, &d, 1);
    tracker_update(t, &d, 1);
    for (int f = 0; f < 100; f++)
        tracker_carry(t);
    TrackedFace face = only_face(t);
    cr_expect_eq(face.misses, 0);
    cr_expect_float_eq(face.box.x, 50.0f, 1e-4f);
    cr_expect_float_eq(face.box.y, 60.0f, 1e-4f);
    tracker_free(t);
}

// Between detections a moving box keeps moving, and the extrapolation dies out when detection
// stops altogether (no box flying off).
Test(tracker, carry_extrapolates_with_damping)
{
    Tracker *t = make(NULL);
    for (int f = 0; f < 40; f++) {
        FaceRect d = {100.0f + 4.0f * (float)f, 100, 80, 80};
        tracker_update(t, &d, 1);
    }
    float x0 = only_face(t).box.x;
    tracker_carry(t);
    float x1 = only_face(t).box.x;
    cr_expect_gt(x1 - x0, 2.0f, "the box moves on between detections (%.2f)", x1 - x0);
    for (int f = 0; f < 200; f++)
        tracker_carry(t);
    float x2 = only_face(t).box.x;
    cr_expect_lt(x2 - x0, 4.0f * 10.0f, "damped extrapolation stays bounded (%.2f)", x2 - x0);
    tracker_free(t);
}

Test(tracker, two_faces_keep_their_ids)
{
    Tracker *t = make(NULL);
    Rng r;
    rng_seed(&r, 3);
    for (int f = 0; f < 50; f++) {
        FaceRect d[2] = {noisy(&r, 100, 100, 90, 90, 2.0f), noisy(&r, 300, 120, 70, 70, 2.0f)};
        if (f % 2) { // order of detections must not matter
            FaceRect tmp = d[0];
            d[0] = d[1];
            d[1] = tmp;
        }
        tracker_update(t, d, 2);
        if (f == 0)
            continue;
        TrackedFace faces[4];
        cr_assert_eq(tracker_faces(t, faces, 4), 2);
        for (int i = 0; i < 2; i++) {
            int left = cx(faces[i].box) < 200.0f;
            cr_expect_eq(faces[i].id, left ? 1 : 2, "frame %d: face at x %.1f has id %d", f,
                         cx(faces[i].box), faces[i].id);
        }
    }
    tracker_free(t);
}

// Two faces moving towards each other pass with overlapping boxes; each keeps its id.
Test(tracker, crossing_faces_keep_their_ids)
{
    Tracker *t = make(NULL);
    Rng r;
    rng_seed(&r, 5);
    const float size = 80.0f;
    for (int f = 0; f < 60; f++) {
        float xa = 100.0f + 5.0f * (float)f, xb = 400.0f - 5.0f * (float)f;
        FaceRect d[2] = {noisy(&r, xa, 100, size, size, 1.5f),
                         noisy(&r, xb, 100 + 0.6f * size, size, size, 1.5f)};
        tracker_update(t, d, 2);
        if (f < 5)
            continue;
        TrackedFace faces[4];
        cr_assert_eq(tracker_faces(t, faces, 4), 2, "frame %d", f);
        for (int i = 0; i < 2; i++) {
            int upper = cy(faces[i].box) < 100.0f + 0.8f * size;
            cr_expect_eq(faces[i].id, upper ? 1 : 2, "frame %d", f);
            float want = upper ? xa : xb;
            cr_expect_lt(fabsf(faces[i].box.x - want), 0.25f * size, "frame %d", f);
        }
    }
    tracker_free(t);
}

Test(tracker, max_faces_keeps_the_largest)
{
    TrackerOptions o = tracker_default_options();
    o.max_faces = 3;
    o.min_hits = 1;
    Tracker *t = make(&o);
    FaceRect d[5];
    for (int i = 0; i < 5; i++)
        d[i] = (FaceRect){10.0f + 150.0f * (float)i, 50, 40.0f + 10.0f * (float)((i * 3) % 5),
                          40.0f + 10.0f * (float)((i * 3) % 5)};
    // widths: 40, 70, 60, 50, 80 -> the three largest are d[4], d[1], d[2]
    for (int f = 0; f < 3; f++) {
        tracker_update(t, d, 5);
        TrackedFace faces[8];
        cr_assert_eq(tracker_faces(t, faces, 8), 3);
        float ws[3] = {80, 70, 60};
        for (int i = 0; i < 3; i++) {
            cr_expect_eq(faces[i].id, i + 1);
            cr_expect_float_eq(faces[i].box.w, ws[i], 1e-3f);
        }
    }
    TrackedFace one;
    cr_expect_eq(tracker_faces(t, &one, 1), 3, "the count is the total even when max is smaller");
    tracker_free(t);
}

Test(tracker, one_off_false_detection_never_shows)
{
    Tracker *t = make(NULL);
    FaceRect face = {100, 100, 80, 80}, ghost = {400, 300, 50, 50};
    FaceRect both[2] = {face, ghost};
    tracker_update(t, &face, 1);
    tracker_update(t, &face, 1);
    tracker_update(t, both, 2);
    cr_expect_eq(only_face(t).id, 1);
    tracker_update(t, &face, 1);
    tracker_update(t, &face, 1);
    cr_expect_eq(only_face(t).id, 1);

    TrackerOptions o = tracker_default_options();
    o.min_hits = 1;
    Tracker *u = make(&o);
    tracker_update(u, &face, 1);
    cr_expect_eq(only_face(u).id, 1, "min_hits 1 reports at once");
    tracker_free(u);
    tracker_free(t);
}

Test(tracker, duplicate_detection_starts_no_track)
{
    TrackerOptions o = tracker_default_options();
    o.min_hits = 1;
    Tracker *t = make(&o);
    FaceRect d[2] = {{100, 100, 80, 80}, {104, 102, 76, 78}};
    tracker_update(t, d, 1);
    tracker_update(t, d, 2);
    cr_expect_eq(tracker_faces(t, NULL, 0), 1);
    tracker_free(t);
}

Test(tracker, bad_detections_are_ignored)
{
    TrackerOptions o = tracker_default_options();
    o.min_hits = 1;
    Tracker *t = make(&o);
    FaceRect d[4] = {{NAN, 0, 10, 10}, {0, 0, 0, 10}, {0, 0, 10, -1}, {0, INFINITY, 10, 10}};
    tracker_update(t, d, 4);
    cr_expect_eq(tracker_faces(t, NULL, 0), 0);
    tracker_update(t, NULL, 3);
    cr_expect_eq(tracker_faces(t, NULL, 0), 0);
    tracker_free(t);
}

Test(tracker, bad_options_are_refused)
{
    TrackerOptions bad[6];
    for (int i = 0; i < 6; i++)
        bad[i] = tracker_default_options();
    bad[0].max_faces = 0;
    bad[1].keep_frames = -1;
    bad[2].match_iou = 0.0f;
    bad[3].smoothing = 1.5f;
    bad[4].response = 0.0f;
    bad[5].min_hits = 0;
    for (int i = 0; i < 6; i++) {
        Err err = {{0}};
        cr_expect_null(tracker_create(&bad[i], &err), "options %d", i);
        cr_expect(strstr(err.msg, "tracker:") != NULL, "options %d: '%s'", i, err.msg);
    }
    tracker_free(NULL);
}
