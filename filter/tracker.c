// Face tracking: greedy matching, an adaptive exponential filter with a velocity prior, and
// track life (tentative, confirmed, missed, dead). See tracker.h for the behaviour.
#include "filter/tracker.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// Weight of the newest offset in the running average of offsets that drives the adaptive weight.
#define OFFSET_AVG 0.5f
// Weight of the newest measured velocity in the velocity estimate.
#define VELOCITY_AVG 0.5f
// Distance matching (when IoU is too low): centres closer than this times the mean box size,
// and sizes within this ratio of each other.
#define MATCH_DIST 0.5f
#define MATCH_SIZE_RATIO 1.6f

typedef struct {
    int id;
    float cx, cy, w, h; // filtered box at the last detection round (centre, size)
    float vx, vy;       // velocity of the centre, pixels per frame
    float ex, ey;       // extrapolation since the last detection round
    float ox, oy;       // running average of the centre's offset (detection - prior), pixels
    float ow, oh;       // the same for the size
    int since;          // frames since the last detection round
    int hits, misses, age;
} Track;

// Detections beyond this count in one round are ignored (a cascade with grouping gives a handful).
#define MAX_DETS 256
#define MAX_FACES 64

typedef struct {
    float score;
    int track, det;
} Pair;

struct Tracker {
    TrackerOptions o;
    Track *tracks; // o.max_faces slots, n used, in creation order
    int n;
    int next_id;
    Pair *pairs; // scratch for matching: o.max_faces * MAX_DETS
};

TrackerOptions tracker_default_options(void)
{
    return (TrackerOptions){
        .max_faces = 4,
        .keep_frames = 5,
        .min_hits = 2,
        .match_iou = 0.3f,
        .smoothing = 0.96f,
        .dead_band = 0.03f,
        .response = 0.15f,
        .velocity_damping = 0.5f,
    };
}

static int in01(float v)
{
    return v >= 0.0f && v <= 1.0f;
}

Tracker *tracker_create(const TrackerOptions *opts, Err *err)
{
    TrackerOptions o = opts ? *opts : tracker_default_options();
    if (o.max_faces < 1 || o.max_faces > MAX_FACES) {
        err_set(err, "tracker: max_faces %d out of range (1..%d)", o.max_faces, MAX_FACES);
        return NULL;
    }
    if (o.keep_frames < 0 || o.min_hits < 1) {
        err_set(err, "tracker: keep_frames %d must be >= 0 and min_hits %d >= 1", o.keep_frames,
                o.min_hits);
        return NULL;
    }
    if (!(o.match_iou > 0.0f && o.match_iou <= 1.0f)) {
        err_set(err, "tracker: match_iou %g out of range (0, 1]", (double)o.match_iou);
        return NULL;
    }
    if (!in01(o.smoothing) || !in01(o.velocity_damping)) {
        err_set(err, "tracker: smoothing %g and velocity_damping %g must be in [0, 1]",
                (double)o.smoothing, (double)o.velocity_damping);
        return NULL;
    }
    if (!(o.dead_band >= 0.0f && o.dead_band < 1.0f) ||
        !(o.response > 0.0f && o.response < 100.0f)) {
        err_set(err, "tracker: dead_band %g must be in [0, 1) and response %g in (0, 100)",
                (double)o.dead_band, (double)o.response);
        return NULL;
    }
    Tracker *t = calloc(1, sizeof *t);
    if (t) {
        t->tracks = calloc((size_t)o.max_faces, sizeof *t->tracks);
        t->pairs = malloc((size_t)o.max_faces * MAX_DETS * sizeof *t->pairs);
    }
    if (!t || !t->tracks || !t->pairs) {
        tracker_free(t);
        err_set(err, "tracker: out of memory for %d tracks", o.max_faces);
        return NULL;
    }
    t->o = o;
    t->next_id = 1;
    return t;
}

void tracker_free(Tracker *t)
{
    if (!t)
        return;
    free(t->tracks);
    free(t->pairs);
    free(t);
}

FaceRect face_rect_reframe(FaceRect r, float dx, float dy, float scale)
{
    float side = scale * r.w;
    float cx = r.x + 0.5f * r.w + dx * r.w, cy = r.y + 0.5f * r.h + dy * r.w;
    return (FaceRect){cx - 0.5f * side, cy - 0.5f * side, side, side};
}

