// Files written so that PATH is always either its old content or the complete new one, and so
// that nothing is left behind by a process that dies while writing.
//
// Where the file system allows it (Linux's O_TMPFILE: ext4, xfs, btrfs, tmpfs), the data goes to
// an unnamed file in PATH's directory, which the kernel frees if the process dies; at commit it
// is flushed and fsynced, linked in as PATH.tmp.PID and renamed over PATH, and the directory is
// fsynced. Elsewhere the data goes to PATH.tmp.PID from the start, which a killed process
// leaves behind until the next atomic_open of PATH removes it. A failure at any step (a full disk included) removes the temporary file and
// leaves PATH as it was.
#ifndef AGESHIFT_ATOMIC_FILE_H
#define AGESHIFT_ATOMIC_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/base/err.h"

typedef struct {
    FILE *fp;
    const char *path;
    char *tmp;     // PATH.tmp.PID: the temporary name, or (unnamed) the name linked at commit
    bool unnamed;  // the data is in an O_TMPFILE file
    char name[32]; // unnamed: "/proc/self/fd/N", a name that opens the same file
} AtomicFile;

int atomic_open(AtomicFile *a, const char *path, Err *err);
// A name under which another library (FFmpeg's avio_open) can open the file to write it.
const char *atomic_name(const AtomicFile *a);
// On failure the temporary file is removed and *a is closed: no atomic_abort is needed.
int atomic_write(AtomicFile *a, const void *data, size_t len, Err *err);
int atomic_commit(AtomicFile *a, Err *err);
void atomic_abort(AtomicFile *a); // removes the temporary file; a closed *a is a no-op

#endif
