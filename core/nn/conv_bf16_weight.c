// The weight gradient of a stride-1 convolution on AMX tiles (conv_bf16.h). Per kernel tap it is
// a GEMM over pixels: dW[o][c][tap] += sum over p of dout[o][p] * in[c][p shifted by the tap].
// The output gradient is converted to bf16 rows padded to 32 pixels (a tile row: 32 consecutive
// pixels of one output channel); the input to pairs of neighbouring columns with
// channels last, twice (pairs starting at even and at odd columns), so that at any tap 32
// consecutive pixels read 16 whole pairs: a tile of 16 pairs by 16 channels at a fixed stride.
// Accumulators are 16 output by 16 input channels, one tap, summed over every pixel.
#include <stdlib.h>
#include <string.h>

#include "core/nn/bf16_tiles.h"
#include "core/nn/conv_bf16.h"
#include "core/nn/conv_bf16_internal.h"

#define PIXELS 32 // bf16 pixels in a row of the output gradient's tile

typedef struct {
    const ConvShape *s;
    const float *in, *dout;
    float *dweight;
    uint16_t *d;  // (oc, oh, row_pixels)
    uint32_t *x;  // [phase][h + 2 pad][pair_columns][channels16]
    float *tiles; // one scratch tile per thread
} Grad;

static size_t row_pixels(const ConvShape *s)
{
    return round_up((size_t)s->ow, PIXELS);
}

static size_t pair_columns(const ConvShape *s)
{
    return (row_pixels(s) + s->k) / 2 + 1;
}

static size_t channels16(const ConvShape *s)
{
    return round_up((size_t)s->c, TILE);
}

static size_t d_count(const ConvShape *s) // uint16
{
    return (size_t)s->oc * s->oh * row_pixels(s);
}

static size_t x_count(const ConvShape *s) // uint32
{
    return 2 * ((size_t)s->h + 2 * s->pad) * pair_columns(s) * channels16(s);
}

bool conv_bf16_weight_applies(const ConvShape *s)
{
    return s->stride == 1 && conv_bf16_kind() == BF16_AMX && conv_bf16_applies(s);
}

size_t conv_bf16_weight_workspace_floats(const ConvShape *s, int threads)
{
    if (!conv_bf16_weight_applies(s))
        return 0;
    return (d_count(s) + 1) / 2 + x_count(s) + (size_t)threads * TILE * TILE;
}

// Output gradient rows, split by (channel, row).
static void convert_d_part(void *ctx, int t, int n)
{
    const Grad *g = ctx;
    const ConvShape *s = g->s;
    const size_t rp = row_pixels(s);
    size_t r0, r1;
    pool_split((size_t)s->oc * s->oh, t, n, &r0, &r1);
    for (size_t r = r0; r < r1; r++) {
        const float *src = g->dout + r * s->ow;
        uint16_t *dst = g->d + r * rp;
        for (int x = 0; x < s->ow; x++)
            dst[x] = to_bf16(src[x]);
        memset(dst + s->ow, 0, (rp - s->ow) * sizeof *dst);
    }
}

