// Atomic files (core/base/atomic_file.h): the new content appears whole under its name at
// commit, and until then nothing of it has a name, with unnamed files (O_TMPFILE) and with the
// named fallback; an abort leaves the old file; a dead writer's temporary is cleaned up.
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/atomic_file.h"

static char dir[] = "/tmp/ageshift-atomic-XXXXXX";

static void make_dir(void)
{
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(atomic_file, .init = make_dir, .fini = remove_dir);

// The names in dir, sorted and joined with spaces.
static void listing(char *out, size_t len)
{
    struct dirent **e;
    int n = scandir(dir, &e, NULL, alphasort);
    cr_assert_geq(n, 0);
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        if (e[i]->d_name[0] != '.') {
            strncat(out, *out ? " " : "", len - strlen(out) - 1);
            strncat(out, e[i]->d_name, len - strlen(out) - 1);
        }
        free(e[i]);
    }
    free(e);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static void expect_text(const char *path, const char *want)
{
    char buf[64] = {0};
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "%s is missing", path);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    cr_expect_str_eq(buf, want, "%s", path);
}

static void replace_and_abort(bool unnamed)
{
    if (!unnamed)
        setenv("AGESHIFT_NO_TMPFILE", "1", 1);
    char path[128], names[512], tmp[160];
    snprintf(path, sizeof path, "%s/out.bin", dir);
    snprintf(tmp, sizeof tmp, "out.bin out.bin.tmp.%ld", (long)getpid());
    write_text(path, "old");
    Err err = {{0}};
    AtomicFile a;
    cr_assert_eq(atomic_open(&a, path, &err), 0, "%s", err.msg);
    cr_expect_eq(a.unnamed, unnamed);
    cr_assert_eq(atomic_write(&a, "new", 3, &err), 0, "%s", err.msg);
    listing(names, sizeof names);
    cr_expect_str_eq(names, unnamed ? "out.bin" : tmp, "while writing");
    expect_text(path, "old");
    cr_assert_eq(atomic_commit(&a, &err), 0, "%s", err.msg);
    expect_text(path, "new");
    listing(names, sizeof names);
    cr_expect_str_eq(names, "out.bin", "after the commit");

    cr_assert_eq(atomic_open(&a, path, &err), 0, "%s", err.msg);
    cr_assert_eq(atomic_write(&a, "newer", 5, &err), 0, "%s", err.msg);
    atomic_abort(&a);
    atomic_abort(&a); // a closed one is a no-op
    expect_text(path, "new");
    listing(names, sizeof names);
    cr_expect_str_eq(names, "out.bin", "after the abort");
}

Test(atomic_file, unnamed_until_committed)
{
    replace_and_abort(true);
}

Test(atomic_file, named_fallback)
{
    replace_and_abort(false);
}

// PATH.tmp.PID of a process that is gone is removed by the next open of PATH; that of a live
// process (here the parent, the test runner) is not.
Test(atomic_file, a_dead_writers_temporary_is_removed)
{
    char path[128], dead[160], live[160], names[512];
    snprintf(path, sizeof path, "%s/out.bin", dir);
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    cr_assert_gt(child, 0);
    waitpid(child, NULL, 0);
    snprintf(dead, sizeof dead, "%s.tmp.%ld", path, (long)child);
    snprintf(live, sizeof live, "%s.tmp.%ld", path, (long)getppid());
    write_text(dead, "partial");
    write_text(live, "busy");
    Err err = {{0}};
    AtomicFile a;
    cr_assert_eq(atomic_open(&a, path, &err), 0, "%s", err.msg);
    cr_assert_eq(atomic_commit(&a, &err), 0, "%s", err.msg);
    listing(names, sizeof names);
    char want[200];
    snprintf(want, sizeof want, "out.bin %s", strrchr(live, '/') + 1);
    cr_expect_str_eq(names, want);
}
