// V4L2 capture and output against a fake kernel: a V4l2Sys table that speaks the real protocol
// with <linux/videodev2.h> structs (QUERYCAP, ENUM_FMT/FRAMESIZES/FRAMEINTERVALS, S_FMT that
// snaps to the nearest size, S_PARM, REQBUFS, QUERYBUF, mmap of malloc'd buffers, QBUF/DQBUF
// with 33 ms timestamps, STREAMON/OFF, poll, write). Covers negotiation, streaming, EAGAIN,
// EBUSY, unplugging, devices of the wrong kind, listing, buffer release and loopback output.
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/v4l2.h"

// ---- the fake kernel -----------------------------------------------------------------------

#define FAKE_FD 100
#define NDEV 4
#define NBUF 4
#define BUF_OFFSET 0x100000
#define TS0_US 5000000LL
#define FRAME_US 33000LL

enum { CAM, META, OUT };

typedef struct {
    char path[256];
    int kind;
    int open_errno;   // open fails with this
    int sfmt_errno;   // S_FMT fails with this
    int no_streaming; // QUERYCAP without V4L2_CAP_STREAMING
    uint32_t fmts[3]; // what ENUM_FMT lists
    int nfmts;
    int yuyv_720_slow;  // YUYV 1280x720 only at 15 fps, as USB 2 cameras do
    int eagain_once;    // next DQBUF says EAGAIN
    int stall;          // poll never has a frame
    int unplug_after;   // frames delivered before the camera goes away; -1 never
    int unplug_by_poll; // the unplug shows as POLLERR rather than ENODEV from DQBUF
    int error_seq;      // the frame of this sequence number has V4L2_BUF_FLAG_ERROR; -1 none
    size_t max_write;   // write() takes at most this many bytes (0: all)
    // state
    int open_count;
    int unplugged;
    uint32_t fourcc, w, h, ival_num, ival_den;
    int nbuf;
    struct {
        void *mem;
        size_t len;
        int queued;
    } buf[NBUF];
    int queue[NBUF], qhead, qlen;
    int streaming;
    uint32_t seq;
    int dqbuf_calls, reqbufs_asked, streamoffs, sparm_calls;
    uint32_t out_type;
    struct v4l2_pix_format out_fmt;
    uint8_t *sink;
    size_t sink_cap, written;
    int writes;
} FakeDev;

static struct {
    FakeDev dev[NDEV];
    int ndev;
    int opens, closes, mmaps, munmaps, bad_munmaps;
} F;

static const uint32_t SIZES[2][2] = {{640, 480}, {1280, 720}};

static FakeDev *fake_add(const char *path, int kind)
{
    cr_assert_lt(F.ndev, NDEV);
    FakeDev *d = &F.dev[F.ndev++];
    memset(d, 0, sizeof *d);
    snprintf(d->path, sizeof d->path, "%s", path);
    d->kind = kind;
    d->fmts[0] = V4L2_PIX_FMT_YUYV;
    d->fmts[1] = V4L2_PIX_FMT_MJPEG;
    d->nfmts = kind == CAM ? 2 : 0;
    d->unplug_after = -1;
    d->error_seq = -1;
    d->fourcc = V4L2_PIX_FMT_YUYV;
    d->w = 640;
    d->h = 480;
    d->ival_num = 1;
    d->ival_den = 30;
    return d;
}

static FakeDev *fake_dev(int fd)
{
    if (fd < FAKE_FD || fd >= FAKE_FD + F.ndev)
        return NULL;
    return &F.dev[fd - FAKE_FD];
}

static int fail(int e)
{
    errno = e;
    return -1;
}

static int fake_open(const char *path, int flags)
{
    (void)flags;
    for (int i = 0; i < F.ndev; i++) {
        if (strcmp(F.dev[i].path, path) != 0)
            continue;
        if (F.dev[i].open_errno)
            return fail(F.dev[i].open_errno);
        F.dev[i].open_count++;
        F.opens++;
        return FAKE_FD + i;
    }
    return fail(ENOENT);
}

static int fake_close(int fd)
{
    FakeDev *d = fake_dev(fd);
    if (!d || d->open_count == 0)
        return fail(EBADF);
    d->open_count--;
    F.closes++;
    d->streaming = 0;
    d->qlen = 0;
    int mapped = 0;
    for (int i = 0; i < d->nbuf; i++)
        mapped |= d->buf[i].mem != NULL;
    if (d->open_count == 0 && !mapped)
        d->nbuf = 0; // the last close frees the buffer queue
    return 0;
}

static int has_fmt(const FakeDev *d, uint32_t f)
{
    for (int i = 0; i < d->nfmts; i++)
        if (d->fmts[i] == f)
            return 1;
    return 0;
}

static int size_index(uint32_t w, uint32_t h)
{
    for (int i = 0; i < 2; i++)
        if (SIZES[i][0] == w && SIZES[i][1] == h)
            return i;
    return -1;
}

