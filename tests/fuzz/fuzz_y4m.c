// y4m streams: the header, then frames until the stream ends or fails; the frames read are
// written back out as y4m, which must take any stream info a reader produced.
#include "tests/fuzz/fuzz_targets.h"

#include <stdio.h>
#include <stdlib.h>

#include "media/y4m.h"

// Frames bigger than this are not allocated here: a header alone can ask for 16384x16384 4:4:4
// (768 MiB), which is allowed but would only make the fuzzer slow. Limits are tested elsewhere.
#define FUZZ_FRAME_MAX (8u << 20)
#define FUZZ_MAX_FRAMES 16

int fuzz_read_frames(FrameReader *r, FrameWriter *w, const char *target)
{
    const StreamInfo *info = frame_reader_info(r);
    if (frame_bytes(info->fmt, info->width, info->height) > FUZZ_FRAME_MAX)
        return 1;
    Frame f;
    Err err = {""};
    if (frame_alloc(&f, info->fmt, info->width, info->height, &err) != 0)
        abort(); // the reader accepted this size
    int rc = 1;
    for (int i = 0; i < FUZZ_MAX_FRAMES; i++) {
        int got = frame_reader_next(r, &f, &err);
        if (got < 0) {
            fuzz_expect_reason(target, &err);
            rc = 0;
            break;
        }
        if (got == 0)
            break;
        if (frame_reader_count(r) != i + 1)
            abort();
        if (w && frame_writer_put(w, &f, &err) != 0)
            abort(); // a memory stream does not fail
    }
    frame_free(&f);
    return rc;
}

int fuzz_y4m(const uint8_t *data, size_t size)
{
    FILE *in = fmemopen((void *)data, size, "rb");
    if (!in)
        return 0; // glibc refuses a zero-length buffer
    Err err = {""};
    FrameReader *r = y4m_reader_open(in, "fuzz.y4m", &err);
    if (!r) {
        fuzz_expect_reason("y4m", &err);
        fclose(in);
        return 0;
    }
    char *mem = NULL;
    size_t memlen = 0;
    FILE *out = open_memstream(&mem, &memlen);
    if (!out)
        abort();
    // Whatever header a reader accepted, a writer must be able to write back.
    FrameWriter *w = y4m_writer_open(out, "fuzz-out.y4m", frame_reader_info(r), &err);
    if (!w) {
        fprintf(stderr, "fuzz_y4m: the writer refused the reader's header: %s\n", err.msg);
        abort();
    }
    int rc = fuzz_read_frames(r, w, "y4m");
    frame_writer_close(w);
    fclose(out);
    free(mem);
    frame_reader_close(r);
    fclose(in);
    return rc;
}
