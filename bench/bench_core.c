// make bench: the core's speed on the seed's networks. Prints one tab-separated row per
// generator configuration: impl size blocks ngf params macs infer_ms train_s
// (inference: batch 1, median of runs after warm-up; train: one full CycleGAN iteration, both
// generators and both discriminators (ndf as given), the seed's losses, batch 1, median).
//   bench_core --no-winograd: the same with every convolution by im2col.
//   bench_core --conv: the generators' 3x3 stride-1 convolutions by im2col and by Winograd,
//   forward and data gradient, timed alternately, medians (the table WINOGRAD_MIN_TILES is
//   read from).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/blas_setup.h"
#include "core/base/clock.h"
#include "core/base/rng.h"
#include "core/nn/winograd.h"
#include "core/train/cyclegan.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void fill(float *x, size_t n, uint64_t seed)
{
    Rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < n; i++)
        x[i] = rng_range(&r, -1.0f, 1.0f);
}

static int bench_config(Pool *pool, int size, int blocks, int ngf, int ndf, bool train, int runs)
{
    Err err;
    Net g = {0};
    if (generator_build(&g, (GeneratorConfig){ngf, blocks, UPSAMPLE_CONVT}, &err) != 0)
        goto fail;
    net_init_weights(&g, 1);
    Trace *t = trace_create(&g, 1, size, size, false, pool, &err);
    if (!t)
        goto fail;
    size_t n = 3 * (size_t)size * size;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    fill(x, n, 2);
    double times[32];
    for (int i = 0; i < 2; i++)
        net_forward(&g, t, x);
    for (int i = 0; i < runs; i++) {
        double t0 = clock_now_s();
        memcpy(y, net_forward(&g, t, x), n * sizeof *y);
        times[i] = clock_now_s() - t0;
    }
    double infer_ms = 1e3 * median(times, runs);
    double macs = trace_macs(&g, t);
    size_t params = g.params.numel;
    trace_free(t);
    net_free(&g);

    double train_s = -1.0;
    if (train) {
        CycleGanConfig cfg = {.gen = {ngf, blocks},
                              .ndf = ndf,
                              .size = size,
                              .batch = 1,
                              CYCLEGAN_SEED_LOSS_WEIGHTS,
                              .seed = 3};
        CycleGan *gan = cyclegan_create(&cfg, pool, &err);
        if (!gan)
            goto fail;
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
        train_s = median(times, train_runs);
        free(b);
        cyclegan_free(gan);
    }
    printf("ageshift\t%d\t%d\t%d\t%zu\t%.0f\t%.2f\t%.3f\n", size, blocks, ngf, params, macs,
           infer_ms, train_s);
    fflush(stdout);
    free(x);
    free(y);
    return 0;
fail:
    fprintf(stderr, "bench: %s\n", err.msg);
    return 1;
}

// One shape: forward and data gradient, im2col and Winograd alternately, median ms of each.
static void bench_conv_shape(Pool *pool, int c, int oc, int h, const char *where)
{
    ConvShape s;
    conv_shape(&s, 1, c, h, h, oc, 3, 1, 0);
    size_t ni = (size_t)c * h * h, no = (size_t)oc * s.oh * s.ow, nw = (size_t)oc * c * 9;
    float *in = malloc(ni * sizeof(float)), *w = malloc(nw * sizeof(float));
    float *out = malloc(no * sizeof(float)), *din = calloc(ni, sizeof(float));
    float *work = malloc(conv_workspace_floats(&s) * sizeof(float));
    fill(in, ni, 3);
    fill(w, nw, 4);
    const int rounds = 9;
    int reps = (int)(3e8 / ((double)nw * s.oh * s.ow)) + 1;
    double t[2][2][9]; // [im2col, winograd][forward, data gradient][round]
    for (int r = 0; r < rounds; r++)
        for (int m = 0; m < 2; m++) {
            winograd_set_mode(m ? WINOGRAD_ALWAYS : WINOGRAD_NEVER);
            double t0 = clock_now_s();
            for (int i = 0; i < reps; i++)
                conv2d_forward(pool, &s, in, w, NULL, out, work);
            double t1 = clock_now_s();
            for (int i = 0; i < reps; i++)
                conv2d_backward(pool, &s, in, w, out, din, NULL, NULL, work);
            double t2 = clock_now_s();
            t[m][0][r] = 1e3 * (t1 - t0) / reps;
            t[m][1][r] = 1e3 * (t2 - t1) / reps;
        }
    winograd_set_mode(WINOGRAD_BY_SHAPE);
    double f0 = median(t[0][0], rounds), f1 = median(t[1][0], rounds);
    double b0 = median(t[0][1], rounds), b1 = median(t[1][1], rounds);
    printf("%4d %4d %4dx%-4d %5zu %9.3f %9.3f %6.2fx %9.3f %9.3f %6.2fx  %s%s\n", c, oc, h, h,
           (size_t)((s.oh + 1) / 2) * ((s.ow + 1) / 2), f0, f1, f0 / f1, b0, b1, b0 / b1, where,
           winograd_forward_applies(&s) ? "" : " (im2col by shape)");
    free(in), free(w), free(out), free(din), free(work);
}

static void bench_conv(Pool *pool)
{
    printf("   C   OC  input     tiles  fwd im2col  winograd  ratio  dgrad im2col winograd ratio"
           "  (ms)\n");
    bench_conv_shape(pool, 32, 32, 10, "ngf 8 residual at 32 px (the golden tests)");
    bench_conv_shape(pool, 64, 64, 18, "ngf 16 residual at 64 px");
    bench_conv_shape(pool, 64, 64, 34, "ngf 16 residual at 128 px (the default model)");
    bench_conv_shape(pool, 64, 32, 66, "ngf 16 resize upsampling 1 at 128 px");
    bench_conv_shape(pool, 32, 16, 130, "ngf 16 resize upsampling 2 at 128 px");
    bench_conv_shape(pool, 128, 128, 34, "ngf 32 residual at 128 px");
    bench_conv_shape(pool, 256, 256, 66, "ngf 64 residual at 256 px (the seed's)");
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
    if (argc > 1 && !strcmp(argv[1], "--conv")) {
        bench_conv(pool);
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
