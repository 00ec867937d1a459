#include "core/nn/conv.h"

#include <cblas.h>
#include <stdbool.h>
#include <string.h>

#include "core/nn/conv_bf16.h"
#include "core/nn/direct_conv.h"
#include "core/nn/winograd.h"

int conv_shape(ConvShape *s, int n, int c, int h, int w, int oc, int k, int stride, int pad)
{
    *s =
        (ConvShape){.n = n, .c = c, .h = h, .w = w, .oc = oc, .k = k, .stride = stride, .pad = pad};
    s->oh = (h + 2 * pad - k) / stride + 1;
    s->ow = (w + 2 * pad - k) / stride + 1;
    return (h + 2 * pad < k || w + 2 * pad < k || s->oh < 1 || s->ow < 1) ? -1 : 0;
}

int convt_shape(ConvShape *s, int n, int c, int h, int w, int oc, int k, int stride, int pad,
                int out_pad)
{
    int oh = (h - 1) * stride - 2 * pad + k + out_pad;
    int ow = (w - 1) * stride - 2 * pad + k + out_pad;
    if (oh < 1 || ow < 1 || out_pad >= stride)
        return -1;
    // The forward conv whose data-gradient this is: (n, oc, oh, ow) -> (n, c, h, w).
    if (conv_shape(s, n, oc, oh, ow, c, k, stride, pad) != 0 || s->oh != h || s->ow != w)
        return -1;
    s->transposed = true;
    return 0;
}

size_t conv_workspace_floats(const ConvShape *s)
{
    if (direct_conv_applies(s))
        return direct_conv_workspace_floats(s);
    size_t col = (size_t)s->c * s->k * s->k * s->oh * s->ow; // im2col: also the weight gradient's
    size_t wino = winograd_workspace_floats(s);
    return wino > col ? wino : col;
}

// ---- im2col and its adjoint, over a block of channels and output rows ----

// col (C*K*K rows for channels [c0, c1), one column per output pixel of rows [oy0, oy1)):
// row (c, ky, kx) holds the input pixel under that kernel tap, zero in the padding.
static void im2col(const ConvShape *s, const float *img, float *col, int c0, int c1, int oy0,
                   int oy1)
{
    const int k = s->k, st = s->stride, pad = s->pad, h = s->h, w = s->w, ow = s->ow;
    const size_t cols = (size_t)(oy1 - oy0) * ow;
    for (int c = c0; c < c1; c++) {
        const float *plane = img + (size_t)c * h * w;
        for (int ky = 0; ky < k; ky++) {
            for (int kx = 0; kx < k; kx++) {
                float *row = col + ((size_t)((c - c0) * k + ky) * k + kx) * cols;
                for (int oy = oy0; oy < oy1; oy++) {
                    int iy = oy * st - pad + ky;
                    float *dst = row + (size_t)(oy - oy0) * ow;
                    if (iy < 0 || iy >= h) {
                        memset(dst, 0, (size_t)ow * sizeof(float));
                        continue;
                    }
                    const float *src = plane + (size_t)iy * w;
                    int ix0 = kx - pad;
                    if (st == 1 && ix0 >= 0 && ix0 + ow <= w) {
                        memcpy(dst, src + ix0, (size_t)ow * sizeof(float));
                        continue;
                    }
                    for (int ox = 0; ox < ow; ox++) {
                        int ix = ox * st + ix0;
                        dst[ox] = (ix >= 0 && ix < w) ? src[ix] : 0.0f;
                    }
                }
            }
        }
    }
}

// dst[ox * st + ix0] += src[ox] for ox in [ox0, ox1), skipping pixels outside [0, w).
static void add_row_strided(float *dst, int w, const float *src, int ox0, int ox1, int st, int ix0)
{
    for (int ox = ox0; ox < ox1; ox++) {
        int ix = ox * st + ix0;
        if (ix >= 0 && ix < w)
            dst[ix] += src[ox];
    }
}

// Stride 2, two neighbouring taps of a kernel row together: tap a writes the pixels ix0 + 2 ox
// and tap b the ones between, so between the edges the pair adds to a contiguous run, in one
// vector loop (each tap alone is a stride-2 read-modify-write that stays scalar; the
// transposed convolutions of the upsampling run through here).
static void add_row_pair(float *dst, int w, const float *a, const float *b, int ow, int ix0)
{
    int lo = ix0 >= 0 ? 0 : (1 - ix0) / 2;     // first ox with ix0 + 2 ox >= 0
    int hi = (w - 2 - ix0) / 2 + 1;            // past the last ox with ix0 + 2 ox + 1 < w
    if (w - 2 - ix0 < 0)
        hi = 0;
    hi = hi < ow ? hi : ow;
    lo = lo < hi ? lo : hi;
    add_row_strided(dst, w, a, 0, lo, 2, ix0);
    add_row_strided(dst, w, b, 0, lo, 2, ix0 + 1);
    float *d = dst + ix0;
    for (int ox = lo; ox < hi; ox++) {
        d[2 * ox] += a[ox];
        d[2 * ox + 1] += b[ox];
    }
    add_row_strided(dst, w, a, hi, ow, 2, ix0);
    add_row_strided(dst, w, b, hi, ow, 2, ix0 + 1);
}

