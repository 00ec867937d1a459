#include "core/nn/direct_conv.h"

#include <stdatomic.h>
#include <string.h>

// One vector of LANES floats, a machine register wide; the blocks below keep up to MAX_BLOCK x
// MAX_BLOCK of them as accumulators, beside MAX_BLOCK loaded inputs and a broadcast weight.
// That must fit the register file: 4 x 4 + 5 of AVX-512's 32, 3 x 3 + 4 of AVX2's or SSE's 16
// (a block that spills runs at a fifth of the speed).
#if defined(__AVX512F__)
#define LANES 16
#define MAX_BLOCK 4
#elif defined(__AVX__)
#define LANES 8
#define MAX_BLOCK 3
#else
#define LANES 4
#define MAX_BLOCK 3
#endif
typedef float Vec __attribute__((vector_size(LANES * sizeof(float))));

// Helpers by pointer, not by value: a 64-byte vector argument would change the calling
// convention on a build without AVX-512 (GCC and Clang warn of it, -Wpsabi).
// The same vector at a float's alignment, allowed to alias floats: one unaligned load or store.
// (memcpy into a Vec array made GCC keep the array on the stack, in 16-byte halves that a
// 32-byte reload cannot forward from: a stall on every input.)
typedef float UnalignedVec __attribute__((vector_size(LANES * sizeof(float)), aligned(4), may_alias));

static inline void load(Vec *v, const float *p)
{
    *v = *(const UnalignedVec *)p;
}

static inline void store(float *p, const Vec *v)
{
    *(UnalignedVec *)p = *v;
}

static inline void splat(Vec *v, float x)
{
    *v = x - (Vec){0}; // x - 0 is x for every x (-0 too): folds to one broadcast
}

static inline float sum_lanes(const Vec *v)
{
    float lane[LANES], s = 0.0f;
    store(lane, v);
    for (int i = 0; i < LANES; i++)
        s += lane[i];
    return s;
}

static _Atomic bool enabled = true;

void direct_conv_set_enabled(bool on)
{
    atomic_store(&enabled, on);
}

int direct_conv_lanes(void)
{
    return LANES;
}

bool direct_conv_applies(const ConvShape *s)
{
    return atomic_load(&enabled) && !s->transposed && s->stride == 1 &&
           (s->oc <= DIRECT_CONV_MAX_CHANNELS || s->c <= DIRECT_CONV_MAX_CHANNELS);
}

// ---- a convolution without padding: every kernel tap reads inside the input ----

typedef struct {
    const float *in; // (c, h, w)
    int c, h, w;
    const float *weight; // (oc, c, k, k)
    int oc, k;
    float *out; // (oc, oh, ow) with oh = h - k + 1, ow = w - k + 1
    int oh, ow;
    bool add; // out += instead of out =
} Valid;

// Output channels [o0, o0 + ob) of row oy, columns [x0 + skip, x0 + nv * LANES): the
// accumulators stay in registers over all taps (ob and nv are constants once inlined).
static inline __attribute__((always_inline)) void valid_block(const Valid *v, int o0, int oy,
                                                              int x0, int skip, const int ob,
                                                              const int nv)
{
    const int k = v->k;
    const size_t w_stride = (size_t)v->c * k * k; // from one output channel to the next
    Vec acc[MAX_BLOCK][MAX_BLOCK];
    for (int o = 0; o < ob; o++)
        for (int i = 0; i < nv; i++)
            splat(&acc[o][i], 0.0f);
    for (int c = 0; c < v->c; c++)
        for (int ky = 0; ky < k; ky++) {
            const float *row = v->in + ((size_t)c * v->h + oy + ky) * v->w + x0;
            const float *wrow = v->weight + ((size_t)o0 * v->c + c) * k * k + (size_t)ky * k;
            for (int kx = 0; kx < k; kx++) {
                Vec x[MAX_BLOCK];
                for (int i = 0; i < nv; i++)
                    load(&x[i], row + kx + i * LANES);
                for (int o = 0; o < ob; o++) {
                    Vec wv;
                    splat(&wv, wrow[o * w_stride + kx]);
                    for (int i = 0; i < nv; i++)
                        acc[o][i] += wv * x[i];
                }
            }
        }
    for (int o = 0; o < ob; o++) {
        float *dst = v->out + ((size_t)(o0 + o) * v->oh + oy) * v->ow + x0;
        for (int i = 0; i < nv; i++) {
            float *d = dst + i * LANES;
            if (skip <= i * LANES) {
                Vec r = acc[o][i];
                if (v->add) {
                    Vec old;
                    load(&old, d);
                    r += old;
                }
                store(d, &r);
                continue;
            }
            float lane[LANES];
            store(lane, &acc[o][i]);
            for (int l = skip - i * LANES; l < LANES; l++)
                d[l] = v->add ? d[l] + lane[l] : lane[l];
        }
    }
}

