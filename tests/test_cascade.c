// The cascade face detector (filter/cascade.h): loading OpenCV's cascades and refusing broken
// files; the evaluation rules checked window by window against a direct computation on small
// hand-written cascades (Haar stumps and trees with variance normalisation, LBP codes and
// categorical splits, the scan order); real faces found at the expected place and size in
// synthetic frames by the Haar and LBP frontal-face cascades, and no faces in frames without.
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/base/pool.h"
#include "faces.h"
#include "filter/cascade.h"
#include "media/image_io.h"

#define CASCADE_DIR "/usr/share/opencv4"
#define HAAR_DEFAULT CASCADE_DIR "/haarcascades/haarcascade_frontalface_default.xml"
#define HAAR_ALT CASCADE_DIR "/haarcascades/haarcascade_frontalface_alt.xml"
#define HAAR_ALT2 CASCADE_DIR "/haarcascades/haarcascade_frontalface_alt2.xml"
#define LBP_IMPROVED CASCADE_DIR "/lbpcascades/lbpcascade_frontalface_improved.xml"
#define PATHLEN (PATH_MAX + 300)

// ---------------------------------------------------------------------------------------------
// Helpers.

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static Cascade *load_or_skip(const char *path)
{
    if (!exists(path))
        cr_skip_test("%s is missing (Debian package opencv-data)", path);
    Err err = {{0}};
    Cascade *c = cascade_load(path, &err);
    cr_assert_not_null(c, "%s", err.msg);
    return c;
}

static unsigned lcg(unsigned *s)
{
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

// A scratch directory for one test's files.
static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_cascade.XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(tmpdir);
}

