// The CycleGAN training run: its configuration, the schedule, setting up or resuming, and the
// loop (checkpoints, records and sample grids come from run_checkpoint.c and run_record.c).
#include "core/train/trainer.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/clock.h"
#include "core/model/safetensors.h"
#include "core/nn/conv_bf16.h"
#include "core/train/run.h"

TrainConfig train_config_default(void)
{
    return (TrainConfig){
        .data = {.young_min = 20,
                 .young_max = 30,
                 .old_min = 65,
                 .old_max = 80,
                 .seed = 1,
                 .test_fraction = 0.2},
        .size = 128,
        .ngf = 32,
        .n_blocks = 6,
        .upsample = UPSAMPLE_RESIZE,
        .augment = augment_default(),
        .ndf = 64,
        .batch = 1,
        .epochs = 100,
        .decay_epoch = 50,
        .lr = 2e-4f,
        CYCLEGAN_SEED_LOSS_WEIGHTS,
        .seed = 1,
        .checkpoint_every = 500,
        .sample_faces = 4,
    };
}

float train_lr(float base, int epoch, int epochs, int decay_epoch)
{
    if (epochs <= decay_epoch || epoch < decay_epoch)
        return base;
    float f = 1.0f - (float)(epoch - decay_epoch) / (float)(epochs - decay_epoch);
    return base * (f > 0.0f ? f : 0.0f);
}

void run_note(const Run *r, const char *fmt, ...)
{
    if (!r->hooks || !r->hooks->message)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->hooks->message(r->hooks->ctx, msg);
}

void run_path(const Run *r, char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", r->dir, name);
}

static int make_dir(const char *path, Err *err)
{
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return err_set(err, "cannot create folder %s: %s", path, strerror(errno));
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode))
        return err_set(err, "%s exists and is not a folder", path);
    return 0;
}

// ---- the run ----

static void forward_warning(void *ctx, const char *msg)
{
    const Run *r = ctx;
    run_note(r, "%s", msg);
}

static void run_free(Run *r)
{
    loader_free(r->loader);
    trace_free(r->eval);
    cyclegan_free(r->gan);
    pool_free(r->pool);
    domain_split_free(&r->young);
    domain_split_free(&r->old);
    if (r->csv)
        fclose(r->csv);
    free(r->rows);
    free(r->a);
    free(r->b);
    for (int i = 0; i < 3; i++)
        free(r->owned_paths[i]);
}

static int check_config(const TrainConfig *c, Err *err)
{
    if (c->size < 16 || c->size % 4)
        return err_set(err, "image size %d: the networks need a multiple of 4, at least 16",
                       c->size);
    if (c->ngf < 1 || c->ndf < 1 || c->n_blocks < 0 || c->batch < 1 || c->epochs < 1 ||
        c->decay_epoch < 0 || !(c->lr > 0.0f) || c->checkpoint_every < 1 ||
        !(c->lambda_identity >= 0.0f) || !(c->lambda_cycle >= 0.0f))
        return err_set(err,
                       "bad training options (ngf %d, ndf %d, blocks %d, batch %d, epochs "
                       "%d, decay epoch %d, lr %g, checkpoint every %ld, loss weights %g %g)",
                       c->ngf, c->ndf, c->n_blocks, c->batch, c->epochs, c->decay_epoch, c->lr,
                       c->checkpoint_every, c->lambda_identity, c->lambda_cycle);
    return 0;
}

// Scans the data and builds every part of the run for the configuration in r->cfg.
static int setup(Run *r, Err *err)
{
    const TrainConfig *c = &r->cfg;
    if (check_config(c, err))
        return -1;
    if (dataset_scan(&c->data, &r->young, &r->old, forward_warning, r, err))
        return -1;
    run_note(r, "young: %d train, %d test; old: %d train, %d test", r->young.train.count,
             r->young.test.count, r->old.train.count, r->old.test.count);
    r->pool = pool_create(c->threads, err);
    if (!r->pool)
        return -1;
    if (c->bf16 && !conv_bf16_available())
        run_note(r, "bf16 training asked for, but %s: fp32 (rounding differs from bf16 "
                    "iterations, so a resumed run is not bit for bit the uninterrupted one)",
                 conv_bf16_describe());
    CycleGanConfig gc = {.gen = {c->ngf, c->n_blocks, c->upsample},
                         .ndf = c->ndf,
                         .size = c->size,
                         .batch = c->batch,
                         .lambda_identity = c->lambda_identity,
                         .lambda_cycle = c->lambda_cycle,
                         .seed = c->seed,
                         .bf16 = c->bf16};
    r->gan = cyclegan_create(&gc, r->pool, err);
    if (!r->gan)
        return -1;
    r->eval = trace_create(&r->gan->g_a2b, 1, c->size, c->size, false, r->pool, err);
    size_t batch_floats = (size_t)c->batch * 3 * c->size * c->size;
    r->a = malloc(batch_floats * sizeof(float));
    r->b = malloc(batch_floats * sizeof(float));
    if (!r->eval || !r->a || !r->b)
        return err_set(err, "out of memory");
    return 0;
}

static int start_loader(Run *r, Err *err)
{
    const TrainConfig *c = &r->cfg;
    long n = r->young.train.count > r->old.train.count ? r->young.train.count : r->old.train.count;
    r->per_epoch = n / c->batch;
    if (r->per_epoch < 1)
        return err_set(err, "%ld training images are fewer than one batch of %d", n, c->batch);
    r->loader =
        loader_create(&r->young.train, &r->old.train, c->size, c->batch, &c->augment, c->seed,
                      (int)(r->iteration / r->per_epoch), r->iteration % r->per_epoch, err);
    return r->loader ? 0 : -1;
}

