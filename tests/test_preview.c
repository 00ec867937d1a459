// Live preview window: letterbox arithmetic (wide, tall, exact, scaled, degenerate), and a real
// SDL window on a private Xvfb server checked through root-window screenshots (xwd + ImageMagick):
// red and blue halves and a white square where expected, swapped by mirroring, side by side with
// black bars, the overlay text lighting pixels at the top-left, correct letterboxing after
// resizes; synthetic key and window events mapped to actions; a clear "no display" failure.
// Screenshots are kept as /tmp/ageshift_preview_<name>.png for a human to look at.
#include <criterion/criterion.h>

#include <SDL.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "capture/preview.h"
#include "core/base/clock.h"

// ---- letterbox arithmetic ---------------------------------------------------------------------

static void expect_box(int w, int h, int ww, int wh, int ex, int ey, int ew, int eh)
{
    int x = -1, y = -1, dw = -1, dh = -1;
    preview_letterbox(w, h, ww, wh, &x, &y, &dw, &dh);
    cr_assert(x == ex && y == ey && dw == ew && dh == eh,
              "%dx%d into %dx%d: got (%d,%d) %dx%d, expected (%d,%d) %dx%d", w, h, ww, wh, x, y, dw,
              dh, ex, ey, ew, eh);
}

Test(letterbox, wide_picture_gets_bars_above_and_below)
{
    expect_box(1280, 480, 640, 480, 0, 120, 640, 240); // side by side 4:3 frames
    expect_box(1920, 1080, 640, 480, 0, 60, 640, 360); // 16:9 in 4:3
    expect_box(640, 480, 640, 240 * 3, 0, 120, 640, 480);
}

Test(letterbox, tall_picture_gets_bars_left_and_right)
{
    expect_box(480, 640, 640, 480, 140, 0, 360, 480);
    expect_box(640, 480, 640, 240, 160, 0, 320, 240);
    expect_box(640, 480, 1920, 1080, 240, 0, 1440, 1080);
}

Test(letterbox, exact_and_scaled_fits_fill_the_window)
{
    expect_box(640, 480, 640, 480, 0, 0, 640, 480);
    expect_box(320, 240, 800, 600, 0, 0, 800, 600);  // upscaled
    expect_box(1280, 960, 640, 480, 0, 0, 640, 480); // downscaled
    expect_box(1, 1, 7, 7, 0, 0, 7, 7);
}

Test(letterbox, rounds_to_nearest_and_centres)
{
    // 640x480 into 101x100: width-limited, height 75.75 -> 76, y = (100 - 76) / 2 = 12.
    expect_box(640, 480, 101, 100, 0, 12, 101, 76);
    // 3x1 into 10x10: height 3.33 -> 3, y = 3.
    expect_box(3, 1, 10, 10, 0, 3, 10, 3);
    // A very thin picture still gets one pixel.
    expect_box(10000, 1, 100, 100, 0, 49, 100, 1);
    expect_box(1, 10000, 100, 100, 49, 0, 1, 100);
}

Test(letterbox, degenerate_sizes_give_an_empty_rectangle)
{
    expect_box(0, 480, 640, 480, 0, 0, 0, 0);
    expect_box(640, -1, 640, 480, 0, 0, 0, 0);
    expect_box(640, 480, 0, 480, 0, 0, 0, 0);
    expect_box(640, 480, 640, 0, 0, 0, 0, 0);
    preview_letterbox(640, 480, 640, 480, NULL, NULL, NULL, NULL); // NULL outputs are allowed
}

// ---- no display, bad arguments ----------------------------------------------------------------

Test(preview, without_display_fails_with_a_clear_message, .timeout = 30)
{
    unsetenv("DISPLAY");
    unsetenv("WAYLAND_DISPLAY");
    unsetenv("SDL_VIDEODRIVER");
    Err err = {{0}};
    Preview *p = preview_open("t", 640, 480, &err);
    cr_assert_null(p);
    cr_assert(strstr(err.msg, "no display"), "message: %s", err.msg);
    cr_assert(strstr(err.msg, "DISPLAY is not set"), "message: %s", err.msg);
    cr_assert(strstr(err.msg, "--no-window"), "message: %s", err.msg);

    // A DISPLAY naming a server that is not running fails the same way (display :93 if unused).
    if (access("/tmp/.X11-unix/X93", F_OK) != 0) {
        setenv("DISPLAY", ":93", 1);
        err.msg[0] = '\0';
        p = preview_open("t", 640, 480, &err);
        cr_assert_null(p);
        cr_assert(strstr(err.msg, "no display"), "message: %s", err.msg);
    }
}

