#include <stdio.h>

#include "cli/commands.h"
#include "core/base/blas_setup.h"

int cmd_version(int argc, char **argv)
{
    (void)argc, (void)argv;
    char blas[512];
    blas_describe(blas, sizeof blas);
    printf("ageshift %s\n%s\n", AGESHIFT_VERSION, blas);
    return 0;
}
