#include "core/nn/winograd_pick.h"

#include <stdlib.h>

#include "core/base/clock.h"
#include "core/base/rng.h"
#include "core/nn/winograd.h"

enum { ROUNDS = 5 };

typedef struct {
    float *in, *weight, *out, *din, *dweight, *work;
} Buffers;

static void free_buffers(Buffers *b)
{
    free(b->in), free(b->weight), free(b->out), free(b->din), free(b->dweight), free(b->work);
}

static float *random_floats(size_t n, Rng *rng)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; x && i < n; i++)
        x[i] = rng_range(rng, -1.0f, 1.0f);
    return x;
}

// Seconds per call of one pass of s (one image), the mean of reps calls.
static double time_pass(Pool *pool, const ConvShape *s, WinogradPass pass, const Buffers *b,
                        int reps)
{
    double t0 = clock_now_s();
    for (int i = 0; i < reps; i++) {
        if (pass == WINOGRAD_PASS_FORWARD)
            conv2d_forward(pool, s, b->in, b->weight, NULL, b->out, b->work);
        else if (pass == WINOGRAD_PASS_DATA)
            conv2d_backward(pool, s, b->in, b->weight, b->out, b->din, NULL, NULL, b->work);
        else
            conv2d_backward(pool, s, b->in, b->weight, b->out, NULL, b->dweight, NULL, b->work);
    }
    return (clock_now_s() - t0) / reps;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int winograd_pick_measure(Pool *pool, ConvShape *s, Err *err)
{
    if (!winograd_eligible(s) || winograd_output_tiles(s) < WINOGRAD_PICK_MIN_TILES ||
        winograd_mode() != WINOGRAD_BY_SHAPE)
        return 0;
    ConvShape by[2] = {*s, *s}; // [0] Winograd, [1] im2col, for one image
    for (int p = 0; p < 3; p++) {
        by[0].winograd_pick[p] = WINOGRAD_PICK_WINOGRAD;
        by[1].winograd_pick[p] = WINOGRAD_PICK_IM2COL;
    }
    by[0].n = by[1].n = 1;
    const size_t ni = (size_t)s->c * s->h * s->w, no = (size_t)s->oc * s->oh * s->ow;
    const size_t nw = (size_t)s->oc * s->c * 9;
    Rng rng;
    rng_seed(&rng, 0x9c4);
    Buffers b = {random_floats(ni, &rng), random_floats(nw, &rng), random_floats(no, &rng),
                 calloc(ni, sizeof(float)), calloc(nw, sizeof(float)),
                 malloc(conv_workspace_floats(s) * sizeof(float))};
    if (!b.in || !b.weight || !b.out || !b.din || !b.dweight || !b.work) {
        free_buffers(&b);
        return err_set(err, "out of memory measuring a %dx%dx%d convolution", s->c, s->h, s->w);
    }
    // About 20 ms of work per timing (at ~100 GFLOP/s), at least one call; the first round
    // warms caches and packs and is dropped.
    const double macs = (double)s->oc * s->c * 9 * s->oh * s->ow;
    const int reps = (int)(1e9 / macs) + 1;
    for (int pass = 0; pass < 3; pass++) {
        double ratio[ROUNDS]; // im2col time / Winograd time
        for (int r = -1; r < ROUNDS; r++) {
            double t[2];
            for (int k = 0; k < 2; k++) { // alternate which path goes first
                int path = (r + k) & 1;
                t[path] = time_pass(pool, &by[path], (WinogradPass)pass, &b, reps);
            }
            if (r >= 0)
                ratio[r] = t[1] / t[0];
        }
        qsort(ratio, ROUNDS, sizeof *ratio, by_value);
        s->winograd_pick[pass] =
            ratio[ROUNDS / 2] > 1.0 ? WINOGRAD_PICK_WINOGRAD : WINOGRAD_PICK_IM2COL;
    }
    free_buffers(&b);
    return 0;
}
