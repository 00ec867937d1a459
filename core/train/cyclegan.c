#include "core/train/cyclegan.h"

#include <stdlib.h>
#include <string.h>

#include "core/nn/ops.h"

CycleGan *cyclegan_create(const CycleGanConfig *cfg, Pool *pool, Err *err)
{
    CycleGan *gan = calloc(1, sizeof *gan);
    if (!gan) {
        err_set(err, "out of memory");
        return NULL;
    }
    gan->cfg = *cfg;
    gan->adam = ADAM_SEED_CONFIG;
    rng_seed(&gan->rng, cfg->seed ^ 0x5eed);
    const int n = cfg->batch, s = cfg->size;
    const size_t image = 3 * (size_t)s * s, batch_floats = image * n;
    if (s < 16 || s % 4 || n < 1) {
        err_set(err, "image size %d is not a multiple of 4 of at least 16 (or batch %d < 1)", s, n);
        goto fail;
    }
    if (generator_build(&gan->g_a2b, cfg->gen, err) ||
        generator_build(&gan->g_b2a, cfg->gen, err) ||
        discriminator_build(&gan->d_a, cfg->ndf, err) ||
        discriminator_build(&gan->d_b, cfg->ndf, err))
        goto fail;
    Net *nets[4] = {&gan->g_a2b, &gan->g_b2a, &gan->d_a, &gan->d_b};
    for (int i = 0; i < 4; i++) {
        net_init_weights(nets[i], cfg->seed + (uint64_t)i);
        if (paramset_enable_training(&nets[i]->params, err))
            goto fail;
    }
    gan->pool = pool;
    gan->gen_trace = trace_create(&gan->g_a2b, n, s, s, true, gan->pool, err);
    gan->gen_trace2 =
        gan->gen_trace ? trace_create(&gan->g_a2b, n, s, s, true, gan->pool, err) : NULL;
    gan->disc_trace =
        gan->gen_trace2 ? trace_create(&gan->d_a, n, s, s, true, gan->pool, err) : NULL;
    if (!gan->disc_trace)
        goto fail;
    if (cfg->bf16 && (trace_train_bf16(gan->gen_trace, &gan->g_a2b, err) < 0 ||
                      trace_train_bf16(gan->gen_trace2, &gan->g_a2b, err) < 0 ||
                      trace_train_bf16(gan->disc_trace, &gan->d_a, err) < 0))
        goto fail;
    if (replay_buffer_init(&gan->fake_a_buffer, REPLAY_BUFFER_SIZE, image, err) ||
        replay_buffer_init(&gan->fake_b_buffer, REPLAY_BUFFER_SIZE, image, err))
        goto fail;
    gan->fake_a = malloc(batch_floats * sizeof(float));
    gan->fake_b = malloc(batch_floats * sizeof(float));
    gan->replayed = malloc(batch_floats * sizeof(float));
    gan->d_image = malloc(batch_floats * sizeof(float));
    gan->d_image2 = malloc(batch_floats * sizeof(float));
    gan->d_score = malloc((size_t)n * sizeof(float));
    if (!gan->fake_a || !gan->fake_b || !gan->replayed || !gan->d_image || !gan->d_image2 ||
        !gan->d_score) {
        err_set(err, "out of memory for the training step");
        goto fail;
    }
    return gan;
fail:
    cyclegan_free(gan);
    return NULL;
}

void cyclegan_free(CycleGan *gan)
{
    if (!gan)
        return;
    net_free(&gan->g_a2b);
    net_free(&gan->g_b2a);
    net_free(&gan->d_a);
    net_free(&gan->d_b);
    trace_free(gan->gen_trace);
    trace_free(gan->gen_trace2);
    trace_free(gan->disc_trace);
    replay_buffer_free(&gan->fake_a_buffer);
    replay_buffer_free(&gan->fake_b_buffer);
    free(gan->fake_a);
    free(gan->fake_b);
    free(gan->replayed);
    free(gan->d_image);
    free(gan->d_image2);
    free(gan->d_score);
    free(gan->winograd_plan);
    free(gan);
}

int cyclegan_pick_winograd(CycleGan *gan, const char *plan, Err *err)
{
    // The discriminators' 4x4 convolutions are not Winograd's: only the generators' trace.
    if (plan ? trace_set_winograd_plan(gan->gen_trace, &gan->g_a2b, plan, err)
             : trace_measure_winograd(gan->gen_trace, &gan->g_a2b, err))
        return -1;
    char *picked = trace_winograd_plan(gan->gen_trace, &gan->g_a2b);
    if (!picked)
        return err_set(err, "out of memory");
    if (trace_set_winograd_plan(gan->gen_trace2, &gan->g_a2b, picked, err)) {
        free(picked);
        return -1;
    }
    free(gan->winograd_plan);
    gan->winograd_plan = picked;
    return 0;
}

