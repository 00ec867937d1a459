// Similarity transforms of the plane (rotation, uniform scale, shift): how a face in a frame is
// brought onto the model's square (filter/align.h), and how dlib's landmark cascades turn their
// feature points with the current shape (filter/landmarks_predict.c).
#ifndef AGESHIFT_SIMILARITY_H
#define AGESHIFT_SIMILARITY_H

// (x, y) -> (a x - b y + tx, b x + a y + ty): a rotation by atan2(b, a), a scale by |(a, b)|.
typedef struct {
    float a, b, tx, ty;
} Similarity;

// The least-squares similarity taking the n points src (x0, y0, x1, ...) onto dst (Umeyama 1991,
// without reflection), computed in double and rounded to float. Fewer than 2 distinct points give
// the shift between their means.
Similarity similarity_fit(const float *src, const float *dst, int n);
void similarity_apply(Similarity t, float x, float y, float *ox, float *oy);
Similarity similarity_inverse(Similarity t); // t must have a scale > 0
float similarity_scale(Similarity t);

// t after p -> k p + (dx, dy): the same transform for coordinates k times coarser and shifted.
Similarity similarity_after(Similarity t, float k, float dx, float dy);

// The axis-aligned box (x0, y0, x1, y1) holding the corners of the rectangle
// [x0, x1] x [y0, y1] mapped through t.
typedef struct {
    float x0, y0, x1, y1;
} Bounds;
Bounds similarity_bounds(Similarity t, Bounds r);

#endif
