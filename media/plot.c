#include "media/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/font.h"

typedef struct {
    uint8_t r, g, b;
} Rgb;

static const Rgb TEXT = {33, 33, 33};
static const Rgb FRAME = {120, 120, 120};
static const Rgb GRID = {228, 228, 228};

#define MAX_TICKS 16
#define RAW_TINT 0.3 // share of a series' colour kept in its faint raw line; the rest is white

// One axis: its range in axis units (log10 of the value on a log axis), its ticks in the same
// units, and how to write their labels.
typedef struct {
    double lo, hi;
    bool log;
    int n_ticks;
    double ticks[MAX_TICKS];
    double unit;        // labels show value / unit, then suffix: "20k" is 20000
    const char *suffix; // "", "k" or "M"
    int decimals;       // digits after the point; < 0: %g with -decimals significant digits
} Axis;

// Where the data go: values map onto the pixel rectangle [x0, x1] x [y0, y1] (inclusive; the
// frame is drawn on its edges). s is the text scale, which also sets paddings and line widths.
typedef struct {
    int s;
    int x0, y0, x1, y1;
} Frame;

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

// ---- pixels ------------------------------------------------------------------------------

static void put_pixel(Image *img, int x, int y, Rgb c)
{
    if (x < 0 || y < 0 || x >= img->w || y >= img->h)
        return;
    uint8_t *p = img->rgb + ((size_t)y * (size_t)img->w + (size_t)x) * 3;
    p[0] = c.r;
    p[1] = c.g;
    p[2] = c.b;
}

static void fill_rect(Image *img, int x0, int y0, int x1, int y1, Rgb c) // inclusive corners
{
    for (int y = y0; y <= y1; y++)
        for (int x = x0; x <= x1; x++)
            put_pixel(img, x, y, c);
}

static void draw_text(Image *img, int x, int y, const char *text, int scale, Rgb c)
{
    font_draw(img, x, y, text, scale, c.r, c.g, c.b);
}

// A square pen of `width` pixels, clipped to a rectangle (the plot area), so a curve touching the
// axis range cannot spill over labels.
typedef struct {
    Image *img;
    int cx0, cy0, cx1, cy1; // clip rectangle, inclusive
    Rgb c;
    int width;
} Pen;

static void pen_dot(const Pen *p, int x, int y)
{
    int off = (p->width - 1) / 2; // centre wide pens on the point
    for (int dy = 0; dy < p->width; dy++)
        for (int dx = 0; dx < p->width; dx++) {
            int px = x + dx - off, py = y + dy - off;
            if (px >= p->cx0 && px <= p->cx1 && py >= p->cy0 && py <= p->cy1)
                put_pixel(p->img, px, py, p->c);
        }
}

// Bresenham: every step moves one pixel in x, y or both, so the line has no gaps.
static void pen_line(const Pen *p, int xa, int ya, int xb, int yb)
{
    int dx = abs(xb - xa), sx = xa < xb ? 1 : -1;
    int dy = -abs(yb - ya), sy = ya < yb ? 1 : -1;
    int e = dx + dy;
    for (;;) {
        pen_dot(p, xa, ya);
        if (xa == xb && ya == yb)
            return;
        int e2 = 2 * e;
        if (e2 >= dy) {
            e += dy;
            xa += sx;
        }
        if (e2 <= dx) {
            e += dx;
            ya += sy;
        }
    }
}

// A polyline that decimates: consecutive points falling in one pixel column are merged into the
// column's min-max span, so 100,000 points cost one short vertical line per column, yet every
// spike stays visible. Columns are joined by a line from the last point of one to the first of
// the next, which keeps the curve connected.
typedef struct {
    const Pen *pen;
    bool open; // a column has points
    int col, lo, hi, last;
} Trace;

static void trace_flush(const Trace *t)
{
    if (t->open)
        pen_line(t->pen, t->col, t->lo, t->col, t->hi);
}

