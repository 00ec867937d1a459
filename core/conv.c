#include "conv.h"

#include <cblas.h>
#include <stdbool.h>
#include <string.h>

int conv_shape(ConvShape *s, int n, int c, int h, int w, int oc, int k, int stride, int pad)
{
    *s = (ConvShape){.n = n, .c = c, .h = h, .w = w, .oc = oc, .k = k, .stride = stride, .pad = pad};
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
    return 0;
}

static bool use_direct(const ConvShape *s);

size_t conv_workspace_floats(const ConvShape *s)
{
    if (use_direct(s))
        return 0;
    return (size_t)s->c * s->k * s->k * s->oh * s->ow;
}

// col (C*K*K, OH*OW): row (c, ky, kx) holds the input pixel under that kernel tap for every
// output position, zero where the tap falls in the padding.
static void im2col(const ConvShape *s, const float *img, float *col)
{
    const int k = s->k, st = s->stride, pad = s->pad, h = s->h, w = s->w;
    const int oh = s->oh, ow = s->ow;
    for (int c = 0; c < s->c; c++) {
        const float *plane = img + (size_t)c * h * w;
        for (int ky = 0; ky < k; ky++) {
            for (int kx = 0; kx < k; kx++) {
                float *row = col + ((size_t)(c * k + ky) * k + kx) * oh * ow;
                for (int oy = 0; oy < oh; oy++) {
                    int iy = oy * st - pad + ky;
                    float *dst = row + (size_t)oy * ow;
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

// The adjoint of im2col: img += every column entry added back to the pixel it came from.
static void col2im_add(const ConvShape *s, const float *col, float *img)
{
    const int k = s->k, st = s->stride, pad = s->pad, h = s->h, w = s->w;
    const int oh = s->oh, ow = s->ow;
    for (int c = 0; c < s->c; c++) {
        float *plane = img + (size_t)c * h * w;
        for (int ky = 0; ky < k; ky++) {
            for (int kx = 0; kx < k; kx++) {
                const float *row = col + ((size_t)(c * k + ky) * k + kx) * oh * ow;
                for (int oy = 0; oy < oh; oy++) {
                    int iy = oy * st - pad + ky;
                    if (iy < 0 || iy >= h)
                        continue;
                    const float *src = row + (size_t)oy * ow;
                    float *dst = plane + (size_t)iy * w;
                    int ix0 = kx - pad;
                    if (st == 1 && ix0 >= 0 && ix0 + ow <= w) {
                        for (int ox = 0; ox < ow; ox++)
                            dst[ix0 + ox] += src[ox];
                        continue;
                    }
                    for (int ox = 0; ox < ow; ox++) {
                        int ix = ox * st + ix0;
                        if (ix >= 0 && ix < w)
                            dst[ix] += src[ox];
                    }
                }
            }
        }
    }
}

static void add_channel_bias(float *out, const float *bias, int channels, size_t plane)
{
    for (int c = 0; c < channels; c++)
        for (size_t i = 0; i < plane; i++)
            out[c * plane + i] += bias[c];
}

static void accumulate_channel_sums(float *dbias, const float *d, int channels, size_t plane)
{
    for (int c = 0; c < channels; c++) {
        float sum = 0.0f;
        for (size_t i = 0; i < plane; i++)
            sum += d[c * plane + i];
        dbias[c] += sum;
    }
}

// out_img (OC, P) = weight (OC, CKK) x im2col(in_img), with beta selecting overwrite or add.
static void conv_data_forward(const ConvShape *s, const float *in_img, const float *weight,
                              float *out_img, float beta, float *work)
{
    const int ckk = s->c * s->k * s->k, p = s->oh * s->ow;
    const float *col = in_img;
    if (!(s->k == 1 && s->stride == 1 && s->pad == 0)) {
        im2col(s, in_img, work);
        col = work;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s->oc, p, ckk, 1.0f, weight, ckk, col,
                p, beta, out_img, p);
}

// din_img (C, H, W) += col2im(weight^T (CKK, OC) x dout_img (OC, P)).
static void conv_data_backward(const ConvShape *s, const float *weight, const float *dout_img,
                               float *din_img, float *work)
{
    const int ckk = s->c * s->k * s->k, p = s->oh * s->ow;
    if (s->k == 1 && s->stride == 1 && s->pad == 0) {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, p, s->oc, 1.0f, weight, ckk,
                    dout_img, p, 1.0f, din_img, p);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, p, s->oc, 1.0f, weight, ckk,
                dout_img, p, 0.0f, work, p);
    col2im_add(s, work, din_img);
}

// dweight (OC, CKK) += dout_img (OC, P) x im2col(in_img)^T.
static void conv_weight_backward(const ConvShape *s, const float *in_img, const float *dout_img,
                                 float *dweight, float *work)
{
    const int ckk = s->c * s->k * s->k, p = s->oh * s->ow;
    const float *col = in_img;
    if (!(s->k == 1 && s->stride == 1 && s->pad == 0)) {
        im2col(s, in_img, work);
        col = work;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->oc, ckk, p, 1.0f, dout_img, p, col,
                p, 1.0f, dweight, ckk);
}

// Convolutions with very few output channels (the generator's last 7x7 conv to RGB) make a
// GEMM with M = OC <= 4: memory-bound and ~20x below the machine's speed, with an im2col
// matrix of C*K*K*H*W floats (100 MB at 128 px). For stride 1 they are done directly: every
// kernel tap is one vectorised multiply-add of an input row segment into an output row.
#define DIRECT_MAX_OC 4

static bool use_direct(const ConvShape *s) { return s->stride == 1 && s->oc <= DIRECT_MAX_OC; }

// The output columns [x0, x1) for which tap kx reads inside the input row.
static void tap_range(const ConvShape *s, int kx, int *x0, int *x1)
{
    *x0 = s->pad - kx > 0 ? s->pad - kx : 0;
    *x1 = s->w + s->pad - kx < s->ow ? s->w + s->pad - kx : s->ow;
}

static void direct_forward(const ConvShape *s, const float *img, const float *weight, float *out)
{
    const int k = s->k, ow = s->ow;
    memset(out, 0, (size_t)s->oc * s->oh * ow * sizeof(float));
    for (int oy = 0; oy < s->oh; oy++)
        for (int c = 0; c < s->c; c++)
            for (int ky = 0; ky < k; ky++) {
                int iy = oy - s->pad + ky;
                if (iy < 0 || iy >= s->h)
                    continue;
                const float *row = img + ((size_t)c * s->h + iy) * s->w - s->pad;
                for (int kx = 0; kx < k; kx++) {
                    int x0, x1;
                    tap_range(s, kx, &x0, &x1);
                    for (int o = 0; o < s->oc; o++) {
                        const float wv = weight[(((size_t)o * s->c + c) * k + ky) * k + kx];
                        float *dst = out + ((size_t)o * s->oh + oy) * ow;
                        for (int x = x0; x < x1; x++)
                            dst[x] += wv * row[x + kx];
                    }
                }
            }
}

static void direct_backward(const ConvShape *s, const float *img, const float *weight,
                            const float *dout, float *din, float *dweight)
{
    const int k = s->k, ow = s->ow;
    for (int oy = 0; oy < s->oh; oy++)
        for (int c = 0; c < s->c; c++)
            for (int ky = 0; ky < k; ky++) {
                int iy = oy - s->pad + ky;
                if (iy < 0 || iy >= s->h)
                    continue;
                size_t row_off = ((size_t)c * s->h + iy) * s->w - s->pad;
                for (int kx = 0; kx < k; kx++) {
                    int x0, x1;
                    tap_range(s, kx, &x0, &x1);
                    for (int o = 0; o < s->oc; o++) {
                        const size_t wi = (((size_t)o * s->c + c) * k + ky) * k + kx;
                        const float *d = dout + ((size_t)o * s->oh + oy) * ow;
                        if (dweight) {
                            const float *row = img + row_off;
                            float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
                            for (int x = x0; x < x1; x++)
                                sum += d[x] * row[x + kx];
                            dweight[wi] += sum;
                        }
                        if (din) {
                            float *drow = din + row_off;
                            const float wv = weight[wi];
                            for (int x = x0; x < x1; x++)
                                drow[x + kx] += wv * d[x];
                        }
                    }
                }
            }
}

void conv2d_forward(const ConvShape *s, const float *in, const float *weight, const float *bias,
                    float *out, float *work)
{
    const size_t in_sz = (size_t)s->c * s->h * s->w, out_plane = (size_t)s->oh * s->ow;
    for (int n = 0; n < s->n; n++) {
        float *o = out + n * s->oc * out_plane;
        if (use_direct(s))
            direct_forward(s, in + n * in_sz, weight, o);
        else
            conv_data_forward(s, in + n * in_sz, weight, o, 0.0f, work);
        if (bias)
            add_channel_bias(o, bias, s->oc, out_plane);
    }
}

void conv2d_backward(const ConvShape *s, const float *in, const float *weight, const float *dout,
                     float *din, float *dweight, float *dbias, float *work)
{
    const size_t in_sz = (size_t)s->c * s->h * s->w, out_plane = (size_t)s->oh * s->ow;
    for (int n = 0; n < s->n; n++) {
        const float *d = dout + n * s->oc * out_plane;
        if (dbias)
            accumulate_channel_sums(dbias, d, s->oc, out_plane);
        if (use_direct(s)) {
            direct_backward(s, in + n * in_sz, weight, d, din ? din + n * in_sz : NULL, dweight);
            continue;
        }
        if (dweight)
            conv_weight_backward(s, in + n * in_sz, d, dweight, work);
        if (din)
            conv_data_backward(s, weight, d, din + n * in_sz, work);
    }
}

// For the transposed conv, s describes the forward conv (C_out -> C_in); "in" of the
// transposed conv is that conv's output side and "out" its input side.
void convt2d_forward(const ConvShape *s, const float *in, const float *weight, const float *bias,
                     float *out, float *work)
{
    const size_t out_sz = (size_t)s->c * s->h * s->w, in_sz = (size_t)s->oc * s->oh * s->ow;
    memset(out, 0, s->n * out_sz * sizeof(float));
    for (int n = 0; n < s->n; n++) {
        conv_data_backward(s, weight, in + n * in_sz, out + n * out_sz, work);
        if (bias)
            add_channel_bias(out + n * out_sz, bias, s->c, (size_t)s->h * s->w);
    }
}

void convt2d_backward(const ConvShape *s, const float *in, const float *weight, const float *dout,
                      float *din, float *dweight, float *dbias, float *work)
{
    const size_t out_sz = (size_t)s->c * s->h * s->w, in_sz = (size_t)s->oc * s->oh * s->ow;
    for (int n = 0; n < s->n; n++) {
        const float *d = dout + n * out_sz;
        if (dbias)
            accumulate_channel_sums(dbias, d, s->c, (size_t)s->h * s->w);
        // The weight gradient of y = W^T-conv(x) is the conv weight gradient with the roles of
        // input and output gradient exchanged: dW (C_in, C_out*K*K) += x (C_in, P) x im2col(dy)^T.
        if (dweight)
            conv_weight_backward(s, d, in + n * in_sz, dweight, work);
        if (din)
            conv_data_forward(s, d, weight, din + n * in_sz, 1.0f, work);
    }
}
