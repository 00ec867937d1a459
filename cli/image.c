// ageshift image: one photo with faces anywhere in it.
#include <getopt.h>
#include <libavutil/frame.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/filter_options.h"
#include "media/image_io.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: ageshift image IN -o OUT --to old|young [options]\n"
                 "\n"
                 "Makes every face in a photo older or younger. OUT is PNG or JPEG by its name.\n"
                 "\n"
                 "  -o FILE              the output picture\n");
    filter_options_help(out);
}

int cmd_image(int argc, char **argv)
{
    AgeshiftOptions fo = ageshift_options_default();
    fo.model_path = NULL; // the default model, found after the options
    fo.detect_every = 1;
    fo.min_face = 24;
    fo.still = true;
    bool direction_given = false;
    const char *out = NULL;
    static const struct option opts[] = {{"help", 0, 0, 'h'}, FILTER_LONG_OPTIONS, {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        int r = filter_option(&fo, c, optarg, &direction_given);
        if (r < 0)
            return 2;
        if (r)
            continue;
        if (c == 'o')
            out = optarg;
        else if (c == 'h') {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "ageshift image: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (!out || !direction_given || optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    if (!(fo.model_path = model_or_default("image", fo.model_path)))
        return 1;
    Err err;
    Image img = {0};
    AgeshiftFilter *f = NULL;
    AVFrame *av = av_frame_alloc();
    int rc = 1;
    if (!av || image_load(argv[optind], &img, &err) || !(f = ageshift_open(&fo, &err)))
        goto done;
    av->data[0] = img.rgb;
    av->linesize[0] = 3 * img.w;
    av->width = img.w;
    av->height = img.h;
    av->format = AV_PIX_FMT_RGB24;
    if (ageshift_process(f, av, &err) || image_save(out, &img, &err))
        goto done;
    AgeshiftStats s;
    ageshift_stats(f, &s);
    fprintf(stderr, "%s: %ld face%s changed\n", out, s.faces, s.faces == 1 ? "" : "s");
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "ageshift image: %s\n", err.msg);
    ageshift_close(f);
    av_frame_free(&av);
    image_free(&img);
    return rc;
}
