#include "filter/ageshift.h"

#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/base/clock.h"
#include "core/base/pool.h"
#include "core/model/model_file.h"
#include "filter/align.h"
#include "filter/artefact_guard.h"
#include "filter/colour_limit.h"
#include "filter/cascade.h"
#include "filter/detail_keep.h"
#include "filter/face_blend.h"
#include "filter/face_find.h"
#include "filter/face_mask.h"
#include "filter/generator_thread.h"
#include "filter/landmarks.h"
#include "filter/one_euro.h"
#include "filter/tracker.h"

#define DEFAULT_CASCADE "/usr/share/opencv4/lbpcascades/lbpcascade_frontalface_improved.xml"
#define DEFAULT_SECOND_CASCADE "/usr/share/opencv4/haarcascades/haarcascade_frontalface_alt.xml"
// Face regions are converted to RGB in blocks whose sides are multiples of this, so that the
// scaler's contexts are reused from frame to frame while a face moves a little.
#define REGION_QUANTUM 16
// Each new change of a face is averaged with its last one (in face coordinates, where the two
// line up), by this weight for the new: the generator's own flicker from frame to frame halves.
#define CHANGE_WEIGHT 0.5f
// The time between frames the landmark smoothing assumes (frames carry no reliable clock here:
// a still picture, a pipe): 30 fps.
#define FRAME_SECONDS (1.0f / 30.0f)

AgeshiftOptions ageshift_options_default(void)
{
    return (AgeshiftOptions){.direction = AGE_OLDER,
                             .strength = 1.0f,
                             .max_faces = 4,
                             .detect_every = 2,
                             .generate_every = 1,
                             .cascade_path = DEFAULT_CASCADE,
                             .second_cascade_path = DEFAULT_SECOND_CASCADE,
                             .landmarks_path = LANDMARKS_DEFAULT_MODEL,
                             .hair = AGESHIFT_DEFAULT_HAIR,
                             .detail = DETAIL_KEEP_DEFAULT,
                             .guard = GUARD_DEFAULT,
                             .colour_limit = COLOUR_LIMIT_DEFAULT};
}

struct AgeshiftFilter {
    AgeshiftOptions opt;
    Pool *pool;
    Net net;
    GeneratorArch arch;
    Trace *trace;                // the generator's, when it runs in ageshift_process
    GeneratorThread *gen_thread; // or its own thread (NULL: none)
    float *fresh;                // a change from the thread
    Cascade *cascade, *second;
    FaceFinder *finder;
    LandmarkModel *landmarks;
    Tracker *tracker;
    long frame_index;
    uint8_t *gray; // for RGB frames
    size_t gray_size;
    long gray_frame;           // the frame_index f->gray was computed for
    Image region, region_orig; // one face's part of the frame, in RGB
    uint8_t *yuv[3];           // the region converted back
    size_t yuv_size;
    struct SwsContext *to_rgb, *to_yuv;
    float *orig_chw, *gen_chw, *mask;
    float *colour_work; // colour_limit's
    float guard_work[4 * GUARD_GRID * GUARD_GRID];
    // What is kept of each face from frame to frame (by track id): its smoothed landmarks, and
    // the generator's last change, for the frames in between its runs.
    struct {
        int id;
        long seen;      // the last frame the face was changed on
        long generated; // the frame of the crop the change was computed on (LONG_MIN: never)
        float *delta;   // gen - orig at model resolution, (3, size, size)
        OneEuro points; // the landmarks, smoothed over time
    } face[AGESHIFT_MAX_FACES];
    AgeshiftStats stats;
};

