// y4m streams broken in every way (each refused with a clear reason, the frames before the
// damage kept), and pipes with short reads, EINTR and a closed reader.
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

// ---------------------------------------------------------------------------------------------
// Broken streams

Test(y4m_broken, empty_input)
{
    EXPECT_OPEN_ERROR("", "stdin: empty input", "YUV4MPEG2");
}

Test(y4m_broken, garbage)
{
    EXPECT_OPEN_ERROR("\x89PNG\r\n\x1a\n rest", "stdin: not a YUV4MPEG2 stream",
                      "\\x89PNG\\x0d\\n\\x1a");
    EXPECT_OPEN_ERROR("YUV4MPEG3 W4 H4\n", "not a YUV4MPEG2 stream", "YUV4MPEG3");
    EXPECT_OPEN_ERROR("YUV4MPEG2W4 H4\n", "not a YUV4MPEG2 stream", "YUV4MPEG2W4");
}

Test(y4m_broken, missing_size)
{
    EXPECT_OPEN_ERROR("YUV4MPEG2 H48 F25:1\n", "stdin: stream header has no W (width) tag");
    EXPECT_OPEN_ERROR("YUV4MPEG2 W64 F25:1\n", "stdin: stream header has no H (height) tag");
    EXPECT_OPEN_ERROR("YUV4MPEG2\n", "no W (width)");
}

Test(y4m_broken, bad_size)
{
    EXPECT_OPEN_ERROR("YUV4MPEG2 W0 H48\n", "W0", "width must be 1 to 16384");
    EXPECT_OPEN_ERROR("YUV4MPEG2 W64 H0\n", "H0", "height must be 1 to 16384");
    EXPECT_OPEN_ERROR("YUV4MPEG2 W16385 H48\n", "W16385", "1 to 16384");
    EXPECT_OPEN_ERROR("YUV4MPEG2 W-64 H48\n", "W-64 is not a valid width");
    EXPECT_OPEN_ERROR("YUV4MPEG2 W64x H48\n", "W64x is not a valid width");
    EXPECT_OPEN_ERROR("YUV4MPEG2 W99999999999999999999 H48\n", "not a valid width");
    EXPECT_OPEN_ERROR("YUV4MPEG2 W H48\n", "W is not a valid width");
}

Test(y4m_broken, bad_tags)
{
    EXPECT_OPEN_ERROR("YUV4MPEG2 W4 H4 F25\n", "F25 is not a frame rate");
    EXPECT_OPEN_ERROR("YUV4MPEG2 W4 H4 F-25:1\n", "F-25:1 is not a frame rate");
    EXPECT_OPEN_ERROR("YUV4MPEG2 W4 H4 A1\n", "A1 is not an aspect ratio");
    EXPECT_OPEN_ERROR("YUV4MPEG2 W4 H4 Ix\n", "Ix is not an interlacing mode");
    char longx[400] = "YUV4MPEG2 W4 H4 X";
    memset(longx + strlen(longx), 'a', 300);
    strcat(longx, "\n");
    EXPECT_OPEN_ERROR(longx, "X tags are longer than 255 bytes");
}

Test(y4m_broken, unknown_colorspace)
{
    EXPECT_OPEN_ERROR("YUV4MPEG2 W4 H4 Cfoo\n", "stdin: unknown colour space Cfoo", "C420jpeg",
                      "yuv420p");
    EXPECT_OPEN_ERROR("YUV4MPEG2 W4 H4 C\n", "unknown colour space C;");
    EXPECT_OPEN_ERROR("YUV4MPEG2 W4 H4 C420jpegjpegjpegjpeg\n", "unknown colour space");
}

Test(y4m_broken, deep_colorspaces)
{
    EXPECT_OPEN_ERROR("YUV4MPEG2 W4 H4 F25:1 C420p10 XYSCSS=420P10\n",
                      "stdin: colour space C420p10 is 10 bits per sample",
                      "8-bit yuv420p, yuv422p, yuv444p and gray", "-pix_fmt yuv420p");
    EXPECT_OPEN_ERROR("YUV4MPEG2 W4 H4 C422p12\n", "C422p12 is 12 bits");
    EXPECT_OPEN_ERROR("YUV4MPEG2 W4 H4 C444p16\n", "C444p16 is 16 bits");
    EXPECT_OPEN_ERROR("YUV4MPEG2 W4 H4 Cmono16\n", "Cmono16 is 16 bits");
    EXPECT_OPEN_ERROR("YUV4MPEG2 W4 H4 C420p9\n", "C420p9 is 9 bits");
    EXPECT_OPEN_ERROR("YUV4MPEG2 W4 H4 C444alpha\n", "C444alpha", "alpha", "yuv444p");
}

