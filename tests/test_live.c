// ageshift live for real: a clip with a face played through the live pipeline into an SDL2
// window on a virtual X display (Xvfb), with a screenshot taken while it runs.
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "faces.h"
#include "shell.h"

#define MODEL "tests/fixtures/golden_model.safetensors"
// (An untrained model's change is blotches all over, which the artefact guard would hold back:
// the commands here run with --guard 0, as they test the plumbing, not the looks.)
#define DISPLAY_NUM ":89"

static char tmp[] = "/tmp/ageshift-live-XXXXXX";
static char log_text[8192];
#define sh(...) shell_capture(log_text, sizeof log_text, __VA_ARGS__)

// A binary PPM (as ImageMagick and ffmpeg write it, comments allowed) into RGB bytes.
static unsigned char *read_ppm(const char *path, int *w, int *h)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    char line[256];
    int maxv;
    cr_assert_not_null(fgets(line, sizeof line, f));
    do
        cr_assert_not_null(fgets(line, sizeof line, f));
    while (line[0] == '#');
    cr_assert_eq(sscanf(line, "%d %d", w, h), 2);
    cr_assert_eq(fscanf(f, "%d", &maxv), 1);
    fgetc(f);
    unsigned char *px = malloc((size_t)*w * *h * 3);
    cr_assert_eq(fread(px, 1, (size_t)*w * *h * 3, f), (size_t)*w * *h * 3);
    fclose(f);
    return px;
}

static bool is_background(const unsigned char *p)
{
    return abs(p[0] - 0x30) < 12 && abs(p[1] - 0x50) < 12 && abs(p[2] - 0x70) < 12;
}

static void setup(void)
{
    cr_assert_not_null(mkdtemp(tmp));
    if (access("/usr/bin/Xvfb", X_OK) || access("/usr/bin/xwd", X_OK) ||
        sh("command -v convert") != 0)
        cr_skip_test("needs Xvfb, xwd and ImageMagick");
    cr_assert_eq(sh("f=$(cd " TEST_FACES_SH "/young && set -- *.jpg && echo $1); ffmpeg -v error "
                    "-f lavfi -i color=c=0x305070:s=640x480:r=25 -loop 1 -i " TEST_FACES_SH
                    "/young/$f -filter_complex "
                    "\"[1]scale=200:200[f];[0][f]overlay=x=220:y=140\" -frames:v 50 -c:v "
                    "libx264 -pix_fmt yuv420p %s/clip.mp4",
                    tmp),
                 0, "%s", log_text);
}

static void teardown(void)
{
    sh("rm -rf %s", tmp);
}

// Only the window test has a display; Criterion runs the tests of a suite side by side.
static void start_display(void)
{
    cr_assert_eq(sh("(Xvfb " DISPLAY_NUM " -screen 0 800x600x24 -nolisten tcp >/dev/null 2>&1 &) "
                    "&& for i in $(seq 50); do [ -e /tmp/.X11-unix/X89 ] && break; sleep 0.1; "
                    "done"),
                 0);
}

static void stop_display(void)
{
    sh("pkill -f 'Xvfb " DISPLAY_NUM "'");
}

TestSuite(live, .init = setup, .fini = teardown, .timeout = 120);

Test(live, plays_a_clip_into_a_window)
{
    start_display();
    // Run for 6 s, take the screenshot after 3.5 (the sanitizer build takes a second or more to
    // load the model and the landmark model and open the window).
    cr_assert_eq(
        sh("DISPLAY=" DISPLAY_NUM " ${AGESHIFT_BIN:-./build/ageshift} live --input "
           "%s/clip.mp4 --to old --guard 0 --model %s --seconds 6 --no-mirror > %s/live.log 2>&1 "
           "& sleep 3.5; xwd -root -display " DISPLAY_NUM " | convert xwd:- %s/shot.ppm; "
           "wait; cat %s/live.log",
           tmp, MODEL, tmp, tmp, tmp),
        0, "%s", log_text);
    cr_expect_not_null(strstr(log_text, "fps"), "%s", log_text);
    double fps = 0;
    const char *at = strstr(log_text, " s: ");
    cr_assert_not_null(at, "no summary line: %s", log_text);
    sscanf(at, " s: %lf fps", &fps);
    cr_expect_gt(fps, 5.0, "%s", log_text);

    // The window shows the clip: find its blue background on the screen...
    char path[512];
    snprintf(path, sizeof path, "%s/shot.ppm", tmp);
    int w, h;
    unsigned char *px = read_ppm(path, &w, &h);
    int x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            if (is_background(px + ((size_t)y * w + x) * 3)) {
                x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1;
                y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1;
            }
    cr_assert(x1 - x0 > 600 && y1 - y0 > 400, "the clip is not on the screen (%d..%d x %d..%d)", x0,
              x1, y0, y1);
    // ...and the face in it, processed: it differs from the clip's own face (placed at 220, 140,
    // 200 px; the window shows the 640x480 frame 1:1), while the background does not.
    cr_assert_eq(sh("ffmpeg -v error -i %s/clip.mp4 -frames:v 1 %s/frame.ppm", tmp, tmp), 0);
    snprintf(path, sizeof path, "%s/frame.ppm", tmp);
    int fw, fh;
    unsigned char *frame = read_ppm(path, &fw, &fh);
    double face_diff = 0, back_diff = 0;
    int n = 0;
    for (int y = 190; y < 290; y++)
        for (int x = 270; x < 370; x++, n++)
            for (int c = 0; c < 3; c++) {
                face_diff += abs(px[((size_t)(y0 + y) * w + x0 + x) * 3 + c] -
                                 frame[((size_t)y * fw + x) * 3 + c]);
                back_diff += abs(px[((size_t)(y0 + y) * w + x0 + x - 200) * 3 + c] -
                                 frame[((size_t)y * fw + x - 200) * 3 + c]);
            }
    face_diff /= 3.0 * n;
    back_diff /= 3.0 * n;
    cr_expect_gt(face_diff, 8.0, "the face on the screen looks unprocessed (mean difference %.1f)",
                 face_diff);
    cr_expect_lt(back_diff, 3.0, "the background on the screen differs (%.1f)", back_diff);
    free(frame);
    free(px);
    stop_display();
}

Test(live, no_camera_is_a_clear_error)
{
    cr_expect_eq(sh("${AGESHIFT_BIN:-./build/ageshift} live --to old --guard 0 --model %s --device "
                    "/nonexistent/video9",
                    MODEL),
                 1);
    cr_expect_not_null(strstr(log_text, "/nonexistent/video9"), "%s", log_text);
    cr_expect_eq(
        sh("env -u DISPLAY ${AGESHIFT_BIN:-./build/ageshift} live --to old --guard 0 --model %s "
           "--input %s/clip.mp4",
           MODEL, tmp),
        1);
    cr_expect_not_null(strstr(log_text, "no display"), "%s", log_text);
}
