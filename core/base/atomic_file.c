#include "core/base/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int atomic_open(AtomicFile *a, const char *path, Err *err)
{
    *a = (AtomicFile){.path = path};
    size_t cap = strlen(path) + 32;
    if (!(a->tmp = malloc(cap)))
        return err_set(err, "%s: out of memory", path);
    // Unique per process, and in PATH's directory so that rename() stays within a file system.
    snprintf(a->tmp, cap, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(a->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0 || !(a->fp = fdopen(fd, "wb"))) {
        err_set(err, "%s: cannot create temporary file %s: %s", path, a->tmp, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(a->tmp);
        }
        free(a->tmp);
        a->tmp = NULL;
        return -1;
    }
    return 0;
}

void atomic_abort(AtomicFile *a)
{
    if (!a->tmp)
        return;
    if (a->fp)
        fclose(a->fp);
    unlink(a->tmp);
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
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
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
