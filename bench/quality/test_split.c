// The trainer's test split of two face folders (the same scan, age ranges, seed and 80/20 split
// as `ageshift train`), so that make quality judges only faces the model never trained on.
//   test_split YOUNG_DIR OLD_DIR YOUNG_AGES OLD_AGES SEED
// prints one line per test face: "young|old <TAB> age <TAB> path" (age -1 when the name has
// none).
#include <stdio.h>
#include <stdlib.h>

#include "core/train/dataset.h"

static int range(const char *s, int *lo, int *hi)
{
    return sscanf(s, "%d-%d", lo, hi) == 2 ? 0 : -1;
}

int main(int argc, char **argv)
{
    DatasetSpec spec = {.test_fraction = 0.2};
    if (argc != 6 || range(argv[3], &spec.young_min, &spec.young_max) ||
        range(argv[4], &spec.old_min, &spec.old_max)) {
        fprintf(stderr, "usage: test_split YOUNG_DIR OLD_DIR YOUNG_AGES OLD_AGES SEED\n");
        return 2;
    }
    spec.young_dir = argv[1];
    spec.old_dir = argv[2];
    spec.seed = strtoull(argv[5], NULL, 10);
    DomainSplit young, old;
    Err err;
    if (dataset_scan(&spec, &young, &old, NULL, NULL, &err)) {
        fprintf(stderr, "test_split: %s\n", err.msg);
        return 1;
    }
    for (int k = 0; k < 2; k++) {
        const ImageList *l = k ? &old.test : &young.test;
        for (int i = 0; i < l->count; i++)
            printf("%s\t%d\t%s\n", k ? "old" : "young", l->ages[i], l->paths[i]);
    }
    domain_split_free(&young);
    domain_split_free(&old);
    return 0;
}
