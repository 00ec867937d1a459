// Crop geometry, area-filtered crop extraction, and the masked, colour-matched blend of the
// generator's change back into the frame. See face_blend.h.
#include "filter/face_blend.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#define PI_F 3.14159265358979f
#define MAX_SIDE 65536.0f  // largest square side accepted, pixels
#define MAX_OFFSET 1.0e6f  // farthest a square's corner may be from the frame's origin
#define MAX_OUT_SIZE 16384 // largest model resolution accepted

CropSquare crop_around_face(FaceRect face, float scale, float dy)
{
    float side = scale * fmaxf(face.w, face.h);
    float cx = face.x + 0.5f * face.w;
    float cy = face.y + 0.5f * face.h + dy * side;
    return (CropSquare){cx - 0.5f * side, cy - 0.5f * side, side};
}

static int check_square(CropSquare c, Err *err)
{
    if (!(isfinite(c.x) && isfinite(c.y) && c.size > 0.0f && c.size <= MAX_SIDE &&
          fabsf(c.x) <= MAX_OFFSET && fabsf(c.y) <= MAX_OFFSET))
        return err_set(err,
                       "crop square (x %g, y %g, side %g): expected a side in (0, %g] and a corner "
                       "within %g pixels of the frame",
                       (double)c.x, (double)c.y, (double)c.size, (double)MAX_SIDE,
                       (double)MAX_OFFSET);
    return 0;
}

static int check_frame(const Image *frame, const char *what, Err *err)
{
    if (!frame || !frame->rgb || frame->w < 1 || frame->h < 1)
        return err_set(err, "%s: the frame has no pixels", what);
    return 0;
}

