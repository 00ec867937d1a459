// ageshift train: options in, progress out; the work is core/trainer.c's.
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "core/train/trainer.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

static void usage(FILE *out, const TrainConfig *d)
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
            "\n"
            "data:\n"
            "  --young DIR, --old DIR  a folder of young faces and a folder of old faces\n"
            "  --data DIR              one folder: the Kaggle facial-age layout (001..110) or\n"
            "                          UTKFace files named AGE_GENDER_RACE_DATE.jpg.chip.jpg\n"
            "  --young-ages A-B        ages of the young domain (default %d-%d)\n"
            "  --old-ages A-B          ages of the old domain (default %d-%d)\n"
            "model:\n"
            "  --size N                image size, a multiple of 4 (default %d)\n"
            "  --ngf N, --blocks N     generator width and residual blocks (default %d, %d)\n"
            "  --ndf N                 discriminator width (default %d)\n"
            "training:\n"
            "  --epochs N              epochs (default %d)\n"
            "  --decay-epoch N         learning rate decays linearly to 0 from here (default %d)\n"
            "  --lr X                  Adam learning rate (default %g)\n"
            "  --batch N               batch size (default %d)\n"
            "  --seed N                initialisation, data order and split (default %llu)\n"
            "run:\n"
            "  --out DIR               the run folder (created)\n"
            "  --resume DIR            continue the run in DIR with its saved settings\n"
            "                          (--epochs, --decay-epoch given with it lengthen the run)\n"
            "  --checkpoint-every N    iterations between checkpoints (default %ld)\n"
            "  --max-iterations N      stop, with a checkpoint, after N iterations in all\n"
            "  --samples N             test faces per domain in the sample grids (default %d)\n"
            "  --threads N             worker threads (default: one per CPU)\n",
            d->data.young_min, d->data.young_max, d->data.old_min, d->data.old_max, d->size, d->ngf,
            d->n_blocks, d->ndf, d->epochs, d->decay_epoch, d->lr, d->batch,
            (unsigned long long)d->seed, d->checkpoint_every, d->sample_faces);
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
    TrainConfig cfg = train_config_default();
    const char *out = NULL, *resume = NULL;
    enum {
        O_YOUNG = 256,
        O_OLD,
        O_DATA,
        O_YA,
        O_OA,
        O_SIZE,
        O_NGF,
        O_BLOCKS,
        O_NDF,
        O_EPOCHS,
        O_DECAY,
        O_LR,
        O_BATCH,
        O_SEED,
        O_OUT,
        O_RESUME,
        O_EVERY,
        O_MAXIT,
        O_SAMPLES,
        O_THREADS,
        O_HELP
    };
    static const struct option opts[] = {{"young", 1, 0, O_YOUNG},
                                         {"old", 1, 0, O_OLD},
                                         {"data", 1, 0, O_DATA},
                                         {"young-ages", 1, 0, O_YA},
                                         {"old-ages", 1, 0, O_OA},
                                         {"size", 1, 0, O_SIZE},
                                         {"ngf", 1, 0, O_NGF},
                                         {"blocks", 1, 0, O_BLOCKS},
                                         {"ndf", 1, 0, O_NDF},
                                         {"epochs", 1, 0, O_EPOCHS},
                                         {"decay-epoch", 1, 0, O_DECAY},
                                         {"lr", 1, 0, O_LR},
                                         {"batch", 1, 0, O_BATCH},
                                         {"seed", 1, 0, O_SEED},
                                         {"out", 1, 0, O_OUT},
                                         {"resume", 1, 0, O_RESUME},
                                         {"checkpoint-every", 1, 0, O_EVERY},
                                         {"max-iterations", 1, 0, O_MAXIT},
                                         {"samples", 1, 0, O_SAMPLES},
                                         {"threads", 1, 0, O_THREADS},
                                         {"help", 0, 0, O_HELP},
                                         {0, 0, 0, 0}};
    bool epochs_given = false, decay_given = false;
    int c;
    long v;
    double x;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        const char *name = argv[optind - 1];
        int bad = 0;
        switch (c) {
        case O_YOUNG: cfg.data.young_dir = optarg; break;
        case O_OLD: cfg.data.old_dir = optarg; break;
        case O_DATA: cfg.data.root = optarg; break;
        case O_YA:
            bad = arg_age_range(name, optarg, &cfg.data.young_min, &cfg.data.young_max);
            break;
        case O_OA: bad = arg_age_range(name, optarg, &cfg.data.old_min, &cfg.data.old_max); break;
        case O_SIZE: bad = arg_int(name, optarg, 16, 4096, &v), cfg.size = (int)v; break;
        case O_NGF: bad = arg_int(name, optarg, 1, 1024, &v), cfg.ngf = (int)v; break;
        case O_BLOCKS: bad = arg_int(name, optarg, 0, 64, &v), cfg.n_blocks = (int)v; break;
        case O_NDF: bad = arg_int(name, optarg, 1, 1024, &v), cfg.ndf = (int)v; break;
        case O_EPOCHS:
            bad = arg_int(name, optarg, 1, 1000000, &v), cfg.epochs = (int)v;
            epochs_given = true;
            break;
        case O_DECAY:
            bad = arg_int(name, optarg, 0, 1000000, &v), cfg.decay_epoch = (int)v;
            decay_given = true;
            break;
        case O_LR: bad = arg_float(name, optarg, 1e-9, 1.0, &x), cfg.lr = (float)x; break;
        case O_BATCH: bad = arg_int(name, optarg, 1, 1024, &v), cfg.batch = (int)v; break;
        case O_SEED: bad = arg_u64(name, optarg, &cfg.seed); break;
        case O_OUT: out = optarg; break;
        case O_RESUME: resume = optarg; break;
        case O_EVERY: bad = arg_int(name, optarg, 1, 1L << 40, &cfg.checkpoint_every); break;
        case O_MAXIT: bad = arg_int(name, optarg, 1, 1L << 40, &cfg.max_iterations); break;
        case O_SAMPLES: bad = arg_int(name, optarg, 0, 64, &v), cfg.sample_faces = (int)v; break;
        case O_THREADS: bad = arg_int(name, optarg, 1, 64, &v), cfg.threads = (int)v; break;
        case O_HELP:
        case 'h': usage(stdout, &cfg); return 0;
        default:
            fprintf(stderr, "ageshift train: unknown or incomplete option '%s'\n", name);
            fprintf(stderr, "(ageshift train --help lists the options)\n");
            return 2;
        }
        if (bad)
            return 2;
    }
    if (optind < argc) {
        fprintf(stderr, "ageshift train: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!decay_given && cfg.decay_epoch >= cfg.epochs)
        cfg.decay_epoch = cfg.epochs / 2; // the seed decays over the second half
    if (!resume) {
        bool two = cfg.data.young_dir || cfg.data.old_dir;
        if ((two && (!cfg.data.young_dir || !cfg.data.old_dir || cfg.data.root)) ||
            (!two && !cfg.data.root) || !out) {
            fprintf(stderr, "ageshift train: give --young DIR --old DIR (or --data DIR) and "
                            "--out DIR, or --resume DIR\n");
            return 2;
        }
    } else if (out && strcmp(out, resume) != 0) {
        fprintf(stderr, "ageshift train: --resume continues in its own folder; drop --out\n");
        return 2;
    } else {
        // Only a schedule given now replaces the saved one.
        cfg.epochs = epochs_given ? cfg.epochs : 0;
        cfg.decay_epoch = decay_given ? cfg.decay_epoch : -1;
    }
    cfg.data.seed = cfg.seed;

    ProgressState st = {.tty = isatty(STDERR_FILENO)};
    TrainHooks hooks = {on_progress, on_message, &st, &stop_signal};
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    Err err;
    const char *dir = resume ? resume : out;
    int rc = train_run(&cfg, dir, resume != NULL, &hooks, &err);
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
