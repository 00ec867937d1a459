// Frames through pipes: YUV4MPEG2 (y4m) streams as `ffmpeg -f yuv4mpegpipe` writes them, and
// headerless raw frames (`-f rawvideo -s WxH -pix_fmt rgb24|yuv420p|...`), read from and written to
// stdio streams that may be pipes, e.g.
//     ffmpeg -i in.mp4 -f yuv4mpegpipe - | ageshift filter --to old | ffmpeg -i - out.mp4
//
// The y4m stream header is "YUV4MPEG2" then space-separated tags, then '\n':
//     W<width> H<height> F<num>:<den> I<p|t|b|m|?> A<num>:<den> C<colour space> X<anything>
// and each frame is "FRAME" (plus optional tags, which are skipped) '\n' then the planes: Y (w x
// h), then Cb and Cr, each ((w+1)/2 x (h+1)/2) for 4:2:0, ((w+1)/2 x h) for 4:2:2, (w x h) for
// 4:4:4; C mono has Y only. Odd sizes are allowed.
//
// Accepted C values: 420jpeg, 420paldv, 420mpeg2, 420 (all 8-bit 4:2:0), 422, 444, mono. Missing C
// means 420jpeg. Deeper formats (C420p10, Cmono16, ...), C444alpha and C411 are refused with a
// message that names the supported formats.
//
// What the reader assumes where a header leaves something out (ffmpeg's own reader does the same):
//   no F, or F with a zero: 25:1, with StreamInfo.fps_assumed set so the caller can say so;
//   no I: 'p' (progressive);  no A (or A0:0): 0:0, "unknown";  no C: "420jpeg".
// Tags other than W H F I A C X are ignored. X tags (XYSCSS=420JPEG XCOLORRANGE=FULL ...) are kept
// verbatim in StreamInfo.extra and written back, so that a stream read and written again is byte
// for byte the one ffmpeg wrote. Per-frame tags are not kept: frames are written as "FRAME\n"
// (as ffmpeg writes them).
//
// Library code: errors come back through Err (the message names the stream, e.g. "stdin: ..."),
// nothing is printed.
#ifndef AGESHIFT_Y4M_H
#define AGESHIFT_Y4M_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/base/err.h"

#define Y4M_MAX_DIM 16384 // the largest width or height accepted

typedef enum { PIXFMT_YUV420P, PIXFMT_YUV422P, PIXFMT_YUV444P, PIXFMT_GRAY8, PIXFMT_RGB24 } PixFmt;

// ffmpeg's name for a format ("yuv420p", "yuv422p", "yuv444p", "gray", "rgb24"); "?" if invalid.
const char *pixfmt_name(PixFmt fmt);
// The format of an ffmpeg -pix_fmt name (the names above; "gray8" too); -1 and a message listing
// the names if it is none of them.
int pixfmt_parse(const char *name, PixFmt *fmt, Err *err);

typedef struct {
    int width, height;
    int fps_num, fps_den; // always positive from a reader
    bool fps_assumed;     // the stream gave no usable frame rate: fps is the default 25:1
    int sar_num, sar_den; // pixel aspect ratio; 0:0 = unknown
    char interlace;       // 'p', 't' (top field first), 'b' (bottom first), 'm' (mixed), '?'
    PixFmt fmt;
    char
        colorspace[16]; // the y4m C value without the 'C' ("420jpeg", "444", "mono"); "" = from fmt
    char extra[256];    // the X tags, verbatim, space-separated ("XYSCSS=420JPEG XCOLORRANGE=FULL")
} StreamInfo;

// Planar YUV/gray (plane[0] = Y, plane[1] = Cb, plane[2] = Cr; unused planes NULL) or packed RGB24
// in plane[0]. stride[i] = bytes from one row of plane i to the next (>= the row's length).
typedef struct {
    uint8_t *plane[3];
    int stride[3];
    int width, height;
    PixFmt fmt;
} Frame;

// Bytes of one w x h frame without padding (the size of a raw frame, and of a y4m frame after its
// FRAME line); 0 if fmt is invalid or w, h are outside 1..Y4M_MAX_DIM.
size_t frame_bytes(PixFmt fmt, int w, int h);

// One zeroed block of frame_bytes(fmt, w, h) bytes, planes one after another in stream order with
// no row padding (stride = the plane's row length).
int frame_alloc(Frame *f, PixFmt fmt, int w, int h, Err *err);
void frame_free(Frame *f); // only for frames from frame_alloc; zeroes *f; NULL is a no-op

typedef struct FrameReader FrameReader;

// Reads and parses the stream header from IN. NAME is used in messages ("stdin", a path).
FrameReader *y4m_reader_open(FILE *in, const char *name, Err *err);
// Raw frames of a size and format given by the caller (no header). fps 0 (or negative): 25:1,
// with fps_assumed set. The info's colorspace is the format's y4m name ("" for RGB24).
FrameReader *raw_reader_open(FILE *in, const char *name, int w, int h, PixFmt fmt, int fps_num,
                             int fps_den, Err *err);
const StreamInfo *frame_reader_info(const FrameReader *r);

// Reads the next frame into F, which the caller allocated with the info's fmt, width and height
// (any strides). Returns 1 when a frame was read; 0 at a clean end of stream (end of input exactly
// at a frame boundary); -1 on an error: a malformed FRAME line, a frame cut short ("stdin: frame 12
// is truncated: 1234 of 4608 bytes"; frames count from 1), a read error, a frame of the wrong
// size. Short reads and EINTR (and EAGAIN on a non-blocking descriptor) are waited out. After an
// error the reader only returns -1.
int frame_reader_next(FrameReader *r, Frame *f, Err *err);
long long frame_reader_count(const FrameReader *r); // frames read so far
void frame_reader_close(FrameReader *r);            // does not fclose; NULL is a no-op

typedef struct FrameWriter FrameWriter;

// Writes a y4m header for INFO to OUT: W H F I A C in ffmpeg's order, then INFO's X tags. An empty
// colorspace is filled in from fmt ("420jpeg", "422", "444", "mono"); a colorspace that does not
// match fmt, RGB24 (y4m has no RGB) and sizes outside 1..Y4M_MAX_DIM are errors.
//
// When OUT has a file descriptor, the writer flushes OUT once and then writes to the descriptor
// itself (retrying short writes and EINTR), so don't write to OUT through stdio while the writer is
// open. A closed downstream pipe (EPIPE) is an error with a message, not a crash, PROVIDED the
// process ignores SIGPIPE (signal(SIGPIPE, SIG_IGN)); otherwise the kernel kills it first.
FrameWriter *y4m_writer_open(FILE *out, const char *name, const StreamInfo *info, Err *err);
// Raw frames (no header, no FRAME lines) in INFO's format, any of the five.
FrameWriter *raw_writer_open(FILE *out, const char *name, const StreamInfo *info, Err *err);
// Writes one frame (fmt, width and height must be the info's); the bytes have reached the
// descriptor (or been flushed) when it returns. After an error the writer only returns -1.
int frame_writer_put(FrameWriter *w, const Frame *f, Err *err);
void frame_writer_close(FrameWriter *w); // flushes stdio output; does not fclose; NULL is a no-op

#endif