Test(preview, bad_arguments_are_reported)
{
    Err err = {{0}};
    cr_assert_null(preview_open("t", 0, 480, &err));
    cr_assert(strstr(err.msg, "out of range"), "message: %s", err.msg);
    cr_assert_null(preview_open("t", 640, -5, NULL)); // NULL err is allowed

    uint8_t px[3] = {0};
    Image img = {1, 1, px};
    err.msg[0] = '\0';
    cr_assert_eq(preview_show(NULL, NULL, &img, VIEW_AGED, false, NULL, &err), -1);
    cr_assert(strstr(err.msg, "NULL"), "message: %s", err.msg);
    cr_assert_eq(preview_poll(NULL), PREVIEW_NONE);
    cr_assert_null(preview_sdl_window(NULL));
    preview_close(NULL);
}

// ---- a private X server -----------------------------------------------------------------------

static pid_t xvfb_pid = -1;

static bool have_program(const char *name)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", name);
    return system(cmd) == 0;
}

static bool can_connect(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    bool ok = connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0;
    close(fd);
    return ok;
}

// Starts `Xvfb :disp -screen 0 800x600x24` and waits until it accepts connections; skips the
// test when the tools are missing. Xvfb dies with the test process even if the test crashes.
static void start_xvfb(int disp)
{
    if (!have_program("Xvfb") || !have_program("xwd") || !have_program("convert"))
        cr_skip_test("Xvfb, xwd or ImageMagick's convert is not installed");
    char name[16], sock[64];
    snprintf(name, sizeof name, ":%d", disp);
    snprintf(sock, sizeof sock, "/tmp/.X11-unix/X%d", disp);
    cr_assert(!can_connect(sock), "display %s is already in use by another X server", name);

    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(126);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, 0);
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        execlp("Xvfb", "Xvfb", name, "-screen", "0", "800x600x24", "-nolisten", "tcp",
               (char *)NULL);
        _exit(127);
    }
    xvfb_pid = pid;
    double deadline = clock_now_s() + 15.0;
    while (!can_connect(sock)) {
        int status;
        cr_assert(waitpid(pid, &status, WNOHANG) == 0, "Xvfb %s exited before accepting clients",
                  name);
        cr_assert(clock_now_s() < deadline, "Xvfb %s did not accept connections within 15 s", name);
        usleep(20000);
    }
    setenv("DISPLAY", name, 1);
    unsetenv("WAYLAND_DISPLAY");
    unsetenv("SDL_VIDEODRIVER");
}

// Under SANITIZE=1, the command leaks a few small blocks inside libraries SDL2 dlopen()s and
// unloads before exit, which LeakSanitizer cannot name (so tests/lsan.supp cannot match them):
// the commands these tests run are not leak-checked (this binary still is; it read its options
// before this runs). Leak checks of the same pipeline without a window are in test_live.
__attribute__((constructor)) static void no_leak_checks_in_commands(void)
{
    setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
}

static void stop_xvfb(void)
{
    if (xvfb_pid <= 0)
        return;
    kill(xvfb_pid, SIGTERM);
    double deadline = clock_now_s() + 3.0;
    while (waitpid(xvfb_pid, NULL, WNOHANG) == 0) {
        if (clock_now_s() > deadline) {
            kill(xvfb_pid, SIGKILL);
            waitpid(xvfb_pid, NULL, 0);
            break;
        }
        usleep(10000);
    }
    xvfb_pid = -1;
}

TestSuite(window, .fini = stop_xvfb, .timeout = 90);

// ---- screenshots ------------------------------------------------------------------------------

