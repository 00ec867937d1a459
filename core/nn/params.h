// A network's parameters: one allocation sliced into named tensors (named as the PyTorch
// state_dict of the seed's networks), with gradients and Adam moments beside them.
#ifndef AGESHIFT_PARAMS_H
#define AGESHIFT_PARAMS_H

#include <stddef.h>

#include "core/base/err.h"

#define PARAM_NAME_MAX 64
#define PARAM_MAX_DIMS 4

typedef struct {
    char name[PARAM_NAME_MAX];
    int ndim;
    int shape[PARAM_MAX_DIMS];
    size_t offset, numel; // in floats, within ParamSet.data
} ParamInfo;

typedef struct {
    int count, capacity;
    ParamInfo *info;
    size_t numel;
    float *data;
    float *grad;     // NULL until paramset_enable_training
    float *m, *v;    // Adam moments, NULL until paramset_enable_training
    long adam_steps; // Adam's t
} ParamSet;

// Declares a tensor; returns its index or -1. Declarations come before paramset_alloc.
int paramset_add(ParamSet *ps, const char *name, int ndim, const int *shape, Err *err);
int paramset_alloc(ParamSet *ps, Err *err);
int paramset_enable_training(ParamSet *ps, Err *err); // allocates grad, m, v (zeroed)
void paramset_free(ParamSet *ps);                     // leaves ps zeroed; NULL is a no-op

float *param_data(const ParamSet *ps, int i);
float *param_grad(const ParamSet *ps, int i);
int paramset_find(const ParamSet *ps, const char *name); // index or -1
void paramset_zero_grad(ParamSet *ps);

#endif
