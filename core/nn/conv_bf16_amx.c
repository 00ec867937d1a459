// The bf16 convolution's multiply on AMX tiles (conv_bf16_internal.h has the input's layout).
// One accumulator tile is 16 output channels by 16 consecutive output pixels (fp32); for each tap
// and each 32 input channels it adds the weight's 16 x 32 tile times the 32 x 16 tile of those
// pixels, one row per channel pair at a fixed stride. The result lands in the planar output as
// it is. The weight: per (output tile, tap, channel step) one 1 KB tile, whose row r holds the 32
// channels ks * 32 .. of output channel mt * 16 + r at that tap (conv_bf16.c packs it).
#include <string.h>

#include "core/nn/bf16_tiles.h"
#include "core/nn/conv_bf16_internal.h"

#define CH 32 // bf16 channels in a weight tile's row (64 bytes)

#if defined(__x86_64__) && defined(__GNUC__)

// Accumulator tile (16 output channels from o0, 16 pixels of row oy from ox0) into out, through
// the scratch tile when fewer than 16 pixels are left in the row.
#define STORE(q, o0, ox0)                                                                      \
    do {                                                                                       \
        float *dst_ = j->out + (size_t)(o0) * plane + (size_t)oy * s->ow + (ox0);               \
        int left_ = s->ow - (ox0);                                                              \
        if (left_ >= TILE) {                                                                    \
            _tile_stored(q, dst_, plane * 4);                                                   \
        } else {                                                                                \
            _tile_stored(q, tile, TILE * 4);                                                    \
            for (int r_ = 0; r_ < TILE; r_++)                                                   \
                memcpy(dst_ + r_ * plane, tile + r_ * TILE, (size_t)left_ * sizeof(float));     \
        }                                                                                       \
    } while (0)

// The same tile's starting value: 0, or what out holds there (the data gradient adds to it).
#define START(q, o0, ox0)                                                                      \
    do {                                                                                       \
        if (!j->add) {                                                                         \
            _tile_zero(q);                                                                     \
            break;                                                                             \
        }                                                                                      \
        float *src_ = j->out + (size_t)(o0) * plane + (size_t)oy * s->ow + (ox0);               \
        int left_ = s->ow - (ox0);                                                              \
        if (left_ >= TILE) {                                                                    \
            _tile_loadd(q, src_, plane * 4);                                                    \
        } else {                                                                                \
            memset(tile, 0, TILE * TILE * sizeof(float));                                       \
            for (int r_ = 0; r_ < TILE; r_++)                                                   \
                memcpy(tile + r_ * TILE, src_ + r_ * plane, (size_t)left_ * sizeof(float));     \
            _tile_loadd(q, tile, TILE * 4);                                                     \
        }                                                                                       \
    } while (0)

// Tiles 0-3: accumulators (output block a, pixel block b) = 2a + b; 4, 5: two weight tiles
// (16 outputs by 32 channels); 6, 7: two pixel tiles (16 channel pairs by 16 pixels).
__attribute__((target("amx-tile,amx-bf16"))) void bf16_amx_rows(const Bf16Job *j, int oy0,
                                                                int oy1, float *tile)
{
    const ConvShape *s = j->s;
    tiles_configure();
    const int k = s->k, taps = k * k, st = s->stride;
    const size_t steps = j->pairs * 2 / CH, a_tile = TILE * CH, row = j->row;
    const size_t cols = j->cols, pairs = j->pairs;
    const size_t plane = (size_t)s->oh * s->ow, b_stride = row * 4;
    for (int oy = oy0; oy < oy1; oy++)
        for (int o0 = 0; o0 < s->oc; o0 += 2 * TILE) {
            const bool two_oc = o0 + TILE < s->oc;
            const uint16_t *a0 = j->packed + (size_t)(o0 / TILE) * taps * steps * a_tile;
            const uint16_t *a1 = a0 + (size_t)taps * steps * a_tile;
            for (int ox0 = 0; ox0 < s->ow; ox0 += 2 * TILE) {
                const bool two_px = ox0 + TILE < s->ow;
                START(0, o0, ox0);
                if (two_px)
                    START(1, o0, ox0 + TILE);
                if (two_oc) {
                    START(2, o0 + TILE, ox0);
                    if (two_px)
                        START(3, o0 + TILE, ox0 + TILE);
                }
                for (int tap = 0; tap < taps; tap++) {
                    const int ky = tap / k, kx = tap % k;
                    const uint32_t *b0 = j->x + (size_t)(oy * st + ky) * pairs * row +
                                         (size_t)(kx % st) * cols + (size_t)ox0 + kx / st;
                    for (size_t ks = 0; ks < steps; ks++) {
                        const size_t at = ((size_t)tap * steps + ks) * a_tile;
                        const uint32_t *b = b0 + ks * TILE * row;
                        _tile_loadd(4, a0 + at, 64);
                        _tile_loadd(6, b, b_stride);
                        _tile_dpbf16ps(0, 4, 6);
                        if (two_px) {
                            _tile_loadd(7, b + TILE, b_stride);
                            _tile_dpbf16ps(1, 4, 7);
                        }
                        if (two_oc) {
                            _tile_loadd(5, a1 + at, 64);
                            _tile_dpbf16ps(2, 5, 6);
                            if (two_px)
                                _tile_dpbf16ps(3, 5, 7);
                        }
                    }
                }
                STORE(0, o0, ox0);
                if (two_px)
                    STORE(1, o0, ox0 + TILE);
                if (two_oc) {
                    STORE(2, o0 + TILE, ox0);
                    if (two_px)
                        STORE(3, o0 + TILE, ox0 + TILE);
                }
            }
        }
    _tile_release();
}
#else
void bf16_amx_rows(const Bf16Job *j, int oy0, int oy1, float *tile)
{
    (void)j, (void)oy0, (void)oy1, (void)tile;
}
#endif
