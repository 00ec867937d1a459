// Winograd's F(4x4, 3x3) (Lavin & Gray 2016): 4x4 output tiles read from 6x6 input tiles, 36
// GEMMs over channels, 36 multiplies per tile and channel pair where the plain convolution needs
// 144: 4x fewer, against F(2x2, 3x3)'s 2.25x, and cheaper transforms per output pixel. Its larger
// transform constants (up to 8 and 1/24) cost precision: up to 7e-6 of the largest output where
// F(2x2, 3x3) gives 3e-7 (tests/test_winograd.c), nothing against an 8-bit picture and far below
// the noise of a training step. winograd.h's kept kernels (inference traces) use it, and
// training where winograd_pick.h measured it fastest (forward and data gradient; the weight
// gradient stays F(2x2)). Internal to winograd.c.
#ifndef AGESHIFT_WINOGRAD4_H
#define AGESHIFT_WINOGRAD4_H

#include <stddef.h>

#include "core/base/pool.h"
#include "core/nn/conv.h"

// Tiles (4x4 of the output) of an oh x ow output.
size_t winograd4_tiles(int oh, int ow);
// Floats of the transformed kernel (36 x OC x C) and of one image's scratch (any call below).
size_t winograd4_kernel_floats(const ConvShape *s);
size_t winograd4_workspace_floats(const ConvShape *s);
// u = G g G^T of the layer's (OC, C, 3, 3) weight.
void winograd4_transform_kernel(Pool *pool, const ConvShape *s, const float *weight, float *u);
// One image: out (OC, OH, OW) = conv(in (C, H, W)) with the transformed kernel (overwritten).
void winograd4_forward(Pool *pool, const ConvShape *s, const float *in, const float *u, float *out,
                       float *work);
// The same with the layer's (OC, C, 3, 3) weight, transformed into work first (training).
void winograd4_forward_weight(Pool *pool, const ConvShape *s, const float *in, const float *weight,
                              float *out, float *work);
// One image: din (C, H, W) += dL/din for dout (OC, OH, OW).
void winograd4_data_backward(Pool *pool, const ConvShape *s, const float *weight, const float *dout,
                             float *din, float *work);

#endif
