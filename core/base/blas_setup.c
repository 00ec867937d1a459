#include "core/base/blas_setup.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


// OpenBLAS 0.3.21 x86-64 core names whose sgemm kernels use AVX2 + FMA or AVX-512.
static const char *const fast_cores[] = {"haswell", "zen", "skylakex", "cooperlake",
                                         "sapphirerapids"};

const char *blas_better_coretype(const char *current, bool cpu_avx512, bool cpu_avx2_fma)
{
    for (size_t i = 0; i < sizeof fast_cores / sizeof *fast_cores; i++)
        if (current && strcasecmp(current, fast_cores[i]) == 0)
            return NULL;
    if (cpu_avx512)
        return "SkylakeX";
    if (cpu_avx2_fma)
        return "Haswell";
    return NULL;
}

int blas_select_kernel(char **argv, Err *err)
{
    if (getenv("OPENBLAS_CORETYPE"))
        return 0; // the user's choice, or ours after re-execution
    __builtin_cpu_init();
    bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const char *current = openblas_get_corename();
    const char *better = blas_better_coretype(current, avx512, avx2);
    if (!better)
        return 0;
    if (setenv("OPENBLAS_CORETYPE", better, 1) != 0 || setenv(BLAS_SELECTED_ENV, current, 1) != 0)
        return err_set(err, "cannot set OPENBLAS_CORETYPE");
    execv("/proc/self/exe", argv);
    // Still here: exec failed. Undo, so the environment tells the truth about the kernel.
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv(BLAS_SELECTED_ENV);
    return err_set(err, "OpenBLAS chose its slow %s kernel and re-running with %s failed", current,
                   better);
}

void blas_describe(char *buf, int len)
{
    const char *detected = getenv(BLAS_SELECTED_ENV);
    const char *user = getenv("OPENBLAS_CORETYPE");
    char how[128];
    if (detected && user)
        snprintf(how, sizeof how, "selected by ageshift; OpenBLAS detected %s", detected);
    else if (user)
        snprintf(how, sizeof how, "set by OPENBLAS_CORETYPE");
    else
        snprintf(how, sizeof how, "detected by OpenBLAS");
    snprintf(buf, len, "%s, kernel %s (%s), %d threads", openblas_get_config(),
             openblas_get_corename(), how, openblas_get_num_threads());
}
