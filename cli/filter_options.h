// The options every face-filtering command shares (--to, --model, --strength, ...).
#ifndef AGESHIFT_CLI_FILTER_OPTIONS_H
#define AGESHIFT_CLI_FILTER_OPTIONS_H

#include <stdio.h>

#include "filter/ageshift.h"

// The long options, to append to a command's own table, and their help text.
#define FILTER_LONG_OPTIONS                                                                        \
    {"to", 1, 0, 0x1001}, {"model", 1, 0, 0x1002}, {"strength", 1, 0, 0x1003},                     \
        {"max-faces", 1, 0, 0x1004}, {"detect-every", 1, 0, 0x1005}, {"min-face", 1, 0, 0x1006},   \
        {"cascade", 1, 0, 0x1007}, {"generate-every", 1, 0, 0x1009},                               \
    {                                                                                              \
        "threads", 1, 0, 0x1008                                                                    \
    }
void filter_options_help(FILE *out);

// Handles one getopt_long result; returns 1 if it was a filter option, 0 if not, -1 on a bad
// value (after printing why).
int filter_option(AgeshiftOptions *o, int c, const char *arg, bool *direction_given);

#endif
