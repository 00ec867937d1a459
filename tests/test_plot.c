// Bitmap font and loss-curve charts: text width arithmetic, glyphs that light pixels and clip at
// the borders without touching memory around the image, and charts checked pixel by pixel (white
// corners, a decreasing curve that goes down, a flat line for a constant, NaN and Inf skipped,
// one point, 100,000 points, a log axis that makes an exponential straight, bad arguments).
#include <criterion/criterion.h>

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "media/font.h"
#include "media/plot.h"

// ---- images with guard bytes ----------------------------------------------------------------

#define GUARD 4096
#define GUARD_BYTE 0xA5

typedef struct {
    Image img;
    uint8_t *block; // GUARD bytes, the pixels, GUARD bytes
} Guarded;

static Guarded guarded_alloc(int w, int h, uint8_t fill)
{
    size_t n = (size_t)w * (size_t)h * 3;
    Guarded g = {{w, h, NULL}, malloc(n + 2 * GUARD)};
    cr_assert_not_null(g.block);
    memset(g.block, GUARD_BYTE, n + 2 * GUARD);
    g.img.rgb = g.block + GUARD;
    memset(g.img.rgb, fill, n);
    return g;
}

static void guarded_check_and_free(Guarded *g)
{
    size_t n = (size_t)g->img.w * (size_t)g->img.h * 3;
    for (size_t i = 0; i < GUARD; i++) {
        cr_assert_eq(g->block[i], GUARD_BYTE, "wrote %zu bytes before the image", GUARD - i);
        cr_assert_eq(g->block[GUARD + n + i], GUARD_BYTE, "wrote byte %zu after the image", i);
    }
    free(g->block);
}

static const uint8_t *px(const Image *img, int x, int y)
{
    return img->rgb + ((size_t)y * (size_t)img->w + (size_t)x) * 3;
}

static bool is_rgb(const Image *img, int x, int y, uint8_t r, uint8_t g, uint8_t b)
{
    const uint8_t *p = px(img, x, y);
    return p[0] == r && p[1] == g && p[2] == b;
}

static int count_not(const Image *img, uint8_t v) // pixels not (v, v, v)
{
    int n = 0;
    for (int y = 0; y < img->h; y++)
        for (int x = 0; x < img->w; x++)
            n += !is_rgb(img, x, y, v, v, v);
    return n;
}

// ---- font -----------------------------------------------------------------------------------

Test(font, width_arithmetic)
{
    cr_assert_eq(font_text_width("", 1), 0);
    cr_assert_eq(font_text_width(NULL, 3), 0);
    cr_assert_eq(font_text_width("A", 1), FONT_GLYPH_W);
    cr_assert_eq(font_text_width("AB", 1), FONT_ADVANCE + FONT_GLYPH_W);             // 11
    cr_assert_eq(font_text_width("0.25", 2), (3 * FONT_ADVANCE + FONT_GLYPH_W) * 2); // 46
    cr_assert_eq(font_text_width("AB", 0), font_text_width("AB", 1), "scale < 1 acts as 1");
    cr_assert_eq(font_text_width("x", INT_MAX), INT_MAX, "saturates instead of overflowing");
}

// Draws one character at (2, 2) in white on black and returns the number of lit pixels, checking
// that they all lie inside the glyph's box.
static int lit_pixels(const char *c, int scale, uint8_t *bitmap)
{
    Guarded g = guarded_alloc(40, 40, 0);
    font_draw(&g.img, 2, 2, c, scale, 255, 255, 255);
    int n = 0;
    for (int y = 0; y < g.img.h; y++)
        for (int x = 0; x < g.img.w; x++) {
            if (is_rgb(&g.img, x, y, 0, 0, 0))
                continue;
            cr_assert(is_rgb(&g.img, x, y, 255, 255, 255));
            cr_assert(x >= 2 && x < 2 + FONT_GLYPH_W * scale && y >= 2 &&
                          y < 2 + FONT_GLYPH_H * scale,
                      "'%s' lit (%d, %d), outside its box", c, x, y);
            if (bitmap)
                bitmap[(y - 2) * FONT_GLYPH_W + (x - 2)] = 1;
            n++;
        }
    guarded_check_and_free(&g);
    return n;
}

