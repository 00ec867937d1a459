// What the benches that run on the training faces share: listing them, pasting one into a
// grey frame, and medians.
#ifndef AGESHIFT_BENCH_FACES_H
#define AGESHIFT_BENCH_FACES_H

#include <stdint.h>

#include "media/image_io.h"

typedef struct {
    char **paths; // FACES_DIR/young/*.jpg then FACES_DIR/old/*.jpg, each in name order
    int n;
} FaceList;

// The faces' folder: arg when given, else $AGESHIFT_FACES, else ../shared/faces.
const char *bench_faces_dir(const char *arg);

// 0, or -1 when there are no faces (or no memory).
int face_list(const char *root, FaceList *out);
void face_list_free(FaceList *l);

// RGB24 -> 8-bit luma with the BT.601 weights, into dst at (ox, oy) of a frame of pitch stride.
void paste_gray(const Image *img, uint8_t *dst, int stride, int ox, int oy);

double median(double *v, int n); // sorts v

// A small deterministic generator (for offsets that do not change between runs).
unsigned bench_lcg(unsigned *s);

#endif
