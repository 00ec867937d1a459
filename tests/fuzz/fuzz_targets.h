// Fuzz targets: one per input that crosses a trust boundary. Each body is a plain function, so
// the same code runs under libFuzzer (libfuzzer_main.c, `make fuzz`) and over the kept corpus
// and regression files in `make test` (tests/test_fuzz_regressions.c). A body returns 1 when
// the input was accepted, 0 when it was refused with a reason; anything wrong in between
// (a crash, a sanitizer report, a refusal without a reason) aborts.
#ifndef AGESHIFT_FUZZ_TARGETS_H
#define AGESHIFT_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/err.h"

int fuzz_safetensors(const uint8_t *data, size_t size);  // st_open, st_read_f32, model loader
int fuzz_y4m(const uint8_t *data, size_t size);          // y4m_reader_open, frame_reader_next
int fuzz_raw(const uint8_t *data, size_t size);          // raw_reader_open: w, h, fmt in front
int fuzz_cascade(const uint8_t *data, size_t size);      // cascade_load, then one detector_run
int fuzz_dataset_name(const uint8_t *data, size_t size); // the ages in file and folder names
int fuzz_camera(const uint8_t *data, size_t size);       // a camera buffer to RGB: mode in front
int fuzz_landmarks(const uint8_t *data, size_t size);    // landmarks_load_bytes, then predict

// Helpers for the bodies.

// A path that reads back exactly DATA: a memfd (one per process, rewritten on every call) seen
// through /proc/self/fd, so entry points that take a path need no file on disk. Aborts when the
// memfd cannot be made.
const char *fuzz_input_path(const uint8_t *data, size_t size);

// Aborts (with the input's story on stderr) when a refusal left no reason in err: every
// refusal must say what was wrong.
void fuzz_expect_reason(const char *target, const Err *err);

// Reads up to 16 frames of r (writing them to w unless it is NULL), skipping frames over 8 MiB;
// 1 at a clean end, 0 after an error that said why. In fuzz_y4m.c, shared with fuzz_raw.c.
typedef struct FrameReader FrameReader;
typedef struct FrameWriter FrameWriter;
int fuzz_read_frames(FrameReader *r, FrameWriter *w, const char *target);

// Reads little-endian integers from the front of the input, 0 once it runs out.
typedef struct {
    const uint8_t *data;
    size_t size;
} FuzzBytes;
uint32_t fuzz_take(FuzzBytes *b, int nbytes);

#endif