AgeshiftFilter *ageshift_open(const AgeshiftOptions *opt, Err *err)
{
    AgeshiftFilter *f = calloc(1, sizeof *f);
    if (!f) {
        err_set(err, "out of memory");
        return NULL;
    }
    f->opt = *opt;
    f->gray_frame = -1;
    if (!(opt->strength >= 0.0f && opt->strength <= 1.0f) || opt->max_faces < 1 ||
        opt->max_faces > AGESHIFT_MAX_FACES || opt->detect_every < 1 || opt->generate_every < 1 ||
        !(opt->hair >= 0.0f && opt->hair <= 1.0f) ||
        !(opt->detail >= 0.0f && opt->detail <= 1.0f) ||
        !(opt->guard >= 0.0f && opt->guard <= 1.0f) ||
        !(opt->colour_limit >= 0.0f && opt->colour_limit <= 255.0f)) {
        err_set(err,
                "bad filter options (strength %g, max faces %d, detect every %d, generate "
                "every %d, hair %g, detail %g, guard %g, colour limit %g)",
                opt->strength, opt->max_faces, opt->detect_every, opt->generate_every, opt->hair,
                opt->detail, opt->guard, opt->colour_limit);
        goto fail;
    }
    if (model_file_load(opt->model_path, opt->direction, &f->net, &f->arch, err))
        goto fail;
    f->pool = pool_create(opt->threads, err);
    if (!f->pool)
        goto fail;
    const int s = f->arch.size;
    // The generator runs on its own thread, with a trace of its own, or here on this one.
    if (opt->generator_thread) {
        if (!(f->fresh = malloc(3 * (size_t)s * s * sizeof(float)))) {
            err_set(err, "out of memory");
            goto fail;
        }
        if (!(f->gen_thread = generator_thread_start(&f->net, s, err)))
            goto fail;
    } else if (!(f->trace = trace_create_inference(&f->net, s, s, f->pool, err))) {
        goto fail;
    }
    f->cascade = cascade_load(opt->cascade_path ? opt->cascade_path : DEFAULT_CASCADE, err);
    if (!f->cascade)
        goto fail;
    // The second cascade serves still pictures only (video keeps to the first, upright).
    if (opt->still && opt->second_cascade_path &&
        !(f->second = cascade_load(opt->second_cascade_path, err)))
        goto fail;
    if (!(f->finder = face_finder_create(f->cascade, f->second, err)))
        goto fail;
    face_finder_set_pool(f->finder, f->pool);
    const char *lm_path = opt->landmarks_path ? opt->landmarks_path : LANDMARKS_DEFAULT_MODEL;
    if (!(f->landmarks = landmarks_load(lm_path, err)))
        goto fail;
    if (landmarks_count(f->landmarks) != ALIGN_POINTS) { // alignment and mask use dlib's 68
        err_set(err, "%s: a landmark model of %d points; faces are aligned by dlib's %d", lm_path,
                landmarks_count(f->landmarks), ALIGN_POINTS);
        goto fail;
    }
    TrackerOptions to = tracker_default_options();
    to.max_faces = opt->max_faces;
    if (opt->still)
        to.min_hits = 1;
    if (!(f->tracker = tracker_create(&to, err)))
        goto fail;
    f->orig_chw = malloc(3 * (size_t)s * s * sizeof(float));
    f->gen_chw = malloc(3 * (size_t)s * s * sizeof(float));
    f->mask = malloc((size_t)s * s * sizeof(float));
    f->colour_work = malloc(COLOUR_LIMIT_WORK_FLOATS(s) * sizeof(float));
    if (!f->orig_chw || !f->gen_chw || !f->mask || !f->colour_work) {
        err_set(err, "out of memory");
        goto fail;
    }
    for (int i = 0; i < AGESHIFT_MAX_FACES; i++) {
        f->face[i].id = -1;
        f->face[i].seen = LONG_MIN;
        if (!(f->face[i].delta = malloc(3 * (size_t)s * s * sizeof(float)))) {
            err_set(err, "out of memory");
            goto fail;
        }
    }
    return f;
fail:
    ageshift_close(f);
    return NULL;
}

void ageshift_close(AgeshiftFilter *f)
{
    if (!f)
        return;
    generator_thread_stop(f->gen_thread); // before the network it runs
    free(f->fresh);
    trace_free(f->trace);
    net_free(&f->net);
    face_finder_free(f->finder);
    cascade_free(f->cascade);
    cascade_free(f->second);
    landmarks_free(f->landmarks);
    tracker_free(f->tracker);
    pool_free(f->pool);
    free(f->gray);
    image_free(&f->region);
    image_free(&f->region_orig);
    free(f->yuv[0]);
    sws_freeContext(f->to_rgb);
    sws_freeContext(f->to_yuv);
    free(f->orig_chw);
    free(f->gen_chw);
    free(f->mask);
    free(f->colour_work);
    for (int i = 0; i < AGESHIFT_MAX_FACES; i++)
        free(f->face[i].delta);
    free(f);
}

void ageshift_stats(const AgeshiftFilter *f, AgeshiftStats *s)
{
    *s = f->stats;
}

