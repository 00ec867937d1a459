// make bench: the core's speed on the seed's networks. Prints one tab-separated row per
// generator configuration: impl size blocks ngf params macs infer_ms train_s
// (inference: batch 1, median of runs after warm-up; train: one full CycleGAN iteration, both
// generators and both discriminators (ndf as given), the seed's losses, batch 1, median).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/blas_setup.h"
#include "core/base/clock.h"
#include "core/train/cyclegan.h"
#include "core/base/rng.h"

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
    if (generator_build(&g, (GeneratorConfig){ngf, blocks}, &err) != 0)
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

int main(int argc, char **argv)
{
    (void)argc;
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
    int rc = 0;
    rc |= bench_config(pool, 128, 6, 16, 32, true, 15); // the default model (samples/)
    rc |= bench_config(pool, 128, 6, 32, 64, true, 15);
    rc |= bench_config(pool, 64, 6, 32, 64, true, 25);
    rc |= bench_config(pool, 256, 9, 64, 64, false, 7);
    pool_free(pool);
    return rc;
}
