// ageshift train: options in, progress out; the work is core/train/trainer.c's.
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "core/train/trainer.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

// The command's settings: the run's configuration, and the folder to start or resume.
typedef struct {
    TrainConfig cfg;
    const char *out, *resume;
} TrainArgs;

#define FIELD(name) offsetof(TrainArgs, name)

// In the order of Upsample's values.
static const char *const upsample_choices[] = {"convt", "resize", NULL};

static const Option table[] = {
    {.name = "data:", .type = OPT_SECTION},
    {.name = "young",
     .arg = "DIR",
     .type = OPT_STRING,
     .offset = FIELD(cfg.data.young_dir),
     .help = "a folder of young faces (with --old)"},
    {.name = "old",
     .arg = "DIR",
     .type = OPT_STRING,
     .offset = FIELD(cfg.data.old_dir),
     .help = "a folder of old faces (with --young)"},
    {.name = "data",
     .arg = "DIR",
     .type = OPT_STRING,
     .offset = FIELD(cfg.data.root),
     .help = "instead, one folder: the Kaggle facial-age layout (001..110) or UTKFace files named "
             "AGE_GENDER_RACE_DATE.jpg.chip.jpg"},
    {.name = "young-ages",
     .arg = "A-B",
     .type = OPT_RANGE,
     .offset = FIELD(cfg.data.young_min),
     .offset2 = FIELD(cfg.data.young_max),
     .help = "ages of the young domain"},
    {.name = "old-ages",
     .arg = "A-B",
     .type = OPT_RANGE,
     .offset = FIELD(cfg.data.old_min),
     .offset2 = FIELD(cfg.data.old_max),
     .help = "ages of the old domain"},
    {.name = "model:", .type = OPT_SECTION},
    {.name = "size",
     .arg = "N",
     .type = OPT_INT,
     .offset = FIELD(cfg.size),
     .min = 16,
     .max = 4096,
     .help = "image size, a multiple of 4"},
    {.name = "ngf",
     .arg = "N",
     .type = OPT_INT,
     .offset = FIELD(cfg.ngf),
     .min = 1,
     .max = 1024,
     .help = "generator width"},
    {.name = "blocks",
     .arg = "N",
     .type = OPT_INT,
     .offset = FIELD(cfg.n_blocks),
     .min = 0,
     .max = 64,
     .help = "generator residual blocks"},
    {.name = "upsample",
     .arg = "KIND",
     .type = OPT_CHOICE,
     .offset = FIELD(cfg.upsample),
     .choices = upsample_choices,
     .help = "the generators' upsampling: convt (the seed's transposed convolutions) or resize "
             "(nearest 2x + 3x3 convolution: no checkerboard, slower)"},
    {.name = "ndf",
     .arg = "N",
     .type = OPT_INT,
     .offset = FIELD(cfg.ndf),
     .min = 1,
     .max = 1024,
     .help = "discriminator width"},
    {.name = "training:", .type = OPT_SECTION},
    {.name = "epochs",
     .arg = "N",
     .type = OPT_INT,
     .offset = FIELD(cfg.epochs),
     .min = 1,
     .max = 1000000,
     .help = "epochs"},
    {.name = "decay-epoch",
     .arg = "N",
     .type = OPT_INT,
     .offset = FIELD(cfg.decay_epoch),
     .min = 0,
     .max = 1000000,
     .help = "the learning rate decays linearly to 0 from this epoch; when --epochs is not "
             "above the default, from half of them"},
    {.name = "lr",
     .arg = "X",
     .type = OPT_FLOAT,
     .offset = FIELD(cfg.lr),
     .min = 1e-9,
     .max = 1,
     .help = "Adam learning rate"},
    {.name = "identity-weight",
     .arg = "X",
     .type = OPT_FLOAT,
     .offset = FIELD(cfg.lambda_identity),
     .min = 0,
     .max = 1000,
     .help = "weight of the identity loss (the seed's 5; lower lets the change grow)"},
    {.name = "cycle-weight",
     .arg = "X",
     .type = OPT_FLOAT,
     .offset = FIELD(cfg.lambda_cycle),
     .min = 0,
     .max = 1000,
     .help = "weight of the cycle-consistency loss (the seed's 10)"},
    {.name = "batch",
     .arg = "N",
     .type = OPT_INT,
     .offset = FIELD(cfg.batch),
     .min = 1,
     .max = 1024,
     .help = "batch size"},
    {.name = "seed",
     .arg = "N",
     .type = OPT_U64,
     .offset = FIELD(cfg.seed),
     .help = "initialisation, data order and split"},
    {.name = "bf16",
     .type = OPT_SET,
     .offset = FIELD(cfg.bf16),
     .help = "convolutions in bf16 on AMX tiles or AVX512_BF16 vectors where the CPU has "
             "them (mixed precision: weights, gradients and Adam stay fp32; 1.2x faster on "
             "128/6/16 with AMX, not bit for bit fp32's); recorded in the checkpoint"},
    {.name = "half-model",
     .type = OPT_SET,
     .offset = FIELD(cfg.half_model),
     .help = "write model.safetensors in half precision (F16): half the size, read by the "
             "filter as the fp32 one is; the checkpoint stays fp32; recorded in it"},
    {.name = "run:", .type = OPT_SECTION},
    {.name = "out",
     .arg = "DIR",
     .type = OPT_STRING,
     .offset = FIELD(out),
     .help = "the run folder (created)"},
    {.name = "resume",
     .arg = "DIR",
     .type = OPT_STRING,
     .offset = FIELD(resume),
     .help = "continue the run in DIR with its saved settings (--epochs, --decay-epoch given "
             "with it lengthen the run)"},
    {.name = "checkpoint-every",
     .arg = "N",
     .type = OPT_LONG,
     .offset = FIELD(cfg.checkpoint_every),
     .min = 1,
     .max = 1099511627776.0,
     .help = "iterations between checkpoints"},
    {.name = "max-iterations",
     .arg = "N",
     .type = OPT_LONG,
     .offset = FIELD(cfg.max_iterations),
     .min = 1,
     .max = 1099511627776.0,
     .help = "stop, with a checkpoint, after N iterations in all"},
    {.name = "samples",
     .arg = "N",
     .type = OPT_INT,
     .offset = FIELD(cfg.sample_faces),
     .min = 0,
     .max = 64,
     .help = "test faces per domain in the sample grids"},
    {.name = "threads",
     .arg = "N",
     .type = OPT_INT,
     .offset = FIELD(cfg.threads),
     .min = 1,
     .max = 64,
     .help = "worker threads",
     .zero_means = "one per CPU"},
};
#define TABLE_SIZE ((int)(sizeof table / sizeof *table))
#define TRAIN_OPTIONS_VAL_BASE 0x1000
#define AUGMENT_OPTIONS_VAL_BASE 0x2000