// Writes text to tmpdir/name and returns the path (static storage, one at a time).
static const char *write_file(const char *name, const char *text)
{
    static char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

// dst = src with the first occurrence of from replaced by to (asserted present).
static char *replace(const char *src, const char *from, const char *to)
{
    const char *at = strstr(src, from);
    cr_assert_not_null(at, "template lacks '%s'", from);
    size_t n = strlen(src) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    cr_assert_not_null(out);
    snprintf(out, n, "%.*s%s%s", (int)(at - src), src, to, at + strlen(from));
    return out;
}

// Raw hits at the first scale only (scale factor 2, max_size = the window); plain: with the
// plain C evaluation (AGESHIFT_SIMD=0 while the detector is created; each test runs in its
// own process).
static int raw_hits(const Cascade *c, const uint8_t *img, int w, int h, FaceBox *boxes, int max,
                    bool plain)
{
    int ww, wh;
    cascade_window_size(c, &ww, &wh);
    Err err = {{0}};
    if (plain)
        setenv("AGESHIFT_SIMD", "0", 1);
    Detector *d = detector_create(c, &err);
    unsetenv("AGESHIFT_SIMD");
    cr_assert_not_null(d, "%s", err.msg);
    DetectOptions o = {.scale_factor = 2, .min_neighbors = 0, .min_size = 0, .max_size = ww};
    int n = detector_run(d, img, w, h, w, &o, boxes, max, &err);
    cr_assert_geq(n, 0, "%s", err.msg);
    cr_assert_lt(n, max, "more hits than room");
    detector_free(d);
    return n;
}

static bool has_box(const FaceBox *b, int n, int x, int y)
{
    for (int i = 0; i < n; i++)
        if (b[i].x == x && b[i].y == y)
            return true;
    return false;
}

// ---------------------------------------------------------------------------------------------
// Loading.

Test(cascade, loads_the_frontal_face_cascades)
{
    const struct {
        const char *path;
        int w, h;
    } want[] = {
        {HAAR_DEFAULT, 24, 24}, {HAAR_ALT, 20, 20}, {HAAR_ALT2, 20, 20}, {LBP_IMPROVED, 45, 45}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        Cascade *c = load_or_skip(want[i].path);
        int w = 0, h = 0;
        cr_assert_eq(cascade_window_size(c, &w, &h), 0);
        cr_expect_eq(w, want[i].w, "%s", want[i].path);
        cr_expect_eq(h, want[i].h, "%s", want[i].path);
        cascade_free(c);
    }
}

Test(cascade, null_objects)
{
    cascade_free(NULL);
    detector_free(NULL);
    int w, h;
    cr_expect_eq(cascade_window_size(NULL, &w, &h), -1);
    Err err = {{0}};
    cr_expect_null(detector_create(NULL, &err));
    cr_expect_null(cascade_load(NULL, &err));
    cr_expect_eq(detector_run(NULL, (const uint8_t *)"", 1, 1, 1, NULL, NULL, 0, &err), -1);
}

// A valid two-stage Haar cascade (6x6 window): stage 0 always passes; stage 1 is one depth-2
// tree on f0 = right half - left half and f1 = bottom half - top half (both normalised):
// node 0 goes right (leaf 2, +1) when f0 >= T0, else to node 1, which gives leaf 0 (+1) when
// f1 < T1 and leaf 1 (-1) otherwise. The stage passes on a sum >= 0.
static const char haar_template[] =
    "<?xml version=\"1.0\"?>\n"
    "<opencv_storage>\n"
    "<cascade type_id=\"opencv-cascade-classifier\"><stageType>BOOST</stageType>\n"
    "  <featureType>HAAR</featureType>\n"
    "  <height>6</height>\n"
    "  <width>6</width>\n"
    "  <stageParams><maxWeakCount>1</maxWeakCount></stageParams>\n"
    "  <featureParams><maxCatCount>0</maxCatCount></featureParams>\n"
    "  <stageNum>2</stageNum>\n"
    "  <stages>\n"
    "    <_>\n"
    "      <maxWeakCount>1</maxWeakCount>\n"
    "      <stageThreshold>5.0e-01</stageThreshold>\n"
    "      <weakClassifiers>\n"
    "        <_><internalNodes>0 -1 0 0.</internalNodes><leafValues>1. 1.</leafValues></_>\n"
    "      </weakClassifiers></_>\n"
    "    <_>\n"
    "      <maxWeakCount>1</maxWeakCount>\n"
    "      <stageThreshold>0.</stageThreshold>\n"
    "      <weakClassifiers>\n"
    "        <_>\n"
    "          <internalNodes>\n"
    "            1 -2 0 T0 0 -1 1 T1</internalNodes>\n"
    "          <leafValues>1. -1. 1.</leafValues></_>\n"
    "      </weakClassifiers></_>\n"
    "  </stages>\n"
    "  <features>\n"
    "    <_><rects><_>0 0 3 6 -1.</_><_>3 0 3 6 1.</_></rects><tilted>0</tilted></_>\n"
    "    <_><rects><_>0 0 6 3 -1.</_><_>0 3 6 3 1.</_></rects><tilted>0</tilted></_>\n"
    "  </features>\n"
    "</cascade>\n"
    "</opencv_storage>\n";

static char *haar_xml(double t0, double t1)
{
    char a[32], b[32];
    snprintf(a, sizeof a, "%.9g", t0);
    snprintf(b, sizeof b, "%.9g", t1);
    char *x = replace(haar_template, "T0", a);
    char *y = replace(x, "T1", b);
    free(x);
    return y;
}

// The same decision with two stumps in stage 1: -1 / +1 on f0 < T0, +1 / -1 on f1 < T1.
static char *haar_stumps_xml(double t0, double t1)
{
    char *tree = haar_xml(t0, t1);
    char stumps[256];
    snprintf(stumps, sizeof stumps,
             "<_><internalNodes>0 -1 0 %.9g</internalNodes><leafValues>-1. 1.</leafValues></_>\n"
             "<_><internalNodes>0 -1 1 %.9g</internalNodes><leafValues>1. -1.</leafValues></_>",
             t0, t1);
    char *start = strstr(tree, "<_>\n          <internalNodes>\n            1 -2");
    char *end = strstr(start, "</leafValues></_>") + strlen("</leafValues></_>");
    char *head = strndup(tree, (size_t)(start - tree));
    size_t n = strlen(tree) + strlen(stumps) + 1;
    char *out = malloc(n);
    cr_assert(head && out);
    snprintf(out, n, "%s%s%s", head, stumps, end);
    char *fixed = replace(out, "<maxWeakCount>1</maxWeakCount>\n      <stageThreshold>0.",
                          "<maxWeakCount>2</maxWeakCount>\n      <stageThreshold>0.");
    free(head);
    free(out);
    free(tree);
    return fixed;
}

Test(cascade, refuses_malformed_files, .init = make_tmpdir, .fini = remove_tmpdir)
{
    char *valid = haar_xml(0.1, -0.2);
    Err err = {{0}};
    const char *path = write_file("valid.xml", valid);
    Cascade *c = cascade_load(path, &err);
    cr_assert_not_null(c, "the template itself: %s", err.msg);
    cascade_free(c);

    const struct {
        const char *from, *to, *says;
    } cases[] = {
        {"<stageNum>2</stageNum>", "<stageNum>3</stageNum>", "stageNum"},
        {"<featureType>HAAR</featureType>", "<featureType>SURF</featureType>", "featureType"},
        {"<featureType>HAAR</featureType>", "<featureType>HOG</featureType>", "featureType 'HOG'"},
        {"<featureType>HAAR</featureType>", "", "missing <featureType>"},
        {"<stageType>BOOST</stageType>", "<stageType>GAB</stageType>", "stageType"},
        {"0 -1 0 0.</internalNodes>", "0 -1 0</internalNodes>", "internalNodes"},
        {"<leafValues>1. 1.</leafValues>", "<leafValues>1.</leafValues>", "leafValues"},
        {"0 -1 0 0.</internalNodes>", "0 -1 7 0.</internalNodes>", "feature"},
        {"0.1 0 -1 1 ", "0.1 1 -1 1 ", "children"},
        // A child one past the tree's last node (found by fuzzing: a stump then read the leaf
        // before its own, a tree walked into the next tree's nodes).
        {"0 -1 0 0.</internalNodes>", "1 -1 0 0.</internalNodes>", "children"},
        {"0.1 0 -1 1 ", "0.1 2 -1 1 ", "children"},
        {"<tilted>0</tilted>", "<tilted>1</tilted>", "tilted"},
        {"<_>3 0 3 6 1.</_>", "<_>4 0 3 6 1.</_>", "window"},
        {"<_>3 0 3 6 1.</_>", "<_>3 0 3 6</_>", "expected 5"},
        {"opencv-cascade-classifier", "opencv-haar-classifier", "opencv-haar-classifier"},
        {"<maxWeakCount>1</maxWeakCount>\n      <stageThreshold>0.",
         "<maxWeakCount>2</maxWeakCount>\n      <stageThreshold>0.", "maxWeakCount"},
        {"<stageThreshold>0.</stageThreshold>", "<stageThreshold>0.x</stageThreshold>",
         "not a number"},
        {"<stageThreshold>0.</stageThreshold>", "", "missing <stageThreshold>"},
        {"<height>6</height>", "<height>0</height>", "height"},
        {"<maxCatCount>0</maxCatCount>", "<maxCatCount>256</maxCatCount>", "maxCatCount"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *bad = replace(valid, cases[i].from, cases[i].to);
        char name[32];
        snprintf(name, sizeof name, "bad%zu.xml", i);
        path = write_file(name, bad);
        err.msg[0] = 0;
        c = cascade_load(path, &err);
        cr_expect_null(c, "case %zu (%s) loaded", i, cases[i].says);
        cascade_free(c);
        cr_expect(strstr(err.msg, path) != NULL, "case %zu: '%s' does not name the file", i,
                  err.msg);
        cr_expect(strstr(err.msg, cases[i].says) != NULL, "case %zu: '%s' does not say '%s'", i,
                  err.msg, cases[i].says);
        free(bad);
    }

    // Without <stages> or <features> at all.
    const char *lists[] = {"stages", "features"};
    for (int i = 0; i < 2; i++) {
        char open[32], close[32], says[32];
        snprintf(open, sizeof open, "<%s>", lists[i]);
        snprintf(close, sizeof close, "</%s>", lists[i]);
        snprintf(says, sizeof says, "missing <%s>", lists[i]);
        char *cut = strdup(valid);
        cr_assert_not_null(cut);
        char *a = strstr(cut, open), *b = strstr(cut, close) + strlen(close);
        memmove(a, b, strlen(b) + 1);
        path = write_file("cut.xml", cut);
        cr_expect_null(cascade_load(path, &err));
        cr_expect(strstr(err.msg, says) && strstr(err.msg, path), "%s", err.msg);
        free(cut);
    }

    // Nested entities (a "billion laughs": 10^9 bytes from under 1 KB) in a DTD, which no
    // cascade has: refused at once instead of expanded by every read of an element's text.
    char dtd[2048] = "<?xml version=\"1.0\"?>\n<!DOCTYPE opencv_storage [\n<!ENTITY l0 \"0 \">\n";
    for (int i = 1; i < 10; i++) {
        size_t n = strlen(dtd);
        n += (size_t)snprintf(dtd + n, sizeof dtd - n, "<!ENTITY l%d \"", i);
        for (int k = 0; k < 10; k++)
            n += (size_t)snprintf(dtd + n, sizeof dtd - n, "&l%d;", i - 1);
        snprintf(dtd + n, sizeof dtd - n, "\">\n");
    }
    strcat(dtd, "]>\n");
    char *entities = replace(valid, "<?xml version=\"1.0\"?>\n", dtd);
    char *laughs = replace(entities, "<height>6</height>", "<height>&l9;</height>");
    free(entities);
    path = write_file("laughs.xml", laughs);
    cr_expect_null(cascade_load(path, &err));
    cr_expect(strstr(err.msg, "document type declaration") && strstr(err.msg, path), "%s", err.msg);
    free(laughs);

    // Not XML, truncated XML, another XML document, and no file.
    const struct {
        const char *text, *says;
    } raw[] = {
        {"this is not XML\n", "not valid XML"},
        {"<?xml version=\"1.0\"?>\n<opencv_storage>\n<cascade><stageType>BOO", "not valid XML"},
        {"<?xml version=\"1.0\"?>\n<html><body/></html>\n", "opencv_storage"},
        {"<?xml version=\"1.0\"?>\n<opencv_storage></opencv_storage>\n", "empty"},
    };
    for (size_t i = 0; i < sizeof raw / sizeof *raw; i++) {
        path = write_file("raw.xml", raw[i].text);
        cr_expect_null(cascade_load(path, &err), "raw case %zu", i);
        cr_expect(strstr(err.msg, path) && strstr(err.msg, raw[i].says), "raw case %zu: %s", i,
                  err.msg);
        cr_expect_eq(strchr(err.msg, '\n'), NULL, "raw case %zu: a newline in '%s'", i, err.msg);
    }
    char missing[PATH_MAX];
    snprintf(missing, sizeof missing, "%s/no-such-cascade.xml", tmpdir);
    cr_expect_null(cascade_load(missing, &err));
    cr_expect(strstr(err.msg, missing) != NULL, "%s", err.msg);
    free(valid);
}

// A malformed variant of the billion laughs (its <!DOCTYPE> never closes) once cost 10 s of CPU
// (minutes under ASan) before libxml2 gave up on it: the entities were expanded while parsing.
// It is refused before parsing now; the bound is CPU time, 50x what the sanitizer build needs.
Test(cascade, nested_entities_are_refused_before_parsing)
{
    const char *path = "tests/fuzz/regressions/cascade/cascade_nested_entities_variant.xml";
    Err err = {{0}};
    clock_t t0 = clock();
    Cascade *c = cascade_load(path, &err);
    double cpu_s = (double)(clock() - t0) / CLOCKS_PER_SEC;
    cr_expect_null(c);
    cascade_free(c);
    cr_expect(strstr(err.msg, "document type declaration") && strstr(err.msg, path), "%s", err.msg);
    cr_expect_lt(cpu_s, 0.5, "refusing it took %.3f s of CPU", cpu_s);
}

// Declarations are looked for where XML allows them, after a byte order mark, the XML
// declaration and comments; a comment that merely mentions one is no declaration.
Test(cascade, finds_declarations_after_comments, .init = make_tmpdir, .fini = remove_tmpdir)
{
    char *valid = haar_xml(0.1, -0.2);
    const char *decl = "<?xml version=\"1.0\"?>\n";
    cr_assert_not_null(strstr(valid, decl));
    Err err = {{0}};
    char *hidden = replace(valid, decl,
                           "\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<!-- made by hand -->\n"
                           "<!DOCTYPE opencv_storage [<!ENTITY x \"1\">]>\n");
    const char *path = write_file("hidden.xml", hidden);
    cr_expect_null(cascade_load(path, &err));
    cr_expect(strstr(err.msg, "document type declaration"), "%s", err.msg);
    char *mention = replace(valid, decl, "<?xml version=\"1.0\"?>\n<!-- no <!DOCTYPE> here -->\n");
    Cascade *c = cascade_load(write_file("mention.xml", mention), &err);
    cr_expect_not_null(c, "%s", err.msg);
    cascade_free(c);
    free(hidden), free(mention), free(valid);
}

// ---------------------------------------------------------------------------------------------
// Evaluation rules, window by window.

// The normalised Haar features of the 6x6 window at (x, y), computed directly; false when the
// window's inner 4x4 has a standard deviation of 10 or less (no face, as OpenCV 4).
static bool haar_reference(const uint8_t *img, int w, int x, int y, double *f0, double *f1)
{
    double s = 0, s2 = 0;
    for (int j = 1; j < 5; j++)
        for (int i = 1; i < 5; i++) {
            double v = img[(y + j) * w + x + i];
            s += v;
            s2 += v * v;
        }
    double nf = 16 * s2 - s * s; // = 16^2 * variance
    if (nf <= 100.0 * 16 * 16)
        return false;
    double left = 0, right = 0, top = 0, bottom = 0;
    for (int j = 0; j < 6; j++)
        for (int i = 0; i < 6; i++) {
            double v = img[(y + j) * w + x + i];
            *(i < 3 ? &left : &right) += v;
            *(j < 3 ? &top : &bottom) += v;
        }
    *f0 = (right - left) / sqrt(nf);
    *f1 = (bottom - top) / sqrt(nf);
    return true;
}

Test(cascade, haar_tree_and_stumps_match_direct_evaluation, .init = make_tmpdir,
     .fini = remove_tmpdir)
{
    // Noise, with a flat band (variance 0: never a face) and a low-contrast band.
    enum { W = 70, H = 50 };
    static uint8_t img[W * H];
    unsigned seed = 7;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int v = (int)(lcg(&seed) % 256);
            if (y >= 20 && y < 30)
                v = 128;
            else if (y >= 30 && y < 36)
                v = 120 + v % 9;
            img[y * W + x] = (uint8_t)v;
        }
    const double t0 = 0.02, t1 = -0.01;
    for (int variant = 0; variant < 2; variant++) {
        char *xml = variant ? haar_stumps_xml(t0, t1) : haar_xml(t0, t1);
        Err err = {{0}};
        Cascade *c = cascade_load(write_file("haar.xml", xml), &err);
        cr_assert_not_null(c, "%s: %s", variant ? "stumps" : "tree", err.msg);
        static FaceBox boxes[2048];
        int n = raw_hits(c, img, W, H, boxes, 2048, false);
        // Stage 0 always passes, so there is no first-stage skip: every even position is looked at.
        int expected = 0, mismatches = 0, close = 0;
        for (int y = 0; y + 6 <= H; y += 2)
            for (int x = 0; x + 6 <= W; x += 2) {
                double f0 = 0, f1 = 0;
                bool hit = haar_reference(img, W, x, y, &f0, &f1) && (f0 >= t0 || f1 < t1);
                expected += hit;
                if (hit != has_box(boxes, n, x, y)) {
                    // Float against double: only a value within 1e-5 of a threshold may differ.
                    if (fabs(f0 - t0) < 1e-5 || fabs(f1 - t1) < 1e-5)
                        close++;
                    else
                        mismatches++;
                }
            }
        cr_expect_eq(mismatches, 0, "%d windows decided differently (%d hits, %d expected)",
                     mismatches, n, expected);
        cr_expect_leq(close, 2);
        cr_expect_gt(expected, 100, "the test should have many hits");
        for (int i = 0; i < n; i++) {
            cr_expect_eq(boxes[i].w, 6);
            cr_expect_eq(boxes[i].h, 6);
            cr_expect_eq(boxes[i].neighbors, 1);
            // Windows whose inner 4x4 lies in the bands (rows 20 to 35) have no contrast.
            cr_expect(boxes[i].y < 19 || boxes[i].y > 31, "a hit at (%d, %d) in a flat band",
                      boxes[i].x, boxes[i].y);
        }
        cascade_free(c);
        free(xml);
    }
}

// An LBP cascade (9x9 window): stage 0 always passes; stage 1 is one stump on the LBP code of
// 3x3 blocks of 2x2 pixels at (1, 2): +1 when the code's bit is set in SUBSET, else -1.
static char *lbp_xml(const uint32_t subset[8])
{
    char words[8 * 16] = "";
    for (int i = 0; i < 8; i++) {
        char wd[16];
        snprintf(wd, sizeof wd, " %d", (int32_t)subset[i]);
        strcat(words, wd);
    }
    const char *fmt = "<?xml version=\"1.0\"?>\n"
                      "<opencv_storage>\n"
                      "<cascade>\n"
                      "  <stageType>BOOST</stageType>\n"
                      "  <featureType>LBP</featureType>\n"
                      "  <height>9</height>\n"
                      "  <width>9</width>\n"
                      "  <stageParams><maxDepth>1</maxDepth><maxWeakCount>1</maxWeakCount>"
                      "</stageParams>\n"
                      "  <featureParams><maxCatCount>256</maxCatCount><featSize>1</featSize>"
                      "</featureParams>\n"
                      "  <stageNum>2</stageNum>\n"
                      "  <stages>\n"
                      "    <!-- stage 0 -->\n"
                      "    <_><maxWeakCount>1</maxWeakCount><stageThreshold>0.5</stageThreshold>\n"
                      "      <weakClassifiers><_><internalNodes>0 -1 0 -1 -1 -1 -1 -1 -1 -1 -1"
                      "</internalNodes><leafValues>1. 1.</leafValues></_></weakClassifiers></_>\n"
                      "    <_><maxWeakCount>1</maxWeakCount><stageThreshold>0.</stageThreshold>\n"
                      "      <weakClassifiers><_><internalNodes>0 -1 1%s</internalNodes>\n"
                      "        <leafValues>1. -1.</leafValues></_></weakClassifiers></_>\n"
                      "  </stages>\n"
                      "  <features>\n"
                      "    <_><rect>0 0 3 3</rect></_>\n"
                      "    <_><rect>1 2 2 2</rect></_>\n"
                      "  </features>\n"
                      "</cascade>\n"
                      "</opencv_storage>\n";
    size_t n = strlen(fmt) + strlen(words) + 1;
    char *xml = malloc(n);
    cr_assert_not_null(xml);
    snprintf(xml, n, fmt, words);
    return xml;
}

// The LBP code of the 3x3 blocks of bw x bh pixels at (x0, y0): bit 7 for the top-left block
// >= the centre one, then clockwise (top, top-right, right, bottom-right, bottom, bottom-left,
// left = bit 0).
static int lbp_reference(const uint8_t *img, int w, int x0, int y0, int bw, int bh)
{
    long sum[3][3] = {{0}};
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 3; k++)
            for (int j = 0; j < bh; j++)
                for (int i = 0; i < bw; i++)
                    sum[r][k] += img[(y0 + r * bh + j) * w + x0 + k * bw + i];
    const int order[8][2] = {{0, 0}, {0, 1}, {0, 2}, {1, 2}, {2, 2}, {2, 1}, {2, 0}, {1, 0}};
    int code = 0;
    for (int b = 0; b < 8; b++)
        code |= (sum[order[b][0]][order[b][1]] >= sum[1][1]) << (7 - b);
    return code;
}