// Screenshot of the whole root window of display :disp (RGB24); also kept as a PNG.
static Image grab(int disp, const char *tag)
{
    char ppm[128], png[128], cmd[512];
    snprintf(ppm, sizeof ppm, "/tmp/ageshift_preview_%d_%d.ppm", (int)getpid(), disp);
    snprintf(png, sizeof png, "/tmp/ageshift_preview_%s.png", tag);
    snprintf(cmd, sizeof cmd,
             "timeout 20 xwd -root -silent -display :%d | timeout 20 convert xwd:- ppm:%s", disp,
             ppm);
    cr_assert_eq(system(cmd), 0, "screenshot failed: %s", cmd);
    snprintf(cmd, sizeof cmd, "timeout 20 convert ppm:%s png:%s", ppm, png);
    cr_assert_eq(system(cmd), 0, "PNG conversion failed: %s", cmd);

    FILE *f = fopen(ppm, "rb");
    cr_assert_not_null(f, "%s: %s", ppm, strerror(errno));
    unlink(ppm); // readable through f until fclose; nothing is left behind if an assert fails
    int fields[4] = {0}; // magic number, width, height, maxval
    cr_assert(fgetc(f) == 'P' && fgetc(f) == '6', "%s: not a binary PPM", ppm);
    for (int i = 1; i < 4; i++) {
        int c = fgetc(f);
        while (c == '#' || c == ' ' || c == '\n' || c == '\r' || c == '\t') {
            if (c == '#') // a comment runs to the end of the line
                while (c != '\n' && c != EOF)
                    c = fgetc(f);
            c = fgetc(f);
        }
        while (c >= '0' && c <= '9' && fields[i] < 100000) {
            fields[i] = fields[i] * 10 + (c - '0');
            c = fgetc(f);
        } // c is now the single whitespace after the number (before the pixels for maxval)
    }
    int w = fields[1], h = fields[2];
    cr_assert(w > 0 && h > 0 && fields[3] == 255, "%s: not an 8-bit PPM (%dx%d, maxval %d)", ppm, w,
              h, fields[3]);
    Image img = {w, h, malloc((size_t)w * (size_t)h * 3)};
    cr_assert_not_null(img.rgb);
    cr_assert_eq(fread(img.rgb, 3, (size_t)w * (size_t)h, f), (size_t)w * (size_t)h,
                 "%s: truncated", ppm);
    fclose(f);
    return img;
}

typedef struct {
    int x0, y0, x1, y1; // window coordinates, half-open
    uint8_t r, g, b;
} Region;

// Checks that every other pixel of each region (window coordinates, the window's top-left at
// wx, wy on the screen) is within 48 of the region's colour. Returns false with a description.
static bool regions_match(const Image *shot, int wx, int wy, const Region *rs, int n, char *why,
                          size_t why_size)
{
    for (int i = 0; i < n; i++) {
        const Region *r = &rs[i];
        for (int y = r->y0; y < r->y1; y += 2) {
            for (int x = r->x0; x < r->x1; x += 2) {
                int sx = wx + x, sy = wy + y;
                if (sx < 0 || sy < 0 || sx >= shot->w || sy >= shot->h) {
                    snprintf(why, why_size, "region %d: (%d,%d) is off the screen", i, x, y);
                    return false;
                }
                const uint8_t *p = shot->rgb + ((size_t)sy * (size_t)shot->w + (size_t)sx) * 3;
                if (abs(p[0] - r->r) > 48 || abs(p[1] - r->g) > 48 || abs(p[2] - r->b) > 48) {
                    snprintf(why, why_size,
                             "region %d [%d,%d)x[%d,%d): pixel (%d,%d) is (%d,%d,%d), expected "
                             "(%d,%d,%d)",
                             i, r->x0, r->x1, r->y0, r->y1, x, y, p[0], p[1], p[2], r->r, r->g,
                             r->b);
                    return false;
                }
            }
        }
    }
    return true;
}

// 640x480: left half red, right half blue, a white square at x 400..480, y 200..280.
static Image test_frame(void)
{
    Image img = {640, 480, malloc(640 * 480 * 3)};
    cr_assert_not_null(img.rgb);
    for (int y = 0; y < 480; y++) {
        for (int x = 0; x < 640; x++) {
            uint8_t *p = img.rgb + ((size_t)y * 640 + (size_t)x) * 3;
            bool square = x >= 400 && x < 480 && y >= 200 && y < 280;
            p[0] = square || x < 320 ? 255 : 0;
            p[1] = square ? 255 : 0;
            p[2] = square || x >= 320 ? 255 : 0;
        }
    }
    return img;
}

static Image solid_frame(int w, int h, uint8_t r, uint8_t g, uint8_t b)
{
    Image img = {w, h, malloc((size_t)w * (size_t)h * 3)};
    cr_assert_not_null(img.rgb);
    for (size_t i = 0; i < (size_t)w * (size_t)h; i++) {
        img.rgb[3 * i] = r;
        img.rgb[3 * i + 1] = g;
        img.rgb[3 * i + 2] = b;
    }
    return img;
}

