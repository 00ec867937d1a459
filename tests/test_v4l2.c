// V4L2 capture and output against a fake kernel (tests/fake_v4l2.h). Covers negotiation,
// streaming, EAGAIN,
// EBUSY, unplugging, devices of the wrong kind, listing, buffer release and loopback output.
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capture/v4l2.h"
#include "fake_v4l2.h"

TestSuite(v4l2, .init = fake_reset);

// ---- negotiation ---------------------------------------------------------------------------

static V4l2Camera *open_ok(const char *path, int w, int h, int fps)
{
    Err err = {{0}};
    V4l2Camera *c = v4l2_camera_open(&fake_sys, path, w, h, fps, &err);
    cr_assert_not_null(c, "open failed: %s", err.msg);
    return c;
}

Test(v4l2, negotiates_640x480_at_30_yuyv)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    V4l2Camera *c = open_ok("/dev/video0", 640, 480, 30);
    const V4l2Mode *m = v4l2_camera_mode(c);
    cr_assert_eq(m->fourcc, V4L2_PIX_FMT_YUYV);
    cr_assert_eq(m->width, 640);
    cr_assert_eq(m->height, 480);
    cr_assert_eq(m->fps_num, 30);
    cr_assert_eq(m->fps_den, 1);
    cr_assert_eq(v4l2_camera_stride(c), 1280);
    cr_assert_eq(d->sparm_calls, 1);
    cr_assert_eq(d->ival_den, 30);
    cr_assert_eq(d->reqbufs_asked, 4);
    cr_assert_eq(fake_kernel.mmaps, 4);
    cr_assert_eq(d->qlen, 4, "every buffer queued");
    cr_assert(d->streaming);
    v4l2_camera_close(c);
    cr_assert_eq(d->streamoffs, 1);
    assert_released();
}

Test(v4l2, request_of_800x600_gets_the_nearest_size)
{
    fake_add("/dev/video0", CAM);
    V4l2Camera *c = open_ok("/dev/video0", 800, 600, 30);
    const V4l2Mode *m = v4l2_camera_mode(c);
    cr_assert_eq(m->fourcc, V4L2_PIX_FMT_YUYV);
    cr_assert_eq(m->width, 640); // |160|+|120| beats |480|+|120|
    cr_assert_eq(m->height, 480);
    v4l2_camera_close(c);
    assert_released();
}

Test(v4l2, large_request_gets_the_largest_size_and_the_nearest_rate)
{
    fake_add("/dev/video0", CAM);
    V4l2Camera *c = open_ok("/dev/video0", 1920, 1080, 60);
    const V4l2Mode *m = v4l2_camera_mode(c);
    cr_assert_eq(m->width, 1280);
    cr_assert_eq(m->height, 720);
    cr_assert_eq(m->fps_num, 30);
    cr_assert_eq(m->fps_den, 1);
    v4l2_camera_close(c);

    c = open_ok("/dev/video0", 640, 480, 12); // 15 is nearer than 30
    cr_assert_eq(v4l2_camera_mode(c)->fps_num, 15);
    cr_assert_eq(fake_kernel.dev[0].ival_den, 15);
    v4l2_camera_close(c);
    assert_released();
}

Test(v4l2, mjpeg_only_camera)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    d->fmts[0] = V4L2_PIX_FMT_MJPEG;
    d->nfmts = 1;
    V4l2Camera *c = open_ok("/dev/video0", 640, 480, 30);
    const V4l2Mode *m = v4l2_camera_mode(c);
    cr_assert_eq(m->fourcc, V4L2_PIX_FMT_MJPEG);
    cr_assert_eq(m->width, 640);
    cr_assert_eq(m->height, 480);
    const uint8_t *data = NULL;
    size_t len = 0;
    int64_t ts = 0;
    Err err = {{0}};
    cr_assert_eq(v4l2_camera_next(c, 100, &data, &len, &ts, &err), 1, "%s", err.msg);
    cr_assert_eq(len, 640 * 480 / 2, "bytesused, not the buffer length");
    v4l2_camera_close(c);
    assert_released();
}

