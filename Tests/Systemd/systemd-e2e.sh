#!/usr/bin/env bash
# systemd-e2e.sh — profd as a real systemd service: `make install` into a throw-away systemd 252 container
# (../shared/systemd/with-systemd: the host's / read-only under a tmpfs overlay, private network), then
#   socket activation on the first connection, Type=notify and StatusText=, the hardened sandbox (user
#   profd, CAP_PERFMON only), a demo server of ANOTHER user (DynamicUser=) profiled through the socket,
#   `systemctl restart profd` mid-session (open session's reports written, daemon-shutdown, incomplete;
#   older reports byte-identical; the client reconnects), reports read back with profctl, journald fields,
#   profctl status and attach mode (start --unit on the demo; another user refused), the watchdog restarting
#   a stalled profd, and a clean stop that leaves no profd process.
# Needs root and the release binaries: `make release demo-build` first (this script never builds).
# Knobs: WITH_SYSTEMD (path of with-systemd), RELEASE_DIR (.build/release), DEMO (the profd-demo binary),
#        PREFIX (/usr/local; where `make install` puts profd inside the container).
set -Eeuo pipefail

REPO=$(cd "$(dirname "$0")" && git rev-parse --show-toplevel)
if [ -z "${SYSD_ROOT:-}" ]; then
  # The workplace keeps with-systemd in shared/ beside the project's clone; look there, then one level up.
  if [ -z "${WITH_SYSTEMD:-}" ]; then
    for candidate in "$REPO/../shared/systemd/with-systemd" "$REPO/../../shared/systemd/with-systemd" /work/shared/systemd/with-systemd; do
      [ -x "$candidate" ] && { WITH_SYSTEMD=$candidate; break; }
    done
  fi
  [ -x "${WITH_SYSTEMD:-}" ] || { echo "FAIL  with-systemd not found beside the clone ($REPO/../shared/systemd/with-systemd); set WITH_SYSTEMD="; exit 1; }
  exec "$WITH_SYSTEMD" "$(cd "$(dirname "$0")" && pwd)/$(basename "$0")" "$@"
fi

# ---------------------------------------------------------------- inside with-systemd from here on
cd "$REPO"
T0=$EPOCHREALTIME
RELEASE_DIR=${RELEASE_DIR:-.build/release}
DEMO=${DEMO:-$REPO/Examples/profd-demo/.build/release/profd-demo}
PREFIX=${PREFIX:-/usr/local}
PROFCTL=$PREFIX/bin/profctl
STATE=$SYSD_ROOT/var/lib/profd          # the container's /var/lib/profd, seen from the host
WATCHDOG_LIMIT=${WATCHDOG_LIMIT:-12}    # WatchdogSec=10s, then SIGABRT ends profd at once (no backtracer) and systemd restarts it
FAILED=0
LOG=$(mktemp -d /tmp/profd-systemd-e2e.XXXXXX)
trap 'rm -rf "$LOG"' EXIT