static bool is_yuv420(int fmt)
{
    return fmt == AV_PIX_FMT_YUV420P || fmt == AV_PIX_FMT_YUVJ420P;
}

// The frame's luma for the detector and the landmarks: the Y plane itself, or computed from RGB
// once per frame.
static const uint8_t *luma(AgeshiftFilter *f, const AVFrame *fr, int *stride, Err *err)
{
    if (is_yuv420(fr->format)) {
        *stride = fr->linesize[0];
        return fr->data[0];
    }
    *stride = fr->width;
    if (f->gray_frame == f->frame_index)
        return f->gray;
    size_t need = (size_t)fr->width * fr->height;
    if (need > f->gray_size) {
        free(f->gray);
        if (!(f->gray = malloc(need))) {
            f->gray_size = 0;
            err_set(err, "out of memory");
            return NULL;
        }
        f->gray_size = need;
    }
    for (int y = 0; y < fr->height; y++) {
        const uint8_t *p = fr->data[0] + (size_t)y * fr->linesize[0];
        uint8_t *g = f->gray + (size_t)y * fr->width;
        for (int x = 0; x < fr->width; x++, p += 3)
            g[x] = (uint8_t)((77 * p[0] + 150 * p[1] + 29 * p[2] + 128) >> 8);
    }
    f->gray_frame = f->frame_index;
    return f->gray;
}

// Video: the frontal cascade upright, faces of at least 1/8 of the height (the live preview's
// budget). A still picture: every pass, and faces down to 1/24 of its shorter side (40 px at
// least: the landmarks need that much).
static int detect(AgeshiftFilter *f, const AVFrame *fr, Err *err)
{
    int stride;
    const uint8_t *gray = luma(f, fr, &stride, err);
    if (!gray)
        return -1;
    int short_side = fr->width < fr->height ? fr->width : fr->height;
    int min_size = f->opt.still ? (short_side / 24 > 40 ? short_side / 24 : 40) : fr->height / 8;
    if (f->opt.min_face > 0)
        min_size = f->opt.min_face;
    FaceHit hits[AGESHIFT_MAX_FACES];
    int n = face_finder_run(f->finder, gray, fr->width, fr->height, stride, min_size,
                            f->opt.still ? FIND_ALL : FIND_FRONTAL, hits, AGESHIFT_MAX_FACES, err);
    if (n < 0)
        return -1;
    FaceRect rects[AGESHIFT_MAX_FACES];
    int kept = 0;
    for (int i = 0; i < n; i++) {
        // A picture has no second frame to confirm a hit: the landmarks must hold on to it.
        float follow = f->opt.still ? landmark_box_follow(f->landmarks, gray, fr->width, fr->height,
                                                          stride, hits[i].box)
                                    : 0.0f;
        if (follow <= LANDMARK_FOLLOW_MAX)
            rects[kept++] = hits[i].box;
    }
    tracker_update(f->tracker, rects, kept);
    return 0;
}

typedef struct {
    int x, y, w, h;
} Region;

// The part of the frame a crop square needs: the square within the frame, widened to even
// coordinates (whole chroma samples) and to sides that are multiples of REGION_QUANTUM.
static Region region_for(CropSquare c, int fw, int fh)
{
    int side_w = ((int)(c.size + 2) + REGION_QUANTUM - 1) / REGION_QUANTUM * REGION_QUANTUM;
    int w = side_w < fw ? side_w : fw & ~1, h = side_w < fh ? side_w : fh & ~1;
    int x = ((int)c.x - 1) & ~1, y = ((int)c.y - 1) & ~1;
    x = x < 0 ? 0 : (x + w > fw ? (fw - w) & ~1 : x);
    y = y < 0 ? 0 : (y + h > fh ? (fh - h) & ~1 : y);
    return (Region){x, y, w, h};
}

static int ensure_region(AgeshiftFilter *f, int w, int h, Err *err)
{
    if (f->region.w == w && f->region.h == h)
        return 0;
    image_free(&f->region);
    image_free(&f->region_orig);
    if (image_alloc(&f->region, w, h, err) || image_alloc(&f->region_orig, w, h, err))
        return -1;
    size_t need = (size_t)w * h * 3 / 2;
    if (need > f->yuv_size) {
        free(f->yuv[0]);
        if (!(f->yuv[0] = malloc(need)))
            return err_set(err, "out of memory");
        f->yuv_size = need;
    }
    f->yuv[1] = f->yuv[0] + (size_t)w * h;
    f->yuv[2] = f->yuv[1] + (size_t)w * h / 4;
    return 0;
}

