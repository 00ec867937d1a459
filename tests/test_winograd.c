// Winograd's F(2x2, 3x3) kernels (core/nn/winograd.h) against the plain convolution computed in
// double: forward, data and weight gradient, over the generators' kinds of shapes (odd sides, zero
// padding, few and many channels), the same for F(4x4, 3x3) where training picked it, the rule
// that picks them, and the kernels an inference trace keeps (F(4x4, 3x3)), down to the default
// model's output on real faces.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/rng.h"
#include "core/model/model_file.h"
#include "core/nn/conv.h"
#include "core/nn/net.h"
#include "core/nn/networks.h"
#include "core/nn/winograd.h"
#include "media/image_io.h"
#include "tests/faces.h"

typedef struct {
    int c, oc, h, w, pad;
} Case;

static const Case cases[] = {
    {64, 64, 34, 34, 0}, {16, 32, 13, 11, 0}, {8, 6, 7, 9, 1}, {32, 16, 66, 66, 0}, {5, 9, 4, 3, 1},
};

static double max_abs(const double *v, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(v[i]));
    return m;
}

// out = conv(in, w), din = conv^T(dout, w) and dw = the weight gradient, in double.
static void reference(const ConvShape *s, const float *in, const float *w, const float *dout,
                      double *out, double *din, double *dw)
{
    for (int o = 0; o < s->oc; o++)
        for (int y = 0; y < s->oh; y++)
            for (int x = 0; x < s->ow; x++) {
                double a = 0.0;
                for (int c = 0; c < s->c; c++)
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            int iy = y + ky - s->pad, ix = x + kx - s->pad;
                            if (iy < 0 || ix < 0 || iy >= s->h || ix >= s->w)
                                continue;
                            double wv = w[((o * s->c + c) * 3 + ky) * 3 + kx];
                            a += wv * in[(c * s->h + iy) * s->w + ix];
                            din[(c * s->h + iy) * s->w + ix] +=
                                wv * dout[(o * s->oh + y) * s->ow + x];
                            dw[((o * s->c + c) * 3 + ky) * 3 + kx] +=
                                (double)dout[(o * s->oh + y) * s->ow + x] *
                                in[(c * s->h + iy) * s->w + ix];
                        }
                out[(o * s->oh + y) * s->ow + x] = a;
            }
}

