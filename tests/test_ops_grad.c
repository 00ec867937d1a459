// Every op's backward against central finite differences, on shapes with stride, padding and
// odd sizes. Tolerances: |analytic - numeric| <= 1e-3 * max|numeric| + 1e-4; the last test
// shows a subtly broken backward fails them.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn/conv.h"
#include "core/nn/networks.h"
#include "core/nn/ops.h"
#include "core/nn/winograd.h"
#include "gradcheck.h"

#define H_STEP 1e-2f
#define ATOL 1e-4
#define RTOL 1e-3

static float *random_buf(size_t n, unsigned seed, float gap)
{
    float *b = malloc(n * sizeof *b);
    fill_random(b, n, seed, gap);
    return b;
}

static void free_case(GradCase *c)
{
    for (int i = 0; i < c->n_inputs; i++)
        free(c->input[i]);
}

// ---- convolution and transposed convolution ----

typedef struct {
    ConvShape s;
    bool transposed;
    float *work;
    Pool *pool;
} ConvCtx;

static void conv_fwd(GradCase *c, float *out)
{
    ConvCtx *x = c->ctx;
    if (x->transposed)
        convt2d_forward(x->pool, &x->s, c->input[0], c->input[1], c->input[2], out, x->work);
    else
        conv2d_forward(x->pool, &x->s, c->input[0], c->input[1], c->input[2], out, x->work);
}

static void conv_bwd(GradCase *c, const float *dout, float **g)
{
    ConvCtx *x = c->ctx;
    if (x->transposed)
        convt2d_backward(x->pool, &x->s, c->input[0], c->input[1], dout, g[0], g[1], g[2], x->work);
    else
        conv2d_backward(x->pool, &x->s, c->input[0], c->input[1], dout, g[0], g[1], g[2], x->work);
}

// The kernels split work over a pool; 3 threads make uneven splits (and more threads than
// channels or rows in some cases).
static void check_conv(int n, int c, int h, int w, int oc, int k, int stride, int pad)
{
    ConvCtx x = {.pool = pool_create(3, NULL)};
    cr_assert_eq(conv_shape(&x.s, n, c, h, w, oc, k, stride, pad), 0);
    x.work = malloc(conv_workspace_floats(&x.s) * sizeof(float));
    GradCase gc = {.n_inputs = 3, .ctx = &x, .forward = conv_fwd, .backward = conv_bwd};
    gc.input_len[0] = (size_t)n * c * h * w;
    gc.input_len[1] = (size_t)oc * c * k * k;
    gc.input_len[2] = oc;
    gc.out_len = (size_t)n * oc * x.s.oh * x.s.ow;
    const char *names[] = {"conv.in", "conv.weight", "conv.bias"};
    for (int i = 0; i < 3; i++) {
        gc.input[i] = random_buf(gc.input_len[i], 10 + i, 0.0f);
        gc.input_name[i] = names[i];
    }
    double e = gradcheck(&gc, H_STEP, ATOL, RTOL, 0, 0, 7);
    cr_expect_leq(e, 1.0, "conv n%d c%d %dx%d oc%d k%d s%d p%d: error %.3g", n, c, h, w, oc, k,
                  stride, pad, e);
    free_case(&gc);
    free(x.work);
    pool_free(x.pool);
}