// loss = weight * L1(g(real), real), backpropagated into g's parameters.
static float identity_pass(CycleGan *gan, Net *g, const float *real, float weight)
{
    const size_t len = (size_t)gan->cfg.batch * 3 * gan->cfg.size * gan->cfg.size;
    const float *same = net_forward(g, gan->gen_trace, real);
    float loss = weight * l1_loss(same, real, len);
    memset(gan->d_image, 0, len * sizeof(float));
    l1_loss_backward(same, real, gan->d_image, len, weight);
    net_backward(g, gan->gen_trace, gan->d_image, NULL, true);
    return loss;
}

// fake = g(real); the generator is scored by d (LSGAN, target 1) and must be undone by
// back(fake) ~ real (L1 x lambda_cycle). Gradients reach g's and back's parameters; d's
// parameter gradients are not needed (the seed zeroes them before the discriminator step).
static void translate_pass(CycleGan *gan, Net *g, Net *back, Net *d, const float *real,
                           float *fake_out, float *gan_loss, float *cycle_loss)
{
    const int n = gan->cfg.batch;
    const size_t len = (size_t)n * 3 * gan->cfg.size * gan->cfg.size;
    const float *fake = net_forward(g, gan->gen_trace, real);
    memcpy(fake_out, fake, len * sizeof(float));
    float *d_fake = gan->d_image;
    memset(d_fake, 0, len * sizeof(float));

    const float *score = net_forward(d, gan->disc_trace, fake_out);
    *gan_loss = mse_const_loss(score, 1.0f, n);
    memset(gan->d_score, 0, n * sizeof(float));
    mse_const_loss_backward(score, 1.0f, gan->d_score, n, 1.0f);
    net_backward(d, gan->disc_trace, gan->d_score, d_fake, false);

    const float *recovered = net_forward(back, gan->gen_trace2, fake_out);
    *cycle_loss = gan->cfg.lambda_cycle * l1_loss(recovered, real, len);
    memset(gan->d_image2, 0, len * sizeof(float));
    l1_loss_backward(recovered, real, gan->d_image2, len, gan->cfg.lambda_cycle);
    net_backward(back, gan->gen_trace2, gan->d_image2, d_fake, true);

    net_backward(g, gan->gen_trace, d_fake, NULL, true);
}

// 0.5 * (MSE(d(real), 1) + MSE(d(replayed fake), 0)), then one Adam step on d.
static float discriminator_pass(CycleGan *gan, Net *d, const float *real, const float *fake,
                                ReplayBuffer *buffer, float lr)
{
    const int n = gan->cfg.batch;
    paramset_zero_grad(&d->params);
    const float *score = net_forward(d, gan->disc_trace, real);
    float loss = 0.5f * mse_const_loss(score, 1.0f, n);
    memset(gan->d_score, 0, n * sizeof(float));
    mse_const_loss_backward(score, 1.0f, gan->d_score, n, 0.5f);
    net_backward(d, gan->disc_trace, gan->d_score, NULL, true);

    replay_buffer_push_and_pop(buffer, fake, n, gan->replayed, &gan->rng);
    score = net_forward(d, gan->disc_trace, gan->replayed);
    loss += 0.5f * mse_const_loss(score, 0.0f, n);
    memset(gan->d_score, 0, n * sizeof(float));
    mse_const_loss_backward(score, 0.0f, gan->d_score, n, 0.5f);
    net_backward(d, gan->disc_trace, gan->d_score, NULL, true);
    adam_step(&d->params, &gan->adam, lr);
    return loss;
}

void cyclegan_step(CycleGan *gan, const float *real_a, const float *real_b, float lr,
                   CycleGanLosses *losses)
{
    paramset_zero_grad(&gan->g_a2b.params);
    paramset_zero_grad(&gan->g_b2a.params);
    float id_b = identity_pass(gan, &gan->g_a2b, real_b, gan->cfg.lambda_identity);
    float id_a = identity_pass(gan, &gan->g_b2a, real_a, gan->cfg.lambda_identity);
    float gan_a2b, gan_b2a, cycle_aba, cycle_bab;
    translate_pass(gan, &gan->g_a2b, &gan->g_b2a, &gan->d_b, real_a, gan->fake_b, &gan_a2b,
                   &cycle_aba);
    translate_pass(gan, &gan->g_b2a, &gan->g_a2b, &gan->d_a, real_b, gan->fake_a, &gan_b2a,
                   &cycle_bab);
    // The seed's single Adam over both generators is the same as one per generator: Adam
    // works element by element and both take every step.
    adam_step(&gan->g_a2b.params, &gan->adam, lr);
    adam_step(&gan->g_b2a.params, &gan->adam, lr);

    float d_a = discriminator_pass(gan, &gan->d_a, real_a, gan->fake_a, &gan->fake_a_buffer, lr);
    float d_b = discriminator_pass(gan, &gan->d_b, real_b, gan->fake_b, &gan->fake_b_buffer, lr);
    gan->iteration++;
    losses->g_identity = id_a + id_b;
    losses->g_gan = gan_a2b + gan_b2a;
    losses->g_cycle = cycle_aba + cycle_bab;
    losses->g = losses->g_identity + losses->g_gan + losses->g_cycle;
    losses->d = d_a + d_b;
}
