#include "core/nn/networks.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/base/rng.h"

// Declares module `index`'s weight and bias as PyTorch names them and adds the layer.
static int add_conv(Net *net, const char *module, LayerKind kind, int cin, int cout, int k,
                    int stride, int pad, int out_pad, Err *err)
{
    char name[PARAM_NAME_MAX];
    // nn.Conv2d weight is (out, in, k, k); nn.ConvTranspose2d weight is (in, out, k, k).
    int wshape[4] = {kind == LAYER_CONVT ? cin : cout, kind == LAYER_CONVT ? cout : cin, k, k};
    snprintf(name, sizeof name, "%s.weight", module);
    int w = paramset_add(&net->params, name, 4, wshape, err);
    snprintf(name, sizeof name, "%s.bias", module);
    int b = paramset_add(&net->params, name, 1, &cout, err);
    if (w < 0 || b < 0)
        return -1;
    Layer L = {.kind = kind,
               .in = -1,
               .channels = cout,
               .k = k,
               .stride = stride,
               .pad = pad,
               .out_pad = out_pad,
               .weight = w,
               .bias = b};
    return net_add_layer(net, L, err);
}

static int add_simple(Net *net, LayerKind kind, int pad, Err *err)
{
    Layer L = {.kind = kind, .in = -1, .pad = pad, .weight = -1, .bias = -1};
    return net_add_layer(net, L, err);
}

const char *upsample_name(Upsample u)
{
    return u == UPSAMPLE_RESIZE ? "resize" : "convt";
}

int upsample_parse(const char *s, Upsample *u)
{
    if (strcmp(s, "convt") == 0)
        *u = UPSAMPLE_CONVT;
    else if (strcmp(s, "resize") == 0)
        *u = UPSAMPLE_RESIZE;
    else
        return -1;
    return 0;
}

#define TRY(x)                                                                                     \
    do {                                                                                           \
        if ((x) < 0)                                                                               \
            goto fail;                                                                             \
    } while (0)

int generator_build(Net *net, GeneratorConfig cfg, Err *err)
{
    if (generator_declare(net, cfg, err))
        return -1;
    if (paramset_alloc(&net->params, err)) {
        net_free(net);
        return -1;
    }
    return 0;
}

int generator_declare(Net *net, GeneratorConfig cfg, Err *err)
{
    const int ngf = cfg.ngf;
    char m[PARAM_NAME_MAX];
    if (ngf < 1 || cfg.n_blocks < 0 || ngf > 4096 || cfg.n_blocks > 64)
        return err_set(err, "generator: bad size ngf=%d n_blocks=%d", ngf, cfg.n_blocks);
    if (cfg.upsample != UPSAMPLE_CONVT && cfg.upsample != UPSAMPLE_RESIZE)
        return err_set(err, "generator: unknown upsampling %d", (int)cfg.upsample);
    net->in_channels = 3;
    // PyTorch module indices, as in the seed's nn.Sequential.
    TRY(add_simple(net, LAYER_REFLECT_PAD, 3, err)); // model.0
    TRY(add_conv(net, "model.1", LAYER_CONV, 3, ngf, 7, 1, 0, 0, err));
    TRY(add_simple(net, LAYER_INSTANCE_NORM, 0, err));
    TRY(add_simple(net, LAYER_RELU, 0, err));
    TRY(add_conv(net, "model.4", LAYER_CONV, ngf, 2 * ngf, 3, 2, 1, 0, err));
    TRY(add_simple(net, LAYER_INSTANCE_NORM, 0, err));
    TRY(add_simple(net, LAYER_RELU, 0, err));
    TRY(add_conv(net, "model.7", LAYER_CONV, 2 * ngf, 4 * ngf, 3, 2, 1, 0, err));
    TRY(add_simple(net, LAYER_INSTANCE_NORM, 0, err));
    TRY(add_simple(net, LAYER_RELU, 0, err));
    const int f = 4 * ngf;
    int module = 10;
    for (int b = 0; b < cfg.n_blocks; b++, module++) {
        int block_in = net->n_layers; // the value the skip adds back
        TRY(add_simple(net, LAYER_REFLECT_PAD, 1, err));
        snprintf(m, sizeof m, "model.%d.conv_block.1", module);
        TRY(add_conv(net, m, LAYER_CONV, f, f, 3, 1, 0, 0, err));
        TRY(add_simple(net, LAYER_INSTANCE_NORM, 0, err));
        TRY(add_simple(net, LAYER_RELU, 0, err));
        TRY(add_simple(net, LAYER_REFLECT_PAD, 1, err));
        snprintf(m, sizeof m, "model.%d.conv_block.5", module);
        TRY(add_conv(net, m, LAYER_CONV, f, f, 3, 1, 0, 0, err));
        TRY(add_simple(net, LAYER_INSTANCE_NORM, 0, err));
        Layer add = {.kind = LAYER_ADD, .in = -1, .skip = block_in, .weight = -1, .bias = -1};
        TRY(net_add_layer(net, add, err));
    }
    for (int in = f; in > ngf; in /= 2) {
        if (cfg.upsample == UPSAMPLE_CONVT) {
            snprintf(m, sizeof m, "model.%d", module);
            TRY(add_conv(net, m, LAYER_CONVT, in, in / 2, 3, 2, 1, 1, err));
            module += 3;
        } else {
            TRY(add_simple(net, LAYER_UPSAMPLE, 0, err));
            TRY(add_simple(net, LAYER_REFLECT_PAD, 1, err));
            snprintf(m, sizeof m, "model.%d", module + 2);
            TRY(add_conv(net, m, LAYER_CONV, in, in / 2, 3, 1, 0, 0, err));
            module += 5;
        }
        TRY(add_simple(net, LAYER_INSTANCE_NORM, 0, err));
        TRY(add_simple(net, LAYER_RELU, 0, err));
    }
    TRY(add_simple(net, LAYER_REFLECT_PAD, 3, err));
    snprintf(m, sizeof m, "model.%d", module + 1);
    TRY(add_conv(net, m, LAYER_CONV, ngf, 3, 7, 1, 0, 0, err));
    TRY(add_simple(net, LAYER_TANH, 0, err));
    return 0;
fail:
    net_free(net);
    return -1;
}