// Up to 4 output channels at stride 1 take the direct path, more take im2col + sgemm.
Test(grad, conv2d_3x3_pad1_batch2_gemm)
{
    check_conv(2, 3, 7, 6, 6, 3, 1, 1);
}
Test(grad, conv2d_3x3_pad1_batch2_direct)
{
    check_conv(2, 3, 7, 6, 3, 3, 1, 1);
}
// The same two 3x3 stride-1 convolutions through Winograd's kernels (forward and data
// gradient; the weight gradient stays im2col's), odd sides included.
Test(grad, conv2d_3x3_pad1_batch2_winograd)
{
    winograd_set_mode(WINOGRAD_ALWAYS);
    check_conv(2, 3, 7, 6, 6, 3, 1, 1);
    check_conv(1, 4, 9, 11, 7, 3, 1, 0);
    winograd_set_mode(WINOGRAD_BY_SHAPE);
}
Test(grad, conv2d_4x4_stride2_pad1_odd)
{
    check_conv(1, 2, 9, 7, 3, 4, 2, 1);
}
Test(grad, conv2d_3x3_stride2_pad1_odd)
{
    check_conv(2, 2, 7, 5, 3, 3, 2, 1);
}
Test(grad, conv2d_7x7_nopad_direct)
{
    check_conv(1, 3, 9, 8, 2, 7, 1, 0);
}
Test(grad, conv2d_3x3_nopad_direct_wide)
{
    check_conv(1, 2, 6, 22, 3, 3, 1, 0);
}
Test(grad, conv2d_7x7_nopad_gemm)
{
    check_conv(1, 3, 9, 8, 5, 7, 1, 0);
}
Test(grad, conv2d_4x4_stride1_pad1_direct)
{
    check_conv(1, 4, 5, 6, 1, 4, 1, 1);
}
Test(grad, conv2d_1x1)
{
    check_conv(2, 5, 3, 4, 6, 1, 1, 0);
}

static void check_convt(int n, int c, int h, int w, int oc, int k, int stride, int pad, int op)
{
    ConvCtx x = {.transposed = true, .pool = pool_create(3, NULL)};
    cr_assert_eq(convt_shape(&x.s, n, c, h, w, oc, k, stride, pad, op), 0);
    x.work = malloc(conv_workspace_floats(&x.s) * sizeof(float));
    GradCase gc = {.n_inputs = 3, .ctx = &x, .forward = conv_fwd, .backward = conv_bwd};
    gc.input_len[0] = (size_t)n * c * h * w;
    gc.input_len[1] = (size_t)c * oc * k * k;
    gc.input_len[2] = oc;
    gc.out_len = (size_t)n * oc * x.s.h * x.s.w;
    const char *names[] = {"convt.in", "convt.weight", "convt.bias"};
    for (int i = 0; i < 3; i++) {
        gc.input[i] = random_buf(gc.input_len[i], 20 + i, 0.0f);
        gc.input_name[i] = names[i];
    }
    double e = gradcheck(&gc, H_STEP, ATOL, RTOL, 0, 0, 8);
    cr_expect_leq(e, 1.0, "convT error %.3g", e);
    free_case(&gc);
    free(x.work);
    pool_free(x.pool);
}

Test(grad, convt_seed_3x3_stride2_outpad1)
{
    check_convt(2, 4, 3, 5, 3, 3, 2, 1, 1);
}
Test(grad, convt_4x4_stride2)
{
    check_convt(1, 3, 4, 3, 2, 4, 2, 1, 0);
}

Test(grad, convt_output_size_doubles)
{
    ConvShape s;
    cr_assert_eq(convt_shape(&s, 1, 8, 32, 24, 4, 3, 2, 1, 1), 0);
    cr_expect_eq(s.h, 64);
    cr_expect_eq(s.w, 48);
}

// ---- per-plane and element-wise ops ----

typedef struct {
    int planes, h, w, p;
    float *aux;    // rstd for instance norm
    float *target; // for the losses
    float *out;    // forward output the backward reads
    int kind;
} OpCtx;

enum {
    OP_PAD,
    OP_INORM,
    OP_RELU,
    OP_LRELU,
    OP_TANH,
    OP_ADD,
    OP_MEAN,
    OP_UPSAMPLE,
    OP_MSE,
    OP_MSEC,
    OP_L1,
    OP_INORM_BROKEN
};