Test(y4m_broken, truncated_header)
{
    EXPECT_OPEN_ERROR("YUV4MPEG2 W64 H48 F25:1", "stdin: truncated stream header",
                      "23 bytes, before the newline");
    EXPECT_OPEN_ERROR("YUV4M", "truncated stream header", "after 5 bytes");
    EXPECT_OPEN_ERROR("YUV4MPEG2", "truncated stream header");
}

Test(y4m_broken, header_too_long)
{
    char text[3000] = "YUV4MPEG2 W4 H4 ";
    memset(text + strlen(text), 'Z', 2500);
    EXPECT_OPEN_ERROR(text, "stream header is longer than 1024 bytes");
}

// Reads frames of a broken stream until the error; returns the frames read before it.
static int frames_until_error(const Buf *y4m, Err *err)
{
    FILE *in = mem_in(y4m->data, y4m->len);
    FrameReader *r = y4m_reader_open(in, "stdin", err);
    cr_assert_not_null(r, "%s", err->msg);
    const StreamInfo *info = frame_reader_info(r);
    Frame f;
    cr_assert_eq(frame_alloc(&f, info->fmt, info->width, info->height, err), 0);
    int n = 0, rc;
    while ((rc = frame_reader_next(r, &f, err)) == 1)
        n++;
    cr_assert_eq(rc, -1, "no error after %d frames", n);
    Err again = {{0}};
    cr_assert_eq(frame_reader_next(r, &f, &again), -1, "a failed reader stays failed");
    frame_free(&f);
    frame_reader_close(r);
    fclose(in);
    return n;
}

Test(y4m_broken, frame_truncated_mid_plane)
{
    // 64x48 4:2:0 = 4608 bytes a frame; the second frame stops inside its Cb plane.
    Buf y4m = make_y4m("YUV4MPEG2 W64 H48 F25:1 C420jpeg", 2, 4608, 4608 - 3500);
    Err err = {{0}};
    cr_assert_eq(frames_until_error(&y4m, &err), 1);
    cr_assert_str_eq(err.msg, "stdin: frame 2 is truncated: 3500 of 4608 bytes");
    buf_free(&y4m);
}

Test(y4m_broken, stream_ends_after_frame_line)
{
    Buf y4m = make_y4m("YUV4MPEG2 W64 H48 F25:1 C420jpeg", 1, 4608, 4608);
    Err err = {{0}};
    cr_assert_eq(frames_until_error(&y4m, &err), 0);
    cr_assert_str_eq(err.msg, "stdin: frame 1 is truncated: 0 of 4608 bytes");
    buf_free(&y4m);
}

Test(y4m_broken, stream_ends_inside_frame_line)
{
    Buf y4m = make_y4m("YUV4MPEG2 W4 H4 Cmono", 2, 16, 16 + 3); // "...FRA"
    Err err = {{0}};
    cr_assert_eq(frames_until_error(&y4m, &err), 1);
    cr_assert_str_eq(err.msg, "stdin: frame 2: the input ends inside its FRAME line");
    buf_free(&y4m);
    y4m = make_y4m("YUV4MPEG2 W4 H4 Cmono", 2, 16, 16 + 1); // "...FRAME" without '\n'
    cr_assert_eq(frames_until_error(&y4m, &err), 1);
    cr_assert_str_eq(err.msg, "stdin: frame 2: the input ends inside its FRAME line");
    buf_free(&y4m);
}

Test(y4m_broken, framx_instead_of_frame)
{
    Buf y4m = make_y4m("YUV4MPEG2 W4 H4 Cmono", 3, 16, 0);
    memcpy(y4m.data + strlen("YUV4MPEG2 W4 H4 Cmono\n") + 2 * 22, "FRAMX", 5);
    Err err = {{0}};
    cr_assert_eq(frames_until_error(&y4m, &err), 2);
    cr_assert(strstr(err.msg, "stdin: frame 3: expected \"FRAME\" but found \"FRAMX\""), "%s",
              err.msg);
    buf_free(&y4m);
    y4m = make_y4m("YUV4MPEG2 W4 H4 Cmono", 2, 16, 0);
    y4m.data[strlen("YUV4MPEG2 W4 H4 Cmono\n") + 22 + 5] = 'S'; // "FRAMES"
    cr_assert_eq(frames_until_error(&y4m, &err), 1);
    cr_assert(strstr(err.msg, "frame 2: expected \"FRAME\" but found \"FRAMES"), "%s", err.msg);
    buf_free(&y4m);
}

