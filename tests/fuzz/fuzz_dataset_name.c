// The ages the dataset reads from names: a UTKFace file name and a Kaggle folder name. The
// input (up to its first NUL) is the name; an age found must be the digits the name starts with.
#include "tests/fuzz/fuzz_targets.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "core/train/dataset.h"

// The 1 to 3 leading digits of NAME as a number, or -1.
static int leading_number(const char *name, int *ndigits)
{
    int v = 0, n = 0;
    while (n < 3 && isdigit((unsigned char)name[n]))
        v = 10 * v + (name[n++] - '0');
    *ndigits = n;
    return n ? v : -1;
}

int fuzz_dataset_name(const uint8_t *data, size_t size)
{
    char *name = malloc(size + 1);
    if (!name)
        abort();
    memcpy(name, data, size);
    name[size] = '\0';
    int nd;
    int lead = leading_number(name, &nd);
    int utk = dataset_utkface_age(name);
    int kaggle = dataset_kaggle_folder_age(name);
    if ((utk >= 0 && (utk != lead || name[nd] != '_')) ||
        (kaggle >= 0 && (kaggle != lead || name[nd] != '\0')) || utk < -1 || kaggle < -1 ||
        (utk >= 0 && kaggle >= 0))
        abort();
    free(name);
    return utk >= 0 || kaggle >= 0;
}
