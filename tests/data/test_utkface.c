// Tests that need the team's real UTKFace crops (../shared/faces, never in the repository), run
// by `make test-data`: every crop decodes and the split is the seed's 80/20, and the default
// face detector finds nearly all of the 2,635 training faces. AGESHIFT_FACES names the folder.
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/train/dataset.h"
#include "filter/cascade.h"
#include "media/image_io.h"
#include "tests/faces.h"

#define DEFAULT_CASCADE "/usr/share/opencv4/lbpcascades/lbpcascade_frontalface_improved.xml"

static int count_files(const char *sub)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s/%s", test_faces_dir(), sub);
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "%s: cannot open", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

static void count_skipped(void *ctx, const char *msg)
{
    (void)msg;
    ++*(int *)ctx;
}

Test(utkface, every_crop_decodes_and_splits_80_20)
{
    char young[PATH_MAX], old[PATH_MAX];
    snprintf(young, sizeof young, "%s/young", test_faces_dir());
    snprintf(old, sizeof old, "%s/old", test_faces_dir());
    DatasetSpec spec = {.young_dir = young, .old_dir = old, .seed = 0, .test_fraction = 0.2};
    DomainSplit y, o;
    int skipped = 0;
    Err err;
    cr_assert_eq(dataset_scan(&spec, &y, &o, count_skipped, &skipped, &err), 0, "%s", err.msg);
    int ny = count_files("young"), no = count_files("old");
    cr_expect_eq(skipped, 0, "%d files skipped", skipped);
    cr_expect_eq(y.train.count + y.test.count, ny);
    cr_expect_eq(o.train.count + o.test.count, no);
    cr_expect_eq(y.test.count, (int)lround(0.2 * ny));
    cr_expect_eq(o.test.count, (int)lround(0.2 * no));
    domain_split_free(&y);
    domain_split_free(&o);
}

// As bench/bench_detect measures it (97.8 % with this cascade when written): each crop pasted
// in the middle of a mid-grey 400x400 frame counts as found when a detection's centre lies in
// the crop's central 100x100.
Test(utkface, default_detector_finds_the_training_faces, .timeout = 300)
{
    Err err = {{0}};
    Cascade *c = cascade_load(DEFAULT_CASCADE, &err);
    cr_assert_not_null(c, "%s", err.msg);
    Detector *d = detector_create(c, &err);
    cr_assert_not_null(d, "%s", err.msg);
    enum { F = 400 };
    uint8_t *frame = malloc(F * F);
    cr_assert_not_null(frame);
    int found = 0, total = 0;
    const char *subs[] = {"young", "old"};
    for (int s = 0; s < 2; s++) {
        char path[PATH_MAX];
        for (int k = 0; test_face(subs[s], NULL, NULL, k, path, sizeof path); k++) {
            Image img;
            cr_assert_eq(image_load(path, &img, &err), 0, "%s", err.msg);
            memset(frame, 128, F * F);
            int ox = (F - img.w) / 2, oy = (F - img.h) / 2;
            for (int y = 0; y < img.h; y++)
                for (int x = 0; x < img.w; x++) {
                    const uint8_t *p = img.rgb + ((size_t)y * img.w + x) * 3;
                    frame[(oy + y) * F + ox + x] =
                        (uint8_t)lround(0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]);
                }
            DetectOptions o = detect_options_default();
            o.min_size = 60;
            FaceBox b[8];
            int n = detector_run(d, frame, F, F, F, &o, b, 8, &err);
            cr_assert_geq(n, 0, "%s", err.msg);
            for (int i = 0; i < n; i++) {
                double cx = b[i].x + b[i].w / 2.0 - F / 2.0, cy = b[i].y + b[i].h / 2.0 - F / 2.0;
                if (fabs(cx) <= 50 && fabs(cy) <= 50) {
                    found++;
                    break;
                }
            }
            total++;
            image_free(&img);
        }
    }
    cr_expect_geq(total, 2000, "only %d crops under %s", total, test_faces_dir());
    cr_expect_geq(found, 0.96 * total, "found %d of %d", found, total);
    free(frame);
    detector_free(d);
    cascade_free(c);
}
