// libFuzzer's entry point for one target, chosen at compile time with -DFUZZ_TARGET=fuzz_<name>
// (the Makefile's fuzz rule builds one binary per target from this file).
#include "tests/fuzz/fuzz_targets.h"

#ifndef FUZZ_TARGET
#error "build with -DFUZZ_TARGET=fuzz_<name>"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    FUZZ_TARGET(data, size);
    return 0; // refused inputs are still worth keeping: they reach the checks
}
