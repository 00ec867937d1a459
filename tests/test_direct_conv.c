// The register-blocked direct convolution (core/nn/direct_conv.h) against the plain convolution
// computed in double: forward, data and weight gradient, on the generators' two 7x7 RGB layers
// at 128 px and on odd shapes that take every block size and the moved-back last block.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "core/base/rng.h"
#include "core/nn/conv.h"
#include "core/nn/direct_conv.h"

typedef struct {
    int c, oc, h, w, k, pad;
} Case;

static const Case cases[] = {
    {16, 3, 134, 134, 7, 0}, // the generator's last layer
    {3, 16, 134, 134, 7, 0}, // its first
    {2, 5, 9, 75, 7, 2},     // a 64-column block and a moved-back one; output blocks 4 + 1
    {5, 3, 6, 30, 3, 1},     // single vectors
    {3, 2, 6, 8, 4, 1},      // rows narrower than a vector
    {4, 6, 7, 21, 5, 0},     // output blocks 4 + 2, kernel rows in 4 + 1
    {3, 4, 9, 91, 7, 0},     // a block of 4 vectors, one of 1, a moved-back one
};

static double max_abs(const double *v, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(v[i]));
    return m;
}

static double max_diff(const float *got, double offset, const double *want, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(got[i] - offset - want[i]));
    return m;
}

// out = conv(in, w), din = conv^T(dout, w), dw = dL/dw, in double.
static void reference(const ConvShape *s, const float *in, const float *w, const float *dout,
                      double *out, double *din, double *dw)
{
    const int k = s->k;
    for (int o = 0; o < s->oc; o++)
        for (int y = 0; y < s->oh; y++)
            for (int x = 0; x < s->ow; x++) {
                double a = 0.0, d = dout[(o * s->oh + y) * s->ow + x];
                for (int c = 0; c < s->c; c++)
                    for (int ky = 0; ky < k; ky++)
                        for (int kx = 0; kx < k; kx++) {
                            int iy = y + ky - s->pad, ix = x + kx - s->pad;
                            if (iy < 0 || ix < 0 || iy >= s->h || ix >= s->w)
                                continue;
                            size_t wi = ((size_t)(o * s->c + c) * k + ky) * k + kx;
                            size_t ii = ((size_t)c * s->h + iy) * s->w + ix;
                            a += w[wi] * (double)in[ii];
                            din[ii] += w[wi] * d;
                            dw[wi] += in[ii] * d;
                        }
                out[(o * s->oh + y) * s->ow + x] = a;
            }
}

Test(direct_conv, forward_and_both_gradients_match_the_plain_convolution)
{
    Err err;
    Pool *pool = pool_create(3, &err); // uneven splits over rows and channels
    cr_assert_not_null(pool, "%s", err.msg);
    for (size_t q = 0; q < sizeof cases / sizeof cases[0]; q++) {
        const Case *t = &cases[q];
        ConvShape s;
        cr_assert_eq(conv_shape(&s, 1, t->c, t->h, t->w, t->oc, t->k, 1, t->pad), 0);
        cr_assert(direct_conv_applies(&s));
        size_t ni = (size_t)s.c * s.h * s.w, no = (size_t)s.oc * s.oh * s.ow,
               nw = (size_t)s.oc * s.c * s.k * s.k;
        float *in = malloc(ni * sizeof(float)), *w = malloc(nw * sizeof(float));
        float *dout = malloc(no * sizeof(float)), *out = malloc(no * sizeof(float));
        float *din = malloc(ni * sizeof(float)), *dw = malloc(nw * sizeof(float));
        float *work = malloc(conv_workspace_floats(&s) * sizeof(float));
        double *want = calloc(no, sizeof(double)), *want_din = calloc(ni, sizeof(double));
        double *want_dw = calloc(nw, sizeof(double));
        Rng r;
        rng_seed(&r, 21 + q);
        for (size_t i = 0; i < ni; i++)
            in[i] = rng_range(&r, -1, 1), din[i] = 0.25f; // gradients are added to
        for (size_t i = 0; i < nw; i++)
            w[i] = 0.1f * rng_normal(&r), dw[i] = -0.5f;
        for (size_t i = 0; i < no; i++)
            dout[i] = rng_range(&r, -1, 1), out[i] = 1e9f; // out is overwritten
        reference(&s, in, w, dout, want, want_din, want_dw);
        conv2d_forward(pool, &s, in, w, NULL, out, work);
        conv2d_backward(pool, &s, in, w, dout, din, dw, NULL, work);
        double ef = max_diff(out, 0.0, want, no), ed = max_diff(din, 0.25, want_din, ni),
               ew = max_diff(dw, -0.5, want_dw, nw);
        // float32 sums of up to 16,384 products: within a few units of the last place of the
        // largest value.
        cr_expect_leq(ef, 2e-6 * max_abs(want, no), "case %zu: forward error %g", q, ef);
        cr_expect_leq(ed, 2e-6 * max_abs(want_din, ni), "case %zu: data gradient error %g", q,
                      ed);
        cr_expect_leq(ew, 2e-5 * max_abs(want_dw, nw), "case %zu: weight gradient error %g", q,
                      ew);
        free(in), free(w), free(dout), free(out), free(din), free(dw), free(work);
        free(want), free(want_din), free(want_dw);
    }
    pool_free(pool);
}

Test(direct_conv, the_rule)
{
    ConvShape s;
    conv_shape(&s, 1, 16, 134, 134, 3, 7, 1, 0);
    cr_expect(direct_conv_applies(&s), "to RGB");
    conv_shape(&s, 1, 3, 134, 134, 16, 7, 1, 0);
    cr_expect(direct_conv_applies(&s), "from RGB");
    conv_shape(&s, 1, 64, 34, 34, 64, 3, 1, 0);
    cr_expect_not(direct_conv_applies(&s), "wide on both sides");
    conv_shape(&s, 1, 3, 128, 128, 32, 4, 2, 1);
    cr_expect_not(direct_conv_applies(&s), "stride 2 (the discriminator's first layer)");
    convt_shape(&s, 1, 64, 32, 32, 3, 3, 2, 1, 1);
    cr_expect_not(direct_conv_applies(&s), "transposed");
}
