#include "capture/source.h"

#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libswscale/swscale.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/base/clock.h"
#include "capture/camera_decode.h"
#include "capture/v4l2.h"

struct Source {
    // A camera...
    V4l2Camera *camera;
    CameraDecoder *decoder;
    // ...or a file.
    AVFormatContext *fmt;
    AVCodecContext *dec;
    int stream, loop;
    int64_t start_us, first_pts_us, loop_offset_us, last_pts_us;
    AVPacket *pkt;
    AVFrame *frame;
    struct SwsContext *sws;
    int width, height;
};

// A decoded file frame into *rgb, allocated at the stream's size. The frame's own size is the
// source size: a stream that changes resolution midway is scaled back to the first one rather
// than read past the end of smaller planes.
static int to_rgb(Source *s, const AVFrame *fr, Image *rgb, Err *err)
{
    if (!rgb->rgb && image_alloc(rgb, s->width, s->height, err))
        return -1;
    return camera_picture_to_rgb(&s->sws, (const uint8_t *const *)fr->data, fr->linesize,
                                 fr->format, fr->color_range == AVCOL_RANGE_JPEG, fr->width,
                                 fr->height, rgb, err);
}

Source *source_open_camera(const char *device, int width, int height, int fps, Err *err)
{
    Source *s = calloc(1, sizeof *s);
    if (!s) {
        err_set(err, "out of memory");
        return NULL;
    }
    s->camera = v4l2_camera_open(&v4l2_sys_real, device, width, height, fps, err);
    if (!s->camera)
        goto fail;
    const V4l2Mode *m = v4l2_camera_mode(s->camera);
    s->width = m->width;
    s->height = m->height;
    s->decoder = camera_decoder_create(device, m->fourcc, m->width, m->height,
                                       v4l2_camera_stride(s->camera), err);
    if (!s->decoder)
        goto fail;
    return s;
fail:
    source_close(s);
    return NULL;
}

Source *source_open_file(const char *path, int loop, Err *err)
{
    Source *s = calloc(1, sizeof *s);
    const AVCodec *codec = NULL;
    if (!s) {
        err_set(err, "out of memory");
        return NULL;
    }
    s->loop = loop;
    if (avformat_open_input(&s->fmt, path, NULL, NULL) < 0 ||
        avformat_find_stream_info(s->fmt, NULL) < 0) {
        err_set(err, "%s: cannot open it as a video", path);
        goto fail;
    }
    s->stream = av_find_best_stream(s->fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (s->stream < 0 || !codec) {
        err_set(err, "%s: no video stream", path);
        goto fail;
    }
    s->dec = avcodec_alloc_context3(codec);
    s->frame = av_frame_alloc();
    s->pkt = av_packet_alloc();
    if (!s->dec || !s->frame || !s->pkt ||
        avcodec_parameters_to_context(s->dec, s->fmt->streams[s->stream]->codecpar) < 0 ||
        avcodec_open2(s->dec, codec, NULL) < 0) {
        err_set(err, "%s: cannot set up its decoder", path);
        goto fail;
    }
    s->width = s->dec->width;
    s->height = s->dec->height;
    s->first_pts_us = INT64_MIN;
    return s;
fail:
    source_close(s);
    return NULL;
}

void source_size(const Source *s, int *width, int *height)
{
    *width = s->width;
    *height = s->height;
}

// The next decoded frame of the file (rewinding when looping); 0 at the end.
static int next_file_frame(Source *s, Err *err)
{
    for (;;) {
        int rc = avcodec_receive_frame(s->dec, s->frame);
        if (rc == 0)
            return 1;
        if (rc != AVERROR(EAGAIN)) {
            if (rc != AVERROR_EOF || !s->loop)
                return rc == AVERROR_EOF ? 0 : err_set(err, "the video does not decode");
            // Loop: continue the timeline after the last frame.
            av_seek_frame(s->fmt, s->stream, 0, AVSEEK_FLAG_BACKWARD);
            avcodec_flush_buffers(s->dec);
            s->loop_offset_us += s->last_pts_us - s->first_pts_us + 40000; // ~ one frame
            s->first_pts_us = INT64_MIN;
            continue;
        }
        rc = av_read_frame(s->fmt, s->pkt);
        if (rc < 0) {
            avcodec_send_packet(s->dec, NULL); // drain
            continue;
        }
        if (s->pkt->stream_index == s->stream)
            avcodec_send_packet(s->dec, s->pkt);
        av_packet_unref(s->pkt);
    }
}

static int next_from_file(Source *s, Image *rgb, int64_t *time_us, Err *err)
{
    int rc = next_file_frame(s, err);
    if (rc <= 0)
        return rc;
    AVRational tb = s->fmt->streams[s->stream]->time_base;
    int64_t pts = s->frame->best_effort_timestamp;
    int64_t pts_us = pts == AV_NOPTS_VALUE ? 0 : av_rescale_q(pts, tb, (AVRational){1, 1000000});
    if (s->first_pts_us == INT64_MIN) {
        s->first_pts_us = pts_us;
        if (!s->start_us)
            s->start_us = clock_now_us();
    }
    s->last_pts_us = pts_us;
    // Hold the frame back until it is due, as a camera would deliver it.
    int64_t due = s->start_us + s->loop_offset_us + (pts_us - s->first_pts_us);
    int64_t wait = due - clock_now_us();
    if (wait > 0)
        usleep((useconds_t)wait);
    *time_us = clock_now_us();
    rc = to_rgb(s, s->frame, rgb, err);
    av_frame_unref(s->frame);
    return rc ? -1 : 1;
}

static int next_from_camera(Source *s, Image *rgb, int64_t *time_us, Err *err)
{
    for (;;) {
        const uint8_t *data;
        size_t len;
        int rc = v4l2_camera_next(s->camera, 1000, &data, &len, time_us, err);
        if (rc < 0)
            return -1;
        if (rc == 0)
            continue;    // a timeout: keep waiting (an unplugged camera is reported as an error)
        rc = camera_decoder_to_rgb(s->decoder, data, len, rgb, err);
        if (rc != 0)
            return rc;
        // A damaged frame (cut short, undecodable): wait for the next one.
    }
}

int source_next(Source *s, Image *rgb, int64_t *time_us, Err *err)
{
    return s->camera ? next_from_camera(s, rgb, time_us, err)
                     : next_from_file(s, rgb, time_us, err);
}

void source_close(Source *s)
{
    if (!s)
        return;
    v4l2_camera_close(s->camera);
    camera_decoder_free(s->decoder);
    avcodec_free_context(&s->dec);
    avformat_close_input(&s->fmt);
    av_packet_free(&s->pkt);
    av_frame_free(&s->frame);
    sws_freeContext(s->sws);
    free(s);
}
