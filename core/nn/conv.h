// 2-D convolution and transposed convolution by im2col + cblas_sgemm (as Caffe does); 3x3
// stride-1 convolutions forward and their data gradient by Winograd's F(2x2, 3x3) (winograd.h);
// stride-1 convolutions with few channels on one side directly (direct_conv.h).
// A transposed convolution is the data-gradient of a convolution, so one set of kernels
// serves both. Layouts are PyTorch's: tensors (N, C, H, W); conv weight (OC, C, K, K);
// transposed-conv weight (C_in, C_out, K, K). Every backward ACCUMULATES into its outputs.
#ifndef AGESHIFT_CONV_H
#define AGESHIFT_CONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/pool.h"

// The three passes of a convolution, and what measuring picked for one (ConvShape's
// winograd_pick; winograd_pick.h).
typedef enum { WINOGRAD_PASS_FORWARD, WINOGRAD_PASS_DATA, WINOGRAD_PASS_WEIGHT } WinogradPass;
// WINOGRAD_PICK_WINOGRAD takes F(2x2, 3x3), WINOGRAD_PICK_WINOGRAD4 F(4x4, 3x3) (forward and data
// gradient only).
enum { WINOGRAD_PICK_RULE, WINOGRAD_PICK_WINOGRAD, WINOGRAD_PICK_IM2COL, WINOGRAD_PICK_WINOGRAD4 };

typedef struct {
    int n, c, h, w;         // input
    int oc, k, stride, pad; // zero padding
    int oh, ow;             // output
    bool transposed;        // set by convt_shape
    // Per pass (forward, data gradient, weight gradient): Winograd or im2col as measured for
    // this shape (winograd_pick.h), or 0: winograd.h's rule by shape.
    uint8_t winograd_pick[3];
} ConvShape;

// Fills oh/ow; returns 0, or -1 when the output would be empty.
int conv_shape(ConvShape *s, int n, int c, int h, int w, int oc, int k, int stride, int pad);
// Transposed conv from (n, c, h, w) to oc channels; output (h-1)*stride - 2*pad + k + out_pad.
// The returned shape describes the equivalent forward conv: input (n, oc, oh', ow') -> (c, h, w),
// stored with .c = oc_t and .oc = c_t, so the weight (c_t, oc_t, K, K) is that conv's weight.
int convt_shape(ConvShape *s, int n, int c, int h, int w, int oc, int k, int stride, int pad,
                int out_pad);

// Scratch floats the kernels below need (one image's im2col matrix). Every kernel splits its
// work over the pool's threads (pool may be NULL: one thread).
size_t conv_workspace_floats(const ConvShape *s);

// out (N, OC, OH, OW) = conv(in (N, C, H, W), weight) + bias (bias may be NULL).
void conv2d_forward(Pool *pool, const ConvShape *s, const float *in, const float *weight,
                    const float *bias, float *out, float *work);
// conv2d_forward with the weight packed by conv_bf16_pack (conv_bf16.h: inference on AMX).
void conv2d_forward_bf16(Pool *pool, const ConvShape *s, const float *in, const uint16_t *packed,
                         const float *bias, float *out, float *work);
// conv2d_forward with the kernel transformed by winograd_transform_kernel (winograd.h), where
// winograd_forward_applies(s): inference, whose weights stay as they are.
void conv2d_forward_winograd(Pool *pool, const ConvShape *s, const float *in, const float *u,
                             const float *bias, float *out, float *work);
// conv2d_backward for training in bf16 (conv_bf16.h), where conv_bf16_applies(s): the weight
// and the data gradient on AMX where their kernels can (stride 1), fp32 otherwise. packed holds
// the turned weight (conv_bf16_packed_count of conv_bf16_gradient_shape(s)); work16 the bf16
// kernels' scratch.
void conv2d_backward_bf16(Pool *pool, const ConvShape *s, const float *in, const float *weight,
                          const float *dout, float *din, float *dweight, float *dbias,
                          float *work, uint16_t *packed, float *work16);
// din (nullable) += dL/din; dweight (nullable) += dL/dweight; dbias (nullable) += dL/dbias.
void conv2d_backward(Pool *pool, const ConvShape *s, const float *in, const float *weight,
                     const float *dout, float *din, float *dweight, float *dbias, float *work);

// With s from convt_shape: out (N, C_out, H_out, W_out) = convT(in (N, C_in, H, W)) + bias.
void convt2d_forward(Pool *pool, const ConvShape *s, const float *in, const float *weight,
                     const float *bias, float *out, float *work);
void convt2d_backward(Pool *pool, const ConvShape *s, const float *in, const float *weight,
                      const float *dout, float *din, float *dweight, float *dbias, float *work);

#endif
