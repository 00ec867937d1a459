// bf16 inference convolutions (core/nn/conv_bf16.h: AMX tiles, or AVX512_BF16 vectors) against
// fp32: each of the generators' kinds of convolution, with the kernel the CPU gets and with the
// vector kernel forced (AGESHIFT_BF16=avx512, so a CPU with AMX checks both), and the default
// model's whole generator on real faces (PSNR >= 40 dB, issue 15's bar). On a CPU with neither
// the kernels are never used: the tests say so and check only that a trace then stays fp32.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/rng.h"
#include "core/model/model_file.h"
#include "core/nn/conv.h"
#include "core/nn/conv_bf16.h"
#include "core/nn/net.h"
#include "core/nn/winograd.h"
#include "core/nn/winograd_gemm.h"
#include "media/image_io.h"
#include "tests/faces.h"

typedef struct {
    int c, oc, h, w, k, stride, pad;
} Case;

static const Case cases[] = {
    {64, 64, 34, 34, 3, 1, 0},   // ngf 16 residual at 128 px
    {16, 32, 128, 128, 3, 2, 1}, // downsampling
    {64, 32, 66, 66, 3, 1, 0},   // resize upsampling
    {5, 32, 11, 9, 3, 1, 1},     // taps padded (45 -> 64), columns not whole tiles
    {8, 48, 7, 13, 4, 2, 1},     // three row tiles, stride 2
};

// RMS of got - want against want's, and the worst difference.
static void compare(const float *got, const float *want, size_t n, double *rel, double *worst)
{
    double err2 = 0.0, ref2 = 0.0;
    *worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = got[i] - want[i];
        err2 += d * d, ref2 += (double)want[i] * want[i];
        *worst = fmax(*worst, fabs(d));
    }
    *rel = sqrt(err2 / ref2);
}

static double rms(const float *x, size_t n)
{
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += (double)x[i] * x[i];
    return sqrt(sum / n);
}

// Each case through conv_bf16_forward against conv2d_forward.
static void check_each_kind(void)
{
    if (!conv_bf16_available())
        cr_skip_test("bf16 kernels not used here: %s", conv_bf16_describe());
    cr_log_info("kernel: %s", conv_bf16_describe());
    Err err;
    Pool *pool = pool_create(3, &err); // uneven splits over rows
    cr_assert_not_null(pool, "%s", err.msg);
    for (size_t q = 0; q < sizeof cases / sizeof cases[0]; q++) {
        const Case *t = &cases[q];
        ConvShape s;
        cr_assert_eq(conv_shape(&s, 1, t->c, t->h, t->w, t->oc, t->k, t->stride, t->pad), 0);
        cr_assert(conv_bf16_applies(&s), "case %zu", q);
        size_t ni = (size_t)s.c * s.h * s.w, no = (size_t)s.oc * s.oh * s.ow,
               nw = (size_t)s.oc * s.c * s.k * s.k;
        float *in = malloc(ni * sizeof(float)), *w = malloc(nw * sizeof(float));
        float *want = malloc(no * sizeof(float)), *got = malloc(no * sizeof(float));
        uint16_t *packed = malloc(conv_bf16_packed_count(&s) * sizeof(uint16_t));
        float *work = malloc(conv_workspace_floats(&s) * sizeof(float));
        float *work16 = malloc(conv_bf16_workspace_floats(&s, 3) * sizeof(float));
        Rng r;
        rng_seed(&r, 40 + q);
        for (size_t i = 0; i < ni; i++)
            in[i] = rng_range(&r, -1, 1);
        for (size_t i = 0; i < nw; i++)
            w[i] = 0.1f * rng_normal(&r);
        for (size_t i = 0; i < no; i++)
            got[i] = 1e9f; // overwritten
        conv2d_forward(pool, &s, in, w, NULL, want, work);
        conv_bf16_pack(&s, w, packed);
        conv_bf16_forward(pool, &s, in, packed, got, false, work16);
        double rel, worst;
        compare(got, want, no, &rel, &worst);
        // Inputs and weights each rounded to 8 bits of mantissa (2^-9 relative), products
        // summed in fp32: about 0.3% of the output's RMS; a wrong tap or column is ~100%.
        cr_expect_leq(rel, 0.006, "case %zu: RMS error %.4f of the output's RMS", q, rel);
        cr_expect_leq(worst, 0.5 * rms(want, no), "case %zu: worst error %g", q, worst);
        free(in), free(w), free(want), free(got), free(packed), free(work), free(work16);
    }
    pool_free(pool);
}

