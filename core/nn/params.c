#include "core/nn/params.h"

#include <stdlib.h>
#include <string.h>

int paramset_add(ParamSet *ps, const char *name, int ndim, const int *shape, Err *err)
{
    if (ps->data)
        return err_set(err, "parameter '%s' declared after allocation", name);
    if (ndim < 1 || ndim > PARAM_MAX_DIMS || strlen(name) >= PARAM_NAME_MAX)
        return err_set(err, "parameter '%s': bad name or rank", name);
    if (ps->count == ps->capacity) {
        int cap = ps->capacity ? 2 * ps->capacity : 32;
        ParamInfo *info = realloc(ps->info, (size_t)cap * sizeof *info);
        if (!info)
            return err_set(err, "out of memory declaring parameters");
        ps->info = info;
        ps->capacity = cap;
    }
    ParamInfo *p = &ps->info[ps->count];
    memset(p, 0, sizeof *p);
    strcpy(p->name, name);
    p->ndim = ndim;
    p->numel = 1;
    for (int d = 0; d < ndim; d++) {
        p->shape[d] = shape[d];
        p->numel *= (size_t)shape[d];
    }
    p->offset = ps->numel;
    ps->numel += p->numel;
    return ps->count++;
}

static float *zalloc_floats(size_t n)
{
    return calloc(n ? n : 1, sizeof(float));
}

int paramset_alloc(ParamSet *ps, Err *err)
{
    ps->data = zalloc_floats(ps->numel);
    if (!ps->data)
        return err_set(err, "out of memory for %zu parameters", ps->numel);
    return 0;
}

int paramset_enable_training(ParamSet *ps, Err *err)
{
    if (ps->grad)
        return 0;
    ps->grad = zalloc_floats(ps->numel);
    ps->m = zalloc_floats(ps->numel);
    ps->v = zalloc_floats(ps->numel);
    if (!ps->grad || !ps->m || !ps->v) {
        free(ps->grad), free(ps->m), free(ps->v);
        ps->grad = ps->m = ps->v = NULL;
        return err_set(err, "out of memory for gradients of %zu parameters", ps->numel);
    }
    ps->adam_steps = 0;
    return 0;
}

void paramset_free(ParamSet *ps)
{
    if (!ps)
        return;
    free(ps->info);
    free(ps->data);
    free(ps->grad);
    free(ps->m);
    free(ps->v);
    memset(ps, 0, sizeof *ps);
}

float *param_data(const ParamSet *ps, int i)
{
    return ps->data + ps->info[i].offset;
}

float *param_grad(const ParamSet *ps, int i)
{
    return ps->grad + ps->info[i].offset;
}

int paramset_find(const ParamSet *ps, const char *name)
{
    for (int i = 0; i < ps->count; i++)
        if (strcmp(ps->info[i].name, name) == 0)
            return i;
    return -1;
}

void paramset_zero_grad(ParamSet *ps)
{
    if (ps->grad)
        memset(ps->grad, 0, ps->numel * sizeof(float));
}
