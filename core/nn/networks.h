// The seed's two networks (aitorzip/PyTorch-CycleGAN models.py), with widths as options and
// parameters named exactly as the PyTorch state_dict (model.1.weight, model.10.conv_block.1.bias).
#ifndef AGESHIFT_NETWORKS_H
#define AGESHIFT_NETWORKS_H

#include <stdint.h>

#include "core/nn/net.h"

// How the generator doubles its resolution twice on the way out.
typedef enum {
    UPSAMPLE_CONVT = 0, // the seed's 3x3 stride-2 transposed convolution
    UPSAMPLE_RESIZE,    // nearest-neighbour 2x, ReflectionPad 1, 3x3 convolution: no
                        // checkerboard (Odena, Dumoulin & Olah 2016, "Deconvolution and
                        // Checkerboard Artifacts"), at 4x the multiplies of the transposed one
} Upsample;

typedef struct {
    int ngf;           // width of the first layer (the seed: 64)
    int n_blocks;      // residual blocks (the seed: 9)
    Upsample upsample; // the seed: UPSAMPLE_CONVT
} GeneratorConfig;

// "convt" / "resize", as the model files and the command line spell them.
const char *upsample_name(Upsample u);
int upsample_parse(const char *s, Upsample *u); // 0, or -1 for an unknown name

// ReflectionPad 3, conv 7x7 (3->ngf), IN, ReLU; two stride-2 3x3 convs (ngf->2ngf->4ngf) with
// IN, ReLU; n_blocks residual blocks; two upsampling stages halving the channels with IN, ReLU;
// ReflectionPad 3, conv 7x7 (ngf->3), tanh. Image sides must be multiples of 4. PyTorch module
// indices follow the layers: with UPSAMPLE_RESIZE each stage is 5 modules (Upsample,
// ReflectionPad2d, Conv2d, InstanceNorm2d, ReLU) instead of 3, so the layers after the first
// stage are numbered on from there (tools/cyclegan_models.py builds the same).
int generator_build(Net *net, GeneratorConfig cfg, Err *err);
// generator_build without the parameters' memory: the layers and the parameters' names and
// shapes only (paramset_alloc allocates them), so that a loader can compare a file with the
// architecture before allocating what the file's metadata asks for.
int generator_declare(Net *net, GeneratorConfig cfg, Err *err);

// conv 4x4 s2 (3->ndf) LeakyReLU; conv 4x4 s2 (->2ndf) IN LeakyReLU; conv 4x4 s2 (->4ndf) IN
// LeakyReLU; conv 4x4 s1 p1 (->8ndf) IN LeakyReLU; conv 4x4 s1 p1 (->1); mean over H x W:
// one score per image.
int discriminator_build(Net *net, int ndf, Err *err);

// The seed's weights_init_normal: conv weights ~ N(0, 0.02); biases as PyTorch's default,
// uniform in +-1/sqrt(fan_in).
void net_init_weights(Net *net, uint64_t seed);

#endif
