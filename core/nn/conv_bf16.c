#include "core/nn/conv_bf16.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn/bf16_tiles.h"
#include "core/nn/conv_bf16_internal.h"
#include "core/nn/direct_conv.h"

// The convolution as an implicit GEMM, without im2col (which, at these speeds, would cost more
// than the multiply itself): the input converted once to bf16 channel pairs
// (conv_bf16_internal.h), then one of two multiply kernels, on AMX tiles (conv_bf16_amx.c) or on
// AVX512_BF16 vectors (conv_bf16_avx512.c), which read it in place and write the planar output.
#define CH 32 // bf16 channels in an AMX weight tile's row (64 bytes)

// ---- which kernel ----

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

static bool amx_usable(const char **why)
{
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 22))) {
        *why = "this CPU has no AMX-BF16";
        return false;
    }
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) {
        *why = "the kernel did not grant the AMX tile state";
        return false;
    }
    return true;
}

// AGESHIFT_BF16=0 turns bf16 off, =avx512 takes the vector kernel even where AMX is there (to
// test or time it); otherwise AMX where it can run, else AVX512_BF16.
static Bf16Kind probe(const char **why)
{
    const char *env = getenv("AGESHIFT_BF16");
    if (env && strcmp(env, "0") == 0) {
        *why = "turned off by AGESHIFT_BF16=0";
        return BF16_NONE;
    }
    const bool forced = env && strcmp(env, "avx512") == 0;
    const char *no_amx = "this CPU has no AMX-BF16";
    if (!forced && amx_usable(&no_amx)) {
        *why = "AMX-BF16 tiles";
        return BF16_AMX;
    }
    // __builtin_cpu_supports also asks whether the OS saves the 512-bit state.
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512bf16")) {
        *why = forced ? "AVX512_BF16 vectors (VDPBF16PS), asked for by AGESHIFT_BF16=avx512"
                      : "AVX512_BF16 vectors (VDPBF16PS)";
        return BF16_AVX512;
    }
    *why = forced ? "AGESHIFT_BF16=avx512, but this CPU has no AVX512_BF16"
           : strcmp(no_amx, "this CPU has no AMX-BF16") == 0
               ? "this CPU has neither AMX-BF16 nor AVX512_BF16"
               : no_amx;
    return BF16_NONE;
}
#else
static Bf16Kind probe(const char **why)
{
    *why = "not an x86-64 build";
    return BF16_NONE;
}
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static Bf16Kind kind;
static const char *description;

static void probe_once(void)
{
    kind = probe(&description);
}

Bf16Kind conv_bf16_kind(void)
{
    pthread_once(&once, probe_once);
    return kind;
}

bool conv_bf16_available(void)
{
    return conv_bf16_kind() != BF16_NONE;
}

const char *conv_bf16_describe(void)
{
    pthread_once(&once, probe_once);
    return description;
}

bool conv_bf16_on_amx(void)
{
    return conv_bf16_kind() == BF16_AMX;
}

bool conv_bf16_applies(const ConvShape *s)
{
    return !s->transposed && s->oc % TILE == 0 && !direct_conv_applies(s) &&
           conv_bf16_available();
}

// Channels as the kernel reads them: AMX by 32 (a tile row), vectors by pairs.
static size_t channels_padded(const ConvShape *s)
{
    return round_up((size_t)s->c, conv_bf16_kind() == BF16_AMX ? CH : 2);
}

// ---- the weight ----

// The packed weight, then per block of BF16_BLOCK_CHANNELS output channels the taps at which
// one of their weights is not zero (a bit each, all set past 64 taps): the vector kernel skips
// the others (the upsampling's phases, convt_bf16.c, leave most taps zero).
static size_t weight_count(const ConvShape *s)
{
    return (size_t)s->oc * s->k * s->k * channels_padded(s);
}