// The frame intervals (seconds per frame: 1/den) of a mode; returns how many.
static int intervals(const FakeDev *d, uint32_t f, uint32_t w, uint32_t h, uint32_t den[2])
{
    if (d->yuyv_720_slow && f == V4L2_PIX_FMT_YUYV && w == 1280 && h == 720) {
        den[0] = 15;
        return 1;
    }
    den[0] = 30;
    den[1] = 15;
    return 2;
}

static size_t image_size(uint32_t f, uint32_t w, uint32_t h)
{
    return f == V4L2_PIX_FMT_YUYV ? (size_t)w * h * 2 : (size_t)w * h;
}

static long absl_(long x)
{
    return x < 0 ? -x : x;
}

static int fake_ioctl(int fd, unsigned long req, void *arg)
{
    FakeDev *d = fake_dev(fd);
    if (!d || d->open_count == 0)
        return fail(EBADF);
    if (d->unplugged)
        return fail(ENODEV);
    switch (req) {
    case VIDIOC_QUERYCAP: {
        struct v4l2_capability *c = arg;
        memset(c, 0, sizeof *c);
        snprintf((char *)c->driver, sizeof c->driver, "fakecam");
        snprintf((char *)c->card, sizeof c->card,
                 d->kind == OUT ? "Dummy video device" : "Fake Camera");
        uint32_t caps = d->kind == CAM    ? V4L2_CAP_VIDEO_CAPTURE
                        : d->kind == META ? V4L2_CAP_META_CAPTURE
                                          : V4L2_CAP_VIDEO_OUTPUT;
        if (!d->no_streaming)
            caps |= V4L2_CAP_STREAMING;
        c->device_caps = caps;
        c->capabilities = caps | V4L2_CAP_DEVICE_CAPS;
        return 0;
    }
    case VIDIOC_ENUM_FMT: {
        struct v4l2_fmtdesc *f = arg;
        if (f->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || f->index >= (uint32_t)d->nfmts)
            return fail(EINVAL);
        uint32_t index = f->index, type = f->type;
        memset(f, 0, sizeof *f);
        f->index = index;
        f->type = type;
        f->pixelformat = d->fmts[index];
        if (f->pixelformat == V4L2_PIX_FMT_MJPEG)
            f->flags = V4L2_FMT_FLAG_COMPRESSED;
        return 0;
    }
    case VIDIOC_ENUM_FRAMESIZES: {
        struct v4l2_frmsizeenum *s = arg;
        if (!has_fmt(d, s->pixel_format) || s->index >= 2)
            return fail(EINVAL);
        s->type = V4L2_FRMSIZE_TYPE_DISCRETE;
        s->discrete.width = SIZES[s->index][0];
        s->discrete.height = SIZES[s->index][1];
        return 0;
    }
    case VIDIOC_ENUM_FRAMEINTERVALS: {
        struct v4l2_frmivalenum *v = arg;
        uint32_t den[2];
        if (!has_fmt(d, v->pixel_format) || size_index(v->width, v->height) < 0 ||
            v->index >= (uint32_t)intervals(d, v->pixel_format, v->width, v->height, den))
            return fail(EINVAL);
        v->type = V4L2_FRMIVAL_TYPE_DISCRETE;
        v->discrete.numerator = 1;
        v->discrete.denominator = den[v->index];
        return 0;
    }
    case VIDIOC_G_FMT:
    case VIDIOC_S_FMT: {
        struct v4l2_format *f = arg;
        if (d->kind == OUT) {
            if (f->type != V4L2_BUF_TYPE_VIDEO_OUTPUT)
                return fail(EINVAL);
            if (req == VIDIOC_S_FMT) {
                d->out_type = f->type;
                d->out_fmt = f->fmt.pix;
            }
            f->fmt.pix = d->out_fmt;
            return 0;
        }
        if (f->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
            return fail(EINVAL);
        if (req == VIDIOC_S_FMT) {
            if (d->sfmt_errno)
                return fail(d->sfmt_errno);
            if (d->nbuf > 0)
                return fail(EBUSY);
            uint32_t pf = has_fmt(d, f->fmt.pix.pixelformat) ? f->fmt.pix.pixelformat : d->fmts[0];
            int best = 0;
            long best_dist = -1;
            for (int i = 0; i < 2; i++) { // the nearest size, as drivers adjust
                long dist = absl_((long)SIZES[i][0] - (long)f->fmt.pix.width) +
                            absl_((long)SIZES[i][1] - (long)f->fmt.pix.height);
                if (best_dist < 0 || dist < best_dist) {
                    best = i;
                    best_dist = dist;
                }
            }
            d->fourcc = pf;
            d->w = SIZES[best][0];
            d->h = SIZES[best][1];
        }
        memset(&f->fmt.pix, 0, sizeof f->fmt.pix);
        f->fmt.pix.width = d->w;
        f->fmt.pix.height = d->h;
        f->fmt.pix.pixelformat = d->fourcc;
        f->fmt.pix.field = V4L2_FIELD_NONE;
        f->fmt.pix.bytesperline = d->fourcc == V4L2_PIX_FMT_YUYV ? d->w * 2 : 0;
        f->fmt.pix.sizeimage = (uint32_t)image_size(d->fourcc, d->w, d->h);
        return 0;
    }
    case VIDIOC_S_PARM: {
        struct v4l2_streamparm *p = arg;
        if (p->type != V4L2_BUF_TYPE_VIDEO_CAPTURE)
            return fail(EINVAL);
        d->sparm_calls++;
        struct v4l2_fract *t = &p->parm.capture.timeperframe;
        double want = t->numerator ? (double)t->denominator / t->numerator : 30;
        uint32_t den[2];
        int n = intervals(d, d->fourcc, d->w, d->h, den), best = 0;
        for (int i = 1; i < n; i++)
            if ((den[i] > want ? den[i] - want : want - den[i]) <
                (den[best] > want ? den[best] - want : want - den[best]))
                best = i;
        d->ival_num = 1;
        d->ival_den = den[best];
        memset(&p->parm.capture, 0, sizeof p->parm.capture);
        p->parm.capture.capability = V4L2_CAP_TIMEPERFRAME;
        t->numerator = 1;
        t->denominator = den[best];
        return 0;
    }
    case VIDIOC_REQBUFS: {
        struct v4l2_requestbuffers *r = arg;
        if (r->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || r->memory != V4L2_MEMORY_MMAP)
            return fail(EINVAL);
        if (d->streaming)
            return fail(EBUSY);
        for (int i = 0; i < d->nbuf; i++)
            if (d->buf[i].mem)
                return fail(EBUSY);
        d->reqbufs_asked = (int)r->count;
        d->nbuf = r->count == 0 ? 0 : r->count < 2 ? 2 : r->count > NBUF ? NBUF : (int)r->count;
        for (int i = 0; i < d->nbuf; i++) {
            d->buf[i].len = image_size(d->fourcc, d->w, d->h);
            d->buf[i].queued = 0;
        }
        d->qlen = 0;
        r->count = (uint32_t)d->nbuf;
        return 0;
    }
    case VIDIOC_QUERYBUF: {
        struct v4l2_buffer *b = arg;
        if (b->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || b->index >= (uint32_t)d->nbuf)
            return fail(EINVAL);
        uint32_t index = b->index;
        memset(b, 0, sizeof *b);
        b->index = index;
        b->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        b->memory = V4L2_MEMORY_MMAP;
        b->length = (uint32_t)d->buf[index].len;
        b->m.offset = index * BUF_OFFSET;
        return 0;
    }
    case VIDIOC_QBUF: {
        struct v4l2_buffer *b = arg;
        if (b->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || b->memory != V4L2_MEMORY_MMAP ||
            b->index >= (uint32_t)d->nbuf || d->buf[b->index].queued || !d->buf[b->index].mem)
            return fail(EINVAL);
        d->buf[b->index].queued = 1;
        d->queue[(d->qhead + d->qlen) % NBUF] = (int)b->index;
        d->qlen++;
        return 0;
    }
    case VIDIOC_DQBUF: {
        struct v4l2_buffer *b = arg;
        d->dqbuf_calls++;
        if (b->type != V4L2_BUF_TYPE_VIDEO_CAPTURE || b->memory != V4L2_MEMORY_MMAP)
            return fail(EINVAL);
        if (d->eagain_once) {
            d->eagain_once = 0;
            return fail(EAGAIN);
        }
        if (d->unplug_after >= 0 && !d->unplug_by_poll && d->seq >= (uint32_t)d->unplug_after) {
            d->unplugged = 1;
            return fail(ENODEV);
        }
        if (!d->streaming || d->qlen == 0)
            return fail(EAGAIN);
        int i = d->queue[d->qhead];
        d->qhead = (d->qhead + 1) % NBUF;
        d->qlen--;
        d->buf[i].queued = 0;
        // The frame counter pattern: the sequence number in the first 4 bytes, then seq + k.
        uint8_t *p = d->buf[i].mem;
        size_t used = d->fourcc == V4L2_PIX_FMT_YUYV ? d->buf[i].len : d->buf[i].len / 2;
        memcpy(p, &d->seq, 4);
        for (size_t k = 4; k < used; k++)
            p[k] = (uint8_t)(d->seq + k);
        memset(b, 0, sizeof *b);
        b->index = (uint32_t)i;
        b->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
        b->memory = V4L2_MEMORY_MMAP;
        b->bytesused = (uint32_t)used;
        b->length = (uint32_t)d->buf[i].len;
        b->m.offset = (uint32_t)i * BUF_OFFSET;
        b->flags = V4L2_BUF_FLAG_TIMESTAMP_MONOTONIC | V4L2_BUF_FLAG_DONE;
        if ((int)d->seq == d->error_seq)
            b->flags |= V4L2_BUF_FLAG_ERROR;
        b->field = V4L2_FIELD_NONE;
        long long ts = TS0_US + (long long)d->seq * FRAME_US;
        b->timestamp.tv_sec = ts / 1000000;
        b->timestamp.tv_usec = ts % 1000000;
        b->sequence = d->seq++;
        return 0;
    }
    case VIDIOC_STREAMON:
        if (*(int *)arg != V4L2_BUF_TYPE_VIDEO_CAPTURE || d->nbuf == 0)
            return fail(EINVAL);
        d->streaming = 1;
        return 0;
    case VIDIOC_STREAMOFF:
        if (*(int *)arg != V4L2_BUF_TYPE_VIDEO_CAPTURE)
            return fail(EINVAL);
        d->streamoffs++;
        d->streaming = 0;
        for (int i = 0; i < d->nbuf; i++)
            d->buf[i].queued = 0;
        d->qlen = 0;
        return 0;
    default: return fail(ENOTTY);
    }
}

static void *fake_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    (void)addr;
    FakeDev *d = fake_dev(fd);
    if (!d || !(prot & PROT_READ) || !(flags & MAP_SHARED) || off % BUF_OFFSET != 0 ||
        off / BUF_OFFSET >= d->nbuf) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    int i = (int)(off / BUF_OFFSET);
    if (d->buf[i].mem || len != d->buf[i].len) {
        errno = EINVAL;
        return MAP_FAILED;
    }
    d->buf[i].mem = malloc(len);
    cr_assert_not_null(d->buf[i].mem);
    memset(d->buf[i].mem, 0xee, len);
    F.mmaps++;
    return d->buf[i].mem;
}

