#!/usr/bin/env bash
# Create the virtualenv with Python 3.11 and install Landcycle with its dev tools, pinned by constraints.txt.
set -euo pipefail
VENV=${1:-.venv}
say() { printf '\033[1m[venv]\033[0m %s\n' "$*" >&2; }

find_python() {
  local c
  for c in "${PYTHON:-}" python3.11 /usr/bin/python3.11 python3; do
    [ -n "$c" ] || continue
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      command -v "$c"; return 0
    fi
  done
  return 1
}

PY=$(find_python) || { echo "Python 3.11 is required (Debian 12: apt-get install python3 python3-venv)" >&2; exit 1; }
if ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    say "installing python3-venv with apt"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
  else
    echo "Python's venv module is missing: sudo apt-get install python3-venv" >&2; exit 1
  fi
fi
if [ ! -x "$VENV/bin/python" ]; then
  say "creating $VENV with $PY"
  "$PY" -m venv "$VENV"
fi
say "installing dependencies (pinned by constraints.txt; log in $VENV/pip.log)"
if ! { "$VENV/bin/python" -m pip install --disable-pip-version-check -c constraints.txt -e '.[dev]'; } \
     >"$VENV/pip.log" 2>&1; then
  tail -n 30 "$VENV/pip.log" >&2
  echo "dependency installation failed (full log: $VENV/pip.log)" >&2
  exit 1
fi
