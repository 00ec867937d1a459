// Buffers followed by an inaccessible page (see guarded.h).
#include "tests/guarded.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void guarded_copy(Guarded *g, const void *data, size_t size)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t body = (size + page - 1) / page * page;
    g->map_len = body + page;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED || mprotect((char *)g->map + body, page, PROT_NONE) != 0) {
        perror("guarded_copy: mmap");
        abort();
    }
    g->data = (uint8_t *)g->map + body - size;
    if (size)
        memcpy(g->data, data, size);
}

void guarded_free(Guarded *g)
{
    munmap(g->map, g->map_len);
}
