#include "core/nn/winograd.h"

#include <cblas.h>
#include <stdatomic.h>
#include <string.h>

#include "core/nn/direct_conv.h"
#include "core/nn/winograd4.h"

static _Atomic int mode = WINOGRAD_BY_SHAPE;
static _Atomic bool large_tiles = true;

void winograd_set_mode(WinogradMode m)
{
    atomic_store(&mode, (int)m);
}

WinogradMode winograd_mode(void)
{
    return (WinogradMode)atomic_load(&mode);
}

void winograd_set_large_tiles(bool on)
{
    atomic_store(&large_tiles, on);
}

bool winograd_large_tiles(void)
{
    return atomic_load(&large_tiles);
}

static size_t tiles_of(int oh, int ow)
{
    return (size_t)((oh + 1) / 2) * (size_t)((ow + 1) / 2);
}

size_t winograd_output_tiles(const ConvShape *s)
{
    return tiles_of(s->oh, s->ow);
}

bool winograd_eligible(const ConvShape *s)
{
    return !s->transposed && s->k == 3 && s->stride == 1 && !direct_conv_applies(s);
}

static bool applies(const ConvShape *s, WinogradPass pass, size_t tiles, size_t min_tiles)
{
    int m = atomic_load(&mode);
    if (m == WINOGRAD_NEVER || !winograd_eligible(s))
        return false;
    if (m == WINOGRAD_ALWAYS)
        return true;
    if (s->winograd_pick[pass] != WINOGRAD_PICK_RULE)
        return s->winograd_pick[pass] != WINOGRAD_PICK_IM2COL;
    return tiles >= min_tiles;
}

bool winograd_forward_applies(const ConvShape *s)
{
    return applies(s, WINOGRAD_PASS_FORWARD, tiles_of(s->oh, s->ow), WINOGRAD_MIN_TILES_FORWARD);
}

bool winograd_backward_applies(const ConvShape *s)
{
    return applies(s, WINOGRAD_PASS_DATA, tiles_of(s->h, s->w), WINOGRAD_MIN_TILES_BACKWARD);
}

bool winograd_weight_applies(const ConvShape *s)
{
    return applies(s, WINOGRAD_PASS_WEIGHT, tiles_of(s->oh, s->ow), WINOGRAD_MIN_TILES_WEIGHT);
}

// One Winograd convolution: in (c, h, w), zero-padded by pad, with the transformed kernel
// u [16][oc][c] into out (oc, oh, ow), overwritten or added to.
typedef struct {
    const float *in;
    int c, h, w, pad;
    const float *weight; // the layer's (OC, C, 3, 3) weight, for the kernel transform
    bool flipped;        // the data gradient's kernel: turned 180 degrees, channels swapped
    const float *u;      // the transformed kernel: given (winograd_transform_kernel) or u_work
    float *u_work;
    int oc;
    float *out;
    int oh, ow;
    bool add;
    int tiles_x, tiles;
    float *v, *m; // [16][c][tiles], [16][oc][tiles]
} Wino;

size_t winograd_workspace_floats(const ConvShape *s)
{
    if (!winograd_eligible(s))
        return 0;
    // Forward: c -> oc over the output's tiles; data gradient: oc -> c over the input's.
    size_t fwd = 16 * ((size_t)s->oc * s->c + (s->c + (size_t)s->oc) * tiles_of(s->oh, s->ow));
    size_t bwd = 16 * ((size_t)s->oc * s->c + (s->c + (size_t)s->oc) * tiles_of(s->h, s->w));
    size_t most = fwd > bwd ? fwd : bwd, large = winograd4_workspace_floats(s);
    return large > most ? large : most;
}

