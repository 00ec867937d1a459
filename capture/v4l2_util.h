// What the V4L2 files share (v4l2_util.c: the real system calls and the helpers; capture and
// output use them): not for other callers.
#ifndef AGESHIFT_V4L2_UTIL_H
#define AGESHIFT_V4L2_UTIL_H

#include <linux/videodev2.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/v4l2.h"

#define PATH_CAP 256
#define MAX_BUFFERS 32
#define WANT_BUFFERS 4
#define TEXT_CAP 512
// Enumerations stop here even if a broken driver never says EINVAL.
#define ENUM_MAX 256

// ioctl, retried while a signal interrupts it; -1 with errno otherwise.
int v4l2_xioctl(const V4l2Sys *sys, int fd, unsigned long req, void *arg);

// A descriptor of capture buffer `index`, memory-mapped, as QUERYBUF, QBUF and DQBUF take it.
struct v4l2_buffer v4l2_mmap_buffer(uint32_t index);

// Appends formatted text to the NUL-terminated buf of cap bytes, cutting what does not fit.
void v4l2_appendf(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

// "YUYV", "MJPG": the four characters of a fourcc (non-printable ones as '?').
void v4l2_fourcc_text(uint32_t f, char out[5]);

// The capabilities of the node itself (device_caps when the driver reports it).
uint32_t v4l2_node_caps(const struct v4l2_capability *cap);

// The card name as a NUL-terminated string.
void v4l2_card_name(const struct v4l2_capability *cap, char out[sizeof cap->card + 1]);

// 1 with the index-th format / frame size / frame interval, 0 at the end of the list (or when the
// driver cannot enumerate).
int v4l2_fmt_at(const V4l2Sys *sys, int fd, uint32_t index, struct v4l2_fmtdesc *d);

int v4l2_size_at(const V4l2Sys *sys, int fd, uint32_t fourcc, uint32_t index,
                 struct v4l2_frmsizeenum *s);

int v4l2_ival_at(const V4l2Sys *sys, int fd, uint32_t fourcc, uint32_t w, uint32_t h,
                 uint32_t index, struct v4l2_frmivalenum *v);

// "YUYV 640x480 1280x720, MJPG 640x480": what the camera offers, for error messages.
void v4l2_describe_formats(const V4l2Sys *sys, int fd, char *buf, size_t cap);

void v4l2_free_names(char **names, size_t n);

// The videoN entries of dir, in number order (names to free with v4l2_free_names).
int v4l2_scan_video_nodes(const char *dir, char ***names_out, size_t *n_out, Err *err);

// "/dev/video2 (Integrated Camera), /dev/video4 (USB Camera)": the capture devices of dir, other
// than skip; "none" when there are none.
void v4l2_describe_cameras(const V4l2Sys *sys, const char *dir, const char *skip, char *buf,
                           size_t cap);

// The directory part of path ("/dev" for "/dev/video0", "." for "video0").
void v4l2_dir_of(const char *path, char out[PATH_CAP]);

#endif
