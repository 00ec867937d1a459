#include "core/nn/winograd_pick.h"

#include <stdlib.h>
#include <string.h>

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

// The paths a pass may take, measured against each other; the weight gradient has no F(4x4).
static const uint8_t PATHS[] = {WINOGRAD_PICK_IM2COL, WINOGRAD_PICK_WINOGRAD,
                                WINOGRAD_PICK_WINOGRAD4};
enum { N_PATHS = sizeof PATHS / sizeof *PATHS };

int winograd_pick_measure(Pool *pool, ConvShape *s, Err *err)
{
    if (!winograd_eligible(s) || winograd_output_tiles(s) < WINOGRAD_PICK_MIN_TILES ||
        winograd_mode() != WINOGRAD_BY_SHAPE)
        return 0;
    ConvShape by[N_PATHS]; // for one image, every pass by PATHS[k]
    for (int k = 0; k < N_PATHS; k++) {
        by[k] = *s;
        by[k].n = 1;
        memset(by[k].winograd_pick, PATHS[k], sizeof by[k].winograd_pick);
    }
    const size_t ni = (size_t)s->c * s->h * s->w, no = (size_t)s->oc * s->oh * s->ow;
    const size_t nw = (size_t)s->oc * s->c * 9;
    Rng rng;
    rng_seed(&rng, 0x9c4);
    Buffers b = {random_floats(ni, &rng),   random_floats(nw, &rng),
                 random_floats(no, &rng),   calloc(ni, sizeof(float)),
                 calloc(nw, sizeof(float)), malloc(conv_workspace_floats(s) * sizeof(float))};
    if (!b.in || !b.weight || !b.out || !b.din || !b.dweight || !b.work) {
        free_buffers(&b);
        return err_set(err, "out of memory measuring a %dx%dx%d convolution", s->c, s->h, s->w);
    }
    // About 20 ms of work per timing (at ~100 GFLOP/s), at least one call; the first round
    // warms caches and packs and is dropped.
    const double macs = (double)s->oc * s->c * 9 * s->oh * s->ow;
    const int reps = (int)(1e9 / macs) + 1;
    for (int pass = 0; pass < 3; pass++) {
        const int paths = pass == WINOGRAD_PASS_WEIGHT ? 2 : N_PATHS;
        double ratio[N_PATHS][ROUNDS]; // im2col's time / path k's, per round
        for (int r = -1; r < ROUNDS; r++) {
            double t[N_PATHS];
            for (int i = 0; i < paths; i++) { // rotate which path goes first
                int k = (r + 1 + i) % paths;
                t[k] = time_pass(pool, &by[k], (WinogradPass)pass, &b, reps);
            }
            for (int k = 0; r >= 0 && k < paths; k++)
                ratio[k][r] = t[0] / t[k];
        }
        int best = 0;
        double best_ratio = 1.0; // im2col's own
        for (int k = 1; k < paths; k++) {
            qsort(ratio[k], ROUNDS, sizeof *ratio[k], by_value);
            if (ratio[k][ROUNDS / 2] > best_ratio)
                best = k, best_ratio = ratio[k][ROUNDS / 2];
        }
        s->winograd_pick[pass] = PATHS[best];
    }
    free_buffers(&b);
    return 0;
}