Test(cascade, lbp_stump_matches_direct_evaluation, .init = make_tmpdir, .fini = remove_tmpdir)
{
    enum { W = 64, H = 48 };
    static uint8_t img[W * H];
    unsigned seed = 11;
    for (int i = 0; i < W * H; i++)
        img[i] = (uint8_t)(lcg(&seed) % 256);
    // A quarter of constant pixels, so that ties (>=) matter.
    for (int y = 0; y < H / 2; y++)
        for (int x = 0; x < W / 2; x++)
            img[y * W + x] = 90;
    uint32_t subset[8];
    for (int i = 0; i < 8; i++)
        subset[i] = (uint32_t)lcg(&seed) << 17 ^ (uint32_t)lcg(&seed) << 2 ^ lcg(&seed);
    subset[7] |= 1u << 31; // code 255, that of flat blocks, is in
    char *xml = lbp_xml(subset);
    Err err = {{0}};
    Cascade *c = cascade_load(write_file("lbp.xml", xml), &err);
    cr_assert_not_null(c, "%s", err.msg);
    static FaceBox boxes[1024];
    for (int plain = 0; plain < 2; plain++) {
        int n = raw_hits(c, img, W, H, boxes, 1024, plain);
        int expected = 0, seen[256] = {0}, distinct = 0;
        for (int y = 0; y + 9 <= H; y += 2)
            for (int x = 0; x + 9 <= W; x += 2) {
                int code = lbp_reference(img, W, x + 1, y + 2, 2, 2);
                distinct += !seen[code]++;
                bool hit = (subset[code >> 5] >> (code & 31)) & 1;
                expected += hit;
                cr_expect_eq(has_box(boxes, n, x, y), hit, "window (%d, %d), code %d, plain %d", x,
                             y, code, plain);
            }
        cr_expect_eq(n, expected);
        cr_expect_gt(distinct, 60, "only %d distinct codes exercised", distinct);
    }
    cascade_free(c);
    free(xml);
}

