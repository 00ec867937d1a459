// The seed's ReplayBuffer (Shrivastava et al. 2017): the discriminators see a mix of the
// newest fakes and up to 50 older ones, which keeps the GAN from oscillating.
#ifndef AGESHIFT_REPLAY_BUFFER_H
#define AGESHIFT_REPLAY_BUFFER_H

#include <stddef.h>

#include "core/base/err.h"
#include "core/base/rng.h"

#define REPLAY_BUFFER_SIZE 50

typedef struct {
    int capacity, count;
    size_t image_floats; // one image, C*H*W
    float *images;       // capacity * image_floats
} ReplayBuffer;

int replay_buffer_init(ReplayBuffer *b, int capacity, size_t image_floats, Err *err);
void replay_buffer_free(ReplayBuffer *b);

// For each of the n images in `in`: while the buffer is filling, store it and pass it on;
// afterwards, with probability 1/2 pass on a random stored image and store the new one in its
// place, else pass the new one on. Writes n images to out (out != in).
void replay_buffer_push_and_pop(ReplayBuffer *b, const float *in, int n, float *out, Rng *rng);

#endif
