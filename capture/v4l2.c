#include "capture/v4l2.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/videodev2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "core/base/clock.h"

// ---- the real system calls -----------------------------------------------------------------

static int real_open(const char *path, int flags)
{
    return open(path, flags);
}
static int real_close(int fd)
{
    return close(fd);
}
static int real_ioctl(int fd, unsigned long req, void *arg)
{
    return ioctl(fd, req, arg);
}
static void *real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    return mmap(addr, len, prot, flags, fd, off);
}
static int real_munmap(void *addr, size_t len)
{
    return munmap(addr, len);
}
static int real_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
    return poll(fds, n, timeout_ms);
}
static ssize_t real_write(int fd, const void *buf, size_t n)
{
    return write(fd, buf, n);
}

const V4l2Sys v4l2_sys_real = {
    .open = real_open,
    .close = real_close,
    .ioctl = real_ioctl,
    .mmap = real_mmap,
    .munmap = real_munmap,
    .poll = real_poll,
    .write = real_write,
};

// ---- helpers ---------------------------------------------------------------------------------

#define PATH_CAP 256
#define MAX_BUFFERS 32
#define WANT_BUFFERS 4
#define TEXT_CAP 512

// ioctl, retried while a signal interrupts it; -1 with errno otherwise.
static int xioctl(const V4l2Sys *sys, int fd, unsigned long req, void *arg)
{
    int r;
    do {
        r = sys->ioctl(fd, req, arg);
    } while (r < 0 && errno == EINTR);
    return r;
}

// A descriptor of capture buffer `index`, memory-mapped, as QUERYBUF, QBUF and DQBUF take it.
static struct v4l2_buffer mmap_buffer(uint32_t index)
{
    struct v4l2_buffer b;
    memset(&b, 0, sizeof b);
    b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    b.memory = V4L2_MEMORY_MMAP;
    b.index = index;
    return b;
}

// Appends to a NUL-terminated text of capacity cap, truncating silently.
static void appendf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void appendf(char *buf, size_t cap, const char *fmt, ...)
{
    size_t used = strnlen(buf, cap);
    if (used + 1 >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, cap - used, fmt, ap);
    va_end(ap);
}

// "YUYV", "MJPG": the four characters of a fourcc (non-printable ones as '?').
static void fourcc_text(uint32_t f, char out[5])
{
    for (int i = 0; i < 4; i++) {
        unsigned char ch = (unsigned char)((f >> (8 * i)) & 0xff);
        out[i] = (ch >= 32 && ch < 127) ? (char)ch : '?';
    }
    out[4] = '\0';
}

// The capabilities of the node itself (device_caps when the driver reports it).
static uint32_t node_caps(const struct v4l2_capability *cap)
{
    return (cap->capabilities & V4L2_CAP_DEVICE_CAPS) ? cap->device_caps : cap->capabilities;
}

static void card_name(const struct v4l2_capability *cap, char out[sizeof cap->card + 1])
{
    memcpy(out, cap->card, sizeof cap->card);
    out[sizeof cap->card] = '\0';
}

// 1 with the index-th format / frame size / frame interval, 0 at the end of the list (or when the
// driver cannot enumerate).
static int fmt_at(const V4l2Sys *sys, int fd, uint32_t index, struct v4l2_fmtdesc *d)
{
    memset(d, 0, sizeof *d);
    d->index = index;
    d->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    return xioctl(sys, fd, VIDIOC_ENUM_FMT, d) == 0;
}

static int size_at(const V4l2Sys *sys, int fd, uint32_t fourcc, uint32_t index,
                   struct v4l2_frmsizeenum *s)
{
    memset(s, 0, sizeof *s);
    s->index = index;
    s->pixel_format = fourcc;
    return xioctl(sys, fd, VIDIOC_ENUM_FRAMESIZES, s) == 0;
}

static int ival_at(const V4l2Sys *sys, int fd, uint32_t fourcc, uint32_t w, uint32_t h,
                   uint32_t index, struct v4l2_frmivalenum *v)
{
    memset(v, 0, sizeof *v);
    v->index = index;
    v->pixel_format = fourcc;
    v->width = w;
    v->height = h;
    return xioctl(sys, fd, VIDIOC_ENUM_FRAMEINTERVALS, v) == 0;
}

// Enumerations stop here even if a broken driver never says EINVAL.
#define ENUM_MAX 256

