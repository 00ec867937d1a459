// Winograd or im2col measured per shape (core/nn/winograd_pick.h): a pick overrides the rule
// and gives exactly the path it names, measuring sets every pass of the shapes it should and no
// other, and the plan a checkpoint keeps goes back onto a trace (or a CycleGAN's two) unchanged,
// while a plan that does not fit the network is refused.
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/rng.h"
#include "core/nn/conv.h"
#include "core/nn/net.h"
#include "core/nn/networks.h"
#include "core/nn/winograd.h"
#include "core/nn/winograd_pick.h"
#include "core/train/cyclegan.h"

static float *random_floats(size_t n, uint64_t seed)
{
    Rng rng;
    rng_seed(&rng, seed);
    float *x = malloc(n * sizeof *x);
    cr_assert(x);
    for (size_t i = 0; i < n; i++)
        x[i] = rng_range(&rng, -1.0f, 1.0f);
    return x;
}

// conv2d_forward of s on fixed random data, into a new buffer.
static float *forward(const ConvShape *s)
{
    size_t ni = (size_t)s->c * s->h * s->w, nw = (size_t)s->oc * s->c * 9;
    float *in = random_floats(ni, 1), *w = random_floats(nw, 2);
    float *out = malloc((size_t)s->oc * s->oh * s->ow * sizeof *out);
    float *work = malloc(conv_workspace_floats(s) * sizeof *work);
    cr_assert(out && work);
    conv2d_forward(NULL, s, in, w, NULL, out, work);
    free(in), free(w), free(work);
    return out;
}

// The forward of s with a pick against the same shape with the path forced by the mode.
static void expect_pick_is_path(ConvShape s, uint8_t pick, WinogradMode forced)
{
    s.winograd_pick[WINOGRAD_PASS_FORWARD] = pick;
    float *picked = forward(&s);
    winograd_set_mode(forced);
    float *plain = forward(&s);
    winograd_set_mode(WINOGRAD_BY_SHAPE);
    cr_expect_eq(memcmp(picked, plain, (size_t)s.oc * s.oh * s.ow * sizeof(float)), 0,
                 "%dx%d: the pick's output is not the forced path's bit for bit", s.h, s.w);
    free(picked), free(plain);
}

Test(winograd_pick, a_pick_overrides_the_rule)
{
    ConvShape big, small;
    conv_shape(&big, 1, 16, 34, 34, 16, 3, 1, 0);  // 256 tiles: Winograd by the rule
    conv_shape(&small, 1, 16, 10, 10, 16, 3, 1, 0); // 16 tiles: im2col by the rule
    cr_assert(winograd_forward_applies(&big) && !winograd_forward_applies(&small));

    ConvShape s = big;
    s.winograd_pick[WINOGRAD_PASS_FORWARD] = WINOGRAD_PICK_IM2COL;
    cr_expect_not(winograd_forward_applies(&s));
    s = small;
    s.winograd_pick[WINOGRAD_PASS_DATA] = WINOGRAD_PICK_WINOGRAD;
    s.winograd_pick[WINOGRAD_PASS_WEIGHT] = WINOGRAD_PICK_WINOGRAD;
    cr_expect(winograd_backward_applies(&s) && winograd_weight_applies(&s));
    cr_expect_not(winograd_forward_applies(&s), "the forward's pick is still the rule's");

    expect_pick_is_path(big, WINOGRAD_PICK_IM2COL, WINOGRAD_NEVER);
    expect_pick_is_path(small, WINOGRAD_PICK_WINOGRAD, WINOGRAD_ALWAYS);
    s = small;
    s.winograd_pick[WINOGRAD_PASS_FORWARD] = WINOGRAD_PICK_WINOGRAD4;
    s.winograd_pick[WINOGRAD_PASS_DATA] = WINOGRAD_PICK_WINOGRAD4;
    cr_expect(winograd_forward_applies(&s) && winograd_backward_applies(&s), "F(4x4) picked");
    float *large = forward(&s), *plain = forward(&small);
    cr_expect_neq(memcmp(large, plain, (size_t)s.oc * s.oh * s.ow * sizeof(float)), 0,
                  "F(4x4)'s rounding is not im2col's: it did not run");
    free(large), free(plain);

    // A forced mode still wins over a pick (bench and tests compare the two paths by it).
    s = big;
    s.winograd_pick[WINOGRAD_PASS_FORWARD] = WINOGRAD_PICK_WINOGRAD;
    winograd_set_mode(WINOGRAD_NEVER);
    cr_expect_not(winograd_forward_applies(&s));
    winograd_set_mode(WINOGRAD_BY_SHAPE);
}

