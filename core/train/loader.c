// The background loader: a thread that decodes and augments the batches of each epoch ahead
// of the training step, in an order that depends only on (seed, epoch, index).
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/rng.h"
#include "core/train/dataset.h"

#define RING 3 // batches prepared ahead

struct Loader {
    char **young, **old; // own copies of the paths
    int n_young, n_old, n_max;
    int size, batch;
    uint64_t seed;
    Augment aug;
    bool has_aug;
    long ipe;

    // Producer state (the background thread's alone).
    long epoch, iter;
    uint32_t *perm; // of n_max, for perm_epoch
    long perm_epoch;

    // The ring: slots [head, head + count) are ready, in order.
    float *a[RING], *b[RING];
    int head, count;
    bool stop, failed;
    Err fail;
    pthread_mutex_t mu;
    pthread_cond_t ready, space;
    pthread_t thread;
    bool started;
};

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// A seed for one random choice: a function of (seed, epoch, sample index, what it is for).
static uint64_t choice_seed(uint64_t seed, long epoch, long i, int tag)
{
    uint64_t h = mix64(seed + 0x9e3779b97f4a7c15ull);
    h = mix64(h ^ ((uint64_t)epoch * 0x9e3779b97f4a7c15ull + 1));
    h = mix64(h ^ ((uint64_t)i * 0xc2b2ae3d27d4eb4full + 2));
    return mix64(h ^ (uint64_t)(unsigned)tag);
}

// The epoch's order, as the seed's DataLoader(shuffle=True) over max(n_young, n_old) indices.
static void make_perm(Loader *l, long epoch)
{
    Rng r;
    rng_seed(&r, choice_seed(l->seed, epoch, 0, 'P'));
    for (int i = 0; i < l->n_max; i++)
        l->perm[i] = (uint32_t)i;
    for (int i = l->n_max - 1; i > 0; i--) {
        uint32_t j = rng_below(&r, (uint32_t)i + 1);
        uint32_t t = l->perm[i];
        l->perm[i] = l->perm[j];
        l->perm[j] = t;
    }
    l->perm_epoch = epoch;
}

static int load_augmented(const Loader *l, const char *path, uint64_t seed, float *chw, Err *err)
{
    Image img;
    if (image_load(path, &img, err) != 0)
        return -1;
    int rc = augment_image(&img, l->size, l->has_aug ? &l->aug : NULL, seed, chw, err);
    image_free(&img);
    return rc;
}

// Fills one batch for the current (epoch, iter).
static int produce(Loader *l, float *a, float *b, Err *err)
{
    if (l->perm_epoch != l->epoch)
        make_perm(l, l->epoch);
    size_t per = 3 * (size_t)l->size * (size_t)l->size;
    for (int k = 0; k < l->batch; k++) {
        long i = l->iter * l->batch + k;
        int yi = (int)(l->perm[i] % (uint32_t)l->n_young);
        Rng r;
        rng_seed(&r, choice_seed(l->seed, l->epoch, i, 'B'));
        int oi = (int)rng_below(&r, (uint32_t)l->n_old);
        if (load_augmented(l, l->young[yi], choice_seed(l->seed, l->epoch, i, 'A'), a + k * per,
                           err) != 0 ||
            load_augmented(l, l->old[oi], choice_seed(l->seed, l->epoch, i, 'b'), b + k * per,
                           err) != 0)
            return -1;
    }
    return 0;
}

static void *producer(void *arg)
{
    Loader *l = arg;
    for (;;) {
        pthread_mutex_lock(&l->mu);
        while (l->count == RING && !l->stop)
            pthread_cond_wait(&l->space, &l->mu);
        if (l->stop) {
            pthread_mutex_unlock(&l->mu);
            return NULL;
        }
        int slot = (l->head + l->count) % RING;
        pthread_mutex_unlock(&l->mu);

        // The slot is outside [head, head + count), so the consumer does not touch it.
        Err e;
        int rc = produce(l, l->a[slot], l->b[slot], &e);

        pthread_mutex_lock(&l->mu);
        if (rc != 0) {
            l->failed = true;
            l->fail = e;
        } else {
            l->count++;
        }
        pthread_cond_signal(&l->ready);
        pthread_mutex_unlock(&l->mu);
        if (rc != 0)
            return NULL;
        if (++l->iter == l->ipe) {
            l->iter = 0;
            l->epoch++;
        }
    }
}

static char **copy_paths(const ImageList *src)
{
    char **p = calloc((size_t)src->count, sizeof *p);
    if (!p)
        return NULL;
    for (int i = 0; i < src->count; i++)
        if (!(p[i] = strdup(src->paths[i]))) {
            for (int j = 0; j < i; j++)
                free(p[j]);
            free(p);
            return NULL;
        }
    return p;
}

