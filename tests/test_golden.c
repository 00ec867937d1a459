// The networks against PyTorch, as llm.c tests GPT-2: fixtures written by
// tests/golden/make_golden.py (aitorzip's models, torch 1.13) hold weights, an input, the output,
// the gradient of every parameter and of the input for a loss, and the weights after 3 Adam
// steps. Outputs and gradients must agree to a relative error of 1e-4 (relative to the
// tensor's largest magnitude).
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/checkpoint.h"
#include "core/model/safetensors.h"
#include "core/nn/adam.h"
#include "core/nn/networks.h"
#include "core/nn/ops.h"
#include "core/nn/winograd.h"
#include "core/train/cyclegan.h"

#define REL_TOL 1e-4

static double rel_error(const float *got, const float *want, size_t n)
{
    double max_diff = 0.0, max_ref = 0.0;
    for (size_t i = 0; i < n; i++) {
        max_diff = fmax(max_diff, fabs((double)got[i] - want[i]));
        max_ref = fmax(max_ref, fabs((double)want[i]));
    }
    return max_diff / fmax(max_ref, 1e-30);
}

static float *read_tensor(const StFile *f, const char *name, size_t numel)
{
    Err err;
    float *buf = malloc(numel * sizeof *buf);
    cr_assert_not_null(buf);
    cr_assert_eq(st_read_f32(f, name, buf, numel, &err), 0, "%s", err.msg);
    return buf;
}

static int meta_int(const StFile *f, const char *key)
{
    const char *v = st_meta(f, key);
    cr_assert_not_null(v, "fixture lacks metadata '%s'", key);
    return atoi(v);
}

// A conv bias that feeds an instance norm is cancelled by the norm: its true gradient is 0
// and PyTorch's value is rounding noise, so it is compared in absolute terms.
static bool bias_cancelled_by_norm(const Net *net, int param)
{
    for (int i = 0; i + 1 < net->n_layers; i++)
        if (net->layers[i].bias == param)
            return net->layers[i + 1].kind == LAYER_INSTANCE_NORM;
    return false;
}

typedef enum { LOSS_L1, LOSS_MSE, LOSS_MSE_TO_ONES } Loss;

// One forward, the loss, and its backward; returns the loss.
static float step(Net *net, Trace *t, const float *input, const float *target, size_t out_len,
                  float *dout, float *din, Loss loss)
{
    const float *out = net_forward(net, t, input);
    memset(dout, 0, out_len * sizeof *dout);
    float l;
    if (loss == LOSS_L1) {
        l = l1_loss(out, target, out_len);
        l1_loss_backward(out, target, dout, out_len, 1.0f);
    } else if (loss == LOSS_MSE) {
        l = mse_loss(out, target, out_len);
        mse_loss_backward(out, target, dout, out_len, 1.0f);
    } else {
        l = mse_const_loss(out, 1.0f, out_len);
        mse_const_loss_backward(out, 1.0f, dout, out_len, 1.0f);
    }
    net_backward(net, t, dout, din, true);
    return l;
}

