// y4m and raw frame streams: headers and pixels of streams the ffmpeg command writes (checked
// against its rawvideo output), byte-identical round trips, ffmpeg reading what we write, raw
// rgb24/yuv420p, frames and headers (test_y4m_broken.c: broken streams and pipes).
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "media/y4m.h"
#include "y4m_streams.h"

#define FFMPEG "/usr/bin/ffmpeg"

static void skip_without_ffmpeg(void)
{
    if (access(FFMPEG, X_OK) != 0)
        cr_skip_test(FFMPEG " is not installed (make installs it): ffmpeg streams not checked");
}

// Everything the shell command CMD writes to stdout; fails the test if it exits non-zero.
static Buf run_capture(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "popen %s", cmd);
    Buf b = {0};
    size_t cap = 0;
    for (;;) {
        if (b.len + 65536 > cap) {
            cap = cap * 2 + 65536;
            b.data = realloc(b.data, cap);
            cr_assert_not_null(b.data);
        }
        size_t k = fread(b.data + b.len, 1, cap - b.len, p);
        b.len += k;
        if (k == 0)
            break;
    }
    int st = pclose(p);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "command failed: %s", cmd);
    return b;
}

// FRAMES frames of ffmpeg's test pattern of SIZE (WxH) at RATE in PIX_FMT, as FORMAT
// (yuv4mpegpipe or rawvideo); EXTRA goes before the output options (-vf, -strict -1, ...).
static Buf ffmpeg_stream(const char *size, const char *rate, const char *pix_fmt,
                         const char *format, const char *extra)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             FFMPEG " -nostdin -v error -f lavfi -i testsrc=size=%s:rate=%s -frames:v 3 %s "
                    "-pix_fmt %s -f %s -",
             size, rate, extra, pix_fmt, format);
    return run_capture(cmd);
}

static FILE *str_in(const char *s)
{
    return mem_in(s, strlen(s));
}

// The whole contents of F, from its start.
static Buf slurp(FILE *f)
{
    fflush(f);
    rewind(f);
    Buf b = {0};
    char chunk[65536];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) {
        b.data = realloc(b.data, b.len + k);
        cr_assert_not_null(b.data);
        memcpy(b.data + b.len, chunk, k);
        b.len += k;
    }
    return b;
}

// Reads every frame of the y4m stream Y4M and checks it against RAW (ffmpeg's rawvideo output of
// the same frames); returns the info.
static StreamInfo check_against_raw(const Buf *y4m, const Buf *raw, int frames)
{
    FILE *in = mem_in(y4m->data, y4m->len);
    Err err = {{0}};
    FrameReader *r = y4m_reader_open(in, "stdin", &err);
    cr_assert_not_null(r, "%s", err.msg);
    StreamInfo info = *frame_reader_info(r);
    size_t fb = frame_bytes(info.fmt, info.width, info.height);
    cr_assert_eq(raw->len, (size_t)frames * fb, "rawvideo is %zu bytes, expected %d x %zu",
                 raw->len, frames, fb);
    Frame f;
    cr_assert_eq(frame_alloc(&f, info.fmt, info.width, info.height, &err), 0, "%s", err.msg);
    for (int i = 0; i < frames; i++) {
        cr_assert_eq(frame_reader_next(r, &f, &err), 1, "frame %d: %s", i + 1, err.msg);
        assert_frame_bytes(&f, raw->data + (size_t)i * fb, fb, "ffmpeg frame");
    }
    cr_assert_eq(frame_reader_next(r, &f, &err), 0, "no clean end: %s", err.msg);
    cr_assert_eq(frame_reader_next(r, &f, &err), 0, "end of stream is not sticky");
    cr_assert_eq(frame_reader_count(r), frames);
    frame_free(&f);
    frame_reader_close(r);
    fclose(in);
    return info;
}

