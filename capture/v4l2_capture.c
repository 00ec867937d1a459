// V4L2 capture: choosing a camera mode, mmap streaming, the frames, and listing the devices.
#include "capture/v4l2_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/base/clock.h"

// ---- capture -------------------------------------------------------------------------------

struct V4l2Camera {
    const V4l2Sys *sys;
    int fd;
    char path[PATH_CAP];
    V4l2Mode mode;
    size_t stride;
    struct {
        void *start;
        size_t length;
    } buf[MAX_BUFFERS];
    uint32_t nbuf;
    int held;      // the index of the buffer the caller holds, -1 when none
    int streaming; // STREAMON succeeded
};

// A candidate mode and how far it is from the request.
typedef struct {
    int found;
    uint32_t fourcc;
    uint32_t width, height;
    uint32_t ival_num, ival_den; // seconds per frame, as V4L2 writes it
    long size_dist;
    double fps_dist;
    int fmt_rank; // 0 YUYV, 1 MJPEG
} Choice;

static double absd(double x)
{
    return x < 0 ? -x : x;
}

static int better(const Choice *a, const Choice *b)
{
    if (!b->found)
        return 1;
    if (a->size_dist != b->size_dist)
        return a->size_dist < b->size_dist;
    if (absd(a->fps_dist - b->fps_dist) > 1e-9)
        return a->fps_dist < b->fps_dist;
    return a->fmt_rank < b->fmt_rank;
}

// Nearest value to want in [lo, hi] on the grid lo + k*step.
static uint32_t clamp_step(uint32_t want, uint32_t lo, uint32_t hi, uint32_t step)
{
    if (want <= lo)
        return lo;
    if (want >= hi)
        return hi;
    if (step == 0)
        step = 1;
    uint32_t k = (want - lo + step / 2) / step;
    uint32_t v = lo + k * step;
    return v > hi ? hi : v;
}

// The frame interval of (fourcc, w, h) closest to fps into c.
static void pick_interval(const V4l2Sys *sys, int fd, int fps, Choice *c)
{
    c->ival_num = 1;
    c->ival_den = (uint32_t)fps;
    c->fps_dist = 0.0; // a driver that cannot enumerate intervals: S_PARM will say
    struct v4l2_frmivalenum v;
    int any = 0;
    for (uint32_t k = 0;
         k < ENUM_MAX && v4l2_ival_at(sys, fd, c->fourcc, c->width, c->height, k, &v); k++) {
        uint32_t num = 0, den = 0;
        if (v.type == V4L2_FRMIVAL_TYPE_DISCRETE) {
            num = v.discrete.numerator;
            den = v.discrete.denominator;
        } else {
            // Stepwise or continuous: the request itself if inside, else the nearer bound.
            const struct v4l2_fract *lo = &v.stepwise.min, *hi = &v.stepwise.max;
            double want = 1.0 / fps;
            double tlo = lo->denominator ? (double)lo->numerator / lo->denominator : 0;
            double thi = hi->denominator ? (double)hi->numerator / hi->denominator : 0;
            if (want < tlo) {
                num = lo->numerator;
                den = lo->denominator;
            } else if (want > thi) {
                num = hi->numerator;
                den = hi->denominator;
            } else {
                num = 1;
                den = (uint32_t)fps;
            }
        }
        if (num == 0 || den == 0)
            continue;
        double dist = absd((double)den / num - fps);
        if (!any || dist < c->fps_dist) {
            c->ival_num = num;
            c->ival_den = den;
            c->fps_dist = dist;
            any = 1;
        }
        if (v.type != V4L2_FRMIVAL_TYPE_DISCRETE)
            break;
    }
}

static void consider(const V4l2Sys *sys, int fd, uint32_t fourcc, uint32_t w, uint32_t h, int width,
                     int height, int fps, Choice *best)
{
    Choice c;
    memset(&c, 0, sizeof c);
    c.found = 1;
    c.fourcc = fourcc;
    c.width = w;
    c.height = h;
    c.fmt_rank = fourcc == V4L2_PIX_FMT_YUYV ? 0 : 1;
    c.size_dist = labs((long)w - width) + labs((long)h - height);
    pick_interval(sys, fd, fps, &c);
    if (better(&c, best))
        *best = c;
}