typedef struct {
    Preview *p;
    int disp;
    const Image *original, *aged;
    PreviewView view;
    bool mirror;
    const char *overlay;
} Scene;

// Shows the scene a few times while pumping events, so the X server has everything.
static void show_a_few_times(const Scene *s)
{
    for (int i = 0; i < 6; i++) {
        Err err = {{0}};
        while (preview_poll(s->p) != PREVIEW_NONE) {
        }
        cr_assert_eq(preview_show(s->p, s->original, s->aged, s->view, s->mirror, s->overlay, &err),
                     0, "preview_show: %s", err.msg);
        SDL_Delay(15);
    }
}

// Shows the scene and compares a screenshot with the regions, retrying for a few seconds (the
// server may still be applying a resize); fails with the last mismatch.
static void expect_regions(const Scene *s, const char *tag, const Region *rs, int n)
{
    char why[256] = "";
    double deadline = clock_now_s() + 5.0;
    for (;;) {
        show_a_few_times(s);
        int wx = 0, wy = 0;
        SDL_GetWindowPosition(preview_sdl_window(s->p), &wx, &wy);
        Image shot = grab(s->disp, tag);
        bool ok = regions_match(&shot, wx, wy, rs, n, why, sizeof why);
        free(shot.rgb);
        if (ok)
            return;
        cr_assert(clock_now_s() < deadline, "%s: %s (window at %d,%d)", tag, why, wx, wy);
        SDL_Delay(100);
    }
}

static Preview *open_window(int w, int h)
{
    Err err = {{0}};
    Preview *p = preview_open("ageshift test", w, h, &err);
    cr_assert_not_null(p, "preview_open: %s", err.msg);
    return p;
}

#define RED 255, 0, 0
#define BLUE 0, 0, 255
#define WHITE 255, 255, 255
#define GREEN 0, 255, 0
#define BLACK 0, 0, 0

// ---- pictures in a real window ----------------------------------------------------------------

Test(window, aged_view_and_overlay)
{
    start_xvfb(97);
    Image frame = test_frame();
    Preview *p = open_window(640, 480);
    Scene s = {p, 97, NULL, &frame, VIEW_AGED, false, NULL};
    const Region plain[] = {
        {4, 4, 316, 476, RED},       {324, 4, 636, 196, BLUE},   {324, 204, 396, 276, BLUE},
        {404, 204, 476, 276, WHITE}, {484, 204, 636, 276, BLUE}, {324, 284, 636, 476, BLUE},
    };
    expect_regions(&s, "plain", plain, 6);

    // The overlay: white text on a darkened band in the top-left corner, the rest untouched.
    s.overlay = "older  12.3 fps  85 ms";
    const Region rest[] = {
        {4, 60, 316, 476, RED}, {404, 204, 476, 276, WHITE}, {324, 4, 636, 196, BLUE}};
    expect_regions(&s, "overlay", rest, 3);
    int wx = 0, wy = 0;
    SDL_GetWindowPosition(preview_sdl_window(p), &wx, &wy);
    Image shot = grab(97, "overlay");
    int white = 0, darkened = 0;
    for (int y = 0; y < 40; y++) {
        for (int x = 0; x < 300; x++) {
            const uint8_t *q =
                shot.rgb + ((size_t)(wy + y) * (size_t)shot.w + (size_t)(wx + x)) * 3;
            if (q[0] > 200 && q[1] > 200 && q[2] > 200)
                white++;
            if (q[0] > 20 && q[0] < 200 && q[1] < 30 && q[2] < 30)
                darkened++;
        }
    }
    free(shot.rgb);
    cr_assert_gt(white, 100, "only %d white text pixels at the top-left", white);
    cr_assert_gt(darkened, 1000, "only %d darkened band pixels at the top-left", darkened);
    // The text is drawn at a fixed size: it stays within the top-left 300x40.
    preview_close(p);
    free(frame.rgb);
}

