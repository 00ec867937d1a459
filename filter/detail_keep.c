// The high band of the change scaled down where the generator lost the original's fine
// detail. See detail_keep.h.
#include "filter/detail_keep.h"

#include <math.h>

// A (2r + 1)^2 box mean of a (size, size) plane, edges clamped, through tmp (size * size).
static void box_mean(const float *in, int size, int r, float *out, float *tmp)
{
    const float inv = 1.0f / (float)(2 * r + 1);
    for (int y = 0; y < size; y++) {
        const float *row = in + (size_t)y * size;
        for (int x = 0; x < size; x++) {
            float s = 0.0f;
            for (int k = -r; k <= r; k++) {
                int xx = x + k < 0 ? 0 : x + k >= size ? size - 1 : x + k;
                s += row[xx];
            }
            tmp[(size_t)y * size + x] = s * inv;
        }
    }
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            float s = 0.0f;
            for (int k = -r; k <= r; k++) {
                int yy = y + k < 0 ? 0 : y + k >= size ? size - 1 : y + k;
                s += tmp[(size_t)yy * size + x];
            }
            out[(size_t)y * size + x] = s * inv;
        }
}

// The high band of a plane: the plane less its 5 x 5 tent blur (two 3 x 3 box means).
static void high_band(const float *in, int size, float *out, float *tmp, float *tmp2)
{
    box_mean(in, size, 1, tmp2, tmp);
    box_mean(tmp2, size, 1, out, tmp);
    const size_t plane = (size_t)size * size;
    for (size_t i = 0; i < plane; i++)
        out[i] = in[i] - out[i];
}

void detail_keep(const float *orig, const float *gen, int size, float amount, float *change,
                 float *work)
{
    if (!(amount > 0.0f))
        return;
    const size_t plane = (size_t)size * size;
    float *e_orig = work, *e_gen = work + plane, *hi_o = work + 2 * plane, *hi_g = work + 3 * plane,
          *tmp = work + 4 * plane, *tmp2 = work + 5 * plane;
    // The high bands' energy, summed over channels (the bands themselves redone per channel
    // below rather than kept: 6 planes of work instead of 10).
    for (size_t i = 0; i < plane; i++)
        e_orig[i] = e_gen[i] = 0.0f;
    for (int ch = 0; ch < 3; ch++) {
        high_band(orig + ch * plane, size, hi_o, tmp, tmp2);
        high_band(gen + ch * plane, size, hi_g, tmp, tmp2);
        for (size_t i = 0; i < plane; i++) {
            e_orig[i] += hi_o[i] * hi_o[i];
            e_gen[i] += hi_g[i] * hi_g[i];
        }
    }
    box_mean(e_orig, size, 2, hi_o, tmp);
    box_mean(e_gen, size, 2, hi_g, tmp);
    // k per pixel, into e_orig. A flat patch of the original (no detail to lose) keeps the whole
    // change: 1e-6 is a standard deviation of 0.06 levels of 255 in [-1, 1] units.
    for (size_t i = 0; i < plane; i++) {
        float eo = hi_o[i], eg = hi_g[i];
        e_orig[i] = eo > 1e-6f && eg < eo ? amount * (1.0f - eg / eo) : 0.0f;
    }
    for (int ch = 0; ch < 3; ch++) {
        high_band(orig + ch * plane, size, hi_o, tmp, tmp2);
        high_band(gen + ch * plane, size, hi_g, tmp, tmp2);
        float *c = change + ch * plane;
        for (size_t i = 0; i < plane; i++)
            c[i] -= e_orig[i] * (hi_g[i] - hi_o[i]);
    }
}
