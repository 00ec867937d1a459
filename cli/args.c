#include "cli/args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

int arg_int(const char *option, const char *text, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) {
        fprintf(stderr, "ageshift: %s: '%s' is not an integer in [%ld, %ld]\n", option, text, lo,
                hi);
        return -1;
    }
    *out = (long)v;
    return 0;
}

int arg_u64(const char *option, const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || *text == '-') {
        fprintf(stderr, "ageshift: %s: '%s' is not a non-negative integer\n", option, text);
        return -1;
    }
    *out = v;
    return 0;
}

int arg_float(const char *option, const char *text, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= lo && v <= hi)) {
        fprintf(stderr, "ageshift: %s: '%s' is not a number in [%g, %g]\n", option, text, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int arg_age_range(const char *option, const char *text, int *lo, int *hi)
{
    int a, b, n = 0;
    if (sscanf(text, "%d-%d%n", &a, &b, &n) != 2 || text[n] || a < 0 || a > b || b > 150) {
        fprintf(stderr, "ageshift: %s: '%s' is not an age range like 20-30\n", option, text);
        return -1;
    }
    *lo = a;
    *hi = b;
    return 0;
}