#define VALID_CASE(OB, NV)                                                                      \
    case OB * 8 + NV:                                                                           \
        valid_block(v, o0, oy, x0, skip, OB, NV);                                               \
        break;

static void valid_block_any(const Valid *v, int o0, int ob, int oy, int x0, int skip, int nv)
{
    switch (ob * 8 + nv) {
        VALID_CASE(1, 1) VALID_CASE(2, 1) VALID_CASE(3, 1)
        VALID_CASE(1, MAX_BLOCK) VALID_CASE(2, MAX_BLOCK) VALID_CASE(3, MAX_BLOCK)
#if MAX_BLOCK == 4
        VALID_CASE(4, 1) VALID_CASE(4, 4)
#endif
    default: break;
    }
}

// Rows narrower than one vector (small test shapes): plain loops.
static void valid_row_narrow(const Valid *v, int oy)
{
    const int k = v->k;
    for (int o = 0; o < v->oc; o++)
        for (int x = 0; x < v->ow; x++) {
            float sum = 0.0f;
            for (int c = 0; c < v->c; c++)
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++)
                        sum += v->weight[(((size_t)o * v->c + c) * k + ky) * k + kx] *
                               v->in[((size_t)c * v->h + oy + ky) * v->w + x + kx];
            float *d = v->out + ((size_t)o * v->oh + oy) * v->ow + x;
            *d = v->add ? *d + sum : sum;
        }
}

// One output row: blocks of MAX_BLOCK vectors, then of 1, the last one moved back to end at the row's
// end (its columns already done skipped).
static void valid_row(const Valid *v, int oy)
{
    if (v->ow < LANES) {
        valid_row_narrow(v, oy);
        return;
    }
    for (int o0 = 0; o0 < v->oc; o0 += MAX_BLOCK) {
        const int ob = v->oc - o0 < MAX_BLOCK ? v->oc - o0 : MAX_BLOCK;
        int x0 = 0;
        for (; x0 + MAX_BLOCK * LANES <= v->ow; x0 += MAX_BLOCK * LANES)
            valid_block_any(v, o0, ob, oy, x0, 0, MAX_BLOCK);
        for (; x0 + LANES <= v->ow; x0 += LANES)
            valid_block_any(v, o0, ob, oy, x0, 0, 1);
        if (x0 < v->ow)
            valid_block_any(v, o0, ob, oy, v->ow - LANES, x0 - (v->ow - LANES), 1);
    }
}

static void valid_part(void *ctx, int t, int n)
{
    const Valid *v = ctx;
    size_t y0, y1;
    pool_split((size_t)v->oh, t, n, &y0, &y1);
    for (size_t y = y0; y < y1; y++)
        valid_row(v, (int)y);
}

// ---- zero padding into the workspace ----

typedef struct {
    const float *src;
    int c, h, w, pad;
    float *dst; // (c, h + 2 pad, w + 2 pad)
} Pad;

static void pad_part(void *ctx, int t, int n)
{
    const Pad *p = ctx;
    const int ph = p->h + 2 * p->pad, pw = p->w + 2 * p->pad;
    size_t c0, c1;
    pool_split((size_t)p->c, t, n, &c0, &c1);
    for (size_t c = c0; c < c1; c++) {
        float *plane = p->dst + c * ph * pw;
        memset(plane, 0, (size_t)ph * pw * sizeof(float));
        for (int y = 0; y < p->h; y++)
            memcpy(plane + (size_t)(y + p->pad) * pw + p->pad, p->src + (c * p->h + y) * p->w,
                   (size_t)p->w * sizeof(float));
    }
}

