// safetensors files: an 8-byte little-endian header length, a JSON header, then raw
// little-endian tensor data (https://github.com/huggingface/safetensors, format description).
// Reading validates the whole file up front, so a StFile that opened is safe to use.
#ifndef AGESHIFT_SAFETENSORS_H
#define AGESHIFT_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "core/base/err.h"

#define ST_MAX_DIMS 8
// Limits on what a file may claim, checked before the memory it would take is allocated: the
// JSON header (the bound Hugging Face's own reader has) and the number of tensors (our largest
// checkpoint holds about a thousand).
#define ST_MAX_HEADER 100000000
#define ST_MAX_TENSORS 100000

typedef enum { ST_F32, ST_F16 } StDtype;

typedef struct {
    const char *name;
    StDtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    const void *data; // points into the loaded file, little-endian
    size_t nbytes;
} StTensor;

typedef struct StFile StFile;

// Reads and validates the whole file. Refuses, with a message naming the file and the
// problem: a file shorter than 8 bytes, a header length beyond the file or over ST_MAX_HEADER,
// invalid JSON, a header that is not an object, more than ST_MAX_TENSORS tensors, a tensor
// entry without dtype/shape/data_offsets, a dtype other than F32/F16, offsets out of range,
// inconsistent with the shape, or overlapping, and a __metadata__ that is not an object of
// strings.
StFile *st_open(const char *path, Err *err);
void st_close(StFile *f); // st_close(NULL) is a no-op

const char *st_path(const StFile *f);
int st_count(const StFile *f);
const StTensor *st_get(const StFile *f, int i);
const StTensor *st_find(const StFile *f, const char *name); // NULL when absent
const char *st_meta(const StFile *f, const char *key);      // NULL when absent
// Calls fn for every metadata entry, in the file's order.
void st_meta_foreach(const StFile *f, void (*fn)(const char *key, const char *value, void *ctx),
                     void *ctx);

// Copies a tensor into dst as float32 (converting F16). Fails when the tensor is absent, when
// numel differs, or when any value is NaN or Inf (the message names file, tensor and index).
int st_read_f32(const StFile *f, const char *name, float *dst, size_t numel, Err *err);

typedef struct StWriter StWriter;

StWriter *st_writer_create(void);
void st_writer_free(StWriter *w); // NULL is a no-op
// The data is copied when added, so the caller may reuse its buffer. At most ST_MAX_TENSORS.
// NaN and Inf are refused. st_writer_add stores the floats as dtype: ST_F16 rounds each to the
// nearest half (ties to even) and refuses one beyond half's range (65504).
int st_writer_add(StWriter *w, const char *name, int ndim, const int64_t *shape,
                  const float *data, StDtype dtype, Err *err);
int st_writer_add_f32(StWriter *w, const char *name, int ndim, const int64_t *shape,
                      const float *data, Err *err);
int st_writer_meta(StWriter *w, const char *key, const char *value, Err *err);
// Writes atomically: PATH.tmp, fsync, rename over PATH, fsync of the directory. On any
// failure (a full disk included) the temporary file is removed and PATH is left untouched.
int st_writer_save(const StWriter *w, const char *path, Err *err);

#endif
