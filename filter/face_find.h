// Faces in a frame, found by several passes of the cascades (cascade.h) and merged: the first
// (frontal) cascade on the frame upright and turned by +-20 degrees (heads tilted), and a second
// frontal cascade the same three ways (OpenCV's Haar cascade finds faces turned further than its
// LBP one does: in ../shared/wild/photos/group_t1.jpg all six, the LBP cascade four). A pass
// keeps a box only when enough raw hits support it: 5 from the first cascade (a real face
// gathers 5 to 170 in ../shared/wild, an animal's face up to 4), 11 from the second (its false
// boxes there, a monkey's face and a hand, gather 7 to 10; a turned head 10 to 22, so some are
// lost). The second cascade's boxes are
// mapped onto the first's framing (its box is larger and sits higher), so the landmarks see one
// kind of box. A face found by several passes is kept once: first-cascade boxes before the
// second's, then by support. (The profile cascade was tried and left out: it fires on animals'
// faces and flowered fabric as often as on turned heads.)
//
// The frame is scanned at half resolution (or less) while the smallest face sought still covers
// every cascade's window at that scale: the cost follows the pixels scanned.
#ifndef AGESHIFT_FACE_FIND_H
#define AGESHIFT_FACE_FIND_H

#include <stdint.h>

#include "core/base/err.h"
#include "core/base/pool.h"
#include "filter/cascade.h"
#include "filter/tracker.h"

enum {
    FIND_FRONTAL = 1, // the first cascade, upright
    FIND_TILTED = 2,  // the first cascade on the frame turned by +-20 degrees
    FIND_SECOND = 4,  // the second cascade, upright and turned
    FIND_ALL = 7,
};

typedef struct {
    FaceRect box;  // upright, in frame pixels
    int neighbors; // raw hits behind it
    int pass;      // the FIND_* pass that found it
} FaceHit;

typedef struct FaceFinder FaceFinder;

// Keeps pointers to the cascades (second may be NULL: no second passes), which must outlive it.
FaceFinder *face_finder_create(const Cascade *first, const Cascade *second, Err *err);
void face_finder_free(FaceFinder *f);                 // NULL is a no-op
void face_finder_set_pool(FaceFinder *f, Pool *pool); // as detector_set_pool

// Finds faces of at least min_size pixels in gray ((h, w) bytes, rows stride apart) with the
// passes asked for; writes up to max of them, largest first, and returns how many, or -1 with a
// reason.
int face_finder_run(FaceFinder *f, const uint8_t *gray, int w, int h, int stride, int min_size,
                    unsigned passes, FaceHit *out, int max, Err *err);

#endif
