// Convolutions in bf16 with fp32 accumulation, where the CPU has it: on Intel's AMX tiles
// (TDPBF16PS, Sapphire Rapids and later, when the kernel grants this process the tile state:
// Linux's ARCH_REQ_XCOMP_PERM) or on AVX512_BF16 vectors (VDPBF16PS: AMD Zen 4 and later,
// Intel Cooper Lake). The weight is rounded to bf16 once, each input as it comes; conv_bf16.c
// says how the two kernels read them. bf16 keeps 8 bits of mantissa: the generators' inference
// uses it (net.h's trace_use_bf16), training only where asked (trace_train_bf16); a CPU with
// neither runs everything in fp32.
#ifndef AGESHIFT_CONV_BF16_H
#define AGESHIFT_CONV_BF16_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/pool.h"
#include "core/nn/conv.h"

// Whether this CPU and OS can run the kernels below (asked once; the answer is kept).
bool conv_bf16_available(void);
// Why not, or which path: for `ageshift version`.
const char *conv_bf16_describe(void);
// Whether the kernels run on AMX tiles (else on AVX512_BF16 vectors, or not at all).
bool conv_bf16_on_amx(void);

// Whether s can be done here: a forward (not transposed) convolution with a multiple of 16
// output channels that no direct kernel takes, on a CPU where conv_bf16_available().
bool conv_bf16_applies(const ConvShape *s);

// The weight (OC, C, K, K) rounded to bf16 in the tiles' layout, channels padded to 32.
size_t conv_bf16_packed_count(const ConvShape *s); // uint16_t elements
void conv_bf16_pack(const ConvShape *s, const float *weight, uint16_t *packed);

// Scratch floats for one image split over threads pool threads.
size_t conv_bf16_workspace_floats(const ConvShape *s, int threads);

// One image: out (OC, OH, OW) = conv(in (C, H, W), packed weight), or out += it with add (no
// bias).
void conv_bf16_forward(Pool *pool, const ConvShape *s, const float *in, const uint16_t *packed,
                       float *out, bool add, float *work);

// The data gradient of a stride-1 s is a convolution too: of the output gradient, zero-padded
// by k-1-pad, with the weight turned by 180 degrees and its channels swapped. Its shape (for
// conv_bf16_applies, the workspace and conv_bf16_forward with add), and s's weight packed for it
// (conv_bf16_packed_count of that shape).
ConvShape conv_bf16_gradient_shape(const ConvShape *s);
void conv_bf16_pack_turned(const ConvShape *s, const float *weight, uint16_t *packed);

// The weight gradient of a stride-1 convolution (conv_bf16_weight.c): where it can be done
// here, its scratch, and one image's dweight (OC, C, K, K) += dL/dweight for in (C, H, W) and
// dout (OC, OH, OW).
bool conv_bf16_weight_applies(const ConvShape *s);
size_t conv_bf16_weight_workspace_floats(const ConvShape *s, int threads);
void conv_bf16_weight_grad(Pool *pool, const ConvShape *s, const float *in, const float *dout,
                           float *dweight, float *work);

// The generator's upsampling, a transposed 3x3 convolution of stride 2, pad 1 and output
// padding 1 (s from convt_shape), as one bf16 convolution of its four output phases
// (convt_bf16.c): whether it applies, its packed weight (from the transposed weight (C_in,
// C_out, 3, 3); -1 when out of memory), its scratch, and out (N, C_out, H_out, W_out) =
// convT(in) + bias (bias may be NULL).
bool convt_bf16_applies(const ConvShape *s);
size_t convt_bf16_packed_count(const ConvShape *s);
int convt_bf16_pack(const ConvShape *s, const float *weight, uint16_t *packed);
size_t convt_bf16_workspace_floats(const ConvShape *s, int threads);
void convt_bf16_forward(Pool *pool, const ConvShape *s, const float *in, const uint16_t *packed,
                        const float *bias, float *out, float *work);

#endif
