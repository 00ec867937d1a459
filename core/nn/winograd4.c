#include "core/nn/winograd4.h"

#include <cblas.h>
#include <stdbool.h>
#include <string.h>

#include "core/nn/winograd_gemm.h"

// B^T (6x6), G (6x3) and A^T (4x6) as Lavin & Gray give them for F(4x4, 3x3):
//   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
//   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
// Position xi = 6 y + x of a transformed tile.

typedef struct {
    const float *in;
    int c, h, w, pad;
    const float *weight; // for the kernel transform
    bool flipped;        // the data gradient's kernel: turned 180 degrees, channels swapped
    const float *u;      // [36][oc][c], or packed by winograd_gemm.h's layout
    bool packed;         // u in winograd_gemm.h's layout (kept kernels, where it is built)
    float *u_out;
    int oc;
    float *out;
    int oh, ow;
    bool add; // out is added to instead of overwritten
    int tiles_x, tiles;
    float *v, *m; // [36][c][tiles], [36][oc][tiles]
} Wino4;

size_t winograd4_tiles(int oh, int ow)
{
    return (size_t)((oh + 3) / 4) * (size_t)((ow + 3) / 4);
}

// Whether kept kernels are packed for winograd_gemm.h.
static bool packs(void)
{
    return winograd_gemm_available();
}

// Floats of one position of u: packed, or (oc, c).
static size_t position_floats(bool packed, int oc, int c)
{
    return packed ? winograd_gemm_packed_floats(oc, c) : (size_t)oc * c;
}

size_t winograd4_kernel_floats(const ConvShape *s)
{
    return 36 * position_floats(packs(), s->oc, s->c);
}

size_t winograd4_workspace_floats(const ConvShape *s)
{
    // Training transforms the kernel into the scratch too; the data gradient's tiles are the
    // input's (its output), with the channels swapped.
    size_t out_tiles = winograd4_tiles(s->oh, s->ow), in_tiles = winograd4_tiles(s->h, s->w);
    size_t tiles = out_tiles > in_tiles ? out_tiles : in_tiles;
    return winograd4_kernel_floats(s) + 36 * ((size_t)s->c + s->oc) * tiles;
}

// Kernels are transformed in runs of this many input channels: the run's 3x3 taps are gathered
// into vectors, transformed in vector loops, and each of the 36 positions stored contiguously
// (one kernel at a time, with strided stores, cost as much as the F(4x4) forward at 128
// channels). Training transforms the kernel on every call.
enum { KERNEL_RUN = 64 };

// out[0..5] = G (a, b, c) for a run of n vectors: a column or a row of n 3x3 kernels.
static void g_times(const float *a, const float *b, const float *c, int n, float out[6][KERNEL_RUN])
{
    const float sixth = 1.0f / 6.0f, twelfth = 1.0f / 12.0f, twentyfourth = 1.0f / 24.0f;
    for (int r = 0; r < n; r++) {
        out[0][r] = 0.25f * a[r];
        out[1][r] = -(a[r] + b[r] + c[r]) * sixth;
        out[2][r] = -(a[r] - b[r] + c[r]) * sixth;
        out[3][r] = a[r] * twentyfourth + b[r] * twelfth + c[r] * sixth;
        out[4][r] = a[r] * twentyfourth - b[r] * twelfth + c[r] * sixth;
        out[5][r] = c[r];
    }
}

// u[xi][o][i] = (G g G^T)[xi] for this thread's output channels, a run of input channels at a
// time.
static void kernel_part(void *ctx, int t, int n)
{
    const Wino4 *j = ctx;
    size_t o0, o1;
    pool_split((size_t)j->oc, t, n, &o0, &o1);
    const size_t plane = position_floats(j->packed, j->oc, j->c);
    float g[9][KERNEL_RUN], gg[3][6][KERNEL_RUN], row[6][KERNEL_RUN];
    for (size_t o = o0; o < o1; o++)
        for (int i0 = 0; i0 < j->c; i0 += KERNEL_RUN) {
            const int len = j->c - i0 < KERNEL_RUN ? j->c - i0 : KERNEL_RUN;
            // The layer's weight is (OC, C, 3, 3); the gradient's kernel for (o, i) is the
            // layer's (i, o) turned by 180 degrees.
            for (int r = 0; r < len; r++) {
                const size_t i = (size_t)(i0 + r);
                const float *src = j->flipped ? j->weight + (i * j->oc + o) * 9
                                              : j->weight + (o * j->c + i) * 9;
                for (int k = 0; k < 9; k++)
                    g[k][r] = j->flipped ? src[8 - k] : src[k];
            }
            for (int x = 0; x < 3; x++) // G g, column by column of g
                g_times(g[x], g[3 + x], g[6 + x], len, gg[x]);
            for (int y = 0; y < 6; y++) { // and G^T across
                g_times(gg[0][y], gg[1][y], gg[2][y], len, row);
                float *u = j->u_out + (size_t)(6 * y) * plane;
                for (int x = 0; x < 6; x++) {
                    float *ux = u + x * plane;
                    if (!j->packed) {
                        memcpy(ux + o * j->c + (size_t)i0, row[x], sizeof(float) * (size_t)len);
                        continue;
                    }
                    for (int r = 0; r < len; r++)
                        ux[winograd_gemm_packed_index((int)o, i0 + r, j->c)] = row[x][r];
                }
            }
        }
}

