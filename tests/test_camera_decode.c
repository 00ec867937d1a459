// Camera buffers to RGB: YUYV pixels (packed and with padded lines), MJPEG frames made by
// ffmpeg, and every damaged or impossible buffer a driver could hand over: too short, ending
// where the mapping ends, undecodable, of another size, with a mode out of range.
#include <criterion/criterion.h>

#include <libavutil/log.h>
#include <linux/videodev2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture/camera_decode.h"
#include "tests/guarded.h"

#define FFMPEG "/usr/bin/ffmpeg"

// A w x h YUYV frame with lines STRIDE bytes apart (padding 0xAA): the left half of each row
// white (Y 235), the right half black (Y 16), no colour (U = V = 128).
static uint8_t *yuyv_frame(int w, int h, size_t stride)
{
    uint8_t *f = malloc(stride * (size_t)h);
    cr_assert_not_null(f);
    memset(f, 0xAA, stride * (size_t)h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = f + (size_t)y * stride + 2 * (size_t)x;
            p[0] = x < w / 2 ? 235 : 16;
            p[1] = 128;
        }
    return f;
}

static void expect_halves(const Image *rgb)
{
    for (int y = 0; y < rgb->h; y++)
        for (int x = 0; x < rgb->w; x++)
            for (int c = 0; c < 3; c++) {
                int v = rgb->rgb[3 * ((size_t)y * rgb->w + x) + c];
                int want = x < rgb->w / 2 ? 255 : 0;
                cr_expect(abs(v - want) <= 2, "pixel (%d, %d) channel %d is %d, expected %d", x, y,
                          c, v, want);
            }
}

Test(camera_decode, yuyv_packed_and_padded_lines)
{
    const size_t strides[] = {0, 8 * 2, 8 * 2 + 24};
    for (size_t i = 0; i < 3; i++) {
        Err err;
        CameraDecoder *d =
            camera_decoder_create("/dev/video9", V4L2_PIX_FMT_YUYV, 8, 4, strides[i], &err);
        cr_assert_not_null(d, "%s", err.msg);
        size_t stride = strides[i] ? strides[i] : 16;
        uint8_t *f = yuyv_frame(8, 4, stride);
        Image rgb = {0};
        cr_assert_eq(camera_decoder_to_rgb(d, f, stride * 4, &rgb, &err), 1, "%s", err.msg);
        cr_assert_eq(rgb.w, 8);
        cr_assert_eq(rgb.h, 4);
        expect_halves(&rgb);
        // The last line needs no padding after it.
        cr_assert_eq(camera_decoder_to_rgb(d, f, stride * 3 + 16, &rgb, &err), 1, "%s", err.msg);
        expect_halves(&rgb);
        image_free(&rgb);
        free(f);
        camera_decoder_free(d);
    }
}

Test(camera_decode, short_yuyv_frame_is_skipped)
{
    Err err;
    CameraDecoder *d = camera_decoder_create("/dev/video9", V4L2_PIX_FMT_YUYV, 8, 4, 0, &err);
    cr_assert_not_null(d);
    uint8_t *f = yuyv_frame(8, 4, 16);
    Image rgb = {0};
    cr_assert_eq(camera_decoder_to_rgb(d, f, 63, &rgb, &err), 0);
    cr_expect_not_null(strstr(err.msg, "YUYV frame of 63 bytes is short of the 64"), "%s", err.msg);
    cr_assert_eq(camera_decoder_to_rgb(d, f, 0, &rgb, &err), 0);
    image_free(&rgb);
    free(f);
    camera_decoder_free(d);
}

// A buffer that ends where its mapping ends, as a driver's may: nothing past it may be read,
// by us or by libswscale (whose SIMD row readers read past the last pixel: the fuzzer found the
// crash with a 1x1 frame).
Test(camera_decode, yuyv_frame_at_the_end_of_its_mapping)
{
    const int sizes[][2] = {{1, 1}, {2, 1}, {3, 2}, {17, 5}, {64, 3}, {250, 7}};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        int w = sizes[i][0], h = sizes[i][1];
        size_t row = 4 * (((size_t)w + 1) / 2);
        uint8_t *f = yuyv_frame(w, h, row);
        Guarded g;
        guarded_copy(&g, f, row * (size_t)h);
        Err err;
        CameraDecoder *d = camera_decoder_create("/dev/video9", V4L2_PIX_FMT_YUYV, w, h, 0, &err);
        cr_assert_not_null(d, "%s", err.msg);
        Image rgb = {0};
        cr_expect_eq(camera_decoder_to_rgb(d, g.data, row * (size_t)h, &rgb, &err), 1, "%s",
                     err.msg);
        image_free(&rgb);
        camera_decoder_free(d);
        guarded_free(&g);
        free(f);
    }
}

