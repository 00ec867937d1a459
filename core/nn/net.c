#include "core/nn/net.h"

#include <stdlib.h>
#include <string.h>

#include "core/base/clock.h"
#include "core/nn/conv_bf16.h"
#include "core/nn/ops.h"
#include "core/nn/winograd.h"
#include "core/nn/winograd_gemm.h"
#include "core/nn/winograd_pick.h"

int net_add_layer(Net *net, Layer layer, Err *err)
{
    if (net->n_layers == net->cap_layers) {
        int cap = net->cap_layers ? 2 * net->cap_layers : 64;
        Layer *l = realloc(net->layers, (size_t)cap * sizeof *l);
        if (!l)
            return err_set(err, "out of memory building a network");
        net->layers = l;
        net->cap_layers = cap;
    }
    if (layer.in < 0)
        layer.in = net->n_layers;
    net->layers[net->n_layers] = layer;
    return net->n_layers++;
}

void net_free(Net *net)
{
    if (!net)
        return;
    paramset_free(&net->params);
    free(net->layers);
    memset(net, 0, sizeof *net);
}

struct Trace {
    int n_values;
    Shape4 *shape;    // per value
    float **value;    // per value; value[0] points at the caller's input during a call
    float **grad;     // per value, NULL unless training
    bool *needs_grad; // per value: does backward have to produce its gradient?
    bool *grad_ready; // per value, during a backward: its gradient zeroed or written
    ConvShape *conv;  // per layer (conv and convT layers)
    float **rstd;     // per layer (instance norm)
    float *work;      // shared im2col scratch
    float *arena, *grad_arena;
    size_t arena_floats, grad_floats, work_floats;
    uint16_t **bf16_weight; // per layer: its packed weight, NULL when fp32 (trace_use_bf16)
    uint16_t *bf16_arena;   // those weights, or (trace_train_bf16) one layer's, packed per call
    float *bf16_work;
    size_t bf16_count, bf16_work_floats;
    bool bf16_train; // trace_train_bf16: every call packs the current weights
    float **winograd_kernel; // per layer: its transformed kernel, NULL when none is kept
    float *winograd_arena;   // (trace_keep_winograd_kernels)
    int *fused;      // per layer: how many layers after it it also computes (plan_fusion)
    Pool *pool; // not owned
};

static size_t shape_numel(Shape4 s)
{
    return (size_t)s.n * s.c * s.h * s.w;
}

// Fills t->shape, t->conv and the size counters; no allocation of buffers yet.
static int plan(const Net *net, Trace *t, Err *err)
{
    for (int i = 0; i < net->n_layers; i++) {
        const Layer *L = &net->layers[i];
        Shape4 in = t->shape[L->in], out = in;
        switch (L->kind) {
        case LAYER_REFLECT_PAD:
            if (L->pad >= in.h || L->pad >= in.w)
                return err_set(err, "layer %d: reflection pad %d needs an input larger than %dx%d",
                               i, L->pad, in.w, in.h);
            out.h += 2 * L->pad;
            out.w += 2 * L->pad;
            break;
        case LAYER_CONV:
            if (conv_shape(&t->conv[i], in.n, in.c, in.h, in.w, L->channels, L->k, L->stride,
                           L->pad) != 0)
                return err_set(err, "layer %d: a %dx%d convolution cannot take a %dx%d input", i,
                               L->k, L->k, in.w, in.h);
            out.c = L->channels, out.h = t->conv[i].oh, out.w = t->conv[i].ow;
            break;
        case LAYER_CONVT:
            if (convt_shape(&t->conv[i], in.n, in.c, in.h, in.w, L->channels, L->k, L->stride,
                            L->pad, L->out_pad) != 0)
                return err_set(err, "layer %d: bad transposed convolution for a %dx%d input", i,
                               in.w, in.h);
            out.c = L->channels, out.h = t->conv[i].h, out.w = t->conv[i].w;
            break;
        case LAYER_ADD: {
            Shape4 s = t->shape[L->skip];
            if (s.n != in.n || s.c != in.c || s.h != in.h || s.w != in.w)
                return err_set(err, "layer %d: residual shapes differ (%dx%dx%d vs %dx%dx%d)", i,
                               in.c, in.h, in.w, s.c, s.h, s.w);
            break;
        }
        case LAYER_MEAN_HW: out.h = out.w = 1; break;
        case LAYER_UPSAMPLE:
            out.h *= 2;
            out.w *= 2;
            break;
        default: break;
        }
        t->shape[i + 1] = out;
        if (L->kind == LAYER_CONV || L->kind == LAYER_CONVT) {
            size_t w = conv_workspace_floats(&t->conv[i]);
            if (w > t->work_floats)
                t->work_floats = w;
        }
    }
    return 0;
}