static int resume_from(Run *r, const char *dir, const TrainConfig *given, Err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", dir);
    StFile *f = st_open(path, err);
    if (!f)
        return -1;
    int rc = -1;
    if (run_read_checkpoint_config(f, r, err))
        goto done;
    r->cfg.threads = given->threads;
    r->cfg.max_iterations = given->max_iterations;
    if (given->epochs > 0)
        r->cfg.epochs = given->epochs;
    if (given->decay_epoch >= 0)
        r->cfg.decay_epoch = given->decay_epoch;
    if (setup(r, err))
        goto done;
    rc = run_load_checkpoint_state(f, r, err);
done:
    st_close(f);
    return rc;
}

static bool finite_losses(const CycleGanLosses *l)
{
    return isfinite(l->g) && isfinite(l->g_identity) && isfinite(l->g_gan) &&
           isfinite(l->g_cycle) && isfinite(l->d);
}

static int epoch_end(Run *r, int epoch, Err *err)
{
    if (run_save_plots(r, err) || run_save_samples(r, epoch, err) || run_save_checkpoint(r, err))
        return -1;
    run_note(r, "epoch %d done: plots, samples/epoch_%04d.png and checkpoint written", epoch + 1,
             epoch + 1);
    return 0;
}

static int train_loop(Run *r, Err *err)
{
    const TrainConfig *c = &r->cfg;
    const long total = r->per_epoch * c->epochs;
    const long start = r->iteration;
    const double t0 = clock_now_s();
    while (r->iteration < total) {
        if ((r->hooks && r->hooks->stop && *r->hooks->stop) ||
            (c->max_iterations && r->iteration >= c->max_iterations)) {
            if (run_save_plots(r, err) || run_save_checkpoint(r, err))
                return -1;
            run_note(r, "stopped at iteration %ld; checkpoint saved, continue with --resume %s",
                     r->iteration, r->dir);
            return TRAIN_STOPPED;
        }
        int epoch = (int)(r->iteration / r->per_epoch);
        float lr = train_lr(c->lr, epoch, c->epochs, c->decay_epoch);
        CycleGanLosses l;
        if (loader_next(r->loader, r->a, r->b, err))
            return -1;
        cyclegan_step(r->gan, r->a, r->b, lr, &l);
        if (!finite_losses(&l))
            return err_set(err,
                           "training diverged at iteration %ld (a loss is not finite); the "
                           "last checkpoint in %s is kept",
                           r->iteration + 1, r->dir);
        r->iteration++;
        LossRow row = {r->iteration, epoch, {l.g, l.g_identity, l.g_gan, l.g_cycle, l.d}, lr};
        if (run_record_row(r, &row, err))
            return -1;
        if (r->hooks && r->hooks->progress) {
            double dt = clock_now_s() - t0;
            long done = r->iteration - start;
            TrainProgress p = {epoch,
                               c->epochs,
                               (r->iteration - 1) % r->per_epoch + 1,
                               r->per_epoch,
                               r->iteration,
                               total,
                               done * c->batch / (dt > 0 ? dt : 1e-9),
                               dt / done * (total - r->iteration),
                               l,
                               lr};
            r->hooks->progress(r->hooks->ctx, &p);
        }
        if (r->iteration % r->per_epoch == 0) {
            if (epoch_end(r, epoch, err))
                return -1;
        } else if (r->iteration % c->checkpoint_every == 0 && run_save_checkpoint(r, err)) {
            return -1;
        }
    }
    return TRAIN_DONE;
}

// A run killed while saving leaves the temporary file of that save (NAME.tmp.PID) beside the
// intact previous file; remove such leftovers when the run starts again.
static void remove_stale_temporaries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    if (!d)
        return;
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".tmp.") ||
            (strlen(e->d_name) > 4 && !strcmp(e->d_name + strlen(e->d_name) - 4, ".tmp"))) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    closedir(d);
}

int train_run(const TrainConfig *cfg, const char *out_dir, bool resume, const TrainHooks *hooks,
              Err *err)
{
    Run r = {.cfg = *cfg, .dir = out_dir, .hooks = hooks};
    char path[4096];
    int rc = -1;
    if (make_dir(out_dir, err))
        return -1;
    snprintf(path, sizeof path, "%s/samples", out_dir);
    if (make_dir(path, err))
        return -1;
    remove_stale_temporaries(out_dir);
    remove_stale_temporaries(path);
    snprintf(path, sizeof path, "%s/checkpoint.safetensors", out_dir);
    if (resume) {
        if (resume_from(&r, out_dir, cfg, err))
            goto done;
        run_note(&r, "resuming %s at iteration %ld", out_dir, r.iteration);
    } else {
        if (access(path, F_OK) == 0) {
            err_set(err,
                    "%s already holds a training run (continue it with --resume %s, or "
                    "choose another --out)",
                    out_dir, out_dir);
            goto done;
        }
        if (setup(&r, err) || cyclegan_pick_winograd(r.gan, NULL, err))
            goto done;
        if (*r.gan->winograd_plan)
            run_note(&r, "3x3 convolutions, forward/data/weight gradient, measured here: %s "
                         "(w Winograd F(2x2), 4 F(4x4), i im2col; kept in the checkpoint)",
                     r.gan->winograd_plan);
    }
    if (start_loader(&r, err))
        goto done;
    if (r.iteration > r.per_epoch * r.cfg.epochs) {
        err_set(err, "%s is already at iteration %ld, beyond %d epochs of %ld; give more", out_dir,
                r.iteration, r.cfg.epochs, r.per_epoch);
        goto done;
    }
    if (run_open_csv(&r, resume, err))
        goto done;
    rc = train_loop(&r, err); // the last epoch's end wrote the final checkpoint and plots
done:
    run_free(&r);
    return rc;
}
