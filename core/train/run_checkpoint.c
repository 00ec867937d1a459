// Saving a training run's checkpoint and model file, and reading a checkpoint back.
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/checkpoint.h"
#include "core/model/model_file.h"
#include "core/train/run.h"

#define CHECKPOINT_FORMAT "ageshift-checkpoint"

typedef struct {
    Net *net;
    const char *prefix;
} NamedNet;

static void named_nets(CycleGan *gan, NamedNet out[4])
{
    out[0] = (NamedNet){&gan->g_a2b, "G_A2B."};
    out[1] = (NamedNet){&gan->g_b2a, "G_B2A."};
    out[2] = (NamedNet){&gan->d_a, "D_A."};
    out[3] = (NamedNet){&gan->d_b, "D_B."};
}

static int meta_printf(StWriter *w, const char *key, Err *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int meta_printf(StWriter *w, const char *key, Err *err, const char *fmt, ...)
{
    char value[1100];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    return st_writer_meta(w, key, value, err);
}

static float *augment_field(Augment *a, int i)
{
    return (float *)((char *)a + augment_fields[i].offset);
}

static int add_augment_meta(StWriter *w, const Augment *a, Err *err)
{
    for (int i = 0; i < augment_field_count; i++) {
        char key[64];
        snprintf(key, sizeof key, "augment.%s", augment_fields[i].name);
        if (meta_printf(w, key, err, "%.9g", *augment_field((Augment *)a, i)))
            return -1;
    }
    return 0;
}

static int add_config_meta(StWriter *w, const TrainConfig *c, Err *err)
{
    const DatasetSpec *d = &c->data;
    if (add_augment_meta(w, &c->augment, err))
        return -1;
    if (meta_printf(w, "size", err, "%d", c->size) || meta_printf(w, "ngf", err, "%d", c->ngf) ||
        meta_printf(w, "n_blocks", err, "%d", c->n_blocks) ||
        meta_printf(w, "upsample", err, "%s", upsample_name(c->upsample)) ||
        meta_printf(w, "bf16", err, "%d", c->bf16 ? 1 : 0) ||
        meta_printf(w, "half_model", err, "%d", c->half_model ? 1 : 0) ||
        meta_printf(w, "ndf", err, "%d", c->ndf) || meta_printf(w, "batch", err, "%d", c->batch) ||
        meta_printf(w, "epochs", err, "%d", c->epochs) ||
        meta_printf(w, "decay_epoch", err, "%d", c->decay_epoch) ||
        meta_printf(w, "lr", err, "%.9g", c->lr) ||
        meta_printf(w, "lambda_identity", err, "%.9g", c->lambda_identity) ||
        meta_printf(w, "lambda_cycle", err, "%.9g", c->lambda_cycle) ||
        meta_printf(w, "seed", err, "%" PRIu64, c->seed) ||
        meta_printf(w, "checkpoint_every", err, "%ld", c->checkpoint_every) ||
        meta_printf(w, "sample_faces", err, "%d", c->sample_faces) ||
        meta_printf(w, "data.young_dir", err, "%s", d->young_dir ? d->young_dir : "") ||
        meta_printf(w, "data.old_dir", err, "%s", d->old_dir ? d->old_dir : "") ||
        meta_printf(w, "data.root", err, "%s", d->root ? d->root : "") ||
        meta_printf(w, "data.young_ages", err, "%d-%d", d->young_min, d->young_max) ||
        meta_printf(w, "data.old_ages", err, "%d-%d", d->old_min, d->old_max) ||
        meta_printf(w, "data.seed", err, "%" PRIu64, d->seed) ||
        meta_printf(w, "data.test_fraction", err, "%.9g", d->test_fraction))
        return -1;
    return 0;
}

static int add_replay(StWriter *w, const ReplayBuffer *b, const char *name, int size, Err *err)
{
    char key[32];
    snprintf(key, sizeof key, "%s.count", name);
    if (meta_printf(w, key, err, "%d", b->count))
        return -1;
    if (b->count == 0)
        return 0;
    int64_t shape[4] = {b->count, 3, size, size};
    return st_writer_add_f32(w, name, 4, shape, b->images, err);
}

int run_save_checkpoint(Run *r, Err *err)
{
    char path[4096];
    if (run_sync_csv(r, err))
        return -1;
    StWriter *w = st_writer_create();
    if (!w)
        return err_set(err, "out of memory");
    NamedNet nets[4];
    named_nets(r->gan, nets);
    const Rng *rng = &r->gan->rng;
    int rc = -1;
    if (st_writer_meta(w, "format", CHECKPOINT_FORMAT, err) ||
        st_writer_meta(w, "version", "1", err) ||
        meta_printf(w, "iteration", err, "%ld", r->iteration) || add_config_meta(w, &r->cfg, err) ||
        meta_printf(w, "n_young_train", err, "%d", r->young.train.count) ||
        meta_printf(w, "n_old_train", err, "%d", r->old.train.count) ||
        meta_printf(w, "rng", err, "%016" PRIx64 "%016" PRIx64 "%016" PRIx64 "%016" PRIx64,
                    rng->s[0], rng->s[1], rng->s[2], rng->s[3]) ||
        add_replay(w, &r->gan->fake_a_buffer, "replay.A", r->cfg.size, err) ||
        add_replay(w, &r->gan->fake_b_buffer, "replay.B", r->cfg.size, err) ||
        (r->gan->winograd_plan &&
         st_writer_meta(w, "winograd_plan", r->gan->winograd_plan, err)))
        goto done;
    for (int i = 0; i < 4; i++) {
        const ParamSet *ps = &nets[i].net->params;
        char key[64], prefix[64];
        snprintf(key, sizeof key, "adam_steps.%.*s", (int)strlen(nets[i].prefix) - 1,
                 nets[i].prefix);
        if (meta_printf(w, key, err, "%ld", ps->adam_steps) ||
            checkpoint_add_buffer(w, ps, ps->data, nets[i].prefix, err))
            goto done;
        snprintf(prefix, sizeof prefix, "adam_m.%s", nets[i].prefix);
        if (checkpoint_add_buffer(w, ps, ps->m, prefix, err))
            goto done;
        snprintf(prefix, sizeof prefix, "adam_v.%s", nets[i].prefix);
        if (checkpoint_add_buffer(w, ps, ps->v, prefix, err))
            goto done;
    }
    run_path(r, path, sizeof path, "checkpoint.safetensors");
    if (st_writer_save(w, path, err))
        goto done;
    run_path(r, path, sizeof path, "model.safetensors");
    GeneratorArch arch = {{r->cfg.ngf, r->cfg.n_blocks, r->cfg.upsample}, r->cfg.size};
    rc = model_file_save(path, &r->gan->g_a2b, &r->gan->g_b2a, arch,
                         r->cfg.half_model ? ST_F16 : ST_F32, err);
done:
    st_writer_free(w);
    return rc;
}

static int get_long(const StFile *f, const char *key, long lo, long hi, long *out, Err *err)
{
    const char *v = st_meta(f, key);
    if (!v)
        return err_set(err, "%s: metadata '%s' is missing", st_path(f), key);
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return err_set(err, "%s: metadata '%s' is '%s', expected an integer in [%ld, %ld]",
                       st_path(f), key, v, lo, hi);
    *out = (long)x;
    return 0;
}

static int get_int(const StFile *f, const char *key, int lo, int hi, int *out, Err *err)
{
    long v = 0;
    if (get_long(f, key, lo, hi, &v, err))
        return -1;
    *out = (int)v;
    return 0;
}

static int get_u64(const StFile *f, const char *key, uint64_t *out, Err *err)
{
    const char *v = st_meta(f, key);
    char *end;
    errno = 0;
    if (!v || *v == '-' || (*out = strtoull(v, &end, 10), errno || end == v || *end))
        return err_set(err, "%s: metadata '%s' is %s, expected an unsigned integer", st_path(f),
                       key, v ? v : "missing");
    return 0;
}

static int get_double(const StFile *f, const char *key, double *out, Err *err)
{
    const char *v = st_meta(f, key);
    char *end;
    if (!v || (*out = strtod(v, &end), end == v || *end || !isfinite(*out)))
        return err_set(err, "%s: metadata '%s' is %s, expected a number", st_path(f), key,
                       v ? v : "missing");
    return 0;
}

static int get_range(const StFile *f, const char *key, int *lo, int *hi, Err *err)
{
    const char *v = st_meta(f, key);
    if (!v || sscanf(v, "%d-%d", lo, hi) != 2)
        return err_set(err, "%s: metadata '%s' is %s, expected A-B", st_path(f), key,
                       v ? v : "missing");
    return 0;
}

// The data folders of the checkpoint, copied (the StFile's strings die with it); the run owns
// them.
static int read_paths(const StFile *f, Run *r, Err *err)
{
    const char *keys[3] = {"data.young_dir", "data.old_dir", "data.root"};
    const char **dst[3] = {&r->cfg.data.young_dir, &r->cfg.data.old_dir, &r->cfg.data.root};
    for (int i = 0; i < 3; i++) {
        const char *v = st_meta(f, keys[i]);
        *dst[i] = NULL;
        if (v && *v) {
            if (!(r->owned_paths[i] = strdup(v)))
                return err_set(err, "out of memory");
            *dst[i] = r->owned_paths[i];
        }
    }
    return 0;
}

static int read_config(const StFile *f, TrainConfig *c, Err *err)
{
    const char *fmt = st_meta(f, "format");
    if (!fmt || strcmp(fmt, CHECKPOINT_FORMAT) != 0)
        return err_set(err, "%s: not an ageshift training checkpoint", st_path(f));
    double lr = 0.0;
    long every;
    if (get_int(f, "size", 16, 4096, &c->size, err) || get_int(f, "ngf", 1, 1024, &c->ngf, err) ||
        get_int(f, "n_blocks", 0, 64, &c->n_blocks, err) ||
        get_int(f, "ndf", 1, 1024, &c->ndf, err) || get_int(f, "batch", 1, 1024, &c->batch, err) ||
        get_int(f, "epochs", 1, 1000000, &c->epochs, err) ||
        get_int(f, "decay_epoch", 0, 1000000, &c->decay_epoch, err) ||
        get_double(f, "lr", &lr, err) || get_u64(f, "seed", &c->seed, err) ||
        get_long(f, "checkpoint_every", 1, 1L << 40, &every, err) ||
        get_int(f, "sample_faces", 0, 64, &c->sample_faces, err) ||
        get_range(f, "data.young_ages", &c->data.young_min, &c->data.young_max, err) ||
        get_range(f, "data.old_ages", &c->data.old_min, &c->data.old_max, err) ||
        get_u64(f, "data.seed", &c->data.seed, err) ||
        get_double(f, "data.test_fraction", &c->data.test_fraction, err))
        return -1;
    c->lr = (float)lr;
    c->checkpoint_every = every;
    // Checkpoints from before the options have the seed's transposed convolutions and its
    // augmentation alone.
    c->augment = (Augment){0};
    for (int i = 0; i < augment_field_count; i++) {
        char key[64];
        snprintf(key, sizeof key, "augment.%s", augment_fields[i].name);
        double v = 0.0;
        if (st_meta(f, key) && get_double(f, key, &v, err))
            return -1;
        if (!(v >= 0.0 && v <= augment_fields[i].max))
            return err_set(err, "%s: metadata '%s' is %g, expected 0 to %g", st_path(f), key, v,
                           (double)augment_fields[i].max);
        *augment_field(&c->augment, i) = (float)v;
    }
    // Absent before the options: the seed's weights.
    double weights[2] = {CYCLEGAN_SEED_LAMBDA_IDENTITY, CYCLEGAN_SEED_LAMBDA_CYCLE};
    const char *weight_keys[2] = {"lambda_identity", "lambda_cycle"};
    for (int i = 0; i < 2; i++) {
        if (st_meta(f, weight_keys[i]) && get_double(f, weight_keys[i], &weights[i], err))
            return -1;
        if (!(weights[i] >= 0.0 && weights[i] <= 1000.0))
            return err_set(err, "%s: metadata '%s' is %g, expected 0 to 1000", st_path(f),
                           weight_keys[i], weights[i]);
    }
    c->lambda_identity = (float)weights[0], c->lambda_cycle = (float)weights[1];
    int bf16 = 0; // absent before the option: fp32
    if (st_meta(f, "bf16") && get_int(f, "bf16", 0, 1, &bf16, err))
        return -1;
    c->bf16 = bf16 == 1;
    int half_model = 0; // absent before the option: an F32 model file
    if (st_meta(f, "half_model") && get_int(f, "half_model", 0, 1, &half_model, err))
        return -1;
    c->half_model = half_model == 1;
    const char *up = st_meta(f, "upsample");
    c->upsample = UPSAMPLE_CONVT;
    if (up && upsample_parse(up, &c->upsample))
        return err_set(err, "%s: metadata 'upsample' is '%s', expected 'convt' or 'resize'",
                       st_path(f), up);
    return 0;
}

static int load_replay(const StFile *f, ReplayBuffer *b, const char *name, Err *err)
{
    char key[32];
    int count;
    snprintf(key, sizeof key, "%s.count", name);
    if (get_int(f, key, 0, b->capacity, &count, err))
        return -1;
    if (count && st_read_f32(f, name, b->images, (size_t)count * b->image_floats, err))
        return -1;
    b->count = count;
    return 0;
}

static int load_state(Run *r, const StFile *f, Err *err)
{
    NamedNet nets[4];
    named_nets(r->gan, nets);
    for (int i = 0; i < 4; i++) {
        ParamSet *ps = &nets[i].net->params;
        char key[64], prefix[64];
        snprintf(key, sizeof key, "adam_steps.%.*s", (int)strlen(nets[i].prefix) - 1,
                 nets[i].prefix);
        if (get_long(f, key, 0, 1L << 50, &ps->adam_steps, err) ||
            checkpoint_load_buffer(f, ps, ps->data, nets[i].prefix, err))
            return -1;
        snprintf(prefix, sizeof prefix, "adam_m.%s", nets[i].prefix);
        if (checkpoint_load_buffer(f, ps, ps->m, prefix, err))
            return -1;
        snprintf(prefix, sizeof prefix, "adam_v.%s", nets[i].prefix);
        if (checkpoint_load_buffer(f, ps, ps->v, prefix, err))
            return -1;
    }
    const char *rng = st_meta(f, "rng");
    Rng *s = &r->gan->rng;
    if (!rng || strlen(rng) != 64 ||
        sscanf(rng, "%16" SCNx64 "%16" SCNx64 "%16" SCNx64 "%16" SCNx64, &s->s[0], &s->s[1],
               &s->s[2], &s->s[3]) != 4)
        return err_set(err, "%s: metadata 'rng' is missing or malformed", st_path(f));
    if (load_replay(f, &r->gan->fake_a_buffer, "replay.A", err) ||
        load_replay(f, &r->gan->fake_b_buffer, "replay.B", err))
        return -1;
    // Runs begun before the paths were measured keep the fixed rule they began with.
    const char *plan = st_meta(f, "winograd_plan");
    Err why;
    if (plan && cyclegan_pick_winograd(r->gan, plan, &why))
        return err_set(err, "%s: metadata 'winograd_plan': %s", st_path(f), why.msg);
    return get_long(f, "iteration", 0, 1L << 50, &r->iteration, err);
}

int run_read_checkpoint_config(const StFile *f, Run *r, Err *err)
{
    return read_config(f, &r->cfg, err) || read_paths(f, r, err) ? -1 : 0;
}

int run_load_checkpoint_state(const StFile *f, Run *r, Err *err)
{
    long n_young, n_old;
    if (get_long(f, "n_young_train", 0, 1L << 30, &n_young, err) ||
        get_long(f, "n_old_train", 0, 1L << 30, &n_old, err))
        return -1;
    if (n_young != r->young.train.count || n_old != r->old.train.count)
        return err_set(err,
                       "%s: the data changed since this checkpoint (%ld young and %ld old "
                       "training images then, %d and %d now)",
                       st_path(f), n_young, n_old, r->young.train.count, r->old.train.count);
    return load_state(r, f, err);
}
