// Model files: round trip, a model converted from the seed's .pth files by
// tools/pth2safetensors.py running as in PyTorch, and every kind of bad file refused with a
// message that names the file and the problem.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/model/checkpoint.h"
#include "core/model/model_file.h"
#include "core/model/safetensors.h"
#include "media/image_io.h"
#include "tests/faces.h"

static char dir[] = "/tmp/ageshift-model-XXXXXX";

static void make_dir(void)
{
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}

TestSuite(model_file, .init = make_dir, .fini = remove_dir);

static void path_in_dir(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", dir, name);
}

static void build_pair(Net *older, Net *younger, GeneratorConfig cfg)
{
    Err err;
    cr_assert_eq(generator_build(older, cfg, &err), 0, "%s", err.msg);
    cr_assert_eq(generator_build(younger, cfg, &err), 0, "%s", err.msg);
    net_init_weights(older, 1);
    net_init_weights(younger, 2);
}

Test(model_file, round_trip)
{
    Err err;
    Net older = {0}, younger = {0}, loaded = {0};
    GeneratorArch arch = {{8, 2, UPSAMPLE_CONVT}, 64}, got;
    char path[256];
    path_in_dir(path, sizeof path, "model.safetensors");
    build_pair(&older, &younger, arch.gen);
    cr_assert_eq(model_file_save(path, &older, &younger, arch, ST_F32, &err), 0, "%s", err.msg);

    cr_assert_eq(model_file_load(path, AGE_OLDER, &loaded, &got, &err), 0, "%s", err.msg);
    cr_expect_eq(got.gen.ngf, 8);
    cr_expect_eq(got.gen.n_blocks, 2);
    cr_expect_eq(got.size, 64);
    cr_assert_eq(loaded.params.numel, older.params.numel);
    cr_expect_arr_eq(loaded.params.data, older.params.data, older.params.numel * sizeof(float));
    net_free(&loaded);

    cr_assert_eq(model_file_load(path, AGE_YOUNGER, &loaded, NULL, &err), 0, "%s", err.msg);
    cr_expect_arr_eq(loaded.params.data, younger.params.data, younger.params.numel * sizeof(float));
    net_free(&loaded);
    net_free(&older);
    net_free(&younger);
}

Test(model_file, resize_upsampling_round_trip)
{
    Err err;
    Net older = {0}, younger = {0}, loaded = {0};
    GeneratorArch arch = {{4, 1, UPSAMPLE_RESIZE}, 32}, got;
    char path[256];
    path_in_dir(path, sizeof path, "resize.safetensors");
    build_pair(&older, &younger, arch.gen);
    cr_assert_eq(model_file_save(path, &older, &younger, arch, ST_F32, &err), 0, "%s", err.msg);
    cr_assert_eq(model_file_load(path, AGE_YOUNGER, &loaded, &got, &err), 0, "%s", err.msg);
    cr_expect_eq(got.gen.upsample, UPSAMPLE_RESIZE);
    cr_assert_eq(loaded.n_layers, younger.n_layers);
    cr_expect_arr_eq(loaded.params.data, younger.params.data, younger.params.numel * sizeof(float));
    net_free(&loaded);
    net_free(&older);
    net_free(&younger);
}

Test(model_file, converted_seed_model_runs_as_in_pytorch)
{
    Err err;
    StFile *io = st_open("tests/fixtures/golden_model_io.safetensors", &err);
    cr_assert_not_null(io, "%s", err.msg);
    const size_t n = 3 * 32 * 32;
    float *x = malloc(n * sizeof *x), *want = malloc(n * sizeof *want);
    cr_assert_eq(st_read_f32(io, "input", x, n, &err), 0, "%s", err.msg);
    const AgeDirection dirs[2] = {AGE_OLDER, AGE_YOUNGER};
    const char *names[2] = {"young_to_old", "old_to_young"};
    for (int d = 0; d < 2; d++) {
        Net g = {0};
        GeneratorArch arch;
        cr_assert_eq(
            model_file_load("tests/fixtures/golden_model.safetensors", dirs[d], &g, &arch, &err), 0,
            "%s", err.msg);
        cr_expect_eq(arch.size, 32);
        Trace *t = trace_create(&g, 1, 32, 32, false, NULL, &err);
        cr_assert_not_null(t, "%s", err.msg);
        const float *y = net_forward(&g, t, x);
        cr_assert_eq(st_read_f32(io, names[d], want, n, &err), 0, "%s", err.msg);
        double max_diff = 0.0;
        for (size_t i = 0; i < n; i++)
            max_diff = fmax(max_diff, fabs((double)y[i] - want[i]));
        cr_expect_leq(max_diff, 1e-5, "%s: max difference from PyTorch %g", names[d], max_diff);
        trace_free(t);
        net_free(&g);
    }
    free(x);
    free(want);
    st_close(io);
}