// Reads Y4M and writes it again, through a descriptor (tmpfile) or through stdio
// (open_memstream); the output must be the same bytes.
static void assert_round_trip(const Buf *y4m, bool via_stdio, const char *what)
{
    FILE *in = mem_in(y4m->data, y4m->len);
    Err err = {{0}};
    FrameReader *r = y4m_reader_open(in, "stdin", &err);
    cr_assert_not_null(r, "%s: %s", what, err.msg);
    const StreamInfo *info = frame_reader_info(r);
    char *mem = NULL;
    size_t memlen = 0;
    FILE *out = via_stdio ? open_memstream(&mem, &memlen) : tmpfile();
    cr_assert_not_null(out);
    FrameWriter *w = y4m_writer_open(out, "stdout", info, &err);
    cr_assert_not_null(w, "%s: %s", what, err.msg);
    Frame f;
    cr_assert_eq(frame_alloc(&f, info->fmt, info->width, info->height, &err), 0);
    int rc;
    while ((rc = frame_reader_next(r, &f, &err)) == 1)
        cr_assert_eq(frame_writer_put(w, &f, &err), 0, "%s: %s", what, err.msg);
    cr_assert_eq(rc, 0, "%s: %s", what, err.msg);
    frame_writer_close(w);
    Buf got = {0};
    if (via_stdio) {
        fclose(out);
        got.data = mem;
        got.len = memlen;
    } else {
        got = slurp(out);
        fclose(out);
    }
    cr_assert_eq(got.len, y4m->len, "%s: wrote %zu bytes, read %zu", what, got.len, y4m->len);
    cr_assert(memcmp(got.data, y4m->data, got.len) == 0, "%s: the bytes differ", what);
    buf_free(&got);
    frame_free(&f);
    frame_reader_close(r);
    fclose(in);
}

// ---------------------------------------------------------------------------------------------
// Streams from the ffmpeg command

Test(y4m_ffmpeg, yuv420p_header_and_pixels)
{
    skip_without_ffmpeg();
    Buf y4m = ffmpeg_stream("64x48", "25", "yuv420p", "yuv4mpegpipe", "");
    Buf raw = ffmpeg_stream("64x48", "25", "yuv420p", "rawvideo", "");
    StreamInfo info = check_against_raw(&y4m, &raw, 3);
    cr_assert_eq(info.width, 64);
    cr_assert_eq(info.height, 48);
    cr_assert_eq(info.fps_num, 25);
    cr_assert_eq(info.fps_den, 1);
    cr_assert_not(info.fps_assumed);
    cr_assert_eq(info.sar_num, 1);
    cr_assert_eq(info.sar_den, 1);
    cr_assert_eq(info.interlace, 'p');
    cr_assert_eq(info.fmt, PIXFMT_YUV420P);
    cr_assert_str_eq(info.colorspace, "420jpeg");
    cr_assert_str_eq(info.extra, "XYSCSS=420JPEG XCOLORRANGE=LIMITED");
    buf_free(&y4m);
    buf_free(&raw);
}

Test(y4m_ffmpeg, full_range_keeps_colorrange_tag)
{
    skip_without_ffmpeg();
    Buf y4m = ffmpeg_stream("64x48", "25", "yuvj420p", "yuv4mpegpipe", "");
    Buf raw = ffmpeg_stream("64x48", "25", "yuvj420p", "rawvideo", "");
    StreamInfo info = check_against_raw(&y4m, &raw, 3);
    cr_assert_eq(info.fmt, PIXFMT_YUV420P);
    cr_assert_str_eq(info.extra, "XYSCSS=420JPEG XCOLORRANGE=FULL");
    buf_free(&y4m);
    buf_free(&raw);
}

Test(y4m_ffmpeg, yuv444p)
{
    skip_without_ffmpeg();
    Buf y4m = ffmpeg_stream("64x48", "25", "yuv444p", "yuv4mpegpipe", "");
    Buf raw = ffmpeg_stream("64x48", "25", "yuv444p", "rawvideo", "");
    StreamInfo info = check_against_raw(&y4m, &raw, 3);
    cr_assert_eq(info.fmt, PIXFMT_YUV444P);
    cr_assert_str_eq(info.colorspace, "444");
    cr_assert_str_eq(info.extra, "XYSCSS=444 XCOLORRANGE=LIMITED");
    buf_free(&y4m);
    buf_free(&raw);
}

Test(y4m_ffmpeg, yuv422p)
{
    skip_without_ffmpeg();
    Buf y4m = ffmpeg_stream("65x49", "25", "yuv422p", "yuv4mpegpipe", "");
    Buf raw = ffmpeg_stream("65x49", "25", "yuv422p", "rawvideo", "");
    StreamInfo info = check_against_raw(&y4m, &raw, 3);
    cr_assert_eq(info.fmt, PIXFMT_YUV422P);
    cr_assert_str_eq(info.colorspace, "422");
    cr_assert_eq(frame_bytes(info.fmt, 65, 49), 65 * 49 + 2 * 33 * 49);
    buf_free(&y4m);
    buf_free(&raw);
}

