// V4L2 output: writing frames to a v4l2loopback device, the virtual webcam.
#include "capture/v4l2_util.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <stdlib.h>
#include <string.h>

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
        v4l2_fourcc_text(fourcc, cc);
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
    if (v4l2_xioctl(sys, o->fd, VIDIOC_QUERYCAP, &cap) < 0) {
        err_set(err, "%s is not a V4L2 device: %s", path, strerror(errno));
        goto fail;
    }
    if (!(v4l2_node_caps(&cap) & V4L2_CAP_VIDEO_OUTPUT)) {
        char card[sizeof cap.card + 1];
        v4l2_card_name(&cap, card);
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
    if (v4l2_xioctl(sys, o->fd, VIDIOC_S_FMT, &fmt) < 0) {
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
        v4l2_fourcc_text(fourcc, want);
        v4l2_fourcc_text(fmt.fmt.pix.pixelformat, got);
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
