// Files written so that PATH is always either its old content or the complete new one: the data
// goes to PATH.tmp.PID in the same directory, is flushed and fsynced, renamed over PATH, and the
// directory is fsynced. A failure at any step (a full disk included) removes the temporary file
// and leaves PATH as it was.
#ifndef AGESHIFT_ATOMIC_FILE_H
#define AGESHIFT_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "core/base/err.h"

typedef struct {
    FILE *fp;
    const char *path;
    char *tmp;
} AtomicFile;

int atomic_open(AtomicFile *a, const char *path, Err *err);
// On failure the temporary file is removed and *a is closed: no atomic_abort is needed.
int atomic_write(AtomicFile *a, const void *data, size_t len, Err *err);
int atomic_commit(AtomicFile *a, Err *err);
void atomic_abort(AtomicFile *a); // removes the temporary file; a closed *a is a no-op

#endif
