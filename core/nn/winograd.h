// 3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin & Gray 2016,
// "Fast Algorithms for Convolutional Neural Networks"): the output is cut into 2x2 tiles, each
// read from a 4x4 input tile; kernel and tiles are transformed (G g G^T, B^T d B), the 16
// transformed positions become 16 GEMMs over channels, and A^T m A turns each product back into a
// 2x2 output tile. 16 multiplies per tile and channel pair instead of 36: 2.25x fewer, at the
// price of the transforms. The data gradient is the same convolution of the output gradient,
// zero-padded by 2, with the kernel turned by 180 degrees and its channels swapped; the weight
// gradient is computed in the transformed domain (A dy A^T against the input's tiles, summed
// over tiles, then G^T du G). F(4x4, 3x3) (winograd4.h) saves 4x but loses about 10x more
// precision: inference's kept kernels take it, and training's forward and data gradient where a
// run measured it fastest (winograd_pick.h).
#ifndef AGESHIFT_WINOGRAD_H
#define AGESHIFT_WINOGRAD_H

#include <stdbool.h>
#include <stddef.h>

#include "core/base/pool.h"
#include "core/nn/conv.h"

// Whether these kernels can do s at all (3x3, stride 1, not transposed, not direct_conv.h's).
bool winograd_eligible(const ConvShape *s);
// The 2x2 tiles of s's output, the count the rule by shape and winograd_pick.h go by.
size_t winograd_output_tiles(const ConvShape *s);

// Which convolutions take these kernels: by shape (the default), all that can, or none (to
// measure or compare the two paths).
typedef enum { WINOGRAD_BY_SHAPE, WINOGRAD_ALWAYS, WINOGRAD_NEVER } WinogradMode;
void winograd_set_mode(WinogradMode mode);
WinogradMode winograd_mode(void);

// Whether the forward of s (its data gradient) is done here: a 3x3 stride-1 convolution, not
// transposed, not one direct_conv.h does, and by shape only when its tiles (2x2 of the
// output; for the gradient, of the input) are at least these many. Measured on the generators'
// shapes (`bench_core --conv`, in make bench; 2 cores, OpenBLAS SkylakeX): forward 1.16-1.18x
// faster than im2col at 256 tiles (32x32), 1.6x from 1,024 (64x64) up, 0.2-0.5x at 64 and
// below; the gradient 0.78-1.01x at 289 tiles, 1.3-1.8x from 1,089 up. On an AVX2 EPYC (Zen 3,
// OpenBLAS Zen) the gradient is 1.2-1.3x faster already at 289 tiles: the build's instruction
// set picks. This fixed rule serves inference and any shape not measured; a training run
// measures its shapes instead (winograd_pick.h) and keeps the picks in its checkpoint.
#define WINOGRAD_MIN_TILES_FORWARD 144
#if defined(__AVX512F__)
#define WINOGRAD_MIN_TILES_BACKWARD 1024
#else
#define WINOGRAD_MIN_TILES_BACKWARD 256
#endif
// The weight gradient (bench_core --conv on an AVX2 EPYC, Zen 3): 1.3-1.8x from 256 tiles up,
// 0.87x at 64.
#define WINOGRAD_MIN_TILES_WEIGHT 144
// A shape whose winograd_pick (conv.h) was measured takes what was measured instead.
bool winograd_forward_applies(const ConvShape *s);
bool winograd_backward_applies(const ConvShape *s);
// The same for its weight gradient (tiles of the output, as forward).
bool winograd_weight_applies(const ConvShape *s);

// Scratch floats for one image's forward or data gradient (the transformed kernel, tiles and
// products), whatever the mode (it may change after a trace is planned); 0 for a shape these
// kernels never do.
size_t winograd_workspace_floats(const ConvShape *s);

// Inference, whose weights do not change: the kernel transformed once (G g G^T; 0 floats for a
// shape these kernels never do) instead of on every call, by F(4x4, 3x3) (winograd4.h: 4x fewer
// multiplies, a little less precise) unless winograd_set_large_tiles(false) was called before
// (F(2x2, 3x3), as training). A kernel transformed one way must be used the same way.
void winograd_set_large_tiles(bool on);
bool winograd_large_tiles(void);
size_t winograd_kernel_floats(const ConvShape *s);
void winograd_transform_kernel(Pool *pool, const ConvShape *s, const float *weight, float *u);
// winograd_forward with that transformed kernel.
void winograd_forward_transformed(Pool *pool, const ConvShape *s, const float *in, const float *u,
                                  float *out, float *work);

// One image: out (OC, OH, OW) = conv(in (C, H, W), weight) (no bias; out overwritten), by
// F(4x4, 3x3) where s->winograd_pick says so, else F(2x2, 3x3).
void winograd_forward(Pool *pool, const ConvShape *s, const float *in, const float *weight,
                      float *out, float *work);
// One image: dweight (OC, C, 3, 3) += dL/dweight for in (C, H, W) and dout (OC, OH, OW): the
// forward's input transform, dout's tiles transformed (A dy A^T), 16 GEMMs over the tiles, and
// the sum transformed back (G^T du G).
void winograd_weight_backward(Pool *pool, const ConvShape *s, const float *in, const float *dout,
                              float *dweight, float *work);
// One image: din (C, H, W) += dL/din for dout (OC, OH, OW), F(4x4, 3x3) as winograd_forward.
void winograd_data_backward(Pool *pool, const ConvShape *s, const float *weight, const float *dout,
                            float *din, float *work);

#endif
