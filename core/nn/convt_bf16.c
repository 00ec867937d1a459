// The generator's upsampling (a 3x3 transposed convolution, stride 2, pad 1, output padding 1)
// in bf16. Output pixel (2m + py, 2n + px) takes input rows m (kernel row 1 when py = 0, row 2
// when py = 1) and m + 1 (kernel row 0, only when py = 1), and the same for columns. So each of
// the four phases (py, px) is a 2x2 convolution of the input, zero-padded by one, whose output
// (m + 1, n + 1) is that phase's pixel (m, n); the four side by side, C_out output channels
// each, are one forward convolution that conv_bf16_forward runs. A phase's unused taps are zero
// in the packed weight and the vector kernel skips them, so it does the transposed convolution's
// 9 multiplies per input pixel and channel pair, not 16. Its output is then interleaved.
#include "core/nn/conv_bf16.h"

#include <stdlib.h>

// The four phases as one convolution: input (C_in, H, W), output (4 C_out, H + 1, W + 1).
static ConvShape phase_shape(const ConvShape *s)
{
    ConvShape p;
    conv_shape(&p, 1, s->oc, s->oh, s->ow, 4 * s->c, 2, 1, 1);
    return p;
}

bool convt_bf16_applies(const ConvShape *s)
{
    if (!s->transposed || s->k != 3 || s->stride != 2 || s->pad != 1 || s->h != 2 * s->oh ||
        s->w != 2 * s->ow)
        return false;
    const ConvShape p = phase_shape(s);
    return conv_bf16_applies(&p);
}

size_t convt_bf16_packed_count(const ConvShape *s)
{
    const ConvShape p = phase_shape(s);
    return conv_bf16_packed_count(&p);
}

// The kernel row (or column) that phase (0: even, 1: odd) reads at tap t of the 2x2, or -1.
static int kernel_index(int phase, int t)
{
    return phase == 0 ? (t == 0 ? 1 : -1) : (t == 0 ? 2 : 0);
}

int convt_bf16_pack(const ConvShape *s, const float *weight, uint16_t *packed)
{
    const ConvShape p = phase_shape(s);
    const int cin = s->oc, cout = s->c;
    float *w = calloc((size_t)p.oc * p.c * 4, sizeof *w); // (4 C_out, C_in, 2, 2)
    if (!w)
        return -1;
    for (int ph = 0; ph < 4; ph++)
        for (int o = 0; o < cout; o++)
            for (int ci = 0; ci < cin; ci++)
                for (int tap = 0; tap < 4; tap++) {
                    int ky = kernel_index(ph / 2, tap / 2), kx = kernel_index(ph % 2, tap % 2);
                    if (ky >= 0 && kx >= 0) // the transposed weight is (C_in, C_out, 3, 3)
                        w[(((size_t)ph * cout + o) * cin + ci) * 4 + tap] =
                            weight[((size_t)ci * cout + o) * 9 + ky * 3 + kx];
                }
    conv_bf16_pack(&p, w, packed);
    free(w);
    return 0;
}

static size_t phases_floats(const ConvShape *p)
{
    return (size_t)p->oc * p->oh * p->ow;
}

size_t convt_bf16_workspace_floats(const ConvShape *s, int threads)
{
    if (!convt_bf16_applies(s))
        return 0;
    const ConvShape p = phase_shape(s);
    return phases_floats(&p) + conv_bf16_workspace_floats(&p, threads);
}

typedef struct {
    const ConvShape *s, *p;
    const float *phases, *bias;
    float *out;
} Interleave;

// Output channels o0 .. o1 - 1: every output row from its phase's row, plus the bias.
static void interleave_part(void *ctx, int t, int n)
{
    const Interleave *j = ctx;
    const int cout = j->s->c, ow = j->s->w, pw = j->p->ow;
    const size_t plane = (size_t)j->p->oh * pw;
    size_t o0, o1;
    pool_split((size_t)cout, t, n, &o0, &o1);
    for (size_t o = o0; o < o1; o++) {
        const float b = j->bias ? j->bias[o] : 0.0f;
        for (int y = 0; y < j->s->h; y++) {
            const int py = y % 2;
            // Phase (py, 0) and (py, 1): row y / 2 + 1 from column 1.
            const float *even = j->phases + ((size_t)(py * 2) * cout + o) * plane +
                                (size_t)(y / 2 + 1) * pw + 1;
            const float *odd = even + (size_t)cout * plane;
            float *dst = j->out + (o * j->s->h + y) * (size_t)ow;
            for (int x = 0; x < ow / 2; x++) {
                dst[2 * x] = even[x] + b;
                dst[2 * x + 1] = odd[x] + b;
            }
        }
    }
}

void convt_bf16_forward(Pool *pool, const ConvShape *s, const float *in, const uint16_t *packed,
                        const float *bias, float *out, float *work)
{
    const ConvShape p = phase_shape(s);
    const size_t in_sz = (size_t)s->oc * s->oh * s->ow, out_sz = (size_t)s->c * s->h * s->w;
    float *phases = work;
    for (int n = 0; n < s->n; n++) {
        conv_bf16_forward(pool, &p, in + n * in_sz, packed, phases, false,
                          work + phases_floats(&p));
        Interleave j = {.s = s, .p = &p, .phases = phases, .bias = bias, .out = out + n * out_sz};
        pool_run(pool, interleave_part, &j);
    }
}
