#!/usr/bin/env bash
# Storage faults against a real profd (needs root for mount):
#   1. A full disk: the state directory is a 2 MiB tmpfs; one session is written, the rest is filled with a
#      filler file, and a second session is profiled. Asserts: the client's stop gets an error reply (it exits
#      at once instead of waiting), profd logs ENOSPC with the session id, stays alive, the first session's
#      files are byte-identical, no partial session directory exists (only complete ones, no .tmp-*); after
#      the filler is removed the same daemon serves a third session, written complete.
#   2. Planted symlinks pointing outside the state directory: `sessions` (at start: profd refuses to start;
#      while running: the write is refused with an error reply), `live` while running (live writes refused),
#      `sessions/.tmp-*` and `live` before start (unlinked, their targets untouched). Asserts nothing is ever
#      written through them.
# Usage: Tests/Faults/storage-faults.sh   (BIN=dir of profd and profd-testload)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$ROOT/.build/debug}
CHECK="$ROOT/Tests/Faults/check-sessions.py"
WORK=$(mktemp -d /tmp/profd-storage.XXXXXX)
pid=""
mounted=""
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
    [ -n "$mounted" ] && umount "$mounted" 2>/dev/null || true
    if [ "${KEEP:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

start_profd() {  # state-dir log
    rm -f "$WORK/profd.sock"
    "$BIN/profd" --state-dir "$1" --socket "$WORK/profd.sock" --log-target stderr --log-level debug >>"$2" 2>&1 &
    pid=$!
    for _ in $(seq 500); do
        [ -S "$WORK/profd.sock" ] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.02
    done
    fail "profd did not create its socket"
}

profile() {  # output-file [env...]: one short session; returns the client's exit code
    env "${@:2}" "$BIN/profd-testload" halving --requests 10 --profd-socket "$WORK/profd.sock" >"$1" 2>&1
}

# ---- 1. full disk ------------------------------------------------------------------------------------
STATE=$WORK/full
mkdir -p "$STATE"
if mount -t tmpfs -o size=2m,mode=0750 tmpfs "$STATE" 2>/dev/null; then
    mounted=$STATE
else
    fail "cannot mount a tmpfs (run as root; in a container, with CAP_SYS_ADMIN)"
fi
log=$WORK/full.log
start_profd "$STATE" "$log" || fail "profd did not start on the tmpfs"
profile "$WORK/a.out" || fail "first session: $(cat "$WORK/a.out")"
first=$(grep '^report ' "$WORK/a.out" | cut -d' ' -f2-)
(cd "$first" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$WORK/first.sha"
dd if=/dev/zero of="$STATE/filler" bs=4k 2>/dev/null || true
echo "disk: $(df -k --output=avail "$STATE" | tail -1 | tr -d ' ') KiB free after filling"
t0=$(date +%s%N)
if profile "$WORK/b.out"; then fail "a session was confirmed on a full disk: $(cat "$WORK/b.out")"; fi
elapsed_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
grep -q "did not confirm" "$WORK/b.out" || fail "client: $(cat "$WORK/b.out")"
sleep 0.2
line=$(grep "cannot write reports of session" "$log" | tail -1)
[ -n "$line" ] || fail "no error logged: $(tail -5 "$log")"
echo "$line" | grep -q "ENOSPC" || fail "the error does not name ENOSPC: $line"
echo "$line" | grep -q "profd.session=" || fail "the error does not name the session: $line"
pass "full disk: client's stop answered with an error in ${elapsed_ms} ms (session incl.); log: $(echo "$line" | grep -o 'cannot write reports of session [^ ]*') ... profd.errno=ENOSPC"
kill -0 "$pid" || fail "profd died on a full disk"
pass "full disk: profd still running"
(cd "$first" && sha256sum --quiet -c "$WORK/first.sha") || fail "the first session changed"
pass "full disk: first session's $(wc -l <"$WORK/first.sha") files byte-identical"
ls -a "$STATE/sessions" | grep -q '^\.tmp-' && fail "a partial .tmp-* was left: $(ls -a "$STATE/sessions")"
"$CHECK" "$STATE" >"$WORK/check.txt" || fail "$(cat "$WORK/check.txt")"
[ "$(tail -1 "$WORK/check.txt")" = "sessions 1" ] || fail "expected only the first session: $(ls "$STATE/sessions")"
pass "full disk: no partial session directory (sessions/ holds the first session only)"
rm -f "$STATE/filler"
profile "$WORK/c.out" || fail "after freeing space: $(cat "$WORK/c.out")"
"$CHECK" "$STATE" --no-temporaries >"$WORK/check.txt" || fail "$(cat "$WORK/check.txt")"
[ "$(tail -1 "$WORK/check.txt")" = "sessions 2" ] || fail "expected two sessions: $(cat "$WORK/check.txt")"
pass "full disk: after freeing space the same daemon (pid $pid) wrote a new complete session"
kill -TERM "$pid"; wait "$pid" || fail "profd exit status $?"; pid=""
umount "$STATE"; mounted=""

# ---- 2. planted symlinks -----------------------------------------------------------------------------
OUT=$WORK/outside
mkdir -p "$OUT"
echo keep >"$OUT/precious"
untouched() { [ "$(ls -A "$OUT")" = "precious" ] && [ "$(cat "$OUT/precious")" = keep ] || fail "written through a symlink: $(ls -lA "$OUT")"; }

# 2a. sessions -> outside, before start: profd refuses to start and says why.
STATE=$WORK/s1
mkdir -p "$STATE"; ln -s "$OUT" "$STATE/sessions"
log=$WORK/s1.log
if start_profd "$STATE" "$log"; then fail "profd started with sessions/ a symlink"; fi
wait "$pid" 2>/dev/null || true; pid=""
grep -q "symlinks are refused" "$log" || fail "no reason logged: $(tail -3 "$log")"
untouched
pass "planted sessions symlink at start: profd refuses to start ($(grep -o 'cannot prepare state directory[^]]*' "$log" | head -1 | cut -c1-160))"

# 2b. sessions and live replaced by symlinks while profd runs.
STATE=$WORK/s2
log=$WORK/s2.log
start_profd "$STATE" "$log" || fail "profd did not start"
profile "$WORK/d.out" || fail "$(cat "$WORK/d.out")"
mv "$STATE/sessions" "$STATE/sessions.real"; ln -s "$OUT" "$STATE/sessions"
mkdir -p "$STATE/live"; mv "$STATE/live" "$STATE/live.real"; ln -s "$OUT" "$STATE/live"
if profile "$WORK/e.out" PROFD_TESTLOAD_SLOW_MS=0; then fail "a session was written through a planted symlink"; fi
sleep 0.3
untouched
grep "cannot write reports of session" "$log" | grep -q "symlinks are refused" || fail "no refusal logged: $(grep -i error "$log" | tail -2)"
grep -q "cannot write a live kept request" "$log" || fail "live writes were not refused"
kill -0 "$pid" || fail "profd died"
pass "planted sessions and live symlinks while running: writes refused with an error reply, logged, nothing outside"
rm "$STATE/sessions" "$STATE/live"; mv "$STATE/sessions.real" "$STATE/sessions"
profile "$WORK/f.out" || fail "after removing the symlinks: $(cat "$WORK/f.out")"
pass "and the daemon serves again once they are gone"
kill -TERM "$pid"; wait "$pid" || true; pid=""

# 2c. .tmp-* and live symlinks planted before start: unlinked by recovery, targets untouched.
ln -s "$OUT" "$STATE/sessions/.tmp-planted"
ln -s "$OUT/precious" "$STATE/sessions/.tmp-file"
ln -s "$OUT" "$STATE/live"
start_profd "$STATE" "$log" || fail "profd did not start"
[ ! -L "$STATE/sessions/.tmp-planted" ] && [ ! -L "$STATE/sessions/.tmp-file" ] && [ ! -L "$STATE/live" ] || fail "planted links left: $(ls -la "$STATE/sessions" "$STATE")"
untouched
profile "$WORK/g.out" PROFD_TESTLOAD_SLOW_MS=0 || fail "$(cat "$WORK/g.out")"
untouched
"$CHECK" "$STATE" --no-temporaries >"$WORK/check.txt" || fail "$(cat "$WORK/check.txt")"
pass "planted .tmp-* and live symlinks before start: unlinked at start, targets untouched, $(tail -1 "$WORK/check.txt") complete"
kill -TERM "$pid"; wait "$pid" || true; pid=""

# ---- 3. retention through the daemon -------------------------------------------------------------------
# By size: a limit below two sessions keeps only the newest after each write; by age: with a 2 s limit, a
# session older than that goes when the next one is written. Each removal is logged with its reason, and
# the status document carries the size limit.
STATE=$WORK/r1
log=$WORK/r1.log
rm -f "$WORK/profd.sock"
"$BIN/profd" --state-dir "$STATE" --socket "$WORK/profd.sock" --log-target stderr --retention-max-bytes 64K \
    --retention-max-age 3s >>"$log" 2>&1 &
pid=$!
for _ in $(seq 500); do [ -S "$WORK/profd.sock" ] && break; sleep 0.02; done
profile "$WORK/r1.out" || fail "$(cat "$WORK/r1.out")"
profile "$WORK/r2.out" || fail "$(cat "$WORK/r2.out")"
second=$(grep '^report ' "$WORK/r2.out" | cut -d' ' -f2-)
sleep 0.2
[ "$(ls "$STATE/sessions")" = "$(basename "$second")" ] || fail "size retention: $(du -sk "$STATE"/sessions/*)"
grep "session removed by retention" "$log" | grep -q "profd.reason=retention-size" || fail "no retention-size log line"
if [ -x "$BIN/profctl" ]; then
    "$BIN/profctl" status --json --socket "$WORK/profd.sock" | grep -q '"retentionLimitBytes":65536' || fail "status document lacks the limit"
fi
sleep 4
profile "$WORK/r3.out" || fail "$(cat "$WORK/r3.out")"
sleep 0.2
grep "session removed by retention" "$log" | grep "profd.session=$(basename "$second")" | grep -q "profd.reason=retention-age" \
    || fail "no retention-age removal of $(basename "$second"): $(grep retention "$log" | tail -2)"
[ "$(ls "$STATE/sessions" | wc -l)" = 1 ] || fail "age retention: $(ls "$STATE/sessions")"
"$CHECK" "$STATE" --no-temporaries >/dev/null || fail "after retention"
pass "retention: by size (64K, less than one session: only the newest kept, PROFD_REASON=retention-size), by age (3s: PROFD_REASON=retention-age), limit in the status document, never the session just written"
kill -TERM "$pid"; wait "$pid" || true; pid=""
echo "storage-faults: all passed"
