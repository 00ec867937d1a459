#include "cli/options.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli/args.h"

#define HELP_INDENT 23 // "  --max-faces N        " then the help
#define HELP_WIDTH 96

static bool takes_argument(const Option *o)
{
    return o->type != OPT_SET && o->type != OPT_CLEAR;
}

void options_getopt(const OptionSet *s, struct option *opts, int *n, int cap)
{
    for (int i = 0; i < s->count && *n < cap - 1; i++) {
        const Option *o = &s->table[i];
        if (o->type == OPT_SECTION)
            continue;
        opts[(*n)++] = (struct option){o->name, takes_argument(o), NULL, s->val_base + i};
    }
    opts[*n] = (struct option){0};
}

static int parse_choice(const Option *o, const char *opt, const char *arg, int *out)
{
    for (int k = 0; o->choices[k]; k++)
        if (strcmp(arg, o->choices[k]) == 0) {
            *out = k;
            return 0;
        }
    fprintf(stderr, "ageshift: %s: '%s' is not one of", opt, arg);
    for (int k = 0; o->choices[k]; k++)
        fprintf(stderr, "%s %s", k ? "," : "", o->choices[k]);
    fputc('\n', stderr);
    return -1;
}

static int parse_size(const Option *o, const char *opt, const char *arg, int *w, int *h)
{
    int a, b, n = 0;
    if (sscanf(arg, "%dx%d%n", &a, &b, &n) != 2 || arg[n] || a < o->min || a > o->max ||
        b < o->min || b > o->max) {
        fprintf(stderr, "ageshift: %s: '%s' is not a size like 640x480 (sides %g to %g)\n", opt,
                arg, o->min, o->max);
        return -1;
    }
    *w = a;
    *h = b;
    return 0;
}

// Parses arg for o and stores it into base; -1 after printing why.
static int store(const Option *o, void *base, const char *arg)
{
    char opt[80];
    snprintf(opt, sizeof opt, "--%s", o->name);
    char *field = (char *)base + o->offset, *field2 = (char *)base + o->offset2;
    long v;
    double x;
    switch (o->type) {
    case OPT_SECTION: return 0;
    case OPT_STRING: *(const char **)field = arg; return 0;
    case OPT_INT:
        if (arg_int(opt, arg, (long)o->min, (long)o->max, &v))
            return -1;
        *(int *)field = (int)v;
        return 0;
    case OPT_LONG: return arg_int(opt, arg, (long)o->min, (long)o->max, (long *)field);
    case OPT_U64: return arg_u64(opt, arg, (uint64_t *)field);
    case OPT_FLOAT:
        if (arg_float(opt, arg, o->min, o->max, &x))
            return -1;
        *(float *)field = (float)x;
        return 0;
    case OPT_DOUBLE: return arg_float(opt, arg, o->min, o->max, (double *)field);
    case OPT_CHOICE: return parse_choice(o, opt, arg, (int *)field);
    case OPT_RANGE: return arg_age_range(opt, arg, (int *)field, (int *)field2);
    case OPT_SIZE: return parse_size(o, opt, arg, (int *)field, (int *)field2);
    case OPT_SET: *(bool *)field = true; return 0;
    case OPT_CLEAR: *(bool *)field = false; return 0;
    }
    return 0;
}

int options_apply(OptionSet *s, int c, const char *arg)
{
    int i = c - s->val_base;
    if (i < 0 || i >= s->count || s->table[i].type == OPT_SECTION)
        return 0;
    if (store(&s->table[i], s->base, arg))
        return -1;
    if (i < OPTIONS_MAX)
        s->given[i] = true;
    return 1;
}

bool options_given(const OptionSet *s, const char *name)
{
    for (int i = 0; i < s->count && i < OPTIONS_MAX; i++)
        if (s->table[i].type != OPT_SECTION && strcmp(s->table[i].name, name) == 0)
            return s->given[i];
    return false;
}

const char *options_missing(const OptionSet *s)
{
    for (int i = 0; i < s->count && i < OPTIONS_MAX; i++)
        if ((s->table[i].flags & OPT_REQUIRED) && !s->given[i])
            return s->table[i].name;
    return NULL;
}

