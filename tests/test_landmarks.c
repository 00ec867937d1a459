// Face landmarks (filter/landmarks.h): our evaluator of dlib's 68-point model against dlib's own
// points on real faces (tests/fixtures/landmarks_dlib.tsv, written by
// tests/golden/make_landmarks.sh), the prediction rules on a small hand-made model, and refusal
// of missing, truncated and corrupt model files.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filter/ageshift.h"
#include "filter/landmarks.h"
#include "tests/dlib_serialize.h"

#define GOLDEN "tests/fixtures/landmarks_dlib.tsv"
#define CLIP "samples/astronaut.mp4"
#define CLIP_W 640
#define CLIP_H 480
#define MAX_LINE 4096

// One time limit for the suite: two tests with limits of their own left 48 bytes leaked inside
// Criterion (LeakSanitizer, make SANITIZE=1 test).
TestSuite(landmarks, .timeout = 300);

static LandmarkModel *load_default_or_skip(void)
{
    struct stat st;
    if (stat(LANDMARKS_DEFAULT_MODEL, &st) != 0)
        cr_skip_test("%s is missing (Debian package libdlib-data)", LANDMARKS_DEFAULT_MODEL);
    Err err = {{0}};
    LandmarkModel *m = landmarks_load(LANDMARKS_DEFAULT_MODEL, &err);
    cr_assert_not_null(m, "%s", err.msg);
    return m;
}

// The clip, decoded once as the golden file asks for its frames, in increasing order.
typedef struct {
    FILE *p;
    long next; // the index of the next frame in the pipe
} Clip;

static void read_bytes(FILE *p, uint8_t *buf, size_t n, const char *what)
{
    cr_assert_eq(fread(buf, 1, n, p), n, "%s: short output from ffmpeg", what);
}

// The luma bytes the golden points were made from, read the way make_landmarks.sh reads them.
static uint8_t *read_luma(const char *name, Clip *clip, int *w, int *h)
{
    const char *colon = strstr(name, ".mp4:");
    if (colon) {
        // A clip frame: the Y plane of frame N of the decoded yuv420p video (chroma read past).
        long n = atol(colon + 5);
        *w = CLIP_W, *h = CLIP_H;
        size_t frame = (size_t)CLIP_W * CLIP_H * 3 / 2;
        if (!clip->p) {
            clip->p = popen("ffmpeg -v error -i " CLIP " -f rawvideo -pix_fmt yuv420p -", "r");
            cr_assert_not_null(clip->p);
        }
        cr_assert_geq(n, clip->next, "%s: the golden file's clip frames are out of order", name);
        uint8_t *buf = malloc(frame);
        cr_assert_not_null(buf);
        for (; clip->next <= n; clip->next++)
            read_bytes(clip->p, buf, frame, CLIP);
        return buf;
    }
    // A face crop (200x200 JPEG): ffmpeg's gray8, which is its Y plane.
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ffmpeg -v error -i tests/fixtures/%s -f rawvideo -pix_fmt gray -",
             name);
    *w = *h = 200;
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p, "%s", cmd);
    uint8_t *buf = malloc(200 * 200);
    cr_assert_not_null(buf);
    read_bytes(p, buf, 200 * 200, cmd);
    pclose(p);
    return buf;
}

// Reads the rest of the clip (so ffmpeg ends without a broken pipe) and closes it.
static void close_clip(Clip *clip)
{
    if (!clip->p)
        return;
    uint8_t buf[65536];
    while (fread(buf, 1, sizeof buf, clip->p) == sizeof buf)
        ;
    pclose(clip->p);
}

