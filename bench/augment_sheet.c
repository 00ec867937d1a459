// A contact sheet of the training augmentation, to look at: one row per face, one column per
// augmentation alone (probabilities at 1, amounts at their default), then the defaults together
// for three seeds.
//   augment_sheet OUT.png [FACES_DIR] [SIZE]   (faces: the first 3 young and 3 old)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench_faces.h"
#include "core/train/augment.h"

#define ROWS 6
#define SEEDS 3

static void paste(const float *chw, int size, Image *sheet, int col, int row)
{
    const size_t plane = (size_t)size * size;
    for (int y = 0; y < size; y++)
        for (int x = 0; x < size; x++)
            for (int c = 0; c < 3; c++) {
                float v = (chw[c * plane + (size_t)y * size + x] + 1.0f) * 127.5f + 0.5f;
                sheet->rgb[3 * ((size_t)(row * size + y) * sheet->w + col * size + x) + c] =
                    (uint8_t)(v < 0     ? 0
                              : v > 255 ? 255
                                        : v);
            }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: augment_sheet OUT.png [FACES_DIR] [SIZE]\n");
        return 2;
    }
    const int size = argc > 3 ? atoi(argv[3]) : 128;
    FaceList faces;
    if (size < 16 || face_list(bench_faces_dir(argc > 2 ? argv[2] : NULL), &faces)) {
        fprintf(stderr, "augment_sheet: no faces (or a bad size)\n");
        return 1;
    }
    const Augment def = augment_default();
    const int cols = 1 + augment_field_count + SEEDS;
    Image sheet;
    Err err;
    float *chw = malloc(sizeof(float) * 3 * size * size);
    if (!chw || image_alloc(&sheet, cols * size, ROWS * size, &err))
        return 1;
    int young = 0;
    while (young < faces.n && strstr(faces.paths[young], "/young/"))
        young++;
    for (int row = 0; row < ROWS; row++) {
        int k = row < ROWS / 2 ? row : young + row - ROWS / 2;
        Image face;
        if (k >= faces.n || image_load(faces.paths[k], &face, &err)) {
            fprintf(stderr, "augment_sheet: %s\n", k < faces.n ? err.msg : "too few faces");
            return 1;
        }
        for (int col = 0; col < cols; col++) {
            Augment a = {0};
            uint64_t seed = 1000 + (uint64_t)row;
            if (col >= 1 && col <= augment_field_count) {
                const AugmentField *f = &augment_fields[col - 1];
                float *v = (float *)((char *)&a + f->offset);
                *v = f->max == 1.0f ? 1.0f : *(const float *)((const char *)&def + f->offset);
            } else if (col > augment_field_count) {
                a = def;
                seed += 100 * (uint64_t)col;
            }
            if (augment_image(&face, size, &a, seed, chw, &err)) {
                fprintf(stderr, "augment_sheet: %s\n", err.msg);
                return 1;
            }
            paste(chw, size, &sheet, col, row);
        }
        image_free(&face);
    }
    if (image_save(argv[1], &sheet, &err)) {
        fprintf(stderr, "augment_sheet: %s\n", err.msg);
        return 1;
    }
    printf("columns: none");
    for (int i = 0; i < augment_field_count; i++)
        printf(", %s", augment_fields[i].name);
    printf(", defaults x%d\nwrote %s\n", SEEDS, argv[1]);
    image_free(&sheet);
    free(chw);
    face_list_free(&faces);
    return 0;
}
