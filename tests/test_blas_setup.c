// OpenBLAS kernel selection: the decision, and that a user's OPENBLAS_CORETYPE is left alone.
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "core/base/blas_setup.h"

Test(blas, misdetected_prescott_gets_avx512_kernel)
{
    cr_expect_str_eq(blas_better_coretype("Prescott", true, true), "SkylakeX");
    cr_expect_str_eq(blas_better_coretype("Core2", false, true), "Haswell");
    cr_expect_str_eq(blas_better_coretype("Nehalem", true, true), "SkylakeX");
}

Test(blas, good_choices_are_kept)
{
    cr_expect_null(blas_better_coretype("SkylakeX", true, true));
    cr_expect_null(blas_better_coretype("Cooperlake", true, true));
    cr_expect_null(blas_better_coretype("Zen", false, true));
    cr_expect_null(blas_better_coretype("Haswell", true, true));
}

Test(blas, old_cpu_keeps_old_kernel)
{
    cr_expect_null(blas_better_coretype("Prescott", false, false));
}

static void run_version(const char *env, char *out, size_t len)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "%s ${AGESHIFT_BIN:-./build/ageshift} version", env);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, len - 1, p);
    out[n] = 0;
    cr_assert_eq(pclose(p), 0, "%s failed", cmd);
}

Test(blas, user_coretype_is_respected_and_reported)
{
    char out[1024];
    run_version("OPENBLAS_CORETYPE=Haswell", out, sizeof out);
    cr_expect_not_null(strstr(out, "kernel Haswell (set by OPENBLAS_CORETYPE)"), "%s", out);
}

Test(blas, version_names_the_kernel)
{
    char out[1024];
    run_version("env -u OPENBLAS_CORETYPE", out, sizeof out);
    cr_expect_not_null(strstr(out, "kernel "), "%s", out);
    // Without a user setting, the kernel in use is never a pre-AVX2 one on an AVX2 machine.
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        cr_expect_null(strstr(out, "kernel Prescott"), "%s", out);
}