static Choice choose_mode(const V4l2Sys *sys, int fd, int width, int height, int fps)
{
    Choice best;
    memset(&best, 0, sizeof best);
    struct v4l2_fmtdesc d;
    for (uint32_t i = 0; i < ENUM_MAX && v4l2_fmt_at(sys, fd, i, &d); i++) {
        uint32_t f = d.pixelformat;
        if (f != V4L2_PIX_FMT_YUYV && f != V4L2_PIX_FMT_MJPEG)
            continue;
        struct v4l2_frmsizeenum s;
        uint32_t j = 0;
        for (; j < ENUM_MAX && v4l2_size_at(sys, fd, f, j, &s); j++) {
            if (s.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
                consider(sys, fd, f, s.discrete.width, s.discrete.height, width, height, fps,
                         &best);
            } else {
                uint32_t sw = s.type == V4L2_FRMSIZE_TYPE_STEPWISE ? s.stepwise.step_width : 1;
                uint32_t sh = s.type == V4L2_FRMSIZE_TYPE_STEPWISE ? s.stepwise.step_height : 1;
                uint32_t w =
                    clamp_step((uint32_t)width, s.stepwise.min_width, s.stepwise.max_width, sw);
                uint32_t h =
                    clamp_step((uint32_t)height, s.stepwise.min_height, s.stepwise.max_height, sh);
                consider(sys, fd, f, w, h, width, height, fps, &best);
                break;
            }
        }
        if (j == 0) // no size enumeration: ask for the request, S_FMT adjusts
            consider(sys, fd, f, (uint32_t)width, (uint32_t)height, width, height, fps, &best);
    }
    return best;
}

static int busy_msg(Err *err, const char *path)
{
    return err_set(err, "%s is busy: another program is using the camera", path);
}

static int unplugged_msg(Err *err, const char *path)
{
    return err_set(err, "%s: the camera was unplugged", path);
}

// Stops, unmaps and closes whatever was set up.
void v4l2_camera_close(V4l2Camera *c)
{
    if (!c)
        return;
    if (c->fd >= 0 && c->streaming) {
        int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        v4l2_xioctl(c->sys, c->fd, VIDIOC_STREAMOFF, &type);
    }
    for (uint32_t i = 0; i < c->nbuf; i++)
        if (c->buf[i].start)
            c->sys->munmap(c->buf[i].start, c->buf[i].length);
    if (c->fd >= 0)
        c->sys->close(c->fd);
    free(c);
}

static int open_failed(const V4l2Sys *sys, const char *path, int e, Err *err)
{
    if (e == ENOENT || e == ENODEV || e == ENXIO) {
        char dir[PATH_CAP], cams[TEXT_CAP - 64];
        v4l2_dir_of(path, dir);
        v4l2_describe_cameras(sys, dir, path, cams, sizeof cams);
        return err_set(err, "%s: no such device (%s); cameras here: %s", path, strerror(e), cams);
    }
    if (e == EBUSY)
        return busy_msg(err, path);
    if (e == EACCES || e == EPERM)
        return err_set(err, "%s: permission denied (is this user in the 'video' group?)", path);
    return err_set(err, "%s: cannot open: %s", path, strerror(e));
}