static void trace_add(Trace *t, int x, int y)
{
    if (t->open && x == t->col) {
        t->lo = y < t->lo ? y : t->lo;
        t->hi = y > t->hi ? y : t->hi;
        t->last = y;
        return;
    }
    if (t->open) {
        trace_flush(t);
        pen_line(t->pen, t->col, t->last, x, y);
    }
    *t = (Trace){.pen = t->pen, .open = true, .col = x, .lo = y, .hi = y, .last = y};
}

// ---- axes --------------------------------------------------------------------------------

// Labels: thousands and millions get a suffix ("20k", "2.25M") when the step needs at most two
// decimals in that unit; very large or very small numbers go to %g; the rest show exactly the
// step's decimals, so all labels of an axis look alike ("0.5", "1.0", "1.5").
static void choose_label_format(Axis *a, double step)
{
    const double eps = 1e-6;
    double max_abs = fmax(fabs(a->lo), fabs(a->hi));
    a->unit = 1;
    a->suffix = "";
    if (max_abs >= 1e6 && step >= 1e4) {
        a->unit = 1e6;
        a->suffix = "M";
    } else if (max_abs >= 1e4 && step >= 10) {
        a->unit = 1e3;
        a->suffix = "k";
    }
    double step_u = step / a->unit, max_u = max_abs / a->unit;
    if (max_u >= 1e6 || step_u < 1e-4)
        a->decimals = -clampi((int)(floor(log10(max_u)) - floor(log10(step_u))) + 1, 1, 15);
    else
        a->decimals = step_u < 1 ? (int)ceil(-log10(step_u) - eps) : 0;
}

// How far a tick count is from the wanted one: one off is fine, slightly worse than exact;
// further off outweighs any amount of wasted axis range.
static double count_penalty(int n, int want)
{
    int d = abs(n - want);
    return d <= 1 ? 0.05 * d : 1.0 + d;
}

typedef struct {
    double lo, hi;      // axis range
    double first, step; // ticks are (first + i) * step, i < n
    int n;
    double cost;
} TickChoice;

static void consider(TickChoice *best, double lo, double hi, double first, double last, double step,
                     double waste, int want, double min_step)
{
    double n = last - first + 1;
    if (n < 2 || n > MAX_TICKS)
        return;
    double cost = waste + count_penalty((int)n, want) + (step < min_step * (1 - 1e-9) ? 100 : 0);
    if (cost <= best->cost + 1e-9) // steps come smallest first: ties go to the larger step
        *best = (TickChoice){lo, hi, first, step, (int)n, cost};
}

// Ticks for a linear axis at a "nice" step m * 10^k (m = 1, 2, 5). For each step two ranges
// compete: the data padded by `pad` (a fraction of its span on each side) with the ticks that
// fall inside, and, when `may_extend`, the data widened out to the ticks around it, which labels
// the top and bottom grid lines but can leave an empty band. The cheapest wins: the share of the
// axis the data do not cover, plus the penalty for a tick count far from `want`. Steps below
// min_step (finer than the points, such as half iterations) are used only when nothing else fits.
static void axis_linear(Axis *a, double lo, double hi, double pad, bool may_extend, int want,
                        double min_step)
{
    if (!(hi > lo)) { // a constant: give it some room, scaled to its size
        double room = lo != 0 ? fabs(lo) * 0.1 : 1.0;
        lo -= room;
        hi += room;
    }
    static const double M[3] = {1, 2, 5};
    const double eps = 1e-6, span = hi - lo, plo = lo - pad * span, phi = hi + pad * span;
    TickChoice best = {plo, phi, 0, 1, 0, INFINITY};
    int k0 = (int)floor(log10(span)) - 2;
    for (int k = k0; k <= k0 + 3; k++)
        for (int j = 0; j < 3; j++) {
            double step = M[j] * pow(10, k);
            consider(&best, plo, phi, ceil(plo / step - eps), floor(phi / step + eps), step,
                     2 * pad, want, min_step);
            if (may_extend) {
                double first = floor(lo / step + eps), last = ceil(hi / step - eps);
                consider(&best, first * step, last * step, first, last, step,
                         (last - first) * step / span - 1, want, min_step);
            }
        }
    a->log = false;
    a->lo = best.lo;
    a->hi = best.hi;
    a->n_ticks = best.n;
    for (int i = 0; i < best.n; i++) {
        double t = (best.first + i) * best.step;
        a->ticks[i] = fabs(t) < best.step * eps ? 0 : t; // never a "-0" label
    }
    choose_label_format(a, best.step);
}

