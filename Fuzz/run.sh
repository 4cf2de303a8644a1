#!/usr/bin/env bash
# Runs the protocol fuzzer for $1 seconds (default 600) from the seed corpus Fuzz/corpus/.
# New corpus entries and any crash/leak/timeout input go to $FUZZ_WORK (default .build-fuzz/work), never
# into the repo. Exits non-zero if libFuzzer found anything; prints executions and coverage either way.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
out=${FUZZ_BUILD:-.build-fuzz}
work=${FUZZ_WORK:-$out/work}
mkdir -p "$out"
Fuzz/build.sh >"$out/build.log" 2>&1 || { cat "$out/build.log" >&2; echo "fuzz: build failed" >&2; exit 1; }
mkdir -p "$work/corpus" "$work/artifacts"
log="$work/fuzz-$(date -u +%Y%m%dT%H%M%SZ).log"
echo "fuzz: $out/profd-protocol-fuzz for ${seconds}s, corpus Fuzz/corpus + $work/corpus, log $log"
# The Swift runtime's backtracer would wait on a crash; libFuzzer/ASan print the stack instead.
SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
  "$out/profd-protocol-fuzz" "$work/corpus" Fuzz/corpus \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
  -artifact_prefix="$work/artifacts/" -print_final_stats=1 ${FUZZ_ARGS:-} >"$log" 2>&1
status=$?
final=$(grep -E '^#[0-9]+' "$log" | tail -1)
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
echo "fuzz: exit $status; executions ${execs:-?}; last status line: ${final:-none}"
grep -E '^(stat::|Done )' "$log" | sed 's/^/fuzz: /'
if [ "$status" -ne 0 ]; then
  echo "fuzz: FAIL: libFuzzer found a crash, leak, timeout or OOM; input in $work/artifacts/:" >&2
  ls -l "$work/artifacts/" >&2
  grep -E -m5 'Fatal error|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|SUMMARY' "$log" >&2
  echo "fuzz: reproduce with: SWIFT_BACKTRACE=enable=no $out/profd-protocol-fuzz $work/artifacts/<file>" >&2
  exit 1
fi
echo "fuzz: PASS"