// The augmentation options, --aug-NAME, one per field of core/train/augment.h (parsed into the
// Augment itself).
static Option augment_table[1 + 16];
static char augment_names[16][32];
static int augment_table_size;

static void build_augment_table(void)
{
    if (augment_table_size)
        return;
    augment_table[0] =
        (Option){.name = "augmentation (per image; 0 turns one off):", .type = OPT_SECTION};
    for (int i = 0; i < augment_field_count && i < 16; i++) {
        const AugmentField *f = &augment_fields[i];
        snprintf(augment_names[i], sizeof augment_names[i], "aug-%s", f->name);
        augment_table[i + 1] = (Option){.name = augment_names[i],
                                        .arg = "X",
                                        .type = OPT_FLOAT,
                                        .offset = (size_t)f->offset,
                                        .min = 0,
                                        .max = f->max,
                                        .help = f->help};
    }
    augment_table_size = 1 + (augment_field_count < 16 ? augment_field_count : 16);
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ageshift train --young DIR --old DIR --out DIR [options]\n"
            "       ageshift train --data DIR --out DIR [options]\n"
            "       ageshift train --resume DIR\n"
            "\n"
            "Trains the two generators (young->old, old->young) of a CycleGAN on face photos,\n"
            "as the seed project did, into the run folder DIR: checkpoint.safetensors,\n"
            "model.safetensors (for the filter), losses.csv, loss_*.png plots and\n"
            "samples/epoch_NNNN.png grids. Ctrl-C saves a checkpoint and stops; --resume goes on.\n"
            "\n");
    TrainArgs d = {.cfg = train_config_default()};
    options_help(out, table, TABLE_SIZE, &d);
    build_augment_table();
    options_help(out, augment_table, augment_table_size, &d.cfg.augment);
}

static void format_duration(char *buf, size_t len, double s)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else
        snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
}

typedef struct {
    int tty;
    double last_line; // for plain periodic lines
} ProgressState;

