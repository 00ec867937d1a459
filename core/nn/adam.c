#include "core/nn/adam.h"

#include <math.h>

void adam_step(ParamSet *ps, const AdamConfig *cfg, float lr)
{
    long t = ++ps->adam_steps;
    const float b1 = cfg->beta1, b2 = cfg->beta2;
    // torch: p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    const float step_size = lr / (float)(1.0 - pow(b1, (double)t));
    const float bias2_sqrt = (float)sqrt(1.0 - pow(b2, (double)t));
    float *p = ps->data, *g = ps->grad, *m = ps->m, *v = ps->v;
    for (size_t i = 0; i < ps->numel; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        p[i] -= step_size * m[i] / (sqrtf(v[i]) / bias2_sqrt + cfg->eps);
    }
}
