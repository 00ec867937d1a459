// One training sample augmented as the seed's transforms: resize, random crop, random flip.
#include <stdbool.h>
#include <stddef.h>

#include "core/base/rng.h"
#include "core/train/dataset.h"

int augment_image(const Image *src, int size, uint64_t seed, float *chw, Err *err)
{
    // chw: (3, size, size)
    if (size <= 0 || size > 8192)
        return err_set(err, "augment: image size %d is not valid", size);
    if (!src || !src->rgb || src->w <= 0 || src->h <= 0)
        return err_set(err, "augment: the source image is empty");
    // transforms.Resize(int(size * 1.12)): the shorter side becomes that, the aspect is kept.
    int target = (int)(size * 1.12);
    int w, h;
    if (src->w <= src->h) {
        w = target;
        h = (int)((double)target * src->h / src->w);
    } else {
        h = target;
        w = (int)((double)target * src->w / src->h);
    }
    Image rs;
    if (image_resize(src, w, h, &rs, err) != 0)
        return -1;
    // RandomCrop(size), then RandomHorizontalFlip() (p = 0.5), in that order as the seed.
    Rng r;
    rng_seed(&r, seed);
    int top = (int)rng_below(&r, (uint32_t)(h - size + 1));
    int left = (int)rng_below(&r, (uint32_t)(w - size + 1));
    bool flip = rng_uniform(&r) < 0.5f;
    size_t plane = (size_t)size * (size_t)size;
    for (int y = 0; y < size; y++) {
        const uint8_t *row = rs.rgb + ((size_t)(top + y) * (size_t)w + (size_t)left) * 3;
        for (int x = 0; x < size; x++) {
            const uint8_t *px = row + 3 * (size_t)(flip ? size - 1 - x : x);
            for (int c = 0; c < 3; c++)
                chw[c * plane + (size_t)y * size + x] = px[c] / 127.5f - 1.0f;
        }
    }
    image_free(&rs);
    return 0;
}
