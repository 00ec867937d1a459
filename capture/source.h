// Where live frames come from: a V4L2 camera, or a video file played at its own pace (for
// demos, tests and machines without a camera). Either way frames arrive as RGB24 with the
// time they were captured.
#ifndef AGESHIFT_SOURCE_H
#define AGESHIFT_SOURCE_H

#include <stdint.h>

#include "core/base/err.h"
#include "media/image_io.h"

typedef struct Source Source;

Source *source_open_camera(const char *device, int width, int height, int fps, Err *err);
// Plays the file in real time (frames are held back until their timestamp is due), looping
// when loop is set.
Source *source_open_file(const char *path, int loop, Err *err);
void source_size(const Source *s, int *width, int *height);
// 1: a frame in *rgb (allocated by the source's size on first use) and its capture time in
// microseconds on CLOCK_MONOTONIC; 0: the end of a file; -1: an error (camera unplugged...).
int source_next(Source *s, Image *rgb, int64_t *time_us, Err *err);
void source_close(Source *s); // NULL is a no-op


#endif