// Whether value v is read by layer `by` alone.
static bool read_only_by(const Net *net, int v, int by)
{
    for (int i = 0; i < net->n_layers; i++) {
        const Layer *L = &net->layers[i];
        if (i != by && (L->in == v || (L->kind == LAYER_ADD && L->skip == v)))
            return false;
    }
    return true;
}

// An instance norm followed by its activation, the value in between read by nothing else, runs
// as one op (ops.h). Inference: a ReLU (and a reflection pad after it), the values in between
// never written (instance_norm_relu_pad_forward). Training, which keeps every value for the
// backward: a ReLU or leaky ReLU (instance_norm_act_forward and _backward), so the norm
// output's gradient is never written either.
static bool is_activation(LayerKind kind, bool training)
{
    return kind == LAYER_RELU || (training && kind == LAYER_LEAKY_RELU);
}

static int plan_fusion(const Net *net, Trace *t, bool training)
{
    t->fused = calloc((size_t)net->n_layers, sizeof *t->fused);
    if (!t->fused)
        return -1;
    for (int i = 0; i + 1 < net->n_layers; i++) {
        const Layer *L = net->layers;
        if (L[i].kind != LAYER_INSTANCE_NORM || !is_activation(L[i + 1].kind, training) ||
            L[i + 1].in != i + 1 || !read_only_by(net, i + 1, i + 1))
            continue;
        t->fused[i] = 1;
        if (!training && i + 2 < net->n_layers && L[i + 2].kind == LAYER_REFLECT_PAD &&
            L[i + 2].in == i + 2 && read_only_by(net, i + 2, i + 2))
            t->fused[i] = 2;
    }
    return 0;
}

Trace *trace_create(const Net *net, int n, int h, int w, bool training, Pool *pool, Err *err)
{
    Trace *t = calloc(1, sizeof *t);
    int nv = net->n_layers + 1;
    if (!t)
        goto oom;
    t->pool = pool;
    t->n_values = nv;
    t->shape = calloc(nv, sizeof *t->shape);
    t->value = calloc(nv, sizeof *t->value);
    t->grad = calloc(nv, sizeof *t->grad);
    t->needs_grad = calloc(nv, sizeof *t->needs_grad);
    t->grad_ready = calloc(nv, sizeof *t->grad_ready);
    t->conv = calloc(nv, sizeof *t->conv);
    t->rstd = calloc(nv, sizeof *t->rstd);
    if (!t->shape || !t->value || !t->grad || !t->needs_grad || !t->grad_ready || !t->conv ||
        !t->rstd)
        goto oom;
    t->shape[0] = (Shape4){n, net->in_channels, h, w};
    if (plan(net, t, err) != 0) {
        trace_free(t);
        return NULL;
    }
    size_t stats = 0;
    for (int v = 1; v < nv; v++) {
        t->arena_floats += shape_numel(t->shape[v]);
        if (net->layers[v - 1].kind == LAYER_INSTANCE_NORM)
            stats += (size_t)t->shape[v].n * t->shape[v].c;
    }
    t->arena = malloc((t->arena_floats + stats + t->work_floats + 1) * sizeof(float));
    if (!t->arena)
        goto oom;
    float *p = t->arena;
    for (int v = 1; v < nv; v++) {
        t->value[v] = p;
        p += shape_numel(t->shape[v]);
    }
    for (int i = 0; i < net->n_layers; i++)
        if (net->layers[i].kind == LAYER_INSTANCE_NORM) {
            t->rstd[i] = p;
            p += (size_t)t->shape[i + 1].n * t->shape[i + 1].c;
        }
    t->work = p;
    if (training) {
        // Value 0's gradient lives here too so that din can be accumulated from it.
        t->grad_floats = t->arena_floats + shape_numel(t->shape[0]);
        t->grad_arena = malloc(t->grad_floats * sizeof(float));
        if (!t->grad_arena)
            goto oom;
        float *g = t->grad_arena;
        for (int v = 0; v < nv; v++) {
            t->grad[v] = g;
            g += shape_numel(t->shape[v]);
        }
    }
    if (plan_fusion(net, t, training) != 0)
        goto oom;
    return t;
oom:
    trace_free(t);
    err_set(err, "out of memory for a network trace (%dx%dx%d, batch %d)", net->in_channels, h, w,
            n);
    return NULL;
}

