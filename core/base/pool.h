// A small persistent thread pool for data-parallel loops. On this project's 2-core machines
// OpenBLAS's own threading gains little on a network's many small GEMMs (1.36x on two cores)
// and leaves every other op on one core; instead each op splits its work (output rows, input
// channels, planes, ranges) over the pool's threads, each calling single-threaded sgemm.
#ifndef AGESHIFT_POOL_H
#define AGESHIFT_POOL_H

#include <stddef.h>

#include "core/base/err.h"

typedef struct Pool Pool;

// threads counts the caller, which always takes share 0; 0 means one per online CPU.
// Sets OpenBLAS to one thread per call, since the parallelism is now ours.
Pool *pool_create(int threads, Err *err);
void pool_free(Pool *pool);         // NULL is a no-op
int pool_threads(const Pool *pool); // 1 for a NULL pool

// Runs fn(ctx, t, n) for t = 0..n-1 on the pool's n threads and returns when all are done.
// A NULL pool runs fn(ctx, 0, 1) on the caller.
typedef void (*PoolFn)(void *ctx, int t, int n);
void pool_run(Pool *pool, PoolFn fn, void *ctx);

// The share [*begin, *end) of total items for thread t of n.
void pool_split(size_t total, int t, int n, size_t *begin, size_t *end);

#endif
