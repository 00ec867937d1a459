// ageshift filter: frames in on stdin, the same frames with faces aged out on stdout, so that
// ffmpeg -i in.mp4 -pix_fmt yuv420p -f yuv4mpegpipe - | ageshift filter --to old | ffmpeg -i -
// out.mp4 works. Nothing but frames goes to stdout; messages go to stderr.
#include <getopt.h>
#include <libavutil/frame.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/filter_options.h"
#include "media/y4m.h"

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: ageshift filter --to old|young [options] < in.y4m > out.y4m\n"
        "       ageshift filter --to old|young -s WxH -pix_fmt rgb24|yuv420p [options]\n"
        "\n"
        "Reads YUV4MPEG2 (ffmpeg -f yuv4mpegpipe, 4:2:0) or raw frames on stdin and writes the\n"
        "same stream with every face made older or younger on stdout, e.g.\n"
        "  ffmpeg -i in.mp4 -pix_fmt yuv420p -f yuv4mpegpipe - | ageshift filter --to old |\n"
        "      ffmpeg -i - out.mp4\n"
        "\n");
    options_help_line(out, "-s WxH", "raw frames of this size instead of y4m");
    options_help_line(out, "-pix_fmt FMT",
                      "raw frames' format: yuv420p or rgb24 (default yuv420p)");
    options_help_line(out, "-r N[/D]", "raw frames' rate, for the progress line (default 25)");
    AgeshiftOptions d = ageshift_options_default();
    d.model_path = NULL;
    filter_options_help(out, &d);
}

// The y4m/raw frame seen as an AVFrame (no copy) for the filter.
static void wrap(const Frame *in, const StreamInfo *info, AVFrame *av)
{
    for (int p = 0; p < 3; p++) {
        av->data[p] = in->plane[p];
        av->linesize[p] = in->stride[p];
    }
    av->width = in->width;
    av->height = in->height;
    if (in->fmt == PIXFMT_RGB24)
        av->format = AV_PIX_FMT_RGB24;
    else // y4m 4:2:0 is limited range unless the stream says otherwise
        av->format =
            strstr(info->extra, "XCOLORRANGE=FULL") ? AV_PIX_FMT_YUVJ420P : AV_PIX_FMT_YUV420P;
}

int cmd_filter(int argc, char **argv)
{
    AgeshiftOptions fo = ageshift_options_default();
    fo.model_path = NULL; // the default model, found after the options
    OptionSet fs;
    filter_options_begin(&fs, &fo);
    bool raw = false;
    int w = 0, h = 0, fps_num = 25, fps_den = 1;
    PixFmt fmt = PIXFMT_YUV420P;
    struct option opts[OPTIONS_MAX + 5] = {
        {"help", 0, 0, 'h'}, {"s", 1, 0, 's'}, {"pix_fmt", 1, 0, 'p'}, {"r", 1, 0, 'r'}};
    int nopts = 4;
    options_getopt(&fs, opts, &nopts, OPTIONS_MAX + 5);
    int c;
    Err err;
    opterr = 0;
    while ((c = getopt_long_only(argc, argv, "h", opts, NULL)) != -1) {
        int r = options_apply(&fs, c, optarg);
        if (r < 0)
            return 2;
        if (r)
            continue;
        switch (c) {
        case 's':
            if (sscanf(optarg, "%dx%d", &w, &h) != 2 || w < 2 || h < 2 || w > Y4M_MAX_DIM ||
                h > Y4M_MAX_DIM) {
                fprintf(stderr, "ageshift filter: -s: '%s' is not a size like 1280x720\n", optarg);
                return 2;
            }
            raw = true;
            break;
        case 'p':
            if (pixfmt_parse(optarg, &fmt, &err) ||
                (fmt != PIXFMT_YUV420P && fmt != PIXFMT_RGB24)) {
                fprintf(stderr, "ageshift filter: -pix_fmt: '%s': use yuv420p or rgb24\n", optarg);
                return 2;
            }
            break;
        case 'r':
            if (sscanf(optarg, "%d/%d", &fps_num, &fps_den) < 1 || fps_num < 1 || fps_den < 1) {
                fprintf(stderr, "ageshift filter: -r: '%s' is not a rate like 30 or 30000/1001\n",
                        optarg);
                return 2;
            }
            break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "ageshift filter: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (options_report_missing(&fs, "filter") || optind < argc) {
        usage(stderr);
        return 2;
    }
    if (isatty(STDOUT_FILENO)) {
        fprintf(stderr, "ageshift filter: stdout is a terminal; pipe it into ffmpeg or a file\n");
        return 2;
    }
    if (!(fo.model_path = model_or_default("filter", fo.model_path)))
        return 1;
    signal(SIGPIPE, SIG_IGN); // a closed downstream is reported as an error, not a crash

    int rc = 1;
    AgeshiftFilter *filter = NULL;
    FrameWriter *writer = NULL;
    Frame frame = {0};
    AVFrame *av = av_frame_alloc();
    FrameReader *reader = raw ? raw_reader_open(stdin, "stdin", w, h, fmt, fps_num, fps_den, &err)
                              : y4m_reader_open(stdin, "stdin", &err);
    if (!reader || !av)
        goto fail;
    const StreamInfo *info = frame_reader_info(reader);
    if (info->fmt != PIXFMT_YUV420P && info->fmt != PIXFMT_RGB24) {
        err_set(&err, "stdin: %s frames are not supported: convert with ffmpeg -pix_fmt yuv420p",
                pixfmt_name(info->fmt));
        goto fail;
    }
    if (info->fps_assumed)
        fprintf(stderr, "ageshift filter: note: the stream gives no frame rate; 25 assumed\n");
    if (!(filter = ageshift_open(&fo, &err)) ||
        frame_alloc(&frame, info->fmt, info->width, info->height, &err))
        goto fail;
    writer = raw ? raw_writer_open(stdout, "stdout", info, &err)
                 : y4m_writer_open(stdout, "stdout", info, &err);
    if (!writer)
        goto fail;
    int got;
    while ((got = frame_reader_next(reader, &frame, &err)) == 1) {
        wrap(&frame, info, av);
        if (ageshift_process(filter, av, &err) || frame_writer_put(writer, &frame, &err))
            goto fail;
        long long n = frame_reader_count(reader);
        if (n % 100 == 0)
            fprintf(stderr, "ageshift filter: %lld frames\n", n);
    }
    if (got < 0)
        goto fail;
    AgeshiftStats s;
    ageshift_stats(filter, &s);
    fprintf(stderr, "ageshift filter: %ld frames, %ld faces changed\n", s.frames, s.faces);
    rc = 0;
fail:
    if (rc)
        fprintf(stderr, "ageshift filter: %s\n", err.msg);
    frame_writer_close(writer);
    frame_reader_close(reader);
    frame_free(&frame);
    av_frame_free(&av);
    ageshift_close(filter);
    return rc;
}
