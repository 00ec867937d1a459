#include "core/train/trainer.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/base/atomic_file.h"
#include "core/model/checkpoint.h"
#include "media/font.h"
#include "media/image_io.h"
#include "core/model/model_file.h"
#include "media/plot.h"
#include "core/model/safetensors.h"

#define CHECKPOINT_FORMAT "ageshift-checkpoint"
#define N_LOSSES 5

static const char *const loss_names[N_LOSSES] = {"loss_G", "loss_G_identity", "loss_G_GAN",
                                                 "loss_G_cycle", "loss_D"};

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
        .ndf = 64,
        .batch = 1,
        .epochs = 100,
        .decay_epoch = 50,
        .lr = 2e-4f,
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

// ---- the state of one run ----

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

static void note(const Run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(const Run *r, const char *fmt, ...)
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

static void path_in(const Run *r, char *buf, size_t len, const char *name)
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

// ---- checkpoints ----

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

static int add_config_meta(StWriter *w, const TrainConfig *c, Err *err)
{
    const DatasetSpec *d = &c->data;
    if (meta_printf(w, "size", err, "%d", c->size) || meta_printf(w, "ngf", err, "%d", c->ngf) ||
        meta_printf(w, "n_blocks", err, "%d", c->n_blocks) ||
        meta_printf(w, "ndf", err, "%d", c->ndf) || meta_printf(w, "batch", err, "%d", c->batch) ||
        meta_printf(w, "epochs", err, "%d", c->epochs) ||
        meta_printf(w, "decay_epoch", err, "%d", c->decay_epoch) ||
        meta_printf(w, "lr", err, "%.9g", c->lr) ||
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

// losses.csv reaches the disk before the checkpoint that refers to it.
static int sync_csv(Run *r, Err *err)
{
    if (fflush(r->csv) != 0 || fsync(fileno(r->csv)) != 0)
        return err_set(err, "%s/losses.csv: cannot write: %s", r->dir, strerror(errno));
    return 0;
}

static int save_checkpoint(Run *r, Err *err)
{
    char path[4096];
    if (sync_csv(r, err))
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
        add_replay(w, &r->gan->fake_b_buffer, "replay.B", r->cfg.size, err))
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
    path_in(r, path, sizeof path, "checkpoint.safetensors");
    if (st_writer_save(w, path, err))
        goto done;
    path_in(r, path, sizeof path, "model.safetensors");
    GeneratorArch arch = {{r->cfg.ngf, r->cfg.n_blocks}, r->cfg.size};
    rc = model_file_save(path, &r->gan->g_a2b, &r->gan->g_b2a, arch, err);
done:
    st_writer_free(w);
    return rc;
}

// ---- reading a checkpoint back ----

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
    return get_long(f, "iteration", 0, 1L << 50, &r->iteration, err);
}

// ---- losses.csv and the plots ----

static int push_row(Run *r, const LossRow *row, Err *err)
{
    if (r->n_rows == r->cap_rows) {
        long cap = r->cap_rows ? 2 * r->cap_rows : 4096;
        LossRow *rows = realloc(r->rows, (size_t)cap * sizeof *rows);
        if (!rows)
            return err_set(err, "out of memory for the loss history");
        r->rows = rows;
        r->cap_rows = cap;
    }
    r->rows[r->n_rows++] = *row;
    return 0;
}

static void write_row(FILE *fp, const LossRow *row)
{
    fprintf(fp, "%ld,%d", row->iteration, row->epoch);
    for (int i = 0; i < N_LOSSES; i++)
        fprintf(fp, ",%.6g", row->loss[i]);
    fprintf(fp, ",%.6g\n", row->lr);
}

static void write_header(FILE *fp)
{
    fprintf(fp, "iteration,epoch");
    for (int i = 0; i < N_LOSSES; i++)
        fprintf(fp, ",%s", loss_names[i]);
    fprintf(fp, ",lr\n");
}

// On resume: keeps the rows up to the checkpoint's iteration (later ones will be trained
// again), rewrites the file with them, and opens it for appending.
static int open_csv(Run *r, bool resume, Err *err)
{
    char path[4096];
    path_in(r, path, sizeof path, "losses.csv");
    if (resume) {
        FILE *in = fopen(path, "r");
        char line[512];
        if (in) {
            while (fgets(line, sizeof line, in)) {
                LossRow row;
                if (sscanf(line, "%ld,%d,%f,%f,%f,%f,%f,%f", &row.iteration, &row.epoch,
                           &row.loss[0], &row.loss[1], &row.loss[2], &row.loss[3], &row.loss[4],
                           &row.lr) == 8 &&
                    row.iteration <= r->iteration && push_row(r, &row, err)) {
                    fclose(in);
                    return -1;
                }
            }
            fclose(in);
        }
        if (r->n_rows < r->iteration)
            note(r, "losses.csv holds %ld of the %ld iterations done; the plots start later",
                 r->n_rows, r->iteration);
    }
    AtomicFile f;
    if (atomic_open(&f, path, err))
        return -1;
    write_header(f.fp);
    for (long i = 0; i < r->n_rows; i++)
        write_row(f.fp, &r->rows[i]);
    if (atomic_commit(&f, err))
        return -1;
    r->csv = fopen(path, "a");
    if (!r->csv)
        return err_set(err, "cannot append to %s: %s", path, strerror(errno));
    return 0;
}

static int save_plots(Run *r, Err *err)
{
    if (r->n_rows == 0)
        return 0;
    float *values = malloc((size_t)r->n_rows * sizeof *values);
    Image img = {0};
    int rc = -1;
    if (!values || image_alloc(&img, 800, 450, err)) {
        err_set(err, "out of memory for the plots");
        goto done;
    }
    static const uint8_t colour[N_LOSSES][3] = {
        {31, 119, 180}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189}, {255, 127, 14}};
    for (int i = 0; i < N_LOSSES; i++) {
        for (long j = 0; j < r->n_rows; j++)
            values[j] = r->rows[j].loss[i];
        PlotSeries s = {loss_names[i], values,       (int)r->n_rows,
                        colour[i][0],  colour[i][1], colour[i][2]};
        char title[64], path[4096];
        snprintf(title, sizeof title, "%s", loss_names[i]);
        snprintf(path, sizeof path, "%s/%s.png", r->dir, loss_names[i]);
        if (plot_render(&img, title, "iteration", (double)r->rows[0].iteration, 1.0, &s, 1, 0.98f,
                        false, err) ||
            image_save(path, &img, err))
            goto done;
    }
    rc = 0;
done:
    free(values);
    image_free(&img);
    return rc;
}

