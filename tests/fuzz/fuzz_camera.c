// Camera buffers to RGB. The first 7 bytes choose the mode as a driver would report it: one
// byte for the format (even: YUYV, odd: MJPEG), width and height (uint16 each, 0 and huge
// included) and bytes per line (uint16, short ones included); the rest is what the buffer
// holds, converted twice through one decoder (its cached decoder and scaler are reused) and
// once more cut in half, as a buffer whose bytesused came short. The buffer ends at an
// inaccessible page, so that reading past it crashes even inside FFmpeg.
#include "tests/fuzz/fuzz_targets.h"

#include <libavutil/log.h>
#include <linux/videodev2.h>
#include <stdlib.h>

#include "capture/camera_decode.h"
#include "tests/guarded.h"

// Frames over this many pixels are refused here to keep the fuzzer fast, not by the decoder.
#define FUZZ_PIXELS_MAX (1 << 20)

int fuzz_camera(const uint8_t *data, size_t size)
{
    av_log_set_level(AV_LOG_QUIET); // libavcodec's own complaints about damaged JPEGs
    FuzzBytes b = {data, size};
    uint32_t fourcc = fuzz_take(&b, 1) & 1 ? V4L2_PIX_FMT_MJPEG : V4L2_PIX_FMT_YUYV;
    int w = (int)fuzz_take(&b, 2), h = (int)fuzz_take(&b, 2);
    size_t stride = fuzz_take(&b, 2);
    Err err = {""};
    CameraDecoder *d = camera_decoder_create("fuzz camera", fourcc, w, h, stride, &err);
    if (!d) {
        fuzz_expect_reason("camera", &err);
        return 0;
    }
    if ((long)w * h > FUZZ_PIXELS_MAX) {
        camera_decoder_free(d);
        return 0;
    }
    Image rgb = {0};
    int accepted = 0;
    size_t lens[3] = {b.size, b.size, b.size / 2};
    for (int i = 0; i < 3; i++) {
        Guarded buf; // a buffer that ends where the mapping ends, as a driver's may
        guarded_copy(&buf, b.data, lens[i]);
        err.msg[0] = '\0';
        int rc = camera_decoder_to_rgb(d, buf.data, lens[i], &rgb, &err);
        guarded_free(&buf);
        if (rc < 0 || rc > 1 || rgb.w != w || rgb.h != h)
            abort(); // only out of memory could fail, and a damaged frame is skipped
        if (rc == 0)
            fuzz_expect_reason("camera", &err);
        accepted |= rc;
    }
    image_free(&rgb);
    camera_decoder_free(d);
    return accepted;
}