static void op_fwd(GradCase *c, float *out)
{
    OpCtx *x = c->ctx;
    size_t n = c->input_len[0];
    float *in = c->input[0];
    switch (x->kind) {
    case OP_PAD: reflect_pad_forward(in, out, x->planes, x->h, x->w, x->p); break;
    case OP_INORM:
    case OP_INORM_BROKEN: instance_norm_forward(in, out, x->aux, x->planes, x->h * x->w); break;
    case OP_RELU: relu_forward(in, out, n); break;
    case OP_LRELU: leaky_relu_forward(in, out, n); break;
    case OP_TANH: tanh_forward(in, out, n); break;
    case OP_ADD: add_forward(in, c->input[1], out, n); break;
    case OP_MEAN: mean_hw_forward(in, out, x->planes, x->h * x->w); break;
    case OP_UPSAMPLE: upsample2_forward(in, out, x->planes, x->h, x->w); break;
    case OP_MSE: out[0] = mse_loss(in, x->target, n); break;
    case OP_MSEC: out[0] = mse_const_loss(in, 0.7f, n); break;
    case OP_L1: out[0] = l1_loss(in, x->target, n); break;
    }
}

// A backward with the mean-gradient term left out: close to right, but wrong.
static void broken_instance_norm_backward(const float *y, const float *rstd, const float *dy,
                                          float *dx, int planes, int hw)
{
    for (int p = 0; p < planes; p++) {
        double s = 0.0;
        for (int i = 0; i < hw; i++)
            s += (double)dy[p * hw + i] * y[p * hw + i];
        for (int i = 0; i < hw; i++)
            dx[p * hw + i] += rstd[p] * (dy[p * hw + i] - y[p * hw + i] * (float)(s / hw));
    }
}

static void op_bwd(GradCase *c, const float *dout, float **g)
{
    OpCtx *x = c->ctx;
    size_t n = c->input_len[0];
    op_fwd(c, x->out); // the backward reads the forward's output
    float *in = c->input[0];
    switch (x->kind) {
    case OP_PAD: reflect_pad_backward(dout, g[0], x->planes, x->h, x->w, x->p); break;
    case OP_INORM:
        instance_norm_backward(x->out, x->aux, dout, g[0], x->planes, x->h * x->w);
        break;
    case OP_INORM_BROKEN:
        broken_instance_norm_backward(x->out, x->aux, dout, g[0], x->planes, x->h * x->w);
        break;
    case OP_RELU: relu_backward(x->out, dout, g[0], n); break;
    case OP_LRELU: leaky_relu_backward(x->out, dout, g[0], n); break;
    case OP_TANH: tanh_backward(x->out, dout, g[0], n); break;
    case OP_ADD:
        accumulate(g[0], dout, n);
        accumulate(g[1], dout, n);
        break;
    case OP_MEAN: mean_hw_backward(dout, g[0], x->planes, x->h * x->w); break;
    case OP_UPSAMPLE: upsample2_backward(dout, g[0], x->planes, x->h, x->w); break;
    case OP_MSE: mse_loss_backward(in, x->target, g[0], n, dout[0]); break;
    case OP_MSEC: mse_const_loss_backward(in, 0.7f, g[0], n, dout[0]); break;
    case OP_L1: l1_loss_backward(in, x->target, g[0], n, dout[0]); break;
    }
}

static double run_op(int kind, int planes, int h, int w, int p, int n_inputs, size_t out_len)
{
    OpCtx x = {.planes = planes, .h = h, .w = w, .p = p, .kind = kind};
    x.aux = calloc(planes, sizeof(float));
    x.out = calloc(out_len, sizeof(float));
    GradCase gc = {
        .n_inputs = n_inputs, .ctx = &x, .forward = op_fwd, .backward = op_bwd, .out_len = out_len};
    for (int i = 0; i < n_inputs; i++) {
        gc.input_len[i] = (size_t)planes * h * w;
        // A gap of 5 steps keeps ReLU kinks and L1's |d| at 0 out of reach of the step.
        gc.input[i] = random_buf(gc.input_len[i], 30 + i + kind, i == 0 ? 5 * H_STEP : 0.0f);
        gc.input_name[i] = i ? "op.in2" : "op.in";
    }
    size_t len = gc.input_len[0];
    x.target = random_buf(len, 77, 0.0f);
    if (kind == OP_L1) // keep pred - target away from 0, where |d| has its kink
        for (size_t j = 0; j < len; j++)
            x.target[j] = gc.input[0][j] + (j % 2 ? 0.3f : -0.3f);
    double e = gradcheck(&gc, H_STEP, ATOL, RTOL, 0, 0, 9);
    free_case(&gc);
    free(x.target);
    free(x.aux);
    free(x.out);
    return e;
}

