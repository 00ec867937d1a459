// V4L2: the real system calls behind V4l2Sys, and the helpers capture and output share (ioctl
// retries, buffer descriptors, the text that describes devices and formats in messages).
#include "capture/v4l2_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

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

// ioctl, retried while a signal interrupts it; -1 with errno otherwise.
int v4l2_xioctl(const V4l2Sys *sys, int fd, unsigned long req, void *arg)
{
    int r;
    do {
        r = sys->ioctl(fd, req, arg);
    } while (r < 0 && errno == EINTR);
    return r;
}

// A descriptor of capture buffer `index`, memory-mapped, as QUERYBUF, QBUF and DQBUF take it.
struct v4l2_buffer v4l2_mmap_buffer(uint32_t index)
{
    struct v4l2_buffer b;
    memset(&b, 0, sizeof b);
    b.type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    b.memory = V4L2_MEMORY_MMAP;
    b.index = index;
    return b;
}

void v4l2_appendf(char *buf, size_t cap, const char *fmt, ...)
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
void v4l2_fourcc_text(uint32_t f, char out[5])
{
    for (int i = 0; i < 4; i++) {
        unsigned char ch = (unsigned char)((f >> (8 * i)) & 0xff);
        out[i] = (ch >= 32 && ch < 127) ? (char)ch : '?';
    }
    out[4] = '\0';
}

// The capabilities of the node itself (device_caps when the driver reports it).
uint32_t v4l2_node_caps(const struct v4l2_capability *cap)
{
    return (cap->capabilities & V4L2_CAP_DEVICE_CAPS) ? cap->device_caps : cap->capabilities;
}

void v4l2_card_name(const struct v4l2_capability *cap, char out[sizeof cap->card + 1])
{
    memcpy(out, cap->card, sizeof cap->card);
    out[sizeof cap->card] = '\0';
}

// 1 with the index-th format / frame size / frame interval, 0 at the end of the list (or when the
// driver cannot enumerate).
int v4l2_fmt_at(const V4l2Sys *sys, int fd, uint32_t index, struct v4l2_fmtdesc *d)
{
    memset(d, 0, sizeof *d);
    d->index = index;
    d->type = V4L2_BUF_TYPE_VIDEO_CAPTURE;
    return v4l2_xioctl(sys, fd, VIDIOC_ENUM_FMT, d) == 0;
}

int v4l2_size_at(const V4l2Sys *sys, int fd, uint32_t fourcc, uint32_t index,
                 struct v4l2_frmsizeenum *s)
{
    memset(s, 0, sizeof *s);
    s->index = index;
    s->pixel_format = fourcc;
    return v4l2_xioctl(sys, fd, VIDIOC_ENUM_FRAMESIZES, s) == 0;
}

int v4l2_ival_at(const V4l2Sys *sys, int fd, uint32_t fourcc, uint32_t w, uint32_t h,
                 uint32_t index, struct v4l2_frmivalenum *v)
{
    memset(v, 0, sizeof *v);
    v->index = index;
    v->pixel_format = fourcc;
    v->width = w;
    v->height = h;
    return v4l2_xioctl(sys, fd, VIDIOC_ENUM_FRAMEINTERVALS, v) == 0;
}


// "YUYV 640x480 1280x720, MJPG 640x480": what the camera offers, for error messages.
void v4l2_describe_formats(const V4l2Sys *sys, int fd, char *buf, size_t cap)
{
    buf[0] = '\0';
    struct v4l2_fmtdesc d;
    for (uint32_t i = 0; i < ENUM_MAX && v4l2_fmt_at(sys, fd, i, &d); i++) {
        char cc[5];
        v4l2_fourcc_text(d.pixelformat, cc);
        v4l2_appendf(buf, cap, "%s%s", i ? ", " : "", cc);
        struct v4l2_frmsizeenum s;
        for (uint32_t j = 0; j < ENUM_MAX && v4l2_size_at(sys, fd, d.pixelformat, j, &s); j++) {
            if (s.type == V4L2_FRMSIZE_TYPE_DISCRETE) {
                v4l2_appendf(buf, cap, " %ux%u", s.discrete.width, s.discrete.height);
            } else {
                v4l2_appendf(buf, cap, " %ux%u..%ux%u", s.stepwise.min_width, s.stepwise.min_height,
                             s.stepwise.max_width, s.stepwise.max_height);
                break;
            }
        }
    }
    if (!buf[0])
        v4l2_appendf(buf, cap, "no formats at all");
}

// The video<N> entries of dir, sorted by N. 0 with *names (free each and the array) or -1.
static int cmp_video_names(const void *a, const void *b)
{
    long na = strtol(*(char *const *)a + 5, NULL, 10);
    long nb = strtol(*(char *const *)b + 5, NULL, 10);
    return (na > nb) - (na < nb);
}

void v4l2_free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

int v4l2_scan_video_nodes(const char *dir, char ***names_out, size_t *n_out, Err *err)
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
    v4l2_free_names(names, n);
    return err_set(err, "%s: out of memory listing devices", dir);
}

// "/dev/video2 (Integrated Camera), /dev/video4 (USB Camera)": the capture devices of dir, other
// than skip; "none" when there are none.
void v4l2_describe_cameras(const V4l2Sys *sys, const char *dir, const char *skip, char *buf,
                           size_t cap)
{
    buf[0] = '\0';
    char **names = NULL;
    size_t n = 0;
    if (v4l2_scan_video_nodes(dir, &names, &n, NULL) == 0) {
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
            if (v4l2_xioctl(sys, fd, VIDIOC_QUERYCAP, &q) == 0 &&
                (v4l2_node_caps(&q) & V4L2_CAP_VIDEO_CAPTURE)) {
                char card[sizeof q.card + 1];
                v4l2_card_name(&q, card);
                v4l2_appendf(buf, cap, "%s%s (%s)", buf[0] ? ", " : "", path, card);
            }
            sys->close(fd);
        }
        v4l2_free_names(names, n);
    }
    if (!buf[0])
        v4l2_appendf(buf, cap, "none");
}

// The directory part of path ("/dev" for "/dev/video0", "." for "video0").
void v4l2_dir_of(const char *path, char out[PATH_CAP])
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