Test(font, glyph_sets_pixels_in_its_box)
{
    int a = lit_pixels("A", 1, NULL);
    cr_assert_gt(a, 10);
    cr_assert_eq(lit_pixels("A", 3, NULL), 9 * a, "each font pixel is a scale x scale block");
    cr_assert_eq(lit_pixels(" ", 1, NULL), 0);
    cr_assert_gt(lit_pixels("g", 1, NULL), 0);
    cr_assert_gt(lit_pixels("\x80", 1, NULL), 0, "a byte without a glyph draws a box");
}

// Every printable character has a glyph, and no two look the same (an O that matches a 0, or a
// glyph pasted twice, would make labels ambiguous).
Test(font, printable_ascii_all_distinct)
{
    static uint8_t bitmaps[95][FONT_GLYPH_W * FONT_GLYPH_H];
    memset(bitmaps, 0, sizeof bitmaps);
    for (int c = 33; c <= 126; c++) {
        char s[2] = {(char)c, 0};
        cr_assert_gt(lit_pixels(s, 1, bitmaps[c - 32]), 0, "'%c' has no glyph", c);
    }
    for (int a = 33; a <= 126; a++)
        for (int b = a + 1; b <= 126; b++)
            cr_assert(memcmp(bitmaps[a - 32], bitmaps[b - 32], sizeof bitmaps[0]),
                      "'%c' and '%c' look the same", a, b);
}

Test(font, clips_at_borders)
{
    Guarded g = guarded_alloc(8, 8, 0);
    font_draw(&g.img, -3, -4, "W@#", 2, 255, 0, 0); // hangs off the top-left
    cr_assert_gt(count_not(&g.img, 0), 0, "the visible part is drawn");
    font_draw(&g.img, 5, 5, "MMMM", 3, 0, 255, 0); // off the bottom-right
    font_draw(&g.img, INT_MAX - 3, INT_MAX - 3, "88", 7, 0, 0, 255);
    font_draw(&g.img, INT_MIN, INT_MIN, "88", 7, 0, 0, 255);
    font_draw(&g.img, INT_MIN + 2, 0, "88888888", INT_MAX, 0, 0, 255);
    font_draw(&g.img, -20, 2, "long text that runs off both sides", 1, 9, 9, 9);
    font_draw(NULL, 0, 0, "A", 1, 1, 1, 1);
    font_draw(&g.img, 0, 0, NULL, 1, 1, 1, 1);
    guarded_check_and_free(&g);
}

// ---- charts ---------------------------------------------------------------------------------

#define W 800
#define H 450
// Series colours no text, frame or grid pixel has.
#define RED 220, 20, 20
#define BLUE 20, 40, 210

// Rows holding the colour in column x: their count, and min/max in *lo, *hi.
static int rows_with(const Image *img, int x, uint8_t r, uint8_t g, uint8_t b, int *lo, int *hi)
{
    int n = 0;
    for (int y = 0; y < img->h; y++)
        if (is_rgb(img, x, y, r, g, b)) {
            *lo = n ? (*lo < y ? *lo : y) : y;
            *hi = n ? (*hi > y ? *hi : y) : y;
            n++;
        }
    return n;
}

static double mean_row(const Image *img, int x, uint8_t r, uint8_t g, uint8_t b)
{
    double sum = 0;
    int n = 0;
    for (int y = 0; y < img->h; y++)
        if (is_rgb(img, x, y, r, g, b)) {
            sum += y;
            n++;
        }
    return n ? sum / n : NAN;
}

// The rightmost column reached from (x, y) through 8-connected pixels of the colour.
static int reach(const Image *img, int x, int y, uint8_t r, uint8_t g, uint8_t b)
{
    size_t n = (size_t)img->w * (size_t)img->h;
    uint8_t *seen = calloc(n, 1);
    int *stack = malloc(n * sizeof *stack);
    cr_assert(seen && stack);
    int top = 0, right = x;
    stack[top++] = y * img->w + x;
    seen[y * img->w + x] = 1;
    while (top > 0) {
        int at = stack[--top], cx = at % img->w, cy = at / img->w;
        right = cx > right ? cx : right;
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                int nx = cx + dx, ny = cy + dy;
                if (nx < 0 || ny < 0 || nx >= img->w || ny >= img->h)
                    continue;
                int k = ny * img->w + nx;
                if (!seen[k] && is_rgb(img, nx, ny, r, g, b)) {
                    seen[k] = 1;
                    stack[top++] = k;
                }
            }
    }
    free(seen);
    free(stack);
    return right;
}