Test(conv_bf16, each_kind_of_convolution_is_within_bf16s_rounding_of_fp32)
{
    check_each_kind();
}

typedef struct {
    int n, c, oc, h, w; // transposed: c input channels to oc, (h, w) to (2h, 2w)
} UpCase;

static const UpCase up_cases[] = {
    {1, 64, 32, 16, 16}, // the default model's first upsampling, at a quarter of its size
    {2, 32, 16, 7, 9},   // two images, rows and columns not whole vectors
    {1, 24, 8, 5, 3},    // a phase is one 8-channel block
};

// The upsampling's transposed convolution through convt_bf16_forward against convt2d_forward.
static void check_upsampling(void)
{
    if (!conv_bf16_available())
        cr_skip_test("bf16 kernels not used here: %s", conv_bf16_describe());
    Err err;
    Pool *pool = pool_create(3, &err);
    cr_assert_not_null(pool, "%s", err.msg);
    for (size_t q = 0; q < sizeof up_cases / sizeof up_cases[0]; q++) {
        const UpCase *t = &up_cases[q];
        ConvShape s;
        cr_assert_eq(convt_shape(&s, t->n, t->c, t->h, t->w, t->oc, 3, 2, 1, 1), 0);
        cr_assert(convt_bf16_applies(&s), "case %zu", q);
        size_t ni = (size_t)t->n * t->c * t->h * t->w, no = (size_t)t->n * t->oc * s.h * s.w,
               nw = (size_t)t->c * t->oc * 9;
        float *in = malloc(ni * sizeof(float)), *w = malloc(nw * sizeof(float));
        float *bias = malloc((size_t)t->oc * sizeof(float));
        float *want = malloc(no * sizeof(float)), *got = malloc(no * sizeof(float));
        uint16_t *packed = malloc(convt_bf16_packed_count(&s) * sizeof(uint16_t));
        float *work = malloc(conv_workspace_floats(&s) * sizeof(float));
        float *work16 = malloc(convt_bf16_workspace_floats(&s, 3) * sizeof(float));
        Rng r;
        rng_seed(&r, 70 + q);
        for (size_t i = 0; i < ni; i++)
            in[i] = rng_range(&r, -1, 1);
        for (size_t i = 0; i < nw; i++)
            w[i] = 0.1f * rng_normal(&r);
        for (int o = 0; o < t->oc; o++)
            bias[o] = rng_range(&r, -0.1f, 0.1f);
        for (size_t i = 0; i < no; i++)
            got[i] = 1e9f; // overwritten
        convt2d_forward(pool, &s, in, w, bias, want, work);
        cr_assert_eq(convt_bf16_pack(&s, w, packed), 0);
        convt_bf16_forward(pool, &s, in, packed, bias, got, work16);
        double rel, worst;
        compare(got, want, no, &rel, &worst);
        // As for the forward kinds above; a wrong phase or tap is ~100%.
        cr_expect_leq(rel, 0.006, "case %zu: RMS error %.4f of the output's RMS", q, rel);
        cr_log_info("upsampling case %zu: RMS error %.4f, worst %.4f", q, rel, worst);
        free(in), free(w), free(bias), free(want), free(got), free(packed), free(work),
            free(work16);
    }
    pool_free(pool);
}

Test(conv_bf16, the_upsampling_is_within_bf16s_rounding_of_fp32)
{
    check_upsampling();
}

// Each test runs in a process of its own, so the kernel is chosen anew after this.
static void force_vectors(void)
{
    setenv("AGESHIFT_BF16", "avx512", 1);
}

Test(conv_bf16, the_vector_kernel_is_within_bf16s_rounding_of_fp32, .init = force_vectors)
{
    if (conv_bf16_available())
        cr_assert(strstr(conv_bf16_describe(), "AVX512_BF16 vectors"), "%s",
                  conv_bf16_describe());
    check_each_kind();
}

Test(conv_bf16, the_vector_kernels_upsampling_is_within_bf16s_rounding_of_fp32,
     .init = force_vectors)
{
    check_upsampling();
}