// A header that says 4x4 over frames of 5x4: the next "FRAME" is not where it should be.
Test(y4m_broken, frames_larger_than_header_says)
{
    Buf y4m = make_y4m("YUV4MPEG2 W4 H4 Cmono", 2, 20, 0);
    Err err = {{0}};
    cr_assert_eq(frames_until_error(&y4m, &err), 1);
    cr_assert(strstr(err.msg, "frame 2: expected \"FRAME\"") && strstr(err.msg, "W, H or C"), "%s",
              err.msg);
    buf_free(&y4m);
}

Test(y4m_broken, frame_line_too_long)
{
    Buf head = make_y4m("YUV4MPEG2 W4 H4 Cmono", 0, 0, 0);
    size_t len = head.len + 600;
    char *text = malloc(len);
    memcpy(text, head.data, head.len);
    memcpy(text + head.len, "FRAME ", 6);
    memset(text + head.len + 6, 'X', 594);
    Buf y4m = {text, len};
    Err err = {{0}};
    cr_assert_eq(frames_until_error(&y4m, &err), 0);
    cr_assert(strstr(err.msg, "frame 1: FRAME line longer than 256 bytes"), "%s", err.msg);
    buf_free(&y4m);
    buf_free(&head);
}

// ---------------------------------------------------------------------------------------------
// Pipes

static void on_alarm(int sig)
{
    (void)sig;
}

// Interrupts blocking reads and writes every 300 us (no SA_RESTART: they fail with EINTR).
static void start_interrupting(void)
{
    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    cr_assert_eq(sigaction(SIGALRM, &sa, NULL), 0);
    struct itimerval it = {.it_interval = {0, 300}, .it_value = {0, 300}};
    cr_assert_eq(setitimer(ITIMER_REAL, &it, NULL), 0);
}

static void stop_interrupting(void)
{
    struct itimerval it = {0};
    setitimer(ITIMER_REAL, &it, NULL);
}

// A child writes a stream in 7-byte pieces with pauses; the reader sees short reads and EINTR.
Test(y4m_pipe, short_reads_and_eintr)
{
    enum { FRAMES = 4 };
    Buf y4m = make_y4m("YUV4MPEG2 W16 H8 F25:1 Ip A1:1 C420jpeg XYSCSS=420JPEG", FRAMES, 192, 0);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        for (size_t off = 0; off < y4m.len; off += 7) {
            size_t n = y4m.len - off < 7 ? y4m.len - off : 7;
            if (write(fds[1], y4m.data + off, n) != (ssize_t)n)
                _exit(1);
            usleep(200);
        }
        _exit(0);
    }
    close(fds[1]);
    FILE *in = fdopen(fds[0], "r");
    cr_assert_not_null(in);
    start_interrupting();
    Err err = {{0}};
    FrameReader *r = y4m_reader_open(in, "stdin", &err);
    cr_assert_not_null(r, "%s", err.msg);
    cr_assert_str_eq(frame_reader_info(r)->extra, "XYSCSS=420JPEG");
    Frame f;
    cr_assert_eq(frame_alloc(&f, PIXFMT_YUV420P, 16, 8, &err), 0);
    const char *body = y4m.data + y4m.len - (size_t)FRAMES * (6 + 192) + 6;
    for (int i = 0; i < FRAMES; i++) {
        cr_assert_eq(frame_reader_next(r, &f, &err), 1, "frame %d: %s", i + 1, err.msg);
        assert_frame_bytes(&f, body + (size_t)i * (6 + 192), 192, "piped frame");
    }
    cr_assert_eq(frame_reader_next(r, &f, &err), 0, "%s", err.msg);
    stop_interrupting();
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    frame_free(&f);
    frame_reader_close(r);
    fclose(in);
    buf_free(&y4m);
}