// The log-axis ladder 1, 2, 5, 10, 20, 50, ...: index 3k + j stands for {1, 2, 5}[j] * 10^k.
static double ladder_value(int idx)
{
    static const double M[3] = {1, 2, 5};
    int k = idx >= 0 ? idx / 3 : -((-idx + 2) / 3); // floor division
    return M[idx - 3 * k] * pow(10, k);
}

static int ladder_floor(double v) // largest rung <= v
{
    int idx = 3 * (int)floor(log10(v));
    while (ladder_value(idx + 1) <= v * (1 + 1e-9))
        idx++;
    while (idx > -400 && ladder_value(idx) > v * (1 + 1e-9)) // log10 rounded up
        idx--;
    return idx;
}

static int ladder_ceil(double v) // smallest rung >= v
{
    int idx = ladder_floor(v);
    return ladder_value(idx) < v * (1 - 1e-9) ? idx + 1 : idx;
}

// Log axis over positive data [lo, hi]: bounds and ticks on the 1-2-5 ladder when that gives
// few enough ticks (a short range still gets several labels), otherwise whole decades, striding
// over some when there are many.
static void axis_log(Axis *a, double lo, double hi)
{
    int i0 = ladder_floor(lo), i1 = ladder_ceil(hi);
    if (i0 == i1) {
        i0--;
        i1++;
    }
    a->log = true;
    a->unit = 1;
    a->suffix = "";
    a->decimals = -6;
    if (i1 - i0 + 1 <= 7) {
        a->n_ticks = i1 - i0 + 1;
        for (int i = 0; i < a->n_ticks; i++)
            a->ticks[i] = log10(ladder_value(i0 + i));
    } else {
        int d0 = (int)floor(log10(lo) + 1e-9), d1 = (int)ceil(log10(hi) - 1e-9);
        int stride = (d1 - d0 + 4) / 5; // at most 6 ticks
        a->n_ticks = (d1 - d0 + stride - 1) / stride + 1;
        for (int i = 0; i < a->n_ticks; i++)
            a->ticks[i] = d0 + i * stride;
    }
    a->lo = a->ticks[0];
    a->hi = a->ticks[a->n_ticks - 1];
}

// "1e-05" -> "1e-5", "2e+06" -> "2e6": shorter labels, same meaning.
static void tidy_exponent(char *s)
{
    char *e = strchr(s, 'e');
    if (!e)
        return;
    char *src = e + 1, *dst = e + 1;
    if (*src == '+')
        src++;
    else if (*src == '-')
        *dst++ = *src++;
    while (*src == '0' && src[1])
        src++;
    memmove(dst, src, strlen(src) + 1);
}

static void format_tick(const Axis *a, double t, char *buf, size_t n)
{
    if (t == 0 && !a->log) { // "0", not "0k" or "0.00"
        snprintf(buf, n, "0");
        return;
    }
    double v = (a->log ? pow(10, t) : t) / a->unit;
    if (a->decimals >= 0)
        snprintf(buf, n, "%.*f%s", a->decimals, v, a->suffix);
    else
        snprintf(buf, n, "%.*g%s", -a->decimals, v, a->suffix);
    tidy_exponent(buf);
}

static int map_x(const Frame *f, const Axis *a, double x)
{
    double t = clampd((x - a->lo) / (a->hi - a->lo), 0, 1);
    return f->x0 + (int)lround(t * (f->x1 - f->x0));
}

static int map_y(const Frame *f, const Axis *a, double v) // v: a data value, not axis units
{
    double u = a->log ? log10(v) : v;
    double t = clampd((u - a->lo) / (a->hi - a->lo), 0, 1);
    return f->y1 - (int)lround(t * (f->y1 - f->y0));
}

// ---- data --------------------------------------------------------------------------------

