// Landmark prediction with a loaded model, step for step as dlib's shape_predictor::operator()
// (see landmarks.h), so that the same box on the same pixels gives dlib's points.
#include <math.h>

#include "filter/landmarks_internal.h"
#include "filter/similarity.h"

void landmarks_predict(const LandmarkModel *m, const uint8_t *gray, int w, int h, int stride,
                       LandmarkBox box, float *xy)
{
    const int len = 2 * m->points;
    float shape[2 * LANDMARKS_MAX_POINTS];
    for (int i = 0; i < len; i++)
        shape[i] = m->initial_shape[i];
    // dlib's rectangle: normalised (0, 0) is pixel (left, top), (1, 1) pixel (right, bottom).
    const double left = box.x, top = box.y;
    const double sx = (double)box.w - 1.0, sy = (double)box.h - 1.0;
    float pixels[m->features]; // the image at the feature points (at most 64 Ki of them)
    for (int c = 0; c < m->cascades; c++) {
        // Feature points turn and scale with the shape: the linear part of the least-squares
        // similarity from the mean shape onto the current one, as dlib's
        // find_tform_between_shapes (Umeyama, in double, rounded to float).
        Similarity sim = similarity_fit(m->initial_shape, shape, m->points);
        const float t[4] = {sim.a, -sim.b, sim.b, sim.a};
        const uint8_t *anchor = m->anchor + (size_t)c * (size_t)m->features;
        const float *delta = m->delta + (size_t)c * (size_t)m->features * 2;
        for (int i = 0; i < m->features; i++) {
            float dx = delta[2 * i], dy = delta[2 * i + 1];
            float u = t[0] * dx + t[1] * dy + shape[2 * anchor[i]];
            float v = t[2] * dx + t[3] * dy + shape[2 * anchor[i] + 1];
            double px = floor(left + (double)u * sx + 0.5), py = floor(top + (double)v * sy + 0.5);
            pixels[i] = px >= 0 && px < w && py >= 0 && py < h
                            ? (float)gray[(size_t)py * (size_t)stride + (size_t)px]
                            : 0.0f;
        }
        const LandmarkSplit *split = m->split + (size_t)c * (size_t)m->trees * (size_t)m->splits;
        const float *leaf = m->leaf + (size_t)c * (size_t)m->trees * (size_t)(m->splits + 1) * len;
        for (int k = 0; k < m->trees; k++) {
            const LandmarkSplit *s = split + (size_t)k * (size_t)m->splits;
            int node = 0;
            while (node < m->splits)
                node = pixels[s[node].a] - pixels[s[node].b] > s[node].thresh ? 2 * node + 1
                                                                              : 2 * node + 2;
            const float *add =
                leaf + ((size_t)k * (size_t)(m->splits + 1) + (size_t)(node - m->splits)) * len;
#pragma omp simd
            for (int i = 0; i < len; i++)
                shape[i] += add[i];
        }
    }
    // Back to frame pixels; +0.5: dlib's point (i, j) is the centre of pixel (i, j).
    for (int i = 0; i < m->points; i++) {
        xy[2 * i] = (float)(left + (double)shape[2 * i] * sx + 0.5);
        xy[2 * i + 1] = (float)(top + (double)shape[2 * i + 1] * sy + 0.5);
    }
}
