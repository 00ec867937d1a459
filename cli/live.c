// ageshift live: the webcam (or a video file) through the filter, to a preview window and/or a
// virtual webcam, in real time.
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "capture/live.h"
#include "capture/v4l2.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/filter_options.h"

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig)
{
    stop_signal = sig;
}

static void print_line(void *ctx, const char *text)
{
    (void)ctx;
    printf("%s\n", text);
}

static void on_message(void *ctx, const char *msg)
{
    (void)ctx;
    fprintf(stderr, "ageshift live: %s\n", msg);
}

// The command's settings: the pipeline's, and whether to list the cameras instead.
typedef struct {
    LiveOptions live;
    bool list;
} LiveArgs;

#define FIELD(name) offsetof(LiveArgs, name)

static const Option live_table[] = {
    {.name = "device",
     .arg = "DEV",
     .type = OPT_STRING,
     .offset = FIELD(live.device),
     .help = "the camera"},
    {.name = "input",
     .arg = "FILE",
     .type = OPT_STRING,
     .offset = FIELD(live.input_file),
     .help = "a video file instead of a camera, played in real time",
     .flags = OPT_NO_DEFAULT},
    {.name = "size",
     .arg = "WxH",
     .type = OPT_SIZE,
     .offset = FIELD(live.width),
     .offset2 = FIELD(live.height),
     .min = 16,
     .max = 16384,
     .help = "camera size"},
    {.name = "fps",
     .arg = "N",
     .type = OPT_INT,
     .offset = FIELD(live.fps),
     .min = 1,
     .max = 240,
     .help = "camera frame rate"},
    {.name = "output",
     .arg = "DEV",
     .type = OPT_STRING,
     .offset = FIELD(live.output_device),
     .help = "also write to this v4l2loopback device",
     .flags = OPT_NO_DEFAULT},
    {.name = "no-window",
     .type = OPT_CLEAR,
     .offset = FIELD(live.window),
     .help = "no preview window (with --output)"},
    {.name = "side-by-side",
     .type = OPT_SET,
     .offset = FIELD(live.side_by_side),
     .help = "the original beside the aged picture"},
    {.name = "no-mirror",
     .type = OPT_CLEAR,
     .offset = FIELD(live.mirror),
     .help = "show the picture as the camera sees it"},
    {.name = "no-generator-thread",
     .type = OPT_CLEAR,
     .offset = FIELD(live.filter.generator_thread),
     .help = "run the generator in line with each frame instead of beside the next (lower fps; "
             "each change from its own frame)"},
    {.name = "seconds",
     .arg = "N",
     .type = OPT_DOUBLE,
     .offset = FIELD(live.seconds),
     .min = 0.1,
     .max = 1e7,
     .help = "stop after N seconds",
     .flags = OPT_NO_DEFAULT},
    {.name = "snapshots",
     .arg = "DIR",
     .type = OPT_STRING,
     .offset = FIELD(live.snapshot_dir),
     .help = "where s saves PNGs",
     .zero_means = "."},
    {.name = "list-devices",
     .type = OPT_SET,
     .offset = FIELD(list),
     .help = "list cameras and their modes"},
};
#define LIVE_OPTIONS_VAL_BASE 0x2000

static LiveArgs live_defaults(void)
{
    LiveArgs a = {.live = {.device = "/dev/video0",
                           .width = 640,
                           .height = 480,
                           .fps = 30,
                           .window = true,
                           .mirror = true,
                           .message = on_message,
                           .stop = &stop_signal}};
    a.live.filter = ageshift_options_default();
    a.live.filter.model_path = NULL;       // the default model, found after the options
    a.live.filter.generator_thread = true; // a change per frame, and 30 fps
    a.live.filter.realtime = true;         // a slow generator must not slow the preview
    return a;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ageshift live --to old|young [options]\n"
            "       ageshift live --list-devices\n"
            "\n"
            "Shows the webcam with every face made older or younger, live, in a window (mirrored\n"
            "like a selfie camera) and/or sends it to a virtual webcam (v4l2loopback) that video\n"
            "calls can use. Keys: space older/younger, m mirror, v side by side, s snapshot,\n"
            "+/- strength, q or Esc quit.\n"
            "\n");
    LiveArgs d = live_defaults();
    options_help(out, live_table, (int)(sizeof live_table / sizeof *live_table), &d);
    filter_options_help(out, &d.live.filter);
}

int cmd_live(int argc, char **argv)
{
    LiveArgs args = live_defaults();
    LiveOptions *o = &args.live;
    OptionSet ls = {live_table,
                    (int)(sizeof live_table / sizeof *live_table),
                    &args,
                    LIVE_OPTIONS_VAL_BASE,
                    {0}};
    OptionSet fs;
    filter_options_begin(&fs, &o->filter);
    struct option opts[2 * OPTIONS_MAX + 2] = {{"help", 0, 0, 'h'}};
    int nopts = 1;
    options_getopt(&ls, opts, &nopts, 2 * OPTIONS_MAX + 2);
    options_getopt(&fs, opts, &nopts, 2 * OPTIONS_MAX + 2);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = options_apply(&fs, c, optarg);
        if (r == 0)
            r = options_apply(&ls, c, optarg);
        if (r < 0)
            return 2;
        if (r)
            continue;
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "ageshift live: unknown or incomplete option '%s'\n", argv[optind - 1]);
        usage(stderr);
        return 2;
    }
    Err err;
    if (args.list) {
        int n = v4l2_list_devices(&v4l2_sys_real, "/dev", print_line, NULL, &err);
        if (n < 0) {
            fprintf(stderr, "ageshift live: %s\n", err.msg);
            return 1;
        }
        if (n == 0)
            printf("no cameras found in /dev (try --input FILE to play a video instead)\n");
        return 0;
    }
    if (options_report_missing(&fs, "live") || optind < argc) {
        usage(stderr);
        return 2;
    }
    if (!o->window && !o->output_device) {
        fprintf(stderr,
                "ageshift live: --no-window needs --output: the frames must go somewhere\n");
        return 2;
    }
    if (!(o->filter.model_path = model_or_default("live", o->filter.model_path)))
        return 1;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    LiveStats s;
    if (live_run(o, &s, &err)) {
        fprintf(stderr, "ageshift live: %s\n", err.msg);
        return 1;
    }
    fprintf(stderr,
            "ageshift live: %ld frames captured, %ld processed, %ld shown in %.1f s: %.1f fps, "
            "latency %.0f ms (median), %.0f ms (95th percentile)\n",
            s.captured, s.processed, s.shown, s.seconds, s.fps, s.latency_median_ms,
            s.latency_p95_ms);
    return 0;
}
