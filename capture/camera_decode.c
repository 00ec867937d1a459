// Camera buffers to RGB (see camera_decode.h): YUYV straight through libswscale, MJPEG through
// libavcodec's decoder first.
#include "capture/camera_decode.h"

#include <libavcodec/avcodec.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <limits.h>
#include <linux/videodev2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// libavcodec, and libswscale's SIMD row readers, read up to this far past the end of the data
// they are given. A driver's buffer need not have those bytes mapped (the fuzzer found the read
// past a YUYV frame that ended at a page boundary), so frames are converted from a padded copy.
#define PADDING AV_INPUT_BUFFER_PADDING_SIZE

struct CameraDecoder {
    char name[128]; // the device, for messages
    uint32_t fourcc;
    int width, height;
    size_t stride, row;    // YUYV: bytes from one row to the next; bytes a row holds
    AVCodecContext *mjpeg; // MJPEG only
    AVPacket *pkt;
    AVFrame *frame;
    uint8_t *copy; // the frame, followed by PADDING zero bytes
    size_t copy_cap;
    struct SwsContext *sws;
};

int camera_picture_to_rgb(struct SwsContext **sws, const uint8_t *const data[],
                          const int linesize[], int fmt, int full_range, int src_w, int src_h,
                          Image *rgb, Err *err)
{
    int src = image_plain_pixel_format(fmt, &full_range);
    *sws = sws_getCachedContext(*sws, src_w, src_h, src, rgb->w, rgb->h, AV_PIX_FMT_RGB24,
                                SWS_BILINEAR, NULL, NULL, NULL);
    if (!*sws)
        return err_set(err, "cannot convert %dx%d frames of pixel format %s to RGB", src_w, src_h,
                       av_get_pix_fmt_name(src) ? av_get_pix_fmt_name(src) : "(unknown)");
    // The range is not among what the cached context compares, so it is set every frame (that
    // only refills the context's coefficient tables). BT.601, as cameras send; RGB ignores it.
    const int *bt601 = sws_getCoefficients(SWS_CS_DEFAULT);
    sws_setColorspaceDetails(*sws, bt601, full_range, bt601, 1, 0, 1 << 16, 1 << 16);
    uint8_t *dst[1] = {rgb->rgb};
    int stride[1] = {3 * rgb->w};
    sws_scale(*sws, data, linesize, 0, src_h, dst, stride);
    return 0;
}

CameraDecoder *camera_decoder_create(const char *name, uint32_t fourcc, int width, int height,
                                     size_t stride, Err *err)
{
    if (!name)
        name = "camera";
    if (fourcc != V4L2_PIX_FMT_YUYV && fourcc != V4L2_PIX_FMT_MJPEG) {
        err_set(err, "%s: pixel format 0x%08x is neither YUYV nor MJPEG", name, fourcc);
        return NULL;
    }
    if (width < 1 || height < 1 || width > IMAGE_MAX_DIM || height > IMAGE_MAX_DIM) {
        err_set(err, "%s: frame size %dx%d is out of range (1 to %d each way)", name, width, height,
                IMAGE_MAX_DIM);
        return NULL;
    }
    // A YUYV row holds whole 4-byte pairs of pixels: an odd width still ends with a full pair.
    size_t row = 4 * (((size_t)width + 1) / 2);
    if (fourcc == V4L2_PIX_FMT_YUYV && stride == 0)
        stride = row;
    // libswscale takes int strides; the bound also keeps stride * height far from overflowing.
    if (fourcc == V4L2_PIX_FMT_YUYV && (stride < row || stride > INT_MAX / 2)) {
        err_set(err, "%s: %zu bytes per line cannot hold a YUYV row of %d pixels (%zu bytes)", name,
                stride, width, row);
        return NULL;
    }
    CameraDecoder *d = calloc(1, sizeof *d);
    if (!d) {
        err_set(err, "%s: out of memory", name);
        return NULL;
    }
    snprintf(d->name, sizeof d->name, "%s", name);
    d->fourcc = fourcc;
    d->width = width;
    d->height = height;
    d->stride = stride;
    d->row = row;
    if (fourcc == V4L2_PIX_FMT_MJPEG) {
        const AVCodec *c = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
        d->mjpeg = c ? avcodec_alloc_context3(c) : NULL;
        d->frame = av_frame_alloc();
        d->pkt = av_packet_alloc();
        if (d->mjpeg) {
            // A JPEG much larger than the mode is refused by the decoder before it allocates
            // it. The decoder counts its padded size (the width rounded up to 64), hence the
            // margin; a frame that is larger still is refused after decoding.
            d->mjpeg->max_pixels = (int64_t)(width + 128) * (height + 128);
            d->mjpeg->thread_count = 1;
        }
        if (!d->mjpeg || !d->frame || !d->pkt || avcodec_open2(d->mjpeg, c, NULL) < 0) {
            err_set(err, "%s: cannot set up the MJPEG decoder", name);
            camera_decoder_free(d);
            return NULL;
        }
    }
    return d;
}

