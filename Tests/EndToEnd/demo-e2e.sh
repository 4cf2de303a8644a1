#!/usr/bin/env bash
# End-to-end acceptance: the demo path (profd + Hummingbird demo + ProfClient + profctl), checked.
# Prints "N passed, N failed" and exits non-zero if anything failed.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d /tmp/profd-e2e.XXXXXX)
trap 'rm -rf "$work"' EXIT
passed=0; failed=0
check() { # check NAME COMMAND...
  local name=$1; shift
  if "$@" >"$work/check.out" 2>&1; then passed=$((passed + 1)); echo "ok   - $name"
  else failed=$((failed + 1)); echo "FAIL - $name"; sed 's/^/       /' "$work/check.out" | tail -20; fi
}
profctl="$here/.build/release/profctl"

STATE_DIR="$work/state" DEMO_PORT=${DEMO_PORT:-18181} COMPUTE_REQUESTS=1000 HASH_REQUESTS=1000 \
  "$here/scripts/demo.sh" >"$work/demo.out" 2>"$work/demo.err"
demo_status=$?
check "make demo's script succeeds" test "$demo_status" -eq 0
[ "$demo_status" -eq 0 ] || { cat "$work/demo.err" "$work/state/profd.log" 2>/dev/null | tail -40; }

check "the GET /compute tree shows randomNumber above addNumbers" python3 - "$work/demo.out" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
def seconds(name):
    m = re.search(r'(\d+\.\d+)s\s+\d+\.\d%\s+\S*' + re.escape(name), text)
    return float(m.group(1)) if m else 0.0
r, a = seconds("randomNumber()"), seconds("addNumbers(_:_:)")
print(f"randomNumber {r}s, addNumbers {a}s")
assert r > 0.05, "randomNumber missing from the GET /compute tree"
assert r > 3 * a, "randomNumber should hold far more time than addNumbers"
PY

check "profctl dump --format json prints valid JSON for the latest session" bash -c \
  "'$profctl' --state-dir '$work/state' dump --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"kind\"]==\"session\"; routes={r[\"route\"] for r in d[\"routes\"]}; assert routes >= {\"GET /compute\",\"GET /hash\"}, routes; assert not routes & {\"/compute\",\"/hash\"}, routes'"

check "the GET /compute JSON names randomNumber with its sample count" bash -c \
  "'$profctl' --state-dir '$work/state' dump --format json --route \"GET /compute\" | python3 -c '