elapsed() { awk -v a="$EPOCHREALTIME" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }
pass() { printf 'PASS  %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; FAILED=1; }
info() { printf '      %s\n' "$*"; }
finish() {
  if [ "$FAILED" != 0 ]; then
    echo "---- journalctl -u profd -u profd-demo (last 80 lines)"
    sysd-exec journalctl -u profd -u profd-demo -u profd-demo-first --no-pager 2>&1 | tail -80 || true
    echo "systemd-e2e: FAIL ($(elapsed "$T0") s)"; exit 1
  fi
  echo "systemd-e2e: PASS ($(elapsed "$T0") s)"; exit 0
}
die() { fail "$*"; finish; }
# wait_for SECONDS CMD...: polls CMD every 0.1 s; status 0 as soon as it succeeds.
wait_for() {
  local deadline; deadline=$(awk -v a="$EPOCHREALTIME" -v s="$1" 'BEGIN { printf "%.3f", a + s }'); shift
  until "$@" >/dev/null 2>&1; do
    awk -v a="$EPOCHREALTIME" -v d="$deadline" 'BEGIN { exit !(a > d) }' && return 1
    sleep 0.1
  done
}
prop() { sysd-exec systemctl show -p "$2" --value "$1"; }
is_active() { [ "$(sysd-exec systemctl is-active "$1")" = active ]; }
http() { sysd-exec curl -fsS --max-time 10 "http://127.0.0.1:$1$2"; }
# journal_sessions MESSAGE: "session pid" of each profd journal entry whose MESSAGE contains MESSAGE.
journal_sessions() {
  sysd-exec journalctl -u profd -o json --no-pager | python3 -c '
import json, sys
for line in sys.stdin:
    e = json.loads(line)
    if sys.argv[1] in str(e.get("MESSAGE", "")) and "PROFD_SESSION" in e:
        print(e["PROFD_SESSION"], e.get("PROFD_CLIENT_PID", "-"))' "$1"
}
# Reports only: STATE/live/ holds the follow/top feeds, which profd rewrites and removes by design.
checksums() { (cd "$STATE" && find ./sessions -type f -print0 | sort -z | xargs -0r sha256sum); }

for f in "$RELEASE_DIR/profd" "$RELEASE_DIR/profctl" "$DEMO"; do
  [ -x "$f" ] || die "$f is not built: run 'make release demo-build' first"
done
DEMO=$(readlink -f "$DEMO")
info "profd $(readlink -f "$RELEASE_DIR/profd") built $(date -r "$RELEASE_DIR/profd" '+%F %T'); demo $DEMO"

# ---------------------------------------------------------------- install, users, units
make -s --no-print-directory install DESTDIR="$SYSD_ROOT" PREFIX="$PREFIX" RELEASE_DIR="$RELEASE_DIR" >"$LOG/install" 2>&1 ||
  { cat "$LOG/install"; die "make install DESTDIR=\$SYSD_ROOT PREFIX=$PREFIX"; }
sysd-exec systemd-sysusers profd.conf >/dev/null 2>&1 || die "systemd-sysusers profd.conf"
sysd-exec systemd-tmpfiles --create profd.conf || die "systemd-tmpfiles --create profd.conf"
# Strict for the test only: a system call the filter denies kills profd (SIGSYS, audit record) instead
# of failing with EPERM, so a call missing from the filter fails this test rather than going unnoticed.
mkdir -p "$SYSD_ROOT/etc/systemd/system/profd.service.d"
printf '[Service]\nSystemCallErrorNumber=kill\n' >"$SYSD_ROOT/etc/systemd/system/profd.service.d/50-test-strict.conf"
sysd-exec systemctl daemon-reload
pass "make install PREFIX=$PREFIX into the container, sysusers, tmpfiles, daemon-reload"
# The demo goes into the container too: the container has its own /tmp, so a clone under /tmp (and the
# demo binary in it) is invisible to units started inside.
install -D -m 0755 "$DEMO" "$SYSD_ROOT/usr/local/lib/profd-test/profd-demo" || die "copy the demo into the container"
DEMO=/usr/local/lib/profd-test/profd-demo
PROFD_UID=$(sysd-exec id -u profd)

# ---------------------------------------------------------------- socket activation
sysd-exec systemctl start profd.socket || die "systemctl start profd.socket"
sock=$(sysd-exec stat -c '%A %U:%G' /run/profd/profd.sock 2>&1)
if [ "$sock" = "srw-rw---- root:profd" ]; then pass "profd.socket listening: /run/profd/profd.sock $sock"; else fail "socket file: $sock"; fi
state=$(sysd-exec systemctl is-active profd.service || true)
if [ "$state" = inactive ]; then pass "profd.service not started before the first connection"; else fail "profd.service is $state before any connection"; fi

# A first demo server (its own DynamicUser, port 8081): its connection activates profd; its session
# becomes reports that must survive the restart below untouched.
t=$EPOCHREALTIME
sysd-exec systemd-run --quiet --unit=profd-demo-first -p DynamicUser=yes -p SupplementaryGroups=profd "$DEMO" --port 8081 ||
  die "systemd-run profd-demo-first"
if wait_for 20 is_active profd.service; then pass "socket activation: profd.service active $(elapsed "$t") s after the first client started"
else die "profd.service did not become active on the first connection ($(sysd-exec systemctl is-active profd.service))"; fi
wait_for 10 http 8081 /health || die "profd-demo-first does not answer on :8081"
has_status() { [ -n "$(prop profd StatusText)" ]; }
status=""; wait_for 10 has_status && status=$(prop profd StatusText)
if [ -n "$status" ]; then pass "StatusText=\"$status\""; else fail "StatusText is empty"; fi
for _ in $(seq 10); do http 8081 /compute >/dev/null || fail "GET :8081/compute"; done
FIRST_PID=$(prop profd-demo-first MainPID)
sysd-exec systemctl stop profd-demo-first
wait_for 10 sh -c "ls '$STATE'/sessions/*-$FIRST_PID-*/session.json" ||
  fail "profd-demo-first's session reports were not written"

# ---------------------------------------------------------------- the sandbox profd runs in
PROFD_PID=$(prop profd MainPID)
user=$(sysd-exec ps -o user= -p "$PROFD_PID" | tr -d ' ')
caps=$(sysd-exec grep -E '^(CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' "/proc/$PROFD_PID/status" | tr -s '\t ' ' ' | tr '\n' ' ')
# CAP_PERFMON is capability 38: 0x4000000000.
if [ "$user" = profd ] && [[ "$caps" == *"CapEff: 0000004000000000"* && "$caps" == *"CapBnd: 0000004000000000"* &&
     "$caps" == *"CapAmb: 0000004000000000"* && "$caps" == *"NoNewPrivs: 1"* && "$caps" == *"Seccomp: 2"* ]]; then
  pass "profd runs as user profd with CAP_PERFMON only, no_new_privs, seccomp ($caps)"
else
  fail "profd (pid $PROFD_PID) runs as '$user' with $caps"
fi

# ---------------------------------------------------------------- the demo: another user's process
sysd-exec systemd-run --quiet --unit=profd-demo -p DynamicUser=yes -p SupplementaryGroups=profd "$DEMO" --port 8080 ||
  die "systemd-run profd-demo"
wait_for 10 http 8080 /health || die "profd-demo does not answer on :8080"
DEMO_PID=$(prop profd-demo MainPID)
DEMO_UID=$(sysd-exec ps -o uid= -p "$DEMO_PID" | tr -d ' ')
ok=1
for _ in $(seq 40); do http 8080 /compute >/dev/null || ok=0; done
for _ in $(seq 10); do http 8080 /hash >/dev/null || ok=0; done
if [ "$ok" = 1 ]; then pass "40 × GET /compute and 10 × GET /hash to profd-demo (uid $DEMO_UID; profd is uid $PROFD_UID)"
else fail "requests to profd-demo failed"; fi
[ "$DEMO_UID" != "$PROFD_UID" ] && [ "$DEMO_UID" != 0 ] || fail "the demo runs as uid $DEMO_UID: not another user"
S1=""
for _ in $(seq 100); do
  S1=$(journal_sessions "session started" | awk -v p="$DEMO_PID" '$2 == p { s = $1 } END { print s }')
  [ -n "$S1" ] && break; sleep 0.1
done
if [ -n "$S1" ]; then pass "session $S1 open for the demo (pid $DEMO_PID)"; else die "no 'session started' entry for pid $DEMO_PID"; fi

# ---------------------------------------------------------------- restart profd mid-session
checksums >"$LOG/before"
NBEFORE=$(wc -l <"$LOG/before")
OLD_PID=$PROFD_PID
t=$EPOCHREALTIME
sysd-exec systemctl restart profd || fail "systemctl restart profd"
NEW_PID=$(prop profd MainPID)
if is_active profd && [ "$NEW_PID" != "$OLD_PID" ]; then pass "systemctl restart profd: pid $OLD_PID → $NEW_PID in $(elapsed "$t") s"
else fail "after restart: $(sysd-exec systemctl is-active profd), MainPID $NEW_PID (was $OLD_PID)"; fi
S1JSON=$STATE/sessions/$S1/session.json
if [ -f "$S1JSON" ] && python3 - "$S1JSON" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))["session"]
print(f"      endReason={s.get('endReason')} complete={s.get('complete')}")
sys.exit(0 if s.get("endReason") == "daemon-shutdown" and s.get("complete") is False else 1)
EOF
then pass "the open session's reports were written on SIGTERM: endReason daemon-shutdown, complete false"
else fail "session $S1 after the restart: $(ls "$STATE/sessions/$S1" 2>&1 | tr '\n' ' ')"; fi
if [ "$NBEFORE" -gt 0 ] && (cd "$STATE" && sha256sum --quiet -c "$LOG/before") >"$LOG/diff" 2>&1; then
  pass "all $NBEFORE report files written before the restart are byte-identical after it"
