#include "core/model/model_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model/checkpoint.h"
#include "core/model/safetensors.h"

static const char *prefix_of(AgeDirection dir)
{
    return dir == AGE_OLDER ? "G_A2B" : "G_B2A";
}

static const char *direction_name(AgeDirection dir)
{
    return dir == AGE_OLDER ? "young_to_old" : "old_to_young";
}

static int put_meta(StWriter *w, const char *prefix, const char *key, const char *value, Err *err)
{
    char k[64];
    snprintf(k, sizeof k, "%s.%s", prefix, key);
    return st_writer_meta(w, k, value, err);
}

static int put_generator(StWriter *w, const Net *net, AgeDirection dir, GeneratorArch arch,
                         StDtype dtype, Err *err)
{
    const char *p = prefix_of(dir);
    char ngf[16], blocks[16], size[16], prefix[16];
    snprintf(ngf, sizeof ngf, "%d", arch.gen.ngf);
    snprintf(blocks, sizeof blocks, "%d", arch.gen.n_blocks);
    snprintf(size, sizeof size, "%d", arch.size);
    snprintf(prefix, sizeof prefix, "%s.", p);
    if (put_meta(w, p, "arch", "generator", err) || put_meta(w, p, "ngf", ngf, err) ||
        put_meta(w, p, "n_blocks", blocks, err) || put_meta(w, p, "size", size, err) ||
        put_meta(w, p, "upsample", upsample_name(arch.gen.upsample), err) ||
        put_meta(w, p, "direction", direction_name(dir), err))
        return -1;
    return checkpoint_add_params(w, net, prefix, dtype, err);
}

int model_file_save(const char *path, const Net *young_to_old, const Net *old_to_young,
                    GeneratorArch arch, StDtype dtype, Err *err)
{
    StWriter *w = st_writer_create();
    if (!w)
        return err_set(err, "out of memory");
    int rc = -1;
    if (st_writer_meta(w, "format", MODEL_FILE_FORMAT, err) ||
        st_writer_meta(w, "version", "1", err) || st_writer_meta(w, "domain_A", "young", err) ||
        st_writer_meta(w, "domain_B", "old", err) ||
        put_generator(w, young_to_old, AGE_OLDER, arch, dtype, err) ||
        put_generator(w, old_to_young, AGE_YOUNGER, arch, dtype, err))
        goto done;
    rc = st_writer_save(w, path, err);
done:
    st_writer_free(w);
    return rc;
}

// The integer metadata value "<prefix>.<key>", which must lie in [lo, hi].
static int meta_int(const StFile *f, const char *prefix, const char *key, int lo, int hi, int *out,
                    Err *err)
{
    char k[64];
    snprintf(k, sizeof k, "%s.%s", prefix, key);
    const char *v = st_meta(f, k);
    if (!v)
        return err_set(err, "%s: metadata '%s' is missing", st_path(f), k);
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return err_set(err, "%s: metadata '%s' is '%s', expected an integer in [%d, %d]",
                       st_path(f), k, v, lo, hi);
    *out = (int)x;
    return 0;
}

static int expect_meta(const StFile *f, const char *key, const char *want, Err *err)
{
    const char *v = st_meta(f, key);
    if (!v || strcmp(v, want) != 0)
        return err_set(err, "%s: metadata '%s' is %s%s%s, expected '%s'", st_path(f), key,
                       v ? "'" : "", v ? v : "missing", v ? "'" : "", want);
    return 0;
}

int model_file_load(const char *path, AgeDirection dir, Net *net, GeneratorArch *arch, Err *err)
{
    StFile *f = st_open(path, err);
    if (!f)
        return -1;
    const char *p = prefix_of(dir);
    char key[64], prefix[16];
    int rc = -1;
    GeneratorArch a;
    if (!st_meta(f, "format")) {
        err_set(err, "%s: not an ageshift model (no 'format' in its metadata)", path);
        goto done;
    }
    if (expect_meta(f, "format", MODEL_FILE_FORMAT, err))
        goto done;
    snprintf(key, sizeof key, "%s.arch", p);
    if (expect_meta(f, key, "generator", err))
        goto done;
    snprintf(key, sizeof key, "%s.direction", p);
    if (expect_meta(f, key, direction_name(dir), err))
        goto done;
    if (meta_int(f, p, "ngf", 1, 1024, &a.gen.ngf, err) ||
        meta_int(f, p, "n_blocks", 0, 64, &a.gen.n_blocks, err) ||
        meta_int(f, p, "size", 16, 4096, &a.size, err))
        goto done;
    // Files from before the option (and the seed's, converted) have transposed convolutions.
    snprintf(key, sizeof key, "%s.upsample", p);
    const char *up = st_meta(f, key);
    a.gen.upsample = UPSAMPLE_CONVT;
    if (up && upsample_parse(up, &a.gen.upsample)) {
        err_set(err, "%s: metadata '%s' is '%s', expected 'convt' or 'resize'", path, key, up);
        goto done;
    }
    if (a.size % 4) {
        err_set(err, "%s: metadata '%s.size' is %d, not a multiple of 4", path, p, a.size);
        goto done;
    }
    // The parameters are allocated only once the file is known to hold them all: a 9 KB file
    // whose metadata claimed ngf 1024 and 64 blocks had the loader ask for 78 GB (found by
    // fuzzing).
    if (generator_declare(net, a.gen, err))
        goto done;
    snprintf(prefix, sizeof prefix, "%s.", p);
    if (checkpoint_check_params(f, &net->params, prefix, err) ||
        paramset_alloc(&net->params, err) || checkpoint_load_params(f, net, prefix, err)) {
        net_free(net);
        goto done;
    }
    if (arch)
        *arch = a;
    rc = 0;
done:
    st_close(f);
    return rc;
}