Test(y4m_ffmpeg, gray_is_mono)
{
    skip_without_ffmpeg();
    Buf y4m = ffmpeg_stream("64x48", "25", "gray", "yuv4mpegpipe", "");
    Buf raw = ffmpeg_stream("64x48", "25", "gray", "rawvideo", "");
    StreamInfo info = check_against_raw(&y4m, &raw, 3);
    cr_assert_eq(info.fmt, PIXFMT_GRAY8);
    cr_assert_str_eq(info.colorspace, "mono");
    cr_assert_str_eq(info.extra, "XCOLORRANGE=FULL"); // ffmpeg writes no XYSCSS for gray
    buf_free(&y4m);
    buf_free(&raw);
}

Test(y4m_ffmpeg, odd_size_and_ntsc_rate)
{
    skip_without_ffmpeg();
    Buf y4m = ffmpeg_stream("65x49", "30000/1001", "yuv420p", "yuv4mpegpipe", "");
    Buf raw = ffmpeg_stream("65x49", "30000/1001", "yuv420p", "rawvideo", "");
    StreamInfo info = check_against_raw(&y4m, &raw, 3);
    cr_assert_eq(info.width, 65);
    cr_assert_eq(info.height, 49);
    cr_assert_eq(info.fps_num, 30000);
    cr_assert_eq(info.fps_den, 1001);
    // chroma planes round up: 33 x 25
    cr_assert_eq(frame_bytes(PIXFMT_YUV420P, 65, 49), 65 * 49 + 2 * 33 * 25);
    buf_free(&y4m);
    buf_free(&raw);
}

Test(y4m_ffmpeg, interlacing_and_aspect_ratio)
{
    skip_without_ffmpeg();
    Buf t =
        ffmpeg_stream("64x48", "25", "yuv420p", "yuv4mpegpipe", "-vf setsar=16/11,setfield=tff");
    Buf b = ffmpeg_stream("64x48", "25", "yuv420p", "yuv4mpegpipe", "-vf setfield=bff");
    Buf raw = ffmpeg_stream("64x48", "25", "yuv420p", "rawvideo", "-vf setsar=16/11,setfield=tff");
    StreamInfo info = check_against_raw(&t, &raw, 3);
    cr_assert_eq(info.interlace, 't');
    cr_assert_eq(info.sar_num, 16);
    cr_assert_eq(info.sar_den, 11);
    FILE *in = mem_in(b.data, b.len);
    Err err = {{0}};
    FrameReader *r = y4m_reader_open(in, "stdin", &err);
    cr_assert_not_null(r, "%s", err.msg);
    cr_assert_eq(frame_reader_info(r)->interlace, 'b');
    frame_reader_close(r);
    fclose(in);
    buf_free(&t);
    buf_free(&b);
    buf_free(&raw);
}