Test(v4l2, mjpeg_when_yuyv_cannot_reach_the_rate)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    d->yuyv_720_slow = 1;
    V4l2Camera *c = open_ok("/dev/video0", 1280, 720, 30);
    cr_assert_eq(v4l2_camera_mode(c)->fourcc, V4L2_PIX_FMT_MJPEG);
    cr_assert_eq(v4l2_camera_mode(c)->fps_num, 30);
    v4l2_camera_close(c);
    c = open_ok("/dev/video0", 1280, 720, 15);
    cr_assert_eq(v4l2_camera_mode(c)->fourcc, V4L2_PIX_FMT_YUYV);
    cr_assert_eq(v4l2_camera_mode(c)->fps_num, 15);
    v4l2_camera_close(c);
    assert_released();
}

Test(v4l2, camera_without_yuyv_or_mjpeg_says_what_it_offers)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    d->fmts[0] = V4L2_PIX_FMT_GREY;
    d->nfmts = 1;
    Err err = {{0}};
    cr_assert_null(v4l2_camera_open(&fake_sys, "/dev/video0", 640, 480, 30, &err));
    cr_assert(strstr(err.msg, "/dev/video0") && strstr(err.msg, "neither YUYV nor MJPEG"), "%s",
              err.msg);
    cr_assert(strstr(err.msg, "GREY 640x480 1280x720"), "%s", err.msg);
    assert_released();
}

// ---- streaming -----------------------------------------------------------------------------

static void check_frame(const uint8_t *data, size_t len, uint32_t seq)
{
    cr_assert_eq(len, 640 * 480 * 2);
    uint32_t got;
    memcpy(&got, data, 4);
    cr_assert_eq(got, seq, "frame %u carries %u", seq, got);
    for (size_t k = 4; k < len; k += 997)
        cr_assert_eq(data[k], (uint8_t)(seq + k), "frame %u byte %zu", seq, k);
    cr_assert_eq(data[len - 1], (uint8_t)(seq + len - 1));
}

Test(v4l2, streams_ten_frames_with_increasing_timestamps)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    V4l2Camera *c = open_ok("/dev/video0", 640, 480, 30);
    int64_t prev = 0;
    for (uint32_t i = 0; i < 10; i++) {
        const uint8_t *data = NULL;
        size_t len = 0;
        int64_t ts = 0;
        Err err = {{0}};
        cr_assert_eq(v4l2_camera_next(c, 100, &data, &len, &ts, &err), 1, "frame %u: %s", i,
                     err.msg);
        check_frame(data, len, i);
        cr_assert_eq(ts, TS0_US + (int64_t)i * FRAME_US);
        if (i > 0)
            cr_assert_eq(ts - prev, FRAME_US);
        prev = ts;
        cr_assert_eq(d->qlen, 3, "the previous buffer went back, this one is held");
    }
    v4l2_camera_close(c);
    assert_released();
}

Test(v4l2, eagain_is_retried)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    V4l2Camera *c = open_ok("/dev/video0", 640, 480, 30);
    d->eagain_once = 1;
    const uint8_t *data = NULL;
    size_t len = 0;
    int64_t ts = 0;
    Err err = {{0}};
    cr_assert_eq(v4l2_camera_next(c, 100, &data, &len, &ts, &err), 1, "%s", err.msg);
    cr_assert_eq(d->dqbuf_calls, 2);
    check_frame(data, len, 0);
    cr_assert_eq(ts, TS0_US);
    v4l2_camera_close(c);
    assert_released();
}

Test(v4l2, timeout_returns_zero)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    V4l2Camera *c = open_ok("/dev/video0", 640, 480, 30);
    d->stall = 1;
    const uint8_t *data = (const uint8_t *)"x";
    size_t len = 7;
    int64_t ts = 0;
    Err err = {{0}};
    cr_assert_eq(v4l2_camera_next(c, 5, &data, &len, &ts, &err), 0);
    cr_assert_null(data);
    cr_assert_eq(len, 0);
    d->stall = 0;
    cr_assert_eq(v4l2_camera_next(c, 5, &data, &len, &ts, &err), 1, "%s", err.msg);
    check_frame(data, len, 0);
    v4l2_camera_close(c);
    assert_released();
}