// Frames much larger than the pipe's buffer, written while signals keep interrupting the writes
// and a slow child reads; the child checks every byte.
Test(y4m_pipe, large_writes_with_eintr)
{
    enum { W = 640, H = 480, FRAMES = 3 };
    size_t fb = frame_bytes(PIXFMT_YUV444P, W, H);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    const char *header = "YUV4MPEG2 W640 H480 F25:1 Ip A1:1 C444\n";
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        close(fds[1]);
        FILE *in = fdopen(fds[0], "r");
        char line[128];
        if (!fgets(line, sizeof line, in) || strcmp(line, header) != 0)
            _exit(2);
        for (int i = 0; i < FRAMES; i++) {
            if (!fgets(line, sizeof line, in) || strcmp(line, "FRAME\n") != 0)
                _exit(3);
            for (size_t k = 0; k < fb; k++) {
                if (getc(in) != (int)((k * 5 + (size_t)i) & 255))
                    _exit(4);
                if (k % 100000 == 0)
                    usleep(1000);
            }
        }
        _exit(getc(in) == EOF ? 0 : 5);
    }
    close(fds[0]);
    FILE *out = fdopen(fds[1], "w");
    cr_assert_not_null(out);
    StreamInfo info = {.width = W,
                       .height = H,
                       .fps_num = 25,
                       .fps_den = 1,
                       .sar_num = 1,
                       .sar_den = 1,
                       .interlace = 'p',
                       .fmt = PIXFMT_YUV444P};
    Err err = {{0}};
    start_interrupting();
    FrameWriter *w = y4m_writer_open(out, "stdout", &info, &err);
    cr_assert_not_null(w, "%s", err.msg);
    Frame f;
    cr_assert_eq(frame_alloc(&f, PIXFMT_YUV444P, W, H, &err), 0);
    for (int i = 0; i < FRAMES; i++) {
        for (size_t k = 0; k < fb; k++)
            f.plane[0][k] = (uint8_t)((k * 5 + (size_t)i) & 255);
        cr_assert_eq(frame_writer_put(w, &f, &err), 0, "%s", err.msg);
    }
    frame_writer_close(w);
    fclose(out);
    stop_interrupting();
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the reader saw other bytes (status %d)",
              WEXITSTATUS(st));
    frame_free(&f);
}

Test(y4m_pipe, closed_reader_is_an_error)
{
    signal(SIGPIPE, SIG_IGN);
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    FILE *out = fdopen(fds[1], "w");
    cr_assert_not_null(out);
    StreamInfo info = {.width = 64,
                       .height = 48,
                       .fps_num = 25,
                       .fps_den = 1,
                       .interlace = 'p',
                       .fmt = PIXFMT_YUV420P};
    Err err = {{0}};
    FrameWriter *w = y4m_writer_open(out, "stdout", &info, &err);
    cr_assert_not_null(w, "%s", err.msg);
    Frame f;
    cr_assert_eq(frame_alloc(&f, PIXFMT_YUV420P, 64, 48, &err), 0);
    cr_assert_eq(frame_writer_put(w, &f, &err), 0, "%s", err.msg);
    close(fds[0]); // downstream goes away
    cr_assert_eq(frame_writer_put(w, &f, &err), -1);
    cr_assert(strstr(err.msg, "stdout:") && strstr(err.msg, "EPIPE") &&
                  strstr(err.msg, "frame 2") && strstr(err.msg, "1 frames were written"),
              "%s", err.msg);
    cr_assert_eq(frame_writer_put(w, &f, &err), -1, "a failed writer stays failed");
    frame_writer_close(w);
    fclose(out);
    frame_free(&f);
}

// Through stdio too (a descriptor-less stream that fails), the error comes back.
Test(y4m_pipe, full_stdio_stream_is_an_error)
{
    char small[64];
    FILE *out = fmemopen(small, sizeof small, "w");
    cr_assert_not_null(out);
    StreamInfo info = {.width = 64,
                       .height = 48,
                       .fps_num = 25,
                       .fps_den = 1,
                       .interlace = 'p',
                       .fmt = PIXFMT_GRAY8};
    Err err = {{0}};
    FrameWriter *w = y4m_writer_open(out, "out.y4m", &info, &err);
    cr_assert_not_null(w, "%s", err.msg);
    Frame f;
    cr_assert_eq(frame_alloc(&f, PIXFMT_GRAY8, 64, 48, &err), 0);
    cr_assert_eq(frame_writer_put(w, &f, &err), -1);
    cr_assert(strstr(err.msg, "out.y4m: cannot write frame 1"), "%s", err.msg);
    frame_writer_close(w);
    fclose(out);
    frame_free(&f);
}
