// Box means of float planes. See plane.h.
#include "filter/plane.h"

void plane_box_mean(const float *in, int size, int r, float *out, float *tmp)
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
