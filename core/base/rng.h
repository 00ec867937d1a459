// A small deterministic random number generator (xoshiro256**, seeded by splitmix64), so
// initialisation, data order and augmentation are reproducible from one seed on any machine.
#ifndef AGESHIFT_RNG_H
#define AGESHIFT_RNG_H

#include <stdint.h>

typedef struct {
    uint64_t s[4];
} Rng;

void rng_seed(Rng *r, uint64_t seed);
uint64_t rng_u64(Rng *r);
float rng_uniform(Rng *r);                   // [0, 1)
float rng_range(Rng *r, float lo, float hi); // [lo, hi)
float rng_normal(Rng *r);                    // standard normal (Box-Muller)
uint32_t rng_below(Rng *r, uint32_t n);      // [0, n), unbiased

#endif