else
  fail "report files written before the restart changed ($NBEFORE files):"; head -20 "$LOG/diff"
fi

# The client reconnects by itself (hello + start again) and opens a new session.
S2=""
for _ in $(seq 100); do
  http 8080 /compute >/dev/null || true
  S2=$(journal_sessions "session started" | awk -v p="$DEMO_PID" -v old="$S1" '$2 == p && $1 != old { s = $1 } END { print s }')
  [ -n "$S2" ] && break; sleep 0.1
done
if [ -n "$S2" ]; then pass "the demo reconnected: new session $S2"; else fail "no new session from pid $DEMO_PID after the restart"; fi
info "StatusText while profiling: \"$(prop profd StatusText)\""
# Keep the session busy for longer than WatchdogSec: profd must keep pinging while it profiles.
PID_BEFORE=$(prop profd MainPID)
t=$EPOCHREALTIME n=0 ok=1
while awk -v a="$EPOCHREALTIME" -v b="$t" 'BEGIN { exit !(a - b < 12) }'; do
  http 8080 /compute >/dev/null || ok=0; n=$((n + 1))
  [ $((n % 10)) = 0 ] && { http 8080 /hash >/dev/null || ok=0; }
done
if [ "$ok" = 1 ] && [ "$(prop profd MainPID)" = "$PID_BEFORE" ] && [ "$(prop profd NRestarts)" = 0 ]; then
  pass "$n requests over $(elapsed "$t") s (> WatchdogSec) while profiling: no watchdog timeout, no restart"
