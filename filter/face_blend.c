// Crop geometry, area-filtered crop extraction through a similarity transform, and the masked,
// colour-matched blend of the generator's change back into the frame. See face_blend.h.
#include "filter/face_blend.h"

#include "filter/detail_keep.h"
#include "filter/plane.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#define PI_F 3.14159265358979f
#define MAX_SCALE 65536.0f // largest scale (and 1 / smallest) of a crop transform accepted
#define MAX_OFFSET 1.0e6f  // farthest a square's corner may be from the frame's origin
#define MAX_OUT_SIZE 16384 // largest model resolution accepted

CropSquare crop_around_face(FaceRect face, float scale, float dy)
{
    float side = scale * fmaxf(face.w, face.h);
    float cx = face.x + 0.5f * face.w;
    float cy = face.y + 0.5f * face.h + dy * side;
    return (CropSquare){cx - 0.5f * side, cy - 0.5f * side, side};
}

Similarity crop_square_transform(CropSquare c, int out_size)
{
    float k = (float)out_size / c.size;
    return (Similarity){k, 0.0f, -c.x * k, -c.y * k};
}

// A usable frame -> model transform: finite, a scale within [1/MAX_SCALE, MAX_SCALE], and the
// model's square within MAX_OFFSET of the frame's origin.
static int check_transform(Similarity t, int size, Err *err)
{
    float k = similarity_scale(t);
    bool ok = isfinite(t.a) && isfinite(t.b) && isfinite(t.tx) && isfinite(t.ty) &&
              k >= 1.0f / MAX_SCALE && k <= MAX_SCALE;
    if (ok) {
        Similarity inv = similarity_inverse(t);
        float x, y;
        similarity_apply(inv, 0.5f * (float)size, 0.5f * (float)size, &x, &y);
        ok = fabsf(x) <= MAX_OFFSET && fabsf(y) <= MAX_OFFSET;
    }
    if (!ok)
        return err_set(err,
                       "crop transform (a %g, b %g, shift %g, %g): expected a scale in [1/%g, %g] "
                       "and a crop within %g pixels of the frame",
                       (double)t.a, (double)t.b, (double)t.tx, (double)t.ty, (double)MAX_SCALE,
                       (double)MAX_SCALE, (double)MAX_OFFSET);
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

// The part of the frame a crop reads, in floats, averaged over k x k blocks: pixel (i, j) is the
// mean of frame [x + k i, x + k i + k) x [y + k j, y + k j + k) (within the frame).
typedef struct {
    float *rgb;
    int w, h;
} Region;

// Downscaling by step >= 2 frame pixels per model pixel, the frame is first averaged over k x k
// blocks, k the even number at most step, and the tent then runs over those with a step of 1..2:
// it reads a handful of values per output pixel instead of (2 step)^2 or more. The blocks are an
// area filter too, and even ones take out the frame's finest pattern (a 1-pixel checkerboard)
// exactly, where odd blocks would leave a coarser pattern of a ninth of its contrast.
static int crop_region(const Image *frame, Similarity to_model, int out_size, int k, Region *r,
                       Similarity *region_to_model)
{
    const float step = 1.0f / similarity_scale(to_model);
    Bounds c = similarity_bounds(similarity_inverse(to_model),
                                 (Bounds){0.0f, 0.0f, (float)out_size, (float)out_size});
    // The crop with its tent's reach (< 1.5 radius), within the frame: clamping to this region's
    // edge is then clamping to the frame's.
    float margin = 2.0f * fmaxf(1.0f, step) + (float)k;
    int bx = clampi((int)floorf(c.x0 - margin), 0, frame->w - 1);
    int by = clampi((int)floorf(c.y0 - margin), 0, frame->h - 1);
    int ex = clampi((int)ceilf(c.x1 + margin), bx + 1, frame->w);
    int ey = clampi((int)ceilf(c.y1 + margin), by + 1, frame->h);
    r->w = (ex - bx + k - 1) / k, r->h = (ey - by + k - 1) / k;
    if (!(r->rgb = malloc((size_t)r->w * (size_t)r->h * 3 * sizeof *r->rgb)))
        return -1;
    for (int sy = 0; sy < r->h; sy++)
        for (int sx = 0; sx < r->w; sx++) {
            float acc[3] = {0, 0, 0};
            int n = 0;
            for (int y = by + sy * k; y < by + sy * k + k && y < ey; y++)
                for (int x = bx + sx * k; x < bx + sx * k + k && x < ex; x++) {
                    const uint8_t *p = frame->rgb + ((size_t)y * (size_t)frame->w + x) * 3;
                    acc[0] += p[0], acc[1] += p[1], acc[2] += p[2], n++;
                }
            float *q = r->rgb + ((size_t)sy * (size_t)r->w + sx) * 3;
            for (int ch = 0; ch < 3; ch++)
                q[ch] = acc[ch] / (float)n;
        }
    // Region pixel (i, j) covers frame [bx + k i, ...): frame = (bx, by) + k * region.
    *region_to_model = similarity_after(to_model, (float)k, (float)bx, (float)by);
    return 0;
}

// The tent filter itself (see face_blend.h), over a region.
static void crop_tent(const Region *frame, Similarity to_model, int out_size, float *chw)
{
    const Similarity inv = similarity_inverse(to_model);
    const double step = 1.0 / similarity_scale(to_model);
    const double radius = step > 1.0 ? step : 1.0;
    // The model's axes in the frame, unit length: e1 = (c, s), e2 = (-s, c).
    const double c = inv.a / step, sn = inv.b / step;
    // Frame pixels within the rotated tent's support: |offset| <= radius * (|c| + |s|) per axis.
    const double reach = radius * (fabs(c) + fabs(sn));
    const size_t plane = (size_t)out_size * (size_t)out_size;
    for (int v = 0; v < out_size; v++)
        for (int u = 0; u < out_size; u++) {
            float fx, fy;
            similarity_apply(inv, (float)u + 0.5f, (float)v + 0.5f, &fx, &fy);
            int x0 = (int)floor(fx - 0.5 - reach), x1 = (int)ceil(fx - 0.5 + reach);
            int y0 = (int)floor(fy - 0.5 - reach), y1 = (int)ceil(fy - 0.5 + reach);
            double acc[3] = {0, 0, 0}, wsum = 0;
            for (int y = y0; y <= y1; y++) {
                double dy = (double)y + 0.5 - fy;
                const float *row =
                    frame->rgb + (size_t)clampi(y, 0, frame->h - 1) * (size_t)frame->w * 3;
                for (int x = x0; x <= x1; x++) {
                    double dx = (double)x + 0.5 - fx;
                    double a = 1.0 - fabs(dx * c + dy * sn) / radius;
                    double b = 1.0 - fabs(-dx * sn + dy * c) / radius;
                    if (a <= 0.0 || b <= 0.0)
                        continue;
                    double w = a * b;
                    const float *p = row + (size_t)clampi(x, 0, frame->w - 1) * 3;
                    acc[0] += w * p[0];
                    acc[1] += w * p[1];
                    acc[2] += w * p[2];
                    wsum += w;
                }
            }
            for (int ch = 0; ch < 3; ch++) { // wsum > 0: the nearest pixel has a > 0, b > 0
                float val = (float)(acc[ch] / wsum) / 127.5f - 1.0f;
                chw[(size_t)ch * plane + (size_t)v * (size_t)out_size + (size_t)u] =
                    val < -1.0f  ? -1.0f
                    : val > 1.0f ? 1.0f
                                 : val;
            }
        }
}

int crop_extract(const Image *frame, Similarity to_model, int out_size, float *chw, Err *err)
{
    if (check_frame(frame, "crop_extract", err))
        return -1;
    if (out_size < 1 || out_size > MAX_OUT_SIZE || !chw)
        return err_set(err, "crop_extract: output size %d (expected 1..%d) or no output buffer",
                       out_size, MAX_OUT_SIZE);
    if (check_transform(to_model, out_size, err))
        return -1;
    const double step = 1.0 / similarity_scale(to_model); // frame pixels per model pixel
    Region r;
    Similarity t;
    if (crop_region(frame, to_model, out_size, step >= 2.0 ? 2 * (int)(step / 2.0) : 1, &r, &t))
        return err_set(err, "crop_extract: out of memory for a crop at %d px", out_size);
    crop_tent(&r, t, out_size, chw);
    free(r.rgb);
    return 0;
}

EllipseMask ellipse_mask_default(void)
{
    return (EllipseMask){BLEND_MASK_RX, BLEND_MASK_RY, BLEND_MASK_INNER};
}

float ellipse_mask_at(const EllipseMask *e, float u, float v)
{
    float a = u / e->rx, b = v / e->ry;
    float r2 = a * a + b * b;
    if (!(r2 < 1.0f))
        return 0.0f;
    float r = sqrtf(r2);
    if (r <= e->inner)
        return 1.0f;
    float t = (r - e->inner) / (1.0f - e->inner);
    return 0.5f * (1.0f + cosf(PI_F * t));
}

void ellipse_mask_image(const EllipseMask *e, int size, float *mask)
{
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
            mask[(size_t)y * size + x] =
                ellipse_mask_at(e, 2.0f * ((float)x + 0.5f) / (float)size - 1.0f,
                                2.0f * ((float)y + 0.5f) / (float)size - 1.0f);
}

BlendParams blend_params_default(float strength)
{
    return (BlendParams){
        .strength = strength, .color_match = BLEND_COLOR_MATCH, .detail = DETAIL_KEEP_DEFAULT};
}

static int check_params(const BlendParams *p, Err *err)
{
    if (!p)
        return err_set(err, "face_blend: no parameters");
    if (!(p->strength >= 0.0f && p->strength <= 1.0f))
        return err_set(err, "face_blend: strength %g, expected 0..1", (double)p->strength);
    if (!(p->color_match >= 0.0f && p->color_match <= 1.0f))
        return err_set(err, "face_blend: color_match %g, expected 0..1", (double)p->color_match);
    if (!(p->detail >= 0.0f && p->detail <= 1.0f))
        return err_set(err, "face_blend: detail %g, expected 0..1", (double)p->detail);
    return 0;
}

int face_blend(Image *frame, Similarity to_model, const float *orig_chw, const float *gen_chw,
               const float *mask, int size, const BlendParams *p, Err *err)
{
    if (check_frame(frame, "face_blend", err) || check_params(p, err))
        return -1;
    if (size < 1 || size > MAX_OUT_SIZE || !orig_chw || !gen_chw || !mask)
        return err_set(err, "face_blend: model size %d (expected 1..%d) or missing planes", size,
                       MAX_OUT_SIZE);
    if (check_transform(to_model, size, err))
        return -1;
    if (p->strength == 0.0f)
        return 0;
    const size_t plane = (size_t)size * (size_t)size;
    // The change's three planes, then detail_keep's work.
    float *change = malloc((3 + DETAIL_KEEP_WORK_PLANES) * plane * sizeof *change);
    if (!change)
        return err_set(err, "face_blend: out of memory at model size %d", size);
    // The mask's support (model pixels), and its sum for the colour means.
    int mx0 = size, mx1 = -1, my0 = size, my1 = -1;
    double msum = 0.0;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            float m = mask[(size_t)y * size + x];
            if (m > 0.0f) {
                mx0 = x < mx0 ? x : mx0, mx1 = x > mx1 ? x : mx1;
                my0 = y < my0 ? y : my0, my1 = y > my1 ? y : my1;
                msum += m;
            }
        }
    if (mx1 < 0) {
        free(change);
        return 0;
    }
    // change = (gen + shift - orig) with the original's detail kept (detail_keep.h), then
    // times strength * mask, in pixel units (0..255 scale), per channel; shift moves the
    // generated face's mean colour over the mask onto the original's.
    for (int ch = 0; ch < 3; ch++) {
        const float *o = orig_chw + ch * plane, *g = gen_chw + ch * plane;
        double so = 0.0, sg = 0.0;
        for (size_t i = 0; i < plane; i++) {
            so += (double)mask[i] * o[i];
            sg += (double)mask[i] * g[i];
        }
        float shift = (float)((double)p->color_match * (so - sg) / msum);
        for (size_t i = 0; i < plane; i++)
            change[ch * plane + i] = (g[i] + shift) - o[i];
    }
    detail_keep(orig_chw, gen_chw, size, p->detail, change, change + 3 * plane);
    for (int ch = 0; ch < 3; ch++)
        for (size_t i = 0; i < plane; i++)
            change[ch * plane + i] *= 127.5f * p->strength * mask[i];

    // Frame pixels whose place in the model lies within one pixel of the mask's support: the
    // bounding box of that rectangle's corners mapped into the frame.
    Bounds fb = similarity_bounds(
        similarity_inverse(to_model),
        (Bounds){(float)mx0 - 1.0f, (float)my0 - 1.0f, (float)mx1 + 2.0f, (float)my1 + 2.0f});
    int x0 = (int)fmaxf(floorf(fb.x0), 0.0f), x1 = (int)fminf(ceilf(fb.x1), (float)(frame->w - 1));
    int y0 = (int)fmaxf(floorf(fb.y0), 0.0f), y1 = (int)fminf(ceilf(fb.y1), (float)(frame->h - 1));
    const float edge = (float)size;
    for (int py = y0; py <= y1; py++) {
        uint8_t *row = frame->rgb + (size_t)py * (size_t)frame->w * 3;
        for (int px = x0; px <= x1; px++) {
            float mx, my;
            similarity_apply(to_model, (float)px + 0.5f, (float)py + 0.5f, &mx, &my);
            if (!(mx >= 0.0f && mx <= edge && my >= 0.0f && my <= edge))
                continue; // outside the model's square
            Bilinear w = bilinear_at(size, mx, my);
            if (bilinear(&w, mask) <= 0.0f)
                continue;
            for (int ch = 0; ch < 3; ch++) {
                float val = (float)row[3 * px + ch] + bilinear(&w, change + ch * plane);
                row[3 * px + ch] = val <= 0.0f ? 0 : val >= 255.0f ? 255 : (uint8_t)(val + 0.5f);
            }
        }
    }
    free(change);
    return 0;
}