// One stage only: a window rejected by the first stage makes the scan skip the next
// position (OpenCV's rule), so with steps of 2 a lone hit is seen at x = 8 but not at x = 10.
Test(cascade, first_stage_rejection_skips_a_position, .init = make_tmpdir, .fini = remove_tmpdir)
{
    // LBP, 3x3 window of 1x1 blocks; passes only on code 0 (every neighbour darker).
    const char *xml = "<?xml version=\"1.0\"?>\n<opencv_storage><cascade>"
                      "<stageType>BOOST</stageType><featureType>LBP</featureType>"
                      "<height>3</height><width>3</width>"
                      "<featureParams><maxCatCount>256</maxCatCount></featureParams>"
                      "<stageNum>1</stageNum><stages><_><stageThreshold>0</stageThreshold>"
                      "<weakClassifiers><_><internalNodes>0 -1 0 1 0 0 0 0 0 0 0</internalNodes>"
                      "<leafValues>1 -1</leafValues></_></weakClassifiers></_></stages>"
                      "<features><_><rect>0 0 1 1</rect></_></features>"
                      "</cascade></opencv_storage>\n";
    Err err = {{0}};
    Cascade *c = cascade_load(write_file("one.xml", xml), &err);
    cr_assert_not_null(c, "%s", err.msg);
    enum { W = 30, H = 30 };
    static uint8_t img[W * H];
    memset(img, 100, sizeof img);
    img[9 * W + 9] = 200;   // centre of the window at (8, 8)
    img[21 * W + 11] = 200; // centre of the window at (10, 20)
    FaceBox boxes[16];
    for (int plain = 0; plain < 2; plain++) {
        int n = raw_hits(c, img, W, H, boxes, 16, plain);
        cr_expect_eq(n, 1, "plain %d", plain);
        cr_expect(has_box(boxes, n, 8, 8), "plain %d", plain);
        cr_expect(!has_box(boxes, n, 10, 20), "plain %d", plain);
    }
    cascade_free(c);
}