Test(landmarks, match_dlib_on_real_faces)
{
    LandmarkModel *m = load_default_or_skip();
    cr_assert_eq(landmarks_count(m), 68);
    FILE *f = fopen(GOLDEN, "r");
    cr_assert_not_null(f, "%s", GOLDEN);
    char line[MAX_LINE];
    Clip clip = {NULL, 0};
    int faces = 0;
    long points = 0, same = 0;
    double dist = 0.0, worst_face = 0.0;
    while (fgets(line, sizeof line, f)) {
        char *save, *name = strtok_r(line, "\t\n", &save);
        long v[4 + 2 * 68];
        for (int i = 0; i < 4 + 2 * 68; i++) {
            char *tok = strtok_r(NULL, "\t\n", &save);
            cr_assert_not_null(tok, "%s: short line for %s", GOLDEN, name);
            v[i] = atol(tok);
        }
        int w, h;
        uint8_t *gray = read_luma(name, &clip, &w, &h);
        LandmarkBox box = {(float)v[0], (float)v[1], (float)(v[2] - v[0] + 1),
                           (float)(v[3] - v[1] + 1)};
        float xy[2 * 68];
        landmarks_predict(m, gray, w, h, w, box, xy);
        double face_dist = 0.0;
        for (int k = 0; k < 68; k++) {
            // dlib's whole-pixel point is at our coordinate + 0.5, rounded: floor of ours.
            double dx = xy[2 * k] - 0.5 - (double)v[4 + 2 * k];
            double dy = xy[2 * k + 1] - 0.5 - (double)v[5 + 2 * k];
            face_dist += sqrt(dx * dx + dy * dy);
            same += (long)floorf(xy[2 * k]) == v[4 + 2 * k] &&
                    (long)floorf(xy[2 * k + 1]) == v[5 + 2 * k];
            points++;
        }
        dist += face_dist;
        worst_face = fmax(worst_face, face_dist / 68);
        faces++;
        free(gray);
    }
    fclose(f);
    close_clip(&clip);
    landmarks_free(m);
    cr_assert_geq(faces, 40, "%s: %d faces", GOLDEN, faces);
    double mean = dist / (double)points;
    // Our points are not rounded: rounding alone leaves ~0.38 px on average.
    cr_log_info("landmarks vs dlib on %d faces: mean %.3f px, worst face %.3f px, %.1f%% of points "
                "identical after rounding",
                faces, mean, worst_face, 100.0 * (double)same / (double)points);
    cr_expect_lt(mean, 0.5, "mean distance to dlib's points %.3f px", mean);
    cr_expect_gt((double)same / (double)points, 0.98, "only %ld of %ld points identical", same,
                 points);
}

// ---------------------------------------------------------------------------------------------
// A small model written in dlib's serialisation, to check the rules and the checks.

// Two points; one cascade of two depth-1 trees over two feature points. Feature point 0 sits at
// point 0 of the mean shape, point 1 at point 1 plus (0.25, 0). Tree 0 moves both points right
// by 0.1 when value[0] - value[1] > 10, else down by 0.1; tree 1 moves point 1 by (0, 0.05)
// when value[1] - value[0] > -1000 (always).
typedef struct {
    int version, split_feature, leaf_len, features;
    float thresh;
} TinyModel;

static TinyModel tiny_default(void)
{
    return (TinyModel){.version = 1, .split_feature = 1, .leaf_len = 4, .features = 2,
                       .thresh = 10.0f};
}

static void write_tiny(DlibOut *o, const TinyModel *t)
{
    o->n = 0;
    dlib_put_int(o, t->version);
    const float shape[4] = {0.25f, 0.5f, 0.5f, 0.5f};
    dlib_put_column(o, shape, 4);
    dlib_put_uint(o, 1); // cascades
    dlib_put_uint(o, 2); // trees
    // (8 long: a damaged model writes leaves of up to 8 values.)
    const float right[8] = {0.1f, 0.0f, 0.1f, 0.0f}, down[8] = {0.0f, 0.1f, 0.0f, 0.1f};
    const float nudge[4] = {0.0f, 0.0f, 0.0f, 0.05f};
    // tree 0
    dlib_put_uint(o, 1);
    dlib_put_uint(o, 0);
    dlib_put_uint(o, (uint64_t)t->split_feature);
    dlib_put_float(o, t->thresh);
    dlib_put_uint(o, 2);
    dlib_put_column(o, right, t->leaf_len);
    dlib_put_column(o, down, t->leaf_len);
    // tree 1
    dlib_put_uint(o, 1);
    dlib_put_uint(o, 1);
    dlib_put_uint(o, 0);
    dlib_put_float(o, -1000.0f);
    dlib_put_uint(o, 2);
    dlib_put_column(o, nudge, 4);
    dlib_put_column(o, nudge, 4);
    // anchors and offsets
    dlib_put_uint(o, 1);
    dlib_put_uint(o, (uint64_t)t->features);
    for (int i = 0; i < t->features; i++)
        dlib_put_uint(o, (uint64_t)(i % 2));
    dlib_put_uint(o, 1);
    dlib_put_uint(o, (uint64_t)t->features);
    for (int i = 0; i < t->features; i++) {
        dlib_put_float(o, i % 2 ? 0.25f : 0.0f);
        dlib_put_float(o, 0.0f);
    }
}

