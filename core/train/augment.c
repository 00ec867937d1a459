// One training sample augmented: the seed's transforms (resize, random crop, random flip) and
// the footage-like ones of augment.h. Pixels are floats in 0..255 until the end, so that with
// nothing but the seed's transforms the sample is exactly the seed's.
#include "core/train/augment.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "core/base/rng.h"

Augment augment_default(void)
{
    return (Augment){.rotate = 8.0f,
                     .scale = 0.08f,
                     .shift = 0.03f,
                     .brightness = 0.1f,
                     .contrast = 0.25f,
                     .saturation = 0.3f,
                     .temperature = 0.08f,
                     .grey = 0.05f,
                     .blur = 0.2f,
                     .sharpen = 0.15f,
                     .noise = 0.03f,
                     .jpeg = 0.3f};
}

#define FIELD(f) (int)offsetof(Augment, f)
const AugmentField augment_fields[] = {
    {"rotate", FIELD(rotate), 45, "largest rotation, degrees"},
    {"scale", FIELD(scale), 0.5f, "largest zoom in or out (0.1: 0.9x to 1.1x)"},
    {"shift", FIELD(shift), 0.25f, "largest shift beyond the random crop, of the size"},
    {"brightness", FIELD(brightness), 0.5f, "largest brightness change (of full scale)"},
    {"contrast", FIELD(contrast), 0.9f, "largest contrast change (relative)"},
    {"saturation", FIELD(saturation), 1, "largest saturation change (relative)"},
    {"temperature", FIELD(temperature), 0.5f, "largest white-balance shift, red against blue"},
    {"grey", FIELD(grey), 1, "probability of a grey-scale image"},
    {"blur", FIELD(blur), 1, "probability of a blur (sigma 0.4-1.6 px at 128 px)"},
    {"sharpen", FIELD(sharpen), 1, "probability of over-sharpening"},
    {"noise", FIELD(noise), 0.3f, "largest sensor-noise deviation (of full scale)"},
    {"jpeg", FIELD(jpeg), 1, "probability of JPEG compression (light to blocky)"},
};
const int augment_field_count = (int)(sizeof augment_fields / sizeof augment_fields[0]);

static float clamp255(float v)
{
    return v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v);
}

static int reflect(int i, int n)
{
    if (n == 1)
        return 0;
    const int period = 2 * (n - 1);
    i %= period;
    if (i < 0)
        i += period;
    return i < n ? i : period - i;
}

// px (size, size, 3) = the square of rs centred at (cx, cy), turned by angle and zoomed by
// zoom, sampled bilinearly; the picture is mirrored where the square leaves it.
static void warp(const Image *rs, float cx, float cy, float angle, float zoom, int size, float *px)
{
    const float c = cosf(angle) / zoom, s = sinf(angle) / zoom, half = 0.5f * (float)size;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++) {
            float u = (float)x + 0.5f - half, v = (float)y + 0.5f - half;
            float sx = cx + c * u - s * v - 0.5f, sy = cy + s * u + c * v - 0.5f;
            int x0 = (int)floorf(sx), y0 = (int)floorf(sy);
            float fx = sx - (float)x0, fy = sy - (float)y0;
            const uint8_t *p00 =
                rs->rgb + 3 * ((size_t)reflect(y0, rs->h) * rs->w + reflect(x0, rs->w));
            const uint8_t *p01 =
                rs->rgb + 3 * ((size_t)reflect(y0, rs->h) * rs->w + reflect(x0 + 1, rs->w));
            const uint8_t *p10 =
                rs->rgb + 3 * ((size_t)reflect(y0 + 1, rs->h) * rs->w + reflect(x0, rs->w));
            const uint8_t *p11 =
                rs->rgb + 3 * ((size_t)reflect(y0 + 1, rs->h) * rs->w + reflect(x0 + 1, rs->w));
            float *o = px + 3 * ((size_t)y * size + x);
            for (int k = 0; k < 3; k++)
                o[k] = (1 - fy) * ((1 - fx) * p00[k] + fx * p01[k]) +
                       fy * ((1 - fx) * p10[k] + fx * p11[k]);
        }
}

// px (n pixels, 3) blurred in place with a Gaussian of sigma (pixels), edges mirrored.
static int gaussian_blur(float *px, int size, float sigma, Err *err)
{
    int radius = (int)ceilf(3.0f * sigma);
    if (radius > size - 1)
        radius = size - 1;
    float taps[64];
    if (radius >= 32)
        radius = 31;
    float sum = 0.0f;
    for (int i = -radius; i <= radius; i++)
        sum += taps[i + radius] = expf(-0.5f * (float)(i * i) / (sigma * sigma));
    for (int i = 0; i <= 2 * radius; i++)
        taps[i] /= sum;
    float *tmp = malloc(sizeof(float) * 3 * (size_t)size * size);
    if (!tmp)
        return err_set(err, "augment: out of memory");
    for (int pass = 0; pass < 2; pass++) { // rows into tmp, then columns back into px
        const float *in = pass ? tmp : px;
        float *out = pass ? px : tmp;
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++)
                for (int k = 0; k < 3; k++) {
                    float acc = 0.0f;
                    for (int i = -radius; i <= radius; i++) {
                        int xx = pass ? x : reflect(x + i, size),
                            yy = pass ? reflect(y + i, size) : y;
                        acc += taps[i + radius] * in[3 * ((size_t)yy * size + xx) + k];
                    }
                    out[3 * ((size_t)y * size + x) + k] = acc;
                }
    }
    free(tmp);
    return 0;
}