Trace *trace_create_inference(const Net *net, int h, int w, Pool *pool, Err *err)
{
    Trace *t = trace_create(net, 1, h, w, false, pool, err);
    if (t && (trace_use_bf16(t, net, err) < 0 || trace_keep_winograd_kernels(t, net, err) < 0)) {
        trace_free(t);
        return NULL;
    }
    return t;
}

void trace_free(Trace *t)
{
    if (!t)
        return;
    free(t->shape);
    free(t->value);
    free(t->grad);
    free(t->needs_grad);
    free(t->grad_ready);
    free(t->conv);
    free(t->rstd);
    free(t->arena);
    free(t->grad_arena);
    free(t->bf16_weight);
    free(t->bf16_arena);
    free(t->bf16_work);
    free(t->winograd_kernel);
    free(t->winograd_arena);
    free(t->fused);
    free(t);
}

Shape4 trace_output_shape(const Trace *t)
{
    return t->shape[t->n_values - 1];
}

size_t trace_bytes(const Trace *t)
{
    return (t->arena_floats + t->work_floats + t->grad_floats + t->bf16_work_floats) *
               sizeof(float) +
           t->bf16_count * sizeof(uint16_t);
}

static bool takes_bf16(const Net *net, const Trace *t, int i)
{
    return net->layers[i].kind == LAYER_CONV && net->layers[i].weight >= 0 &&
           conv_bf16_applies(&t->conv[i]);
}

// Inference in bf16 also takes the upsampling (convt_bf16.c); training's backward has no
// bf16 transposed convolution, so takes_bf16 alone says what training does. On AVX512_BF16
// vectors, a layer that the kept fp32 F(4x4, 3x3) kernels take on our packed GEMM
// (winograd_gemm.h) stays fp32: it is faster there (make bench's roofline on a Zen 4: the
// residual convolutions of 128/6/32 in 6.3 ms against 8.6 in bf16, of 256/9/64 in 142 against
// 202), while the stride-2 and transposed layers are twice as fast in bf16. AMX was not measured
// against it and keeps every layer it can.
static bool infers_bf16(const Net *net, const Trace *t, int i)
{
    const Layer *L = &net->layers[i];
    if (L->kind == LAYER_CONVT)
        return L->weight >= 0 && convt_bf16_applies(&t->conv[i]);
    if (!conv_bf16_on_amx() && winograd_gemm_available() && winograd_large_tiles() &&
        winograd_forward_applies(&t->conv[i]))
        return false;
    return takes_bf16(net, t, i);
}

static size_t inference_packed_count(const Net *net, const Trace *t, int i)
{
    return net->layers[i].kind == LAYER_CONVT ? convt_bf16_packed_count(&t->conv[i])
                                               : conv_bf16_packed_count(&t->conv[i]);
}

static void grow_to(size_t *x, size_t v)
{
    *x = v > *x ? v : *x;
}

// Gives back whatever bf16 state t holds, leaving it as a trace that never used bf16.
static int drop_bf16(Trace *t, int layers, Err *err)
{
    free(t->bf16_weight), free(t->bf16_arena), free(t->bf16_work);
    t->bf16_weight = NULL, t->bf16_arena = NULL, t->bf16_work = NULL;
    t->bf16_count = t->bf16_work_floats = 0;
    return err_set(err, "out of memory for bf16 convolutions (%d layers)", layers);
}

// Allocates the bf16 arena and scratch t's counts call for; on failure drops all bf16 state.
static int alloc_bf16(Trace *t, int layers, Err *err)
{
    t->bf16_arena = malloc(t->bf16_count * sizeof(uint16_t));
    t->bf16_work = malloc(t->bf16_work_floats * sizeof(float));
    if (t->bf16_arena && t->bf16_work)
        return 0;
    return drop_bf16(t, layers, err);
}