Test(v4l2, corrupt_frame_is_skipped)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    d->error_seq = 1;
    V4l2Camera *c = open_ok("/dev/video0", 640, 480, 30);
    const uint32_t want[] = {0, 2, 3, 4, 5, 6};
    for (int i = 0; i < 6; i++) {
        const uint8_t *data = NULL;
        size_t len = 0;
        int64_t ts = 0;
        Err err = {{0}};
        cr_assert_eq(v4l2_camera_next(c, 100, &data, &len, &ts, &err), 1, "%s", err.msg);
        check_frame(data, len, want[i]);
    }
    v4l2_camera_close(c);
    assert_released();
}

static void unplug_test(int by_poll)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    d->unplug_after = 5;
    d->unplug_by_poll = by_poll;
    V4l2Camera *c = open_ok("/dev/video0", 640, 480, 30);
    const uint8_t *data = NULL;
    size_t len = 0;
    int64_t ts = 0;
    Err err = {{0}};
    for (uint32_t i = 0; i < 5; i++) {
        cr_assert_eq(v4l2_camera_next(c, 100, &data, &len, &ts, &err), 1, "%s", err.msg);
        check_frame(data, len, i);
    }
    int r = v4l2_camera_next(c, 100, &data, &len, &ts, &err);
    cr_assert_eq(r, -1);
    cr_assert(strstr(err.msg, "/dev/video0") && strstr(err.msg, "the camera was unplugged"), "%s",
              err.msg);
    cr_assert_null(data);
    v4l2_camera_close(c); // STREAMOFF fails with ENODEV: the buffers are released all the same
    assert_released();
}

Test(v4l2, unplugged_mid_stream_dqbuf_enodev)
{
    unplug_test(0);
}

Test(v4l2, unplugged_mid_stream_pollerr)
{
    unplug_test(1);
}

// ---- open errors ---------------------------------------------------------------------------

Test(v4l2, busy_at_open)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    d->open_errno = EBUSY;
    Err err = {{0}};
    cr_assert_null(v4l2_camera_open(&fake_sys, "/dev/video0", 640, 480, 30, &err));
    cr_assert_str_eq(err.msg, "/dev/video0 is busy: another program is using the camera");
    assert_released();
}

Test(v4l2, busy_at_set_format)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    d->sfmt_errno = EBUSY;
    Err err = {{0}};
    cr_assert_null(v4l2_camera_open(&fake_sys, "/dev/video0", 640, 480, 30, &err));
    cr_assert_str_eq(err.msg, "/dev/video0 is busy: another program is using the camera");
    cr_assert_eq(fake_kernel.opens, 1);
    assert_released();
}

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_v4l2_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

// An empty file named dir/name, so that the directory scan finds it.
static void touch(const char *name, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", tmpdir, name);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    cr_assert_geq(fd, 0);
    close(fd);
}

static void remove_tmpdir(const char *const *names, int n)
{
    char path[256];
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
        unlink(path);
    }
    rmdir(tmpdir);
}

Test(v4l2, no_such_device_names_the_cameras_there)
{
    make_tmpdir();
    const char *names[] = {"video0", "video1", "video2"};
    char p0[256], p1[256], p2[256];
    touch(names[0], p0, sizeof p0);
    touch(names[1], p1, sizeof p1);
    touch(names[2], p2, sizeof p2);
    fake_add(p1, META); // a UVC metadata node: not a camera
    fake_add(p2, CAM);
    char missing[300];
    snprintf(missing, sizeof missing, "%s/video0", tmpdir);
    Err err = {{0}};
    cr_assert_null(v4l2_camera_open(&fake_sys, missing, 640, 480, 30, &err));
    char want[700];
    snprintf(want, sizeof want,
             "%s: no such device (No such file or directory); cameras here: %s (Fake Camera)",
             missing, p2);
    cr_assert_str_eq(err.msg, want);
    assert_released();
    remove_tmpdir(names, 3);
}

