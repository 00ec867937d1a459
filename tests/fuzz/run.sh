#!/bin/sh
# Runs each libFuzzer target for SECONDS, one after another, over a copy of its seed corpus
# (tests/fuzz/corpus/NAME, new inputs found are added to the copy only) plus the kept regression
# inputs (tests/fuzz/regressions/NAME, read only). Prints, per target, the executions and the
# coverage of libFuzzer's final stats (cov: edges, ft: features); a crashing, leaking, timing out
# or out-of-memory input fails the run and is kept in BUILD/crashes/NAME/.
#   usage: tests/fuzz/run.sh BUILD SECONDS NAME...
set -u
build=$1
seconds=$2
shift 2
failed=""
for name in "$@"; do
    corpus=$build/corpus/$name
    crashes=$build/crashes/$name
    log=$build/logs/$name.log
    mkdir -p "$corpus" "$crashes" "$build/logs"
    cp -n tests/fuzz/corpus/"$name"/* "$corpus"/ 2>/dev/null
    seeds=""
    [ -d tests/fuzz/regressions/"$name" ] && seeds=tests/fuzz/regressions/$name
    # -timeout: an input taking seconds is a hang worth a report; -rss_limit_mb: libFuzzer's
    # default, written down; LeakSanitizer reports count as crashes.
    "$build/fuzz_$name" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
        -rss_limit_mb=2048 -artifact_prefix="$crashes/" "$corpus" $seeds >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    done_line=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -n 1)
    cov=$(printf '%s\n' "$done_line" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(printf '%s\n' "$done_line" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    files=$(ls "$corpus" | wc -l)
    if [ "$rc" = 0 ]; then
        echo "fuzz_$name: ${runs:-?} executions in ${took:-?} s, cov ${cov:-?} ft ${ft:-?}," \
            "corpus $files inputs"
    else
        echo "fuzz_$name: FAILED (exit $rc) after ${runs:-?} executions; log $log, input in $crashes/"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$log" | head -n 5
        failed="$failed $name"
    fi
done
if [ -n "$failed" ]; then
    echo "fuzz targets that failed:$failed"
    exit 1
fi
echo "all fuzz targets ran without a failure"