static int fake_munmap(void *addr, size_t len)
{
    for (int k = 0; k < F.ndev; k++)
        for (int i = 0; i < NBUF; i++)
            if (F.dev[k].buf[i].mem == addr && addr && F.dev[k].buf[i].len == len) {
                free(addr);
                F.dev[k].buf[i].mem = NULL;
                F.munmaps++;
                return 0;
            }
    F.bad_munmaps++;
    return fail(EINVAL);
}

static int fake_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
    (void)timeout_ms;
    cr_assert_eq(n, 1);
    FakeDev *d = fake_dev(fds[0].fd);
    cr_assert_not_null(d);
    if (d->unplug_after >= 0 && d->unplug_by_poll && d->seq >= (uint32_t)d->unplug_after)
        d->unplugged = 1;
    if (d->unplugged) {
        fds[0].revents = POLLERR;
        return 1;
    }
    if (d->streaming && d->qlen > 0 && !d->stall) {
        fds[0].revents = POLLIN | POLLRDNORM;
        return 1;
    }
    fds[0].revents = 0;
    return 0; // the timeout, without the wait
}

static ssize_t fake_write(int fd, const void *buf, size_t n)
{
    FakeDev *d = fake_dev(fd);
    if (!d || d->kind != OUT)
        return fail(EINVAL);
    if (d->max_write && n > d->max_write)
        n = d->max_write;
    if (d->written + n > d->sink_cap)
        return fail(ENOSPC);
    memcpy(d->sink + d->written, buf, n);
    d->written += n;
    d->writes++;
    return (ssize_t)n;
}