// ---------------------------------------------------------------------------------------------
// Real faces.

// RGB24 -> 8-bit luma (0.299 R + 0.587 G + 0.114 B), pasted at (ox, oy) of a frame.
static void paste_gray(const Image *img, uint8_t *frame, int stride, int ox, int oy)
{
    for (int y = 0; y < img->h; y++)
        for (int x = 0; x < img->w; x++) {
            const uint8_t *p = img->rgb + 3 * ((size_t)y * img->w + x);
            frame[(size_t)(oy + y) * stride + ox + x] =
                (uint8_t)(0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2] + 0.5);
        }
}

// A smooth gradient with a little noise.
static void gradient(uint8_t *frame, int w, int h, unsigned seed)
{
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            frame[(size_t)y * w + x] =
                (uint8_t)(60 + 110 * x / w + 40 * y / h + (int)(lcg(&seed) % 9) - 4);
}

typedef struct {
    int x, y, size;
} Placed;

enum { FW = 640, FH = 480, NFACES = 4 };
static const Placed placed[NFACES] = {
    {30, 40, 120}, {200, 270, 160}, {400, 20, 200}, {520, 340, 100}};

// A 640x480 frame with four real faces (two young, two old) scaled to placed[].size.
static uint8_t *faces_frame(void)
{
    char path[PATHLEN];
    uint8_t *frame = malloc(FW * FH);
    cr_assert_not_null(frame);
    gradient(frame, FW, FH, 5);
    for (int i = 0; i < NFACES; i++) {
        test_need_face(i % 2 ? "old" : "young", NULL, i / 2, path);
        Image img, small;
        Err err = {{0}};
        cr_assert_eq(image_load(path, &img, &err), 0, "%s", err.msg);
        cr_assert_eq(image_resize(&img, placed[i].size, placed[i].size, &small, &err), 0, "%s",
                     err.msg);
        paste_gray(&small, frame, FW, placed[i].x, placed[i].y);
        image_free(&img);
        image_free(&small);
    }
    return frame;
}