static bool usable(float v, bool log_y)
{
    return isfinite(v) && (!log_y || v > 0);
}

// The range of all usable values and the longest series. Returns false when nothing is usable.
static bool data_range(const PlotSeries *series, int n, bool log_y, double *lo, double *hi,
                       int *max_count)
{
    bool any = false;
    *max_count = 0;
    for (int s = 0; s < n; s++) {
        if (series[s].count > *max_count)
            *max_count = series[s].count;
        for (int i = 0; i < series[s].count; i++) {
            float v = series[s].values[i];
            if (!usable(v, log_y))
                continue;
            *lo = any && *lo < v ? *lo : v;
            *hi = any && *hi > v ? *hi : v;
            any = true;
        }
    }
    return any;
}

static int count_usable(const PlotSeries *sr, bool log_y)
{
    int n = 0;
    for (int i = 0; i < sr->count; i++)
        n += usable(sr->values[i], log_y);
    return n;
}

static Rgb faint(const PlotSeries *sr)
{
    return (Rgb){(uint8_t)lround(255 - (255 - sr->r) * RAW_TINT),
                 (uint8_t)lround(255 - (255 - sr->g) * RAW_TINT),
                 (uint8_t)lround(255 - (255 - sr->b) * RAW_TINT)};
}

// Draws one series through its usable points: the raw values with a thin pale pen, or (smooth)
// the debiased EMA in full colour, twice as thick. Debiasing divides by 1 - w^n, the weight the
// EMA has accumulated so far, so the curve starts at the first value instead of rising from 0.
static void draw_series(Image *img, const Frame *f, const Axis *ax, const Axis *ay, double x_first,
                        double x_step, const PlotSeries *sr, float smoothing, bool log_y,
                        bool smooth)
{
    Rgb c = smooth ? (Rgb){sr->r, sr->g, sr->b} : faint(sr);
    Pen pen = {img, f->x0, f->y0, f->x1, f->y1, c, smooth ? 2 * f->s : f->s};
    Trace t = {.pen = &pen};
    const double w = smoothing;
    // The moving average of the values' departures from the first one: a constant series then
    // smooths to itself exactly, whatever the rounding (a flat curve stays on one row).
    double ema = 0, w_pow = 1, first = NAN; // w_pow = w^n
    int last_x = 0, last_y = 0;
    for (int i = 0; i < sr->count; i++) {
        float v = sr->values[i];
        if (!usable(v, log_y))
            continue;
        double y = v;
        if (smooth) {
            if (isnan(first))
                first = v;
            ema = ema * w + (1 - w) * (v - first);
            w_pow *= w;
            y = first + ema / (1 - w_pow);
        }
        last_x = map_x(f, ax, x_first + i * x_step);
        last_y = map_y(f, ay, y);
        trace_add(&t, last_x, last_y);
    }
    trace_flush(&t);
    // A lone point would be a 2-pixel dot; mark it so it can be seen.
    if (smooth && count_usable(sr, log_y) == 1) {
        int r = 2 * f->s;
        for (int dy = -r; dy <= r; dy++)
            for (int dx = -r; dx <= r; dx++)
                pen_dot(&pen, last_x + dx, last_y + dy);
    }
}

// ---- layout ------------------------------------------------------------------------------

// Lays the legend out in rows centred under the title, wrapping when a row is full, and draws
// it when `draw`. Returns its height in pixels.
static int legend(Image *img, int top, int s, const PlotSeries *series, int n, bool draw)
{
    const int swatch = 16 * s, gap = 4 * s, item_gap = 18 * s, row_h = (FONT_GLYPH_H + 4) * s;
    const int avail = img->w - 16 * s;
    int y = top, i = 0;
    while (i < n) {
        // The items [i, j) that fit on this row (at least one, however wide).
        int j = i, row_w = 0;
        while (j < n) {
            const char *name = series[j].name;
            int item_w = swatch + (name && *name ? gap + font_text_width(name, s) : 0);
            int add = (j > i ? item_gap : 0) + item_w;
            if (j > i && row_w + add > avail)
                break;
            row_w += add;
            j++;
        }
        if (draw) {
            int x = (img->w - row_w) / 2;
            for (int k = i; k < j; k++) {
                const PlotSeries *sr = &series[k];
                Rgb c = {sr->r, sr->g, sr->b};
                int mid = y + FONT_CAP_H * s / 2;
                fill_rect(img, x, mid - s, x + swatch - 1, mid + s - 1, c);
                x += swatch;
                if (sr->name && *sr->name) {
                    draw_text(img, x + gap, y, sr->name, s, TEXT);
                    x += gap + font_text_width(sr->name, s);
                }
                x += item_gap;
            }
        }
        y += row_h;
        i = j;
    }
    return y - top;
}

