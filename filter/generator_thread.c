#include "filter/generator_thread.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef enum { IDLE, QUEUED, DONE } JobState;

struct GeneratorThread {
    const Net *net;
    Trace *trace;
    size_t floats;
    float *crop, *delta;
    int tag;
    JobState state;
    bool quit;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
};

static void *run(void *arg)
{
    GeneratorThread *g = arg;
    pthread_mutex_lock(&g->mu);
    for (;;) {
        while (g->state != QUEUED && !g->quit)
            pthread_cond_wait(&g->cv, &g->mu);
        if (g->quit)
            break;
        pthread_mutex_unlock(&g->mu); // the caller touches neither buffer while QUEUED
        const float *out = net_forward(g->net, g->trace, g->crop);
        for (size_t i = 0; i < g->floats; i++)
            g->delta[i] = out[i] - g->crop[i];
        pthread_mutex_lock(&g->mu);
        g->state = DONE;
        pthread_cond_broadcast(&g->cv);
    }
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

GeneratorThread *generator_thread_start(const Net *net, int size, Err *err)
{
    GeneratorThread *g = calloc(1, sizeof *g);
    if (!g) {
        err_set(err, "out of memory");
        return NULL;
    }
    g->net = net;
    g->floats = 3 * (size_t)size * size;
    g->crop = malloc(g->floats * sizeof(float));
    g->delta = malloc(g->floats * sizeof(float));
    if (!g->crop || !g->delta) {
        err_set(err, "out of memory");
        goto fail;
    }
    if (!(g->trace = trace_create_inference(net, size, size, NULL, err)))
        goto fail;
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    if (pthread_create(&g->thread, NULL, run, g) != 0) {
        err_set(err, "cannot start the generator's thread");
        pthread_mutex_destroy(&g->mu);
        pthread_cond_destroy(&g->cv);
        goto fail;
    }
    return g;
fail:
    trace_free(g->trace);
    free(g->crop);
    free(g->delta);
    free(g);
    return NULL;
}

void generator_thread_stop(GeneratorThread *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    while (g->state == QUEUED) // let the running crop finish: its buffers are freed below
        pthread_cond_wait(&g->cv, &g->mu);
    g->quit = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    pthread_join(g->thread, NULL);
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    trace_free(g->trace);
    free(g->crop);
    free(g->delta);
    free(g);
}

bool generator_thread_submit(GeneratorThread *g, int tag, const float *crop)
{
    pthread_mutex_lock(&g->mu);
    bool idle = g->state == IDLE;
    if (idle) {
        memcpy(g->crop, crop, g->floats * sizeof(float));
        g->tag = tag;
        g->state = QUEUED;
        pthread_cond_broadcast(&g->cv);
    }
    pthread_mutex_unlock(&g->mu);
    return idle;
}

bool generator_thread_collect(GeneratorThread *g, bool wait, int *tag, float *delta)
{
    pthread_mutex_lock(&g->mu);
    while (wait && g->state == QUEUED)
        pthread_cond_wait(&g->cv, &g->mu);
    bool done = g->state == DONE;
    if (done) {
        memcpy(delta, g->delta, g->floats * sizeof(float));
        *tag = g->tag;
        g->state = IDLE;
    }
    pthread_mutex_unlock(&g->mu);
    return done;
}