static double iou(double ax, double ay, double aw, double ah, const FaceBox *b)
{
    double x1 = fmax(ax, b->x), y1 = fmax(ay, b->y);
    double x2 = fmin(ax + aw, b->x + b->w), y2 = fmin(ay + ah, b->y + b->h);
    double inter = fmax(0, x2 - x1) * fmax(0, y2 - y1);
    return inter / (aw * ah + (double)b->w * b->h - inter);
}

// Framing measured by bench/bench_detect over the 2,635 training crops (each alone, 200 px,
// in a grey frame): the detection's width as a fraction of the crop, and its centre's offset
// from the crop's centre in crop units.
typedef struct {
    double ratio, dx, dy;
    double ratio_sd; // its spread over the crops
} Framing;

static void check_faces(const char *cascade, Framing fr)
{
    Cascade *c = load_or_skip(cascade);
    uint8_t *frame = faces_frame();
    Err err = {{0}};
    Detector *d = detector_create(c, &err);
    cr_assert_not_null(d, "%s", err.msg);
    DetectOptions o = detect_options_default();
    o.min_size = 40;
    FaceBox b[16];
    int n = detector_run(d, frame, FW, FH, FW, &o, b, 16, &err);
    cr_assert_geq(n, 0, "%s", err.msg);
    for (int i = 1; i < n; i++)
        cr_expect_geq(b[i - 1].w * b[i - 1].h, b[i].w * b[i].h, "not largest first");
    for (int i = 0; i < NFACES; i++) {
        // The box the framing predicts for this face.
        double s = placed[i].size, bw = fr.ratio * s;
        double cx = placed[i].x + s / 2 + fr.dx * s, cy = placed[i].y + s / 2 + fr.dy * s;
        double best = 0;
        int bi = -1;
        for (int k = 0; k < n; k++) {
            double v = iou(cx - bw / 2, cy - bw / 2, bw, bw, &b[k]);
            if (v > best) {
                best = v;
                bi = k;
            }
        }
        cr_expect_geq(best, 0.5, "%s: face %d (%d px at %d, %d) not found: best IoU %.2f", cascade,
                      i, placed[i].size, placed[i].x, placed[i].y, best);
        if (bi >= 0) {
            cr_expect_lt(fabs(b[bi].w / s - fr.ratio), 3 * fr.ratio_sd, "face %d: width ratio %.3f",
                         i, b[bi].w / s);
            cr_expect_lt(fabs(b[bi].x + b[bi].w / 2.0 - cx) / s, 0.1, "face %d: x offset", i);
            cr_expect_lt(fabs(b[bi].y + b[bi].h / 2.0 - cy) / s, 0.1, "face %d: y offset", i);
            cr_expect_geq(b[bi].neighbors, 4, "face %d", i);
        }
    }
    cr_expect_eq(n, NFACES, "%s: %d boxes for %d faces", cascade, n, NFACES);

    // Same boxes: on a 2-thread pool, from a padded frame (stride > width), and after the
    // detector has seen other frame sizes.
    FaceBox b2[16];
    Pool *pool = pool_create(2, &err);
    cr_assert_not_null(pool, "%s", err.msg);
    detector_set_pool(d, pool);
    cr_expect_eq(detector_run(d, frame, FW, FH, FW, &o, b2, 16, &err), n);
    cr_expect_arr_eq(b, b2, n * sizeof *b, "2 threads");
    detector_set_pool(d, NULL);
    pool_free(pool);

    const int stride = FW + 37;
    uint8_t *padded = malloc((size_t)stride * FH);
    cr_assert_not_null(padded);
    memset(padded, 255, (size_t)stride * FH);
    for (int y = 0; y < FH; y++)
        memcpy(padded + (size_t)y * stride, frame + (size_t)y * FW, FW);
    uint8_t tiny[40 * 30];
    memset(tiny, 90, sizeof tiny);
    cr_expect_eq(detector_run(d, tiny, 40, 30, 40, &o, b2, 16, &err), 0);
    memset(b2, 0, sizeof b2);
    cr_expect_eq(detector_run(d, padded, FW, FH, stride, &o, b2, 16, &err), n);
    cr_expect_arr_eq(b, b2, n * sizeof *b, "padded frame");

    // The plain C evaluation (AGESHIFT_SIMD=0; this test runs in its own process) gives the
    // same boxes as the AVX2 one.
    setenv("AGESHIFT_SIMD", "0", 1);
    Detector *plain = detector_create(c, &err);
    unsetenv("AGESHIFT_SIMD");
    cr_assert_not_null(plain, "%s", err.msg);
    memset(b2, 0, sizeof b2);
    cr_expect_eq(detector_run(plain, frame, FW, FH, FW, &o, b2, 16, &err), n);
    cr_expect_arr_eq(b, b2, n * sizeof *b, "plain C");
    detector_free(plain);

    // max_boxes keeps the largest.
    if (n >= 2) {
        cr_expect_eq(detector_run(d, frame, FW, FH, FW, &o, b2, 2, &err), 2);
        cr_expect_arr_eq(b, b2, 2 * sizeof *b, "max_boxes 2");
    }
    free(padded);
    free(frame);
    detector_free(d);
    cascade_free(c);
}