Test(y4m_ffmpeg, round_trips_are_byte_identical)
{
    skip_without_ffmpeg();
    static const struct {
        const char *size, *rate, *pix_fmt, *extra;
    } cases[] = {
        {"64x48", "25", "yuv420p", ""},
        {"64x48", "25", "yuvj420p", ""},
        {"65x49", "30000/1001", "yuv420p", ""},
        {"65x49", "24", "yuv422p", ""},
        {"33x17", "25", "yuv444p", ""},
        {"64x48", "25", "gray", ""},
        {"64x48", "25", "yuv420p", "-vf setsar=16/11,setfield=tff"},
        {"64x48", "25", "yuv420p", "-chroma_sample_location left"},
        {"64x48", "25", "yuv420p", "-chroma_sample_location topleft"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Buf y4m = ffmpeg_stream(cases[i].size, cases[i].rate, cases[i].pix_fmt, "yuv4mpegpipe",
                                cases[i].extra);
        char what[128];
        snprintf(what, sizeof what, "%s %s %s %s", cases[i].size, cases[i].rate, cases[i].pix_fmt,
                 cases[i].extra);
        assert_round_trip(&y4m, false, what);
        assert_round_trip(&y4m, true, what);
        buf_free(&y4m);
    }
}

Test(y4m_ffmpeg, chroma_siting_variants_are_yuv420p)
{
    skip_without_ffmpeg();
    static const char *const loc[] = {"left", "topleft"};
    static const char *const want[] = {"420mpeg2", "420paldv"};
    for (int i = 0; i < 2; i++) {
        char extra[64];
        snprintf(extra, sizeof extra, "-chroma_sample_location %s", loc[i]);
        Buf y4m = ffmpeg_stream("64x48", "25", "yuv420p", "yuv4mpegpipe", extra);
        Buf raw = ffmpeg_stream("64x48", "25", "yuv420p", "rawvideo", extra);
        StreamInfo info = check_against_raw(&y4m, &raw, 3);
        cr_assert_eq(info.fmt, PIXFMT_YUV420P);
        cr_assert_str_eq(info.colorspace, want[i]);
        buf_free(&y4m);
        buf_free(&raw);
    }
}

// What ageshift writes, ffmpeg reads back to the same pixels.
Test(y4m_ffmpeg, ffmpeg_reads_what_we_write)
{
    skip_without_ffmpeg();
    Buf raw = ffmpeg_stream("65x49", "25", "yuv420p", "rawvideo", "");
    FILE *in = mem_in(raw.data, raw.len);
    Err err = {{0}};
    FrameReader *r = raw_reader_open(in, "stdin", 65, 49, PIXFMT_YUV420P, 25, 1, &err);
    cr_assert_not_null(r, "%s", err.msg);
    char path[] = "/tmp/test_y4m_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    FILE *out = fdopen(fd, "w");
    cr_assert_not_null(out);
    FrameWriter *w = y4m_writer_open(out, path, frame_reader_info(r), &err);
    cr_assert_not_null(w, "%s", err.msg);
    Frame f;
    cr_assert_eq(frame_alloc(&f, PIXFMT_YUV420P, 65, 49, &err), 0);
    int rc;
    while ((rc = frame_reader_next(r, &f, &err)) == 1)
        cr_assert_eq(frame_writer_put(w, &f, &err), 0, "%s", err.msg);
    cr_assert_eq(rc, 0, "%s", err.msg);
    frame_writer_close(w);
    fclose(out);
    char cmd[256];
    snprintf(cmd, sizeof cmd, FFMPEG " -nostdin -v error -i %s -f rawvideo -pix_fmt yuv420p -",
             path);
    Buf back = run_capture(cmd);
    unlink(path);
    cr_assert_eq(back.len, raw.len);
    cr_assert(memcmp(back.data, raw.data, raw.len) == 0, "ffmpeg decoded other pixels");
    buf_free(&back);
    buf_free(&raw);
    frame_free(&f);
    frame_reader_close(r);
    fclose(in);
}

Test(y4m_ffmpeg, deep_and_alpha_formats_are_refused)
{
    skip_without_ffmpeg();
    static const struct {
        const char *pix_fmt, *needle;
    } cases[] = {
        {"yuv420p10le", "C420p10 is 10 bits"},
        {"yuv444p12le", "C444p12 is 12 bits"},
        {"gray16le", "Cmono16 is 16 bits"},
        {"yuva444p", "C444alpha"},
        {"yuv411p", "C411"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Buf y4m = ffmpeg_stream("64x48", "25", cases[i].pix_fmt, "yuv4mpegpipe", "-strict -1");
        expect_open_error(
            y4m.data, y4m.len,
            (const char *const[]){"stdin: ", cases[i].needle, "yuv420p", "gray", "-pix_fmt", NULL});
        buf_free(&y4m);
    }
}

// ---------------------------------------------------------------------------------------------
// Raw frames

Test(y4m_raw, rgb24_read_and_write)
{
    enum { W = 5, H = 3, N = 3 };
    size_t fb = frame_bytes(PIXFMT_RGB24, W, H);
    cr_assert_eq(fb, 3 * W * H);
    unsigned char data[N * 3 * W * H];
    for (size_t k = 0; k < sizeof data; k++)
        data[k] = (unsigned char)(k * 13 + 1);
    FILE *in = mem_in(data, sizeof data);
    Err err = {{0}};
    FrameReader *r = raw_reader_open(in, "stdin", W, H, PIXFMT_RGB24, 30, 1, &err);
    cr_assert_not_null(r, "%s", err.msg);
    const StreamInfo *info = frame_reader_info(r);
    cr_assert_eq(info->fps_num, 30);
    cr_assert_not(info->fps_assumed);
    FILE *out = tmpfile();
    FrameWriter *w = raw_writer_open(out, "stdout", info, &err);
    cr_assert_not_null(w, "%s", err.msg);
    Frame f;
    cr_assert_eq(frame_alloc(&f, PIXFMT_RGB24, W, H, &err), 0);
    cr_assert_eq(f.stride[0], 3 * W);
    cr_assert_null(f.plane[1]);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(frame_reader_next(r, &f, &err), 1, "%s", err.msg);
        cr_assert_eq(f.plane[0][0], data[i * fb]);                     // R of the first pixel
        cr_assert_eq(f.plane[0][3 * W + 4], data[i * fb + 3 * W + 4]); // G of (1, 1)
        assert_frame_bytes(&f, (const char *)data + i * fb, fb, "rgb24");
        cr_assert_eq(frame_writer_put(w, &f, &err), 0, "%s", err.msg);
    }
    cr_assert_eq(frame_reader_next(r, &f, &err), 0, "%s", err.msg);
    frame_writer_close(w);
    Buf got = slurp(out);
    cr_assert_eq(got.len, sizeof data);
    cr_assert(memcmp(got.data, data, sizeof data) == 0);
    Err e2 = {{0}};
    cr_assert_null(y4m_writer_open(out, "stdout", info, &e2), "y4m has no rgb24");
    cr_assert(strstr(e2.msg, "rgb24"), "%s", e2.msg);
    buf_free(&got);
    frame_free(&f);
    frame_reader_close(r);
    fclose(in);
    fclose(out);
}

Test(y4m_raw, yuv420p_odd_size_read_and_write)
{
    enum { W = 7, H = 5, N = 2 };
    size_t fb = frame_bytes(PIXFMT_YUV420P, W, H);
    cr_assert_eq(fb, W * H + 2 * 4 * 3);
    unsigned char data[N * (W * H + 2 * 4 * 3)];
    for (size_t k = 0; k < sizeof data; k++)
        data[k] = (unsigned char)(k * 7 + 3);
    FILE *in = mem_in(data, sizeof data);
    Err err = {{0}};
    FrameReader *r = raw_reader_open(in, "stdin", W, H, PIXFMT_YUV420P, 0, 0, &err);
    cr_assert_not_null(r, "%s", err.msg);
    const StreamInfo *info = frame_reader_info(r);
    cr_assert(info->fps_assumed);
    cr_assert_eq(info->fps_num, 25);
    cr_assert_eq(info->fps_den, 1);
    cr_assert_str_eq(info->colorspace, "420jpeg");
    Frame f;
    cr_assert_eq(frame_alloc(&f, PIXFMT_YUV420P, W, H, &err), 0);
    cr_assert_eq(f.stride[1], 4);
    cr_assert_eq(f.plane[1], f.plane[0] + W * H);
    cr_assert_eq(f.plane[2], f.plane[1] + 4 * 3);
    char *mem = NULL;
    size_t memlen = 0;
    FILE *out = open_memstream(&mem, &memlen);
    FrameWriter *w = raw_writer_open(out, "stdout", info, &err);
    cr_assert_not_null(w, "%s", err.msg);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(frame_reader_next(r, &f, &err), 1, "%s", err.msg);
        cr_assert_eq(f.plane[2][4 * 3 - 1], data[i * fb + fb - 1]); // last Cr sample
        cr_assert_eq(frame_writer_put(w, &f, &err), 0, "%s", err.msg);
    }
    cr_assert_eq(frame_reader_next(r, &f, &err), 0, "%s", err.msg);
    frame_writer_close(w);
    fclose(out);
    cr_assert_eq(memlen, sizeof data);
    cr_assert(memcmp(mem, data, sizeof data) == 0);
    free(mem);
    frame_free(&f);
    frame_reader_close(r);
    fclose(in);
}

