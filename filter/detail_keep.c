// The high band of the change scaled down where the generator lost the original's fine
// detail. See detail_keep.h.
#include "filter/detail_keep.h"

#include "filter/plane.h"

// The high band of a plane: the plane less its 5 x 5 tent blur (two 3 x 3 box means).
static void high_band(const float *in, int size, float *out, float *tmp)
{
    plane_box_mean(in, size, 1, out, tmp);
    plane_box_mean(out, size, 1, out, tmp);
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
    float *hi_o = work, *hi_g = work + 3 * plane, *e_orig = work + 6 * plane,
          *e_gen = work + 7 * plane, *k = work + 8 * plane, *tmp = work + 9 * plane;
    // The high bands, and their energy summed over channels.
    for (size_t i = 0; i < plane; i++)
        e_orig[i] = e_gen[i] = 0.0f;
    for (int ch = 0; ch < 3; ch++) {
        float *o = hi_o + ch * plane, *g = hi_g + ch * plane;
        high_band(orig + ch * plane, size, o, tmp);
        high_band(gen + ch * plane, size, g, tmp);
        for (size_t i = 0; i < plane; i++) {
            e_orig[i] += o[i] * o[i];
            e_gen[i] += g[i] * g[i];
        }
    }
    plane_box_mean(e_orig, size, 2, e_orig, tmp);
    plane_box_mean(e_gen, size, 2, e_gen, tmp);
    // k per pixel. A flat patch of the original (no detail to lose) keeps the whole change:
    // 1e-6 is a standard deviation of 0.06 levels of 255 in [-1, 1] units.
    for (size_t i = 0; i < plane; i++) {
        float eo = e_orig[i], eg = e_gen[i];
        k[i] = eo > 1e-6f && eg < eo ? amount * (1.0f - eg / eo) : 0.0f;
    }
    for (int ch = 0; ch < 3; ch++) {
        const float *o = hi_o + ch * plane, *g = hi_g + ch * plane;
        float *c = change + ch * plane;
        for (size_t i = 0; i < plane; i++)
            c[i] -= k[i] * (g[i] - o[i]);
    }
}