static float luma(const float *p)
{
    return 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2];
}

// Lighting, white balance, saturation and grey, in that order (a camera's order, roughly).
static void colour(float *px, size_t n, const Augment *a, Rng *r)
{
    float bright = 255.0f * rng_range(r, -a->brightness, a->brightness);
    float contrast = 1.0f + rng_range(r, -a->contrast, a->contrast);
    float sat = 1.0f + rng_range(r, -a->saturation, a->saturation);
    float temp = rng_range(r, -a->temperature, a->temperature);
    bool grey = rng_uniform(r) < a->grey;
    double mean = 0.0;
    for (size_t i = 0; i < n; i++)
        mean += luma(px + 3 * i);
    const float m = (float)(mean / (double)n);
    for (size_t i = 0; i < n; i++) {
        float *p = px + 3 * i;
        p[0] *= 1.0f + temp;
        p[2] *= 1.0f - temp;
        float l = luma(p);
        for (int k = 0; k < 3; k++) {
            float v = grey ? l : l + (p[k] - l) * sat;
            p[k] = clamp255(m + (v - m) * contrast + bright);
        }
    }
}

// Focus, noise and compression: what the lens, the sensor and the encoder add.
static int degrade(float *px, int size, const Augment *a, Rng *r, Err *err)
{
    const size_t n = (size_t)size * size;
    const float px_scale = (float)size / 128.0f; // the sigmas are for a 128 px face
    float u = rng_uniform(r);
    if (u < a->blur) {
        if (gaussian_blur(px, size, rng_range(r, 0.4f, 1.6f) * px_scale, err))
            return -1;
    } else if (u < a->blur + a->sharpen) {
        float amount = rng_range(r, 0.3f, 1.2f);
        float *soft = malloc(sizeof(float) * 3 * n);
        if (!soft)
            return err_set(err, "augment: out of memory");
        for (size_t i = 0; i < 3 * n; i++)
            soft[i] = px[i];
        if (gaussian_blur(soft, size, 1.0f * px_scale, err)) {
            free(soft);
            return -1;
        }
        for (size_t i = 0; i < 3 * n; i++)
            px[i] = clamp255(px[i] + amount * (px[i] - soft[i]));
        free(soft);
    }
    float sigma = 255.0f * rng_range(r, 0.0f, a->noise);
    if (sigma > 0.0f)
        for (size_t i = 0; i < 3 * n; i++)
            px[i] = clamp255(px[i] + sigma * rng_normal(r));
    if (rng_uniform(r) < a->jpeg) {
        int qscale = 4 + (int)rng_below(r, 21);
        Image img;
        if (image_alloc(&img, size, size, err))
            return -1;
        for (size_t i = 0; i < 3 * n; i++)
            img.rgb[i] = (uint8_t)(px[i] + 0.5f);
        int rc = image_jpeg_round_trip(&img, qscale, err);
        if (rc == 0)
            for (size_t i = 0; i < 3 * n; i++)
                px[i] = img.rgb[i];
        image_free(&img);
        return rc;
    }
    return 0;
}

static bool moves(const Augment *a)
{
    return a && (a->rotate > 0.0f || a->scale > 0.0f || a->shift > 0.0f);
}

int augment_image(const Image *src, int size, const Augment *aug, uint64_t seed, float *chw,
                  Err *err)
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
    const size_t plane = (size_t)size * (size_t)size;
    float *px = malloc(sizeof(float) * 3 * plane);
    if (!px) {
        image_free(&rs);
        return err_set(err, "augment: out of memory");
    }
    if (moves(aug)) {
        float angle = rng_range(&r, -aug->rotate, aug->rotate) * (float)M_PI / 180.0f;
        float zoom = 1.0f + rng_range(&r, -aug->scale, aug->scale);
        float cx = (float)left + 0.5f * (float)size + size * rng_range(&r, -aug->shift, aug->shift);
        float cy = (float)top + 0.5f * (float)size + size * rng_range(&r, -aug->shift, aug->shift);
        warp(&rs, cx, cy, angle, zoom, size, px);
    } else {
        for (int y = 0; y < size; y++)
            for (int x = 0; x < 3 * size; x++)
                px[3 * (size_t)y * size + x] = rs.rgb[((size_t)(top + y) * w + left) * 3 + x];
    }
    image_free(&rs);
    int rc = 0;
    if (aug) {
        if (aug->brightness > 0.0f || aug->contrast > 0.0f || aug->saturation > 0.0f ||
            aug->temperature > 0.0f || aug->grey > 0.0f)
            colour(px, plane, aug, &r);
        rc = degrade(px, size, aug, &r, err);
    }
    if (rc == 0)
        for (int y = 0; y < size; y++)
            for (int x = 0; x < size; x++) {
                const float *p = px + 3 * ((size_t)y * size + (flip ? size - 1 - x : x));
                for (int c = 0; c < 3; c++)
                    chw[c * plane + (size_t)y * size + x] = p[c] / 127.5f - 1.0f;
            }
    free(px);
    return rc;
}
