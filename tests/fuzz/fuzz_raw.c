// Raw frame streams: the first 7 bytes choose width, height (int16, negative included), pixel
// format (int8, invalid ones included) and frame rate; the rest is the stream.
#include "tests/fuzz/fuzz_targets.h"

#include <stdio.h>
#include <stdlib.h>

#include "media/y4m.h"

int fuzz_raw(const uint8_t *data, size_t size)
{
    FuzzBytes b = {data, size};
    int w = (int16_t)fuzz_take(&b, 2);
    int h = (int16_t)fuzz_take(&b, 2);
    int fmt = (int8_t)fuzz_take(&b, 1);
    int fps = (int8_t)fuzz_take(&b, 1);
    int den = (int8_t)fuzz_take(&b, 1);
    FILE *in = b.size ? fmemopen((void *)b.data, b.size, "rb") : fopen("/dev/null", "rb");
    if (!in)
        abort();
    Err err = {""};
    FrameReader *r = raw_reader_open(in, "fuzz.raw", w, h, (PixFmt)fmt, fps, den, &err);
    if (!r) {
        fuzz_expect_reason("raw", &err);
        fclose(in);
        return 0;
    }
    const StreamInfo *info = frame_reader_info(r);
    if (info->fps_num <= 0 || info->fps_den <= 0)
        abort();
    int rc = fuzz_read_frames(r, NULL, "raw");
    frame_reader_close(r);
    fclose(in);
    return rc;
}
