// make bench: the core's speed on the seed's networks. Prints one tab-separated row per
// generator configuration: impl size blocks ngf params macs infer_ms train_s infer_bf16_ms
// train_bf16_s (the last two -1 where the CPU has no bf16 convolutions: conv_bf16_available)
// (inference: batch 1, median of runs after warm-up; train: one full CycleGAN iteration, both
// generators and both discriminators (ndf as given), the seed's losses, batch 1, median).
//   bench_core --no-winograd: the same with every convolution by im2col.
//   bench_core --small-tiles ...: inference's kept kernels by F(2x2, 3x3), not F(4x4, 3x3).
//   bench_core --row SIZE BLOCKS NGF NDF TRAIN RUNS: one such row (TRAIN 0 or 1), for run.sh to
//   alternate with PyTorch's.
//   bench_core --infer SIZE BLOCKS NGF RUNS: that generator's inference median ms alone (run.sh
//   alternates it with ONNX Runtime's); --infer-bf16 the same with bf16 convolutions.
//   bench_core --train-layers SIZE BLOCKS NGF NDF: where that CycleGAN iteration's time goes.
//   bench_core --roofline: the machine's measured fp32 FMA peak, and per generator its
//   effective GFLOP/s and the time of each kind of layer; then the same for the generator and
//   discriminator passes of a training iteration.
//   bench_core --conv: the generators' 3x3 stride-1 convolutions by im2col and by Winograd's
//   F(2x2, 3x3) and F(4x4, 3x3), forward, data and weight gradient, timed in turn, medians (the
//   table WINOGRAD_MIN_TILES_* are read from; a training run measures its own, winograd_pick.h).
//   bench_core --bf16: each generator at fp32 and with bf16 convolutions (conv_bf16.h),
//   alternately: medians and the bf16 output's PSNR against fp32.
//   bench_core --direct: the generators' 7x7 convolutions from and to RGB by im2col and by the
//   direct kernel (direct_conv.h), forward and backward, timed alternately, medians.
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench_faces.h"
#include "core/base/blas_setup.h"
#include "core/base/clock.h"
#include "core/base/rng.h"
#include "core/nn/conv_bf16.h"
#include "core/nn/direct_conv.h"
#include "core/nn/winograd.h"
#include "core/train/cyclegan.h"

static void fill(float *x, size_t n, uint64_t seed)
{
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = rng_range(&r, -1.0f, 1.0f);
}

// A generator with the seed's initialisation, a trace for one size x size image and an input
// for it (*x, freed by the caller); false after saying why.
static bool generator_setup(Pool *pool, GeneratorConfig cfg, int size, Net *g, Trace **t, float **x)
{
    Err err;
    *g = (Net){0};
    if (generator_build(g, cfg, &err) != 0 ||
        !(*t = trace_create(g, 1, size, size, false, pool, &err))) {
        fprintf(stderr, "bench: %s\n", err.msg);
        net_free(g);
        return false;
    }
    net_init_weights(g, 1);
    size_t n = 3 * (size_t)size * size;
    *x = malloc(n * sizeof **x);
    fill(*x, n, 2);
    return true;
}

// A trace set up as the filter's (trace_create_inference) for fp32 or bf16: kept Winograd
// kernels, and with bf16 the bf16 kernels, which must then apply; false where they cannot.
static bool prepare_inference(Trace *t, const Net *g, bool bf16)
{
    Err err;
    if (bf16 && trace_use_bf16(t, g, &err) <= 0)
        return false;
    if (trace_keep_winograd_kernels(t, g, &err) < 0) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return false;
    }
    return true;
}

