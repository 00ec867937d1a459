// Face tracking across frames: the detector's boxes (noisy, sometimes missing, run only every k
// frames) become a few stable tracks, each with an id that survives from frame to frame and a
// box that stays still on a still face yet follows a moving one quickly.
//
// Per frame the filter calls tracker_update() with the detections when detection ran on that
// frame, and tracker_carry() when it did not; then tracker_faces() gives the boxes to crop.
//
// Smoothing. Each track keeps a filtered box (centre and size) and a velocity. A detection pulls
// the filtered box towards itself by a weight that adapts to how far off the box is, measured
// relative to the box's size and averaged over the last few detections (so zero-mean jitter
// averages out while a real displacement does not):
//     weight = base + (1 - base) * clamp((offset / size - dead_band) / response, 0, 1)
// with base = 1 - smoothing. Detector jitter (a few % of the box) stays inside the dead band and
// gets only the small base weight, so a still face's box hardly moves (with ±2 px jitter on an
// 80 px box the centre's spread is ~6x smaller than the detections'); a face that really moved by
// a fifth of its size is followed at once, and one moving steadily is followed with a lag of a
// tenth of its size or less. On frames without detection (tracker_carry, and rounds in which a
// face was missed) the box moves on by the track's velocity, damped each frame, so it does not
// stand still between detections of a moving face; the next detection corrects that prior.
//
// Tracks. Detections are matched to tracks greedily, best pair first: by IoU when it reaches
// match_iou, then by centre distance (below half the box size, similar sizes) for fast motion.
// A detection that matches nothing starts a new track (largest first, up to max_faces live
// tracks); it is reported only once it has been detected min_hits times, and a track not yet
// reported dies on its first miss (a one-off false detection never shows). A reported track that
// the detector misses is kept, carried along, for keep_frames detection rounds, so a face does not
// blink when the detector misses it for a frame or two.
#ifndef AGESHIFT_TRACKER_H
#define AGESHIFT_TRACKER_H

#include "core/base/err.h"

// A box in frame pixels: top-left corner (x, y), width and height. Pixel i covers [i, i + 1).
typedef struct {
    float x, y, w, h;
} FaceRect;

typedef struct {
    int max_faces;   // live tracks at most (default 4, at most 64)
    int keep_frames; // detection rounds a missed face is kept (default 5)
    int min_hits;    // detections before a new track is reported (default 2; 1 = at once)
    float match_iou; // IoU at which a detection matches a track (default 0.3)
    float smoothing; // 0..1: 1 - the weight of a detection on a still face (default 0.96)
    float dead_band; // offset / size below which only the base weight applies (default 0.03)
    float response;  // offset / size beyond the dead band at which the weight is 1 (default 0.15)
    float velocity_damping; // 0..1: each frame without detection the extrapolated motion is
                            // multiplied by this (default 0.5; 0 = no extrapolation)
} TrackerOptions;

typedef struct {
    int id;           // stable for the life of the track, never reused (1, 2, ...)
    FaceRect box;     // the smoothed box for this frame
    int hits;         // detections matched so far
    int misses;       // detection rounds missed in a row (0 = detected in the last round)
    int age;          // detection rounds since the track started
    float confidence; // 1 while detected, falling linearly to 0 over keep_frames + 1 misses:
                      // a factor to fade the effect out of a face the detector lost
} TrackedFace;

typedef struct Tracker Tracker;

TrackerOptions tracker_default_options(void);

// opts NULL = defaults. Out-of-range options are an error naming the option.
Tracker *tracker_create(const TrackerOptions *opts, Err *err);
void tracker_free(Tracker *t); // NULL is a no-op

// One detection round: dets[n] are this frame's detections (n may be 0; dets may be NULL then).
// Boxes with a non-finite coordinate or a size <= 0 are ignored, as are any beyond the first 256.
void tracker_update(Tracker *t, const FaceRect *dets, int n);

// A frame on which detection did not run: boxes stay, moved on by their damped velocity.
void tracker_carry(Tracker *t);

// The reported faces (confirmed tracks), oldest first, at most max into out; returns how many
// there are in all (which may exceed max).
int tracker_faces(const Tracker *t, TrackedFace *out, int max);

// Intersection over union of two boxes (0 when either is empty).
float face_rect_iou(FaceRect a, FaceRect b);

// The square another detector (or the landmark model) frames the same face with: r's centre
// moved by (dx, dy) of its width, its side scale times its width.
FaceRect face_rect_reframe(FaceRect r, float dx, float dy, float scale);

#endif
