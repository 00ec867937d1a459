// The options every face-filtering command shares (--to, --model, --strength, ...), as one
// option table over AgeshiftOptions.
#ifndef AGESHIFT_CLI_FILTER_OPTIONS_H
#define AGESHIFT_CLI_FILTER_OPTIONS_H

#include <stdio.h>

#include "cli/commands.h"
#include "cli/options.h"
#include "filter/ageshift.h"

// The table entries of --to, --model and --threads, which commands with a settings struct of
// their own share (translate); OFF is the offset of an AgeDirection, a const char * and an int.
extern const char *const age_direction_words[]; // "old", "young": AgeDirection's order
#define OPTION_TO(off)                                                                             \
    {                                                                                              \
        .name = "to", .arg = "old|young", .type = OPT_CHOICE, .offset = (off),                     \
        .choices = age_direction_words, .help = "the direction", .flags = OPT_REQUIRED             \
    }
#define OPTION_MODEL(off)                                                                          \
    {                                                                                              \
        .name = "model", .arg = "FILE", .type = OPT_STRING, .offset = (off),                       \
        .help = "a model.safetensors from ageshift train", .zero_means = DEFAULT_MODEL             \
    }
#define OPTION_THREADS(off)                                                                        \
    {                                                                                              \
        .name = "threads", .arg = "N", .type = OPT_INT, .offset = (off), .min = 1, .max = 64,      \
        .help = "worker threads", .zero_means = "one per CPU"                                      \
    }

// getopt values of the filter options start here; a command's own table takes another base.
#define FILTER_OPTIONS_VAL_BASE 0x1000

// Starts parsing the filter options into *o, whose values are the command's defaults.
void filter_options_begin(OptionSet *s, AgeshiftOptions *o);

// The help lines, with the command's defaults.
void filter_options_help(FILE *out, const AgeshiftOptions *defaults);

#endif