// img += every entry of col (channels [c0, c1), all output rows) added back to its pixel.
static void col2im_add(const ConvShape *s, const float *col, float *img, int c0, int c1)
{
    const int k = s->k, st = s->stride, pad = s->pad, h = s->h, w = s->w;
    const int oh = s->oh, ow = s->ow;
    const size_t p = (size_t)oh * ow;
    for (int c = c0; c < c1; c++) {
        float *plane = img + (size_t)c * h * w;
        for (int ky = 0; ky < k; ky++) {
            const float *taps = col + (size_t)((c - c0) * k + ky) * k * p; // row ky's k taps
            for (int oy = 0; oy < oh; oy++) {
                int iy = oy * st - pad + ky;
                if (iy < 0 || iy >= h)
                    continue;
                float *dst = plane + (size_t)iy * w;
                for (int kx = 0; kx < k; kx++) {
                    const float *src = taps + kx * p + (size_t)oy * ow;
                    int ix0 = kx - pad;
                    if (st == 1 && ix0 >= 0 && ix0 + ow <= w) {
                        for (int ox = 0; ox < ow; ox++)
                            dst[ix0 + ox] += src[ox];
                    } else if (st == 2 && kx + 1 < k) {
                        add_row_pair(dst, w, src, src + p, ow, ix0);
                        kx++;
                    } else {
                        add_row_strided(dst, w, src, 0, ow, st, ix0);
                    }
                }
            }
        }
    }
}

// ---- the three GEMM products, each split over the pool ----

typedef struct {
    const ConvShape *s;
    const float *img, *weight, *d;
    float *out, *work;
    float beta;
} ConvJob;

// out_img (OC, P) (beta: 0 overwrite, 1 add) = weight (OC, CKK) x
// im2col(img), split by output rows: each thread builds the columns of its rows and multiplies
// them.
static void data_forward_part(void *ctx, int t, int n)
{
    const ConvJob *j = ctx;
    const ConvShape *s = j->s;
    size_t oy0, oy1;
    pool_split((size_t)s->oh, t, n, &oy0, &oy1);
    if (oy0 == oy1)
        return;
    const int ckk = s->c * s->k * s->k, p = s->oh * s->ow, cols = (int)(oy1 - oy0) * s->ow;
    float *out = j->out + oy0 * s->ow;
    float *col = j->work + (size_t)ckk * oy0 * s->ow;
    im2col(s, j->img, col, 0, s->c, (int)oy0, (int)oy1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->oc, cols, ckk, 1.0f, j->weight, ckk,
                col, cols, j->beta, out, p);
}

// img_grad (C, H, W) += col2im(weight^T x dout), split by input channels so that no two
// threads add into the same pixel.
static void data_backward_part(void *ctx, int t, int n)
{
    const ConvJob *j = ctx;
    const ConvShape *s = j->s;
    size_t c0, c1;
    pool_split((size_t)s->c, t, n, &c0, &c1);
    if (c0 == c1)
        return;
    const int kk = s->k * s->k, ckk = s->c * kk, p = s->oh * s->ow, rows = (int)(c1 - c0) * kk;
    float *col = j->work + c0 * kk * (size_t)p;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rows, p, s->oc, 1.0f, j->weight + c0 * kk,
                ckk, j->d, p, 0.0f, col, p);
    col2im_add(s, col, j->out, (int)c0, (int)c1);
}

// dweight (OC, CKK) += dout (OC, P) x im2col(img)^T, split by input channels (columns of
// dweight).
static void weight_backward_part(void *ctx, int t, int n)
{
    const ConvJob *j = ctx;
    const ConvShape *s = j->s;
    size_t c0, c1;
    pool_split((size_t)s->c, t, n, &c0, &c1);
    if (c0 == c1)
        return;
    const int kk = s->k * s->k, ckk = s->c * kk, p = s->oh * s->ow, rows = (int)(c1 - c0) * kk;
    float *col = j->work + c0 * kk * (size_t)p;
    im2col(s, j->img, col, (int)c0, (int)c1, 0, s->oh);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->oc, rows, p, 1.0f, j->d, p, col, p,
                1.0f, j->out + c0 * kk, ckk);
}