// v[xi][c][tile] = (B^T d B)[xi] for this thread's channels, a row of tiles at a time: B^T down
// the columns of its six input rows (vector loops over x), then each column split by x mod 4 so
// that B across the tiles reads unit-stride (vector loops over the tiles, not stride-4 gathers).
static void input_part(void *ctx, int t, int n)
{
    const Wino4 *j = ctx;
    size_t c0, c1;
    pool_split((size_t)j->c, t, n, &c0, &c1);
    const size_t plane = (size_t)j->c * j->tiles;
    const int tx = j->tiles_x, ty = j->tiles / tx, pw = 4 * tx + 2; // padded row width
    float rows[6][pw], col[6][pw], ph[4][tx + 1]; // ph[j][k] = a column's x = 4 k + j
    for (size_t c = c0; c < c1; c++) {
        const float *img = j->in + c * j->h * j->w;
        for (int r = 0; r < ty; r++) {
            const float *d[6];
            for (int y = 0; y < 6; y++) { // the input rows, zero-padded
                int iy = 4 * r - j->pad + y;
                const bool inside = iy >= 0 && iy < j->h;
                const float *src = inside ? img + (size_t)iy * j->w : NULL;
                if (inside && j->pad == 0 && pw <= j->w) {
                    d[y] = src; // inside the picture: read in place
                    continue;
                }
                d[y] = rows[y];
                if (!inside) {
                    memset(rows[y], 0, sizeof(float) * (size_t)pw);
                    continue;
                }
                for (int x = 0; x < pw; x++) {
                    int ix = x - j->pad;
                    rows[y][x] = ix >= 0 && ix < j->w ? src[ix] : 0.0f;
                }
            }
            for (int x = 0; x < pw; x++) {
                col[0][x] = 4.0f * d[0][x] - 5.0f * d[2][x] + d[4][x];
                col[1][x] = -4.0f * (d[1][x] + d[2][x]) + d[3][x] + d[4][x];
                col[2][x] = 4.0f * (d[1][x] - d[2][x]) - d[3][x] + d[4][x];
                col[3][x] = 2.0f * (d[3][x] - d[1][x]) - d[2][x] + d[4][x];
                col[4][x] = 2.0f * (d[1][x] - d[3][x]) - d[2][x] + d[4][x];
                col[5][x] = 4.0f * d[1][x] - 5.0f * d[3][x] + d[5][x];
            }
            for (int y = 0; y < 6; y++) {
                float *v[6];
                v[0] = j->v + (size_t)(6 * y) * plane + c * j->tiles + (size_t)r * tx;
                for (int x = 1; x < 6; x++)
                    v[x] = v[x - 1] + plane;
                const float *q = col[y];
                for (int k = 0; k < tx; k++)
                    for (int i = 0; i < 4; i++)
                        ph[i][k] = q[4 * k + i];
                ph[0][tx] = q[4 * tx], ph[1][tx] = q[4 * tx + 1]; // the last tile's x + 4, x + 5
                const float *p0 = ph[0], *p1 = ph[1], *p2 = ph[2], *p3 = ph[3];
                const float *p4 = ph[0] + 1, *p5 = ph[1] + 1;
#pragma omp simd // the rows written are distinct arrays: vectorise despite the pointers
                for (int k = 0; k < tx; k++) {
                    v[0][k] = 4.0f * p0[k] - 5.0f * p2[k] + p4[k];
                    v[1][k] = -4.0f * (p1[k] + p2[k]) + p3[k] + p4[k];
                    v[2][k] = 4.0f * (p1[k] - p2[k]) - p3[k] + p4[k];
                    v[3][k] = 2.0f * (p3[k] - p1[k]) - p2[k] + p4[k];
                    v[4][k] = 2.0f * (p1[k] - p3[k]) - p2[k] + p4[k];
                    v[5][k] = 4.0f * p1[k] - 5.0f * p3[k] + p5[k];
                }
            }
        }
    }
}

// m[xi] (oc, tiles) = u[xi] (oc, c) x v[xi] (c, tiles), for this thread's positions xi.
static void gemm_part(void *ctx, int t, int n)
{
    const Wino4 *j = ctx;
    size_t x0, x1;
    pool_split(36, t, n, &x0, &x1);
    const size_t plane = position_floats(j->packed, j->oc, j->c);
    for (size_t xi = x0; xi < x1; xi++) {
        const float *v = j->v + xi * j->c * j->tiles;
        float *m = j->m + xi * j->oc * j->tiles;
        if (j->packed)
            winograd_gemm(j->u + xi * plane, j->oc, j->c, v, j->tiles, m);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, j->oc, j->tiles, j->c, 1.0f,
                        j->u + xi * plane, j->c, v, j->tiles, 0.0f, m, j->tiles);
    }
}