// The generator's inference time (median ms of runs after 2 warm-up runs), fp32 or with bf16
// convolutions, with its multiply-accumulates and parameters; -1 on failure (after saying why)
// or for bf16 where the CPU has none.
static double infer_ms(Pool *pool, int size, int blocks, int ngf, int runs, bool bf16,
                       double *macs, size_t *params)
{
    Net g;
    Trace *t;
    float *x;
    if (!generator_setup(pool, (GeneratorConfig){ngf, blocks, UPSAMPLE_CONVT}, size, &g, &t, &x))
        return -1.0;
    if (!prepare_inference(t, &g, bf16)) {
        free(x), trace_free(t), net_free(&g);
        return -1.0;
    }
    size_t n = 3 * (size_t)size * size;
    float *y = malloc(n * sizeof *y);
    double times[64];
    runs = runs < 64 ? runs : 64;
    for (int i = 0; i < 2; i++)
        net_forward(&g, t, x);
    for (int i = 0; i < runs; i++) {
        double t0 = clock_now_s();
        memcpy(y, net_forward(&g, t, x), n * sizeof *y);
        times[i] = clock_now_s() - t0;
    }
    *macs = trace_macs(&g, t);
    *params = g.params.numel;
    trace_free(t);
    net_free(&g);
    free(x);
    free(y);
    return 1e3 * median(times, runs);
}

static int bench_config(Pool *pool, int size, int blocks, int ngf, int ndf, bool train, int runs)
{
    Err err;
    double macs;
    size_t params;
    double infer = infer_ms(pool, size, blocks, ngf, runs, false, &macs, &params);
    if (infer < 0)
        return 1;
    double infer_bf16 = infer_ms(pool, size, blocks, ngf, runs, true, &macs, &params);
    size_t n = 3 * (size_t)size * size;
    float *x = malloc(n * sizeof *x);
    fill(x, n, 2);
    double times[32];

    // One CycleGAN iteration, fp32 and (where the CPU has bf16 convolutions) --bf16's mixed precision.
    double train_s[2] = {-1.0, -1.0};
    for (int bf16 = 0; train && bf16 < 2; bf16++) {
        if (bf16 && !conv_bf16_available())
            break;
        CycleGanConfig cfg = {.gen = {ngf, blocks, UPSAMPLE_CONVT},
                              .ndf = ndf,
                              .size = size,
                              .batch = 1,
                              CYCLEGAN_SEED_LOSS_WEIGHTS,
                              .seed = 3,
                              .bf16 = bf16};
        // Winograd or im2col measured per shape, as the trainer does.
        CycleGan *gan = cyclegan_create(&cfg, pool, &err);
        if (!gan || cyclegan_pick_winograd(gan, NULL, &err)) {
            cyclegan_free(gan);
            free(x);
            goto fail;
        }
        float *b = malloc(n * sizeof *b);
        fill(b, n, 4);
        CycleGanLosses l;
        cyclegan_step(gan, x, b, 2e-4f, &l);
        int train_runs = runs < 5 ? runs : 5;
        for (int i = 0; i < train_runs; i++) {
            double t0 = clock_now_s();
            cyclegan_step(gan, x, b, 2e-4f, &l);
            times[i] = clock_now_s() - t0;
        }
        train_s[bf16] = median(times, train_runs);
        free(b);
        cyclegan_free(gan);
    }
    printf("ageshift\t%d\t%d\t%d\t%zu\t%.0f\t%.2f\t%.3f\t%.2f\t%.3f\n", size, blocks, ngf, params,
           macs, infer, train_s[0], infer_bf16, train_s[1]);
    fflush(stdout);
    free(x);
    return 0;
fail:
    fprintf(stderr, "bench: %s\n", err.msg);
    return 1;
}

// ---- the roofline: the machine's fp32 FMA peak, and where a forward pass spends its time ----

// One register of floats: 16 lanes with AVX-512, 8 with AVX2. A wider vector than the
// registers would be split in two and its 12 chains spilled: a peak at a sixth of the truth.
#if defined(__AVX512F__)
#define PEAK_LANES 16
#else
#define PEAK_LANES 8
#endif
typedef float PeakVec __attribute__((vector_size(PEAK_LANES * sizeof(float))));
#define PEAK_CHAINS 12 // independent FMA chains: enough to fill two FMA ports of 4-cycle latency
#define PEAK_ITERATIONS 20000000

static void peak_part(void *ctx, int t, int n)
{
    (void)n;
    float *sink = ctx;
    PeakVec acc[PEAK_CHAINS], m, a;
    for (int i = 0; i < PEAK_LANES; i++)
        m[i] = 0.999999f, a[i] = 1e-7f * (float)(t + 1);
    for (int c = 0; c < PEAK_CHAINS; c++)
        acc[c] = a * (float)(c + 1);
    for (long k = 0; k < PEAK_ITERATIONS / 16; k++)
        for (int c = 0; c < PEAK_CHAINS; c++)
            acc[c] = acc[c] * m + a; // one vfmadd of PEAK_LANES lanes
    float s = 0.0f;
    for (int c = 0; c < PEAK_CHAINS; c++)
        for (int i = 0; i < PEAK_LANES; i++)
            s += acc[c][i];
    sink[t] = s; // keeps the loop
}