// u[xi][o][i] = (G g G^T)[xi] for each output channel o of this thread and input channel i,
// with G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1].
static void kernel_part(void *ctx, int t, int n)
{
    const Wino *j = ctx;
    size_t o0, o1;
    pool_split((size_t)j->oc, t, n, &o0, &o1);
    const size_t plane = (size_t)j->oc * j->c;
    for (size_t o = o0; o < o1; o++)
        for (int i = 0; i < j->c; i++) {
            // The layer's weight is (OC, C, 3, 3); the gradient's kernel for (o, i) is the
            // layer's (i, o) turned by 180 degrees.
            float g[9];
            const float *src = j->flipped ? j->weight + ((size_t)i * j->oc + o) * 9
                                          : j->weight + (o * j->c + (size_t)i) * 9;
            for (int k = 0; k < 9; k++)
                g[k] = j->flipped ? src[8 - k] : src[k];
            float gg[4][3]; // G g
            for (int x = 0; x < 3; x++) {
                float a = g[x], b = g[3 + x], c = g[6 + x];
                gg[0][x] = a;
                gg[1][x] = 0.5f * (a + b + c);
                gg[2][x] = 0.5f * (a - b + c);
                gg[3][x] = c;
            }
            for (int y = 0; y < 4; y++) {
                float a = gg[y][0], b = gg[y][1], c = gg[y][2];
                float *u = j->u_work + (size_t)(4 * y) * plane + o * j->c + (size_t)i;
                u[0] = a;
                u[plane] = 0.5f * (a + b + c);
                u[2 * plane] = 0.5f * (a - b + c);
                u[3 * plane] = c;
            }
        }
}

// v[xi][c][tile] = (B^T d B)[xi] for this thread's channels, d the tile's 4x4 input (zero
// outside the picture), B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]. A row of tiles at a
// time: B^T down the columns of its four input rows (one vector loop over x), then B across
// each tile (a loop over the tiles, stride 2 in x).
static void input_part(void *ctx, int t, int n)
{
    const Wino *j = ctx;
    size_t c0, c1;
    pool_split((size_t)j->c, t, n, &c0, &c1);
    const size_t plane = (size_t)j->c * j->tiles;
    const int tx = j->tiles_x, ty = j->tiles / tx, pw = 2 * tx + 2; // padded row width
    float rows[4][pw], col[4][pw];
    for (size_t c = c0; c < c1; c++) {
        const float *img = j->in + c * j->h * j->w;
        for (int r = 0; r < ty; r++) {
            const float *row[4];
            for (int y = 0; y < 4; y++) { // the input rows, zero-padded left and right
                int iy = 2 * r - j->pad + y;
                const bool inside = iy >= 0 && iy < j->h;
                const float *src = inside ? img + (size_t)iy * j->w : NULL;
                if (inside && j->pad == 0 && pw <= j->w) {
                    row[y] = src; // inside the picture: read in place
                    continue;
                }
                float *dst = rows[y];
                row[y] = dst;
                if (!inside) {
                    memset(dst, 0, sizeof(float) * (size_t)pw);
                    continue;
                }
                for (int x = 0; x < pw; x++) {
                    int ix = x - j->pad;
                    dst[x] = ix >= 0 && ix < j->w ? src[ix] : 0.0f;
                }
            }
            for (int x = 0; x < pw; x++) {
                col[0][x] = row[0][x] - row[2][x];
                col[1][x] = row[1][x] + row[2][x];
                col[2][x] = row[2][x] - row[1][x];
                col[3][x] = row[1][x] - row[3][x];
            }
            for (int y = 0; y < 4; y++) {
                float *v0 = j->v + (size_t)(4 * y) * plane + c * j->tiles + (size_t)r * tx;
                float *v1 = v0 + plane, *v2 = v1 + plane, *v3 = v2 + plane;
                const float *q = col[y];
                for (int k = 0; k < tx; k++) {
                    const float *p = q + 2 * k;
                    v0[k] = p[0] - p[2];
                    v1[k] = p[1] + p[2];
                    v2[k] = p[2] - p[1];
                    v3[k] = p[1] - p[3];
                }
            }
        }
    }
}

