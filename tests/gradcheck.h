// Central finite differences against hand-written backward passes (as ggml's test-grad0):
// L = sum(r * f(inputs)) for a fixed random r, so dL/dout = r, and every input element's
// analytic gradient is compared with (L(x + h) - L(x - h)) / 2h, the sums taken in double.
#ifndef AGESHIFT_TESTS_GRADCHECK_H
#define AGESHIFT_TESTS_GRADCHECK_H

#include <stddef.h>

#define GRADCHECK_MAX_INPUTS 4

typedef struct GradCase GradCase;
struct GradCase {
    int n_inputs;
    float *input[GRADCHECK_MAX_INPUTS];
    size_t input_len[GRADCHECK_MAX_INPUTS];
    const char *input_name[GRADCHECK_MAX_INPUTS];
    size_t out_len;
    void (*forward)(GradCase *c, float *out);
    // grad[i] is zeroed by the checker; the backward must ACCUMULATE into it.
    void (*backward)(GradCase *c, const float *dout, float **grad);
    void *ctx;
};

// Checks every input element (or max_points of them per input, spread evenly). Returns the
// worst |analytic - numeric| / (atol + rtol * max|numeric|) after setting aside the
// `outliers` worst points of each input; <= 1 passes. Outliers are for whole networks, where
// a step can straddle a ReLU kink somewhere inside; single ops are checked with none.
double gradcheck(GradCase *c, float h, double atol, double rtol, size_t max_points, size_t outliers,
                 unsigned seed);

// Fills buf with values uniform in [-1, 1] whose magnitude is at least `gap` (so kinks at 0,
// as in ReLU, are never straddled by a finite-difference step).
void fill_random(float *buf, size_t n, unsigned seed, float gap);

#endif