int discriminator_build(Net *net, int ndf, Err *err)
{
    if (ndf < 1 || ndf > 4096)
        return err_set(err, "discriminator: bad size ndf=%d", ndf);
    net->in_channels = 3;
    TRY(add_conv(net, "model.0", LAYER_CONV, 3, ndf, 4, 2, 1, 0, err));
    TRY(add_simple(net, LAYER_LEAKY_RELU, 0, err));
    TRY(add_conv(net, "model.2", LAYER_CONV, ndf, 2 * ndf, 4, 2, 1, 0, err));
    TRY(add_simple(net, LAYER_INSTANCE_NORM, 0, err));
    TRY(add_simple(net, LAYER_LEAKY_RELU, 0, err));
    TRY(add_conv(net, "model.5", LAYER_CONV, 2 * ndf, 4 * ndf, 4, 2, 1, 0, err));
    TRY(add_simple(net, LAYER_INSTANCE_NORM, 0, err));
    TRY(add_simple(net, LAYER_LEAKY_RELU, 0, err));
    TRY(add_conv(net, "model.8", LAYER_CONV, 4 * ndf, 8 * ndf, 4, 1, 1, 0, err));
    TRY(add_simple(net, LAYER_INSTANCE_NORM, 0, err));
    TRY(add_simple(net, LAYER_LEAKY_RELU, 0, err));
    TRY(add_conv(net, "model.11", LAYER_CONV, 8 * ndf, 1, 4, 1, 1, 0, err));
    TRY(add_simple(net, LAYER_MEAN_HW, 0, err));
    return paramset_alloc(&net->params, err);
fail:
    net_free(net);
    return -1;
}

void net_init_weights(Net *net, uint64_t seed)
{
    Rng rng;
    rng_seed(&rng, seed);
    ParamSet *ps = &net->params;
    for (int l = 0; l < net->n_layers; l++) {
        const Layer *L = &net->layers[l];
        if (L->weight < 0)
            continue;
        const ParamInfo *wi = &ps->info[L->weight];
        float *w = param_data(ps, L->weight);
        for (size_t i = 0; i < wi->numel; i++)
            w[i] = 0.02f * rng_normal(&rng);
        if (L->bias >= 0) {
            // PyTorch's fan_in is weight.size(1) * k * k for both conv kinds.
            float bound = 1.0f / sqrtf((float)(wi->shape[1] * wi->shape[2] * wi->shape[3]));
            float *b = param_data(ps, L->bias);
            for (size_t i = 0; i < ps->info[L->bias].numel; i++)
                b[i] = rng_range(&rng, -bound, bound);
        }
    }
}