// S_FMT, S_PARM: sets the chosen mode and records what the driver granted.
static int set_mode(V4l2Camera *c, const Choice *ch, Err *err)
{
    const V4l2Sys *sys = c->sys;
    struct v4l2_format fmt;
    memset(&fmt, 0, sizeof fmt);
    fmt.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    fmt.fmt.pix.width = ch->width;
    fmt.fmt.pix.height = ch->height;
    fmt.fmt.pix.pixelformat = ch->fourcc;
    fmt.fmt.pix.field = V4L2_FIELD_NONE;
    if (v4l2_xioctl(sys, c->fd, VIDIOC_S_FMT, &fmt) < 0) {
        int e = errno;
        if (e == EBUSY)
            return busy_msg(err, c->path);
        if (e == ENODEV)
            return unplugged_msg(err, c->path);
        return err_set(err, "%s: cannot set the format: %s", c->path, strerror(e));
    }
    if (fmt.fmt.pix.pixelformat != ch->fourcc || fmt.fmt.pix.width == 0 ||
        fmt.fmt.pix.height == 0 || fmt.fmt.pix.width > INT_MAX || fmt.fmt.pix.height > INT_MAX) {
        char want[5], got[5], offers[TEXT_CAP - 128];
        v4l2_fourcc_text(ch->fourcc, want);
        v4l2_fourcc_text(fmt.fmt.pix.pixelformat, got);
        v4l2_describe_formats(sys, c->fd, offers, sizeof offers);
        return err_set(err, "%s cannot deliver %s %ux%u (it gave %s %ux%u); it offers: %s", c->path,
                       want, ch->width, ch->height, got, fmt.fmt.pix.width, fmt.fmt.pix.height,
                       offers);
    }
    c->mode.fourcc = fmt.fmt.pix.pixelformat;
    c->mode.width = (int)fmt.fmt.pix.width;
    c->mode.height = (int)fmt.fmt.pix.height;
    c->stride = fmt.fmt.pix.bytesperline
                    ? fmt.fmt.pix.bytesperline
                    : (c->mode.fourcc == V4L2_PIX_FMT_YUYV ? (size_t)c->mode.width * 2 : 0);

    c->mode.fps_num = (int)ch->ival_den;
    c->mode.fps_den = (int)ch->ival_num;
    struct v4l2_streamparm parm;
    memset(&parm, 0, sizeof parm);
    parm.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    parm.parm.capture.timeperframe.numerator = ch->ival_num;
    parm.parm.capture.timeperframe.denominator = ch->ival_den;
    if (v4l2_xioctl(sys, c->fd, VIDIOC_S_PARM, &parm) == 0) {
        const struct v4l2_fract *t = &parm.parm.capture.timeperframe;
        if (t->numerator && t->denominator && t->numerator <= INT_MAX &&
            t->denominator <= INT_MAX) {
            c->mode.fps_num = (int)t->denominator;
            c->mode.fps_den = (int)t->numerator;
        }
    } else if (errno == ENODEV) {
        return unplugged_msg(err, c->path);
    } else if (errno == EBUSY) {
        return busy_msg(err, c->path);
    } // a driver without frame rate control runs at its own rate
    return 0;
}

