// The option tables of the command line (cli/options.h): each type parsed into its field with
// its range checked, getopt entries made from a table, required options, and help whose
// defaults come from the values; the shared filter options over AgeshiftOptions.
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/filter_options.h"
#include "cli/options.h"

typedef struct {
    const char *name;
    int count;
    long big;
    uint64_t seed;
    float rate;
    double seconds;
    int colour;
    int lo, hi;
    int w, h;
    bool on, off;
} Settings;

static const char *const colours[] = {"red", "green", "blue", NULL};

#define F(x) offsetof(Settings, x)
static const Option table[] = {
    {.name = "things:", .type = OPT_SECTION},
    {.name = "name",
     .arg = "TEXT",
     .type = OPT_STRING,
     .offset = F(name),
     .help = "a name",
     .zero_means = "none",
     .flags = OPT_REQUIRED},
    {.name = "count",
     .arg = "N",
     .type = OPT_INT,
     .offset = F(count),
     .min = 1,
     .max = 9,
     .help = "how many"},
    {.name = "big",
     .arg = "N",
     .type = OPT_LONG,
     .offset = F(big),
     .min = 0,
     .max = 1e12,
     .help = "a big one"},
    {.name = "seed", .arg = "N", .type = OPT_U64, .offset = F(seed), .help = "a seed"},
    {.name = "rate",
     .arg = "X",
     .type = OPT_FLOAT,
     .offset = F(rate),
     .min = 0,
     .max = 1,
     .help = "a rate"},
    {.name = "seconds",
     .arg = "S",
     .type = OPT_DOUBLE,
     .offset = F(seconds),
     .min = 0.5,
     .max = 10,
     .help = "a while",
     .zero_means = "forever"},
    {.name = "colour",
     .arg = "C",
     .type = OPT_CHOICE,
     .offset = F(colour),
     .choices = colours,
     .help = "a colour"},
    {.name = "ages",
     .arg = "A-B",
     .type = OPT_RANGE,
     .offset = F(lo),
     .offset2 = F(hi),
     .help = "an age range"},
    {.name = "size",
     .arg = "WxH",
     .type = OPT_SIZE,
     .offset = F(w),
     .offset2 = F(h),
     .min = 16,
     .max = 4096,
     .help = "a size"},
    {.name = "on", .type = OPT_SET, .offset = F(on), .help = "turn it on"},
    {.name = "no-off", .type = OPT_CLEAR, .offset = F(off), .help = "turn it off"},
    {.name = "hidden",
     .arg = "N",
     .type = OPT_INT,
     .offset = F(count),
     .min = 1,
     .max = 9,
     .help = "no default shown",
     .flags = OPT_NO_DEFAULT},
};
#define N ((int)(sizeof table / sizeof *table))
#define BASE 0x3000

// The getopt value of the option of that name.
static int val(const char *name)
{
    for (int i = 0; i < N; i++)
        if (table[i].type != OPT_SECTION && strcmp(table[i].name, name) == 0)
            return BASE + i;
    cr_assert_fail("no option %s", name);
    return -1;
}

Test(options, every_type_is_parsed_into_its_field)
{
    Settings s = {.off = true};
    OptionSet set = {table, N, &s, BASE, {0}};
    cr_expect_eq(options_apply(&set, val("name"), "Ada"), 1);
    cr_expect_eq(options_apply(&set, val("count"), "7"), 1);
    cr_expect_eq(options_apply(&set, val("big"), "123456789012"), 1);
    cr_expect_eq(options_apply(&set, val("seed"), "18446744073709551615"), 1);
    cr_expect_eq(options_apply(&set, val("rate"), "0.25"), 1);
    cr_expect_eq(options_apply(&set, val("seconds"), "2.5"), 1);
    cr_expect_eq(options_apply(&set, val("colour"), "blue"), 1);
    cr_expect_eq(options_apply(&set, val("ages"), "20-30"), 1);
    cr_expect_eq(options_apply(&set, val("size"), "1280x720"), 1);
    cr_expect_eq(options_apply(&set, val("on"), NULL), 1);
    cr_expect_eq(options_apply(&set, val("no-off"), NULL), 1);
    cr_expect_str_eq(s.name, "Ada");
    cr_expect_eq(s.count, 7);
    cr_expect_eq(s.big, 123456789012L);
    cr_expect_eq(s.seed, UINT64_MAX);
    cr_expect_float_eq(s.rate, 0.25f, 1e-7);
    cr_expect_float_eq(s.seconds, 2.5, 1e-12);
    cr_expect_eq(s.colour, 2);
    cr_expect(s.lo == 20 && s.hi == 30);
    cr_expect(s.w == 1280 && s.h == 720);
    cr_expect(s.on && !s.off);
    cr_expect(options_given(&set, "count") && !options_given(&set, "hidden"));
    cr_expect_null(options_missing(&set));
}

