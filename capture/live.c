#include "capture/live.h"

#include <libswscale/swscale.h>
#include <linux/videodev2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capture/preview.h"
#include "capture/source.h"
#include "capture/v4l2.h"
#include "core/base/clock.h"
#include "media/image_io.h"

#define MAX_LATENCIES 100000

// One frame handed from a stage to the next; a newer frame replaces one not yet taken.
typedef struct {
    Image original, aged; // aged is unused between capture and the filter
    int64_t time_us;
    bool full;
} Slot;

typedef struct {
    const LiveOptions *opt;
    Source *source;
    AgeshiftFilter *filters[2]; // older, younger
    int direction;              // index into filters
    float strength;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    Slot captured, processed;
    bool done;
    Err thread_err;
    bool failed;
    long n_captured, n_processed;
} Live;

static void swap_images(Image *a, Image *b)
{
    Image t = *a;
    *a = *b;
    *b = t;
}

static int copy_image(Image *dst, const Image *src, Err *err)
{
    if (dst->w != src->w || dst->h != src->h) {
        image_free(dst);
        if (image_alloc(dst, src->w, src->h, err))
            return -1;
    }
    memcpy(dst->rgb, src->rgb, (size_t)src->w * src->h * 3);
    return 0;
}

static void fail(Live *l, const Err *e)
{
    pthread_mutex_lock(&l->lock);
    if (!l->failed) {
        l->thread_err = *e;
        l->failed = true;
    }
    l->done = true;
    pthread_cond_broadcast(&l->changed);
    pthread_mutex_unlock(&l->lock);
}

static void *capture_thread(void *arg)
{
    Live *l = arg;
    Image frame = {0};
    Err err;
    for (;;) {
        int64_t t;
        int rc = source_next(l->source, &frame, &t, &err);
        if (rc < 0) {
            fail(l, &err);
            break;
        }
        pthread_mutex_lock(&l->lock);
        if (rc == 0 || l->done) {
            l->done = true;
            pthread_cond_broadcast(&l->changed);
            pthread_mutex_unlock(&l->lock);
            break;
        }
        swap_images(&frame, &l->captured.original); // the newest frame wins
        l->captured.time_us = t;
        l->captured.full = true;
        l->n_captured++;
        pthread_cond_broadcast(&l->changed);
        pthread_mutex_unlock(&l->lock);
    }
    image_free(&frame);
    return NULL;
}