static const V4l2Sys fake_sys = {
    .open = fake_open,
    .close = fake_close,
    .ioctl = fake_ioctl,
    .mmap = fake_mmap,
    .munmap = fake_munmap,
    .poll = fake_poll,
    .write = fake_write,
};

static void fake_reset(void)
{
    memset(&F, 0, sizeof F);
}

// Everything opened is closed and everything mapped unmapped.
static void assert_released(void)
{
    cr_assert_eq(F.closes, F.opens, "%d opens, %d closes", F.opens, F.closes);
    cr_assert_eq(F.munmaps, F.mmaps, "%d mmaps, %d munmaps", F.mmaps, F.munmaps);
    cr_assert_eq(F.bad_munmaps, 0);
}

TestSuite(v4l2, .init = fake_reset);

// ---- negotiation ---------------------------------------------------------------------------

static V4l2Camera *open_ok(const char *path, int w, int h, int fps)
{
    Err err = {{0}};
    V4l2Camera *c = v4l2_camera_open(&fake_sys, path, w, h, fps, &err);
    cr_assert_not_null(c, "open failed: %s", err.msg);
    return c;
}

Test(v4l2, negotiates_640x480_at_30_yuyv)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    V4l2Camera *c = open_ok("/dev/video0", 640, 480, 30);
    const V4l2Mode *m = v4l2_camera_mode(c);
    cr_assert_eq(m->fourcc, V4L2_PIX_FMT_YUYV);
    cr_assert_eq(m->width, 640);
    cr_assert_eq(m->height, 480);
    cr_assert_eq(m->fps_num, 30);
    cr_assert_eq(m->fps_den, 1);
    cr_assert_eq(v4l2_camera_stride(c), 1280);
    cr_assert_eq(d->sparm_calls, 1);
    cr_assert_eq(d->ival_den, 30);
    cr_assert_eq(d->reqbufs_asked, 4);
    cr_assert_eq(F.mmaps, 4);
    cr_assert_eq(d->qlen, 4, "every buffer queued");
    cr_assert(d->streaming);
    v4l2_camera_close(c);
    cr_assert_eq(d->streamoffs, 1);
    assert_released();
}

