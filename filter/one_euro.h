// The One Euro filter (Casiez, Roussel & Vogel 2012, "1 Euro Filter: A Simple Speed-based
// Low-pass Filter for Noisy Input in Interactive Systems") over a vector of coordinates: a
// low-pass filter whose cut-off frequency rises with speed, so a still signal is smoothed hard
// (jitter removed) while a moving one is followed with little lag.
//
// Here the vector is a face's landmarks. All coordinates share one cut-off, set by the speed of
// the whole shape (the root mean square of the points' speeds), so the shape is never smoothed
// unevenly, and speeds are measured in face sizes per second, so the same settings hold for a
// face of any size.
#ifndef AGESHIFT_ONE_EURO_H
#define AGESHIFT_ONE_EURO_H

#include <stdbool.h>

#define ONE_EURO_MAX 256

typedef struct {
    float min_cutoff; // Hz: the cut-off of a still shape (lower: smoother, more lag)
    float beta;       // Hz per (face size / s): how fast the cut-off rises with speed
    float d_cutoff;   // Hz: the cut-off of the speed estimate itself
} OneEuroParams;

// min_cutoff 1 Hz, beta 4, d_cutoff 1 Hz, chosen on the synthetic tracks of
// tests/test_one_euro.c (a 100 px face, +-2 px jitter, 30 fps): a still face's points move 0.24 px
// per frame instead of 1.33 (1.5 Hz and 8: 0.35), and a face moving one size per second is
// followed 1.4 px behind (1.5 Hz and 8: 1.0; 0.7 Hz and 3: 0.19 px and 1.6 px).
OneEuroParams one_euro_default(void);

typedef struct {
    OneEuroParams p;
    int n;
    bool started;
    float x[ONE_EURO_MAX];  // the filtered values
    float dx[ONE_EURO_MAX]; // the filtered derivative, per second
} OneEuro;

void one_euro_init(OneEuro *f, const OneEuroParams *p, int n); // n <= ONE_EURO_MAX

// Filters one sample: x (n values) is replaced by its filtered value. dt: seconds since the last
// sample (> 0); size: the face's size in the same units as x (> 0).
void one_euro_step(OneEuro *f, float *x, float dt, float size);

#endif