int trace_use_bf16(Trace *t, const Net *net, Err *err)
{
    if (t->grad_arena)
        return err_set(err, "bf16 convolutions are for inference: this trace is for training");
    if (t->bf16_weight || !conv_bf16_available())
        return 0;
    int layers = 0, threads = pool_threads(t->pool);
    for (int i = 0; i < net->n_layers; i++)
        if (infers_bf16(net, t, i)) {
            const ConvShape *s = &t->conv[i];
            t->bf16_count += inference_packed_count(net, t, i);
            grow_to(&t->bf16_work_floats, s->transposed ? convt_bf16_workspace_floats(s, threads)
                                                        : conv_bf16_workspace_floats(s, threads));
            layers++;
        }
    if (layers == 0)
        return 0;
    if (!(t->bf16_weight = calloc((size_t)net->n_layers, sizeof *t->bf16_weight)))
        return err_set(err, "out of memory for bf16 convolutions (%d layers)", layers);
    if (alloc_bf16(t, layers, err))
        return -1;
    uint16_t *p = t->bf16_arena;
    for (int i = 0; i < net->n_layers; i++)
        if (infers_bf16(net, t, i)) {
            const float *w = param_data(&net->params, net->layers[i].weight);
            t->bf16_weight[i] = p;
            if (!t->conv[i].transposed)
                conv_bf16_pack(&t->conv[i], w, p);
            else if (convt_bf16_pack(&t->conv[i], w, p) != 0)
                return drop_bf16(t, layers, err);
            p += inference_packed_count(net, t, i);
        }
    return layers;
}

// The convolutions a Winograd plan speaks of.
static bool in_winograd_plan(const Net *net, const Trace *t, int i)
{
    return net->layers[i].kind == LAYER_CONV && winograd_eligible(&t->conv[i]);
}

static bool same_conv(const ConvShape *a, const ConvShape *b)
{
    return a->c == b->c && a->h == b->h && a->w == b->w && a->oc == b->oc && a->pad == b->pad;
}

int trace_measure_winograd(Trace *t, const Net *net, Err *err)
{
    for (int i = 0; i < net->n_layers; i++) {
        if (!in_winograd_plan(net, t, i))
            continue;
        int j = 0;
        while (j < i && !(in_winograd_plan(net, t, j) && same_conv(&t->conv[j], &t->conv[i])))
            j++;
        if (j < i)
            memcpy(t->conv[i].winograd_pick, t->conv[j].winograd_pick,
                   sizeof t->conv[i].winograd_pick);
        else if (winograd_pick_measure(t->pool, &t->conv[i], err))
            return -1;
    }
    return 0;
}

static const char PICK_LETTER[] = {[WINOGRAD_PICK_RULE] = 'r',
                                   [WINOGRAD_PICK_WINOGRAD] = 'w',
                                   [WINOGRAD_PICK_IM2COL] = 'i',
                                   [WINOGRAD_PICK_WINOGRAD4] = '4'};

char *trace_winograd_plan(const Trace *t, const Net *net)
{
    char *plan = malloc(4 * (size_t)net->n_layers + 1), *p = plan;
    if (!plan)
        return NULL;
    for (int i = 0; i < net->n_layers; i++)
        if (in_winograd_plan(net, t, i)) {
            if (p > plan)
                *p++ = ' ';
            for (int k = 0; k < 3; k++)
                *p++ = PICK_LETTER[t->conv[i].winograd_pick[k]];
        }
    *p = '\0';
    return plan;
}

