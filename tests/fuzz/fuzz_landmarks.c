// dlib landmark models (filter/landmarks.h): loading, then, for a model that loads, the points
// of three boxes over a small gradient image: inside it, across its edge, and off it.
#include "tests/fuzz/fuzz_targets.h"

#include <math.h>
#include <stdlib.h>

#include "filter/landmarks.h"

int fuzz_landmarks(const uint8_t *data, size_t size)
{
    Err err = {""};
    LandmarkModel *m = landmarks_load_bytes(data, size, "fuzz.dat", &err);
    if (!m) {
        fuzz_expect_reason("landmarks", &err);
        return 0;
    }
    int n = landmarks_count(m);
    if (n < 1 || n > LANDMARKS_MAX_POINTS)
        abort();
    enum { W = 48, H = 40 };
    static uint8_t gray[W * H];
    for (int i = 0; i < W * H; i++)
        gray[i] = (uint8_t)(i % W * 5 + i / W * 3);
    const LandmarkBox boxes[3] = {{8, 6, 30, 30}, {30, 25, 40, 40}, {-500, 900, 20, 20}};
    float xy[2 * LANDMARKS_MAX_POINTS];
    for (int b = 0; b < 3; b++) {
        landmarks_predict(m, gray, W, H, W, boxes[b], xy);
        for (int i = 0; i < 2 * n; i++)
            if (isnan(xy[i]))
                abort();
    }
    landmarks_free(m);
    return 1;
}