// Frame region -> f->region (RGB24).
static int read_region(AgeshiftFilter *f, const AVFrame *fr, Region r, Err *err)
{
    if (ensure_region(f, r.w, r.h, err))
        return -1;
    if (!is_yuv420(fr->format)) {
        for (int y = 0; y < r.h; y++)
            memcpy(f->region.rgb + (size_t)y * r.w * 3,
                   fr->data[0] + (size_t)(r.y + y) * fr->linesize[0] + r.x * 3, (size_t)r.w * 3);
        return 0;
    }
    f->to_rgb = sws_getCachedContext(f->to_rgb, r.w, r.h, fr->format, r.w, r.h, AV_PIX_FMT_RGB24,
                                     SWS_POINT, NULL, NULL, NULL);
    if (!f->to_rgb)
        return err_set(err, "cannot convert frames to RGB");
    const uint8_t *src[3] = {fr->data[0] + (size_t)r.y * fr->linesize[0] + r.x,
                             fr->data[1] + (size_t)(r.y / 2) * fr->linesize[1] + r.x / 2,
                             fr->data[2] + (size_t)(r.y / 2) * fr->linesize[2] + r.x / 2};
    uint8_t *dst[1] = {f->region.rgb};
    int dst_stride[1] = {3 * r.w};
    sws_scale(f->to_rgb, src, fr->linesize, 0, r.h, dst, dst_stride);
    return 0;
}

static bool pixel_changed(const AgeshiftFilter *f, int x, int y)
{
    size_t i = ((size_t)y * f->region.w + x) * 3;
    return memcmp(f->region.rgb + i, f->region_orig.rgb + i, 3) != 0;
}

// f->region -> the frame, writing only the pixels the blend changed (and, in 4:2:0, the chroma
// of each 2x2 block with a changed pixel): everything else stays bit-identical.
static int write_region(AgeshiftFilter *f, AVFrame *fr, Region r, Err *err)
{
    if (!is_yuv420(fr->format)) {
        for (int y = 0; y < r.h; y++)
            for (int x = 0; x < r.w; x++)
                if (pixel_changed(f, x, y))
                    memcpy(fr->data[0] + (size_t)(r.y + y) * fr->linesize[0] + (r.x + x) * 3,
                           f->region.rgb + ((size_t)y * r.w + x) * 3, 3);
        return 0;
    }
    f->to_yuv = sws_getCachedContext(f->to_yuv, r.w, r.h, AV_PIX_FMT_RGB24, r.w, r.h, fr->format,
                                     SWS_POINT, NULL, NULL, NULL);
    if (!f->to_yuv)
        return err_set(err, "cannot convert RGB back to the frame's format");
    const uint8_t *src[1] = {f->region.rgb};
    int src_stride[1] = {3 * r.w}, dst_stride[3] = {r.w, r.w / 2, r.w / 2};
    sws_scale(f->to_yuv, src, src_stride, 0, r.h, f->yuv, dst_stride);
    for (int y = 0; y < r.h; y += 2)
        for (int x = 0; x < r.w; x += 2) {
            bool any = false;
            for (int dy = 0; dy < 2; dy++)
                for (int dx = 0; dx < 2; dx++)
                    if (pixel_changed(f, x + dx, y + dy)) {
                        any = true;
                        fr->data[0][(size_t)(r.y + y + dy) * fr->linesize[0] + r.x + x + dx] =
                            f->yuv[0][(size_t)(y + dy) * r.w + x + dx];
                    }
            if (any)
                for (int p = 1; p < 3; p++)
                    fr->data[p][(size_t)((r.y + y) / 2) * fr->linesize[p] + (r.x + x) / 2] =
                        f->yuv[p][(size_t)(y / 2) * (r.w / 2) + x / 2];
        }
    return 0;
}

// The state kept for track `id`: its own, or the slot seen longest ago, started afresh.
static int face_slot(AgeshiftFilter *f, int id)
{
    int oldest = 0;
    for (int i = 0; i < AGESHIFT_MAX_FACES; i++) {
        if (f->face[i].id == id)
            return i;
        if (f->face[i].seen < f->face[oldest].seen)
            oldest = i;
    }
    OneEuroParams p = one_euro_default();
    f->face[oldest].id = id;
    f->face[oldest].generated = LONG_MIN;
    one_euro_init(&f->face[oldest].points, &p, 2 * ALIGN_POINTS);
    return oldest;
}

