#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "core/model/safetensors.h"

static void print_meta(const char *key, const char *value, void *ctx)
{
    (void)ctx;
    printf("  %-24s %s\n", key, value);
}

int cmd_info(int argc, char **argv)
{
    if (argc != 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fprintf(argc == 2 ? stdout : stderr,
                "usage: ageshift info FILE\n"
                "Shows the metadata (architecture, direction) and every tensor of a .safetensors\n"
                "model or checkpoint, after checking the whole file.\n");
        return argc == 2 ? 0 : 2;
    }
    Err err;
    StFile *f = st_open(argv[1], &err);
    if (!f) {
        fprintf(stderr, "ageshift: %s\n", err.msg);
        return 1;
    }
    size_t total = 0;
    printf("%s\nmetadata:\n", argv[1]);
    st_meta_foreach(f, print_meta, NULL);
    printf("%d tensors:\n", st_count(f));
    for (int i = 0; i < st_count(f); i++) {
        const StTensor *t = st_get(f, i);
        printf("  %-40s %s (", t->name, t->dtype == ST_F32 ? "F32" : "F16");
        for (int d = 0; d < t->ndim; d++)
            printf(d ? ", %lld" : "%lld", (long long)t->shape[d]);
        printf(")\n");
        total += t->numel;
    }
    printf("%zu values in all\n", total);
    st_close(f);
    return 0;
}
