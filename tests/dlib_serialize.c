// dlib's serialisation, written: the inverse of filter/landmarks_load.c's reader.
#include "tests/dlib_serialize.h"

#include <math.h>
#include <stdlib.h>

#include "filter/landmarks_internal.h"

static void put_byte(DlibOut *o, uint8_t v)
{
    if (o->n == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 4096;
        if (!(o->b = realloc(o->b, o->cap)))
            abort();
    }
    o->b[o->n++] = v;
}

void dlib_put_uint(DlibOut *o, uint64_t v)
{
    uint8_t bytes[8];
    int n = 0;
    do {
        bytes[n++] = (uint8_t)(v & 0xFF);
        v >>= 8;
    } while (v);
    put_byte(o, (uint8_t)n);
    for (int i = 0; i < n; i++)
        put_byte(o, bytes[i]);
}

void dlib_put_int(DlibOut *o, int64_t v)
{
    size_t at = o->n;
    dlib_put_uint(o, (uint64_t)(v < 0 ? -v : v));
    if (v < 0)
        o->b[at] |= 0x80;
}

void dlib_put_float(DlibOut *o, float v)
{
    if (!isfinite(v)) { // dlib's special exponents: infinity, minus infinity, NaN
        dlib_put_int(o, 0);
        dlib_put_int(o, isnan(v) ? 32002 : v > 0 ? 32000 : 32001);
        return;
    }
    int e;
    float frac = frexpf(v, &e); // v = frac * 2^e, |frac| in [0.5, 1): 24 bits hold it exactly
    dlib_put_int(o, (int64_t)ldexpf(frac, 24));
    dlib_put_int(o, e - 24);
}

void dlib_put_column(DlibOut *o, const float *v, int n)
{
    dlib_put_int(o, -n);
    dlib_put_int(o, -1);
    for (int i = 0; i < n; i++)
        dlib_put_float(o, v[i]);
}

void dlib_put_model(DlibOut *o, const LandmarkModel *m, int cascades, int trees)
{
    const int len = 2 * m->points;
    dlib_put_int(o, 1); // version
    dlib_put_column(o, m->initial_shape, len);
    dlib_put_uint(o, (uint64_t)cascades);
    for (int c = 0; c < cascades; c++) {
        dlib_put_uint(o, (uint64_t)trees);
        for (int t = 0; t < trees; t++) {
            size_t tree = (size_t)c * (size_t)m->trees + (size_t)t;
            const LandmarkSplit *s = m->split + tree * (size_t)m->splits;
            dlib_put_uint(o, (uint64_t)m->splits);
            for (int i = 0; i < m->splits; i++) {
                dlib_put_uint(o, s[i].a);
                dlib_put_uint(o, s[i].b);
                dlib_put_float(o, s[i].thresh);
            }
            dlib_put_uint(o, (uint64_t)m->splits + 1);
            for (int i = 0; i <= m->splits; i++)
                dlib_put_column(o, m->leaf + (tree * (size_t)(m->splits + 1) + (size_t)i) * len,
                                len);
        }
    }
    dlib_put_uint(o, (uint64_t)cascades);
    for (int c = 0; c < cascades; c++) {
        dlib_put_uint(o, (uint64_t)m->features);
        for (int i = 0; i < m->features; i++)
            dlib_put_uint(o, m->anchor[(size_t)c * (size_t)m->features + (size_t)i]);
    }
    dlib_put_uint(o, (uint64_t)cascades);
    for (int c = 0; c < cascades; c++) {
        dlib_put_uint(o, (uint64_t)m->features);
        for (int i = 0; i < 2 * m->features; i++)
            dlib_put_float(o, m->delta[(size_t)c * (size_t)m->features * 2 + (size_t)i]);
    }
}
