// Similarity transforms. See similarity.h.
#include "filter/similarity.h"

#include <math.h>

Similarity similarity_fit(const float *src, const float *dst, int n)
{
    double sx = 0, sy = 0, dx = 0, dy = 0;
    for (int i = 0; i < n; i++) {
        sx += src[2 * i], sy += src[2 * i + 1];
        dx += dst[2 * i], dy += dst[2 * i + 1];
    }
    if (n > 0)
        sx /= n, sy /= n, dx /= n, dy /= n;
    // In 2-D the rotation and scale of Umeyama's solution are a = sum(s . d) / sum(|s|^2),
    // b = sum(s x d) / sum(|s|^2) over the centred points.
    double dot = 0, cross = 0, norm = 0;
    for (int i = 0; i < n; i++) {
        double ax = src[2 * i] - sx, ay = src[2 * i + 1] - sy;
        double bx = dst[2 * i] - dx, by = dst[2 * i + 1] - dy;
        dot += ax * bx + ay * by;
        cross += ax * by - ay * bx;
        norm += ax * ax + ay * ay;
    }
    double a = norm > 0 ? dot / norm : 1.0, b = norm > 0 ? cross / norm : 0.0;
    return (Similarity){(float)a, (float)b, (float)(dx - (a * sx - b * sy)),
                        (float)(dy - (b * sx + a * sy))};
}

void similarity_apply(Similarity t, float x, float y, float *ox, float *oy)
{
    *ox = t.a * x - t.b * y + t.tx;
    *oy = t.b * x + t.a * y + t.ty;
}

Similarity similarity_inverse(Similarity t)
{
    // [a -b; b a]^-1 = [a b; -b a] / (a^2 + b^2)
    float k = t.a * t.a + t.b * t.b;
    float a = t.a / k, b = -t.b / k;
    return (Similarity){a, b, -(a * t.tx - b * t.ty), -(b * t.tx + a * t.ty)};
}

float similarity_scale(Similarity t)
{
    return hypotf(t.a, t.b);
}

Similarity similarity_after(Similarity t, float k, float dx, float dy)
{
    return (Similarity){t.a * k, t.b * k, t.tx + t.a * dx - t.b * dy, t.ty + t.b * dx + t.a * dy};
}

Bounds similarity_bounds(Similarity t, Bounds r)
{
    Bounds out = {INFINITY, INFINITY, -INFINITY, -INFINITY};
    for (int k = 0; k < 4; k++) {
        float x, y;
        similarity_apply(t, k & 1 ? r.x1 : r.x0, k & 2 ? r.y1 : r.y0, &x, &y);
        out.x0 = fminf(out.x0, x), out.x1 = fmaxf(out.x1, x);
        out.y0 = fminf(out.y0, y), out.y1 = fmaxf(out.y1, y);
    }
    return out;
}
