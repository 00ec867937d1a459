// Crop geometry and blending back: the square around a tracked face, the extraction of a face
// from the frame at model resolution through any similarity transform (a square, or an aligned
// face: filter/align.h), and putting the generator's change back into the frame through the same
// transform under a feathered mask.
//
// Coordinates are in frame pixels, continuous: pixel (i, j) covers [i, i + 1) x [j, j + 1), its
// centre is (i + 0.5, j + 0.5); model pixels likewise. A crop may lie partly or wholly outside
// the frame.
#ifndef AGESHIFT_FACE_BLEND_H
#define AGESHIFT_FACE_BLEND_H

#include "core/base/err.h"
#include "filter/similarity.h"
#include "filter/tracker.h"
#include "media/image_io.h"

// The generators were trained on 200x200 UTKFace crops, which show the whole face with some
// margin (hair, chin, a little background) and the face a bit above the centre. A detector's box
// is tighter (brows to mouth) and its centre sits higher than the crop's, so the crop is the box
// enlarged by CROP_SCALE and moved down by CROP_DY of the crop's side. Measured with the default
// LBP cascade (lbpcascade_frontalface_improved) on the 2,635 training crops by bench_detect: box
// width / crop side = 0.684 (sd 0.037), box centre 0.020 (sd 0.015) of the side above the crop's
// centre. (The Haar cascades' boxes are wider: 0.98 of the crop, centre 0.08 above.)
#define CROP_SCALE 1.46f // side of the crop / max(w, h) of the detector's box (1 / 0.684)
#define CROP_DY 0.02f    // downward shift of the crop's centre, as a fraction of its side

// A square in the frame: top-left corner (x, y) and side `size`, all in frame pixels.
typedef struct {
    float x, y, size;
} CropSquare;

// The square of side scale * max(face.w, face.h), centred on the face box's centre moved down by
// dy * side.
CropSquare crop_around_face(FaceRect face, float scale, float dy);

// The square as a transform from frame pixels to model pixels (out_size across the square).
Similarity crop_square_transform(CropSquare c, int out_size);

// Samples the frame through the inverse of to_model (frame pixels -> model pixels, a similarity:
// any rotation, scale and shift) into out_size x out_size planar floats in [-1, 1]
// (v / 127.5 - 1): chw (3, out_size, out_size). Model pixel (u, v), centred at (u + 0.5, v + 0.5)
// in model coordinates, takes a tent (triangle) filter over the frame pixels around its centre
// mapped into the frame, oriented along the model's axes, of radius max(1, s) frame pixels,
// s = 1 / scale: bilinear when upscaling, an average over the footprint when downscaling (no
// aliasing of fine texture such as hair or skin pores). For a square without rotation this is
// the separable tent filter. Coordinates outside the frame are clamped (edge pixels
// replicated). Errors: a frame without pixels, out_size < 1, or a transform whose scale is not in
// [1/65536, 65536] or whose crop lies more than 1e6 pixels from the frame.
int crop_extract(const Image *frame, Similarity to_model, int out_size, float *chw, Err *err);

// The ellipse mask (face_blend's default before landmarks), in the square's normalised
// coordinates (u, v) in [-1, 1] (the square's centre is 0, its edges +-1). An ellipse with
// semi-axes mask_rx and mask_ry (fractions of the half side) is the outer edge where the mask
// reaches 0; inside mask_inner of it (in the ellipse's own radius, 0..1) the mask is 1; between, a
// raised cosine, so the mask and its slope are continuous and no edge is visible. With mask_rx,
// mask_ry < 1 the mask is 0 on and beyond the square's edge.
//
// Defaults, chosen by looking at a real UTKFace crop blended back (tests/test_face_blend.c,
// real_face_picture): in a crop like the training ones the skin spans roughly the middle 80% of
// the width and from the brows to below the chin vertically, taller than wide. The full-strength
// core (inner 0.55 of the outer ellipse) holds eyes, nose, mouth and cheeks; the falloff takes in
// jaw, forehead and hair line at half strength and fades out before the square's edge.
#define BLEND_MASK_RX 0.88f
#define BLEND_MASK_RY 0.96f
#define BLEND_MASK_INNER 0.55f
typedef struct {
    float rx, ry, inner;
} EllipseMask;
EllipseMask ellipse_mask_default(void);
float ellipse_mask_at(const EllipseMask *e, float u, float v);
// The ellipse sampled at the centres of size x size model pixels: mask (size, size).
void ellipse_mask_image(const EllipseMask *e, int size, float *mask);

// Colour matching: the fraction of the difference between the generated and the original face's
// mean colour (over the mask, per channel) that is removed before the change is taken. 1 keeps
// the face's overall colour that of the original's skin and lighting, which the generator may
// tint; below 1 lets a global change of colour (e.g. redness with age) through in part.
#define BLEND_COLOR_MATCH 1.0f

typedef struct {
    float strength;    // 0..1: how much of the change is added
    float color_match; // 0..1, see BLEND_COLOR_MATCH
    float detail;      // 0..1: how much of the original's fine detail is kept where the
                       // generator blurs it (filter/detail_keep.h)
} BlendParams;

// The defaults above with the given strength.
BlendParams blend_params_default(float strength);

// Puts a generated face back. orig_chw is the crop that was given to the generator
// (crop_extract of this frame and to_model) and gen_chw its output, both (3, size, size) in
// [-1, 1]; mask (size, size) in [0, 1] says where and how much of the change goes back, at model
// resolution. The frame gets the generator's change, gen - orig (after colour matching over the
// mask, with the original's fine detail kept where the generator lost it), times strength times
// the mask, both sampled bilinearly at each frame pixel's place in the model's square: detail
// finer than the model's pixels stays the frame's own, and only what the generator changed is
// added. Pixels where the sampled mask is 0 (outside the mask's support, the model's square or
// the frame) are not written: they stay bit-identical. Results are rounded and clamped to
// 0..255. Errors: bad arguments (a frame without pixels, size < 1, NULL planes or mask, a bad
// transform, a strength, colour match or detail outside 0..1), named.
int face_blend(Image *frame, Similarity to_model, const float *orig_chw, const float *gen_chw,
               const float *mask, int size, const BlendParams *p, Err *err);

#endif