// m[xi] (oc, tiles) = u[xi] (oc, c) x v[xi] (c, tiles), for this thread's positions xi.
static void gemm_part(void *ctx, int t, int n)
{
    const Wino *j = ctx;
    size_t x0, x1;
    pool_split(16, t, n, &x0, &x1);
    for (size_t xi = x0; xi < x1; xi++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->oc, j->tiles, j->c, 1.0f,
                    j->u + xi * j->oc * j->c, j->c, j->v + xi * j->c * j->tiles, j->tiles, 0.0f,
                    j->m + xi * j->oc * j->tiles, j->tiles);
}

// out tile = A^T m A for this thread's output channels, A^T = [1 1 1 0; 0 1 -1 -1]; a row of
// tiles at a time, as input_part.
static void output_part(void *ctx, int t, int n)
{
    const Wino *j = ctx;
    size_t o0, o1;
    pool_split((size_t)j->oc, t, n, &o0, &o1);
    const size_t plane = (size_t)j->oc * j->tiles;
    const int tx = j->tiles_x, ty = j->tiles / tx;
    float s0[4][tx], s1[4][tx], row0[2 * tx], row1[2 * tx];
    for (size_t o = o0; o < o1; o++) {
        float *dst = j->out + o * j->oh * j->ow;
        for (int r = 0; r < ty; r++) {
            const float *m = j->m + o * j->tiles + (size_t)r * tx;
            for (int x = 0; x < 4; x++) { // A^T down each column of the 4x4 products
                const float *m0 = m + (size_t)x * plane, *m1 = m0 + 4 * plane;
                const float *m2 = m1 + 4 * plane, *m3 = m2 + 4 * plane;
                for (int k = 0; k < tx; k++) {
                    s0[x][k] = m0[k] + m1[k] + m2[k];
                    s1[x][k] = m1[k] - m2[k] - m3[k];
                }
            }
            for (int k = 0; k < tx; k++) { // and A across
                row0[2 * k] = s0[0][k] + s0[1][k] + s0[2][k];
                row0[2 * k + 1] = s0[1][k] - s0[2][k] - s0[3][k];
                row1[2 * k] = s1[0][k] + s1[1][k] + s1[2][k];
                row1[2 * k + 1] = s1[1][k] - s1[2][k] - s1[3][k];
            }
            const float *src[2] = {row0, row1};
            for (int y = 0; y < 2 && 2 * r + y < j->oh; y++) {
                float *out = dst + (size_t)(2 * r + y) * j->ow;
                if (j->add)
                    for (int x = 0; x < j->ow; x++)
                        out[x] += src[y][x];
                else
                    memcpy(out, src[y], sizeof(float) * (size_t)j->ow);
            }
        }
    }
}

// ---- the weight gradient in the transformed domain ----
// y = A^T [(G g G^T) . (B^T d B)] A per tile, so with m = u . v: dm = A dy A^T (4x4 from each
// 2x2 tile of the output gradient), du[xi] (oc, c) = sum over tiles of dm[xi] v[xi]^T (16 GEMMs),
// and dg = G^T du G. 16 multiplies per tile and channel pair instead of 36, as forward.

typedef struct {
    const Wino *j;
    const float *dout; // (oc, oh, ow)
    float *dm;         // [16][oc][tiles]
    float *du;         // [16][oc][c]
    float *dweight;    // (oc, c, 3, 3), added to
} WinoGrad;