Test(grad, reflect_pad_1)
{
    cr_expect_leq(run_op(OP_PAD, 2, 5, 7, 1, 1, 2 * 7 * 9), 1.0);
}
Test(grad, reflect_pad_3)
{
    cr_expect_leq(run_op(OP_PAD, 3, 5, 4, 3, 1, 3 * 11 * 10), 1.0);
}
Test(grad, instance_norm)
{
    cr_expect_leq(run_op(OP_INORM, 3, 5, 7, 0, 1, 3 * 35), 1.0);
}
Test(grad, relu)
{
    cr_expect_leq(run_op(OP_RELU, 2, 4, 5, 0, 1, 40), 1.0);
}
Test(grad, leaky_relu)
{
    cr_expect_leq(run_op(OP_LRELU, 2, 4, 5, 0, 1, 40), 1.0);
}
// Training's fused instance norm + (leaky) ReLU (ops.h) against the two ops it stands for: the
// same outputs bit for bit, and the same input gradient, written or added, to rounding (the
// compiler vectorises the fused loops' sums in another order).
Test(grad, a_fused_norm_and_activation_is_the_two_ops)
{
    enum { PLANES = 3, HW = 37 * 29, N = PLANES * HW };
    for (int leaky = 0; leaky < 2; leaky++) {
        const float slope = leaky ? LEAKY_RELU_SLOPE : 0.0f;
        float *x = random_buf(N, 60, 0.0f), *dact = random_buf(N, 61, 0.0f);
        float *norm = malloc(N * sizeof(float)), *act = malloc(N * sizeof(float));
        float *norm2 = malloc(N * sizeof(float)), *act2 = malloc(N * sizeof(float));
        float *dnorm = calloc(N, sizeof(float)), *dx = random_buf(N, 62, 0.0f);
        float *dx_added = malloc(N * sizeof(float)), *dx_written = random_buf(N, 63, 0.0f);
        float rstd[PLANES], rstd2[PLANES];
        memcpy(dx_added, dx, N * sizeof(float));
        instance_norm_forward(x, norm, rstd, PLANES, HW);
        (leaky ? leaky_relu_forward : relu_forward)(norm, act, N);
        instance_norm_act_forward(x, norm2, act2, rstd2, PLANES, HW, slope);
        cr_assert_arr_eq(norm, norm2, N * sizeof(float));
        cr_assert_arr_eq(act, act2, N * sizeof(float));
        cr_assert_arr_eq(rstd, rstd2, sizeof rstd);
        (leaky ? leaky_relu_backward : relu_backward)(act, dact, dnorm, N);
        instance_norm_backward(norm, rstd, dnorm, dx, PLANES, HW);
        instance_norm_act_backward(norm, rstd, dact, dx_added, PLANES, HW, slope, true);
        float *dx_alone = calloc(N, sizeof(float));
        instance_norm_backward(norm, rstd, dnorm, dx_alone, PLANES, HW);
        instance_norm_act_backward(norm, rstd, dact, dx_written, PLANES, HW, slope, false);
        for (int i = 0; i < N; i++) {
            cr_assert_float_eq(dx_added[i], dx[i], 1e-6f * (1.0f + fabsf(dx[i])), "added %d", i);
            cr_assert_float_eq(dx_written[i], dx_alone[i], 1e-6f * (1.0f + fabsf(dx_alone[i])),
                               "written %d", i);
        }
        free(x), free(dact), free(norm), free(act), free(norm2), free(act2), free(dnorm), free(dx);
        free(dx_added), free(dx_written), free(dx_alone);
    }
}

Test(grad, tanh)
{
    cr_expect_leq(run_op(OP_TANH, 2, 4, 5, 0, 1, 40), 1.0);
}

