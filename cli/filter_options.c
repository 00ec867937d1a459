#include "cli/filter_options.h"

#include <stddef.h>

const char *const age_direction_words[] = {"old", "young", NULL};
_Static_assert(AGE_OLDER == 0 && AGE_YOUNGER == 1 && sizeof(AgeDirection) == sizeof(int),
               "--to stores the index of its word as an AgeDirection");

#define FIELD(name) offsetof(AgeshiftOptions, name)

static const Option table[] = {
    OPTION_TO(FIELD(direction)),
    OPTION_MODEL(FIELD(model_path)),
    {.name = "strength",
     .arg = "X",
     .type = OPT_FLOAT,
     .offset = FIELD(strength),
     .min = 0,
     .max = 1,
     .help = "from 0, unchanged, to 1, the model's full change"},
    {.name = "max-faces",
     .arg = "N",
     .type = OPT_INT,
     .offset = FIELD(max_faces),
     .min = 1,
     .max = AGESHIFT_MAX_FACES,
     .help = "faces changed per frame"},
    {.name = "detect-every",
     .arg = "N",
     .type = OPT_INT,
     .offset = FIELD(detect_every),
     .min = 1,
     .max = 1000,
     .help = "look for faces every N frames, tracking in between"},
    {.name = "generate-every",
     .arg = "N",
     .type = OPT_INT,
     .offset = FIELD(generate_every),
     .min = 1,
     .max = 1000,
     .help = "run the model on a face every N frames, reusing its change in between; 1 for the "
             "best quality"},
    {.name = "min-face",
     .arg = "N",
     .type = OPT_INT,
     .offset = FIELD(min_face),
     .min = 8,
     .max = 10000,
     .help = "smallest face in pixels",
     .zero_means = "video 1/8 of the height, a picture 1/24 of its shorter side and 40 or more"},
    {.name = "cascade",
     .arg = "FILE",
     .type = OPT_STRING,
     .offset = FIELD(cascade_path),
     .help = "OpenCV cascade XML for face detection"},
    {.name = "second-cascade",
     .arg = "FILE",
     .type = OPT_STRING,
     .offset = FIELD(second_cascade_path),
     .help = "pictures: a second OpenCV cascade, for faces the first misses"},
    {.name = "landmarks",
     .arg = "FILE",
     .type = OPT_STRING,
     .offset = FIELD(landmarks_path),
     .help = "dlib 68-point shape predictor (.dat) that aligns each face"},
    {.name = "hair",
     .arg = "X",
     .type = OPT_FLOAT,
     .offset = FIELD(hair),
     .min = 0,
     .max = 1,
     .help = "how much of the change reaches the hair around the face, 0 to 1"},
    {.name = "detail",
     .arg = "X",
     .type = OPT_FLOAT,
     .offset = FIELD(detail),
     .min = 0,
     .max = 1,
     .help = "how much of the face's fine detail is kept where the model blurs it, 0 to 1"},
    {.name = "guard",
     .arg = "X",
     .type = OPT_FLOAT,
     .offset = FIELD(guard),
     .min = 0,
     .max = 1,
     .help = "how far a face whose change looks broken (blotches, burns) is held back, 0 (not) "
             "to 1"},
    {.name = "colour-limit",
     .arg = "LEVELS",
     .type = OPT_FLOAT,
     .offset = FIELD(colour_limit),
     .min = 0,
     .max = 255,
     .help = "how far the change's new colours may depart from the face's even tint, in "
             "levels of 255 (red or green blotches; greying passes whole); 0 turns it off"},
    OPTION_THREADS(FIELD(threads)),
};

void filter_options_begin(OptionSet *s, AgeshiftOptions *o)
{
    *s = (OptionSet){table, (int)(sizeof table / sizeof *table), o, FILTER_OPTIONS_VAL_BASE, {0}};
}

void filter_options_help(FILE *out, const AgeshiftOptions *defaults)
{
    options_help(out, table, (int)(sizeof table / sizeof *table), defaults);
}
