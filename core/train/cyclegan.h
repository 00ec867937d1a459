// One CycleGAN training step exactly as the seed's (aitorzip/PyTorch-CycleGAN train):
// generators first (identity x5, LSGAN, cycle x10, one Adam over both), then each
// discriminator on a real image and a fake from its replay buffer, loss halved.
// Domain A is young, B is old: G_A2B ages, G_B2A rejuvenates.
#ifndef AGESHIFT_CYCLEGAN_H
#define AGESHIFT_CYCLEGAN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/base/rng.h"
#include "core/nn/adam.h"
#include "core/nn/networks.h"
#include "core/train/replay_buffer.h"

typedef struct {
    GeneratorConfig gen;
    int ndf;
    int size; // square images, a multiple of 4
    int batch;
    float lambda_identity, lambda_cycle; // the seed: 5 and 10
    uint64_t seed;                       // weight initialisation and replay choices
    bool bf16; // convolutions in bf16 on AMX (net.h's trace_train_bf16); ignored without it
} CycleGanConfig;

#define CYCLEGAN_SEED_LAMBDA_IDENTITY 5.0f
#define CYCLEGAN_SEED_LAMBDA_CYCLE 10.0f
#define CYCLEGAN_SEED_LOSS_WEIGHTS                                                                 \
    .lambda_identity = CYCLEGAN_SEED_LAMBDA_IDENTITY, .lambda_cycle = CYCLEGAN_SEED_LAMBDA_CYCLE

typedef struct {
    float g, g_identity, g_gan, g_cycle, d; // the seed's five curves
} CycleGanLosses;

typedef struct {
    CycleGanConfig cfg;
    Net g_a2b, g_b2a, d_a, d_b;
    AdamConfig adam;
    ReplayBuffer fake_a_buffer, fake_b_buffer;
    Rng rng;
    long iteration;
    Pool *pool; // borrowed
    // Working memory, allocated once.
    Trace *gen_trace, *gen_trace2, *disc_trace;
    float *fake_a, *fake_b, *replayed, *d_image, *d_image2, *d_score;
    char *winograd_plan; // cyclegan_pick_winograd's, for the checkpoint; NULL: the fixed rule
} CycleGan;

// Builds the four networks with the seed's initialisation and all working memory. Every op
// splits its work over pool (borrowed; NULL: the caller's thread only).
CycleGan *cyclegan_create(const CycleGanConfig *cfg, Pool *pool, Err *err);
void cyclegan_free(CycleGan *gan);

// The generators' 3x3 stride-1 convolutions take Winograd or im2col per pass as plan says (a
// checkpoint's: net.h's trace_winograd_plan), or, plan NULL, as measured now once per shape
// (winograd_pick.h); gan->winograd_plan then holds the plan. Until it is called they follow
// winograd.h's fixed rule. 0, or -1 with err set (a plan that does not fit, out of memory).
int cyclegan_pick_winograd(CycleGan *gan, const char *plan, Err *err);

// One iteration on a batch of real_a and real_b images, (batch, 3, size, size) in [-1, 1].
void cyclegan_step(CycleGan *gan, const float *real_a, const float *real_b, float lr,
                   CycleGanLosses *losses);

#endif