// The widest y tick label, which sets the left margin.
static int max_label_width(const Axis *a, int s)
{
    int w = 0;
    char buf[64];
    for (int i = 0; i < a->n_ticks; i++) {
        format_tick(a, a->ticks[i], buf, sizeof buf);
        int tw = font_text_width(buf, s);
        w = tw > w ? tw : w;
    }
    return w;
}

static void draw_grid_and_frame(Image *img, const Frame *f, const Axis *ax, const Axis *ay)
{
    for (int i = 0; i < ay->n_ticks; i++) {
        int y = map_y(f, ay, ay->log ? pow(10, ay->ticks[i]) : ay->ticks[i]);
        fill_rect(img, f->x0, y, f->x1, y, GRID);
    }
    for (int i = 0; i < ax->n_ticks; i++) {
        int x = map_x(f, ax, ax->ticks[i]);
        fill_rect(img, x, f->y0, x, f->y1, GRID);
    }
    fill_rect(img, f->x0, f->y0, f->x1, f->y0, FRAME);
    fill_rect(img, f->x0, f->y1, f->x1, f->y1, FRAME);
    fill_rect(img, f->x0, f->y0, f->x0, f->y1, FRAME);
    fill_rect(img, f->x1, f->y0, f->x1, f->y1, FRAME);
}

static void draw_tick_labels(Image *img, const Frame *f, const Axis *ax, const Axis *ay)
{
    const int s = f->s, tick = 4 * s;
    char buf[64];
    for (int i = 0; i < ay->n_ticks; i++) {
        int y = map_y(f, ay, ay->log ? pow(10, ay->ticks[i]) : ay->ticks[i]);
        fill_rect(img, f->x0 - tick, y, f->x0 - 1, y, FRAME);
        format_tick(ay, ay->ticks[i], buf, sizeof buf);
        int x = f->x0 - tick - 3 * s - font_text_width(buf, s);
        draw_text(img, x, y - FONT_CAP_H * s / 2, buf, s, TEXT);
    }
    for (int i = 0; i < ax->n_ticks; i++) {
        int x = map_x(f, ax, ax->ticks[i]);
        fill_rect(img, x, f->y1 + 1, x, f->y1 + tick, FRAME);
        format_tick(ax, ax->ticks[i], buf, sizeof buf);
        int tw = font_text_width(buf, s);
        int lx = clampi(x - tw / 2, 0, img->w - tw); // the last label may not fit centred
        draw_text(img, lx, f->y1 + tick + 3 * s, buf, s, TEXT);
    }
}

static int check_args(const Image *img, const PlotSeries *series, int n_series, double x_first,
                      double x_step, float smoothing, Err *err)
{
    if (!img || !img->rgb || img->w <= 0 || img->h <= 0)
        return err_set(err, "plot: no image to draw into");
    if (!series || n_series <= 0)
        return err_set(err, "plot: no series to draw (n_series = %d)", n_series);
    for (int s = 0; s < n_series; s++) {
        const char *name = series[s].name ? series[s].name : "(unnamed)";
        if (series[s].count < 0)
            return err_set(err, "plot: series %d \"%s\" has a negative count %d", s, name,
                           series[s].count);
        if (series[s].count > 0 && !series[s].values)
            return err_set(err, "plot: series %d \"%s\" has %d values but a NULL array", s, name,
                           series[s].count);
    }
    if (!(smoothing >= 0 && smoothing < 1))
        return err_set(err, "plot: smoothing %g is outside [0, 1)", (double)smoothing);
    if (!isfinite(x_first) || !isfinite(x_step) || x_step <= 0)
        return err_set(err, "plot: x_first %g and x_step %g must be finite, x_step > 0", x_first,
                       x_step);
    return 0;
}

