#!/usr/bin/env bash
# The demo behind `make demo`: profd + the Hummingbird demo server + load + profctl, all real.
#
# Starts profd with a local state directory, starts profd-demo (which links ProfClient and profiles
# itself through profd's socket), sends a few thousand requests to /compute and /hash, stops the
# server (which stops the session), prints the "GET /compute" text tree and every report file written.
# Reports are named "<method> <route>" by the demo's ProfdMiddleware. Every process it starts is stopped
# on exit, whatever happens.
#
# Environment: STATE_DIR (default ./.profd), DEMO_PORT (default 18080), COMPUTE_REQUESTS (1500),
# HASH_REQUESTS (1500), PROFD_BIN_DIR and DEMO_BIN (prebuilt binaries), DEMO_ARGS (more profd-demo
# options, for example "--sampled-percentage 10").
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
STATE_DIR=${STATE_DIR:-./.profd}
DEMO_PORT=${DEMO_PORT:-18080}
COMPUTE_REQUESTS=${COMPUTE_REQUESTS:-1500}
HASH_REQUESTS=${HASH_REQUESTS:-1500}
PROFD_BIN_DIR=${PROFD_BIN_DIR:-$here/.build/release}
DEMO_BIN=${DEMO_BIN:-$here/Examples/profd-demo/.build/release/profd-demo}

mkdir -p "$STATE_DIR"
STATE_DIR=$(cd "$STATE_DIR" && pwd)
socket="$STATE_DIR/profd.sock"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT
say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

say "starting profd (state dir $STATE_DIR)"
"$PROFD_BIN_DIR/profd" --state-dir "$STATE_DIR" --socket "$socket" --socket-mode 600 2>"$STATE_DIR/profd.log" &
profd_pid=$!
pids+=("$profd_pid")
for _ in $(seq 100); do [ -S "$socket" ] && break; sleep 0.1; done
[ -S "$socket" ] || { cat "$STATE_DIR/profd.log" >&2; echo "profd did not start" >&2; exit 1; }

say "starting profd-demo on 127.0.0.1:$DEMO_PORT"
# shellcheck disable=SC2086 # DEMO_ARGS is a list of options
"$DEMO_BIN" --port "$DEMO_PORT" --socket "$socket" ${DEMO_ARGS:-} >"$STATE_DIR/demo.log" 2>&1 &
demo_pid=$!
pids=("$demo_pid" "${pids[@]}")
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$DEMO_PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://127.0.0.1:$DEMO_PORT/health" >/dev/null || { cat "$STATE_DIR/demo.log" >&2; exit 1; }

say "sending $COMPUTE_REQUESTS requests to /compute and $HASH_REQUESTS to /hash"
curl -fsS -o /dev/null "http://127.0.0.1:$DEMO_PORT/compute?i=[1-$COMPUTE_REQUESTS]" &
load1=$!
curl -fsS -o /dev/null "http://127.0.0.1:$DEMO_PORT/hash?i=[1-$HASH_REQUESTS]" &
load2=$!
wait "$load1" "$load2"

say "stopping profd-demo (it stops its profiling session)"
kill -TERM "$demo_pid"
wait "$demo_pid" || true
pids=("${pids[@]:1}")
cat "$STATE_DIR/demo.log" | grep '^profd-demo:' >&2 || true

session=$(sed -n 's/^profd-demo: session \([^ ]*\) reports in .*/\1/p' "$STATE_DIR/demo.log" | tail -1)
[ -n "$session" ] || { echo "the demo did not report a session; profd log:" >&2; tail -20 "$STATE_DIR/profd.log" >&2; exit 1; }

say "GET /compute, as text (profctl --state-dir $STATE_DIR dump --format text --route 'GET /compute')"
"$PROFD_BIN_DIR/profctl" --state-dir "$STATE_DIR" dump --session "$session" --format text --route "GET /compute"

say "report files written"
find "$STATE_DIR/sessions/$session" -type f | sort
