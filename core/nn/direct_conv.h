// Stride-1 convolutions with few channels on one side: the generators' 7x7 convolutions from and
// to RGB (3 -> ngf, ngf -> 3). As GEMMs they are thin (M = 3) or short (K = 147) and go through
// an im2col matrix of up to 100 MB at 128 px, far below the machine's speed. Here each is done
// directly, register-blocked: a block of output channels times a run of output columns (4 x 4
// vectors of 16 with AVX-512, 3 x 3 of 8 with AVX2) stays in vector registers while every
// kernel tap adds one row segment of the input times its weight (GCC/Clang vector extensions,
// so the same code is AVX-512, AVX2 or SSE as the build targets).
// The data gradient is the same kernel run on the output gradient, zero-padded by k-1-pad, with
// the weight turned by 180 degrees and its channels swapped; the weight gradient sums, per
// (input channel, kernel row), products of output-gradient rows and shifted input rows.
#ifndef AGESHIFT_DIRECT_CONV_H
#define AGESHIFT_DIRECT_CONV_H

#include <stdbool.h>
#include <stddef.h>

#include "core/base/pool.h"
#include "core/nn/conv.h"

// At most this many channels on the narrow side (input or output).
#define DIRECT_CONV_MAX_CHANNELS 4

// Whether s is done here: stride 1, not transposed, input or output channels <= the above;
// never after direct_conv_set_enabled(false) (to measure against im2col: bench_core --direct).
bool direct_conv_applies(const ConvShape *s);
void direct_conv_set_enabled(bool enabled);
// Floats per vector the kernels were built for: 16 with AVX-512, 8 with AVX2, else 4.
int direct_conv_lanes(void);

// Scratch floats one image needs (padded copies of the input or output gradient and the turned
// weight); 0 where direct_conv_applies is false. A trace planned before a change of the above
// must be planned again.
size_t direct_conv_workspace_floats(const ConvShape *s);

// One image: out (OC, OH, OW) = conv(in (C, H, W), weight) (no bias; out overwritten).
void direct_conv_forward(Pool *pool, const ConvShape *s, const float *in, const float *weight,
                         float *out, float *work);
// One image: din (nullable) += dL/din, dweight (nullable) += dL/dweight for dout (OC, OH, OW).
void direct_conv_backward(Pool *pool, const ConvShape *s, const float *in, const float *weight,
                          const float *dout, float *din, float *dweight, float *work);

#endif