static void *filter_thread(void *arg)
{
    Live *l = arg;
    Slot work = {0};
    Err err;
    AVFrame *av = av_frame_alloc();
    for (;;) {
        pthread_mutex_lock(&l->lock);
        while (!l->captured.full && !l->done)
            pthread_cond_wait(&l->changed, &l->lock);
        if (l->done) {
            pthread_mutex_unlock(&l->lock);
            break;
        }
        swap_images(&work.original, &l->captured.original);
        work.time_us = l->captured.time_us;
        l->captured.full = false;
        AgeshiftFilter *f = l->filters[l->direction];
        ageshift_set_strength(f, l->strength);
        pthread_mutex_unlock(&l->lock);

        if (copy_image(&work.aged, &work.original, &err)) {
            fail(l, &err);
            break;
        }
        image_as_frame(&work.aged, av);
        if (ageshift_process(f, av, &err)) {
            fail(l, &err);
            break;
        }
        pthread_mutex_lock(&l->lock);
        swap_images(&work.original, &l->processed.original);
        swap_images(&work.aged, &l->processed.aged);
        l->processed.time_us = work.time_us;
        l->processed.full = true;
        l->n_processed++;
        pthread_cond_broadcast(&l->changed);
        pthread_mutex_unlock(&l->lock);
    }
    av_frame_free(&av);
    image_free(&work.original);
    image_free(&work.aged);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void note(const LiveOptions *o, const char *what, const char *detail)
{
    if (o->message) {
        char msg[ERR_MAX + 4200];
        snprintf(msg, sizeof msg, "%s%s", what, detail);
        o->message(o->ctx, msg);
    }
}

// A PNG of what the window shows, named by the time.
static void snapshot(const LiveOptions *o, const Image *img)
{
    char path[4096];
    Err err;
    snprintf(path, sizeof path, "%s/ageshift-%lld.png", o->snapshot_dir ? o->snapshot_dir : ".",
             (long long)(clock_now_us() / 1000));
    if (image_save(path, img, &err))
        note(o, "snapshot failed: ", err.msg);
    else
        note(o, "saved ", path);
}

// RGB24 -> the output device's YUYV, and write it.
static int output_frame(V4l2Output *out, struct SwsContext **sws, const Image *img, uint8_t *yuyv,
                        Err *err)
{
    *sws = sws_getCachedContext(*sws, img->w, img->h, AV_PIX_FMT_RGB24, img->w, img->h,
                                AV_PIX_FMT_YUYV422, SWS_BILINEAR, NULL, NULL, NULL);
    if (!*sws)
        return err_set(err, "cannot convert frames for the output device");
    // The device may pad its lines: its frame size says how long each is.
    size_t size = v4l2_output_frame_size(out);
    const uint8_t *src[1] = {img->rgb};
    int src_stride[1] = {3 * img->w}, dst_stride[1] = {(int)(size / (size_t)img->h)};
    uint8_t *dst[1] = {yuyv};
    sws_scale(*sws, src, src_stride, 0, img->h, dst, dst_stride);
    return v4l2_output_write(out, yuyv, size, err);
}

int live_run(const LiveOptions *o, LiveStats *stats, Err *err)
{
    Live l = {.opt = o,
              .strength = o->filter.strength,
              .direction = o->filter.direction == AGE_OLDER ? 0 : 1};
    pthread_mutex_init(&l.lock, NULL);
    pthread_cond_init(&l.changed, NULL);
    Preview *win = NULL;
    V4l2Output *out = NULL;
    struct SwsContext *out_sws = NULL;
    uint8_t *yuyv = NULL;
    double *latency = malloc(MAX_LATENCIES * sizeof *latency);
    long shown = 0;
    int rc = -1, w, h;
    bool threads = false, mirror = o->mirror, side = o->side_by_side;
    pthread_t cap, flt;
    Slot show = {0};
    const int64_t start = clock_now_us();
    int64_t first_shown = 0, last_shown = 0; // the steady rate leaves start-up out
    *stats = (LiveStats){0};

    for (int d = 0; d < 2; d++) {
        AgeshiftOptions fo = o->filter;
        fo.direction = d == 0 ? AGE_OLDER : AGE_YOUNGER;
        if (!(l.filters[d] = ageshift_open(&fo, err)))
            goto done;
    }
    l.source = o->input_file ? source_open_file(o->input_file, 1, err)
                             : source_open_camera(o->device, o->width, o->height, o->fps, err);
    if (!l.source || !latency)
        goto done;
    source_size(l.source, &w, &h);
    if (o->output_device) {
        out = v4l2_output_open(&v4l2_sys_real, o->output_device, w, h, V4L2_PIX_FMT_YUYV, err);
        if (!out)
            goto done;
        if (!(yuyv = malloc(v4l2_output_frame_size(out)))) {
            err_set(err, "out of memory");
            goto done;
        }
    }
    if (o->window && !(win = preview_open("ageshift", side ? 2 * w : w, h, err)))
        goto done;
    if (pthread_create(&cap, NULL, capture_thread, &l) != 0) {
        err_set(err, "cannot start the capture thread");
        goto done;
    }
    if (pthread_create(&flt, NULL, filter_thread, &l) != 0) {
        pthread_mutex_lock(&l.lock);
        l.done = true;
        pthread_mutex_unlock(&l.lock);
        pthread_join(cap, NULL);
        err_set(err, "cannot start the filter thread");
        goto done;
    }
    threads = true;
    char overlay[128] = "";
    int64_t fps_mark = start;
    long fps_frames = 0;
    double fps = 0;
    for (;;) {
        PreviewAction a = win ? preview_poll(win) : PREVIEW_NONE;
        pthread_mutex_lock(&l.lock);
        if (a == PREVIEW_QUIT || (o->stop && *o->stop) ||
            (o->seconds > 0 && clock_now_us() - start > o->seconds * 1e6))
            l.done = true;
        if (a == PREVIEW_TOGGLE_DIRECTION)
            l.direction ^= 1;
        if (a == PREVIEW_STRONGER || a == PREVIEW_WEAKER)
            l.strength += a == PREVIEW_STRONGER ? 0.1f : -0.1f;
        l.strength = l.strength < 0 ? 0 : l.strength > 1 ? 1 : l.strength;
        mirror ^= a == PREVIEW_TOGGLE_MIRROR;
        side ^= a == PREVIEW_TOGGLE_VIEW;
        if (l.done) {
            pthread_mutex_unlock(&l.lock);
            break;
        }
        if (!l.processed.full) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 10 * 1000000; // keep polling the window's keys
            if (until.tv_nsec >= 1000000000)
                until.tv_sec++, until.tv_nsec -= 1000000000;
            pthread_cond_timedwait(&l.changed, &l.lock, &until);
            pthread_mutex_unlock(&l.lock);
            continue;
        }
        swap_images(&show.original, &l.processed.original);
        swap_images(&show.aged, &l.processed.aged);
        show.time_us = l.processed.time_us;
        l.processed.full = false;
        const char *dir = l.direction == 0 ? "older" : "younger";
        float strength = l.strength;
        pthread_mutex_unlock(&l.lock);

        if (out && output_frame(out, &out_sws, &show.aged, yuyv, err))
            break;
        if (win && preview_show(win, &show.original, &show.aged,
                                side ? VIEW_SIDE_BY_SIDE : VIEW_AGED, mirror, overlay, err))
            break;
        if (win && a == PREVIEW_SNAPSHOT)
            snapshot(o, &show.aged);
        int64_t now = clock_now_us();
        if (shown == 0)
            first_shown = now;
        last_shown = now;
        if (shown < MAX_LATENCIES)
            latency[shown] = (now - show.time_us) / 1000.0;
        shown++;
        fps_frames++;
        if (now - fps_mark >= 1000000) {
            fps = fps_frames * 1e6 / (double)(now - fps_mark);
            fps_mark = now;
            fps_frames = 0;
        }
        snprintf(overlay, sizeof overlay, "%s %.0f%%  %.1f fps  %.0f ms", dir, strength * 100.0,
                 fps, (now - show.time_us) / 1000.0);
    }
    rc = 0;
done:
    if (threads) {
        pthread_mutex_lock(&l.lock);
        bool broke = !l.done; // the display loop failed
        l.done = true;
        pthread_cond_broadcast(&l.changed);
        pthread_mutex_unlock(&l.lock);
        pthread_join(cap, NULL);
        pthread_join(flt, NULL);
        if (broke)
            rc = -1;
        if (l.failed && rc == 0) {
            *err = l.thread_err;
            rc = -1;
        }
        double secs = (clock_now_us() - start) / 1e6;
        double span = (last_shown - first_shown) / 1e6;
        long n = shown < MAX_LATENCIES ? shown : MAX_LATENCIES;
        qsort(latency, n, sizeof *latency, cmp_double);
        *stats = (LiveStats){l.n_captured,
                             l.n_processed,
                             shown,
                             secs,
                             shown > 1 && span > 0 ? (shown - 1) / span : 0,
                             n ? latency[n / 2] : 0,
                             n ? latency[(long)(n * 0.95)] : 0};
    }
    free(latency);
    free(yuyv);
    sws_freeContext(out_sws);
    image_free(&show.original);
    image_free(&show.aged);
    image_free(&l.captured.original);
    image_free(&l.processed.original);
    image_free(&l.processed.aged);
    preview_close(win);
    v4l2_output_close(out);
    source_close(l.source);
    ageshift_close(l.filters[0]);
    ageshift_close(l.filters[1]);
    pthread_mutex_destroy(&l.lock);
    pthread_cond_destroy(&l.changed);
    return rc;
}