int trace_set_winograd_plan(Trace *t, const Net *net, const char *plan, Err *err)
{
    uint8_t picks[3 * 256];
    int n = 0;
    const char *p = plan;
    for (; *p && n < 256; n++) {
        for (int k = 0; k < 3; k++, p++) {
            const char *letter = *p ? memchr(PICK_LETTER, *p, sizeof PICK_LETTER) : NULL;
            if (!letter ||
                (k == WINOGRAD_PASS_WEIGHT && letter - PICK_LETTER == WINOGRAD_PICK_WINOGRAD4))
                return err_set(err,
                               "Winograd plan '%s': expected three of 'r', 'w', 'i', '4' ('4' "
                               "not for the weight gradient) at %d",
                               plan, (int)(p - plan));
            picks[3 * n + k] = (uint8_t)(letter - PICK_LETTER);
        }
        if (*p && (*p++ != ' ' || !*p))
            return err_set(err, "Winograd plan '%s': expected a space and more at %d", plan,
                           (int)(p - 1 - plan));
    }
    int want = 0;
    for (int i = 0; i < net->n_layers; i++)
        want += in_winograd_plan(net, t, i);
    if (*p || n != want)
        return err_set(err, "Winograd plan '%s' names %s%d convolutions; this network has %d",
                       plan, *p ? "more than " : "", n, want);
    for (int i = 0, j = 0; i < net->n_layers; i++)
        if (in_winograd_plan(net, t, i))
            memcpy(t->conv[i].winograd_pick, &picks[3 * j++], 3);
    return 0;
}

int trace_train_bf16(Trace *t, const Net *net, Err *err)
{
    if (!t->grad_arena)
        return err_set(err, "bf16 training needs a training trace");
    if (t->bf16_weight || t->bf16_train || !conv_bf16_available())
        return 0;
    int layers = 0, threads = pool_threads(t->pool);
    for (int i = 0; i < net->n_layers; i++)
        if (takes_bf16(net, t, i)) {
            const ConvShape *s = &t->conv[i];
            const ConvShape g = conv_bf16_gradient_shape(s);
            grow_to(&t->bf16_work_floats, conv_bf16_workspace_floats(s, threads));
            grow_to(&t->bf16_work_floats, conv_bf16_workspace_floats(&g, threads));
            grow_to(&t->bf16_work_floats, conv_bf16_weight_workspace_floats(s, threads));
            grow_to(&t->bf16_count, conv_bf16_packed_count(s));
            grow_to(&t->bf16_count, conv_bf16_packed_count(&g));
            layers++;
        }
    if (layers == 0)
        return 0;
    if (alloc_bf16(t, layers, err))
        return -1;
    t->bf16_train = true;
    return layers;
}

// Layers trace_keep_winograd_kernels keeps a kernel for: fp32 convolutions Winograd's
// forward takes.
static bool keeps_winograd_kernel(const Net *net, const Trace *t, int i)
{
    const Layer *L = &net->layers[i];
    return L->kind == LAYER_CONV && L->weight >= 0 && !(t->bf16_weight && t->bf16_weight[i]) &&
           winograd_forward_applies(&t->conv[i]);
}

int trace_keep_winograd_kernels(Trace *t, const Net *net, Err *err)
{
    if (t->grad_arena)
        return err_set(err, "kept Winograd kernels are for inference: this trace is for training");
    if (t->winograd_kernel || t->bf16_train)
        return 0;
    size_t floats = 0;
    int layers = 0;
    for (int i = 0; i < net->n_layers; i++)
        if (keeps_winograd_kernel(net, t, i))
            floats += winograd_kernel_floats(&t->conv[i]), layers++;
    if (layers == 0)
        return 0;
    t->winograd_kernel = calloc((size_t)net->n_layers, sizeof *t->winograd_kernel);
    t->winograd_arena = malloc(floats * sizeof(float));
    if (!t->winograd_kernel || !t->winograd_arena) {
        free(t->winograd_kernel), free(t->winograd_arena);
        t->winograd_kernel = NULL, t->winograd_arena = NULL;
        return err_set(err, "out of memory for Winograd kernels (%d layers)", layers);
    }
    float *u = t->winograd_arena;
    for (int i = 0; i < net->n_layers; i++)
        if (keeps_winograd_kernel(net, t, i)) {
            t->winograd_kernel[i] = u;
            winograd_transform_kernel(t->pool, &t->conv[i],
                                      param_data(&net->params, net->layers[i].weight), u);
            u += winograd_kernel_floats(&t->conv[i]);
        }
    return layers;
}

double trace_macs(const Net *net, const Trace *t)
{
    double macs = 0.0;
    for (int i = 0; i < net->n_layers; i++) {
        const ConvShape *s = &t->conv[i];
        if (net->layers[i].kind == LAYER_CONV || net->layers[i].kind == LAYER_CONVT)
            macs += (double)s->n * s->oc * s->oh * s->ow * s->c * s->k * s->k;
    }
    return macs;
}

