#include "core/base/pool.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#define MAX_THREADS 64
// Workers poll for the next job before sleeping: a network's ops follow one another within
// microseconds, and a condition-variable wake-up costs more than that. After SPIN_POLLS busy
// polls they yield the CPU between polls, so that when the machine has more runnable threads
// than cores (tests running side by side, a video pipeline's other stages) the thread that
// has work gets the core.
#define SPIN_POLLS 2000
#define YIELD_POLLS 200

struct Pool {
    int n;
    pthread_t threads[MAX_THREADS];
    PoolFn fn;
    void *ctx;
    atomic_uint generation; // bumped for every job
    atomic_int pending;     // workers still running the current job
    atomic_int sleeping;
    bool stop;
    pthread_mutex_t mutex;
    pthread_cond_t wake;
};

typedef struct {
    Pool *pool;
    int index;
} WorkerArg;

static void *worker(void *arg_)
{
    WorkerArg *arg = arg_;
    Pool *p = arg->pool;
    int index = arg->index;
    free(arg);
    unsigned seen = 0;
    for (;;) {
        int polls = 0;
        while (atomic_load_explicit(&p->generation, memory_order_acquire) == seen) {
            if (++polls < SPIN_POLLS) {
                __builtin_ia32_pause();
                continue;
            }
            if (polls < SPIN_POLLS + YIELD_POLLS) {
                sched_yield();
                continue;
            }
            pthread_mutex_lock(&p->mutex);
            atomic_fetch_add(&p->sleeping, 1);
            while (atomic_load(&p->generation) == seen && !p->stop)
                pthread_cond_wait(&p->wake, &p->mutex);
            atomic_fetch_sub(&p->sleeping, 1);
            pthread_mutex_unlock(&p->mutex);
            polls = 0;
        }
        seen = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (p->stop)
            return NULL;
        p->fn(p->ctx, index, p->n);
        atomic_fetch_sub_explicit(&p->pending, 1, memory_order_release);
    }
}

Pool *pool_create(int threads, Err *err)
{
    if (threads <= 0)
        threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads < 1)
        threads = 1;
    if (threads > MAX_THREADS)
        threads = MAX_THREADS;
    Pool *p = calloc(1, sizeof *p);
    if (!p) {
        err_set(err, "out of memory for a thread pool");
        return NULL;
    }
    pthread_mutex_init(&p->mutex, NULL);
    pthread_cond_init(&p->wake, NULL);
    openblas_set_num_threads(1);
    p->n = 1;
    for (int i = 1; i < threads; i++) {
        WorkerArg *arg = malloc(sizeof *arg);
        if (!arg)
            break; // fewer threads is slower, not wrong
        *arg = (WorkerArg){p, i};
        if (pthread_create(&p->threads[i], NULL, worker, arg) != 0) {
            free(arg);
            break;
        }
        p->n++;
    }
    return p;
}

void pool_free(Pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mutex);
    p->stop = true;
    atomic_fetch_add(&p->generation, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mutex);
    for (int i = 1; i < p->n; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mutex);
    pthread_cond_destroy(&p->wake);
    free(p);
}

int pool_threads(const Pool *p)
{
    return p ? p->n : 1;
}

void pool_run(Pool *p, PoolFn fn, void *ctx)
{
    if (!p || p->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->pending, p->n - 1);
    atomic_fetch_add(&p->generation, 1); // seq_cst: pairs with the sleeping count
    if (atomic_load(&p->sleeping) > 0) {
        pthread_mutex_lock(&p->mutex);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mutex);
    }
    fn(ctx, 0, p->n);
    for (int polls = 0; atomic_load_explicit(&p->pending, memory_order_acquire) > 0; polls++) {
        if (polls < SPIN_POLLS)
            __builtin_ia32_pause();
        else
            sched_yield();
    }
}

void pool_split(size_t total, int t, int n, size_t *begin, size_t *end)
{
    *begin = total * (size_t)t / (size_t)n;
    *end = total * (size_t)(t + 1) / (size_t)n;
}