Test(y4m_raw, truncated_frame)
{
    size_t fb = frame_bytes(PIXFMT_RGB24, 4, 4); // 48
    unsigned char data[2 * 48 + 10] = {0};
    FILE *in = mem_in(data, sizeof data);
    Err err = {{0}};
    FrameReader *r = raw_reader_open(in, "cam.rgb", 4, 4, PIXFMT_RGB24, 25, 1, &err);
    cr_assert_not_null(r);
    Frame f;
    cr_assert_eq(frame_alloc(&f, PIXFMT_RGB24, 4, 4, &err), 0);
    cr_assert_eq(frame_reader_next(r, &f, &err), 1);
    cr_assert_eq(frame_reader_next(r, &f, &err), 1);
    cr_assert_eq(frame_reader_next(r, &f, &err), -1);
    char want[128];
    snprintf(want, sizeof want, "cam.rgb: frame 3 is truncated: 10 of %zu bytes", fb);
    cr_assert_str_eq(err.msg, want);
    cr_assert_eq(frame_reader_next(r, &f, &err), -1, "a failed reader stays failed");
    frame_free(&f);
    frame_reader_close(r);
    fclose(in);
}

Test(y4m_raw, bad_parameters)
{
    FILE *in = str_in("");
    Err err = {{0}};
    cr_assert_null(raw_reader_open(in, "stdin", 0, 4, PIXFMT_YUV420P, 25, 1, &err));
    cr_assert(strstr(err.msg, "0x4"), "%s", err.msg);
    cr_assert_null(raw_reader_open(in, "stdin", 16385, 4, PIXFMT_YUV420P, 25, 1, &err));
    cr_assert_null(raw_reader_open(in, "stdin", 4, 4, (PixFmt)17, 25, 1, &err));
    FrameReader *r = raw_reader_open(in, "stdin", 4, 4, PIXFMT_GRAY8, 25, 1, &err);
    cr_assert_not_null(r);
    Frame f;
    cr_assert_eq(frame_alloc(&f, PIXFMT_GRAY8, 4, 4, &err), 0);
    cr_assert_eq(frame_reader_next(r, &f, &err), 0, "empty raw input is a clean end");
    frame_free(&f);
    frame_reader_close(r);
    fclose(in);
}