static const float *param_or_null(const Net *net, int i)
{
    return i < 0 ? NULL : param_data(&net->params, i);
}

// The ops other than convolutions are split over the pool by planes (pad, norm, mean) or by
// element ranges (activations, residual add); one job runs one layer's forward or backward.
// A backward writes its input's gradient where no other layer has yet (add_in false) and adds
// to it otherwise, and so for the residual add's skip (add_skip); a writing op zeroes its own
// planes or range first, or copies, so no pass over a whole gradient zeroes it beforehand.
typedef struct {
    const Net *net;
    Trace *t;
    int layer;
    bool backward;
    int fused; // layers after this one computed with it (Trace.fused)
    bool add_in, add_skip;
} LayerJob;

static float activation_slope(const Layer *L)
{
    return L->kind == LAYER_LEAKY_RELU ? LEAKY_RELU_SLOPE : 0.0f;
}

static void norm_forward_part(const LayerJob *j, size_t b, int planes)
{
    const Layer *L = &j->net->layers[j->layer];
    Trace *t = j->t;
    const int i = j->layer;
    const Shape4 so = t->shape[i + 1];
    const size_t plane = (size_t)so.h * so.w;
    const float *x = t->value[L->in] + b * plane;
    float *y = t->value[i + 1] + b * plane, *rstd = t->rstd[i] + b;
    if (!j->fused) {
        instance_norm_forward(x, y, rstd, planes, so.h * so.w);
    } else if (t->grad_arena) { // training: the norm's output is kept for its backward
        instance_norm_act_forward(x, y, t->value[i + 2] + b * plane, rstd, planes, so.h * so.w,
                                  activation_slope(&j->net->layers[i + 1]));
    } else {
        const Shape4 sf = t->shape[i + 1 + j->fused];
        int pad = j->fused == 2 ? j->net->layers[i + 2].pad : 0;
        instance_norm_relu_pad_forward(x, t->value[i + 1 + j->fused] + b * sf.h * sf.w, rstd,
                                       planes, so.h, so.w, pad);
    }
}

static void layer_part(void *ctx, int ti, int nt)
{
    const LayerJob *j = ctx;
    const Layer *L = &j->net->layers[j->layer];
    Trace *t = j->t;
    const int i = j->layer;
    const Shape4 si = t->shape[L->in], so = t->shape[i + 1];
    const float *x = t->value[L->in];
    float *y = t->value[i + 1];
    size_t b, e; // this thread's planes or elements
    if (L->kind == LAYER_REFLECT_PAD || L->kind == LAYER_INSTANCE_NORM ||
        L->kind == LAYER_MEAN_HW || L->kind == LAYER_UPSAMPLE) {
        pool_split((size_t)so.n * so.c, ti, nt, &b, &e);
        size_t in_plane = (size_t)si.h * si.w, out_plane = (size_t)so.h * so.w;
        int planes = (int)(e - b);
        if (!j->backward) {
            if (L->kind == LAYER_REFLECT_PAD)
                reflect_pad_forward(x + b * in_plane, y + b * out_plane, planes, si.h, si.w,
                                    L->pad);
            else if (L->kind == LAYER_INSTANCE_NORM)
                norm_forward_part(j, b, planes);
            else if (L->kind == LAYER_UPSAMPLE)
                upsample2_forward(x + b * in_plane, y + b * out_plane, planes, si.h, si.w);
            else
                mean_hw_forward(x + b * in_plane, y + b, planes, si.h * si.w);
            return;
        }
        float *dx = t->grad[L->in] + b * in_plane;
        if (L->kind == LAYER_INSTANCE_NORM && j->fused) {
            instance_norm_act_backward(y + b * out_plane, t->rstd[i] + b,
                                       t->grad[i + 2] + b * out_plane, dx, planes, so.h * so.w,
                                       activation_slope(&j->net->layers[i + 1]), j->add_in);
            return;
        }
        if (!j->add_in)
            memset(dx, 0, (size_t)planes * in_plane * sizeof(float));
        const float *dy = t->grad[i + 1] + b * out_plane;
        if (L->kind == LAYER_REFLECT_PAD)
            reflect_pad_backward(dy, dx, planes, si.h, si.w, L->pad);
        else if (L->kind == LAYER_INSTANCE_NORM)
            instance_norm_backward(y + b * out_plane, t->rstd[i] + b, dy, dx, planes, so.h * so.w);
        else if (L->kind == LAYER_UPSAMPLE)
            upsample2_backward(dy, dx, planes, si.h, si.w);
        else
            mean_hw_backward(t->grad[i + 1] + b, dx, planes, si.h * si.w);
        return;
    }
    pool_split(shape_numel(so), ti, nt, &b, &e);
    size_t n = e - b;
    if (!j->backward) {
        switch (L->kind) {
        case LAYER_RELU: relu_forward(x + b, y + b, n); break;
        case LAYER_LEAKY_RELU: leaky_relu_forward(x + b, y + b, n); break;
        case LAYER_TANH: tanh_forward(x + b, y + b, n); break;
        case LAYER_ADD: add_forward(x + b, t->value[L->skip] + b, y + b, n); break;
        default: break;
        }
        return;
    }
    const float *dy = t->grad[i + 1] + b;
    float *dx = t->needs_grad[L->in] ? t->grad[L->in] + b : NULL;
    if (L->kind == LAYER_ADD) { // the input first: it may be the skip too (x + x)
        if (dx && j->add_in)
            accumulate(dx, dy, n);
        else if (dx)
            memcpy(dx, dy, n * sizeof(float));
        float *dskip = t->grad[L->skip] + b;
        if (t->needs_grad[L->skip] && j->add_skip)
            accumulate(dskip, dy, n);
        else if (t->needs_grad[L->skip])
            memcpy(dskip, dy, n * sizeof(float));
        return;
    }
    if (!j->add_in)
        memset(dx, 0, n * sizeof(float));
    switch (L->kind) {
    case LAYER_RELU: relu_backward(y + b, dy, dx, n); break;
    case LAYER_LEAKY_RELU: leaky_relu_backward(y + b, dy, dx, n); break;
    case LAYER_TANH: tanh_backward(y + b, dy, dx, n); break;
    default: break;
    }
}