// ---- sample grids ----

// Up to `count` test faces of a domain, resized to the training size, as planar floats.
static int load_faces(const ImageList *list, int count, int size, float *out, int *loaded, Err *err)
{
    *loaded = 0;
    for (int i = 0; i < list->count && *loaded < count; i++) {
        Image src = {0}, small = {0};
        if (image_load(list->paths[i], &src, err) || image_resize(&src, size, size, &small, err)) {
            image_free(&src);
            return -1;
        }
        image_to_planar(&small, out + (size_t)*loaded * 3 * size * size);
        (*loaded)++;
        image_free(&src);
        image_free(&small);
    }
    return 0;
}

static void paste(Image *grid, const float *chw, int size, int x0, int y0, int scale)
{
    for (int y = 0; y < size * scale; y++)
        for (int x = 0; x < size * scale; x++)
            for (int c = 0; c < 3; c++) {
                float v = chw[((size_t)c * size + y / scale) * size + x / scale];
                float p = (v + 1.0f) * 127.5f + 0.5f;
                grid->rgb[((size_t)(y0 + y) * grid->w + x0 + x) * 3 + c] = (uint8_t)(p < 0     ? 0
                                                                                     : p > 255 ? 255
                                                                                               : p);
            }
}

// The largest of the label's forms that fits in width pixels.
static void draw_label(Image *grid, int x, int width, const char *full, const char *brief)
{
    for (int scale = 2; scale >= 1; scale--)
        for (int i = 0; i < 2; i++) {
            const char *text = i ? brief : full;
            if (font_text_width(text, scale) <= width) {
                font_draw(grid, x, scale == 2 ? 6 : 9, text, scale, 40, 40, 40);
                return;
            }
        }
}

