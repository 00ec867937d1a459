// The trainer: the learning-rate schedule, the replay buffer, resume equivalence, every file of
// a run, bad input, and the promise that a run killed at any moment resumes from its last
// checkpoint. Runs on a handful of the test faces (tests/faces.h) at 32 px.
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/model/model_file.h"
#include "core/train/replay_buffer.h"
#include "core/model/safetensors.h"
#include "core/nn/conv_bf16.h"
#include "core/train/trainer.h"
#include "faces.h"
#include "shell.h"


// ---- the schedule and the replay buffer ----

Test(trainer, lr_schedule_is_the_seeds_lambda_lr)
{
    // 200 epochs decaying from 100, as the seed's defaults.
    cr_expect_float_eq(train_lr(2e-4f, 0, 200, 100), 2e-4f, 1e-10);
    cr_expect_float_eq(train_lr(2e-4f, 99, 200, 100), 2e-4f, 1e-10);
    cr_expect_float_eq(train_lr(2e-4f, 100, 200, 100), 2e-4f, 1e-10);
    cr_expect_float_eq(train_lr(2e-4f, 150, 200, 100), 1e-4f, 1e-10);
    cr_expect_float_eq(train_lr(2e-4f, 199, 200, 100), 2e-6f, 1e-10);
    cr_expect_float_eq(train_lr(2e-4f, 5, 3, 10), 2e-4f, 1e-10); // no decay configured
}

Test(trainer, replay_buffer_fills_then_mixes)
{
    ReplayBuffer b;
    Rng rng;
    rng_seed(&rng, 1);
    cr_assert_eq(replay_buffer_init(&b, 3, 2, NULL), 0);
    float out[2];
    for (int i = 0; i < 3; i++) { // filling: every image comes straight back
        float in[2] = {(float)i, (float)-i};
        replay_buffer_push_and_pop(&b, in, 1, out, &rng);
        cr_expect_eq(out[0], (float)i);
        cr_expect_eq(b.count, i + 1);
    }
    int old = 0, fresh = 0;
    for (int i = 0; i < 400; i++) {
        float in[2] = {100.0f + i, 0.0f};
        replay_buffer_push_and_pop(&b, in, 1, out, &rng);
        if (out[0] == in[0])
            fresh++;
        else
            old++;
        cr_expect_eq(b.count, 3);
    }
    // About half are older images, half the new one (binomial, 400 draws: far from the bounds).
    cr_expect(old > 150 && fresh > 150, "old %d fresh %d", old, fresh);
    replay_buffer_free(&b);
}

// ---- runs on real faces ----

static char tmp[] = "/tmp/ageshift-train-XXXXXX";