size_t conv_bf16_packed_count(const ConvShape *s)
{
    size_t blocks = ((size_t)s->oc + BF16_BLOCK_CHANNELS - 1) / BF16_BLOCK_CHANNELS;
    return weight_count(s) + blocks * sizeof(uint64_t) / sizeof(uint16_t);
}

const uint64_t *conv_bf16_live_taps(const ConvShape *s, const uint16_t *packed)
{
    return (const uint64_t *)(packed + weight_count(s)); // weight_count: a multiple of 16
}

static uint64_t *live_taps(const ConvShape *s, uint16_t *packed)
{
    return (uint64_t *)(packed + weight_count(s));
}

static void clear_live_taps(const ConvShape *s, uint16_t *packed)
{
    size_t blocks = ((size_t)s->oc + BF16_BLOCK_CHANNELS - 1) / BF16_BLOCK_CHANNELS;
    memset(live_taps(s, packed), s->k * s->k > 64 ? 0xff : 0, blocks * sizeof(uint64_t));
}

// Puts the bf16 of v, the weight for (output channel o, tap, input channel c), where the
// kernel reads it: AMX's tile (o / 16, tap, c / 32) holds in row o % 16 the 32 channels from
// c / 32 * 32 (conv_bf16_amx.c); the vector kernel's pairs are placed by bf16_avx512_index.
static void put(const ConvShape *s, uint16_t *packed, int o, int tap, size_t c, float v)
{
    const int taps = s->k * s->k;
    const size_t cp = channels_padded(s);
    size_t at;
    if (conv_bf16_kind() == BF16_AMX) {
        size_t tile = ((size_t)(o / TILE) * taps + tap) * (cp / CH) + c / CH;
        at = (tile * TILE + (size_t)(o % TILE)) * CH + c % CH;
    } else {
        at = bf16_avx512_index(o, tap, c / 2, taps, cp / 2) * 2 + c % 2;
    }
    packed[at] = to_bf16(v);
    if ((packed[at] & 0x7fffu) && tap < 64) // not +-0
        live_taps(s, packed)[o / BF16_BLOCK_CHANNELS] |= (uint64_t)1 << tap;
}

void conv_bf16_pack(const ConvShape *s, const float *weight, uint16_t *packed)
{
    const int taps = s->k * s->k;
    clear_live_taps(s, packed);
    for (int o = 0; o < s->oc; o++)
        for (int tap = 0; tap < taps; tap++)
            for (size_t c = 0; c < channels_padded(s); c++)
                put(s, packed, o, tap, c,
                    c < (size_t)s->c ? weight[((size_t)o * s->c + c) * taps + tap] : 0.0f);
}

ConvShape conv_bf16_gradient_shape(const ConvShape *s)
{
    ConvShape g = {.n = s->n, .c = s->oc, .h = s->oh, .w = s->ow, .oc = s->c, .k = s->k,
                   .stride = 1, .pad = s->k - 1 - s->pad, .oh = s->h, .ow = s->w};
    return g;
}

void conv_bf16_pack_turned(const ConvShape *s, const float *weight, uint16_t *packed)
{
    const ConvShape g = conv_bf16_gradient_shape(s);
    const int taps = s->k * s->k;
    clear_live_taps(&g, packed);
    for (int c = 0; c < s->c; c++) // the gradient's output channel
        for (int tap = 0; tap < taps; tap++)
            for (size_t o = 0; o < channels_padded(&g); o++) // its input channel
                put(&g, packed, c, tap, o,
                    o < (size_t)s->oc
                        ? weight[((size_t)o * s->c + c) * taps + (taps - 1 - tap)]
                        : 0.0f);
}

// ---- the input: channel pairs, zero-padded, columns by phase ----

// Columns of one phase: enough for the padded row, and for the last 16 pixels of a row, which
// may read up to 16 pixels past the output's end.
static size_t phase_columns(const ConvShape *s)
{
    size_t wp = (size_t)s->w + 2 * s->pad;
    return round_up((wp + s->stride - 1) / s->stride + TILE, TILE);
}

