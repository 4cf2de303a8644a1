#!/usr/bin/env bash
# Throughput of the demo server's /compute route under wrk, with profd sampling it at 1 kHz and
# without profd (ProfClient then drops its spans), and under `perf record -F 999 -g` for reference. The difference is what profiling costs the server.
# Needs release builds (`make release demo-build`) and wrk.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/.build/release
demo=$here/Examples/profd-demo/.build/release/profd-demo
work=$(mktemp -d /tmp/profd-overhead.XXXXXX)
port=${PORT:-18383}
duration=${DURATION:-10s}
sampling_ticks=0
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null || true; done; rm -rf "$work"' EXIT

run() { # run LABEL [perf]
  "$demo" --port "$port" --socket "$work/profd.sock" >"$work/demo.log" 2>&1 &
  local demo_pid=$! perf_pid=""
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
  wrk -t1 -c2 -d5s "http://127.0.0.1:$port/compute" >/dev/null   # warm-up
  if [ "${2:-}" = perf ]; then
    perf record -q -F 999 -g -p "$demo_pid" -o "$work/perf.data" >/dev/null 2>&1 &
    perf_pid=$!
    sleep 0.5
  fi
  printf '%-28s' "$1"
  local ticks_before=0
  [ ${#pids[@]} -gt 0 ] && ticks_before=$(awk '{print $14 + $15}' "/proc/${pids[0]}/stat")
  wrk -t1 -c2 -d"$duration" "http://127.0.0.1:$port/compute" | awk '/Requests\/sec/ {print $2 " req/s"}'
  [ ${#pids[@]} -gt 0 ] && sampling_ticks=$(( $(awk '{print $14 + $15}' "/proc/${pids[0]}/stat") - ticks_before ))
  if [ -n "$perf_pid" ]; then kill -INT "$perf_pid"; wait "$perf_pid" 2>/dev/null || true; fi
  kill -TERM "$demo_pid"; wait "$demo_pid" 2>/dev/null || true
}

run "without profd:"
run "perf record -F 999 -g:" perf
"$bin/profd" --state-dir "$work/state" --socket "$work/profd.sock" 2>"$work/profd.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$work/profd.sock" ] && break; sleep 0.1; done
run "with profd at 1000 Hz:"
grep -o 'profd.elapsed_ms=[0-9]*' "$work/profd.log" | sed 's/^/report writing: /'
samples=$(grep -o 'profd.samples=[0-9]*' "$work/profd.log" | tail -1 | cut -d= -f2)
hz=$(getconf CLK_TCK)
awk -v t="$sampling_ticks" -v hz="$hz" -v d="${duration%s}" -v s="$samples" 'BEGIN {
  printf "profd CPU while sampling: %.2f s in %d s (%.1f%% of a CPU), %d samples in the session\n", t/hz, d, 100*t/hz/d, s }'
