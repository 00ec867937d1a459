// The per-position GEMMs of an inference F(4x4, 3x3) convolution, m (OC x tiles) = u (OC x C) x
// v (C x tiles), with u packed once when the trace keeps its kernels. OpenBLAS packs both
// operands on every call; at 128 px (64 tiles) packing the kernel was 10% of a 128/6/32
// generator's time (perf), for a kernel that never changes. Here u is laid out as the register
// block reads it, 8 output channels side by side per input channel, and an AVX-512 kernel runs
// blocks of 8 channels by 3 vectors of 16 tiles. Builds without AVX-512 keep OpenBLAS
// (winograd_gemm_available() false; `ageshift version` says which).
#ifndef AGESHIFT_WINOGRAD_GEMM_H
#define AGESHIFT_WINOGRAD_GEMM_H

#include <stdbool.h>
#include <stddef.h>

#define WINOGRAD_GEMM_BLOCK 8 // output channels side by side in the packed kernel

bool winograd_gemm_available(void);

// Floats of one position's packed kernel: OC rounded up to the block, by C.
static inline size_t winograd_gemm_packed_floats(int oc, int c)
{
    return (size_t)(oc + WINOGRAD_GEMM_BLOCK - 1) / WINOGRAD_GEMM_BLOCK * WINOGRAD_GEMM_BLOCK *
           (size_t)c;
}

// Where u[o][i] goes in the packed kernel of c input channels (padding channels are zero).
static inline size_t winograd_gemm_packed_index(int o, int i, int c)
{
    return ((size_t)(o / WINOGRAD_GEMM_BLOCK) * (size_t)c + (size_t)i) * WINOGRAD_GEMM_BLOCK +
           (size_t)(o % WINOGRAD_GEMM_BLOCK);
}

// m (oc x tiles, overwritten) = the packed u (oc x c) times v (c x tiles), all row-major.
void winograd_gemm(const float *packed, int oc, int c, const float *v, int tiles, float *m);

#endif
