// What the three files of the cascade detector share, and no one else includes: the cascade as
// cascade_load.c reads it from the XML and cascade_detect.c evaluates it, and the raw hits that
// cascade_group.c groups into boxes.
#ifndef AGESHIFT_CASCADE_INTERNAL_H
#define AGESHIFT_CASCADE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "filter/cascade.h"

enum { FEAT_HAAR = 1, FEAT_LBP = 2 };

#define MAX_WINDOW 256     // keeps window sums of squares below 2^32 (see build_scale)
#define HAAR_MAX_RECTS 3   // as OpenCV
#define LBP_SUBSET_WORDS 8 // 256 categories, one bit each

typedef struct {
    int nrects;
    int x[HAAR_MAX_RECTS], y[HAAR_MAX_RECTS], w[HAAR_MAX_RECTS], h[HAAR_MAX_RECTS];
    float weight[HAAR_MAX_RECTS];
} HaarFeature;

typedef struct {
    int x, y, w, h; // the top-left block and the size of each of the 3x3 blocks
} LbpFeature;

typedef struct {
    int left, right; // > 0: a node of the same tree; <= 0: leaf number -left / -right
    int feature;
    float threshold;                   // HAAR: go left when feature < threshold
    uint32_t subset[LBP_SUBSET_WORDS]; // LBP: go left when bit (code) is set
} Node;

typedef struct {
    int first_node, nnodes, first_leaf, nleaves;
} Tree;

typedef struct {
    int first_tree, ntrees;
    float threshold; // the stage passes when its trees' leaves sum to >= threshold
} Stage;

struct Cascade {
    int type;
    int win_w, win_h;
    int nstages, ntrees, nnodes, nleaves, nfeatures;
    Stage *stages;
    Tree *trees;
    Node *nodes;
    float *leaves;
    HaarFeature *haar;
    LbpFeature *lbp;
};

// A raw hit: a window that passed every stage, in frame pixels.
typedef struct {
    int x, y, w, h;
} Rect;

// Grouping's buffers, kept by the detector so that a run allocates nothing once they are large
// enough.
typedef struct Cluster Cluster;
typedef struct {
    Rect *all; // the raw hits of a run, all threads together
    int *parent, *label;
    Cluster *cl;
    int cap;
} Grouper;

// Room for n raw hits in g->all (and the grouping of as many).
int grouper_reserve(Grouper *g, int n, Err *err);
// Groups g->all[0..n) as cv::groupRectangles (see cascade.h; reorders them), clips the boxes to
// the w x h frame, and writes up to max_boxes of them, largest first. Returns their number.
int grouper_run(Grouper *g, int n, int min_neighbors, int w, int h, FaceBox *boxes, int max_boxes);
void grouper_free(Grouper *g);

#endif