// src itself when pad is 0, else its zero-padded copy in dst.
static const float *padded(Pool *pool, const float *src, int c, int h, int w, int pad, float *dst)
{
    if (pad == 0)
        return src;
    Pad p = {.src = src, .c = c, .h = h, .w = w, .pad = pad, .dst = dst};
    pool_run(pool, pad_part, &p);
    return dst;
}

static size_t padded_floats(int c, int h, int w, int pad)
{
    return pad == 0 ? 0 : (size_t)c * (h + 2 * pad) * (w + 2 * pad);
}

// ---- workspace: [padded input][padded output gradient][turned weight] ----

static size_t input_floats(const ConvShape *s)
{
    return padded_floats(s->c, s->h, s->w, s->pad);
}

static size_t gradient_floats(const ConvShape *s)
{
    int q = s->k - 1 - s->pad;
    return (size_t)s->oc * (s->oh + 2 * q) * (s->ow + 2 * q) + (size_t)s->oc * s->c * s->k * s->k;
}

size_t direct_conv_workspace_floats(const ConvShape *s)
{
    return direct_conv_applies(s) ? input_floats(s) + gradient_floats(s) : 0;
}

void direct_conv_forward(Pool *pool, const ConvShape *s, const float *in, const float *weight,
                         float *out, float *work)
{
    Valid v = {.in = padded(pool, in, s->c, s->h, s->w, s->pad, work),
               .c = s->c,
               .h = s->h + 2 * s->pad,
               .w = s->w + 2 * s->pad,
               .weight = weight,
               .oc = s->oc,
               .k = s->k,
               .out = out,
               .oh = s->oh,
               .ow = s->ow};
    pool_run(pool, valid_part, &v);
}

// ---- weight gradient ----

typedef struct {
    const ConvShape *s;
    const float *in; // padded: (c, h + 2 pad, w + 2 pad)
    const float *dout;
    float *dweight;
} WeightGrad;

// dweight[o0..o0+ob)[c][ky][kx0..kx0+kb): every output row's products with the input row ky
// below it shifted by kx, summed in vector lanes and reduced once.
static inline __attribute__((always_inline)) void weight_block(const WeightGrad *g, int c, int ky,
                                                               int o0, int kx0, const int ob,
                                                               const int kb)
{
    const ConvShape *s = g->s;
    const int iw = s->w + 2 * s->pad, ih = s->h + 2 * s->pad, ow = s->ow;
    const int vec_end = ow - ow % LANES;
    Vec acc[MAX_BLOCK][MAX_BLOCK];
    float tail[MAX_BLOCK][MAX_BLOCK] = {{0}};
    for (int o = 0; o < ob; o++)
        for (int j = 0; j < kb; j++)
            splat(&acc[o][j], 0.0f);
    for (int oy = 0; oy < s->oh; oy++) {
        const float *x = g->in + ((size_t)c * ih + oy + ky) * iw + kx0;
        const float *d[MAX_BLOCK];
        for (int o = 0; o < ob; o++)
            d[o] = g->dout + ((size_t)(o0 + o) * s->oh + oy) * ow;
        for (int i = 0; i < vec_end; i += LANES) {
            Vec dv[MAX_BLOCK];
            for (int o = 0; o < ob; o++)
                load(&dv[o], d[o] + i);
            for (int j = 0; j < kb; j++) {
                Vec xv;
                load(&xv, x + i + j);
                for (int o = 0; o < ob; o++)
                    acc[o][j] += dv[o] * xv;
            }
        }
        for (int i = vec_end; i < ow; i++)
            for (int o = 0; o < ob; o++)
                for (int j = 0; j < kb; j++)
                    tail[o][j] += d[o][i] * x[i + j];
    }
    const int k = s->k;
    for (int o = 0; o < ob; o++)
        for (int j = 0; j < kb; j++)
            g->dweight[(((size_t)(o0 + o) * s->c + c) * k + ky) * k + kx0 + j] +=
                sum_lanes(&acc[o][j]) + tail[o][j];
}

