#!/usr/bin/env bash
# generate-man.sh [OUTDIR] — the man pages profctl(1) and profd(8), from the binaries' own help
# (`--experimental-dump-help`), by swift-argument-parser's `generate-manual` command plugin; then tidied
# for mdoc: a blank line becomes .Pp and indented lines (exit codes, examples) a literal block, which the
# plugin leaves as plain text (man warns "Empty input line" and refills the examples).
#
# OUTDIR defaults to docs/man (what `make install` installs; `make man` rewrites it, `make man-check`
# compares). CONFIGURATION (default release) is the build the plugin runs; it builds it if needed.
# MAN_DATE fixes the pages' date so that the output depends on the help text alone.
set -Eeuo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO"
OUT=${1:-docs/man}
CONFIGURATION=${CONFIGURATION:-release}
MAN_DATE=${MAN_DATE:-2026-11-26}
PLUGIN_OUTPUT=.build/plugins/GenerateManual/outputs
mkdir -p "$OUT"

tidy() {
  awk '
    function close_literal() { if (literal) { print ".Ed"; literal = 0 } }
    /^\./ { close_literal(); print; next }
    /^  / {
      if (!literal) { print ".Bd -literal"; literal = 1 }
      sub(/^  /, ""); print; next
    }
    /^$/ { close_literal(); print ".Pp"; next }
    { close_literal(); print }
    END { close_literal() }
  ' "$1"
}

# The plugin gives every executable the same section: profctl's page from one run, profd's from another.
for page in profctl:1 profd:8; do
  name=${page%%:*}
  section=${page##*:}
  rm -f "$PLUGIN_OUTPUT/$name/$name.$section"
  swift package generate-manual --configuration "$CONFIGURATION" --date "$MAN_DATE" --section "$section" >&2
  [ -s "$PLUGIN_OUTPUT/$name/$name.$section" ] || { echo "generate-man: the plugin wrote no $name.$section" >&2; exit 1; }
  tidy "$PLUGIN_OUTPUT/$name/$name.$section" >"$OUT/$name.$section.tmp"
  mv -f "$OUT/$name.$section.tmp" "$OUT/$name.$section"
  echo "$OUT/$name.$section"
done
