#!/usr/bin/env bash
# Pid reuse (root: writes /proc/sys/kernel/ns_last_pid): a client's pid given to a victim must not be sampled.
# A real profd; pid-reuse.py does the rest. Checks too that profd opened no perf event for the victim and
# logged the refusal, and that a normal client is served afterwards.
# Usage: Tests/Faults/pid-reuse.sh   (BIN=dir of profd and profd-testload)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/.build/debug}
WORK=$(mktemp -d /tmp/profd-pidreuse.XXXXXX)
pid=""
cleanup() {
    [ -n "$pid" ] && { kill -9 "$pid"; wait "$pid"; } 2>/dev/null || true
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; [ -f "$WORK/profd.log" ] && tail -20 "$WORK/profd.log" >&2; exit 1; }

"$BIN/profd" --state-dir "$WORK/state" --socket "$WORK/profd.sock" --log-target stderr --log-level debug \
    >"$WORK/profd.log" 2>&1 &
pid=$!
for _ in $(seq 500); do [ -S "$WORK/profd.sock" ] && break; sleep 0.02; done
[ -S "$WORK/profd.sock" ] || fail "profd did not create its socket"

for round in 1 2 3; do
    set +e
    python3 "$ROOT/Tests/Faults/pid-reuse.py" "$WORK/profd.sock"
    rc=$?
    set -e
    [ $rc = 2 ] && continue
    [ $rc = 0 ] || fail "pid-reuse.py failed"
    break
done
[ $rc = 0 ] || fail "could not reuse a pid in 3 rounds (machine too busy)"
grep -q "session started" "$WORK/profd.log" && fail "profd started a session for the reused pid"
grep -q "cannot start sampling" "$WORK/profd.log" || fail "the refusal is not logged"
echo "ok - no session started, refusal logged: $(grep 'cannot start sampling' "$WORK/profd.log" | head -1 | cut -c1-160)"
python3 "$ROOT/Tests/Faults/pid-reuse.py" "$WORK/profd.sock" --after-start || fail "pid-reuse.py --after-start failed"
grep -q "profd.reason=client-exited" "$WORK/profd.log" || fail "the session is not logged as client-exited"
echo "ok - logged: $(grep 'profd.reason=client-exited' "$WORK/profd.log" | head -1 | cut -c1-160)"
kill -0 "$pid" || fail "profd died"
"$BIN/profd-testload" halving --requests 3 --profd-socket "$WORK/profd.sock" >"$WORK/client.out" 2>&1 \
    || fail "a normal client afterwards: $(cat "$WORK/client.out")"
grep -q '^report ' "$WORK/client.out" || fail "no report for the normal client"
echo "ok - profd serves a normal client afterwards"
echo "pid-reuse: all passed"
