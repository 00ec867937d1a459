// The model a command uses when --model is not given.
#ifndef AGESHIFT_CLI_DEFAULT_MODEL_H
#define AGESHIFT_CLI_DEFAULT_MODEL_H

// GIVEN when not NULL; else the first of: samples/model.safetensors under the current folder,
// under the executable's folder (a checkout run from elsewhere), and the copy `make install`
// puts in AGESHIFT_DATADIR. When none is there, says where it looked and returns NULL.
const char *model_or_default(const char *command, const char *given);

#endif
