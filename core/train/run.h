// The state of one training run, shared by the files of the trainer (trainer.c runs it,
// run_checkpoint.c saves and restores it, run_record.c writes its losses, plots and sample
// grids); not for other callers.
#ifndef AGESHIFT_TRAIN_RUN_H
#define AGESHIFT_TRAIN_RUN_H

#include <stdbool.h>
#include <stdio.h>

#include "core/model/safetensors.h"
#include "core/train/trainer.h"

#define N_LOSSES 5

typedef struct {
    long iteration;
    int epoch;
    float loss[N_LOSSES];
    float lr;
} LossRow;

typedef struct {
    TrainConfig cfg;
    const char *dir;
    const TrainHooks *hooks;
    Pool *pool;
    DomainSplit young, old;
    CycleGan *gan;
    Loader *loader;
    Trace *eval; // batch 1, for the sample grids
    long iteration, per_epoch;
    LossRow *rows;
    long n_rows, cap_rows;
    FILE *csv;
    float *a, *b;         // one batch of each domain
    char *owned_paths[3]; // the data folders read from a checkpoint
} Run;

// A message for the user, through the run's hooks.
void run_note(const Run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// buf = the run's folder / name.
void run_path(const Run *r, char *buf, size_t len, const char *name);

// run_checkpoint.c: checkpoint.safetensors (everything a resume needs: weights, Adam moments,
// the random state, the replay buffers, the configuration) and model.safetensors, the two
// generators for the filter. Both written atomically; losses.csv is synced first.
int run_save_checkpoint(Run *r, Err *err);
// The configuration and data folders a checkpoint was made with, into r->cfg.
int run_read_checkpoint_config(const StFile *f, Run *r, Err *err);
// The rest of the state, into a run set up from that configuration; refused when the data no
// longer has the same number of training images.
int run_load_checkpoint_state(const StFile *f, Run *r, Err *err);

// run_record.c: losses.csv, the loss plots and the sample grids of test faces.
// Opens losses.csv for appending; on resume keeps its rows up to r->iteration.
int run_open_csv(Run *r, bool resume, Err *err);
// Appends one iteration's losses to losses.csv and to the history the plots are drawn from.
int run_record_row(Run *r, const LossRow *row, Err *err);
// losses.csv on the disk (before the checkpoint that refers to it).
int run_sync_csv(Run *r, Err *err);
int run_save_plots(Run *r, Err *err);
// samples/epoch_NNNN.png for the epoch (0-based) just finished.
int run_save_samples(Run *r, int epoch, Err *err);

#endif