static void check_fixture(const char *path, bool is_generator, Loss loss, bool check_adam)
{
    Err err;
    StFile *f = st_open(path, &err);
    cr_assert_not_null(f, "%s", err.msg);
    Net net = {0};
    int h, w;
    if (is_generator) {
        GeneratorConfig cfg = {meta_int(f, "ngf"), meta_int(f, "n_blocks"), UPSAMPLE_CONVT};
        const char *up = st_meta(f, "upsample");
        cr_assert(!up || upsample_parse(up, &cfg.upsample) == 0, "upsample '%s'", up);
        cr_assert_eq(generator_build(&net, cfg, &err), 0, "%s", err.msg);
    } else {
        cr_assert_eq(discriminator_build(&net, meta_int(f, "ndf"), &err), 0, "%s", err.msg);
    }
    if (st_meta(f, "height")) {
        h = meta_int(f, "height");
        w = meta_int(f, "width");
    } else {
        h = w = meta_int(f, "size");
    }
    int batch = meta_int(f, "batch");
    cr_assert_eq(checkpoint_load_params(f, &net, "param.", &err), 0, "%s", err.msg);
    cr_assert_eq(paramset_enable_training(&net.params, &err), 0);
    // Three threads on two cores: uneven splits of every op's work are exercised too.
    Pool *pool = pool_create(3, &err);
    cr_assert_not_null(pool, "%s", err.msg);
    Trace *t = trace_create(&net, batch, h, w, true, pool, &err);
    cr_assert_not_null(t, "%s", err.msg);
    Shape4 os = trace_output_shape(t);
    size_t in_len = (size_t)batch * 3 * h * w, out_len = (size_t)os.n * os.c * os.h * os.w;

    float *input = read_tensor(f, "input", in_len);
    float *target = is_generator ? read_tensor(f, "target", out_len) : NULL;
    float *want_out = read_tensor(f, "output", out_len);
    float *dout = malloc(out_len * sizeof *dout), *din = calloc(in_len, sizeof *din);
    float want_loss;
    cr_assert_eq(st_read_f32(f, "loss", &want_loss, 1, &err), 0, "%s", err.msg);

    float l = step(&net, t, input, target, out_len, dout, din, loss);
    const float *out = net_forward(&net, t, input);
    double e = rel_error(out, want_out, out_len);
    cr_expect_leq(e, REL_TOL, "%s: output relative error %.3g", path, e);
    cr_expect_leq(fabsf(l - want_loss), REL_TOL * fabsf(want_loss), "%s: loss %.7g vs torch %.7g",
                  path, l, want_loss);
    float *want = read_tensor(f, "grad.input", in_len);
    e = rel_error(din, want, in_len);
    cr_expect_leq(e, REL_TOL, "%s: input gradient relative error %.3g", path, e);
    free(want);

    ParamSet *ps = &net.params;
    double grad_scale = 0.0; // the largest parameter gradient of the network
    for (size_t j = 0; j < ps->numel; j++)
        grad_scale = fmax(grad_scale, fabs(ps->grad[j]));
    for (int i = 0; i < ps->count; i++) {
        char name[128];
        snprintf(name, sizeof name, "grad.%s", ps->info[i].name);
        want = read_tensor(f, name, ps->info[i].numel);
        const float *got = param_grad(ps, i);
        if (bias_cancelled_by_norm(&net, i)) {
            // Both are rounding noise around 0: bound it by the scale of the other gradients.
            for (size_t j = 0; j < ps->info[i].numel; j++)
                cr_expect_leq(fabsf(got[j] - want[j]), REL_TOL * grad_scale, "%s[%zu]: %g vs %g",
                              name, j, got[j], want[j]);
        } else {
            e = rel_error(got, want, ps->info[i].numel);
            cr_expect_leq(e, REL_TOL, "%s: relative error %.3g", name, e);
        }
        free(want);
    }

    if (check_adam) {
        // Reload the initial weights and take 3 Adam steps as the fixture did.
        const float lr = (float)atof(st_meta(f, "lr"));
        AdamConfig cfg = ADAM_SEED_CONFIG;
        // The fixture's Adam steps may follow a smoother loss than its gradients (see
        // tests/golden/make_golden.py).
        const char *adam_loss = st_meta(f, "adam_loss");
        if (adam_loss) {
            cr_assert_str_eq(adam_loss, "mse_mean");
            loss = LOSS_MSE;
        }
        cr_assert_eq(checkpoint_load_params(f, &net, "param.", &err), 0, "%s", err.msg);
        for (int s = 0; s < 3; s++) {
            paramset_zero_grad(ps);
            step(&net, t, input, target, out_len, dout, NULL, loss);
            adam_step(ps, &cfg, lr);
        }
        const float *out3 = net_forward(&net, t, input);
        float l3 = loss == LOSS_L1    ? l1_loss(out3, target, out_len)
                   : loss == LOSS_MSE ? mse_loss(out3, target, out_len)
                                      : mse_const_loss(out3, 1.0f, out_len);
        float want_l3;
        cr_assert_eq(st_read_f32(f, "adam3_loss", &want_l3, 1, &err), 0, "%s", err.msg);
        cr_expect_leq(fabsf(l3 - want_l3), REL_TOL * fabsf(want_l3),
                      "%s: loss after 3 Adam steps %.7g vs torch %.7g", path, l3, want_l3);
        // Adam divides each gradient element by its own running size, so the float rounding
        // that leaves the gradients equal to 1e-4 of their largest element is amplified for
        // small elements, and one within noise of 0 may even step the other way (each step is
        // about +-lr). The formula itself is checked to 1e-6 in adam_three_steps; here 99% of
        // the weights must land within lr/10 of PyTorch's, and none more than 3 flipped steps.
        for (int i = 0; i < ps->count; i++) {
            char name[128];
            snprintf(name, sizeof name, "adam3.%s", ps->info[i].name);
            size_t n = ps->info[i].numel, off = 0;
            want = read_tensor(f, name, n);
            const float *got = param_data(ps, i);
            for (size_t j = 0; j < n; j++) {
                double d = fabs((double)got[j] - want[j]);
                cr_expect_leq(d, 6.0 * lr * 1.01, "%s[%zu]: %g vs %g", name, j, got[j], want[j]);
                off += d > 0.1 * lr;
            }
            if (!bias_cancelled_by_norm(&net, i))
                cr_expect_leq(off, n / 100, "%s: %zu of %zu weights differ from PyTorch", name, off,
                              n);
            free(want);
        }
    }
    free(input), free(target), free(want_out), free(dout), free(din);
    trace_free(t);
    pool_free(pool);
    net_free(&net);
    st_close(f);
}

Test(golden, generator_ngf8_2blocks_32px_batch2)
{
    check_fixture("tests/fixtures/golden_generator.safetensors", true, LOSS_L1, true);
}