// The default model written in F16 (ageshift train --half-model): about half the file, the
// weights within half's rounding, and the young-to-old generator's output on real faces within
// 40 dB of the F32 model's (pixels on 0..1), the bar bf16 inference meets.
Test(model_file, a_half_precision_model_keeps_40_db)
{
    Err err;
    Net older = {0}, younger = {0}, half = {0};
    GeneratorArch arch;
    const char *full = "samples/model.safetensors";
    cr_assert_eq(model_file_load(full, AGE_OLDER, &older, &arch, &err), 0, "%s", err.msg);
    cr_assert_eq(model_file_load(full, AGE_YOUNGER, &younger, NULL, &err), 0, "%s", err.msg);
    char path[256];
    path_in_dir(path, sizeof path, "half.safetensors");
    cr_assert_eq(model_file_save(path, &older, &younger, arch, ST_F16, &err), 0, "%s", err.msg);
    struct stat st_full, st_half;
    cr_assert_eq(stat(full, &st_full), 0);
    cr_assert_eq(stat(path, &st_half), 0);
    cr_expect_lt(st_half.st_size, st_full.st_size * 0.51, "%lld bytes against %lld",
                 (long long)st_half.st_size, (long long)st_full.st_size);
    cr_assert_eq(model_file_load(path, AGE_OLDER, &half, NULL, &err), 0, "%s", err.msg);
    for (size_t i = 0; i < older.params.numel; i++) {
        float a = older.params.data[i], b = half.params.data[i];
        cr_assert_leq(fabsf(a - b), fmaxf(fabsf(a) * 0x1p-11f, 0x1p-25f), "weight %zu", i);
    }
    const int size = arch.size;
    const size_t n = (size_t)3 * size * size;
    Trace *t_full = trace_create(&older, 1, size, size, false, NULL, &err);
    Trace *t_half = trace_create(&half, 1, size, size, false, NULL, &err);
    cr_assert(t_full && t_half, "%s", err.msg);
    float *x = malloc(n * sizeof *x);
    Image face = {0}, small = {0};
    for (int k = 0; k < 2; k++) {
        char face_path[4096];
        test_need_face("young", NULL, k, face_path);
        cr_assert_eq(image_load(face_path, &face, &err), 0, "%s", err.msg);
        cr_assert_eq(image_resize(&face, size, size, &small, &err), 0, "%s", err.msg);
        image_to_planar(&small, x);
        const float *a = net_forward(&older, t_full, x), *b = net_forward(&half, t_half, x);
        double mse = 0.0;
        for (size_t i = 0; i < n; i++) {
            double d = 0.5 * (a[i] - b[i]); // outputs are -1..1
            mse += d * d;
        }
        double psnr = 10.0 * log10(1.0 / fmax(mse / n, 1e-20));
        cr_expect_geq(psnr, 40.0, "%s: PSNR %.1f dB", face_path, psnr);
        cr_log_info("%s: the F16 model against the F32 one, PSNR %.1f dB", face_path, psnr);
        image_free(&face), image_free(&small);
    }
    free(x);
    trace_free(t_full), trace_free(t_half);
    net_free(&older), net_free(&younger), net_free(&half);
}

// Writes a model whose metadata and tensors are as given, for the refusal tests.
static void write_model_upsample(const char *path, const char *ngf_meta, const char *direction,
                                 GeneratorConfig tensors_cfg, const char *format,
                                 const char *upsample_meta)
{
    Err err;
    Net g = {0};
    cr_assert_eq(generator_build(&g, tensors_cfg, &err), 0);
    net_init_weights(&g, 3);
    param_data(&g.params, 0)[0] = 1234.5f; // a marker the NaN test finds in the file
    StWriter *w = st_writer_create();
    if (format)
        cr_assert_eq(st_writer_meta(w, "format", format, &err), 0);
    if (ngf_meta)
        cr_assert_eq(st_writer_meta(w, "G_A2B.ngf", ngf_meta, &err), 0);
    st_writer_meta(w, "G_A2B.arch", "generator", &err);
    st_writer_meta(w, "G_A2B.n_blocks", "1", &err);
    st_writer_meta(w, "G_A2B.size", "32", &err);
    st_writer_meta(w, "G_A2B.direction", direction, &err);
    if (upsample_meta)
        st_writer_meta(w, "G_A2B.upsample", upsample_meta, &err);
    cr_assert_eq(checkpoint_add_params(w, &g, "G_A2B.", ST_F32, &err), 0);
    cr_assert_eq(st_writer_save(w, path, &err), 0, "%s", err.msg);
    st_writer_free(w);
    net_free(&g);
}

static void write_model(const char *path, const char *ngf_meta, const char *direction,
                        GeneratorConfig tensors_cfg, const char *format)
{
    write_model_upsample(path, ngf_meta, direction, tensors_cfg, format, NULL);
}