Test(winograd, forward_and_data_gradient_match_the_plain_convolution)
{
    Err err;
    Pool *pool = pool_create(3, &err); // uneven splits over channels and positions
    cr_assert_not_null(pool, "%s", err.msg);
    winograd_set_mode(WINOGRAD_ALWAYS);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const Case *q = &cases[k];
        ConvShape s;
        cr_assert_eq(conv_shape(&s, 1, q->c, q->h, q->w, q->oc, 3, 1, q->pad), 0);
        cr_assert(winograd_forward_applies(&s) && winograd_backward_applies(&s) &&
                  winograd_weight_applies(&s));
        size_t ni = (size_t)s.c * s.h * s.w, no = (size_t)s.oc * s.oh * s.ow,
               nw = 9 * (size_t)s.c * s.oc;
        float *in = malloc(ni * sizeof(float)), *w = malloc(nw * sizeof(float));
        float *dout = malloc(no * sizeof(float)), *out = malloc(no * sizeof(float));
        float *din = malloc(ni * sizeof(float)), *dw = malloc(nw * sizeof(float));
        float *work = malloc(conv_workspace_floats(&s) * sizeof(float));
        double *want = calloc(no, sizeof(double)), *want_din = calloc(ni, sizeof(double));
        double *want_dw = calloc(nw, sizeof(double));
        Rng r;
        rng_seed(&r, 9 + k);
        for (size_t i = 0; i < ni; i++)
            in[i] = rng_range(&r, -1, 1), din[i] = 0.25f; // din is added to
        for (size_t i = 0; i < nw; i++)
            w[i] = 0.1f * rng_normal(&r), dw[i] = -0.5f; // dw is added to
        for (size_t i = 0; i < no; i++)
            dout[i] = rng_range(&r, -1, 1), out[i] = 1e9f; // out is overwritten
        reference(&s, in, w, dout, want, want_din, want_dw);
        // The kept kernels of inference, by F(4x4, 3x3): larger constants, less precise
        // (measured: at most 7e-6 of the largest value, about 20x F(2x2, 3x3)'s error).
        float *u = malloc(winograd_kernel_floats(&s) * sizeof(float));
        winograd_transform_kernel(pool, &s, w, u);
        winograd_forward_transformed(pool, &s, in, u, out, work);
        double e4 = 0.0;
        for (size_t i = 0; i < no; i++)
            e4 = fmax(e4, fabs(out[i] - want[i]));
        cr_expect_leq(e4, 1.5e-5 * max_abs(want, no), "c%d oc%d %dx%d pad %d: F(4x4) error %g of %g",
                      q->c, q->oc, q->h, q->w, q->pad, e4, max_abs(want, no));
        free(u);
        conv2d_forward(pool, &s, in, w, NULL, out, work);
        conv2d_backward(pool, &s, in, w, dout, din, dw, NULL, work);
        double ef = 0.0, eb = 0.0, ew = 0.0;
        for (size_t i = 0; i < nw; i++)
            ew = fmax(ew, fabs(dw[i] + 0.5 - want_dw[i]));
        for (size_t i = 0; i < no; i++)
            ef = fmax(ef, fabs(out[i] - want[i]));
        for (size_t i = 0; i < ni; i++)
            eb = fmax(eb, fabs(din[i] - 0.25 - want_din[i]));
        // float32 through the transforms: as close as im2col's sgemm gets (about 3e-7 of the
        // largest value here).
        cr_expect_leq(ef, 2e-6 * max_abs(want, no), "c%d oc%d %dx%d pad %d: forward error %g", q->c,
                      q->oc, q->h, q->w, q->pad, ef);
        cr_expect_leq(eb, 2e-6 * max_abs(want_din, ni), "c%d oc%d %dx%d pad %d: gradient error %g",
                      q->c, q->oc, q->h, q->w, q->pad, eb);
        // A sum over every tile, as im2col's (measured: at most 6e-7 of the largest value).
        cr_expect_leq(ew, 2e-6 * max_abs(want_dw, nw),
                      "c%d oc%d %dx%d pad %d: weight gradient error %g (largest %g)", q->c, q->oc,
                      q->h, q->w, q->pad, ew, max_abs(want_dw, nw));
        free(in), free(w), free(dout), free(out), free(din), free(dw), free(work), free(want),
            free(want_din), free(want_dw);
    }
    winograd_set_mode(WINOGRAD_BY_SHAPE);
    pool_free(pool);
}