void camera_decoder_free(CameraDecoder *d)
{
    if (!d)
        return;
    avcodec_free_context(&d->mjpeg);
    av_packet_free(&d->pkt);
    av_frame_free(&d->frame);
    free(d->copy);
    sws_freeContext(d->sws);
    free(d);
}

// LEN bytes of DATA in d->copy, followed by PADDING zero bytes; NULL when out of memory.
static const uint8_t *padded_copy(CameraDecoder *d, const uint8_t *data, size_t len, Err *err)
{
    if (len + PADDING > d->copy_cap) {
        uint8_t *p = realloc(d->copy, len + PADDING);
        if (!p) {
            err_set(err, "%s: out of memory for a frame of %zu bytes", d->name, len);
            return NULL;
        }
        d->copy = p;
        d->copy_cap = len + PADDING;
    }
    memcpy(d->copy, data, len);
    memset(d->copy + len, 0, PADDING);
    return d->copy;
}

// The YUYV frame's rows, after checking the buffer holds all of them (the last row needs no
// padding after it).
static int yuyv_to_rgb(CameraDecoder *d, const uint8_t *data, size_t len, Image *rgb, Err *err)
{
    size_t need = d->stride * (size_t)(d->height - 1) + d->row;
    if (len < need) {
        err_set(err, "%s: a YUYV frame of %zu bytes is short of the %zu its %dx%d pixels take",
                d->name, len, need, d->width, d->height);
        return 0;
    }
    const uint8_t *frame = padded_copy(d, data, need, err);
    if (!frame)
        return -1;
    const uint8_t *planes[1] = {frame};
    int stride[1] = {(int)d->stride};
    return camera_picture_to_rgb(&d->sws, planes, stride, AV_PIX_FMT_YUYV422, 0, d->width,
                                 d->height, rgb, err)
               ? -1
               : 1;
}

static int mjpeg_to_rgb(CameraDecoder *d, const uint8_t *data, size_t len, Image *rgb, Err *err)
{
    if (len == 0 || len > (size_t)INT_MAX - PADDING) {
        err_set(err, "%s: an MJPEG frame of %zu bytes cannot be decoded", d->name, len);
        return 0;
    }
    const uint8_t *jpeg = padded_copy(d, data, len, err);
    if (!jpeg)
        return -1;
    d->pkt->data = (uint8_t *)jpeg;
    d->pkt->size = (int)len;
    int ok = avcodec_send_packet(d->mjpeg, d->pkt) >= 0 &&
             avcodec_receive_frame(d->mjpeg, d->frame) >= 0;
    d->pkt->data = NULL;
    d->pkt->size = 0;
    if (!ok) {
        err_set(err, "%s: an MJPEG frame of %zu bytes does not decode", d->name, len);
        return 0;
    }
    int rc = 0;
    if (d->frame->width != d->width || d->frame->height != d->height)
        err_set(err, "%s: an MJPEG frame is %dx%d, the camera's mode %dx%d", d->name,
                d->frame->width, d->frame->height, d->width, d->height);
    else
        rc = camera_picture_to_rgb(&d->sws, (const uint8_t *const *)d->frame->data,
                                   d->frame->linesize, d->frame->format,
                                   d->frame->color_range == AVCOL_RANGE_JPEG, d->width, d->height,
                                   rgb, err)
                 ? -1
                 : 1;
    av_frame_unref(d->frame);
    return rc;
}

int camera_decoder_to_rgb(CameraDecoder *d, const uint8_t *data, size_t len, Image *rgb, Err *err)
{
    if (!rgb->rgb && image_alloc(rgb, d->width, d->height, err))
        return -1;
    if (rgb->w != d->width || rgb->h != d->height)
        return err_set(err, "%s: the RGB image is %dx%d, the camera's frames %dx%d", d->name,
                       rgb->w, rgb->h, d->width, d->height);
    if (!data)
        return err_set(err, "%s: no frame given", d->name);
    if (d->fourcc == V4L2_PIX_FMT_YUYV)
        return yuyv_to_rgb(d, data, len, rgb, err);
    return mjpeg_to_rgb(d, data, len, rgb, err);
}
