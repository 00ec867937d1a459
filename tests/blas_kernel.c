// Every test binary runs with the OpenBLAS kernel the ageshift command would use on this CPU
// (see core/blas_setup.h): without this, a CPU that OpenBLAS misdetects runs the tests on its
// Prescott kernel, which no command uses. That matters beyond speed: kernels without FMA round
// differently from PyTorch, and the golden test's three Adam steps, which amplify the rounding of
// near-zero gradients, end 4.7e-4 away from PyTorch's loss with them (Prescott, Nehalem,
// Sandybridge) and within 3e-6 with the FMA kernels (Haswell, SkylakeX, Cooperlake).
#include <stdio.h>
#include <stdlib.h>

#include "core/base/blas_setup.h"

// Runs before Criterion's main(); glibc passes constructors the program's arguments.
__attribute__((constructor)) static void tests_select_blas_kernel(int argc, char **argv)
{
    (void)argc;
    Err err;
    if (blas_select_kernel(argv, &err) != 0)
        fprintf(stderr, "warning: %s\n", err.msg);
    // The commands the tests run then take the core type as the user's, as they would from a
    // shell that set it, rather than claim they selected it themselves.
    unsetenv(BLAS_SELECTED_ENV);
}