float face_rect_iou(FaceRect a, FaceRect b)
{
    if (!(a.w > 0.0f && a.h > 0.0f && b.w > 0.0f && b.h > 0.0f))
        return 0.0f;
    float ix = fminf(a.x + a.w, b.x + b.w) - fmaxf(a.x, b.x);
    float iy = fminf(a.y + a.h, b.y + b.h) - fmaxf(a.y, b.y);
    if (ix <= 0.0f || iy <= 0.0f)
        return 0.0f;
    float inter = ix * iy;
    return inter / (a.w * a.h + b.w * b.h - inter);
}

static float powi(float b, int e)
{
    float r = 1.0f;
    while (e-- > 0 && r > 1e-6f) // below that the step is nothing (and long gaps stay cheap)
        r *= b;
    return r > 1e-6f ? r : 0.0f;
}

// The step the extrapolation takes on the next frame: the velocity damped once per frame already
// spent without detection.
static void next_step(const Tracker *t, const Track *k, float *dx, float *dy)
{
    float d = powi(t->o.velocity_damping, k->since);
    *dx = t->o.velocity_damping > 0.0f ? k->vx * d : 0.0f;
    *dy = t->o.velocity_damping > 0.0f ? k->vy * d : 0.0f;
}

static FaceRect track_box(const Track *k)
{
    return (FaceRect){k->cx + k->ex - 0.5f * k->w, k->cy + k->ey - 0.5f * k->h, k->w, k->h};
}

// The box expected on the next frame (where the detections of an update are).
static FaceRect track_prior(const Tracker *t, const Track *k)
{
    float dx, dy;
    next_step(t, k, &dx, &dy);
    FaceRect b = track_box(k);
    b.x += dx;
    b.y += dy;
    return b;
}

static void carry_track(const Tracker *t, Track *k)
{
    float dx, dy;
    next_step(t, k, &dx, &dy);
    k->ex += dx;
    k->ey += dy;
    if (k->since < 1000000)
        k->since++;
}