else fail "during 12 s of requests: requests ok=$ok, MainPID $(prop profd MainPID) (was $PID_BEFORE), NRestarts $(prop profd NRestarts)"; fi
status=$(prop profd StatusText)
if [[ "$status" == *"$DEMO_PID"* || "$status" == *profd-demo* ]]; then pass "StatusText names the client being profiled: \"$status\""
else fail "StatusText does not name the client (pid $DEMO_PID) after 12 s of profiling: \"$status\""; fi

# ---------------------------------------------------------------- profctl status, attach mode
if sysd-exec "$PROFCTL" status --json >"$LOG/status.json" 2>"$LOG/profctl.err" && python3 - "$LOG/status.json" "$DEMO_PID" <<'EOF'
import json, sys
d, pid = json.load(open(sys.argv[1])), int(sys.argv[2])
mine = [s for s in d["sessions"] if s["pid"] == pid and s["kind"] == "client"]
print(f"      daemon {d['daemon']['version']} pid {d['daemon']['pid']}, {len(d['sessions'])} open; demo: "
      + (f"unit {mine[0].get('unit')}, {mine[0]['samples']} samples, {mine[0]['spans']} spans" if mine else "missing"))
sys.exit(0 if mine and mine[0].get("unit") == "profd-demo.service" and d["disk"]["retentionLimitBytes"] == 1 << 30 else 1)  # the unit passes no options: the 1G default
EOF
then pass "profctl status --json lists the demo's client session with its unit"
else fail "profctl status --json: $(cat "$LOG/status.json" "$LOG/profctl.err" | head -5)"; fi
sysd-exec "$PROFCTL" status 2>&1 | sed 's/^/      /' || true
# Attach to the demo (another user's process) by unit, from root's profctl: profd (CAP_PERFMON only)
# profiles it without ProfClient's help and symbolizes it from the maps fd profctl passes.
( t=$EPOCHREALTIME; while awk -v a="$EPOCHREALTIME" -v b="$t" 'BEGIN { exit !(a - b < 4) }'; do http 8080 /compute >/dev/null || true; done ) &
LOAD=$!
if sysd-exec "$PROFCTL" start --unit profd-demo.service --duration 3s --wait >"$LOG/attach.out" 2>"$LOG/profctl.err" &&
   A=$(sed -n 1p "$LOG/attach.out") && [ "$(sed -n 2p "$LOG/attach.out")" = "/var/lib/profd/sessions/$A" ] &&
   python3 - "$STATE/sessions/$A/session.json" "$DEMO_PID" "$DEMO_UID" <<'EOF'
