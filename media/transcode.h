// Re-encoding a video file with every video frame passed through a callback: libavformat
// demuxing, libavcodec decoding and encoding (H.264 with libx264 by default), audio and subtitle
// streams copied untouched, timestamps kept. Knows nothing about faces: ageshift convert gives
// it the face filter as the callback.
#ifndef AGESHIFT_TRANSCODE_H
#define AGESHIFT_TRANSCODE_H

#include <libavutil/frame.h>

#include "core/base/err.h"

// Changes the frame in place. The frame is YUV420P (or YUVJ420P, full range): other decoded
// formats are converted to it first. Returns 0, or -1 with a reason to abort the transcode.
typedef int (*FrameCallback)(void *ctx, AVFrame *frame, Err *err);

typedef struct {
    const char *video_codec; // encoder name; NULL: libx264 where the container takes H.264
    int crf;                 // libx264 constant rate factor (default 18: visually lossless)
    const char *preset;      // libx264 preset (default "veryfast")
    // Called after each video frame: frames done, frames expected (0 if unknown), and the
    // processing rate in frames per second.
    void (*progress)(void *ctx, long frames, long expected, double fps);
    // Called for each recoverable problem (a packet that does not decode is skipped).
    void (*warning)(void *ctx, const char *msg);
    void *ctx;
} TranscodeOptions;

TranscodeOptions transcode_options_default(void);

// Writes the result to a temporary file beside out and renames it to out only when complete:
// out is never left half-written. Errors name the file and the cause (not a video, no video
// stream, an unwritable output, an encoder that is missing, a full disk).
int transcode_file(const char *in, const char *out, const TranscodeOptions *opt, FrameCallback fn,
                   void *fn_ctx, Err *err);

#endif
