// The alignment template and the landmark box. See align.h.
#include "filter/align.h"

#include <math.h>

Similarity align_face(const float *landmarks, int size)
{
    float dst[2 * ALIGN_POINTS];
    for (int i = 0; i < 2 * ALIGN_POINTS; i++)
        dst[i] = align_template[i] * (float)size;
    return similarity_fit(landmarks + 2 * ALIGN_FIRST_POINT, dst + 2 * ALIGN_FIRST_POINT,
                          ALIGN_POINTS - ALIGN_FIRST_POINT);
}

Bounds align_template_bounds(void)
{
    Bounds b = {1.0f, 1.0f, 0.0f, 0.0f};
    for (int i = 0; i < ALIGN_POINTS; i++) {
        b.x0 = fminf(b.x0, align_template[2 * i]);
        b.x1 = fmaxf(b.x1, align_template[2 * i]);
        b.y0 = fminf(b.y0, align_template[2 * i + 1]);
        b.y1 = fmaxf(b.y1, align_template[2 * i + 1]);
    }
    return b;
}

LandmarkBox landmark_box(FaceRect r)
{
    FaceRect d = face_rect_reframe(r, LANDMARK_BOX_DX, LANDMARK_BOX_DY, LANDMARK_BOX_SCALE);
    // dlib's boxes have whole-pixel corners: rounding keeps the points dlib's for such boxes.
    return (LandmarkBox){roundf(d.x), roundf(d.y), roundf(d.w), roundf(d.h)};
}

float landmark_box_follow(const LandmarkModel *m, const uint8_t *gray, int w, int h, int stride,
                          FaceRect detected)
{
    const float step = 0.12f;
    const int moves[4][2] = {{1, 0}, {-1, 0}, {0, 1}, {0, -1}};
    const LandmarkBox box = landmark_box(detected);
    float base[2 * ALIGN_POINTS], moved[2 * ALIGN_POINTS];
    landmarks_predict(m, gray, w, h, stride, box, base);
    double follow = 0.0;
    for (int k = 0; k < 4; k++) {
        LandmarkBox b = box;
        float dx = (float)moves[k][0] * step * box.w, dy = (float)moves[k][1] * step * box.w;
        b.x += dx, b.y += dy;
        landmarks_predict(m, gray, w, h, stride, b, moved);
        double along = 0.0;
        for (int i = ALIGN_FIRST_POINT; i < ALIGN_POINTS; i++)
            along += dx * (moved[2 * i] - base[2 * i]) + dy * (moved[2 * i + 1] - base[2 * i + 1]);
        follow += along / ((ALIGN_POINTS - ALIGN_FIRST_POINT) * (double)(dx * dx + dy * dy));
    }
    return (float)(follow / 4.0);
}

// make build/bench/bench_landmarks && build/bench/bench_landmarks ../shared/faces: the mean of
// our landmarks from the mapped LBP box over the 2,577 crops the cascade finds (after each face's
// own similarity fit, its points 17..67 lie 2.1% of the crop from these on average). UTKFace's
// crops are tight: the jaw spans 7-93% of the width, the brows sit at 16-22% of the height and the
// chin at 99%, so the generators saw little hair.
const float align_template[2 * ALIGN_POINTS] = {
    0.0667f, 0.3082f, 0.0708f, 0.4210f, 0.0834f, 0.5324f, 0.1039f, 0.6430f, 0.1435f, 0.7468f,
    0.2077f, 0.8373f, 0.2907f, 0.9124f, 0.3855f, 0.9719f, 0.4941f, 0.9898f, 0.6033f, 0.9727f,
    0.7003f, 0.9146f, 0.7852f, 0.8405f, 0.8512f, 0.7500f, 0.8917f, 0.6460f, 0.9126f, 0.5345f,
    0.9256f, 0.4213f, 0.9298f, 0.3069f, 0.1425f, 0.2192f, 0.1966f, 0.1735f, 0.2711f, 0.1615f,
    0.3471f, 0.1732f, 0.4182f, 0.2037f, 0.5659f, 0.2028f, 0.6376f, 0.1720f, 0.7147f, 0.1604f,
    0.7904f, 0.1731f, 0.8461f, 0.2195f, 0.4921f, 0.2897f, 0.4919f, 0.3667f, 0.4916f, 0.4438f,
    0.4913f, 0.5224f, 0.4054f, 0.5650f, 0.4468f, 0.5812f, 0.4924f, 0.5959f, 0.5381f, 0.5813f,
    0.5806f, 0.5652f, 0.2275f, 0.3000f, 0.2746f, 0.2727f, 0.3304f, 0.2743f, 0.3797f, 0.3121f,
    0.3259f, 0.3198f, 0.2710f, 0.3186f, 0.6076f, 0.3122f, 0.6565f, 0.2748f, 0.7124f, 0.2730f,
    0.7601f, 0.3006f, 0.7157f, 0.3190f, 0.6604f, 0.3199f, 0.3146f, 0.6900f, 0.3796f, 0.6686f,
    0.4448f, 0.6591f, 0.4934f, 0.6700f, 0.5410f, 0.6592f, 0.6071f, 0.6686f, 0.6748f, 0.6897f,
    0.6101f, 0.7546f, 0.5447f, 0.7833f, 0.4934f, 0.7888f, 0.4414f, 0.7831f, 0.3769f, 0.7545f,
    0.3406f, 0.6948f, 0.4442f, 0.6948f, 0.4934f, 0.7001f, 0.5417f, 0.6950f, 0.6486f, 0.6945f,
    0.5425f, 0.7289f, 0.4934f, 0.7345f, 0.4435f, 0.7286f,
};
