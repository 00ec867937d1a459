// Camera buffers to RGB: the bytes of one dequeued V4L2 buffer (YUYV rows, or one MJPEG image)
// become an RGB24 image of the camera's mode. The buffer's length and contents come from a
// driver (or a device pretending to be a camera), so they are checked, never trusted: a short
// YUYV buffer, an undecodable JPEG or a JPEG of another size is a damaged frame, to be skipped.
#ifndef AGESHIFT_CAMERA_DECODE_H
#define AGESHIFT_CAMERA_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/err.h"
#include "media/image_io.h"

struct SwsContext;

typedef struct CameraDecoder CameraDecoder;

// name: the device, for messages; fourcc: V4L2_PIX_FMT_YUYV or V4L2_PIX_FMT_MJPEG; width,
// height: the mode (1 to IMAGE_MAX_DIM each way); stride: the driver's bytes per line of YUYV
// rows (0: packed), ignored for MJPEG. Refuses, with a message, a size out of range and a YUYV
// stride shorter than a row.
CameraDecoder *camera_decoder_create(const char *name, uint32_t fourcc, int width, int height,
                                     size_t stride, Err *err);
void camera_decoder_free(CameraDecoder *d); // NULL is a no-op

// Converts LEN bytes at DATA into *rgb (allocated at the mode's size when rgb->rgb is NULL;
// otherwise it must be that size). 1: converted; 0: a damaged frame, not converted (err says
// why: too short, not a JPEG the decoder takes, a JPEG of another size); -1: an error (out of
// memory, an rgb of another size).
int camera_decoder_to_rgb(CameraDecoder *d, const uint8_t *data, size_t len, Image *rgb, Err *err);

// Converts a src_w x src_h picture in FFmpeg pixel format fmt (planes data, linesize; YUV in
// full range when full_range is set or fmt is a "J" format, else limited) into the already
// allocated *rgb, scaling when the sizes differ; *sws is the cached libswscale context (NULL at
// first, sws_freeContext'ed by the caller). Shared with the file source.
int camera_picture_to_rgb(struct SwsContext **sws, const uint8_t *const data[],
                          const int linesize[], int fmt, int full_range, int src_w, int src_h,
                          Image *rgb, Err *err);

#endif
