// Face landmarks: the 68 points (jaw, brows, nose, eyes, mouth) of a face whose box is known,
// found by an ensemble of regression trees (Kazemi & Sullivan 2014, "One Millisecond Face
// Alignment with an Ensemble of Regression Trees") evaluated by our own code. The model is the
// one Debian's libdlib-data ships, /usr/share/dlib/shape_predictor_68_face_landmarks.dat, in
// dlib's serialisation of its shape_predictor (read from dlib's deserialise code):
//
//   int version (1); matrix<float> initial_shape (2 * parts, 1);
//   vector<vector<tree>> forests (one forest per cascade; tree = vector<split> splits,
//   vector<matrix<float>> leaf_values; split = ulong idx1, ulong idx2, float thresh);
//   vector<vector<ulong>> anchor_idx; vector<vector<vector<float, 2>>> deltas
//
// with integers as a control byte (low 4 bits: byte count, bit 7: sign) and that many bytes,
// little end first, and floats as an integer mantissa and exponent (mantissa * 2^exponent).
//
// Prediction follows dlib's shape_predictor::operator() step for step, so that the points are
// dlib's: shapes live in the box's normalised coordinates, (0, 0) at its top-left pixel and
// (1, 1) at its bottom-right pixel (dlib's inclusive rectangle); each cascade reads the image
// at its feature points (an anchor landmark plus an offset turned and scaled with the current
// shape, sampled at the nearest pixel, 0 outside the image), and each tree adds its leaf's shape
// change, chosen by comparing differences of two feature pixels with thresholds.
//
// A LandmarkModel is immutable once loaded and may be shared by any number of threads.
#ifndef AGESHIFT_LANDMARKS_H
#define AGESHIFT_LANDMARKS_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/err.h"

#define LANDMARKS_DEFAULT_MODEL "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"
// The models this code accepts have at most this many points (dlib's are 68 or 5).
#define LANDMARKS_MAX_POINTS 128

typedef struct LandmarkModel LandmarkModel;

// Loads and checks a model. A missing or unreadable file, a file that is not a shape_predictor
// (a wrong version, a truncated or corrupt stream, counts beyond what the file can hold), or an
// inconsistent one (trees that are not full binary trees, indices out of range, leaves of the
// wrong length, values that are not finite) is refused with a reason naming the file and, for a
// bad stream, the byte offset.
LandmarkModel *landmarks_load(const char *path, Err *err);
// The same from bytes in memory; `name` is used in messages.
LandmarkModel *landmarks_load_bytes(const uint8_t *data, size_t size, const char *name, Err *err);
void landmarks_free(LandmarkModel *m); // NULL is a no-op

int landmarks_count(const LandmarkModel *m); // points per face (68 for the default model)

// The box the model was trained with: dlib's HOG face detector's. Coordinates are continuous frame
// pixels as in face_blend.h (pixel i covers [i, i + 1)): the box covers [x, x + w) x [y, y + h),
// which is dlib's rectangle (left x, top y, right x + w - 1, bottom y + h - 1) for whole numbers.
typedef struct {
    float x, y, w, h;
} LandmarkBox;

// Finds the points of the face in box: gray is (h, w) bytes, rows stride bytes apart. Writes
// landmarks_count(m) points to xy as x0, y0, x1, y1, ..., in the same continuous coordinates
// (dlib's point (i, j), at pixel (i, j)'s centre, is (i + 0.5, j + 0.5) here; dlib rounds its
// points to whole pixels, these are not rounded). Allocates nothing; safe to call from several
// threads at once.
void landmarks_predict(const LandmarkModel *m, const uint8_t *gray, int w, int h, int stride,
                       LandmarkBox box, float *xy);

#endif