static LandmarkModel *load_tiny(const TinyModel *t, Err *err)
{
    DlibOut o = {0};
    write_tiny(&o, t);
    LandmarkModel *m = landmarks_load_bytes(o.b, o.n, "tiny.dat", err);
    free(o.b);
    return m;
}

Test(landmarks, follows_the_trees_on_a_small_model)
{
    TinyModel t = tiny_default();
    Err err = {{0}};
    LandmarkModel *m = load_tiny(&t, &err);
    cr_assert_not_null(m, "%s", err.msg);
    cr_assert_eq(landmarks_count(m), 2);
    // Box (10, 20) 101 x 101: normalised 0..1 spans pixels 10..110 and 20..120, 100 px.
    // Feature 0 at (0.25, 0.5) -> pixel (35, 70); feature 1 at (0.75, 0.5) -> pixel (85, 70).
    enum { W = 160, H = 160 };
    static uint8_t gray[W * H];
    LandmarkBox box = {10, 20, 101, 101};
    float xy[4];
    memset(gray, 100, sizeof gray);
    gray[70 * W + 35] = 120; // value[0] - value[1] = 20 > 10: right
    landmarks_predict(m, gray, W, H, W, box, xy);
    // point 0: (0.35, 0.5) -> 10 + 35 + 0.5, 20 + 50 + 0.5; point 1: (0.6, 0.55)
    cr_expect_float_eq(xy[0], 45.5f, 1e-4f);
    cr_expect_float_eq(xy[1], 70.5f, 1e-4f);
    cr_expect_float_eq(xy[2], 70.5f, 1e-4f);
    cr_expect_float_eq(xy[3], 75.5f, 1e-4f);
    gray[70 * W + 35] = 105; // 5, not > 10: down
    landmarks_predict(m, gray, W, H, W, box, xy);
    cr_expect_float_eq(xy[0], 35.5f, 1e-4f);
    cr_expect_float_eq(xy[1], 80.5f, 1e-4f);
    // A feature point outside the image reads 0: box moved so feature 1 falls off the right.
    // (Were it read as the image's 100, 30 - 100 would send the points down.)
    LandmarkBox off = {10 + 80, 20, 101, 101}; // feature 0 -> pixel 115, feature 1 -> 165 (off)
    gray[70 * W + 115] = 30;                    // 30 - 0 > 10: right
    landmarks_predict(m, gray, W, H, W, off, xy);
    cr_expect_float_eq(xy[0], 90.0f + 35.0f + 0.5f, 1e-4f);
    landmarks_free(m);
}

Test(landmarks, moves_with_the_box)
{
    // On a flat image the same trees are taken wherever the box is: the points move with it.
    TinyModel t = tiny_default();
    Err err = {{0}};
    LandmarkModel *m = load_tiny(&t, &err);
    cr_assert_not_null(m, "%s", err.msg);
    enum { W = 200, H = 200 };
    static uint8_t gray[W * H];
    memset(gray, 50, sizeof gray);
    float a[4], b[4];
    landmarks_predict(m, gray, W, H, W, (LandmarkBox){0, 0, 101, 101}, a);
    landmarks_predict(m, gray, W, H, W, (LandmarkBox){30, 40, 101, 101}, b);
    for (int i = 0; i < 4; i++) // a shifted box gives shifted points on a flat image
        cr_expect_float_eq(b[i] - a[i], i % 2 ? 40.0f : 30.0f, 1e-4f);
    landmarks_free(m);
}

