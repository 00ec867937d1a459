#include "core/nn/conv_bf16.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/nn/bf16_tiles.h"
#include "core/nn/direct_conv.h"

// The convolution as an implicit GEMM, without im2col (which, at AMX's speed, would cost 4x
// the multiply itself). The input is converted once to bf16 pairs of channels with its zero
// padding, its columns split by phase (x mod stride) so that an output row's pixels at one
// kernel tap are consecutive: x[y][channel pair][phase][q][2] for input column q * stride +
// phase. One accumulator tile is 16 output channels by 16 consecutive output pixels (fp32);
// for each tap and each 32 input channels it adds the weight's 16 x 32 tile times the 32 x 16
// tile of those pixels, one row per channel pair at a fixed stride. The result lands in the
// planar output as it is.
#define CH 32 // bf16 channels in a weight tile's row (64 bytes)

static size_t channels_padded(const ConvShape *s)
{
    return round_up((size_t)s->c, CH);
}

// ---- the weight: per (output tile, tap, channel step) one 1 KB tile ----

// Tile (mt, tap, ks) holds in row r the 32 channels ks * 32 .. of output channel mt * 16 + r
// at that tap.
size_t conv_bf16_packed_count(const ConvShape *s)
{
    return (size_t)s->oc * s->k * s->k * channels_padded(s);
}

void conv_bf16_pack(const ConvShape *s, const float *weight, uint16_t *packed)
{
    const int taps = s->k * s->k;
    const size_t steps = channels_padded(s) / CH;
    for (int o = 0; o < s->oc; o++)
        for (int tap = 0; tap < taps; tap++)
            for (size_t c = 0; c < channels_padded(s); c++) {
                size_t tile = ((size_t)(o / TILE) * taps + tap) * steps + c / CH;
                float v = c < (size_t)s->c ? weight[((size_t)o * s->c + c) * taps + tap] : 0.0f;
                packed[(tile * TILE + (size_t)(o % TILE)) * CH + c % CH] = to_bf16(v);
            }
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
    const int k = s->k, taps = k * k;
    const size_t steps = channels_padded(&g) / CH;
    for (int c = 0; c < s->c; c++) // the gradient's output channel
        for (int tap = 0; tap < taps; tap++)
            for (size_t o = 0; o < channels_padded(&g); o++) { // its input channel
                size_t tile = ((size_t)(c / TILE) * taps + tap) * steps + o / CH;
                float v = o < (size_t)s->oc
                              ? weight[((size_t)o * s->c + c) * taps + (taps - 1 - tap)]
                              : 0.0f;
                packed[(tile * TILE + (size_t)(c % TILE)) * CH + o % CH] = to_bf16(v);
            }
}

// ---- the input: channel pairs, zero-padded, columns by phase ----

typedef struct {
    const ConvShape *s;
    const float *in;
    uint32_t *x; // channel pairs, see above
    const uint16_t *packed;
    float *out, *work;
    bool add; // out += instead of out =
} Job;

// Columns of one phase: enough for the padded row, and for the last tile of a row, which may
// read up to 16 pixels past the output's end.
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
    const Job *j = ctx;
    const ConvShape *s = j->s;
    const size_t pairs = channels_padded(s) / 2, rows = ((size_t)s->h + 2 * s->pad) * pairs;
    size_t r0, r1;
    pool_split(rows, t, n, &r0, &r1);
    for (size_t r = r0; r < r1; r++)
        convert_pair(s, j->in, (int)(r / pairs), (int)(r % pairs) * 2, j->x + r * pair_row(s));
}

size_t conv_bf16_workspace_floats(const ConvShape *s, int threads)
{
    if (!conv_bf16_applies(s))
        return 0;
    // The converted input, and per thread one accumulator tile for a row's last pixels.
    return input_count(s) + (size_t)threads * TILE * TILE;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18


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
__attribute__((target("amx-tile,amx-bf16"))) static void multiply_rows(const Job *j, int oy0,
                                                                       int oy1, float *tile)
{
    const ConvShape *s = j->s;
    tiles_configure();
    const int k = s->k, taps = k * k, st = s->stride;
    const size_t steps = channels_padded(s) / CH, a_tile = TILE * CH, row = pair_row(s);
    const size_t cols = phase_columns(s), pairs = channels_padded(s) / 2;
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

static bool probe(const char **why)
{
    const char *env = getenv("AGESHIFT_BF16");
    if (env && strcmp(env, "0") == 0) {
        *why = "turned off by AGESHIFT_BF16=0";
        return false;
    }
    unsigned a, b, c, d;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(d & (1u << 24)) || !(d & (1u << 22))) {
        *why = "this CPU has no AMX-BF16";
        return false;
    }
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) {
        *why = "the kernel did not grant the AMX tile state";
        return false;
    }
    *why = "AMX-BF16 tiles";
    return true;
}
#else
static void multiply_rows(const Job *j, int oy0, int oy1, float *tile)
{
    (void)j, (void)oy0, (void)oy1, (void)tile;
}

static bool probe(const char **why)
{
    *why = "not an x86-64 build";
    return false;
}
#endif

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool available;
static const char *description;

static void probe_once(void)
{
    available = probe(&description);
}

bool conv_bf16_available(void)
{
    pthread_once(&once, probe_once);
    return available;
}

const char *conv_bf16_describe(void)
{
    pthread_once(&once, probe_once);
    return description;
}

bool conv_bf16_applies(const ConvShape *s)
{
    return !s->transposed && s->oc % TILE == 0 && !direct_conv_applies(s) &&
           conv_bf16_available();
}

static void multiply_part(void *ctx, int t, int n)
{
    const Job *j = ctx;
    size_t y0, y1;
    pool_split((size_t)j->s->oh, t, n, &y0, &y1);
    float *tile = j->work + input_count(j->s) + (size_t)t * TILE * TILE;
    if (y0 < y1)
        multiply_rows(j, (int)y0, (int)y1, tile);
}

void conv_bf16_forward(Pool *pool, const ConvShape *s, const float *in, const uint16_t *packed,
                       float *out, bool add, float *work)
{
    Job j = {.s = s,
             .in = in,
             .x = (uint32_t *)work,
             .packed = packed,
             .out = out,
             .work = work,
             .add = add};
    pool_run(pool, convert_part, &j);
    pool_run(pool, multiply_part, &j);
}
