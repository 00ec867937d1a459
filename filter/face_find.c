#include "filter/face_find.h"

#include <libswscale/swscale.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define TILT_DEGREES 20.0
// A box needs more raw hits than this: 5 or more from the first cascade, 11 or more from the
// second (whose false boxes in ../shared/wild, on a monkey's face and a hand, have 7 to 10).
#define FIRST_MIN_NEIGHBORS 4
#define SECOND_MIN_NEIGHBORS 10
// The second cascade's box as the first's (measured by bench_landmarks --second on the 2,533
// training crops both cascades find, for OpenCV's Haar frontalface_alt against the LBP
// frontalface_improved): the centre moved by this much of its width, the side scaled.
#define SECOND_DX (-0.0110f)
#define SECOND_DY 0.0670f
#define SECOND_SCALE 0.6990f
#define PASS_BOXES 64 // boxes kept per pass
#define MAX_HITS 512

typedef struct {
    int kind;     // FIND_*
    double angle; // degrees: the frame is turned by this before the scan
} Pass;

static const Pass passes_all[] = {
    {FIND_FRONTAL, 0}, {FIND_TILTED, TILT_DEGREES}, {FIND_TILTED, -TILT_DEGREES},
    {FIND_SECOND, 0},  {FIND_SECOND, TILT_DEGREES}, {FIND_SECOND, -TILT_DEGREES},
};

struct FaceFinder {
    const Cascade *frontal, *second;
    Detector *frontal_det, *second_det;
    uint8_t *small, *turned; // the frame scaled down; turned
    size_t small_size, turned_size;
    struct SwsContext *shrink;
    FaceHit hits[MAX_HITS];
};

FaceFinder *face_finder_create(const Cascade *frontal, const Cascade *second, Err *err)
{
    FaceFinder *f = calloc(1, sizeof *f);
    if (!f) {
        err_set(err, "out of memory");
        return NULL;
    }
    f->frontal = frontal;
    f->second = second;
    if (!(f->frontal_det = detector_create(frontal, err)) ||
        (second && !(f->second_det = detector_create(second, err)))) {
        face_finder_free(f);
        return NULL;
    }
    return f;
}

void face_finder_free(FaceFinder *f)
{
    if (!f)
        return;
    detector_free(f->frontal_det);
    detector_free(f->second_det);
    free(f->small);
    free(f->turned);
    sws_freeContext(f->shrink);
    free(f);
}

void face_finder_set_pool(FaceFinder *f, Pool *pool)
{
    detector_set_pool(f->frontal_det, pool);
    if (f->second_det)
        detector_set_pool(f->second_det, pool);
}

static int grow(uint8_t **buf, size_t *size, size_t need, Err *err)
{
    if (need <= *size)
        return 0;
    free(*buf);
    if (!(*buf = malloc(need))) {
        *size = 0;
        return err_set(err, "out of memory");
    }
    *size = need;
    return 0;
}

static int window_side(const Cascade *c)
{
    int w = 0, h = 0;
    if (c)
        cascade_window_size(c, &w, &h);
    return w > h ? w : h;
}

// dst (w, h) = src turned by angle (radians) about the centre; bilinear, mid-grey where the
// turn leaves the picture.
static void turn(const uint8_t *src, int w, int h, double angle, uint8_t *dst)
{
    const float c = (float)cos(angle), s = (float)sin(angle);
    const float cx = 0.5f * (float)w, cy = 0.5f * (float)h;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float u = (float)x + 0.5f - cx;
            float v = (float)y + 0.5f - cy;
            float sx = cx + c * u - s * v - 0.5f, sy = cy + s * u + c * v - 0.5f;
            int x0 = (int)floorf(sx), y0 = (int)floorf(sy);
            uint8_t *o = dst + (size_t)y * w + x;
            if (x0 < 0 || y0 < 0 || x0 + 1 >= w || y0 + 1 >= h) {
                *o = 128;
                continue;
            }
            float fx = sx - (float)x0, fy = sy - (float)y0;
            const uint8_t *p = src + (size_t)y0 * w + x0;
            *o = (uint8_t)((1 - fy) * ((1 - fx) * p[0] + fx * p[1]) +
                           fy * ((1 - fx) * p[w] + fx * p[w + 1]) + 0.5f);
        }
}

// The box of a hit in the turned image, back in the scanned image's upright coordinates: the
// centre turned back, the size kept.
static FaceRect unturn(FaceBox b, int w, int h, double angle)
{
    const double cx = 0.5 * w, cy = 0.5 * h;
    double bx = b.x + 0.5 * b.w, by = b.y + 0.5 * b.h;
    double u = bx - cx, v = by - cy;
    double ox = cx + cos(angle) * u - sin(angle) * v, oy = cy + sin(angle) * u + cos(angle) * v;
    return (FaceRect){(float)(ox - 0.5 * b.w), (float)(oy - 0.5 * b.h), (float)b.w, (float)b.h};
}