// The default model's young-to-old generator on a few faces, fp32 and with bf16 convolutions:
// PSNR of the bf16 output against the fp32 one, pixels on 0..1. By default the layers
// that the kept fp32 F(4x4, 3x3) kernels run faster (the residual blocks, on AVX512_BF16
// vectors: net.c's infers_bf16) stay fp32; without those kernels (winograd_set_large_tiles
// (false)) bf16 takes the residual blocks too, so both of its kernels' uses are held to 40 dB.
static void expect_bf16_keeps_40_db(bool large_tiles)
{
    Err err;
    Net net = {0};
    GeneratorArch arch;
    cr_assert_eq(model_file_load("samples/model.safetensors", AGE_OLDER, &net, &arch, &err), 0,
                 "%s", err.msg);
    Pool *pool = pool_create(2, &err);
    cr_assert_not_null(pool, "%s", err.msg);
    winograd_set_large_tiles(large_tiles);
    int size = arch.size;
    Trace *fp32 = trace_create(&net, 1, size, size, false, pool, &err);
    Trace *bf16 = trace_create(&net, 1, size, size, false, pool, &err);
    cr_assert(fp32 && bf16, "%s", err.msg);
    int layers = trace_use_bf16(bf16, &net, &err);
    cr_assert_geq(layers, 0, "%s", err.msg);
    if (!conv_bf16_available()) {
        winograd_set_large_tiles(true);
        cr_expect_eq(layers, 0, "no AMX: the trace stays fp32");
        cr_skip_test("bf16 kernels not used here: %s", conv_bf16_describe());
    }
    const bool residual_fp32 = large_tiles && !conv_bf16_on_amx() && winograd_gemm_available();
    if (residual_fp32)
        cr_expect_eq(layers, 4, "the down- and the upsampling only");
    else
        cr_expect_geq(layers, 2 * arch.gen.n_blocks + 4,
                      "the residual blocks' convolutions, the down- and the upsampling");
    Image face = {0}, small = {0};
    float *x = malloc((size_t)3 * size * size * sizeof(float));
    size_t n = (size_t)3 * size * size;
    for (int k = 0; k < 3; k++) {
        char path[4096];
        test_need_face(k % 2 ? "old" : "young", NULL, k, path);
        cr_assert_eq(image_load(path, &face, &err), 0, "%s", err.msg);
        cr_assert_eq(image_resize(&face, size, size, &small, &err), 0, "%s", err.msg);
        image_to_planar(&small, x);
        const float *a = net_forward(&net, fp32, x), *b = net_forward(&net, bf16, x);
        double mse = 0.0;
        for (size_t i = 0; i < n; i++) {
            double d = 0.5 * (a[i] - b[i]); // outputs are -1..1
            mse += d * d;
        }
        double psnr = 10.0 * log10(1.0 / fmax(mse / n, 1e-20));
        cr_expect_geq(psnr, 40.0, "%s: PSNR %.1f dB", path, psnr);
        cr_log_info("%s: bf16 (%d layers) against fp32, PSNR %.1f dB", path, layers, psnr);
        cr_expect_gt(mse, 0.0, "%s: the same output as fp32: were the bf16 kernels used?", path);
        image_free(&face), image_free(&small);
    }
    winograd_set_large_tiles(true);
    free(x);
    trace_free(fp32), trace_free(bf16);
    pool_free(pool);
    net_free(&net);
}

Test(conv_bf16, the_default_generator_keeps_40_db)
{
    expect_bf16_keeps_40_db(true);
}

Test(conv_bf16, the_default_generator_keeps_40_db_with_bf16_residual_blocks)
{
    expect_bf16_keeps_40_db(false);
}

Test(conv_bf16, a_training_trace_is_refused)
{
    Err err;
    Net net = {0};
    cr_assert_eq(generator_build(&net, (GeneratorConfig){8, 1, UPSAMPLE_RESIZE}, &err), 0, "%s",
                 err.msg);
    Trace *t = trace_create(&net, 1, 32, 32, true, NULL, &err);
    cr_assert_not_null(t, "%s", err.msg);
    cr_expect_eq(trace_use_bf16(t, &net, &err), -1);
    cr_expect(strstr(err.msg, "inference"), "%s", err.msg);
    trace_free(t);
    net_free(&net);
}

