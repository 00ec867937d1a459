// The element-wise and per-plane ops of the seed's networks, each a forward/backward pair.
// A "plane" is one (n, c) image channel of H x W; planes = N * C. Every backward ACCUMULATES
// into its input gradient (din += ...), so a value used twice sums both contributions.
#ifndef AGESHIFT_OPS_H
#define AGESHIFT_OPS_H

#include <stdbool.h>
#include <stddef.h>

// out (planes, H+2p, W+2p) = in (planes, H, W) mirrored at the edges without repeating the
// edge pixel, as torch.nn.ReflectionPad2d (needs p < H and p < W).
void reflect_pad_forward(const float *in, float *out, int planes, int h, int w, int p);
void reflect_pad_backward(const float *dout, float *din, int planes, int h, int w, int p);

// out (planes, 2H, 2W) = in (planes, H, W) with every pixel repeated 2x2, as
// torch.nn.Upsample(scale_factor=2, mode='nearest'); the backward sums each 2x2 block.
void upsample2_forward(const float *in, float *out, int planes, int h, int w);
void upsample2_backward(const float *dout, float *din, int planes, int h, int w);

// Instance norm, affine=False: out = (in - mean) * rstd per plane, biased variance, with
// rstd = 1/sqrt(var + eps) stored per plane for the backward (which needs only out and rstd).
#define INSTANCE_NORM_EPS 1e-5f
void instance_norm_forward(const float *in, float *out, float *rstd, int planes, int hw);
// instance_norm_forward, then ReLU, then a reflection pad of p (0: none), in one pass over
// the output: what an inference trace runs for norm -> ReLU (-> pad) (net.c).
void instance_norm_relu_pad_forward(const float *in, float *out, float *rstd, int planes, int h,
                                    int w, int p);
void instance_norm_backward(const float *out, const float *rstd, const float *dout, float *din,
                            int planes, int hw);
// Training's instance norm followed by a ReLU (slope 0) or leaky ReLU (LEAKY_RELU_SLOPE) that
// alone reads it, as one op: the forward writes both outputs in one pass (the norm's is what
// the backward needs); the backward goes from the activation's gradient dact straight to the
// norm input's, never writing the norm output's gradient in between. Its din is written
// (add false: the caller has not zeroed it) or accumulated (add true). The forward's numbers
// are instance_norm_forward's then the activation's, bit for bit; the backward's are theirs
// to rounding (about 1e-7 relative: its sums are vectorised in another order).
void instance_norm_act_forward(const float *in, float *norm, float *act, float *rstd, int planes,
                               int hw, float slope);
void instance_norm_act_backward(const float *norm, const float *rstd, const float *dact,
                                float *din, int planes, int hw, float slope, bool add);

// The activations' backward read their own output, never their input.
void relu_forward(const float *in, float *out, size_t n);
void relu_backward(const float *out, const float *dout, float *din, size_t n);
#define LEAKY_RELU_SLOPE 0.2f
void leaky_relu_forward(const float *in, float *out, size_t n);
void leaky_relu_backward(const float *out, const float *dout, float *din, size_t n);
void tanh_forward(const float *in, float *out, size_t n);
void tanh_backward(const float *out, const float *dout, float *din, size_t n);

// out = a + b (the residual skip); its backward adds dout to both inputs' gradients.
void add_forward(const float *a, const float *b, float *out, size_t n);
void accumulate(float *dst, const float *src, size_t n); // dst += src

// out (planes) = the mean of each plane of in (planes, hw).
void mean_hw_forward(const float *in, float *out, int planes, int hw);
void mean_hw_backward(const float *dout, float *din, int planes, int hw);

// Losses with mean reduction over n elements. The backward adds scale * dL/dpred to dpred.
float mse_loss(const float *pred, const float *target, size_t n);
void mse_loss_backward(const float *pred, const float *target, float *dpred, size_t n, float scale);
// MSE against a constant target (the LSGAN real/fake labels).
float mse_const_loss(const float *pred, float target, size_t n);
void mse_const_loss_backward(const float *pred, float target, float *dpred, size_t n, float scale);
float l1_loss(const float *pred, const float *target, size_t n);
void l1_loss_backward(const float *pred, const float *target, float *dpred, size_t n, float scale);

#endif