Test(cascade, haar_default_finds_real_faces)
{
    check_faces(HAAR_DEFAULT, (Framing){0.982, -0.007, -0.083, 0.085});
}

Test(cascade, lbp_improved_finds_real_faces)
{
    check_faces(LBP_IMPROVED, (Framing){0.684, -0.012, -0.020, 0.037});
}

static int count_faces(Detector *d, const uint8_t *frame)
{
    DetectOptions o = detect_options_default();
    FaceBox b[16];
    Err err = {{0}};
    int n = detector_run(d, frame, FW, FH, FW, &o, b, 16, &err);
    cr_assert_geq(n, 0, "%s", err.msg);
    return n;
}

Test(cascade, no_faces_in_noise_or_gradients)
{
    const char *cascades[] = {HAAR_DEFAULT, LBP_IMPROVED};
    uint8_t *frame = malloc(FW * FH);
    cr_assert_not_null(frame);
    for (int i = 0; i < 2; i++) {
        Cascade *c = load_or_skip(cascades[i]);
        Err err = {{0}};
        Detector *d = detector_create(c, &err);
        cr_assert_not_null(d, "%s", err.msg);
        unsigned seed = 3;
        for (int k = 0; k < FW * FH; k++)
            frame[k] = (uint8_t)(lcg(&seed) % 256);
        cr_expect_leq(count_faces(d, frame), 1, "%s: noise", cascades[i]);
        gradient(frame, FW, FH, 9);
        cr_expect_eq(count_faces(d, frame), 0, "%s: gradient", cascades[i]);
        memset(frame, 128, FW * FH);
        cr_expect_eq(count_faces(d, frame), 0, "%s: flat", cascades[i]);
        detector_free(d);
        cascade_free(c);
    }
    free(frame);
}