// REQBUFS, QUERYBUF + mmap, QBUF, STREAMON.
static int start_streaming(V4l2Camera *c, Err *err)
{
    const V4l2Sys *sys = c->sys;
    struct v4l2_requestbuffers req;
    memset(&req, 0, sizeof req);
    req.count = WANT_BUFFERS;
    req.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    req.memory = V4L2_MEMORY_MMAP;
    if (v4l2_xioctl(sys, c->fd, VIDIOC_REQBUFS, &req) < 0) {
        int e = errno;
        if (e == EBUSY)
            return busy_msg(err, c->path);
        if (e == ENODEV)
            return unplugged_msg(err, c->path);
        if (e == EINVAL)
            return err_set(err, "%s does not support memory-mapped streaming", c->path);
        return err_set(err, "%s: cannot allocate buffers: %s", c->path, strerror(e));
    }
    if (req.count < 2)
        return err_set(err, "%s: the driver granted %u buffers, at least 2 are needed", c->path,
                       req.count);
    if (req.count > MAX_BUFFERS)
        return err_set(err, "%s: the driver granted %u buffers, at most %d are handled", c->path,
                       req.count, MAX_BUFFERS);
    c->nbuf = req.count;
    for (uint32_t i = 0; i < c->nbuf; i++) {
        struct v4l2_buffer b = v4l2_mmap_buffer(i);
        if (v4l2_xioctl(sys, c->fd, VIDIOC_QUERYBUF, &b) < 0)
            return err_set(err, "%s: cannot query buffer %u: %s", c->path, i, strerror(errno));
        void *p =
            sys->mmap(NULL, b.length, PROT_READ | PROT_WRITE, MAP_SHARED, c->fd, (off_t)b.m.offset);
        if (p == MAP_FAILED)
            return err_set(err, "%s: cannot map buffer %u (%u bytes): %s", c->path, i, b.length,
                           strerror(errno));
        c->buf[i].start = p;
        c->buf[i].length = b.length;
    }
    for (uint32_t i = 0; i < c->nbuf; i++) {
        struct v4l2_buffer b = v4l2_mmap_buffer(i);
        if (v4l2_xioctl(sys, c->fd, VIDIOC_QBUF, &b) < 0)
            return err_set(err, "%s: cannot queue buffer %u: %s", c->path, i, strerror(errno));
    }
    int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    if (v4l2_xioctl(sys, c->fd, VIDIOC_STREAMON, &type) < 0) {
        int e = errno;
        if (e == EBUSY)
            return busy_msg(err, c->path);
        if (e == ENODEV)
            return unplugged_msg(err, c->path);
        if (e == ENOSPC)
            return err_set(err,
                           "%s: not enough USB bandwidth for %dx%d (try a smaller size or "
                           "another USB port)",
                           c->path, c->mode.width, c->mode.height);
        return err_set(err, "%s: cannot start streaming: %s", c->path, strerror(e));
    }
    c->streaming = 1;
    return 0;
}

V4l2Camera *v4l2_camera_open(const V4l2Sys *sys, const char *path, int width, int height, int fps,
                             Err *err)
{
    if (!sys || !path) {
        err_set(err, "v4l2_camera_open: no system table or path");
        return NULL;
    }
    if (width <= 0 || height <= 0 || fps <= 0) {
        err_set(err, "%s: invalid request %dx%d at %d fps", path, width, height, fps);
        return NULL;
    }
    if (strlen(path) >= PATH_CAP) {
        err_set(err, "%.64s...: path too long", path);
        return NULL;
    }
    V4l2Camera *c = calloc(1, sizeof *c);
    if (!c) {
        err_set(err, "%s: out of memory", path);
        return NULL;
    }
    c->sys = sys;
    c->held = -1;
    strcpy(c->path, path);
    c->fd = sys->open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (c->fd < 0) {
        open_failed(sys, path, errno, err);
        free(c);
        return NULL;
    }

    struct v4l2_capability cap;
    memset(&cap, 0, sizeof cap);
    if (v4l2_xioctl(sys, c->fd, VIDIOC_QUERYCAP, &cap) < 0) {
        int e = errno;
        if (e == ENOTTY || e == EINVAL)
            err_set(err, "%s is not a V4L2 device", path);
        else
            err_set(err, "%s: cannot query capabilities: %s", path, strerror(e));
        goto fail;
    }
    char card[sizeof cap.card + 1];
    v4l2_card_name(&cap, card);
    uint32_t caps = v4l2_node_caps(&cap);
    if (!(caps & V4L2_CAP_VIDEO_CAPTURE)) {
        char dir[PATH_CAP], cams[TEXT_CAP - 128];
        v4l2_dir_of(path, dir);
        v4l2_describe_cameras(sys, dir, path, cams, sizeof cams);
        err_set(err, "%s (%s) is not a video capture device; cameras here: %s", path, card, cams);
        goto fail;
    }
    if (!(caps & V4L2_CAP_STREAMING)) {
        err_set(err, "%s (%s) cannot stream (no V4L2 streaming I/O)", path, card);
        goto fail;
    }

    Choice ch = choose_mode(sys, c->fd, width, height, fps);
    if (!ch.found) {
        char offers[TEXT_CAP - 128];
        v4l2_describe_formats(sys, c->fd, offers, sizeof offers);
        err_set(err, "%s (%s) offers neither YUYV nor MJPEG; it offers: %s", path, card, offers);
        goto fail;
    }
    if (set_mode(c, &ch, err) < 0 || start_streaming(c, err) < 0)
        goto fail;
    return c;
fail:
    v4l2_camera_close(c);
    return NULL;
}