// dm[xi][o][tile] = (A dy A^T)[xi], A = [1 0; 1 1; 1 -1; 0 -1], dy zero past the output's edge;
// a row of tiles at a time, as input_part: A down the columns (p, q: the tiles' left and right
// column), then A^T across, one vector loop per position.
static void gradient_part(void *ctx, int t, int n)
{
    const WinoGrad *g = ctx;
    const Wino *j = g->j;
    size_t o0, o1;
    pool_split((size_t)j->oc, t, n, &o0, &o1);
    const size_t plane = (size_t)j->oc * j->tiles;
    const int tx = j->tiles_x, ty = j->tiles / tx, pw = 2 * tx;
    float rows[2][pw], p[4][tx], q[4][tx];
    for (size_t o = o0; o < o1; o++)
        for (int r = 0; r < ty; r++) {
            for (int y = 0; y < 2; y++) { // dy's two rows, zero past the edge
                int oy = 2 * r + y;
                for (int x = 0; x < pw; x++)
                    rows[y][x] = oy < j->oh && x < j->ow
                                     ? g->dout[(o * j->oh + (size_t)oy) * j->ow + x]
                                     : 0.0f;
            }
            for (int k = 0; k < tx; k++) {
                float a = rows[0][2 * k], b = rows[0][2 * k + 1];
                float c = rows[1][2 * k], d = rows[1][2 * k + 1];
                p[0][k] = a, q[0][k] = b;
                p[1][k] = a + c, q[1][k] = b + d;
                p[2][k] = a - c, q[2][k] = b - d;
                p[3][k] = -c, q[3][k] = -d;
            }
            for (int y = 0; y < 4; y++) {
                float *d0 = g->dm + (size_t)(4 * y) * plane + o * j->tiles + (size_t)r * tx;
                float *d1 = d0 + plane, *d2 = d1 + plane, *d3 = d2 + plane;
                for (int k = 0; k < tx; k++) {
                    d0[k] = p[y][k];
                    d1[k] = p[y][k] + q[y][k];
                    d2[k] = p[y][k] - q[y][k];
                    d3[k] = -q[y][k];
                }
            }
        }
}

// du[xi] (oc, c) = dm[xi] (oc, tiles) x v[xi]^T (tiles, c), for this thread's positions xi.
static void gradient_gemm_part(void *ctx, int t, int n)
{
    const WinoGrad *g = ctx;
    const Wino *j = g->j;
    size_t x0, x1;
    pool_split(16, t, n, &x0, &x1);
    for (size_t xi = x0; xi < x1; xi++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, j->oc, j->c, j->tiles, 1.0f,
                    g->dm + xi * j->oc * j->tiles, j->tiles, j->v + xi * j->c * j->tiles,
                    j->tiles, 0.0f, g->du + xi * j->oc * j->c, j->c);
}

// dweight[o][i] += G^T du G for this thread's output channels, G^T = [1 1/2 1/2 0; 0 1/2 -1/2 0;
// 0 1/2 1/2 1].
static void weight_part(void *ctx, int t, int n)
{
    const WinoGrad *g = ctx;
    const Wino *j = g->j;
    size_t o0, o1;
    pool_split((size_t)j->oc, t, n, &o0, &o1);
    const size_t plane = (size_t)j->oc * j->c;
    for (size_t o = o0; o < o1; o++)
        for (int i = 0; i < j->c; i++) {
            const float *du = g->du + o * j->c + (size_t)i;
            float tg[4][3]; // du G, row by row
            for (int y = 0; y < 4; y++) {
                float a = du[(4 * y) * plane], b = du[(4 * y + 1) * plane];
                float c = du[(4 * y + 2) * plane], d = du[(4 * y + 3) * plane];
                tg[y][0] = a + 0.5f * (b + c);
                tg[y][1] = 0.5f * (b - c);
                tg[y][2] = 0.5f * (b + c) + d;
            }
            float *dw = g->dweight + (o * j->c + (size_t)i) * 9;
            for (int x = 0; x < 3; x++) { // G^T down the columns
                float a = tg[0][x], b = tg[1][x], c = tg[2][x], d = tg[3][x];
                dw[x] += a + 0.5f * (b + c);
                dw[3 + x] += 0.5f * (b - c);
                dw[6 + x] += 0.5f * (b + c) + d;
            }
        }
}

// The kernel is transformed here unless j->u is given.
static void run(Pool *pool, Wino *j, float *work)
{
    j->tiles_x = (j->ow + 1) / 2;
    j->tiles = (int)tiles_of(j->oh, j->ow);
    j->u_work = work;
    j->v = j->u_work + 16 * (size_t)j->oc * j->c;
    j->m = j->v + 16 * (size_t)j->c * j->tiles;
    if (!j->u) {
        pool_run(pool, kernel_part, j);
        j->u = j->u_work;
    }
    pool_run(pool, input_part, j);
    pool_run(pool, gemm_part, j);
    pool_run(pool, output_part, j);
}


