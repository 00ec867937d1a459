// The colour limit (filter/colour_limit.h): an even tint, a change of lightness (wrinkles) and a
// fade towards grey (greying) pass whole; a blotch of new colour is held to the limit beyond the
// face's median change, its lightness kept; a limit of 0 changes nothing.
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "core/base/rng.h"
#include "filter/colour_limit.h"

#define S 64
#define PLANE (S * S)

static float orig[3 * PLANE], change[3 * PLANE], before[3 * PLANE];
static float work[COLOUR_LIMIT_WORK_FLOATS(S)];

// A skin-like face: (r, g, b) = (200, 150, 120) of 255 with some noise, in [-1, 1].
static void set_face(void)
{
    Rng r;
    rng_seed(&r, 3);
    const float rgb[3] = {200, 150, 120};
    for (int ch = 0; ch < 3; ch++)
        for (int i = 0; i < PLANE; i++)
            orig[ch * PLANE + i] = (rgb[ch] + rng_range(&r, -10, 10)) / 127.5f - 1.0f;
}

// The change at pixel i as levels of 0..255 (r, g, b).
static void set_pixel(int i, float r, float g, float b)
{
    change[i] = r / 127.5f, change[PLANE + i] = g / 127.5f, change[2 * PLANE + i] = b / 127.5f;
}

static void set_all(float r, float g, float b)
{
    for (int i = 0; i < PLANE; i++)
        set_pixel(i, r, g, b);
}

static void limit(float levels)
{
    memcpy(before, change, sizeof change);
    colour_limit(orig, change, S, levels, work);
}

static float moved(void)
{
    float most = 0.0f;
    for (int i = 0; i < 3 * PLANE; i++)
        most = fmaxf(most, fabsf(change[i] - before[i]) * 127.5f);
    return most;
}

Test(colour_limit, a_tint_lightness_and_greying_pass_whole)
{
    set_face();
    set_all(12, 4, -6); // an even warm tint of the whole face
    limit(8);
    cr_expect_lt(moved(), 1e-3, "a tint moved by %g levels", moved());
    for (int i = 0; i < PLANE; i++) { // wrinkles: lightness alone, up and down
        float l = (i % 7) * 10.0f - 30.0f;
        set_pixel(i, l, l, l);
    }
    limit(8);
    cr_expect_lt(moved(), 1e-3, "lightness moved by %g levels", moved());
    for (int i = 0; i < PLANE; i++) { // a quarter of the pixels fade to grey, in place
        float f = i % 4 == 0 ? 1.0f : 0.0f, r = 127.5f * (orig[i] + 1), g = 127.5f * (orig[PLANE + i] + 1);
        float b = 127.5f * (orig[2 * PLANE + i] + 1), grey = (r + g + b) / 3.0f;
        set_pixel(i, f * (grey - r), f * (grey - g), f * (grey - b));
    }
    limit(8);
    cr_expect_lt(moved(), 1e-3, "greying moved by %g levels", moved());
}

Test(colour_limit, a_blotch_is_held_to_the_limit_and_keeps_its_lightness)
{
    set_face();
    set_all(0, 0, 0);
    for (int y = 20; y < 30; y++) // a red and a green blotch on a cheek
        for (int x = 10; x < 20; x++) {
            set_pixel(y * S + x, 40, -10, -10);
            set_pixel(y * S + x + 30, -20, 25, -5);
        }
    limit(8);
    for (int y = 20; y < 30; y++)
        for (int x = 10; x < 50; x += 30) {
            int i = y * S + x;
            float r = change[i] * 127.5f, g = change[PLANE + i] * 127.5f,
                  b = change[2 * PLANE + i] * 127.5f;
            float br = before[i] * 127.5f, bg = before[PLANE + i] * 127.5f,
                  bb = before[2 * PLANE + i] * 127.5f;
            float chroma = hypotf(r - g, 0.5f * (r + g) - b);
            float was = hypotf(br - bg, 0.5f * (br + bg) - bb);
            if (x == 10) // more of the skin's own red: all of it is new colour
                cr_expect_leq(chroma, 8.01f, "(%d, %d): %g %g %g", x, y, r, g, b);
            else // green on red skin fades it towards grey first: that part passes
                cr_expect(chroma < was - 1.0f && chroma > 8.0f, "(%d, %d): %g of %g", x, y,
                          chroma, was);
            cr_expect_float_eq(r + g + b, br + bg + bb, 1e-3, "(%d, %d): lightness changed", x,
                               y);
        }
    cr_expect_float_eq(change[0], 0.0f, 1e-6, "no change stays none");
}

Test(colour_limit, a_limit_of_zero_changes_nothing)
{
    set_face();
    set_all(0, 0, 0);
    set_pixel(S * 25 + 25, 80, -40, -40);
    limit(0);
    cr_expect_eq(moved(), 0.0f);
}