Test(v4l2, no_such_device_with_the_real_calls)
{
    Err err = {{0}};
    cr_assert_null(
        v4l2_camera_open(&v4l2_sys_real, "/nonexistent-ageshift/video0", 640, 480, 30, &err));
    cr_assert_str_eq(err.msg, "/nonexistent-ageshift/video0: no such device (No such file or "
                              "directory); cameras here: none");
}

Test(v4l2, not_a_capture_device)
{
    fake_add("/dev/video1", META);
    Err err = {{0}};
    cr_assert_null(v4l2_camera_open(&fake_sys, "/dev/video1", 640, 480, 30, &err));
    cr_assert(strstr(err.msg, "/dev/video1 (Fake Camera) is not a video capture device"), "%s",
              err.msg);
    assert_released();
    fake_reset();
    fake_add("/dev/video9", OUT);
    cr_assert_null(v4l2_camera_open(&fake_sys, "/dev/video9", 640, 480, 30, &err));
    cr_assert(strstr(err.msg, "is not a video capture device"), "%s", err.msg);
    assert_released();
}

Test(v4l2, capture_device_without_streaming)
{
    FakeDev *d = fake_add("/dev/video0", CAM);
    d->no_streaming = 1;
    Err err = {{0}};
    cr_assert_null(v4l2_camera_open(&fake_sys, "/dev/video0", 640, 480, 30, &err));
    cr_assert(strstr(err.msg, "/dev/video0 (Fake Camera) cannot stream"), "%s", err.msg);
    assert_released();
}

Test(v4l2, invalid_request_and_null_close)
{
    Err err = {{0}};
    cr_assert_null(v4l2_camera_open(&fake_sys, "/dev/video0", 0, 480, 30, &err));
    cr_assert(strstr(err.msg, "invalid request"), "%s", err.msg);
    cr_assert_null(v4l2_camera_open(&fake_sys, "/dev/video0", 640, 480, -1, &err));
    v4l2_camera_close(NULL);
    v4l2_output_close(NULL);
    cr_assert_eq(fake_kernel.opens, 0);
}

// ---- listing -------------------------------------------------------------------------------

typedef struct {
    char lines[16][512];
    int n;
} Lines;

static void collect(void *ctx, const char *text)
{
    Lines *l = ctx;
    cr_assert_lt(l->n, 16, "too many lines");
    snprintf(l->lines[l->n++], sizeof l->lines[0], "%s", text);
}

Test(v4l2, lists_capture_devices_and_their_modes)
{
    make_tmpdir();
    const char *names[] = {"video10", "video0", "video1", "foo", "video2x"};
    char p10[256], p0[256], p1[256], other[256];
    touch(names[0], p10, sizeof p10);
    touch(names[1], p0, sizeof p0);
    touch(names[2], p1, sizeof p1);
    touch(names[3], other, sizeof other);
    touch(names[4], other, sizeof other);
    FakeDev *cam = fake_add(p0, CAM);
    cam->yuyv_720_slow = 1;
    fake_add(p1, META);
    fake_add(p10, CAM)->open_errno = EACCES;
    Lines l;
    memset(&l, 0, sizeof l);
    Err err = {{0}};
    cr_assert_eq(v4l2_list_devices(&fake_sys, tmpdir, collect, &l, &err), 1, "%s", err.msg);
    cr_assert_eq(l.n, 5);
    const char *want[] = {
        "%s (Fake Camera): YUYV 640x480 at 30, 15 fps",
        "%s (Fake Camera): YUYV 1280x720 at 15 fps",
        "%s (Fake Camera): MJPG 640x480 at 30, 15 fps",
        "%s (Fake Camera): MJPG 1280x720 at 30, 15 fps",
    };
    for (int i = 0; i < 4; i++) {
        char w[512];
        snprintf(w, sizeof w, want[i], p0);
        cr_assert_str_eq(l.lines[i], w);
    }
    char w[512];
    snprintf(w, sizeof w, "%s: cannot open: Permission denied", p10);
    cr_assert_str_eq(l.lines[4], w, "video10 sorts after video1");
    assert_released();
    remove_tmpdir(names, 5);
}

