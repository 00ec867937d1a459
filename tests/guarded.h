// Buffers that end where the memory mapping ends, as a driver's mmap'ed buffer may: reading a
// byte past the end crashes at once (SIGSEGV), even from a library ASan does not instrument.
#ifndef AGESHIFT_TESTS_GUARDED_H
#define AGESHIFT_TESTS_GUARDED_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *data; // the copy, never NULL (even for size 0)
    void *map;
    size_t map_len;
} Guarded;

// Copies size bytes of data (NULL allowed when size is 0) to the end of fresh pages followed by
// an inaccessible one. Aborts when the pages cannot be mapped.
void guarded_copy(Guarded *g, const void *data, size_t size);
void guarded_free(Guarded *g);

#endif
