// Writes the fuzz seeds that the project's own writers make: safetensors files (a tiny but
// complete model file: both generators, ngf 1, one residual block; and a few plain files), and
// landmark models (Debian's dlib 68-point model cut to its first cascades and trees). Built and
// run by tests/fuzz/make_corpus.sh; the files are kept in tests/fuzz/corpus/.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/model_file.h"
#include "core/nn/networks.h"
#include "core/model/safetensors.h"
#include "filter/landmarks.h"
#include "tests/dlib_serialize.h"

static void check(int rc, const Err *err)
{
    if (rc != 0) {
        fprintf(stderr, "make_corpus: %s\n", err->msg);
        exit(1);
    }
}

static void tiny_model(const char *path)
{
    GeneratorArch arch = {.gen = {.ngf = 1, .n_blocks = 1}, .size = 16};
    Net a = {0}, b = {0};
    Err err;
    check(generator_build(&a, arch.gen, &err), &err);
    check(generator_build(&b, arch.gen, &err), &err);
    net_init_weights(&a, 1);
    net_init_weights(&b, 2);
    check(model_file_save(path, &a, &b, arch, ST_F32, &err), &err);
    net_free(&a);
    net_free(&b);
}

static void plain_file(const char *path)
{
    StWriter *w = st_writer_create();
    Err err;
    const float v[6] = {1.5f, -2.0f, 0.25f, 3.0f, 0.0f, -0.0f};
    const int64_t s23[2] = {2, 3}, s0[1] = {0}, s6[1] = {6};
    check(st_writer_add_f32(w, "weight", 2, s23, v, &err), &err);
    check(st_writer_add_f32(w, "scalar", 0, NULL, v, &err), &err);
    check(st_writer_add_f32(w, "empty", 1, s0, NULL, &err), &err);
    check(st_writer_add_f32(w, "flat", 1, s6, v, &err), &err);
    check(st_writer_meta(w, "note", "fuzz seed", &err), &err);
    check(st_writer_save(w, path, &err), &err);
    st_writer_free(w);
}

// An F16 tensor (our writer only writes F32): the header padded to 8 bytes, as the format says.
static void f16_file(const char *path)
{
    const char *json = "{\"h\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]}}";
    size_t hlen = (strlen(json) + 7) & ~(size_t)7;
    const unsigned char half[8] = {0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0xff, 0x7b};
    FILE *f = fopen(path, "wb");
    if (!f)
        exit(1);
    for (int i = 0; i < 8; i++)
        fputc((int)((hlen >> (8 * i)) & 0xff), f);
    fprintf(f, "%-*s", (int)hlen, json);
    fwrite(half, 1, sizeof half, f);
    if (fclose(f) != 0)
        exit(1);
}

static void cut_landmark_model(const LandmarkModel *m, int cascades, int trees, const char *path)
{
    DlibOut o = {0};
    dlib_put_model(&o, m, cascades, trees);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(o.b, 1, o.n, f) != o.n || fclose(f) != 0) {
        fprintf(stderr, "make_corpus: cannot write %s\n", path);
        exit(1);
    }
    free(o.b);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_corpus CORPUS_DIR\n");
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/safetensors/tiny_model.safetensors", argv[1]);
    tiny_model(path);
    snprintf(path, sizeof path, "%s/safetensors/plain.safetensors", argv[1]);
    plain_file(path);
    snprintf(path, sizeof path, "%s/safetensors/f16.safetensors", argv[1]);
    f16_file(path);

    Err err;
    LandmarkModel *m = landmarks_load(LANDMARKS_DEFAULT_MODEL, &err);
    check(m ? 0 : -1, &err);
    snprintf(path, sizeof path, "%s/landmarks/dlib68_1cascade_2trees.dat", argv[1]);
    cut_landmark_model(m, 1, 2, path);
    snprintf(path, sizeof path, "%s/landmarks/dlib68_3cascades_1tree.dat", argv[1]);
    cut_landmark_model(m, 3, 1, path);
    landmarks_free(m);
    return 0;
}
