#include "media/transcode.h"

#include <errno.h>
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/opt.h>
#include <libavutil/pixdesc.h>
#include <libavutil/timestamp.h>
#include <libswscale/swscale.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/base/atomic_file.h"
#include "core/base/clock.h"

TranscodeOptions transcode_options_default(void)
{
    return (TranscodeOptions){.crf = 18, .preset = "veryfast"};
}

typedef struct {
    const TranscodeOptions *opt;
    const char *in_path, *out_path, *tmp_path;
    AVFormatContext *in, *out;
    int video; // input video stream index
    int *map;  // input stream -> output stream, -1 for dropped streams
    AVCodecContext *dec, *enc;
    AVStream *out_video;
    struct SwsContext *to_yuv;
    AVFrame *frame, *converted;
    AVPacket *pkt, *enc_pkt;
    FrameCallback fn;
    void *fn_ctx;
    long frames, expected;
    double t0;
} Job;

static int av_fail(Err *err, const char *what, const char *path, int code)
{
    char msg[AV_ERROR_MAX_STRING_SIZE];
    av_strerror(code, msg, sizeof msg);
    return err_set(err, "%s: %s: %s", path, what, msg);
}

static void warn(const Job *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(const Job *j, const char *fmt, ...)
{
    if (!j->opt->warning)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    j->opt->warning(j->opt->ctx, msg);
}

static int open_input(Job *j, Err *err)
{
    int rc = avformat_open_input(&j->in, j->in_path, NULL, NULL);
    if (rc < 0)
        return av_fail(err, "cannot open", j->in_path, rc);
    if ((rc = avformat_find_stream_info(j->in, NULL)) < 0)
        return av_fail(err, "cannot read the stream information", j->in_path, rc);
    const AVCodec *codec = NULL;
    j->video = av_find_best_stream(j->in, AVMEDIA_TYPE_VIDEO, -1, -1, &codec, 0);
    if (j->video < 0)
        return err_set(err, "%s: no video stream (is it a video file?)", j->in_path);
    if (!codec)
        return err_set(err, "%s: no decoder for its video codec", j->in_path);
    AVStream *st = j->in->streams[j->video];
    j->dec = avcodec_alloc_context3(codec);
    if (!j->dec || avcodec_parameters_to_context(j->dec, st->codecpar) < 0)
        return err_set(err, "%s: cannot set up the video decoder", j->in_path);
    j->dec->pkt_timebase = st->time_base;
    j->dec->thread_count = 0;
    if ((rc = avcodec_open2(j->dec, codec, NULL)) < 0)
        return av_fail(err, "cannot open the video decoder", j->in_path, rc);
    j->expected = st->nb_frames;
    return 0;
}

// The encoder: the given codec, else H.264 (libx264) where the container takes it.
static int open_encoder(Job *j, Err *err)
{
    const AVOutputFormat *of = j->out->oformat;
    const AVCodec *codec = NULL;
    if (j->opt->video_codec) {
        codec = avcodec_find_encoder_by_name(j->opt->video_codec);
        if (!codec)
            return err_set(err, "no video encoder named '%s'", j->opt->video_codec);
    } else if (avformat_query_codec(of, AV_CODEC_ID_H264, FF_COMPLIANCE_NORMAL) == 1) {
        codec = avcodec_find_encoder_by_name("libx264");
    }
    if (!codec)
        codec = avcodec_find_encoder(of->video_codec);
    if (!codec)
        return err_set(err, "%s: no video encoder for this container", j->out_path);
    AVStream *ist = j->in->streams[j->video];
    j->enc = avcodec_alloc_context3(codec);
    if (!j->enc)
        return err_set(err, "out of memory");
    j->enc->width = j->dec->width;
    j->enc->height = j->dec->height;
    j->enc->sample_aspect_ratio = j->dec->sample_aspect_ratio;
    j->enc->pix_fmt =
        j->dec->pix_fmt == AV_PIX_FMT_YUVJ420P ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_YUV420P;
    j->enc->color_range = j->dec->color_range;
    j->enc->colorspace = j->dec->colorspace;
    j->enc->color_primaries = j->dec->color_primaries;
    j->enc->color_trc = j->dec->color_trc;
    // The input stream's time base keeps every timestamp exactly as it was.
    j->enc->time_base = ist->time_base;
    j->enc->framerate = av_guess_frame_rate(j->in, ist, NULL);
    j->enc->thread_count = 0;
    if (of->flags & AVFMT_GLOBALHEADER)
        j->enc->flags |= AV_CODEC_FLAG_GLOBAL_HEADER;
    if (!strcmp(codec->name, "libx264")) {
        char crf[16];
        snprintf(crf, sizeof crf, "%d", j->opt->crf);
        av_opt_set(j->enc->priv_data, "crf", crf, 0);
        av_opt_set(j->enc->priv_data, "preset", j->opt->preset, 0);
    }
    int rc = avcodec_open2(j->enc, codec, NULL);
    if (rc < 0)
        return av_fail(err, "cannot open the video encoder", codec->name, rc);
    j->out_video = avformat_new_stream(j->out, NULL);
    if (!j->out_video || avcodec_parameters_from_context(j->out_video->codecpar, j->enc) < 0)
        return err_set(err, "out of memory");
    j->out_video->time_base = j->enc->time_base;
    j->out_video->avg_frame_rate = j->enc->framerate;
    j->out_video->sample_aspect_ratio = j->enc->sample_aspect_ratio;
    return 0;
}

static int open_output(Job *j, Err *err)
{
    const AVOutputFormat *of = av_guess_format(NULL, j->out_path, NULL);
    if (!of)
        return err_set(err, "%s: unknown container (use a name ending in .mp4, .mkv, .mov ...)",
                       j->out_path);
    int rc = avformat_alloc_output_context2(&j->out, of, NULL, j->tmp_path);
    if (rc < 0)
        return av_fail(err, "cannot set up the output", j->out_path, rc);
    j->map = calloc(j->in->nb_streams, sizeof *j->map);
    if (!j->map)
        return err_set(err, "out of memory");
    for (unsigned i = 0; i < j->in->nb_streams; i++) {
        AVStream *ist = j->in->streams[i];
        enum AVMediaType type = ist->codecpar->codec_type;
        j->map[i] = -1;
        if ((int)i == j->video) {
            if (open_encoder(j, err))
                return -1;
            j->map[i] = j->out_video->index;
        } else if (type == AVMEDIA_TYPE_AUDIO || type == AVMEDIA_TYPE_SUBTITLE) {
            if (type == AVMEDIA_TYPE_AUDIO &&
                (ist->codecpar->sample_rate <= 0 || ist->codecpar->ch_layout.nb_channels <= 0)) {
                warn(j, "%s: audio stream %u has no usable parameters (damaged?); left out",
                     j->in_path, i);
                continue;
            }
            if (avformat_query_codec(of, ist->codecpar->codec_id, FF_COMPLIANCE_NORMAL) != 1) {
                warn(j, "%s: stream %u (%s) cannot go into this container; left out", j->in_path, i,
                     avcodec_get_name(ist->codecpar->codec_id));
                continue;
            }
            AVStream *ost = avformat_new_stream(j->out, NULL);
            if (!ost || avcodec_parameters_copy(ost->codecpar, ist->codecpar) < 0)
                return err_set(err, "out of memory");
            ost->codecpar->codec_tag = 0;
            ost->time_base = ist->time_base;
            av_dict_copy(&ost->metadata, ist->metadata, 0);
            ost->disposition = ist->disposition;
            j->map[i] = ost->index;
        }
    }
    av_dict_copy(&j->out->metadata, j->in->metadata, 0);
    if ((rc = avio_open(&j->out->pb, j->tmp_path, AVIO_FLAG_WRITE)) < 0)
        return av_fail(err, "cannot create", j->out_path, rc);
    if ((rc = avformat_write_header(j->out, NULL)) < 0)
        return av_fail(err, "cannot write the header", j->out_path, rc);
    return 0;
}

static int write_encoded(Job *j, Err *err)
{
    for (;;) {
        int rc = avcodec_receive_packet(j->enc, j->enc_pkt);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            return 0;
        if (rc < 0)
            return av_fail(err, "encoding failed", j->out_path, rc);
        av_packet_rescale_ts(j->enc_pkt, j->enc->time_base, j->out_video->time_base);
        j->enc_pkt->stream_index = j->out_video->index;
        if ((rc = av_interleaved_write_frame(j->out, j->enc_pkt)) < 0)
            return av_fail(err, "cannot write", j->out_path, rc);
    }
}

// Brings a decoded frame to the encoder's format (when it differs), then the callback.
static int filter_and_encode(Job *j, AVFrame *f, Err *err)
{
    AVFrame *use = f;
    if (f->format != j->enc->pix_fmt || f->width != j->enc->width || f->height != j->enc->height) {
        j->to_yuv =
            sws_getCachedContext(j->to_yuv, f->width, f->height, f->format, j->enc->width,
                                 j->enc->height, j->enc->pix_fmt, SWS_BICUBIC, NULL, NULL, NULL);
        AVFrame *c = j->converted;
        av_frame_unref(c);
        c->format = j->enc->pix_fmt;
        c->width = j->enc->width;
        c->height = j->enc->height;
        if (!j->to_yuv || av_frame_get_buffer(c, 0) < 0)
            return err_set(err, "cannot convert %s frames", av_get_pix_fmt_name(f->format));
        sws_scale(j->to_yuv, (const uint8_t *const *)f->data, f->linesize, 0, f->height, c->data,
                  c->linesize);
        av_frame_copy_props(c, f);
        use = c;
    }
    use->pts = use->best_effort_timestamp;
    use->pict_type = AV_PICTURE_TYPE_NONE;
    if (j->fn && j->fn(j->fn_ctx, use, err))
        return -1;
    int rc = avcodec_send_frame(j->enc, use);
    if (rc < 0)
        return av_fail(err, "encoding failed", j->out_path, rc);
    j->frames++;
    if (j->opt->progress)
        j->opt->progress(j->opt->ctx, j->frames, j->expected,
                         j->frames / (clock_now_s() - j->t0 > 1e-6 ? clock_now_s() - j->t0 : 1e-6));
    return write_encoded(j, err);
}

// Sends a packet (or NULL to drain) and handles every frame that comes out.
static int decode(Job *j, const AVPacket *pkt, Err *err)
{
    int rc = avcodec_send_packet(j->dec, pkt);
    if (rc < 0 && rc != AVERROR_EOF) {
        char msg[AV_ERROR_MAX_STRING_SIZE];
        av_strerror(rc, msg, sizeof msg);
        warn(j, "%s: a video packet at %s did not decode (%s); skipped", j->in_path,
             pkt ? av_ts2timestr(pkt->pts, &j->in->streams[j->video]->time_base) : "end", msg);
        return 0;
    }
    for (;;) {
        rc = avcodec_receive_frame(j->dec, j->frame);
        if (rc == AVERROR(EAGAIN) || rc == AVERROR_EOF)
            return 0;
        if (rc < 0) {
            warn(j, "%s: a frame did not decode; skipped", j->in_path);
            return 0;
        }
        rc = filter_and_encode(j, j->frame, err);
        av_frame_unref(j->frame);
        if (rc)
            return -1;
    }
}

static int run(Job *j, Err *err)
{
    int rc;
    while ((rc = av_read_frame(j->in, j->pkt)) >= 0) {
        int si = j->pkt->stream_index, out = j->map[si];
        if (si == j->video) {
            rc = decode(j, j->pkt, err);
        } else if (out >= 0) {
            AVStream *ist = j->in->streams[si], *ost = j->out->streams[out];
            av_packet_rescale_ts(j->pkt, ist->time_base, ost->time_base);
            j->pkt->stream_index = out;
            j->pkt->pos = -1;
            int wr = av_interleaved_write_frame(j->out, j->pkt);
            rc = wr < 0 ? av_fail(err, "cannot write", j->out_path, wr) : 0;
        } else {
            rc = 0;
        }
        av_packet_unref(j->pkt);
        if (rc)
            return -1;
    }
    if (rc != AVERROR_EOF)
        warn(j, "%s: reading stopped early (the file may be truncated)", j->in_path);
    if (decode(j, NULL, err))
        return -1;
    if ((rc = avcodec_send_frame(j->enc, NULL)) < 0)
        return av_fail(err, "encoding failed", j->out_path, rc);
    if (write_encoded(j, err))
        return -1;
    if ((rc = av_write_trailer(j->out)) < 0)
        return av_fail(err, "cannot finish", j->out_path, rc);
    if (j->frames == 0)
        return err_set(err, "%s: no video frame could be decoded", j->in_path);
    return 0;
}

static void job_free(Job *j)
{
    avcodec_free_context(&j->dec);
    avcodec_free_context(&j->enc);
    if (j->out) {
        if (j->out->pb)
            avio_closep(&j->out->pb);
        avformat_free_context(j->out);
    }
    avformat_close_input(&j->in);
    sws_freeContext(j->to_yuv);
    av_frame_free(&j->frame);
    av_frame_free(&j->converted);
    av_packet_free(&j->pkt);
    av_packet_free(&j->enc_pkt);
    free(j->map);
}

int transcode_file(const char *in, const char *out, const TranscodeOptions *opt, FrameCallback fn,
                   void *fn_ctx, Err *err)
{
    // The output exists only as an unnamed file until it is complete (core/base/atomic_file.h),
    // so a killed convert leaves nothing behind; FFmpeg writes it through a name that opens it.
    AtomicFile file;
    if (atomic_open(&file, out, err))
        return -1;
    Job j = {.opt = opt,
             .in_path = in,
             .out_path = out,
             .tmp_path = atomic_name(&file),
             .fn = fn,
             .fn_ctx = fn_ctx,
             .t0 = clock_now_s()};
    // Our messages say what went wrong and where (a damaged packet is a warning naming its
    // time); FFmpeg's own lines about the same would only repeat them, macroblock by macroblock.
    if (av_log_get_level() == AV_LOG_INFO)
        av_log_set_level(AV_LOG_FATAL);
    j.frame = av_frame_alloc();
    j.converted = av_frame_alloc();
    j.pkt = av_packet_alloc();
    j.enc_pkt = av_packet_alloc();
    int rc = -1;
    if (!j.frame || !j.converted || !j.pkt || !j.enc_pkt) {
        err_set(err, "out of memory");
        goto done;
    }
    if (open_input(&j, err) || open_output(&j, err) || run(&j, err))
        goto done;
    // FFmpeg's buffers out first; atomic_commit syncs the file before it gets its name.
    if (avio_flush(j.out->pb), j.out->pb->error < 0) {
        av_fail(err, "cannot write", out, j.out->pb->error);
        goto done;
    }
    avio_closep(&j.out->pb);
    rc = atomic_commit(&file, err);
done:
    job_free(&j);
    if (rc)
        atomic_abort(&file);
    return rc;
}
