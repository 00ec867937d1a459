// What conv_bf16.c (the front: which kernel, the weight's packing, the input's conversion) shares
// with its two multiply kernels, conv_bf16_amx.c (AMX tiles) and conv_bf16_avx512.c
// (AVX512_BF16 vectors). Internal to core/nn.
#ifndef AGESHIFT_CONV_BF16_INTERNAL_H
#define AGESHIFT_CONV_BF16_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/nn/conv.h"

typedef enum {
    BF16_NONE,   // fp32 only
    BF16_AMX,    // TDPBF16PS on tiles (Sapphire Rapids and later)
    BF16_AVX512, // VDPBF16PS on 512-bit vectors (Zen 4 and later, Cooper Lake and later)
} Bf16Kind;

// Output channels that share one mask of live taps (conv_bf16_live_taps): the vector kernel's
// register block.
#define BF16_BLOCK_CHANNELS 8

// The kernel this process uses (asked of the CPU and AGESHIFT_BF16 once).
Bf16Kind conv_bf16_kind(void);

// One image's convolution. The input is converted to bf16 pairs of channels with its zero
// padding, its columns split by phase (x mod stride) so that an output row's pixels at one
// kernel tap are consecutive: x[y][channel pair][phase][q] (a uint32 pair each) for input column
// q * stride + phase; phases are `cols` long, a (y, pair) row is `row` long. Each kernel's
// packing of the weight is described beside it.
typedef struct {
    const ConvShape *s;
    const float *in;
    uint32_t *x;
    const uint16_t *packed;
    const uint64_t *live; // per BF16_BLOCK_CHANNELS output channels, the taps not all zero
    float *out, *work;
    bool add;           // out += instead of out =
    size_t pairs;       // channel pairs, padded as the kernel needs
    size_t cols, row;   // see above
} Bf16Job;

// Where conv_bf16_pack left the live taps of s's packed weight: a uint64 per block.
const uint64_t *conv_bf16_live_taps(const ConvShape *s, const uint16_t *packed);

// Output rows oy0 .. oy1 - 1 of j, on AMX tiles (tile: one 16 x 16 fp32 scratch tile) or on
// vectors.
void bf16_amx_rows(const Bf16Job *j, int oy0, int oy1, float *tile);
void bf16_avx512_rows(const Bf16Job *j, int oy0, int oy1);

// Where the AVX512 kernel finds the bf16 pair (o, tap, channel pair cp) of a weight (OC, C,
// K, K) with `pairs` channel pairs: [o / 16][tap][cp][o % 16], uint32 each.
static inline size_t bf16_avx512_index(int o, int tap, size_t cp, int taps, size_t pairs)
{
    return (((size_t)(o / 16) * taps + tap) * pairs + cp) * 16 + (size_t)(o % 16);
}

#endif