bool options_report_missing(const OptionSet *s, const char *command)
{
    const char *m = options_missing(s);
    if (m)
        fprintf(stderr, "ageshift %s: --%s is required\n", command, m);
    return m != NULL;
}

// The default of o in `defaults`, as the help shows it after "default" (" 4", ": one per
// CPU"); false when there is none to show.
static bool default_text(const Option *o, const void *defaults, char *buf, size_t len)
{
    const char *field = (const char *)defaults + o->offset;
    const char *field2 = (const char *)defaults + o->offset2;
    char v[256] = "";
    bool zero = false;
    switch (o->type) {
    case OPT_SECTION:
    case OPT_SET:
    case OPT_CLEAR: return false;
    case OPT_STRING: {
        const char *p = *(const char *const *)field;
        zero = !p;
        snprintf(v, sizeof v, "%s", p ? p : "");
        break;
    }
    case OPT_INT:
        zero = *(const int *)field == 0;
        snprintf(v, sizeof v, "%d", *(const int *)field);
        break;
    case OPT_LONG:
        zero = *(const long *)field == 0;
        snprintf(v, sizeof v, "%ld", *(const long *)field);
        break;
    case OPT_U64:
        zero = *(const uint64_t *)field == 0;
        snprintf(v, sizeof v, "%llu", (unsigned long long)*(const uint64_t *)field);
        break;
    case OPT_FLOAT:
        zero = *(const float *)field == 0.0f;
        snprintf(v, sizeof v, "%g", *(const float *)field);
        break;
    case OPT_DOUBLE:
        zero = *(const double *)field == 0.0;
        snprintf(v, sizeof v, "%g", *(const double *)field);
        break;
    case OPT_CHOICE: snprintf(v, sizeof v, "%s", o->choices[*(const int *)field]); break;
    case OPT_RANGE:
        snprintf(v, sizeof v, "%d-%d", *(const int *)field, *(const int *)field2);
        break;
    case OPT_SIZE: snprintf(v, sizeof v, "%dx%d", *(const int *)field, *(const int *)field2); break;
    }
    if (zero && !o->zero_means)
        return false;
    snprintf(buf, len, zero ? ": %s" : " %s", zero ? o->zero_means : v);
    return true;
}

// Prints text from column `col` on, wrapped at HELP_WIDTH, continued at HELP_INDENT.
static void wrap(FILE *out, const char *text, int col)
{
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t word = strcspn(p, " ");
        if (col > HELP_INDENT && col + 1 + (int)word > HELP_WIDTH) {
            fprintf(out, "\n%*s", HELP_INDENT, "");
            col = HELP_INDENT;
        } else if (col > HELP_INDENT) {
            fputc(' ', out);
            col++;
        }
        fprintf(out, "%.*s", (int)word, p);
        col += (int)word;
        p += word;
    }
    fputc('\n', out);
}

void options_help_line(FILE *out, const char *names, const char *help)
{
    int col = fprintf(out, "  %s", names);
    if (col >= HELP_INDENT - 1) {
        fputc('\n', out);
        col = 0;
    }
    fprintf(out, "%*s", HELP_INDENT - col, "");
    wrap(out, help, HELP_INDENT);
}

void options_help(FILE *out, const Option *table, int count, const void *defaults)
{
    for (int i = 0; i < count; i++) {
        const Option *o = &table[i];
        if (o->type == OPT_SECTION) {
            fprintf(out, "%s\n", o->name);
            continue;
        }
        char names[96], text[512], def[256];
        snprintf(names, sizeof names, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
        if (o->flags & OPT_REQUIRED)
            snprintf(text, sizeof text, "%s (required)", o->help);
        else if (!(o->flags & OPT_NO_DEFAULT) && default_text(o, defaults, def, sizeof def))
            snprintf(text, sizeof text, "%s (default%s)", o->help, def);
        else
            snprintf(text, sizeof text, "%s", o->help);
        options_help_line(out, names, text);
    }
}
