// The bf16 convolution's multiply on AVX512_BF16 vectors, for CPUs without AMX (AMD Zen 4 and
// later, Intel Cooper Lake). VDPBF16PS adds, in each of 16 fp32 lanes, the products of two bf16
// pairs: here a lane is an output pixel, the pair is two input channels at one tap (a 64-byte
// load of 16 consecutive pixels from the converted input, conv_bf16_internal.h), and the other
// operand is the weight's pair for one output channel, broadcast to every lane. A register block
// is 8 output channels by 3 vectors of 16 pixels (24 accumulators); the vectors may come from
// different rows, so narrow layers fill the block too. The weight is packed as
// bf16_avx512_index says, so a block's 8 broadcasts at one (tap, pair) are 32 adjacent bytes.
#include "core/nn/conv_bf16_internal.h"

#define OB BF16_BLOCK_CHANNELS // output channels in a register block
#define PB 3  // 16-pixel vectors in a register block
#define LANES 16

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

#define TARGET __attribute__((target("avx512f,avx512bw,avx512bf16")))

typedef struct {
    const uint32_t *in; // the converted input at this vector's first pixel, tap (0, 0), pair 0
    float *out;         // output channel 0's plane at that pixel
    __mmask16 mask;     // the pixels inside the row
} Slot;

// ns (1..PB, a constant once inlined) vectors of pixels by OB output channels; w: the packed
// weight at (the block's first output channel, tap 0, pair 0); live: the block's taps to do.
TARGET static inline __attribute__((always_inline)) void block(const Bf16Job *j, const Slot *sl,
                                                              const int ns, const uint32_t *w,
                                                              uint64_t live)
{
    const ConvShape *s = j->s;
    const int k = s->k, st = s->stride, taps = k * k;
    const size_t pairs = j->pairs, row = j->row, plane = (size_t)s->oh * s->ow;
    __m512 acc[OB][PB];
#pragma GCC unroll 8
    for (int i = 0; i < OB; i++)
#pragma GCC unroll 3
        for (int p = 0; p < ns; p++)
            acc[i][p] = j->add ? _mm512_maskz_loadu_ps(sl[p].mask, sl[p].out + i * plane)
                               : _mm512_setzero_ps();
    for (int tap = 0; tap < taps; tap++) {
        if (tap < 64 && !(live >> tap & 1))
            continue;
        const int ky = tap / k, kx = tap % k;
        const size_t at = (size_t)ky * pairs * row + (size_t)(kx % st) * j->cols + kx / st;
        const uint32_t *wt = w + (size_t)tap * pairs * LANES;
        const uint32_t *b[PB];
#pragma GCC unroll 3
        for (int p = 0; p < ns; p++)
            b[p] = sl[p].in + at;
        for (size_t cp = 0; cp < pairs; cp++) {
            __m512bh v[PB];
#pragma GCC unroll 3
            for (int p = 0; p < ns; p++)
                v[p] = (__m512bh)_mm512_loadu_si512(b[p] + cp * row);
#pragma GCC unroll 8
            for (int i = 0; i < OB; i++) {
                const __m512bh wb = (__m512bh)_mm512_set1_epi32((int)wt[cp * LANES + i]);
#pragma GCC unroll 3
                for (int p = 0; p < ns; p++)
                    acc[i][p] = _mm512_dpbf16_ps(acc[i][p], v[p], wb);
            }
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < OB; i++)
#pragma GCC unroll 3
        for (int p = 0; p < ns; p++)
            _mm512_mask_storeu_ps(sl[p].out + i * plane, sl[p].mask, acc[i][p]);
}

TARGET static void block1(const Bf16Job *j, const Slot *sl, const uint32_t *w,
                          uint64_t live)
{
    block(j, sl, 1, w, live);
}

TARGET static void block2(const Bf16Job *j, const Slot *sl, const uint32_t *w,
                          uint64_t live)
{
    block(j, sl, 2, w, live);
}

TARGET static void block3(const Bf16Job *j, const Slot *sl, const uint32_t *w,
                          uint64_t live)
{
    block(j, sl, 3, w, live);
}

// Every output channel of ns slots, OB at a time.
static void slots(const Bf16Job *j, Slot *sl, int ns)
{
    const ConvShape *s = j->s;
    const size_t plane = (size_t)s->oh * s->ow;
    const int taps = s->k * s->k;
    for (int o = 0; o < s->oc; o += OB) {
        const uint32_t *w = (const uint32_t *)j->packed + bf16_avx512_index(o, 0, 0, taps, j->pairs);
        Slot here[PB];
        for (int p = 0; p < ns; p++)
            here[p] = sl[p], here[p].out += (size_t)o * plane;
        const uint64_t live = j->live[o / OB];
        if (ns == 3)
            block3(j, here, w, live);
        else if (ns == 2)
            block2(j, here, w, live);
        else
            block1(j, here, w, live);
    }
}

void bf16_avx512_rows(const Bf16Job *j, int oy0, int oy1)
{
    const ConvShape *s = j->s;
    Slot sl[PB];
    int ns = 0;
    for (int oy = oy0; oy < oy1; oy++)
        for (int ox = 0; ox < s->ow; ox += LANES) {
            const int left = s->ow - ox;
            sl[ns++] = (Slot){
                .in = j->x + (size_t)oy * s->stride * j->pairs * j->row + (size_t)ox,
                .out = j->out + (size_t)oy * s->ow + ox,
                .mask = left >= LANES ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1)};
            if (ns == PB)
                slots(j, sl, ns), ns = 0;
        }
    if (ns)
        slots(j, sl, ns);
}
#else
void bf16_avx512_rows(const Bf16Job *j, int oy0, int oy1)
{
    (void)j, (void)oy0, (void)oy1;
}
#endif