Test(camera_decode, impossible_modes_are_refused)
{
    const struct {
        uint32_t fourcc;
        int w, h;
        size_t stride;
        const char *says;
    } cases[] = {
        {V4L2_PIX_FMT_YUYV, 0, 480, 0, "size 0x480 is out of range"},
        {V4L2_PIX_FMT_MJPEG, 640, 16385, 0, "size 640x16385 is out of range (1 to 16384"},
        {V4L2_PIX_FMT_YUYV, -2, 2, 0, "out of range"},
        {V4L2_PIX_FMT_YUYV, 640, 480, 1279, "1279 bytes per line cannot hold a YUYV row of 640"},
        {V4L2_PIX_FMT_YUYV, 640, 480, (size_t)1 << 40, "bytes per line"},
        {V4L2_PIX_FMT_RGB24, 640, 480, 0, "neither YUYV nor MJPEG"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        Err err = {""};
        cr_expect_null(camera_decoder_create("/dev/video9", cases[i].fourcc, cases[i].w, cases[i].h,
                                             cases[i].stride, &err),
                       "case %zu", i);
        cr_expect(strstr(err.msg, "/dev/video9: ") && strstr(err.msg, cases[i].says),
                  "case %zu: %s", i, err.msg);
    }
}

Test(camera_decode, rgb_image_of_another_size_is_an_error)
{
    Err err;
    CameraDecoder *d = camera_decoder_create("/dev/video9", V4L2_PIX_FMT_YUYV, 8, 4, 0, &err);
    uint8_t *f = yuyv_frame(8, 4, 16);
    Image rgb;
    cr_assert_eq(image_alloc(&rgb, 4, 4, &err), 0);
    cr_expect_eq(camera_decoder_to_rgb(d, f, 64, &rgb, &err), -1);
    cr_expect_not_null(strstr(err.msg, "the RGB image is 4x4, the camera's frames 8x4"), "%s",
                       err.msg);
    image_free(&rgb);
    free(f);
    camera_decoder_free(d);
}

// One JPEG of a white (left) and black (right) picture, as ffmpeg's mjpeg encoder writes it.
static uint8_t *ffmpeg_jpeg(int w, int h, size_t *len)
{
    if (access(FFMPEG, X_OK) != 0)
        cr_skip_test(FFMPEG " is not installed (make installs it)");
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             FFMPEG " -nostdin -loglevel error -f lavfi -i color=white:size=%dx%d -vf "
                    "\"drawbox=x=%d:y=0:w=%d:h=%d:color=black:t=fill\" -frames:v 1 -q:v 2 "
                    "-pix_fmt yuvj422p -f mjpeg -",
             w, h, w / 2, w - w / 2, h);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    uint8_t *buf = malloc(1 << 20);
    cr_assert_not_null(buf);
    *len = fread(buf, 1, 1 << 20, p);
    cr_assert_eq(pclose(p), 0, "%s", cmd);
    cr_assert_gt(*len, 100);
    return buf;
}

Test(camera_decode, mjpeg_frames)
{
    size_t len;
    uint8_t *jpeg = ffmpeg_jpeg(32, 16, &len);
    Err err;
    CameraDecoder *d = camera_decoder_create("/dev/video9", V4L2_PIX_FMT_MJPEG, 32, 16, 0, &err);
    cr_assert_not_null(d, "%s", err.msg);
    Image rgb = {0};
    for (int k = 0; k < 2; k++) { // the decoder and scaler are reused
        Guarded g;
        guarded_copy(&g, jpeg, len);
        cr_assert_eq(camera_decoder_to_rgb(d, g.data, len, &rgb, &err), 1, "%s", err.msg);
        guarded_free(&g);
        // JPEG is lossy at the white/black edge: check away from it.
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 32; x++)
                if (x < 12 || x >= 20)
                    cr_expect(abs(rgb.rgb[3 * (y * 32 + x)] - (x < 16 ? 255 : 0)) <= 8,
                              "pixel (%d, %d) is %d", x, y, rgb.rgb[3 * (y * 32 + x)]);
    }

    // Damaged frames are skipped, the decoder stays usable.
    uint8_t junk[300];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    cr_expect_eq(camera_decoder_to_rgb(d, junk, sizeof junk, &rgb, &err), 0);
    cr_expect_not_null(strstr(err.msg, "MJPEG frame of 300 bytes does not decode"), "%s", err.msg);
    cr_expect_eq(camera_decoder_to_rgb(d, jpeg, 0, &rgb, &err), 0);
    cr_expect_eq(camera_decoder_to_rgb(d, jpeg, len, &rgb, &err), 1, "%s", err.msg);
    image_free(&rgb);
    camera_decoder_free(d);

    // A JPEG that is not the mode's size is skipped, not scaled or read past.
    d = camera_decoder_create("/dev/video9", V4L2_PIX_FMT_MJPEG, 16, 16, 0, &err);
    cr_assert_eq(camera_decoder_to_rgb(d, jpeg, len, &rgb, &err), 0);
    cr_expect_not_null(strstr(err.msg, "MJPEG frame is 32x16, the camera's mode 16x16"), "%s",
                       err.msg);
    image_free(&rgb);
    camera_decoder_free(d);
    free(jpeg);
}

static int deprecated_format_warnings;

static void count_warnings(void *avcl, int level, const char *fmt, va_list ap)
{
    (void)avcl;
    (void)ap;
    if (level <= AV_LOG_WARNING && strstr(fmt, "deprecated pixel format"))
        deprecated_format_warnings++;
}

// An MJPEG camera's decoder gives yuvj422p frames: they are converted as full-range yuv422p,
// so libswscale neither warns nor rebuilds its converter each frame.
Test(camera_decode, mjpeg_frames_keep_one_converter)
{
    size_t len;
    uint8_t *jpeg = ffmpeg_jpeg(32, 16, &len);
    av_log_set_callback(count_warnings);
    Err err;
    CameraDecoder *d = camera_decoder_create("/dev/video9", V4L2_PIX_FMT_MJPEG, 32, 16, 0, &err);
    cr_assert_not_null(d, "%s", err.msg);
    Image rgb = {0};
    for (int k = 0; k < 3; k++)
        cr_assert_eq(camera_decoder_to_rgb(d, jpeg, len, &rgb, &err), 1, "%s", err.msg);
    cr_expect_eq(deprecated_format_warnings, 0, "libswscale warned %d times",
                 deprecated_format_warnings);
    av_log_set_callback(av_log_default_callback);
    image_free(&rgb);
    camera_decoder_free(d);
    free(jpeg);
}