static void free_paths(char **p, int n)
{
    if (!p)
        return;
    for (int i = 0; i < n; i++)
        free(p[i]);
    free(p);
}

static void loader_destroy(Loader *l)
{
    free_paths(l->young, l->n_young);
    free_paths(l->old, l->n_old);
    free(l->perm);
    for (int s = 0; s < RING; s++) {
        free(l->a[s]);
        free(l->b[s]);
    }
    free(l);
}

Loader *loader_create(const ImageList *young, const ImageList *old, int size, int batch,
                      const Augment *aug, uint64_t seed, int start_epoch, long start_iteration,
                      Err *err)
{
    if (!young || !old || young->count <= 0 || old->count <= 0) {
        err_set(err, "loader: both domains need at least one image (young %d, old %d)",
                young ? young->count : 0, old ? old->count : 0);
        return NULL;
    }
    if (size <= 0 || size > 8192 || batch <= 0 || batch > 65536) {
        err_set(err, "loader: image size %d or batch %d is not valid", size, batch);
        return NULL;
    }
    if (start_epoch < 0 || start_iteration < 0) {
        err_set(err, "loader: start position (epoch %d, iteration %ld) is negative", start_epoch,
                start_iteration);
        return NULL;
    }
    int n_max = young->count > old->count ? young->count : old->count;
    long ipe = n_max / batch;
    if (ipe == 0) {
        err_set(err,
                "loader: batch %d is larger than the bigger domain (%d images): an epoch would "
                "have no full batch",
                batch, n_max);
        return NULL;
    }
    Loader *l = calloc(1, sizeof *l);
    if (!l) {
        err_set(err, "loader: out of memory");
        return NULL;
    }
    l->n_young = young->count;
    l->n_old = old->count;
    l->n_max = n_max;
    l->size = size;
    l->batch = batch;
    l->seed = seed;
    if (aug) {
        l->aug = *aug;
        l->has_aug = true;
    }
    l->ipe = ipe;
    // An iteration past the end of its epoch is the same place in a later one.
    l->epoch = start_epoch + start_iteration / ipe;
    l->iter = start_iteration % ipe;
    l->perm_epoch = -1;
    l->young = copy_paths(young);
    l->old = copy_paths(old);
    l->perm = malloc((size_t)n_max * sizeof *l->perm);
    size_t floats = (size_t)batch * 3 * (size_t)size * (size_t)size;
    bool ok = l->young && l->old && l->perm;
    for (int s = 0; s < RING && ok; s++) {
        l->a[s] = malloc(floats * sizeof(float));
        l->b[s] = malloc(floats * sizeof(float));
        ok = l->a[s] && l->b[s];
    }
    if (!ok) {
        loader_destroy(l);
        err_set(err, "loader: out of memory for %d batches of %d x 3 x %d x %d", RING, batch, size,
                size);
        return NULL;
    }
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->ready, NULL);
    pthread_cond_init(&l->space, NULL);
    int e = pthread_create(&l->thread, NULL, producer, l);
    if (e != 0) {
        pthread_cond_destroy(&l->space);
        pthread_cond_destroy(&l->ready);
        pthread_mutex_destroy(&l->mu);
        loader_destroy(l);
        err_set(err, "loader: cannot start the background thread: %s", strerror(e));
        return NULL;
    }
    l->started = true;
    return l;
}

void loader_free(Loader *l)
{
    if (!l)
        return;
    if (l->started) {
        pthread_mutex_lock(&l->mu);
        l->stop = true;
        pthread_cond_broadcast(&l->space);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->thread, NULL);
        pthread_cond_destroy(&l->space);
        pthread_cond_destroy(&l->ready);
        pthread_mutex_destroy(&l->mu);
    }
    loader_destroy(l);
}

long loader_iterations_per_epoch(const Loader *l)
{
    return l->ipe;
}

int loader_next(Loader *l, float *a, float *b, Err *err)
{
    // a, b: (batch, 3, size, size)
    pthread_mutex_lock(&l->mu);
    while (l->count == 0 && !l->failed)
        pthread_cond_wait(&l->ready, &l->mu);
    if (l->count == 0) { // failed, and everything made before the failure has been taken
        Err e = l->fail;
        pthread_mutex_unlock(&l->mu);
        return err_set(err, "%s", e.msg);
    }
    int slot = l->head;
    pthread_mutex_unlock(&l->mu);

    // The producer never writes a ready slot, so the copy needs no lock.
    size_t bytes = (size_t)l->batch * 3 * (size_t)l->size * (size_t)l->size * sizeof(float);
    memcpy(a, l->a[slot], bytes);
    memcpy(b, l->b[slot], bytes);

    pthread_mutex_lock(&l->mu);
    l->head = (l->head + 1) % RING;
    l->count--;
    pthread_cond_signal(&l->space);
    pthread_mutex_unlock(&l->mu);
    return 0;
}