// Frontal boxes first, then by support.
static int hit_order(const void *pa, const void *pb)
{
    const FaceHit *a = pa, *b = pb;
    int fa = a->pass != FIND_SECOND, fb = b->pass != FIND_SECOND;
    if (fa != fb)
        return fb - fa;
    return b->neighbors - a->neighbors;
}

static int larger_first(const void *pa, const void *pb)
{
    const FaceHit *a = pa, *b = pb;
    return (b->box.w > a->box.w) - (b->box.w < a->box.w);
}

// Whether two boxes are one face: centres closer than half the larger box.
static bool same_face(FaceRect a, FaceRect b)
{
    float dx = (a.x + 0.5f * a.w) - (b.x + 0.5f * b.w),
          dy = (a.y + 0.5f * a.h) - (b.y + 0.5f * b.h);
    float side = fmaxf(a.w, b.w);
    return dx * dx + dy * dy < 0.25f * side * side;
}

int face_finder_run(FaceFinder *f, const uint8_t *gray, int w, int h, int stride, int min_size,
                    unsigned passes, FaceHit *out, int max, Err *err)
{
    if (!gray || w < 1 || h < 1 || stride < w || max < 0)
        return err_set(err, "face finder: bad frame (%dx%d, stride %d)", w, h, stride);
    if (!f->second)
        passes &= ~(unsigned)FIND_SECOND;
    int window = window_side(f->frontal);
    if (passes & FIND_SECOND && window_side(f->second) > window)
        window = window_side(f->second);
    int scale = 1;
    while (min_size / (2 * scale) >= window)
        scale *= 2;
    const uint8_t *img = gray;
    int sw = w, sh = h, sstride = stride;
    if (scale > 1) {
        sw = w / scale, sh = h / scale;
        if (grow(&f->small, &f->small_size, (size_t)sw * sh, err))
            return -1;
        f->shrink = sws_getCachedContext(f->shrink, w, h, AV_PIX_FMT_GRAY8, sw, sh,
                                         AV_PIX_FMT_GRAY8, SWS_AREA, NULL, NULL, NULL);
        if (!f->shrink)
            return err_set(err, "cannot scale frames for the detector");
        const uint8_t *src[1] = {gray};
        uint8_t *dst[1] = {f->small};
        int src_stride[1] = {stride}, dst_stride[1] = {sw};
        sws_scale(f->shrink, src, src_stride, 0, h, dst, dst_stride);
        img = f->small, sstride = sw;
    }
    DetectOptions o = detect_options_default();
    o.min_size = min_size / scale;
    int n = 0;
    for (size_t p = 0; p < sizeof passes_all / sizeof passes_all[0]; p++) {
        const Pass *ps = &passes_all[p];
        if (!(passes & (unsigned)ps->kind))
            continue;
        const uint8_t *scan = img;
        int scan_stride = sstride;
        double angle = ps->angle * M_PI / 180.0;
        if (ps->angle != 0.0) {
            if (grow(&f->turned, &f->turned_size, (size_t)sw * sh, err))
                return -1;
            if (img != f->small && sstride != sw) { // turn() reads rows of sw bytes
                if (grow(&f->small, &f->small_size, (size_t)sw * sh, err))
                    return -1;
                for (int y = 0; y < sh; y++)
                    memcpy(f->small + (size_t)y * sw, img + (size_t)y * sstride, (size_t)sw);
                img = f->small, sstride = sw;
            }
            turn(img, sw, sh, angle, f->turned);
            scan = f->turned, scan_stride = sw;
        }
        bool second = ps->kind == FIND_SECOND;
        o.min_neighbors = second ? SECOND_MIN_NEIGHBORS : FIRST_MIN_NEIGHBORS;
        FaceBox boxes[PASS_BOXES];
        int k = detector_run(second ? f->second_det : f->frontal_det, scan, sw, sh, scan_stride, &o,
                             boxes, PASS_BOXES, err);
        if (k < 0)
            return -1;
        for (int i = 0; i < k && n < MAX_HITS; i++) {
            FaceRect r = unturn(boxes[i], sw, sh, angle);
            if (second) // onto the first cascade's framing
                r = face_rect_reframe(r, SECOND_DX, SECOND_DY, SECOND_SCALE);
            f->hits[n++] = (FaceHit){
                {r.x * scale, r.y * scale, r.w * scale, r.h * scale}, boxes[i].neighbors, ps->kind};
        }
    }
    qsort(f->hits, (size_t)n, sizeof *f->hits, hit_order);
    int kept = 0;
    for (int i = 0; i < n; i++) {
        bool dup = false;
        for (int j = 0; j < kept && !dup; j++)
            dup = same_face(f->hits[i].box, f->hits[j].box);
        if (!dup)
            f->hits[kept++] = f->hits[i];
    }
    qsort(f->hits, (size_t)kept, sizeof *f->hits, larger_first);
    int m = kept < max ? kept : max;
    memcpy(out, f->hits, (size_t)m * sizeof *out);
    return m;
}
