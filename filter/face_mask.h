// The blend mask from a face's landmarks: where, and how much of, the generator's change goes
// back into the frame. At model resolution, in the aligned crop's coordinates:
//  - the face: the polygon of the jaw line (points 0..16) closed over the brows (26..17) raised
//    towards the hairline by FACE_MASK_FOREHEAD of the brow-to-chin height; 1 inside, falling
//    to 0 at its outline over FACE_MASK_FEATHER of the crop (a raised cosine: no visible edge);
//  - the hair: a band FACE_MASK_HAIR_BAND of the crop wide around that polygon, weighted by
//    `hair` (0..1), feathered the same way at its outer edge, and faded out from eye level down
//    to the mouth (below it, beyond the jaw, lie neck and background, not hair);
//  - everything fades to 0 within FACE_MASK_EDGE of the crop's border, where the generator's
//    output is least reliable (its padding) and the crop's edge must not show.
// Chosen by looking at faces of ../shared/wild blended back (make quality's sheets).
#ifndef AGESHIFT_FACE_MASK_H
#define AGESHIFT_FACE_MASK_H

#define FACE_MASK_FOREHEAD 0.45f
#define FACE_MASK_FEATHER 0.08f
#define FACE_MASK_HAIR_BAND 0.14f
#define FACE_MASK_EDGE 0.08f

// points: the 68 landmarks in model pixels; mask (size, size) is written.
void face_mask_landmarks(const float *points, int size, float hair, float *mask);

#endif
