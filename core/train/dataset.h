// Training data: the two domains (young, old) found on disk in any of three layouts, split
// 80/20 into train and test with a fixed seed, and a background loader that decodes and
// augments batches as the seed does while the math runs.
#ifndef AGESHIFT_DATASET_H
#define AGESHIFT_DATASET_H

#include <stdbool.h>
#include <stdint.h>

#include "core/base/err.h"
#include "core/train/augment.h"
#include "media/image_io.h"

typedef struct {
    char **paths;
    int *ages; // -1 where the layout gives none (two folders given directly)
    int count;
} ImageList;

void image_list_free(ImageList *l); // NULL is a no-op

typedef struct {
    // Either two folders given directly (every image in young_dir is young, in old_dir old)...
    const char *young_dir, *old_dir;
    // ...or one root holding the Kaggle "facial-age" layout (root/001 ... root/110, one folder
    // per age) or UTKFace files named AGE_GENDER_RACE_DATE.jpg.chip.jpg (age = the number
    // before the first '_'); the age ranges (inclusive) choose the domains.
    const char *root;
    int young_min, young_max, old_min, old_max;
    uint64_t seed;        // for the split
    double test_fraction; // the seed: 0.2
} DatasetSpec;

// The age in a UTKFace file name ("26_1_0_20170116230000000.jpg.chip.jpg" is 26): 1 to 3
// digits then '_', in a name ending in .jpg, .jpeg or .png (any case); -1 for any other name.
int dataset_utkface_age(const char *filename);
// The age of a Kaggle facial-age folder ("001" ... "110"): 1 to 3 digits and nothing else;
// -1 for any other name.
int dataset_kaggle_folder_age(const char *dirname);

typedef struct {
    ImageList train, test;
} DomainSplit;

// Called for each file that is skipped (not an image, undecodable) and for notes; may be NULL.
typedef void (*DatasetWarn)(void *ctx, const char *msg);

// Scans, validates (every file is decoded once; a file that cannot be decoded is skipped with a
// warning naming it) and splits. A missing or unreadable folder, or a domain with no usable
// image, is an error. The split is a fixed-seed shuffle, the same for the same files and seed
// whatever the order the directory lists them in.
int dataset_scan(const DatasetSpec *spec, DomainSplit *young, DomainSplit *old, DatasetWarn warn,
                 void *warn_ctx, Err *err);
void domain_split_free(DomainSplit *s);

// The seed's unaligned pairing: an epoch has max(n_young, n_old) / batch iterations (the last
// partial batch dropped); sample i of an epoch is young[perm(i) mod n_young] with a random old
// image. Augmentation as the seed: resize to 1.12 x size (bicubic), random size x size crop,
// random horizontal flip, scale to [-1, 1]. Every random choice is a function of (seed, epoch,
// index), so a loader started at (epoch, iteration) yields exactly what an uninterrupted one
// would have yielded there. aug (copied; NULL: none) adds augment.h's transforms.
typedef struct Loader Loader;

Loader *loader_create(const ImageList *young, const ImageList *old, int size, int batch,
                      const Augment *aug, uint64_t seed, int start_epoch, long start_iteration,
                      Err *err);
// (start_iteration counts iterations within start_epoch.)
void loader_free(Loader *l); // stops the background thread; NULL is a no-op
long loader_iterations_per_epoch(const Loader *l);
// Blocks until the next batch is ready: a and b are (batch, 3, size, size). Returns 0, or -1
// with a reason if the background thread failed (e.g. a file vanished mid-run).
int loader_next(Loader *l, float *a, float *b, Err *err);

#endif
