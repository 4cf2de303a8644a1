#!/usr/bin/env bash
# First paint of the interactive HTML report on a 1 M-sample, 50 000-node session in headless Chromium,
# asserted under 2 s (BUDGET_MS), median of RUNS loads.
#
#   Tests/Browser/html-report-bench.sh               # renders the synthetic session (HTMLFixtures.big)
#   Tests/Browser/html-report-bench.sh FILE.html     # any large report
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
export ARTIFACTS=${ARTIFACTS:-$here/artifacts}
mkdir -p "$ARTIFACTS"
source "$here/Tests/Browser/find-python.sh"
if [ $# -ge 1 ]; then
  page=$1
else
  page="$ARTIFACTS/html-report-big.html"
  PROFD_HTML_BIG_OUT="$page" ${SWIFT:-swift} test --package-path "$here" --scratch-path "${SCRATCH_PATH:-$here/.build}" \
    --filter 'HTMLRendererTests.exportForBrowser' >"$ARTIFACTS/html-report-big.log" 2>&1 \
    || { tail -40 "$ARTIFACTS/html-report-big.log"; exit 1; }
fi
"$PYTHON" "$here/Tests/Browser/html_report_test.py" bench "$page" --runs "${RUNS:-3}" --budget-ms "${BUDGET_MS:-2000}" \
  --screenshot "$ARTIFACTS/html-report-big.png"