int v4l2_camera_next(V4l2Camera *c, int timeout_ms, const uint8_t **data, size_t *len,
                     int64_t *timestamp_us, Err *err)
{
    if (!c || !data || !len)
        return err_set(err, "v4l2_camera_next: missing argument");
    *data = NULL;
    *len = 0;
    const V4l2Sys *sys = c->sys;
    if (c->held >= 0) { // give the previous frame's buffer back to the driver
        struct v4l2_buffer b = v4l2_mmap_buffer((uint32_t)c->held);
        if (v4l2_xioctl(sys, c->fd, VIDIOC_QBUF, &b) < 0) {
            int e = errno;
            if (e == ENODEV || e == EIO)
                return unplugged_msg(err, c->path);
            return err_set(err, "%s: cannot requeue buffer %d: %s", c->path, c->held, strerror(e));
        }
        c->held = -1;
    }
    int64_t deadline = timeout_ms >= 0 ? (clock_now_us() / 1000) + timeout_ms : 0;
    for (;;) {
        int wait = -1;
        if (timeout_ms >= 0) {
            int64_t left = deadline - (clock_now_us() / 1000);
            wait = left > 0 ? (int)left : 0;
        }
        struct pollfd p = {.fd = c->fd, .events = POLLIN, .revents = 0};
        int r = sys->poll(&p, 1, wait);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return err_set(err, "%s: poll: %s", c->path, strerror(errno));
        }
        if (r == 0)
            return 0;
        if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
            return unplugged_msg(err, c->path);

        struct v4l2_buffer b = v4l2_mmap_buffer(0);
        if (v4l2_xioctl(sys, c->fd, VIDIOC_DQBUF, &b) < 0) {
            int e = errno;
            if (e == EAGAIN) {
                if (timeout_ms >= 0 && (clock_now_us() / 1000) >= deadline)
                    return 0;
                continue;
            }
            if (e == ENODEV || e == EIO)
                return unplugged_msg(err, c->path);
            return err_set(err, "%s: cannot dequeue a frame: %s", c->path, strerror(e));
        }
        if (b.index >= c->nbuf)
            return err_set(err, "%s: the driver returned buffer %u of %u", c->path, b.index,
                           c->nbuf);
        c->held = (int)b.index;
        if ((b.flags & V4L2_BUF_FLAG_ERROR) || b.bytesused == 0 ||
            b.bytesused > c->buf[b.index].length) {
            // A corrupt frame (USB errors): hand it back and wait for the next one.
            if (v4l2_xioctl(sys, c->fd, VIDIOC_QBUF, &b) < 0) {
                int e = errno;
                if (e == ENODEV || e == EIO)
                    return unplugged_msg(err, c->path);
                return err_set(err, "%s: cannot requeue buffer %u: %s", c->path, b.index,
                               strerror(e));
            }
            c->held = -1;
            continue;
        }
        *data = c->buf[b.index].start;
        *len = b.bytesused;
        if (timestamp_us)
            *timestamp_us = (int64_t)b.timestamp.tv_sec * 1000000 + b.timestamp.tv_usec;
        return 1;
    }
}

const V4l2Mode *v4l2_camera_mode(const V4l2Camera *c)
{
    return c ? &c->mode : NULL;
}

size_t v4l2_camera_stride(const V4l2Camera *c)
{
    return c ? c->stride : 0;
}

// ---- listing -------------------------------------------------------------------------------

