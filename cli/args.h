// Small parsers shared by the subcommands' option handling; each prints what was wrong.
#ifndef AGESHIFT_CLI_ARGS_H
#define AGESHIFT_CLI_ARGS_H

#include <stdint.h>

// Parse a whole decimal integer in [lo, hi]; on failure print "ageshift: OPTION: ..." and return
// -1.
int arg_int(const char *option, const char *text, long lo, long hi, long *out);
int arg_u64(const char *option, const char *text, uint64_t *out);
int arg_float(const char *option, const char *text, double lo, double hi, double *out);
// "A-B" with 0 <= A <= B <= 150.
int arg_age_range(const char *option, const char *text, int *lo, int *hi);

#endif
