// The artefact guard: its score is 0 for no change, a tint, a lightening of the whole face or
// fine lines, and the share of the face for blotches; its factor holds a face back only past
// GUARD_FROM; and in the filter a broken generator's change (random weights: blotches all over)
// is held back where a working one's is not.
#include <criterion/criterion.h>
#include <libavutil/frame.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/model/model_file.h"
#include "faces.h"
#include "filter/ageshift.h"
#include "filter/align.h"
#include "filter/artefact_guard.h"
#include "media/image_io.h"

#define S 128
#define PLANE (S * S)

static float change[3 * PLANE], work[4 * GUARD_GRID * GUARD_GRID];

static float score_of(void)
{
    return artefact_guard_score(change, S, work);
}

// Sets the change, in levels of 0..255, to f(x, y, channel) over the model's square.
static void set_change(float (*f)(int x, int y, int ch))
{
    for (int ch = 0; ch < 3; ch++)
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
                change[ch * PLANE + y * S + x] = f(x, y, ch) / 127.5f;
}

static float none(int x, int y, int ch)
{
    (void)x, (void)y, (void)ch;
    return 0.0f;
}
static float tint(int x, int y, int ch)
{
    (void)x, (void)y;
    return ch == 0 ? 60.0f : ch == 1 ? -20.0f : -40.0f;
}
static float lighter(int x, int y, int ch)
{
    (void)x, (void)y, (void)ch;
    return 70.0f;
}
static float fine_lines(int x, int y, int ch) // wrinkles: 1 px lines of +-30
{
    (void)x, (void)ch;
    return y % 2 ? 30.0f : -30.0f;
}
// A red patch over the middle of the face box: the central third of the square each way.
static float red_patch(int x, int y, int ch)
{
    bool in = x >= S / 3 && x < 2 * S / 3 && y >= S / 3 && y < 2 * S / 3;
    return in ? (ch == 0 ? 60.0f : -20.0f) : 0.0f;
}
static float black_patch(int x, int y, int ch)
{
    (void)ch;
    bool in = x >= S / 3 && x < 2 * S / 3 && y >= S / 3 && y < 2 * S / 3;
    return in ? -80.0f : 0.0f;
}

Test(guard, score_leaves_tints_and_fine_lines_alone)
{
    float (*fs[])(int, int, int) = {none, tint, lighter, fine_lines};
    const char *names[] = {"no change", "a tint", "lighter", "fine lines"};
    for (int i = 0; i < 4; i++) {
        set_change(fs[i]);
        cr_expect_eq(score_of(), 0.0f, "%s: %g", names[i], score_of());
    }
}

Test(guard, score_is_the_share_of_blotches)
{
    // The face box spans most of the square (the template's landmarks): a patch of a ninth of
    // the square is some 12-16% of it.
    Bounds b = align_template_bounds();
    float want = 100.0f / 9.0f / ((b.x1 - b.x0) * (b.y1 - b.y0));
    set_change(red_patch);
    cr_expect(fabsf(score_of() - want) < 3.0f, "red patch: %g, want about %g", score_of(), want);
    set_change(black_patch);
    cr_expect(fabsf(score_of() - want) < 3.0f, "black patch: %g, want about %g", score_of(), want);
}

Test(guard, factor)
{
    cr_expect_eq(artefact_guard_factor(0.0f, 1.0f), 1.0f);
    cr_expect_eq(artefact_guard_factor(GUARD_FROM, 1.0f), 1.0f);
    cr_expect_float_eq(artefact_guard_factor(0.5f * (GUARD_FROM + GUARD_TO), 1.0f), 0.5f, 1e-6f);
    cr_expect_eq(artefact_guard_factor(GUARD_TO, 1.0f), 0.0f);
    cr_expect_eq(artefact_guard_factor(100.0f, 1.0f), 0.0f);
    cr_expect_float_eq(artefact_guard_factor(100.0f, 0.25f), 0.75f, 1e-6f);
    cr_expect_eq(artefact_guard_factor(100.0f, 0.0f), 1.0f, "amount 0: no guard");
}

// The filter on one face picture: the stats, and how many pixels changed.
static long run_filter(const char *model, const char *face, float guard, AgeshiftStats *s)
{
    Image img = {0};
    Err err = {{0}};
    cr_assert_eq(image_load(face, &img, &err), 0, "%s", err.msg);
    Image before = img;
    before.rgb = malloc((size_t)img.w * img.h * 3);
    cr_assert_not_null(before.rgb);
    memcpy(before.rgb, img.rgb, (size_t)img.w * img.h * 3);
    AgeshiftOptions o = ageshift_options_default();
    o.model_path = model;
    o.still = true;
    o.guard = guard;
    AgeshiftFilter *f = ageshift_open(&o, &err);
    cr_assert_not_null(f, "%s", err.msg);
    AVFrame *av = av_frame_alloc();
    cr_assert_not_null(av);
    image_as_frame(&img, av);
    cr_assert_eq(ageshift_process(f, av, &err), 0, "%s", err.msg);
    ageshift_stats(f, s);
    long changed = 0;
    for (size_t i = 0; i < (size_t)img.w * img.h * 3; i++)
        changed += abs(img.rgb[i] - before.rgb[i]) > 2;
    av_frame_free(&av);
    ageshift_close(f);
    free(before.rgb);
    image_free(&img);
    return changed;
}

Test(guard, broken_generator_is_held_back)
{
    char face[4096], model[] = "/tmp/ageshift-guard-XXXXXX";
    test_need_face("young", NULL, 0, face);
    int fd = mkstemp(model);
    cr_assert_geq(fd, 0);
    close(fd);
    GeneratorArch arch = {{8, 2, UPSAMPLE_CONVT}, S};
    Net a = {0}, b = {0};
    Err err = {{0}};
    cr_assert_eq(generator_build(&a, arch.gen, &err), 0, "%s", err.msg);
    cr_assert_eq(generator_build(&b, arch.gen, &err), 0, "%s", err.msg);
    net_init_weights(&a, 3);
    net_init_weights(&b, 4);
    cr_assert_eq(model_file_save(model, &a, &b, arch, ST_F32, &err), 0, "%s", err.msg);
    net_free(&a);
    net_free(&b);

    AgeshiftStats on, off;
    long changed_on = run_filter(model, face, 1.0f, &on);
    long changed_off = run_filter(model, face, 0.0f, &off);
    unlink(model);
    cr_assert_eq(off.generated, 1, "the face is found and run through the generator");
    cr_expect_gt(on.guard_score_max, GUARD_FROM, "random weights: score %g",
                 (double)on.guard_score_max);
    cr_expect_eq(on.held_back, 1);
    cr_expect_eq(off.held_back, 0, "--guard 0 holds nothing back");
    cr_expect_lt(2 * changed_on, changed_off, "held back: %ld pixels changed, %ld without",
                 changed_on, changed_off);

    // The default model on the same face: not held back.
    AgeshiftStats good;
    cr_expect_gt(run_filter("samples/model.safetensors", face, 1.0f, &good), 0);
    cr_expect_eq(good.held_back, 0, "the default model: score %g", (double)good.guard_score_max);
}
