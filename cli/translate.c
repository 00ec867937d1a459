// ageshift translate: face crops through one generator, the quickest way to see a model work.
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/filter_options.h"
#include "core/model/model_file.h"
#include "media/image_io.h"

typedef struct {
    const char *out_dir, *model;
    AgeDirection direction;
    int threads;
} TranslateArgs;

#define FIELD(name) offsetof(TranslateArgs, name)

static const Option table[] = {
    {.name = "out",
     .arg = "DIR",
     .type = OPT_STRING,
     .offset = FIELD(out_dir),
     .help = "output folder (created; -o DIR too)",
     .flags = OPT_REQUIRED},
    OPTION_TO(FIELD(direction)),
    OPTION_MODEL(FIELD(model)),
    OPTION_THREADS(FIELD(threads)),
};
#define TABLE_SIZE ((int)(sizeof table / sizeof *table))

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ageshift translate IMAGE|DIR... -o OUTDIR --to old|young [--model FILE]\n"
            "\n"
            "Runs face crops (like the training images: one face filling the picture) through\n"
            "one generator: each image, or every image in a folder, is resized to the model's\n"
            "size and written to OUTDIR under the same name (PNG or JPEG by its extension).\n"
            "\n");
    TranslateArgs d = {0};
    options_help(out, table, TABLE_SIZE, &d);
}

static bool is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return name[0] != '.' && dot &&
           (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"));
}

typedef struct {
    Net net;
    Trace *trace;
    GeneratorArch arch;
    const char *out_dir;
    int done, failed;
} Translator;

static void translate_one(Translator *t, const char *path)
{
    Err err;
    Image src = {0}, small = {0};
    const int s = t->arch.size;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char out[4096];
    snprintf(out, sizeof out, "%s/%s", t->out_dir, base);
    float *chw = malloc(3 * (size_t)s * s * sizeof *chw);
    if (!chw || image_load(path, &src, &err) || image_resize(&src, s, s, &small, &err)) {
        fprintf(stderr, "ageshift translate: %s\n", chw ? err.msg : "out of memory");
        t->failed++;
        goto done;
    }
    image_to_planar(&small, chw);
    planar_to_image(net_forward(&t->net, t->trace, chw), &small);
    if (image_save(out, &small, &err)) {
        fprintf(stderr, "ageshift translate: %s\n", err.msg);
        t->failed++;
        goto done;
    }
    t->done++;
done:
    free(chw);
    image_free(&src);
    image_free(&small);
}

static void translate_dir(Translator *t, const char *dir)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort);
    if (n < 0) {
        perror(dir);
        t->failed++;
        return;
    }
    for (int i = 0; i < n; i++) {
        if (is_image_name(names[i]->d_name)) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
            translate_one(t, path);
        }
        free(names[i]);
    }
    free(names);
}

int cmd_translate(int argc, char **argv)
{
    TranslateArgs args = {0};
    OptionSet set = {table, TABLE_SIZE, &args, 0x1000, {0}};
    struct option opts[OPTIONS_MAX + 2] = {{"help", 0, 0, 'h'}};
    int nopts = 1;
    options_getopt(&set, opts, &nopts, OPTIONS_MAX + 2);
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        if (c == 'o')         // -o DIR is --out DIR,
            c = set.val_base; // the table's first entry
        int r = options_apply(&set, c, optarg);
        if (r < 0)
            return 2;
        if (r)
            continue;
        if (c == 'h') {
            usage(stdout);
            return 0;
        }
        fprintf(stderr, "ageshift translate: unknown or incomplete option '%s'\n",
                argv[optind - 1]);
        usage(stderr);
        return 2;
    }
    if (options_report_missing(&set, "translate") || optind >= argc) {
        usage(stderr);
        return 2;
    }
    const char *model = args.model, *out_dir = args.out_dir;
    const int threads = args.threads;
    if (!(model = model_or_default("translate", model)))
        return 1;
    Err err;
    Translator t = {.out_dir = out_dir};
    if (model_file_load(model, args.direction, &t.net, &t.arch, &err)) {
        fprintf(stderr, "ageshift translate: %s\n", err.msg);
        return 1;
    }
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "ageshift translate: cannot create %s: %s\n", out_dir, strerror(errno));
        net_free(&t.net);
        return 1;
    }
    Pool *pool = pool_create(threads, &err);
    t.trace = pool ? trace_create_inference(&t.net, t.arch.size, t.arch.size, pool, &err) : NULL;
    if (!t.trace) {
        fprintf(stderr, "ageshift translate: %s\n", err.msg);
        pool_free(pool);
        net_free(&t.net);
        return 1;
    }
    for (int i = optind; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
            translate_dir(&t, argv[i]);
        else
            translate_one(&t, argv[i]);
    }
    fprintf(stderr, "%d image%s written to %s%s", t.done, t.done == 1 ? "" : "s", out_dir,
            t.failed ? "" : "\n");
    if (t.failed)
        fprintf(stderr, ", %d failed\n", t.failed);
    trace_free(t.trace);
    pool_free(pool);
    net_free(&t.net);
    return t.failed ? 1 : 0;
}
