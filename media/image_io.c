// Still images through FFmpeg. Decoding: libavformat finds the stream, libavcodec decodes the
// first frame (send/receive, with draining), libswscale converts whatever the decoder gives
// (yuvj420p from JPEG, rgba or pal8 from PNG, ...) to RGB24. Saving: libavcodec's PNG or MJPEG
// encoder, written atomically. Resizing: libswscale's bicubic filter.
#include "media/image_io.h"

#include "core/base/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/imgutils.h>
#include <libavutil/pixdesc.h>
#include <libswscale/swscale.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

// Larger images than this are refused rather than allocated (64 Mpixel).
#define MAX_PIXELS (1L << 26)

// ---------------------------------------------------------------------------------------------
// Helpers

// Within both limits; the product is formed in long so that it cannot overflow.
static bool size_ok(long w, long h)
{
    return w >= 1 && h >= 1 && w <= IMAGE_MAX_DIM && h <= IMAGE_MAX_DIM && w * h <= MAX_PIXELS;
}

// FFmpeg logs to stderr by default; library code must not chatter. The reasons reach the caller
// through Err (av_strerror). An application that already chose a log level keeps its choice.
static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void quiet_ffmpeg_log(void)
{
    if (av_log_get_level() == AV_LOG_INFO) // FFmpeg's default: nobody chose
        av_log_set_level(AV_LOG_QUIET);
}

static void init_ffmpeg(void)
{
    pthread_once(&log_once, quiet_ffmpeg_log);
}

static const char *av_err(int code, char *buf, size_t len)
{
    if (av_strerror(code, buf, len) != 0)
        snprintf(buf, len, "FFmpeg error %d", code);
    return buf;
}

int image_alloc(Image *img, int w, int h, Err *err)
{
    img->w = img->h = 0;
    img->rgb = NULL;
    if (!size_ok(w, h))
        return err_set(err, "image size %dx%d is not valid (1 to %d each way, at most %ld pixels)",
                       w, h, IMAGE_MAX_DIM, MAX_PIXELS);
    // libswscale's SIMD loads read up to 16 bytes past the last pixel of a source picture
    // (FFmpeg's buffers are padded for that; valgrind caught it reading past a face region
    // in sws_scale), so images keep FFmpeg's padding after their pixels.
    img->rgb = calloc((size_t)w * (size_t)h * 3 + AV_INPUT_BUFFER_PADDING_SIZE, 1);
    if (!img->rgb)
        return err_set(err, "out of memory for a %dx%d image", w, h);
    img->w = w;
    img->h = h;
    return 0;
}

void image_free(Image *img)
{
    if (!img)
        return;
    free(img->rgb);
    img->rgb = NULL;
    img->w = img->h = 0;
}

int image_plain_pixel_format(int fmt, int *full_range)
{
    switch (fmt) {
    case AV_PIX_FMT_YUVJ420P: *full_range = 1; return AV_PIX_FMT_YUV420P;
    case AV_PIX_FMT_YUVJ422P: *full_range = 1; return AV_PIX_FMT_YUV422P;
    case AV_PIX_FMT_YUVJ444P: *full_range = 1; return AV_PIX_FMT_YUV444P;
    case AV_PIX_FMT_YUVJ440P: *full_range = 1; return AV_PIX_FMT_YUV440P;
    case AV_PIX_FMT_YUVJ411P: *full_range = 1; return AV_PIX_FMT_YUV411P;
    default: return fmt;
    }
}

static int is_rgb_like(enum AVPixelFormat f)
{
    const AVPixFmtDescriptor *d = av_pix_fmt_desc_get(f);
    return d && (d->flags & (AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL));
}

