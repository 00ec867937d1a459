// The face detector (filter/cascade.h) on the project's training faces: for each cascade, the
// fraction of the UTKFace crops it finds, the "framing" of its boxes relative to the crops,
// and the time per frame on 640x480 and 1280x720 frames.
//
//   bench_detect [--speed] [FACES_DIR]   (default: $AGESHIFT_FACES, else ../shared/faces;
//                                         --speed: the timings only)
//   cascades from $AGESHIFT_CASCADES (default /usr/share/opencv4, Debian's opencv-data)
//
// Found: each 200x200 crop of FACES_DIR/young and FACES_DIR/old is pasted into a 400x400
// mid-grey (128) frame at a pseudo-random offset; it is found when a detection's centre lies
// in the central 100x100 of the crop. Framing, over the found faces (the detection whose
// centre is nearest the crop's centre): box width / 200, and the box centre's offset from the
// crop centre in units of the crop (x right, y down). The crop stage reproduces the training
// framing from a detection by taking a square of side box_w / ratio centred at
// box_centre - offset * box_w / ratio.
// Speed: frames of a gradient with noise and three faces of different sizes; the median of
// 15 runs after 2 warm-ups, on 1 thread (wall clock and the thread's CPU time) and on a
// 2-thread pool (wall clock). AGESHIFT_SIMD=0 measures the plain C evaluation.
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "media/image_io.h"
#include "core/base/clock.h"
#include "core/base/pool.h"
#include "filter/cascade.h"
#include "bench/bench_faces.h"

#define CROP 200
#define PAD_FRAME 400
#define MIN_SIZE 60
#define RUNS 15
#define WARMUP 2

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

// A w x h frame: a diagonal gradient with +-20 noise and three faces of the given sizes.
static uint8_t *make_frame(int w, int h, const FaceList *faces, const int sizes[3], unsigned seed)
{
    uint8_t *g = malloc((size_t)w * h);
    if (!g)
        return NULL;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int v = 60 + 120 * x / w + 40 * y / h + (int)(bench_lcg(&seed) % 41) - 20;
            g[(size_t)y * w + x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
        }
    for (int k = 0; k < 3; k++) {
        Image img, rs;
        Err err;
        if (image_load(faces->paths[(k * 397) % faces->n], &img, &err) < 0)
            continue;
        if (image_resize(&img, sizes[k], sizes[k], &rs, &err) == 0) {
            int ox = 10 + k * (w / 3), oy = (k % 2) ? h - sizes[k] - 10 : 10;
            paste_gray(&rs, g, w, ox, oy);
            image_free(&rs);
        }
        image_free(&img);
    }
    return g;
}

static void bench_found(Detector *d, const FaceList *faces)
{
    uint8_t *frame = malloc(PAD_FRAME * PAD_FRAME);
    if (!frame)
        return;
    DetectOptions o = detect_options_default();
    o.min_size = MIN_SIZE;
    unsigned seed = 2024;
    int found = 0, tried = 0;
    double sr = 0, srr = 0, sx = 0, sxx = 0, sy = 0, syy = 0;
    double t0 = clock_now_s();
    for (int i = 0; i < faces->n; i++) {
        Image img;
        Err err;
        if (image_load(faces->paths[i], &img, &err) < 0 || img.w != CROP || img.h != CROP) {
            image_free(&img);
            continue;
        }
        int ox = (int)(bench_lcg(&seed) % (PAD_FRAME - CROP + 1));
        int oy = (int)(bench_lcg(&seed) % (PAD_FRAME - CROP + 1));
        memset(frame, 128, PAD_FRAME * PAD_FRAME);
        paste_gray(&img, frame, PAD_FRAME, ox, oy);
        image_free(&img);
        FaceBox b[16];
        int n = detector_run(d, frame, PAD_FRAME, PAD_FRAME, PAD_FRAME, &o, b, 16, &err);
        if (n < 0) {
            fprintf(stderr, "detector_run: %s\n", err.msg);
            break;
        }
        tried++;
        double cx = ox + CROP / 2.0, cy = oy + CROP / 2.0, best = 1e30;
        int bi = -1;
        for (int k = 0; k < n; k++) {
            double bx = b[k].x + b[k].w / 2.0, by = b[k].y + b[k].h / 2.0;
            double dist = hypot(bx - cx, by - cy);
            if (fabs(bx - cx) <= CROP / 4.0 && fabs(by - cy) <= CROP / 4.0 && dist < best) {
                best = dist;
                bi = k;
            }
        }
        if (bi < 0)
            continue;
        found++;
        double r = b[bi].w / (double)CROP;
        double dx = (b[bi].x + b[bi].w / 2.0 - cx) / CROP,
               dy = (b[bi].y + b[bi].h / 2.0 - cy) / CROP;
        sr += r;
        srr += r * r;
        sx += dx;
        sxx += dx * dx;
        sy += dy;
        syy += dy * dy;
    }
    double el = clock_now_s() - t0;
    free(frame);
    if (!tried)
        return;
    printf("  found %d / %d training faces (%.1f%%)  [%.1f ms per 400x400 frame]\n", found, tried,
           100.0 * found / tried, 1e3 * el / tried);
    if (found) {
        double m = sr / found, mx = sx / found, my = sy / found;
        printf("  framing: box width / crop = %.3f (sd %.3f); box centre - crop centre = "
               "(%+.3f, %+.3f) crop (sd %.3f, %.3f)\n",
               m, sqrt(fmax(0, srr / found - m * m)), mx, my, sqrt(fmax(0, sxx / found - mx * mx)),
               sqrt(fmax(0, syy / found - my * my)));
    }
}