// ---- bias ----

typedef struct {
    float *x;
    const float *bias;
    float *dbias;
    int channels;
    size_t plane;
} BiasJob;

static void bias_add_part(void *ctx, int t, int n)
{
    const BiasJob *j = ctx;
    size_t c0, c1;
    pool_split((size_t)j->channels, t, n, &c0, &c1);
    for (size_t c = c0; c < c1; c++)
        for (size_t i = 0; i < j->plane; i++)
            j->x[c * j->plane + i] += j->bias[c];
}

static void bias_grad_part(void *ctx, int t, int n)
{
    const BiasJob *j = ctx;
    size_t c0, c1;
    pool_split((size_t)j->channels, t, n, &c0, &c1);
    for (size_t c = c0; c < c1; c++) {
        float sum = 0.0f;
        const float *d = j->x + c * j->plane;
#pragma omp simd reduction(+ : sum)
        for (size_t i = 0; i < j->plane; i++)
            sum += d[i];
        j->dbias[c] += sum;
    }
}

static void add_bias(Pool *pool, float *out, const float *bias, int channels, size_t plane)
{
    BiasJob j = {.x = out, .bias = bias, .channels = channels, .plane = plane};
    pool_run(pool, bias_add_part, &j);
}

static void accumulate_bias_grad(Pool *pool, float *dbias, const float *d, int channels,
                                 size_t plane)
{
    BiasJob j = {.x = (float *)d, .dbias = dbias, .channels = channels, .plane = plane};
    pool_run(pool, bias_grad_part, &j);
}

// ---- public entry points ----

static void conv_data_forward(Pool *pool, const ConvShape *s, const float *img, const float *weight,
                              float *out, float beta, float *work)
{
    if (beta == 0.0f && winograd_forward_applies(s)) {
        winograd_forward(pool, s, img, weight, out, work);
        return;
    }
    if (beta == 0.0f && direct_conv_applies(s)) {
        direct_conv_forward(pool, s, img, weight, out, work);
        return;
    }
    ConvJob j = {.s = s, .img = img, .weight = weight, .out = out, .work = work, .beta = beta};
    pool_run(pool, data_forward_part, &j);
}

static void conv_data_backward(Pool *pool, const ConvShape *s, const float *weight,
                               const float *dout, float *din, float *work)
{
    if (winograd_backward_applies(s)) {
        winograd_data_backward(pool, s, weight, dout, din, work);
        return;
    }
    ConvJob j = {.s = s, .weight = weight, .d = dout, .out = din, .work = work};
    pool_run(pool, data_backward_part, &j);
}

static void conv_weight_backward(Pool *pool, const ConvShape *s, const float *img,
                                 const float *dout, float *dweight, float *work)
{
    if (winograd_weight_applies(s)) {
        winograd_weight_backward(pool, s, img, dout, dweight, work);
        return;
    }
    ConvJob j = {.s = s, .img = img, .d = dout, .out = dweight, .work = work};
    pool_run(pool, weight_backward_part, &j);
}

// The weight of a forward pass in one of its forms: as it is, packed for the bf16 kernels, or
// transformed for Winograd's.
typedef struct {
    const float *plain;
    const uint16_t *packed;
    const float *winograd;
} ForwardWeight;

// Every image of the batch through the kernels w's form is for; then the bias.
static void forward_images(Pool *pool, const ConvShape *s, const float *in, ForwardWeight w,
                           const float *bias, float *out, float *work)
{
    const size_t in_sz = (size_t)s->c * s->h * s->w, out_plane = (size_t)s->oh * s->ow;
    for (int n = 0; n < s->n; n++) {
        float *o = out + n * s->oc * out_plane;
        if (w.packed)
            conv_bf16_forward(pool, s, in + n * in_sz, w.packed, o, false, work);
        else if (w.winograd)
            winograd_forward_transformed(pool, s, in + n * in_sz, w.winograd, o, work);
        else
            conv_data_forward(pool, s, in + n * in_sz, w.plain, o, 0.0f, work);
        if (bias)
            add_bias(pool, o, bias, s->oc, out_plane);
    }
}

void conv2d_forward(Pool *pool, const ConvShape *s, const float *in, const float *weight,
                    const float *bias, float *out, float *work)
{
    forward_images(pool, s, in, (ForwardWeight){.plain = weight}, bias, out, work);
}

