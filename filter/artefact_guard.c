// The artefact score of a change and the factor it gives. See artefact_guard.h.
#include "filter/artefact_guard.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "filter/align.h"

#define CELLS (GUARD_GRID * GUARD_GRID)

// A plane (size, size) sampled bilinearly at (x, y), continuous pixels, edges clamped.
static float sample(const float *p, int size, float x, float y)
{
    x -= 0.5f;
    y -= 0.5f;
    x = x < 0.0f ? 0.0f : x > (float)(size - 1) ? (float)(size - 1) : x;
    y = y < 0.0f ? 0.0f : y > (float)(size - 1) ? (float)(size - 1) : y;
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + 1 < size ? x0 + 1 : x0, y1 = y0 + 1 < size ? y0 + 1 : y0;
    float fx = x - (float)x0, fy = y - (float)y0;
    const float *r0 = p + (size_t)y0 * size, *r1 = p + (size_t)y1 * size;
    return (1.0f - fy) * ((1.0f - fx) * r0[x0] + fx * r0[x1]) +
           fy * ((1.0f - fx) * r1[x0] + fx * r1[x1]);
}

// A 3 x 3 box mean over the grid, edges clamped, in place through tmp.
static void box3(float *g, float *tmp)
{
    for (int y = 0; y < GUARD_GRID; y++)
        for (int x = 0; x < GUARD_GRID; x++) {
            float s = 0.0f;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int yy = y + dy < 0 ? 0 : y + dy >= GUARD_GRID ? GUARD_GRID - 1 : y + dy;
                    int xx = x + dx < 0 ? 0 : x + dx >= GUARD_GRID ? GUARD_GRID - 1 : x + dx;
                    s += g[yy * GUARD_GRID + xx];
                }
            tmp[y * GUARD_GRID + x] = s / 9.0f;
        }
    memcpy(g, tmp, CELLS * sizeof *g);
}

static int by_value(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static float median(const float *g, float *tmp)
{
    memcpy(tmp, g, CELLS * sizeof *tmp);
    qsort(tmp, CELLS, sizeof *tmp, by_value);
    return 0.5f * (tmp[CELLS / 2 - 1] + tmp[CELLS / 2]);
}

float artefact_guard_score(const float *change, int size, float *work)
{
    // The face's box in the model's square: the template's landmarks, jaw to brows.
    float x0 = 1.0f, y0 = 1.0f, x1 = 0.0f, y1 = 0.0f;
    for (int i = 0; i < ALIGN_POINTS; i++) {
        x0 = fminf(x0, align_template[2 * i]);
        x1 = fmaxf(x1, align_template[2 * i]);
        y0 = fminf(y0, align_template[2 * i + 1]);
        y1 = fmaxf(y1, align_template[2 * i + 1]);
    }
    float *lum = work, *c1 = work + CELLS, *c2 = work + 2 * CELLS, *tmp = work + 3 * CELLS;
    const size_t plane = (size_t)size * size;
    for (int gy = 0; gy < GUARD_GRID; gy++)
        for (int gx = 0; gx < GUARD_GRID; gx++) {
            float x = (x0 + (x1 - x0) * ((float)gx + 0.5f) / GUARD_GRID) * (float)size;
            float y = (y0 + (y1 - y0) * ((float)gy + 0.5f) / GUARD_GRID) * (float)size;
            float r = 127.5f * sample(change, size, x, y);
            float g = 127.5f * sample(change + plane, size, x, y);
            float b = 127.5f * sample(change + 2 * plane, size, x, y);
            int k = gy * GUARD_GRID + gx;
            lum[k] = (r + g + b) / 3.0f;
            c1[k] = r - g;
            c2[k] = 0.5f * (r + g) - b;
        }
    box3(lum, tmp);
    box3(c1, tmp);
    box3(c2, tmp);
    // Against the face's median change: a tint or a lightening of the whole face is no blotch.
    float ml = median(lum, tmp), m1 = median(c1, tmp), m2 = median(c2, tmp);
    int broken = 0;
    for (int k = 0; k < CELLS; k++)
        broken +=
            hypotf(c1[k] - m1, c2[k] - m2) > GUARD_COLOUR || fabsf(lum[k] - ml) > GUARD_LIGHTNESS;
    return 100.0f * (float)broken / (float)CELLS;
}

float artefact_guard_factor(float score, float amount)
{
    float f = score <= GUARD_FROM ? 1.0f
              : score >= GUARD_TO ? 0.0f
                                  : 1.0f - (score - GUARD_FROM) / (GUARD_TO - GUARD_FROM);
    return 1.0f - amount * (1.0f - f);
}