// ---------------------------------------------------------------------------------------------
// Frames and formats

Test(y4m_frame, sizes)
{
    cr_assert_eq(frame_bytes(PIXFMT_YUV420P, 64, 48), 4608);
    cr_assert_eq(frame_bytes(PIXFMT_YUV420P, 65, 49), 65 * 49 + 2 * 33 * 25);
    cr_assert_eq(frame_bytes(PIXFMT_YUV420P, 1, 1), 3);
    cr_assert_eq(frame_bytes(PIXFMT_YUV422P, 65, 49), 65 * 49 + 2 * 33 * 49);
    cr_assert_eq(frame_bytes(PIXFMT_YUV444P, 65, 49), 3 * 65 * 49);
    cr_assert_eq(frame_bytes(PIXFMT_GRAY8, 65, 49), 65 * 49);
    cr_assert_eq(frame_bytes(PIXFMT_RGB24, 65, 49), 3 * 65 * 49);
    cr_assert_eq(frame_bytes(PIXFMT_RGB24, 16384, 16384), (size_t)3 * 16384 * 16384);
    cr_assert_eq(frame_bytes(PIXFMT_YUV420P, 0, 48), 0);
    cr_assert_eq(frame_bytes(PIXFMT_YUV420P, 64, -1), 0);
    cr_assert_eq(frame_bytes(PIXFMT_YUV420P, 16385, 48), 0);
    cr_assert_eq(frame_bytes((PixFmt)9, 64, 48), 0);
}

Test(y4m_frame, alloc_and_free)
{
    Err err = {{0}};
    Frame f;
    cr_assert_eq(frame_alloc(&f, PIXFMT_YUV422P, 5, 3, &err), 0);
    cr_assert_eq(f.stride[0], 5);
    cr_assert_eq(f.stride[1], 3);
    cr_assert_eq(f.stride[2], 3);
    cr_assert_eq(f.plane[2] + 3 * 3, f.plane[0] + frame_bytes(PIXFMT_YUV422P, 5, 3));
    for (size_t k = 0; k < frame_bytes(PIXFMT_YUV422P, 5, 3); k++)
        cr_assert_eq(f.plane[0][k], 0);
    frame_free(&f);
    cr_assert_null(f.plane[0]);
    frame_free(&f);
    frame_free(NULL);
    cr_assert_eq(frame_alloc(&f, PIXFMT_GRAY8, 0, 3, &err), -1);
    cr_assert(strstr(err.msg, "0x3"), "%s", err.msg);
    cr_assert_null(f.plane[0]);
    cr_assert_eq(frame_alloc(&f, PIXFMT_GRAY8, 3, 16385, &err), -1);
}

Test(y4m_frame, pixfmt_names)
{
    PixFmt f;
    Err err = {{0}};
    cr_assert_eq(pixfmt_parse("rgb24", &f, &err), 0);
    cr_assert_eq(f, PIXFMT_RGB24);
    cr_assert_eq(pixfmt_parse("yuv420p", &f, &err), 0);
    cr_assert_eq(f, PIXFMT_YUV420P);
    cr_assert_eq(pixfmt_parse("gray8", &f, &err), 0);
    cr_assert_eq(f, PIXFMT_GRAY8);
    cr_assert_eq(pixfmt_parse("nv12", &f, &err), -1);
    cr_assert(strstr(err.msg, "nv12") && strstr(err.msg, "rgb24"), "%s", err.msg);
    cr_assert_str_eq(pixfmt_name(PIXFMT_YUV444P), "yuv444p");
    cr_assert_str_eq(pixfmt_name(PIXFMT_GRAY8), "gray");
}