// GFLOP/s of multiply-adds on every pool thread at once (2 flops each), the best of 3.
static double fma_peak_gflops(Pool *pool)
{
    float sink[64];
    double best = 0.0;
    for (int r = 0; r < 3; r++) {
        double t0 = clock_now_s();
        pool_run(pool, peak_part, sink);
        double s = clock_now_s() - t0;
        double flops =
            2.0 * PEAK_LANES * PEAK_CHAINS * (double)(PEAK_ITERATIONS / 16) * pool_threads(pool);
        if (flops / s > best)
            best = flops / s;
    }
    return best / 1e9;
}

// The kinds of layers a generator's time is told by.
static const char *layer_kind(const Layer *L)
{
    if (L->kind == LAYER_CONV && L->k == 3 && L->stride == 1)
        return "3x3 stride 1 (residual, resize upsampling)";
    if (L->kind == LAYER_CONV && L->k == 7)
        return "7x7 (first and last)";
    if (L->kind == LAYER_CONV && L->k == 3 && L->stride == 2)
        return "3x3 stride 2 (downsampling)";
    if (L->kind == LAYER_CONV && L->k == 4)
        return L->stride == 2 ? "4x4 stride 2 (discriminator)" : "4x4 stride 1 (discriminator)";
    if (L->kind == LAYER_CONVT)
        return "3x3 transposed (upsampling)";
    if (L->kind == LAYER_INSTANCE_NORM) // (net.c runs the activation after each with it)
        return "instance norms with their activations";
    if (L->kind == LAYER_REFLECT_PAD)
        return "reflection pads";
    if (L->kind == LAYER_UPSAMPLE)
        return "nearest 2x (resize upsampling)";
    if (L->kind == LAYER_ADD)
        return "residual adds";
    if (L->kind == LAYER_MEAN_HW)
        return "mean (discriminator)";
    return "other activations (tanh, leaky ReLU)";
}

// Adds the seconds of each of net's layers to its kind's total (names and ms as bench_layers').
enum { KINDS = 14 };
static void add_by_kind(const Net *net, const double *sec, double scale, const char *names[KINDS],
                        double ms[KINDS])
{
    for (int l = 0; l < net->n_layers; l++) {
        const char *name = layer_kind(&net->layers[l]);
        int k = 0;
        while (k < KINDS - 1 && names[k] && strcmp(names[k], name))
            k++;
        names[k] = name;
        ms[k] += 1e3 * scale * sec[l];
    }
}