import json, sys
r, pid, uid = json.load(open(sys.argv[1])), int(sys.argv[2]), int(sys.argv[3])
s = r["session"]
names = [f["function"] for f in r["functions"]]
print(f"      attach session {s['id']}: mode {s.get('mode')}, endReason {s['endReason']}, pid {s['pid']}, uid {s['uid']}, "
      f"unit {s.get('unit')}, {r['samples']['count']} samples")
ok = (s.get("mode") == "attach" and s["endReason"] == "duration-elapsed" and s["pid"] == pid and s["uid"] == uid
      and r["samples"]["count"] > 0 and any("compute(iterations:)" in n for n in names))
sys.exit(0 if ok else 1)
EOF
then pass "profctl start --unit profd-demo.service --duration 3s --wait: a symbolized whole-process report of another user's process"
else fail "attach to profd-demo: $(cat "$LOG/attach.out" "$LOG/profctl.err" | head -5)"; fi
wait "$LOAD" || true
# A user in group profd may not attach to another user's process.
PROFD_GID=$(sysd-exec getent group profd | cut -d: -f3)
code=0
sysd-exec setpriv --reuid=65534 --regid=65534 --groups="$PROFD_GID" "$PROFCTL" start --pid "$DEMO_PID" --duration 1s \
  >"$LOG/refused.out" 2>"$LOG/refused.err" || code=$?
if [ "$code" = 4 ] && [ ! -s "$LOG/refused.out" ] && is_active profd; then
  pass "nobody (group profd) attaching to the demo: exit 4 ($(head -1 "$LOG/refused.err"))"
else fail "nobody attaching to the demo: exit $code, $(cat "$LOG/refused.out" "$LOG/refused.err" | head -3)"; fi

# Without PROFD_TEST_FAULT_HOOKS, SIGUSR2 must be ignored (the demo's stop below needs a live event loop).
sysd-exec systemctl kill -s SIGUSR2 --kill-whom=main profd

# ---------------------------------------------------------------- stop the demo: its reports
sysd-exec systemctl stop profd-demo
if [ -n "$S2" ] && wait_for 15 test -f "$STATE/sessions/$S2/session.json"; then
  pass "stopping the demo wrote session $S2's reports"
else fail "session ${S2:-?} has no session.json after the demo stopped"; fi
if [ "$(prop profd MainPID)" = "$PID_BEFORE" ] && is_active profd; then pass "SIGUSR2 without PROFD_TEST_FAULT_HOOKS was ignored"
else fail "SIGUSR2 without PROFD_TEST_FAULT_HOOKS: profd is $(sysd-exec systemctl is-active profd), pid $(prop profd MainPID) (was $PID_BEFORE)"; fi
if sysd-exec journalctl -u profd-demo --no-pager | grep -q "reports in /var/lib/profd/sessions/$S2"; then
  pass "the demo printed where its reports are"
else fail "the demo did not confirm session $S2's reports"; fi

# --session: the attach session above began after S2, so S2 is no longer the latest.
sysd-exec "$PROFCTL" dump --format json --session "$S2" >"$LOG/session.json" 2>"$LOG/profctl.err" || fail "profctl dump --format json: $(cat "$LOG/profctl.err")"
sysd-exec "$PROFCTL" dump --format json --session "$S2" --route "GET /compute" >"$LOG/route.json" 2>>"$LOG/profctl.err" ||
  fail "profctl dump --route 'GET /compute': $(cat "$LOG/profctl.err")"
