// Winograd's F(4x4, 3x3) for inference (Lavin & Gray 2016): 4x4 output tiles read from 6x6
// input tiles, 36 GEMMs over channels, 36 multiplies per tile and channel pair where the plain
// convolution needs 144: 4x fewer, against F(2x2, 3x3)'s 2.25x, and cheaper transforms per
// output pixel. Its larger transform constants (up to 8 and 1/24) cost precision: up to 7e-6 of
// the largest output where F(2x2, 3x3) gives 3e-7 (tests/test_winograd.c), nothing against an
// 8-bit picture but more than training should carry, so only winograd.h's kept kernels
// (inference traces) use it. Internal to winograd.c.
#ifndef AGESHIFT_WINOGRAD4_H
#define AGESHIFT_WINOGRAD4_H

#include <stddef.h>

#include "core/base/pool.h"
#include "core/nn/conv.h"

// Tiles (4x4 of the output) of an oh x ow output.
size_t winograd4_tiles(int oh, int ow);
// Floats of the transformed kernel (36 x OC x C) and of one image's scratch.
size_t winograd4_kernel_floats(const ConvShape *s);
size_t winograd4_workspace_floats(const ConvShape *s);
// u = G g G^T of the layer's (OC, C, 3, 3) weight.
void winograd4_transform_kernel(Pool *pool, const ConvShape *s, const float *weight, float *u);
// One image: out (OC, OH, OW) = conv(in (C, H, W)) with the transformed kernel (overwritten).
void winograd4_forward(Pool *pool, const ConvShape *s, const float *in, const float *u, float *out,
                       float *work);

#endif