// Converts a decoded frame (any pixel format) to a freshly allocated RGB24 image.
static int frame_to_rgb(const char *path, const AVFrame *fr, Image *img, Err *err)
{
    int full_range = fr->color_range == AVCOL_RANGE_JPEG;
    enum AVPixelFormat src = image_plain_pixel_format(fr->format, &full_range);
    if (!size_ok(fr->width, fr->height))
        return err_set(err,
                       "%s: decoded image has an unusable size %dx%d (1 to %d each way, at most "
                       "%ld pixels)",
                       path, fr->width, fr->height, IMAGE_MAX_DIM, MAX_PIXELS);
    if (!sws_isSupportedInput(src))
        return err_set(err, "%s: pixel format %s cannot be converted to RGB", path,
                       av_get_pix_fmt_name(src) ? av_get_pix_fmt_name(src) : "(unknown)");
    // Same size, so the filter only matters for the chroma planes; accurate rounding and full
    // chroma interpolation keep the conversion as close to exact as libswscale gets.
    struct SwsContext *sws =
        sws_getContext(fr->width, fr->height, src, fr->width, fr->height, AV_PIX_FMT_RGB24,
                       SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL, NULL);
    if (!sws)
        return err_set(err, "%s: cannot set up the conversion from %s to RGB", path,
                       av_get_pix_fmt_name(src));
    if (!is_rgb_like(src)) {
        // YUV and grey: the matrix from the frame (BT.601 unless it says otherwise), the range
        // from the frame or the J format; the output is full-range RGB.
        int cs = SWS_CS_DEFAULT;
        if (fr->colorspace == AVCOL_SPC_BT709)
            cs = SWS_CS_ITU709;
        else if (fr->colorspace == AVCOL_SPC_BT2020_NCL || fr->colorspace == AVCOL_SPC_BT2020_CL)
            cs = SWS_CS_BT2020;
        const int *coef = sws_getCoefficients(cs);
        sws_setColorspaceDetails(sws, coef, full_range, sws_getCoefficients(SWS_CS_DEFAULT), 1, 0,
                                 1 << 16, 1 << 16);
    }
    int rc = image_alloc(img, fr->width, fr->height, err);
    if (rc == 0) {
        uint8_t *dst[4] = {img->rgb, NULL, NULL, NULL};
        int dst_stride[4] = {3 * img->w, 0, 0, 0};
        if (sws_scale(sws, (const uint8_t *const *)fr->data, fr->linesize, 0, fr->height, dst,
                      dst_stride) != img->h) {
            image_free(img);
            rc = err_set(err, "%s: conversion from %s to RGB failed", path,
                         av_get_pix_fmt_name(src));
        }
    }
    sws_freeContext(sws);
    return rc;
}

// Feeds packets of stream SI to the decoder until it yields a frame; drains at end of file.
// Returns 0 with a frame in FR, or an error.
// The decoder refuses a picture over MAX_PIXELS with EINVAL (and says so only in its log).
static int decode_error(Err *err, const char *path, int r)
{
    char eb[AV_ERROR_MAX_STRING_SIZE];
    return err_set(err, "%s: cannot decode: %s%s", path, av_err(r, eb, sizeof eb),
                   r == AVERROR(EINVAL) ? " (damaged, or over the 64 Mpixel limit)" : "");
}

static int decode_first(const char *path, AVFormatContext *fmt, AVCodecContext *dec, int si,
                        AVFrame *fr, Err *err)
{
    char eb[AV_ERROR_MAX_STRING_SIZE];
    AVPacket *pkt = av_packet_alloc();
    if (!pkt)
        return err_set(err, "%s: out of memory", path);
    int rc = -1;
    int draining = 0;
    for (;;) {
        int r = avcodec_receive_frame(dec, fr);
        if (r == 0) {
            if (fr->flags & AV_FRAME_FLAG_CORRUPT || fr->decode_error_flags) {
                err_set(err, "%s: corrupt image data (truncated or damaged)", path);
                break;
            }
            rc = 0;
            break;
        }
        if (r == AVERROR_EOF) {
            err_set(err, "%s: no picture could be decoded", path);
            break;
        }
        if (r != AVERROR(EAGAIN)) {
            decode_error(err, path, r);
            break;
        }
        if (draining) { // EAGAIN after the flush packet would be a decoder bug; do not spin
            err_set(err, "%s: no picture could be decoded", path);
            break;
        }
        // The decoder wants input: the next packet of our stream, or the flush packet at EOF.
        r = av_read_frame(fmt, pkt);
        if (r == AVERROR_EOF) {
            draining = 1;
            r = avcodec_send_packet(dec, NULL);
        } else if (r < 0) {
            err_set(err, "%s: cannot read: %s", path, av_err(r, eb, sizeof eb));
            break;
        } else if (pkt->stream_index != si) {
            av_packet_unref(pkt);
            continue;
        } else {
            r = avcodec_send_packet(dec, pkt);
            av_packet_unref(pkt);
        }
        if (r < 0 && r != AVERROR_EOF) {
            decode_error(err, path, r);
            break;
        }
    }
    av_packet_free(&pkt);
    return rc;
}