const float *net_forward(const Net *net, Trace *t, const float *in)
{
    return net_forward_timed(net, t, in, NULL);
}

const float *net_forward_timed(const Net *net, Trace *t, const float *in, double *seconds)
{
    t->value[0] = (float *)in; // read only: no layer writes to value 0
    for (int i = 0; i < net->n_layers; i++) {
        double t0 = seconds ? clock_now_s() : 0.0;
        const Layer *L = &net->layers[i];
        const float *x = t->value[L->in];
        float *y = t->value[i + 1];
        if (L->kind == LAYER_CONV && t->bf16_weight && t->bf16_weight[i]) {
            conv2d_forward_bf16(t->pool, &t->conv[i], x, t->bf16_weight[i],
                                param_or_null(net, L->bias), y, t->bf16_work);
        } else if (L->kind == LAYER_CONV && t->bf16_train && takes_bf16(net, t, i)) {
            conv_bf16_pack(&t->conv[i], param_data(&net->params, L->weight), t->bf16_arena);
            conv2d_forward_bf16(t->pool, &t->conv[i], x, t->bf16_arena,
                                param_or_null(net, L->bias), y, t->bf16_work);
        } else if (L->kind == LAYER_CONV && t->winograd_kernel && t->winograd_kernel[i])
            conv2d_forward_winograd(t->pool, &t->conv[i], x, t->winograd_kernel[i],
                                    param_or_null(net, L->bias), y, t->work);
        else if (L->kind == LAYER_CONV)
            conv2d_forward(t->pool, &t->conv[i], x, param_or_null(net, L->weight),
                           param_or_null(net, L->bias), y, t->work);
        else if (L->kind == LAYER_CONVT && t->bf16_weight && t->bf16_weight[i])
            convt_bf16_forward(t->pool, &t->conv[i], x, t->bf16_weight[i],
                               param_or_null(net, L->bias), y, t->bf16_work);
        else if (L->kind == LAYER_CONVT)
            convt2d_forward(t->pool, &t->conv[i], x, param_or_null(net, L->weight),
                            param_or_null(net, L->bias), y, t->work);
        else
            pool_run(t->pool, layer_part, &(LayerJob){net, t, i, false, t->fused[i], true, true});
        if (seconds)
            seconds[i] += clock_now_s() - t0;
        i += t->fused[i];
    }
    return t->value[t->n_values - 1];
}