Test(v4l2, request_of_800x600_gets_the_nearest_size)
{
    fake_add("/dev/video0", CAM);
    V4l2Camera *c = open_ok("/dev/video0", 800, 600, 30);
    const V4l2Mode *m = v4l2_camera_mode(c);
    cr_assert_eq(m->fourcc, V4L2_PIX_FMT_YUYV);
    cr_assert_eq(m->width, 640); // |160|+|120| beats |480|+|120|
    cr_assert_eq(m->height, 480);
    v4l2_camera_close(c);
    assert_released();
}

Test(v4l2, large_request_gets_the_largest_size_and_the_nearest_rate)
{
    fake_add("/dev/video0", CAM);
    V4l2Camera *c = open_ok("/dev/video0", 1920, 1080, 60);
    const V4l2Mode *m = v4l2_camera_mode(c);
    cr_assert_eq(m->width, 1280);
    cr_assert_eq(m->height, 720);
    cr_assert_eq(m->fps_num, 30);
    cr_assert_eq(m->fps_den, 1);
    v4l2_camera_close(c);

    c = open_ok("/dev/video0", 640, 480, 12); // 15 is nearer than 30
    cr_assert_eq(v4l2_camera_mode(c)->fps_num, 15);
    cr_assert_eq(F.dev[0].ival_den, 15);
    v4l2_camera_close(c);
    assert_released();
}

Test(v4l2, mjpeg_only_camera)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    d->fmts[0] = V4L2_PIX_FMT_MJPEG;
    d->nfmts = 1;
    V4l2Camera *c = open_ok("/dev/video0", 640, 480, 30);
    const V4l2Mode *m = v4l2_camera_mode(c);
    cr_assert_eq(m->fourcc, V4L2_PIX_FMT_MJPEG);
    cr_assert_eq(m->width, 640);
    cr_assert_eq(m->height, 480);
    const uint8_t *data = NULL;
    size_t len = 0;
    int64_t ts = 0;
    Err err = {{0}};
    cr_assert_eq(v4l2_camera_next(c, 100, &data, &len, &ts, &err), 1, "%s", err.msg);
    cr_assert_eq(len, 640 * 480 / 2, "bytesused, not the buffer length");
    v4l2_camera_close(c);
    assert_released();
}

Test(v4l2, mjpeg_when_yuyv_cannot_reach_the_rate)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    d->yuyv_720_slow = 1;
    V4l2Camera *c = open_ok("/dev/video0", 1280, 720, 30);
    cr_assert_eq(v4l2_camera_mode(c)->fourcc, V4L2_PIX_FMT_MJPEG);
    cr_assert_eq(v4l2_camera_mode(c)->fps_num, 30);
    v4l2_camera_close(c);
    c = open_ok("/dev/video0", 1280, 720, 15);
    cr_assert_eq(v4l2_camera_mode(c)->fourcc, V4L2_PIX_FMT_YUYV);
    cr_assert_eq(v4l2_camera_mode(c)->fps_num, 15);
    v4l2_camera_close(c);
    assert_released();
}

Test(v4l2, camera_without_yuyv_or_mjpeg_says_what_it_offers)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    d->fmts[0] = V4L2_PIX_FMT_GREY;
    d->nfmts = 1;
    Err err = {{0}};
    cr_assert_null(v4l2_camera_open(&fake_sys, "/dev/video0", 640, 480, 30, &err));
    cr_assert(strstr(err.msg, "/dev/video0") && strstr(err.msg, "neither YUYV nor MJPEG"), "%s",
              err.msg);
    cr_assert(strstr(err.msg, "GREY 640x480 1280x720"), "%s", err.msg);
    assert_released();
}

// ---- streaming -----------------------------------------------------------------------------

static void check_frame(const uint8_t *data, size_t len, uint32_t seq)
{
    cr_assert_eq(len, 640 * 480 * 2);
    uint32_t got;
    memcpy(&got, data, 4);
    cr_assert_eq(got, seq, "frame %u carries %u", seq, got);
    for (size_t k = 4; k < len; k += 997)
        cr_assert_eq(data[k], (uint8_t)(seq + k), "frame %u byte %zu", seq, k);
    cr_assert_eq(data[len - 1], (uint8_t)(seq + len - 1));
}

