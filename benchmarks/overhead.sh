#!/usr/bin/env bash
# Throughput of the demo server's /compute route under wrk, with profd sampling it at 1 kHz and
# without profd (ProfClient then drops its spans). The difference is what profiling costs the server.
# Needs release builds (`make release demo-build`) and wrk.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=$here/.build/release
demo=$here/Examples/profd-demo/.build/release/profd-demo
work=$(mktemp -d /tmp/profd-overhead.XXXXXX)
port=${PORT:-18383}
duration=${DURATION:-10s}
pids=()
trap 'for p in "${pids[@]}"; do kill $p 2>/dev/null || true; done; rm -rf "$work"' EXIT

run() { # run LABEL
  "$demo" --port "$port" --socket "$work/profd.sock" >"$work/demo.log" 2>&1 &
  local demo_pid=$!
  for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break; sleep 0.1; done
  wrk -t1 -c2 -d5s "http://127.0.0.1:$port/compute" >/dev/null   # warm-up
  printf '%-28s' "$1"
  wrk -t1 -c2 -d"$duration" "http://127.0.0.1:$port/compute" | awk '/Requests\/sec/ {print $2 " req/s"}'
  kill -TERM "$demo_pid"; wait "$demo_pid" 2>/dev/null || true
}

run "without profd:"
"$bin/profd" --state-dir "$work/state" --socket "$work/profd.sock" 2>"$work/profd.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$work/profd.sock" ] && break; sleep 0.1; done
run "with profd at 1000 Hz:"
grep -o 'profd.elapsed_ms=[0-9]*' "$work/profd.log" | sed 's/^/report writing: /'
