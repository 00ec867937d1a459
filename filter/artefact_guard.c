// The artefact score of a change and the factor it gives. See artefact_guard.h.
#include "filter/artefact_guard.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "filter/align.h"
#include "filter/plane.h"

#define CELLS (GUARD_GRID * GUARD_GRID)

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
    const Bounds box = align_template_bounds();
    float *lum = work, *c1 = work + CELLS, *c2 = work + 2 * CELLS, *tmp = work + 3 * CELLS;
    const size_t plane = (size_t)size * size;
    for (int gy = 0; gy < GUARD_GRID; gy++)
        for (int gx = 0; gx < GUARD_GRID; gx++) {
            float x = (box.x0 + (box.x1 - box.x0) * ((float)gx + 0.5f) / GUARD_GRID) * (float)size;
            float y = (box.y0 + (box.y1 - box.y0) * ((float)gy + 0.5f) / GUARD_GRID) * (float)size;
            Bilinear w = bilinear_at(size, x, y);
            float r = 127.5f * bilinear(&w, change);
            float g = 127.5f * bilinear(&w, change + plane);
            float b = 127.5f * bilinear(&w, change + 2 * plane);
            int k = gy * GUARD_GRID + gx;
            lum[k] = (r + g + b) / 3.0f;
            c1[k] = r - g;
            c2[k] = 0.5f * (r + g) - b;
        }
    plane_box_mean(lum, GUARD_GRID, 1, lum, tmp);
    plane_box_mean(c1, GUARD_GRID, 1, c1, tmp);
    plane_box_mean(c2, GUARD_GRID, 1, c2, tmp);
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