// The first and last columns holding the colour, checking that the curve is one connected line
// from the first to the last (the legend's swatch, centred near the top, is not the first).
static void curve_extent(const Image *img, uint8_t r, uint8_t g, uint8_t b, int *first, int *last)
{
    int lo, hi;
    *first = -1;
    for (int x = 0; x < img->w; x++)
        if (rows_with(img, x, r, g, b, &lo, &hi)) {
            *first = *first < 0 ? x : *first;
            *last = x;
        }
    cr_assert_geq(*first, 0, "the curve is not drawn");
    rows_with(img, *first, r, g, b, &lo, &hi);
    int right = reach(img, *first, lo, r, g, b);
    cr_assert_eq(right, *last, "the curve breaks after x = %d", right);
}

static float *decreasing(int n, float noise)
{
    float *v = malloc((size_t)n * sizeof *v);
    cr_assert_not_null(v);
    for (int i = 0; i < n; i++)
        v[i] = (float)(0.5 + 3.0 * exp(-4.0 * i / n) + noise * sin(i * 12.9898));
    return v;
}

static void assert_white_corners(const Image *img)
{
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++) {
            cr_assert(is_rgb(img, x, y, 255, 255, 255));
            cr_assert(is_rgb(img, img->w - 1 - x, y, 255, 255, 255));
            cr_assert(is_rgb(img, x, img->h - 1 - y, 255, 255, 255));
            cr_assert(is_rgb(img, img->w - 1 - x, img->h - 1 - y, 255, 255, 255));
        }
}

Test(plot, corners_stay_white_and_nothing_spills)
{
    Guarded g = guarded_alloc(W, H, 0); // black: the chart must paint its own background
    float *a = decreasing(3000, 0.3f), *b = decreasing(3000, 0.1f);
    PlotSeries s[2] = {{"G adv", a, 3000, RED}, {"cycle", b, 3000, BLUE}};
    Err err = {{0}};
    cr_assert_eq(plot_render(&g.img, "losses", "iteration", 0, 1, s, 2, 0.98f, false, &err), 0,
                 "%s", err.msg);
    assert_white_corners(&g.img);
    cr_assert_gt(count_not(&g.img, 255), W * H / 100, "something is drawn");
    free(a);
    free(b);
    guarded_check_and_free(&g);
}

Test(plot, decreasing_series_goes_down_continuously)
{
    Guarded g = guarded_alloc(W, H, 255);
    float *v = decreasing(500, 0.2f);
    PlotSeries s = {"loss", v, 500, RED};
    Err err = {{0}};
    cr_assert_eq(plot_render(&g.img, "t", "it", 0, 1, &s, 1, 0.9f, false, &err), 0, "%s", err.msg);
    int first, last;
    curve_extent(&g.img, RED, &first, &last);
    cr_assert_gt(last - first, W / 2, "the smoothed curve spans the plot");
    double left = mean_row(&g.img, first, RED), right = mean_row(&g.img, last, RED);
    cr_assert_gt(right, left + H / 4, "rows: %g at the left, %g at the right", left, right);

    // The raw values are drawn too, in a pale tint of the colour: light pink, which neither
    // white nor the neutral greys of grid, frame and text are.
    bool faint = false;
    for (int y = 0; y < H && !faint; y++)
        for (int x = 0; x < W && !faint; x++) {
            const uint8_t *p = px(&g.img, x, y);
            faint = p[0] > 220 && p[0] < 255 && p[1] > 20 && p[1] < p[0] - 20 && p[1] == p[2];
        }
    cr_assert(faint, "no faint raw line");
    free(v);
    guarded_check_and_free(&g);
}

