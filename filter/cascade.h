// Face detection with OpenCV's boosted cascades (Viola-Jones with Haar features, or
// multi-block LBP), evaluated by our own code. A Cascade is read from the XML that
// opencv_traincascade writes (type_id "opencv-cascade-classifier": Debian's opencv-data ships
// them in /usr/share/opencv4/{haar,lbp}cascades); a Detector holds the scratch memory and
// runs it over a grayscale frame the way OpenCV's CascadeClassifier::detectMultiScale does:
//
//  - the frame is scaled down by factor = 1, s, s^2, ... (s = scale_factor) with a bilinear
//    resize (pixel centres aligned, as OpenCV's INTER_LINEAR), and the cascade's fixed window
//    (24x24 for the frontal-face Haar cascades, 45x45 for lbpcascade_frontalface_improved)
//    slides over each scaled image; factors whose window (window * factor, in frame pixels)
//    is below min_size are skipped, and the scan stops past max_size or once the scaled
//    image is smaller than the window;
//  - the window moves 2 scaled pixels at a time while factor <= 2 and 1 pixel beyond (OpenCV's
//    rule: the step is then always between 1 and 2 frame pixels), and a window rejected by
//    the very first stage also skips the next position;
//  - Haar features are normalised by the window's standard deviation (over the window less a
//    1-pixel border) as OpenCV does; LBP features compare 3x3 block sums against the centre;
//  - raw hits are grouped as cv::groupRectangles does with eps 0.2: hits whose corners lie
//    within 0.2 * mean size of each other are joined (transitively, union-find), a group is
//    kept when it has more than min_neighbors members (every member then has at least
//    min_neighbors neighbours), its box is the members' mean, and a group lying inside a
//    larger, better-supported one is dropped. min_neighbors 0 returns the raw hits.
//
// A Cascade is immutable once loaded and may be shared by any number of Detectors and
// threads; a Detector is used by one thread at a time.
#ifndef AGESHIFT_CASCADE_H
#define AGESHIFT_CASCADE_H

#include <stdint.h>

#include "core/base/err.h"
#include "core/base/pool.h"

typedef struct Cascade Cascade;

// Loads and checks an opencv-cascade-classifier XML file (stage type BOOST; feature type
// HAAR, without tilted features, or LBP; stumps or trees). A file that is not XML, not in that
// format, or inconsistent (counts that disagree, indices out of range, features outside the
// window) is refused with a reason naming the file and the element at fault.
Cascade *cascade_load(const char *xml_path, Err *err);
void cascade_free(Cascade *c); // NULL is a no-op

// The cascade's detection window in pixels (its <width> and <height>); 0, or -1 for NULL.
int cascade_window_size(const Cascade *c, int *w, int *h);

typedef struct {
    int x, y, w, h; // in frame pixels
    int neighbors;  // raw hits grouped into this box (1 when min_neighbors is 0)
} FaceBox;

typedef struct {
    double scale_factor; // > 1: ratio between successive scales (1.01 .. 4)
    int min_neighbors;   // a box needs more than this many raw hits; 0 = no grouping
    int min_size;        // smallest face (window width and height) looked for, in pixels
    int max_size;        // largest; 0 = no limit
} DetectOptions;

// scale_factor 1.1, min_neighbors 3, min_size 0, max_size 0 (OpenCV's defaults).
DetectOptions detect_options_default(void);

typedef struct Detector Detector;

// The detector keeps a pointer to c, which must outlive it.
Detector *detector_create(const Cascade *c, Err *err);
void detector_free(Detector *d); // NULL is a no-op

// Splits the scales of each detector_run over pool's threads (borrowed: the pool must outlive
// the detector or be replaced first). NULL, the default, runs on the caller's thread only.
// Results do not depend on the thread count.
void detector_set_pool(Detector *d, Pool *pool);

// Finds faces in gray (in: (h, w) bytes, rows stride bytes apart; stride >= w). Writes up to
// max_boxes boxes, largest first, and returns their number, or -1 with a reason (bad
// arguments, out of memory). o NULL means detect_options_default(). After the first call for
// a frame size (and thread count), a call allocates nothing unless a frame yields more raw
// hits than any frame before it.
int detector_run(Detector *d, const uint8_t *gray, int w, int h, int stride, const DetectOptions *o,
                 FaceBox *boxes, int max_boxes, Err *err);

#endif
