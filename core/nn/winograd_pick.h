// Which of Winograd's kernels (winograd.h: F(2x2, 3x3), and F(4x4, 3x3) for the forward and
// data gradient) and im2col + sgemm is fastest for a training convolution, measured once per
// shape on the machine the run starts on. No fixed rule by
// shape fits every machine: at the default model's residual blocks (64 channels, 34x34)
// Winograd's data gradient was 0.78-1.01x im2col on an Intel Sapphire Rapids and 1.29x on an
// AMD Zen 4, both AVX-512 (bench_core --conv), and the same Zen 4 gave its forward 0.74x and
// 1.21x an hour apart. The trainer records the picks in its checkpoint (a plan: net.h's
// trace_winograd_plan) so a resumed run takes the same paths, and rounds the same way, as one
// never interrupted; two runs started apart may pick differently (about 1e-6 apart).
#ifndef AGESHIFT_WINOGRAD_PICK_H
#define AGESHIFT_WINOGRAD_PICK_H

#include "core/base/err.h"
#include "core/base/pool.h"
#include "core/nn/conv.h"

// Shapes with fewer output tiles (2x2) keep winograd.h's rule, im2col on every machine measured
// (0.2-0.5x at 64 tiles and below), and tiny networks (the tests') pick the same on every run.
#define WINOGRAD_PICK_MIN_TILES 144

// Times s's forward, data gradient and weight gradient by each path on random data, in turn,
// and sets s->winograd_pick to the fastest of each (by the median over rounds of its ratio to
// im2col). Shapes winograd_eligible() refuses or below WINOGRAD_PICK_MIN_TILES are left as they
// are, as is everything while winograd_set_mode() forces a path. 0, or -1 out of memory.
int winograd_pick_measure(Pool *pool, ConvShape *s, Err *err);

#endif