Test(plot, constant_series_is_a_horizontal_line)
{
    Guarded g = guarded_alloc(W, H, 255);
    float v[200];
    for (int i = 0; i < 200; i++)
        v[i] = 3.0f;
    PlotSeries s = {"c", v, 200, BLUE};
    Err err = {{0}};
    cr_assert_eq(plot_render(&g.img, "const", "it", 0, 1, &s, 1, 0.98f, false, &err), 0, "%s",
                 err.msg);
    int first, last;
    curve_extent(&g.img, BLUE, &first, &last);
    cr_assert_gt(last - first, W / 2);
    // Away from the centred legend, every column holds the same one or two rows, mid-plot.
    int lo0, hi0;
    cr_assert_gt(rows_with(&g.img, first + 5, BLUE, &lo0, &hi0), 0);
    cr_assert_leq(hi0 - lo0, 1, "2 pixels thick");
    cr_assert(lo0 > H / 4 && lo0 < 3 * H / 4, "row %d is not mid-plot", lo0);
    for (int x = first + 5; x < W / 4; x++) {
        int lo, hi;
        cr_assert_gt(rows_with(&g.img, x, BLUE, &lo, &hi), 0);
        cr_assert(lo == lo0 && hi == hi0, "x = %d: rows %d..%d, not %d..%d", x, lo, hi, lo0, hi0);
    }
    guarded_check_and_free(&g);
}

Test(plot, nan_and_inf_are_skipped)
{
    Guarded g = guarded_alloc(W, H, 255);
    float *v = decreasing(400, 0.f);
    for (int i = 3; i < 400; i += 7)
        v[i] = NAN;
    v[10] = INFINITY;
    v[50] = -INFINITY;
    float all_nan[5] = {NAN, NAN, NAN, NAN, NAN};
    PlotSeries s[2] = {{"gappy", v, 400, RED}, {"empty", all_nan, 5, BLUE}};
    Err err = {{0}};
    cr_assert_eq(plot_render(&g.img, "nan", "it", 0, 1, s, 2, 0.9f, false, &err), 0, "%s", err.msg);
    int first, last;
    curve_extent(&g.img, RED, &first, &last);
    // Had Inf set the range, the finite curve would be squashed into a line.
    double left = mean_row(&g.img, first, RED), right = mean_row(&g.img, last, RED);
    cr_assert_gt(right - left, H / 3, "rows: %g at the left, %g at the right", left, right);
    assert_white_corners(&g.img);
    free(v);
    guarded_check_and_free(&g);
}

Test(plot, one_point)
{
    Guarded g = guarded_alloc(W, H, 255);
    float v = 0.7f;
    PlotSeries s = {"one", &v, 1, RED};
    Err err = {{0}};
    cr_assert_eq(plot_render(&g.img, "one", "it", 1000, 1, &s, 1, 0.98f, false, &err), 0, "%s",
                 err.msg);
    // A visible marker in the middle of the plot (the legend's swatch is near the top).
    int marker = 0;
    for (int y = H / 4; y < 3 * H / 4; y++)
        for (int x = 0; x < W; x++)
            marker += is_rgb(&g.img, x, y, RED);
    cr_assert_geq(marker, 16, "%d pixels", marker);
    assert_white_corners(&g.img);
    guarded_check_and_free(&g);
}

Test(plot, hundred_thousand_points)
{
    Guarded g = guarded_alloc(W, H, 255);
    const int n = 100000;
    float *v = decreasing(n, 0.5f);
    PlotSeries s = {"big", v, n, BLUE};
    Err err = {{0}};
    cr_assert_eq(plot_render(&g.img, "100k", "it", 0, 10, &s, 1, 0.999f, false, &err), 0, "%s",
                 err.msg);
    int first, last;
    curve_extent(&g.img, BLUE, &first, &last);
    cr_assert_gt(mean_row(&g.img, last, BLUE), mean_row(&g.img, first, BLUE) + H / 4);
    free(v);
    guarded_check_and_free(&g);
}

