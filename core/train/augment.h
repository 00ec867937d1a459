// Training augmentation: the seed's (resize to 1.12 x size, random crop, random flip) and, on
// top of it, what real footage brings that 200 px UTKFace JPEGs do not: small rotations, zooms
// and shifts (what alignment leaves), lighting and white balance, soft focus and over-sharpened
// webcams, sensor noise, compression and black-and-white photos. Each is drawn per image from
// the sample's own seed, so a run resumed at an iteration sees exactly the same pictures.
#ifndef AGESHIFT_AUGMENT_H
#define AGESHIFT_AUGMENT_H

#include <stdint.h>

#include "core/base/err.h"
#include "media/image_io.h"

// Every amount is the largest one drawn (uniformly from -x..x, or 0..x for the one-sided ones);
// probabilities are per image. All 0 is the seed's augmentation exactly.
typedef struct {
    float rotate;      // degrees
    float scale;       // relative zoom, 0.1: 0.9x to 1.1x
    float shift;       // of the image size, beyond the seed's random crop
    float brightness;  // added to values in [0, 1]
    float contrast;    // factor 1 +- x around the image's mean grey
    float saturation;  // factor 1 +- x on the distance from grey
    float temperature; // red x (1 + t), blue x (1 - t): warm and cold white balance
    float grey;        // probability of a grey-scale image
    float blur;        // probability of a Gaussian blur, sigma 0.4 to 1.6 px at 128 px
    float sharpen;     // probability of an unsharp mask, amount 0.3 to 1.2
    float noise;       // the largest standard deviation of Gaussian sensor noise (0..x)
    float jpeg;        // probability of a JPEG round trip, quantiser 4 (light) to 24 (blocky)
} Augment;

// What `ageshift train` uses unless told otherwise (the amounts the filter's footage shows).
Augment augment_default(void);

// The fields by name, for the command line and the checkpoint's metadata ("augment.<name>").
typedef struct {
    const char *name;
    int offset; // of the float in Augment
    float max;  // the largest value that makes sense (1 for probabilities)
    const char *help;
} AugmentField;
extern const AugmentField augment_fields[];
extern const int augment_field_count;

// One training sample into chw (3, size, size), values in [-1, 1]: the seed's crop and flip
// chosen by rng_seed(seed), then aug (NULL: none of it).
int augment_image(const Image *src, int size, const Augment *aug, uint64_t seed, float *chw,
                  Err *err);

#endif
