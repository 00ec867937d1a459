// ageshift translate: face crops through one generator, the quickest way to see a model work.
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli/args.h"
#include "cli/commands.h"
#include "cli/default_model.h"
#include "cli/filter_options.h"
#include "core/model/model_file.h"
#include "media/image_io.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ageshift translate IMAGE|DIR... -o OUTDIR --to old|young [--model FILE]\n"
            "\n"
            "Runs face crops (like the training images: one face filling the picture) through\n"
            "one generator: each image, or every image in a folder, is resized to the model's\n"
            "size and written to OUTDIR under the same name (PNG or JPEG by its extension).\n"
            "\n"
            "  -o, --out DIR        output folder (created)\n"
            "  --to old|young       the direction\n"
            "  --model FILE         a model.safetensors from ageshift train (default %s)\n"
            "  --threads N          worker threads (default: one per CPU)\n",
            DEFAULT_MODEL);
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
    const char *model = NULL, *to = NULL, *out_dir = NULL;
    int threads = 0;
    static const struct option opts[] = {{"out", 1, 0, 'o'},   {"to", 1, 0, 't'},
                                         {"model", 1, 0, 'm'}, {"threads", 1, 0, 'j'},
                                         {"help", 0, 0, 'h'},  {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out_dir = optarg; break;
        case 't': to = optarg; break;
        case 'm': model = optarg; break;
        case 'j': {
            long v;
            if (arg_int("--threads", optarg, 1, 64, &v))
                return 2;
            threads = (int)v;
            break;
        }
        case 'h': usage(stdout); return 0;
        default:
            fprintf(stderr, "ageshift translate: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (!out_dir || !to || optind >= argc || (strcmp(to, "old") && strcmp(to, "young"))) {
        usage(stderr);
        return 2;
    }
    if (!(model = model_or_default("translate", model)))
        return 1;
    Err err;
    Translator t = {.out_dir = out_dir};
    AgeDirection dir = strcmp(to, "old") == 0 ? AGE_OLDER : AGE_YOUNGER;
    if (model_file_load(model, dir, &t.net, &t.arch, &err)) {
        fprintf(stderr, "ageshift translate: %s\n", err.msg);
        return 1;
    }
    if (mkdir(out_dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "ageshift translate: cannot create %s: %s\n", out_dir, strerror(errno));
        net_free(&t.net);
        return 1;
    }
    Pool *pool = pool_create(threads, &err);
    t.trace = pool ? trace_create(&t.net, 1, t.arch.size, t.arch.size, false, pool, &err) : NULL;
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