// Training's F(4x4, 3x3), where a run measured it fastest (winograd_pick.h): the forward with
// the kernel transformed on each call, and the data gradient through the turned kernel.
Test(winograd, picked_large_tiles_match_the_plain_convolution)
{
    Err err;
    Pool *pool = pool_create(3, &err);
    cr_assert_not_null(pool, "%s", err.msg);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const Case *q = &cases[k];
        ConvShape s;
        cr_assert_eq(conv_shape(&s, 1, q->c, q->h, q->w, q->oc, 3, 1, q->pad), 0);
        s.winograd_pick[WINOGRAD_PASS_FORWARD] = WINOGRAD_PICK_WINOGRAD4;
        s.winograd_pick[WINOGRAD_PASS_DATA] = WINOGRAD_PICK_WINOGRAD4;
        s.winograd_pick[WINOGRAD_PASS_WEIGHT] = WINOGRAD_PICK_WINOGRAD;
        size_t ni = (size_t)s.c * s.h * s.w, no = (size_t)s.oc * s.oh * s.ow,
               nw = 9 * (size_t)s.c * s.oc;
        float *in = malloc(ni * sizeof(float)), *w = malloc(nw * sizeof(float));
        float *dout = malloc(no * sizeof(float)), *out = malloc(no * sizeof(float));
        float *din = malloc(ni * sizeof(float)), *dw = calloc(nw, sizeof(float));
        float *work = malloc(conv_workspace_floats(&s) * sizeof(float));
        double *want = calloc(no, sizeof(double)), *want_din = calloc(ni, sizeof(double));
        double *want_dw = calloc(nw, sizeof(double));
        Rng r;
        rng_seed(&r, 19 + k);
        for (size_t i = 0; i < ni; i++)
            in[i] = rng_range(&r, -1, 1), din[i] = 0.25f; // din is added to
        for (size_t i = 0; i < nw; i++)
            w[i] = 0.1f * rng_normal(&r);
        for (size_t i = 0; i < no; i++)
            dout[i] = rng_range(&r, -1, 1), out[i] = 1e9f; // out is overwritten
        reference(&s, in, w, dout, want, want_din, want_dw);
        conv2d_forward(pool, &s, in, w, NULL, out, work);
        conv2d_backward(pool, &s, in, w, dout, din, NULL, NULL, work);
        double ef = 0.0, eb = 0.0;
        for (size_t i = 0; i < no; i++)
            ef = fmax(ef, fabs(out[i] - want[i]));
        for (size_t i = 0; i < ni; i++)
            eb = fmax(eb, fabs(din[i] - 0.25 - want_din[i]));
        // As the kept kernels' (at most 7e-6 of the largest value measured).
        cr_expect_leq(ef, 1.5e-5 * max_abs(want, no), "c%d oc%d %dx%d pad %d: forward error %g",
                      q->c, q->oc, q->h, q->w, q->pad, ef);
        cr_expect_leq(eb, 1.5e-5 * max_abs(want_din, ni),
                      "c%d oc%d %dx%d pad %d: gradient error %g of %g", q->c, q->oc, q->h, q->w,
                      q->pad, eb, max_abs(want_din, ni));
        free(in), free(w), free(dout), free(out), free(din), free(dw), free(work), free(want),
            free(want_din), free(want_dw);
    }
    pool_free(pool);
}

Test(winograd, the_rule_by_shape)
{
    ConvShape s;
    conv_shape(&s, 1, 64, 34, 34, 64, 3, 1, 0); // the default model's residual blocks
    cr_expect(winograd_forward_applies(&s));
    cr_expect_eq(winograd_backward_applies(&s), 289 >= WINOGRAD_MIN_TILES_BACKWARD,
                 "289 input tiles: by the build's threshold");
    conv_shape(&s, 1, 64, 18, 18, 64, 3, 1, 0);
    cr_expect_not(winograd_backward_applies(&s), "81 input tiles: im2col is faster everywhere");
    conv_shape(&s, 1, 32, 130, 130, 16, 3, 1, 0);
    cr_expect(winograd_forward_applies(&s) && winograd_backward_applies(&s));
    conv_shape(&s, 1, 32, 10, 10, 32, 3, 1, 0);
    cr_expect_not(winograd_forward_applies(&s), "16 tiles");
    conv_shape(&s, 1, 64, 66, 66, 4, 3, 1, 0);
    cr_expect_not(winograd_forward_applies(&s), "4 output channels: the direct kernel");
    conv_shape(&s, 1, 64, 66, 66, 64, 3, 2, 1);
    cr_expect_not(winograd_forward_applies(&s), "stride 2");
    winograd_set_mode(WINOGRAD_NEVER);
    conv_shape(&s, 1, 32, 130, 130, 16, 3, 1, 0);
    cr_expect_not(winograd_forward_applies(&s));
    winograd_set_mode(WINOGRAD_BY_SHAPE);
}

