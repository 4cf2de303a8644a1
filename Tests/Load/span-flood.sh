#!/usr/bin/env bash
# The load test (SECURITY.md, "Load"): CLIENTS real profd-testload processes offer RATE spans/s in total
# (open-loop /flood requests, Flood.swift) against a real profd, and Tests/Load/check-load.py checks that
#   - profd's RSS stays under RSS_CEILING_MIB and is flat: after WARMUP_SECONDS, the median of the second half
#     of the phase is within RSS_FLAT_MIB of the first half's (sampled every second, with its CPU);
#   - every span is accounted for: client counters (recorded, not recorded, dropped) against the sessions'
#     session.json (requests, suppressedSpans, droppedSpans), and every session's reports are complete;
#   - the watchdog never fires: profd runs with a test NOTIFY_SOCKET (notify-listener.py) and WATCHDOG_USEC,
#     and no gap between its WATCHDOG=1 keep-alives reaches WATCHDOG_USEC; profd serves a new session after;
#   - the requests' p99 latency profiled / unprofiled stays within LATENCY_P99_RATIO_MAX (BENCHMARKS.md).
# Phases, back to back: baseline (the same clients, no profd, BASELINE_SECONDS); profiled (DURATION s, each
# client's session rotated every SESSION_SECONDS); limit (a second profd with --max-spans-per-second below
# each client's rate, LIMIT_SECONDS, one session per client) so that suppression happens and is counted;
# keep-all (a third profd, one client keeping a report of every request at the per-client rate for
# KEEP_ALL_SECONDS, its RSS sampled; then both are killed, the session's reports are not waited for).
# Usage: Tests/Load/span-flood.sh   (make load-test: 24 s; make soak: 60 s; BIN=dir of profd, profd-testload)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/Tests/Load
BIN=${BIN:-$ROOT/.build/release}
export DURATION=${DURATION:-24} CLIENTS=${CLIENTS:-4} RATE=${RATE:-50000}
SESSION_SECONDS=${SESSION_SECONDS:-5}
BASELINE_SECONDS=${BASELINE_SECONDS:-10}
LIMIT_SECONDS=${LIMIT_SECONDS:-5}
KEEP_ALL_SECONDS=${KEEP_ALL_SECONDS:-6}
export WARMUP_SECONDS=${WARMUP_SECONDS:-$((2 * SESSION_SECONDS + 2))} KEEP_ALL_RSS_MIB=${KEEP_ALL_RSS_MIB:-96}
PER_CLIENT=$((RATE / CLIENTS))
LIMIT_RATE=${LIMIT_RATE:-$((PER_CLIENT / 2))}
export WATCHDOG_USEC=${WATCHDOG_USEC:-2000000}
export RSS_CEILING_MIB=${RSS_CEILING_MIB:-192} RSS_FLAT_MIB=${RSS_FLAT_MIB:-16}
export LATENCY_P99_RATIO_MAX=${LATENCY_P99_RATIO_MAX:-5} MIN_RATE_SHARE=${MIN_RATE_SHARE:-0.9}
WORK=$(mktemp -d /tmp/profd-load.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
mark() { python3 -c 'import time; print(time.monotonic())' | sed "s/^/$1 /" >>"$WORK/marks"; }

start_profd() {  # state-dir socket log [profd options...]: sets profd_pid
    "$BIN/profd" --state-dir "$1" --socket "$2" --log-target stderr --log-level info "${@:4}" >>"$3" 2>&1 &
    profd_pid=$!
    pids+=("$profd_pid")
    for _ in $(seq 500); do
        [ -S "$2" ] && return 0
        kill -0 "$profd_pid" 2>/dev/null || fail "profd exited at start: $(tail -5 "$3")"
        sleep 0.02
    done
    fail "profd did not create its socket"
}

stop_profd() {  # log: SIGTERM, wait, require exit 0
    kill -TERM "$profd_pid"
    local status=0
    wait "$profd_pid" || status=$?
    [ "$status" = 0 ] || fail "profd exited $status on SIGTERM: $(tail -5 "$1")"
}

run_clients() {  # phase seconds [profd-testload options...]: CLIENTS clients in parallel, each must exit 0
    local phase=$1 seconds=$2 client_pids=() i
    for i in $(seq "$CLIENTS"); do
        "$BIN/profd-testload" flood --spans-per-second "$PER_CLIENT" --seconds "$seconds" "${@:3}" \
            >"$WORK/$phase-client-$i.out" 2>&1 &
        client_pids+=($!)
        pids+=($!)
    done
    for i in "${!client_pids[@]}"; do
        wait "${client_pids[$i]}" || fail "$phase client $((i + 1)) failed: $(tail -3 "$WORK/$phase-client-$((i + 1)).out")"
    done
}

echo "load-test: $CLIENTS clients × $PER_CLIENT spans/s, profiled ${DURATION} s (sessions of ${SESSION_SECONDS} s), baseline ${BASELINE_SECONDS} s, limit ${LIMIT_SECONDS} s at $LIMIT_RATE/s; load $(cut -d' ' -f1-3 /proc/loadavg)"

# 1. Baseline: the same clients, ProfClient never started, no profd.
run_clients baseline "$BASELINE_SECONDS"

# 2. Profiled, with the watchdog armed.
python3 "$HERE/notify-listener.py" "$WORK/notify.sock" "$WORK/notify.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$WORK/notify.sock" ] && break; sleep 0.02; done
NOTIFY_SOCKET=$WORK/notify.sock WATCHDOG_USEC=$WATCHDOG_USEC start_profd "$WORK/state" "$WORK/profd.sock" "$WORK/profd.log"
python3 "$HERE/sample-process.py" "$profd_pid" "$WORK/profd-samples" &
pids+=($!)
mark clients-start
run_clients profiled "$DURATION" --profd-socket "$WORK/profd.sock" --session-seconds "$SESSION_SECONDS"
mark clients-end
sleep 2
"$BIN/profd-testload" halving --requests 3 --profd-socket "$WORK/profd.sock" >"$WORK/alive-client.out" 2>&1 || true
if grep -q '^report ' "$WORK/alive-client.out"; then
    alive=yes
else
    alive="no: $(tail -1 "$WORK/alive-client.out")"
fi
stop_profd "$WORK/profd.log"
echo "$alive" >"$WORK/alive"

# 3. A span limit below each client's rate: suppression must happen and be counted.
start_profd "$WORK/limit-state" "$WORK/limit.sock" "$WORK/limit.log" --max-spans-per-second "$LIMIT_RATE"
run_clients limit "$LIMIT_SECONDS" --profd-socket "$WORK/limit.sock"
stop_profd "$WORK/limit.log"

# 4. One client keeping every request (a hostile but valid option set): profd's memory must stay bounded.
start_profd "$WORK/keep-all-state" "$WORK/keep-all.sock" "$WORK/keep-all.log"
python3 "$HERE/sample-process.py" "$profd_pid" "$WORK/keep-all-samples" &
pids+=($!)
PROFD_TESTLOAD_SLOW_MS=0 "$BIN/profd-testload" flood --spans-per-second "$PER_CLIENT" --seconds $((KEEP_ALL_SECONDS + 30)) \
    --profd-socket "$WORK/keep-all.sock" >"$WORK/keep-all-client.out" 2>&1 &
keep_all_client=$!
pids+=("$keep_all_client")
sleep "$KEEP_ALL_SECONDS"
{ kill -9 "$keep_all_client" "$profd_pid"; wait "$keep_all_client" "$profd_pid"; } 2>/dev/null || true  # no "Killed" notices

echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 "$HERE/check-load.py" "$WORK"
