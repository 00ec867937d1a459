// The landmark mask: a polygon, its signed distance per model pixel, two raised-cosine ramps.
// See face_mask.h.
#include "filter/face_mask.h"

#include <math.h>
#include <stddef.h>

#define PI_F 3.14159265358979f
#define OUTLINE 27 // 17 jaw points and 10 raised brow points

// 1 at t <= 0, 0 at t >= 1, a raised cosine between.
static float ramp(float t)
{
    return t <= 0.0f ? 1.0f : t >= 1.0f ? 0.0f : 0.5f * (1.0f + cosf(PI_F * t));
}

// Distance from p to the closed polygon's outline, negative inside (even-odd rule).
static float signed_distance(const float *poly, int n, float x, float y)
{
    float best = INFINITY;
    int inside = 0;
    for (int i = 0, j = n - 1; i < n; j = i++) {
        float ax = poly[2 * j], ay = poly[2 * j + 1], bx = poly[2 * i], by = poly[2 * i + 1];
        float ex = bx - ax, ey = by - ay, len2 = ex * ex + ey * ey;
        float t = len2 > 0.0f ? ((x - ax) * ex + (y - ay) * ey) / len2 : 0.0f;
        t = t < 0.0f ? 0.0f : t > 1.0f ? 1.0f : t;
        float dx = x - (ax + t * ex), dy = y - (ay + t * ey);
        best = fminf(best, dx * dx + dy * dy);
        if ((ay > y) != (by > y) && x < ax + (y - ay) / (by - ay) * ex)
            inside = !inside;
    }
    return inside ? -sqrtf(best) : sqrtf(best);
}

// The signed distance to the outline at the g points of grid row j (pixel centres COARSE apart).
enum { COARSE = 2 };
static void grid_row(const float *poly, int g, int j, float *row)
{
    for (int i = 0; i < g; i++)
        row[i] = signed_distance(poly, OUTLINE, (float)(COARSE * i) + 0.5f,
                                 (float)(COARSE * j) + 0.5f);
}

void face_mask_landmarks(const float *pt, int size, float hair, float *mask)
{
    // The outline: jaw 0..16, then brows 26..17 raised along the face's up direction (the
    // perpendicular of the eye line, pointing away from the chin).
    float ex = (pt[2 * 45] + pt[2 * 42]) - (pt[2 * 36] + pt[2 * 39]);
    float ey = (pt[2 * 45 + 1] + pt[2 * 42 + 1]) - (pt[2 * 36 + 1] + pt[2 * 39 + 1]);
    float el = hypotf(ex, ey);
    float ux = el > 0.0f ? ey / el : 0.0f, uy = el > 0.0f ? -ex / el : -1.0f; // "up"
    float brow_x = 0, brow_y = 0;
    for (int i = 17; i <= 26; i++)
        brow_x += pt[2 * i] / 10, brow_y += pt[2 * i + 1] / 10;
    float height = fabsf((pt[2 * 8] - brow_x) * ux + (pt[2 * 8 + 1] - brow_y) * uy);
    float lift = FACE_MASK_FOREHEAD * height;
    float poly[2 * OUTLINE];
    for (int i = 0; i <= 16; i++)
        poly[2 * i] = pt[2 * i], poly[2 * i + 1] = pt[2 * i + 1];
    for (int k = 0; k < 10; k++) {
        int i = 26 - k;
        poly[2 * (17 + k)] = pt[2 * i] + lift * ux;
        poly[2 * (17 + k) + 1] = pt[2 * i + 1] + lift * uy;
    }
    // Heights along "up" of the eyes and the mouth, for the hair band's fade.
    float eye = ((pt[2 * 36] + pt[2 * 45]) * ux + (pt[2 * 36 + 1] + pt[2 * 45 + 1]) * uy) / 2;
    float mouth = ((pt[2 * 48] + pt[2 * 54]) * ux + (pt[2 * 48 + 1] + pt[2 * 54 + 1]) * uy) / 2;
    const float s = (float)size, feather = FACE_MASK_FEATHER * s, band = FACE_MASK_HAIR_BAND * s;
    const float edge = FACE_MASK_EDGE * s;
    // The distance to the outline (27 segments a point) on a grid of every COARSE-th pixel,
    // interpolated between: it changes smoothly, and the ramps over it are ~10 px wide at 128 px.
    // Two grid rows at a time (the pixel row's above and below), each computed once: the stack
    // holds 2 rows whatever the model's size, where the whole grid would not.
    const int g = size / COARSE + 2; // grid points at pixel centres 0, 2, 4, ... and one beyond
    float rows[2][g], *above = rows[0], *below = rows[1];
    int above_j = -2; // the grid row in `above` (none yet)
    for (int y = 0; y < size; y++) {
        const int j = y / COARSE; // grows by one at a time: the old row below is the new above
        if (j != above_j) {
            if (above_j == j - 1) {
                float *t = above;
                above = below, below = t;
            } else {
                grid_row(poly, g, j, above);
            }
            grid_row(poly, g, j + 1, below);
            above_j = j;
        }
        for (int x = 0; x < size; x++) {
            float cx = (float)x + 0.5f, cy = (float)y + 0.5f;
            int i = x / COARSE;
            float fx = (float)(x % COARSE) / COARSE, fy = (float)(y % COARSE) / COARSE;
            const float *c0 = above + i, *c1 = below + i;
            float d =
                (1 - fy) * ((1 - fx) * c0[0] + fx * c0[1]) + fy * ((1 - fx) * c1[0] + fx * c1[1]);
            float m = ramp((d + feather) / feather);
            if (hair > 0.0f && d < band) {
                float up = cx * ux + cy * uy;
                float fade = eye > mouth ? (up - mouth) / (eye - mouth) : 1.0f;
                fade = fade < 0.0f ? 0.0f : fade > 1.0f ? 1.0f : fade;
                m = fmaxf(m, hair * fade * ramp((d - (band - feather)) / feather));
            }
            float border = fminf(fminf(cx, s - cx), fminf(cy, s - cy));
            mask[(size_t)y * size + x] = m * (1.0f - ramp((border - 0.5f) / edge));
        }
    }
}
