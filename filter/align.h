// Aligning a face to the framing the generators were trained on. The training crops (UTKFace's
// aligned 200x200 crops) place every face's landmarks close to one mean layout, the template;
// a face in a frame is brought there by the similarity transform (rotation, scale, shift) that
// maps its landmarks onto the template at the model's size, and its change is put back through
// the inverse. Coordinates are continuous pixels as in face_blend.h.
#ifndef AGESHIFT_ALIGN_H
#define AGESHIFT_ALIGN_H

#include "filter/landmarks.h"
#include "filter/similarity.h"
#include "filter/tracker.h"

#define ALIGN_POINTS 68
// The points fitted: brows, nose, eyes and mouth (17..67). The jaw line (0..16) follows the
// head's turn and the face's width more than its framing.
#define ALIGN_FIRST_POINT 17

// The training crops' mean landmarks in units of the crop ((0, 0) its top-left corner, (1, 1)
// its bottom-right), measured by bench/bench_landmarks on the 2,635 crops of ../shared/faces.
extern const float align_template[2 * ALIGN_POINTS];

// The bounding box of all the template's points, jaw to brows, in the same units: where every
// aligned face lies in the model's square.
Bounds align_template_bounds(void);

// The frame -> model transform for a face of the given landmarks (ALIGN_POINTS of them, frame
// pixels) at model size `size`: their points ALIGN_FIRST_POINT.. fitted onto the template
// scaled to the model's size.
Similarity align_face(const float *landmarks, int size);

// dlib's HOG box, which the landmark model expects, from the LBP cascade's box: its centre moved
// by (LANDMARK_BOX_DX, LANDMARK_BOX_DY) and its side scaled by LANDMARK_BOX_SCALE, in units of
// the LBP box's width. Measured by bench/bench_landmarks --dlib-boxes on the training crops.
#define LANDMARK_BOX_DX 0.034f
#define LANDMARK_BOX_DY 0.027f
#define LANDMARK_BOX_SCALE 1.312f
LandmarkBox landmark_box(FaceRect detected);

// Whether a detection holds a face the landmarks can hold on to: the box is moved by 12% of its
// width each way and the points found again; returns how far points ALIGN_FIRST_POINT.. follow
// the box, as the mean of their motion along the box's over the box's motion. On a face they
// keep to its eyes, nose and mouth (0 to 0.4 on the frontal faces of ../shared/wild); on fur,
// fabric or a hand they move with the box (0.7 and more).
#define LANDMARK_FOLLOW_MAX 0.5f
float landmark_box_follow(const LandmarkModel *m, const uint8_t *gray, int w, int h, int stride,
                          FaceRect detected);

#endif