// Where a CycleGAN iteration's time goes: a generator's and a discriminator's forward and
// backward passes, each timed by layer (the median of 5), times the 6 of each an iteration runs
// (core/train/cyclegan.c: two identity, two translations with their round trips; the
// discriminators' two real and two fake passes and the two the generators' losses go through).
static void bench_train_layers(Pool *pool, int size, int blocks, int ngf, int ndf)
{
    Err err;
    err.msg[0] = '\0';
    Net nets[2];
    memset(nets, 0, sizeof nets);
    if (generator_build(&nets[0], (GeneratorConfig){ngf, blocks, UPSAMPLE_CONVT}, &err) ||
        discriminator_build(&nets[1], ndf, &err))
        goto fail;
    const char *names[KINDS] = {0};
    double kind_ms[KINDS] = {0}, pass_ms[2][2] = {{0}}; // [G, D][forward, backward]
    for (int k = 0; k < 2; k++) {
        Net *net = &nets[k];
        net_init_weights(net, 1 + (uint64_t)k);
        Trace *t = NULL;
        // The paths the trainer would take: each shape measured (winograd_pick.h).
        if (paramset_enable_training(&net->params, &err) ||
            !(t = trace_create(net, 1, size, size, true, pool, &err)) ||
            trace_measure_winograd(t, net, &err))
            goto fail;
        size_t n_in = 3 * (size_t)size * size;
        Shape4 o = trace_output_shape(t);
        size_t n_out = (size_t)o.n * o.c * o.h * o.w;
        float *x = malloc(n_in * sizeof(float)), *dout = malloc(n_out * sizeof(float));
        float *din = calloc(n_in, sizeof(float));
        fill(x, n_in, 5), fill(dout, n_out, 6);
        enum { RUNS = 5 };
        double *sec[2][RUNS], total[2][RUNS];
        for (int r = -1; r < RUNS; r++) { // r = -1: warm-up
            double *fs = r < 0 ? NULL : (sec[0][r] = calloc((size_t)net->n_layers, sizeof(double)));
            double *bs = r < 0 ? NULL : (sec[1][r] = calloc((size_t)net->n_layers, sizeof(double)));
            double t0 = clock_now_s();
            net_forward_timed(net, t, x, fs);
            double t1 = clock_now_s();
            net_backward_timed(net, t, dout, din, true, bs);
            if (r >= 0)
                total[0][r] = t1 - t0, total[1][r] = clock_now_s() - t1;
        }
        for (int pass = 0; pass < 2; pass++) {
            // The run whose total is the median stands for the pass, layer by layer.
            double m = median(total[pass], RUNS);
            int pick = 0;
            for (int r = 0; r < RUNS; r++)
                if (total[pass][r] == m)
                    pick = r;
            pass_ms[k][pass] = 6e3 * m;
            add_by_kind(net, sec[pass][pick], 6.0, names, kind_ms);
            for (int r = 0; r < RUNS; r++)
                free(sec[pass][r]);
        }
        free(x), free(dout), free(din);
        trace_free(t);
    }
    double all = pass_ms[0][0] + pass_ms[0][1] + pass_ms[1][0] + pass_ms[1][1];
    printf("training %d/%d/%d, ndf %d: 6 generator and 6 discriminator passes, %.0f ms\n", size,
           blocks, ngf, ndf, all);
    printf("  generator forward %.0f ms, backward %.0f ms; discriminator forward %.0f ms, "
           "backward %.0f ms\n",
           pass_ms[0][0], pass_ms[0][1], pass_ms[1][0], pass_ms[1][1]);
    for (int k = 0; k < KINDS && names[k]; k++)
        printf("  %-45s %8.1f ms  %4.1f%%\n", names[k], kind_ms[k], 100.0 * kind_ms[k] / all);
fail:
    if (err.msg[0])
        fprintf(stderr, "bench: %s\n", err.msg);
    net_free(&nets[0]), net_free(&nets[1]);
}

// One generator's forward: ms per kind of layer (median over runs of each kind's sum), and the
// convolutions' effective GFLOP/s (2 x direct multiply-adds / time).
static void bench_layers(Pool *pool, int size, int blocks, int ngf, Upsample up, bool bf16,
                         double peak)
{
    Net g;
    Trace *t;
    float *x;
    if (!generator_setup(pool, (GeneratorConfig){ngf, blocks, up}, size, &g, &t, &x))
        return;
    if (!prepare_inference(t, &g, bf16)) {
        free(x), trace_free(t), net_free(&g);
        return;
    }
    enum { RUNS = 9 };
    double *sec = calloc((size_t)g.n_layers, sizeof *sec), kind_ms[KINDS][RUNS], total[RUNS];
    const char *names[KINDS] = {0};
    net_forward(&g, t, x);
    for (int r = 0; r < RUNS; r++) {
        memset(sec, 0, (size_t)g.n_layers * sizeof *sec);
        double t0 = clock_now_s();
        net_forward_timed(&g, t, x, sec);
        total[r] = 1e3 * (clock_now_s() - t0);
        for (int k = 0; k < KINDS; k++)
            kind_ms[k][r] = 0.0;
        for (int l = 0; l < g.n_layers; l++) {
            const char *name = layer_kind(&g.layers[l]);
            int k = 0;
            while (k < KINDS && names[k] && strcmp(names[k], name))
                k++;
            names[k] = name;
            kind_ms[k][r] += 1e3 * sec[l];
        }
    }
    double ms = median(total, RUNS), gflops = 2.0 * trace_macs(&g, t) / (ms * 1e6);
    printf("%d/%d/%d %s%s: %.2f ms, %.0f GFLOP/s effective (%.0f%% of the fp32 FMA peak)\n", size,
           blocks, ngf, upsample_name(up), bf16 ? " bf16" : "", ms, gflops, 100.0 * gflops / peak);
    for (int k = 0; k < KINDS && names[k]; k++) {
        double km = median(kind_ms[k], RUNS);
        printf("  %-45s %8.2f ms  %4.1f%%\n", names[k], km, 100.0 * km / ms);
    }
    free(sec);
    free(x);
    trace_free(t);
    net_free(&g);
}