// Columns of faces: young ones (real, aged, aged back), then old ones (real, rejuvenated,
// rejuvenated back), so a person sees both directions and the cycle at a glance.
static int save_samples(Run *r, int epoch, Err *err)
{
    const int size = r->cfg.size, k = r->cfg.sample_faces;
    const size_t img_floats = 3 * (size_t)size * size;
    if (k == 0)
        return 0;
    float *faces = malloc(2 * k * img_floats * sizeof(float));
    float *row2 = malloc(img_floats * sizeof(float)), *row3 = malloc(img_floats * sizeof(float));
    Image grid = {0};
    int n_young, n_old, rc = -1;
    const int scale = size < 128 ? 2 : 1, tile = size * scale, gap = 8, label_h = 24;
    if (!faces || !row2 || !row3) {
        err_set(err, "out of memory for the sample grid");
        goto done;
    }
    if (load_faces(&r->young.test, k, size, faces, &n_young, err) ||
        load_faces(&r->old.test, k, size, faces + k * img_floats, &n_old, err))
        goto done;
    int cols = n_young + n_old;
    if (image_alloc(&grid, cols * (tile + gap) + gap + gap, label_h + 3 * (tile + gap) + gap, err))
        goto done;
    memset(grid.rgb, 255, (size_t)grid.w * grid.h * 3);
    draw_label(&grid, gap, n_young * (tile + gap) - gap, "young -> old -> young", "young");
    draw_label(&grid, gap + n_young * (tile + gap) + gap, n_old * (tile + gap) - gap,
               "old -> young -> old", "old");
    for (int i = 0; i < cols; i++) {
        bool young = i < n_young;
        const float *real = faces + (young ? i : k + i - n_young) * img_floats;
        Net *fwd = young ? &r->gan->g_a2b : &r->gan->g_b2a;
        Net *back = young ? &r->gan->g_b2a : &r->gan->g_a2b;
        memcpy(row2, net_forward(fwd, r->eval, real), img_floats * sizeof(float));
        memcpy(row3, net_forward(back, r->eval, row2), img_floats * sizeof(float));
        int x = gap + i * (tile + gap) + (young ? 0 : gap);
        paste(&grid, real, size, x, label_h + gap, scale);
        paste(&grid, row2, size, x, label_h + gap + (tile + gap), scale);
        paste(&grid, row3, size, x, label_h + gap + 2 * (tile + gap), scale);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/samples/epoch_%04d.png", r->dir, epoch + 1);
    rc = image_save(path, &grid, err);
done:
    free(faces);
    free(row2);
    free(row3);
    image_free(&grid);
    return rc;
}

// ---- the run ----

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void forward_warning(void *ctx, const char *msg)
{
    const Run *r = ctx;
    note(r, "%s", msg);
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
        c->decay_epoch < 0 || !(c->lr > 0.0f) || c->checkpoint_every < 1)
        return err_set(err,
                       "bad training options (ngf %d, ndf %d, blocks %d, batch %d, epochs "
                       "%d, decay epoch %d, lr %g, checkpoint every %ld)",
                       c->ngf, c->ndf, c->n_blocks, c->batch, c->epochs, c->decay_epoch, c->lr,
                       c->checkpoint_every);
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
    note(r, "young: %d train, %d test; old: %d train, %d test", r->young.train.count,
         r->young.test.count, r->old.train.count, r->old.test.count);
    r->pool = pool_create(c->threads, err);
    if (!r->pool)
        return -1;
    CycleGanConfig gc = {.gen = {c->ngf, c->n_blocks},
                         .ndf = c->ndf,
                         .size = c->size,
                         .batch = c->batch,
                         CYCLEGAN_SEED_LOSS_WEIGHTS,
                         .seed = c->seed};
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
    r->loader = loader_create(&r->young.train, &r->old.train, c->size, c->batch, c->seed,
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
    long n_young, n_old;
    if (read_config(f, &r->cfg, err) || read_paths(f, r, err))
        goto done;
    r->cfg.threads = given->threads;
    r->cfg.max_iterations = given->max_iterations;
    if (given->epochs > 0)
        r->cfg.epochs = given->epochs;
    if (given->decay_epoch >= 0)
        r->cfg.decay_epoch = given->decay_epoch;
    if (setup(r, err))
        goto done;
    if (get_long(f, "n_young_train", 0, 1L << 30, &n_young, err) ||
        get_long(f, "n_old_train", 0, 1L << 30, &n_old, err))
        goto done;
    if (n_young != r->young.train.count || n_old != r->old.train.count) {
        err_set(err,
                "%s: the data changed since this checkpoint (%ld young and %ld old training "
                "images then, %d and %d now)",
                path, n_young, n_old, r->young.train.count, r->old.train.count);
        goto done;
    }
    rc = load_state(r, f, err);
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
    if (save_plots(r, err) || save_samples(r, epoch, err) || save_checkpoint(r, err))
        return -1;
    note(r, "epoch %d done: plots, samples/epoch_%04d.png and checkpoint written", epoch + 1,
         epoch + 1);
    return 0;
}

static int train_loop(Run *r, Err *err)
{
    const TrainConfig *c = &r->cfg;
    const long total = r->per_epoch * c->epochs;
    const long start = r->iteration;
    const double t0 = now_s();
    while (r->iteration < total) {
        if ((r->hooks && r->hooks->stop && *r->hooks->stop) ||
            (c->max_iterations && r->iteration >= c->max_iterations)) {
            if (save_plots(r, err) || save_checkpoint(r, err))
                return -1;
            note(r, "stopped at iteration %ld; checkpoint saved, continue with --resume %s",
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
        write_row(r->csv, &row);
        if (push_row(r, &row, err))
            return -1;
        if (r->hooks && r->hooks->progress) {
            double dt = now_s() - t0;
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
        } else if (r->iteration % c->checkpoint_every == 0 && save_checkpoint(r, err)) {
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
        note(&r, "resuming %s at iteration %ld", out_dir, r.iteration);
    } else {
        if (access(path, F_OK) == 0) {
            err_set(err,
                    "%s already holds a training run (continue it with --resume %s, or "
                    "choose another --out)",
                    out_dir, out_dir);
            goto done;
        }
        if (setup(&r, err))
            goto done;
    }
    if (start_loader(&r, err))
        goto done;
    if (r.iteration > r.per_epoch * r.cfg.epochs) {
        err_set(err, "%s is already at iteration %ld, beyond %d epochs of %ld; give more", out_dir,
                r.iteration, r.cfg.epochs, r.per_epoch);
        goto done;
    }
    if (open_csv(&r, resume, err))
        goto done;
    rc = train_loop(&r, err); // the last epoch's end wrote the final checkpoint and plots
done:
    run_free(&r);
    return rc;
}
