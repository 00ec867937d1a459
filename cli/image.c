// ageshift image: one photo with faces anywhere in it.
#include <getopt.h>
#include <libavutil/frame.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/filter_options.h"
#include "media/image_io.h"

// A photo is one frame: faces are looked for at once, tilted, turned and smaller ones too, as
// many as there are, and changed on sight.
static AgeshiftOptions image_defaults(void)
{
    AgeshiftOptions o = ageshift_options_default();
    o.model_path = NULL; // the default model, found after the options
    o.detect_every = 1;
    o.max_faces = AGESHIFT_MAX_FACES;
    o.still = true;
    return o;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: ageshift image IN -o OUT --to old|young [options]\n"
                 "\n"
                 "Makes every face in a photo older or younger. OUT is PNG or JPEG by its name.\n"
                 "\n");
    options_help_line(out, "-o FILE", "the output picture");
    AgeshiftOptions d = image_defaults();
    filter_options_help(out, &d);
}

int cmd_image(int argc, char **argv)
{
    AgeshiftOptions fo = image_defaults();
    OptionSet fs;
    filter_options_begin(&fs, &fo);
    const char *out = NULL;
    struct option opts[OPTIONS_MAX + 2] = {{"help", 0, 0, 'h'}};
    int nopts = 1;
    options_getopt(&fs, opts, &nopts, OPTIONS_MAX + 2);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        int r = options_apply(&fs, c, optarg);
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
    if (!out || options_report_missing(&fs, "image") || optind != argc - 1) {
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
    image_as_frame(&img, av);
    if (ageshift_process(f, av, &err) || image_save(out, &img, &err))
        goto done;
    AgeshiftStats s;
    ageshift_stats(f, &s);
    fprintf(stderr, "%s: %ld face%s changed", out, s.faces, s.faces == 1 ? "" : "s");
    if (s.held_back)
        fprintf(stderr, ", %ld held back by the artefact guard (score up to %.0f%%)", s.held_back,
                (double)s.guard_score_max);
    fputc('\n', stderr);
    rc = 0;
done:
    if (rc)
        fprintf(stderr, "ageshift image: %s\n", err.msg);
    ageshift_close(f);
    av_frame_free(&av);
    image_free(&img);
    return rc;
}