Test(options, values_out_of_range_are_refused_and_leave_the_field, .init = cr_redirect_stderr)
{
    Settings s = {.count = 3, .rate = 0.5f, .colour = 1, .w = 64, .h = 48};
    OptionSet set = {table, N, &s, BASE, {0}};
    const struct {
        const char *name, *arg;
    } bad[] = {{"count", "0"},     {"count", "10"},      {"count", "3x"}, {"big", "-1"},
               {"seed", "-5"},     {"rate", "1.5"},      {"rate", "nan"}, {"seconds", "0.1"},
               {"colour", "pink"}, {"ages", "30-20"},    {"ages", "20"},  {"size", "8x8"},
               {"size", "640x"},   {"size", "640x480x3"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(options_apply(&set, val(bad[i].name), bad[i].arg), -1, "--%s %s", bad[i].name,
                     bad[i].arg);
    cr_expect(s.count == 3 && s.rate == 0.5f && s.colour == 1 && s.w == 64 && s.h == 48);
    cr_expect_str_eq(options_missing(&set), "name", "a refused value is not given");
    fflush(stderr);
    // Each message names the option.
    char buf[4096] = {0};
    FILE *err = cr_get_redirected_stderr();
    size_t n = fread(buf, 1, sizeof buf - 1, err);
    buf[n] = 0;
    cr_expect(strstr(buf, "--count") &&
                  strstr(buf, "--colour: 'pink' is not one of red, green, blue"),
              "%s", buf);
}

Test(options, other_values_are_not_the_tables)
{
    Settings s = {0};
    OptionSet set = {table, N, &s, BASE, {0}};
    cr_expect_eq(options_apply(&set, 'h', NULL), 0);
    cr_expect_eq(options_apply(&set, BASE, NULL), 0, "a section is no option");
    cr_expect_eq(options_apply(&set, BASE + N, "1"), 0);
}

Test(options, getopt_entries_follow_the_table)
{
    Settings s = {0};
    OptionSet set = {table, N, &s, BASE, {0}};
    struct option opts[OPTIONS_MAX] = {{"help", 0, 0, 'h'}};
    int n = 1;
    options_getopt(&set, opts, &n, OPTIONS_MAX);
    cr_expect_eq(n, 1 + N - 1, "every option but the section");
    cr_expect_null(opts[n].name, "zero-terminated");
    for (int i = 1; i < n; i++) {
        const Option *o = &table[opts[i].val - BASE];
        cr_expect_str_eq(opts[i].name, o->name);
        cr_expect_eq(opts[i].has_arg, o->type != OPT_SET && o->type != OPT_CLEAR, "%s", o->name);
    }
    // A full array is not overrun.
    struct option small[4] = {{"help", 0, 0, 'h'}};
    n = 1;
    options_getopt(&set, small, &n, 4);
    cr_expect_eq(n, 3);
    cr_expect_null(small[3].name);
}

static char *help_text(const Option *t, int count, const void *defaults)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    options_help(f, t, count, defaults);
    fclose(f);
    return buf;
}

Test(options, help_prints_the_defaults_from_the_values)
{
    Settings d = {
        .count = 4, .big = 5, .rate = 0.5f, .colour = 1, .lo = 20, .hi = 30, .w = 640, .h = 480};
    char *h = help_text(table, N, &d);
    cr_expect(strstr(h, "things:\n"), "%s", h);
    cr_expect(strstr(h, "  --name TEXT          a name (required)\n"), "%s", h);
    cr_expect(strstr(h, "  --count N            how many (default 4)\n"), "%s", h);
    cr_expect(strstr(h, "a rate (default 0.5)"), "%s", h);
    cr_expect(strstr(h, "a while (default: forever)"), "%s", h);
    cr_expect(strstr(h, "a colour (default green)"), "%s", h);
    cr_expect(strstr(h, "an age range (default 20-30)"), "%s", h);
    cr_expect(strstr(h, "a size (default 640x480)"), "%s", h);
    cr_expect(strstr(h, "  --on                 turn it on\n"), "%s", h);
    cr_expect(strstr(h, "no default shown\n"), "%s", h);
    cr_expect_null(strstr(h, "a seed (default"), "a zero without zero_means is not shown");
    free(h);
    d.count = 7;
    h = help_text(table, N, &d);
    cr_expect(strstr(h, "how many (default 7)"), "%s", h);
    free(h);
}

Test(options, long_help_wraps_under_its_column)
{
    const Option t[] = {{.name = "a-rather-long-option-name",
                         .arg = "N",
                         .type = OPT_INT,
                         .help = "one two three four five six seven eight nine ten eleven twelve "
                                 "thirteen fourteen fifteen sixteen seventeen eighteen"}};
    int zero = 0;
    char *h = help_text(t, 1, &zero);
    cr_expect(strncmp(h, "  --a-rather-long-option-name N\n                       one", 55) == 0,
              "%s", h);
    for (char *line = h; *line; line = strchr(line, '\n') + 1)
        cr_expect_leq(strcspn(line, "\n"), 96, "%s", h);
    free(h);
}

Test(options, filter_options_set_the_filter_and_need_to, .init = cr_redirect_stderr)
{
    AgeshiftOptions o = ageshift_options_default();
    OptionSet fs;
    filter_options_begin(&fs, &o);
    struct option opts[OPTIONS_MAX] = {{0}};
    int n = 0;
    options_getopt(&fs, opts, &n, OPTIONS_MAX);
    cr_expect_str_eq(options_missing(&fs), "to");
    for (int i = 0; i < n; i++) {
        const char *arg = !strcmp(opts[i].name, "to")          ? "young"
                          : !strcmp(opts[i].name, "model")     ? "m.safetensors"
                          : !strcmp(opts[i].name, "cascade")   ? "c.xml"
                          : !strcmp(opts[i].name, "landmarks") ? "l.dat"
                          : !strcmp(opts[i].name, "strength")  ? "0.5"
                          : !strcmp(opts[i].name, "hair")      ? "0.25"
                          : !strcmp(opts[i].name, "detail")    ? "0.75"
                          : !strcmp(opts[i].name, "guard")     ? "0.5"
                                                               : "9";
        cr_expect_eq(options_apply(&fs, opts[i].val, arg), 1, "--%s %s", opts[i].name, arg);
    }
    cr_expect_null(options_missing(&fs));
    cr_expect_eq(o.direction, AGE_YOUNGER);
    cr_expect_str_eq(o.model_path, "m.safetensors");
    cr_expect_str_eq(o.cascade_path, "c.xml");
    cr_expect_str_eq(o.landmarks_path, "l.dat");
    cr_expect_float_eq(o.strength, 0.5f, 1e-7);
    cr_expect_float_eq(o.hair, 0.25f, 1e-7);
    cr_expect_float_eq(o.detail, 0.75f, 1e-7);
    cr_expect_float_eq(o.guard, 0.5f, 1e-7);
    cr_expect(o.max_faces == 9 && o.detect_every == 9 && o.generate_every == 9 && o.min_face == 9 &&
              o.threads == 9);
    for (int i = 0; i < n; i++)
        if (!strcmp(opts[i].name, "max-faces"))
            cr_expect_eq(options_apply(&fs, opts[i].val, "17"), -1, "above AGESHIFT_MAX_FACES");

    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    AgeshiftOptions d = ageshift_options_default();
    d.model_path = NULL;
    filter_options_help(f, &d);
    fclose(f);
    char want[64];
    snprintf(want, sizeof want, "faces changed per frame (default %d)", d.max_faces);
    cr_expect(strstr(buf, want), "%s", buf);
    cr_expect(strstr(buf, "(default:") && strstr(buf, "samples/model.safetensors)"), "%s", buf);
    free(buf);
}