int plot_render(Image *img, const char *title, const char *x_label, double x_first, double x_step,
                const PlotSeries *series, int n_series, float smoothing, bool log_y, Err *err)
{
    if (check_args(img, series, n_series, x_first, x_step, smoothing, err) < 0)
        return -1;
    title = title ? title : "";
    x_label = x_label ? x_label : "";

    // Axes. Without usable data the chart still gets axes, over a default range.
    double lo = log_y ? 1 : 0, hi = log_y ? 10 : 1;
    int max_count;
    data_range(series, n_series, log_y, &lo, &hi, &max_count);
    Axis ax, ay;
    if (log_y)
        axis_log(&ay, lo, hi);
    else
        axis_linear(&ay, lo, hi, 0.04, true, 5, 0);
    double x_lo = x_first, x_hi = x_first + (max_count > 1 ? max_count - 1 : 0) * x_step;
    if (x_hi <= x_lo) { // a single point sits in the middle
        x_lo -= x_step;
        x_hi += x_step;
    }
    if (!isfinite(x_hi - x_lo) || !(x_hi > x_lo)) // overflowed, or x_step lost in x_first
        return err_set(err, "plot: x range [%g, %g] cannot be drawn (x_first %g, x_step %g)", x_lo,
                       x_hi, x_first, x_step);

    // Layout, top to bottom: title, legend, plot, tick labels, x label. Text grows with the
    // image so a large chart stays readable.
    Frame f;
    f.s = img->w / 800 < img->h / 450 ? img->w / 800 : img->h / 450;
    f.s = f.s < 1 ? 1 : f.s;
    const int s = f.s, pad = 8 * s, tick = 4 * s;
    int title_s = font_text_width(title, 2 * s) <= img->w - 2 * pad ? 2 * s : s;
    int title_h = *title ? FONT_GLYPH_H * title_s + 6 * s : 0;
    int legend_top = pad + title_h;
    int legend_h = legend(img, legend_top, s, series, n_series, false);
    f.y0 = legend_top + legend_h + FONT_CAP_H * s; // room for the top tick label
    f.y1 = img->h - 1 - pad - (*x_label ? (FONT_GLYPH_H + 3) * s : 0) -
           (tick + 3 * s + FONT_CAP_H * s);
    f.x0 = pad + max_label_width(&ay, s) + 3 * s + tick;
    f.x1 = img->w - 1 - 2 * pad;
    if (f.x1 - f.x0 < 32 || f.y1 - f.y0 < 32)
        return err_set(err, "plot: a %dx%d image is too small for the chart \"%s\"", img->w, img->h,
                       title);
    axis_linear(&ax, x_lo, x_hi, 0, false, clampi((f.x1 - f.x0) / (110 * s), 3, 8), x_step);

    memset(img->rgb, 255, (size_t)img->w * (size_t)img->h * 3); // white
    draw_text(img, (img->w - font_text_width(title, title_s)) / 2, pad, title, title_s, TEXT);
    legend(img, legend_top, s, series, n_series, true);
    draw_grid_and_frame(img, &f, &ax, &ay);
    draw_tick_labels(img, &f, &ax, &ay);
    draw_text(img, (f.x0 + f.x1 - font_text_width(x_label, s)) / 2, img->h - pad - FONT_GLYPH_H * s,
              x_label, s, TEXT);

    // All faint raw lines first, so no series' noise covers another's smoothed line.
    if (smoothing > 0)
        for (int i = 0; i < n_series; i++)
            draw_series(img, &f, &ax, &ay, x_first, x_step, &series[i], smoothing, log_y, false);
    for (int i = 0; i < n_series; i++)
        draw_series(img, &f, &ax, &ay, x_first, x_step, &series[i], smoothing, log_y, true);
    return 0;
}