// Forward and backward (the data gradient, and the weight gradient with `weights`) by several
// paths: path m is shape by[m], after select(m) where select is not NULL; in turn over 9 rounds
// of reps calls each: the median ms of each, ms[path][0: forward, 1: backward, 2: the weight
// gradient alone]. The caller sets its default path back.
enum { MAX_PATHS = 3 };
static void time_paths(Pool *pool, const ConvShape *by, int paths, void (*select)(int path),
                       bool weights, int reps, double ms[][3])
{
    const ConvShape *s = &by[0];
    size_t ni = (size_t)s->c * s->h * s->w, no = (size_t)s->oc * s->oh * s->ow;
    size_t nw = (size_t)s->oc * s->c * s->k * s->k, work_floats = 0;
    for (int m = 0; m < paths; m++) {
        if (select)
            select(m);
        size_t f = conv_workspace_floats(&by[m]);
        work_floats = f > work_floats ? f : work_floats;
    }
    float *in = malloc(ni * sizeof(float)), *w = malloc(nw * sizeof(float));
    float *out = malloc(no * sizeof(float)), *din = calloc(ni, sizeof(float));
    float *dw = calloc(nw, sizeof(float));
    float *work = malloc(work_floats * sizeof(float));
    fill(in, ni, 3);
    fill(w, nw, 4);
    enum { ROUNDS = 9 };
    double t[MAX_PATHS][3][ROUNDS]; // [path][forward, backward, weight gradient][round]
    for (int r = 0; r < ROUNDS; r++)
        for (int m = 0; m < paths; m++) {
            if (select)
                select(m);
            const ConvShape *p = &by[m];
            double t0 = clock_now_s();
            for (int i = 0; i < reps; i++)
                conv2d_forward(pool, p, in, w, NULL, out, work);
            double t1 = clock_now_s();
            for (int i = 0; i < reps; i++)
                conv2d_backward(pool, p, in, w, out, din, weights ? dw : NULL, NULL, work);
            double t2 = clock_now_s();
            for (int i = 0; i < reps; i++)
                conv2d_backward(pool, p, in, w, out, NULL, dw, NULL, work);
            double t3 = clock_now_s();
            t[m][0][r] = 1e3 * (t1 - t0) / reps;
            t[m][1][r] = 1e3 * (t2 - t1) / reps;
            t[m][2][r] = 1e3 * (t3 - t2) / reps;
        }
    for (int m = 0; m < paths; m++)
        for (int k = 0; k < 3; k++)
            ms[m][k] = median(t[m][k], ROUNDS);
    free(in), free(w), free(out), free(din), free(dw), free(work);
}

// One shape: forward, data and weight gradient by im2col, F(2x2, 3x3) and F(4x4, 3x3) (the
// weight gradient has only F(2x2)), as winograd_pick.h measures them, median ms of each.
static void bench_conv_shape(Pool *pool, int c, int oc, int h, const char *where)
{
    const uint8_t picks[MAX_PATHS][3] = {
        {WINOGRAD_PICK_IM2COL, WINOGRAD_PICK_IM2COL, WINOGRAD_PICK_IM2COL},
        {WINOGRAD_PICK_WINOGRAD, WINOGRAD_PICK_WINOGRAD, WINOGRAD_PICK_WINOGRAD},
        {WINOGRAD_PICK_WINOGRAD4, WINOGRAD_PICK_WINOGRAD4, WINOGRAD_PICK_WINOGRAD}};
    ConvShape by[MAX_PATHS];
    for (int m = 0; m < MAX_PATHS; m++) {
        conv_shape(&by[m], 1, c, h, h, oc, 3, 1, 0);
        memcpy(by[m].winograd_pick, picks[m], 3);
    }
    double ms[MAX_PATHS][3];
    time_paths(pool, by, MAX_PATHS, NULL, false,
               (int)(3e8 / ((double)oc * c * 9 * by[0].oh * by[0].ow)) + 1, ms);
    printf("%4d %4d %4dx%-4d %5zu", c, oc, h, h, winograd_output_tiles(&by[0]));
    for (int k = 0; k < 2; k++)
        printf(" %7.3f %7.3f %7.3f %5.2fx %5.2fx", ms[0][k], ms[1][k], ms[2][k], ms[0][k] / ms[1][k],
               ms[0][k] / ms[2][k]);
    printf(" %7.3f %7.3f %5.2fx  %s\n", ms[0][2], ms[1][2], ms[0][2] / ms[1][2], where);
}

