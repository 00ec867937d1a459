// Still images through FFmpeg: decoding (JPEG, progressive JPEG included, PNG, anything
// libavcodec reads), saving as PNG or JPEG, bicubic resizing with libswscale, and conversion to
// and from the networks' planar float layout.
#ifndef AGESHIFT_IMAGE_IO_H
#define AGESHIFT_IMAGE_IO_H

#include <libavutil/frame.h>
#include <stdint.h>

#include "core/base/err.h"

typedef struct {
    int w, h;
    uint8_t *rgb; // RGB24, rows of 3*w bytes, no padding between rows (some after the last)
} Image;

// The largest width or height of an image or frame (as y4m's Y4M_MAX_DIM); an image also has
// at most 64 Mpixels. Larger sizes are refused with a message before anything is allocated.
#define IMAGE_MAX_DIM 16384

// Points an AVFrame (with no buffer of its own) at the image's pixels, as RGB24, so that a
// frame filter changes the image in place.
void image_as_frame(Image *img, AVFrame *av);

// Allocates a w x h image (contents zeroed).
int image_alloc(Image *img, int w, int h, Err *err);
void image_free(Image *img); // frees the pixels and zeroes *img; NULL is a no-op

// Decodes the first frame of an image file into RGB24. A missing, unreadable or undecodable
// file is an error naming the file and the cause.
int image_load(const char *path, Image *img, Err *err);

// Encodes by extension: .png (lossless) or .jpg/.jpeg (quality ~95). Written to a temporary
// file in the same directory, fsynced and renamed, so PATH is never left half-written.
int image_save(const char *path, const Image *img, Err *err);

// Replaces IMG by itself encoded as a JPEG (4:2:0, the fixed quantiser QSCALE, 2 to 31: 2 is
// about quality 95, 24 shows blocks) and decoded again: the training augmentation's compression.
int image_jpeg_round_trip(Image *img, int qscale, Err *err);

// dst = src resized to w x h with libswscale's bicubic filter (dst is allocated).
int image_resize(const Image *src, int w, int h, Image *dst, Err *err);

// RGB24 <-> planar float (3, h, w) in [-1, 1], as the seed's Normalize((0.5,)*3, (0.5,)*3).
void image_to_planar(const Image *img, float *chw);
void planar_to_image(const float *chw, Image *img); // img already allocated; values clamped

// FFmpeg's deprecated "J" pixel formats (yuvj420p from JPEG decoders, ...) are the plain YUV
// formats in full range: returns the plain format and sets *full_range for those; any other
// format comes back as it is. libswscale warns about the J formats and, given one, never
// reuses a cached context.
int image_plain_pixel_format(int av_pix_fmt, int *full_range);

#endif