Test(winograd_pick, measuring_sets_every_pass_of_large_enough_shapes_only)
{
    ConvShape s;
    conv_shape(&s, 2, 16, 26, 26, 16, 3, 1, 0); // 24x24 out: 144 tiles
    cr_assert_eq(winograd_pick_measure(NULL, &s, NULL), 0);
    for (int p = 0; p < 3; p++)
        cr_expect(s.winograd_pick[p] == WINOGRAD_PICK_WINOGRAD ||
                      s.winograd_pick[p] == WINOGRAD_PICK_IM2COL ||
                      (s.winograd_pick[p] == WINOGRAD_PICK_WINOGRAD4 && p != WINOGRAD_PASS_WEIGHT),
                  "pass %d not measured", p);
    cr_expect_eq(s.n, 2, "the shape itself is left as it was");

    ConvShape left[3];
    conv_shape(&left[0], 1, 16, 24, 24, 16, 3, 1, 0); // 22x22 out: 121 tiles
    conv_shape(&left[1], 1, 3, 40, 40, 16, 3, 1, 0);  // 3 channels: the direct kernel's
    conv_shape(&left[2], 1, 16, 40, 40, 16, 3, 2, 0); // stride 2
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(winograd_pick_measure(NULL, &left[i], NULL), 0);
        for (int p = 0; p < 3; p++)
            cr_expect_eq(left[i].winograd_pick[p], WINOGRAD_PICK_RULE, "shape %d pass %d", i, p);
    }
    winograd_set_mode(WINOGRAD_ALWAYS);
    conv_shape(&s, 1, 16, 26, 26, 16, 3, 1, 0);
    cr_assert_eq(winograd_pick_measure(NULL, &s, NULL), 0);
    winograd_set_mode(WINOGRAD_BY_SHAPE);
    cr_expect_eq(s.winograd_pick[0], WINOGRAD_PICK_RULE, "nothing measured while forced");
}

// A 96 px generator with ngf 4 and 2 blocks: 4 residual convolutions of 16 channels at 24x24
// (144 tiles, measured); its 7x7 layers are the direct kernel's and not in the plan.
static const GeneratorConfig SMALL = {.ngf = 4, .n_blocks = 2, .upsample = UPSAMPLE_CONVT};

Test(winograd_pick, a_plan_goes_back_onto_a_trace_unchanged)
{
    Net g = {0};
    Err err;
    cr_assert_eq(generator_build(&g, SMALL, &err), 0, "%s", err.msg);
    Trace *a = trace_create(&g, 1, 96, 96, true, NULL, &err);
    Trace *b = trace_create(&g, 1, 96, 96, true, NULL, &err);
    cr_assert(a && b, "%s", err.msg);

    char *rule = trace_winograd_plan(a, &g);
    cr_expect_str_eq(rule, "rrr rrr rrr rrr");
    cr_assert_eq(trace_measure_winograd(a, &g, &err), 0, "%s", err.msg);
    char *measured = trace_winograd_plan(a, &g);
    cr_assert_eq(strlen(measured), 15);
    cr_expect_eq(strchr(measured, 'r'), NULL, "every residual pass measured: %s", measured);
    cr_expect_eq(memcmp(measured, measured + 4, 3), 0, "one shape, one pick: %s", measured);

    cr_assert_eq(trace_set_winograd_plan(b, &g, measured, &err), 0, "%s", err.msg);
    char *copied = trace_winograd_plan(b, &g);
    cr_expect_str_eq(copied, measured);
    cr_assert_eq(trace_set_winograd_plan(b, &g, "iwi wiw rrr iii", &err), 0, "%s", err.msg);
    char *given = trace_winograd_plan(b, &g);
    cr_expect_str_eq(given, "iwi wiw rrr iii");
    cr_assert_eq(trace_set_winograd_plan(b, &g, "44w 4iw 4wi i4i", &err), 0, "%s", err.msg);
    char *large = trace_winograd_plan(b, &g);
    cr_expect_str_eq(large, "44w 4iw 4wi i4i");

    // The weight gradient has no F(4x4) kernel.
    const char *bad[] = {"", "iii", "iii iii iii iii iii", "iii iii iii iiw ", "iii iii iii iix",
                         "iii iii iii  iii", "iiii iii iii iii", "iii,iii,iii,iii",
                         "iii iii ii4 iii"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_expect_eq(trace_set_winograd_plan(b, &g, bad[i], &err), -1, "'%s' accepted", bad[i]);
        cr_expect(strstr(err.msg, "Winograd plan"), "%s", err.msg);
    }
    free(rule), free(measured), free(copied), free(given), free(large);
    trace_free(a), trace_free(b);
    net_free(&g);
}

Test(winograd_pick, a_cyclegan_takes_one_plan_for_both_generator_traces)
{
    CycleGanConfig cfg = {.gen = SMALL, .ndf = 2, .size = 96, .batch = 1,
                          CYCLEGAN_SEED_LOSS_WEIGHTS, .seed = 1};
    Err err;
    CycleGan *gan = cyclegan_create(&cfg, NULL, &err);
    cr_assert(gan, "%s", err.msg);
    cr_expect_null(gan->winograd_plan, "the fixed rule until picked");
    cr_assert_eq(cyclegan_pick_winograd(gan, "wii iww wii iww", &err), 0, "%s", err.msg);
    cr_expect_str_eq(gan->winograd_plan, "wii iww wii iww");
    char *second = trace_winograd_plan(gan->gen_trace2, &gan->g_a2b);
    cr_expect_str_eq(second, "wii iww wii iww");
    free(second);
    cr_expect_eq(cyclegan_pick_winograd(gan, "wii", &err), -1);
    cr_expect_str_eq(gan->winograd_plan, "wii iww wii iww", "a refused plan changes nothing");
    cr_assert_eq(cyclegan_pick_winograd(gan, NULL, &err), 0, "%s", err.msg);
    cr_expect_eq(strlen(gan->winograd_plan), 15);
    cyclegan_free(gan);
}
