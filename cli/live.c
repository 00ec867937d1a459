// ageshift live: the webcam (or a video file) through the filter, to a preview window and/or a
// virtual webcam, in real time.
#include <getopt.h>
#include <signal.h>
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
            "\n"
            "  --device DEV         the camera (default /dev/video0)\n"
            "  --input FILE         a video file instead of a camera, played in real time\n"
            "  --size WxH           camera size (default 640x480)\n"
            "  --fps N              camera frame rate (default 30)\n"
            "  --output DEV         also write to this v4l2loopback device\n"
            "  --no-window          no preview window (with --output)\n"
            "  --side-by-side       the original beside the aged picture\n"
            "  --no-mirror          show the picture as the camera sees it\n"
            "  --seconds N          stop after N seconds\n"
            "  --snapshots DIR      where s saves PNGs (default .)\n"
            "  --list-devices       list cameras and their modes\n");
    filter_options_help(out);
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

int cmd_live(int argc, char **argv)
{
    LiveOptions o = {.device = "/dev/video0",
                     .width = 640,
                     .height = 480,
                     .fps = 30,
                     .window = true,
                     .mirror = true,
                     .message = on_message,
                     .stop = &stop_signal};
    o.filter = ageshift_options_default();
    o.filter.model_path = NULL; // the default model, found after the options
    bool direction_given = false, list = false;
    enum {
        O_DEVICE = 300,
        O_INPUT,
        O_SIZE,
        O_FPS,
        O_OUTPUT,
        O_NOWIN,
        O_SIDE,
        O_NOMIRROR,
        O_SECS,
        O_SNAP,
        O_LIST
    };
    static const struct option opts[] = {{"help", 0, 0, 'h'},
                                         {"device", 1, 0, O_DEVICE},
                                         {"input", 1, 0, O_INPUT},
                                         {"size", 1, 0, O_SIZE},
                                         {"fps", 1, 0, O_FPS},
                                         {"output", 1, 0, O_OUTPUT},
                                         {"no-window", 0, 0, O_NOWIN},
                                         {"side-by-side", 0, 0, O_SIDE},
                                         {"no-mirror", 0, 0, O_NOMIRROR},
                                         {"seconds", 1, 0, O_SECS},
                                         {"snapshots", 1, 0, O_SNAP},
                                         {"list-devices", 0, 0, O_LIST},
                                         FILTER_LONG_OPTIONS,
                                         {0, 0, 0, 0}};
    int c;
    long v;
    double x;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        int r = filter_option(&o.filter, c, optarg, &direction_given);
        if (r < 0)
            return 2;
        if (r)
            continue;
        switch (c) {
        case O_DEVICE: o.device = optarg; break;
        case O_INPUT: o.input_file = optarg; break;
        case O_SIZE:
            if (sscanf(optarg, "%dx%d", &o.width, &o.height) != 2 || o.width < 16 ||
                o.height < 16) {
                fprintf(stderr, "ageshift live: --size: '%s' is not a size like 640x480\n", optarg);
                return 2;
            }
            break;
        case O_FPS:
            if (arg_int("--fps", optarg, 1, 240, &v))
                return 2;
            o.fps = (int)v;
            break;
        case O_OUTPUT: o.output_device = optarg; break;
        case O_NOWIN: o.window = false; break;
        case O_SIDE: o.side_by_side = true; break;
        case O_NOMIRROR: o.mirror = false; break;
        case O_SECS:
            if (arg_float("--seconds", optarg, 0.1, 1e7, &x))
                return 2;
            o.seconds = x;
            break;
        case O_SNAP: o.snapshot_dir = optarg; break;
        case O_LIST: list = true; break;
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "ageshift live: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    Err err;
    if (list) {
        int n = v4l2_list_devices(&v4l2_sys_real, "/dev", print_line, NULL, &err);
        if (n < 0) {
            fprintf(stderr, "ageshift live: %s\n", err.msg);
            return 1;
        }
        if (n == 0)
            printf("no cameras found in /dev (try --input FILE to play a video instead)\n");
        return 0;
    }
    if (!direction_given || optind < argc) {
        usage(stderr);
        return 2;
    }
    if (!o.window && !o.output_device) {
        fprintf(stderr,
                "ageshift live: --no-window needs --output: the frames must go somewhere\n");
        return 2;
    }
    if (!(o.filter.model_path = model_or_default("live", o.filter.model_path)))
        return 1;
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    LiveStats s;
    if (live_run(&o, &s, &err)) {
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
