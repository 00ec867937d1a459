// The ageshift command as a user runs it: help, translate on real face crops, and clear errors.
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "faces.h"
#include "media/image_io.h"
#include "shell.h"

#define MODEL "tests/fixtures/golden_model.safetensors" // a 32 px model converted from .pth

static char out[4096];
#define run(...) shell_capture(out, sizeof out, __VA_ARGS__)

// Runs a shell command, keeps its stdout+stderr in `out`, returns its exit status.

static char tmp[] = "/tmp/ageshift-cli-XXXXXX";
static void make_tmp(void)
{
    cr_assert_not_null(mkdtemp(tmp));
}
static void remove_tmp(void)
{
    run("rm -rf %s", tmp);
}
TestSuite(cli, .init = make_tmp, .fini = remove_tmp);

Test(cli, help_lists_the_commands)
{
    cr_expect_eq(run("${AGESHIFT_BIN:-./build/ageshift} --help"), 0);
    cr_expect_not_null(strstr(out, "train"), "%s", out);
    cr_expect_not_null(strstr(out, "translate"), "%s", out);
    cr_expect_eq(run("${AGESHIFT_BIN:-./build/ageshift} train --help"), 0);
    cr_expect_not_null(strstr(out, "--resume"), "%s", out);
    cr_expect_eq(run("${AGESHIFT_BIN:-./build/ageshift} bogus"), 2);
    cr_expect_not_null(strstr(out, "unknown command 'bogus'"), "%s", out);
}

// Every command's options come from its table: the help shows the defaults, a value out of
// range and a missing --to are refused with exit status 2, naming the option.
Test(cli, options_are_checked_and_their_defaults_shown)
{
    cr_expect_eq(run("${AGESHIFT_BIN:-./build/ageshift} train --help"), 0);
    cr_expect_not_null(
        strstr(out, "--size N             image size, a multiple of 4 (default 128)"), "%s", out);
    cr_expect_eq(run("${AGESHIFT_BIN:-./build/ageshift} image --help"), 0);
    cr_expect_not_null(strstr(out, "--detect-every N     look for faces every N frames, tracking "
                                   "in between (default 1)"),
                       "image detects on every frame: %s", out);
    cr_expect_eq(run("${AGESHIFT_BIN:-./build/ageshift} convert --help"), 0);
    cr_expect_not_null(strstr(out, "tracking in between (default 2)"), "%s", out);
    cr_expect_eq(run("${AGESHIFT_BIN:-./build/ageshift} image a.png -o b.png --to old "
                     "--max-faces 99"),
                 2);
    cr_expect_not_null(strstr(out, "--max-faces: '99' is not an integer in [1, 16]"), "%s", out);
    cr_expect_eq(run("${AGESHIFT_BIN:-./build/ageshift} live --seconds 1"), 2);
    cr_expect_not_null(strstr(out, "ageshift live: --to is required"), "%s", out);
    cr_expect_eq(run("${AGESHIFT_BIN:-./build/ageshift} train --young a --old b --out c --lr 5"),
                 2);
    cr_expect_not_null(strstr(out, "--lr: '5' is not a number"), "%s", out);
}

Test(cli, translate_writes_each_face_under_its_name)
{
    cr_assert_eq(run("mkdir -p %s/in && ls " TEST_FACES_SH "/young | head -n 3 | "
                     "while read f; do cp " TEST_FACES_SH "/young/$f %s/in/; done",
                     tmp, tmp),
                 0);
    cr_assert_eq(
        run("${AGESHIFT_BIN:-./build/ageshift} translate %s/in -o %s/old --to old --model %s", tmp,
            tmp, MODEL),
        0, "%s", out);
    cr_expect_not_null(strstr(out, "3 images written"), "%s", out);
    cr_assert_eq(
        run("${AGESHIFT_BIN:-./build/ageshift} translate %s/in -o %s/young --to young --model %s",
            tmp, tmp, MODEL),
        0, "%s", out);
    cr_assert_eq(run("ls %s/in | head -n 1", tmp), 0);
    out[strcspn(out, "\n")] = 0;
    char name[4096], a_path[8300], b_path[8300];
    snprintf(name, sizeof name, "%s", out);
    snprintf(a_path, sizeof a_path, "%s/old/%s", tmp, name);
    snprintf(b_path, sizeof b_path, "%s/young/%s", tmp, name);
    Image a = {0}, b = {0};
    Err err;
    cr_assert_eq(image_load(a_path, &a, &err), 0, "%s", err.msg);
    cr_assert_eq(image_load(b_path, &b, &err), 0, "%s", err.msg);
    cr_expect_eq(a.w, 32); // the model's size
    cr_expect_eq(a.h, 32);
    long diff = 0;
    for (int i = 0; i < 32 * 32 * 3; i++)
        diff += abs(a.rgb[i] - b.rgb[i]);
    cr_expect_gt(diff, 32 * 32 * 3, "the two directions gave the same picture");
    image_free(&a);
    image_free(&b);
}

Test(cli, translate_reports_bad_input)
{
    cr_expect_eq(run("${AGESHIFT_BIN:-./build/ageshift} translate /nonexistent.jpg -o %s/x --to "
                     "old --model %s",
                     tmp, MODEL),
                 1);
    cr_expect_not_null(strstr(out, "/nonexistent.jpg"), "%s", out);
    cr_expect_eq(
        run("${AGESHIFT_BIN:-./build/ageshift} translate x.jpg -o %s/x --to old --model /no/model",
            tmp),
        1);
    cr_expect_not_null(strstr(out, "/no/model"), "%s", out);
    cr_expect_eq(
        run("${AGESHIFT_BIN:-./build/ageshift} translate x.jpg -o %s/x --to sideways --model %s",
            tmp, MODEL),
        2);
}

Test(cli, default_model_is_found_beside_the_executable)
{
    // A copy of the command in a folder of its own, run from another folder.
    cr_assert_eq(run("mkdir -p %s/bin %s/elsewhere && cp ${AGESHIFT_BIN:-./build/ageshift} "
                     "%s/bin/ageshift && f=$(ls " TEST_FACES_SH "/young | head -n 1) && "
                     "cp " TEST_FACES_SH "/young/$f %s/elsewhere/face.jpg",
                     tmp, tmp, tmp, tmp),
                 0, "%s", out);
    if (run("test -e /usr/local/share/ageshift/model.safetensors") != 0) {
        cr_expect_eq(
            run("cd %s/elsewhere && ../bin/ageshift translate face.jpg -o out --to old", tmp), 1);
        cr_expect_not_null(strstr(out, "no default model"), "%s", out);
        cr_expect_not_null(strstr(out, "--model FILE"), "%s", out);
    }
    cr_assert_eq(
        run("mkdir -p %s/bin/samples && cp %s %s/bin/samples/model.safetensors", tmp, MODEL, tmp),
        0);
    cr_expect_eq(run("cd %s/elsewhere && ../bin/ageshift translate face.jpg -o out --to old", tmp),
                 0, "%s", out);
    cr_expect_eq(run("test -s %s/elsewhere/out/face.jpg", tmp), 0);
}