static void link_faces(const char *domain, const char *dir, int count)
{
    char cmd[3 * PATH_MAX + 2048], faces[PATH_MAX];
    cr_assert_not_null(realpath(test_faces_dir(), faces), "%s is missing", test_faces_dir());
    snprintf(cmd, sizeof cmd,
             "mkdir -p %s && ls %s/%s | head -n %d | while read f; do ln -s %s/%s/$f %s/$f; done",
             dir, faces, domain, count, faces, domain, dir);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void setup_data(void)
{
    cr_assert_not_null(mkdtemp(tmp));
    char young[512], old[512];
    snprintf(young, sizeof young, "%s/young", tmp);
    snprintf(old, sizeof old, "%s/old", tmp);
    link_faces("young", young, 10);
    link_faces("old", old, 10);
}

static void remove_tmp(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(run, .init = setup_data, .fini = remove_tmp, .timeout = 300);

static TrainConfig tiny_config(void)
{
    static char young[512], old[512];
    snprintf(young, sizeof young, "%s/young", tmp);
    snprintf(old, sizeof old, "%s/old", tmp);
    TrainConfig c = train_config_default();
    c.data.young_dir = young;
    c.data.old_dir = old;
    c.data.young_min = 0, c.data.young_max = 150, c.data.old_min = 0, c.data.old_max = 150;
    c.size = 32, c.ngf = 2, c.n_blocks = 1, c.ndf = 2;
    c.epochs = 2, c.decay_epoch = 1, c.checkpoint_every = 3, c.sample_faces = 2, c.threads = 2;
    return c; // 8 training images per domain: 8 iterations an epoch
}

static void out_path(char *buf, size_t len, const char *run, const char *file)
{
    snprintf(buf, len, "%s/%s/%s", tmp, run, file);
}

static bool train_bf16; // the next train() runs with --bf16 and channels AMX's tiles take
static float train_identity_weight = 5.0f;
static bool train_half_model; // the next train() writes its model in F16 (--half-model)

static int train(const char *run, long max_iterations, bool resume, Err *err)
{
    TrainConfig c = tiny_config();
    c.max_iterations = max_iterations;
    // bf16 takes wider layers; with the transposed-convolution upsampling, every 3x3 layer is
    // small enough for winograd_pick.h's fixed rule: a measured pick could differ between the
    // two runs a resume test compares (the resize upsampling's last layer, 32x32, is measured).
    if (train_bf16)
        c.bf16 = true, c.ngf = 8, c.ndf = 16, c.upsample = UPSAMPLE_CONVT;
    c.lambda_identity = train_identity_weight;
    c.half_model = train_half_model;
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", tmp, run);
    return train_run(&c, dir, resume, NULL, err);
}

static float *read_all(const char *path, const char *prefix, size_t *n)
{
    Err err;
    StFile *f = st_open(path, &err);
    cr_assert_not_null(f, "%s", err.msg);
    size_t total = 0;
    for (int i = 0; i < st_count(f); i++)
        if (!strncmp(st_get(f, i)->name, prefix, strlen(prefix)))
            total += st_get(f, i)->numel;
    float *all = malloc(total * sizeof *all), *p = all;
    for (int i = 0; i < st_count(f); i++) {
        const StTensor *t = st_get(f, i);
        if (strncmp(t->name, prefix, strlen(prefix)))
            continue;
        cr_assert_eq(st_read_f32(f, t->name, p, t->numel, &err), 0, "%s", err.msg);
        p += t->numel;
    }
    st_close(f);
    *n = total;
    return all;
}

static long checkpoint_meta_long(const char *path, const char *key)
{
    Err err;
    StFile *f = st_open(path, &err);
    cr_assert_not_null(f, "%s", err.msg);
    cr_assert_not_null(st_meta(f, key), "%s: no '%s'", path, key);
    long v = atol(st_meta(f, key));
    st_close(f);
    return v;
}

static long checkpoint_iteration(const char *path)
{
    return checkpoint_meta_long(path, "iteration");
}

static void expect_resume_is_exact(void)
{
    Err err;
    // 11 iterations straight (into the second epoch), and 5 + resume + 6.
    cr_assert_eq(train("straight", 11, false, &err), TRAIN_STOPPED, "%s", err.msg);
    cr_assert_eq(train("split", 5, false, &err), TRAIN_STOPPED, "%s", err.msg);
    cr_assert_eq(train("split", 11, true, &err), TRAIN_STOPPED, "%s", err.msg);
    char a[512], b[512];
    out_path(a, sizeof a, "straight", "checkpoint.safetensors");
    out_path(b, sizeof b, "split", "checkpoint.safetensors");
    cr_expect_eq(checkpoint_iteration(a), 11);
    cr_expect_eq(checkpoint_iteration(b), 11);
    StFile *fa = st_open(a, &err), *fb = st_open(b, &err);
    cr_assert(fa && fb, "%s", err.msg);
    cr_assert_str_eq(st_meta(fa, "winograd_plan"), st_meta(fb, "winograd_plan"),
                     "the two runs measured different Winograd picks: not comparable");
    st_close(fa), st_close(fb);
    const char *parts[] = {"G_A2B.", "G_B2A.", "D_A.", "D_B.", "adam_m.", "adam_v.", "replay."};
    for (int i = 0; i < 7; i++) {
        size_t na, nb;
        float *wa = read_all(a, parts[i], &na), *wb = read_all(b, parts[i], &nb);
        cr_assert_eq(na, nb);
        cr_assert_gt(na, 0);
        double max_diff = 0;
        for (size_t j = 0; j < na; j++)
            max_diff = fmax(max_diff, fabs((double)wa[j] - wb[j]));
        cr_expect_leq(max_diff, 1e-6, "%s differs by %g", parts[i], max_diff);
        free(wa);
        free(wb);
    }
    // losses.csv of the resumed run has each iteration once.
    char csv[512], line[512];
    out_path(csv, sizeof csv, "split", "losses.csv");
    FILE *fp = fopen(csv, "r");
    cr_assert_not_null(fp);
    int rows = 0;
    while (fgets(line, sizeof line, fp))
        rows++;
    fclose(fp);
    cr_expect_eq(rows, 1 + 11);
}

Test(run, resume_gives_the_same_weights_as_an_uninterrupted_run)
{
    expect_resume_is_exact();
}

// The Winograd-or-im2col picks of the run's start are kept in its checkpoint and read back on
// resume (tests/test_winograd_pick.c: what a plan does; this tiny network's one residual
// block has two convolutions with too few tiles to measure: the rule's "rrr rrr").
Test(run, the_winograd_plan_is_kept_in_the_checkpoint)
{
    Err err;
    cr_assert_eq(train("plan", 2, false, &err), TRAIN_STOPPED, "%s", err.msg);
    cr_assert_eq(train("plan", 4, true, &err), TRAIN_STOPPED, "%s", err.msg);
    char path[512];
    out_path(path, sizeof path, "plan", "checkpoint.safetensors");
    StFile *f = st_open(path, &err);
    cr_assert_not_null(f, "%s", err.msg);
    cr_expect_str_eq(st_meta(f, "winograd_plan"), "rrr rrr");
    st_close(f);
}

// --half-model: model.safetensors in F16, the checkpoint in F32, and a resume keeps writing F16.
Test(run, a_half_model_run_writes_f16_and_keeps_doing_so)
{
    Err err;
    train_half_model = true;
    cr_assert_eq(train("half", 2, false, &err), TRAIN_STOPPED, "%s", err.msg);
    train_half_model = false; // a resume takes the checkpoint's setting
    cr_assert_eq(train("half", 4, true, &err), TRAIN_STOPPED, "%s", err.msg);
    char model[512], checkpoint[512];
    out_path(model, sizeof model, "half", "model.safetensors");
    out_path(checkpoint, sizeof checkpoint, "half", "checkpoint.safetensors");
    StFile *m = st_open(model, &err), *c = st_open(checkpoint, &err);
    cr_assert(m && c, "%s", err.msg);
    for (int i = 0; i < st_count(m); i++)
        cr_expect_eq(st_get(m, i)->dtype, ST_F16, "model tensor %s", st_get(m, i)->name);
    for (int i = 0; i < st_count(c); i++)
        cr_expect_eq(st_get(c, i)->dtype, ST_F32, "checkpoint tensor %s", st_get(c, i)->name);
    cr_expect_str_eq(st_meta(c, "half_model"), "1");
    cr_expect_eq(checkpoint_iteration(checkpoint), 4);
    st_close(m), st_close(c);
}

// The loss weights are the run's: kept in the checkpoint and on resume, and they change the
// losses.
Test(run, the_identity_weight_is_kept_and_used)
{
    Err err;
    cr_assert_eq(train("seed_weights", 2, false, &err), TRAIN_STOPPED, "%s", err.msg);
    train_identity_weight = 0.5f;
    cr_assert_eq(train("light", 1, false, &err), TRAIN_STOPPED, "%s", err.msg);
    train_identity_weight = 5.0f; // a resume takes the checkpoint's, whatever is asked
    cr_assert_eq(train("light", 2, true, &err), TRAIN_STOPPED, "%s", err.msg);
    char path[512];
    out_path(path, sizeof path, "light", "checkpoint.safetensors");
    StFile *f = st_open(path, &err);
    cr_assert_not_null(f, "%s", err.msg);
    cr_expect_float_eq(atof(st_meta(f, "lambda_identity")), 0.5, 1e-9);
    cr_expect_float_eq(atof(st_meta(f, "lambda_cycle")), 10.0, 1e-9);
    st_close(f);
    // The first iteration's loss_G (column 3 of losses.csv) differs between the two weights.
    double g[2];
    const char *runs[2] = {"seed_weights", "light"};
    for (int k = 0; k < 2; k++) {
        char csv[512], line[512];
        out_path(csv, sizeof csv, runs[k], "losses.csv");
        FILE *fp = fopen(csv, "r");
        cr_assert_not_null(fp);
        cr_assert_not_null(fgets(line, sizeof line, fp)); // header
        cr_assert_not_null(fgets(line, sizeof line, fp));
        fclose(fp);
        int it, epoch;
        cr_assert_eq(sscanf(line, "%d,%d,%lf", &it, &epoch, &g[k]), 3, "%s", line);
    }
    cr_expect_neq(g[0], g[1], "loss_G %g with both weights", g[0]);
}

// Mixed precision on AMX: the same promise, and the choice kept in the checkpoint.
Test(run, a_bf16_run_resumes_exactly_too)
{
    if (!conv_bf16_available())
        cr_skip_test("no bf16 training here: %s", conv_bf16_describe());
    train_bf16 = true;
    expect_resume_is_exact();
    char a[512];
    out_path(a, sizeof a, "split", "checkpoint.safetensors");
    cr_expect_eq(checkpoint_meta_long(a, "bf16"), 1);
    train_bf16 = false;
}

Test(run, a_finished_run_leaves_every_file)
{
    Err err;
    cr_assert_eq(train("full", 0, false, &err), TRAIN_DONE, "%s", err.msg);
    const char *files[] = {
        "checkpoint.safetensors", "model.safetensors",     "losses.csv",       "loss_G.png",
        "loss_G_identity.png",    "loss_G_GAN.png",        "loss_G_cycle.png", "loss_D.png",
        "samples/epoch_0001.png", "samples/epoch_0002.png"};
    char path[512];
    for (int i = 0; i < 10; i++) {
        out_path(path, sizeof path, "full", files[i]);
        struct stat st;
        cr_expect_eq(stat(path, &st), 0, "%s is missing", path);
        if (strstr(files[i], ".png")) {
            Image img = {0};
            cr_expect_eq(image_load(path, &img, &err), 0, "%s", err.msg);
            cr_expect_gt(img.w, 0);
            image_free(&img);
        }
    }
    out_path(path, sizeof path, "full", "model.safetensors");
    Net g = {0};
    GeneratorArch arch;
    cr_expect_eq(model_file_load(path, AGE_OLDER, &g, &arch, &err), 0, "%s", err.msg);
    cr_expect_eq(arch.size, 32);
    net_free(&g);
    out_path(path, sizeof path, "full", "checkpoint.safetensors");
    cr_expect_eq(checkpoint_iteration(path), 16);
    // A finished run resumed does nothing more and says so by returning DONE.
    cr_expect_eq(train("full", 0, true, &err), TRAIN_DONE, "%s", err.msg);
}

Test(run, a_finished_run_can_be_lengthened_on_resume)
{
    Err err = {0};
    cr_assert_eq(train("longer", 0, false, &err), TRAIN_DONE, "%s", err.msg);
    TrainConfig c = tiny_config();
    c.epochs = 3, c.decay_epoch = 2;
    char dir[512], path[512];
    snprintf(dir, sizeof dir, "%s/longer", tmp);
    cr_assert_eq(train_run(&c, dir, true, NULL, &err), TRAIN_DONE, "%s", err.msg);
    out_path(path, sizeof path, "longer", "checkpoint.safetensors");
    cr_expect_eq(checkpoint_iteration(path), 24);
    StFile *f = st_open(path, &err);
    cr_assert_not_null(f, "%s", err.msg);
    cr_expect_str_eq(st_meta(f, "epochs"), "3");
    cr_expect_str_eq(st_meta(f, "decay_epoch"), "2");
    st_close(f);
    // Fewer epochs than already trained is refused, naming the run.
    c.epochs = 1;
    cr_expect_eq(train_run(&c, dir, true, NULL, &err), -1);
    cr_expect_not_null(strstr(err.msg, "beyond 1 epochs"), "%s", err.msg);
}

Test(run, refuses_to_overwrite_a_run_and_to_resume_nothing)
{
    Err err = {0};
    cr_assert_eq(train("once", 2, false, &err), TRAIN_STOPPED, "%s", err.msg);
    cr_expect_eq(train("once", 2, false, &err), -1);
    cr_expect_not_null(strstr(err.msg, "already holds a training run"), "%s", err.msg);
    cr_expect_eq(train("nothing", 2, true, &err), -1);
    cr_expect_not_null(strstr(err.msg, "checkpoint.safetensors"), "%s", err.msg);
}

Test(run, refuses_a_corrupt_checkpoint)
{
    Err err = {0};
    cr_assert_eq(train("corrupt", 2, false, &err), TRAIN_STOPPED, "%s", err.msg);
    char path[512];
    out_path(path, sizeof path, "corrupt", "checkpoint.safetensors");
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(truncate(path, st.st_size - 100), 0);
    cr_expect_eq(train("corrupt", 4, true, &err), -1);
    cr_expect_not_null(strstr(err.msg, path), "%s", err.msg);
}

Test(run, missing_data_is_an_error_naming_the_folder)
{
    TrainConfig c = tiny_config();
    c.data.old_dir = "/nonexistent/old";
    char dir[512];
    snprintf(dir, sizeof dir, "%s/nodata", tmp);
    Err err = {0};
    cr_expect_eq(train_run(&c, dir, false, NULL, &err), -1);
    cr_expect_not_null(strstr(err.msg, "/nonexistent/old"), "%s", err.msg);
}

// ---- through the command line: a full disk, and SIGKILL at any moment ----

#define shell(...) shell_capture(NULL, 0, __VA_ARGS__)

#define TRAIN_CMD                                                                                  \
    "${AGESHIFT_BIN:-./build/ageshift} train --young %s/young --old %s/old --young-ages 0-150 "    \
    "--old-ages 0-150 "                                                                            \
    "--size 32 --ngf 2 --blocks 1 --ndf 2 --samples 1 --threads 2 "

Test(run, full_disk_keeps_the_last_good_checkpoint)
{
    cr_assert_eq(shell(TRAIN_CMD "--out %s/disk --checkpoint-every 1 --max-iterations 2 "
                                 "2>/dev/null",
                       tmp, tmp, tmp),
                 0);
    char path[512];
    out_path(path, sizeof path, "disk", "checkpoint.safetensors");
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    // A file-size limit below the checkpoint's size makes its next write fail as a full disk
    // does (EFBIG instead of ENOSPC).
    long blocks = st.st_size / 512 / 2;
    int rc = shell("ulimit -f %ld; ${AGESHIFT_BIN:-./build/ageshift} train --resume %s/disk "
                   "--max-iterations 4 "
                   "2>%s/disk.err",
                   blocks, tmp, tmp);
    cr_expect_neq(rc, 0, "the run went on as if the checkpoint had been saved");
    cr_expect_eq(shell("grep -q 'checkpoint.safetensors' %s/disk.err", tmp), 0,
                 "the message does not name the checkpoint");
    cr_expect_eq(checkpoint_iteration(path), 2); // still the last good one, and loadable
}

Test(run, killed_at_any_moment_resumes_from_the_last_checkpoint)
{
    char path[512];
    out_path(path, sizeof path, "kill", "checkpoint.safetensors");
    srand((unsigned)time(NULL));
    // Kill the run at random moments (checkpoints are written every iteration, so many kills
    // land inside a write), each time resuming the same run.
    for (int round = 0; round < 6; round++) {
        pid_t pid = fork();
        cr_assert_geq(pid, 0);
        if (pid == 0) {
            char cmd[1024];
            if (round == 0)
                snprintf(cmd, sizeof cmd,
                         TRAIN_CMD "--out %s/kill --checkpoint-every 1 2>/dev/null", tmp, tmp, tmp);
            else
                snprintf(cmd, sizeof cmd,
                         "${AGESHIFT_BIN:-./build/ageshift} train --resume %s/kill 2>/dev/null",
                         tmp);
            execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
            _exit(127);
        }
        // The first round waits for a first checkpoint (startup takes seconds on a loaded
        // machine or under the sanitizers), so that the later kills have one to resume from.
        for (int waited = 0; round == 0 && access(path, F_OK) != 0 && waited < 600; waited++)
            usleep(100000);
        usleep(300000 + rand() % 700000);
        // sh -c runs ageshift as its child: kill the whole process group of the shell.
        char cmd[256];
        snprintf(cmd, sizeof cmd, "pkill -KILL -P %d; kill -KILL %d 2>/dev/null", pid, pid);
        shell("%s", cmd);
        waitpid(pid, NULL, 0);
        if (access(path, F_OK) != 0)
            continue;                         // killed before the first checkpoint
        long it = checkpoint_iteration(path); // asserts it loads
        cr_expect_geq(it, 1);
    }
    cr_assert_eq(access(path, F_OK), 0, "no checkpoint was ever written");
    long before = checkpoint_iteration(path);
    char dir[512];
    snprintf(dir, sizeof dir, "%s/kill", tmp);
    cr_expect_eq(
        shell(
            "${AGESHIFT_BIN:-./build/ageshift} train --resume %s --max-iterations %ld 2>/dev/null",
            dir, before + 2),
        0);
    cr_expect_eq(checkpoint_iteration(path), before + 2);
    cr_expect_neq(shell("ls %s | grep -q tmp", dir), 0, "a temporary file was left in %s", dir);
}
