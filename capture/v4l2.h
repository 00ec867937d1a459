// V4L2 cameras and virtual webcams: opens a capture device, negotiates a YUYV or MJPEG mode
// close to the request, streams mmap buffers; lists the cameras of a directory; writes frames to a
// v4l2loopback output device. Every system call goes through a V4l2Sys table so that tests can
// put a fake camera in place of the kernel.
#ifndef AGESHIFT_V4L2_H
#define AGESHIFT_V4L2_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/base/err.h"

typedef struct {
    int (*open)(const char *path, int flags);
    int (*close)(int fd);
    int (*ioctl)(int fd, unsigned long req, void *arg);
    void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
    int (*munmap)(void *addr, size_t len);
    int (*poll)(struct pollfd *fds, nfds_t n, int timeout_ms);
    ssize_t (*write)(int fd, const void *buf, size_t n);
} V4l2Sys;

// The real system calls.
extern const V4l2Sys v4l2_sys_real;

// A negotiated mode: fourcc is V4L2_PIX_FMT_YUYV or V4L2_PIX_FMT_MJPEG; frames per second is
// fps_num / fps_den (30/1, 15/1, 30000/1001).
typedef struct {
    uint32_t fourcc;
    int width, height;
    int fps_num, fps_den;
} V4l2Mode;

typedef struct V4l2Camera V4l2Camera;

// Opens the capture device at path (O_NONBLOCK), checks it can capture and stream, picks the
// mode closest to width x height at fps among YUYV and MJPEG (nearest size first, then nearest
// frame rate, then YUYV over MJPEG), sets it (S_FMT, S_PARM), maps 4 buffers and starts
// streaming. The mode granted is v4l2_camera_mode(). NULL with a reason in err on failure.
V4l2Camera *v4l2_camera_open(const V4l2Sys *sys, const char *path, int width, int height, int fps,
                             Err *err);

// Waits up to timeout_ms (negative: forever) for a frame. Returns 1 with *data / *len pointing at
// the frame's bytes (YUYV: height rows of width*2 bytes, bytesperline may pad; MJPEG: one JPEG),
// valid until the next call or close, and *timestamp_us its capture time (CLOCK_MONOTONIC, as the
// driver stamps it); 0 on timeout; -1 with a reason in err (the camera was unplugged, ...).
int v4l2_camera_next(V4l2Camera *c, int timeout_ms, const uint8_t **data, size_t *len,
                     int64_t *timestamp_us, Err *err);

// The mode the driver granted; bytes_per_line of YUYV frames is v4l2_camera_stride().
const V4l2Mode *v4l2_camera_mode(const V4l2Camera *c);
size_t v4l2_camera_stride(const V4l2Camera *c);

// Stops streaming, unmaps every buffer, closes the device. NULL is a no-op.
void v4l2_camera_close(V4l2Camera *c);

// Calls line(ctx, text) once per capture device of dir ("/dev") and format and frame size, as in
// "/dev/video0 (Integrated Camera): YUYV 640x480 at 30, 15 fps"; a device that cannot be opened
// gets one line saying why. Returns the number of capture devices, -1 if dir cannot be read.
int v4l2_list_devices(const V4l2Sys *sys, const char *dir,
                      void (*line)(void *ctx, const char *text), void *ctx, Err *err);

typedef struct V4l2Output V4l2Output;

// Opens a video output device (v4l2loopback) and sets its format to width x height in fourcc,
// V4L2_PIX_FMT_YUYV or V4L2_PIX_FMT_YUV420 (even width and height). NULL on failure.
V4l2Output *v4l2_output_open(const V4l2Sys *sys, const char *path, int width, int height,
                             uint32_t fourcc, Err *err);

// Bytes one frame takes: width*height*2 (YUYV) or width*height*3/2 (YUV420).
size_t v4l2_output_frame_size(const V4l2Output *o);

// Writes one frame of exactly v4l2_output_frame_size() bytes. 0 or -1.
int v4l2_output_write(V4l2Output *o, const uint8_t *frame, size_t len, Err *err);

// Closes the device. NULL is a no-op.
void v4l2_output_close(V4l2Output *o);

#endif