// A new change for the face of track `id`, from its crop of frame `frame`: scaled down by the
// artefact guard if it looks broken, then averaged into the one it has (in face coordinates),
// or its first.
static void take_change(AgeshiftFilter *f, int id, long frame, const float *delta, size_t n)
{
    for (int i = 0; i < AGESHIFT_MAX_FACES; i++) {
        if (f->face[i].id != id)
            continue;
        float score = artefact_guard_score(delta, f->arch.size, f->guard_work);
        float g = artefact_guard_factor(score, f->opt.guard);
        f->stats.guard_score_sum += score;
        f->stats.guard_score_max = fmaxf(f->stats.guard_score_max, score);
        f->stats.held_back += g < 1.0f;
        float *d = f->face[i].delta;
        if (f->face[i].generated == LONG_MIN)
            for (size_t k = 0; k < n; k++)
                d[k] = g * delta[k];
        else
            for (size_t k = 0; k < n; k++)
                d[k] += CHANGE_WEIGHT * (g * delta[k] - d[k]);
        f->face[i].generated = frame;
        f->stats.generated++;
        return;
    }
}

// Whether the face in slot is due for a new change: generate_every frames after its last, and,
// with the generator's thread, no face seen now waiting longer (so several faces take turns).
static bool change_due(const AgeshiftFilter *f, int slot)
{
    long last = f->face[slot].generated;
    if (last != LONG_MIN && f->frame_index - last < f->opt.generate_every)
        return false;
    if (!f->gen_thread)
        return true;
    for (int i = 0; i < AGESHIFT_MAX_FACES; i++)
        if (i != slot && f->face[i].id >= 0 && f->face[i].seen >= f->frame_index - 1 &&
            f->face[i].generated < last)
            return false;
    return true;
}

// f->gen_chw for f->orig_chw: the face's crop plus its change, which is renewed when due: by
// the generator here, or handed to the generator's thread (and picked up on a later frame).
static void generate(AgeshiftFilter *f, int slot, int s)
{
    const size_t n = 3 * (size_t)s * s;
    int tag;
    if (f->gen_thread) {
        // Offline the change handed over on the frame before is waited for, so the output does
        // not depend on timing; live it is taken only when ready (a late change is shown late).
        if (generator_thread_collect(f->gen_thread, !f->opt.realtime, &tag, f->fresh))
            take_change(f, tag, f->frame_index - 1, f->fresh, n);
        if (change_due(f, slot) &&
            generator_thread_submit(f->gen_thread, f->face[slot].id, f->orig_chw) &&
            f->opt.still) { // a picture has no next frame: wait for it
            generator_thread_collect(f->gen_thread, true, &tag, f->fresh);
            take_change(f, tag, f->frame_index, f->fresh, n);
        }
    } else if (change_due(f, slot)) {
        const float *out = net_forward(&f->net, f->trace, f->orig_chw);
        for (size_t i = 0; i < n; i++)
            f->gen_chw[i] = out[i] - f->orig_chw[i];
        take_change(f, f->face[slot].id, f->frame_index, f->gen_chw, n);
    }
    const float *delta = f->face[slot].delta;
    bool has = f->face[slot].generated != LONG_MIN;
    // The change, its new colours held to the face's even tint, on this frame's crop.
    for (size_t i = 0; i < n; i++)
        f->gen_chw[i] = has ? delta[i] : 0.0f;
    if (has)
        colour_limit(f->orig_chw, f->gen_chw, s, f->opt.colour_limit, f->colour_work);
    for (size_t i = 0; i < n; i++)
        f->gen_chw[i] += f->orig_chw[i];
}

// The region a transform's model square covers: the bounding square of its corners in the frame.
static CropSquare covered_square(Similarity to_model, int size)
{
    Bounds b = similarity_bounds(similarity_inverse(to_model),
                                 (Bounds){0.0f, 0.0f, (float)size, (float)size});
    return (CropSquare){b.x0, b.y0, fmaxf(b.x1 - b.x0, b.y1 - b.y0)};
}

