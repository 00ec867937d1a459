// Landmarks on the training faces: what the alignment (filter/align.h) is built on.
//
//   bench_landmarks [--dlib-boxes TSV] [--second CASCADE] [FACES_DIR]
//                   (FACES_DIR default: $AGESHIFT_FACES, else ../shared/faces)
//
// Each 200x200 crop of FACES_DIR/young and FACES_DIR/old is pasted into a 400x400 mid-grey
// frame (as bench_detect does) and found by the default LBP cascade; then:
//  - with --dlib-boxes (the output of tests/golden/dlib_landmarks on the same crops, names
//    young/FILE and old/FILE): dlib's HOG box against the LBP box, as the offset of its centre
//    and its size in units of the LBP box's width: the mapping landmark_box() uses; and how far
//    our points from the mapped LBP box fall from our points from dlib's own box;
//  - with --second: that cascade's box against the LBP box (the mapping face_find.c applies to
//    the boxes of its second cascade);
//  - the landmarks from the mapped LBP box, in units of the crop: their mean over all faces is
//    the template faces are aligned to (printed as the C table of filter/align.c), and the
//    spread of each face's points around it after the similarity fit (how well a similarity
//    explains the training framing);
//  - the time of one landmarks_predict.
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_faces.h"
#include "core/base/clock.h"
#include "filter/align.h"
#include "filter/cascade.h"
#include "filter/landmarks.h"

#define CROP 200
#define FRAME 400
#define POINTS 68
#define CASCADE "/usr/share/opencv4/lbpcascades/lbpcascade_frontalface_improved.xml"

typedef struct {
    char name[256];
    float box[4]; // dlib's l t r b
} DlibBox;

static int read_dlib_boxes(const char *path, DlibBox **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = 0, cap = 0;
    DlibBox *v = NULL;
    char line[8192];
    while (fgets(line, sizeof line, f)) {
        if (n == cap && !(v = realloc(v, (size_t)(cap = cap ? 2 * cap : 1024) * sizeof *v)))
            return -1;
        if (sscanf(line, "%255s %f %f %f %f", v[n].name, &v[n].box[0], &v[n].box[1], &v[n].box[2],
                   &v[n].box[3]) == 5)
            n++;
    }
    fclose(f);
    *out = v;
    return n;
}

static const DlibBox *find_box(const DlibBox *v, int n, const char *path)
{
    // path ends in young/FILE or old/FILE
    const char *slash = strrchr(path, '/');
    while (slash > path && slash[-1] != '/')
        slash--;
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i].name, slash))
            return &v[i];
    return NULL;
}

typedef struct {
    Detector *det;
    uint8_t frame[FRAME * FRAME];
    int ox, oy;
} Scene;

static bool nearest_box(const Scene *s, Detector *det, FaceRect *box);

// The crop pasted into the frame and the LBP box nearest its centre; false when not found.
static bool find_face(Scene *s, const char *path, unsigned *seed, FaceRect *box)
{
    Image img;
    Err err;
    if (image_load(path, &img, &err) < 0 || img.w != CROP || img.h != CROP) {
        image_free(&img);
        return false;
    }
    s->ox = (int)(bench_lcg(seed) % (FRAME - CROP + 1));
    s->oy = (int)(bench_lcg(seed) % (FRAME - CROP + 1));
    memset(s->frame, 128, sizeof s->frame);
    paste_gray(&img, s->frame, FRAME, s->ox, s->oy);
    image_free(&img);
    return nearest_box(s, s->det, box);
}

// The box det finds nearest the pasted crop's centre; false when none is near.
static bool nearest_box(const Scene *s, Detector *det, FaceRect *box)
{
    Err err;
    DetectOptions o = detect_options_default();
    o.min_size = 60;
    FaceBox b[16];
    int n = detector_run(det, s->frame, FRAME, FRAME, FRAME, &o, b, 16, &err);
    double cx = s->ox + CROP / 2.0, cy = s->oy + CROP / 2.0, best = 1e30;
    for (int k = 0; k < n; k++) {
        double bx = b[k].x + b[k].w / 2.0, by = b[k].y + b[k].h / 2.0, d = hypot(bx - cx, by - cy);
        if (fabs(bx - cx) <= CROP / 4.0 && fabs(by - cy) <= CROP / 4.0 && d < best) {
            best = d;
            *box = (FaceRect){(float)b[k].x, (float)b[k].y, (float)b[k].w, (float)b[k].h};
        }
    }
    return best < 1e30;
}

