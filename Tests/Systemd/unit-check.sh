#!/usr/bin/env bash
# unit-check.sh — static checks of profd's systemd packaging, on the host (no systemd needed as PID 1):
#   1. `make install` into a temporary DESTDIR puts every file where it belongs, with @bindir@ substituted;
#   2. `systemd-analyze verify` accepts the installed units (any warning fails: verify exits 0 on
#      unknown keys and unparsable values, so its output must be empty);
#   3. `systemd-analyze security --offline=true` rates profd.service at most MAX_EXPOSURE (1.5);
#   4. sysusers.d / tmpfiles.d entries apply to a scratch root: user and group profd, /var/lib/profd 0750;
#   5. `make uninstall` removes every file `make install` wrote.
# Binaries: RELEASE_DIR (default .build/release); when they are not built, stand-in executables are
# installed instead (this check is about the packaging, not the daemon).
set -Eeuo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
MAX_EXPOSURE=${MAX_EXPOSURE:-1.5}
PREFIX=${PREFIX:-/usr/local}
cd "$REPO"

WORK=$(mktemp -d /tmp/profd-unit-check.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
DEST=$WORK/destdir
VROOT=$WORK/verify-root
mkdir -p "$DEST" "$VROOT"

FAILED=0
pass() { printf 'PASS  %s\n' "$*"; }
fail() { printf 'FAIL  %s\n' "$*"; FAILED=1; }

RELEASE_DIR=${RELEASE_DIR:-.build/release}
if [ ! -x "$RELEASE_DIR/profd" ] || [ ! -x "$RELEASE_DIR/profctl" ]; then
  echo "note: $RELEASE_DIR/profd or profctl not built; installing stand-in executables"
  RELEASE_DIR=$WORK/stand-in
  mkdir -p "$RELEASE_DIR"
  printf '#!/bin/sh\nexit 0\n' >"$RELEASE_DIR/profd"
  cp "$RELEASE_DIR/profd" "$RELEASE_DIR/profctl"
  chmod 0755 "$RELEASE_DIR/profd" "$RELEASE_DIR/profctl"
fi

# --- 1. install -------------------------------------------------------------------------------
BINDIR=$PREFIX/bin
UNITDIR=$PREFIX/lib/systemd/system
EXPECTED=(
  "$BINDIR/profd" "$BINDIR/profctl"
  "$UNITDIR/profd.service" "$UNITDIR/profd.socket"
  "$PREFIX/lib/sysusers.d/profd.conf" "$PREFIX/lib/tmpfiles.d/profd.conf"
)
if make -s --no-print-directory install DESTDIR="$DEST" PREFIX="$PREFIX" RELEASE_DIR="$RELEASE_DIR" >"$WORK/install.log" 2>&1; then
  pass "make install DESTDIR=<tmp> PREFIX=$PREFIX"
else
  fail "make install"; cat "$WORK/install.log"; exit 1
fi
actual=$(cd "$DEST" && find . -type f -o -type l | sed 's|^\.||' | sort)
expected=$(printf '%s\n' "${EXPECTED[@]}" | sort)
if [ "$actual" = "$expected" ]; then
  pass "install wrote exactly the ${#EXPECTED[@]} expected files"
else
  fail "installed files differ from the expected list"; diff <(echo "$expected") <(echo "$actual") || true
fi
SERVICE=$DEST$UNITDIR/profd.service
if grep -q '@[A-Za-z_]*@' "$SERVICE"; then
  fail "unsubstituted placeholder in profd.service: $(grep -n '@[A-Za-z_]*@' "$SERVICE" | head -3)"
fi
if grep -qx "ExecStart=$BINDIR/profd" "$SERVICE"; then pass "ExecStart=$BINDIR/profd"; else fail "ExecStart is $(grep '^ExecStart=' "$SERVICE")"; fi
for f in "${EXPECTED[@]}"; do
  mode=$(stat -c %a "$DEST$f")
  case "$f" in */bin/*) want=755 ;; *) want=644 ;; esac
  [ "$mode" = "$want" ] || fail "$f has mode $mode, want $want"
done

# --- 2. systemd-analyze verify ----------------------------------------------------------------
# verify --root= resolves ExecStart= inside the root and needs the standard targets the units hang
# off (sysinit.target, sockets.target...), so verify in a scratch root: the installed tree plus a copy
# of the host's systemd unit folder. (DESTDIR itself stays exactly what `make install` wrote.)
cp -a "$DEST/." "$VROOT/"
mkdir -p "$VROOT/usr/lib/systemd/system" "$VROOT/etc"
cp -an /usr/lib/systemd/system/. "$VROOT/usr/lib/systemd/system/"   # -n: never over the installed units
if out=$(systemd-analyze verify --root="$VROOT" profd.service profd.socket 2>&1) && [ -z "$out" ]; then
  pass "systemd-analyze verify profd.service profd.socket (no warnings)"
else
  fail "systemd-analyze verify:"; printf '%s\n' "$out"
fi

# --- 3. systemd-analyze security --------------------------------------------------------------
sec=$(systemd-analyze security --offline=true --no-pager --root="$VROOT" profd.service 2>&1) || true
score=$(printf '%s\n' "$sec" | sed -n 's/.*Overall exposure level for profd.service: \([0-9.]*\).*/\1/p')
if [ -z "$score" ]; then
  fail "no 'Overall exposure level' in systemd-analyze security output:"; printf '%s\n' "$sec"
elif awk -v s="$score" -v m="$MAX_EXPOSURE" 'BEGIN { exit !(s <= m) }'; then
  pass "systemd-analyze security --offline=true: exposure $score <= $MAX_EXPOSURE"
  printf '%s\n' "$sec" | grep '✗' | sed 's/^/      /'
else
  fail "exposure $score > $MAX_EXPOSURE"; printf '%s\n' "$sec" | grep -v '✓'
fi
# The settings profd cannot work without (the score would not notice losing them).
for want in 'User=profd' 'Type=notify' 'NotifyAccess=main' 'AmbientCapabilities=CAP_PERFMON' \
            'CapabilityBoundingSet=CAP_PERFMON' 'StateDirectory=profd' 'WatchdogSec=10s'; do
  grep -qx "$want" "$SERVICE" || fail "profd.service lacks $want"
done
for banned in 'PrivateUsers=' 'ProtectProc=' 'RuntimeDirectory=' 'DynamicUser='; do
  if grep -q "^$banned" "$SERVICE"; then fail "profd.service sets $banned (breaks profd; see the comments in the unit)"; fi
done
if printf '%s\n' "$sec" | grep -q 'e.g. perf_event_open is allowed'; then
  pass "the system call filter allows perf_event_open"
else
  fail "the system call filter does not allow perf_event_open"
fi
SOCKET=$DEST$UNITDIR/profd.socket
for want in 'ListenStream=/run/profd/profd.sock' 'FileDescriptorName=profd' 'SocketMode=0660' 'SocketGroup=profd'; do
  grep -qx "$want" "$SOCKET" || fail "profd.socket lacks $want"
done

# --- 4. sysusers.d and tmpfiles.d -------------------------------------------------------------
if systemd-sysusers --root="$VROOT" profd.conf >"$WORK/sysusers.log" 2>&1 &&
   grep -q '^profd:x:[0-9]*:[0-9]*:.*:/var/lib/profd:' "$VROOT/etc/passwd" && grep -q '^profd:x:' "$VROOT/etc/group"; then
  pass "sysusers.d: user and group profd"
else
  fail "sysusers.d"; cat "$WORK/sysusers.log"
fi
uid=$(awk -F: '$1 == "profd" { print $3 }' "$VROOT/etc/passwd")
gid=$(awk -F: '$1 == "profd" { print $3 }' "$VROOT/etc/group")
if systemd-tmpfiles --root="$VROOT" --create profd.conf >"$WORK/tmpfiles.log" 2>&1 &&
   [ "$(stat -c '%a %u %g' "$VROOT/var/lib/profd")" = "750 $uid $gid" ]; then
  pass "tmpfiles.d: /var/lib/profd 0750 profd:profd"
else
  fail "tmpfiles.d: $(stat -c '%a %u %g' "$VROOT/var/lib/profd" 2>&1)"; cat "$WORK/tmpfiles.log"
fi

# --- 5. uninstall -----------------------------------------------------------------------------
make -s --no-print-directory uninstall DESTDIR="$DEST" PREFIX="$PREFIX" >"$WORK/uninstall.log" 2>&1 || { fail "make uninstall"; cat "$WORK/uninstall.log"; }
left=$(find "$DEST" ! -type d)
if [ -z "$left" ]; then pass "make uninstall left no file in DESTDIR"; else fail "make uninstall left: $left"; fi

if [ "$FAILED" = 0 ]; then echo "unit-check: PASS"; else echo "unit-check: FAIL"; exit 1; fi
