#!/usr/bin/env bash
# Set up jqforecast on a fresh Debian/Ubuntu machine with Python >= 3.11:
#   1. system CJK fonts for Chinese chart labels (apt: fonts-noto-cjk), if missing;
#   2. a virtual environment in .venv;
#   3. the package (editable) with all extras, pinned by requirements/constraints.txt so that
#      every machine resolves the same versions and gets the same numbers.
# Idempotent: a second run only re-installs when pyproject.toml or the constraints changed.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then
  if command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "setup: installing CJK fonts (fonts-noto-cjk) with apt-get"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fonts-noto-cjk fontconfig >/dev/null
    fc-cache -f >/dev/null 2>&1 || true
  else
    echo "setup: WARNING no apt-get; install a CJK font (Noto Sans CJK) yourself" >&2
  fi
fi

PYTHON="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
stamp=".venv/.jqforecast-setup"
want="$(cat pyproject.toml requirements/constraints.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing jqforecast and its pinned dependencies into .venv"
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -c requirements/constraints.txt -e ".[dev,bench,notebook]"
  echo "$want" > "$stamp"
fi
echo "setup: ready ($(.venv/bin/python --version), jqforecast $(.venv/bin/python -c 'import jqforecast; print(jqforecast.__version__)'))"
