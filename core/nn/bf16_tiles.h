// What conv_bf16.c and conv_bf16_weight.c share: bf16 rounding and the AMX tile setup (eight
// tiles of 16 rows by 64 bytes). Internal to core/nn.
#ifndef AGESHIFT_BF16_TILES_H
#define AGESHIFT_BF16_TILES_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TILE 16 // rows of a tile; fp32 columns of an accumulator; bf16 pairs in a row

static inline size_t round_up(size_t x, size_t m)
{
    return (x + m - 1) / m * m;
}

// bf16 of x, rounded to nearest even (as PyTorch's and the hardware's conversions).
static inline uint16_t to_bf16(float x)
{
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

// A (lo) and b (hi) as one bf16 pair, the layout TDPBF16PS reads.
static inline uint32_t bf16_pair(float a, float b)
{
    return to_bf16(a) | (uint32_t)to_bf16(b) << 16;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

typedef struct {
    uint8_t palette, start_row, reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} TileConfig;

// All eight tiles as 16 rows of 64 bytes, on this thread.
__attribute__((target("amx-tile"))) static inline void tiles_configure(void)
{
    TileConfig cfg = {.palette = 1};
    for (int i = 0; i < 8; i++)
        cfg.colsb[i] = 64, cfg.rows[i] = TILE;
    _tile_loadconfig(&cfg);
}
#endif

#endif
