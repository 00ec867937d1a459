// Network parameters in safetensors files, under a name prefix so that one file can hold
// several networks ("G_A2B.model.1.weight"), with the architecture in the metadata.
#ifndef AGESHIFT_CHECKPOINT_H
#define AGESHIFT_CHECKPOINT_H

#include "core/nn/net.h"
#include "core/model/safetensors.h"

// Adds every parameter of net as prefix + state_dict name, stored as dtype (st_writer_add).
int checkpoint_add_params(StWriter *w, const Net *net, const char *prefix, StDtype dtype,
                          Err *err);
// Loads every parameter of net from prefix + name. Refuses a missing tensor, a shape that does
// not match the network's architecture, and NaN/Inf values, naming file and tensor.
int checkpoint_load_params(const StFile *f, Net *net, const char *prefix, Err *err);

// Checks that f holds every parameter of ps under prefix, shaped as the architecture needs,
// without reading a value: a loader can refuse a file before allocating the parameters.
int checkpoint_check_params(const StFile *f, const ParamSet *ps, const char *prefix, Err *err);

// The same, in F32, for any buffer laid out like the parameters (the Adam moments ps->m, ps->v).
int checkpoint_add_buffer(StWriter *w, const ParamSet *ps, const float *base, const char *prefix,
                          Err *err);
int checkpoint_load_buffer(const StFile *f, const ParamSet *ps, float *base, const char *prefix,
                           Err *err);

#endif
