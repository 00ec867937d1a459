// The fuzz targets' bodies over every kept input: the seed corpus (tests/fuzz/corpus/NAME) and
// the inputs that once crashed (tests/fuzz/regressions/NAME). Each must come back without a
// crash or a sanitizer report (in `make SANITIZE=1 test` too); the seeds must be accepted, and
// the regression inputs that are malformed must be refused.
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz_targets.h"

typedef int (*FuzzBody)(const uint8_t *data, size_t size);

static uint8_t *read_input(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    cr_assert_not_null(buf);
    for (;;) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        buf = realloc(buf, cap *= 2);
        cr_assert_not_null(buf);
    }
    cr_assert_eq(ferror(f), 0, "%s: read error", path);
    fclose(f);
    *size = n;
    return buf;
}

// Runs BODY over every file of DIR (a missing folder holds none); returns how many there were.
// EXPECT is 1 (accepted), 0 (refused) or -1 (either).
static int run_dir(FuzzBody body, const char *dir, int expect)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        size_t size;
        uint8_t *data = read_input(path, &size);
        int got = body(data, size);
        free(data);
        if (expect >= 0)
            cr_expect_eq(got, expect, "%s was %s", path, got ? "accepted" : "refused");
        count++;
    }
    closedir(d);
    return count;
}

// The seeds are real, well-formed files: all accepted, and there are some.
static void seeds_and_regressions(FuzzBody body, const char *name, int regressions_expect)
{
    char dir[256];
    snprintf(dir, sizeof dir, "tests/fuzz/corpus/%s", name);
    cr_assert_gt(run_dir(body, dir, 1), 0, "no seed inputs in %s", dir);
    snprintf(dir, sizeof dir, "tests/fuzz/regressions/%s", name);
    run_dir(body, dir, regressions_expect);
}

Test(fuzz_regressions, safetensors)
{
    seeds_and_regressions(fuzz_safetensors, "safetensors", -1);
}

Test(fuzz_regressions, y4m)
{
    seeds_and_regressions(fuzz_y4m, "y4m", -1);
}

Test(fuzz_regressions, raw)
{
    seeds_and_regressions(fuzz_raw, "raw", -1);
}

// Every kept cascade regression is a malformed cascade that once loaded.
Test(fuzz_regressions, cascade)
{
    seeds_and_regressions(fuzz_cascade, "cascade", 0);
}

Test(fuzz_regressions, dataset_name)
{
    seeds_and_regressions(fuzz_dataset_name, "dataset_name", -1);
}

Test(fuzz_regressions, camera)
{
    seeds_and_regressions(fuzz_camera, "camera", -1);
}

Test(fuzz_regressions, landmarks)
{
    seeds_and_regressions(fuzz_landmarks, "landmarks", -1);
}

// A few hand-made inputs each target must refuse, and must refuse with a reason (the bodies
// abort otherwise).
Test(fuzz_regressions, empty_and_junk_inputs_are_refused)
{
    const uint8_t junk[] = "\x00\x01\x02 not a file of any kind \xff\xfe";
    FuzzBody refusing[] = {fuzz_safetensors, fuzz_y4m, fuzz_cascade, fuzz_dataset_name,
                           fuzz_landmarks};
    for (size_t i = 0; i < sizeof refusing / sizeof refusing[0]; i++) {
        cr_expect_eq(refusing[i](junk, sizeof junk - 1), 0, "target %zu accepted junk", i);
        cr_expect_eq(refusing[i](junk, 0), 0, "target %zu accepted an empty input", i);
    }
    // A mode of 0x0 pixels, and a YUYV mode whose lines are shorter than its rows.
    const uint8_t zero_mode[] = {0, 0, 0, 0, 0, 0, 0, 1, 2, 3};
    const uint8_t short_lines[] = {0, 16, 0, 12, 0, 8, 0, 1, 2, 3};
    cr_expect_eq(fuzz_camera(zero_mode, sizeof zero_mode), 0);
    cr_expect_eq(fuzz_camera(short_lines, sizeof short_lines), 0);
    // Raw frames of a negative width.
    const uint8_t negative[] = {0xff, 0xff, 8, 0, 4, 25, 1, 0, 0, 0};
    cr_expect_eq(fuzz_raw(negative, sizeof negative), 0);
}