import json,sys
d=json.load(sys.stdin)
assert d[\"route\"]==\"GET /compute\"
f=[x for x in d[\"functions\"] if x[\"function\"].endswith(\"randomNumber()\")]
assert f and f[0][\"totalSamples\"]>0, f
add=[x for x in d[\"functions\"] if x[\"function\"].endswith(\"addNumbers(_:_:)\")]
assert f[0][\"totalSamples\"] > (add[0][\"totalSamples\"] if add else 0)
print(\"randomNumber samples\", f[0][\"totalSamples\"])'"

check "randomNumber() has a file:line from DWARF in the GET /compute JSON, text and HTML" bash -c \
  "'$profctl' --state-dir '$work/state' dump --format json --route \"GET /compute\" | python3 -c '
import json,sys
def nodes(n):
    yield n
    for c in n[\"children\"]: yield from nodes(c)
hits=[n for n in nodes(json.load(sys.stdin)[\"tree\"]) if n[\"function\"].endswith(\"randomNumber()\")]
assert hits and all(n.get(\"file\",\"\").endswith(\"Workloads.swift\") and n.get(\"line\",0) > 0 for n in hits), hits[:1]
print(\"randomNumber at\", hits[0][\"file\"].split(\"/\")[-1], hits[0][\"line\"])' \
  && '$profctl' --state-dir '$work/state' dump --format text --route \"GET /compute\" | grep -q 'randomNumber().*Workloads.swift:[0-9]' \
  && '$profctl' --state-dir '$work/state' dump --format html --route \"GET /compute\" | grep -q 'Workloads.swift'"

check "--route 'GET /hash' prints only that route's tree" bash -c \
  "'$profctl' --state-dir '$work/state' dump --format json --route \"GET /hash\" | python3 -c '
import json,sys
d=json.load(sys.stdin)
assert d[\"kind\"]==\"route\" and d[\"route\"]==\"GET /hash\"
names=[x[\"function\"] for x in d[\"functions\"]]
assert any(n.endswith(\"hashPayload(rounds:)\") for n in names), names[:10]
assert not any(\"randomNumber\" in n or n.endswith(\"compute(iterations:)\") for n in names)'"

check "--route 'GET /hash' as text names hashPayload and not GET /compute's functions" bash -c \
  "out=\$('$profctl' --state-dir '$work/state' dump --format text --route \"GET /hash\") && grep -q 'hashPayload' <<<\"\$out\" && ! grep -q 'randomNumber' <<<\"\$out\""

# A second, small session with the client options: every format, a report per request, GET /hash excluded.
opts="$work/options"; mkdir -p "$opts"
"$here/.build/release/profd" --state-dir "$opts/state" --socket "$opts/profd.sock" 2>"$opts/profd.log" &
opts_profd=$!
for _ in $(seq 100); do [ -S "$opts/profd.sock" ] && break; sleep 0.1; done
opts_port=$(( ${DEMO_PORT:-18181} + 1 ))
"$here/Examples/profd-demo/.build/release/profd-demo" --port "$opts_port" --socket "$opts/profd.sock" \
  --formats text,json,html --slow-request-ms 0 --report-file-name '{method}-{route}-{id}' --log-kept-requests \
  --exclude-route 'GET /hash' --print-each-request >"$opts/demo.out" 2>"$opts/demo.err" &
opts_demo=$!
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$opts_port/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS -o /dev/null "http://127.0.0.1:$opts_port/compute?i=[1-20]"
curl -fsS -o /dev/null "http://127.0.0.1:$opts_port/hash?i=[1-10]"
kill -TERM "$opts_demo"; wait "$opts_demo"
kill -TERM "$opts_profd"; wait "$opts_profd"
check "options: 20 kept request reports in text, JSON and HTML; GET /hash excluded and counted" python3 - "$opts/state/sessions" <<'PY'
import glob, json, os, sys
[session] = glob.glob(sys.argv[1] + "/*/")
names = sorted(os.listdir(session + "requests"))
assert len(names) == 60, (len(names), names[:6])
assert all(n.startswith("GET-compute-") for n in names), names[:3]
assert {n.rsplit(".", 1)[1] for n in names} == {"txt", "json", "html"}
s = json.load(open(session + "session.json"))
assert [r["route"] for r in s["routes"]] == ["GET /compute"], s["routes"]
assert set(s["routes"][0]["files"]) == {"json", "text", "html"}
assert len(s["keptRequests"]) == 20 and all(k["route"] == "GET /compute" for k in s["keptRequests"])
# GET /hash (10) and the health checks made while the session ran.
assert s["session"]["excludedRequests"] >= 10, s["session"]
r = json.load(open(session + s["keptRequests"][0]["files"]["json"]))
assert r["kind"] == "request" and r["request"]["spanId"] == s["keptRequests"][0]["spanId"]
assert all(k.get("reason") == "slow" for k in s["keptRequests"]), s["keptRequests"][0]
assert os.path.getsize(session + "capture.bin") > 0, "no raw capture stored"
html = open(session + "session.html").read()
assert html.lstrip().lower().startswith("<!doctype html>") and "GET /compute" in html
assert "src=\"http" not in html and "href=\"http" not in html, "the HTML must work offline"
print(f"{len(names)} request files, excluded {s['session']['excludedRequests']} requests")
PY
check "the real session's HTML reports pass the Chromium checks (expand, search, no injected script)" bash -c \
  "ARTIFACTS='$work/artifacts' '$here/Tests/Browser/html-report-test.sh' \$(ls -d '$opts'/state/sessions/*/ | head -1)"
check "options: --log-kept-requests puts each kept request's tree in profd's log" bash -c \
  "test \$(grep -c 'kept request' '$opts/profd.log') -eq 20 && grep -q 'compute(iterations:)' '$opts/profd.log'"
check "options: --print-each-request prints one line per profiled request" bash -c \
  "test \$(grep -c '^profd: GET /compute 200 ' '$opts/demo.err') -eq 20 && ! grep -q 'GET /hash' '$opts/demo.err'"

python3 -c 'import jsonschema' 2>/dev/null || python3 -m pip install -q jsonschema >/dev/null 2>&1
check "every JSON report profd wrote validates against docs/report-schema.json" python3 - "$here/docs/report-schema.json" "$work/state/sessions" "$work/options/state/sessions" <<'PY'
import glob, json, sys, jsonschema
schema = json.load(open(sys.argv[1]))
jsonschema.Draft202012Validator.check_schema(schema)
validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
files = glob.glob(sys.argv[2] + "/*/session.json") + glob.glob(sys.argv[2] + "/*/routes/*.json")
files += glob.glob(sys.argv[3] + "/*/*.json") + glob.glob(sys.argv[3] + "/*/*/*.json")
assert len(files) >= 3, files
for path in files:
    errors = sorted(validator.iter_errors(json.load(open(path))), key=str)
    assert not errors, f"{path}: {errors[0].message} at {list(errors[0].path)}"
print(f"{len(files)} reports valid")
PY

check "an unknown route exits 3 with the known routes listed" bash -c \
  "'$profctl' --state-dir '$work/state' dump --route /nope; test \$? -eq 3"

check "the demo cleaned up every process it started" bash -c "! pgrep -f '^[^ ]*/profd-demo --port ${DEMO_PORT:-18181}' && ! pgrep -f '^[^ ]*/profd --state-dir $work/state'"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
