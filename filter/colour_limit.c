// The colour a change brings, held to the face's median change. See colour_limit.h.
#include "filter/colour_limit.h"

#include <math.h>

#include "filter/align.h"

// The k-th smallest of x[0..n) (x is reordered): Hoare's selection.
static float select_kth(float *x, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        float pivot = x[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pivot)
                i++;
            while (x[j] > pivot)
                j--;
            if (i <= j) {
                float t = x[i];
                x[i] = x[j], x[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return x[k];
}

void colour_limit(const float *orig, float *change, int size, float limit, float *work)
{
    if (!(limit > 0.0f))
        return;
    const size_t plane = (size_t)size * size;
    float *dr = change, *dg = change + plane, *db = change + 2 * plane;
    const float *r = orig, *g = orig + plane, *b = orig + 2 * plane;
    // The face's median change in opponent colours, over the aligned face's box.
    const Bounds box = align_template_bounds();
    int x0 = (int)(box.x0 * size), x1 = (int)ceilf(box.x1 * size);
    int y0 = (int)(box.y0 * size), y1 = (int)ceilf(box.y1 * size);
    x0 = x0 < 0 ? 0 : x0, y0 = y0 < 0 ? 0 : y0;
    x1 = x1 > size ? size : x1, y1 = y1 > size ? size : y1;
    float *o1 = work, *o2 = work + plane;
    size_t n = 0;
    for (int y = y0; y < y1; y++)
        for (int x = x0; x < x1; x++, n++) {
            size_t i = (size_t)y * size + x;
            o1[n] = 127.5f * (dr[i] - dg[i]);
            o2[n] = 127.5f * (0.5f * (dr[i] + dg[i]) - db[i]);
        }
    if (n == 0)
        return;
    const float m1 = select_kth(o1, n, n / 2), m2 = select_kth(o2, n, n / 2);
    for (size_t i = 0; i < plane; i++) {
        // The pixel's colour after the face's even tint, and the change's departure from it.
        float c1 = 127.5f * (r[i] - g[i]) + m1, c2 = 127.5f * (0.5f * (r[i] + g[i]) - b[i]) + m2;
        float e1 = 127.5f * (dr[i] - dg[i]) - m1;
        float e2 = 127.5f * (0.5f * (dr[i] + dg[i]) - db[i]) - m2;
        if (e1 * e1 + e2 * e2 <= limit * limit)
            continue; // within the limit whatever its direction (most pixels)
        // Towards grey: along -c, up to grey itself.
        float sat = sqrtf(c1 * c1 + c2 * c2), fade = 0.0f, u1 = 0.0f, u2 = 0.0f;
        if (sat > 1e-3f) {
            u1 = -c1 / sat, u2 = -c2 / sat;
            fade = fminf(fmaxf(e1 * u1 + e2 * u2, 0.0f), sat);
        }
        float rest1 = e1 - fade * u1, rest2 = e2 - fade * u2;
        float rest = sqrtf(rest1 * rest1 + rest2 * rest2);
        if (rest <= limit)
            continue;
        // Hold the rest to the limit: the correction, back from opponent colours to RGB
        // (r = L + o1 / 2 + o2 / 3, g = L - o1 / 2 + o2 / 3, b = L - 2 o2 / 3).
        float k = limit / rest - 1.0f, d1 = k * rest1 / 127.5f, d2 = k * rest2 / 127.5f;
        dr[i] += 0.5f * d1 + d2 / 3.0f;
        dg[i] += -0.5f * d1 + d2 / 3.0f;
        db[i] += -2.0f * d2 / 3.0f;
    }
}
