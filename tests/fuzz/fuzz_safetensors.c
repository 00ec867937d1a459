// safetensors files, and the model file on top: every tensor of a file that opens is read back
// as float32, and both generators are loaded from it as the filter would.
#include "tests/fuzz/fuzz_targets.h"

#include <stdlib.h>
#include <string.h>

#include "core/model/model_file.h"
#include "core/model/safetensors.h"

static void count_meta(const char *key, const char *value, void *ctx)
{
    *(size_t *)ctx += strlen(key) + strlen(value);
}

// Each tensor's values: the bytes are inside the file, so the buffer is at most twice its size.
static void read_tensors(const StFile *f)
{
    for (int i = 0; i < st_count(f); i++) {
        const StTensor *t = st_get(f, i);
        if (!t || st_find(f, t->name) != t || t->nbytes != t->numel * (t->dtype == ST_F16 ? 2 : 4))
            abort();
        float *dst = malloc(t->numel ? t->numel * sizeof *dst : 1);
        if (!dst)
            abort();
        Err err = {""};
        if (st_read_f32(f, t->name, dst, t->numel, &err) != 0)
            fuzz_expect_reason("safetensors", &err); // NaN or Inf
        free(dst);
    }
}

int fuzz_safetensors(const uint8_t *data, size_t size)
{
    const char *path = fuzz_input_path(data, size);
    Err err = {""};
    StFile *f = st_open(path, &err);
    if (!f) {
        fuzz_expect_reason("safetensors", &err);
        return 0;
    }
    size_t meta = 0;
    st_meta_foreach(f, count_meta, &meta);
    read_tensors(f);
    bool is_model = st_meta(f, "format") != NULL;
    st_close(f);
    if (!is_model)
        return 1;
    for (int dir = AGE_OLDER; dir <= AGE_YOUNGER; dir++) {
        Net net = {0};
        GeneratorArch arch;
        Err merr = {""};
        if (model_file_load(path, (AgeDirection)dir, &net, &arch, &merr) == 0)
            net_free(&net);
        else
            fuzz_expect_reason("safetensors", &merr);
    }
    return 1;
}