// Every backward op adds into its input's gradient: zeroed here just before the first one does
// (rather than the whole arena up front: only the gradients needed, and each still in cache when
// it is added to).
static float *grad_for_adding(Trace *t, int v)
{
    if (!t->grad_ready[v]) {
        memset(t->grad[v], 0, shape_numel(t->shape[v]) * sizeof(float));
        t->grad_ready[v] = true;
    }
    return t->grad[v];
}

void net_backward(Net *net, Trace *t, const float *dout, float *din, bool param_grads)
{
    net_backward_timed(net, t, dout, din, param_grads, NULL);
}

void net_backward_timed(Net *net, Trace *t, const float *dout, float *din, bool param_grads,
                        double *seconds)
{
    const int nv = t->n_values;
    bool pgrads = param_grads && net->params.grad;
    // A value needs a gradient when something upstream of it does: the input (for din) or a
    // parameter (for param_grads).
    t->needs_grad[0] = din != NULL;
    for (int i = 0; i < net->n_layers; i++) {
        const Layer *L = &net->layers[i];
        bool has_params = pgrads && (L->weight >= 0 || L->bias >= 0);
        t->needs_grad[i + 1] =
            t->needs_grad[L->in] || has_params || (L->kind == LAYER_ADD && t->needs_grad[L->skip]);
    }
    memset(t->grad_ready, 0, (size_t)nv * sizeof *t->grad_ready);
    memcpy(t->grad[nv - 1], dout, shape_numel(t->shape[nv - 1]) * sizeof(float));
    t->grad_ready[nv - 1] = true;
    ParamSet *ps = &net->params;
    for (int i = net->n_layers - 1; i >= 0; i--) {
        const Layer *L = &net->layers[i];
        if (!t->needs_grad[i + 1] || (i > 0 && t->fused[i - 1]))
            continue; // (a fused activation's backward runs with its norm's)
        double t0 = seconds ? clock_now_s() : 0.0;
        const bool conv = L->kind == LAYER_CONV || L->kind == LAYER_CONVT;
        const float *x = t->value[L->in], *dy = grad_for_adding(t, i + 1 + t->fused[i]);
        // The convolutions' kernels add into a gradient zeroed here; the other ops write
        // where they are first (LayerJob).
        float *dx = NULL;
        bool add_in = true, add_skip = true;
        if (t->needs_grad[L->in] && conv) {
            dx = grad_for_adding(t, L->in);
        } else if (t->needs_grad[L->in]) {
            dx = t->grad[L->in];
            add_in = t->grad_ready[L->in];
            t->grad_ready[L->in] = true;
        }
        if (L->kind == LAYER_ADD && t->needs_grad[L->skip]) {
            add_skip = t->grad_ready[L->skip];
            t->grad_ready[L->skip] = true;
        }
        float *dw = pgrads && L->weight >= 0 ? param_grad(ps, L->weight) : NULL;
        float *db = pgrads && L->bias >= 0 ? param_grad(ps, L->bias) : NULL;
        if (L->kind == LAYER_CONV && t->bf16_train && takes_bf16(net, t, i))
            conv2d_backward_bf16(t->pool, &t->conv[i], x, param_or_null(net, L->weight), dy, dx,
                                 dw, db, t->work, t->bf16_arena, t->bf16_work);
        else if (L->kind == LAYER_CONV)
            conv2d_backward(t->pool, &t->conv[i], x, param_or_null(net, L->weight), dy, dx, dw, db,
                            t->work);
        else if (L->kind == LAYER_CONVT)
            convt2d_backward(t->pool, &t->conv[i], x, param_or_null(net, L->weight), dy, dx, dw, db,
                             t->work);
        else if (dx || L->kind == LAYER_ADD)
            pool_run(t->pool, layer_part,
                     &(LayerJob){net, t, i, true, t->fused[i], add_in, add_skip});
        if (seconds)
            seconds[i] += clock_now_s() - t0;
    }
    if (din)
        accumulate(din, grad_for_adding(t, 0), shape_numel(t->shape[0]));
}
