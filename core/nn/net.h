// A network is a fixed sequence of layers over named parameters; a Trace holds one call's
// activations (and their gradients when training) for a given input size. The generator and
// discriminator are built as layer lists (networks.h), and this one interpreter runs both
// forward and, in reverse, backward.
#ifndef AGESHIFT_NET_H
#define AGESHIFT_NET_H

#include <stdbool.h>

#include "core/nn/conv.h"
#include "core/nn/params.h"

typedef enum {
    LAYER_REFLECT_PAD,
    LAYER_CONV,
    LAYER_CONVT,
    LAYER_INSTANCE_NORM,
    LAYER_RELU,
    LAYER_LEAKY_RELU,
    LAYER_TANH,
    LAYER_ADD,      // value[in] + value[skip]
    LAYER_MEAN_HW,  // one number per (n, c)
    LAYER_UPSAMPLE, // nearest neighbour, 2x in each direction
} LayerKind;

typedef struct {
    LayerKind kind;
    int in, skip; // value indices; value 0 is the network input, layer i writes i+1
    int channels; // output channels (conv, convT)
    int k, stride, pad, out_pad;
    int weight, bias; // parameter indices, -1 when none
} Layer;

typedef struct {
    ParamSet params;
    Layer *layers;
    int n_layers, cap_layers;
    int in_channels;
} Net;

int net_add_layer(Net *net, Layer layer, Err *err); // layer.in = -1 means "the previous value"
void net_free(Net *net);                            // leaves net zeroed; NULL is a no-op

typedef struct {
    int n, c, h, w;
} Shape4;

typedef struct Trace Trace;

// Plans every value's shape for input (n, in_channels, h, w) and allocates the buffers once;
// nothing is allocated per call afterwards. Fails with a message when a layer cannot take the
// size (for example a reflection pad wider than the image, or a size the strides cannot halve).
// With training, gradient buffers are allocated too. Every op of a call on this trace splits
// its work over pool (not owned; NULL runs everything on the caller's thread).
Trace *trace_create(const Net *net, int n, int h, int w, bool training, Pool *pool, Err *err);
// The trace a filter or translator runs a trained net on: one image, the fastest kernels this
// CPU has (trace_use_bf16, trace_keep_winograd_kernels), so the net's weights must not change
// while it lives. NULL with err set on failure.
Trace *trace_create_inference(const Net *net, int h, int w, Pool *pool, Err *err);
void trace_free(Trace *t);
Shape4 trace_output_shape(const Trace *t);
size_t trace_bytes(const Trace *t);
// Multiply-accumulates of the convolutions in one forward pass over the trace's input.
double trace_macs(const Net *net, const Trace *t);

// Lets the trace's convolutions run in bf16 where conv_bf16.h can (AMX): packs the net's
// weights now, so they must not change afterwards (inference only; refused on a training
// trace). Returns the number of layers that will, 0 where none can, -1 with err set.
int trace_use_bf16(Trace *t, const Net *net, Err *err);

// Transforms the kernels of the trace's fp32 convolutions that take Winograd's forward
// (winograd.h) once now instead of on every call: the net's weights must not change afterwards
// (inference only; refused on a training trace). After trace_use_bf16, which takes some layers
// itself. Returns the number of layers, 0 where none, -1 with err set.
int trace_keep_winograd_kernels(Trace *t, const Net *net, Err *err);

// Lets a training trace's convolutions run in bf16 where conv_bf16.h can (AMX), forward and
// backward (mixed precision: the weights, their gradients and Adam stay fp32; every call packs
// the current weights). Returns the number of layers that will, 0 where none can, -1 with err
// set (not a training trace, out of memory).
int trace_train_bf16(Trace *t, const Net *net, Err *err);

// Training: which of Winograd and im2col each 3x3 stride-1 convolution's passes take, measured
// now once per distinct shape (winograd_pick.h). 0, or -1 with err set.
int trace_measure_winograd(Trace *t, const Net *net, Err *err);
// Those picks as a plan to record: per convolution Winograd can do, in layer order, three
// letters (forward, data gradient, weight gradient: 'w' Winograd F(2x2, 3x3), '4' F(4x4, 3x3),
// 'i' im2col, 'r' winograd.h's rule), the convolutions separated by spaces ("" for none).
// Allocated; NULL out of memory.
char *trace_winograd_plan(const Trace *t, const Net *net);
// Sets the picks from such a plan (a checkpoint's); -1 with err set when it does not fit net.
int trace_set_winograd_plan(Trace *t, const Net *net, const char *plan, Err *err);

// Runs the network on in (n, C, h, w); returns the output inside the trace (valid until the
// next call on this trace).
const float *net_forward(const Net *net, Trace *t, const float *in);
// net_forward that also adds each layer's wall time to seconds[layer] (n_layers entries), for
// make bench's table of where the time goes.
const float *net_forward_timed(const Net *net, Trace *t, const float *in, double *seconds);

// Backpropagates dout (shaped as the output) through the last forward on t. Parameter
// gradients are accumulated into net->params.grad when param_grads is true and net has them;
// din (nullable) receives += dL/din.
void net_backward(Net *net, Trace *t, const float *dout, float *din, bool param_grads);
// net_backward that also adds each layer's wall time to seconds[layer], as net_forward_timed.
void net_backward_timed(Net *net, Trace *t, const float *dout, float *din, bool param_grads,
                        double *seconds);

#endif