// ops.c's vectorisable tanh against libm's, in double, from 0 to past where it is 1 in float,
// both signs, across the switch from the series at 1/16.
Test(grad, tanh_is_tanh)
{
    enum { N = 200001 };
    float *x = malloc(N * sizeof(float)), *y = malloc(N * sizeof(float));
    for (int i = 0; i < N; i++)
        x[i] = (i % 2 ? -1.0f : 1.0f) * 12.0f * (float)(i / 2) / (N / 2);
    x[N - 1] = 0.0625f;
    tanh_forward(x, y, N);
    double worst = 0.0, worst_small = 0.0;
    for (int i = 0; i < N; i++) {
        double d = fabs(y[i] - tanh((double)x[i]));
        worst = fmax(worst, d);
        if (fabsf(x[i]) < 0.0625f && x[i] != 0.0f)
            worst_small = fmax(worst_small, d / fabs(tanh((double)x[i])));
    }
    cr_expect_leq(worst, 1.2e-7, "largest error %g", worst);
    cr_expect_leq(worst_small, 3e-7, "largest relative error below 1/16: %g", worst_small);
    float zeros[2] = {-0.0f, 0.0f}, t[2];
    tanh_forward(zeros, t, 2);
    cr_expect(t[0] == 0.0f && signbit(t[0]) && !signbit(t[1]), "tanh(-0) = -0, tanh(0) = 0");
    zeros[0] = NAN;
    tanh_forward(zeros, t, 1);
    cr_expect(isnan(t[0]), "NaN stays NaN (a diverged run must not look finite)");
    free(x), free(y);
}
Test(grad, residual_add)
{
    cr_expect_leq(run_op(OP_ADD, 2, 3, 5, 0, 2, 30), 1.0);
}
Test(grad, mean_hw)
{
    cr_expect_leq(run_op(OP_MEAN, 4, 3, 5, 0, 1, 4), 1.0);
}
Test(grad, upsample_nearest_2x)
{
    cr_expect_leq(run_op(OP_UPSAMPLE, 3, 5, 4, 0, 1, 3 * 10 * 8), 1.0);
}
Test(grad, upsample_repeats_each_pixel_2x2)
{
    const float in[6] = {1, 2, 3, 4, 5, 6}; // one 2x3 plane
    float out[24];
    upsample2_forward(in, out, 1, 2, 3);
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 6; x++)
            cr_expect_eq(out[y * 6 + x], in[(y / 2) * 3 + x / 2], "(%d, %d)", x, y);
}
Test(grad, mse_loss)
{
    cr_expect_leq(run_op(OP_MSE, 2, 3, 5, 0, 1, 1), 1.0);
}
Test(grad, mse_const_loss)
{
    cr_expect_leq(run_op(OP_MSEC, 2, 3, 5, 0, 1, 1), 1.0);
}
Test(grad, l1_loss)
{
    cr_expect_leq(run_op(OP_L1, 2, 3, 5, 0, 1, 1), 1.0);
}

Test(grad, a_subtly_broken_backward_fails)
{
    double e = run_op(OP_INORM_BROKEN, 3, 5, 7, 0, 1, 3 * 35);
    cr_expect_gt(e, 1.0, "the broken instance-norm backward passed (error %.3g)", e);
}

// ---- whole networks: input and every parameter through net_backward ----

typedef struct {
    Net net;
    Trace *trace;
    size_t out_len;
} NetCtx;

static void net_fwd(GradCase *c, float *out)
{
    NetCtx *x = c->ctx;
    memcpy(out, net_forward(&x->net, x->trace, c->input[0]), x->out_len * sizeof(float));
}

static void net_bwd(GradCase *c, const float *dout, float **g)
{
    NetCtx *x = c->ctx;
    paramset_zero_grad(&x->net.params);
    net_forward(&x->net, x->trace, c->input[0]);
    net_backward(&x->net, x->trace, dout, g[0], true);
    accumulate(g[1], x->net.params.grad, x->net.params.numel);
}