// On a log axis an exponential decay is a straight line: the middle of the curve sits halfway
// between its ends. Values <= 0 are skipped rather than breaking the logarithm.
Test(plot, log_axis_straightens_an_exponential)
{
    Guarded g = guarded_alloc(W, H, 255);
    float v[1000];
    for (int i = 0; i < 1000; i++)
        v[i] = (float)(1000.0 * exp(-i / 150.0));
    v[100] = 0;
    v[200] = -1;
    PlotSeries s = {"exp", v, 1000, RED};
    Err err = {{0}};
    cr_assert_eq(plot_render(&g.img, "log", "it", 0, 1, &s, 1, 0.f, true, &err), 0, "%s", err.msg);
    int first, last;
    curve_extent(&g.img, RED, &first, &last);
    double l = mean_row(&g.img, first + 2, RED), r = mean_row(&g.img, last - 2, RED);
    double m = mean_row(&g.img, (first + last) / 2, RED);
    cr_assert_gt(r - l, H / 3);
    cr_assert_lt(fabs(m - (l + r) / 2), 4, "middle row %g, ends %g and %g", m, l, r);
    guarded_check_and_free(&g);
}

Test(plot, small_image_and_long_title)
{
    Guarded g = guarded_alloc(240, 160, 255);
    float *v = decreasing(100, 0.1f);
    PlotSeries s[3] = {{"a long series name", v, 100, RED}, {NULL, v, 50, BLUE}, {"", v, 0, RED}};
    Err err = {{0}};
    cr_assert_eq(plot_render(&g.img, "a title far too long to fit on this small image at all", NULL,
                             -5, 0.5, s, 3, 0.5f, false, &err),
                 0, "%s", err.msg);
    free(v);
    guarded_check_and_free(&g);
}

Test(plot, bad_arguments)
{
    Guarded g = guarded_alloc(W, H, 255);
    float v[3] = {1, 2, 3};
    PlotSeries ok = {"ok", v, 3, RED};
    Err err;
#define REFUSED(call)                                                                              \
    do {                                                                                           \
        err.msg[0] = 0;                                                                            \
        cr_assert_lt(call, 0, #call);                                                              \
        cr_assert_neq(err.msg[0], 0, "no reason for " #call);                                      \
    } while (0)
    REFUSED(plot_render(NULL, "t", "x", 0, 1, &ok, 1, 0.9f, false, &err));
    Image no_pixels = {W, H, NULL};
    REFUSED(plot_render(&no_pixels, "t", "x", 0, 1, &ok, 1, 0.9f, false, &err));
    REFUSED(plot_render(&g.img, "t", "x", 0, 1, &ok, 0, 0.9f, false, &err));
    REFUSED(plot_render(&g.img, "t", "x", 0, 1, NULL, 1, 0.9f, false, &err));
    PlotSeries neg = {"neg", v, -1, RED}, null_values = {"null", NULL, 3, RED};
    REFUSED(plot_render(&g.img, "t", "x", 0, 1, &neg, 1, 0.9f, false, &err));
    REFUSED(plot_render(&g.img, "t", "x", 0, 1, &null_values, 1, 0.9f, false, &err));
    REFUSED(plot_render(&g.img, "t", "x", 0, 1, &ok, 1, 1.0f, false, &err));
    REFUSED(plot_render(&g.img, "t", "x", 0, 1, &ok, 1, -0.1f, false, &err));
    REFUSED(plot_render(&g.img, "t", "x", 0, 1, &ok, 1, NAN, false, &err));
    REFUSED(plot_render(&g.img, "t", "x", 0, 0, &ok, 1, 0.9f, false, &err));
    REFUSED(plot_render(&g.img, "t", "x", NAN, 1, &ok, 1, 0.9f, false, &err));
    REFUSED(plot_render(&g.img, "t", "x", 0, 1e308, &ok, 1, 0.9f, false, &err));
    REFUSED(plot_render(&g.img, "t", "x", 1e300, 1, &ok, 1, 0.9f, false, &err)); // step lost
    Guarded tiny = guarded_alloc(30, 20, 255);
    REFUSED(plot_render(&tiny.img, "t", "x", 0, 1, &ok, 1, 0.9f, false, &err));
    cr_assert_eq(plot_render(NULL, "t", "x", 0, 1, &ok, 1, 0.9f, false, NULL), -1,
                 "err may be NULL");
    guarded_check_and_free(&tiny);
    guarded_check_and_free(&g);
}