if python3 - "$LOG/session.json" "$LOG/route.json" "$S2" "$DEMO_UID" <<'EOF'
import json, sys
report, route, sid, uid = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), sys.argv[3], int(sys.argv[4])
s = report["session"]
routes = {r["route"]: r for r in report["routes"]}
problems = []
if report.get("kind") != "session": problems.append(f"kind {report.get('kind')}")
if s["id"] != sid: problems.append(f"the session is {s['id']}, not {sid}")
if s.get("endReason") != "stopped": problems.append(f"endReason {s.get('endReason')}")
if s.get("uid") != uid: problems.append(f"uid {s.get('uid')} != demo uid {uid}")
if s.get("unit") not in (None, "profd-demo.service"): problems.append(f"unit {s.get('unit')}")
if "GET /compute" not in routes or routes["GET /compute"]["requests"] < 30: problems.append(f"routes {sorted(routes)}")
if route.get("kind") != "route" or route.get("route") != "GET /compute": problems.append(f"route report kind={route.get('kind')} route={route.get('route')}")
if report["samples"]["count"] <= 0: problems.append("no samples")
def functions(node):
    yield node["function"]
    for c in node.get("children", []): yield from functions(c)
names = set(functions(route["tree"]))
if not any("compute(iterations:)" in n for n in names): problems.append("compute(iterations:) is not in the GET /compute tree (symbolization?)")
listed = ", ".join("%s (%d req)" % (k, v["requests"]) for k, v in sorted(routes.items()))
print(f"      session {s['id']}: uid {s.get('uid')}, unit {s.get('unit')}, executable {s.get('executable')!r}, "
      f"routes {listed}, {report['samples']['count']} samples")
if problems: print("      " + "; ".join(problems)); sys.exit(1)
EOF
then pass "profctl dump --format json: session report with GET /compute (symbolized), route report for GET /compute"
else fail "profctl dump --format json"; fi

# Reports belong to their uid: /var/lib/profd is 0700, so group profd reads through profd, and sees its own
# sessions only (nobody owns none of them; the demo's user sees its own S2).
mode=$(sysd-exec stat -c '%a %U:%G' /var/lib/profd 2>&1)
if [ "$mode" = "700 profd:profd" ]; then pass "/var/lib/profd is 700 profd:profd"
else fail "/var/lib/profd is $mode, not 700 profd:profd"; fi
sysd-exec setpriv --reuid=65534 --regid=65534 --groups="$PROFD_GID" "$PROFCTL" list --json >"$LOG/nobody-list.out" 2>"$LOG/nobody-list.err" || true
sysd-exec setpriv --reuid="$DEMO_UID" --regid="$DEMO_UID" --groups="$PROFD_GID" "$PROFCTL" list --json >"$LOG/demo-list.out" 2>"$LOG/demo-list.err" || true
if ! grep -q "$S2" "$LOG/nobody-list.out" && grep -q "\"$S2\"" "$LOG/demo-list.out"; then
  pass "profctl list through profd: nobody (group profd) does not see the demo's session $S2; the demo's uid does"
else fail "profctl list as nobody / as the demo's uid: $(head -c 300 "$LOG/nobody-list.out" "$LOG/nobody-list.err" "$LOG/demo-list.out" "$LOG/demo-list.err")"; fi
if out=$(python3 Tests/validate-reports.py "$STATE" 2>&1); then pass "every report validates against docs/report-schema.json ($out)"
else fail "schema: $out"; fi

# ---------------------------------------------------------------- journald fields
if sysd-exec journalctl -u profd -o json --no-pager | python3 -c '
import json, sys
sid, pid = sys.argv[1], sys.argv[2]
seen = {}
for line in sys.stdin:
    e = json.loads(line)
    if e.get("PROFD_SESSION") == sid and e.get("PROFD_CLIENT_PID") == pid:
        seen[str(e.get("MESSAGE"))] = e
for m in ("session started", "session stopped", "reports written"):
    if not any(m in k for k in seen): print("      missing: " + m); sys.exit(1)