static int change_face(AgeshiftFilter *f, AVFrame *fr, const uint8_t *gray, int gray_stride,
                       const TrackedFace *face, Err *err)
{
    const int s = f->arch.size;
    double t0 = 1e3 * clock_now_s();
    int slot = face_slot(f, face->id);
    f->face[slot].seen = f->frame_index;
    float points[2 * ALIGN_POINTS];
    landmarks_predict(f->landmarks, gray, fr->width, fr->height, gray_stride,
                      landmark_box(face->box), points);
    // Steady in video: the landmarks' jitter from frame to frame would shake the crop.
    one_euro_step(&f->face[slot].points, points, FRAME_SECONDS, face->box.w);
    Similarity to_model = align_face(points, s);
    for (int i = 0; i < ALIGN_POINTS; i++)
        similarity_apply(to_model, points[2 * i], points[2 * i + 1], &points[2 * i],
                         &points[2 * i + 1]);
    face_mask_landmarks(points, s, f->opt.hair, f->mask);
    double t1 = 1e3 * clock_now_s();
    Region r = region_for(covered_square(to_model, s), fr->width, fr->height);
    if (read_region(f, fr, r, err))
        return -1;
    memcpy(f->region_orig.rgb, f->region.rgb, (size_t)r.w * r.h * 3);
    Similarity local = similarity_after(to_model, 1.0f, (float)r.x, (float)r.y);
    double t2 = 1e3 * clock_now_s();
    if (crop_extract(&f->region, local, s, f->orig_chw, err))
        return -1;
    double t3 = 1e3 * clock_now_s();
    generate(f, slot, s);
    double t4 = 1e3 * clock_now_s();
    // A face the detector has lost fades out instead of snapping back.
    BlendParams bp = blend_params_default(f->opt.strength * face->confidence);
    bp.detail = f->opt.detail;
    if (face_blend(&f->region, local, f->orig_chw, f->gen_chw, f->mask, s, &bp, err))
        return -1;
    double t5 = 1e3 * clock_now_s();
    if (write_region(f, fr, r, err))
        return -1;
    double t6 = 1e3 * clock_now_s();
    f->stats.landmarks_ms += t1 - t0;
    f->stats.convert_ms += (t2 - t1) + (t6 - t5);
    f->stats.crop_ms += t3 - t2;
    f->stats.generator_ms += t4 - t3;
    f->stats.blend_ms += t5 - t4;
    f->stats.faces++;
    return 0;
}

int ageshift_process(AgeshiftFilter *f, AVFrame *fr, Err *err)
{
    if (!is_yuv420(fr->format) && fr->format != AV_PIX_FMT_RGB24)
        return err_set(err, "frames must be yuv420p or rgb24 (got format %d)", fr->format);
    if (fr->width < 2 || fr->height < 2)
        return err_set(err, "frame of %dx%d is too small", fr->width, fr->height);
    double t0 = 1e3 * clock_now_s();
    if (f->frame_index++ % f->opt.detect_every == 0) {
        if (detect(f, fr, err))
            return -1;
    } else {
        tracker_carry(f->tracker);
    }
    f->stats.detect_ms += (1e3 * clock_now_s()) - t0;
    TrackedFace faces[AGESHIFT_MAX_FACES];
    int n = tracker_faces(f->tracker, faces, f->opt.max_faces);
    // A frame that shares its buffer is copied before a face is changed in it: a decoder's
    // output is also its reference picture, and changing it there would change the frames
    // decoded from it. (A frame over the caller's own memory, with no buffer, is changed where
    // it is.)
    if (n > 0 && fr->buf[0] && !av_frame_is_writable(fr) && av_frame_make_writable(fr) < 0)
        return err_set(err, "out of memory copying a %dx%d frame", fr->width, fr->height);
    int gray_stride = 0;
    const uint8_t *gray = n > 0 ? luma(f, fr, &gray_stride, err) : NULL;
    if (n > 0 && !gray)
        return -1;
    for (int i = 0; i < n; i++)
        if (faces[i].confidence > 0.0f && change_face(f, fr, gray, gray_stride, &faces[i], err))
            return -1;
    f->stats.frames++;
    return 0;
}

void ageshift_set_strength(AgeshiftFilter *f, float strength)
{
    f->opt.strength = strength < 0.0f ? 0.0f : strength > 1.0f ? 1.0f : strength;
}