Test(v4l2, streams_ten_frames_with_increasing_timestamps)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    V4l2Camera *c = open_ok("/dev/video0", 640, 480, 30);
    int64_t prev = 0;
    for (uint32_t i = 0; i < 10; i++) {
        const uint8_t *data = NULL;
        size_t len = 0;
        int64_t ts = 0;
        Err err = {{0}};
        cr_assert_eq(v4l2_camera_next(c, 100, &data, &len, &ts, &err), 1, "frame %u: %s", i,
                     err.msg);
        check_frame(data, len, i);
        cr_assert_eq(ts, TS0_US + (int64_t)i * FRAME_US);
        if (i > 0)
            cr_assert_eq(ts - prev, FRAME_US);
        prev = ts;
        cr_assert_eq(d->qlen, 3, "the previous buffer went back, this one is held");
    }
    v4l2_camera_close(c);
    assert_released();
}

Test(v4l2, eagain_is_retried)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    V4l2Camera *c = open_ok("/dev/video0", 640, 480, 30);
    d->eagain_once = 1;
    const uint8_t *data = NULL;
    size_t len = 0;
    int64_t ts = 0;
    Err err = {{0}};
    cr_assert_eq(v4l2_camera_next(c, 100, &data, &len, &ts, &err), 1, "%s", err.msg);
    cr_assert_eq(d->dqbuf_calls, 2);
    check_frame(data, len, 0);
    cr_assert_eq(ts, TS0_US);
    v4l2_camera_close(c);
    assert_released();
}

Test(v4l2, timeout_returns_zero)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    V4l2Camera *c = open_ok("/dev/video0", 640, 480, 30);
    d->stall = 1;
    const uint8_t *data = (const uint8_t *)"x";
    size_t len = 7;
    int64_t ts = 0;
    Err err = {{0}};
    cr_assert_eq(v4l2_camera_next(c, 5, &data, &len, &ts, &err), 0);
    cr_assert_null(data);
    cr_assert_eq(len, 0);
    d->stall = 0;
    cr_assert_eq(v4l2_camera_next(c, 5, &data, &len, &ts, &err), 1, "%s", err.msg);
    check_frame(data, len, 0);
    v4l2_camera_close(c);
    assert_released();
}

Test(v4l2, corrupt_frame_is_skipped)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    d->error_seq = 1;
    V4l2Camera *c = open_ok("/dev/video0", 640, 480, 30);
    const uint32_t want[] = {0, 2, 3, 4, 5, 6};
    for (int i = 0; i < 6; i++) {
        const uint8_t *data = NULL;
        size_t len = 0;
        int64_t ts = 0;
        Err err = {{0}};
        cr_assert_eq(v4l2_camera_next(c, 100, &data, &len, &ts, &err), 1, "%s", err.msg);
        check_frame(data, len, want[i]);
    }
    v4l2_camera_close(c);
    assert_released();
}

static void unplug_test(int by_poll)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    d->unplug_after = 5;
    d->unplug_by_poll = by_poll;
    V4l2Camera *c = open_ok("/dev/video0", 640, 480, 30);
    const uint8_t *data = NULL;
    size_t len = 0;
    int64_t ts = 0;
    Err err = {{0}};
    for (uint32_t i = 0; i < 5; i++) {
        cr_assert_eq(v4l2_camera_next(c, 100, &data, &len, &ts, &err), 1, "%s", err.msg);
        check_frame(data, len, i);
    }
    int r = v4l2_camera_next(c, 100, &data, &len, &ts, &err);
    cr_assert_eq(r, -1);
    cr_assert(strstr(err.msg, "/dev/video0") && strstr(err.msg, "the camera was unplugged"), "%s",
              err.msg);
    cr_assert_null(data);
    v4l2_camera_close(c); // STREAMOFF fails with ENODEV: the buffers are released all the same
    assert_released();
}

Test(v4l2, unplugged_mid_stream_dqbuf_enodev)
{
    unplug_test(0);
}

Test(v4l2, unplugged_mid_stream_pollerr)
{
    unplug_test(1);
}

// ---- open errors ---------------------------------------------------------------------------

Test(v4l2, busy_at_open)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    d->open_errno = EBUSY;
    Err err = {{0}};
    cr_assert_null(v4l2_camera_open(&fake_sys, "/dev/video0", 640, 480, 30, &err));
    cr_assert_str_eq(err.msg, "/dev/video0 is busy: another program is using the camera");
    assert_released();
}

Test(v4l2, busy_at_set_format)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    d->sfmt_errno = EBUSY;
    Err err = {{0}};
    cr_assert_null(v4l2_camera_open(&fake_sys, "/dev/video0", 640, 480, 30, &err));
    cr_assert_str_eq(err.msg, "/dev/video0 is busy: another program is using the camera");
    cr_assert_eq(F.opens, 1);
    assert_released();
}

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_v4l2_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

