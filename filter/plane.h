// Float planes (size, size) at model resolution, as the blend, the detail kept and the
// artefact guard read them: bilinear samples and box means.
#ifndef AGESHIFT_PLANE_H
#define AGESHIFT_PLANE_H

#include <math.h>
#include <stddef.h>

// Where a bilinear sample of a (size, size) plane at model coordinates (x, y) (pixel centres
// at i + 0.5, clamped to the plane) reads: four offsets and their weights.
typedef struct {
    size_t i00, i01, i10, i11;
    float w00, w01, w10, w11;
} Bilinear;

static inline Bilinear bilinear_at(int size, float x, float y)
{
    x = fminf(fmaxf(x - 0.5f, 0.0f), (float)(size - 1));
    y = fminf(fmaxf(y - 0.5f, 0.0f), (float)(size - 1));
    int ix = (int)x, iy = (int)y;
    int ix1 = ix + 1 < size ? ix + 1 : ix, iy1 = iy + 1 < size ? iy + 1 : iy;
    float fx = x - (float)ix, fy = y - (float)iy;
    size_t r0 = (size_t)iy * size, r1 = (size_t)iy1 * size;
    return (Bilinear){r0 + ix,       r0 + ix1,      r1 + ix, r1 + ix1, (1 - fx) * (1 - fy),
                      fx * (1 - fy), (1 - fx) * fy, fx * fy};
}

static inline float bilinear(const Bilinear *b, const float *plane)
{
    return b->w00 * plane[b->i00] + b->w01 * plane[b->i01] + b->w10 * plane[b->i10] +
           b->w11 * plane[b->i11];
}

// A (2r + 1)^2 box mean of a plane, edges clamped, through tmp (size * size); out may be in.
void plane_box_mean(const float *in, int size, int r, float *out, float *tmp);

#endif
