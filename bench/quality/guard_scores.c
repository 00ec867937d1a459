// make quality, the artefact guard's side: the guard's score (filter/artefact_guard.h) of each
// face the filter changes in each picture, so that its thresholds can be set against what the
// test split's faces give and checked against the judge's artefact score on the same faces.
//   guard_scores MODEL old|young PICTURE...
// prints one line per picture: "path <TAB> faces <TAB> highest score <TAB> mean score".
#include <stdio.h>
#include <string.h>

#include "filter/ageshift.h"
#include "media/image_io.h"

static int score(const AgeshiftOptions *o, const char *path, AVFrame *av, Err *err)
{
    Image img = {0};
    if (image_load(path, &img, err))
        return -1;
    // A filter per picture: one stream's frames share a size, and a face's change would be
    // averaged with the last picture's.
    AgeshiftFilter *f = ageshift_open(o, err);
    int rc = -1;
    if (f) {
        image_as_frame(&img, av);
        if (!ageshift_process(f, av, err)) {
            AgeshiftStats s;
            ageshift_stats(f, &s);
            printf("%s\t%ld\t%.2f\t%.2f\n", path, s.generated, (double)s.guard_score_max,
                   s.generated ? s.guard_score_sum / (double)s.generated : 0.0);
            rc = 0;
        }
    }
    ageshift_close(f);
    image_free(&img);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 4 || (strcmp(argv[2], "old") && strcmp(argv[2], "young"))) {
        fprintf(stderr, "usage: guard_scores MODEL old|young PICTURE...\n");
        return 2;
    }
    AgeshiftOptions o = ageshift_options_default();
    o.model_path = argv[1];
    o.direction = strcmp(argv[2], "old") ? AGE_YOUNGER : AGE_OLDER;
    o.still = true;
    o.threads = 1;
    AVFrame *av = av_frame_alloc();
    if (!av)
        return 1;
    int rc = 0;
    for (int i = 3; i < argc; i++) {
        Err err;
        if (score(&o, argv[i], av, &err)) {
            fprintf(stderr, "guard_scores: %s: %s\n", argv[i], err.msg);
            rc = 1;
        }
    }
    av_frame_free(&av);
    return rc;
}
