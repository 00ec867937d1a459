// make bench, the filter: per-stage milliseconds and overall frames per second of ageshift
// convert on a 1280x720 clip with one face, with a (128 px, 6 blocks, ngf 32) generator of
// random weights (what is measured is speed, not looks), and with MODEL (the default model)
// where given. Usage:
//   bench_filter CLIP.mp4 WORKDIR [MODEL]
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/base/blas_setup.h"
#include "core/base/clock.h"
#include "core/model/model_file.h"
#include "filter/ageshift.h"
#include "media/transcode.h"

static int process(void *ctx, AVFrame *frame, Err *err)
{
    return ageshift_process(ctx, frame, err);
}

// Converts clip with the model at model_path (described by label) and prints the stages.
static int bench(const char *clip, const char *model_path, const char *label, const char *out,
                 Err *err)
{
    AgeshiftOptions o = ageshift_options_default();
    o.model_path = model_path;
    AgeshiftFilter *f = ageshift_open(&o, err);
    if (!f)
        return -1;
    TranscodeOptions to = transcode_options_default();
    double t0 = clock_now_s();
    if (transcode_file(clip, out, &to, process, f, err)) {
        ageshift_close(f);
        return -1;
    }
    double total = clock_now_s() - t0;
    AgeshiftStats s;
    ageshift_stats(f, &s);
    ageshift_close(f);
    double n = s.frames > 0 ? (double)s.frames : 1.0;
    double stages =
        s.detect_ms + s.landmarks_ms + s.convert_ms + s.crop_ms + s.generator_ms + s.blend_ms;
    printf("1280x720, one face, %s, detect every %d frames, generate every %d, %ld frames, %ld "
           "faces, %ld generator runs\n",
           label, o.detect_every, o.generate_every, s.frames, s.faces, s.generated);
    printf("  %-28s %8.2f ms/frame\n", "detect (+ tracking)", s.detect_ms / n);
    printf("  %-28s %8.2f ms/frame\n", "landmarks, smoothing, mask", s.landmarks_ms / n);
    printf("  %-28s %8.2f ms/frame\n", "face region to/from RGB", s.convert_ms / n);
    printf("  %-28s %8.2f ms/frame\n", "aligned crop", s.crop_ms / n);
    printf("  %-28s %8.2f ms/frame\n", "generator", s.generator_ms / n);
    printf("  %-28s %8.2f ms/frame\n", "blend", s.blend_ms / n);
    printf("  %-28s %8.2f ms/frame\n", "decode + encode + rest", (total * 1e3 - stages) / n);
    printf("  %-28s %8.2f fps (real time: 30)\n", "overall", n / total);
    return 0;
}

int main(int argc, char **argv)
{
    Err err;
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: bench_filter CLIP WORKDIR [MODEL]\n");
        return 2;
    }
    if (blas_select_kernel(argv, &err))
        fprintf(stderr, "bench_filter: warning: %s\n", err.msg);
    char model[4096], out[4096];
    snprintf(model, sizeof model, "%s/bench_model.safetensors", argv[2]);
    snprintf(out, sizeof out, "%s/bench_out.mp4", argv[2]);
    GeneratorArch arch = {{32, 6, UPSAMPLE_CONVT}, 128};
    Net a = {0}, b = {0};
    if (generator_build(&a, arch.gen, &err) || generator_build(&b, arch.gen, &err))
        goto fail;
    net_init_weights(&a, 1);
    net_init_weights(&b, 2);
    if (model_file_save(model, &a, &b, arch, ST_F32, &err))
        goto fail;
    net_free(&a);
    net_free(&b);
    if (bench(argv[1], model, "generator (128, 6, 32)", out, &err))
        goto fail;
    if (argc == 4 && bench(argv[1], argv[3], "the default model", out, &err))
        goto fail;
    return 0;
fail:
    net_free(&a);
    net_free(&b);
    fprintf(stderr, "bench_filter: %s\n", err.msg);
    return 1;
}
