// `ageshift train`: the CycleGAN trained offline from two folders of faces into a run folder
// that holds everything a person or a later run needs:
//   checkpoint.safetensors  the four networks, Adam's moments, replay buffers, RNG and position
//                           (written atomically every N iterations, at each epoch's end and on
//                           a stop request; a run resumes from it at the same iteration)
//   model.safetensors       the two generators, for the filter
//   losses.csv              one row per iteration: the seed's five losses and the learning rate
//   loss_*.png              the five curves, raw and smoothed, redrawn each epoch
//   samples/epoch_NNNN.png  test faces both ways: real, translated, reconstructed
#ifndef AGESHIFT_TRAINER_H
#define AGESHIFT_TRAINER_H

#include <signal.h>
#include <stdbool.h>

#include "core/train/cyclegan.h"
#include "core/train/dataset.h"

typedef struct {
    DatasetSpec data;
    int size, ngf, n_blocks, ndf, batch;
    Upsample upsample;       // the generators' upsampling layers
    Augment augment;         // beyond the seed's crop and flip (all 0: the seed's alone)
    int epochs, decay_epoch; // linear decay of the learning rate to 0 from decay_epoch on;
                             // on resume, epochs > 0 and decay_epoch >= 0 replace the saved
                             // ones (to lengthen a run), others keep them
    float lr;
    float lambda_identity, lambda_cycle; // loss weights (the seed's: 5 and 10)
    uint64_t seed;
    long checkpoint_every; // iterations
    long max_iterations;   // stop (with a checkpoint) after this many in all; 0: no limit
    int threads;           // 0: one per CPU
    int sample_faces;      // test faces per domain in the sample grids
    bool bf16;             // convolutions in bf16 on AMX where the CPU has it (conv_bf16.h)
    bool half_model;       // model.safetensors in F16 (the checkpoint stays F32)
} TrainConfig;

// The seed's recipe at this project's default model size, with resize upsampling and the
// footage-like augmentation (augment_default) on top.
TrainConfig train_config_default(void);

// The seed's LambdaLR: base until decay_epoch, then linearly to 0 at epochs (epoch is 0-based).
float train_lr(float base, int epoch, int epochs, int decay_epoch);

typedef struct {
    int epoch, epochs; // 0-based epoch
    long epoch_iteration, epoch_iterations;
    long iteration, iterations; // done so far, and in all
    double images_per_s, eta_s;
    CycleGanLosses losses;
    float lr;
} TrainProgress;

typedef struct {
    void (*progress)(void *ctx, const TrainProgress *p); // after every iteration
    void (*message)(void *ctx, const char *msg);         // notes: data found, files written
    void *ctx;
    volatile sig_atomic_t *stop; // set (by a signal handler) to stop with a checkpoint
} TrainHooks;

typedef enum { TRAIN_DONE = 0, TRAIN_STOPPED = 1 } TrainOutcome;

// Trains from scratch into out_dir (which must not already hold a checkpoint), or, with
// resume, continues the run in out_dir with the configuration saved in its checkpoint (cfg is
// then ignored, except max_iterations and threads). Returns TRAIN_DONE, TRAIN_STOPPED (a stop
// request or max_iterations, checkpoint saved), or -1 with a reason: bad data, a corrupt or
// mismatched checkpoint, a full disk (the last good checkpoint is then left as it was), a
// diverged loss.
int train_run(const TrainConfig *cfg, const char *out_dir, bool resume, const TrainHooks *hooks,
              Err *err);

#endif
