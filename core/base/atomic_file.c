#include "core/base/atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// PATH's directory, allocated ("." for a bare name); NULL when out of memory.
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
}

// An O_TMPFILE file in path's directory, reachable through /proc/self/fd (which the commit's
// linkat needs); -1 where the file system or the kernel has no such files, or
// AGESHIFT_NO_TMPFILE=1 asks for the named fallback (the tests use both).
static int open_unnamed(const char *path, char name[32])
{
    const char *env = getenv("AGESHIFT_NO_TMPFILE");
    if (env && strcmp(env, "1") == 0)
        return -1;
    char *dir = dir_of(path);
    if (!dir)
        return -1;
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0666);
    free(dir);
    if (fd < 0)
        return -1;
    snprintf(name, 32, "/proc/self/fd/%d", fd);
    if (access(name, F_OK) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

// Removes PATH.tmp.PID files that processes no longer running left (killed while writing
// without an unnamed file): a file whose PID is alive is another writer's.
static void remove_stale(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    char *dir = dir_of(path);
    DIR *d = dir ? opendir(dir) : NULL;
    size_t n = strlen(base);
    for (struct dirent *e; d && (e = readdir(d));) {
        const char *p = e->d_name;
        if (strncmp(p, base, n) != 0 || strncmp(p + n, ".tmp.", 5) != 0)
            continue;
        char *end;
        long pid = strtol(p + n + 5, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char stale[4096];
        if ((size_t)snprintf(stale, sizeof stale, "%s/%s", dir, p) < sizeof stale)
            unlink(stale);
    }
    if (d)
        closedir(d);
    free(dir);
}

int atomic_open(AtomicFile *a, const char *path, Err *err)
{
    remove_stale(path);
    *a = (AtomicFile){.path = path};
    size_t cap = strlen(path) + 32;
    if (!(a->tmp = malloc(cap)))
        return err_set(err, "%s: out of memory", path);
    // Unique per process, and in PATH's directory so that rename() stays within a file system.
    snprintf(a->tmp, cap, "%s.tmp.%ld", path, (long)getpid());
    int fd = open_unnamed(path, a->name);
    a->unnamed = fd >= 0;
    if (!a->unnamed)
        fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0 || !(a->fp = fdopen(fd, "wb"))) {
        err_set(err, "%s: cannot create temporary file %s: %s", path, a->tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            if (!a->unnamed)
                unlink(a->tmp);
        }
        free(a->tmp);
        a->tmp = NULL;
        return -1;
    }
    return 0;
}

const char *atomic_name(const AtomicFile *a)
{
    return a->unnamed ? a->name : a->tmp;
}

void atomic_abort(AtomicFile *a)
{
    if (!a->tmp)
        return;
    if (a->fp)
        fclose(a->fp); // an unnamed file is freed with its last descriptor
    if (!a->unnamed || a->name[0] == 0)
        unlink(a->tmp); // named: the temporary; unnamed: what the commit linked, if it got there
    free(a->tmp);
    *a = (AtomicFile){0};
}

// Reports why stdio failed (errno is 0 when it failed without a system error), then aborts.
static int fail(AtomicFile *a, const char *what, Err *err)
{
    err_set(err, "%s: %s %s failed: %s", a->path, what, a->tmp, strerror(errno ? errno : EIO));
    atomic_abort(a);
    return -1;
}

int atomic_write(AtomicFile *a, const void *data, size_t len, Err *err)
{
    errno = 0;
    if (len && fwrite(data, 1, len, a->fp) != len)
        return fail(a, "writing", err);
    return 0;
}

// The rename is only durable once the directory entry is on disk.
static int sync_dir(const char *path, Err *err)
{
    char *dir = dir_of(path);
    if (!dir)
        return err_set(err, "%s: saved, but out of memory syncing its directory", path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    if (fd < 0) {
        rc = err_set(err, "%s: saved, but opening directory %s to sync it failed: %s", path, dir,
                     strerror(errno));
    } else {
        // Some file systems cannot fsync a directory (EINVAL); there is nothing more to do.
        if (fsync(fd) != 0 && errno != EINVAL)
            rc = err_set(err, "%s: saved, but fsync of directory %s failed: %s", path, dir,
                         strerror(errno));
        close(fd);
    }
    free(dir);
    return rc;
}

int atomic_commit(AtomicFile *a, Err *err)
{
    errno = 0;
    if (fflush(a->fp) != 0)
        return fail(a, "writing", err);
    if (fsync(fileno(a->fp)) != 0)
        return fail(a, "fsync of", err);
    if (a->unnamed) {
        // Given a name only now, complete; the name is replaced atomically like a named one's.
        if (linkat(AT_FDCWD, a->name, AT_FDCWD, a->tmp, AT_SYMLINK_FOLLOW) != 0) {
            err_set(err, "%s: cannot create temporary file %s: %s", a->path, a->tmp,
                    strerror(errno));
            atomic_abort(a);
            return -1;
        }
        a->name[0] = 0; // linked: from here on a failure removes a->tmp
    }
    errno = 0;
    int closed = fclose(a->fp);
    a->fp = NULL; // gone whatever fclose returned
    if (closed != 0)
        return fail(a, "closing", err);
    if (rename(a->tmp, a->path) != 0)
        return fail(a, "renaming over it", err);
    free(a->tmp);
    a->tmp = NULL;
    return sync_dir(a->path, err);
}