Test(window, mirror_and_side_by_side)
{
    start_xvfb(96);
    Image frame = test_frame();
    Image green = solid_frame(640, 480, GREEN);
    Preview *p = open_window(640, 480);

    Scene s = {p, 96, NULL, &frame, VIEW_AGED, true, NULL};
    const Region mirrored[] = {
        {324, 4, 636, 476, RED},     {4, 4, 316, 196, BLUE},     {4, 204, 156, 276, BLUE},
        {164, 204, 236, 276, WHITE}, {244, 204, 316, 276, BLUE}, {4, 284, 316, 476, BLUE},
    };
    expect_regions(&s, "mirror", mirrored, 6);

    // Side by side: 1280x480 into 640x480 -> y 120..360, original left, aged right at half size.
    s = (Scene){p, 96, &green, &frame, VIEW_SIDE_BY_SIDE, false, NULL};
    const Region sbs[] = {
        {0, 0, 640, 116, BLACK},    {0, 364, 640, 480, BLACK},  {4, 124, 316, 356, GREEN},
        {324, 124, 476, 356, RED},  {484, 124, 636, 216, BLUE}, {524, 224, 556, 256, WHITE},
        {484, 264, 636, 356, BLUE},
    };
    expect_regions(&s, "side_by_side", sbs, 7);

    // Mirrored side by side: each picture flips in place, the original stays on the left.
    s.mirror = true;
    const Region sbs_mirror[] = {
        {0, 0, 640, 116, BLACK},     {4, 124, 316, 356, GREEN}, {324, 124, 476, 216, BLUE},
        {404, 224, 436, 256, WHITE}, {484, 124, 636, 356, RED}, {0, 364, 640, 480, BLACK},
    };
    expect_regions(&s, "side_by_side_mirror", sbs_mirror, 6);
    preview_close(p);
    free(frame.rgb);
    free(green.rgb);
}

Test(window, letterboxing_follows_resizes)
{
    start_xvfb(95);
    Image frame = test_frame();
    Preview *p = open_window(640, 480);
    SDL_Window *win = preview_sdl_window(p);
    cr_assert_not_null(win);
    Scene s = {p, 95, NULL, &frame, VIEW_AGED, false, NULL};
    const Region full[] = {{4, 4, 316, 476, RED}, {324, 4, 636, 196, BLUE}};
    expect_regions(&s, "before_resize", full, 2);

    // 640x240: pillarboxed to 320x240 at x 160; the square lands at 360..400 x 100..140.
    SDL_SetWindowSize(win, 640, 240);
    const Region wide[] = {
        {0, 0, 156, 240, BLACK}, {484, 0, 640, 240, BLACK},   {164, 4, 316, 236, RED},
        {324, 4, 476, 96, BLUE}, {364, 104, 396, 136, WHITE}, {324, 144, 476, 236, BLUE},
    };
    expect_regions(&s, "resized_wide", wide, 6);
    int w = 0, h = 0;
    SDL_GetWindowSize(win, &w, &h);
    cr_assert(w == 640 && h == 240, "window is %dx%d after resizing to 640x240", w, h);

    // 320x480: letterboxed to 320x240 at y 120; the square lands at 200..240 x 220..260.
    SDL_SetWindowSize(win, 320, 480);
    const Region tall[] = {
        {0, 0, 320, 116, BLACK},    {0, 364, 320, 480, BLACK},   {4, 124, 156, 356, RED},
        {164, 124, 316, 216, BLUE}, {204, 224, 236, 256, WHITE}, {164, 264, 316, 356, BLUE},
    };
    expect_regions(&s, "resized_tall", tall, 6);

    // A new frame size after the resize recreates the texture: 320x480 solid green fills it.
    Image green = solid_frame(320, 480, GREEN);
    s.aged = &green;
    const Region filled[] = {{2, 2, 318, 478, GREEN}};
    expect_regions(&s, "resized_new_frame_size", filled, 1);
    preview_close(p);
    free(frame.rgb);
    free(green.rgb);
}

// ---- events -----------------------------------------------------------------------------------

static void push_key(SDL_Keycode sym, Uint32 type, int repeat)
{
    SDL_Event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.key.type = type;
    ev.key.state = type == SDL_KEYDOWN ? SDL_PRESSED : SDL_RELEASED;
    ev.key.repeat = (Uint8)repeat;
    ev.key.keysym.sym = sym;
    cr_assert_eq(SDL_PushEvent(&ev), 1, "SDL_PushEvent: %s", SDL_GetError());
}