// The input's pairs, split by (phase, padded row).
static void convert_x_part(void *ctx, int t, int n)
{
    const Grad *g = ctx;
    const ConvShape *s = g->s;
    const int hp = s->h + 2 * s->pad;
    const size_t cols = pair_columns(s), c16 = channels16(s), plane = (size_t)s->h * s->w;
    size_t r0, r1;
    pool_split(2 * (size_t)hp, t, n, &r0, &r1);
    for (size_t r = r0; r < r1; r++) {
        const int phase = (int)(r / hp), iy = (int)(r % hp) - s->pad;
        uint32_t *row = g->x + r * cols * c16;
        memset(row, 0, cols * c16 * sizeof *row);
        if (iy < 0 || iy >= s->h)
            continue;
        for (size_t j = 0; j < cols; j++) {
            int ix0 = 2 * (int)j + phase - s->pad, ix1 = ix0 + 1;
            bool in0 = ix0 >= 0 && ix0 < s->w, in1 = ix1 >= 0 && ix1 < s->w;
            if (!in0 && !in1)
                continue;
            const float *src = g->in + (size_t)iy * s->w;
            for (int c = 0; c < s->c; c++)
                row[j * c16 + c] = bf16_pair(in0 ? src[c * plane + ix0] : 0.0f,
                                             in1 ? src[c * plane + ix1] : 0.0f);
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
// Accumulator q (16 output channels from o0, 16 input channels from c0) added into dweight at
// tap, through the scratch tile.
#define ADD_OUT(q, o0, c0)                                                                     \
    do {                                                                                       \
        _tile_stored(q, tile, TILE * 4);                                                       \
        for (int r_ = 0; r_ < TILE; r_++)                                                      \
            for (int c_ = 0; c_ < TILE && (c0) + c_ < s->c; c_++)                              \
                g->dweight[((size_t)((o0) + r_) * s->c + (c0) + c_) * taps + tap] +=           \
                    tile[r_ * TILE + c_];                                                      \
    } while (0)

// Tiles 0-3: accumulators (output block a, input block b) = 2a + b; 4, 5: two output-gradient
// tiles (16 channels by 32 pixels); 6, 7: two input tiles (16 pixel pairs by 16 channels).
__attribute__((target("amx-tile,amx-bf16"))) static void weight_items(const Grad *g, size_t i0,
                                                                      size_t i1, float *tile)
{
    const ConvShape *s = g->s;
    tiles_configure();
    const int k = s->k, taps = k * k, hp = s->h + 2 * s->pad;
    const size_t rp = row_pixels(s), cols = pair_columns(s), c16 = channels16(s);
    const size_t o_pairs = ((size_t)s->oc + 2 * TILE - 1) / (2 * TILE);
    const size_t c_pairs = (c16 + 2 * TILE - 1) / (2 * TILE);
    const size_t a_stride = (size_t)s->oh * rp * 2, b_stride = c16 * 4;
    for (size_t item = i0; item < i1; item++) {
        const int tap = (int)(item / (o_pairs * c_pairs)), ky = tap / k, kx = tap % k;
        const int o0 = (int)(item / c_pairs % o_pairs) * 2 * TILE;
        const int c0 = (int)(item % c_pairs) * 2 * TILE;
        const bool two_o = o0 + TILE < s->oc, two_c = (size_t)c0 + TILE < c16;
        _tile_zero(0);
        _tile_zero(1);
        _tile_zero(2);
        _tile_zero(3);
        const int phase = kx % 2;
        for (int oy = 0; oy < s->oh; oy++) {
            const uint16_t *a0 = g->d + ((size_t)o0 * s->oh + oy) * rp;
            const uint16_t *a1 = a0 + (size_t)TILE * s->oh * rp;
            const uint32_t *b_row = g->x + ((size_t)phase * hp + oy + ky) * cols * c16 + c0;
            for (size_t x0 = 0; x0 < rp; x0 += PIXELS) {
                const uint32_t *b0 = b_row + (x0 + kx - phase) / 2 * c16;
                _tile_loadd(4, a0 + x0, a_stride);
                _tile_loadd(6, b0, b_stride);
                _tile_dpbf16ps(0, 4, 6);
                if (two_c) {
                    _tile_loadd(7, b0 + TILE, b_stride);
                    _tile_dpbf16ps(1, 4, 7);
                }
                if (two_o) {
                    _tile_loadd(5, a1 + x0, a_stride);
                    _tile_dpbf16ps(2, 5, 6);
                    if (two_c)
                        _tile_dpbf16ps(3, 5, 7);
                }
            }
        }
        ADD_OUT(0, o0, c0);
        if (two_c)
            ADD_OUT(1, o0, c0 + TILE);
        if (two_o) {
            ADD_OUT(2, o0 + TILE, c0);
            if (two_c)
                ADD_OUT(3, o0 + TILE, c0 + TILE);
        }
    }
    _tile_release();
}
#else
static void weight_items(const Grad *g, size_t i0, size_t i1, float *tile)
{
    (void)g, (void)i0, (void)i1, (void)tile;
}
#endif

// Split by (tap, pair of output blocks, pair of input blocks): each owns its dweight entries.
static void weight_part(void *ctx, int t, int n)
{
    const Grad *g = ctx;
    const ConvShape *s = g->s;
    const size_t o_pairs = ((size_t)s->oc + 2 * TILE - 1) / (2 * TILE);
    const size_t c_pairs = (channels16(s) + 2 * TILE - 1) / (2 * TILE);
    size_t i0, i1;
    pool_split((size_t)s->k * s->k * o_pairs * c_pairs, t, n, &i0, &i1);
    if (i0 < i1)
        weight_items(g, i0, i1, g->tiles + (size_t)t * TILE * TILE);
}

void conv_bf16_weight_grad(Pool *pool, const ConvShape *s, const float *in, const float *dout,
                           float *dweight, float *work)
{
    Grad g = {.s = s, .in = in, .dout = dout, .dweight = dweight};
    g.d = (uint16_t *)work;
    g.x = (uint32_t *)(work + (d_count(s) + 1) / 2);
    g.tiles = work + (d_count(s) + 1) / 2 + x_count(s);
    pool_run(pool, convert_d_part, &g);
    pool_run(pool, convert_x_part, &g);
    pool_run(pool, weight_part, &g);
}
