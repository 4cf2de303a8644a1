# Sourced by the browser tests: checks for Chromium and chromedriver and sets PYTHON to an interpreter that
# has selenium (Debian's python3-selenium lives in /usr/bin/python3, which a pyenv shim may shadow).
for tool in chromium chromedriver; do
  command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install -y chromium chromium-driver python3-selenium" >&2; exit 2; }
done
PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for candidate in /usr/bin/python3 python3; do
    if "$candidate" -c 'import selenium' >/dev/null 2>&1; then PYTHON=$candidate; break; fi
  done
fi
[ -n "$PYTHON" ] || { echo "missing selenium: apt-get install -y python3-selenium" >&2; exit 2; }
