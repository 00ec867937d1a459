// The generator on a thread of its own, for live video: the filter hands it a face's crop and
// goes on with the frame (detection, landmarks, blending the change it already has) while the
// network runs; the next frame collects the new change. The network then overlaps the rest of
// the pipeline instead of adding to it, and a change arrives one frame after its crop (at 30 fps
// a face moves little in 33 ms, and the change is kept in face coordinates anyway).
#ifndef AGESHIFT_GENERATOR_THREAD_H
#define AGESHIFT_GENERATOR_THREAD_H

#include <stdbool.h>

#include "core/base/err.h"
#include "core/nn/net.h"

typedef struct GeneratorThread GeneratorThread;

// Runs net (borrowed, read only; it must outlive the thread) on size x size crops, on one thread
// of its own (the network's ops are not split further: the filter's pool keeps the other cores).
GeneratorThread *generator_thread_start(const Net *net, int size, Err *err);
void generator_thread_stop(GeneratorThread *g); // waits for the running crop; NULL is a no-op

// Hands over a crop (3, size, size), copied, with a tag the caller gets back with its result;
// false (and nothing done) while the previous crop is still running or uncollected.
bool generator_thread_submit(GeneratorThread *g, int tag, const float *crop);

// The finished result, if there is one: delta (3, size, size) = output - crop; true with the
// crop's tag, after which the thread is free for the next crop. wait: block until the running
// crop (if any) is done.
bool generator_thread_collect(GeneratorThread *g, bool wait, int *tag, float *delta);

#endif
