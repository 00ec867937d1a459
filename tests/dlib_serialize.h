// Writing dlib's serialisation (see filter/landmarks.h) for tests and fuzz seeds: integers,
// floats, float columns, and a whole landmark model, optionally cut to its first cascades and
// trees (a small but real model).
#ifndef AGESHIFT_TESTS_DLIB_SERIALIZE_H
#define AGESHIFT_TESTS_DLIB_SERIALIZE_H

#include <stddef.h>
#include <stdint.h>

#include "filter/landmarks.h"

typedef struct {
    uint8_t *b;
    size_t n, cap;
} DlibOut; // zero-initialise; free(out.b) when done

void dlib_put_uint(DlibOut *o, uint64_t v);
void dlib_put_int(DlibOut *o, int64_t v);
void dlib_put_float(DlibOut *o, float v); // exactly; infinities and NaN as dlib writes them
void dlib_put_column(DlibOut *o, const float *v, int n); // matrix<float, 0, 1>

// The model with only its first `cascades` cascades and `trees` trees per cascade.
void dlib_put_model(DlibOut *o, const LandmarkModel *m, int cascades, int trees);

#endif