static void bench_speed(Detector *d, Pool *pool2, const FaceList *faces, int w, int h,
                        const int sizes[3])
{
    uint8_t *frame = make_frame(w, h, faces, sizes, 99);
    if (!frame)
        return;
    DetectOptions o = detect_options_default();
    o.min_size = MIN_SIZE;
    printf("  %4dx%-4d min_size %d:", w, h, MIN_SIZE);
    for (int threads = 1; threads <= 2; threads++) {
        detector_set_pool(d, threads == 2 ? pool2 : NULL);
        double t[RUNS], cpu[RUNS];
        int n = 0;
        FaceBox b[16];
        Err err;
        for (int r = 0; r < WARMUP + RUNS; r++) {
            double t0 = clock_now_s(), c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
            n = detector_run(d, frame, w, h, w, &o, b, 16, &err);
            if (r >= WARMUP) {
                t[r - WARMUP] = 1e3 * (clock_now_s() - t0);
                cpu[r - WARMUP] = 1e3 * (clock_s(CLOCK_THREAD_CPUTIME_ID) - c0);
            }
        }
        if (n < 0) {
            printf(" error: %s", err.msg);
            break;
        }
        // On one thread, the CPU time is also shown: it leaves out the waits for a core that
        // other processes hold.
        if (threads == 1)
            printf("  1 thread %6.1f ms (cpu %5.1f ms)", median(t, RUNS), median(cpu, RUNS));
        else
            printf("  %d threads %6.1f ms", threads, median(t, RUNS));
        if (threads == 2)
            printf("  [%d faces]", n);
    }
    printf("\n");
    detector_set_pool(d, NULL);
    free(frame);
}

int main(int argc, char **argv)
{
    bool speed_only = argc > 1 && strcmp(argv[1], "--speed") == 0;
    if (speed_only) {
        argc--;
        argv++;
    }
    const char *faces_dir = bench_faces_dir(argc > 1 ? argv[1] : NULL);
    const char *cdir = getenv("AGESHIFT_CASCADES");
    if (!cdir || !*cdir)
        cdir = "/usr/share/opencv4";
    FaceList faces;
    if (face_list(faces_dir, &faces) < 0) {
        fprintf(stderr, "bench_detect: no faces under %s/young or %s/old\n", faces_dir, faces_dir);
        return 1;
    }
    Err err;
    Pool *pool2 = pool_create(2, &err);
    if (!pool2) {
        fprintf(stderr, "bench_detect: %s\n", err.msg);
        return 1;
    }
    const char *cascades[] = {"haarcascades/haarcascade_frontalface_default.xml",
                              "haarcascades/haarcascade_frontalface_alt2.xml",
                              "lbpcascades/lbpcascade_frontalface_improved.xml"};
    printf("face detector: %d training faces from %s; scale factor 1.1, min_neighbors 3, "
           "min_size %d\n",
           faces.n, faces_dir, MIN_SIZE);
    int status = 0;
    for (int i = 0; i < 3; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", cdir, cascades[i]);
        Cascade *c = cascade_load(path, &err);
        Detector *d = c ? detector_create(c, &err) : NULL;
        if (!d) {
            fprintf(stderr, "bench_detect: %s\n", err.msg);
            cascade_free(c);
            status = 1;
            continue;
        }
        int ww, wh;
        cascade_window_size(c, &ww, &wh);
        printf("%s (window %dx%d)\n", strrchr(cascades[i], '/') + 1, ww, wh);
        if (!speed_only)
            bench_found(d, &faces);
        bench_speed(d, pool2, &faces, 640, 480, (const int[3]){90, 130, 180});
        bench_speed(d, pool2, &faces, 1280, 720, (const int[3]){120, 200, 300});
        fflush(stdout);
        detector_free(d);
        cascade_free(c);
    }
    pool_free(pool2);
    face_list_free(&faces);
    return status;
}
