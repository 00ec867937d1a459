// The live pipeline: capture -> filter -> display and virtual webcam, one thread each, joined by
// single-frame slots where the newest frame replaces an unread one. A stage slower than the
// camera (the generator, usually) therefore drops stale frames instead of queueing them, and the
// latency stays one frame of each stage.
#ifndef AGESHIFT_LIVE_H
#define AGESHIFT_LIVE_H

#include <signal.h>
#include <stdbool.h>

#include "filter/ageshift.h"

typedef struct {
    const char *device;        // the camera, e.g. /dev/video0 ...
    const char *input_file;    // ... or a video file played in real time (looped)
    int width, height, fps;    // the camera mode asked for
    const char *output_device; // a v4l2loopback device to write to, or NULL
    bool window;               // the SDL2 preview
    bool mirror, side_by_side;
    const char *snapshot_dir; // where `s` saves PNGs
    AgeshiftOptions filter;   // direction, strength, model ...
    double seconds;           // stop after this long (0: until q, Esc or a signal)
    volatile sig_atomic_t *stop;
    void (*message)(void *ctx, const char *msg);
    void *ctx;
} LiveOptions;

typedef struct {
    long captured, processed, shown;
    double seconds; // from start to stop
    double fps;     // frames shown per second, from the first shown to the last
    double latency_median_ms, latency_p95_ms; // capture time to display (or output)
} LiveStats;

int live_run(const LiveOptions *opt, LiveStats *stats, Err *err);

#endif
