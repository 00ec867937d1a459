// The frame filter: every face in a frame made older or younger, in place. Open it with a model
// file and options, hand it frames, close it. ageshift convert, filter, image and live are thin
// shells around these calls, and another C program (an OBS or GStreamer plugin, a server) can
// use them the same way.
//
// Per frame: faces are detected (every detect_every frames; boxes are carried in between; in a
// still picture also tilted and turned heads, face_find.h),
// tracked (smoothed, kept through short misses), their 68 landmarks found, aligned to the
// training images' framing by a similarity transform (rotation, scale, shift) and cropped
// through it at the model's size, run through the generator, held back if it looks broken
// (artefact_guard.h), its new colours held to the face's even tint (colour_limit.h), and blended
// back through the inverse: the generator's change, with the
// original's fine detail kept where the generator blurred it (detail_keep.h), is upsampled and
// added to the original pixels under a feathered mask of face and hair drawn from the
// landmarks, so the frame keeps its sharpness and no seam shows. Pixels outside the faces are
// not touched.
#ifndef AGESHIFT_FILTER_H
#define AGESHIFT_FILTER_H

#include <libavutil/frame.h>
#include <stdbool.h>

#include "core/base/err.h"
#include "core/model/age_direction.h"

// The most faces changed in one frame.
#define AGESHIFT_MAX_FACES 16
// How much of the generator's change reaches the hair around the face, by default.
#define AGESHIFT_DEFAULT_HAIR 0.5f

typedef struct {
    const char *model_path; // a model.safetensors from ageshift train
    AgeDirection direction; // AGE_OLDER or AGE_YOUNGER
    float strength;         // 0 (unchanged) .. 1 (the generator's full change)
    int max_faces;          // faces changed per frame
    int detect_every;       // run the detector every k frames
    int generate_every;     // run the generator on a face every k frames; in between its last
                            // change (at model resolution) is reused on the face's new crop
    // Smallest face searched for, in pixels (0: in video 1/8 of the height, in a still picture
    // 1/24 of its shorter side and at least 40).
    int min_face;
    const char *cascade_path; // OpenCV cascade XML (default: Debian opencv-data's LBP frontal)
    // Still pictures: another frontal cascade, for the faces the first misses (default:
    // opencv-data's Haar frontalface_alt; NULL: none).
    const char *second_cascade_path;
    const char *landmarks_path; // dlib 68-point shape predictor (default: libdlib-data's)
    float hair;                 // 0..1: the weight of the change in a band around the face
    float detail; // 0..1: the original's fine detail kept where the generator blurs it
    float guard;  // 0..1: how far a face whose change looks broken is held back
    // Levels of 0..255 that the change's new colours may depart from the face's even tint
    // (greying passes whole; colour_limit.h); 0: no limit.
    float colour_limit;
    int threads;  // worker threads (0: one per CPU)
    // A single picture: change faces on their first detection (in a video a face must be seen
    // twice, so one false hit never shows), and search harder: tilted heads, smaller faces.
    bool still;
    // The generator on a thread of its own (single-threaded), overlapping the rest of the
    // pipeline: a face's change in video then comes from its crop of the frame before (a still
    // picture waits for its own). Live turns it on: 30 fps where in line it drops frames. For
    // a file it gains nothing here (2 cores, both busy either way: 11.5 s against 11.1 s for a
    // 9.4 s 1280x720 clip), so convert and filter keep it off.
    bool generator_thread;
    // Live: never wait for the generator's thread; a change that is late is shown late (and the
    // output depends on timing). Otherwise each frame waits for the change handed over on the
    // frame before, so the same input gives the same output.
    bool realtime;
} AgeshiftOptions;

AgeshiftOptions ageshift_options_default(void);

typedef struct AgeshiftFilter AgeshiftFilter;

AgeshiftFilter *ageshift_open(const AgeshiftOptions *opt, Err *err);
void ageshift_close(AgeshiftFilter *f); // NULL is a no-op

// Processes one frame in place: AV_PIX_FMT_YUV420P, YUVJ420P or RGB24 (other formats are an
// error: convert first). Frames of one stream must share their size and format. A frame whose
// buffer is shared (a decoder's output, which is also its reference picture) is made writable
// first, so its data may point to a copy afterwards.
int ageshift_process(AgeshiftFilter *f, AVFrame *frame, Err *err);

// Changes the strength for the frames that follow (clamped to 0..1).
void ageshift_set_strength(AgeshiftFilter *f, float strength);

// Running totals, for progress lines and make bench.
typedef struct {
    long frames, faces, generated; // generated: faces the generator ran on
    // The artefact guard (filter/artefact_guard.h) over the generator's changes: their scores'
    // sum and maximum, and how many it scaled down.
    double guard_score_sum;
    float guard_score_max;
    long held_back;
    double detect_ms, landmarks_ms, crop_ms, generator_ms, blend_ms, convert_ms; // summed
} AgeshiftStats;
void ageshift_stats(const AgeshiftFilter *f, AgeshiftStats *s);

#endif
