// OpenCV cascade XML files: loading, then, for a cascade that loads, one detection over a small
// gray image (a gradient with a bright disc, so that windows vary) with and without grouping.
#include "tests/fuzz/fuzz_targets.h"

#include <stdlib.h>

#include "filter/cascade.h"

static void detect_once(const Cascade *c)
{
    int ww, wh;
    if (cascade_window_size(c, &ww, &wh) != 0 || ww < 1 || wh < 1)
        abort();
    // A little larger than the window, so that a few scales and positions are scanned.
    int w = ww + ww / 2 + 3, h = wh + wh / 2 + 2;
    uint8_t *gray = malloc((size_t)w * (size_t)h);
    if (!gray)
        abort();
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            int dx = x - w / 2, dy = y - h / 2;
            gray[(size_t)y * w + x] = dx * dx + dy * dy < ww * ww / 9 ? 230 : (uint8_t)(x + 3 * y);
        }
    Err err = {""};
    Detector *d = detector_create(c, &err);
    if (!d)
        abort(); // only out of memory could refuse a cascade that loaded
    FaceBox boxes[16];
    for (int grouped = 0; grouped < 2; grouped++) {
        DetectOptions o = detect_options_default();
        o.min_neighbors = grouped ? 1 : 0;
        int n = detector_run(d, gray, w, h, w, &o, boxes, 16, &err);
        if (n < 0 || n > 16)
            abort();
        for (int i = 0; i < n; i++)
            if (boxes[i].w < 1 || boxes[i].h < 1 || boxes[i].x < 0 || boxes[i].y < 0 ||
                boxes[i].x + boxes[i].w > w || boxes[i].y + boxes[i].h > h)
                abort();
    }
    detector_free(d);
    free(gray);
}

int fuzz_cascade(const uint8_t *data, size_t size)
{
    Err err = {""};
    Cascade *c = cascade_load(fuzz_input_path(data, size), &err);
    if (!c) {
        fuzz_expect_reason("cascade", &err);
        return 0;
    }
    detect_once(c);
    cascade_free(c);
    return 1;
}
