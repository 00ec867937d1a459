#include "core/model/checkpoint.h"

#include <stdio.h>
#include <string.h>

static void format_shape(char *buf, size_t len, int ndim, const int64_t *shape)
{
    size_t used = (size_t)snprintf(buf, len, "(");
    for (int d = 0; d < ndim && used < len; d++)
        used +=
            (size_t)snprintf(buf + used, len - used, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (used < len)
        snprintf(buf + used, len - used, ")");
}

static int add_buffer(StWriter *w, const ParamSet *ps, const float *base, const char *prefix,
                      StDtype dtype, Err *err)
{
    for (int i = 0; i < ps->count; i++) {
        const ParamInfo *p = &ps->info[i];
        char name[256];
        int64_t shape[PARAM_MAX_DIMS];
        for (int d = 0; d < p->ndim; d++)
            shape[d] = p->shape[d];
        snprintf(name, sizeof name, "%s%s", prefix, p->name);
        if (st_writer_add(w, name, p->ndim, shape, base + p->offset, dtype, err) != 0)
            return -1;
    }
    return 0;
}

int checkpoint_add_buffer(StWriter *w, const ParamSet *ps, const float *base, const char *prefix,
                          Err *err)
{
    return add_buffer(w, ps, base, prefix, ST_F32, err);
}

int checkpoint_add_params(StWriter *w, const Net *net, const char *prefix, StDtype dtype,
                          Err *err)
{
    return add_buffer(w, &net->params, net->params.data, prefix, dtype, err);
}

// The tensor prefix + p's name of f, which must exist with p's shape; its name goes to NAME.
static int check_param(const StFile *f, const ParamInfo *p, const char *prefix, char *name,
                       size_t len, Err *err)
{
    snprintf(name, len, "%s%s", prefix, p->name);
    const StTensor *t = st_find(f, name);
    if (!t)
        return err_set(err, "%s: tensor '%s' is missing", st_path(f), name);
    int64_t want[PARAM_MAX_DIMS];
    bool same = t->ndim == p->ndim;
    for (int d = 0; d < p->ndim; d++) {
        want[d] = p->shape[d];
        same = same && t->shape[d] == want[d];
    }
    if (!same) {
        char got_s[128], want_s[128];
        format_shape(got_s, sizeof got_s, t->ndim, t->shape);
        format_shape(want_s, sizeof want_s, p->ndim, want);
        return err_set(err, "%s: tensor '%s' has shape %s but the architecture needs %s",
                       st_path(f), name, got_s, want_s);
    }
    return 0;
}

int checkpoint_check_params(const StFile *f, const ParamSet *ps, const char *prefix, Err *err)
{
    char name[256];
    for (int i = 0; i < ps->count; i++)
        if (check_param(f, &ps->info[i], prefix, name, sizeof name, err) != 0)
            return -1;
    return 0;
}

int checkpoint_load_buffer(const StFile *f, const ParamSet *ps, float *base, const char *prefix,
                           Err *err)
{
    for (int i = 0; i < ps->count; i++) {
        const ParamInfo *p = &ps->info[i];
        char name[256];
        if (check_param(f, p, prefix, name, sizeof name, err) != 0 ||
            st_read_f32(f, name, base + p->offset, p->numel, err) != 0)
            return -1;
    }
    return 0;
}

int checkpoint_load_params(const StFile *f, Net *net, const char *prefix, Err *err)
{
    return checkpoint_load_buffer(f, &net->params, net->params.data, prefix, err);
}