Test(window, keys_and_window_events_map_to_actions)
{
    start_xvfb(94);
    Image frame = test_frame();
    Preview *p = open_window(320, 240);
    Scene s = {p, 94, NULL, &frame, VIEW_AGED, false, "x"};
    show_a_few_times(&s);
    while (preview_poll(p) != PREVIEW_NONE) {
    }

    const struct {
        SDL_Keycode sym;
        PreviewAction action;
    } keys[] = {
        {SDLK_m, PREVIEW_TOGGLE_MIRROR},  {SDLK_SPACE, PREVIEW_TOGGLE_DIRECTION},
        {SDLK_v, PREVIEW_TOGGLE_VIEW},    {SDLK_s, PREVIEW_SNAPSHOT},
        {SDLK_PLUS, PREVIEW_STRONGER},    {SDLK_EQUALS, PREVIEW_STRONGER},
        {SDLK_KP_PLUS, PREVIEW_STRONGER}, {SDLK_MINUS, PREVIEW_WEAKER},
        {SDLK_KP_MINUS, PREVIEW_WEAKER},  {SDLK_q, PREVIEW_QUIT},
        {SDLK_ESCAPE, PREVIEW_QUIT},      {SDLK_a, PREVIEW_NONE},
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        push_key(keys[i].sym, SDL_KEYDOWN, 0);
        cr_assert_eq(preview_poll(p), keys[i].action, "key %d", (int)keys[i].sym);
        cr_assert_eq(preview_poll(p), PREVIEW_NONE, "key %d reported twice", (int)keys[i].sym);
    }

    // Releases and auto-repeats of toggles do nothing; a held + keeps strengthening.
    push_key(SDLK_m, SDL_KEYUP, 0);
    push_key(SDLK_m, SDL_KEYDOWN, 1);
    cr_assert_eq(preview_poll(p), PREVIEW_NONE);
    push_key(SDLK_PLUS, SDL_KEYDOWN, 1);
    cr_assert_eq(preview_poll(p), PREVIEW_STRONGER);

    // Several queued actions come out one per call, in order.
    push_key(SDLK_v, SDL_KEYDOWN, 0);
    push_key(SDLK_s, SDL_KEYDOWN, 0);
    push_key(SDLK_q, SDL_KEYDOWN, 0);
    PreviewAction first = preview_poll(p);
    cr_assert_eq(first, PREVIEW_TOGGLE_VIEW, "got %d", (int)first);
    cr_assert_eq(preview_poll(p), PREVIEW_SNAPSHOT);
    cr_assert_eq(preview_poll(p), PREVIEW_QUIT);
    cr_assert_eq(preview_poll(p), PREVIEW_NONE);

    // Closing the window (the window manager's close button) and SDL_QUIT quit.
    SDL_Event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = SDL_WINDOWEVENT;
    ev.window.event = SDL_WINDOWEVENT_CLOSE;
    ev.window.windowID = SDL_GetWindowID(preview_sdl_window(p));
    cr_assert_eq(SDL_PushEvent(&ev), 1);
    cr_assert_eq(preview_poll(p), PREVIEW_QUIT);
    memset(&ev, 0, sizeof ev);
    ev.type = SDL_QUIT;
    cr_assert_eq(SDL_PushEvent(&ev), 1);
    cr_assert_eq(preview_poll(p), PREVIEW_QUIT);

    // Bad frames are refused with a reason, and the window keeps working afterwards.
    Err err = {{0}};
    cr_assert_eq(preview_show(p, NULL, NULL, VIEW_AGED, false, NULL, &err), -1);
    cr_assert(strstr(err.msg, "aged"), "message: %s", err.msg);
    cr_assert_eq(preview_show(p, NULL, &frame, VIEW_SIDE_BY_SIDE, false, NULL, &err), -1);
    cr_assert(strstr(err.msg, "original"), "message: %s", err.msg);
    Image empty = {0, 480, frame.rgb};
    cr_assert_eq(preview_show(p, NULL, &empty, VIEW_AGED, false, NULL, &err), -1);
    cr_assert(strstr(err.msg, "0x480"), "message: %s", err.msg);
    cr_assert_eq(preview_show(p, NULL, &frame, (PreviewView)7, false, NULL, &err), -1);
    cr_assert(strstr(err.msg, "view"), "message: %s", err.msg);
    cr_assert_eq(preview_show(p, NULL, &frame, VIEW_AGED, false, "ok", &err), 0, "%s", err.msg);
    preview_close(p);
    free(frame.rgb);
}
