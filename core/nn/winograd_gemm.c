#include "core/nn/winograd_gemm.h"

#define OB WINOGRAD_GEMM_BLOCK // output channels in a register block
#define PB 3                   // vectors of 16 tiles in a register block
#define LANES 16

#if defined(__AVX512F__)
#include <immintrin.h>

bool winograd_gemm_available(void)
{
    return true;
}

typedef struct {
    const float *v; // the tiles' column in v at input channel 0
    float *m;       // the same tiles in m at output channel 0
    __mmask16 mask; // the tiles inside the row
} Slot;

// ns (1..PB, a constant once inlined) vectors of tiles by the OB output channels of one packed
// block w (c runs of OB floats); rows: how many of those channels exist.
static inline __attribute__((always_inline)) void block(const float *w, int c, int tiles,
                                                       const Slot *sl, const int ns, int rows)
{
    __m512 acc[OB][PB];
#pragma GCC unroll 8
    for (int i = 0; i < OB; i++)
#pragma GCC unroll 3
        for (int p = 0; p < ns; p++)
            acc[i][p] = _mm512_setzero_ps();
    for (int k = 0; k < c; k++) {
        __m512 x[PB];
#pragma GCC unroll 3
        for (int p = 0; p < ns; p++)
            x[p] = _mm512_maskz_loadu_ps(sl[p].mask, sl[p].v + (size_t)k * tiles);
        const float *wk = w + (size_t)k * OB;
#pragma GCC unroll 8
        for (int i = 0; i < OB; i++) {
            const __m512 b = _mm512_set1_ps(wk[i]);
#pragma GCC unroll 3
            for (int p = 0; p < ns; p++)
                acc[i][p] = _mm512_fmadd_ps(b, x[p], acc[i][p]);
        }
    }
#pragma GCC unroll 8
    for (int i = 0; i < OB; i++)
#pragma GCC unroll 3
        for (int p = 0; p < ns; p++)
            if (i < rows)
                _mm512_mask_storeu_ps(sl[p].m + (size_t)i * tiles, sl[p].mask, acc[i][p]);
}

static void block1(const float *w, int c, int tiles, const Slot *sl, int rows)
{
    block(w, c, tiles, sl, 1, rows);
}

static void block2(const float *w, int c, int tiles, const Slot *sl, int rows)
{
    block(w, c, tiles, sl, 2, rows);
}

static void block3(const float *w, int c, int tiles, const Slot *sl, int rows)
{
    block(w, c, tiles, sl, 3, rows);
}

void winograd_gemm(const float *packed, int oc, int c, const float *v, int tiles, float *m)
{
    for (int t0 = 0; t0 < tiles; t0 += PB * LANES) {
        Slot sl[PB];
        int ns = 0;
        for (int t = t0; t < tiles && ns < PB; t += LANES, ns++) {
            const int left = tiles - t;
            sl[ns] = (Slot){.v = v + t,
                            .m = m + t,
                            .mask = left >= LANES ? (__mmask16)0xffff
                                                  : (__mmask16)((1u << left) - 1)};
        }
        // The tiles' columns of v stay in L1 while every output channel goes by.
        for (int o = 0; o < oc; o += OB) {
            const float *w = packed + winograd_gemm_packed_index(o, 0, c);
            const int rows = oc - o < OB ? oc - o : OB;
            Slot here[PB];
            for (int p = 0; p < ns; p++)
                here[p] = sl[p], here[p].m += (size_t)o * tiles;
            if (ns == 3)
                block3(w, c, tiles, here, rows);
            else if (ns == 2)
                block2(w, c, tiles, here, rows);
            else
                block1(w, c, tiles, here, rows);
        }
    }
}
#else
bool winograd_gemm_available(void)
{
    return false;
}

void winograd_gemm(const float *packed, int oc, int c, const float *v, int tiles, float *m)
{
    (void)packed, (void)oc, (void)c, (void)v, (void)tiles, (void)m;
}
#endif