// The backward kernels (for training in bf16) against fp32's conv2d_backward on stride-1 shapes:
// the data gradient (the turned kernel through the forward kernel, adding) and, on AMX, the
// weight gradient (the vector kernel leaves it to fp32).
static void check_gradients(void)
{
    if (!conv_bf16_available())
        cr_skip_test("bf16 kernels not used here: %s", conv_bf16_describe());
    static const Case grads[] = {
        {64, 64, 34, 34, 3, 1, 0}, // residual at 128 px
        {64, 32, 66, 66, 3, 1, 0}, // resize upsampling
        {48, 16, 9, 21, 3, 1, 1},  // zero padding, odd sides, input blocks 32 + 16
        {32, 48, 7, 40, 5, 1, 2},  // 5x5, rows past one 32-pixel block
    };
    Err err;
    Pool *pool = pool_create(3, &err);
    cr_assert_not_null(pool, "%s", err.msg);
    for (size_t q = 0; q < sizeof grads / sizeof grads[0]; q++) {
        const Case *t = &grads[q];
        ConvShape s;
        cr_assert_eq(conv_shape(&s, 1, t->c, t->h, t->w, t->oc, t->k, 1, t->pad), 0);
        ConvShape g = conv_bf16_gradient_shape(&s);
        const bool weight16 = conv_bf16_weight_applies(&s);
        cr_assert(conv_bf16_applies(&g), "case %zu", q);
        if (strstr(conv_bf16_describe(), "AMX"))
            cr_assert(weight16, "case %zu: AMX takes the weight gradient", q);
        cr_assert(g.oh == s.h && g.ow == s.w);
        size_t ni = (size_t)s.c * s.h * s.w, no = (size_t)s.oc * s.oh * s.ow,
               nw = (size_t)s.oc * s.c * s.k * s.k;
        float *in = malloc(ni * sizeof(float)), *w = malloc(nw * sizeof(float));
        float *dout = malloc(no * sizeof(float));
        float *din32 = calloc(ni, sizeof(float)), *dw32 = calloc(nw, sizeof(float));
        float *din16 = malloc(ni * sizeof(float)), *dw16 = malloc(nw * sizeof(float));
        uint16_t *turned = malloc(conv_bf16_packed_count(&g) * sizeof(uint16_t));
        float *work = malloc(conv_workspace_floats(&s) * sizeof(float));
        size_t wd = conv_bf16_workspace_floats(&g, 3), ww = conv_bf16_weight_workspace_floats(&s, 3);
        float *work16 = malloc((wd > ww ? wd : ww) * sizeof(float));
        Rng r;
        rng_seed(&r, 60 + q);
        for (size_t i = 0; i < ni; i++)
            in[i] = rng_range(&r, -1, 1), din16[i] = 0.5f;
        for (size_t i = 0; i < nw; i++)
            w[i] = 0.1f * rng_normal(&r), dw16[i] = 0.5f;
        for (size_t i = 0; i < no; i++)
            dout[i] = rng_range(&r, -1, 1);
        conv2d_backward(pool, &s, in, w, dout, din32, dw32, NULL, work);
        conv_bf16_pack_turned(&s, w, turned);
        conv_bf16_forward(pool, &g, dout, turned, din16, true, work16);
        if (weight16)
            conv_bf16_weight_grad(pool, &s, in, dout, dw16, work16);
        double e2[2] = {0}, r2[2] = {0};
        for (size_t i = 0; i < ni; i++) {
            double d = din16[i] - 0.5 - din32[i];
            e2[0] += d * d, r2[0] += (double)din32[i] * din32[i];
        }
        for (size_t i = 0; weight16 && i < nw; i++) {
            double d = dw16[i] - 0.5 - dw32[i];
            e2[1] += d * d, r2[1] += (double)dw32[i] * dw32[i];
        }
        cr_log_info("case %zu: RMS error of the data gradient %.4f, the weight gradient %.4f%s", q,
                    sqrt(e2[0] / r2[0]), weight16 ? sqrt(e2[1] / r2[1]) : 0.0,
                    weight16 ? "" : " (fp32's)");
        cr_expect_leq(sqrt(e2[0] / r2[0]), 0.006, "case %zu: data gradient RMS error %.4f", q,
                      sqrt(e2[0] / r2[0]));
        if (weight16)
            cr_expect_leq(sqrt(e2[1] / r2[1]), 0.006, "case %zu: weight gradient RMS error %.4f", q,
                      sqrt(e2[1] / r2[1]));
        free(in), free(w), free(dout), free(din32), free(dw32), free(din16), free(dw16);
        free(turned), free(work), free(work16);
    }
    pool_free(pool);
}

Test(conv_bf16, both_gradients_are_within_bf16s_rounding_of_fp32)
{
    check_gradients();
}

Test(conv_bf16, the_vector_kernels_data_gradient_is_within_bf16s_rounding_of_fp32,
     .init = force_vectors)
{
    check_gradients();
}