// An empty file named dir/name, so that the directory scan finds it.
static void touch(const char *name, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", tmpdir, name);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    cr_assert_geq(fd, 0);
    close(fd);
}

static void remove_tmpdir(const char *const *names, int n)
{
    char path[256];
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    rmdir(tmpdir);
}

Test(v4l2, no_such_device_names_the_cameras_there)
{
    make_tmpdir();
    const char *names[] = {"video0", "video1", "video2"};
    char p0[256], p1[256], p2[256];
    touch(names[0], p0, sizeof p0);
    touch(names[1], p1, sizeof p1);
    touch(names[2], p2, sizeof p2);
    fake_add(p1, META); // a UVC metadata node: not a camera
    fake_add(p2, CAM);
    char missing[300];
    snprintf(missing, sizeof missing, "%s/video0", tmpdir);
    Err err = {{0}};
    cr_assert_null(v4l2_camera_open(&fake_sys, missing, 640, 480, 30, &err));
    char want[700];
    snprintf(want, sizeof want,
             "%s: no such device (No such file or directory); cameras here: %s (Fake Camera)",
             missing, p2);
    cr_assert_str_eq(err.msg, want);
    assert_released();
    remove_tmpdir(names, 3);
}

Test(v4l2, no_such_device_with_the_real_calls)
{
    Err err = {{0}};
    cr_assert_null(
        v4l2_camera_open(&v4l2_sys_real, "/nonexistent-ageshift/video0", 640, 480, 30, &err));
    cr_assert_str_eq(err.msg, "/nonexistent-ageshift/video0: no such device (No such file or "
                              "directory); cameras here: none");
}

Test(v4l2, not_a_capture_device)
{
    fake_add("/dev/video1", META);
    Err err = {{0}};
    cr_assert_null(v4l2_camera_open(&fake_sys, "/dev/video1", 640, 480, 30, &err));
    cr_assert(strstr(err.msg, "/dev/video1 (Fake Camera) is not a video capture device"), "%s",
              err.msg);
    assert_released();
    fake_reset();
    fake_add("/dev/video9", OUT);
    cr_assert_null(v4l2_camera_open(&fake_sys, "/dev/video9", 640, 480, 30, &err));
    cr_assert(strstr(err.msg, "is not a video capture device"), "%s", err.msg);
    assert_released();
}

Test(v4l2, capture_device_without_streaming)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    d->no_streaming = 1;
    Err err = {{0}};
    cr_assert_null(v4l2_camera_open(&fake_sys, "/dev/video0", 640, 480, 30, &err));
    cr_assert(strstr(err.msg, "/dev/video0 (Fake Camera) cannot stream"), "%s", err.msg);
    assert_released();
}

Test(v4l2, invalid_request_and_null_close)
{
    Err err = {{0}};
    cr_assert_null(v4l2_camera_open(&fake_sys, "/dev/video0", 0, 480, 30, &err));
    cr_assert(strstr(err.msg, "invalid request"), "%s", err.msg);
    cr_assert_null(v4l2_camera_open(&fake_sys, "/dev/video0", 640, 480, -1, &err));
    v4l2_camera_close(NULL);
    v4l2_output_close(NULL);
    cr_assert_eq(F.opens, 0);
}

// ---- listing -------------------------------------------------------------------------------

typedef struct {
    char lines[16][512];
    int n;
} Lines;

static void collect(void *ctx, const char *text)
{
    Lines *l = ctx;
    cr_assert_lt(l->n, 16, "too many lines");
    snprintf(l->lines[l->n++], sizeof l->lines[0], "%s", text);
}

Test(v4l2, lists_capture_devices_and_their_modes)
{
    make_tmpdir();
    const char *names[] = {"video10", "video0", "video1", "foo", "video2x"};
    char p10[256], p0[256], p1[256], other[256];
    touch(names[0], p10, sizeof p10);
    touch(names[1], p0, sizeof p0);
    touch(names[2], p1, sizeof p1);
    touch(names[3], other, sizeof other);
    touch(names[4], other, sizeof other);
    FakeDev *cam = fake_add(p0, CAM);
    cam->yuyv_720_slow = 1;
    fake_add(p1, META);
    fake_add(p10, CAM)->open_errno = EACCES;
    Lines l;
    memset(&l, 0, sizeof l);
    Err err = {{0}};
    cr_assert_eq(v4l2_list_devices(&fake_sys, tmpdir, collect, &l, &err), 1, "%s", err.msg);
    cr_assert_eq(l.n, 5);
    const char *want[] = {
        "%s (Fake Camera): YUYV 640x480 at 30, 15 fps",
        "%s (Fake Camera): YUYV 1280x720 at 15 fps",
        "%s (Fake Camera): MJPG 640x480 at 30, 15 fps",
        "%s (Fake Camera): MJPG 1280x720 at 30, 15 fps",
    };
    for (int i = 0; i < 4; i++) {
        char w[512];
        snprintf(w, sizeof w, want[i], p0);
        cr_assert_str_eq(l.lines[i], w);
    }
    char w[512];
    snprintf(w, sizeof w, "%s: cannot open: Permission denied", p10);
    cr_assert_str_eq(l.lines[4], w, "video10 sorts after video1");
    assert_released();
    remove_tmpdir(names, 5);
}

