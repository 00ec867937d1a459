// The model file the filter loads: the two generators of a trained CycleGAN in one safetensors
// file, G_A2B (young to old) and G_B2A (old to young) under those prefixes, with their
// architecture in __metadata__ ("G_A2B.ngf", "G_A2B.n_blocks", "G_A2B.size", "G_A2B.upsample"
// (absent: "convt"), ...). The same layout as tools/pth2safetensors.py writes from the seed's
// netG_A2B.pth / netG_B2A.pth.
#ifndef AGESHIFT_MODEL_FILE_H
#define AGESHIFT_MODEL_FILE_H

#include "core/model/age_direction.h"
#include "core/model/safetensors.h"
#include "core/nn/networks.h"

#define MODEL_FILE_FORMAT "ageshift-model"

typedef struct {
    GeneratorConfig gen;
    int size; // the square image size it was trained at
} GeneratorArch;

// Writes both generators atomically (temporary file, fsync, rename), their weights as dtype:
// ST_F16 halves the file (the loader widens them to float again).
int model_file_save(const char *path, const Net *young_to_old, const Net *old_to_young,
                    GeneratorArch arch, StDtype dtype, Err *err);

// Builds the generator for one direction from the file's metadata and loads its weights into
// *net (which must be zeroed). Refuses, naming the file and the problem: a file that is not an
// ageshift model, missing or invalid architecture metadata, tensors missing or shaped for
// another architecture, NaN or Inf weights.
int model_file_load(const char *path, AgeDirection dir, Net *net, GeneratorArch *arch, Err *err);

#endif