static void check_net(NetCtx *x, int n, int h, int w)
{
    Err err;
    net_init_weights(&x->net, 5);
    cr_assert_eq(paramset_enable_training(&x->net.params, &err), 0);
    x->trace = trace_create(&x->net, n, h, w, true, NULL, &err);
    cr_assert_not_null(x->trace, "%s", err.msg);
    Shape4 o = trace_output_shape(x->trace);
    x->out_len = (size_t)o.n * o.c * o.h * o.w;
    GradCase gc = {
        .n_inputs = 2, .ctx = x, .forward = net_fwd, .backward = net_bwd, .out_len = x->out_len};
    gc.input_len[0] = (size_t)n * 3 * h * w;
    gc.input[0] = random_buf(gc.input_len[0], 40, 0.0f);
    gc.input_name[0] = "net.input";
    // The parameters are perturbed in place: input[1] aliases the network's own weights.
    gc.input_len[1] = x->net.params.numel;
    gc.input[1] = x->net.params.data;
    gc.input_name[1] = "net.params";
    // Scale the weights up from the seed's N(0, 0.02) so the signal is far above float noise.
    for (size_t i = 0; i < x->net.params.numel; i++)
        x->net.params.data[i] *= 10.0f;
    // Through a dozen float32 layers, instance norms dividing by small deviations, finite
    // differences are only good to about 1e-2 (smaller steps drown in rounding, larger ones
    // in curvature), and at most 4 of the 400 points checked per input may sit on a kink. This
    // catches wiring errors; the PyTorch golden tests check the networks to 1e-4.
    double e = gradcheck(&gc, 1e-3f, ATOL, 1e-2, 400, 4, 11);
    cr_expect_leq(e, 1.0, "network gradient error %.3g", e);
    free(gc.input[0]);
    trace_free(x->trace);
    net_free(&x->net);
}

Test(grad, generator_whole_network)
{
    NetCtx x = {0};
    Err err;
    cr_assert_eq(generator_build(&x.net, (GeneratorConfig){.ngf = 2, .n_blocks = 1}, &err), 0);
    check_net(&x, 1, 12, 8);
}

Test(grad, generator_resize_upsampling_whole_network)
{
    NetCtx x = {0};
    Err err;
    GeneratorConfig cfg = {.ngf = 2, .n_blocks = 1, .upsample = UPSAMPLE_RESIZE};
    cr_assert_eq(generator_build(&x.net, cfg, &err), 0);
    check_net(&x, 1, 12, 8);
}

Test(grad, discriminator_whole_network)
{
    NetCtx x = {0};
    Err err;
    cr_assert_eq(discriminator_build(&x.net, 2, &err), 0);
    check_net(&x, 2, 32, 24);
}

// An inference trace runs norm -> ReLU -> pad as one op (net.c's fusion); its output is the
// training trace's, bit for bit, for both kinds of generator.
Test(grad, an_inference_trace_computes_what_a_training_one_does)
{
    for (int up = 0; up < 2; up++) {
        Err err;
        Net g = {0};
        cr_assert_eq(generator_build(&g, (GeneratorConfig){4, 2, up ? UPSAMPLE_RESIZE : UPSAMPLE_CONVT},
                                     &err),
                     0, "%s", err.msg);
        net_init_weights(&g, 5);
        Trace *train = trace_create(&g, 1, 32, 32, true, NULL, &err);
        Trace *infer = trace_create(&g, 1, 32, 32, false, NULL, &err);
        cr_assert(train && infer, "%s", err.msg);
        float *x = random_buf(3 * 32 * 32, 77, 0.0f);
        size_t n = 3 * 32 * 32;
        float *a = malloc(n * sizeof *a);
        memcpy(a, net_forward(&g, train, x), n * sizeof *a);
        const float *b = net_forward(&g, infer, x);
        cr_expect(memcmp(a, b, n * sizeof *a) == 0, "%s upsampling: outputs differ",
                  up ? "resize" : "convt");
        free(a), free(x);
        trace_free(train), trace_free(infer);
        net_free(&g);
    }
}
