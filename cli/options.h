// Command-line options described once, in a table (in the spirit of FFmpeg's AVOption arrays):
// each entry names an option, the field it sets (an offset into the command's settings
// struct), its type and range, and its help. From the table come the getopt_long options, the
// parsing and range checks, and the help text, whose defaults are printed from the values of a
// defaults struct, so that no default is ever written twice.
#ifndef AGESHIFT_CLI_OPTIONS_H
#define AGESHIFT_CLI_OPTIONS_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum {
    OPT_SECTION, // not an option: a heading in the help (name is the heading)
    OPT_STRING,  // const char *, the argument itself
    OPT_INT,     // int in [min, max]
    OPT_LONG,    // long in [min, max]
    OPT_U64,     // uint64_t
    OPT_FLOAT,   // float in [min, max]
    OPT_DOUBLE,  // double in [min, max]
    OPT_CHOICE,  // int (or enum): the index of the argument among choices
    OPT_RANGE,   // "A-B": ints at offset (A) and offset2 (B), min <= A <= B <= max
    OPT_SIZE,    // "WxH": ints at offset (W) and offset2 (H), each in [min, max]
    OPT_SET,     // no argument: the bool at offset becomes true
    OPT_CLEAR,   // no argument: the bool at offset becomes false
} OptionType;

enum {
    OPT_REQUIRED = 1,   // the command needs it; the help says so instead of a default
    OPT_NO_DEFAULT = 2, // the help shows no default
};

typedef struct {
    const char *name; // without "--"; may contain ':' as in -c:v
    const char *arg;  // the argument's name in the help ("N", "FILE"); NULL for flags
    OptionType type;
    size_t offset, offset2;
    double min, max;
    const char *help;
    const char *const *choices; // OPT_CHOICE: the words, NULL-terminated
    // What a default of 0 (or NULL) means, shown instead of it ("one per CPU").
    const char *zero_means;
    unsigned flags;
} Option;

#define OPTIONS_MAX 64

// One table being parsed into one struct. val_base tells its getopt values from those of other
// tables and of the command's own options (use a distinct multiple of 0x100 per table, from
// 0x1000).
typedef struct {
    const Option *table;
    int count;
    void *base;
    int val_base;
    bool given[OPTIONS_MAX];
} OptionSet;

// Appends the table's options to opts[*n ...] (at most cap entries in all, the terminating
// zero entry included) and keeps opts zero-terminated.
void options_getopt(const OptionSet *s, struct option *opts, int *n, int cap);

// For a getopt_long result c with argument arg: 0 when c is not one of the set's options; 1
// when it is and its value was stored; -1 when the value is bad (after printing why, naming
// the option).
int options_apply(OptionSet *s, int c, const char *arg);

// Whether the option of that name was on the command line.
bool options_given(const OptionSet *s, const char *name);

// The name of the first OPT_REQUIRED option not given, or NULL.
const char *options_missing(const OptionSet *s);
// Whether one is missing, after saying which ("ageshift image: --to is required").
bool options_report_missing(const OptionSet *s, const char *command);

// The help lines of a table, with the defaults read from `defaults` (a struct of the kind the
// offsets point into).
void options_help(FILE *out, const Option *table, int count, const void *defaults);

// Help lines for a command's own option that is not in a table, aligned with the rest.
void options_help_line(FILE *out, const char *names, const char *help);

#endif