Test(cascade, refuses_bad_arguments)
{
    Cascade *c = load_or_skip(LBP_IMPROVED);
    Err err = {{0}};
    Detector *d = detector_create(c, &err);
    cr_assert_not_null(d, "%s", err.msg);
    static uint8_t img[64 * 64];
    FaceBox b[4];
    DetectOptions o = detect_options_default();
    cr_expect_eq(detector_run(d, NULL, 64, 64, 64, &o, b, 4, &err), -1);
    cr_expect(strstr(err.msg, "frame") != NULL, "%s", err.msg);
    cr_expect_eq(detector_run(d, img, 64, 64, 63, &o, b, 4, &err), -1);
    cr_expect_eq(detector_run(d, img, 0, 64, 64, &o, b, 4, &err), -1);
    cr_expect_eq(detector_run(d, img, 64, 64, 64, &o, NULL, 4, &err), -1);
    cr_expect_eq(detector_run(d, img, 64, 64, 64, &o, b, -1, &err), -1);
    o.scale_factor = 1.0;
    cr_expect_eq(detector_run(d, img, 64, 64, 64, &o, b, 4, &err), -1);
    cr_expect(strstr(err.msg, "scale_factor") != NULL, "%s", err.msg);
    o = detect_options_default();
    o.min_neighbors = -1;
    cr_expect_eq(detector_run(d, img, 64, 64, 64, &o, b, 4, &err), -1);
    cr_expect(strstr(err.msg, "min_neighbors") != NULL, "%s", err.msg);
    // NULL options are the defaults; no room for boxes is allowed.
    cr_expect_eq(detector_run(d, img, 64, 64, 64, NULL, NULL, 0, &err), 0, "%s", err.msg);
    // Smaller than the window: nothing to find.
    cr_expect_eq(detector_run(d, img, 30, 30, 64, NULL, b, 4, &err), 0, "%s", err.msg);
    detector_free(d);
    cascade_free(c);
}

Test(cascade, default_options)
{
    DetectOptions o = detect_options_default();
    cr_expect_float_eq(o.scale_factor, 1.1, 1e-12);
    cr_expect_eq(o.min_neighbors, 3);
    cr_expect_eq(o.min_size, 0);
    cr_expect_eq(o.max_size, 0);
}