static int clampi(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

// Tent-filter taps for resampling one axis: output sample o (0..n-1) is centred at source
// coordinate start + (o + 0.5) * step and takes `k` taps (source indices clamped to 0..len-1,
// weights summing to 1) at idx[o * k ...], wt[o * k ...].
typedef struct {
    int k;
    int *idx;
    float *wt;
} Taps;

static int make_taps(Taps *t, float start, float step, int n, int len)
{
    float radius = fmaxf(1.0f, step);
    t->k = 2 * (int)ceilf(radius) + 1;
    t->idx = malloc((size_t)n * (size_t)t->k * sizeof *t->idx);
    t->wt = malloc((size_t)n * (size_t)t->k * sizeof *t->wt);
    if (!t->idx || !t->wt)
        return -1;
    for (int o = 0; o < n; o++) {
        double centre = (double)start + ((double)o + 0.5) * (double)step; // source coordinates
        int first = (int)floor(centre - 0.5 - (double)radius);
        int *idx = t->idx + (size_t)o * (size_t)t->k;
        float *wt = t->wt + (size_t)o * (size_t)t->k;
        double sum = 0.0;
        for (int j = 0; j < t->k; j++) {
            int i = first + j;
            double w = 1.0 - fabs((double)i + 0.5 - centre) / (double)radius;
            wt[j] = w > 0.0 ? (float)w : 0.0f;
            idx[j] = clampi(i, 0, len - 1);
            sum += wt[j];
        }
        for (int j = 0; j < t->k; j++) // sum > 0: the tap nearest the centre has weight >= 0.5
            wt[j] = (float)(wt[j] / sum);
    }
    return 0;
}

static void free_taps(Taps *t)
{
    free(t->idx);
    free(t->wt);
}

int crop_extract(const Image *frame, CropSquare c, int out_size, float *chw, Err *err)
{
    if (check_frame(frame, "crop_extract", err) || check_square(c, err))
        return -1;
    if (out_size < 1 || out_size > MAX_OUT_SIZE || !chw)
        return err_set(err, "crop_extract: output size %d (expected 1..%d) or no output buffer",
                       out_size, MAX_OUT_SIZE);
    float step = c.size / (float)out_size;
    Taps tx = {0}, ty = {0};
    float *rows = NULL;
    int rc = -1;
    if (make_taps(&tx, c.x, step, out_size, frame->w) ||
        make_taps(&ty, c.y, step, out_size, frame->h))
        goto done;

    // Source rows any vertical tap reads (clamped, so always inside the frame).
    int r0 = frame->h, r1 = -1;
    for (size_t j = 0; j < (size_t)out_size * (size_t)ty.k; j++) {
        if (ty.wt[j] == 0.0f)
            continue;
        r0 = ty.idx[j] < r0 ? ty.idx[j] : r0;
        r1 = ty.idx[j] > r1 ? ty.idx[j] : r1;
    }
    // Horizontal pass over those rows: rows (r1 - r0 + 1, out_size, 3), pixel values 0..255.
    size_t row_len = (size_t)out_size * 3;
    rows = malloc((size_t)(r1 - r0 + 1) * row_len * sizeof *rows);
    if (!rows)
        goto done;
    for (int r = r0; r <= r1; r++) {
        const uint8_t *src = frame->rgb + (size_t)r * (size_t)frame->w * 3;
        float *dst = rows + (size_t)(r - r0) * row_len;
        for (int o = 0; o < out_size; o++) {
            const int *idx = tx.idx + (size_t)o * (size_t)tx.k;
            const float *wt = tx.wt + (size_t)o * (size_t)tx.k;
            float a = 0.0f, b = 0.0f, g = 0.0f;
            for (int j = 0; j < tx.k; j++) {
                const uint8_t *p = src + (size_t)idx[j] * 3;
                a += wt[j] * p[0];
                g += wt[j] * p[1];
                b += wt[j] * p[2];
            }
            dst[3 * o] = a;
            dst[3 * o + 1] = g;
            dst[3 * o + 2] = b;
        }
    }
    // Vertical pass into planar floats: chw (3, out_size, out_size).
    size_t plane = (size_t)out_size * (size_t)out_size;
    for (int o = 0; o < out_size; o++) {
        const int *idx = ty.idx + (size_t)o * (size_t)ty.k;
        const float *wt = ty.wt + (size_t)o * (size_t)ty.k;
        for (int u = 0; u < out_size; u++) {
            float acc[3] = {0.0f, 0.0f, 0.0f};
            for (int j = 0; j < ty.k; j++) {
                if (wt[j] == 0.0f)
                    continue;
                const float *p = rows + (size_t)(idx[j] - r0) * row_len + 3 * (size_t)u;
                acc[0] += wt[j] * p[0];
                acc[1] += wt[j] * p[1];
                acc[2] += wt[j] * p[2];
            }
            for (int ch = 0; ch < 3; ch++) {
                float v = acc[ch] / 127.5f - 1.0f;
                chw[(size_t)ch * plane + (size_t)o * (size_t)out_size + (size_t)u] =
                    v < -1.0f  ? -1.0f
                    : v > 1.0f ? 1.0f
                               : v;
            }
        }
    }
    rc = 0;
done:
    if (rc)
        err_set(err, "crop_extract: out of memory for a %g px square at %d px", (double)c.size,
                out_size);
    free(rows);
    free_taps(&tx);
    free_taps(&ty);
    return rc;
}

BlendParams blend_params_default(float strength)
{
    return (BlendParams){
        .strength = strength,
        .color_match = BLEND_COLOR_MATCH,
        .mask_rx = BLEND_MASK_RX,
        .mask_ry = BLEND_MASK_RY,
        .mask_inner = BLEND_MASK_INNER,
    };
}

float blend_mask(const BlendParams *p, float u, float v)
{
    float a = u / p->mask_rx, b = v / p->mask_ry;
    float r2 = a * a + b * b;
    if (!(r2 < 1.0f))
        return 0.0f;
    float r = sqrtf(r2);
    if (r <= p->mask_inner)
        return 1.0f;
    float t = (r - p->mask_inner) / (1.0f - p->mask_inner);
    return 0.5f * (1.0f + cosf(PI_F * t));
}

static int check_params(const BlendParams *p, Err *err)
{
    if (!p)
        return err_set(err, "face_blend: no parameters");
    if (!(p->strength >= 0.0f && p->strength <= 1.0f))
        return err_set(err, "face_blend: strength %g, expected 0..1", (double)p->strength);
    if (!(p->color_match >= 0.0f && p->color_match <= 1.0f))
        return err_set(err, "face_blend: color_match %g, expected 0..1", (double)p->color_match);
    if (!(p->mask_rx > 0.0f && p->mask_rx <= 1.0f && p->mask_ry > 0.0f && p->mask_ry <= 1.0f &&
          p->mask_inner >= 0.0f && p->mask_inner < 1.0f))
        return err_set(err,
                       "face_blend: mask (rx %g, ry %g, inner %g), expected rx, ry in (0, 1] "
                       "and inner in [0, 1)",
                       (double)p->mask_rx, (double)p->mask_ry, (double)p->mask_inner);
    return 0;
}

// The pixel range [lo, hi] of the frame (0..len-1) whose centres lie within (centre +- half).
static void pixel_range(float centre, float half, int len, int *lo, int *hi)
{
    float a = fmaxf(floorf(centre - half - 0.5f), 0.0f);
    float b = fminf(ceilf(centre + half - 0.5f), (float)(len - 1));
    *lo = (int)a;
    *hi = b < a ? *lo - 1 : (int)b;
}

int face_blend(Image *frame, CropSquare c, const float *orig_chw, const float *gen_chw, int size,
               float strength, Err *err)
{
    BlendParams p = blend_params_default(strength);
    return face_blend_ex(frame, c, orig_chw, gen_chw, size, &p, err);
}

int face_blend_ex(Image *frame, CropSquare c, const float *orig_chw, const float *gen_chw, int size,
                  const BlendParams *p, Err *err)
{
    if (check_frame(frame, "face_blend", err) || check_square(c, err) || check_params(p, err))
        return -1;
    if (size < 1 || size > MAX_OUT_SIZE || !orig_chw || !gen_chw)
        return err_set(err, "face_blend: model size %d (expected 1..%d) or missing planes", size,
                       MAX_OUT_SIZE);
    if (p->strength == 0.0f)
        return 0;
    size_t plane = (size_t)size * (size_t)size;

    // Mask at model resolution, for the colour means.
    float *mask = malloc(plane * sizeof *mask);
    float *change = malloc(3 * plane * sizeof *change);
    if (!mask || !change) {
        free(mask);
        free(change);
        return err_set(err, "face_blend: out of memory at model size %d", size);
    }
    double msum = 0.0;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            float u = 2.0f * ((float)x + 0.5f) / (float)size - 1.0f;
            float v = 2.0f * ((float)y + 0.5f) / (float)size - 1.0f;
            mask[(size_t)y * size + x] = blend_mask(p, u, v);
            msum += mask[(size_t)y * size + x];
        }
    // change = gen + shift - orig, in pixel units (0..255 scale), per channel; shift moves the
    // generated face's mean colour over the mask onto the original's.
    for (int ch = 0; ch < 3; ch++) {
        const float *o = orig_chw + ch * plane, *g = gen_chw + ch * plane;
        double so = 0.0, sg = 0.0;
        for (size_t i = 0; i < plane; i++) {
            so += (double)mask[i] * o[i];
            sg += (double)mask[i] * g[i];
        }
        float shift = msum > 0.0 ? (float)((double)p->color_match * (so - sg) / msum) : 0.0f;
        for (size_t i = 0; i < plane; i++)
            change[ch * plane + i] = ((g[i] + shift) - o[i]) * 127.5f;
    }
    free(mask);

    // Frame pixels under the mask's ellipse; all others are never touched.
    float half = 0.5f * c.size;
    float cx = c.x + half, cy = c.y + half;
    float scale = (float)size / c.size; // model pixels per frame pixel
    int x0, x1, y0, y1;
    pixel_range(cx, p->mask_rx * half, frame->w, &x0, &x1);
    pixel_range(cy, p->mask_ry * half, frame->h, &y0, &y1);
    for (int py = y0; py <= y1; py++) {
        float v = ((float)py + 0.5f - cy) / half;
        float my = ((float)py + 0.5f - c.y) * scale - 0.5f;
        my = fminf(fmaxf(my, 0.0f), (float)(size - 1));
        int iy = (int)my;
        int iy1 = iy + 1 < size ? iy + 1 : iy;
        float fy = my - (float)iy;
        uint8_t *row = frame->rgb + (size_t)py * (size_t)frame->w * 3;
        for (int px = x0; px <= x1; px++) {
            float u = ((float)px + 0.5f - cx) / half;
            float m = blend_mask(p, u, v);
            if (m <= 0.0f)
                continue;
            float mx = ((float)px + 0.5f - c.x) * scale - 0.5f;
            mx = fminf(fmaxf(mx, 0.0f), (float)(size - 1));
            int ix = (int)mx;
            int ix1 = ix + 1 < size ? ix + 1 : ix;
            float fx = mx - (float)ix;
            float k = p->strength * m;
            for (int ch = 0; ch < 3; ch++) {
                const float *d = change + ch * plane;
                float top = d[(size_t)iy * size + ix] +
                            fx * (d[(size_t)iy * size + ix1] - d[(size_t)iy * size + ix]);
                float bot = d[(size_t)iy1 * size + ix] +
                            fx * (d[(size_t)iy1 * size + ix1] - d[(size_t)iy1 * size + ix]);
                float val = (float)row[3 * px + ch] + k * (top + fy * (bot - top));
                row[3 * px + ch] = val <= 0.0f ? 0 : val >= 255.0f ? 255 : (uint8_t)(val + 0.5f);
            }
        }
    }
    free(change);
    return 0;
}
