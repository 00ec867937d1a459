#include "cli/filter_options.h"

#include <string.h>

#include "cli/args.h"
#include "cli/commands.h"

void filter_options_help(FILE *out)
{
    fprintf(
        out,
        "  --to old|young       the direction (required)\n"
        "  --model FILE         a model.safetensors from ageshift train (default %s)\n"
        "  --strength X         0 (unchanged) .. 1 (the model's full change; default 1)\n"
        "  --max-faces N        faces changed per frame (default 4)\n"
        "  --detect-every N     look for faces every N frames, tracking in between (default 2)\n"
        "  --generate-every N   run the model on a face every N frames, reusing its change in\n"
        "                       between (default 2; 1 for the best quality)\n"
        "  --min-face N         smallest face in pixels (default: 1/8 of the frame height)\n"
        "  --cascade FILE       OpenCV cascade XML for face detection (default: opencv-data's\n"
        "                       lbpcascade_frontalface_improved.xml)\n"
        "  --threads N          worker threads (default: one per CPU)\n",
        DEFAULT_MODEL);
}

int filter_option(AgeshiftOptions *o, int c, const char *arg, bool *direction_given)
{
    long v;
    double x;
    switch (c) {
    case 0x1001:
        if (strcmp(arg, "old") && strcmp(arg, "young")) {
            fprintf(stderr, "ageshift: --to: '%s' is neither old nor young\n", arg);
            return -1;
        }
        o->direction = strcmp(arg, "old") == 0 ? AGE_OLDER : AGE_YOUNGER;
        *direction_given = true;
        return 1;
    case 0x1002: o->model_path = arg; return 1;
    case 0x1003:
        if (arg_float("--strength", arg, 0.0, 1.0, &x))
            return -1;
        o->strength = (float)x;
        return 1;
    case 0x1004:
        if (arg_int("--max-faces", arg, 1, 16, &v))
            return -1;
        o->max_faces = (int)v;
        return 1;
    case 0x1005:
        if (arg_int("--detect-every", arg, 1, 1000, &v))
            return -1;
        o->detect_every = (int)v;
        return 1;
    case 0x1006:
        if (arg_int("--min-face", arg, 8, 10000, &v))
            return -1;
        o->min_face = (int)v;
        return 1;
    case 0x1007: o->cascade_path = arg; return 1;
    case 0x1009:
        if (arg_int("--generate-every", arg, 1, 1000, &v))
            return -1;
        o->generate_every = (int)v;
        return 1;
    case 0x1008:
        if (arg_int("--threads", arg, 1, 64, &v))
            return -1;
        o->threads = (int)v;
        return 1;
    default: return 0;
    }
}
