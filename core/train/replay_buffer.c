#include "core/train/replay_buffer.h"

#include <stdlib.h>
#include <string.h>

int replay_buffer_init(ReplayBuffer *b, int capacity, size_t image_floats, Err *err)
{
    memset(b, 0, sizeof *b);
    b->images = malloc((size_t)capacity * image_floats * sizeof(float));
    if (!b->images)
        return err_set(err, "out of memory for a replay buffer of %d images", capacity);
    b->capacity = capacity;
    b->image_floats = image_floats;
    return 0;
}

void replay_buffer_free(ReplayBuffer *b)
{
    if (!b)
        return;
    free(b->images);
    memset(b, 0, sizeof *b);
}

void replay_buffer_push_and_pop(ReplayBuffer *b, const float *in, int n, float *out, Rng *rng)
{
    const size_t sz = b->image_floats * sizeof(float);
    for (int i = 0; i < n; i++) {
        const float *img = in + i * b->image_floats;
        float *dst = out + i * b->image_floats;
        if (b->count < b->capacity) {
            memcpy(b->images + b->count++ * b->image_floats, img, sz);
            memcpy(dst, img, sz);
        } else if (rng_uniform(rng) > 0.5f) {
            float *slot = b->images + rng_below(rng, (uint32_t)b->capacity) * b->image_floats;
            memcpy(dst, slot, sz);
            memcpy(slot, img, sz);
        } else {
            memcpy(dst, img, sz);
        }
    }
}
