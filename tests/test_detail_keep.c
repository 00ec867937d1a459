// detail_keep: where the generator blurred the face the original's fine detail comes back, where
// it added detail or only shifted colour and shading the change passes whole, and amount scales
// between the two.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/rng.h"
#include "filter/detail_keep.h"

#define S 48
#define PLANE (S * S)

// A face-like test plane per channel: smooth shading plus fine noise (the detail).
static void make_face(float *chw)
{
    Rng r;
    rng_seed(&r, 7);
    for (int ch = 0; ch < 3; ch++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                chw[ch * PLANE + y * S + x] = 0.4f * sinf(0.11f * x + ch) * cosf(0.07f * y) +
                                              0.3f * ((float)rng_below(&r, 1000) / 1000.0f - 0.5f);
}

// A 3 x 3 box blur applied twice, edges clamped: what a generator that loses fine detail gives.
static void blur(const float *in, float *out)
{
    float tmp[PLANE], cur[PLANE];
    for (int ch = 0; ch < 3; ch++) {
        memcpy(cur, in + ch * PLANE, sizeof cur);
        for (int pass = 0; pass < 2; pass++) {
            for (int y = 0; y < S; y++)
                for (int x = 0; x < S; x++) {
                    float s = 0.0f;
                    for (int dy = -1; dy <= 1; dy++)
                        for (int dx = -1; dx <= 1; dx++) {
                            int yy = y + dy < 0 ? 0 : y + dy >= S ? S - 1 : y + dy;
                            int xx = x + dx < 0 ? 0 : x + dx >= S ? S - 1 : x + dx;
                            s += cur[yy * S + xx];
                        }
                    tmp[y * S + x] = s / 9.0f;
                }
            memcpy(cur, tmp, sizeof cur);
        }
        memcpy(out + ch * PLANE, cur, sizeof cur);
    }
}

// The change for gen, with detail kept at `amount`.
static void change_of(const float *orig, const float *gen, float amount, float *change)
{
    static float work[DETAIL_KEEP_WORK_PLANES * PLANE];
    for (int i = 0; i < 3 * PLANE; i++)
        change[i] = gen[i] - orig[i];
    detail_keep(orig, gen, S, amount, change, work);
}

static double rms(const float *a, const float *b)
{
    double s = 0.0;
    for (int i = 0; i < 3 * PLANE; i++)
        s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    return sqrt(s / (3 * PLANE));
}

static float orig[3 * PLANE], gen[3 * PLANE], change[3 * PLANE], result[3 * PLANE];

// A generator that only blurs (and darkens, a low-band change): with amount 1 most of the lost
// detail comes back, while the darkening passes.
Test(detail_keep, blurred_generator_gets_the_detail_back)
{
    make_face(orig);
    blur(orig, gen);
    for (int i = 0; i < 3 * PLANE; i++)
        gen[i] -= 0.2f;
    change_of(orig, gen, 0.0f, change);
    for (int i = 0; i < 3 * PLANE; i++)
        result[i] = orig[i] + change[i] + 0.2f;
    double lost = rms(result, orig);
    change_of(orig, gen, 1.0f, change);
    double mean = 0.0;
    for (int i = 0; i < 3 * PLANE; i++) {
        result[i] = orig[i] + change[i] + 0.2f;
        mean += change[i];
    }
    double kept = rms(result, orig);
    cr_expect_lt(kept, 0.25 * lost, "detail off by %.4f with amount 1, %.4f without", kept, lost);
    cr_expect(fabs(mean / (3 * PLANE) + 0.2) < 0.01, "the darkening passes: mean change %.4f",
              mean / (3 * PLANE));

    // Half the amount lands between.
    change_of(orig, gen, 0.5f, change);
    for (int i = 0; i < 3 * PLANE; i++)
        result[i] = orig[i] + change[i] + 0.2f;
    double half = rms(result, orig);
    cr_expect(half > kept && half < lost, "amount 0.5: %.4f, between %.4f and %.4f", half, kept,
              lost);
}

// A generator that adds fine texture of its own (wrinkles): its change is kept exactly.
Test(detail_keep, added_texture_passes_whole)
{
    make_face(orig);
    for (int ch = 0; ch < 3; ch++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                gen[ch * PLANE + y * S + x] =
                    orig[ch * PLANE + y * S + x] + 0.3f * (float)((x + y) % 2 ? 1 : -1);
    change_of(orig, gen, 1.0f, change);
    for (int i = 0; i < 3 * PLANE; i++)
        cr_assert_eq(change[i], gen[i] - orig[i], "pixel %d: %g instead of %g", i, change[i],
                     gen[i] - orig[i]);
}

// A flat original has no detail to lose: whatever the generator does passes.
Test(detail_keep, flat_original_keeps_the_change)
{
    make_face(gen);
    for (int i = 0; i < 3 * PLANE; i++)
        orig[i] = 0.1f;
    change_of(orig, gen, 1.0f, change);
    for (int i = 0; i < 3 * PLANE; i++)
        cr_assert_eq(change[i], gen[i] - orig[i], "pixel %d", i);
}

Test(detail_keep, amount_zero_leaves_the_change)
{
    make_face(orig);
    blur(orig, gen);
    change_of(orig, gen, 0.0f, change);
    for (int i = 0; i < 3 * PLANE; i++)
        cr_assert_eq(change[i], gen[i] - orig[i], "pixel %d", i);
}
