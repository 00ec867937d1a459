// Helpers shared by the fuzz target bodies (see fuzz_targets.h).
#include "tests/fuzz/fuzz_targets.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

const char *fuzz_input_path(const uint8_t *data, size_t size)
{
    // One memfd per process: libFuzzer calls a body millions of times, and a Criterion test
    // runs in its own process, so nothing is left on disk either way.
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz-input", MFD_CLOEXEC);
        if (fd < 0) {
            perror("fuzz: memfd_create");
            abort();
        }
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    size_t done = 0;
    if (ftruncate(fd, 0) != 0)
        abort();
    while (done < size) {
        ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);
        if (n <= 0) {
            perror("fuzz: writing the memfd");
            abort();
        }
        done += (size_t)n;
    }
    return path;
}

void fuzz_expect_reason(const char *target, const Err *err)
{
    if (err->msg[0])
        return;
    fprintf(stderr, "fuzz_%s: an input was refused without a reason\n", target);
    abort();
}

uint32_t fuzz_take(FuzzBytes *b, int nbytes)
{
    uint32_t v = 0;
    for (int i = 0; i < nbytes && b->size > 0; i++) {
        v |= (uint32_t)b->data[0] << (8 * i);
        b->data++;
        b->size--;
    }
    return v;
}