// "YUYV 640x480 1280x720, MJPG 640x480": what the camera offers, for error messages.
static void describe_formats(const V4l2Sys *sys, int fd, char *buf, size_t cap)
{
    buf[0] = '\0';
    struct v4l2_fmtdesc d;
    for (uint32_t i = 0; i < ENUM_MAX && fmt_at(sys, fd, i, &d); i++) {
        char cc[5];
        fourcc_text(d.pixelformat, cc);
        appendf(buf, cap, "%s%s", i ? ", " : "", cc);
        struct v4l2_frmsizeenum s;
        for (uint32_t j = 0; j < ENUM_MAX && size_at(sys, fd, d.pixelformat, j, &s); j++) {
            if (s.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
                appendf(buf, cap, " %ux%u", s.discrete.width, s.discrete.height);
            } else {
                appendf(buf, cap, " %ux%u..%ux%u", s.stepwise.min_width, s.stepwise.min_height,
                        s.stepwise.max_width, s.stepwise.max_height);
                break;
            }
        }
    }
    if (!buf[0])
        appendf(buf, cap, "no formats at all");
}

// The video<N> entries of dir, sorted by N. 0 with *names (free each and the array) or -1.
static int cmp_video_names(const void *a, const void *b)
{
    long na = strtol(*(char *const *)a + 5, NULL, 10);
    long nb = strtol(*(char *const *)b + 5, NULL, 10);
    return (na > nb) - (na < nb);
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int scan_video_nodes(const char *dir, char ***names_out, size_t *n_out, Err *err)
{
    *names_out = NULL;
    *n_out = 0;
    DIR *d = opendir(dir);
    if (!d)
        return err_set(err, "%s: cannot list devices: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *s = e->d_name;
        if (strncmp(s, "video", 5) != 0 || !s[5] || strspn(s + 5, "0123456789") != strlen(s + 5))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **grown = realloc(names, ncap * sizeof *names);
            if (!grown)
                goto oom;
            names = grown;
            cap = ncap;
        }
        names[n] = strdup(s);
        if (!names[n])
            goto oom;
        n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_video_names);
    *names_out = names;
    *n_out = n;
    return 0;
oom:
    closedir(d);
    free_names(names, n);
    return err_set(err, "%s: out of memory listing devices", dir);
}

// "/dev/video2 (Integrated Camera), /dev/video4 (USB Camera)": the capture devices of dir, other
// than skip; "none" when there are none.
static void describe_cameras(const V4l2Sys *sys, const char *dir, const char *skip, char *buf,
                             size_t cap)
{
    buf[0] = '\0';
    char **names = NULL;
    size_t n = 0;
    if (scan_video_nodes(dir, &names, &n, NULL) == 0) {
        for (size_t i = 0; i < n; i++) {
            char path[PATH_CAP];
            int w = snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            if (w < 0 || (size_t)w >= sizeof path || strcmp(path, skip) == 0)
                continue;
            int fd = sys->open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
            if (fd < 0)
                continue;
            struct v4l2_capability q;
            memset(&q, 0, sizeof q);
            if (xioctl(sys, fd, VIDIOC_QUERYCAP, &q) == 0 &&
                (node_caps(&q) & V4L2_CAP_VIDEO_CAPTURE)) {
                char card[sizeof q.card + 1];
                card_name(&q, card);
                appendf(buf, cap, "%s%s (%s)", buf[0] ? ", " : "", path, card);
            }
            sys->close(fd);
        }
        free_names(names, n);
    }
    if (!buf[0])
        appendf(buf, cap, "none");
}

