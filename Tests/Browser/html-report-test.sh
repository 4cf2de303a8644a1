#!/usr/bin/env bash
# Real-browser test of the interactive HTML report in headless Chromium.
#
#   Tests/Browser/html-report-test.sh                # renders the fixture session (hostile route included)
#   Tests/Browser/html-report-test.sh SESSION_DIR    # a real session written with --formats ...,html
#
# Needs: apt-get install chromium chromium-driver python3-selenium. Screenshots go to
# ${ARTIFACTS:-<repo>/artifacts}/html-report*.png. SWIFT and SCRATCH_PATH choose the toolchain and build dir.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
export ARTIFACTS=${ARTIFACTS:-$here/artifacts}
source "$here/Tests/Browser/find-python.sh"

if [ $# -ge 1 ]; then
  exec "$PYTHON" "$here/Tests/Browser/html_report_test.py" check "$1" "${@:2}"
fi
work=$(mktemp -d /tmp/profd-html.XXXXXX)
trap 'rm -rf "$work"' EXIT
PROFD_HTML_OUT="$work/state" ${SWIFT:-swift} test --package-path "$here" --scratch-path "${SCRATCH_PATH:-$here/.build}" \
  --filter 'HTMLRendererTests.exportForBrowser' >"$work/swift-test.log" 2>&1 || { tail -40 "$work/swift-test.log"; exit 1; }
session=$(find "$work/state/sessions" -mindepth 1 -maxdepth 1 -type d | head -1)
[ -n "$session" ] && [ -f "$session/session.html" ] || { echo "no session written"; tail -40 "$work/swift-test.log"; exit 1; }
"$PYTHON" "$here/Tests/Browser/html_report_test.py" check "$session" \
  --search 'addNumbers' --library-search 'getrandom' --expect-hostile --no-samples-page "$work/state/no-samples.html"
