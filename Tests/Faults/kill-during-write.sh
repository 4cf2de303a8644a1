#!/usr/bin/env bash
# profd SIGKILLed while it writes a session's reports, ITERATIONS times (default 50).
#
# Each iteration starts profd on the same state directory, has profd-testload profile 40 requests (every one
# kept: 80 request files, a route, the session and capture.bin, ~1 MB, ~0.6 s of writing in a debug build)
# and stop its session, waits for profd to log "session stopped" (the write has begun), sleeps a delay that
# varies from 0 to 120% of the last measured write time, and SIGKILLs profd. Then:
#   - before the restart, every session directory is complete (staging .tmp-* may exist: counted);
#   - profd restarts; after recovery no .tmp-* is left and every session directory is complete or absent
#     (check-sessions.py: session.json parses, every file it lists exists, its JSON files parse);
#   - a session the client was told about ("report DIR") exists and is complete;
#   - the restarted daemon serves a new session (the next iteration's, and a final complete one).
# Usage: Tests/Faults/kill-during-write.sh   (ITERATIONS=N, BIN=dir of profd and profd-testload)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/.build/debug}
ITERATIONS=${ITERATIONS:-50}
CHECK="$ROOT/Tests/Faults/check-sessions.py"
WORK=$(mktemp -d /tmp/profd-kill.XXXXXX)
STATE=$WORK/state
SOCK=$WORK/profd.sock
pid=""
cpid=""
cleanup() {
    [ -n "$cpid" ] && kill -9 "$cpid" 2>/dev/null || true
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

start_profd() {
    rm -f "$SOCK"
    "$BIN/profd" --state-dir "$STATE" --socket "$SOCK" --log-target stderr --log-level debug >>"$1" 2>&1 &
    pid=$!
    for _ in $(seq 500); do
        [ -S "$SOCK" ] && return 0
        kill -0 "$pid" 2>/dev/null || fail "profd exited at startup: $(tail -3 "$1")"
        sleep 0.02
    done
    fail "profd did not create its socket"
}

wait_for_log() {  # pattern file timeout-seconds
    local deadline=$(( $(date +%s) + $3 ))
    until grep -q "$1" "$2"; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        sleep 0.01
    done
}

started=$(date +%s)
# Calibration: one session written undisturbed gives the first estimate of the write time.
start_profd "$WORK/profd.0.log"
PROFD_TESTLOAD_SLOW_MS=0 "$BIN/profd-testload" halving --requests 40 --profd-socket "$SOCK" >"$WORK/client.0" 2>&1 \
    || fail "calibration session: $(cat "$WORK/client.0")"
write_ms=$(grep -o 'elapsed_ms=[0-9]*' "$WORK/profd.0.log" | tail -1 | cut -d= -f2)
kill -9 "$pid"; wait "$pid" 2>/dev/null || true; pid=""
calibrated_ms=$write_ms
max_delay=0
complete_at_kill=0; absent=0; staging_seen=0; reported=0
for i in $(seq 1 "$ITERATIONS"); do
    log=$WORK/profd.$i.log
    start_profd "$log"
    # Recovery ran before the socket was bound.
    "$CHECK" "$STATE" --no-temporaries >"$WORK/check.txt" || fail "iteration $i after restart: $(cat "$WORK/check.txt")"
    before=$(ls "$STATE/sessions" | grep -vc '^\.tmp-' || true)
    PROFD_TESTLOAD_SLOW_MS=0 "$BIN/profd-testload" halving --requests 40 --profd-socket "$SOCK" >"$WORK/client.$i" 2>&1 &
    cpid=$!
    wait_for_log "session started" "$log" 20 || fail "iteration $i: the restarted profd did not start a session"
    wait_for_log "session stopped" "$log" 60 || fail "iteration $i: no session stopped"
    # Spread the kills over the write: 0-120% of the last measured write time (profd logs elapsed_ms when
    # a write completes), in a scrambled order.
    delay_ms=$(( (i * 53 % 100) * write_ms * 12 / 1000 ))
    [ "$delay_ms" -gt "$max_delay" ] && max_delay=$delay_ms
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    kill -9 "$pid"
    wait "$pid" 2>/dev/null || true
    pid=""
    # The client either got its report before the kill or is waiting for a reply that will not come.
    sleep 0.05
    kill -9 "$cpid" 2>/dev/null || true
    wait "$cpid" 2>/dev/null || true
    cpid=""
    # A write that completed tells the current write time; a late kill that still found no session means
    # writes got slower (other builds on the machine): stretch the estimate.
    measured=$(grep -o 'elapsed_ms=[0-9]*' "$log" | tail -1 | cut -d= -f2 || true)
    if [ -n "$measured" ]; then write_ms=$measured
    elif [ $((delay_ms * 10)) -gt $((write_ms * 8)) ]; then write_ms=$((write_ms * 5 / 4)); fi
    if ls -a "$STATE/sessions" | grep -q '^\.tmp-'; then staging_seen=$((staging_seen + 1)); fi
    "$CHECK" "$STATE" >"$WORK/check.txt" || fail "iteration $i right after SIGKILL (delay ${delay_ms} ms): $(cat "$WORK/check.txt")"
    after=$(ls "$STATE/sessions" | grep -vc '^\.tmp-' || true)
    if [ "$after" -gt "$before" ]; then complete_at_kill=$((complete_at_kill + 1)); else absent=$((absent + 1)); fi
    if directory=$(grep '^report ' "$WORK/client.$i" | cut -d' ' -f2-); [ -n "$directory" ]; then
        reported=$((reported + 1))
        [ -f "$directory/session.json" ] || fail "iteration $i: the client was told $directory, which is missing"
    fi
done

log=$WORK/profd.final.log
start_profd "$log"
"$CHECK" "$STATE" --no-temporaries >"$WORK/check.txt" || fail "final restart: $(cat "$WORK/check.txt")"
PROFD_TESTLOAD_SLOW_MS=0 "$BIN/profd-testload" halving --requests 10 --profd-socket "$SOCK" >"$WORK/client.final" 2>&1 \
    || fail "the restarted daemon did not serve a session: $(cat "$WORK/client.final")"
directory=$(grep '^report ' "$WORK/client.final" | cut -d' ' -f2-)
[ -f "$directory/session.json" ] || fail "final session missing"
"$CHECK" "$STATE" --no-temporaries >"$WORK/check.txt" || fail "final: $(cat "$WORK/check.txt")"
kill -TERM "$pid"; wait "$pid" || true; pid=""
echo "kill-during-write: $ITERATIONS SIGKILLs during report writing (delays 0-${max_delay} ms; write time ${calibrated_ms} ms undisturbed, ${write_ms} ms at the end) in $(( $(date +%s) - started )) s:" \
     "$staging_seen left a staging .tmp-* (killed mid-write), $complete_at_kill sessions complete, $absent absent, $reported confirmed to the client;" \
     "after every restart: no .tmp-*, every session complete ($(tail -1 "$WORK/check.txt")), a new session served"
