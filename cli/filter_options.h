// The options every face-filtering command shares (--to, --model, --strength, ...), as one
// option table over AgeshiftOptions.
#ifndef AGESHIFT_CLI_FILTER_OPTIONS_H
#define AGESHIFT_CLI_FILTER_OPTIONS_H

#include <stdio.h>

#include "cli/options.h"
#include "filter/ageshift.h"

// getopt values of the filter options start here; a command's own table takes another base.
#define FILTER_OPTIONS_VAL_BASE 0x1000

// Starts parsing the filter options into *o, whose values are the command's defaults.
void filter_options_begin(OptionSet *s, AgeshiftOptions *o);

// The help lines, with the command's defaults.
void filter_options_help(FILE *out, const AgeshiftOptions *defaults);

#endif