static void expect_refused(const char *path, const char *phrase)
{
    Err err = {0};
    Net g = {0};
    cr_expect_neq(model_file_load(path, AGE_OLDER, &g, NULL, &err), 0, "%s was accepted", path);
    cr_expect_not_null(strstr(err.msg, path), "message lacks the file name: %s", err.msg);
    cr_expect_not_null(strstr(err.msg, phrase), "message lacks '%s': %s", phrase, err.msg);
    net_free(&g);
}

Test(model_file, good_hand_written_model_loads)
{
    char path[256];
    Err err;
    Net g = {0};
    path_in_dir(path, sizeof path, "good.safetensors");
    write_model(path, "4", "young_to_old", (GeneratorConfig){4, 1, UPSAMPLE_CONVT},
                MODEL_FILE_FORMAT);
    cr_expect_eq(model_file_load(path, AGE_OLDER, &g, NULL, &err), 0, "%s", err.msg);
    net_free(&g);
}

Test(model_file, refuses_missing_file)
{
    expect_refused("/nonexistent/model.safetensors", "/nonexistent/model.safetensors");
}

Test(model_file, refuses_a_file_that_is_not_a_model)
{
    expect_refused("tests/fixtures/golden_adam.safetensors", "not an ageshift model");
}

Test(model_file, refuses_wrong_format)
{
    char path[256];
    path_in_dir(path, sizeof path, "format.safetensors");
    write_model(path, "4", "young_to_old", (GeneratorConfig){4, 1, UPSAMPLE_CONVT},
                "something-else");
    expect_refused(path, "'format' is 'something-else'");
}

Test(model_file, refuses_missing_architecture)
{
    char path[256];
    path_in_dir(path, sizeof path, "noarch.safetensors");
    write_model(path, NULL, "young_to_old", (GeneratorConfig){4, 1, UPSAMPLE_CONVT},
                MODEL_FILE_FORMAT);
    expect_refused(path, "'G_A2B.ngf' is missing");
}

Test(model_file, refuses_bad_architecture_value)
{
    char path[256];
    path_in_dir(path, sizeof path, "badarch.safetensors");
    write_model(path, "four", "young_to_old", (GeneratorConfig){4, 1, UPSAMPLE_CONVT},
                MODEL_FILE_FORMAT);
    expect_refused(path, "expected an integer");
}

Test(model_file, refuses_wrong_direction)
{
    char path[256];
    path_in_dir(path, sizeof path, "dir.safetensors");
    write_model(path, "4", "old_to_young", (GeneratorConfig){4, 1, UPSAMPLE_CONVT},
                MODEL_FILE_FORMAT);
    expect_refused(path, "'G_A2B.direction' is 'old_to_young'");
}

Test(model_file, refuses_unknown_upsampling)
{
    char path[256];
    path_in_dir(path, sizeof path, "upsample.safetensors");
    write_model_upsample(path, "4", "young_to_old", (GeneratorConfig){4, 1, UPSAMPLE_CONVT},
                         MODEL_FILE_FORMAT, "bilinear");
    expect_refused(path, "'G_A2B.upsample' is 'bilinear', expected 'convt' or 'resize'");
}

Test(model_file, refuses_transposed_weights_for_a_resize_model)
{
    char path[256];
    path_in_dir(path, sizeof path, "mixed.safetensors");
    write_model_upsample(path, "4", "young_to_old", (GeneratorConfig){4, 1, UPSAMPLE_CONVT},
                         MODEL_FILE_FORMAT, "resize");
    expect_refused(path, "G_A2B.model.13.weight");
}

Test(model_file, refuses_shapes_of_another_architecture)
{
    char path[256];
    path_in_dir(path, sizeof path, "shape.safetensors");
    // Metadata says ngf 8, the tensors are those of ngf 4.
    write_model(path, "8", "young_to_old", (GeneratorConfig){4, 1, UPSAMPLE_CONVT},
                MODEL_FILE_FORMAT);
    expect_refused(path, "'G_A2B.model.1.weight' has shape (4, 3, 7, 7) but the architecture "
                         "needs (8, 3, 7, 7)");
}

