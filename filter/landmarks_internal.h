// The loaded form of a landmark model, shared by landmarks_load.c and landmarks_predict.c.
// Every tree of a model has the same depth and every cascade the same number of trees and
// feature points, as dlib's trainer makes them; the loader refuses any other shape.
#ifndef AGESHIFT_LANDMARKS_INTERNAL_H
#define AGESHIFT_LANDMARKS_INTERNAL_H

#include <stdint.h>

#include "filter/landmarks.h"

typedef struct {
    uint16_t a, b; // feature points compared: go left when value[a] - value[b] > thresh
    float thresh;
} LandmarkSplit;

struct LandmarkModel {
    int points;           // P: landmarks per face
    int cascades;         // C
    int trees;            // T per cascade
    int splits;           // S per tree (2^depth - 1); leaves per tree: S + 1
    int features;         // F feature points per cascade
    float *initial_shape; // (2P): the mean shape, in the box's normalised coordinates
    LandmarkSplit *split; // (C, T, S)
    float *leaf;          // (C, T, S + 1, 2P): shape changes
    uint8_t *anchor;      // (C, F): the landmark each feature point is placed relative to
    float *delta;         // (C, F, 2): its offset from that landmark in the mean shape
};

#endif
