#!/usr/bin/env bash
# Demo server throughput under wrk: profiling off, on for 100% of requests, on for 10%.
#
#   make bench-throughput            (or: benchmarks/throughput.sh after `make release demo-build`)
#
# One profd, then for each round and each mode a fresh profd-demo process and one wrk run against
# GET /compute. Modes are interleaved in every round so that drift on a shared VM hits all of them alike;
# the table reports medians and the ratio to "off". wrk and the server share the machine's cores, so the
# absolute numbers are low: read the ratios.
#
# Environment: ROUNDS (3), DURATION (10s), CONNECTIONS (16), PORT (18090), OUT (benchmarks/results/throughput.json).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
PORT=${PORT:-18090}
OUT=${OUT:-$here/benchmarks/results/throughput.json}
profd=$here/.build/release/profd
demo=$here/Examples/profd-demo/.build/release/profd-demo
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
[ -x "$profd" ] && [ -x "$demo" ] || { echo "build first: make release demo-build" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

"$profd" --state-dir "$work/state" --socket "$work/profd.sock" 2>"$work/profd.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$work/profd.sock" ] && break; sleep 0.1; done

# run MODE → prints "requests_per_second p99_ms"
run() {
  local mode=$1 args=()
  case $mode in
    off) args=(--no-profiling) ;;
    *) args=(--sampled-percentage "$mode") ;;
  esac
  "$demo" --port "$PORT" --socket "$work/profd.sock" "${args[@]}" >"$work/demo-$mode.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
  wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency "http://127.0.0.1:$PORT/compute" >"$work/wrk.txt"
  kill -TERM "$pid"; wait "$pid" || true
  local rps p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$work/wrk.txt")
  p99=$(awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}' "$work/wrk.txt")
  echo "$rps $p99"
}

modes=(off 100 10)
: >"$work/results"
for round in $(seq "$ROUNDS"); do
  for mode in "${modes[@]}"; do
    read -r rps p99 < <(run "$mode")
    echo "round $round mode $mode: $rps req/s, p99 $p99 ms" >&2
    echo "$mode $rps $p99" >>"$work/results"
  done
done

mkdir -p "$(dirname "$OUT")"
python3 - "$work/results" "$OUT" "$ROUNDS" "$DURATION" "$CONNECTIONS" <<'PY'
import json, statistics, sys, platform, os
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
by = {}
for mode, rps, p99 in rows:
    by.setdefault(mode, []).append((float(rps), float(p99)))
off_rps = statistics.median(r for r, _ in by["off"])
off_p99 = statistics.median(p for _, p in by["off"])
label = {"off": "profiling off", "100": "on, 100% of requests", "10": "on, 10% of requests"}
print(f"{'mode':<24}{'req/s (median)':>16}{'min–max':>20}{'× off':>8}{'p99 ms':>10}{'× off':>8}")
result = {"machine": {"cores": os.cpu_count(), "kernel": platform.release()},
          "rounds": int(sys.argv[3]), "duration": sys.argv[4], "connections": int(sys.argv[5]), "modes": {}}
for mode in ["off", "100", "10"]:
    rps = [r for r, _ in by[mode]]; p99 = [p for _, p in by[mode]]
    m_rps, m_p99 = statistics.median(rps), statistics.median(p99)
    print(f"{label[mode]:<24}{m_rps:>16.0f}{f'{min(rps):.0f}–{max(rps):.0f}':>20}{m_rps/off_rps:>8.2f}{m_p99:>10.2f}{m_p99/off_p99:>8.2f}")
    result["modes"][mode] = {"requestsPerSecond": rps, "p99Ms": p99, "medianRequestsPerSecond": m_rps,
                             "medianP99Ms": m_p99, "throughputRatio": m_rps / off_rps, "p99Ratio": m_p99 / off_p99}
json.dump(result, open(sys.argv[2], "w"), indent=2)
print(f"wrote {sys.argv[2]}")
PY
