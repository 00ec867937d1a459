// The generator's own thread (filter/generator_thread.h): its change is the network's, one crop
// at a time, handed back with its tag; a busy thread refuses the next crop instead of queueing.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/rng.h"
#include "core/nn/networks.h"
#include "filter/generator_thread.h"

#define S 32
#define N (3 * S * S)

static Net net;

static void setup(void)
{
    Err err;
    cr_assert_eq(generator_build(&net, (GeneratorConfig){4, 2, UPSAMPLE_RESIZE}, &err), 0, "%s",
                 err.msg);
    net_init_weights(&net, 7);
}

static void teardown(void)
{
    net_free(&net);
}

TestSuite(generator_thread, .init = setup, .fini = teardown, .timeout = 60);

static void random_crop(float *crop, uint64_t seed)
{
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < N; i++)
        crop[i] = rng_range(&r, -1.0f, 1.0f);
}

Test(generator_thread, the_change_is_the_networks_output_less_the_crop)
{
    Err err;
    GeneratorThread *g = generator_thread_start(&net, S, &err);
    cr_assert_not_null(g, "%s", err.msg);
    Trace *t = trace_create(&net, 1, S, S, false, NULL, &err);
    cr_assert_not_null(t, "%s", err.msg);
    cr_assert_geq(trace_use_bf16(t, &net, &err), 0, "%s", err.msg); // the thread's kernels too
    float crop[N], delta[N];
    for (int round = 0; round < 3; round++) {
        random_crop(crop, 10 + (uint64_t)round);
        cr_assert(generator_thread_submit(g, 40 + round, crop));
        crop[0] = 99.0f; // the thread has its own copy
        int tag = -1;
        cr_assert(generator_thread_collect(g, true, &tag, delta));
        cr_expect_eq(tag, 40 + round);
        random_crop(crop, 10 + (uint64_t)round);
        const float *out = net_forward(&net, t, crop);
        for (int i = 0; i < N; i++)
            cr_assert_eq(delta[i], out[i] - crop[i], "[%d] %g vs %g", i, delta[i],
                         out[i] - crop[i]);
    }
    trace_free(t);
    generator_thread_stop(g);
}

Test(generator_thread, one_crop_at_a_time)
{
    Err err;
    GeneratorThread *g = generator_thread_start(&net, S, &err);
    cr_assert_not_null(g, "%s", err.msg);
    float crop[N], delta[N];
    int tag;
    random_crop(crop, 1);
    cr_expect_not(generator_thread_collect(g, false, &tag, delta), "a result before any crop");
    cr_expect_not(generator_thread_collect(g, true, &tag, delta), "waiting with nothing queued");
    cr_assert(generator_thread_submit(g, 1, crop));
    cr_expect_not(generator_thread_submit(g, 2, crop), "a second crop while the first is out");
    cr_assert(generator_thread_collect(g, true, &tag, delta));
    cr_expect_eq(tag, 1);
    cr_expect(generator_thread_submit(g, 3, crop), "free again once collected");
    generator_thread_stop(g); // with a crop still running: waits for it, leaks nothing
}
