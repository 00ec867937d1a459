// ageshift convert: a video file in, the same video with every face aged out.
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/filter_options.h"
#include "media/transcode.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ageshift convert -i IN -o OUT --to old|young [options]\n"
            "\n"
            "Makes every face in a video file older or younger. The video is re-encoded\n"
            "(H.264 for .mp4/.mkv/.mov); audio and subtitles are copied as they are, with the\n"
            "same frame count, frame rate and timestamps. OUT appears only when complete.\n"
            "\n");
    TranscodeOptions to = transcode_options_default();
    char crf[64];
    snprintf(crf, sizeof crf, "libx264 quality, 0 (lossless) .. 51 (default %d)", to.crf);
    options_help_line(out, "-i FILE", "input video");
    options_help_line(out, "-o FILE", "output video");
    options_help_line(out, "-c:v NAME", "video encoder (default libx264)");
    options_help_line(out, "-crf N", crf);
    AgeshiftOptions d = ageshift_options_default();
    d.model_path = NULL;
    filter_options_help(out, &d);
}

typedef struct {
    AgeshiftFilter *filter;
    int tty;
    double last;
} ConvertState;

static int filter_frame(void *ctx, AVFrame *frame, Err *err)
{
    ConvertState *s = ctx;
    return ageshift_process(s->filter, frame, err);
}

static void progress(void *ctx, long frames, long expected, double fps)
{
    ConvertState *s = ctx;
    if (!s->tty && frames % 100 && frames != expected)
        return;
    char eta[32] = "";
    if (expected > 0 && fps > 0) {
        long t = (long)((expected - frames) / fps);
        snprintf(eta, sizeof eta, "  ETA %ldm%02lds", t / 60, t % 60);
    }
    if (expected > 0)
        fprintf(stderr, "%sframe %ld/%ld (%.0f%%)  %.1f fps%s%s", s->tty ? "\r\033[K" : "", frames,
                expected, 100.0 * frames / expected, fps, eta, s->tty ? "" : "\n");
    else
        fprintf(stderr, "%sframe %ld  %.1f fps%s", s->tty ? "\r\033[K" : "", frames, fps,
                s->tty ? "" : "\n");
}

static void warning(void *ctx, const char *msg)
{
    ConvertState *s = ctx;
    fprintf(stderr, "%sageshift convert: warning: %s\n", s->tty ? "\r\033[K" : "", msg);
}

int cmd_convert(int argc, char **argv)
{
    AgeshiftOptions fo = ageshift_options_default();
    fo.model_path = NULL; // the default model, found after the options
    OptionSet fs;
    filter_options_begin(&fs, &fo);
    TranscodeOptions to = transcode_options_default();
    const char *in = NULL, *out = NULL;
    struct option opts[OPTIONS_MAX + 4] = {
        {"help", 0, 0, 'h'}, {"c:v", 1, 0, 'c'}, {"crf", 1, 0, 'q'}};
    int nopts = 3;
    options_getopt(&fs, opts, &nopts, OPTIONS_MAX + 4);
    int c;
    long v;
    opterr = 0;
    while ((c = getopt_long_only(argc, argv, "i:o:h", opts, NULL)) != -1) {
        int r = options_apply(&fs, c, optarg);
        if (r < 0)
            return 2;
        if (r)
            continue;
        switch (c) {
        case 'i': in = optarg; break;
        case 'o': out = optarg; break;
        case 'c': to.video_codec = optarg; break;
        case 'q':
            if (arg_int("-crf", optarg, 0, 51, &v))
                return 2;
            to.crf = (int)v;
            break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "ageshift convert: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (!in || !out || options_report_missing(&fs, "convert") || optind < argc) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(in, out)) {
        fprintf(stderr, "ageshift convert: the output must not be the input\n");
        return 2;
    }
    if (!(fo.model_path = model_or_default("convert", fo.model_path)))
        return 1;
    Err err;
    ConvertState st = {.tty = isatty(STDERR_FILENO)};
    if (!(st.filter = ageshift_open(&fo, &err))) {
        fprintf(stderr, "ageshift convert: %s\n", err.msg);
        return 1;
    }
    to.progress = progress;
    to.warning = warning;
    to.ctx = &st;
    int rc = transcode_file(in, out, &to, filter_frame, &st, &err);
    AgeshiftStats s;
    ageshift_stats(st.filter, &s);
    ageshift_close(st.filter);
    if (st.tty)
        fputc('\n', stderr);
    if (rc) {
        fprintf(stderr, "ageshift convert: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr, "%s: %ld frames, %ld faces changed", out, s.frames, s.faces);
    if (s.held_back)
        fprintf(stderr, ", %ld of %ld changes held back by the artefact guard (score up to %.0f%%)",
                s.held_back, s.generated, (double)s.guard_score_max);
    fputc('\n', stderr);
    return 0;
}
