// The One Euro filter on synthetic landmark tracks (filter/one_euro.h): a still face with
// detector-like jitter is held still, a moving face is followed with little lag, a jump is
// caught up with in a few frames.
#include <criterion/criterion.h>
#include <math.h>

#include "core/base/rng.h"
#include "filter/one_euro.h"

#define N 136 // 68 points
#define DT (1.0f / 30.0f)
#define SIZE 100.0f // face size, px

// The true shape at time t: a fixed layout moved by (shift, 0).
static void shape(float shift, float *x)
{
    for (int i = 0; i < N / 2; i++) {
        x[2 * i] = 200.0f + 40.0f * cosf((float)i) + shift;
        x[2 * i + 1] = 150.0f + 50.0f * sinf(1.7f * (float)i);
    }
}

// Mean distance of the filtered points from the truth, and their frame-to-frame movement,
// over frames [from, to) of a track moving by `speed` px per frame with +-jitter px noise.
static void run(float speed, float jitter, int from, int to, double *error, double *motion)
{
    OneEuroParams p = one_euro_default();
    static OneEuro f;
    one_euro_init(&f, &p, N);
    Rng r;
    rng_seed(&r, 3);
    float x[N], truth[N], prev[N];
    *error = *motion = 0;
    for (int t = 0; t < to; t++) {
        shape(speed * (float)t, truth);
        for (int i = 0; i < N; i++)
            x[i] = truth[i] + rng_range(&r, -jitter, jitter);
        one_euro_step(&f, x, DT, SIZE);
        if (t >= from) {
            for (int i = 0; i < N; i++) {
                *error += fabsf(x[i] - truth[i]) / (to - from) / N;
                *motion += fabsf(x[i] - prev[i] - speed * (i % 2 == 0)) / (to - from) / N;
            }
        }
        for (int i = 0; i < N; i++)
            prev[i] = x[i];
    }
}

Test(one_euro, holds_a_still_face_still)
{
    double raw_error, raw_motion, error, motion;
    // Without filtering, +-2 px uniform noise: mean error 1 px, mean frame-to-frame motion ~1.3.
    run(0.0f, 2.0f, 30, 300, &error, &motion);
    raw_error = 1.0, raw_motion = 4.0 / 3.0;
    cr_log_info("still face, +-2 px jitter: error %.3f px, motion %.3f px per frame", error,
                motion);
    cr_expect_lt(motion, raw_motion / 5, "the points still move %.3f px per frame", motion);
    cr_expect_lt(error, raw_error / 2, "error %.3f px", error);
}

Test(one_euro, follows_a_moving_face)
{
    double error, motion;
    // One face size per second (3.3 px per frame) with the same jitter: lag stays small.
    run(SIZE / 30.0f, 2.0f, 30, 120, &error, &motion);
    cr_log_info("moving face: error %.3f px", error);
    cr_expect_lt(error, 0.04 * SIZE, "lag %.3f px behind a face moving 1 size per second", error);
}

Test(one_euro, catches_up_after_a_jump)
{
    OneEuroParams p = one_euro_default();
    static OneEuro f;
    one_euro_init(&f, &p, N);
    float x[N], truth[N];
    for (int t = 0; t < 30; t++) {
        shape(0.0f, x);
        one_euro_step(&f, x, DT, SIZE);
    }
    int frames = 0;
    for (; frames < 30; frames++) {
        shape(0.3f * SIZE, truth); // the face jumped by 0.3 of its size
        for (int i = 0; i < N; i++)
            x[i] = truth[i];
        one_euro_step(&f, x, DT, SIZE);
        if (fabsf(x[0] - truth[0]) < 0.02f * SIZE)
            break;
    }
    cr_expect_leq(frames, 6, "within 2%% of the face after %d frames", frames + 1);
}

Test(one_euro, first_sample_passes_through)
{
    OneEuroParams p = one_euro_default();
    OneEuro f;
    one_euro_init(&f, &p, 4);
    float x[4] = {1, 2, 3, 4};
    one_euro_step(&f, x, DT, SIZE);
    for (int i = 0; i < 4; i++)
        cr_expect_eq(x[i], (float)(i + 1));
}
