// The One Euro filter over a shape. See one_euro.h.
#include "filter/one_euro.h"

#include <math.h>

#define TWO_PI 6.28318530718f

OneEuroParams one_euro_default(void)
{
    return (OneEuroParams){.min_cutoff = 1.0f, .beta = 4.0f, .d_cutoff = 1.0f};
}

void one_euro_init(OneEuro *f, const OneEuroParams *p, int n)
{
    f->p = *p;
    f->n = n < ONE_EURO_MAX ? n : ONE_EURO_MAX;
    f->started = false;
}

// The exponential smoothing factor of a first-order low-pass at `cutoff` Hz over dt seconds.
static float alpha(float cutoff, float dt)
{
    float tau = 1.0f / (TWO_PI * cutoff);
    return 1.0f / (1.0f + tau / dt);
}

void one_euro_step(OneEuro *f, float *x, float dt, float size)
{
    if (!f->started) {
        for (int i = 0; i < f->n; i++)
            f->x[i] = x[i], f->dx[i] = 0.0f;
        f->started = true;
        return;
    }
    float ad = alpha(f->p.d_cutoff, dt);
    double speed2 = 0.0;
    for (int i = 0; i < f->n; i++) {
        float raw = (x[i] - f->x[i]) / dt;
        f->dx[i] += ad * (raw - f->dx[i]);
        speed2 += (double)f->dx[i] * f->dx[i];
    }
    // RMS over points (pairs of coordinates), in face sizes per second.
    float speed = (float)sqrt(2.0 * speed2 / (f->n > 0 ? f->n : 1)) / size;
    float a = alpha(f->p.min_cutoff + f->p.beta * speed, dt);
    for (int i = 0; i < f->n; i++) {
        f->x[i] += a * (x[i] - f->x[i]);
        x[i] = f->x[i];
    }
}