size_t winograd_kernel_floats(const ConvShape *s)
{
    if (!winograd_eligible(s))
        return 0;
    return winograd_large_tiles() ? winograd4_kernel_floats(s) : 16 * (size_t)s->oc * s->c;
}

void winograd_transform_kernel(Pool *pool, const ConvShape *s, const float *weight, float *u)
{
    if (winograd_large_tiles()) {
        winograd4_transform_kernel(pool, s, weight, u);
        return;
    }
    Wino j = {.c = s->c, .weight = weight, .oc = s->oc, .u_work = u};
    pool_run(pool, kernel_part, &j);
}

void winograd_forward_transformed(Pool *pool, const ConvShape *s, const float *in, const float *u,
                                  float *out, float *work)
{
    if (winograd_large_tiles()) {
        winograd4_forward(pool, s, in, u, out, work);
        return;
    }
    Wino j = {.in = in,
              .c = s->c,
              .h = s->h,
              .w = s->w,
              .pad = s->pad,
              .u = u,
              .oc = s->oc,
              .out = out,
              .oh = s->oh,
              .ow = s->ow};
    run(pool, &j, work);
}

// Whether a pass of s measured F(4x4, 3x3) fastest (winograd_pick.h); the rule and
// WINOGRAD_ALWAYS take F(2x2, 3x3).
static bool picked_large(const ConvShape *s, WinogradPass pass)
{
    return atomic_load(&mode) == WINOGRAD_BY_SHAPE &&
           s->winograd_pick[pass] == WINOGRAD_PICK_WINOGRAD4;
}

void winograd_forward(Pool *pool, const ConvShape *s, const float *in, const float *weight,
                      float *out, float *work)
{
    if (picked_large(s, WINOGRAD_PASS_FORWARD)) {
        winograd4_forward_weight(pool, s, in, weight, out, work);
        return;
    }
    Wino j = {.in = in,
              .c = s->c,
              .h = s->h,
              .w = s->w,
              .pad = s->pad,
              .weight = weight,
              .oc = s->oc,
              .out = out,
              .oh = s->oh,
              .ow = s->ow};
    run(pool, &j, work);
}

void winograd_data_backward(Pool *pool, const ConvShape *s, const float *weight, const float *dout,
                            float *din, float *work)
{
    if (picked_large(s, WINOGRAD_PASS_DATA)) {
        winograd4_data_backward(pool, s, weight, dout, din, work);
        return;
    }
    // din = the full correlation of dout with the turned kernel: dout zero-padded by 2 - pad
    // (the input side had pad), its C output channels over its OC input channels.
    Wino j = {.in = dout,
              .c = s->oc,
              .h = s->oh,
              .w = s->ow,
              .pad = 2 - s->pad,
              .weight = weight,
              .flipped = true,
              .oc = s->c,
              .out = din,
              .oh = s->h,
              .ow = s->w,
              .add = true};
    run(pool, &j, work);
}

void winograd_weight_backward(Pool *pool, const ConvShape *s, const float *in, const float *dout,
                              float *dweight, float *work)
{
    // The forward's tiles (2x2 of the output) and input transform; its product buffer m holds
    // dm here, and its kernel buffer u holds du.
    Wino j = {.in = in, .c = s->c, .h = s->h, .w = s->w, .pad = s->pad, .oc = s->oc,
              .oh = s->oh, .ow = s->ow};
    j.tiles_x = (j.ow + 1) / 2;
    j.tiles = (int)tiles_of(j.oh, j.ow);
    j.u_work = work;
    j.v = j.u_work + 16 * (size_t)j.oc * j.c;
    j.m = j.v + 16 * (size_t)j.c * j.tiles;
    WinoGrad g = {.j = &j, .dout = dout, .dm = j.m, .du = j.u_work, .dweight = dweight};
    pool_run(pool, input_part, &j);
    pool_run(pool, gradient_part, &g);
    pool_run(pool, gradient_gemm_part, &g);
    pool_run(pool, weight_part, &g);
}