static void bench_conv(Pool *pool)
{
    printf("   C   OC  input     tiles  fwd: im2col   F(2x2)  F(4x4) ratios       dgrad: im2col  "
           "F(2x2)  F(4x4) ratios       wgrad: im2col F(2x2) ratio  (ms)\n");
    bench_conv_shape(pool, 32, 32, 10, "ngf 8 residual at 32 px (the golden tests)");
    bench_conv_shape(pool, 64, 64, 18, "ngf 16 residual at 64 px");
    bench_conv_shape(pool, 64, 64, 34, "ngf 16 residual at 128 px (the default model)");
    bench_conv_shape(pool, 64, 32, 66, "ngf 16 resize upsampling 1 at 128 px");
    bench_conv_shape(pool, 32, 16, 130, "ngf 16 resize upsampling 2 at 128 px");
    bench_conv_shape(pool, 128, 128, 34, "ngf 32 residual at 128 px");
    bench_conv_shape(pool, 256, 256, 66, "ngf 64 residual at 256 px (the seed's)");
}

static void direct_path(int path)
{
    direct_conv_set_enabled(path == 1);
}

// One 7x7 stride-1 shape: forward and backward (data and weight gradient), im2col and the
// direct kernel alternately, median ms of each.
static void bench_direct_shape(Pool *pool, int c, int oc, int h, const char *where)
{
    ConvShape s;
    conv_shape(&s, 1, c, h, h, oc, 7, 1, 0);
    double ms[2][3];
    time_paths(pool, (ConvShape[]){s, s}, 2, direct_path, true, 1, ms);
    direct_conv_set_enabled(true);
    printf("%4d %4d %4dx%-4d %9.3f %9.3f %6.2fx %9.3f %9.3f %6.2fx  %s\n", c, oc, h, h, ms[0][0],
           ms[1][0], ms[0][0] / ms[1][0], ms[0][1], ms[1][1], ms[0][1] / ms[1][1], where);
}

static void bench_direct(Pool *pool)
{
    printf("   C   OC  input     fwd im2col    direct  ratio  bwd im2col    direct  ratio  (ms)\n");
    bench_direct_shape(pool, 3, 16, 134, "ngf 16 first layer at 128 px");
    bench_direct_shape(pool, 16, 3, 134, "ngf 16 last layer at 128 px");
    bench_direct_shape(pool, 3, 32, 134, "ngf 32 first layer at 128 px");
    bench_direct_shape(pool, 32, 3, 134, "ngf 32 last layer at 128 px");
    bench_direct_shape(pool, 3, 64, 262, "ngf 64 first layer at 256 px (the seed's)");
    bench_direct_shape(pool, 64, 3, 262, "ngf 64 last layer at 256 px");
}