static float clampf(float v, float lo, float hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static float adaptive_weight(const TrackerOptions *o, float offset, float size)
{
    float base = 1.0f - o->smoothing;
    float u = clampf((offset / size - o->dead_band) / o->response, 0.0f, 1.0f);
    return base + (1.0f - base) * u;
}

// Pulls the track towards detection d. The prior is the box as carried to this frame (moved by the
// damped velocity over the frames without detection, not by a further full step: a velocity in the
// prior of every frame would feed the jitter of the velocity estimate back into a still face).
static void correct_track(Tracker *t, Track *k, FaceRect d)
{
    const TrackerOptions *o = &t->o;
    FaceRect p = track_box(k);
    float pcx = p.x + 0.5f * p.w, pcy = p.y + 0.5f * p.h;
    float dcx = d.x + 0.5f * d.w, dcy = d.y + 0.5f * d.h;
    float size = fmaxf(k->w, k->h);

    k->ox += OFFSET_AVG * ((dcx - pcx) - k->ox);
    k->oy += OFFSET_AVG * ((dcy - pcy) - k->oy);
    k->ow += OFFSET_AVG * ((d.w - k->w) - k->ow);
    k->oh += OFFSET_AVG * ((d.h - k->h) - k->oh);
    float ac = adaptive_weight(o, hypotf(k->ox, k->oy), size);
    float as = adaptive_weight(o, hypotf(k->ow, k->oh), size);

    float ncx = pcx + ac * (dcx - pcx), ncy = pcy + ac * (dcy - pcy);
    float frames = (float)(k->since + 1);
    k->vx += VELOCITY_AVG * ((ncx - k->cx) / frames - k->vx);
    k->vy += VELOCITY_AVG * ((ncy - k->cy) / frames - k->vy);
    k->cx = ncx;
    k->cy = ncy;
    k->w += as * (d.w - k->w);
    k->h += as * (d.h - k->h);
    k->ex = k->ey = 0.0f;
    k->since = 0;
    k->hits++;
    k->misses = 0;
}

static int valid_det(FaceRect d)
{
    return isfinite(d.x) && isfinite(d.y) && isfinite(d.w) && isfinite(d.h) && d.w > 0.0f &&
           d.h > 0.0f && fabsf(d.x) < 1e7f && fabsf(d.y) < 1e7f && d.w < 1e7f && d.h < 1e7f;
}

static int pair_desc(const void *a, const void *b)
{
    const Pair *p = a, *q = b;
    if (p->score != q->score)
        return p->score < q->score ? 1 : -1;
    // Ties in a fixed order, so the result does not depend on qsort's.
    if (p->track != q->track)
        return p->track - q->track;
    return p->det - q->det;
}

// Match score of a prior box and a detection: IoU (>= match_iou) ranks above any distance match,
// which scores in (-1, 0] by how close the centres are; -INFINITY = no match.
static float match_score(const TrackerOptions *o, FaceRect p, FaceRect d)
{
    float iou = face_rect_iou(p, d);
    if (iou >= o->match_iou)
        return iou;
    float ps = fmaxf(p.w, p.h), ds = fmaxf(d.w, d.h);
    if (fmaxf(ps, ds) > MATCH_SIZE_RATIO * fminf(ps, ds))
        return -INFINITY;
    float dist =
        hypotf((p.x + 0.5f * p.w) - (d.x + 0.5f * d.w), (p.y + 0.5f * p.h) - (d.y + 0.5f * d.h));
    float rel = dist / (0.5f * (ps + ds));
    return rel < MATCH_DIST ? -rel / MATCH_DIST : -INFINITY;
}

static int confirmed(const Tracker *t, const Track *k)
{
    return k->hits >= t->o.min_hits;
}

// Keeps the detection with the largest area first among those not yet used.
static int largest_unused(const FaceRect *dets, const int *valid, const int *used, int n)
{
    int best = -1;
    for (int j = 0; j < n; j++)
        if (valid[j] && !used[j] &&
            (best < 0 || dets[j].w * dets[j].h > dets[best].w * dets[best].h))
            best = j;
    return best;
}

void tracker_update(Tracker *t, const FaceRect *dets, int n)
{
    if (!dets || n < 0)
        n = 0;
    if (n > MAX_DETS)
        n = MAX_DETS;
    int valid[MAX_DETS], used[MAX_DETS], matched[MAX_FACES];
    for (int j = 0; j < n; j++) {
        valid[j] = valid_det(dets[j]);
        used[j] = 0;
    }
    for (int i = 0; i < t->n; i++)
        matched[i] = 0;

    // All candidate pairs, best first, taken greedily.
    Pair *pairs = t->pairs;
    size_t np = 0;
    for (int i = 0; i < t->n; i++) {
        FaceRect p = track_prior(t, &t->tracks[i]);
        for (int j = 0; j < n; j++) {
            if (!valid[j])
                continue;
            float s = match_score(&t->o, p, dets[j]);
            if (s > -INFINITY)
                pairs[np++] = (Pair){s, i, j};
        }
    }
    qsort(pairs, np, sizeof *pairs, pair_desc);
    for (size_t q = 0; q < np; q++) {
        Pair pr = pairs[q];
        if (matched[pr.track] || used[pr.det])
            continue;
        matched[pr.track] = used[pr.det] = 1;
        correct_track(t, &t->tracks[pr.track], dets[pr.det]);
    }

    // Unmatched tracks: a miss; tentative ones and those missed too often die.
    int w = 0;
    for (int i = 0; i < t->n; i++) {
        Track *k = &t->tracks[i];
        k->age++;
        if (!matched[i]) {
            carry_track(t, k);
            k->misses++;
            if (!confirmed(t, k) || k->misses > t->o.keep_frames)
                continue;
        }
        t->tracks[w++] = *k;
    }
    t->n = w;

    // New tracks from the unmatched detections, largest first, skipping any that overlap a live
    // track (a second detection of a face already tracked).
    while (t->n < t->o.max_faces) {
        int j = largest_unused(dets, valid, used, n);
        if (j < 0)
            break;
        used[j] = 1;
        int dup = 0;
        for (int i = 0; i < t->n && !dup; i++)
            dup = face_rect_iou(track_box(&t->tracks[i]), dets[j]) >= t->o.match_iou;
        if (dup)
            continue;
        Track *k = &t->tracks[t->n++];
        *k = (Track){.id = t->next_id++,
                     .cx = dets[j].x + 0.5f * dets[j].w,
                     .cy = dets[j].y + 0.5f * dets[j].h,
                     .w = dets[j].w,
                     .h = dets[j].h,
                     .hits = 1,
                     .age = 1};
    }
}

void tracker_carry(Tracker *t)
{
    for (int i = 0; i < t->n; i++)
        carry_track(t, &t->tracks[i]);
}

int tracker_faces(const Tracker *t, TrackedFace *out, int max)
{
    int count = 0;
    for (int i = 0; i < t->n; i++) {
        const Track *k = &t->tracks[i];
        if (!confirmed(t, k))
            continue;
        if (out && count < max)
            out[count] = (TrackedFace){
                .id = k->id,
                .box = track_box(k),
                .hits = k->hits,
                .misses = k->misses,
                .age = k->age,
                .confidence = 1.0f - (float)k->misses / (float)(t->o.keep_frames + 1),
            };
        count++;
    }
    return count;
}