// Frames with padded rows (as a scaler may hand out) are read and written row by row.
Test(y4m_frame, padded_strides)
{
    Buf y4m = make_y4m("YUV4MPEG2 W5 H3 F25:1 Ip A1:1 C420jpeg", 2, 5 * 3 + 2 * 3 * 2, 0);
    FILE *in = mem_in(y4m.data, y4m.len);
    Err err = {{0}};
    FrameReader *r = y4m_reader_open(in, "stdin", &err);
    cr_assert_not_null(r, "%s", err.msg);
    uint8_t mem[3][64];
    memset(mem, 0xAA, sizeof mem);
    Frame f = {.plane = {mem[0], mem[1], mem[2]},
               .stride = {16, 8, 5},
               .width = 5,
               .height = 3,
               .fmt = PIXFMT_YUV420P};
    FILE *out = tmpfile();
    FrameWriter *w = y4m_writer_open(out, "stdout", frame_reader_info(r), &err);
    cr_assert_not_null(w, "%s", err.msg);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(frame_reader_next(r, &f, &err), 1, "%s", err.msg);
        const char *body = y4m.data + strlen("YUV4MPEG2 W5 H3 F25:1 Ip A1:1 C420jpeg\n") +
                           (size_t)i * (6 + 27) + 6;
        cr_assert_eq(mem[0][16 + 4], (uint8_t)body[5 + 4]); // Y (4, 1)
        cr_assert_eq(mem[0][5], 0xAA, "padding untouched");
        cr_assert_eq(mem[1][8 + 2], (uint8_t)body[15 + 3 + 2]);     // Cb (2, 1)
        cr_assert_eq(mem[2][5 + 2], (uint8_t)body[15 + 6 + 3 + 2]); // Cr (2, 1)
        cr_assert_eq(frame_writer_put(w, &f, &err), 0, "%s", err.msg);
    }
    cr_assert_eq(frame_reader_next(r, &f, &err), 0);
    frame_writer_close(w);
    Buf got = slurp(out);
    cr_assert_eq(got.len, y4m.len);
    cr_assert(memcmp(got.data, y4m.data, y4m.len) == 0);
    buf_free(&got);
    buf_free(&y4m);
    frame_reader_close(r);
    fclose(in);
    fclose(out);
}

Test(y4m_frame, wrong_frame_for_stream)
{
    Buf y4m = make_y4m("YUV4MPEG2 W4 H4 F25:1 C444", 1, 48, 0);
    FILE *in = mem_in(y4m.data, y4m.len);
    Err err = {{0}};
    FrameReader *r = y4m_reader_open(in, "stdin", &err);
    cr_assert_not_null(r, "%s", err.msg);
    Frame f;
    cr_assert_eq(frame_alloc(&f, PIXFMT_YUV420P, 4, 4, &err), 0);
    cr_assert_eq(frame_reader_next(r, &f, &err), -1);
    cr_assert(strstr(err.msg, "4x4 yuv420p") && strstr(err.msg, "4x4 yuv444p"), "%s", err.msg);
    FILE *out = tmpfile();
    FrameWriter *w = y4m_writer_open(out, "stdout", frame_reader_info(r), &err);
    cr_assert_not_null(w);
    cr_assert_eq(frame_writer_put(w, &f, &err), -1);
    cr_assert(strstr(err.msg, "yuv444p"), "%s", err.msg);
    frame_writer_close(w);
    frame_free(&f);
    frame_reader_close(r);
    buf_free(&y4m);
    fclose(in);
    fclose(out);
}

// ---------------------------------------------------------------------------------------------
// Headers: defaults and what the writer makes of them

// A header that leaves out F, I, A and C gets ffmpeg's defaults, written out in full.
Test(y4m_header, defaults_for_missing_tags)
{
    Buf y4m = make_y4m("YUV4MPEG2 W4 H2", 1, 12, 0);
    FILE *in = mem_in(y4m.data, y4m.len);
    Err err = {{0}};
    FrameReader *r = y4m_reader_open(in, "stdin", &err);
    cr_assert_not_null(r, "%s", err.msg);
    const StreamInfo *info = frame_reader_info(r);
    cr_assert_eq(info->fps_num, 25);
    cr_assert_eq(info->fps_den, 1);
    cr_assert(info->fps_assumed);
    cr_assert_eq(info->interlace, 'p');
    cr_assert_eq(info->sar_num, 0);
    cr_assert_eq(info->sar_den, 0);
    cr_assert_eq(info->fmt, PIXFMT_YUV420P);
    cr_assert_str_eq(info->colorspace, "420jpeg");
    cr_assert_str_eq(info->extra, "");
    char *mem = NULL;
    size_t memlen = 0;
    FILE *out = open_memstream(&mem, &memlen);
    FrameWriter *w = y4m_writer_open(out, "stdout", info, &err);
    cr_assert_not_null(w, "%s", err.msg);
    frame_writer_close(w);
    fclose(out);
    cr_assert_str_eq(mem, "YUV4MPEG2 W4 H2 F25:1 Ip A0:0 C420jpeg\n");
    free(mem);
    frame_reader_close(r);
    buf_free(&y4m);
    fclose(in);
}

