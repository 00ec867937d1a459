// A fake V4L2 kernel for the capture tests: a V4l2Sys table that speaks the real protocol with
// <linux/videodev2.h> structs (QUERYCAP, ENUM_FMT/FRAMESIZES/FRAMEINTERVALS, S_FMT that snaps to
// the nearest size, S_PARM, REQBUFS, QUERYBUF, mmap of malloc'd buffers, QBUF/DQBUF with 33 ms
// timestamps, STREAMON/OFF, poll, write) over up to NDEV made-up devices.
#ifndef AGESHIFT_TESTS_FAKE_V4L2_H
#define AGESHIFT_TESTS_FAKE_V4L2_H

#include <linux/videodev2.h>
#include <stddef.h>
#include <stdint.h>

#include "capture/v4l2.h"

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

typedef struct {
    FakeDev dev[NDEV];
    int ndev;
    int opens, closes, mmaps, munmaps, bad_munmaps;
} FakeKernel;

// The fake's whole state; fake_reset clears it.
extern FakeKernel fake_kernel;

extern const V4l2Sys fake_sys;

// A device at path of the kind (CAM, META or OUT), a 640x480 YUYV/MJPEG camera by default.
FakeDev *fake_add(const char *path, int kind);
void fake_reset(void);
// Everything opened is closed and everything mapped unmapped (Criterion assertions).
void assert_released(void);

#endif