#define WEIGHT_CASE(OB, KB)                                                                     \
    case OB * 8 + KB:                                                                           \
        weight_block(g, c, ky, o0, kx0, OB, KB);                                                \
        break;
#if MAX_BLOCK == 4
#define WEIGHT_CASES(OB) WEIGHT_CASE(OB, 1) WEIGHT_CASE(OB, 2) WEIGHT_CASE(OB, 3) WEIGHT_CASE(OB, 4)
#else
#define WEIGHT_CASES(OB) WEIGHT_CASE(OB, 1) WEIGHT_CASE(OB, 2) WEIGHT_CASE(OB, 3)
#endif

// Split by (input channel, kernel row): each owns the slice dweight[:, c, ky, :]. Output
// channels outermost, so that a block of the output gradient stays in cache over every pair.
static void weight_part(void *ctx, int t, int n)
{
    const WeightGrad *g = ctx;
    const ConvShape *s = g->s;
    size_t p0, p1;
    pool_split((size_t)s->c * s->k, t, n, &p0, &p1);
    for (int o0 = 0; o0 < s->oc; o0 += MAX_BLOCK)
        for (size_t p = p0; p < p1; p++)
            for (int kx0 = 0; kx0 < s->k; kx0 += MAX_BLOCK) {
                const int c = (int)(p / s->k), ky = (int)(p % s->k);
                const int ob = s->oc - o0 < MAX_BLOCK ? s->oc - o0 : MAX_BLOCK;
                const int kb = s->k - kx0 < MAX_BLOCK ? s->k - kx0 : MAX_BLOCK;
                switch (ob * 8 + kb) {
                    WEIGHT_CASES(1) WEIGHT_CASES(2) WEIGHT_CASES(3)
#if MAX_BLOCK == 4
                    WEIGHT_CASES(4)
#endif
                default: break;
                }
            }
}

// ---- data gradient: the turned kernel over the padded output gradient ----

typedef struct {
    const float *weight;
    int oc, c, k;
    float *turned; // (c, oc, k, k)
} Turn;

static void turn_part(void *ctx, int t, int n)
{
    const Turn *r = ctx;
    const int kk = r->k * r->k;
    size_t c0, c1;
    pool_split((size_t)r->c, t, n, &c0, &c1);
    for (size_t c = c0; c < c1; c++)
        for (int o = 0; o < r->oc; o++)
            for (int i = 0; i < kk; i++)
                r->turned[(c * r->oc + o) * kk + i] =
                    r->weight[((size_t)o * r->c + c) * kk + (kk - 1 - i)];
}

static void data_backward(Pool *pool, const ConvShape *s, const float *weight, const float *dout,
                          float *din, float *work)
{
    const int q = s->k - 1 - s->pad;
    float *dpad = work, *turned = work + (size_t)s->oc * (s->oh + 2 * q) * (s->ow + 2 * q);
    Pad p = {.src = dout, .c = s->oc, .h = s->oh, .w = s->ow, .pad = q, .dst = dpad};
    pool_run(pool, pad_part, &p);
    Turn r = {.weight = weight, .oc = s->oc, .c = s->c, .k = s->k, .turned = turned};
    pool_run(pool, turn_part, &r);
    Valid v = {.in = dpad,
               .c = s->oc,
               .h = s->oh + 2 * q,
               .w = s->ow + 2 * q,
               .weight = turned,
               .oc = s->c,
               .k = s->k,
               .out = din,
               .oh = s->h,
               .ow = s->w,
               .add = true};
    pool_run(pool, valid_part, &v);
}

void direct_conv_backward(Pool *pool, const ConvShape *s, const float *in, const float *weight,
                          const float *dout, float *din, float *dweight, float *work)
{
    if (dweight) {
        WeightGrad g = {.s = s,
                        .in = padded(pool, in, s->c, s->h, s->w, s->pad, work),
                        .dout = dout,
                        .dweight = dweight};
        pool_run(pool, weight_part, &g);
    }
    if (din)
        data_backward(pool, s, weight, dout, din, work + input_floats(s));
}
