#include "fake_v4l2.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <unistd.h>

FakeKernel fake_kernel;

static const uint32_t SIZES[2][2] = {{640, 480}, {1280, 720}};

FakeDev *fake_add(const char *path, int kind)
{
    cr_assert_lt(fake_kernel.ndev, NDEV);
    FakeDev *d = &fake_kernel.dev[fake_kernel.ndev++];
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
    if (fd < FAKE_FD || fd >= FAKE_FD + fake_kernel.ndev)
        return NULL;
    return &fake_kernel.dev[fd - FAKE_FD];
}

static int fail(int e)
{
    errno = e;
    return -1;
}

static int fake_open(const char *path, int flags)
{
    (void)flags;
    for (int i = 0; i < fake_kernel.ndev; i++) {
        if (strcmp(fake_kernel.dev[i].path, path) != 0)
            continue;
        if (fake_kernel.dev[i].open_errno)
            return fail(fake_kernel.dev[i].open_errno);
        fake_kernel.dev[i].open_count++;
        fake_kernel.opens++;
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
    fake_kernel.closes++;
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
    fake_kernel.mmaps++;
    return d->buf[i].mem;
}

static int fake_munmap(void *addr, size_t len)
{
    for (int k = 0; k < fake_kernel.ndev; k++)
        for (int i = 0; i < NBUF; i++)
            if (fake_kernel.dev[k].buf[i].mem == addr && addr &&
                fake_kernel.dev[k].buf[i].len == len) {
                free(addr);
                fake_kernel.dev[k].buf[i].mem = NULL;
                fake_kernel.munmaps++;
                return 0;
            }
    fake_kernel.bad_munmaps++;
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

const V4l2Sys fake_sys = {
    .open = fake_open,
    .close = fake_close,
    .ioctl = fake_ioctl,
    .mmap = fake_mmap,
    .munmap = fake_munmap,
    .poll = fake_poll,
    .write = fake_write,
};

void fake_reset(void)
{
    memset(&fake_kernel, 0, sizeof fake_kernel);
}

void assert_released(void)
{
    cr_assert_eq(fake_kernel.closes, fake_kernel.opens, "%d opens, %d closes", fake_kernel.opens,
                 fake_kernel.closes);
    cr_assert_eq(fake_kernel.munmaps, fake_kernel.mmaps, "%d mmaps, %d munmaps", fake_kernel.mmaps,
                 fake_kernel.munmaps);
    cr_assert_eq(fake_kernel.bad_munmaps, 0);
}