static void on_progress(void *ctx, const TrainProgress *p)
{
    ProgressState *st = ctx;
    char eta[32];
    format_duration(eta, sizeof eta, p->eta_s);
    const CycleGanLosses *l = &p->losses;
    if (st->tty) {
        char bar[21];
        int filled = (int)(20 * p->epoch_iteration / p->epoch_iterations);
        for (int i = 0; i < 20; i++)
            bar[i] = i < filled ? '#' : '.';
        bar[20] = 0;
        fprintf(stderr,
                "\r\033[Kepoch %d/%d [%s] %ld/%ld  %.2f img/s  ETA %s  G %.3f (id %.3f gan %.3f "
                "cyc %.3f)  D %.3f",
                p->epoch + 1, p->epochs, bar, p->epoch_iteration, p->epoch_iterations,
                p->images_per_s, eta, l->g, l->g_identity, l->g_gan, l->g_cycle, l->d);
        if (p->epoch_iteration == p->epoch_iterations)
            fputc('\n', stderr);
        return;
    }
    // Not a terminal (a log file): one line every 100 iterations and at each epoch's end.
    if (p->iteration % 100 == 0 || p->epoch_iteration == p->epoch_iterations || p->iteration == 1)
        fprintf(stderr,
                "epoch %d/%d iteration %ld/%ld (%ld in all)  %.2f img/s  ETA %s  loss_G %.4f "
                "identity %.4f GAN %.4f cycle %.4f loss_D %.4f  lr %.3g\n",
                p->epoch + 1, p->epochs, p->epoch_iteration, p->epoch_iterations, p->iteration,
                p->images_per_s, eta, l->g, l->g_identity, l->g_gan, l->g_cycle, l->d, p->lr);
}

static void on_message(void *ctx, const char *msg)
{
    ProgressState *st = ctx;
    fprintf(stderr, "%s%s\n", st->tty ? "\r\033[K" : "", msg);
}

int cmd_train(int argc, char **argv)
{
    TrainArgs args = {.cfg = train_config_default()};
    TrainConfig *cfg = &args.cfg;
    OptionSet set = {table, TABLE_SIZE, &args, TRAIN_OPTIONS_VAL_BASE, {0}};
    build_augment_table();
    OptionSet aug_set = {
        augment_table, augment_table_size, &cfg->augment, AUGMENT_OPTIONS_VAL_BASE, {0}};
    struct option opts[2 * OPTIONS_MAX + 2] = {{"help", 0, 0, 'h'}};
    int nopts = 1;
    options_getopt(&set, opts, &nopts, 2 * OPTIONS_MAX + 2);
    options_getopt(&aug_set, opts, &nopts, 2 * OPTIONS_MAX + 2);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = options_apply(&set, c, optarg);
        if (r == 0)
            r = options_apply(&aug_set, c, optarg);
        if (r < 0)
            return 2;
        if (r)
            continue;
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "ageshift train: unknown or incomplete option '%s'\n", argv[optind - 1]);
        fprintf(stderr, "(ageshift train --help lists the options)\n");
        return 2;
    }
    const bool epochs_given = options_given(&set, "epochs");
    const bool decay_given = options_given(&set, "decay-epoch");
    const char *out = args.out, *resume = args.resume;
    if (optind < argc) {
        fprintf(stderr, "ageshift train: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!decay_given && cfg->decay_epoch >= cfg->epochs)
        cfg->decay_epoch = cfg->epochs / 2; // the seed decays over the second half
    if (!resume) {
        bool two = cfg->data.young_dir || cfg->data.old_dir;
        if ((two && (!cfg->data.young_dir || !cfg->data.old_dir || cfg->data.root)) ||
            (!two && !cfg->data.root) || !out) {
            fprintf(stderr, "ageshift train: give --young DIR --old DIR (or --data DIR) and "
                            "--out DIR, or --resume DIR\n");
            return 2;
        }
    } else if (out && strcmp(out, resume) != 0) {
        fprintf(stderr, "ageshift train: --resume continues in its own folder; drop --out\n");
        return 2;
    } else {
        // Only a schedule given now replaces the saved one.
        cfg->epochs = epochs_given ? cfg->epochs : 0;
        cfg->decay_epoch = decay_given ? cfg->decay_epoch : -1;
    }
    cfg->data.seed = cfg->seed;

    ProgressState st = {.tty = isatty(STDERR_FILENO)};
    TrainHooks hooks = {on_progress, on_message, &st, &stop_signal};
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    Err err;
    const char *dir = resume ? resume : out;
    int rc = train_run(cfg, dir, resume != NULL, &hooks, &err);
    if (rc < 0) {
        fprintf(stderr, "%sageshift train: %s\n", st.tty ? "\n" : "", err.msg);
        return 1;
    }
    if (rc == TRAIN_STOPPED && stop_signal)
        return 128 + stop_signal;
    if (rc == TRAIN_DONE)
        fprintf(stderr, "done: the model is %s/model.safetensors\n", dir);
    return 0;
}