static size_t pair_row(const ConvShape *s) // uint32 per (y, channel pair)
{
    return (size_t)s->stride * phase_columns(s);
}

static size_t input_count(const ConvShape *s) // uint32
{
    return ((size_t)s->h + 2 * s->pad) * (channels_padded(s) / 2) * pair_row(s);
}

typedef uint32_t U32x16 __attribute__((vector_size(64)));

// Padded row y's channel pairs (c, c + 1) into dst (pair_row entries), phase by phase.
static void convert_pair(const ConvShape *s, const float *in, int y, int c, uint32_t *dst)
{
    const int iy = y - s->pad, st = s->stride;
    const size_t cols = phase_columns(s);
    memset(dst, 0, pair_row(s) * sizeof *dst);
    if (iy < 0 || iy >= s->h || c >= s->c)
        return;
    const float *r0 = in + ((size_t)c * s->h + iy) * s->w;
    const float *r1 = c + 1 < s->c ? r0 + (size_t)s->h * s->w : NULL;
    if (st == 1) { // contiguous: 16 columns at a time
        uint32_t *d = dst + s->pad;
        int x = 0;
        for (; x + TILE <= s->w; x += TILE) {
            U32x16 lo, hi = {0};
            memcpy(&lo, r0 + x, sizeof lo);
            if (r1)
                memcpy(&hi, r1 + x, sizeof hi);
            lo = (lo + 0x7fffu + ((lo >> 16) & 1u)) >> 16;
            hi = (hi + 0x7fffu + ((hi >> 16) & 1u)) & 0xffff0000u;
            U32x16 pair = lo | hi;
            memcpy(d + x, &pair, sizeof pair);
        }
        for (; x < s->w; x++)
            d[x] = bf16_pair(r0[x], r1 ? r1[x] : 0.0f);
        return;
    }
    for (int ix = 0; ix < s->w; ix++) {
        int xp = ix + s->pad;
        dst[(size_t)(xp % st) * cols + xp / st] = bf16_pair(r0[ix], r1 ? r1[ix] : 0.0f);
    }
}

static void convert_part(void *ctx, int t, int n)
{
    const Bf16Job *j = ctx;
    const ConvShape *s = j->s;
    const size_t rows = ((size_t)s->h + 2 * s->pad) * j->pairs;
    size_t r0, r1;
    pool_split(rows, t, n, &r0, &r1);
    for (size_t r = r0; r < r1; r++)
        convert_pair(s, j->in, (int)(r / j->pairs), (int)(r % j->pairs) * 2, j->x + r * j->row);
}

size_t conv_bf16_workspace_floats(const ConvShape *s, int threads)
{
    if (!conv_bf16_applies(s))
        return 0;
    // The converted input, and per thread one accumulator tile for a row's last pixels (AMX).
    return input_count(s) + (size_t)threads * TILE * TILE;
}

static void multiply_part(void *ctx, int t, int n)
{
    const Bf16Job *j = ctx;
    size_t y0, y1;
    pool_split((size_t)j->s->oh, t, n, &y0, &y1);
    if (y0 >= y1)
        return;
    if (conv_bf16_kind() == BF16_AMX)
        bf16_amx_rows(j, (int)y0, (int)y1, j->work + input_count(j->s) + (size_t)t * TILE * TILE);
    else
        bf16_avx512_rows(j, (int)y0, (int)y1);
}

void conv_bf16_forward(Pool *pool, const ConvShape *s, const float *in, const uint16_t *packed,
                       float *out, bool add, float *work)
{
    Bf16Job j = {.s = s,
                 .in = in,
                 .x = (uint32_t *)work,
                 .packed = packed,
                 .live = conv_bf16_live_taps(s, packed),
                 .out = out,
                 .work = work,
                 .add = add,
                 .pairs = channels_padded(s) / 2,
                 .cols = phase_columns(s),
                 .row = pair_row(s)};
    pool_run(pool, convert_part, &j);
    pool_run(pool, multiply_part, &j);
}