int main(int argc, char **argv)
{
    const char *dlib_tsv = NULL, *second = NULL;
    while (argc > 2 && (!strcmp(argv[1], "--dlib-boxes") || !strcmp(argv[1], "--second"))) {
        *(!strcmp(argv[1], "--second") ? &second : &dlib_tsv) = argv[2];
        argc -= 2;
        argv += 2;
    }
    const char *dir = bench_faces_dir(argc > 1 ? argv[1] : NULL);
    FaceList faces;
    if (face_list(dir, &faces) < 0) {
        fprintf(stderr, "bench_landmarks: no faces under %s/young or %s/old\n", dir, dir);
        return 1;
    }
    Err err;
    Cascade *c = cascade_load(CASCADE, &err);
    LandmarkModel *lm = c ? landmarks_load(LANDMARKS_DEFAULT_MODEL, &err) : NULL;
    static Scene s;
    if (!lm || !(s.det = detector_create(c, &err))) {
        fprintf(stderr, "bench_landmarks: %s\n", err.msg);
        return 1;
    }
    DlibBox *boxes = NULL;
    int nboxes = 0;
    if (dlib_tsv && (nboxes = read_dlib_boxes(dlib_tsv, &boxes)) < 0) {
        fprintf(stderr, "bench_landmarks: cannot read %s\n", dlib_tsv);
        return 1;
    }
    printf("landmarks on %d training faces from %s\n", faces.n, dir);

    // The mapping from the LBP box to dlib's box.
    if (nboxes > 0) {
        double sx = 0, sy = 0, ss = 0, sxx = 0, syy = 0, sss = 0, err_sum = 0;
        int n = 0;
        unsigned seed = 2024;
        for (int i = 0; i < faces.n; i++) {
            FaceRect r;
            const DlibBox *d = find_box(boxes, nboxes, faces.paths[i]);
            if (!find_face(&s, faces.paths[i], &seed, &r) || !d)
                continue;
            // dlib's inclusive box in the frame: [l, r] -> [ox + l, ox + r + 1)
            double dw = d->box[2] - d->box[0] + 1, dcx = s.ox + d->box[0] + dw / 2;
            double dcy = s.oy + d->box[1] + (d->box[3] - d->box[1] + 1) / 2;
            double x = (dcx - (r.x + r.w / 2)) / r.w, y = (dcy - (r.y + r.h / 2)) / r.w;
            double k = dw / r.w;
            sx += x, sy += y, ss += k, sxx += x * x, syy += y * y, sss += k * k;
            // Our points from dlib's box and from the mapped LBP box.
            float a[2 * POINTS], b[2 * POINTS];
            LandmarkBox own = {(float)(s.ox + d->box[0]), (float)(s.oy + d->box[1]), (float)dw,
                               (float)(d->box[3] - d->box[1] + 1)};
            landmarks_predict(lm, s.frame, FRAME, FRAME, FRAME, own, a);
            landmarks_predict(lm, s.frame, FRAME, FRAME, FRAME, landmark_box(r), b);
            double e = 0;
            for (int p = 0; p < POINTS; p++)
                e += hypot(a[2 * p] - b[2 * p], a[2 * p + 1] - b[2 * p + 1]);
            err_sum += e / POINTS / dw;
            n++;
        }
        double mx = sx / n, my = sy / n, mk = ss / n;
        printf("dlib's box from the LBP box, over %d faces both found: centre offset (%+.4f, %+.4f)"
               " (sd %.4f, %.4f), size %.4f (sd %.4f) LBP box widths\n",
               n, mx, my, sqrt(fmax(0, sxx / n - mx * mx)), sqrt(fmax(0, syy / n - my * my)), mk,
               sqrt(fmax(0, sss / n - mk * mk)));
        printf("our points from the mapped LBP box vs from dlib's box: mean %.2f%% of the box "
               "(%.2f px at 200 px crops)\n",
               100 * err_sum / n, 200 * 0.7 * err_sum / n);
    }

    // Another cascade's box against the LBP box (face_find.c maps its boxes onto the LBP's).
    if (second) {
        Cascade *c2 = cascade_load(second, &err);
        Detector *d2 = c2 ? detector_create(c2, &err) : NULL;
        if (!d2) {
            fprintf(stderr, "bench_landmarks: %s\n", err.msg);
            return 1;
        }
        double sx = 0, sy = 0, ss = 0, sxx = 0, syy = 0, sss = 0;
        int n = 0, only = 0;
        unsigned seed = 2024;
        for (int i = 0; i < faces.n; i++) {
            FaceRect r, r2;
            bool lbp = find_face(&s, faces.paths[i], &seed, &r);
            if (!nearest_box(&s, d2, &r2))
                continue;
            if (!lbp) {
                only++;
                continue;
            }
            double x = ((r.x + r.w / 2) - (r2.x + r2.w / 2)) / r2.w;
            double y = ((r.y + r.h / 2) - (r2.y + r2.h / 2)) / r2.w, k = r.w / r2.w;
            sx += x, sy += y, ss += k, sxx += x * x, syy += y * y, sss += k * k;
            n++;
        }
        double mx = sx / n, my = sy / n, mk = ss / n;
        printf("the LBP box from %s's, over %d faces both found (%d found by it alone): centre "
               "offset (%+.4f, %+.4f) (sd %.4f, %.4f), size %.4f (sd %.4f) of its box's width\n",
               second, n, only, mx, my, sqrt(fmax(0, sxx / n - mx * mx)),
               sqrt(fmax(0, syy / n - my * my)), mk, sqrt(fmax(0, sss / n - mk * mk)));
        detector_free(d2);
        cascade_free(c2);
    }

    // The template: mean landmarks in crop units, from the mapped LBP box.
    double *sum = calloc(2 * POINTS, sizeof *sum);
    float *all = malloc((size_t)faces.n * 2 * POINTS * sizeof *all);
    int n = 0;
    unsigned seed = 2024;
    double t_predict = 0;
    for (int i = 0; i < faces.n; i++) {
        FaceRect r;
        if (!find_face(&s, faces.paths[i], &seed, &r))
            continue;
        float *xy = all + (size_t)n * 2 * POINTS;
        double t0 = clock_now_s();
        landmarks_predict(lm, s.frame, FRAME, FRAME, FRAME, landmark_box(r), xy);
        t_predict += clock_now_s() - t0;
        for (int p = 0; p < POINTS; p++) {
            xy[2 * p] = (xy[2 * p] - (float)s.ox) / CROP;
            xy[2 * p + 1] = (xy[2 * p + 1] - (float)s.oy) / CROP;
            sum[2 * p] += xy[2 * p];
            sum[2 * p + 1] += xy[2 * p + 1];
        }
        n++;
    }
    float tmpl[2 * POINTS];
    for (int i = 0; i < 2 * POINTS; i++)
        tmpl[i] = (float)(sum[i] / n);
    // How far each face's points lie from the template after its own similarity fit.
    double spread = 0;
    for (int i = 0; i < n; i++) {
        float *xy = all + (size_t)i * 2 * POINTS;
        Similarity t = similarity_fit(xy + 2 * ALIGN_FIRST_POINT, tmpl + 2 * ALIGN_FIRST_POINT,
                                      POINTS - ALIGN_FIRST_POINT);
        for (int p = ALIGN_FIRST_POINT; p < POINTS; p++) {
            float u, v;
            similarity_apply(t, xy[2 * p], xy[2 * p + 1], &u, &v);
            spread += hypot(u - tmpl[2 * p], v - tmpl[2 * p + 1]);
        }
    }
    printf("template from %d faces (found by the LBP cascade); after each face's similarity fit "
           "its points %d..67 lie %.2f%% of the crop from the template on average\n",
           n, ALIGN_FIRST_POINT, 100 * spread / n / (POINTS - ALIGN_FIRST_POINT));
    printf("landmarks_predict: %.3f ms per face\n", 1e3 * t_predict / n);
    printf("const float align_template[2 * ALIGN_POINTS] = {\n");
    for (int p = 0; p < POINTS; p++)
        printf("%s%.4ff, %.4ff,%s", p % 4 == 0 ? "    " : " ", tmpl[2 * p], tmpl[2 * p + 1],
               p % 4 == 3 ? "\n" : "");
    printf("};\n");
    free(sum);
    free(all);
    free(boxes);
    detector_free(s.det);
    cascade_free(c);
    landmarks_free(lm);
    face_list_free(&faces);
    return 0;
}