// Every 3x3 stride-1 convolution through Winograd's kernels, whatever its size: the network's
// output, gradients and three Adam steps against PyTorch's as for im2col (the steps agree within
// the same bounds now that the fixtures take them at the seed's rate: tests/golden/make_golden.py).
Test(golden, generator_ngf8_2blocks_32px_batch2_winograd)
{
    winograd_set_mode(WINOGRAD_ALWAYS);
    check_fixture("tests/fixtures/golden_generator.safetensors", true, LOSS_L1, true);
    check_fixture("tests/fixtures/golden_generator_resize.safetensors", true, LOSS_L1, true);
    winograd_set_mode(WINOGRAD_BY_SHAPE);
}

Test(golden, generator_ngf4_1block_48x40)
{
    check_fixture("tests/fixtures/golden_generator_b1_48.safetensors", true, LOSS_L1, false);
}

Test(golden, generator_resize_upsampling_ngf4_2blocks_32px_batch2)
{
    check_fixture("tests/fixtures/golden_generator_resize.safetensors", true, LOSS_L1, true);
}

Test(golden, discriminator_ndf8_32px_batch2)
{
    check_fixture("tests/fixtures/golden_discriminator.safetensors", false, LOSS_MSE_TO_ONES, true);
}

Test(golden, adam_three_steps)
{
    Err err;
    StFile *f = st_open("tests/fixtures/golden_adam.safetensors", &err);
    cr_assert_not_null(f, "%s", err.msg);
    ParamSet ps = {0};
    int shape[2] = {4, 250};
    cr_assert_geq(paramset_add(&ps, "p", 2, shape, &err), 0);
    cr_assert_eq(paramset_alloc(&ps, &err), 0);
    cr_assert_eq(paramset_enable_training(&ps, &err), 0);
    cr_assert_eq(st_read_f32(f, "p0", ps.data, ps.numel, &err), 0, "%s", err.msg);
    AdamConfig cfg = ADAM_SEED_CONFIG;
    for (int s = 1; s <= 3; s++) {
        char name[16];
        snprintf(name, sizeof name, "g%d", s);
        cr_assert_eq(st_read_f32(f, name, ps.grad, ps.numel, &err), 0, "%s", err.msg);
        adam_step(&ps, &cfg, (float)atof(st_meta(f, "lr")));
    }
    float *want = read_tensor(f, "p3", ps.numel);
    double e = rel_error(ps.data, want, ps.numel);
    cr_expect_leq(e, 1e-6, "Adam after 3 steps: relative error %.3g", e);
    cr_expect_eq(ps.adam_steps, 3);
    free(want);
    paramset_free(&ps);
    st_close(f);
}

Test(golden, cyclegan_training_step_three_iterations)
{
    Err err;
    StFile *f = st_open("tests/fixtures/golden_cyclegan.safetensors", &err);
    cr_assert_not_null(f, "%s", err.msg);
    CycleGanConfig cfg = {.gen = {meta_int(f, "ngf"), meta_int(f, "n_blocks"), UPSAMPLE_CONVT},
                          .ndf = meta_int(f, "ndf"),
                          .size = meta_int(f, "size"),
                          .batch = 1,
                          CYCLEGAN_SEED_LOSS_WEIGHTS};
    Pool *pool = pool_create(2, &err);
    CycleGan *gan = cyclegan_create(&cfg, pool, &err);
    cr_assert_not_null(gan, "%s", err.msg);
    Net *nets[4] = {&gan->g_a2b, &gan->g_b2a, &gan->d_a, &gan->d_b};
    const char *prefixes[4] = {"G_A2B.", "G_B2A.", "D_A.", "D_B."};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(checkpoint_load_params(f, nets[i], prefixes[i], &err), 0, "%s", err.msg);
    const size_t n = 3 * (size_t)cfg.size * cfg.size;
    float *a = read_tensor(f, "real_A", n), *b = read_tensor(f, "real_B", n);
    const char *names[5] = {"loss_G", "loss_G_identity", "loss_G_GAN", "loss_G_cycle", "loss_D"};
    for (int step = 1; step <= meta_int(f, "steps"); step++) {
        CycleGanLosses l;
        cyclegan_step(gan, a, b, (float)atof(st_meta(f, "lr")), &l);
        float got[5] = {l.g, l.g_identity, l.g_gan, l.g_cycle, l.d}, want[5];
        char key[32];
        snprintf(key, sizeof key, "losses%d", step);
        cr_assert_eq(st_read_f32(f, key, want, 5, &err), 0, "%s", err.msg);
        for (int i = 0; i < 5; i++)
            cr_expect_leq(fabsf(got[i] - want[i]), REL_TOL * fabsf(want[i]),
                          "step %d %s: %.7g vs PyTorch %.7g", step, names[i], got[i], want[i]);
    }
    free(a);
    free(b);
    cyclegan_free(gan);
    pool_free(pool);
    st_close(f);
}