// A small file whose metadata claims the largest architecture (ngf 1024, 64 blocks: 78 GB of
// parameters) is refused from its tensors' shapes, before anything that size is allocated
// (under SANITIZE=1, ASan would abort on the allocation).
Test(model_file, refuses_a_huge_architecture_before_allocating_it)
{
    char path[256];
    Err err;
    Net g = {0};
    path_in_dir(path, sizeof path, "huge.safetensors");
    cr_assert_eq(generator_build(&g, (GeneratorConfig){1, 1, UPSAMPLE_CONVT}, &err), 0);
    StWriter *w = st_writer_create();
    const char *meta[][2] = {{"format", MODEL_FILE_FORMAT}, {"G_A2B.arch", "generator"},
                             {"G_A2B.ngf", "1024"},         {"G_A2B.n_blocks", "64"},
                             {"G_A2B.size", "32"},          {"G_A2B.direction", "young_to_old"}};
    for (size_t i = 0; i < sizeof meta / sizeof meta[0]; i++)
        cr_assert_eq(st_writer_meta(w, meta[i][0], meta[i][1], &err), 0);
    cr_assert_eq(checkpoint_add_params(w, &g, "G_A2B.", ST_F32, &err), 0);
    cr_assert_eq(st_writer_save(w, path, &err), 0, "%s", err.msg);
    st_writer_free(w);
    net_free(&g);
    expect_refused(path, "'G_A2B.model.1.weight' has shape (1, 3, 7, 7) but the architecture "
                         "needs (1024, 3, 7, 7)");
}

Test(model_file, refuses_missing_tensor)
{
    char path[256];
    path_in_dir(path, sizeof path, "blocks.safetensors");
    // One block of tensors, but a model with 2 blocks is asked for by the metadata below.
    write_model(path, "4", "young_to_old", (GeneratorConfig){4, 1, UPSAMPLE_CONVT},
                MODEL_FILE_FORMAT);
    // Rewrite n_blocks: load, copy every tensor, change the metadata.
    Err err;
    StFile *f = st_open(path, &err);
    cr_assert_not_null(f);
    StWriter *w = st_writer_create();
    const char *keys[] = {"format", "G_A2B.ngf", "G_A2B.arch", "G_A2B.size", "G_A2B.direction"};
    for (int i = 0; i < 5; i++)
        st_writer_meta(w, keys[i], st_meta(f, keys[i]), &err);
    st_writer_meta(w, "G_A2B.n_blocks", "2", &err);
    for (int i = 0; i < st_count(f); i++) {
        const StTensor *t = st_get(f, i);
        cr_assert_eq(st_writer_add_f32(w, t->name, t->ndim, t->shape, t->data, &err), 0);
    }
    st_close(f);
    cr_assert_eq(st_writer_save(w, path, &err), 0);
    st_writer_free(w);
    expect_refused(path, "'G_A2B.model.11.conv_block.1.weight' is missing");
}

static void patch_marker_to(const char *path, uint32_t bits)
{
    FILE *fp = fopen(path, "r+b");
    cr_assert_not_null(fp);
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    unsigned char *buf = malloc(len);
    rewind(fp);
    cr_assert_eq(fread(buf, 1, len, fp), (size_t)len);
    float marker = 1234.5f;
    long at = -1;
    for (long i = 0; i + 4 <= len && at < 0; i++)
        if (memcmp(buf + i, &marker, 4) == 0)
            at = i;
    cr_assert_geq(at, 0, "marker not found");
    fseek(fp, at, SEEK_SET);
    fwrite(&bits, 4, 1, fp);
    fclose(fp);
    free(buf);
}

Test(model_file, refuses_nan_weights)
{
    char path[256];
    path_in_dir(path, sizeof path, "nan.safetensors");
    write_model(path, "4", "young_to_old", (GeneratorConfig){4, 1, UPSAMPLE_CONVT},
                MODEL_FILE_FORMAT);
    patch_marker_to(path, 0x7fc00000u); // quiet NaN
    expect_refused(path, "model.1.weight");
}

Test(model_file, refuses_inf_weights)
{
    char path[256];
    path_in_dir(path, sizeof path, "inf.safetensors");
    write_model(path, "4", "young_to_old", (GeneratorConfig){4, 1, UPSAMPLE_CONVT},
                MODEL_FILE_FORMAT);
    patch_marker_to(path, 0x7f800000u); // +Inf
    expect_refused(path, "model.1.weight");
}

Test(model_file, refuses_truncated_file)
{
    char path[256];
    path_in_dir(path, sizeof path, "cut.safetensors");
    write_model(path, "4", "young_to_old", (GeneratorConfig){4, 1, UPSAMPLE_CONVT},
                MODEL_FILE_FORMAT);
    FILE *fp = fopen(path, "rb");
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fclose(fp);
    cr_assert_eq(truncate(path, len / 2), 0);
    expect_refused(path, "cut.safetensors");
}

Test(model_file, save_into_missing_directory_fails)
{
    Err err = {0};
    Net older = {0}, younger = {0};
    GeneratorArch arch = {{4, 1, UPSAMPLE_CONVT}, 32};
    build_pair(&older, &younger, arch.gen);
    cr_expect_neq(
        model_file_save("/nonexistent/dir/model.safetensors", &older, &younger, arch, ST_F32, &err), 0);
    cr_expect_not_null(strstr(err.msg, "/nonexistent/dir/model.safetensors"), "%s", err.msg);
    net_free(&older);
    net_free(&younger);
}
