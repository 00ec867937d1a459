#include <stdio.h>

#include "cli/commands.h"
#include "core/base/blas_setup.h"
#include "core/nn/conv_bf16.h"
#include "core/nn/direct_conv.h"
#include "core/nn/winograd.h"
#include "core/nn/winograd_gemm.h"
#include "core/nn/winograd_pick.h"

int cmd_version(int argc, char **argv)
{
    (void)argc, (void)argv;
    char blas[512];
    blas_describe(blas, sizeof blas);
    printf("ageshift %s\n%s\n", AGESHIFT_VERSION, blas);
    // The convolution paths, and the CPU features a faster one would need.
    printf("convolutions: im2col + sgemm; 3x3 stride 1 by Winograd from %d output tiles "
           "(inference F(4x4,3x3) with kernels transformed once%s, training F(2x2,3x3)), its data "
           "gradient from %d input tiles and weight gradient from %d output tiles "
           "(core/nn/winograd.h), except that a training run measures each shape of %d output "
           "tiles and more once by im2col, F(2x2,3x3) and F(4x4,3x3) (not for the weight "
           "gradient) and keeps the fastest (core/nn/winograd_pick.h, recorded in its "
           "checkpoint); stride 1 with %d or fewer channels on one side (the 7x7 RGB "
           "layers) directly, %d-float vectors (core/nn/direct_conv.h)\n",
           WINOGRAD_MIN_TILES_FORWARD,
           winograd_gemm_available() ? " and packed for an AVX-512 kernel (core/nn/winograd_gemm.h)"
                                     : "",
           WINOGRAD_MIN_TILES_BACKWARD, WINOGRAD_MIN_TILES_WEIGHT,
           WINOGRAD_PICK_MIN_TILES, DIRECT_CONV_MAX_CHANNELS, direct_conv_lanes());
    if (conv_bf16_available())
        printf("bf16: inference convolutions with 16k output channels on %s (core/nn/conv_bf16.h; "
               "AGESHIFT_BF16=0 turns them off, =avx512 takes the vector kernel); training fp32 "
               "unless train --bf16\n",
               conv_bf16_describe());
    else
        printf("bf16: %s, so fp32 throughout\n", conv_bf16_describe());
    return 0;
}