// An inference trace keeps each Winograd layer's transformed kernel (trace_keep_winograd_kernels)
// instead of transforming it on every call: by F(2x2, 3x3) the same arithmetic, so the same
// output bit for bit; by F(4x4, 3x3), the default, within float rounding of it. A trace for
// training refuses it.
Test(winograd, kept_kernels_give_the_same_generator_output)
{
    Err err;
    Pool *pool = pool_create(2, &err);
    cr_assert_not_null(pool, "%s", err.msg);
    Net g = {0};
    cr_assert_eq(generator_build(&g, (GeneratorConfig){16, 2, UPSAMPLE_RESIZE}, &err), 0, "%s",
                 err.msg);
    net_init_weights(&g, 5);
    const int size = 64;
    Trace *plain = trace_create(&g, 1, size, size, false, pool, &err);
    Trace *kept = plain ? trace_create(&g, 1, size, size, false, pool, &err) : NULL;
    Trace *kept4 = kept ? trace_create(&g, 1, size, size, false, pool, &err) : NULL;
    cr_assert_not_null(kept4, "%s", err.msg);
    cr_assert_gt(trace_keep_winograd_kernels(kept4, &g, &err), 0, "the upsampling takes it");
    winograd_set_large_tiles(false);
    cr_assert_gt(trace_keep_winograd_kernels(kept, &g, &err), 0);
    size_t n = 3 * (size_t)size * size;
    float *x = malloc(n * sizeof(float)), *want = malloc(n * sizeof(float));
    Rng r;
    rng_seed(&r, 4);
    for (size_t i = 0; i < n; i++)
        x[i] = rng_range(&r, -1, 1);
    memcpy(want, net_forward(&g, plain, x), n * sizeof(float));
    cr_expect_eq(memcmp(net_forward(&g, kept, x), want, n * sizeof(float)), 0);
    winograd_set_large_tiles(true);
    const float *y4 = net_forward(&g, kept4, x);
    double e = 0.0;
    for (size_t i = 0; i < n; i++)
        e = fmax(e, fabs(y4[i] - want[i]));
    cr_expect_leq(e, 1e-5, "F(4x4): %g from F(2x2)'s output (in [-1, 1])", e);
    Trace *training = trace_create(&g, 1, size, size, true, pool, &err);
    cr_assert_not_null(training, "%s", err.msg);
    cr_expect_lt(trace_keep_winograd_kernels(training, &g, &err), 0);
    free(x), free(want);
    trace_free(plain), trace_free(kept), trace_free(kept4), trace_free(training);
    net_free(&g);
    pool_free(pool);
}

// The default model's young-to-old generator on real faces with the kept F(4x4, 3x3) kernels of
// the filter's trace against a plain trace (F(2x2, 3x3) and im2col): PSNR, pixels on 0..1.
Test(winograd, the_default_generator_with_kept_kernels_keeps_80_db)
{
    Err err;
    Net net = {0};
    GeneratorArch arch;
    cr_assert_eq(model_file_load("samples/model.safetensors", AGE_OLDER, &net, &arch, &err), 0,
                 "%s", err.msg);
    Pool *pool = pool_create(2, &err);
    cr_assert_not_null(pool, "%s", err.msg);
    int size = arch.size;
    Trace *plain = trace_create(&net, 1, size, size, false, pool, &err);
    Trace *kept = plain ? trace_create(&net, 1, size, size, false, pool, &err) : NULL;
    cr_assert_not_null(kept, "%s", err.msg);
    cr_assert_geq(trace_keep_winograd_kernels(kept, &net, &err), arch.gen.n_blocks * 2,
                  "the residual blocks' convolutions");
    Image face = {0}, small = {0};
    size_t n = (size_t)3 * size * size;
    float *x = malloc(n * sizeof(float));
    for (int k = 0; k < 3; k++) {
        char path[4096];
        test_need_face(k % 2 ? "old" : "young", NULL, k, path);
        cr_assert_eq(image_load(path, &face, &err), 0, "%s", err.msg);
        cr_assert_eq(image_resize(&face, size, size, &small, &err), 0, "%s", err.msg);
        image_to_planar(&small, x);
        const float *a = net_forward(&net, plain, x), *b = net_forward(&net, kept, x);
        double mse = 0.0;
        for (size_t i = 0; i < n; i++) {
            double d = 0.5 * (a[i] - b[i]); // outputs are -1..1
            mse += d * d;
        }
        double psnr = 10.0 * log10(1.0 / fmax(mse / n, 1e-20));
        cr_expect_geq(psnr, 80.0, "%s: PSNR %.1f dB", path, psnr);
        cr_log_info("%s: kept F(4x4) kernels against plain, PSNR %.1f dB", path, psnr);
        image_free(&face), image_free(&small);
    }
    free(x);
    trace_free(plain), trace_free(kept);
    pool_free(pool);
    net_free(&net);
}