// One generator at fp32 and with bf16 convolutions (trace_use_bf16), alternately: median ms of
// each and the bf16 output's PSNR against fp32 (outputs -1..1 read as 0..1).
static void bench_bf16_config(Pool *pool, int size, int blocks, int ngf, Upsample up)
{
    Net g;
    Trace *t32, *t16;
    float *x;
    Err err;
    if (!generator_setup(pool, (GeneratorConfig){ngf, blocks, up}, size, &g, &t32, &x))
        return;
    if (!prepare_inference(t32, &g, false) ||
        !(t16 = trace_create_inference(&g, size, size, pool, &err))) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return;
    }
    enum { RUNS = 9 };
    size_t n = 3 * (size_t)size * size;
    float *y = malloc(n * sizeof *y);
    double ms[2][RUNS];
    net_forward(&g, t32, x);
    net_forward(&g, t16, x);
    for (int r = 0; r < RUNS; r++)
        for (int m = 0; m < 2; m++) {
            double t0 = clock_now_s();
            net_forward(&g, m ? t16 : t32, x);
            ms[m][r] = 1e3 * (clock_now_s() - t0);
        }
    memcpy(y, net_forward(&g, t32, x), n * sizeof *y);
    const float *b = net_forward(&g, t16, x);
    double mse = 0.0;
    for (size_t i = 0; i < n; i++)
        mse += 0.25 * (double)(y[i] - b[i]) * (y[i] - b[i]);
    double f = median(ms[0], RUNS), h = median(ms[1], RUNS);
    printf("%3d/%d/%-3d %-7s %9.2f %9.2f %6.2fx %8.1f dB\n", size, blocks, ngf,
           upsample_name(up), f, h, f / h, 10.0 * log10(n / fmax(mse, 1e-20)));
    free(y), free(x);
    trace_free(t32), trace_free(t16);
    net_free(&g);
}

// One stride-1 shape's backward (data and weight gradient): fp32 (conv2d_backward) and bf16
// (conv_bf16.h's kernels; the weight gradient in fp32 where only the vector kernel runs, as
// training does), alternately, median ms of each.
static void bench_bf16_backward_shape(Pool *pool, int c, int oc, int h, const char *where)
{
    ConvShape s;
    conv_shape(&s, 1, c, h, h, oc, 3, 1, 0);
    ConvShape g = conv_bf16_gradient_shape(&s);
    int threads = pool_threads(pool);
    size_t ni = (size_t)c * h * h, no = (size_t)oc * s.oh * s.ow, nw = (size_t)oc * c * 9;
    size_t wd = conv_bf16_workspace_floats(&g, threads);
    size_t ww = conv_bf16_weight_workspace_floats(&s, threads);
    float *in = malloc(ni * sizeof(float)), *w = malloc(nw * sizeof(float));
    float *dout = malloc(no * sizeof(float)), *din = calloc(ni, sizeof(float));
    float *dw = calloc(nw, sizeof(float)), *work = malloc(conv_workspace_floats(&s) * sizeof(float));
    float *work16 = malloc((wd > ww ? wd : ww) * sizeof(float));
    uint16_t *turned = malloc(conv_bf16_packed_count(&g) * sizeof(uint16_t));
    fill(in, ni, 3), fill(w, nw, 4), fill(dout, no, 5);
    enum { ROUNDS = 9 };
    double t[2][ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = clock_now_s();
        conv2d_backward(pool, &s, in, w, dout, din, dw, NULL, work);
        double t1 = clock_now_s();
        conv_bf16_pack_turned(&s, w, turned);
        conv_bf16_forward(pool, &g, dout, turned, din, true, work16);
        if (conv_bf16_weight_applies(&s))
            conv_bf16_weight_grad(pool, &s, in, dout, dw, work16);
        else
            conv2d_backward(pool, &s, in, w, dout, NULL, dw, NULL, work);
        t[0][r] = 1e3 * (t1 - t0), t[1][r] = 1e3 * (clock_now_s() - t1);
    }
    double a = median(t[0], ROUNDS), b = median(t[1], ROUNDS);
    printf("%4d %4d %4dx%-4d %9.3f %9.3f %6.2fx  %s\n", c, oc, h, h, a, b, a / b, where);
    free(in), free(w), free(dout), free(din), free(dw), free(work), free(work16), free(turned);
}

static void bench_bf16(Pool *pool)
{
    printf("bf16 convolutions: %s\n", conv_bf16_describe());
    if (!conv_bf16_available())
        return;
    printf("config     upsample  fp32 ms   bf16 ms  ratio  PSNR of bf16 against fp32\n");
    const int configs[3][3] = {{128, 6, 16}, {128, 6, 32}, {256, 9, 64}};
    for (int c = 0; c < 3; c++)
        for (int u = 0; u < 2; u++)
            bench_bf16_config(pool, configs[c][0], configs[c][1], configs[c][2],
                              u ? UPSAMPLE_RESIZE : UPSAMPLE_CONVT);
    printf("\nbackward (data and weight gradient) of 3x3 stride-1 convolutions, for training:\n"
           "   C   OC  input     fp32 ms   bf16 ms  ratio\n");
    bench_bf16_backward_shape(pool, 64, 64, 34, "ngf 16 residual at 128 px");
    bench_bf16_backward_shape(pool, 64, 32, 66, "ngf 16 resize upsampling 1");
    bench_bf16_backward_shape(pool, 32, 16, 130, "ngf 16 resize upsampling 2");
    bench_bf16_backward_shape(pool, 128, 128, 34, "ngf 32 residual at 128 px");
}