void conv2d_forward_bf16(Pool *pool, const ConvShape *s, const float *in, const uint16_t *packed,
                         const float *bias, float *out, float *work)
{
    forward_images(pool, s, in, (ForwardWeight){.packed = packed}, bias, out, work);
}

void conv2d_forward_winograd(Pool *pool, const ConvShape *s, const float *in, const float *u,
                             const float *bias, float *out, float *work)
{
    forward_images(pool, s, in, (ForwardWeight){.winograd = u}, bias, out, work);
}

// What the bf16 backward kernels use: a buffer for the turned weight and their scratch.
typedef struct {
    uint16_t *packed;
    float *work;
} Bf16Scratch;

// Every image's gradients: the direct kernels where they apply; otherwise the bf16 kernels
// where b16 is given and they can (stride 1), else im2col and Winograd.
static void backward_images(Pool *pool, const ConvShape *s, const float *in, const float *weight,
                            const float *dout, float *din, float *dweight, float *dbias,
                            float *work, const Bf16Scratch *b16)
{
    const ConvShape g = conv_bf16_gradient_shape(s);
    const bool direct = direct_conv_applies(s);
    const bool data16 = b16 && din && s->stride == 1 && conv_bf16_applies(&g);
    const bool weight16 = b16 && dweight && conv_bf16_weight_applies(s);
    if (data16)
        conv_bf16_pack_turned(s, weight, b16->packed);
    const size_t in_sz = (size_t)s->c * s->h * s->w, out_plane = (size_t)s->oh * s->ow;
    for (int n = 0; n < s->n; n++) {
        const float *d = dout + n * s->oc * out_plane, *x = in + n * in_sz;
        float *dx = din ? din + n * in_sz : NULL;
        if (dbias)
            accumulate_bias_grad(pool, dbias, d, s->oc, out_plane);
        if (direct) {
            direct_conv_backward(pool, s, x, weight, d, dx, dweight, work);
            continue;
        }
        if (weight16)
            conv_bf16_weight_grad(pool, s, x, d, dweight, b16->work);
        else if (dweight)
            conv_weight_backward(pool, s, x, d, dweight, work);
        if (data16)
            conv_bf16_forward(pool, &g, d, b16->packed, dx, true, b16->work);
        else if (dx)
            conv_data_backward(pool, s, weight, d, dx, work);
    }
}

void conv2d_backward_bf16(Pool *pool, const ConvShape *s, const float *in, const float *weight,
                          const float *dout, float *din, float *dweight, float *dbias,
                          float *work, uint16_t *packed, float *work16)
{
    backward_images(pool, s, in, weight, dout, din, dweight, dbias, work,
                    &(Bf16Scratch){packed, work16});
}

void conv2d_backward(Pool *pool, const ConvShape *s, const float *in, const float *weight,
                     const float *dout, float *din, float *dweight, float *dbias, float *work)
{
    backward_images(pool, s, in, weight, dout, din, dweight, dbias, work, NULL);
}

// For the transposed conv, s describes the forward conv (C_out -> C_in); "in" of the
// transposed conv is that conv's output side and "out" its input side.
void convt2d_forward(Pool *pool, const ConvShape *s, const float *in, const float *weight,
                     const float *bias, float *out, float *work)
{
    const size_t out_sz = (size_t)s->c * s->h * s->w, in_sz = (size_t)s->oc * s->oh * s->ow;
    memset(out, 0, s->n * out_sz * sizeof(float));
    for (int n = 0; n < s->n; n++) {
        conv_data_backward(pool, s, weight, in + n * in_sz, out + n * out_sz, work);
        if (bias)
            add_bias(pool, out + n * out_sz, bias, s->c, (size_t)s->h * s->w);
    }
}

void convt2d_backward(Pool *pool, const ConvShape *s, const float *in, const float *weight,
                      const float *dout, float *din, float *dweight, float *dbias, float *work)
{
    const size_t out_sz = (size_t)s->c * s->h * s->w, in_sz = (size_t)s->oc * s->oh * s->ow;
    for (int n = 0; n < s->n; n++) {
        const float *d = dout + n * out_sz;
        if (dbias)
            accumulate_bias_grad(pool, dbias, d, s->c, (size_t)s->h * s->w);
        // The weight gradient of y = W^T-conv(x) is the conv weight gradient with the roles of
        // input and output gradient exchanged: dW (C_in, C_out*K*K) += x (C_in, P) x im2col(dy)^T.
        if (dweight)
            conv_weight_backward(pool, s, d, in + n * in_sz, dweight, work);
        if (din)
            conv_data_forward(pool, s, d, weight, din + n * in_sz, 1.0f, work);
    }
}