Test(y4m_header, zero_frame_rate_is_assumed_25)
{
    static const char *const headers[] = {"YUV4MPEG2 W4 H2 F0:0 C444", "YUV4MPEG2 W4 H2 F30:0",
                                          "YUV4MPEG2 W4 H2 F0:1"};
    for (int i = 0; i < 3; i++) {
        Buf y4m = make_y4m(headers[i], 0, 0, 0);
        FILE *in = mem_in(y4m.data, y4m.len);
        Err err = {{0}};
        FrameReader *r = y4m_reader_open(in, "stdin", &err);
        cr_assert_not_null(r, "%s: %s", headers[i], err.msg);
        cr_assert(frame_reader_info(r)->fps_assumed, "%s", headers[i]);
        cr_assert_eq(frame_reader_info(r)->fps_num, 25);
        cr_assert_eq(frame_reader_info(r)->fps_den, 1);
        frame_reader_close(r);
        buf_free(&y4m);
        fclose(in);
    }
}

// Frame tags, extra spaces and unknown tags are accepted; the last of a repeated tag counts.
Test(y4m_header, tolerated_variations)
{
    const char *text = "YUV4MPEG2  W2 H2  Zfuture F50:2 W3 XA=1  Cmono XB=2 \n"
                       "FRAME Ixyz XFRAME=1\nabcdef"
                       "FRAME\nghijkl";
    FILE *in = str_in(text);
    Err err = {{0}};
    FrameReader *r = y4m_reader_open(in, "stdin", &err);
    cr_assert_not_null(r, "%s", err.msg);
    const StreamInfo *info = frame_reader_info(r);
    cr_assert_eq(info->width, 3);
    cr_assert_eq(info->height, 2);
    cr_assert_eq(info->fps_num, 50);
    cr_assert_eq(info->fps_den, 2);
    cr_assert_eq(info->fmt, PIXFMT_GRAY8);
    cr_assert_str_eq(info->extra, "XA=1 XB=2");
    Frame f;
    cr_assert_eq(frame_alloc(&f, info->fmt, info->width, info->height, &err), 0);
    cr_assert_eq(frame_reader_next(r, &f, &err), 1, "%s", err.msg);
    cr_assert(memcmp(f.plane[0], "abcdef", 6) == 0);
    cr_assert_eq(frame_reader_next(r, &f, &err), 1, "%s", err.msg);
    cr_assert(memcmp(f.plane[0], "ghijkl", 6) == 0);
    cr_assert_eq(frame_reader_next(r, &f, &err), 0, "%s", err.msg);
    frame_free(&f);
    frame_reader_close(r);
    fclose(in);
}

Test(y4m_header, writer_checks_info)
{
    StreamInfo info = {.width = 4,
                       .height = 2,
                       .fps_num = 24000,
                       .fps_den = 1001,
                       .sar_num = 1,
                       .sar_den = 1,
                       .interlace = 'p',
                       .fmt = PIXFMT_YUV444P};
    char *mem = NULL;
    size_t memlen = 0;
    FILE *out = open_memstream(&mem, &memlen);
    Err err = {{0}};
    FrameWriter *w = y4m_writer_open(out, "stdout", &info, &err); // colorspace from fmt
    cr_assert_not_null(w, "%s", err.msg);
    frame_writer_close(w);
    fflush(out);
    cr_assert_str_eq(mem, "YUV4MPEG2 W4 H2 F24000:1001 Ip A1:1 C444\n");
    strcpy(info.colorspace, "420paldv");
    cr_assert_null(y4m_writer_open(out, "stdout", &info, &err));
    cr_assert(strstr(err.msg, "C420paldv") && strstr(err.msg, "yuv444p"), "%s", err.msg);
    info.colorspace[0] = '\0';
    info.fps_num = 0;
    cr_assert_null(y4m_writer_open(out, "stdout", &info, &err));
    cr_assert(strstr(err.msg, "frame rate"), "%s", err.msg);
    info.fps_num = 25;
    info.width = 0;
    cr_assert_null(y4m_writer_open(out, "stdout", &info, &err));
    cr_assert(strstr(err.msg, "0x2"), "%s", err.msg);
    info.width = 4;
    strcpy(info.extra, "XA=1\nFRAME");
    cr_assert_null(y4m_writer_open(out, "stdout", &info, &err));
    cr_assert(strstr(err.msg, "X tags"), "%s", err.msg);
    fclose(out);
    free(mem);
}