// The directory part of path ("/dev" for "/dev/video0", "." for "video0").
static void dir_of(const char *path, char out[PATH_CAP])
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        strcpy(out, ".");
    } else if (slash == path) {
        strcpy(out, "/");
    } else {
        size_t n = (size_t)(slash - path);
        if (n >= PATH_CAP)
            n = PATH_CAP - 1;
        memcpy(out, path, n);
        out[n] = '\0';
    }
}

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
    for (uint32_t k = 0; k < ENUM_MAX && ival_at(sys, fd, c->fourcc, c->width, c->height, k, &v);
         k++) {
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
    for (uint32_t i = 0; i < ENUM_MAX && fmt_at(sys, fd, i, &d); i++) {
        uint32_t f = d.pixelformat;
        if (f != V4L2_PIX_FMT_YUYV && f != V4L2_PIX_FMT_MJPEG)
            continue;
        struct v4l2_frmsizeenum s;
        uint32_t j = 0;
        for (; j < ENUM_MAX && size_at(sys, fd, f, j, &s); j++) {
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
        xioctl(c->sys, c->fd, VIDIOC_STREAMOFF, &type);
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
        dir_of(path, dir);
        describe_cameras(sys, dir, path, cams, sizeof cams);
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
    if (xioctl(sys, c->fd, VIDIOC_S_FMT, &fmt) < 0) {
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
        fourcc_text(ch->fourcc, want);
        fourcc_text(fmt.fmt.pix.pixelformat, got);
        describe_formats(sys, c->fd, offers, sizeof offers);
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
    if (xioctl(sys, c->fd, VIDIOC_S_PARM, &parm) == 0) {
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
    if (xioctl(sys, c->fd, VIDIOC_REQBUFS, &req) < 0) {
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
        struct v4l2_buffer b = mmap_buffer(i);
        if (xioctl(sys, c->fd, VIDIOC_QUERYBUF, &b) < 0)
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
        struct v4l2_buffer b = mmap_buffer(i);
        if (xioctl(sys, c->fd, VIDIOC_QBUF, &b) < 0)
            return err_set(err, "%s: cannot queue buffer %u: %s", c->path, i, strerror(errno));
    }
    int type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    if (xioctl(sys, c->fd, VIDIOC_STREAMON, &type) < 0) {
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
    if (xioctl(sys, c->fd, VIDIOC_QUERYCAP, &cap) < 0) {
        int e = errno;
        if (e == ENOTTY || e == EINVAL)
            err_set(err, "%s is not a V4L2 device", path);
        else
            err_set(err, "%s: cannot query capabilities: %s", path, strerror(e));
        goto fail;
    }
    char card[sizeof cap.card + 1];
    card_name(&cap, card);
    uint32_t caps = node_caps(&cap);
    if (!(caps & V4L2_CAP_VIDEO_CAPTURE)) {
        char dir[PATH_CAP], cams[TEXT_CAP - 128];
        dir_of(path, dir);
        describe_cameras(sys, dir, path, cams, sizeof cams);
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
        describe_formats(sys, c->fd, offers, sizeof offers);
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
        struct v4l2_buffer b = mmap_buffer((uint32_t)c->held);
        if (xioctl(sys, c->fd, VIDIOC_QBUF, &b) < 0) {
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

        struct v4l2_buffer b = mmap_buffer(0);
        if (xioctl(sys, c->fd, VIDIOC_DQBUF, &b) < 0) {
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
            if (xioctl(sys, c->fd, VIDIOC_QBUF, &b) < 0) {
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
    for (; i < ENUM_MAX && fmt_at(sys, fd, i, &d); i++) {
        char cc[5];
        fourcc_text(d.pixelformat, cc);
        struct v4l2_frmsizeenum s;
        uint32_t j = 0;
        for (; j < ENUM_MAX && size_at(sys, fd, d.pixelformat, j, &s); j++) {
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
            for (uint32_t k = 0; k < ENUM_MAX && ival_at(sys, fd, d.pixelformat, w, h, k, &v);
                 k++) {
                if (v.type == V4L2_FRMIVAL_TYPE_DISCRETE) {
                    uint32_t num = v.discrete.numerator, den = v.discrete.denominator;
                    if (num == 0)
                        continue;
                    if (den % num == 0)
                        appendf(text, sizeof text, "%s%u", rates ? ", " : " at ", den / num);
                    else
                        appendf(text, sizeof text, "%s%.2f", rates ? ", " : " at ",
                                (double)den / num);
                    rates++;
                } else {
                    const struct v4l2_fract *lo = &v.stepwise.min, *hi = &v.stepwise.max;
                    if (lo->numerator && hi->numerator)
                        appendf(text, sizeof text, " at %.2f to %.2f",
                                (double)hi->denominator / hi->numerator,
                                (double)lo->denominator / lo->numerator);
                    rates++;
                    break;
                }
            }
            if (rates)
                appendf(text, sizeof text, " fps");
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
    if (scan_video_nodes(dir, &names, &n, err) < 0)
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
        if (xioctl(sys, fd, VIDIOC_QUERYCAP, &cap) == 0 &&
            (node_caps(&cap) & V4L2_CAP_VIDEO_CAPTURE)) {
            char card[sizeof cap.card + 1];
            card_name(&cap, card);
            list_modes(sys, fd, path, card, line, ctx);
            count++;
        }
        sys->close(fd);
    }
    free_names(names, n);
    return count;
}

// ---- output (v4l2loopback) -----------------------------------------------------------------

struct V4l2Output {
    const V4l2Sys *sys;
    int fd;
    char path[PATH_CAP];
    size_t frame_size;
};

void v4l2_output_close(V4l2Output *o)
{
    if (!o)
        return;
    if (o->fd >= 0)
        o->sys->close(o->fd);
    free(o);
}

V4l2Output *v4l2_output_open(const V4l2Sys *sys, const char *path, int width, int height,
                             uint32_t fourcc, Err *err)
{
    if (!sys || !path) {
        err_set(err, "v4l2_output_open: no system table or path");
        return NULL;
    }
    if (strlen(path) >= PATH_CAP) {
        err_set(err, "%.64s...: path too long", path);
        return NULL;
    }
    if (fourcc != V4L2_PIX_FMT_YUYV && fourcc != V4L2_PIX_FMT_YUV420) {
        char cc[5];
        fourcc_text(fourcc, cc);
        err_set(err, "%s: output format %s not supported (YUYV or YU12/YUV420)", path, cc);
        return NULL;
    }
    if (width <= 0 || height <= 0 || width > 16384 || height > 16384 ||
        (fourcc == V4L2_PIX_FMT_YUV420 && (width % 2 || height % 2)) ||
        (fourcc == V4L2_PIX_FMT_YUYV && width % 2)) {
        err_set(err, "%s: invalid output size %dx%d", path, width, height);
        return NULL;
    }
    V4l2Output *o = calloc(1, sizeof *o);
    if (!o) {
        err_set(err, "%s: out of memory", path);
        return NULL;
    }
    o->sys = sys;
    strcpy(o->path, path);
    o->fd = sys->open(path, O_RDWR | O_CLOEXEC);
    if (o->fd < 0) {
        int e = errno;
        if (e == ENOENT || e == ENODEV || e == ENXIO)
            err_set(err, "%s: no such device (%s); is the v4l2loopback module loaded?", path,
                    strerror(e));
        else if (e == EBUSY)
            err_set(err, "%s is busy: another program is using it", path);
        else
            err_set(err, "%s: cannot open: %s", path, strerror(e));
        free(o);
        return NULL;
    }
    struct v4l2_capability cap;
    memset(&cap, 0, sizeof cap);
    if (xioctl(sys, o->fd, VIDIOC_QUERYCAP, &cap) < 0) {
        err_set(err, "%s is not a V4L2 device: %s", path, strerror(errno));
        goto fail;
    }
    if (!(node_caps(&cap) & V4L2_CAP_VIDEO_OUTPUT)) {
        char card[sizeof cap.card + 1];
        card_name(&cap, card);
        err_set(err, "%s (%s) is not a video output device (a v4l2loopback device is needed)", path,
                card);
        goto fail;
    }
    size_t w = (size_t)width, h = (size_t)height;
    size_t stride = fourcc == V4L2_PIX_FMT_YUYV ? w * 2 : w;
    size_t size = fourcc == V4L2_PIX_FMT_YUYV ? w * h * 2 : w * h * 3 / 2;
    struct v4l2_format fmt;
    memset(&fmt, 0, sizeof fmt);
    fmt.type = V4L2_BUF_TYPE_VIDEO_OUTPUT;
    fmt.fmt.pix.width = (uint32_t)width;
    fmt.fmt.pix.height = (uint32_t)height;
    fmt.fmt.pix.pixelformat = fourcc;
    fmt.fmt.pix.field = V4L2_FIELD_NONE;
    fmt.fmt.pix.bytesperline = (uint32_t)stride;
    fmt.fmt.pix.sizeimage = (uint32_t)size;
    fmt.fmt.pix.colorspace = V4L2_COLORSPACE_SRGB;
    if (xioctl(sys, o->fd, VIDIOC_S_FMT, &fmt) < 0) {
        int e = errno;
        if (e == EBUSY)
            err_set(err, "%s is busy: another program is writing to it", path);
        else
            err_set(err, "%s: cannot set output format: %s", path, strerror(e));
        goto fail;
    }
    if (fmt.fmt.pix.pixelformat != fourcc || fmt.fmt.pix.width != (uint32_t)width ||
        fmt.fmt.pix.height != (uint32_t)height) {
        char want[5], got[5];
        fourcc_text(fourcc, want);
        fourcc_text(fmt.fmt.pix.pixelformat, got);
        err_set(err, "%s cannot take %s %dx%d (it offered %s %ux%u)", path, want, width, height,
                got, fmt.fmt.pix.width, fmt.fmt.pix.height);
        goto fail;
    }
    o->frame_size = size;
    return o;
fail:
    v4l2_output_close(o);
    return NULL;
}

size_t v4l2_output_frame_size(const V4l2Output *o)
{
    return o ? o->frame_size : 0;
}

int v4l2_output_write(V4l2Output *o, const uint8_t *frame, size_t len, Err *err)
{
    if (!o || !frame)
        return err_set(err, "v4l2_output_write: missing argument");
    if (len != o->frame_size)
        return err_set(err, "%s: frame of %zu bytes, the output takes %zu", o->path, len,
                       o->frame_size);
    size_t done = 0;
    while (done < len) {
        ssize_t w = o->sys->write(o->fd, frame + done, len - done);
        if (w < 0) {
            int e = errno;
            if (e == EINTR)
                continue;
            if (e == ENODEV)
                return err_set(err, "%s: the output device went away", o->path);
            return err_set(err, "%s: write: %s", o->path, strerror(e));
        }
        if (w == 0)
            return err_set(err, "%s: write wrote nothing", o->path);
        done += (size_t)w;
    }
    return 0;
}