int main(int argc, char **argv)
{
    Err err;
    if (blas_select_kernel(argv, &err) != 0)
        fprintf(stderr, "bench: warning: %s\n", err.msg);
    Pool *pool = pool_create(0, &err);
    if (!pool) {
        fprintf(stderr, "bench: %s\n", err.msg);
        return 1;
    }
    char blas[512];
    blas_describe(blas, sizeof blas); // after pool_create: one sgemm thread per pool thread
    fprintf(stderr, "ageshift core: %s per pool thread, %d pool threads\n", blas,
            pool_threads(pool));
    if (argc > 1 && !strcmp(argv[1], "--no-winograd"))
        winograd_set_mode(WINOGRAD_NEVER);
    if (argc > 1 && !strcmp(argv[1], "--small-tiles")) { // inference by F(2x2, 3x3) too
        winograd_set_large_tiles(false);
        argv++, argc--;
    }
    bool bf16 = argc > 1 && !strcmp(argv[1], "--infer-bf16");
    if (argc == 6 && (!strcmp(argv[1], "--infer") || bf16)) { // --infer SIZE BLOCKS NGF RUNS
        double macs;
        size_t params;
        double ms = infer_ms(pool, atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]),
                             bf16, &macs, &params);
        printf("%.3f\n", ms);
        pool_free(pool);
        return ms < 0;
    }
    if (argc == 8 && !strcmp(argv[1], "--row")) { // --row SIZE BLOCKS NGF NDF TRAIN RUNS
        int rc = bench_config(pool, atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]),
                              atoi(argv[6]) != 0, atoi(argv[7]));
        pool_free(pool);
        return rc;
    }
    if (argc == 6 && !strcmp(argv[1], "--train-layers")) { // SIZE BLOCKS NGF NDF
        bench_train_layers(pool, atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
        pool_free(pool);
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "--roofline")) {
        double peak = fma_peak_gflops(pool);
        printf("fp32 FMA peak, measured: %.0f GFLOP/s on %d threads\n", peak, pool_threads(pool));
        for (int bf16 = 0; bf16 < 2; bf16++) { // bf16: where conv_bf16_available()
            bench_layers(pool, 128, 6, 16, UPSAMPLE_CONVT, bf16, peak);
            bench_layers(pool, 128, 6, 16, UPSAMPLE_RESIZE, bf16, peak);
            bench_layers(pool, 128, 6, 32, UPSAMPLE_CONVT, bf16, peak);
            bench_layers(pool, 128, 6, 32, UPSAMPLE_RESIZE, bf16, peak);
            bench_layers(pool, 256, 9, 64, UPSAMPLE_CONVT, bf16, peak);
        }
        bench_train_layers(pool, 128, 6, 16, 32);
        bench_train_layers(pool, 128, 6, 32, 64);
        pool_free(pool);
        return 0;
    }
    const struct {
        const char *flag;
        void (*run)(Pool *);
    } tables[] = {{"--bf16", bench_bf16}, {"--direct", bench_direct}, {"--conv", bench_conv}};
    for (size_t i = 0; argc > 1 && i < sizeof tables / sizeof tables[0]; i++)
        if (!strcmp(argv[1], tables[i].flag)) {
            tables[i].run(pool);
            pool_free(pool);
            return 0;
        }
    int rc = 0;
    rc |= bench_config(pool, 128, 6, 16, 32, true, 15); // the default model (samples/)
    rc |= bench_config(pool, 128, 6, 32, 64, true, 15);
    rc |= bench_config(pool, 64, 6, 32, 64, true, 25);
    rc |= bench_config(pool, 256, 9, 64, 64, false, 7);
    pool_free(pool);
    return rc;
}