// One line per format and frame size of the open capture device fd.
static void list_modes(const V4l2Sys *sys, int fd, const char *path, const char *card,
                       void (*line)(void *ctx, const char *text), void *ctx)
{
    struct v4l2_fmtdesc d;
    uint32_t i = 0;
    for (; i < ENUM_MAX && v4l2_fmt_at(sys, fd, i, &d); i++) {
        char cc[5];
        v4l2_fourcc_text(d.pixelformat, cc);
        struct v4l2_frmsizeenum s;
        uint32_t j = 0;
        for (; j < ENUM_MAX && v4l2_size_at(sys, fd, d.pixelformat, j, &s); j++) {
            char text[TEXT_CAP];
            uint32_t w, h;
            if (s.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
                w = s.discrete.width;
                h = s.discrete.height;
                snprintf(text, sizeof text, "%s (%s): %s %ux%u", path, card, cc, w, h);
            } else {
                w = s.stepwise.max_width;
                h = s.stepwise.max_height;
                snprintf(text, sizeof text, "%s (%s): %s %ux%u to %ux%u (step %ux%u)", path, card,
                         cc, s.stepwise.min_width, s.stepwise.min_height, w, h,
                         s.stepwise.step_width, s.stepwise.step_height);
            }
            struct v4l2_frmivalenum v;
            int rates = 0;
            for (uint32_t k = 0; k < ENUM_MAX && v4l2_ival_at(sys, fd, d.pixelformat, w, h, k, &v);
                 k++) {
                if (v.type == V4L2_FRMIVAL_TYPE_DISCRETE) {
                    uint32_t num = v.discrete.numerator, den = v.discrete.denominator;
                    if (num == 0)
                        continue;
                    if (den % num == 0)
                        v4l2_appendf(text, sizeof text, "%s%u", rates ? ", " : " at ", den / num);
                    else
                        v4l2_appendf(text, sizeof text, "%s%.2f", rates ? ", " : " at ",
                                     (double)den / num);
                    rates++;
                } else {
                    const struct v4l2_fract *lo = &v.stepwise.min, *hi = &v.stepwise.max;
                    if (lo->numerator && hi->numerator)
                        v4l2_appendf(text, sizeof text, " at %.2f to %.2f",
                                     (double)hi->denominator / hi->numerator,
                                     (double)lo->denominator / lo->numerator);
                    rates++;
                    break;
                }
            }
            if (rates)
                v4l2_appendf(text, sizeof text, " fps");
            line(ctx, text);
            if (s.type != V4L2_FRMSIZE_TYPE_DISCRETE)
                break;
        }
        if (j == 0) {
            char text[TEXT_CAP];
            snprintf(text, sizeof text, "%s (%s): %s (sizes not listed by the driver)", path, card,
                     cc);
            line(ctx, text);
        }
    }
    if (i == 0) {
        char text[TEXT_CAP];
        snprintf(text, sizeof text, "%s (%s): no formats listed by the driver", path, card);
        line(ctx, text);
    }
}

int v4l2_list_devices(const V4l2Sys *sys, const char *dir,
                      void (*line)(void *ctx, const char *text), void *ctx, Err *err)
{
    if (!sys || !dir || !line)
        return err_set(err, "v4l2_list_devices: missing argument");
    char **names = NULL;
    size_t n = 0;
    if (v4l2_scan_video_nodes(dir, &names, &n, err) < 0)
        return -1;
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        char path[PATH_CAP], text[TEXT_CAP];
        int w = snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (w < 0 || (size_t)w >= sizeof path)
            continue;
        int fd = sys->open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            snprintf(text, sizeof text, "%s: cannot open: %s", path,
                     e == EBUSY ? "busy (another program is using it)" : strerror(e));
            line(ctx, text);
            continue;
        }
        struct v4l2_capability cap;
        memset(&cap, 0, sizeof cap);
        if (v4l2_xioctl(sys, fd, VIDIOC_QUERYCAP, &cap) == 0 &&
            (v4l2_node_caps(&cap) & V4L2_CAP_VIDEO_CAPTURE)) {
            char card[sizeof cap.card + 1];
            v4l2_card_name(&cap, card);
            list_modes(sys, fd, path, card, line, ctx);
            count++;
        }
        sys->close(fd);
    }
    v4l2_free_names(names, n);
    return count;
}