// avformat_find_stream_info may decode the first picture to learn its size: that decoder is held
// to MAX_PIXELS too, or an 8200x8200 PNG of 200 KB costs 200 MB before its size is refused.
static int find_stream_info_limited(AVFormatContext *fmt)
{
    unsigned n = fmt->nb_streams;
    AVDictionary **opts = calloc(n ? n : 1, sizeof *opts);
    if (!opts)
        return AVERROR(ENOMEM);
    for (unsigned i = 0; i < n; i++)
        av_dict_set_int(&opts[i], "max_pixels", MAX_PIXELS, 0);
    int r = avformat_find_stream_info(fmt, opts);
    for (unsigned i = 0; i < n; i++)
        av_dict_free(&opts[i]);
    free(opts);
    return r;
}

int image_load(const char *path, Image *img, Err *err)
{
    char eb[AV_ERROR_MAX_STRING_SIZE];
    img->w = img->h = 0;
    img->rgb = NULL;
    init_ffmpeg();

    // libavformat's own "No such file" is vague about directories and permissions; stat first.
    struct stat st;
    if (stat(path, &st) != 0)
        return err_set(err, "%s: cannot open: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return err_set(err, "%s: is a directory, not an image", path);

    AVFormatContext *fmt = NULL;
    int r = avformat_open_input(&fmt, path, NULL, NULL);
    if (r < 0)
        return err_set(err, "%s: cannot open as an image: %s", path, av_err(r, eb, sizeof eb));

    int rc = -1;
    AVCodecContext *dec = NULL;
    AVFrame *fr = NULL;
    r = find_stream_info_limited(fmt);
    if (r < 0) {
        err_set(err, "%s: cannot read the image: %s", path, av_err(r, eb, sizeof eb));
        goto out;
    }
    const AVCodec *codec = NULL;
    int si = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (si < 0 || !codec) {
        err_set(err, "%s: not an image (no picture stream found)", path);
        goto out;
    }
    // The size the file declares, refused before a decoder allocates a picture of it.
    const AVCodecParameters *par = fmt->streams[si]->codecpar;
    if (par->width > 0 && par->height > 0 && !size_ok(par->width, par->height)) {
        err_set(err,
                "%s: the image is %dx%d, over the limit (1 to %d each way, at most %ld pixels)",
                path, par->width, par->height, IMAGE_MAX_DIM, MAX_PIXELS);
        goto out;
    }
    dec = avcodec_alloc_context3(codec);
    fr = av_frame_alloc();
    if (!dec || !fr) {
        err_set(err, "%s: out of memory", path);
        goto out;
    }
    r = avcodec_parameters_to_context(dec, fmt->streams[si]->codecpar);
    if (r >= 0) {
        dec->thread_count = 1; // small images; the loader already runs beside training
        // The decoder refuses a picture over the limit before allocating it (its width and
        // height are checked once decoded).
        dec->max_pixels = MAX_PIXELS;
        dec->err_recognition |= AV_EF_EXPLODE; // a damaged file is an error, not a grey patch
        r = avcodec_open2(dec, codec, NULL);
    }
    if (r < 0) {
        err_set(err, "%s: cannot start the %s decoder: %s", path, codec->name,
                av_err(r, eb, sizeof eb));
        goto out;
    }
    if (decode_first(path, fmt, dec, si, fr, err) != 0)
        goto out;
    rc = frame_to_rgb(path, fr, img, err);
out:
    av_frame_free(&fr);
    avcodec_free_context(&dec);
    avformat_close_input(&fmt);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Saving

// Lowercase extension of PATH's last component ("" when there is none).
static const char *extension(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    return dot && dot != base ? dot : "";
}

// Encodes IMG with the PNG or MJPEG encoder into one packet; JPEG with quantiser QSCALE.
static int encode(const char *path, const Image *img, int jpeg, int qscale, AVPacket *pkt, Err *err)
{
    char eb[AV_ERROR_MAX_STRING_SIZE];
    enum AVCodecID id = jpeg ? AV_CODEC_ID_MJPEG : AV_CODEC_ID_PNG;
    enum AVPixelFormat pf = jpeg ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_RGB24;
    const AVCodec *codec = avcodec_find_encoder(id);
    if (!codec)
        return err_set(err, "%s: this FFmpeg has no %s encoder", path, jpeg ? "MJPEG" : "PNG");
    AVCodecContext *enc = avcodec_alloc_context3(codec);
    AVFrame *fr = av_frame_alloc();
    struct SwsContext *sws = NULL;
    int rc = -1, r;
    if (!enc || !fr) {
        err_set(err, "%s: out of memory", path);
        goto out;
    }
    enc->width = img->w;
    enc->height = img->h;
    enc->pix_fmt = pf;
    enc->time_base = (AVRational){1, 25};
    enc->thread_count = 1;
    if (jpeg) {
        enc->color_range = AVCOL_RANGE_JPEG;
        enc->flags |= AV_CODEC_FLAG_QSCALE; // a fixed quantiser (2: about quality 95)
        enc->global_quality = FF_QP2LAMBDA * qscale;
    }
    if ((r = avcodec_open2(enc, codec, NULL)) < 0) {
        err_set(err, "%s: cannot start the %s encoder: %s", path, codec->name,
                av_err(r, eb, sizeof eb));
        goto out;
    }
    fr->format = pf;
    fr->width = img->w;
    fr->height = img->h;
    if ((r = av_frame_get_buffer(fr, 0)) < 0) {
        err_set(err, "%s: cannot allocate a frame: %s", path, av_err(r, eb, sizeof eb));
        goto out;
    }
    const uint8_t *src[4] = {img->rgb, NULL, NULL, NULL};
    int src_stride[4] = {3 * img->w, 0, 0, 0};
    if (jpeg) {
        fr->quality = enc->global_quality;
        fr->color_range = AVCOL_RANGE_JPEG;
        sws = sws_getContext(img->w, img->h, AV_PIX_FMT_RGB24, img->w, img->h, AV_PIX_FMT_YUV420P,
                             SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP, NULL, NULL, NULL);
        if (!sws) {
            err_set(err, "%s: cannot set up the conversion to YUV", path);
            goto out;
        }
        const int *coef = sws_getCoefficients(SWS_CS_DEFAULT);
        sws_setColorspaceDetails(sws, coef, 1, coef, 1, 0, 1 << 16, 1 << 16);
        sws_scale(sws, src, src_stride, 0, img->h, fr->data, fr->linesize);
    } else {
        av_image_copy(fr->data, fr->linesize, src, src_stride, AV_PIX_FMT_RGB24, img->w, img->h);
    }
    if ((r = avcodec_send_frame(enc, fr)) < 0 || (r = avcodec_send_frame(enc, NULL)) < 0) {
        err_set(err, "%s: encoding failed: %s", path, av_err(r, eb, sizeof eb));
        goto out;
    }
    // One picture in, one packet out; anything after it would be a second picture.
    if ((r = avcodec_receive_packet(enc, pkt)) < 0) {
        err_set(err, "%s: encoding failed: %s", path, av_err(r, eb, sizeof eb));
        goto out;
    }
    rc = 0;
out:
    sws_freeContext(sws);
    av_frame_free(&fr);
    avcodec_free_context(&enc);
    return rc;
}

static int write_atomic(const char *path, const uint8_t *data, size_t len, Err *err)
{
    AtomicFile f;
    if (atomic_open(&f, path, err) || atomic_write(&f, data, len, err))
        return -1;
    return atomic_commit(&f, err);
}

int image_save(const char *path, const Image *img, Err *err)
{
    init_ffmpeg();
    const char *ext = extension(path);
    int jpeg;
    if (strcasecmp(ext, ".png") == 0)
        jpeg = 0;
    else if (strcasecmp(ext, ".jpg") == 0 || strcasecmp(ext, ".jpeg") == 0)
        jpeg = 1;
    else if (*ext)
        return err_set(err, "%s: cannot save as '%s': only .png, .jpg and .jpeg are supported",
                       path, ext);
    else
        return err_set(err, "%s: no extension: name it .png, .jpg or .jpeg", path);
    if (!img || !img->rgb || img->w <= 0 || img->h <= 0)
        return err_set(err, "%s: nothing to save (empty image)", path);

    AVPacket *pkt = av_packet_alloc();
    if (!pkt)
        return err_set(err, "%s: out of memory", path);
    int rc = encode(path, img, jpeg, 2, pkt, err);
    if (rc == 0)
        rc = write_atomic(path, pkt->data, (size_t)pkt->size, err);
    av_packet_free(&pkt);
    return rc;
}

int image_jpeg_round_trip(Image *img, int qscale, Err *err)
{
    static const char what[] = "JPEG round trip";
    init_ffmpeg();
    if (!img || !img->rgb || img->w <= 0 || img->h <= 0)
        return err_set(err, "%s: the image is empty", what);
    if (qscale < 1 || qscale > 31)
        return err_set(err, "%s: quantiser %d is outside 1..31", what, qscale);
    AVPacket *pkt = av_packet_alloc();
    AVFrame *fr = av_frame_alloc();
    const AVCodec *codec = avcodec_find_decoder(AV_CODEC_ID_MJPEG);
    AVCodecContext *dec = codec ? avcodec_alloc_context3(codec) : NULL;
    int rc = -1, r;
    Image out = {0};
    if (!pkt || !fr || !dec) {
        err_set(err, "%s: %s", what, codec ? "out of memory" : "this FFmpeg has no MJPEG decoder");
        goto done;
    }
    if (encode(what, img, 1, qscale, pkt, err))
        goto done;
    dec->thread_count = 1;
    if ((r = avcodec_open2(dec, codec, NULL)) < 0 || (r = avcodec_send_packet(dec, pkt)) < 0 ||
        (r = avcodec_receive_frame(dec, fr)) < 0) {
        char eb[AV_ERROR_MAX_STRING_SIZE];
        err_set(err, "%s: decoding failed: %s", what, av_err(r, eb, sizeof eb));
        goto done;
    }
    if (frame_to_rgb(what, fr, &out, err))
        goto done;
    image_free(img);
    *img = out;
    rc = 0;
done:
    avcodec_free_context(&dec);
    av_frame_free(&fr);
    av_packet_free(&pkt);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// Resizing and the planar float layout

int image_resize(const Image *src, int w, int h, Image *dst, Err *err)
{
    if (!src || !src->rgb || src->w <= 0 || src->h <= 0)
        return err_set(err, "resize: the source image is empty");
    if (dst == src)
        return err_set(err, "resize: the destination must be another Image than the source");
    dst->w = dst->h = 0;
    dst->rgb = NULL;
    if (image_alloc(dst, w, h, err) != 0)
        return -1;
    if (w == src->w && h == src->h) {
        memcpy(dst->rgb, src->rgb, (size_t)w * (size_t)h * 3);
        return 0;
    }
    // Full chroma on input and output: libswscale works in YUV internally, and without these
    // flags it would halve the colour resolution of an RGB image on the way through.
    struct SwsContext *sws = sws_getContext(
        src->w, src->h, AV_PIX_FMT_RGB24, w, h, AV_PIX_FMT_RGB24,
        SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INP | SWS_FULL_CHR_H_INT, NULL, NULL, NULL);
    if (!sws) {
        image_free(dst);
        return err_set(err, "resize: cannot set up %dx%d -> %dx%d", src->w, src->h, w, h);
    }
    const uint8_t *s[4] = {src->rgb, NULL, NULL, NULL};
    int ss[4] = {3 * src->w, 0, 0, 0};
    uint8_t *d[4] = {dst->rgb, NULL, NULL, NULL};
    int ds[4] = {3 * w, 0, 0, 0};
    int out_h = sws_scale(sws, s, ss, 0, src->h, d, ds);
    sws_freeContext(sws);
    if (out_h != h) {
        image_free(dst);
        return err_set(err, "resize: %dx%d -> %dx%d failed", src->w, src->h, w, h);
    }
    return 0;
}

void image_to_planar(const Image *img, float *chw)
{
    // chw: (3, h, w)
    size_t plane = (size_t)img->w * (size_t)img->h;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < 3; c++)
            chw[c * plane + p] = img->rgb[3 * p + c] / 127.5f - 1.0f;
}

void planar_to_image(const float *chw, Image *img)
{
    // chw: (3, h, w)
    size_t plane = (size_t)img->w * (size_t)img->h;
    for (size_t p = 0; p < plane; p++)
        for (int c = 0; c < 3; c++) {
            float v = (chw[c * plane + p] + 1.0f) * 127.5f + 0.5f;
            // The comparisons are written so that NaN lands on 0.
            img->rgb[3 * p + c] = v >= 255.0f ? 255 : v > 0.0f ? (uint8_t)v : 0;
        }
}

void image_as_frame(Image *img, AVFrame *av)
{
    av->data[0] = img->rgb;
    av->linesize[0] = 3 * img->w;
    av->width = img->w;
    av->height = img->h;
    av->format = AV_PIX_FMT_RGB24;
}