Test(v4l2, listing_a_missing_directory_fails)
{
    Lines l;
    memset(&l, 0, sizeof l);
    Err err = {{0}};
    cr_assert_eq(v4l2_list_devices(&v4l2_sys_real, "/nonexistent-ageshift", collect, &l, &err), -1);
    cr_assert(strstr(err.msg, "/nonexistent-ageshift: cannot list devices: No such file"), "%s",
              err.msg);
    cr_assert_eq(l.n, 0);
}

// ---- output --------------------------------------------------------------------------------

Test(v4l2, output_sets_the_format_and_writes_frames)
{
    FakeDev *d = fake_add("/dev/video20", OUT);
    size_t frame = 640 * 480 * 2;
    d->sink_cap = 2 * frame;
    d->sink = malloc(d->sink_cap);
    d->max_write = 100000; // short writes, as a pipe or a busy driver may do
    Err err = {{0}};
    V4l2Output *o = v4l2_output_open(&fake_sys, "/dev/video20", 640, 480, V4L2_PIX_FMT_YUYV, &err);
    cr_assert_not_null(o, "%s", err.msg);
    cr_assert_eq(d->out_type, V4L2_BUF_TYPE_VIDEO_OUTPUT);
    cr_assert_eq(d->out_fmt.pixelformat, V4L2_PIX_FMT_YUYV);
    cr_assert_eq(d->out_fmt.width, 640);
    cr_assert_eq(d->out_fmt.height, 480);
    cr_assert_eq(d->out_fmt.bytesperline, 1280);
    cr_assert_eq(d->out_fmt.sizeimage, frame);
    cr_assert_eq(v4l2_output_frame_size(o), frame);
    uint8_t *pix = malloc(frame);
    for (size_t i = 0; i < frame; i++)
        pix[i] = (uint8_t)(i * 31 + 7);
    cr_assert_eq(v4l2_output_write(o, pix, frame, &err), 0, "%s", err.msg);
    cr_assert_eq(d->written, frame);
    cr_assert_eq(d->writes, 7); // 6 x 100000 + 14400
    cr_assert_eq(memcmp(d->sink, pix, frame), 0);
    cr_assert_eq(v4l2_output_write(o, pix, frame - 1, &err), -1);
    cr_assert(strstr(err.msg, "frame of 614399 bytes, the output takes 614400"), "%s", err.msg);
    cr_assert_eq(d->written, frame);
    v4l2_output_close(o);
    free(pix);
    free(d->sink);
    assert_released();
}

Test(v4l2, output_yuv420_and_errors)
{
    FakeDev *d = fake_add("/dev/video20", OUT);
    fake_add("/dev/video0", CAM);
    Err err = {{0}};
    V4l2Output *o =
        v4l2_output_open(&fake_sys, "/dev/video20", 320, 240, V4L2_PIX_FMT_YUV420, &err);
    cr_assert_not_null(o, "%s", err.msg);
    cr_assert_eq(d->out_fmt.pixelformat, V4L2_PIX_FMT_YUV420);
    cr_assert_eq(d->out_fmt.sizeimage, 320 * 240 * 3 / 2);
    cr_assert_eq(v4l2_output_frame_size(o), 320 * 240 * 3 / 2);
    v4l2_output_close(o);

    cr_assert_null(v4l2_output_open(&fake_sys, "/dev/video0", 320, 240, V4L2_PIX_FMT_YUYV, &err));
    cr_assert(strstr(err.msg, "/dev/video0 (Fake Camera) is not a video output device"), "%s",
              err.msg);
    cr_assert_null(v4l2_output_open(&fake_sys, "/dev/video20", 320, 240, V4L2_PIX_FMT_MJPEG, &err));
    cr_assert(strstr(err.msg, "MJPG not supported"), "%s", err.msg);
    cr_assert_null(
        v4l2_output_open(&fake_sys, "/dev/video20", 321, 240, V4L2_PIX_FMT_YUV420, &err));
    cr_assert(strstr(err.msg, "invalid output size 321x240"), "%s", err.msg);
    cr_assert_null(v4l2_output_open(&fake_sys, "/dev/video77", 320, 240, V4L2_PIX_FMT_YUYV, &err));
    cr_assert(strstr(err.msg, "/dev/video77: no such device"), "%s", err.msg);
    assert_released();
}