units = {e.get("PROFD_CLIENT_UNIT") for e in seen.values()} - {None}
print(f"      {len(seen)} messages with PROFD_SESSION={sid} PROFD_CLIENT_PID={pid}; PROFD_CLIENT_UNIT={sorted(units)}")
' "$S2" "$DEMO_PID"
then pass "journalctl -u profd -o json: session started/stopped, reports written with PROFD_SESSION and PROFD_CLIENT_PID"
else fail "journal fields for session $S2"; fi

# ---------------------------------------------------------------- watchdog
if sysd-exec journalctl -u profd --no-pager | grep -qi 'watchdog timeout'; then fail "a watchdog timeout before the fault test"; fi
mkdir -p "$SYSD_ROOT/etc/systemd/system/profd.service.d"
printf '[Service]\nEnvironment=PROFD_TEST_FAULT_HOOKS=1\n' >"$SYSD_ROOT/etc/systemd/system/profd.service.d/60-test-fault-hooks.conf"
sysd-exec systemctl daemon-reload
sysd-exec systemctl restart profd
OLD_PID=$(prop profd MainPID)
N0=$(prop profd NRestarts)
t=$EPOCHREALTIME
sysd-exec systemctl kill -s SIGUSR2 --kill-whom=main profd
restarted() { local p; p=$(prop profd MainPID); [ "$p" != 0 ] && [ "$p" != "$OLD_PID" ] && is_active profd; }
if wait_for 40 restarted; then
  took=$(elapsed "$t"); N1=$(prop profd NRestarts)
  if awk -v a="$took" -v l="$WATCHDOG_LIMIT" 'BEGIN { exit !(a <= l) }' && [ "$N1" -gt "$N0" ]; then
    pass "watchdog: stalled profd (pid $OLD_PID) restarted as pid $(prop profd MainPID) after $took s (limit $WATCHDOG_LIMIT s), NRestarts $N0 → $N1"
  else fail "watchdog: restarted after $took s (limit $WATCHDOG_LIMIT s), NRestarts $N0 → $N1"; fi
else fail "watchdog: profd (pid $OLD_PID) was not restarted within 40 s ($(sysd-exec systemctl is-active profd))"; fi
if sysd-exec journalctl -u profd --no-pager | grep -i 'watchdog timeout' | tail -1 | sed 's/^/      /' | grep .; then
  pass "the journal records the watchdog timeout"
else fail "no 'Watchdog timeout' in the journal"; fi

# ---------------------------------------------------------------- clean stop
sysd-exec systemctl stop profd profd.socket
left=$(sysd-exec ps -eo pid=,user=,comm= | awk '$2 == "profd" || $3 == "profd"')
if [ -z "$left" ]; then pass "systemctl stop profd profd.socket: no profd process left"; else fail "processes left: $left"; fi
# (systemctl show cannot tell: the stopped unit is unloaded and shows defaults; the journal can.)
# Everything after the last "Started" line: the life and stop of the last profd.
stop_log=$(sysd-exec journalctl -u profd --no-pager -o cat | awk '/^Started profd.service/ { n = 0; delete l } { l[++n] = $0 } END { for (i = 1; i <= n; i++) print l[i] }')
if grep -q 'profd.service: Deactivated successfully' <<<"$stop_log" && ! grep -q 'Main process exited' <<<"$stop_log"; then
  pass "profd exited 0 on SIGTERM"
else fail "profd's stop:"; printf '%s\n' "$stop_log" | sed 's/^/        /'; fi
if sysd-exec test -e /run/profd/profd.sock; then fail "/run/profd/profd.sock still exists after stopping the socket"
else pass "RemoveOnStop: the socket file is gone"; fi
if sysd-exec journalctl --no-pager | grep -E 'status=31/SYS|seccomp' | grep -i profd | head -3 | grep .; then
  fail "profd hit the system call filter"
fi
warnings=$(sysd-exec journalctl -u profd --no-pager -p warning | grep -v -e '^-- ' -e 'Watchdog timeout' -e 'Killing process' -e 'test fault hooks are on' -e 'Main process exited, code=dumped\|code=killed' -e 'Failed with result .watchdog.' || true)
[ -z "$warnings" ] || { info "warnings in profd's journal (not failures):"; printf '%s\n' "$warnings" | sed 's/^/        /' | head -20; }

finish
