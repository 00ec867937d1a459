#!/bin/sh
# Runs Criterion test binaries one after another, from the project root (so each finds
# tests/fixtures), and prints each one's output. A suite fails on its exit status, and also on a
# sanitizer report anywhere in its output (a leak found as a Criterion worker or a command run
# by a test exits is not seen in any exit status).
#   usage: tests/run_suites.sh AGESHIFT_BIN TEST_BIN...
set -u
bin=$1
shift
fail=0
for t in "$@"; do
    echo "== $t"
    LSAN_OPTIONS=suppressions=$(pwd)/tests/lsan.supp AGESHIFT_BIN=$bin "$t" --jobs 2 >"$t.log" 2>&1 ||
        fail=1
    cat "$t.log"
    if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$t.log"; then
        echo "a sanitizer reported an error in $t (maybe in a command it ran)"
        fail=1
    fi
done
if [ $fail = 0 ]; then echo "all test suites passed"; else echo "some test suites FAILED"; exit 1; fi
