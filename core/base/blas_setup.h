// OpenBLAS kernel selection. Debian's OpenBLAS 0.3.21 does not recognise some newer CPUs and
// falls back to its "Prescott" (SSE3) kernels, ~14x slower for sgemm than the AVX-512 ones.
// OpenBLAS reads OPENBLAS_CORETYPE only when it is loaded, so the fix is to re-execute the
// program once with the right core type set; a core type the user set is always left alone.
#ifndef AGESHIFT_BLAS_SETUP_H
#define AGESHIFT_BLAS_SETUP_H

#include <stdbool.h>

#include "core/base/err.h"

// Set on re-execution, so the new process can tell its core type came from us, not the user.
#define BLAS_SELECTED_ENV "AGESHIFT_BLAS_DETECTED"

// The core type to ask for instead of `current` on a CPU with these features, or NULL when
// OpenBLAS's own choice already uses AVX2 or better (or the CPU has nothing better).
const char *blas_better_coretype(const char *current, bool cpu_avx512, bool cpu_avx2_fma);

// Call first thing in main(). When OpenBLAS chose a kernel below what this CPU can run and the
// user did not set OPENBLAS_CORETYPE, re-executes /proc/self/exe with argv and the better core
// type (does not return on success). Returns 0 when nothing needed doing, -1 (with a reason)
// when the re-execution failed; the program can go on with the slower kernel.
int blas_select_kernel(char **argv, Err *err);

// One line for --version and verbose logs, e.g.
// "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY SkylakeX MAX_THREADS=64, kernel SkylakeX (selected by
// ageshift; OpenBLAS detected Prescott)".
void blas_describe(char *buf, int len);

#endif