Test(v4l2, listing_a_missing_directory_fails)
{
    Lines l;
    memset(&l, 0, sizeof l);
    Err err = {{0}};
    cr_assert_eq(v4l2_list_devices(&v4l2_sys_real, "/nonexistent-ageshift", collect, &l, &err), -1);
    cr_assert(strstr(err.msg, "/nonexistent-ageshift: cannot list devices: No such file"), "%s",
              err.msg);
    cr_assert_eq(l.n, 0);
}

// ---- output --------------------------------------------------------------------------------

Test(v4l2, output_sets_the_format_and_writes_frames)
{
    FakeDev *d = fake_add("/dev/video20", OUT);
    size_t frame = 640 * 480 * 2;
    d->sink_cap = 2 * frame;
    d->sink = malloc(d->sink_cap);
    d->max_write = 100000; // short writes, as a pipe or a busy driver may do
    Err err = {{0}};
    V4l2Output *o = v4l2_output_open(&fake_sys, "/dev/video20", 640, 480, V4L2_PIX_FMT_YUYV, &err);
    cr_assert_not_null(o, "%s", err.msg);
    cr_assert_eq(d->out_type, V4L2_BUF_TYPE_VIDEO_OUTPUT);
    cr_assert_eq(d->out_fmt.pixelformat, V4L2_PIX_FMT_YUYV);
    cr_assert_eq(d->out_fmt.width, 640);
    cr_assert_eq(d->out_fmt.height, 480);
    cr_assert_eq(d->out_fmt.bytesperline, 1280);
    cr_assert_eq(d->out_fmt.sizeimage, frame);
    cr_assert_eq(v4l2_output_frame_size(o), frame);
    uint8_t *pix = malloc(frame);
    for (size_t i = 0; i < frame; i++)
        pix[i] = (uint8_t)(i * 31 + 7);
    cr_assert_eq(v4l2_output_write(o, pix, frame, &err), 0, "%s", err.msg);
    cr_assert_eq(d->written, frame);
    cr_assert_eq(d->writes, 7); // 6 x 100000 + 14400
    cr_assert_eq(memcmp(d->sink, pix, frame), 0);
    cr_assert_eq(v4l2_output_write(o, pix, frame - 1, &err), -1);
    cr_assert(strstr(err.msg, "frame of 614399 bytes, the output takes 614400"), "%s", err.msg);
    cr_assert_eq(d->written, frame);
    v4l2_output_close(o);
    free(pix);
    free(d->sink);
    assert_released();
}

Test(v4l2, output_yuv420_and_errors)
{
    FakeDev *d = fake_add("/dev/video20", OUT);
    fake_add("/dev/video0", CAM);
    Err err = {{0}};
    V4l2Output *o =
        v4l2_output_open(&fake_sys, "/dev/video20", 320, 240, V4L2_PIX_FMT_YUV420, &err);
    cr_assert_not_null(o, "%s", err.msg);
    cr_assert_eq(d->out_fmt.pixelformat, V4L2_PIX_FMT_YUV420);
    cr_assert_eq(d->out_fmt.sizeimage, 320 * 240 * 3 / 2);
    cr_assert_eq(v4l2_output_frame_size(o), 320 * 240 * 3 / 2);
    v4l2_output_close(o);

    cr_assert_null(v4l2_output_open(&fake_sys, "/dev/video0", 320, 240, V4L2_PIX_FMT_YUYV, &err));
    cr_assert(strstr(err.msg, "/dev/video0 (Fake Camera) is not a video output device"), "%s",
              err.msg);
    cr_assert_null(v4l2_output_open(&fake_sys, "/dev/video20", 320, 240, V4L2_PIX_FMT_MJPEG, &err));
    cr_assert(strstr(err.msg, "MJPG not supported"), "%s", err.msg);
    cr_assert_null(
        v4l2_output_open(&fake_sys, "/dev/video20", 321, 240, V4L2_PIX_FMT_YUV420, &err));
    cr_assert(strstr(err.msg, "invalid output size 321x240"), "%s", err.msg);
    cr_assert_null(v4l2_output_open(&fake_sys, "/dev/video77", 320, 240, V4L2_PIX_FMT_YUYV, &err));
    cr_assert(strstr(err.msg, "/dev/video77: no such device"), "%s", err.msg);
    assert_released();
}
