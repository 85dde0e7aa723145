#!/usr/bin/env bash
# Build the course book (jupyter-book 1.x) from the repository root into _build/html.
#
#   bash scripts/build_book.sh                # incremental: unchanged notebooks come from the cache
#   bash scripts/build_book.sh --all          # rewrite every page (still uses the execution cache)
#   VENV=/path/to/venv bash scripts/build_book.sh
#
# Notebooks are executed (cached in _build/.jupyter_cache) as _config.yml says.
# Every Sphinx warning is an error (-W), but the build keeps going (--keep-going) so
# that one run reports all of them; the script then exits non-zero. Warnings include
# a notebook cell that raises, anything a notebook writes to stderr, a traceback or an
# interactive widget left in a page, a broken cross-reference and a docstring that
# does not parse.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
JB="$VENV/bin/jupyter-book"
if [ ! -x "$JB" ]; then
    echo "build_book.sh: $JB not found; run scripts/setup.sh (or set VENV=...) first" >&2
    exit 2
fi

# The notebook kernels are started from this environment, with its python first on PATH.
export PATH="$(cd "$VENV/bin" && pwd):$PATH"
# No pydevd warning about frozen modules from the kernels in the build log.
export PYDEVD_DISABLE_FILE_VALIDATION=1

log=$(mktemp "${TMPDIR:-/tmp}/build_book.XXXXXX.log")
trap 'rm -f "$log"' EXIT

status=0
"$JB" build . --builder html -W --keep-going "$@" 2>&1 | tee "$log" || status=$?

# Say plainly why the build failed: the Sphinx warnings, one per line.
if [ "$status" -ne 0 ]; then
    echo
    echo "== build_book.sh: the build FAILED (exit $status). Warnings and errors:"
    grep -E "WARNING|ERROR|CRITICAL|Exception|Error:" "$log" | grep -v "IPKernelApp\] WARNING" | sed 's/^/   /' || true
    exit "$status"
fi
echo "== build_book.sh: OK, the book is in _build/html (open _build/html/index.html)"