static void expect_refused(const uint8_t *bytes, size_t n, const char *what)
{
    Err err = {{0}};
    LandmarkModel *m = landmarks_load_bytes(bytes, n, "bad.dat", &err);
    cr_expect_null(m, "%s: loaded", what);
    landmarks_free(m);
    cr_expect(strstr(err.msg, "bad.dat") != NULL, "%s: message does not name the file: %s", what,
              err.msg);
}

Test(landmarks, refuses_inconsistent_models)
{
    DlibOut o = {0};
    TinyModel t = tiny_default();
    t.version = 2;
    write_tiny(&o, &t);
    expect_refused(o.b, o.n, "version 2");
    t = tiny_default();
    t.split_feature = 2; // only feature points 0 and 1 exist
    write_tiny(&o, &t);
    expect_refused(o.b, o.n, "split index out of range");
    t = tiny_default();
    t.leaf_len = 6;
    cr_assert_leq(t.leaf_len, 8);
    write_tiny(&o, &t);
    expect_refused(o.b, o.n, "leaf of the wrong length");
    t = tiny_default();
    t.thresh = NAN;
    write_tiny(&o, &t);
    expect_refused(o.b, o.n, "a NaN threshold");
    t = tiny_default();
    write_tiny(&o, &t);
    dlib_put_uint(&o, 0);
    expect_refused(o.b, o.n, "bytes after the model");
    // Every truncation of a good model is refused, never read past its end.
    write_tiny(&o, &t);
    for (size_t n = 0; n < o.n; n++) {
        Err err = {{0}};
        LandmarkModel *m = landmarks_load_bytes(o.b, n, "cut.dat", &err);
        cr_expect_null(m, "truncated to %zu bytes: loaded", n);
        landmarks_free(m);
    }
    free(o.b);
}

Test(landmarks, refuses_a_truncated_default_model)
{
    struct stat st;
    if (stat(LANDMARKS_DEFAULT_MODEL, &st) != 0)
        cr_skip_test("%s is missing (Debian package libdlib-data)", LANDMARKS_DEFAULT_MODEL);
    FILE *f = fopen(LANDMARKS_DEFAULT_MODEL, "rb");
    cr_assert_not_null(f);
    size_t n = (size_t)st.st_size;
    uint8_t *bytes = malloc(n);
    cr_assert_not_null(bytes);
    cr_assert_eq(fread(bytes, 1, n, f), n);
    fclose(f);
    Err err = {{0}};
    // Cut in the trees, and just before the end (in the offsets).
    LandmarkModel *m = landmarks_load_bytes(bytes, n / 3, "half.dat", &err);
    cr_expect_null(m);
    cr_expect(strstr(err.msg, "half.dat") && strstr(err.msg, "truncated"), "%s", err.msg);
    m = landmarks_load_bytes(bytes, n - 1, "short.dat", &err);
    cr_expect_null(m);
    cr_expect(strstr(err.msg, "short.dat") && strstr(err.msg, "truncated"), "%s", err.msg);
    free(bytes);
}

Test(landmarks, names_a_missing_model)
{
    Err err = {{0}};
    cr_expect_null(landmarks_load("/nonexistent/shape.dat", &err));
    cr_expect(strstr(err.msg, "/nonexistent/shape.dat") && strstr(err.msg, "No such file"), "%s",
              err.msg);
    cr_expect_null(landmarks_load("tests", &err));
    cr_expect(strstr(err.msg, "not a regular file"), "%s", err.msg);
}

// The filter aligns by dlib's 68 points: a model of another number of points is refused, by name.
Test(landmarks, filter_refuses_a_model_of_other_points)
{
    DlibOut o = {0};
    TinyModel t = tiny_default(); // 2 points
    write_tiny(&o, &t);
    char path[] = "/tmp/ageshift_lm_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, o.b, o.n), (ssize_t)o.n);
    close(fd);
    free(o.b);
    AgeshiftOptions opt = ageshift_options_default();
    opt.model_path = "samples/model.safetensors";
    opt.landmarks_path = path;
    Err err = {{0}};
    AgeshiftFilter *f = ageshift_open(&opt, &err);
    unlink(path);
    cr_expect_null(f);
    ageshift_close(f);
    cr_expect(strstr(err.msg, path) && strstr(err.msg, "2 points"), "%s", err.msg);
}