// out tile = A^T m A for this thread's output channels, a row of tiles at a time.
static void output_part(void *ctx, int t, int n)
{
    const Wino4 *j = ctx;
    size_t o0, o1;
    pool_split((size_t)j->oc, t, n, &o0, &o1);
    const size_t plane = (size_t)j->oc * j->tiles;
    const int tx = j->tiles_x, ty = j->tiles / tx;
    float s[4][6][tx], row[4][4 * tx];
    for (size_t o = o0; o < o1; o++) {
        float *dst = j->out + o * j->oh * j->ow;
        for (int r = 0; r < ty; r++) {
            const float *m = j->m + o * j->tiles + (size_t)r * tx;
            for (int x = 0; x < 6; x++) { // A^T down each column of the 6x6 products
                const float *m0 = m + (size_t)x * plane, *m1 = m0 + 6 * plane;
                const float *m2 = m1 + 6 * plane, *m3 = m2 + 6 * plane;
                const float *m4 = m3 + 6 * plane, *m5 = m4 + 6 * plane;
#pragma omp simd // the rows written are distinct arrays: vectorise despite the pointers
                for (int k = 0; k < tx; k++) {
                    float a = m1[k] + m2[k], b = m1[k] - m2[k];
                    float c = m3[k] + m4[k], d = m3[k] - m4[k];
                    s[0][x][k] = m0[k] + a + c;
                    s[1][x][k] = b + 2.0f * d;
                    s[2][x][k] = a + 4.0f * c;
                    s[3][x][k] = b + 8.0f * d + m5[k];
                }
            }
            for (int y = 0; y < 4; y++) { // and A across
                const float(*q)[tx] = s[y];
#pragma omp simd // the rows written are distinct arrays: vectorise despite the pointers
                for (int k = 0; k < tx; k++) {
                    float a = q[1][k] + q[2][k], b = q[1][k] - q[2][k];
                    float c = q[3][k] + q[4][k], d = q[3][k] - q[4][k];
                    row[y][4 * k] = q[0][k] + a + c;
                    row[y][4 * k + 1] = b + 2.0f * d;
                    row[y][4 * k + 2] = a + 4.0f * c;
                    row[y][4 * k + 3] = b + 8.0f * d + q[5][k];
                }
            }
            for (int y = 0; y < 4 && 4 * r + y < j->oh; y++) {
                float *out = dst + (size_t)(4 * r + y) * j->ow;
                if (j->add)
                    for (int x = 0; x < j->ow; x++)
                        out[x] += row[y][x];
                else
                    memcpy(out, row[y], sizeof(float) * (size_t)j->ow);
            }
        }
    }
}

void winograd4_transform_kernel(Pool *pool, const ConvShape *s, const float *weight, float *u)
{
    Wino4 j = {.c = s->c, .weight = weight, .packed = packs(), .oc = s->oc, .u_out = u};
    if (j.packed) // the block's channels past oc stay zero
        memset(u, 0, winograd4_kernel_floats(s) * sizeof(float));
    pool_run(pool, kernel_part, &j);
}

// The kernel is transformed into work first unless j->u is given.
static void run(Pool *pool, Wino4 *j, float *work)
{
    j->tiles_x = (j->ow + 3) / 4;
    j->tiles = (int)winograd4_tiles(j->oh, j->ow);
    if (!j->u) {
        j->u_out = work;
        pool_run(pool, kernel_part, j);
        j->u = work;
        work += 36 * (size_t)j->oc * j->c;
    }
    j->v = work;
    j->m = j->v + 36 * (size_t)j->c * j->tiles;
    pool_run(pool, input_part, j);
    pool_run(pool, gemm_part, j);
    pool_run(pool, output_part, j);
}

// s's forward as a job: with the kept kernel u (packed where this build packs), or with the
// layer's weight, transformed by run().
static Wino4 forward_job(const ConvShape *s, const float *in, const float *u, const float *weight,
                         float *out)
{
    return (Wino4){.in = in,
                   .c = s->c,
                   .h = s->h,
                   .w = s->w,
                   .pad = s->pad,
                   .weight = weight,
                   .u = u,
                   .packed = u && packs(),
                   .oc = s->oc,
                   .out = out,
                   .oh = s->oh,
                   .ow = s->ow};
}

void winograd4_forward(Pool *pool, const ConvShape *s, const float *in, const float *u, float *out,
                       float *work)
{
    Wino4 j = forward_job(s, in, u, NULL, out);
    run(pool, &j, work);
}

void winograd4_forward_weight(Pool *pool, const ConvShape *s, const float *in, const float *weight,
                              float *out, float *work)
{
    Wino4 j = forward_job(s, in, NULL, weight, out);
    run(pool, &j, work);
}

void winograd4_data_backward(Pool *pool, const ConvShape *s, const float *weight, const float *dout,
                             float *din, float *work)
{
    // As winograd.c's: the full correlation of dout, zero-padded by 2 - pad, with the turned
    // kernel, its C output channels over its OC input channels.
    Wino4 j = {.in = dout,
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
