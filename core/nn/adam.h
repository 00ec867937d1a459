// Adam as torch.optim.Adam (no weight decay, no amsgrad), with the learning rate given each
// step so the caller owns the schedule.
#ifndef AGESHIFT_ADAM_H
#define AGESHIFT_ADAM_H

#include "core/nn/params.h"

typedef struct {
    float beta1, beta2, eps;
} AdamConfig;

#define ADAM_SEED_CONFIG ((AdamConfig){.beta1 = 0.5f, .beta2 = 0.999f, .eps = 1e-8f})

// One step over every parameter of ps using ps->grad; increments ps->adam_steps.
void adam_step(ParamSet *ps, const AdamConfig *cfg, float lr);

#endif
