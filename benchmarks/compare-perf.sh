#!/usr/bin/env bash
# Accuracy against perf: the same 3:1 workload profiled by profd and by `perf record -F 999 -g`.
# Prints each tool's share for burnThreeQuarters vs burnOneQuarter (expected 75/25).
# Needs a release build (`swift build -c release`) and linux-perf.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/.build/release
work=$(mktemp -d /tmp/profd-bench.XXXXXX)
trap 'kill $profd_pid 2>/dev/null || true; rm -rf "$work"' EXIT
seconds=${SECONDS_PER_RUN:-3}

"$bin/profd" --state-dir "$work/state" --socket "$work/profd.sock" 2>"$work/profd.log" &
profd_pid=$!
for _ in $(seq 100); do [ -S "$work/profd.sock" ] && break; sleep 0.1; done

"$bin/profd-testload" split --seconds "$seconds" --profd-socket "$work/profd.sock" >"$work/testload.out"
dir=$(sed -n 's/^report //p' "$work/testload.out")
python3 - "$dir/routes/%2Fsplit.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
f = {x["function"]: x["totalSamples"] for x in d["functions"]}
a = sum(v for k, v in f.items() if k.endswith("burnThreeQuarters(_:)"))
b = sum(v for k, v in f.items() if k.endswith("burnOneQuarter(_:)"))
print(f"profd: {a} vs {b} samples -> {100*a/(a+b):.1f}% / {100*b/(a+b):.1f}%  ({d['samples']['count']} samples in /split)")
PY

perf record -q -F 999 -g -o "$work/perf.data" -- "$bin/profd-testload" split --seconds "$seconds" >/dev/null 2>&1
perf script -i "$work/perf.data" 2>/dev/null | python3 -c '
import sys
a = b = total = 0
stack = []
def flush():
    global a, b, total
    if not stack: return
    total += 1
    text = " ".join(stack)
    if "burnThreeQuarters" in text: a += 1
    elif "burnOneQuarter" in text: b += 1
for line in sys.stdin:
    if not line.strip():
        flush(); stack.clear()
    elif line.startswith((" ", "\t")):
        stack.append(line.strip())
flush()
print(f"perf:  {a} vs {b} samples -> {100*a/(a+b):.1f}% / {100*b/(a+b):.1f}%  ({total} samples in all)")
'
